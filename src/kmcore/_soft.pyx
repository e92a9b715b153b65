"""Soft assignment: responsibilities softmax(-beta ||x - c||^2) per row.

The distances of a block of rows come from one GEMM written straight into the
output rows; each row is then normalised with the minimum distance as shift,
``r_j = exp(-beta (d_j - d_min)) / sum_l exp(-beta (d_l - d_min))``: every
exponent is <= 0 and the nearest center contributes exactly 1 to the sum, so
nothing overflows, the sum is >= 1 and no responsibility is ever NaN, for
any beta > 0 (S3's soft k-means divided by sums that had underflowed to 0).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf

from kmcore._common cimport gemm_abt


def _soft_assign(
    const floating[:, ::1] X,              # IN  (n, d)
    const floating[::1] x_sqnorms,         # IN  (n,)
    const floating[:, ::1] centers,        # IN  (k, d)
    const floating[::1] c_sqnorms,         # IN  (k,)
    double beta,
    double underflow,
    const floating[::1] sample_weight,     # IN  (n,), or (0,) for unit weights
    floating[:, ::1] out,                  # OUT (n, k) responsibilities
    double[::1] chunk_objective,           # OUT (n_chunks,)
    Py_ssize_t chunk_rows,
    int n_threads,
):
    """Responsibilities of every center for every row, and the soft objective.

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
    """
    cdef Py_ssize_t n = X.shape[0], k = centers.shape[0]
    cdef int d = X.shape[1]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t n_chunks = (n + chunk_rows - 1) // chunk_rows
    cdef Py_ssize_t c, i, j, start, end
    cdef double dist, dmin, e, total, expected, obj, arg
    with nogil:
        for c in prange(n_chunks, schedule="static", num_threads=n_threads):
            start = c * chunk_rows
            end = min(start + chunk_rows, n)
            # out[i, j] = -2 x_i . c_j for the chunk's rows
            gemm_abt(&X[start, 0], <int> (end - start), &centers[0, 0], <int> k, d, -2.0,
                     &out[start, 0], <int> k)
            obj = 0.0
            for i in range(start, end):
                dmin = 1e308
                for j in range(k):
                    dist = <double> out[i, j] + x_sqnorms[i] + c_sqnorms[j]
                    if dist < 0:
                        dist = 0
                    out[i, j] = <floating> dist
                    if dist < dmin:
                        dmin = dist
                total = 0.0
                expected = 0.0
                for j in range(k):
                    arg = beta * (out[i, j] - dmin)
                    # Past ``underflow`` exp rounds to 0 in the output dtype: skip it.
                    # float32 output needs only expf (about twice as fast); the sums
                    # stay in float64.
                    if arg >= underflow:
                        e = 0.0
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
