"""``check_input=False`` on the public kernels, and the streaming ``row_norms``.

With False a kernel must give bitwise what it gives with True on valid input,
must not scan or convert (no NaN pass, no copy), and must still refuse
inconsistent shapes with ValueError (never read past a buffer).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kmcore
import kmcore._validation as validation

DTYPES = [np.float32, np.float64]


def data(n=40, d=5, k=4, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    C = X[rng.choice(n, k, replace=False)].copy()
    w = rng.uniform(0.5, 2.0, size=n).astype(dtype)
    labels = (np.arange(n) % k).astype(np.intp)
    return X, C, w, labels


def calls(X, C, w, labels):
    """Every public kernel of kmcore.__all__ that reads arrays, as name -> callable(**flag)."""
    n, k = len(X), C.shape[0]
    resp = kmcore.soft_assign(X, C, 1.0)
    norms = kmcore.row_norms(X)
    return {
        "row_norms": lambda **f: kmcore.row_norms(X, **f),
        "pairwise_sqdist": lambda **f: kmcore.pairwise_sqdist(X, C, **f),
        "assign": lambda **f: kmcore.assign(X, C, x_sqnorms=norms, **f),
        "lloyd_step": lambda **f: kmcore.lloyd_step(X, C, sample_weight=w, **f),
        "update_centers": lambda **f: kmcore.update_centers(X, labels, k, sample_weight=w,
                                                            centers_old=C, **f),
        "kmeans_plusplus": lambda **f: kmcore.kmeans_plusplus(X, k, sample_weight=w,
                                                              random_state=0, **f),
        "farthest_first": lambda **f: kmcore.farthest_first(X, k, random_state=0, **f),
        "soft_assign": lambda **f: kmcore.soft_assign(X, C, 0.5, **f),
        "soft_update": lambda **f: kmcore.soft_update(X, resp, sample_weight=w, **f),
        "split_two": lambda **f: kmcore.split_two(X, np.arange(n, dtype=np.intp),
                                                  sample_weight=w, random_state=0, **f),
    }


def flatten(result):
    if isinstance(result, (tuple, list)):
        return [a for r in result for a in flatten(r)]
    return [np.asarray(result)]


def test_every_array_kernel_of_all_is_covered():
    X, C, w, labels = data()
    covered = set(calls(X, C, w, labels))
    no_arrays = {"LloydStep", "PUBLIC_MODULES", "__version__", "effective_n_threads",
                 "openmp_enabled"}
    assert covered == set(kmcore.__all__) - no_arrays


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(calls(*data())))
def test_false_gives_bitwise_the_result_of_true(name, dtype):
    X, C, w, labels = data(dtype=dtype)
    before = [a.copy() for a in (X, C, w, labels)]
    f = calls(X, C, w, labels)[name]
    checked, trusted = flatten(f()), flatten(f(check_input=False))
    assert len(checked) == len(trusted)
    for a, b in zip(checked, trusted, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before, (X, C, w, labels), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(calls(*data())))
def test_false_runs_no_finiteness_scan(name, monkeypatch):
    X, C, w, labels = data()
    f = calls(X, C, w, labels)[name]

    def scan(*args, **kwargs):
        raise AssertionError("check_input=False scanned an array")

    monkeypatch.setattr(validation, "assert_finite", scan)
    f(check_input=False)
    with pytest.raises(AssertionError, match="scanned"):
        f()


def test_false_trusts_nan_that_true_refuses():
    X, C, _, _ = data()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kmcore.row_norms(X)
    norms = kmcore.row_norms(X, check_input=False)
    assert np.isnan(norms[3]) and np.isfinite(np.delete(norms, 3)).all()


@pytest.mark.parametrize("name", sorted(calls(*data())))
def test_false_never_converts(name):
    # A list, a non-contiguous view or integers would need a copy: refused,
    # so a caller never pays for a conversion it did not ask for.
    X, C, w, labels = data()
    for bad in (X.tolist(), np.asfortranarray(X), X.astype(np.int64)):
        args = calls(bad, C, w, labels)
        with pytest.raises((TypeError, ValueError), match="check_input=False"):
            args[name](check_input=False)


def test_centers_of_another_dtype_are_refused():
    X, C, _, _ = data(dtype=np.float32)
    with pytest.raises(TypeError, match="centers must have dtype float32"):
        kmcore.assign(X, C.astype(np.float64), check_input=False)


def _inconsistent(X, C, w, labels):
    n, k = X.shape[0], C.shape[0]
    wide = np.ones((k, X.shape[1] + 1), dtype=X.dtype)
    short = np.ones(n - 1, dtype=X.dtype)
    return [
        lambda: kmcore.pairwise_sqdist(X, wide, check_input=False),
        lambda: kmcore.pairwise_sqdist(X, C, x_sqnorms=short, check_input=False),
        lambda: kmcore.pairwise_sqdist(X, C, y_sqnorms=short[:k + 1], check_input=False),
        lambda: kmcore.pairwise_sqdist(X, C, out=np.empty((n, k + 1)), check_input=False),
        lambda: kmcore.assign(X, wide, check_input=False),
        lambda: kmcore.assign(X, C, x_sqnorms=short, check_input=False),
        lambda: kmcore.lloyd_step(X, C, sample_weight=short, check_input=False),
        lambda: kmcore.lloyd_step(X, C, x_sqnorms=np.ones((n, 1)), check_input=False),
        lambda: kmcore.update_centers(X, labels[:-1], k, check_input=False),
        lambda: kmcore.update_centers(X, labels + k, k, check_input=False),
        lambda: kmcore.update_centers(X, labels - 1, k, check_input=False),
        lambda: kmcore.update_centers(X, labels, k, centers_old=wide, check_input=False),
        lambda: kmcore.update_centers(X, labels, k, centers_old=C[:-1], check_input=False),
        lambda: kmcore.kmeans_plusplus(X, n + 1, check_input=False),
        lambda: kmcore.kmeans_plusplus(X, k, sample_weight=short, check_input=False),
        lambda: kmcore.kmeans_plusplus(X, k, x_sqnorms=short, check_input=False),
        lambda: kmcore.farthest_first(X, k, x_sqnorms=short, check_input=False),
        lambda: kmcore.soft_assign(X, wide, 1.0, check_input=False),
        lambda: kmcore.soft_assign(X, C, 1.0, out=np.empty((n, k - 1)), check_input=False),
        lambda: kmcore.soft_update(X, np.ones((n - 1, k), dtype=X.dtype), check_input=False),
        lambda: kmcore.soft_update(X, np.ones((n, k), dtype=X.dtype), centers_old=wide,
                                   check_input=False),
        lambda: kmcore.split_two(X, np.array([0, n], dtype=np.intp), check_input=False),
        lambda: kmcore.split_two(X, np.array([-1, 0], dtype=np.intp), check_input=False),
        lambda: kmcore.split_two(X, sample_weight=short, check_input=False),
        lambda: kmcore.row_norms(np.ones((n, 0)), check_input=False),
    ]


@pytest.mark.parametrize("case", range(len(_inconsistent(*data()))))
def test_false_still_refuses_inconsistent_shapes(case):
    X, C, w, labels = data()
    with pytest.raises(ValueError):
        _inconsistent(X, C, w, labels)[case]()


def test_check_input_must_be_a_bool():
    X, _, _, _ = data()
    with pytest.raises(TypeError, match="check_input"):
        kmcore.row_norms(X, check_input="no")


# --------------------------------------------------------------------------
# row_norms: the streaming pass
# --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 700), d=st.integers(1, 70), dtype=st.sampled_from(DTYPES),
       scale=st.sampled_from([1e-20, 1e-3, 1.0, 1e3, 1e15]), seed=st.integers(0, 2**31 - 1))
def test_row_norms_are_the_float64_sums_rounded_once(n, d, dtype, scale, seed):
    # Every column count (lane tails), scales; float32 accumulates in float64.
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * scale).astype(dtype)
    ref = np.square(X.astype(np.float64)).sum(axis=1)
    got = kmcore.row_norms(X, n_threads=1)
    assert got.dtype == dtype
    if dtype == np.float32:
        # The float64 sum is good to ~d * 2^-53: rounded once to float32 it
        # is within one float32 ulp of the exact value's rounding.
        assert np.all(np.abs(got.astype(np.float64) - ref) <= np.spacing(ref.astype(np.float32)))
    else:
        np.testing.assert_allclose(got, ref, rtol=4 * d * np.finfo(np.float64).eps)
    np.testing.assert_array_equal(got, kmcore.row_norms(X, n_threads=2))
    np.testing.assert_allclose(kmcore.row_norms(X, squared=False), np.sqrt(got), rtol=0)


def test_row_norms_float32_more_accurate_than_float32_sums():
    # Float64 accumulation: on rows whose float32 sum loses digits (a large
    # value then many small ones) the norm is still the exact sum rounded.
    X = np.full((3, 1001), 1e-4, dtype=np.float32)
    X[:, 0] = 1e3
    ref = np.square(X.astype(np.float64)).sum(axis=1).astype(np.float32)
    np.testing.assert_array_equal(kmcore.row_norms(X), ref)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), d=st.integers(1, 6), dtype=st.sampled_from(DTYPES),
       huge=st.booleans(), bad=st.sampled_from([None, np.nan, np.inf, -np.inf]),
       seed=st.integers(0, 2**16))
def test_finiteness_check_refuses_exactly_the_non_finite(n, d, dtype, huge, bad, seed):
    """The check sums in X's own dtype: values whose sum overflows are still
    accepted, and the first row holding NaN or infinity is named."""
    rng = np.random.default_rng(seed)
    big = np.finfo(dtype).max / 2 if huge else 1.0
    X = (rng.uniform(0.6, 1.0, size=(n, d)) * big).astype(dtype)  # huge: sum overflows
    if bad is None:
        validation.assert_finite(X, "X")
        return
    row = int(rng.integers(n))
    X[row, int(rng.integers(d))] = bad
    X[row + 1:, 0] = np.nan if rng.random() < 0.5 else X[row + 1:, 0]  # later rows: not named
    with pytest.raises(ValueError, match=f"X contains NaN or infinity \\(first in row {row}\\)"):
        validation.assert_finite(X, "X")


def test_finiteness_check_passes_integers_through():
    validation.assert_finite(np.full((3, 2), np.iinfo(np.int64).max), "X")
