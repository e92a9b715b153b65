"""Nearest-center assignment and the fused Lloyd step.

Public: the kernels :func:`assign` and :func:`lloyd_step` (input checked, or
trusted with ``check_input=False``), and the trusted-input pieces a driver
composes them from (:func:`assign_rows`, :func:`finish_step`,
:data:`EXACT_BELOW`): arguments exactly as the kernels use them (C-contiguous
float32/float64 arrays of X's dtype, a thread count >= 1), only the O(1)
shape checks that keep the native code inside its buffers.
"""

import warnings
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kmcore import _assign, _input
from kmcore._origin import NO_ORIGIN, data_origin, shifted
from kmcore._threads import blas_single_threaded, block_sizes, effective_n_threads
from kmcore._validation import check_kernel_inputs
from kmcore.centers import _unit_or, means_from_sums, weighted_sums
from kmcore.distances import _row_norms, relative_error

__all__ = ["EXACT_BELOW", "LloydStep", "assign", "assign_rows", "finish_step", "lloyd_step"]


def assign(X: ArrayLike, centers: ArrayLike, x_sqnorms: ArrayLike | None = None,
           n_threads: int | None = None,
           check_input: bool = True) -> tuple[NDArray[np.intp], NDArray[np.floating]]:
    """Nearest center of every row and the squared distance to it.

    One fused pass: a GEMM on a cache-sized block of rows and centers, then
    the argmin while the block is hot. Memory is O(threads x block), never
    n_samples x n_clusters. The labels are those of exact arithmetic: a row
    whose two nearest centers are within the expansion's rounding of each
    other (a near tie, rare) gets its distances summed directly in float64,
    so rounding never picks the label; ties go to the lowest center index.
    The bound kernels (``kmcore.yinyang``, ``kmcore.hamerly``) follow the
    same rule, so every strategy gives the same labels.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        float32 stays float32; other real types become float64.
    centers : array-like of shape (n_clusters, n_features)
        Cast to X's dtype.
    x_sqnorms : array-like of shape (n_samples,), default=None
        Precomputed squared row norms of X (reuse them across calls).
    n_threads : int, default=None
        OpenMP threads. None: ``kmcore.effective_n_threads`` (OpenMP's limit and the
        CPUs; one thread for small inputs); -1 all CPUs.
        Each row is computed on its own: the result is bitwise the same for
        any thread count.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).

    Returns
    -------
    labels : ndarray of shape (n_samples,), intp
    min_sqdist : ndarray of shape (n_samples,), X's dtype
        ``||x - c||^2`` for the chosen center (so ``min_sqdist.sum()`` is the
        inertia): by the GEMM expansion where it is accurate, recomputed
        directly where the expansion cancelled (distance small against
        ``||x||^2 + ||c||^2``), so it is accurate in float32 too.

    Data far from the origin against their spread (``||m||^2 > 16 s^2``, m
    the mean of up to 64 evenly spaced rows, s^2 their mean squared distance
    to m) are computed around m instead (see ``kmcore._origin``), with the
    norms of the shifted rows computed on the fly (``x_sqnorms`` then goes
    unused): labels stay right in float32 at any offset, and data near the
    origin keep the plain expansion.
    """
    X = _input.data(X, "X", check_input)
    centers = _input.centers(centers, X.shape[1], X.dtype, check_input)
    x_sqnorms = _input.sqnorms(x_sqnorms, "x_sqnorms", X.shape[0], X.dtype, check_input)
    n_threads = effective_n_threads(n_threads, work=X.size * centers.shape[0])
    if x_sqnorms is None:
        x_sqnorms = _row_norms(X, True, n_threads)
    labels, min_sqdist, _, _ = assign_rows(X, x_sqnorms, centers, None, n_threads)
    return labels, min_sqdist


