"""kmcore.split: split_two, a two-means fixed point.

Every kernel is compared with a float64 NumPy reference (see _kernel_cases.py).
"""

import numpy as np
import pytest

import kmcore
from _kernel_cases import (
    DTYPES, X_OK, assert_bitwise_equal, effective_weights, make_data, make_weights, mean_tol,
    rounding_tol,
)
from kernel_reference import f64, ref_sqdist

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
