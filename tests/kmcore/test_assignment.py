"""Tests of the kmcore kernels against plain NumPy references.

Every kernel is compared with a float64 brute-force reference written here
(distances by explicit differences, never by the GEMM expansion). float32
results are checked with tolerances scaled to float32 rounding of the GEMM
expansion; argmin disagreements are allowed only on rows where the
reference's best and chosen distances are within that rounding (near-ties).
"""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import kmcore
from kernel_reference import f64, ref_means, ref_sqdist

# --------------------------------------------------------------------------
# NumPy references and helpers
# --------------------------------------------------------------------------

# (n_samples, n_features, n_clusters): one row, one feature, one cluster,
# one chunk (n < 512), several chunks, and k > 1024 (two center blocks).
SHAPES = [
    (1, 3, 1),
    (2, 1, 2),
    (9, 1, 3),
    (100, 5, 1),
    (300, 17, 8),
    (1000, 64, 20),
    (3000, 64, 16),
    (2500, 16, 2100),
]
SHAPE_IDS = [f"n{n}-d{d}-k{k}" for n, d, k in SHAPES]
DTYPES = [np.float64, np.float32]


def make_data(n, d, dtype=np.float64, seed=0):
    """Gaussian data with some cluster structure, in ``dtype``."""
    rng = np.random.default_rng(seed)
    n_blobs = max(1, min(10, n // 20))
    blob_centers = 3 * rng.standard_normal((n_blobs, d))
    X = blob_centers[rng.integers(n_blobs, size=n)] + rng.standard_normal((n, d))
    return X.astype(dtype)


def make_centers(X, k, seed=1):
    """k distinct rows of X (so no cluster of a Lloyd step is empty)."""
    rng = np.random.default_rng(seed)
    return X[np.sort(rng.choice(X.shape[0], k, replace=False))].copy()


def make_weights(n, seed=2, zeros=False):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 3.0, size=n)
    if zeros and n > 2:
        w[rng.choice(n, n // 4, replace=False)] = 0.0
    return w


def rounding_tol(X, C, dtype):
    """Per-row absolute error bound of ||x||^2 - 2 x.c + ||c||^2 in ``dtype``.

    Shape (n, 1) so that it broadcasts against an (n, k) distance matrix.
    """
    X, C = f64(X), f64(C)
    d = X.shape[1]
    eps = np.finfo(dtype).eps
    scale = (X ** 2).sum(1) + (C ** 2).sum(1).max()
    return (64 * eps * max(1.0, np.sqrt(d)) * scale + np.finfo(dtype).tiny)[:, None]


def assert_argmin_or_near_tie(labels, D, tol):
    """labels == D.argmin(1), except on rows where the two are within ``tol``."""
    n, k = D.shape
    assert labels.shape == (n,)
    assert labels.dtype == np.intp
    assert labels.min() >= 0 and labels.max() < k
    rows = np.arange(n)
    gap = D[rows, labels] - D.min(axis=1)
    disagree = labels != D.argmin(axis=1)
    tol = np.broadcast_to(tol, (n, 1))[:, 0]
    assert np.all(gap[disagree] <= tol[disagree]), (
        f"{disagree.sum()} rows not at their nearest center; worst gap "
        f"{gap.max()} vs tol {tol[np.argmax(gap)]}"
    )
    # Near-ties are rare on continuous data.
    assert disagree.mean() <= 0.02


def effective_weights(w, dtype):
    """The weights the kernel sees: cast to the data's dtype."""
    return None if w is None else f64(np.asarray(w).astype(dtype))


def mean_tol(X, dtype):
    """Absolute tolerance of a mean of rows of X computed in float64 then cast."""
    scale = float(np.abs(f64(X)).max()) + 1.0
    return (1e-10 if dtype == np.float64 else 1e-6) * scale


def as_arrays(result):
    """A kernel's result as a tuple of arrays (scalars wrapped)."""
    if isinstance(result, tuple):
        return tuple(np.asarray(r) for r in result)
    return (np.asarray(result),)


def assert_bitwise_equal(a, b):
    a, b = as_arrays(a), as_arrays(b)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=False):
        assert x.dtype == y.dtype
        assert x.shape == y.shape
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f")


def layout(X, kind, tmp_path):
    """X as a C array, F array, read-only array, read-only memmap or strided view."""
    if kind == "C":
        return np.ascontiguousarray(X)
    if kind == "F":
        out = np.asfortranarray(X)
        assert not out.flags.c_contiguous or X.shape[0] == 1 or X.shape[1] == 1
        return out
    if kind == "readonly":
        out = np.array(X, copy=True)
        out.setflags(write=False)
        return out
    if kind == "memmap":
        path = tmp_path / f"X_{X.dtype}_{X.shape[0]}x{X.shape[1]}.dat"
        mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
        mm[:] = X
        mm.flush()
        del mm
        return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)
    if kind == "strided":
        big = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=X.dtype)
        big[:, ::2] = X
        return big[:, ::2]
    raise AssertionError(kind)


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


# --------------------------------------------------------------------------
# assign
# --------------------------------------------------------------------------


