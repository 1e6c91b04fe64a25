// The worker pool of emend_pool.h.
//
// One job at a time, described by `state`, one 64-bit word: job number (upper 32 bits) | chunk count (16) | next
// chunk to claim (16). A thread claims a chunk by a compare-and-swap that keeps the job number, so a worker that
// wakes late, after its job ended, can never claim a chunk of the next one; the job's function and sizes are written
// before the state that publishes them (release) and read after a claim (acquire). `done` counts finished chunks
// of the current job; the caller returns once it reaches the chunk count, so the job's fields stay valid while any
// thread can still claim one of its chunks.
#include "emend_pool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EMEND_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define EMEND_RELAX() __asm__ __volatile__("yield")
#else
#define EMEND_RELAX() ((void)0)
#endif

enum { MAX_WORKERS = 63, SPIN_ROUNDS = 1 << 12 };  // 4096 pauses: about 50 µs on recent x86 cores

static _Atomic uint64_t state;            // job (32) | chunks (16) | next (16)
static _Atomic int64_t done;              // chunks of the current job finished
static _Atomic int sleeping;              // workers waiting on `wake`
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;   // held by the caller for the whole job
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int started;                       // workers running (guarded by `busy`)
static emend_pool_fn job_fn;
static void *job_ctx;
static int64_t job_count, job_size;
static _Thread_local int inside;          // this thread is running a chunk

static inline uint32_t job_of(uint64_t s) { return (uint32_t)(s >> 32); }
static inline int chunks_of(uint64_t s) { return (int)((s >> 16) & 0xffff); }
static inline int next_of(uint64_t s) { return (int)(s & 0xffff); }

/// Claims and runs chunks of job `job` until none is left.
static void run_chunks(uint32_t job) {
    for (;;) {
        uint64_t s = atomic_load_explicit(&state, memory_order_acquire);
        do {
            if (job_of(s) != job || next_of(s) >= chunks_of(s)) return;
        } while (!atomic_compare_exchange_weak_explicit(&state, &s, s + 1, memory_order_acq_rel, memory_order_acquire));
        int64_t lo = (int64_t)next_of(s) * job_size, hi = lo + job_size;
        if (hi > job_count) hi = job_count;
        inside = 1;
        if (lo < hi) job_fn(job_ctx, lo, hi);
        inside = 0;
        atomic_fetch_add_explicit(&done, 1, memory_order_release);
    }
}

static void *worker(void *unused) {
    (void)unused;
    uint32_t seen = job_of(atomic_load(&state));
    for (;;) {
        uint64_t s = atomic_load_explicit(&state, memory_order_acquire);
        for (int i = 0; i < SPIN_ROUNDS && job_of(s) == seen; i++) {
            EMEND_RELAX();
            s = atomic_load_explicit(&state, memory_order_acquire);
        }
        if (job_of(s) == seen) {
            // Sleep. `sleeping` is raised before the state is read again (both sequentially consistent), and the
            // caller reads `sleeping` after publishing a job, so one of the two always sees the other.
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleeping, 1);
            while (job_of(atomic_load(&state)) == seen) pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleeping, 1);
            pthread_mutex_unlock(&sleep_lock);
            continue;
        }
        seen = job_of(s);
        run_chunks(seen);
    }
    return 0;
}

int emend_pool_run(int64_t count, int chunks, emend_pool_fn fn, void *ctx) {
    if (chunks < 2 || count < 2 || inside) return 0;
    if (chunks > MAX_WORKERS + 1) chunks = MAX_WORKERS + 1;
    if (chunks > count) chunks = (int)count;
    if (pthread_mutex_trylock(&busy) != 0) return 0;
    while (started < chunks - 1) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &a, worker, 0);
        pthread_attr_destroy(&a);
        if (rc != 0) break;
        started++;
    }
    if (started < 1) { pthread_mutex_unlock(&busy); return 0; }
    job_fn = fn;
    job_ctx = ctx;
    job_count = count;
    job_size = (count + chunks - 1) / chunks;
    chunks = (int)((count + job_size - 1) / job_size);
    atomic_store_explicit(&done, 0, memory_order_relaxed);
    uint32_t job = job_of(atomic_load(&state)) + 1;
    atomic_store(&state, ((uint64_t)job << 32) | ((uint64_t)chunks << 16));
    if (atomic_load(&sleeping) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    run_chunks(job);
    // Wait for the workers' chunks: spin, then yield, so that on an oversubscribed machine a worker that was
    // preempted mid-chunk gets this core back instead of waiting out the caller's time slice.
    for (int i = 0; atomic_load_explicit(&done, memory_order_acquire) < chunks; i++) {
        if (i < SPIN_ROUNDS) EMEND_RELAX();
        else sched_yield();
    }
    pthread_mutex_unlock(&busy);
    return 1;
}
