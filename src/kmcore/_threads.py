"""Thread counts, BLAS threading and cache-sized blocks for the kernels."""

import contextlib
import functools
import numbers
import os
import threading
from collections.abc import Iterator

import numpy as np

from kmcore._parallel import omp_max_threads, openmp_enabled
from kmcore._validation import check_positive_int

_controller = None
# Fixed when the extension was built.
_OPENMP = openmp_enabled()


def physical_cores():
    """Number of physical cores this process may run on (SMT siblings counted once)."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
    return _physical_cores_of(frozenset(cpus))


@functools.lru_cache(maxsize=8)
def _physical_cores_of(cpus):
    # Cached by affinity set: the topology does not change while we run, and
    # reading two sysfs files per CPU at every kernel call would cost more
    # than a small kernel.
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


@functools.lru_cache(maxsize=1)
def _usable_cpus():
    """Logical CPUs this process may use: affinity, cgroup CPU quota (containers)
    and ``LOKY_MAX_CPU_COUNT``, as joblib counts them (scikit-learn's count)."""
    try:
        from joblib import cpu_count
    except ImportError:  # joblib comes with scikit-learn; kmcore alone may lack it
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:
            return os.cpu_count() or 1
    return cpu_count(only_physical_cores=False)


def cpu_limit() -> int:
    """The largest thread count ``n_threads=None`` can give, before OpenMP's own limit.

    The physical cores of the process's affinity set, capped by the usable
    logical CPUs (cgroup quotas, ``LOKY_MAX_CPU_COUNT``).
    """
    return max(1, min(physical_cores(), _usable_cpus()))


# The largest n_threads accepted. The kernels take a C int, and OpenMP starts
# the threads asked for (aborting the process when it cannot): 1024 is more
# than any machine this runs on has cores, and far from what breaks a system.
MAX_N_THREADS = 1024

# With n_threads=None, a call whose work (multiply-adds of one parallel pass,
# e.g. rows x centers x features of an assignment) is below this runs on one
# thread. Below it a second thread gains almost nothing on an idle machine
# (its start-up and the final barrier cost about what it saves), while on a
# busy machine a team of spinning OpenMP threads can wait for a descheduled
# member for a whole time slice at every barrier.
SERIAL_WORK = 1 << 16


def effective_n_threads(n_threads: int | None = None, work: int | None = None) -> int:
    """Threads a kernel call will use, by scikit-learn's rule plus a small-work rule.

    Parameters
    ----------
    n_threads : int or None, default=None
        None: OpenMP's current team size (``omp_get_max_threads()``, which
        ``OMP_NUM_THREADS``, ``omp_set_num_threads`` and
        ``threadpoolctl.threadpool_limits(n, user_api="openmp")`` set),
        capped, unless ``OMP_NUM_THREADS`` is set, by :func:`cpu_limit`: the
        physical cores the process may run on and the CPUs a container's
        cgroup quota allows. A positive count is used as given (at most
        ``MAX_N_THREADS``). A negative count ``-m`` means that limit plus 1
        minus m, at least 1: -1 all of them, -2 all but one. 0 raises.
    work : int, default=None
        The work of the call (multiply-adds of one parallel pass: rows x
        centers x features for an assignment, rows x features for norms).
        With ``n_threads=None`` and work below ``SERIAL_WORK`` (2**16) the
        call runs on one thread; an explicit ``n_threads`` is honoured.

    Returns
    -------
    int
        In ``[1, MAX_N_THREADS]``; always 1 without OpenMP in this build.

    Notes
    -----
    Results never depend on the thread count (bitwise), only the speed does.

    The default used to be the physical cores (or ``OMP_NUM_THREADS``),
    ignoring threadpoolctl's OpenMP limit and container quotas; it is still
    the physical cores when nothing else limits it (scikit-learn's choice
    too: an SMT sibling rarely speeds up these kernels).

    Busy-waiting: OpenMP threads spin for a while at the end of every
    parallel region before they sleep (libgomp's default). On a machine
    shared with other busy processes, above all other OpenMP programs that
    spin too, a team of threads then waits for a descheduled member at
    every region: a small fit can run hundreds of times slower on two
    threads than on one, and a large one several times slower.
    ``n_threads=1``, or ``OMP_WAIT_POLICY=passive`` in the environment before
    Python starts (idle threads sleep instead of spinning), avoids it. The
    small-work rule above removes it for the smallest calls only, where one
    thread loses at most a few percent on an idle machine.
    """
    if type(n_threads) is int and 0 < n_threads <= MAX_N_THREADS:
        # A count already resolved (a driver's loop passes the one it resolved
        # once): nothing to look up, so the kernels' overhead stays O(1).
        return n_threads if _OPENMP else 1
    if n_threads is None:
        if not _OPENMP:
            return 1
        if work is not None and work < SERIAL_WORK:
            return 1
        return _default_threads()
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be an integer, got {n_threads!r}")
    if n_threads == 0:
        raise ValueError("n_threads must be a positive thread count, or negative to count "
                         "from the available CPUs (-1: all of them), got 0")
    if n_threads < 0:
        n = max(1, _default_threads() + 1 + int(n_threads))
    else:
        n = check_positive_int(n_threads, "n_threads", MAX_N_THREADS)
    return n if _OPENMP else 1


def _default_threads():
    """scikit-learn's OpenMP thread count (see :func:`effective_n_threads`)."""
    n = omp_max_threads()
    if not os.environ.get("OMP_NUM_THREADS"):
        n = min(n, cpu_limit())
    return max(1, min(n, MAX_N_THREADS))


_blas_lock = threading.Lock()
_blas_depth = 0


@contextlib.contextmanager
def blas_single_threaded() -> Iterator[None]:
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
# candidates) that copy is most of the time, so smaller calls are faster
# overall. With few features the copy is cheap and the extra calls cost as
# much as they save, hence the minimum feature count. Other BLAS libraries
# just see smaller calls. The measurements: benchmarks/TUNING.md.
_SMALL_GEMM_OUTPUTS = 1200
_SMALL_GEMM_MACS = 10**6
_SMALL_GEMM_MIN_FEATURES = 32


def block_sizes(n_samples, n_features, n_centers, itemsize):
    """Rows of X and centers per GEMM call of the fused assignment.

    Few centers and at least 32 features: the largest multiple of 16 rows, at
    most 128, whose product stays within BLAS's small-product path (see
    above), when that is at least 32 rows.
    Otherwise, up to 1024 centers: all of them, and rows so that the distance
    block stays within 2 MiB (512 rows for float32 at 1024 centers). BLAS
    packs both operands again at every call, so larger blocks amortise that,
    and a block this size is still read back from cache by the argmin.
    Beyond 1024 centers the packing weighs more: blocks of up to 2048
    centers within 8 MiB (1024 rows for float32), for 6 MiB more per thread.
    The measurements behind these sizes: benchmarks/TUNING.md.
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
