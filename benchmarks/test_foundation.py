"""Foundation benchmarks: one Lloyd iteration and k-means++ seeding vs the peers.

Run (one benchmark job at a time on this machine):

    python -m pytest benchmarks/test_foundation.py --benchmark-json benchmarks/results/foundation.json
    python benchmarks/report.py benchmarks/results/foundation.json

The report prints the ratios the README quotes (ours / peer, ours / GEMM,
ours / read pass), all from the same run.
"""

import numpy as np
import pytest
from conftest import THREADS, initial_centers

import kmcore
from kmcore.assignment import _lloyd_step
from kmcore.seeding import _kmeans_plusplus

KS = [10, 256, 1024]


@pytest.mark.benchmark(group="read")
def test_read_pass(benchmark, mnist_like):
    """One read pass over X (the memory bound of a small-k iteration)."""
    X, source = mnist_like
    benchmark.extra_info["data"] = source
    benchmark(X.sum, axis=0)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="lloyd")
def test_lloyd_gemm_bound(benchmark, mnist_like, k):
    """The plain float32 GEMM X @ C.T of the iteration's shape (numpy's BLAS)."""
    X, _ = mnist_like
    C = initial_centers(X, k)
    out = np.empty((X.shape[0], k), dtype=np.float32)
    benchmark(np.matmul, X, C.T, out=out)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="lloyd")
def test_lloyd_dynkm(benchmark, mnist_like, k):
    """One iteration as dynkm.KMeans runs it (validated input, norms precomputed)."""
    X, _ = mnist_like
    C = initial_centers(X, k)
    xn = kmcore.row_norms(X, n_threads=THREADS)
    benchmark(_lloyd_step, X, xn, C, None, True, THREADS)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="lloyd")
def test_lloyd_sklearn(benchmark, mnist_like, k):
    """One iteration of scikit-learn's Lloyd kernel, as KMeans.fit calls it."""
    from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
    from threadpoolctl import threadpool_limits

    X, _ = mnist_like
    C = initial_centers(X, k)
    w = np.ones(X.shape[0], dtype=np.float32)
    new = np.empty_like(C)
    weights = np.empty(k, dtype=np.float32)
    labels = np.empty(X.shape[0], dtype=np.int32)
    shift = np.empty(k, dtype=np.float32)

    def step():
        with threadpool_limits(limits=1, user_api="blas"):
            lloyd_iter_chunked_dense(X, w, C, new, weights, labels, shift, THREADS)

    benchmark(step)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="lloyd")
def test_lloyd_faiss(benchmark, mnist_like, k):
    """faiss.Kmeans.train with one iteration from the same centers, no subsampling."""
    faiss = pytest.importorskip("faiss")
    X, _ = mnist_like
    C = initial_centers(X, k)

    def step():
        km = faiss.Kmeans(X.shape[1], k, niter=1, max_points_per_centroid=10**9,
                          min_points_per_centroid=1)
        km.train(X, init_centroids=C)

    benchmark(step)


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
