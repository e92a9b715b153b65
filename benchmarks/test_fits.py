"""Whole fits through the public APIs against the peers' whole fits (issue 12's targets).

Run alone (one benchmark job at a time on this machine; see README.md here):

    python -m pytest benchmarks/test_fits.py --benchmark-json benchmarks/results/fits.json
    python benchmarks/report.py benchmarks/results/fits.json

Every round runs each peer, then dynkm, with a pause before each library
(``SETTLE``: OpenBLAS's and OpenMP's threads spin after a call and would take
one of the two cores from the next library). ``extra_info`` keeps each peer's
median seconds and ``ratio_to_{peer}``, the median over rounds of dynkm's
time / the peer's time in the same round; ``inertia_ratio_to_{peer}`` is
dynkm's inertia / the peer's, both computed the same way on all rows.

- ``test_fit_default``: ``dynkm.KMeans(k, random_state=0).fit(X)`` against
  ``faiss.Kmeans(d, k).train(X)``, each with its defaults (k-means++ and
  tol 1e-4 to convergence for dynkm; random rows, 25 iterations and at most
  256 rows per center for faiss).
- ``test_fit_20_iterations``: 20 iterations from the same initial centers
  (tol=0, n_init=1): dynkm's default algorithm against faiss (all rows, no
  subsampling) and scikit-learn's ``KMeans(algorithm="lloyd")``; also one
  plain GEMM of the shape (``ratio_to_gemm`` / 20 is the mean iteration
  against the GEMM bound). faiss runs all 20 iterations in one ``train``:
  a ``niter=1`` run would add its per-``train`` setup to one iteration.
- ``test_fit_kmeanspp``: ``kmcore.kmeans_plusplus`` against scikit-learn's
  ``kmeans_plusplus`` from the same seed, and whether they picked the same
  rows (``same_rows``; ``rows_agreeing``: how many of the first picks agree);
  ``rows_read`` is the mean fraction of rows a step read (the bounds skip
  the others), ``projection_steps`` the steps the projection bounds ran.
- The low-dimensional case (500,000 x 8, k = 64) is ``test_lowdim.py``.

The ``quick`` ones (``-m quick``) are k = 256 for the 20 iterations and
k-means++ on the first ``KMEANSPP_QUICK_ROWS`` rows (scikit-learn's seeding
of all 60000 rows takes ~20 s a round).
"""

import numpy as np
import pytest
from conftest import THREADS, TINY, initial_centers
from test_foundation import time_with_peers

import dynkm
import kmcore
from kmcore import seeding

faiss = pytest.importorskip("faiss")
sklearn_cluster = pytest.importorskip("sklearn.cluster")

ITERATIONS = 20
KMEANSPP_K = 256
KMEANSPP_QUICK_ROWS = 10_000
# Big enough that faiss never subsamples (it is a C int).
ALL_ROWS = 1 << 30


def all_rows_inertia(X, centers):
    """Sum over all rows of the squared distance to the nearest center, in float64.

    The same code for every library's centers, so that the inertia ratios
    compare centers, not the libraries' ways of summing.
    """
    min_sqdist = kmcore.assign(X, np.ascontiguousarray(centers, dtype=X.dtype),
                               n_threads=THREADS)[1]
    return float(np.sum(min_sqdist, dtype=np.float64))


def faiss_fit(X, k, **params):
    """``faiss.Kmeans(d, k, **params).train(X)`` (init centers in ``params["init"]``)."""
    init = params.pop("init", None)
    km = faiss.Kmeans(X.shape[1], k, **params)
    km.train(X, init_centroids=init)
    return km


def faiss_same_init(X, C0):
    """faiss from ``C0``: ITERATIONS iterations in one ``train``, every row used."""
    return faiss_fit(X, C0.shape[0], niter=ITERATIONS, max_points_per_centroid=ALL_ROWS,
                     min_points_per_centroid=1, init=C0)


def sklearn_same_init(X, C0):
    return sklearn_cluster.KMeans(C0.shape[0], init=C0, n_init=1, max_iter=ITERATIONS, tol=0,
                                  algorithm="lloyd").fit(X)


def dynkm_same_init(X, C0):
    return dynkm.KMeans(C0.shape[0], init=C0, n_init=1, max_iter=ITERATIONS, tol=0,
                        n_threads=THREADS).fit(X)


def record_same_init(benchmark, X, fits, peers):
    """extra_info of a fixed-iteration run: iterations, inertias and their ratios."""
    ours = fits["dynkm"]
    info = benchmark.extra_info
    info.update(n_iter=int(ours.n_iter_), algorithm=ours.history_["algorithm"],
                mean_distance_fraction=float(np.mean(ours.history_["distance_fraction"])))
    info["inertia"] = all_rows_inertia(X, ours.cluster_centers_)
    for name in peers:
        peer = fits[name]
        centers = peer.centroids if name == "faiss" else peer.cluster_centers_
        info[f"{name}_inertia"] = all_rows_inertia(X, centers)
        info[f"inertia_ratio_to_{name}"] = info["inertia"] / info[f"{name}_inertia"]
    if "sklearn" in fits:
        info["sklearn_n_iter"] = int(fits["sklearn"].n_iter_)
        info["label_agreement_sklearn"] = float(np.mean(ours.labels_ == fits["sklearn"].labels_))


