"""Row norms and blocked pairwise squared Euclidean distances.

Python (``kmcore.distances``) validates and allocates; these kernels only fill
preallocated outputs.
"""

from cython cimport floating
from cython.parallel cimport prange

from kmcore._common cimport gemm_abt, dot


def _row_sqnorms(
    const floating[:, ::1] X,   # IN  (n, d)
    floating[::1] out,          # OUT (n,)
    int n_threads,
):
    """Squared Euclidean norm of every row of X.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    out : ndarray of shape (n,), X's dtype
        Receives ``(X ** 2).sum(axis=1)``.
    n_threads : int
        OpenMP threads; rows are independent so the result does not depend on it.
    """
    cdef Py_ssize_t i, n = X.shape[0]
    cdef int d = X.shape[1]
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            out[i] = dot(&X[i, 0], &X[i, 0], d)


def _pairwise_sqdist(
    const floating[:, ::1] X,          # IN  (n, d)
    const floating[::1] x_sqnorms,     # IN  (n,)
    const floating[:, ::1] Y,          # IN  (m, d)
    const floating[::1] y_sqnorms,     # IN  (m,)
    floating[:, ::1] out,              # OUT (n, m)
    Py_ssize_t chunk_rows,
    int n_threads,
):
    """Squared distances ||x_i - y_j||^2 for all pairs, clamped at 0.

    Computed as ||x||^2 - 2 x.y + ||y||^2 with the cross term by one GEMM per
    block of ``chunk_rows`` rows of X, written straight into ``out`` (no
    temporary): the only N x M matrix here is the one the caller asked for.

    Parameters
    ----------
    X, Y : C-contiguous arrays of one dtype
    x_sqnorms, y_sqnorms : squared row norms of X and Y
    out : ndarray of shape (n, m), filled in place
    chunk_rows : int
        Rows of X per GEMM call (the unit of parallel work).
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    """
    cdef Py_ssize_t n = X.shape[0], m = Y.shape[0]
    cdef int d = X.shape[1]
    cdef Py_ssize_t n_chunks = (n + chunk_rows - 1) // chunk_rows
    cdef Py_ssize_t c, i, j, start, end
    cdef floating v
    if n == 0 or m == 0:
        return
    with nogil:
        for c in prange(n_chunks, schedule="static", num_threads=n_threads):
            start = c * chunk_rows
            end = min(start + chunk_rows, n)
            gemm_abt(&X[start, 0], <int> (end - start), &Y[0, 0], <int> m, d,
                     -2.0, &out[start, 0], <int> m)
            for i in range(start, end):
                for j in range(m):
                    v = out[i, j] + x_sqnorms[i] + y_sqnorms[j]
                    out[i, j] = v if v > 0 else 0
