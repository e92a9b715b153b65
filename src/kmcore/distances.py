"""Row norms and pairwise squared Euclidean distances.

Public: the kernels :func:`row_norms`, :func:`pairwise_sqdist` and
:func:`weighted_sqnorm_sum` (the first term of an objective expanded from
cluster sums), and
:data:`PAIRWISE_CHUNK_ROWS`, the rows of X per parallel unit of
:func:`pairwise_sqdist` (a caller cutting X into blocks gives every thread
equal shares with multiples of it).
"""

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from kmcore import _distances, _input
from kmcore._origin import NO_ORIGIN, data_origin, shifted
from kmcore._threads import blas_single_threaded, effective_n_threads
from kmcore._validation import check_kernel_inputs

__all__ = ["PAIRWISE_CHUNK_ROWS", "pairwise_sqdist", "relative_error", "row_norms",
           "weighted_sqnorm_sum"]

#: Rows of X per GEMM call in pairwise_sqdist: the unit of parallel work.
PAIRWISE_CHUNK_ROWS = 256


def row_norms(X: ArrayLike, squared: bool = True, n_threads: int | None = None,
              check_input: bool = True) -> NDArray[np.floating]:
    """Euclidean norm of every row.

    One streaming pass over X (no BLAS call per row). Each row is summed in
    float64, float32 rows included (their squares are then exact), in a
    fixed order, and rounded once to X's dtype: float32 norms are the float64
    sums correctly rounded but for rare double roundings.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        float32 stays float32; other real types become float64.
    squared : bool, default=True
        Return ``||x||^2`` (True) or ``||x||`` (False).
    n_threads : int, default=None
        OpenMP threads. None: ``kmcore.effective_n_threads`` (OpenMP's limit and the
        CPUs; one thread for small inputs); -1 all CPUs.
        Rows are independent: the result does not depend on it.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).

    Returns
    -------
    norms : ndarray of shape (n_samples,), X's dtype
    """
    X = _input.data(X, "X", check_input)
    return _row_norms(X, squared, effective_n_threads(n_threads, work=X.size))


def _row_norms(X, squared, n_threads):
    out = np.empty(X.shape[0], dtype=X.dtype)
    # No BLAS inside: the kernel's own loop streams through the rows.
    _distances._row_sqnorms(X, out, max(1, n_threads))
    return out if squared else np.sqrt(out, out=out)


def pairwise_sqdist(X: ArrayLike, Y: ArrayLike, x_sqnorms: ArrayLike | None = None,
                    y_sqnorms: ArrayLike | None = None, n_threads: int | None = None,
                    out: NDArray[np.floating] | None = None,
                    check_input: bool = True) -> NDArray[np.floating]:
    """Squared Euclidean distances between the rows of X and the rows of Y.

    Computed as ``||x||^2 - 2 x.y + ||y||^2`` (the cross term by blocked GEMM)
    and clamped at 0. This materialises the (n_x, n_y) matrix you asked for;
    to find nearest centers use :func:`kmcore.assign`, which never does.
    Rows far from the origin against their spread are computed around their
    mean instead, where the expansion does not cancel, with norms of the
    shifted rows (the given norms then go unused; see :func:`kmcore.assign`).

    Parameters
    ----------
    X : array-like of shape (n_x, n_features)
    Y : array-like of shape (n_y, n_features)
        Cast to X's dtype (float32 or float64).
    x_sqnorms, y_sqnorms : array-like of shape (n_x,), (n_y,), default=None
        Precomputed squared row norms, computed when None.
    n_threads : int, default=None
        OpenMP threads. None: ``kmcore.effective_n_threads`` (OpenMP's limit and the
        CPUs; one thread for small inputs); -1 all CPUs. Rows of the result are
        independent: it does not depend on the thread count.
    out : ndarray of shape (n_x, n_y), default=None
        C-contiguous, writeable, X's dtype, sharing no memory with the inputs:
        filled in place and returned.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).

    Returns
    -------
    D : ndarray of shape (n_x, n_y)
    """
    X = _input.data(X, "X", check_input)
    Y = _input.centers(Y, X.shape[1], X.dtype, check_input, name="Y")
    n_threads = effective_n_threads(n_threads, work=X.size * Y.shape[0])
    x_sqnorms = _input.sqnorms(x_sqnorms, "x_sqnorms", X.shape[0], X.dtype, check_input)
    y_sqnorms = _input.sqnorms(y_sqnorms, "y_sqnorms", Y.shape[0], X.dtype, check_input)
    if x_sqnorms is None:
        x_sqnorms = _row_norms(X, True, n_threads)
    if y_sqnorms is None:
        y_sqnorms = _row_norms(Y, True, n_threads)
    shape = (X.shape[0], Y.shape[0])
    if out is not None:
        if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != X.dtype:
            raise ValueError(f"out must be an ndarray of shape {shape} and dtype {X.dtype}")
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("out must be C-contiguous and writeable")
    return _pairwise_validated(X, x_sqnorms, Y, y_sqnorms, n_threads, out)


