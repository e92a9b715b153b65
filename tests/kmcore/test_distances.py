"""kmcore.distances: row_norms and pairwise_sqdist against NumPy.

Every kernel is compared with a float64 NumPy reference (see _kernel_cases.py).
"""

import numpy as np
import pytest

import kmcore
from _kernel_cases import (
    C_OK, DTYPES, SHAPE_IDS, SHAPES, X_OK, assert_bitwise_equal, make_data, rounding_tol,
)
from kernel_reference import f64, ref_sqdist

# --------------------------------------------------------------------------
# row_norms
# --------------------------------------------------------------------------


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_row_norms_matches_numpy(shape, dtype, squared):
    n, d, _ = shape
    X = make_data(n, d, dtype)
    got = kmcore.row_norms(X, squared=squared)
    ref = (f64(X) ** 2).sum(axis=1)
    if not squared:
        ref = np.sqrt(ref)
    assert got.shape == (n,)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ref, rtol=1e-12 if dtype == np.float64 else 1e-5)


# --------------------------------------------------------------------------
# pairwise_sqdist
# --------------------------------------------------------------------------


@pytest.mark.parametrize("with_out", [False, True])
@pytest.mark.parametrize("with_norms", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_pairwise_sqdist_matches_numpy(shape, dtype, with_norms, with_out):
    n, d, k = shape
    X = make_data(n, d, dtype)
    Y = make_data(k, d, dtype, seed=5)
    kwargs = {}
    if with_norms:
        kwargs = dict(x_sqnorms=kmcore.row_norms(X), y_sqnorms=kmcore.row_norms(Y))
    out = np.full((n, k), -7.0, dtype=dtype) if with_out else None
    D = kmcore.pairwise_sqdist(X, Y, out=out, **kwargs)
    if with_out:
        assert D is out
    assert D.shape == (n, k)
    assert D.dtype == dtype
    assert D.flags.c_contiguous
    assert np.all(D >= 0)
    ref = ref_sqdist(X, Y)
    tol = rounding_tol(X, Y, dtype)
    assert np.all(np.abs(D - ref) <= tol + 1e-6 * ref * (dtype == np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_sqdist_uses_given_norms(dtype):
    X = make_data(200, 6, dtype)
    Y = make_data(30, 6, dtype, seed=3)
    xn = kmcore.row_norms(X)
    yn = kmcore.row_norms(Y)
    base = kmcore.pairwise_sqdist(X, Y)
    assert_bitwise_equal(kmcore.pairwise_sqdist(X, Y, x_sqnorms=xn, y_sqnorms=yn), base)
    # Shifted norms shift the result: they are really used, not recomputed.
    shifted = kmcore.pairwise_sqdist(X, Y, x_sqnorms=xn + 1, y_sqnorms=yn + 2)
    np.testing.assert_allclose(f64(shifted), f64(base) + 3, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_sqdist_clamped_at_zero(dtype):
    # Far from the origin and almost equal rows: the expansion cancels
    # catastrophically and would go negative without the clamp.
    rng = np.random.default_rng(0)
    X = (1e3 + 1e-4 * rng.standard_normal((300, 8))).astype(dtype)
    D = kmcore.pairwise_sqdist(X, X)
    assert np.all(D >= 0)
    ref = ref_sqdist(X, X)
    assert np.all(np.abs(D - ref) <= rounding_tol(X, X, dtype))



@pytest.mark.parametrize(
    "out, match",
    [
        (np.empty((20, 3)), r"out must be an ndarray of shape \(20, 4\)"),
        (np.empty((4, 20)), r"out must be an ndarray of shape \(20, 4\)"),
        (np.empty((20, 4), dtype=np.float32),
         r"out must be an ndarray of shape \(20, 4\) and dtype float64"),
        (np.empty((20, 4)).tolist(), r"out must be an ndarray"),
        (np.empty((4, 20)).T, r"out must be C-contiguous"),
        (np.empty((20, 8))[:, ::2], r"out must be C-contiguous"),
    ],
)
def test_pairwise_sqdist_bad_out_raises(out, match):
    with pytest.raises(ValueError, match=match):
        kmcore.pairwise_sqdist(X_OK, C_OK, out=out)


def test_pairwise_sqdist_read_only_out_raises():
    out = np.empty((20, 4))
    out.setflags(write=False)
    with pytest.raises(ValueError, match="writeable"):
        kmcore.pairwise_sqdist(X_OK, C_OK, out=out)
