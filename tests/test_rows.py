"""dynkm._rows: the bounded Lloyd iterations against plain Lloyd, and the CSR helpers."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from dynkm import _rows
from dynkm.kmeans import _lloyd


def _plain(X, w, centers, max_iter, tol, spherical):
    step = _rows.spherical_lloyd_step if spherical else _rows.lloyd_step
    return _lloyd(X, _rows.row_norms(X, 1), w, centers.copy(), max_iter, tol, 1, 1, 0,
                  step_fn=step, assign_fn=_rows.assign_rows)


def _same_centers(a, b):
    # The sums run in another order than the fused pass of plain Lloyd: equal to rounding.
    np.testing.assert_allclose(a, b, rtol=1e-5 if a.dtype == np.float32 else 1e-12, atol=1e-12)


def _data(dtype, spherical, seed=0):
    X, _ = make_blobs(1500, n_features=12, centers=25, cluster_std=3.0, random_state=seed)
    X = (X + 20.0).astype(dtype)
    return _rows.unit_rows(X, 1) if spherical else X


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("spherical", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("tol", [0.0, 1e-3])
def test_bounded_lloyd_equals_lloyd(dtype, spherical, weighted, tol):
    X = _data(dtype, spherical)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, len(X)).astype(dtype) if weighted else None
    centers = X[rng.choice(len(X), 40, replace=False)].copy()
    plain = _plain(X, w, centers, 30, tol, spherical)
    bounded = _rows.bounded_lloyd(X, _rows.row_norms(X, 1), w, centers.copy(), 30, tol, 1,
                                  spherical)
    np.testing.assert_array_equal(bounded["labels"], plain["labels"])
    _same_centers(bounded["centers"], plain["centers"])
    assert bounded["n_iter"] == plain["n_iter"]
    # Inertia of the final centers (plain reports the last step's when it stops on labels).
    ref = float(((X.astype(np.float64) - bounded["centers"][bounded["labels"]]) ** 2).sum(1)
                @ (np.ones(len(X)) if w is None else w.astype(np.float64)))
    np.testing.assert_allclose(bounded["inertia"], ref, rtol=1e-5 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("max_iter", [1, 3])
def test_bounded_lloyd_stops_at_max_iter(max_iter):
    X = _data(np.float64, False)
    centers = X[np.random.default_rng(2).choice(len(X), 40, replace=False)].copy()
    plain = _plain(X, None, centers, max_iter, 0.0, False)
    bounded = _rows.bounded_lloyd(X, _rows.row_norms(X, 1), None, centers.copy(), max_iter,
                                  0.0, 1, False)
    assert bounded["n_iter"] == plain["n_iter"] == max_iter
    _same_centers(bounded["centers"], plain["centers"])
    np.testing.assert_array_equal(bounded["labels"], plain["labels"])


def test_bounded_lloyd_relocates_empty_clusters():
    # Two identical initial centers: one of them wins nothing and must be refilled.
    X = _data(np.float64, False, seed=3)
    rng = np.random.default_rng(3)
    centers = X[rng.choice(len(X), 20, replace=False)].copy()
    centers[1] = centers[0]
    plain = _plain(X, None, centers, 30, 0.0, False)
    bounded = _rows.bounded_lloyd(X, _rows.row_norms(X, 1), None, centers.copy(), 30, 0.0, 1,
                                  False)
    _same_centers(bounded["centers"], plain["centers"])
    np.testing.assert_array_equal(bounded["labels"], plain["labels"])
    assert np.bincount(bounded["labels"], minlength=20).min() > 0


def test_bounded_lloyd_thread_independent():
    X = _data(np.float32, False)
    centers = X[np.random.default_rng(4).choice(len(X), 40, replace=False)].copy()
    runs = [_rows.bounded_lloyd(X, _rows.row_norms(X, t), None, centers.copy(), 30, 0.0, t,
                                False) for t in (1, 2)]
    np.testing.assert_array_equal(runs[0]["centers"], runs[1]["centers"])  # bitwise
    np.testing.assert_array_equal(runs[0]["labels"], runs[1]["labels"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csr_helpers_match_dense(dtype):
    X = _data(dtype, False)
    X[X < 21.0] = 0  # some zeros, so the CSR matrix is sparse
    Xs = sp.csr_matrix(X)
    centers = X[:30].copy()
    xs = _rows.row_norms(X, 1)
    np.testing.assert_allclose(_rows.row_norms(Xs, 1), xs, rtol=1e-6)
    dense = _rows.assign_rows(X, xs, centers, None, 1)
    sparse = _rows.assign_rows(Xs, _rows.row_norms(Xs, 1), centers, None, 1)
    np.testing.assert_array_equal(sparse[0], dense[0])
    labels = dense[0]
    w = np.linspace(0.5, 1.5, len(X)).astype(dtype)
    sums, weights = _rows.weighted_sums(Xs, labels, 30, w, 1)
    ref = np.zeros((30, X.shape[1]))
    np.add.at(ref, labels, X.astype(np.float64) * w[:, None].astype(np.float64))
    np.testing.assert_allclose(sums, ref, rtol=1e-6)
    np.testing.assert_allclose(weights, np.bincount(labels, weights=w.astype(np.float64),
                                                    minlength=30), rtol=1e-6)
