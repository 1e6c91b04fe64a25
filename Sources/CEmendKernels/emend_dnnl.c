// See include/emend_dnnl.h. oneDNN is loaded on first use with dlopen, after setting OMP_WAIT_POLICY=passive
// (unless the user set it): its OpenMP runtime reads that once, when it loads, and by default its idle threads
// spin between products, which on a 2-core machine takes the cores from Emend's own kernels (measured: two
// thirds of the search's time spent spinning). Loading late also means a machine without oneDNN still runs,
// on OpenBLAS. One CPU engine for the process; one stream per calling thread; oneDNN's own primitive cache makes
// re-creating a primitive of a shape already seen cost microseconds.
#include "emend_dnnl.h"
#include <oneapi/dnnl/dnnl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DNNL_FUNCTIONS(X) \
    X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_memory_desc_init_by_strides) X(dnnl_matmul_desc_init) \
    X(dnnl_primitive_desc_create) X(dnnl_primitive_create) X(dnnl_memory_create) X(dnnl_primitive_execute) \
    X(dnnl_stream_wait) X(dnnl_memory_destroy) X(dnnl_primitive_destroy) X(dnnl_primitive_desc_destroy) \
    X(dnnl_reorder_primitive_desc_create) X(dnnl_memory_desc_init_by_tag) \
    X(dnnl_primitive_desc_query_md) X(dnnl_memory_desc_get_size)

static struct {
#define DECLARE(name) __typeof__(name) *name;
    DNNL_FUNCTIONS(DECLARE)
#undef DECLARE
    void (*omp_set_num_threads)(int);
    int (*omp_get_max_threads)(void);
} dl;

static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static int wanted_threads = 0;

static void engine_init(void) {
    setenv("OMP_WAIT_POLICY", "passive", 0);
    void *lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) lib = dlopen("libdnnl.so", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) return;
#define RESOLVE(name) dl.name = (__typeof__(name) *)dlsym(lib, #name); if (!dl.name) return;
    DNNL_FUNCTIONS(RESOLVE)
#undef RESOLVE
    dl.omp_set_num_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    dl.omp_get_max_threads = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    if (wanted_threads > 0 && dl.omp_set_num_threads) dl.omp_set_num_threads(wanted_threads);
    engine_status = dl.dnnl_engine_create(&engine, dnnl_cpu, 0);
}

static __thread dnnl_stream_t stream;

static dnnl_status_t ready(void) {
    pthread_once(&engine_once, engine_init);
    if (engine_status != dnnl_success) return engine_status;
    if (!stream) return dl.dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    return dnnl_success;
}

int emend_dnnl_available(void) { return ready() == dnnl_success; }

#define TRY(x) do { s = (x); if (s != dnnl_success) goto done; } while (0)

/// The matmul C[m, n] = A · B with A and C as strided row-major matrices and B as `bmd` (which may be
/// `dnnl_format_tag_any`, leaving B's layout to oneDNN; `blocked_pd` then asks which it chose).
static dnnl_status_t matmul_pd(long m, long n, long k, dnnl_data_type_t at, long a_rs, long a_cs,
                               const dnnl_memory_desc_t *bmd, long ldc, dnnl_primitive_desc_t *pd,
                               dnnl_memory_desc_t *amd, dnnl_memory_desc_t *cmd) {
    dnnl_status_t s;
    dnnl_dims_t ad = {m, k}, cd = {m, n}, as = {a_rs, a_cs}, cs = {ldc, 1};
    dnnl_matmul_desc_t md;
    TRY(dl.dnnl_memory_desc_init_by_strides(amd, 2, ad, at, as));
    TRY(dl.dnnl_memory_desc_init_by_strides(cmd, 2, cd, dnnl_f32, cs));
    TRY(dl.dnnl_matmul_desc_init(&md, amd, bmd, NULL, cmd));
    TRY(dl.dnnl_primitive_desc_create(pd, &md, NULL, engine, NULL));
done:
    return s;
}

