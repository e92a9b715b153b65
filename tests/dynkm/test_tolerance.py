"""scikit-learn's tolerance scale: the mean per-feature variance, dense and CSR."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dynkm import _tolerance
from dynkm._tolerance import absolute_tol, mean_variance


def reference(X):
    """The mean over features of the per-feature variance, in float64 NumPy."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.var(X, axis=0).mean())


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), d=st.integers(1, 9), offset=st.sampled_from([0.0, 1e4]),
       dtype=st.sampled_from([np.float32, np.float64]), slice_bytes=st.sampled_from([8, 504, 0]),
       seed=st.integers(0, 2**31 - 1))
def test_dense_matches_numpy(n, d, offset, dtype, slice_bytes, seed):
    """Any slicing (one row, a few, the default) gives NumPy's float64 value."""
    X = (np.random.default_rng(seed).standard_normal((n, d)) + offset).astype(dtype)
    saved = _tolerance._VARIANCE_BYTES
    _tolerance._VARIANCE_BYTES = slice_bytes or saved
    try:
        value = mean_variance(X)
    finally:
        _tolerance._VARIANCE_BYTES = saved
    assert value == pytest.approx(reference(X), rel=1e-9, abs=1e-12)


def test_far_from_origin_keeps_digits():
    """Two passes: data at 1e8 with unit spread keep the variance (a one-pass
    sum of squares would lose it to cancellation)."""
    rng = np.random.default_rng(0)
    X = 1e8 + rng.standard_normal((5000, 3))
    assert mean_variance(X) == pytest.approx(reference(X), rel=1e-6)


def test_input_unchanged_and_sparse_agrees():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 5)).astype(np.float32)
    X[X < 0.3] = 0
    before = X.copy()
    dense = mean_variance(X)
    np.testing.assert_array_equal(X, before)
    # The CSR path squares in X's dtype (float32 here).
    assert mean_variance(sp.csr_matrix(X)) == pytest.approx(dense, rel=1e-6)


def test_absolute_tol_scales_and_zero_skips_the_pass():
    X = np.random.default_rng(2).standard_normal((50, 4))
    assert absolute_tol(1e-4, X) == pytest.approx(1e-4 * reference(X), rel=1e-12)
    assert absolute_tol(0.0, np.full((3, 2), np.nan)) == 0.0
