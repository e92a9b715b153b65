"""Weighted centers from labels (the M-step of Lloyd's algorithm).

Public: the kernel :func:`update_centers`, and its two trusted-input halves
(:func:`weighted_sums`, :func:`means_from_sums`) for drivers that keep the
float64 sums between steps.
"""

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from kmcore import _centers, _input
from kmcore._threads import effective_n_threads
from kmcore._validation import check_positive_int

__all__ = ["means_from_sums", "update_centers", "weighted_sums"]


def update_centers(X: ArrayLike, labels: ArrayLike, n_clusters: int,
                   sample_weight: ArrayLike | None = None, centers_old: ArrayLike | None = None,
                   n_threads: int | None = None, check_input: bool = True
                   ) -> tuple[NDArray[np.floating], NDArray[np.float64]]:
    """Weighted mean of the rows of each cluster.

    Sums are accumulated in float64 (also for float32 data), over a number of
    row parts fixed by the shape (not by the thread count) and added in part
    order: the result is bitwise the same for any thread count.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    labels : array-like of int of shape (n_samples,)
        Cluster of every row, in ``[0, n_clusters)``.
    n_clusters : int
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights; None means 1 for every row.
    centers_old : array-like of shape (n_clusters, n_features), default=None
        Where a cluster receives no weight (empty), its center is the row of
        ``centers_old``; without ``centers_old`` it is NaN, so that an empty
        cluster is never mistaken for a mean. Check ``counts``.
    n_threads : int, default=None
        OpenMP threads. None: ``kmcore.effective_n_threads`` (OpenMP's limit and the
        CPUs; one thread for small inputs); -1 all CPUs.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).
        ``labels`` must then be a contiguous intp array; its range is
        checked in either mode.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
    counts : ndarray of shape (n_clusters,), float64
    """
    X = _input.data(X, "X", check_input)
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    if check_input:
        labels = check_labels(labels, X.shape[0], n_clusters)
    else:
        labels = trusted_labels(labels, X.shape[0])
    sample_weight = _input.sample_weight(sample_weight, X.shape[0], X.dtype, check_input)
    if centers_old is not None:
        centers_old = _input.centers(centers_old, X.shape[1], X.dtype, check_input,
                                     "centers_old")
        if centers_old.shape[0] != n_clusters:
            raise ValueError(
                f"centers_old must have {n_clusters} rows, got {centers_old.shape[0]}"
            )
    n_threads = effective_n_threads(n_threads, work=X.size)
    sums, weights = weighted_sums(X, labels, n_clusters, sample_weight, n_threads)
    fill = centers_old if centers_old is not None else np.full((n_clusters, X.shape[1]), np.nan)
    return means_from_sums(sums, weights, fill, X.dtype, n_threads=n_threads), weights


def check_labels(labels, n_samples, n_clusters):
    """Validate integer labels in ``[0, n_clusters)``; returned as contiguous intp."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},), got {labels.shape}")
    if labels.min() < 0 or labels.max() >= n_clusters:
        raise ValueError(
            f"labels must lie in [0, {n_clusters}), got [{labels.min()}, {labels.max()}]"
        )
    return np.ascontiguousarray(labels, dtype=np.intp)


def trusted_labels(labels, n_samples):
    """Labels used as given (check_input=False): O(1) checks, the kernel checks the range."""
    if not isinstance(labels, np.ndarray) or labels.dtype != np.intp:
        raise TypeError(f"labels must be an intp ndarray when check_input=False, got "
                        f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape != (n_samples,) or not labels.flags.c_contiguous:
        raise ValueError(f"labels must be a contiguous array of shape ({n_samples},), "
                         f"got {labels.shape}")
    return labels


# The M-step's row parts (see _centers.pyx). More parts let more threads share
# the pass, but every part beyond the first adds a K x D float64 buffer to
# fill (page faults included) and to add at the end. The parts depend on the
# shape alone, never on the thread count; they double, up to 8, while
# - each part reads at least 4x the bytes of its K x D float64 buffer: the
#   buffers stay cheap next to the rows, and all of them together within a
#   quarter of X's size;
# - each part has at least 2048 rows (small parts cost more in buffers than
#   their thread gains);
# - beyond two parts, each has at least 16384 rows: reading X is bandwidth
#   bound, so the parts beyond two gain only on machines with more cores and
#   cost on all.
# The measurements behind these thresholds: benchmarks/TUNING.md.
_MAX_ROW_PARTS = 8
_PART_READ_PER_SUMS = 4
_MIN_PART_ROWS = 2048
_MIN_ROWS_BEYOND_TWO = 16384


def _row_bounds(n_samples, n_features, n_clusters, itemsize):
    """Boundaries of the M-step's contiguous row parts (see above)."""

    def allowed(parts):
        rows = n_samples // parts
        return (
            parts <= _MAX_ROW_PARTS
            and rows >= _MIN_PART_ROWS
            and rows * itemsize >= _PART_READ_PER_SUMS * n_clusters * 8
            and (parts <= 2 or rows >= _MIN_ROWS_BEYOND_TWO)
        )

    parts = 1
    while allowed(2 * parts):
        parts *= 2
    return (np.arange(parts + 1, dtype=np.intp) * n_samples) // parts


