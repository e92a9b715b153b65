"""Foundation benchmarks: one Lloyd iteration and k-means++ seeding vs the peers.

Run (one benchmark job at a time on this machine):

    python -m pytest benchmarks/test_foundation.py \\
        --benchmark-json benchmarks/results/foundation.json
    python benchmarks/report.py benchmarks/results/foundation.json

The report prints the ratios the README quotes (ours / peer, ours / GEMM,
ours / read pass), all from the same run; the Lloyd ratios are medians of
ratios within each round (the peers run in the same rounds as dynkm).
"""

import time

import numpy as np
import pytest
from conftest import THREADS, TINY, initial_centers

import kmcore
from kmcore.assignment import _lloyd_step
from kmcore.centers import weighted_sums
from kmcore.distances import _row_norms
from kmcore.seeding import _kmeans_plusplus

# 10, 256, 1024: the foundation issue's targets; 4000: S1's MNIST notebook.
KS = [10, 256, 1024, 4000]


# Each timed call follows a pause and an untimed call of the same code: the
# pause lets the previous library's worker threads go to sleep (OpenBLAS's and
# faiss's busy-wait for a while after a parallel call and would take a core
# from whatever runs next on this 2-core machine); the untimed call puts the
# library in the state back-to-back rounds would find it (threads awake,
# buffers allocated).
SETTLE = 0.25
ROUNDS = {10: 21, 256: 9, 1024: 7, 4000: 4}


def lloyd_peers(X, C):
    """The calls timed beside dynkm's iteration: {name: callable}."""
    from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
    from threadpoolctl import threadpool_limits

    k = C.shape[0]
    out = np.empty((X.shape[0], k), dtype=np.float32)
    w = np.ones(X.shape[0], dtype=np.float32)
    new = np.empty_like(C)
    weights = np.empty(k, dtype=np.float32)
    labels = np.empty(X.shape[0], dtype=np.int32)
    shift = np.empty(k, dtype=np.float32)

    def sklearn_iteration():
        # One iteration of scikit-learn's Lloyd kernel, as KMeans.fit calls it.
        with threadpool_limits(limits=1, user_api="blas"):
            lloyd_iter_chunked_dense(X, w, C, new, weights, labels, shift, THREADS)

    peers = {
        "read": lambda: X.sum(axis=0),                   # one read pass over X
        "gemm": lambda: np.matmul(X, C.T, out=out),      # the plain GEMM of the shape
        "sklearn": sklearn_iteration,
    }
    try:
        import faiss
    except ImportError:
        return peers

    def faiss_iteration():
        # faiss.Kmeans.train with one iteration from the same centers, no subsampling.
        km = faiss.Kmeans(X.shape[1], k, niter=1, max_points_per_centroid=10**9,
                          min_points_per_centroid=1)
        km.train(X, init_centroids=C)

    peers["faiss"] = faiss_iteration
    return peers


def time_with_peers(benchmark, ours, peers, rounds, warm=True, warmup_rounds=1):
    """Time ``ours`` with every peer timed just before it in each round.

    Records ``{peer}_seconds`` (median) and ``ratio_to_{peer}`` (median of the
    per-round ratios ours / peer) in the benchmark's extra_info: the machine's
    drift over the run (it is shared) cancels out of the ratios.

    ``warm``: each timed call (peers' and ours) follows an untimed call of the
    same code (see SETTLE); whole fits of seconds need no such call (pass
    False): a round is then one call of each. ``warmup_rounds``: rounds run
    first and left out of the timings and ratios. With ``--benchmark-disable``
    pytest-benchmark runs one round and no warm-up: the ratios are then of that
    round, so the extra_info is filled either way. Under DYNKM_BENCH_TINY
    (a check that the suite runs) one round after at most one warm-up round.
    """
    if TINY:
        rounds, warmup_rounds = 1, min(warmup_rounds, 1)
    peer_seconds = {name: [] for name in peers}
    ours_seconds = []

    def run_peers():
        for name, call in peers.items():
            time.sleep(SETTLE)
            if warm:
                call()
            start = time.perf_counter()
            call()
            peer_seconds[name].append(time.perf_counter() - start)
        time.sleep(SETTLE)
        if warm:
            ours()

    def timed_ours():
        # Our own clock around the call pytest-benchmark times, so that the
        # ratios exist when it is disabled too; the two agree to microseconds.
        start = time.perf_counter()
        ours()
        ours_seconds.append(time.perf_counter() - start)

    benchmark.pedantic(timed_ours, setup=run_peers, rounds=rounds, warmup_rounds=warmup_rounds)
    timed = slice(warmup_rounds, None) if len(ours_seconds) > warmup_rounds else slice(None)
    mine = np.asarray(ours_seconds[timed])
    for name, seconds in peer_seconds.items():
        seconds = np.asarray(seconds[timed])
        benchmark.extra_info[f"{name}_seconds"] = float(np.median(seconds))
        benchmark.extra_info[f"ratio_to_{name}"] = float(np.median(mine / seconds))


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="lloyd")
def test_lloyd(benchmark, mnist_like, k):
    """One iteration as dynkm.KMeans runs it (validated input, norms precomputed).

    The peers run in the same rounds, just before dynkm's timed call (see
    SETTLE).
    """
    X, source = mnist_like
    C = initial_centers(X, k)
    xn = kmcore.row_norms(X, n_threads=THREADS)
    benchmark.extra_info["data"] = source
    time_with_peers(benchmark, lambda: _lloyd_step(X, xn, C, None, True, THREADS),
                    lloyd_peers(X, C), ROUNDS[k])


@pytest.mark.parametrize("k", [256, 1024])
@pytest.mark.benchmark(group="center update")
def test_center_update(benchmark, mnist_like, k):
    """The Lloyd step's second pass over X (per-cluster float64 sums) at large k.

    Against one read of X on the same threads (``row_norms``: every row read
    once, one float written per row), which bounds what any pass over X costs.
    """
    X, source = mnist_like
    labels = kmcore.assign(X, initial_centers(X, k), n_threads=THREADS)[0]
    benchmark.extra_info["data"] = source
    time_with_peers(benchmark, lambda: weighted_sums(X, labels, k, None, THREADS),
                    {"read": lambda: _row_norms(X, True, THREADS)}, 15)


# sklearn's k-means++ takes ~20 s (k=256) and ~2 min (k=1024) here: one round each.
@pytest.mark.parametrize("k", [256, 1024])
@pytest.mark.benchmark(group="kmeans++")
def test_kmeanspp_dynkm(benchmark, mnist_like, k):
    X, _ = mnist_like
    xn = kmcore.row_norms(X, n_threads=THREADS)
    trials = 2 + int(np.log(k))
    benchmark.pedantic(
        lambda: _kmeans_plusplus(X, xn, k, None, trials, np.random.RandomState(0), THREADS),
        rounds=3, iterations=1,
    )


@pytest.mark.parametrize("k", [256, 1024])
@pytest.mark.benchmark(group="kmeans++")
def test_kmeanspp_sklearn(benchmark, mnist_like, k):
    from sklearn.cluster import kmeans_plusplus

    X, _ = mnist_like
    trials = 2 + int(np.log(k))
    benchmark.pedantic(lambda: kmeans_plusplus(X, k, n_local_trials=trials, random_state=0),
                       rounds=1, iterations=1)
