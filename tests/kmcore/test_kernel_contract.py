"""What every public kmcore kernel promises: layouts, dtypes, weights, threads, bad input.

Every kernel is compared with a float64 NumPy reference (see _kernel_cases.py).
"""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import kmcore
from _kernel_cases import (
    C_OK, DTYPES, LABELS_OK, X_OK, as_arrays, assert_bitwise_equal, force_row_parts, layout,
    make_centers, make_data, make_weights, mean_tol, rounding_tol,
)
from kernel_reference import f64, ref_sqdist

# --------------------------------------------------------------------------
# Layouts: F order, read-only, memmap, strided: same results, X untouched
# --------------------------------------------------------------------------


def kernel_calls(n_clusters, labels, C, w):
    """Every public kernel as a function of X (plus keyword arguments)."""
    idx = np.arange(0, labels.shape[0], 2)
    return {
        "row_norms": lambda X, **kw: kmcore.row_norms(X, **kw),
        "row_norms_sqrt": lambda X, **kw: kmcore.row_norms(X, squared=False, **kw),
        "pairwise_sqdist": lambda X, **kw: kmcore.pairwise_sqdist(X, C, **kw),
        "assign": lambda X, **kw: kmcore.assign(X, C, **kw),
        "lloyd_step": lambda X, **kw: tuple(kmcore.lloyd_step(X, C, sample_weight=w, **kw)),
        "update_centers": lambda X, **kw: kmcore.update_centers(
            X, labels, n_clusters + 1, sample_weight=w, **kw),
        "kmeans_plusplus": lambda X, **kw: kmcore.kmeans_plusplus(
            X, n_clusters, sample_weight=w, random_state=0, **kw),
        "farthest_first": lambda X, **kw: kmcore.farthest_first(
            X, n_clusters, sample_weight=w, random_state=0, **kw),
        "split_two": lambda X, **kw: kmcore.split_two(X, sample_weight=w, random_state=0, **kw),
        "split_two_subset": lambda X, **kw: kmcore.split_two(
            X, indices=idx, sample_weight=w, random_state=0, **kw),
    }


KERNEL_NAMES = list(kernel_calls(1, np.zeros(2, np.intp), None, None))