def run_same_init(benchmark, X, C0, rounds, peer_names, gemm=False, warmup_rounds=0):
    """Time dynkm's fit from C0 against the named peers' fits from C0, one of each a round.

    The data must not converge within ITERATIONS (faiss runs them all, the
    others would stop): checked after the timing, except on DYNKM_BENCH_TINY's
    few rows, which may.
    """
    makers = {"faiss": faiss_same_init, "sklearn": sklearn_same_init}
    fits = {}

    def keep(name):
        def fit():
            fits[name] = makers[name](X, C0)
        return fit

    def ours():
        fits["dynkm"] = dynkm_same_init(X, C0)

    peers = {name: keep(name) for name in peer_names}
    if gemm:
        out = np.empty((X.shape[0], C0.shape[0]), dtype=np.float32)
        peers["gemm"] = lambda: np.matmul(X, C0.T, out=out)
    time_with_peers(benchmark, ours, peers, rounds, warm=False, warmup_rounds=warmup_rounds)
    record_same_init(benchmark, X, fits, peer_names)
    if not TINY:
        assert fits["dynkm"].n_iter_ == ITERATIONS, "converged early: the peers' work differs"
    return fits


# ------------------------------------------------------------ default fit
@pytest.mark.parametrize("k", [256, 1024])
@pytest.mark.benchmark(group="fit: defaults")
def test_fit_default(benchmark, mnist_like, k):
    """Each library's default fit; faiss sees min(n, 256 k) rows (all of MNIST at these k)."""
    X, source = mnist_like
    fits = {}

    def ours():
        fits["dynkm"] = dynkm.KMeans(k, random_state=0).fit(X)

    def peer():
        fits["faiss"] = faiss_fit(X, k)

    time_with_peers(benchmark, ours, {"faiss": peer}, rounds=3, warm=False, warmup_rounds=0)
    ours_fit, faiss_km = fits["dynkm"], fits["faiss"]
    info = benchmark.extra_info
    info.update(data=source, k=k, n_iter=int(ours_fit.n_iter_),
                algorithm=ours_fit.history_["algorithm"],
                init_seconds=float(ours_fit.history_["init_seconds"]),
                faiss_n_iter=int(faiss_km.cp.niter),
                faiss_rows=min(X.shape[0], k * int(faiss_km.cp.max_points_per_centroid)))
    info["inertia"] = all_rows_inertia(X, ours_fit.cluster_centers_)
    info["faiss_inertia"] = all_rows_inertia(X, faiss_km.centroids)
    info["inertia_ratio_to_faiss"] = info["inertia"] / info["faiss_inertia"]


# ------------------------------------------------- 20 iterations, same init
@pytest.mark.parametrize("k", [pytest.param(256, marks=pytest.mark.quick), 1024])
@pytest.mark.benchmark(group="fit: 20 iterations from the same init")
def test_fit_20_iterations(benchmark, mnist_like, k):
    X, source = mnist_like
    C0 = initial_centers(X, k)
    run_same_init(benchmark, X, C0, 3, ["faiss", "sklearn"], gemm=True)
    info = benchmark.extra_info
    info.update(data=source, k=k, iterations=ITERATIONS)
    # The mean iteration of the whole fit against one plain GEMM of the shape (target <= 0.5).
    info["iteration_to_gemm"] = info["ratio_to_gemm"] / ITERATIONS


# ---------------------------------------------------------------- k-means++
@pytest.mark.parametrize("rows", [pytest.param("subset", marks=pytest.mark.quick), "all"])
@pytest.mark.benchmark(group="fit: k-means++")
def test_fit_kmeanspp(benchmark, mnist_like, rows):
    """k-means++ alone at k = 256, public functions, same seed (0), same n_local_trials."""
    X, source = mnist_like
    if rows == "subset":
        X = np.ascontiguousarray(X[:KMEANSPP_QUICK_ROWS])
    picked = {}

    def ours():
        picked["dynkm"] = kmcore.kmeans_plusplus(X, KMEANSPP_K, random_state=0,
                                                 n_threads=THREADS)[1]

    def peer():
        picked["sklearn"] = sklearn_cluster.kmeans_plusplus(X, KMEANSPP_K, random_state=0)[1]

    time_with_peers(benchmark, ours, {"sklearn": peer}, rounds=3 if rows == "subset" else 2,
                    warm=False, warmup_rounds=0)
    a, b = np.asarray(picked["dynkm"]), np.asarray(picked["sklearn"])
    differ = np.flatnonzero(a != b)
    # The deterministic proxy of the bounds' gain, from one more (untimed)
    # run: the mean fraction of rows a step read (1.0 without any bound).
    stats = []
    _, again = seeding._kmeans_plusplus(np.ascontiguousarray(X), kmcore.row_norms(X), KMEANSPP_K,
                                        None, 2 + int(np.log(KMEANSPP_K)),
                                        np.random.RandomState(0), THREADS, stats)
    benchmark.extra_info.update(
        data=source, n_rows=int(X.shape[0]), k=KMEANSPP_K, same_rows=bool(differ.size == 0),
        rows_agreeing=int(differ[0]) if differ.size else KMEANSPP_K,
        rows_read=float(np.mean([s[0] for s in stats])),
        projection_steps=sum(s[3] is not None for s in stats))
    assert np.array_equal(again, a)
