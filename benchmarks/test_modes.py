"""Soft and mini-batch modes against their peers, on 60000 x 784 float32.

    python -m pytest benchmarks/test_modes.py --benchmark-json benchmarks/results/modes.json
    python benchmarks/report.py benchmarks/results/modes.json
"""

import numpy as np
import pytest
from conftest import THREADS, initial_centers

import kmcore

KS = [10, 256]


@pytest.fixture(scope="module")
def standardized(mnist_like):
    """S3's preprocessing: per-pixel standardization (std 0 -> 1), float32."""
    X, _ = mnist_like
    std = X.std(axis=0)
    std[std == 0] = 1
    return ((X - X.mean(axis=0)) / std).astype(np.float32)


def _numpy_soft_assign(X, C, beta):
    """The vectorised NumPy way: GEMM distances, then a shifted softmax (scipy)."""
    from scipy.special import softmax

    D = (X * X).sum(1)[:, None] - 2 * (X @ C.T) + (C * C).sum(1)[None]
    return softmax(-beta * D, axis=1)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="soft_assign")
def test_soft_assign_dynkm(benchmark, standardized, k):
    C = initial_centers(standardized, k)
    out = np.empty((standardized.shape[0], k), dtype=np.float32)
    xn = kmcore.row_norms(standardized)
    benchmark(kmcore.soft_assign, standardized, C, 1.0, x_sqnorms=xn, n_threads=THREADS,
              out=out)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="soft_assign")
def test_soft_assign_numpy(benchmark, standardized, k):
    C = initial_centers(standardized, k)
    benchmark(_numpy_soft_assign, standardized, C, 1.0)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="minibatch")
def test_minibatch_epoch_dynkm(benchmark, standardized, k):
    from dynkm.minibatch import MiniBatchKMeans

    C = initial_centers(standardized, k)
    model = MiniBatchKMeans(k, init=C, batch_size=1024, max_iter=1, n_init=1, random_state=0,
                            n_threads=THREADS)
    benchmark.pedantic(model.fit, args=(standardized,), rounds=3, iterations=1)
    benchmark.extra_info["inertia"] = float(model.inertia_)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="minibatch")
def test_minibatch_epoch_sklearn(benchmark, standardized, k):
    from sklearn.cluster import MiniBatchKMeans

    C = initial_centers(standardized, k)
    model = MiniBatchKMeans(k, init=C, batch_size=1024, max_iter=1, n_init=1, random_state=0)
    benchmark.pedantic(model.fit, args=(standardized,), rounds=3, iterations=1)
    benchmark.extra_info["inertia"] = float(model.inertia_)
