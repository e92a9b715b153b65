"""Property tests of kmcore.assignment: assign, lloyd_step (see _problems.py)."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from _problems import describe, eff_weights, problems, small_blocks  # noqa: E402
from hypothesis import event, given  # noqa: E402
from kernel_reference import (  # noqa: E402
    assert_bitwise_equal,
    centered_tol,
    clear_rows,
    f64,
    mean_tol,
    ref_means,
    ref_sqdist,
)

import kmcore  # noqa: E402


@given(problems())
def test_assign(p):
    describe(p)
    with small_blocks(p.blocks):
        labels, dist = kmcore.assign(p.X, p.C)
    D = ref_sqdist(p.X, p.C)
    tol = centered_tol(p.X, p.C, p.dtype)
    clear = clear_rows(D, tol)
    assert labels.dtype == np.intp and np.all((labels >= 0) & (labels < p.k))
    event(f"clear rows: {'all' if clear.all() else 'some' if clear.any() else 'none'}")
    assert np.array_equal(labels[clear], D.argmin(axis=1)[clear])
    rows = np.arange(p.n)
    # The chosen center is nearest up to the tolerances, wherever the margin is.
    assert np.all(D[rows, labels] - tol[rows, labels] <= (D + tol).min(axis=1))
    assert np.all(np.abs(f64(dist) - D[rows, labels]) <= tol[rows, labels])


@given(problems())
def test_lloyd_step(p):
    describe(p)
    with small_blocks(p.blocks):
        step = kmcore.lloyd_step(p.X, p.C, sample_weight=p.w, relocate_empty=False)
    D = ref_sqdist(p.X, p.C)
    tol = centered_tol(p.X, p.C, p.dtype)
    clear = clear_rows(D, tol)
    assert np.array_equal(step.labels[clear], D.argmin(axis=1)[clear])
    w = eff_weights(p)
    means, weights = ref_means(p.X, step.labels, p.k, w)
    np.testing.assert_allclose(step.counts, weights, rtol=1e-12, atol=0)
    empty = weights == 0
    assert_bitwise_equal(step.centers[empty], p.C[empty])
    np.testing.assert_allclose(f64(step.centers[~empty]), means[~empty], rtol=0,
                               atol=mean_tol(p.X, p.dtype))
    rows = np.arange(p.n)
    chosen = D[rows, step.labels]
    assert abs(step.inertia - w @ chosen) <= w @ tol[rows, step.labels] + 1e-12 * (w @ chosen)
    shift = np.sqrt(((f64(step.centers) - f64(p.C)) ** 2).sum(axis=1))
    np.testing.assert_allclose(step.center_shift, shift, rtol=1e-6, atol=1e-300)
    assert step.n_relocated == 0
