"""kmcore.assignment: assign and lloyd_step against NumPy (and the E-step's block sizes).

Every kernel is compared with a float64 NumPy reference (see _kernel_cases.py).
"""

import numpy as np
import pytest

import kmcore
from _kernel_cases import (
    DTYPES, SHAPE_IDS, SHAPES, assert_argmin_or_near_tie, assert_bitwise_equal, effective_weights,
    make_centers, make_data, make_weights, mean_tol, rounding_tol,
)
from kernel_reference import f64, ref_means, ref_sqdist

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
