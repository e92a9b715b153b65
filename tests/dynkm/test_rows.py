"""dynkm._rows: the CSR helpers against the dense kernels.

The classifiers' bounded Lloyd runs are tested against plain Lloyd in
classifier/test_classifier_fit.py (``_kmeans_run``) and tests/kmcore/test_yinyang.py (the
strategies).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from dynkm import _rows


def _data(dtype, spherical, seed=0):
    X, _ = make_blobs(1500, n_features=12, centers=25, cluster_std=3.0, random_state=seed)
    X = (X + 20.0).astype(dtype)
    return _rows.unit_rows(X, 1) if spherical else X


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
