// CBLAS and LAPACKE from the system (Debian: libopenblas-dev, liblapacke-dev; Homebrew: openblas).
#ifndef EMEND_COPENBLAS_SHIM_H
#define EMEND_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
// OpenBLAS extension: the number of threads its kernels use.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
