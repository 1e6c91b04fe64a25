// CBLAS and LAPACKE from the system (Debian: libopenblas-dev, liblapacke-dev; Homebrew: openblas).
#ifndef EMEND_COPENBLAS_SHIM_H
#define EMEND_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
// OpenBLAS extension: the number of threads its kernels use.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// Not BLAS, but this is Emend's only C shim: stdout line-buffered (Swift 6 cannot touch the C global `stdout`).
#include <stdio.h>
static inline void emend_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
#endif
