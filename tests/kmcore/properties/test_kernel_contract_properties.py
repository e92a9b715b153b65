"""Property tests: every threaded kernel gives the same result on 1 and 2 threads.

The problems drawn: _problems.py.
"""

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from _problems import describe, problems, small_blocks  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from kernel_reference import (  # noqa: E402
    assert_bitwise_equal,
)

import kmcore  # noqa: E402


def run_kernel(name, p, n_threads):
    X, C, w = p.X, p.C, p.w
    k = min(p.k, p.n)
    calls = {
        "row_norms": lambda: kmcore.row_norms(X, n_threads=n_threads),
        "pairwise_sqdist": lambda: kmcore.pairwise_sqdist(X, C, n_threads=n_threads),
        "assign": lambda: kmcore.assign(X, C, n_threads=n_threads),
        "lloyd_step": lambda: tuple(kmcore.lloyd_step(X, C, sample_weight=w,
                                                      n_threads=n_threads)[:5]),
        "update_centers": lambda: kmcore.update_centers(
            X, np.arange(p.n) % p.k, p.k, sample_weight=w, n_threads=n_threads),
        "kmeans_plusplus": lambda: kmcore.kmeans_plusplus(
            X, k, sample_weight=w, random_state=0, n_threads=n_threads),
        "farthest_first": lambda: kmcore.farthest_first(
            X, k, sample_weight=w, random_state=0, n_threads=n_threads),
        "split_two": lambda: kmcore.split_two(X, sample_weight=w, random_state=0,
                                              n_threads=n_threads),
        "soft_assign": lambda: kmcore.soft_assign(X, C, 0.5, n_threads=n_threads),
    }
    with small_blocks(p.blocks):
        return calls[name]()


THREADED = ["row_norms", "pairwise_sqdist", "assign", "lloyd_step", "update_centers",
            "kmeans_plusplus", "farthest_first", "split_two", "soft_assign"]


@pytest.mark.skipif(not kmcore.openmp_enabled(), reason="serial build")
@given(problems(), st.sampled_from(THREADED))
def test_thread_count_independence(p, name):
    describe(p)
    if name == "split_two" and p.n < 2:
        return
    assert_bitwise_equal(run_kernel(name, p, 1), run_kernel(name, p, 2))
