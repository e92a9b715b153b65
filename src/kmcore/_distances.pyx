"""Row norms and blocked pairwise squared Euclidean distances.

Python (``kmcore.distances``) validates and allocates; these kernels only fill
preallocated outputs (after checking every shape they rely on).
"""

from cython cimport floating
from cython.parallel cimport prange, threadid

from kmcore._common cimport (
    check_at_least,
    check_blas_int,
    check_equal,
    check_optional,
    check_threads,
    gemm_abt,
    shift_rows,
)


cdef extern from "_norms_simd.h" nogil:
    # The streaming row-norm loop (float64 partial sums, see _norms_simd.h).
    void km_row_sqnorms_f32(const float*, Py_ssize_t, Py_ssize_t, float*)
    void km_row_sqnorms_f64(const double*, Py_ssize_t, Py_ssize_t, double*)


# Rows per unit of parallel work of _row_sqnorms: large enough that a thread's
# share is a long contiguous stream, small enough to balance two threads on
# a few thousand rows. Rows are independent, so it never changes a result.
cdef enum:
    NORM_BLOCK_ROWS = 256


def _row_sqnorms(
    const floating[:, ::1] X not None,   # IN  (n, d)
    floating[::1] out not None,          # OUT (n,)
    int n_threads,
):
    """Squared Euclidean norm of every row of X, in one streaming pass.

    Each row is summed in float64 (float32 rows too: their squares are then
    exact) in a fixed order and rounded once to X's dtype, so float32 norms
    are nearly always correctly rounded. Blocks of rows are shared among the
    threads; rows are independent, so the result does not depend on them.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    out : ndarray of shape (n,), X's dtype
        Receives ``(X ** 2).sum(axis=1)``.
    n_threads : int
        OpenMP threads.
    """
    cdef Py_ssize_t b, start, n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_blocks = (n + NORM_BLOCK_ROWS - 1) // NORM_BLOCK_ROWS
    cdef int team
    check_at_least(d, 1, "_row_sqnorms", "X.shape[1]")
    check_equal(out.shape[0], n, "_row_sqnorms", "out.shape[0] (rows of X)")
    check_threads(n_threads, "_row_sqnorms")
    team = <int> min(n_threads, max(n_blocks, 1))
    with nogil:
        for b in prange(n_blocks, schedule="static", num_threads=team):
            start = b * NORM_BLOCK_ROWS
            if floating is float:
                km_row_sqnorms_f32(&X[start, 0], min(NORM_BLOCK_ROWS, n - start), d,
                                   &out[start])
            else:
                km_row_sqnorms_f64(&X[start, 0], min(NORM_BLOCK_ROWS, n - start), d,
                                   &out[start])


