"""Exact accelerated k-means: KMeans(algorithm="yinyang") against "lloyd".

Run alone (one benchmark job at a time on this machine):

    python -m pytest benchmarks/test_accelerated.py -m quick \\
        --benchmark-json benchmarks/results/accelerated.json

(k = 256 and 1024 are in the quick set; k = 4000 runs without ``-m quick``.)
Both fits start from the same random rows and run the same 20 iterations
(tol=0; the labels are checked equal). The timing is the whole fit (input
checks, norms, grouping, bounds, final labels). ``extra_info`` keeps the
plain fit's and one GEMM's time from the same rounds (ratios of medians of
per-round ratios, as the foundation benchmark), the fraction of the n x k
distances each iteration computed, which is deterministic, and each
iteration's seconds over the GEMM's (from the last round's history).
"""

import numpy as np
import pytest
from conftest import THREADS, initial_centers
from test_foundation import time_with_peers

from dynkm import KMeans

ITERATIONS = 20
ROUNDS = {256: 3, 1024: 2, 4000: 1}
KS = [pytest.param(256, marks=pytest.mark.quick), pytest.param(1024, marks=pytest.mark.quick),
      4000]


def _fit(X, C0, algorithm):
    return KMeans(len(C0), init=C0, max_iter=ITERATIONS, tol=0, algorithm=algorithm,
                  n_threads=THREADS).fit(X)


@pytest.mark.parametrize("k", KS)
@pytest.mark.benchmark(group="accelerated")
def test_yinyang_20_iterations(benchmark, mnist_like, k):
    X, source = mnist_like
    C0 = initial_centers(X, k)
    out = np.empty((X.shape[0], k), dtype=np.float32)
    fits = {}

    def ours():
        fits["yinyang"] = _fit(X, C0, "yinyang")

    def lloyd():
        fits["lloyd"] = _fit(X, C0, "lloyd")

    peers = {"lloyd": lloyd, "gemm": lambda: np.matmul(X, C0.T, out=out)}
    time_with_peers(benchmark, ours, peers, ROUNDS[k])
    fast, plain = fits["yinyang"], fits["lloyd"]
    assert fast.n_iter_ == plain.n_iter_ == ITERATIONS
    fraction = fast.history_["distance_fraction"]
    gemm = benchmark.extra_info["gemm_seconds"]
    benchmark.extra_info.update(
        data=source, k=k, iterations=ITERATIONS, algorithm=fast.history_["algorithm"],
        n_groups=int(fast.history_["n_groups"]),
        same_labels=bool(np.array_equal(fast.labels_, plain.labels_)),
        inertia=fast.inertia_, lloyd_inertia=plain.inertia_,
        mean_distance_fraction=float(fraction.mean()),
        distance_fraction=[float(f) for f in fraction],
        iteration_seconds_to_gemm=[float(s / gemm) for s in fast.history_["seconds"]],
        # Per iteration, against one plain GEMM of the shape (the target: <= 0.5).
        iteration_to_gemm=benchmark.extra_info["ratio_to_gemm"] / ITERATIONS,
    )