def weighted_sums(X: NDArray[np.floating], labels: NDArray[np.intp], n_clusters: int,
                  sample_weight: NDArray[np.floating] | None,
                  n_threads: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """float64 per-cluster sums and weights of the rows (trusted input).

    Summed over row parts fixed by the shape and added in part order: the
    result does not depend on ``n_threads``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous float32 or float64
    labels : ndarray of shape (n_samples,), C-contiguous intp
        Range-checked by the kernel (ValueError).
    n_clusters : int >= 1
    sample_weight : ndarray of shape (n_samples,), X's dtype, or None
    n_threads : int >= 1

    Returns
    -------
    sums : ndarray of shape (n_clusters, n_features), float64
    weights : ndarray of shape (n_clusters,), float64
    """
    n, d = X.shape
    bounds = _row_bounds(n, d, n_clusters, X.dtype.itemsize)
    n_parts = bounds.shape[0] - 1
    sums = np.empty((n_clusters, d), dtype=np.float64)
    weights = np.empty(n_clusters, dtype=np.float64)
    _centers._weighted_sums(
        X, labels, _unit_or(sample_weight, X.dtype), bounds,
        np.empty((n_parts - 1, n_clusters, d), dtype=np.float64),
        np.empty((n_parts - 1, n_clusters), dtype=np.float64),
        np.empty((n_parts, n_clusters), dtype=np.uint8),
        sums, weights, n_threads,
    )
    return sums, weights


def means_from_sums(sums: NDArray[np.float64], weights: NDArray[np.float64],
                    fill: NDArray[np.floating], dtype: DTypeLike,
                    shift: NDArray[np.float64] | None = None,
                    n_threads: int = 1) -> NDArray[np.floating]:
    """Centers ``sums / weights`` where the weight is positive, ``fill``'s rows elsewhere.

    Divided in float64, rounded once to ``dtype``.

    Parameters
    ----------
    sums : array-like of shape (n_clusters, n_features)
        Per-cluster weighted sums (float64; others are converted).
    weights : array-like of shape (n_clusters,)
        Per-cluster weights (float64; others are converted).
    fill : array-like of shape (n_clusters, n_features)
        The rows kept where the weight is not positive (usually the old
        centers); copied, never modified.
    dtype : numpy dtype
        float32 or float64: the dtype of the result.
    shift : ndarray of shape (n_clusters,), float64, default=None
        Receives how far each center moved from ``fill`` (as rounded to ``dtype``).
    n_threads : int >= 1, default=1

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), ``dtype``
    """
    centers = np.array(fill, dtype=dtype, order="C", copy=True)
    _centers._means(np.ascontiguousarray(sums, dtype=np.float64),
                    np.ascontiguousarray(weights, dtype=np.float64), centers,
                    np.empty(0) if shift is None else shift, n_threads)
    return centers


def _unit_or(sample_weight, dtype):
    """The kernels read an empty weight vector as 'all ones' (no N-sized allocation)."""
    return np.empty(0, dtype=dtype) if sample_weight is None else sample_weight
