"""kmcore.seeding: kmeans_plusplus (against scikit-learn) and farthest_first.

Every kernel is compared with a float64 NumPy reference (see _kernel_cases.py).
"""

import numpy as np
import pytest

import kmcore
from _kernel_cases import (
    DTYPES, SHAPE_IDS, SHAPES, X_OK, assert_bitwise_equal, make_data, make_weights, rounding_tol,
)
from kernel_reference import ref_sqdist

# --------------------------------------------------------------------------
# kmeans_plusplus
# --------------------------------------------------------------------------


# The seeding tests below run on one thread: a seeding step is one OpenMP
# region, and on a loaded machine thousands of them are slow. The thread
# count does not change the result (test_kernel_contract.py's
# test_thread_count_independence).
SEED_THREADS = 1


# 9 and 17 trials: candidates over more than one strip of the products (8
# float64 or 16 float32 lanes).
@pytest.mark.parametrize("n_local_trials", [None, 1, 5, 9, 17])
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
