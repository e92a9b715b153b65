"""Plain float64 NumPy references for the kernel tests, and the tolerances they allow.

Distances here are explicit differences summed in float64 (never the GEMM
expansion). The tolerance of a kernel's distance is what a computation
*centered* on the data would achieve: the expansion's rounding scales with
the squared norms it combines, so a kernel that handles data far from the
origin correctly is allowed an error proportional to the spread of the data
around their mean, not to the offset.
"""

import numpy as np


def f64(a):
    return np.asarray(a, dtype=np.float64)


def ref_sqdist(X, C):
    """Squared distances by explicit differences in float64 (blocked for memory)."""
    X, C = f64(X), f64(C)
    out = np.empty((X.shape[0], C.shape[0]))
    step = max(1, 2_000_000 // max(1, C.shape[0] * X.shape[1]))
    for s in range(0, X.shape[0], step):
        out[s:s + step] = ((X[s:s + step, None, :] - C[None]) ** 2).sum(-1)
    return out


def centered_tol(X, C, dtype):
    """Absolute error allowed on each ||x_i - c_j||^2, shape (n, k).

    About what a computation centered on the data's mean mu achieves: the
    expansion combines ||x - mu||^2 + ||c - mu||^2 (doubled here for the
    kernel's own estimate of mu) with an error of about eps sqrt(d) times
    that, and the result is rounded once. A kernel may skip the shift while
    ||mu||^2 <= 16 times the spread (the mean ||x - mu||^2; 32 here, for its
    estimate): then it also combines 4 ||mu||^2. A safety factor of 8.
    """
    X, C = f64(X), f64(C)
    mu = X.mean(axis=0)
    xs = ((X - mu) ** 2).sum(axis=1)
    cs = ((C - mu) ** 2).sum(axis=1)
    mu_sq = float(mu @ mu)
    offset = 4 * mu_sq if mu_sq <= 32 * xs.mean() else 0.0
    eps = np.finfo(dtype).eps
    d = X.shape[1]
    gemm = eps * max(1.0, np.sqrt(d)) * (2 * xs[:, None] + 2 * cs[None, :] + offset)
    return 8 * gemm + 2 * eps * ref_sqdist(X, C) + np.finfo(dtype).tiny


def clear_rows(D, tol):
    """Rows whose nearest center wins by more than the tolerances of both distances.

    ``D`` and ``tol`` of shape (n, k): row i is clear when, for its nearest
    center b, every other center j has ``D[i, j] - tol[i, j] > D[i, b] + tol[i, b]``.
    """
    n, k = D.shape
    rows = np.arange(n)
    best = D.argmin(axis=1)
    hi = D[rows, best] + tol[rows, best]
    lo = D - tol
    lo[rows, best] = np.inf
    return lo.min(axis=1) > hi


def ref_means(X, labels, k, w=None):
    """Weighted cluster means (NaN where a cluster has no weight) and the weights."""
    X = f64(X)
    w = np.ones(X.shape[0]) if w is None else f64(w)
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, w[:, None] * X)
    weights = np.bincount(labels, weights=w, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / weights[:, None]
    means[weights <= 0] = np.nan
    return means, weights


def ref_soft(X, C, beta):
    """float64 responsibilities softmax(-beta ||x - c||^2) and the distances."""
    D = ref_sqdist(X, C)
    Z = -beta * (D - D.min(axis=1, keepdims=True))
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True), D


def mean_tol(X, dtype):
    """Absolute error of a mean of rows of X computed in float64 then rounded to dtype."""
    scale = float(np.abs(f64(X)).max()) + 1.0
    return (1e-10 if dtype == np.float64 else 1e-6) * scale


def assert_bitwise_equal(a, b):
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
