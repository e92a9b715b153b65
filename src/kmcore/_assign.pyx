"""Fused GEMM + argmin (+ optional M-step sums): the E-step of Lloyd's algorithm.

No N x K matrix is ever formed: rows are taken ``chunk_rows`` at a time and
centers ``k_block`` at a time; the cross terms of one block land in a
thread-local buffer and the running minimum is kept per row.

Rows are grouped into a fixed number of contiguous *slices*; a slice is the
unit of parallel work and owns its inertia and (optionally) its partial
cluster sums, accumulated in row order while the rows are still in cache.
The slice count never depends on the thread count and the slices are reduced
in order, so labels, inertia and sums are bitwise the same for any number of
threads.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdint cimport int32_t

from kmcore._common cimport add_scaled_row, argmin_block, gemm_abt, sqdist

ctypedef Py_ssize_t intp_t


cdef void _nearest_in_chunk(
    const floating[:, ::1] X,              # IN  (n, d)
    const floating[:, ::1] centers,        # IN  (k, d)
    const floating[::1] c_sqnorms,         # IN  (k,)
    Py_ssize_t start,
    Py_ssize_t end,
    Py_ssize_t k_block,
    floating* buf,                         # OUT (k_block * (end - start)) scratch
    floating* block_best,                  # OUT (end - start) scratch
    int32_t* block_label,                  # OUT (end - start) scratch
    intp_t* labels,                        # OUT (end - start) nearest center
    floating* best,                        # OUT (end - start) ||c||^2 - 2 x.c of it
) noexcept nogil:
    """Nearest center of rows ``start:end`` by blocks of ``k_block`` centers.

    The block is center-major (``buf[j * m + i]``) so the argmin runs over
    rows for a fixed center: independent lanes in SIMD registers. Each
    block's winners are merged into the running minimum with a strict ``<``,
    which keeps the lowest index on ties, as ``numpy.argmin``.
    """
    cdef Py_ssize_t m = end - start, k = centers.shape[0]
    cdef Py_ssize_t i, j0 = 0, kb
    cdef int d = X.shape[1]
    while j0 < k:
        kb = min(k_block, k - j0)
        # buf[j * m + i] = -2 c_{j0 + j} . x_{start + i}
        gemm_abt(&centers[j0, 0], <int> kb, &X[start, 0], <int> m, d, -2.0, buf, <int> m)
        if j0 == 0:
            argmin_block(buf, m, kb, &c_sqnorms[0], best, block_label)
            for i in range(m):
                labels[i] = block_label[i]
        else:
            argmin_block(buf, m, kb, &c_sqnorms[j0], block_best, block_label)
            for i in range(m):
                if block_best[i] < best[i]:
                    best[i] = block_best[i]
                    labels[i] = j0 + block_label[i]
        j0 += kb


def _assign_chunked(
    const floating[:, ::1] X,              # IN  (n, d)
    const floating[::1] x_sqnorms,         # IN  (n,)
    const floating[:, ::1] centers,        # IN  (k, d)
    const floating[::1] c_sqnorms,         # IN  (k,)
    const floating[::1] sample_weight,     # IN  (n,), or (0,) for unit weights
    floating[:, ::1] buffers,              # OUT (n_workers, chunk_rows * (k_block + 1)) scratch
    int32_t[:, ::1] block_labels,          # OUT (n_workers, chunk_rows) scratch
    intp_t[::1] labels,                    # OUT (n,)
    floating[::1] min_sqdist,              # OUT (n,)
    double[::1] slice_inertia,             # OUT (n_slices,)
    double[:, :, ::1] slice_sums,          # OUT (n_slices, k, d), or (0, 0, 0): no sums
    double[:, ::1] slice_weights,          # OUT (n_slices, k), or (0, 0)
    double exact_below,
    Py_ssize_t chunk_rows,
    Py_ssize_t k_block,
    int n_threads,
):
    """Label every row with its nearest center; optionally sum the clusters.

    The argmin is taken over ``||c||^2 - 2 x.c``; ``||x||^2`` is added back to
    the row minimum to give the squared distance. Where that distance is below
    ``exact_below * (||x||^2 + ||c||^2)`` the expansion has cancelled most of
    its digits (data far from the origin, a row on its center), and the
    distance is recomputed directly as sum((x - c)^2), so the distances and
    inertia reported are accurate in float32 too.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    x_sqnorms : squared row norms of X
    centers : ndarray of shape (k, d), C-contiguous
    c_sqnorms : squared row norms of centers
    sample_weight : row weights; empty means 1
    buffers, block_labels : scratch, one row per worker thread (at least
        ``n_threads`` rows)
    labels : receives the index of the nearest center
    min_sqdist : receives the squared distance to it
    slice_inertia : receives sum(w * min_sqdist) over each slice, in float64;
        its length is the number of slices
    slice_sums, slice_weights : when not empty, receive each slice's per-cluster
        sums of ``w * x`` and of ``w`` (the fused M-step)
    exact_below : relative threshold of the direct recomputation (see above)
    chunk_rows, k_block : rows of X and centers per GEMM call
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_slices = slice_inertia.shape[0]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef bint fused = slice_sums.shape[0] > 0
    cdef Py_ssize_t n_chunks = (n + chunk_rows - 1) // chunk_rows
    cdef Py_ssize_t s, c, i, lab, start, end
    cdef floating* buf
    cdef int32_t* block_label
    cdef double dist, w, inertia
    with nogil:
        for s in prange(n_slices, schedule="dynamic", num_threads=n_threads):
            buf = &buffers[threadid(), 0]
            block_label = &block_labels[threadid(), 0]
            inertia = 0.0
            if fused:
                # Explicit loops: slicing a memoryview here would take the GIL.
                for lab in range(slice_weights.shape[1]):
                    slice_weights[s, lab] = 0.0
                    for i in range(d):
                        slice_sums[s, lab, i] = 0.0
            for c in range(s * n_chunks // n_slices, (s + 1) * n_chunks // n_slices):
                start = c * chunk_rows
                end = min(start + chunk_rows, n)
                _nearest_in_chunk(X, centers, c_sqnorms, start, end, k_block, buf,
                                  buf + chunk_rows * k_block, block_label,
                                  &labels[start], &min_sqdist[start])
                for i in range(start, end):
                    dist = <double> x_sqnorms[i] + min_sqdist[i]
                    if dist < exact_below * (<double> x_sqnorms[i] + c_sqnorms[labels[i]]):
                        # The expansion cancelled most digits: recompute directly.
                        dist = sqdist(&X[i, 0], &centers[labels[i], 0], d)
                    min_sqdist[i] = <floating> dist
                    w = sample_weight[i] if weighted else 1.0
                    inertia = inertia + w * dist
                    if fused:
                        lab = labels[i]
                        slice_weights[s, lab] += w
                        add_scaled_row(&slice_sums[s, lab, 0], &X[i, 0], w, d)
            slice_inertia[s] = inertia