def _pairwise_validated(X, x_sqnorms, Y, y_sqnorms, n_threads, out=None):
    """pairwise_sqdist on validated input (far from the origin, around X's mean)."""
    check_kernel_inputs(X, Y, x_sqnorms, centers_name="Y")
    if y_sqnorms.shape != (Y.shape[0],):
        raise ValueError(f"y_sqnorms must have shape ({Y.shape[0]},) to match Y, "
                         f"got {y_sqnorms.shape}")
    if out is None:
        out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
    else:
        check_out_is_separate(out, X, Y, x_sqnorms, y_sqnorms)
    n_chunks = -(-X.shape[0] // PAIRWISE_CHUNK_ROWS)
    n_threads = max(1, min(n_threads, n_chunks))
    origin = data_origin(X)
    if origin is None:
        origin, buffers = NO_ORIGIN, np.empty((0, 0), dtype=X.dtype)
    else:
        Y = shifted(Y, origin, X.dtype)
        y_sqnorms = _row_norms(Y, True, n_threads)
        buffers = np.empty((n_threads, PAIRWISE_CHUNK_ROWS * (X.shape[1] + 1)), dtype=X.dtype)
    with blas_single_threaded():
        _distances._pairwise_sqdist(
            X, x_sqnorms, Y, y_sqnorms, out, PAIRWISE_CHUNK_ROWS, n_threads, origin, buffers
        )
    return out


def check_out_is_separate(out, *inputs):
    """An ``out`` array sharing memory with an input would be read while written."""
    for a in inputs:
        if np.may_share_memory(out, a):
            raise ValueError("out must not share memory with the inputs "
                             "(X, Y/centers or their norms)")


def relative_error(n_features: int, dtype: DTypeLike) -> float:
    """Relative error trusted to an expanded squared distance.

    ``||x||^2 - 2 x.c + ||c||^2`` computed in ``dtype`` (the GEMM's sums over
    the features included) is trusted to within this times
    ``||x||^2 + ||c||^2``. The plain pass and the bound kernels use the same
    value, so they tell a near tie from a clear winner alike.

    The value is a trusted size, not a worst case: it grows as sqrt(d), as
    the rounding of a sum of d products does when its errors do not all go
    the same way (any data seen so far). Sums built so that every addition
    rounds up (each an error of half an ulp in the same direction) exceed it
    several times at d in the hundreds, in BLAS's GEMM as in Yinyang's own
    product kernel (``_yinyang_dots.h``); there a near tie could be taken for
    a clear winner.

    Parameters
    ----------
    n_features : int
    dtype : numpy dtype, float32 or float64

    Returns
    -------
    float
    """
    return (16 + 2 * np.sqrt(n_features)) * float(np.finfo(dtype).eps)


# Rows per slice of weighted_sqnorm_sum: fixed, so that its value never
# depends on the thread count.
_SQNORM_SLICE_ROWS = 4096


def weighted_sqnorm_sum(X: NDArray[np.floating], sample_weight: NDArray[np.floating] | None,
                        origin: NDArray[np.float64] | None, n_threads: int = 1) -> float:
    """``sum(w * ||x - origin||^2)`` in float64 over the rows of X (float32/64).

    ``sample_weight`` (n,) (None: 1; taken in X's dtype), ``origin`` a point
    of d coordinates (None: 0), taken in float64. Direct differences in one
    read of X, summed by fixed slices of rows: the same value for any thread
    count.
    """
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype not in (np.float32, np.float64):
        raise TypeError("weighted_sqnorm_sum: X must be a 2-D float32 or float64 array, got "
                        f"{type(X).__name__} {getattr(X, 'dtype', '')} "
                        f"{getattr(X, 'shape', '')}")
    X = np.ascontiguousarray(X)
    n, d = X.shape
    weights = np.empty(0, dtype=X.dtype)
    if sample_weight is not None:
        weights = np.ascontiguousarray(sample_weight, dtype=X.dtype)
        if weights.shape != (n,):
            raise ValueError(f"weighted_sqnorm_sum: sample_weight must have shape ({n},) "
                             f"(rows of X), got {weights.shape}")
    at = np.empty(0)
    if origin is not None:
        at = np.ascontiguousarray(origin, dtype=np.float64)
        if at.shape != (d,):
            raise ValueError(f"weighted_sqnorm_sum: origin must have shape ({d},) "
                             f"(columns of X), got {at.shape}")
    n_slices = -(-n // _SQNORM_SLICE_ROWS)
    out = np.empty(n_slices)
    _distances._weighted_sqnorms(X, weights, at, out, _SQNORM_SLICE_ROWS, n_threads)
    return float(out.sum())
