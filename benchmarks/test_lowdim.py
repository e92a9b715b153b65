"""Low-dimensional exact k-means: KMeans' default (Hamerly's bounds) against the peers.

Run alone (one benchmark job at a time on this machine):

    python -m pytest benchmarks/test_lowdim.py -m quick \\
        --benchmark-json benchmarks/results/lowdim.json

500,000 x 8 float32 rows of a Gaussian mixture, k = 64, 20 iterations
(tol=0) from the same random rows, whole fits through the public APIs
(validation, norms, bounds and final labels included): dynkm's default
(``algorithm="auto"``, which picks Hamerly's bounds below 16 features),
dynkm's plain Lloyd, scikit-learn's ``KMeans(algorithm="lloyd")`` and
``faiss.Kmeans`` with ``max_points_per_centroid`` large (it sees every row).
Every peer runs in the same rounds, after a pause (see
``test_foundation.time_with_peers``): ``ratio_to_*`` are medians of per-round
ratios. The issue's target: ``ratio_to_sklearn <= 0.35`` and
``ratio_to_faiss < 1``.

``extra_info`` also keeps the fraction of the n x k distances each iteration
computed (deterministic), the seconds of each iteration of the last fit
(the first one computes every distance), whether the bounds used the
neighbour tables (``kmcore.hamerly.use_neighbours``) and how many final
labels differ from the plain Lloyd fit's and from exact float64 argmins at
each fit's own final centers.
"""

import numpy as np
import pytest
from conftest import THREADS, TINY, gaussian_mixture, initial_centers
from test_foundation import time_with_peers

from dynkm import KMeans
from kmcore.hamerly import use_neighbours

pytestmark = pytest.mark.quick

N, D, K = 500_000, 8, 64
ITERATIONS = 20
ROUNDS = 5


def _exact_mismatches(X, centers, labels, rows=50_000):
    """Rows whose label is not the float64 argmin (lowest index on ties) at ``centers``."""
    C = centers.astype(np.float64)
    wrong = 0
    for start in range(0, X.shape[0], rows):
        block = X[start:start + rows].astype(np.float64)
        dist = ((block[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
        wrong += int((dist.argmin(axis=1) != labels[start:start + rows]).sum())
    return wrong


def _peers(X, C0, fits):
    from sklearn.cluster import KMeans as SKLearnKMeans

    def lloyd():
        fits["lloyd"] = KMeans(K, init=C0, max_iter=ITERATIONS, tol=0, algorithm="lloyd",
                               n_threads=THREADS).fit(X)

    def sklearn():
        fits["sklearn"] = SKLearnKMeans(K, init=C0, n_init=1, max_iter=ITERATIONS, tol=0,
                                        algorithm="lloyd").fit(X)

    peers = {"lloyd": lloyd, "sklearn": sklearn}
    try:
        import faiss
    except ImportError:
        return peers

    def faiss_fit():
        km = faiss.Kmeans(D, K, niter=ITERATIONS, max_points_per_centroid=10**9,
                          min_points_per_centroid=1)
        km.train(X, init_centroids=C0)

    peers["faiss"] = faiss_fit
    return peers


@pytest.mark.benchmark(group="lowdim")
def test_lowdim_20_iterations(benchmark):
    X = gaussian_mixture(N, D, K)
    C0 = initial_centers(X, K)
    fits = {}

    def ours():
        fits["auto"] = KMeans(K, init=C0, max_iter=ITERATIONS, tol=0,
                              n_threads=THREADS).fit(X)

    time_with_peers(benchmark, ours, _peers(X, C0, fits), ROUNDS)
    fast, plain = fits["auto"], fits["lloyd"]
    assert fast.history_["algorithm"] == "hamerly"
    assert fast.n_iter_ == plain.n_iter_
    # tol=0 stops only when no label changes: the full data never get there
    # in 20 iterations, DYNKM_BENCH_TINY's few rows may.
    assert fast.n_iter_ == ITERATIONS or TINY
    fraction = fast.history_["distance_fraction"]
    benchmark.extra_info.update(
        data=f"gaussian mixture {N}x{D} float32", k=K, iterations=ITERATIONS,
        algorithm=fast.history_["algorithm"],
        labels_differing_from_lloyd=int((fast.labels_ != plain.labels_).sum()),
        labels_differing_from_sklearn=int((fast.labels_ != fits["sklearn"].labels_).sum()),
        ours_not_exact=_exact_mismatches(X, fast.cluster_centers_, fast.labels_),
        lloyd_not_exact=_exact_mismatches(X, plain.cluster_centers_, plain.labels_),
        inertia=fast.inertia_, lloyd_inertia=plain.inertia_,
        mean_distance_fraction=float(fraction.mean()),
        distance_fraction=[float(f) for f in fraction],
        iteration_seconds=[float(t) for t in fast.history_["seconds"]],
        neighbour_tables=use_neighbours(X.shape[0], D, K, X.dtype.itemsize),
    )
