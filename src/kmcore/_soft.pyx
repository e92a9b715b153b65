"""Soft assignment: responsibilities softmax(-beta ||x - c||^2) per row.

The distances of a block of rows come from one GEMM written straight into the
output rows; each row is then normalised with the minimum distance as shift,
``r_j = exp(-beta (d_j - d_min)) / sum_l exp(-beta (d_l - d_min))``. The
distances are rounded to the output dtype once, and both the minimum and the
exponents are taken from those stored values: every exponent is then >= 0
exactly and the nearest center contributes exactly exp(0) = 1 to the sum, so
nothing overflows, the sum is >= 1 and no responsibility is ever NaN, for any
beta > 0. (Soft k-means elsewhere divided by sums that had underflowed to 0;
and a minimum taken before rounding, against exponents taken after, lets
beta * (d_j - d_min) go negative, so that exp overflows.)
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport exp, expf, INFINITY

from kmcore._common cimport (
    check_at_least,
    check_blas_int,
    check_equal,
    check_optional,
    check_threads,
    gemm_abt,
    shift_rows,
)


def _soft_assign(
    const floating[:, ::1] X not None,              # IN  (n, d)
    const floating[::1] x_sqnorms not None,         # IN  (n,)
    const floating[:, ::1] centers not None,        # IN  (k, d), shifted by origin when given
    const floating[::1] c_sqnorms not None,         # IN  (k,) squared norms of centers as passed
    double beta,
    double underflow,
    const floating[::1] sample_weight not None,     # IN  (n,), or (0,) for unit weights
    floating[:, ::1] out not None,                  # OUT (n, k) responsibilities
    double[::1] chunk_objective not None,           # OUT (n_chunks,)
    Py_ssize_t chunk_rows,
    int n_threads,
    const double[::1] origin not None,              # IN  (d,), or (0,): no shift
    floating[:, ::1] buffers not None,              # OUT (n_threads, chunk_rows * (d + 1)) scratch
):
    """Responsibilities of every center for every row, and the soft objective.

    With an ``origin`` (data far from the origin against their spread: the
    caller decides), ``centers`` are expected already shifted (with their
    norms) and each chunk of rows is copied minus ``origin`` into the
    thread's buffer, its norms summed directly (``x_sqnorms`` is then not
    used): the expansion ||x||^2 - 2 x.c + ||c||^2 cancels otherwise.

    Parameters
    ----------
    X, x_sqnorms : data and its squared row norms
    centers, c_sqnorms : centers and their squared row norms
    beta : float > 0
        Inverse temperature; large beta tends to hard assignment.
    underflow : float
        Exponents ``beta (d - d_min)`` beyond this give 0 in the output dtype
        (about 104 for float32, 746 for float64): exp is not called for them.
    sample_weight : row weights for the objective; empty means 1
    out : receives the responsibilities (rows sum to 1)
    chunk_objective : receives, per chunk of rows, the weighted expected
        distortion sum_i w_i sum_j r_ij ||x_i - c_j||^2, in float64
    chunk_rows : rows per GEMM call (the unit of parallel work)
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    origin : the shift of X (float64), or empty for none
    buffers : scratch for the shifted rows, one row per thread (empty
        without an origin)
    """
    cdef str K = "_soft_assign"
    cdef Py_ssize_t n = X.shape[0], k = centers.shape[0]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef bint shifting = origin.shape[0] > 0
    cdef Py_ssize_t n_chunks, c, i, j, start, end
    cdef int d
    cdef floating* xbuf
    cdef const floating* rows
    cdef const floating* norms
    cdef const double* org = NULL
    cdef double dist, e, total, expected, obj, arg, xs
    cdef floating dmin
    if not beta > 0:
        raise ValueError(f"{K}: beta must be > 0, got {beta}")
    check_at_least(X.shape[1], 1, K, "X.shape[1]")
    check_equal(x_sqnorms.shape[0], n, K, "x_sqnorms.shape[0] (rows of X)")
    check_equal(centers.shape[1], X.shape[1], K, "centers.shape[1] (columns of X)")
    check_equal(c_sqnorms.shape[0], k, K, "c_sqnorms.shape[0] (rows of centers)")
    check_optional(sample_weight.shape[0], n, K, "sample_weight.shape[0] (rows of X)")
    check_optional(origin.shape[0], X.shape[1], K, "origin.shape[0] (columns of X)")
    check_equal(out.shape[0], n, K, "out.shape[0] (rows of X)")
    check_equal(out.shape[1], k, K, "out.shape[1] (rows of centers)")
    check_at_least(chunk_rows, 1, K, "chunk_rows")
    check_blas_int(chunk_rows, K, "chunk_rows")
    check_blas_int(k, K, "centers.shape[0]")
    check_blas_int(X.shape[1], K, "X.shape[1]")
    check_threads(n_threads, K)
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    check_at_least(chunk_objective.shape[0], n_chunks, K, "chunk_objective.shape[0] (n_chunks)")
    if n == 0:
        return
    check_at_least(k, 1, K, "centers.shape[0]")
    if shifting:
        check_at_least(buffers.shape[0], n_threads, K, "buffers.shape[0] (n_threads)")
        check_at_least(buffers.shape[1], chunk_rows * (X.shape[1] + 1), K,
                       "buffers.shape[1] (chunk_rows * (d + 1))")
        org = &origin[0]
    d = <int> X.shape[1]
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
            # out[i, j] = -2 x_i . c_j for the chunk's rows
            gemm_abt(rows, <int> (end - start), &centers[0, 0], <int> k, d, -2.0,
                     &out[start, 0], <int> k)
            obj = 0.0
            for i in range(start, end):
                xs = norms[i - start]
                dmin = INFINITY
                for j in range(k):
                    dist = <double> out[i, j] + xs + c_sqnorms[j]
                    if dist < 0:
                        dist = 0
                    # The minimum is taken over the stored (rounded) values,
                    # the ones the exponents below see.
                    out[i, j] = <floating> dist
                    if out[i, j] < dmin:
                        dmin = out[i, j]
                total = 0.0
                expected = 0.0
                for j in range(k):
                    arg = beta * (<double> out[i, j] - <double> dmin)
                    # Past ``underflow`` exp rounds to 0 in the output dtype: skip it.
                    # float32 output needs only expf (about twice as fast); the sums
                    # stay in float64. ``not arg > 0`` is the nearest center
                    # (exactly 0), or NaN if a distance overflowed to infinity.
                    if arg >= underflow:
                        e = 0.0
                    elif not arg > 0:
                        e = 1.0
                    elif floating is float:
                        e = expf(<float> -arg)
                    else:
                        e = exp(-arg)
                    total = total + e
                    expected = expected + e * out[i, j]
                    out[i, j] = <floating> e
                for j in range(k):
                    out[i, j] = <floating> (out[i, j] / total)
                obj = obj + (sample_weight[i] if weighted else 1.0) * expected / total
            chunk_objective[c] = obj
