// A small pool of worker threads for short parallel work called many times a second: the one-row products of
// generation (about 200 per token on the default model, 5–50 µs each), where handing a range to a Dispatch worker
// and waking it costs as much as the range itself.
//
// The caller runs chunks itself and waits by spinning; the workers spin on a job counter for a short while after
// each job (about 50 µs) and then sleep on a condition variable, so an idle pool burns no processor. One job at a
// time: a call made while another job runs (from another thread, or from inside a chunk) returns 0 at once and the
// caller runs the work its own way.
#ifndef EMEND_POOL_H
#define EMEND_POOL_H
#include <stdint.h>

/// One chunk of a job: the half-open range [lo, hi) of the job's count.
typedef void (*emend_pool_fn)(void *ctx, int64_t lo, int64_t hi);

/// Splits [0, count) into `chunks` contiguous ranges of equal size (the last shorter) and runs fn on each, on the
/// calling thread and `chunks − 1` pool workers (started on first use, at most 63), and returns when all are done.
/// Which thread runs which range is not fixed. Returns 1 when the job ran, 0 when the pool is busy or chunks < 2
/// (nothing ran).
int emend_pool_run(int64_t count, int chunks, emend_pool_fn fn, void *ctx);

#endif
