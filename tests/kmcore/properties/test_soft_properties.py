"""Property tests of kmcore.soft: soft_assign, soft_update (see _problems.py)."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from _problems import describe, eff_weights, problems, small_blocks  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from kernel_reference import (  # noqa: E402
    assert_bitwise_equal,
    centered_tol,
    clear_rows,
    f64,
    mean_tol,
    ref_soft,
)

import kmcore  # noqa: E402


@given(problems(), st.sampled_from([1e-3, 1e-1, 1.0, 10.0, 1e3]))
def test_soft_assign(p, beta):
    describe(p)
    with small_blocks(p.blocks):
        R = kmcore.soft_assign(p.X, p.C, beta)
    assert R.dtype == p.dtype and R.shape == (p.n, p.k)
    assert np.all(np.isfinite(R)) and np.all(R >= 0)
    np.testing.assert_allclose(f64(R).sum(axis=1), 1.0, atol=2 * p.k * np.finfo(p.dtype).eps)
    ref, D = ref_soft(p.X, p.C, beta)
    tol = centered_tol(p.X, p.C, p.dtype)
    # Where beta times the distance error is small the reference is well
    # conditioned: each responsibility then moves by at most ~2 beta tol.
    err = beta * tol.max(axis=1)
    good = err < 1e-2
    assert np.all(np.abs(f64(R) - ref)[good] <= (3 * err[good] + 2e-6)[:, None])
    # Where the nearest center is clear, and beta makes its lead visible in
    # the dtype, it has the largest responsibility.
    clear = clear_rows(D, tol) & (beta * soft_gap(D) > 16 * np.finfo(p.dtype).eps)
    assert np.array_equal(R.argmax(axis=1)[clear], D.argmin(axis=1)[clear])


def soft_gap(D):
    """Second-best minus best distance of every row (inf with one center)."""
    if D.shape[1] == 1:
        return np.full(D.shape[0], np.inf)
    part = np.partition(D, 1, axis=1)
    return part[:, 1] - part[:, 0]


@given(problems(), st.booleans())
def test_soft_update(p, with_old):
    describe(p)
    R = p.rng.random((p.n, p.k)).astype(p.dtype)
    R[p.rng.random((p.n, p.k)) < 0.3] = 0
    old = p.C if with_old else None
    with small_blocks(p.blocks):
        centers, mass = kmcore.soft_update(p.X, R, sample_weight=p.w, centers_old=old)
    RW = f64(R) * eff_weights(p)[:, None]
    ref_mass = RW.sum(axis=0)
    np.testing.assert_allclose(mass, ref_mass, rtol=1e-6 if p.dtype == np.float32 else 1e-12)
    empty = ref_mass == 0
    if with_old:
        assert_bitwise_equal(centers[empty], p.C[empty])
    else:
        assert np.all(np.isnan(centers[empty]))
    ref = (RW.T @ f64(p.X))[~empty] / ref_mass[~empty, None]
    # The products run in X's dtype around the data's mean: an error of eps
    # times the spread per term, plus the final rounding.
    mu = f64(p.X).mean(axis=0)
    spread = np.sqrt(((f64(p.X) - mu) ** 2).sum(axis=1).max()) + np.sqrt(f64(mu) @ mu) * (
        kmcore._origin.data_origin(p.X) is None)
    atol = mean_tol(p.X, p.dtype) + 4 * p.n * np.finfo(p.dtype).eps * spread
    np.testing.assert_allclose(f64(centers[~empty]), ref, rtol=0, atol=atol)
