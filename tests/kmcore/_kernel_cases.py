"""Data makers, tolerances and checks shared by the kmcore kernel tests.

Every kernel is compared with a float64 brute-force reference (kernel_reference.py)
(distances by explicit differences, never by the GEMM expansion). float32
results are checked with tolerances scaled to float32 rounding of the GEMM
expansion; argmin disagreements are allowed only on rows where the
reference's best and chosen distances are within that rounding (near-ties).
"""

import numpy as np

from kernel_reference import f64

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


def force_row_parts(monkeypatch):
    """Make the M-step's second pass cut even small inputs into up to 8 row parts."""
    monkeypatch.setattr("kmcore.centers._MIN_PART_ROWS", 1)
    monkeypatch.setattr("kmcore.centers._PART_READ_PER_SUMS", 0)
    monkeypatch.setattr("kmcore.centers._MIN_ROWS_BEYOND_TWO", 1)


# Small valid inputs that the bad-input tests spoil one argument at a time.
X_OK = make_data(20, 3)
C_OK = X_OK[:4].copy()
LABELS_OK = np.arange(20) % 4
W_OK = np.ones(20)
