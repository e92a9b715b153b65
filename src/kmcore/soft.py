"""Soft (fuzzy) assignment and the weighted-center update of soft k-means.

Public: the kernels :func:`soft_assign` and :func:`soft_update`, their
trusted-input parts for drivers that sum over batches
(:func:`soft_assign_rows`, :func:`soft_sums`), and :func:`check_beta`.
"""

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kmcore import _input, _soft
from kmcore._origin import NO_ORIGIN, data_origin, shifted
from kmcore._threads import blas_single_threaded, effective_n_threads
from kmcore._validation import check_kernel_inputs
from kmcore.centers import _unit_or, means_from_sums
from kmcore.distances import _row_norms, check_out_is_separate

__all__ = ["check_beta", "soft_assign", "soft_assign_rows", "soft_sums", "soft_update"]

# Rows per GEMM call of soft_assign and per partial product of soft_update.
_SOFT_CHUNK_ROWS = 1024
# Rows per GEMM call when the rows are first copied around a nearby origin
# (far from 0): the copy stays in the thread's cache.
_SHIFTED_CHUNK_ROWS = 256
# exp(-x) is below half the smallest subnormal of the dtype (so it rounds to 0,
# and so does its share of a row sum >= 1) for x beyond these.
_UNDERFLOW = {np.dtype(np.float32): 104.0, np.dtype(np.float64): 746.0}


def soft_assign(X: ArrayLike, centers: ArrayLike, beta: float, x_sqnorms: ArrayLike | None = None,
                n_threads: int | None = None, out: NDArray[np.floating] | None = None,
                check_input: bool = True) -> NDArray[np.floating]:
    """Responsibilities ``softmax(-beta * ||x - c||^2)`` of every center for every row.

    Computed by blocks of rows (one GEMM each) and normalised with the
    nearest center's distance as shift (log-sum-exp): finite and summing to 1
    for every beta > 0, from 1e-6 to 1e6 and beyond, whatever the scale of
    the data (the nearest center's term is exactly exp(0) = 1). Rows far
    from the origin against their spread are computed around their mean
    (see :func:`kmcore.assign`). Large beta tends to the hard
    (nearest-center) assignment.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    centers : array-like of shape (n_clusters, n_features)
    beta : float > 0
        Inverse temperature.
    x_sqnorms : array-like of shape (n_samples,), default=None
        Precomputed squared row norms of X.
    n_threads : int, default=None
        OpenMP threads. None: ``kmcore.effective_n_threads`` (OpenMP's limit and the
        CPUs; one thread for small inputs); -1 all CPUs. Rows are independent: the
        result does not depend on it.
    out : ndarray of shape (n_samples, n_clusters), default=None
        C-contiguous, writeable, X's dtype, sharing no memory with X or
        centers: filled and returned.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).

    Returns
    -------
    resp : ndarray of shape (n_samples, n_clusters), X's dtype
    """
    X = _input.data(X, "X", check_input)
    centers = _input.centers(centers, X.shape[1], X.dtype, check_input)
    beta = check_beta(beta)
    x_sqnorms = _input.sqnorms(x_sqnorms, "x_sqnorms", X.shape[0], X.dtype, check_input)
    n_threads = effective_n_threads(n_threads, work=X.size * centers.shape[0])
    shape = (X.shape[0], centers.shape[0])
    if out is not None and (not isinstance(out, np.ndarray) or out.shape != shape
                            or out.dtype != X.dtype or not out.flags.c_contiguous
                            or not out.flags.writeable):
        raise ValueError(f"out must be a writeable C-contiguous ndarray of shape {shape} "
                         f"and dtype {X.dtype}")
    if x_sqnorms is None:
        x_sqnorms = _row_norms(X, True, n_threads)
    return soft_assign_rows(X, x_sqnorms, centers, beta, None, n_threads, out)[0]


def check_beta(beta: float) -> float:
    """beta must be a finite real number > 0 (not bool, not complex even if 0j)."""
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(f"beta must be a real number, got {beta!r}")
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be finite and > 0, got {beta}")
    return float(beta)