@pytest.mark.parametrize("kind", ["F", "readonly", "memmap", "strided"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_layouts_give_the_same_result(name, dtype, kind, tmp_path):
    X = make_data(700, 12, dtype)
    k = 9
    C = make_centers(X, k)
    labels = np.random.default_rng(0).integers(k, size=700)
    w = make_weights(700)
    call = kernel_calls(k, labels, C, w)[name]
    ref = call(np.ascontiguousarray(X))
    Xv = layout(X, kind, tmp_path)
    before = np.array(Xv, copy=True)
    got = call(Xv)
    assert_bitwise_equal(got, ref)
    assert np.array_equal(np.asarray(Xv), before)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_inputs_are_not_modified(name):
    X = make_data(300, 5)
    C = make_centers(X, 6)
    labels = np.random.default_rng(0).integers(6, size=300)
    w = make_weights(300)
    saved = [a.copy() for a in (X, C, labels, w)]
    for a in (X, C, labels, w):
        a.setflags(write=False)
    kernel_calls(6, labels, C, w)[name](X)
    for a, b in zip((X, C, labels, w), saved, strict=False):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_contiguous_input_is_not_copied(name, tmp_path):
    # A C-contiguous (read-only or memory-mapped) X is used in place: the
    # call allocates far less than X itself, while an F-ordered X is copied.
    X = make_data(3000, 64)
    k = 8
    C = make_centers(X, k)
    labels = np.random.default_rng(0).integers(k, size=3000)
    w = make_weights(3000)
    call = kernel_calls(k, labels, C, w)[name]
    ro = np.array(X, copy=True)
    ro.setflags(write=False)
    variants = {"readonly": ro, "memmap": layout(X, "memmap", tmp_path), "F": np.asfortranarray(X)}
    call(X)  # warm up (lazy imports, BLAS controller)
    peaks = {}
    for kind, Xv in variants.items():
        tracemalloc.start()
        try:
            call(Xv)
            peaks[kind] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peaks["F"] >= X.nbytes  # the measurement sees the copy
    assert peaks["readonly"] < X.nbytes // 2
    assert peaks["memmap"] < X.nbytes // 2


# --------------------------------------------------------------------------
# dtype rules
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_float32_in_float32_out(name):
    X = make_data(400, 6, np.float32)
    C = make_centers(X, 5).astype(np.float64)  # cast to float32 by the kernels
    labels = np.random.default_rng(0).integers(5, size=400)
    out = as_arrays(kernel_calls(5, labels, C, make_weights(400))[name](X))
    expected = {
        "row_norms": [np.float32],
        "row_norms_sqrt": [np.float32],
        "pairwise_sqdist": [np.float32],
        "assign": [np.intp, np.float32],
        "lloyd_step": [np.intp, np.float32, np.float64, np.float64, np.float64, np.int_],
        "update_centers": [np.float32, np.float64],
        "kmeans_plusplus": [np.float32, np.intp],
        "farthest_first": [np.float32, np.intp],
        "split_two": [np.float32, np.intp],
        "split_two_subset": [np.float32, np.intp],
    }[name]
    assert [a.dtype for a in out] == [np.dtype(t) for t in expected]


@pytest.mark.parametrize("in_dtype", [np.int32, np.int64, np.uint8, bool])
@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_int_and_bool_input_become_float64(name, in_dtype):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2 if in_dtype is bool else 50, size=(300, 5)).astype(in_dtype)
    X[:2] = [[1, 0, 1, 0, 1], [0, 1, 0, 1, 0]]  # at least two distinct rows
    C = X[:2]
    labels = rng.integers(2, size=300)
    call = kernel_calls(2, labels, C, make_weights(300))[name]
    got = as_arrays(call(X))
    ref = as_arrays(call(X.astype(np.float64)))
    assert_bitwise_equal(got, ref)
    float_outputs = [a for a in got if a.dtype.kind == "f"]
    assert float_outputs and all(a.dtype == np.float64 for a in float_outputs)


# --------------------------------------------------------------------------
# Weights: integer weights == repeated rows, unit == none, scale invariance
# --------------------------------------------------------------------------


def integer_weight_case(dtype):
    rng = np.random.default_rng(0)
    X = make_data(800, 7, dtype)
    w = rng.integers(0, 4, size=800).astype(np.float64)
    positive = np.flatnonzero(w > 0)
    C = X[np.sort(rng.choice(positive, 15, replace=False))].copy()
    return X, C, w, np.repeat(X, w.astype(int), axis=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_weights_equal_repeated_rows_lloyd(dtype, m_step_path):
    X, C, w, X_rep = integer_weight_case(dtype)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    a = kmcore.lloyd_step(X, C, sample_weight=w)
    b = kmcore.lloyd_step(X_rep, C)
    assert np.array_equal(np.repeat(a.labels, w.astype(int)), b.labels)
    np.testing.assert_allclose(f64(a.centers), f64(b.centers), rtol=rtol, atol=mean_tol(X, dtype))
    assert np.array_equal(a.counts, b.counts)
    np.testing.assert_allclose(a.inertia, b.inertia, rtol=rtol)
    # assign on the repeated rows gives the same inertia.
    _, min_sqdist = kmcore.assign(X_rep, C)
    np.testing.assert_allclose(a.inertia, f64(min_sqdist).sum(), rtol=rtol)
    np.testing.assert_allclose(a.center_shift, b.center_shift, rtol=1e-6, atol=mean_tol(X, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_weights_equal_repeated_rows_update_centers(dtype):
    X, _, w, X_rep = integer_weight_case(dtype)
    labels = np.random.default_rng(1).integers(12, size=X.shape[0])
    labels_rep = np.repeat(labels, w.astype(int))
    a_c, a_w = kmcore.update_centers(X, labels, 13, sample_weight=w)
    b_c, b_w = kmcore.update_centers(X_rep, labels_rep, 13)
    assert np.array_equal(a_w, b_w)
    np.testing.assert_allclose(f64(a_c), f64(b_c), rtol=1e-10 if dtype == np.float64 else 1e-5,
                               atol=mean_tol(X, dtype))
    assert np.all(np.isnan(a_c[12])) and np.all(np.isnan(b_c[12]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_unit_weights_equal_no_weights(dtype, m_step_path):
    X = make_data(900, 6, dtype)
    C = make_centers(X, 11)
    labels = np.random.default_rng(0).integers(11, size=900)
    ones = np.ones(900)
    assert_bitwise_equal(tuple(kmcore.lloyd_step(X, C, sample_weight=ones)),
                         tuple(kmcore.lloyd_step(X, C)))
    assert_bitwise_equal(kmcore.update_centers(X, labels, 11, sample_weight=ones),
                         kmcore.update_centers(X, labels, 11))
    assert_bitwise_equal(kmcore.kmeans_plusplus(X, 11, sample_weight=ones, random_state=0),
                         kmcore.kmeans_plusplus(X, 11, random_state=0))
    assert_bitwise_equal(kmcore.farthest_first(X, 11, sample_weight=ones, random_state=0),
                         kmcore.farthest_first(X, 11, random_state=0))
    assert_bitwise_equal(kmcore.split_two(X, sample_weight=ones, random_state=0),
                         kmcore.split_two(X, random_state=0))


@pytest.mark.parametrize("factor", [2.0, 0.125, 3.7, 1e-3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_scaling_weights_leaves_centers_unchanged(dtype, factor):
    X = make_data(900, 6, dtype)
    C = make_centers(X, 11)
    labels = np.random.default_rng(0).integers(11, size=900)
    w = make_weights(900)
    w_scaled = w * factor
    if dtype == np.float32:  # keep the ratio exact after the cast to float32
        w = w.astype(np.float32).astype(np.float64)
        w_scaled = (w.astype(np.float32) * np.float32(factor)).astype(np.float64)
    exact = factor in (2.0, 0.125)
    tol = dict(rtol=1e-12 if dtype == np.float64 else 1e-6, atol=mean_tol(X, dtype))
    a = kmcore.lloyd_step(X, C, sample_weight=w)
    b = kmcore.lloyd_step(X, C, sample_weight=w_scaled)
    assert np.array_equal(a.labels, b.labels)
    np.testing.assert_allclose(f64(a.centers), f64(b.centers), **tol)
    np.testing.assert_allclose(b.inertia, factor * a.inertia,
                               rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(b.counts, factor * a.counts, rtol=1e-6)
    ua, _ = kmcore.update_centers(X, labels, 11, sample_weight=w)
    ub, _ = kmcore.update_centers(X, labels, 11, sample_weight=w_scaled)
    np.testing.assert_allclose(f64(ua), f64(ub), **tol)
    if exact:  # a power-of-two factor scales every sum exactly
        assert np.array_equal(a.centers, b.centers)
        assert np.array_equal(ua, ub)
        assert_bitwise_equal(kmcore.kmeans_plusplus(X, 11, sample_weight=w, random_state=0),
                             kmcore.kmeans_plusplus(X, 11, sample_weight=w_scaled, random_state=0))
        assert_bitwise_equal(kmcore.split_two(X, sample_weight=w, random_state=0),
                             kmcore.split_two(X, sample_weight=w_scaled, random_state=0))


# --------------------------------------------------------------------------
# Thread-count independence (documented: bitwise the same for any n_threads)
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def thread_data():
    X = make_data(3000, 32, np.float64, seed=11)
    X_big_k = make_data(2500, 16, np.float64, seed=12)
    return {
        "n3000-k40": (X, make_centers(X, 40)),
        "n2500-k2100": (X_big_k, make_centers(X_big_k, 2100)),
    }


THREAD_CASES = [
    (name, weighted)
    for name in ["row_norms", "pairwise_sqdist", "assign", "lloyd_step", "lloyd_step_two_pass",
                 "lloyd_step_row_parts", "update_centers", "update_centers_row_parts",
                 "kmeans_plusplus", "farthest_first"]
    for weighted in ([False, True] if name not in ("row_norms", "pairwise_sqdist", "assign")
                     else [False])
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data", ["n3000-k40", "n2500-k2100"])
@pytest.mark.parametrize("name, weighted", THREAD_CASES,
                         ids=[f"{n}-{'w' if w else 'unw'}" for n, w in THREAD_CASES])
def test_thread_count_independence(thread_data, name, weighted, data, dtype, monkeypatch):
    if name in ("lloyd_step_two_pass", "lloyd_step_row_parts"):
        monkeypatch.setattr("kmcore.assignment._FUSED_SUMS_BYTES", -1)
    if name.endswith("_row_parts"):
        force_row_parts(monkeypatch)
    name = name.removesuffix("_two_pass").removesuffix("_row_parts")
    X, C = thread_data[data]
    X, C = X.astype(dtype), C.astype(dtype)
    # Seeding picks fewer centers, to stay fast.
    k = 25 if name in ("kmeans_plusplus", "farthest_first") else C.shape[0]
    labels = kmcore.assign(X, C, n_threads=1)[0]
    w = make_weights(X.shape[0]) if weighted else None
    call = kernel_calls(k, labels, C, w)[name]
    ref = call(X, n_threads=1)
    for n_threads in (2, 3):
        assert_bitwise_equal(call(X, n_threads=n_threads), ref)



# --------------------------------------------------------------------------
# More clusters than distinct points
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_more_clusters_than_distinct_points(dtype):
    rng = np.random.default_rng(0)
    distinct = rng.standard_normal((10, 4))
    X = distinct[rng.permutation(np.repeat(np.arange(10), 6))].astype(dtype)
    centers, indices = kmcore.kmeans_plusplus(X, 15, random_state=0)
    assert np.all(np.isfinite(centers))
    assert np.array_equal(centers, X[indices])
    assert len(np.unique(centers, axis=0)) == 10  # every distinct point is a center
    step = kmcore.lloyd_step(X, centers)
    assert np.all(np.isfinite(step.centers))
    assert np.isfinite(step.inertia) and step.inertia >= 0
    assert step.counts.sum() == pytest.approx(X.shape[0])
    np.testing.assert_allclose(step.inertia, 0.0, atol=float(rounding_tol(X, centers, dtype).sum()))
    # Every center is one of the distinct points (a mean of identical rows, up
    # to rounding) and every distinct point is still a center.
    D = ref_sqdist(step.centers, distinct)
    assert np.all(D.min(axis=1) <= (1e-10 if dtype == np.float64 else 1e-5))
    assert len(np.unique(D.argmin(axis=1))) == 10
    ff_centers, _ = kmcore.farthest_first(X, 15, random_state=0)
    assert np.all(np.isfinite(ff_centers))
    assert len(np.unique(ff_centers, axis=0)) == 10
    again = kmcore.lloyd_step(X, step.centers)
    assert np.all(np.isfinite(again.centers))


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


ALL_KERNELS = {
    "row_norms": lambda X, **kw: kmcore.row_norms(X, **kw),
    "pairwise_sqdist": lambda X, **kw: kmcore.pairwise_sqdist(X, C_OK, **kw),
    "assign": lambda X, **kw: kmcore.assign(X, C_OK, **kw),
    "lloyd_step": lambda X, **kw: kmcore.lloyd_step(X, C_OK, **kw),
    "update_centers": lambda X, **kw: kmcore.update_centers(X, LABELS_OK, 4, **kw),
    "kmeans_plusplus": lambda X, **kw: kmcore.kmeans_plusplus(X, 4, **kw),
    "farthest_first": lambda X, **kw: kmcore.farthest_first(X, 4, **kw),
    "split_two": lambda X, **kw: kmcore.split_two(X, **kw),
}
WEIGHTED_KERNELS = ["lloyd_step", "update_centers", "kmeans_plusplus", "farthest_first",
                    "split_two"]
SQNORM_KERNELS = ["assign", "lloyd_step", "kmeans_plusplus", "farthest_first"]


def _with(value, row=3, col=1):
    X = X_OK.copy()
    X[row, col] = value
    return X


BAD_X = {
    "nan": (_with(np.nan), ValueError, r"X contains NaN or infinity"),
    "inf": (_with(np.inf), ValueError, r"X contains NaN or infinity"),
    "-inf": (_with(-np.inf, row=19), ValueError, r"X contains NaN or infinity \(first in row 19\)"),
    "nan_float32": (_with(np.nan).astype(np.float32), ValueError, r"X contains NaN or infinity"),
    "empty_rows": (np.empty((0, 3)), ValueError, r"X is empty"),
    "empty_cols": (np.empty((3, 0)), ValueError, r"X is empty"),
    "1d": (X_OK[:, 0].copy(), ValueError, r"X must be a 2-D array"),
    "3d": (X_OK[None], ValueError, r"X must be a 2-D array"),
    "sparse": (sp.csr_matrix(X_OK), TypeError, r"X.*sparse"),
    "complex": (X_OK.astype(complex), TypeError, r"X must hold real numbers"),
    "object": (X_OK.astype(object), TypeError, r"X must hold real numbers"),
    "string": (X_OK.astype(str), TypeError, r"X must hold real numbers"),
}


@pytest.mark.parametrize("case", list(BAD_X))
@pytest.mark.parametrize("name", list(ALL_KERNELS))
def test_bad_X_raises(name, case):
    X, exc, match = BAD_X[case]
    with pytest.raises(exc, match=match):
        ALL_KERNELS[name](X)


@pytest.mark.parametrize("n_threads, exc", [(0, ValueError), (True, TypeError), (1.5, TypeError)])
@pytest.mark.parametrize("name", list(ALL_KERNELS))
def test_bad_n_threads_raises(name, n_threads, exc):
    with pytest.raises(exc, match="n_threads"):
        ALL_KERNELS[name](X_OK, n_threads=n_threads)


BAD_WEIGHTS = {
    "negative": (np.r_[-1.0, np.ones(19)], ValueError, r"sample_weight must be non-negative"),
    "all_zero": (np.zeros(20), ValueError, r"sample_weight.*positive"),
    "short": (np.ones(19), ValueError, r"sample_weight must have shape \(20,\)"),
    "2d": (np.ones((20, 1)), ValueError, r"sample_weight must have shape \(20,\)"),
    "nan": (np.r_[np.nan, np.ones(19)], ValueError, r"sample_weight contains NaN or infinity"),
    "complex": (np.ones(20, complex), TypeError, r"sample_weight must hold real numbers"),
}


@pytest.mark.parametrize("case", list(BAD_WEIGHTS))
@pytest.mark.parametrize("name", WEIGHTED_KERNELS)
def test_bad_sample_weight_raises(name, case):
    w, exc, match = BAD_WEIGHTS[case]
    with pytest.raises(exc, match=match):
        ALL_KERNELS[name](X_OK, sample_weight=w)


@pytest.mark.parametrize("name", SQNORM_KERNELS)
def test_bad_x_sqnorms_raises(name):
    with pytest.raises(ValueError, match=r"x_sqnorms must have shape \(20,\)"):
        ALL_KERNELS[name](X_OK, x_sqnorms=np.ones(19))
    with pytest.raises(ValueError, match=r"x_sqnorms must be non-negative"):
        ALL_KERNELS[name](X_OK, x_sqnorms=-np.ones(20))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: kmcore.assign(X_OK, np.ones((4, 2))),
         r"centers has 2 features but the data has 3"),
        (lambda: kmcore.lloyd_step(X_OK, np.ones((4, 5))),
         r"centers has 5 features but the data has 3"),
        (lambda: kmcore.pairwise_sqdist(X_OK, np.ones((4, 2))),
         r"Y has 2 features but the data has 3"),
        (lambda: kmcore.update_centers(X_OK, LABELS_OK, 4, centers_old=np.ones((4, 2))),
         r"centers_old has 2 features"),
        (lambda: kmcore.update_centers(X_OK, LABELS_OK, 4, centers_old=np.ones((3, 3))),
         r"centers_old must have 4 rows"),
        (lambda: kmcore.assign(X_OK, np.ones(3)), r"centers must be a 2-D array"),
        (lambda: kmcore.assign(X_OK, np.full((2, 3), np.nan)), r"centers contains NaN"),
        (lambda: kmcore.lloyd_step(X_OK, np.empty((0, 3))), r"centers is empty"),
        (lambda: kmcore.pairwise_sqdist(X_OK, C_OK, y_sqnorms=np.ones(3)),
         r"y_sqnorms must have shape"),
    ],
)
def test_bad_centers_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