/// Runs the matmul of `pd` on raw pointers; B's memory is described by `bmd` (the primitive's own weights layout
/// when B is blocked).
static dnnl_status_t execute(dnnl_primitive_desc_t pd, const dnnl_memory_desc_t *amd, const void *a,
                             const dnnl_memory_desc_t *bmd, const void *b, const dnnl_memory_desc_t *cmd, float *c) {
    dnnl_status_t s;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t am = NULL, bm = NULL, cm = NULL;
    TRY(dl.dnnl_primitive_create(&prim, pd));
    TRY(dl.dnnl_memory_create(&am, amd, engine, (void *)a));
    TRY(dl.dnnl_memory_create(&bm, bmd, engine, (void *)b));
    TRY(dl.dnnl_memory_create(&cm, cmd, engine, c));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
    TRY(dl.dnnl_primitive_execute(prim, stream, 3, args));
    TRY(dl.dnnl_stream_wait(stream));
done:
    if (am) dl.dnnl_memory_destroy(am);
    if (bm) dl.dnnl_memory_destroy(bm);
    if (cm) dl.dnnl_memory_destroy(cm);
    if (prim) dl.dnnl_primitive_destroy(prim);
    return s;
}

static int run(long m, long n, long k,
               dnnl_data_type_t at, const void *a, long a_rs, long a_cs,
               dnnl_data_type_t bt, const void *b, long b_rs, long b_cs,
               float *c, long ldc) {
    dnnl_status_t s = ready();
    if (s != dnnl_success) return (int)s;
    dnnl_memory_desc_t amd, bmd, cmd;
    dnnl_dims_t bd = {k, n}, bs = {b_rs, b_cs};
    dnnl_primitive_desc_t pd = NULL;
    TRY(dl.dnnl_memory_desc_init_by_strides(&bmd, 2, bd, bt, bs));
    TRY(matmul_pd(m, n, k, at, a_rs, a_cs, &bmd, ldc, &pd, &amd, &cmd));
    TRY(execute(pd, &amd, a, &bmd, b, &cmd, c));
done:
    if (pd) dl.dnnl_primitive_desc_destroy(pd);
    return (int)s;
}

/// The Float32 matmul with B's layout left to oneDNN; *pd must be destroyed by the caller when 0 is returned.
static dnnl_status_t blocked_pd(long m, long n, long k, long lda, long ldc, dnnl_primitive_desc_t *pd,
                                dnnl_memory_desc_t *amd, dnnl_memory_desc_t *cmd, const dnnl_memory_desc_t **wmd) {
    dnnl_status_t s = ready();
    if (s != dnnl_success) return s;
    dnnl_memory_desc_t bmd;
    dnnl_dims_t bd = {k, n};
    TRY(dl.dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_format_tag_any));
    TRY(matmul_pd(m, n, k, dnnl_f32, lda, 1, &bmd, ldc, pd, amd, cmd));
    *wmd = dl.dnnl_primitive_desc_query_md(*pd, dnnl_query_weights_md, 0);
    if (!*wmd) s = dnnl_runtime_error;
done:
    return s;
}

int emend_dnnl_blocked_b_layout(long m, long n, long k, long lda, long ldc, emend_dnnl_blocked_b *layout) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t amd, cmd;
    const dnnl_memory_desc_t *w;
    dnnl_status_t s = blocked_pd(m, n, k, lda, ldc, &pd, &amd, &cmd, &w);
    if (s == dnnl_success) {
        const dnnl_blocking_desc_t *bl = &w->format_desc.blocking;
        // The one pattern the decoders write: an inner [kb, nb] block, row-major, of one data type, no offset.
        if (w->ndims != 2 || w->format_kind != dnnl_blocked || w->data_type != dnnl_f32 || w->offset0 != 0
            || bl->inner_nblks != 2 || bl->inner_idxs[0] != 0 || bl->inner_idxs[1] != 1) {
            s = dnnl_unimplemented;
        } else {
            layout->kb = bl->inner_blks[0];
            layout->nb = bl->inner_blks[1];
            layout->k_stride = bl->strides[0];
            layout->n_stride = bl->strides[1];
            layout->size = (long)(dl.dnnl_memory_desc_get_size(w) / sizeof(float));
            // Every element, padding included, must lie inside the size oneDNN reports.
            long kblocks = (k + layout->kb - 1) / layout->kb, nblocks = (n + layout->nb - 1) / layout->nb;
            long last = (kblocks - 1) * layout->k_stride + (nblocks - 1) * layout->n_stride + layout->kb * layout->nb;
            if (layout->kb <= 0 || layout->nb <= 0 || last > layout->size) s = dnnl_unimplemented;
        }
    }
    if (pd) dl.dnnl_primitive_desc_destroy(pd);
    return (int)s;
}