# Row slices of the E-step: the unit of parallel work, fixed so that results
# never depend on the thread count. Each slice owns its inertia and, with the
# M-step fused, its K x D sums: then there are 8 (more threads than slices
# would idle); without, every chunk of rows is a slice, which keeps threads
# evenly loaded to the end (with 8 slices on 2 threads, a core slowed by
# another process can leave the other idle for up to an eighth of the pass).
_N_FUSED_SLICES = 8
# The M-step is fused into the E-step (per-slice float64 sums, added while the
# rows are still in cache) while one slice's K x D sums fit in L2; beyond, the
# random row-to-cluster additions spill to L3 and cost more than a second
# pass that reads X again (the measurements: benchmarks/TUNING.md).
_FUSED_SUMS_BYTES = 512 << 10
#: Distances below this fraction of ``||x||^2 + ||c||^2`` (by dtype) are
#: recomputed directly, here, in the seeding and in dynkm's sparse distances:
#: the expansion's rounding error is about ``2 eps (||x||^2 + ||c||^2)``, so
#: what is kept from it has a relative error below ``2 eps / threshold``.
EXACT_BELOW = {np.dtype(np.float32): 1e-2, np.dtype(np.float64): 1e-6}


def assign_rows(X: NDArray[np.floating], x_sqnorms: NDArray[np.floating],
                centers: NDArray[np.floating], sample_weight: NDArray[np.floating] | None,
                n_threads: int, with_sums: bool = False
                ) -> tuple[NDArray[np.intp], NDArray[np.floating], float,
                           tuple[NDArray[np.float64], NDArray[np.float64]] | None]:
    """The E-step of :func:`assign` on trusted input, with the weighted inertia.

    Far from the origin the distances are computed around the data's mean
    (:mod:`kmcore.origin`), as in :func:`assign`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous float32 or float64
    x_sqnorms : ndarray of shape (n_samples,), X's dtype
        Squared row norms of X (:func:`kmcore.row_norms`).
    centers : ndarray of shape (n_clusters, n_features), C-contiguous, X's dtype
    sample_weight : ndarray of shape (n_samples,), X's dtype, or None
        None: every row weighs 1.
    n_threads : int >= 1
        OpenMP threads (see :func:`kmcore.effective_n_threads`).
    with_sums : bool, default=False
        Also accumulate the M-step's float64 per-cluster sums in the same
        pass, when one slice's K x D sums are small enough to stay in cache.

    Returns
    -------
    labels : ndarray of shape (n_samples,), intp
    min_sqdist : ndarray of shape (n_samples,), X's dtype
    inertia : float
        ``sum(sample_weight * min_sqdist)``, summed in a fixed order.
    sums : tuple of (ndarray of shape (n_clusters, n_features), ndarray of shape (n_clusters,))
        The float64 per-cluster weighted sums and weights, when ``with_sums``
        and they were fused; else None (compute them with
        :func:`kmcore.centers.weighted_sums`).
    """
    check_kernel_inputs(X, centers, x_sqnorms, sample_weight)
    n, d = X.shape
    k = centers.shape[0]
    chunk_rows, k_block = block_sizes(n, d, k, X.dtype.itemsize)
    chunk_rows = max(chunk_rows, 1)
    n_chunks = -(-n // chunk_rows)
    fused = with_sums and k * d * 8 <= _FUSED_SUMS_BYTES
    n_slices = min(_N_FUSED_SLICES, n_chunks) if fused else n_chunks
    n_workers = max(1, min(n_threads, n_slices))
    labels = np.empty(n, dtype=np.intp)
    min_sqdist = np.empty(n, dtype=X.dtype)
    slice_inertia = np.empty(n_slices, dtype=np.float64)
    slice_sums = np.empty((n_slices, k, d) if fused else (0, 0, 0), dtype=np.float64)
    slice_weights = np.empty((n_slices, k) if fused else (0, 0), dtype=np.float64)
    origin = data_origin(X)
    if origin is None:
        origin, gemm_centers, row_width = NO_ORIGIN, centers, chunk_rows * (k_block + 3)
    else:
        # Room for the chunk of shifted rows and their norms.
        gemm_centers = shifted(centers, origin, X.dtype)
        row_width = chunk_rows * (k_block + 3) + chunk_rows * (d + 1)
    buffers = np.empty((n_workers, row_width), dtype=X.dtype)
    block_labels = np.empty((n_workers, chunk_rows), dtype=np.int32)
    c_sqnorms = _row_norms(gemm_centers, True, n_threads)
    with blas_single_threaded():
        _assign._assign_chunked(
            X, x_sqnorms, centers, c_sqnorms, _unit_or(sample_weight, X.dtype),
            buffers, block_labels, labels, min_sqdist, slice_inertia, slice_sums, slice_weights,
            EXACT_BELOW[X.dtype], relative_error(d, X.dtype), chunk_rows, k_block, n_workers,
            origin, gemm_centers,
        )
    # Slices are added in order: nothing here depends on the thread count.
    inertia = float(slice_inertia.sum())
    sums = (slice_sums.sum(axis=0), slice_weights.sum(axis=0)) if fused else None
    return labels, min_sqdist, inertia, sums


class LloydStep(NamedTuple):
    """Result of one Lloyd iteration (see :func:`lloyd_step`)."""

    labels: np.ndarray
    """Nearest *old* center of every row (intp)."""
    centers: np.ndarray
    """New centers: weighted means of the clusters (X's dtype)."""
    counts: np.ndarray
    """Total sample weight of each new cluster (float64)."""
    inertia: float
    """Weighted sum of squared distances to the old centers."""
    center_shift: np.ndarray
    """Euclidean distance each center moved."""
    n_relocated: int
    """Empty clusters given a far point."""

    @property
    def weight_in_clusters(self) -> np.ndarray:
        """Deprecated name of :attr:`counts` (one name per concept across dynkm)."""
        warnings.warn("LloydStep.weight_in_clusters is deprecated since dynkm 0.1 and will be "
                      "removed in 0.3; use LloydStep.counts (the same array)", FutureWarning,
                      stacklevel=2)
        return self.counts


def lloyd_step(X: ArrayLike, centers: ArrayLike, sample_weight: ArrayLike | None = None,
               x_sqnorms: ArrayLike | None = None, relocate_empty: bool = True,
               n_threads: int | None = None, check_input: bool = True) -> LloydStep:
    """One Lloyd iteration: assign every row, then move every center to its mean.

    The E-step is :func:`assign`. The M-step accumulates the weighted sums in
    float64: while K x D is small, in the same pass (each of 8 fixed row
    slices sums its rows while they are in cache); otherwise in a second pass
    over up to 8 contiguous row parts, as many as the shape warrants. Either
    way each part has its own sums, added in part order afterwards: no lock,
    and the result is bitwise the same for any thread count.

    Empty clusters (no weight after assignment), when ``relocate_empty``: the
    rows of positive weight farthest from their center are moved into them,
    farthest first (ties to the lower row index), each empty cluster in index
    order taking the next one, as scikit-learn does; nothing is relocated when
    every row sits on its center. A cluster that ends with no weight keeps its
    old center (and reports weight 0).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    centers : array-like of shape (n_clusters, n_features)
        Current centers (cast to X's dtype).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights; None means 1 for every row.
    x_sqnorms : array-like of shape (n_samples,), default=None
        Precomputed squared row norms of X.
    relocate_empty : bool, default=True
        Relocate empty clusters as above; if False they keep their old center.
    n_threads : int, default=None
        OpenMP threads. None: ``kmcore.effective_n_threads`` (OpenMP's limit and the
        CPUs; one thread for small inputs); -1 all CPUs.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).

    Returns
    -------
    LloydStep
        ``labels, centers, counts, inertia, center_shift, n_relocated``.
    """
    X = _input.data(X, "X", check_input)
    centers = _input.centers(centers, X.shape[1], X.dtype, check_input)
    sample_weight = _input.sample_weight(sample_weight, X.shape[0], X.dtype, check_input)
    x_sqnorms = _input.sqnorms(x_sqnorms, "x_sqnorms", X.shape[0], X.dtype, check_input)
    n_threads = effective_n_threads(n_threads, work=X.size * centers.shape[0])
    if x_sqnorms is None:
        x_sqnorms = _row_norms(X, True, n_threads)
    return _lloyd_step(X, x_sqnorms, centers, sample_weight, relocate_empty, n_threads)


def _lloyd_step(X, x_sqnorms, centers, sample_weight, relocate_empty, n_threads):
    """lloyd_step on validated input (assign_rows checks the shapes)."""
    k = centers.shape[0]
    labels, min_sqdist, inertia, fused = assign_rows(
        X, x_sqnorms, centers, sample_weight, n_threads, with_sums=True
    )
    if fused is not None:
        sums, weights = fused
    else:
        sums, weights = weighted_sums(X, labels, k, sample_weight, n_threads)
    # assign_rows checked the shapes and made the labels: nothing to check again.
    return _finish(X, sample_weight, centers, labels, min_sqdist, inertia, sums, weights,
                   relocate_empty, n_threads)


def finish_step(X: NDArray[np.floating], sample_weight: NDArray[np.floating] | None,
                centers: NDArray[np.floating], labels: NDArray[np.intp],
                min_sqdist: NDArray[np.floating], inertia: float, sums: NDArray[np.float64],
                weights: NDArray[np.float64], relocate_empty: bool,
                n_threads: int) -> LloydStep:
    """The end of :func:`lloyd_step` from an E-step and its float64 sums (trusted input).

    Relocates empty clusters (as :func:`lloyd_step` describes), then divides
    the sums into the new centers and measures how far each moved.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Read only for the rows moved into empty clusters.
    sample_weight : ndarray of shape (n_samples,) or None
    centers : ndarray of shape (n_clusters, n_features), X's dtype
        The centers the E-step assigned to (an empty cluster keeps its row).
    labels, min_sqdist : ndarray of shape (n_samples,)
        The E-step's labels and distances (:func:`assign_rows`).
    inertia : float
        Passed through to the result.
    sums : ndarray of shape (n_clusters, n_features), float64
    weights : ndarray of shape (n_clusters,), float64
        Per-cluster weighted sums and weights; modified in place when rows
        are relocated.
    relocate_empty : bool
    n_threads : int >= 1

    Returns
    -------
    LloydStep
    """
    check_kernel_inputs(X, centers, None, sample_weight, labels=labels)
    return _finish(X, sample_weight, centers, labels, min_sqdist, inertia, sums, weights,
                   relocate_empty, n_threads)


def _finish(X, sample_weight, centers, labels, min_sqdist, inertia, sums, weights,
            relocate_empty, n_threads):
    """:func:`finish_step` on arguments whose shapes were checked already."""
    n_relocated = 0
    if relocate_empty:
        n_relocated = _relocate_empty(X, sample_weight, labels, min_sqdist, sums, weights)
    shift = np.empty(centers.shape[0], dtype=np.float64)
    new_centers = means_from_sums(sums, weights, centers, X.dtype, shift, n_threads)
    return LloydStep(labels, new_centers, weights, inertia, shift, n_relocated)


def _relocate_empty(X, sample_weight, labels, min_sqdist, sums, weights):
    """Move the farthest rows into clusters of zero weight (in place on sums/weights)."""
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return 0
    # Only rows of positive weight off their center can fill a cluster.
    dist = min_sqdist if sample_weight is None else np.where(sample_weight > 0, min_sqdist, 0)
    # Farthest first; a stable sort on -distance breaks ties by lower index.
    far = np.argsort(-dist, kind="stable")[: empty.size]
    far = far[dist[far] > 0]
    # Fewer such rows than empty clusters: the last clusters stay empty.
    for cluster, row in zip(empty, far, strict=False):
        w = 1.0 if sample_weight is None else float(sample_weight[row])
        x = X[row]
        # A scipy sparse X (dynkm's classifier) gives a 1 x d matrix here.
        x = (x.toarray().ravel() if hasattr(x, "toarray") else x).astype(np.float64)
        old = labels[row]
        sums[old] -= w * x
        weights[old] -= w
        sums[cluster] = w * x
        weights[cluster] = w
    # A donor left with no weight must read 0, not the subtraction's rounding.
    moved = np.zeros(labels.shape[0], dtype=bool)
    moved[far] = True
    for old in np.unique(labels[far]):
        rest = (labels == old) & ~moved
        if not (rest.any() if sample_weight is None else (sample_weight[rest] > 0).any()):
            weights[old] = 0.0
            sums[old] = 0.0
    return int(far.size)
