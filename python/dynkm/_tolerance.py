"""scikit-learn's tolerance: ``tol`` relative to the data's mean per-feature variance.

Every estimator with a ``tol`` (KMeans, MiniBatchKMeans, SoftKMeans, the
classifiers) stops on ``tol * mean_variance(X)``, dense or CSR X.
"""

import numpy as np
import scipy.sparse as sp

# Rows per slice when computing the data's variance (bounded temporary memory).
_VARIANCE_ROWS = 8192


def absolute_tol(tol, X):
    """scikit-learn's tolerance: ``tol`` times X's :func:`mean_variance` (0 stays 0,
    without the pass over X)."""
    return tol * mean_variance(X) if tol > 0 else 0.0


def mean_variance(X):
    """Mean over features of the per-feature variance (scikit-learn's tol scale)."""
    if not sp.issparse(X):
        return _mean_variance(X)
    mean = np.asarray(X.mean(axis=0, dtype=np.float64)).ravel()
    mean_sq = np.asarray(X.multiply(X).mean(axis=0, dtype=np.float64)).ravel()
    return float(np.mean(mean_sq - mean ** 2))


def _mean_variance(X):
    """Mean over features of the per-feature variance of dense X, in float64, by row slices."""
    mean = X.mean(axis=0, dtype=np.float64)
    sq = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, X.shape[0], _VARIANCE_ROWS):
        diff = X[start:start + _VARIANCE_ROWS].astype(np.float64) - mean
        sq += np.einsum("ij,ij->j", diff, diff)
    return float(sq.mean() / X.shape[0])
