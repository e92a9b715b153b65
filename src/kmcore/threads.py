"""Thread counts and BLAS threading, public for drivers that call the kernels in loops.

:func:`effective_n_threads` resolves ``n_threads`` once (a kernel given the
resolved count does not resolve it again); :func:`blas_single_threaded`
keeps BLAS on one thread while our OpenMP threads call it, entered once
around a whole fit instead of at every kernel call. The functions live in
``kmcore._threads``, which the kernels import; this module is their public
name.
"""

from kmcore._threads import blas_single_threaded, cpu_limit, effective_n_threads

__all__ = ["blas_single_threaded", "cpu_limit", "effective_n_threads"]
