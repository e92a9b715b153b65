"""Fused GEMM + argmin: nearest center and its squared distance for every row.

No N x K matrix is ever formed: rows are taken ``chunk_rows`` at a time and
centers ``k_block`` at a time, the cross terms of one block land in a
thread-local buffer sized to stay in cache, and the running minimum is kept
per row. Every row's result depends only on that row and the centers, so the
labels are the same for any thread count; the inertia is summed per chunk and
the chunks are added in order afterwards, so it is too.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY

from kmcore._blas cimport gemm_abt

ctypedef Py_ssize_t intp_t


def _assign_chunked(
    const floating[:, ::1] X,              # IN  (n, d)
    const floating[::1] x_sqnorms,         # IN  (n,)
    const floating[:, ::1] centers,        # IN  (k, d)
    const floating[::1] c_sqnorms,         # IN  (k,)
    const floating[::1] sample_weight,     # IN  (n,), or (0,) for unit weights
    floating[:, ::1] buffers,              # OUT (n_threads, chunk_rows * k_block) scratch
    intp_t[::1] labels,                    # OUT (n,)
    floating[::1] min_sqdist,              # OUT (n,)
    double[::1] chunk_inertia,             # OUT (n_chunks,)
    Py_ssize_t chunk_rows,
    Py_ssize_t k_block,
    int n_threads,
):
    """Label every row with its nearest center and record the squared distance.

    The argmin is taken over ``||c||^2 - 2 x.c`` (``||x||^2`` does not change
    which center wins); ``||x||^2`` is added back to the row minimum, clamped
    at 0, to give the true squared distance. Ties go to the lowest center
    index, as with ``numpy.argmin``.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    x_sqnorms : squared row norms of X
    centers : ndarray of shape (k, d), C-contiguous
    c_sqnorms : squared row norms of centers
    sample_weight : weights of the rows for ``chunk_inertia``; empty means 1
    buffers : scratch, one row per thread, ``chunk_rows * k_block`` long
    labels : receives the index of the nearest center
    min_sqdist : receives the squared distance to it
    chunk_inertia : receives sum(w * min_sqdist) of each chunk, in float64
    chunk_rows, k_block : block sizes (rows of X, centers) of one GEMM call
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    """
    cdef Py_ssize_t n = X.shape[0], k = centers.shape[0]
    cdef int d = X.shape[1]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t n_chunks = (n + chunk_rows - 1) // chunk_rows
    cdef Py_ssize_t c, i, j, j0, kb, start, end, best_j
    cdef floating* buf
    cdef floating v, best
    cdef double s, dist
    with nogil:
        for c in prange(n_chunks, schedule="static", num_threads=n_threads):
            buf = &buffers[threadid(), 0]
            start = c * chunk_rows
            end = min(start + chunk_rows, n)
            for i in range(start, end):
                min_sqdist[i] = INFINITY
                labels[i] = 0
            j0 = 0
            while j0 < k:
                kb = min(k_block, k - j0)
                # buf[(i - start) * kb + j] = -2 x_i . c_{j0 + j}
                gemm_abt(&X[start, 0], <int> (end - start), &centers[j0, 0],
                         <int> kb, d, -2.0, buf, <int> kb)
                for i in range(start, end):
                    best = min_sqdist[i]
                    best_j = labels[i]
                    for j in range(kb):
                        v = buf[(i - start) * kb + j] + c_sqnorms[j0 + j]
                        if v < best:
                            best = v
                            best_j = j0 + j
                    min_sqdist[i] = best
                    labels[i] = best_j
                j0 = j0 + kb
            s = 0.0
            for i in range(start, end):
                dist = <double> x_sqnorms[i] + min_sqdist[i]
                if dist < 0:
                    dist = 0
                min_sqdist[i] = <floating> dist
                s = s + (dist * sample_weight[i] if weighted else dist)
            chunk_inertia[c] = s
