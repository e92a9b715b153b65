"""kmcore.centers: update_centers against NumPy (and the M-step's row parts).

Every kernel is compared with a float64 NumPy reference (see _kernel_cases.py).
"""

import numpy as np
import pytest

import kmcore
from _kernel_cases import (
    DTYPES, LABELS_OK, SHAPE_IDS, SHAPES, X_OK, assert_bitwise_equal, effective_weights,
    force_row_parts, make_data, make_weights, mean_tol,
)
from kernel_reference import f64, ref_means

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
