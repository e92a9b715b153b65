"""Streaming benchmarks: DynamicKMeans against a static k-means and the seed.

    python -m pytest benchmarks/test_dynamic.py --benchmark-json benchmarks/results/dynamic.json
    python benchmarks/report.py benchmarks/results/dynamic.json

Each streaming benchmark records points per second, the final number of
clusters and loss, and the static k-means of the same k on the same data
(dynkm.KMeans) for the loss and time ratios.
"""

import time

import numpy as np
import pytest
from conftest import THREADS, gaussian_mixture
from seed_dyncluster import SeedDynCluster

from dynkm import DynamicKMeans, KMeans
from dynkm.compare import _sse

SEED_PREFIX = 20000  # the seed's cost grows with the points seen: a prefix of the stream


@pytest.fixture(scope="module")
def mnist_stream(mnist_like):
    X, source = mnist_like
    if source == "MNIST":
        from conftest import _SHARED_MNIST

        from dynkm.datasets import load_mnist, mnist_dir

        return load_mnist(mnist_dir(_SHARED_MNIST), "all")[0], "MNIST train+test"
    return X, source


@pytest.fixture(scope="module")
def mixture_1m():
    """1,000,000 x 128 float32 from a mixture of 200 unit Gaussians."""
    return gaussian_mixture(1_000_000, 128, 200)


def _stream(X, batch_size):
    model = DynamicKMeans(batch_size=batch_size, random_state=0, n_threads=THREADS)
    for start in range(0, X.shape[0], batch_size):
        model.partial_fit(X[start:start + batch_size])
    return model


def _record_static(benchmark, X, model, **kmeans_params):
    t0 = time.perf_counter()
    static = KMeans(model.n_clusters_, n_init=1, random_state=0, n_threads=THREADS,
                    **kmeans_params).fit(X)
    static_seconds = time.perf_counter() - t0
    dyn_loss = _sse(X, model.cluster_centers_)
    static_loss = _sse(X, static.cluster_centers_)
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "points_per_second": X.shape[0] / seconds,
        "n_clusters": int(model.n_clusters_),
        "dynamic_loss": dyn_loss,
        "static_loss": static_loss,
        "loss_ratio": dyn_loss / static_loss,
        "static_seconds": static_seconds,
        "static_iterations": int(static.n_iter_),
        "static_params": {k: str(v) for k, v in kmeans_params.items()},
        "time_ratio_dynamic_over_static": seconds / static_seconds,
    })


@pytest.mark.benchmark(group="stream")
def test_stream_mnist(benchmark, mnist_stream):
    """MNIST train+test in batches of 100, sizes in [60, 150] (S0's setting)."""
    X, source = mnist_stream
    model = benchmark.pedantic(_stream, args=(X, 100), rounds=3, iterations=1)
    benchmark.extra_info["data"] = source
    _record_static(benchmark, X, model, max_iter=100)


@pytest.mark.benchmark(group="stream")
def test_stream_1m_mixture(benchmark, mixture_1m):
    """1,000,000 x 128 float32 in batches of 10,000.

    The static k-means of the same k (~9000 clusters) is seeded at random and
    run 10 iterations: k-means++ alone would take ~10 minutes at that k.
    """
    model = benchmark.pedantic(_stream, args=(mixture_1m, 10_000), rounds=1, iterations=1)
    _record_static(benchmark, mixture_1m, model, init="random", max_iter=10)


@pytest.mark.benchmark(group="seed")
def test_seed_prefix(benchmark, mnist_stream):
    """The seed's algorithm on the first points of the stream."""
    X, _ = mnist_stream
    benchmark.pedantic(lambda: SeedDynCluster(X.astype(np.float64)).run(SEED_PREFIX),
                       rounds=1, iterations=1)
    benchmark.extra_info["points"] = SEED_PREFIX


@pytest.mark.benchmark(group="seed")
def test_dynkm_prefix(benchmark, mnist_stream):
    """DynamicKMeans on the same prefix, for the ratio to the seed."""
    X, _ = mnist_stream
    benchmark.pedantic(_stream, args=(X[:SEED_PREFIX].astype(np.float64), 100), rounds=3,
                       iterations=1)
    benchmark.extra_info["points"] = SEED_PREFIX