def soft_assign_rows(X: NDArray[np.floating], x_sqnorms: NDArray[np.floating],
                     centers: NDArray[np.floating], beta: float,
                     sample_weight: NDArray[np.floating] | None, n_threads: int,
                     out: NDArray[np.floating] | None = None
                     ) -> tuple[NDArray[np.floating], float]:
    """:func:`soft_assign` on trusted input, with the weighted expected distortion.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous float32 or float64
    x_sqnorms : ndarray of shape (n_samples,), X's dtype
    centers : ndarray of shape (n_clusters, n_features), C-contiguous, X's dtype
    beta : float > 0 (:func:`check_beta`)
    sample_weight : ndarray of shape (n_samples,), X's dtype, or None
    n_threads : int >= 1
    out : ndarray of shape (n_samples, n_clusters), default=None
        As in :func:`soft_assign`.

    Returns
    -------
    resp : ndarray of shape (n_samples, n_clusters), X's dtype
    objective : float
        ``sum_i w_i sum_j resp_ij ||x_i - c_j||^2``, summed in a fixed order.
    """
    check_kernel_inputs(X, centers, x_sqnorms, sample_weight)
    n = X.shape[0]
    if out is None:
        out = np.empty((n, centers.shape[0]), dtype=X.dtype)
    else:
        check_out_is_separate(out, X, centers, x_sqnorms)
    origin = data_origin(X)
    chunk_rows = max(1, min(_SOFT_CHUNK_ROWS if origin is None else _SHIFTED_CHUNK_ROWS, n))
    n_chunks = -(-n // chunk_rows)
    n_threads = max(1, min(n_threads, n_chunks))
    if origin is None:
        origin, buffers = NO_ORIGIN, np.empty((0, 0), dtype=X.dtype)
    else:
        centers = shifted(centers, origin, X.dtype)
        buffers = np.empty((n_threads, chunk_rows * (X.shape[1] + 1)), dtype=X.dtype)
    chunk_objective = np.empty(n_chunks, dtype=np.float64)
    with blas_single_threaded():
        _soft._soft_assign(X, x_sqnorms, centers, _row_norms(centers, True, n_threads), beta,
                           _UNDERFLOW[X.dtype], _unit_or(sample_weight, X.dtype), out,
                           chunk_objective, chunk_rows, n_threads, origin, buffers)
    return out, float(chunk_objective.sum())


def soft_update(X: ArrayLike, resp: ArrayLike, sample_weight: ArrayLike | None = None,
                centers_old: ArrayLike | None = None, check_input: bool = True
                ) -> tuple[NDArray[np.floating], NDArray[np.float64]]:
    """Weighted centers ``(R^T W X) / (R^T W 1)`` of soft k-means.

    The products run by blocks of rows through BLAS and are accumulated in
    float64 (also for float32 data).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    resp : array-like of shape (n_samples, n_clusters)
        Non-negative responsibilities (rows usually sum to 1).
    sample_weight : array-like of shape (n_samples,), default=None
    centers_old : array-like of shape (n_clusters, n_features), default=None
        A center that receives no mass (all its responsibilities are 0, e.g.
        underflowed at a large beta) keeps its row of ``centers_old``; without
        ``centers_old`` it is NaN. Check ``mass``.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).
        ``resp`` is then not checked for negative values either.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
    mass : ndarray of shape (n_clusters,), float64
        Total (weighted) responsibility of each center.
    """
    X = _input.data(X, "X", check_input)
    resp = _input.data(resp, "resp", check_input, dtype=X.dtype)
    if resp.shape[0] != X.shape[0]:
        raise ValueError(f"resp has {resp.shape[0]} rows but X has {X.shape[0]}")
    if check_input and (resp < 0).any():
        raise ValueError("resp must be non-negative")
    sample_weight = _input.sample_weight(sample_weight, X.shape[0], X.dtype, check_input)
    k = resp.shape[1]
    if centers_old is None:
        fill = np.full((k, X.shape[1]), np.nan)
    else:
        fill = _input.centers(centers_old, X.shape[1], X.dtype, check_input, "centers_old")
        if fill.shape[0] != k:
            raise ValueError(f"centers_old must have {k} rows, got {fill.shape[0]}")
    sums, mass = soft_sums(X, resp, sample_weight)
    return means_from_sums(sums, mass, fill, X.dtype), mass


def soft_sums(X: NDArray[np.floating], resp: NDArray[np.floating],
              sample_weight: NDArray[np.floating] | None
              ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """float64 ``R^T W X`` and ``R^T W 1``, by blocks of rows (trusted input).

    The two halves of :func:`soft_update` are this and
    :func:`kmcore.centers.means_from_sums`. ``X`` and ``sample_weight`` as in
    :func:`soft_assign_rows`, ``resp`` of shape (n_samples, n_clusters).

    Each block's product runs in X's dtype. Far from the origin (a float32
    sum of values near 1e5 keeps about 0.01 of their spread), the blocks are
    multiplied around the rows' mean m instead, ``R^T W (X - m)``, and
    ``(R^T W 1) m`` is added back in float64.
    """
    check_kernel_inputs(X, None, None, sample_weight)
    if resp.ndim != 2 or resp.shape[0] != X.shape[0]:
        raise ValueError(f"resp must have {X.shape[0]} rows to match X, got shape {resp.shape}")
    k = resp.shape[1]
    origin = data_origin(X)
    sums = np.zeros((k, X.shape[1]))
    mass = np.zeros(k)
    for start in range(0, X.shape[0], _SOFT_CHUNK_ROWS):
        R = resp[start:start + _SOFT_CHUNK_ROWS]
        if sample_weight is not None:
            R = R * sample_weight[start:start + _SOFT_CHUNK_ROWS, None]
        rows = X[start:start + _SOFT_CHUNK_ROWS]
        sums += R.T @ (rows if origin is None else shifted(rows, origin, X.dtype))
        mass += R.sum(axis=0, dtype=np.float64)
    if origin is not None:
        sums += mass[:, None] * origin
    return sums, mass
