"""Input checks shared by the public kernels: clear errors naming the argument."""

import numbers

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray
import scipy.sparse as sp

# Rows per slice when scanning for NaN/inf after a non-finite sum (bounded memory).
_FINITE_SCAN_ROWS = 65536


def check_data(X: ArrayLike, name: str = "X",
               dtype: DTypeLike | None = None) -> NDArray[np.floating]:
    """Return ``X`` as a C-contiguous float32/float64 2-D array, checked.

    float32 and float64 are kept (``dtype`` forces one); integer and boolean
    input becomes float64. C-contiguous input, read-only and memory-mapped
    arrays included, is used without a copy; other layouts are copied once.

    Raises
    ------
    TypeError
        Sparse, complex, object or non-numeric input.
    ValueError
        Not 2-D, no rows or no columns, NaN or infinity.
    """
    if sp.issparse(X):
        raise TypeError(
            f"{name}: sparse input is not supported by this kernel; pass a dense array"
        )
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    if dtype is None:
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    X = np.ascontiguousarray(X, dtype=dtype)
    assert_finite(X, name)
    return X


def assert_finite(X: np.ndarray, name: str) -> None:
    """Raise ValueError if ``X`` holds NaN or infinity (one summing pass when clean)."""
    if X.dtype.kind in "biu":
        return
    # A sum in X's own dtype is finite only if every element is (NaN and
    # infinity propagate); finite values whose sum overflows fall through to
    # the scan below, which finds nothing. Summing in float64 instead would
    # convert every float32 element on the way, several times slower.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(X)):
            return
    flat = X.reshape(X.shape[0], -1) if X.ndim > 1 else X.reshape(-1, 1)
    for start in range(0, flat.shape[0], _FINITE_SCAN_ROWS):
        bad = ~np.isfinite(flat[start:start + _FINITE_SCAN_ROWS])
        if bad.any():
            row = start + int(np.flatnonzero(bad.any(axis=1))[0])
            raise ValueError(f"{name} contains NaN or infinity (first in row {row})")


def check_vector(v: ArrayLike, name: str, n: int, dtype: DTypeLike) -> np.ndarray:
    """Return a length-``n`` contiguous vector of ``dtype``, finite."""
    if sp.issparse(v):
        raise TypeError(f"{name}: sparse input is not supported")
    v = np.asarray(v)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {v.dtype}")
    if v.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {v.shape}")
    v = np.ascontiguousarray(v, dtype=dtype)
    assert_finite(v, name)
    return v


def check_sample_weight(sample_weight: ArrayLike | None, n: int,
                        dtype: DTypeLike) -> NDArray[np.floating] | None:
    """Validate weights: None stays None (unit weights); else non-negative, some positive."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n, sample_weight)
    w = check_vector(sample_weight, "sample_weight", n, dtype)
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative")
    if not (w > 0).any():
        raise ValueError("sample_weight is zero everywhere: at least one weight must be positive")
    # Each weight is finite, but their sum must be too, in the working dtype:
    # the kernels and the seeding's draw probabilities divide by it.
    total, limit = float(np.sum(w, dtype=np.float64)), float(np.finfo(w.dtype).max)
    if not total <= limit:
        raise ValueError(
            f"sample_weight sums to {total:.3g}, beyond the range of {w.dtype} "
            f"(max {limit:.3g}): rescale the weights"
        )
    return w


def check_centers(centers: ArrayLike, n_features: int, dtype: DTypeLike,
                  name: str = "centers") -> NDArray[np.floating]:
    """Validate a (k, n_features) array of centers, cast to the data's dtype."""
    centers = check_data(centers, name, dtype=dtype)
    if centers.shape[1] != n_features:
        raise ValueError(
            f"{name} has {centers.shape[1]} features but the data has {n_features}"
        )
    return centers


def check_n_clusters(n_clusters: int, n_samples: int, name: str = "n_clusters") -> int:
    """Validate a cluster count: an integer with 1 <= n_clusters <= n_samples."""
    if isinstance(n_clusters, (bool, np.bool_)) or not isinstance(n_clusters, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {n_clusters!r}")
    if n_clusters < 1:
        raise ValueError(f"{name} must be >= 1, got {n_clusters}")
    if n_clusters > n_samples:
        raise ValueError(f"n_samples={n_samples} should be >= {name}={n_clusters}")
    return int(n_clusters)


def check_int(value: int, name: str, low: int = 1, high: int | None = None) -> int:
    """An integer in ``[low, high]`` (``high`` None: no bound), else TypeError/ValueError
    naming it; bools are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return int(value)


def check_positive_int(value: int, name: str, maximum: int | None = None) -> int:
    """Validate an integer >= 1 (and <= ``maximum`` when given)."""
    return check_int(value, name, 1, maximum)


def check_kernel_inputs(X, centers=None, x_sqnorms=None, sample_weight=None, labels=None,
                        centers_name="centers"):
    """Shapes the private (pre-validated) entry points rely on; O(1).

    The estimators call the kernels' private wrappers with arrays they
    checked themselves. A slip there (say centers of another width after a
    failed refit) must raise, not let native code read past a buffer.
    """
    n, d = X.shape
    if centers is not None and (centers.ndim != 2 or centers.shape[1] != d):
        raise ValueError(f"{centers_name} has shape {centers.shape} but X has {d} features")
    for name, v in (("x_sqnorms", x_sqnorms), ("sample_weight", sample_weight),
                    ("labels", labels)):
        if v is not None and v.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},) to match X, got {v.shape}")


def check_sqnorms(sqnorms: ArrayLike | None, name: str, n: int,
                  dtype: DTypeLike) -> NDArray[np.floating] | None:
    """Validate precomputed squared norms (None means: compute them)."""
    if sqnorms is None:
        return None
    v = check_vector(sqnorms, name, n, dtype)
    if (v < 0).any():
        raise ValueError(f"{name} must be non-negative")
    return v


def check_random_state(seed: int | np.random.RandomState | None) -> np.random.RandomState:
    """Turn None, an int or a RandomState into a numpy RandomState.

    None gives numpy's global RandomState, as in scikit-learn, so that code
    seeding numpy globally is reproducible.
    """
    if seed is None:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    raise TypeError(f"random_state must be None, an int or a numpy RandomState, got {seed!r}")
