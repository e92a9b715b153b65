"""scikit-learn's tolerance: ``tol`` relative to the data's mean per-feature variance.

Every estimator with a ``tol`` (KMeans, MiniBatchKMeans, SoftKMeans, the
classifiers) stops on ``tol * mean_variance(X)``, dense or CSR X.
"""

import numpy as np
import scipy.sparse as sp

# Bytes of the float64 copy of a slice of rows when computing the data's
# variance: small enough to stay in cache between its three passes (convert,
# square, sum), which a slice of thousands of wide rows does not.
_VARIANCE_BYTES = 1 << 21


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
    """Mean over features of the per-feature variance of dense X, in float64, by row slices.

    Two passes (the mean, then the squared deviations from it), so that data
    far from the origin lose no digits; each slice goes through one reused
    float64 buffer.
    """
    n, d = X.shape
    rows = max(1, _VARIANCE_BYTES // (8 * max(1, d)))
    mean = np.zeros(d, dtype=np.float64)
    for start in range(0, n, rows):
        mean += X[start:start + rows].sum(axis=0, dtype=np.float64)
    mean /= n
    sq = np.zeros(d, dtype=np.float64)
    buffer = np.empty((min(rows, n), d), dtype=np.float64)
    for start in range(0, n, rows):
        part = X[start:start + rows]
        diff = buffer[:part.shape[0]]
        np.subtract(part, mean, out=diff)
        np.multiply(diff, diff, out=diff)
        sq += diff.sum(axis=0)
    return float(sq.mean() / n)
