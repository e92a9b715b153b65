"""dynkm.dask against in-memory dynkm and dask-ml, on 60000 x 784 float32 in 8 chunks.

k=10, 10 Lloyd iterations from the same initial centers (tol=0, so every run
does all 10), on a LocalCluster of THREADS in-process workers with 1 thread
each (the test starts it; nothing leaves the machine):

    python -m pytest benchmarks/test_dask.py --benchmark-json benchmarks/results/dask.json
    python benchmarks/report.py benchmarks/results/dask.json

dask-ml's KMeans runs when ``dask-ml`` is importable (it is not one of
dynkm's dependencies), else its benchmark is skipped.
"""

import numpy as np
import pytest
from conftest import THREADS, initial_centers

da = pytest.importorskip("dask.array", reason="needs dask[array] (dynkm's [dask] extra)")
distributed = pytest.importorskip("distributed", reason="needs distributed (the [dask] extra)")

import dynkm  # noqa: E402
import dynkm.dask  # noqa: E402

K = 10
ITERATIONS = 10
CHUNKS = 8


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=THREADS, threads_per_worker=1, processes=False,
                                  dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def chunked(mnist_like, client):
    """X in memory, and X in CHUNKS row chunks scattered to the workers (where they stay)."""
    X, _ = mnist_like
    bounds = np.linspace(0, X.shape[0], CHUNKS + 1).astype(int)
    parts = [da.from_delayed(client.scatter(X[a:b]), shape=(b - a, X.shape[1]), dtype=X.dtype)
             for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return X, da.concatenate(parts), initial_centers(X, K)


@pytest.mark.benchmark(group="dask_lloyd")
def test_dynkm_dask(benchmark, chunked):
    X, dX, C = chunked
    model = benchmark.pedantic(
        lambda: dynkm.dask.KMeans(K, init=C, max_iter=ITERATIONS, tol=0).fit(dX),
        rounds=3, iterations=1)
    assert model.n_iter_ == ITERATIONS or model.history_["n_relocated"].sum() == 0


@pytest.mark.benchmark(group="dask_lloyd")
def test_dynkm_in_memory(benchmark, chunked):
    X, _, C = chunked
    benchmark.pedantic(
        lambda: dynkm.KMeans(K, init=C, max_iter=ITERATIONS, tol=0, algorithm="lloyd",
                             n_threads=THREADS).fit(X),
        rounds=3, iterations=1)


@pytest.mark.benchmark(group="dask_lloyd")
def test_dask_ml(benchmark, chunked):
    try:
        from dask_ml.cluster import KMeans as DaskMLKMeans
    except ImportError as exc:
        pytest.skip(f"dask-ml is not installed ({exc}); pip install dask-ml to compare")
    _, dX, C = chunked
    benchmark.pedantic(
        lambda: DaskMLKMeans(K, init=C, max_iter=ITERATIONS, tol=0).fit(dX),
        rounds=3, iterations=1)


def test_same_fit_as_in_memory(chunked):
    """Not a timing: the benchmarked dask fit is the in-memory fit (float32, to rounding)."""
    X, dX, C = chunked
    ref = dynkm.KMeans(K, init=C, max_iter=ITERATIONS, tol=0, algorithm="lloyd").fit(X)
    model = dynkm.dask.KMeans(K, init=C, max_iter=ITERATIONS, tol=0).fit(dX)
    assert model.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(model.cluster_centers_, ref.cluster_centers_, rtol=1e-4,
                               atol=1e-3)
    np.testing.assert_allclose(model.inertia_, ref.inertia_, rtol=1e-6)