@pytest.mark.parametrize("with_norms", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_assign_matches_numpy(shape, dtype, with_norms):
    n, d, k = shape
    X = make_data(n, d, dtype)
    C = make_data(k, d, dtype, seed=7)
    kwargs = dict(x_sqnorms=kmcore.row_norms(X)) if with_norms else {}
    labels, min_sqdist = kmcore.assign(X, C, **kwargs)
    D = ref_sqdist(X, C)
    tol = rounding_tol(X, C, dtype)
    assert_argmin_or_near_tie(labels, D, tol)
    assert min_sqdist.shape == (n,)
    assert min_sqdist.dtype == dtype
    assert np.all(min_sqdist >= 0)
    chosen = D[np.arange(n), labels]
    assert np.all(np.abs(min_sqdist - chosen) <= tol[:, 0] + 1e-6 * chosen)


# Odd and even center counts (the argmin takes centers in pairs), one block or
# two (2048 centers per block), so ties fall within and across blocks.
@pytest.mark.parametrize("n_extra", [1, 2, 2100, 2101])
@pytest.mark.parametrize("dtype", DTYPES)
def test_assign_ties_go_to_lowest_index(n_extra, dtype):
    # Integer data: every distance is exact, so the ties are exact too.
    rng = np.random.default_rng(0)
    X = rng.integers(-3, 4, size=(500, 2)).astype(dtype)
    C = np.vstack([X[:5], X[:5], rng.integers(-3, 4, size=(n_extra, 2))]).astype(dtype)
    labels, min_sqdist = kmcore.assign(X, C)
    D = ref_sqdist(X, C)
    assert np.array_equal(labels, D.argmin(axis=1))
    assert np.array_equal(min_sqdist, D.min(axis=1))


def near_tie_case(n=3000, d=64, k=9, seed=5):
    """float32 rows almost equidistant from two mirrored centers, among others.

    Centers a and b sit symmetric about a hyperplane through the data and the
    rows lie within a hair of it, so their two distances differ by far less
    than the float32 expansion's rounding: that rounding, not geometry,
    would pick the label.
    """
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=d)
    normal /= np.linalg.norm(normal)
    base = rng.normal(size=(n, d)) * 3 + 4
    base -= np.outer(base @ normal, normal)                 # onto the hyperplane
    X = (base + np.outer(rng.normal(size=n) * 1e-5, normal)).astype(np.float32)
    mid = base.mean(axis=0)
    others = mid + rng.normal(size=(k - 2, d)) * 12
    C = np.vstack([others[: k // 2], mid + 2 * normal, others[k // 2:], mid - 2 * normal])
    return X, C.astype(np.float32)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_assign_near_ties_get_the_exact_nearest_center(n_threads):
    X, C = near_tie_case()
    D = ref_sqdist(X, C)
    order = np.sort(D, axis=1)
    decided = order[:, 1] - order[:, 0] > 1e-12 * order[:, 0]   # float64 can tell them apart
    # The case discriminates: the float32 expansion alone mislabels some rows.
    Xf, Cf = X.astype(np.float32), C.astype(np.float32)
    expanded = (Cf ** 2).sum(1)[None, :] - np.float32(2) * (Xf @ Cf.T)
    assert (expanded.argmin(axis=1) != D.argmin(axis=1))[decided].sum() > 10
    labels, min_sqdist = kmcore.assign(X, C, n_threads=n_threads)
    assert np.array_equal(labels[decided], D.argmin(axis=1)[decided])
    step = kmcore.lloyd_step(X, C, n_threads=n_threads)
    assert np.array_equal(step.labels, labels)
    np.testing.assert_allclose(min_sqdist, D.min(axis=1), rtol=1e-5)


# --------------------------------------------------------------------------
# lloyd_step
# --------------------------------------------------------------------------


def force_row_parts(monkeypatch):
    """Make the M-step's second pass cut even small inputs into up to 8 row parts."""
    monkeypatch.setattr("kmcore.centers._MIN_PART_ROWS", 1)
    monkeypatch.setattr("kmcore.centers._PART_READ_PER_SUMS", 0)
    monkeypatch.setattr("kmcore.centers._MIN_ROWS_BEYOND_TWO", 1)


@pytest.fixture(params=["fused", "two_pass", "row_parts"])
def m_step_path(request, monkeypatch):
    """Run lloyd_step with its M-step fused in the E-step, or in a second pass
    (one row part, as small inputs get, or up to eight)."""
    if request.param != "fused":
        monkeypatch.setattr("kmcore.assignment._FUSED_SUMS_BYTES", -1)
    if request.param == "row_parts":
        force_row_parts(monkeypatch)
    return request.param


def check_lloyd_step(X, C, w, step):
    """Check a LloydStep against the NumPy reference (no empty cluster expected)."""
    dtype = X.dtype
    n, k = X.shape[0], C.shape[0]
    C_cast = f64(np.asarray(C).astype(dtype))
    w_eff = effective_weights(w, dtype)
    D = ref_sqdist(X, C_cast)
    tol = rounding_tol(X, C_cast, dtype)
    assert_argmin_or_near_tie(step.labels, D, tol)
    ref_centers, ref_weights = ref_means(X, step.labels, k, w_eff)
    assert np.all(ref_weights > 0), "test data must leave no cluster empty"
    assert step.centers.dtype == dtype
    assert step.centers.shape == C.shape
    np.testing.assert_allclose(f64(step.centers), ref_centers,
                               rtol=1e-7 if dtype == np.float32 else 1e-12,
                               atol=mean_tol(X, dtype))
    assert step.counts.dtype == np.float64
    np.testing.assert_allclose(step.counts, ref_weights, rtol=1e-12)
    chosen = D[np.arange(n), step.labels]
    ww = np.ones(n) if w_eff is None else w_eff
    ref_inertia = float(ww @ chosen)
    assert isinstance(step.inertia, float)
    np.testing.assert_allclose(step.inertia, ref_inertia,
                               rtol=1e-10 if dtype == np.float64 else 1e-4,
                               atol=float(ww @ tol[:, 0]))
    ref_shift = np.sqrt(((ref_centers - C_cast) ** 2).sum(axis=1))
    np.testing.assert_allclose(step.center_shift, ref_shift, rtol=1e-6,
                               atol=10 * mean_tol(X, dtype) * np.sqrt(X.shape[1]))
    assert step.n_relocated == 0


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_lloyd_step_matches_numpy(shape, dtype, weighted, m_step_path):
    n, d, k = shape
    X = make_data(n, d, dtype)
    C = make_centers(X, k)
    w = make_weights(n) if weighted else None
    step = kmcore.lloyd_step(X, C, sample_weight=w)
    assert isinstance(step, kmcore.LloydStep)
    check_lloyd_step(X, C, w, step)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lloyd_step_with_norms_and_float64_centers(dtype):
    X = make_data(700, 9, dtype)
    C = make_centers(X, 12).astype(np.float64) + 0.1  # cast to X's dtype by the kernel
    step = kmcore.lloyd_step(X, C, x_sqnorms=kmcore.row_norms(X))
    check_lloyd_step(X, C, None, step)
    assert_bitwise_equal(tuple(step), tuple(kmcore.lloyd_step(X, C)))


def far_center_case(dtype, weighted, n_far=1, seed=0):
    """Data near the origin, centers on data rows plus ``n_far`` centers far away."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((400, 5)).astype(dtype)
    C = make_centers(X, 6)
    far = 1e3 * (1 + np.arange(n_far))[:, None] * np.ones((n_far, 5))
    # The far centers sit at indices 2, 4, ... between ordinary ones.
    for i in range(n_far):
        C = np.insert(C, 2 * (i + 1), far[i], axis=0)
    C = C.astype(dtype)
    w = make_weights(400) if weighted else None
    return X, C, w


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lloyd_step_relocates_empty_cluster_to_farthest_point(dtype, weighted, m_step_path):
    X, C, w = far_center_case(dtype, weighted)
    k = C.shape[0]
    empty = 2
    D = ref_sqdist(X, C)
    step = kmcore.lloyd_step(X, C, sample_weight=w)
    assert not np.any(step.labels == empty)
    assert step.n_relocated == 1
    own = D[np.arange(X.shape[0]), step.labels]
    far = int(np.argmax(own))
    # The farthest row (from its own center) becomes the empty cluster's center.
    np.testing.assert_allclose(f64(step.centers[empty]), f64(X[far]),
                               rtol=1e-6 if dtype == np.float32 else 1e-14)
    w_eff = effective_weights(w, dtype)
    ww = np.ones(X.shape[0]) if w_eff is None else w_eff
    assert step.counts[empty] == pytest.approx(ww[far], rel=1e-12)
    # The other clusters are the means without that row.
    moved = step.labels.copy()
    moved[far] = empty
    ref_centers, ref_weights = ref_means(X, moved, k, w_eff)
    np.testing.assert_allclose(f64(step.centers), ref_centers, rtol=1e-6, atol=mean_tol(X, dtype))
    np.testing.assert_allclose(step.counts, ref_weights, rtol=1e-9, atol=1e-9)
    # Inertia and labels still refer to the old centers.
    np.testing.assert_allclose(step.inertia, float(ww @ own),
                               rtol=1e-10 if dtype == np.float64 else 1e-4)
    assert np.all(np.isfinite(step.centers))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lloyd_step_relocates_farthest_first_in_cluster_order(dtype):
    X, C, _ = far_center_case(dtype, False, n_far=2)
    empties = [2, 4]
    assert np.all(np.abs(C[empties]) >= 1e3)
    step = kmcore.lloyd_step(X, C)
    assert not np.isin(step.labels, empties).any()
    assert step.n_relocated == 2
    own = ref_sqdist(X, C)[np.arange(X.shape[0]), step.labels]
    order = np.argsort(-own, kind="stable")
    for cluster, row in zip(empties, order[:2], strict=False):
        assert np.array_equal(step.centers[cluster], X[row])
        assert step.counts[cluster] == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_lloyd_step_relocate_empty_false_keeps_old_center(dtype, m_step_path):
    X, C, w = far_center_case(dtype, True)
    step = kmcore.lloyd_step(X, C, sample_weight=w, relocate_empty=False)
    assert step.n_relocated == 0
    assert np.array_equal(step.centers[2], C[2])
    assert step.counts[2] == 0
    assert step.center_shift[2] == 0
    w_eff = effective_weights(w, dtype)
    ref_centers, _ = ref_means(X, step.labels, C.shape[0], w_eff)
    full = np.arange(C.shape[0]) != 2
    np.testing.assert_allclose(f64(step.centers[full]), ref_centers[full], rtol=1e-6,
                               atol=mean_tol(X, dtype))


def test_lloyd_step_no_relocation_when_every_row_is_on_a_center():
    rng = np.random.default_rng(0)
    distinct = rng.integers(-5, 6, size=(3, 4)).astype(np.float64)
    X = np.repeat(distinct, 4, axis=0)
    C = np.vstack([distinct, np.full((1, 4), 100.0)])
    step = kmcore.lloyd_step(X, C)
    assert step.n_relocated == 0
    assert step.inertia == 0
    assert np.array_equal(step.centers, C)


def test_lloyd_step_relocates_cluster_with_only_zero_weight_members():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2))
    X[:5] += 20  # rows 0-4: a separate group that carries no weight
    w = np.ones(50)
    w[:5] = 0
    C = np.vstack([X[:5].mean(axis=0), X[5:7]])
    step = kmcore.lloyd_step(X, C, sample_weight=w)
    assert np.bincount(step.labels, minlength=3)[0] == 5
    assert step.n_relocated == 1
    assert step.counts[0] > 0


def test_lloyd_step_emptied_cluster_has_zero_weight():
    X = np.array([[0.0, 0], [0.1, 0], [-0.1, 0], [50, 0], [51, 0]])
    w = np.array([1, 1, 1, 0.1, 0.2])
    C = np.array([[0.0, 0], [50.5, 0], [1e3, 0], [-1e3, 0]])
    step = kmcore.lloyd_step(X, C, sample_weight=w)
    # Rows 3 and 4 (cluster 1) are the farthest: both move to clusters 2 and 3.
    assert step.n_relocated == 2
    assert np.array_equal(step.centers[1], C[1])  # left with no members: old center
    np.testing.assert_allclose(step.centers[2:], X[3:], rtol=1e-15)
    assert step.counts[1] == 0


# --------------------------------------------------------------------------
# update_centers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("row_parts", [False, True])
@pytest.mark.parametrize("with_old", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_update_centers_matches_numpy(shape, dtype, weighted, with_old, row_parts, monkeypatch):
    if row_parts:
        force_row_parts(monkeypatch)
    n, d, k = shape
    X = make_data(n, d, dtype)
    rng = np.random.default_rng(3)
    k_total = k + 2  # the last two clusters are always empty
    labels = rng.integers(k, size=n)
    w = make_weights(n, zeros=True) if weighted else None
    old = make_data(k_total, d, dtype, seed=9) if with_old else None
    centers, weights = kmcore.update_centers(X, labels, k_total, sample_weight=w, centers_old=old)
    assert centers.shape == (k_total, d)
    assert centers.dtype == dtype
    assert weights.dtype == np.float64
    w_eff = effective_weights(w, dtype)
    ref_centers, ref_weights = ref_means(X, labels, k_total, w_eff)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-12)
    full = ref_weights > 0
    assert not full[k:].any()
    np.testing.assert_allclose(f64(centers[full]), ref_centers[full],
                               rtol=1e-7 if dtype == np.float32 else 1e-12, atol=mean_tol(X, dtype))
    if with_old:
        assert np.array_equal(centers[~full], old[~full])
    else:
        assert np.all(np.isnan(centers[~full]))


def test_update_centers_zero_weight_cluster_is_empty():
    X = make_data(60, 3)
    labels = np.repeat(np.arange(3), 20)
    w = np.ones(60)
    w[20:40] = 0  # cluster 1 has members but no weight
    old = make_data(3, 3, seed=4)
    c_nan, weights = kmcore.update_centers(X, labels, 3, sample_weight=w)
    c_old, _ = kmcore.update_centers(X, labels, 3, sample_weight=w, centers_old=old)
    assert weights[1] == 0
    assert np.all(np.isnan(c_nan[1]))
    assert np.array_equal(c_old[1], old[1])
    np.testing.assert_allclose(c_nan[[0, 2]], ref_means(X, labels, 3, w)[0][[0, 2]], rtol=1e-12)


@pytest.mark.parametrize("label_dtype", [np.int8, np.int32, np.uint16, np.int64])
def test_update_centers_accepts_any_integer_labels(label_dtype):
    X = make_data(200, 4)
    labels = np.random.default_rng(0).integers(5, size=200)
    ref = kmcore.update_centers(X, labels.astype(np.intp), 5)
    assert_bitwise_equal(kmcore.update_centers(X, labels.astype(label_dtype), 5), ref)


# --------------------------------------------------------------------------
# kmeans_plusplus
# --------------------------------------------------------------------------


# The seeding tests below run on one thread: a seeding step is one OpenMP
# region, and on a loaded machine thousands of them are slow. The thread
# count does not change the result (test_thread_count_independence).
SEED_THREADS = 1


@pytest.mark.parametrize("n_local_trials", [None, 1, 5])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n,d,k", [(300, 4, 10), (1500, 16, 40), (2000, 3, 25)])
def test_kmeans_plusplus_matches_sklearn(n, d, k, seed, weighted, n_local_trials):
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    X = make_data(n, d, np.float64, seed=seed)
    w = make_weights(n, seed=seed) if weighted else None
    centers, indices = kmcore.kmeans_plusplus(X, k, sample_weight=w, random_state=seed,
                                              n_local_trials=n_local_trials,
                                              n_threads=SEED_THREADS)
    sk_centers, sk_indices = sklearn_cluster.kmeans_plusplus(
        X, k, sample_weight=w, random_state=seed, n_local_trials=n_local_trials
    )
    assert indices.dtype == np.intp
    assert np.array_equal(indices, sk_indices)
    assert np.array_equal(centers, sk_centers)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_kmeans_plusplus_properties(shape, dtype, weighted):
    n, d, k = shape
    X = make_data(n, d, dtype)
    w = make_weights(n, zeros=True) if weighted else None
    n_pos = n if w is None else int((w > 0).sum())
    k = min(k, n_pos)
    centers, indices = kmcore.kmeans_plusplus(X, k, sample_weight=w, random_state=0,
                                              n_threads=SEED_THREADS)
    assert centers.shape == (k, d)
    assert centers.dtype == dtype
    assert indices.shape == (k,)
    assert indices.dtype == np.intp
    assert np.all((indices >= 0) & (indices < n))
    assert np.array_equal(centers, X[indices])
    assert len(np.unique(indices)) == k  # rows are distinct
    if w is not None:
        assert np.all(w[indices] > 0)
    again = kmcore.kmeans_plusplus(X, k, sample_weight=w, random_state=0, n_threads=SEED_THREADS)
    assert_bitwise_equal(again, (centers, indices))


def test_kmeans_plusplus_random_state_forms():
    X = make_data(500, 6)
    by_int = kmcore.kmeans_plusplus(X, 12, random_state=3)
    by_rs = kmcore.kmeans_plusplus(X, 12, random_state=np.random.RandomState(3))
    assert_bitwise_equal(by_int, by_rs)
    np.random.seed(3)
    by_global = kmcore.kmeans_plusplus(X, 12, random_state=None)
    assert_bitwise_equal(by_global, by_int)
    other = kmcore.kmeans_plusplus(X, 12, random_state=4)
    assert not np.array_equal(other[1], by_int[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_kmeans_plusplus_zero_weight_rows_never_chosen(dtype):
    rng = np.random.default_rng(0)
    X = make_data(600, 5, dtype)
    w = rng.uniform(0.5, 2.0, 600)
    w[::2] = 0
    # Put the zero-weight rows far out, where D^2 sampling would favour them.
    X[::2] *= 50
    for seed in range(5):
        _, indices = kmcore.kmeans_plusplus(X, 30, sample_weight=w, random_state=seed,
                                            n_threads=SEED_THREADS)
        assert np.all(w[indices] > 0)
        _, indices = kmcore.farthest_first(X, 30, sample_weight=w, random_state=seed,
                                           n_threads=SEED_THREADS)
        assert np.all(w[indices] > 0)


def test_kmeans_plusplus_never_picks_zero_weight_rows_with_duplicates():
    X = np.repeat(np.random.default_rng(0).standard_normal((3, 2)), 4, axis=0)
    w = np.ones(12)
    w[0] = 0
    _, indices = kmcore.kmeans_plusplus(X, 6, sample_weight=w, random_state=0)
    assert np.all(w[indices] > 0)


# --------------------------------------------------------------------------
# farthest_first
# --------------------------------------------------------------------------


def check_farthest_first(X, w, indices, dtype):
    """Each index after the first is the (weighted-eligible) argmax of the min distance."""
    k = indices.shape[0]
    D = ref_sqdist(X, X[indices])
    tol = rounding_tol(X, X[indices], dtype)[:, 0]
    eligible = np.ones(X.shape[0], bool) if w is None else np.asarray(w) > 0
    assert eligible[indices[0]]
    for c in range(1, k):
        mind = D[:, :c].min(axis=1)
        mind_eligible = np.where(eligible, mind, -1.0)
        ref = int(np.argmax(mind_eligible))
        got = int(indices[c])
        assert eligible[got]
        if got != ref:
            # Only a near-tie may be resolved differently.
            assert mind[got] >= mind[ref] - tol[got] - tol[ref], (c, got, ref)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_farthest_first_matches_numpy(shape, dtype, weighted):
    n, d, k = shape
    k = min(k, 200)  # the reference loop is O(n k^2)
    X = make_data(n, d, dtype)
    w = make_weights(n, zeros=True) if weighted else None
    if w is not None:
        k = min(k, int((w > 0).sum()))
    centers, indices = kmcore.farthest_first(X, k, sample_weight=w, random_state=0,
                                             n_threads=SEED_THREADS)
    assert centers.dtype == dtype
    assert centers.shape == (k, d)
    assert indices.dtype == np.intp
    assert np.array_equal(centers, X[indices])
    check_farthest_first(X, w, indices, dtype)


def test_farthest_first_exact_with_ties_to_lower_index():
    # Integer data: exact distances, many exact ties, resolved to the lowest index.
    rng = np.random.default_rng(0)
    X = rng.integers(-3, 4, size=(300, 2)).astype(np.float64)
    _, indices = kmcore.farthest_first(X, 30, random_state=0)
    D = ref_sqdist(X, X)
    mind = D[:, indices[0]].copy()
    for c in range(1, 30):
        assert indices[c] == int(np.argmax(mind))
        mind = np.minimum(mind, D[:, indices[c]])


# --------------------------------------------------------------------------
# split_two
# --------------------------------------------------------------------------


def check_two_means_fixed_point(X, indices, w, centers, labels, dtype):
    members = f64(X)[indices]
    m = members.shape[0]
    assert labels.shape == (m,)
    assert labels.dtype == np.intp
    assert set(np.unique(labels)) == {0, 1}
    assert centers.shape == (2, X.shape[1])
    assert centers.dtype == dtype
    ww = np.ones(m) if w is None else effective_weights(w, dtype)[indices]
    for side in (0, 1):
        on = labels == side
        mean = ww[on] @ members[on] / ww[on].sum()
        np.testing.assert_allclose(f64(centers[side]), mean,
                                   rtol=1e-6 if dtype == np.float32 else 1e-12,
                                   atol=mean_tol(X, dtype))
    D = ref_sqdist(members, centers)
    own = D[np.arange(m), labels]
    other = D[np.arange(m), 1 - labels]
    tol = rounding_tol(members, centers, dtype)[:, 0]
    assert np.all(own <= other + tol)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("subset", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,d", [(2, 1), (3, 2), (50, 1), (400, 7), (3000, 64)])
def test_split_two_is_a_two_means_fixed_point(n, d, dtype, subset, weighted):
    X = make_data(n, d, dtype)
    X0 = X.copy()
    rng = np.random.default_rng(0)
    indices = rng.permutation(n)[: max(2, (2 * n) // 3)] if subset else None
    w = make_weights(n) if weighted else None
    centers, labels = kmcore.split_two(X, indices=indices, sample_weight=w, random_state=0)
    idx = np.arange(n) if indices is None else indices
    check_two_means_fixed_point(X, idx, w, centers, labels, dtype)
    assert np.array_equal(X, X0)
    again = kmcore.split_two(X, indices=indices, sample_weight=w, random_state=0)
    assert_bitwise_equal(again, (centers, labels))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("m", [2, 3, 8, 51])
@pytest.mark.parametrize("dtype", DTYPES)
def test_split_two_identical_rows_cut_by_position(dtype, m, weighted):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m + 20, 4)).astype(dtype)
    X[5:5 + m] = X[3]
    w = make_weights(m + 20) if weighted else None
    expected = (np.arange(m) >= m // 2).astype(np.intp)
    for indices in (np.arange(5, 5 + m)[::-1], np.r_[3, np.arange(5, 4 + m)]):
        centers, labels = kmcore.split_two(X, indices=indices, sample_weight=w, random_state=1)
        assert np.array_equal(labels, expected)
        np.testing.assert_allclose(f64(centers), np.tile(f64(X[3]), (2, 1)),
                                   rtol=1e-6 if dtype == np.float32 else 1e-14)
    Y = np.tile(X[3], (m, 1))
    centers, labels = kmcore.split_two(Y, random_state=1)
    assert np.array_equal(labels, expected)
    assert np.all(np.isfinite(centers))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_split_two_separates_two_far_blobs(dtype, weighted):
    rng = np.random.default_rng(0)
    blob = rng.integers(2, size=1000)
    X = (rng.standard_normal((1000, 10)) + np.where(blob[:, None] == 1, 50.0, -50.0)).astype(dtype)
    w = make_weights(1000) if weighted else None
    for seed in range(4):
        centers, labels = kmcore.split_two(X, sample_weight=w, random_state=seed)
        assert np.array_equal(labels, blob) or np.array_equal(labels, 1 - blob)
        subset = np.flatnonzero(rng.random(1000) < 0.3)
        _, sub_labels = kmcore.split_two(X, indices=subset, sample_weight=w, random_state=seed)
        assert (np.array_equal(sub_labels, blob[subset])
                or np.array_equal(sub_labels, 1 - blob[subset]))
    check_two_means_fixed_point(X, np.arange(1000), w, centers, labels, dtype)


def test_split_two_large_subset_parallel_path():
    # More than 4096 members: the multi-threaded path.
    X = make_data(4500, 8)
    centers, labels = kmcore.split_two(X, random_state=0, n_threads=2)
    check_two_means_fixed_point(X, np.arange(4500), None, centers, labels, np.float64)


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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("subset", [False, True])
def test_split_two_thread_count_independence(dtype, weighted, subset):
    n = 9000 if subset else 4500  # more than 4096 members: the parallel path
    X = make_data(n, 8, dtype, seed=3)
    indices = np.arange(1, n, 2)[::-1].copy() if subset else None
    w = make_weights(n) if weighted else None
    ref = kmcore.split_two(X, indices=indices, sample_weight=w, random_state=0, n_threads=1)
    for n_threads in (2, 3):
        got = kmcore.split_two(X, indices=indices, sample_weight=w, random_state=0,
                               n_threads=n_threads)
        assert_bitwise_equal(got, ref)


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

X_OK = make_data(20, 3)
C_OK = X_OK[:4].copy()
LABELS_OK = np.arange(20) % 4
W_OK = np.ones(20)

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


@pytest.mark.parametrize("seeding", [kmcore.kmeans_plusplus, kmcore.farthest_first])
@pytest.mark.parametrize(
    "k, exc, match",
    [
        (0, ValueError, r"n_clusters must be >= 1"),
        (-2, ValueError, r"n_clusters must be >= 1"),
        (21, ValueError, r"n_samples=20 should be >= n_clusters=21"),
        (2.0, TypeError, r"n_clusters must be an integer"),
        ("3", TypeError, r"n_clusters must be an integer"),
        (True, TypeError, r"n_clusters must be an integer"),
    ],
)
def test_seeding_bad_n_clusters_raises(seeding, k, exc, match):
    with pytest.raises(exc, match=match):
        seeding(X_OK, k)


def test_seeding_accepts_numpy_integer_k_and_k_equal_n():
    _, idx = kmcore.kmeans_plusplus(X_OK, np.int64(20), random_state=0)
    assert np.array_equal(np.sort(idx), np.arange(20))
    _, idx = kmcore.farthest_first(X_OK, np.int32(20), random_state=0)
    assert np.array_equal(np.sort(idx), np.arange(20))


def test_kmeans_plusplus_bad_options_raise():
    with pytest.raises(ValueError, match="n_local_trials"):
        kmcore.kmeans_plusplus(X_OK, 3, n_local_trials=0)
    with pytest.raises(TypeError, match="random_state"):
        kmcore.kmeans_plusplus(X_OK, 3, random_state="seed")


@pytest.mark.parametrize(
    "labels, k, exc, match",
    [
        (np.r_[-1, LABELS_OK[1:]], 4, ValueError, r"labels must lie in \[0, 4\)"),
        (np.r_[4, LABELS_OK[1:]], 4, ValueError, r"labels must lie in \[0, 4\)"),
        (LABELS_OK, 3, ValueError, r"labels must lie in \[0, 3\)"),
        (LABELS_OK[:-1], 4, ValueError, r"labels must have shape \(20,\)"),
        (LABELS_OK.astype(float), 4, TypeError, r"labels must be integers"),
        (LABELS_OK, 0, ValueError, r"n_clusters must be >= 1"),
        (LABELS_OK, 4.0, TypeError, r"n_clusters must be an integer"),
    ],
)
def test_update_centers_bad_labels_raise(labels, k, exc, match):
    with pytest.raises(exc, match=match):
        kmcore.update_centers(X_OK, labels, k)


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


@pytest.mark.parametrize(
    "X, kwargs, exc, match",
    [
        (X_OK, dict(indices=[3]), ValueError, r"at least 2 rows, got 1"),
        (X_OK, dict(indices=np.array([], dtype=np.intp)), ValueError, r"at least 2 rows, got 0"),
        (X_OK[:1], {}, ValueError, r"at least 2 rows, got 1"),
        (X_OK, dict(indices=[0, 20]), ValueError, r"indices must lie in \[0, 20\)"),
        (X_OK, dict(indices=[-1, 2]), ValueError, r"indices must lie in \[0, 20\)"),
        (X_OK, dict(indices=[0.0, 1.0]), TypeError, r"indices must be a 1-D array of integers"),
        (X_OK, dict(indices=[[0, 1]]), TypeError, r"indices must be a 1-D array of integers"),
        (X_OK, dict(indices=[0, 1], sample_weight=np.r_[0.0, 0.0, np.ones(18)]), ValueError,
         r"sample_weight is zero on every row named by indices"),
        (X_OK, dict(max_iter=0), ValueError, r"max_iter must be >= 1"),
    ],
)
def test_split_two_bad_input_raises(X, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        kmcore.split_two(X, **kwargs)


@pytest.mark.parametrize("offset", [1e3, 1e4])
def test_assign_float32_distances_accurate_far_from_origin(offset):
    """Data far from the origin: the GEMM expansion cancels, the reported
    distances must still match a float64 direct computation."""
    rng = np.random.default_rng(0)
    X = (offset + rng.normal(size=(2000, 16))).astype(np.float32)
    C = (offset + rng.normal(size=(7, 16))).astype(np.float32)
    labels, dist = kmcore.assign(X, C)
    X64, C64 = X.astype(np.float64), C.astype(np.float64)
    ref = ((X64 - C64[labels]) ** 2).sum(axis=1)
    np.testing.assert_allclose(dist, ref, rtol=1e-5)
    step = kmcore.lloyd_step(X, C)
    np.testing.assert_allclose(step.inertia, ref.sum(), rtol=1e-5)


@pytest.mark.parametrize("n_features", [2, 16, 32, 784, 4096])
@pytest.mark.parametrize("n_centers", [1, 5, 10, 37, 38, 256, 1024, 1025, 2048, 5000])
@pytest.mark.parametrize("itemsize", [4, 8])
def test_block_sizes(n_features, n_centers, itemsize):
    from kmcore._threads import (
        _SMALL_GEMM_MACS,
        _SMALL_GEMM_MIN_FEATURES,
        _SMALL_GEMM_OUTPUTS,
        block_sizes,
    )

    rows, k_block = block_sizes(100_000, n_features, n_centers, itemsize)
    assert k_block == min(n_centers, 2048)
    small = (rows * k_block <= _SMALL_GEMM_OUTPUTS
             and rows * k_block * n_features <= _SMALL_GEMM_MACS)
    if n_features >= _SMALL_GEMM_MIN_FEATURES and small:
        # The small-product path: the largest such multiple of 16, at most 128.
        assert rows % 16 == 0 and 32 <= rows <= 128
        assert rows == 128 or (rows + 16) * k_block > _SMALL_GEMM_OUTPUTS or (
            (rows + 16) * k_block * n_features > _SMALL_GEMM_MACS)
    else:
        # The distance block stays within 2 MiB (at least 64 rows), or 8 MiB
        # beyond 1024 centers.
        budget, max_rows = (2 << 20, 512) if n_centers <= 1024 else (8 << 20, 1024)
        assert 64 <= rows <= max_rows
        assert rows == 64 or rows * k_block * itemsize <= budget
    assert block_sizes(10, n_features, n_centers, itemsize)[0] <= 10


@pytest.mark.parametrize("n_samples", [1, 1024, 4096, 20_000, 40_000, 60_000, 10**6])
@pytest.mark.parametrize("n_clusters", [1, 256, 1024, 100_000])
@pytest.mark.parametrize("itemsize", [4, 8])
def test_row_bounds(n_samples, n_clusters, itemsize):
    from kmcore.centers import (
        _MAX_ROW_PARTS,
        _MIN_PART_ROWS,
        _MIN_ROWS_BEYOND_TWO,
        _PART_READ_PER_SUMS,
        _row_bounds,
    )

    d = 128
    bounds = _row_bounds(n_samples, d, n_clusters, itemsize)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == n_samples
    assert sizes.min() >= 0 and sizes.max() - sizes.min() <= 1
    parts = sizes.shape[0]
    assert parts in (1, 2, 4, 8)
    if parts > 1:
        # The extra K x D float64 buffers stay within a quarter of X's size.
        assert (parts - 1) * n_clusters * d * 8 <= n_samples * d * itemsize / _PART_READ_PER_SUMS

    def allowed(p):
        rows = n_samples // p
        return (p <= _MAX_ROW_PARTS and rows >= _MIN_PART_ROWS
                and rows * itemsize >= _PART_READ_PER_SUMS * n_clusters * 8
                and (p <= 2 or rows >= _MIN_ROWS_BEYOND_TWO))

    # The most parts, doubling from one, that the rules allow.
    assert parts == 1 or allowed(parts)
    assert not allowed(2 * parts)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("bounds", [[0, 37], [0, 0, 10, 10, 37], [0, 5, 20, 37, 37], [0, 0, 0, 37]])
def test_weighted_sums_kernel_parts(dtype, weighted, bounds):
    """Empty parts, a cluster absent from part 0, and scratch full of garbage on entry."""
    from kmcore import _centers

    rng = np.random.default_rng(5)
    n, d, k = 37, 6, 5
    X = make_data(n, d, dtype)
    labels = rng.integers(1, k - 1, size=n).astype(np.intp)  # clusters 0 and 4 stay empty
    labels[:5] = 1  # with bounds [0, 5, ...] part 0 sees only cluster 1
    w = make_weights(n).astype(dtype) if weighted else np.empty(0, dtype=dtype)
    bounds = np.asarray(bounds, dtype=np.intp)
    p = bounds.shape[0] - 1
    part_sums = np.full((p - 1, k, d), np.nan)
    part_weights = np.full((p - 1, k), np.nan)
    seen = np.full((p, k), 7, dtype=np.uint8)
    sums = np.full((k, d), np.nan)
    weights = np.full(k, np.nan)
    _centers._weighted_sums(X, labels, w, bounds, part_sums, part_weights, seen, sums, weights, 2)
    ww = np.ones(n) if not weighted else w.astype(np.float64)
    ref_w = np.bincount(labels, weights=ww, minlength=k)
    ref = np.zeros((k, d))
    np.add.at(ref, labels, ww[:, None] * f64(X))
    np.testing.assert_allclose(weights, ref_w, rtol=1e-12)
    np.testing.assert_allclose(sums, ref, rtol=1e-12 if dtype == np.float64 else 1e-6, atol=1e-12)
    assert np.array_equal(sums[[0, k - 1]], np.zeros((2, d))) and weights[0] == weights[-1] == 0
