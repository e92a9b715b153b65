"""Thread counts, BLAS threading and cache-sized blocks for the kernels."""

import contextlib
import os
import threading

from kmcore._parallel import omp_max_threads, openmp_enabled
from kmcore._validation import check_positive_int

_controller = None


def physical_cores():
    """Number of physical cores this process may run on (SMT siblings counted once)."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
    cores = set()
    for cpu in cpus:
        base = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(base + "physical_package_id") as f:
                package = f.read().strip()
            with open(base + "core_id") as f:
                core = f.read().strip()
        except OSError:
            return len(cpus)
        cores.add((package, core))
    return max(1, len(cores))


# The largest n_threads accepted. The kernels take a C int, and OpenMP starts
# the threads asked for (aborting the process when it cannot): 1024 is more
# than any machine this runs on has cores, and far from what breaks a system.
MAX_N_THREADS = 1024


def effective_n_threads(n_threads=None):
    """Threads a kernel will use.

    None means ``OMP_NUM_THREADS`` when it is set, else the physical cores
    (at most ``MAX_N_THREADS`` either way). An explicit count must lie in
    ``[1, MAX_N_THREADS]``. Without OpenMP in this build the answer is
    always 1.
    """
    if n_threads is None:
        n = omp_max_threads() if "OMP_NUM_THREADS" in os.environ else physical_cores()
        n = max(1, min(n, MAX_N_THREADS))
    else:
        n = check_positive_int(n_threads, "n_threads", MAX_N_THREADS)
    return n if openmp_enabled() else 1


_blas_lock = threading.Lock()
_blas_depth = 0


@contextlib.contextmanager
def blas_single_threaded():
    """Context in which BLAS runs on one thread (our OpenMP threads call it).

    Without this, every OpenMP thread's GEMM would start BLAS's own threads and
    oversubscribe the cores. numpy and scipy each bundle an OpenBLAS;
    threadpoolctl limits both. Nested uses are free: only the outermost one
    changes (and later restores) the BLAS setting, so an estimator enters it
    once per fit instead of once per kernel call.
    """
    global _controller, _blas_depth
    with _blas_lock:
        outer = _blas_depth == 0
        _blas_depth += 1
    try:
        if not outer:
            yield
            return
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        with _controller.limit(limits=1, user_api="blas"):
            yield
    finally:
        with _blas_lock:
            _blas_depth -= 1


# OpenBLAS multiplies small products (here: at most 1200 outputs and 10^6
# multiply-adds per call) straight from the operands, without first copying
# them into its panel layout. For a thin GEMM (few centers, or k-means++'s
# candidates) that copy is most of the time: on MNIST with k = 10, chunks of
# 112 rows make a Lloyd iteration 25% faster than chunks of 512 (1.5-2x on
# 10^6 x 32..64 random data), and greedy k-means++ at k = 256 1.5x faster.
# With few features the copy is cheap and the extra calls cost as much as
# they save (equal at d = 16, 7% slower at d = 2). Other BLAS libraries just
# see smaller calls.
_SMALL_GEMM_OUTPUTS = 1200
_SMALL_GEMM_MACS = 10**6
_SMALL_GEMM_MIN_FEATURES = 32


def block_sizes(n_samples, n_features, n_centers, itemsize):
    """Rows of X and centers per GEMM call of the fused assignment.

    Few centers and at least 32 features: the largest multiple of 16 rows, at
    most 128, whose product stays within BLAS's small-product path (see
    above), when that is at least 32 rows (measured on MNIST: 128 rows is as
    fast as larger chunks for one or two centers and up to 40% faster for
    three to five).
    Otherwise, up to 1024 centers: all of them, and rows so that the distance
    block stays within 2 MiB (512 rows for float32 at 1024 centers). BLAS
    packs both operands again at every call, so larger blocks amortise that;
    measured on MNIST (d=784), 512 rows is within noise of the best for
    k = 256 and 1024 (and the block is read back from cache by the argmin).
    Beyond 1024 centers, that packing is ~8% of the time: blocks of up to
    2048 centers within 8 MiB (1024 rows for float32) were 1-3% faster at
    k = 2048 and 4000 in every run, for 6 MiB more per thread.
    """
    k_block = min(n_centers, 2048)
    small = min(128, _SMALL_GEMM_OUTPUTS // k_block, _SMALL_GEMM_MACS // (k_block * n_features))
    small -= small % 16
    if small >= 32 and n_features >= _SMALL_GEMM_MIN_FEATURES:
        rows = small
    elif n_centers <= 1024:
        rows = max(64, min(512, (2 << 20) // (k_block * itemsize)))
    else:
        rows = max(64, min(1024, (8 << 20) // (k_block * itemsize)))
    return min(rows, n_samples), k_block
