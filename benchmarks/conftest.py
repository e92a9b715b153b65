"""Benchmark data and thread settings.

Benchmarks pin every library to the same thread count (``DYNKM_BENCH_THREADS``,
default 2: this project's reference machine) and run one at a time: parallel
benchmark jobs make timings meaningless on a 2-core machine.

``DYNKM_BENCH_TINY=1`` cuts every data set made here (``mnist_like``,
``gaussian_mixture``, ``bench_rows``) to ``TINY_ROWS`` rows: a check that the
suite runs and records what it should, in seconds. Its timings mean nothing.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

THREADS = int(os.environ.get("DYNKM_BENCH_THREADS", "2"))
TINY = os.environ.get("DYNKM_BENCH_TINY", "") not in ("", "0")
TINY_ROWS = 5000
_SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def bench_rows(n_rows):
    """``n_rows``, or at most ``TINY_ROWS`` under ``DYNKM_BENCH_TINY``."""
    return min(n_rows, TINY_ROWS) if TINY else n_rows


@pytest.fixture(scope="session", autouse=True)
def pinned_threads():
    """numpy/scipy BLAS and OpenMP (faiss) on THREADS threads for the whole session."""
    try:
        import faiss

        faiss.omp_set_num_threads(THREADS)
    except ImportError:
        pass
    with threadpool_limits(limits=THREADS):
        yield


@pytest.fixture(scope="session")
def mnist_like():
    """60000 x 784 float32: MNIST's training images when found, else random of that shape.

    Under ``DYNKM_BENCH_TINY`` only the first ``TINY_ROWS`` rows (and the
    source's name says so).
    """
    from dynkm.datasets import load_mnist, mnist_dir

    folder = mnist_dir(os.environ.get("DYNKM_MNIST")) or mnist_dir(_SHARED_MNIST)
    if folder is not None:
        X, source = load_mnist(folder, "train")[0], "MNIST"
    else:
        rng = np.random.default_rng(0)
        X = rng.uniform(0, 255, size=(60000, 784)).astype(np.float32)
        source = "random 60000x784"
    if TINY:
        return np.ascontiguousarray(X[:TINY_ROWS]), f"{source} (first {TINY_ROWS} rows)"
    return X, source


def initial_centers(X, k, seed=0):
    """k distinct rows of X as float32 C-contiguous centers."""
    rows = np.random.default_rng(seed).choice(X.shape[0], k, replace=False)
    return np.ascontiguousarray(X[rows], dtype=np.float32)


def gaussian_mixture(n_samples, n_features, n_components, seed=0):
    """float32 rows from a mixture of unit Gaussians with N(0, 10^2) means, built in slices.

    ``bench_rows(n_samples)`` rows: ``TINY_ROWS`` at most under ``DYNKM_BENCH_TINY``.
    """
    n_samples = bench_rows(n_samples)
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 10, size=(n_components, n_features)).astype(np.float32)
    X = np.empty((n_samples, n_features), dtype=np.float32)
    step = 100_000
    for start in range(0, n_samples, step):
        m = min(step, n_samples - start)
        rows = rng.integers(0, n_components, m)
        X[start:start + m] = means[rows] + rng.normal(size=(m, n_features)).astype(np.float32)
    return X