int emend_dnnl_matmul_f32_blocked(long m, long n, long k, const float *a, long lda, const float *b,
                                  float *c, long ldc) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t amd, cmd;
    const dnnl_memory_desc_t *w;
    dnnl_status_t s = blocked_pd(m, n, k, lda, ldc, &pd, &amd, &cmd, &w);
    if (s == dnnl_success) s = execute(pd, &amd, a, w, b, &cmd, c);
    if (pd) dl.dnnl_primitive_desc_destroy(pd);
    return (int)s;
}

int emend_dnnl_matmul_f32(long m, long n, long k, const float *a, long a_rs, long a_cs,
                          const float *b, long b_rs, long b_cs, float *c, long ldc) {
    return run(m, n, k, dnnl_f32, a, a_rs, a_cs, dnnl_f32, b, b_rs, b_cs, c, ldc);
}

int emend_dnnl_matmul_f32_serial(long m, long n, long k, const float *a, long a_rs, long a_cs,
                                 const float *b, long b_rs, long b_cs, float *c, long ldc) {
    dnnl_status_t s = ready();
    if (s != dnnl_success) return (int)s;
    if (!dl.omp_set_num_threads || !dl.omp_get_max_threads) return (int)dnnl_unimplemented;
    // OpenMP's thread count is per thread: one for this call, oneDNN's choice for this thread's later ones.
    int saved = dl.omp_get_max_threads();
    dl.omp_set_num_threads(1);
    int rc = run(m, n, k, dnnl_f32, a, a_rs, a_cs, dnnl_f32, b, b_rs, b_cs, c, ldc);
    dl.omp_set_num_threads(saved);
    return rc;
}

void emend_to_bf16(const float *x, uint16_t *y, long n) {
    for (long i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) { y[i] = (uint16_t)((u >> 16) | 0x40u); continue; }  // quiet NaN
        u += 0x7fffu + ((u >> 16) & 1u);
        y[i] = (uint16_t)(u >> 16);
    }
}

/// dst (bf16, dense [m, k]) = src (f32, row stride lda) through a oneDNN reorder (multi-threaded, vectorised).
static int round_to_bf16(long m, long k, const float *src, long lda, uint16_t *dst) {
    dnnl_status_t s = ready();
    if (s != dnnl_success) return (int)s;
    dnnl_memory_desc_t smd, dmd;
    dnnl_dims_t d = {m, k}, ss = {lda, 1}, ds = {k, 1};
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t sm = NULL, dm = NULL;
    TRY(dl.dnnl_memory_desc_init_by_strides(&smd, 2, d, dnnl_f32, ss));
    TRY(dl.dnnl_memory_desc_init_by_strides(&dmd, 2, d, dnnl_bf16, ds));
    TRY(dl.dnnl_reorder_primitive_desc_create(&pd, &smd, engine, &dmd, engine, NULL));
    TRY(dl.dnnl_primitive_create(&prim, pd));
    TRY(dl.dnnl_memory_create(&sm, &smd, engine, (void *)src));
    TRY(dl.dnnl_memory_create(&dm, &dmd, engine, dst));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, sm}, {DNNL_ARG_TO, dm}};
    TRY(dl.dnnl_primitive_execute(prim, stream, 2, args));
    TRY(dl.dnnl_stream_wait(stream));
done:
    if (sm) dl.dnnl_memory_destroy(sm);
    if (dm) dl.dnnl_memory_destroy(dm);
    if (prim) dl.dnnl_primitive_destroy(prim);
    if (pd) dl.dnnl_primitive_desc_destroy(pd);
    return (int)s;
}

int emend_dnnl_matmul_bf16(long m, long n, long k, const float *a, long lda,
                           const uint16_t *b, long b_rs, long b_cs, float *c, long ldc) {
    uint16_t *ab = malloc((size_t)(m * k > 0 ? m * k : 1) * sizeof(uint16_t));
    if (!ab) return (int)dnnl_out_of_memory;
    int s = round_to_bf16(m, k, a, lda, ab);
    if (s == 0) s = run(m, n, k, dnnl_bf16, ab, k, 1, dnnl_bf16, b, b_rs, b_cs, c, ldc);
    free(ab);
    return s;
}

void emend_dnnl_set_threads(int n) {
    wanted_threads = n > 0 ? n : 1;
    if (engine_status == dnnl_success && dl.omp_set_num_threads) dl.omp_set_num_threads(wanted_threads);
}

int emend_dnnl_has_native_bf16(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") ? 1 : 0;
#else
    return 0;
#endif
}