def _pairwise_sqdist(
    const floating[:, ::1] X not None,          # IN  (n, d)
    const floating[::1] x_sqnorms not None,     # IN  (n,)
    const floating[:, ::1] Y not None,          # IN  (m, d), shifted by origin when given
    const floating[::1] y_sqnorms not None,     # IN  (m,) squared norms of Y as passed
    floating[:, ::1] out not None,              # OUT (n, m)
    Py_ssize_t chunk_rows,
    int n_threads,
    const double[::1] origin not None,          # IN  (d,), or (0,): no shift
    floating[:, ::1] buffers not None,          # OUT (n_threads, chunk_rows * (d + 1)) scratch
):
    """Squared distances ||x_i - y_j||^2 for all pairs, clamped at 0.

    Computed as ||x||^2 - 2 x.y + ||y||^2 with the cross term by one GEMM per
    block of ``chunk_rows`` rows of X, written straight into ``out`` (no
    temporary): the only N x M matrix here is the one the caller asked for.

    The expansion is translation invariant but its rounding is not: far from
    the origin (against the spread of the rows) it cancels. With an
    ``origin``, Y is expected already shifted (``Y - origin``, with its
    norms) and each block of rows of X is copied minus ``origin`` into the
    calling thread's buffer, with its norms summed directly; ``x_sqnorms`` is
    then not used.

    Parameters
    ----------
    X, Y : C-contiguous arrays of one dtype
    x_sqnorms, y_sqnorms : squared row norms of X and Y
    out : ndarray of shape (n, m), filled in place; must not overlap the inputs
    chunk_rows : int
        Rows of X per GEMM call (the unit of parallel work).
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    origin : the shift of X (float64), or empty for none
    buffers : scratch for the shifted rows, one row per thread (empty
        without an origin)
    """
    cdef str K = "_pairwise_sqdist"
    cdef Py_ssize_t n = X.shape[0], m = Y.shape[0]
    cdef Py_ssize_t n_chunks, c, i, j, start, end
    cdef bint shifting = origin.shape[0] > 0
    cdef int d
    cdef floating v
    cdef floating* xbuf
    cdef const floating* rows
    cdef const floating* norms
    cdef const double* org = NULL
    check_at_least(X.shape[1], 1, K, "X.shape[1]")
    check_equal(Y.shape[1], X.shape[1], K, "Y.shape[1] (columns of X)")
    check_equal(x_sqnorms.shape[0], n, K, "x_sqnorms.shape[0] (rows of X)")
    check_equal(y_sqnorms.shape[0], m, K, "y_sqnorms.shape[0] (rows of Y)")
    check_equal(out.shape[0], n, K, "out.shape[0] (rows of X)")
    check_equal(out.shape[1], m, K, "out.shape[1] (rows of Y)")
    check_optional(origin.shape[0], X.shape[1], K, "origin.shape[0] (columns of X)")
    check_at_least(chunk_rows, 1, K, "chunk_rows")
    check_blas_int(chunk_rows, K, "chunk_rows")
    check_blas_int(m, K, "Y.shape[0]")
    check_blas_int(X.shape[1], K, "X.shape[1]")
    check_threads(n_threads, K)
    if shifting:
        check_at_least(buffers.shape[0], n_threads, K, "buffers.shape[0] (n_threads)")
        check_at_least(buffers.shape[1], chunk_rows * (X.shape[1] + 1), K,
                       "buffers.shape[1] (chunk_rows * (d + 1))")
        org = &origin[0]
    if n == 0 or m == 0:
        return
    d = <int> X.shape[1]
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    with nogil:
        for c in prange(n_chunks, schedule="static", num_threads=n_threads):
            start = c * chunk_rows
            end = min(start + chunk_rows, n)
            if shifting:
                xbuf = &buffers[threadid(), 0]
                shift_rows(&X[start, 0], end - start, d, org, xbuf, xbuf + chunk_rows * d)
                rows = xbuf
                norms = xbuf + chunk_rows * d
            else:
                rows = &X[start, 0]
                norms = &x_sqnorms[start]
            gemm_abt(rows, <int> (end - start), &Y[0, 0], <int> m, d,
                     -2.0, &out[start, 0], <int> m)
            for i in range(start, end):
                for j in range(m):
                    v = out[i, j] + norms[i - start] + y_sqnorms[j]
                    out[i, j] = v if v > 0 else 0


def _weighted_sqnorms(
    const floating[:, ::1] X not None,        # IN  (n, d)
    const floating[::1] weights not None,     # IN  (n,), or (0,) for unit weights
    const double[::1] origin not None,        # IN  (d,), or (0,) for the origin 0
    double[::1] out not None,                 # OUT (n_slices,)
    Py_ssize_t slice_rows,
    int n_threads,
):
    """Per slice of ``slice_rows`` rows, ``sum(w * ||x - origin||^2)`` in float64.

    The first term of an objective expanded from cluster sums, by direct
    differences in one read of X (``weights`` in X's dtype, empty for 1;
    ``origin`` empty for 0). Each slice sums its rows in order: the sum of
    ``out`` in order does not depend on the thread count.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    weights, origin : as above
    out : ndarray of shape (n_slices,), receives the sums
    slice_rows, n_threads : int
    """
    cdef str K = "_weighted_sqnorms"
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_slices, s, i, j, end
    cdef bint weighted = weights.shape[0] != 0, shifted = origin.shape[0] != 0
    cdef double total, row, diff
    check_at_least(slice_rows, 1, K, "slice_rows")
    if weighted:
        check_equal(weights.shape[0], n, K, "weights.shape[0] (rows of X, or 0)")
    if shifted:
        check_equal(origin.shape[0], d, K, "origin.shape[0] (columns of X, or 0)")
    n_slices = (n + slice_rows - 1) // slice_rows
    check_equal(out.shape[0], n_slices, K, "out.shape[0] (n_slices)")
    check_threads(n_threads, K)
    if n == 0:
        return
    with nogil:
        for s in prange(n_slices, schedule="static", num_threads=n_threads):
            total = 0
            end = min(n, (s + 1) * slice_rows)
            for i in range(s * slice_rows, end):
                row = 0
                for j in range(d):
                    diff = <double> X[i, j] - (origin[j] if shifted else 0)
                    row = row + diff * diff
                total = total + (row * weights[i] if weighted else row)
            out[s] = total
