"""Row norms and pairwise squared Euclidean distances."""

import numpy as np

from kmcore import _distances
from kmcore._threads import blas_single_threaded, effective_n_threads
from kmcore._validation import check_centers, check_data, check_sqnorms

# Rows of X per GEMM call in pairwise_sqdist: the unit of parallel work.
_PAIRWISE_CHUNK_ROWS = 256


def row_norms(X, squared=True, n_threads=None):
    """Euclidean norm of every row.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        float32 stays float32; other real types become float64.
    squared : bool, default=True
        Return ``||x||^2`` (True) or ``||x||`` (False).
    n_threads : int, default=None
        OpenMP threads; None means the physical cores (or ``OMP_NUM_THREADS``).
        Rows are independent: the result does not depend on it.

    Returns
    -------
    norms : ndarray of shape (n_samples,), X's dtype
    """
    X = check_data(X, "X")
    return _row_norms(X, squared, effective_n_threads(n_threads))


def _row_norms(X, squared, n_threads):
    out = np.empty(X.shape[0], dtype=X.dtype)
    with blas_single_threaded():
        _distances._row_sqnorms(X, out, n_threads)
    return out if squared else np.sqrt(out, out=out)


def pairwise_sqdist(X, Y, x_sqnorms=None, y_sqnorms=None, n_threads=None, out=None):
    """Squared Euclidean distances between the rows of X and the rows of Y.

    Computed as ``||x||^2 - 2 x.y + ||y||^2`` (the cross term by blocked GEMM)
    and clamped at 0. This materialises the (n_x, n_y) matrix you asked for;
    to find nearest centers use :func:`kmcore.assign`, which never does.

    Parameters
    ----------
    X : array-like of shape (n_x, n_features)
    Y : array-like of shape (n_y, n_features)
        Cast to X's dtype (float32 or float64).
    x_sqnorms, y_sqnorms : array-like of shape (n_x,), (n_y,), default=None
        Precomputed squared row norms, computed when None.
    n_threads : int, default=None
        OpenMP threads; None means the physical cores. Rows of the result are
        independent: it does not depend on the thread count.
    out : ndarray of shape (n_x, n_y), default=None
        C-contiguous, writeable, X's dtype: filled in place and returned.

    Returns
    -------
    D : ndarray of shape (n_x, n_y)
    """
    X = check_data(X, "X")
    Y = check_centers(Y, X.shape[1], X.dtype, name="Y")
    n_threads = effective_n_threads(n_threads)
    x_sqnorms = check_sqnorms(x_sqnorms, "x_sqnorms", X.shape[0], X.dtype)
    y_sqnorms = check_sqnorms(y_sqnorms, "y_sqnorms", Y.shape[0], X.dtype)
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
    return _pairwise_sqdist(X, x_sqnorms, Y, y_sqnorms, n_threads, out)


def _pairwise_sqdist(X, x_sqnorms, Y, y_sqnorms, n_threads, out=None):
    """pairwise_sqdist on validated input."""
    if out is None:
        out = np.empty((X.shape[0], Y.shape[0]), dtype=X.dtype)
    with blas_single_threaded():
        _distances._pairwise_sqdist(
            X, x_sqnorms, Y, y_sqnorms, out, _PAIRWISE_CHUNK_ROWS, n_threads
        )
    return out
