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
from libc.stdint cimport INT32_MAX, int32_t

from kmcore._common cimport (
    add_scaled_row,
    argmin_block,
    check_at_least,
    check_blas_int,
    check_equal,
    check_optional,
    check_threads,
    gemm_abt,
    shift_rows,
    sqdist,
)

ctypedef Py_ssize_t intp_t


cdef void _nearest_in_chunk(
    const floating* rows,                  # IN  (m, d) contiguous rows
    Py_ssize_t m,
    const floating* centers,               # IN  (k, d) contiguous
    Py_ssize_t k,
    const floating* c_sqnorms,             # IN  (k,)
    int d,
    Py_ssize_t k_block,
    floating* buf,                         # OUT (k_block * m) scratch
    floating* block_best,                  # OUT (2 * m) scratch
    int32_t* block_label,                  # OUT (m,) scratch
    intp_t* labels,                        # OUT (m,) nearest center
    floating* best,                        # OUT (m,) ||c||^2 - 2 x.c of it
    floating* second,                      # OUT (m,) the same for the runner-up
) noexcept nogil:
    """Nearest center of ``m`` rows by blocks of ``k_block`` centers.

    The block is center-major (``buf[j * m + i]``) so the argmin runs over
    rows for a fixed center: independent lanes in SIMD registers. Each
    block's winners are merged into the running minimum with a strict ``<``,
    which keeps the lowest index on ties, as ``numpy.argmin``; the runner-up
    (the smallest value over the other centers) is kept beside it.
    """
    cdef Py_ssize_t i, j0 = 0, kb
    cdef floating* block_second = block_best + m
    cdef floating lo, hi
    while j0 < k:
        kb = min(k_block, k - j0)
        # buf[j * m + i] = -2 c_{j0 + j} . x_i
        gemm_abt(centers + j0 * d, <int> kb, rows, <int> m, d, -2.0, buf, <int> m)
        if j0 == 0:
            argmin_block(buf, m, kb, c_sqnorms, best, second, block_label)
            for i in range(m):
                labels[i] = block_label[i]
        else:
            argmin_block(buf, m, kb, c_sqnorms + j0, block_best, block_second, block_label)
            for i in range(m):
                # The runner-up of the union: the smaller of the two seconds
                # and the larger of the two winners.
                lo = block_best[i] if block_best[i] < best[i] else best[i]
                hi = best[i] if block_best[i] < best[i] else block_best[i]
                if block_second[i] < second[i]:
                    second[i] = block_second[i]
                if hi < second[i]:
                    second[i] = hi
                if block_best[i] < best[i]:
                    labels[i] = j0 + block_label[i]
                best[i] = lo
        j0 += kb


def _assign_chunked(
    const floating[:, ::1] X not None,              # IN  (n, d)
    const floating[::1] x_sqnorms not None,         # IN  (n,)
    const floating[:, ::1] centers not None,        # IN  (k, d)
    const floating[::1] c_sqnorms not None,         # IN  (k,) norms of gemm_centers
    const floating[::1] sample_weight not None,     # IN  (n,), or (0,) for unit weights
    floating[:, ::1] buffers not None,              # OUT (n_threads, see below) scratch
    int32_t[:, ::1] block_labels not None,          # OUT (n_threads, chunk_rows) scratch
    intp_t[::1] labels not None,                    # OUT (n,)
    floating[::1] min_sqdist not None,              # OUT (n,)
    double[::1] slice_inertia not None,             # OUT (n_slices,)
    double[:, :, ::1] slice_sums not None,          # OUT (n_slices, k, d), or (0, 0, 0): no sums
    double[:, ::1] slice_weights not None,          # OUT (n_slices, k), or (0, 0)
    double exact_below,
    double tie_err,
    Py_ssize_t chunk_rows,
    Py_ssize_t k_block,
    int n_threads,
    const double[::1] origin not None,              # IN  (d,), or (0,): no shift
    const floating[:, ::1] gemm_centers not None,   # IN  (k, d) centers - origin, or centers
):
    """Label every row with its nearest center; optionally sum the clusters.

    The argmin is taken over ``||c||^2 - 2 x.c``; ``||x||^2`` is added back to
    the row minimum to give the squared distance. Where that distance is below
    ``exact_below * (||x||^2 + ||c||^2)`` the expansion has cancelled most of
    its digits (a row on its center), and the distance is recomputed directly
    as sum((x - c)^2) from X and ``centers``, so the distances and inertia
    reported are accurate in float32 too.

    The labels are those of exact arithmetic, as the bound kernels' (Yinyang,
    Hamerly), so that every strategy gives the same labels: each expanded
    distance is trusted to within ``tie_err * (||x||^2 + ||c||^2)``, and a
    row whose runner-up is within the sum of both margins of its winner (a
    near tie that rounding decides) gets its distances to every center
    summed directly in float64, the smallest winning, ties to the lowest
    index. Near ties are rare, so this costs little.

    Labels need more: far from the origin (against the spread of the data)
    the expansion cancels for every row. With an ``origin`` (the caller
    decides when), the GEMM and argmin run on ``x - origin`` and
    ``gemm_centers = centers - origin``: each chunk of rows is copied minus
    the origin into the thread's buffer, with its norms summed directly
    (``x_sqnorms`` is then not used). The sums stay on X itself, in float64.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    x_sqnorms : squared row norms of X
    centers : ndarray of shape (k, d), C-contiguous
    c_sqnorms : squared row norms of ``gemm_centers``
    sample_weight : row weights; empty means 1
    buffers : scratch, one row per worker thread (at least ``n_threads``
        rows) of ``chunk_rows * (k_block + 3)`` elements, plus
        ``chunk_rows * (d + 1)`` with an origin
    block_labels : scratch, one row per worker thread
    labels : receives the index of the nearest center
    min_sqdist : receives the squared distance to it
    slice_inertia : receives sum(w * min_sqdist) over each slice, in float64;
        its length is the number of slices
    slice_sums, slice_weights : when not empty, receive each slice's per-cluster
        sums of ``w * x`` and of ``w`` (the fused M-step)
    exact_below : relative threshold of the direct recomputation (see above)
    tie_err : relative error trusted to an expanded distance (see above)
    chunk_rows, k_block : rows of X and centers per GEMM call
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    origin : the shift (float64), or empty for none
    gemm_centers : ``centers - origin`` rounded to X's dtype, or ``centers``
        itself without an origin
    """
    cdef str K = "_assign_chunked"
    cdef Py_ssize_t n = X.shape[0], k = centers.shape[0]
    cdef Py_ssize_t n_slices = slice_inertia.shape[0]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef bint fused = slice_sums.shape[0] > 0
    cdef bint shifting = origin.shape[0] > 0
    cdef Py_ssize_t n_chunks, s, c, c2, i, lab, start, end, m, need
    cdef int d
    cdef floating* buf
    cdef floating* xbuf
    cdef const floating* rows
    cdef const floating* norms
    cdef const double* org = NULL
    cdef int32_t* block_label
    cdef double dist, w, inertia, xs, near, cmax = 0.0
    cdef floating* runner_up
    check_at_least(X.shape[1], 1, K, "X.shape[1]")
    check_equal(x_sqnorms.shape[0], n, K, "x_sqnorms.shape[0] (rows of X)")
    check_equal(centers.shape[1], X.shape[1], K, "centers.shape[1] (columns of X)")
    check_equal(c_sqnorms.shape[0], k, K, "c_sqnorms.shape[0] (rows of centers)")
    check_equal(gemm_centers.shape[0], k, K, "gemm_centers.shape[0] (rows of centers)")
    check_equal(gemm_centers.shape[1], X.shape[1], K, "gemm_centers.shape[1] (columns of X)")
    check_optional(origin.shape[0], X.shape[1], K, "origin.shape[0] (columns of X)")
    check_optional(sample_weight.shape[0], n, K, "sample_weight.shape[0] (rows of X)")
    check_equal(labels.shape[0], n, K, "labels.shape[0] (rows of X)")
    check_equal(min_sqdist.shape[0], n, K, "min_sqdist.shape[0] (rows of X)")
    check_at_least(chunk_rows, 1, K, "chunk_rows")
    check_at_least(k_block, 1, K, "k_block")
    check_blas_int(chunk_rows, K, "chunk_rows")
    check_blas_int(X.shape[1], K, "X.shape[1]")
    if k_block > INT32_MAX:
        raise ValueError(f"{K}: k_block must be at most {INT32_MAX}, got {k_block}")
    check_threads(n_threads, K)
    if n == 0:
        return
    check_at_least(k, 1, K, "centers.shape[0]")
    check_at_least(n_slices, 1, K, "slice_inertia.shape[0] (n_slices)")
    if fused:
        check_equal(slice_sums.shape[0], n_slices, K, "slice_sums.shape[0] (n_slices)")
        check_equal(slice_sums.shape[1], k, K, "slice_sums.shape[1] (rows of centers)")
        check_equal(slice_sums.shape[2], X.shape[1], K, "slice_sums.shape[2] (columns of X)")
        check_equal(slice_weights.shape[0], n_slices, K, "slice_weights.shape[0] (n_slices)")
        check_equal(slice_weights.shape[1], k, K, "slice_weights.shape[1] (rows of centers)")
    need = chunk_rows * (min(k_block, k) + 3) + (chunk_rows * (X.shape[1] + 1) if shifting else 0)
    check_at_least(buffers.shape[0], n_threads, K, "buffers.shape[0] (n_threads)")
    check_at_least(buffers.shape[1], need, K, "buffers.shape[1]")
    check_at_least(block_labels.shape[0], n_threads, K, "block_labels.shape[0] (n_threads)")
    check_at_least(block_labels.shape[1], chunk_rows, K, "block_labels.shape[1] (chunk_rows)")
    if shifting:
        org = &origin[0]
    d = <int> X.shape[1]
    k_block = min(k_block, k)
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    for lab in range(k):
        if c_sqnorms[lab] > cmax:
            cmax = c_sqnorms[lab]
    with nogil:
        for s in prange(n_slices, schedule="dynamic", num_threads=n_threads):
            buf = &buffers[threadid(), 0]
            block_label = &block_labels[threadid(), 0]
            inertia = 0.0
            if fused:
                # Explicit loops: slicing a memoryview here would take the GIL.
                for lab in range(k):
                    slice_weights[s, lab] = 0.0
                    for i in range(d):
                        slice_sums[s, lab, i] = 0.0
            for c in range(s * n_chunks // n_slices, (s + 1) * n_chunks // n_slices):
                start = c * chunk_rows
                end = min(start + chunk_rows, n)
                m = end - start
                runner_up = buf + chunk_rows * (k_block + 2)
                if shifting:
                    xbuf = buf + chunk_rows * (k_block + 3)
                    shift_rows(&X[start, 0], m, d, org, xbuf, xbuf + chunk_rows * d)
                    rows = xbuf
                    norms = xbuf + chunk_rows * d
                else:
                    rows = &X[start, 0]
                    norms = &x_sqnorms[start]
                _nearest_in_chunk(rows, m, &gemm_centers[0, 0], k, &c_sqnorms[0], d, k_block,
                                  buf, buf + chunk_rows * k_block, block_label,
                                  &labels[start], &min_sqdist[start], runner_up)
                for i in range(start, end):
                    lab = labels[i]
                    xs = norms[i - start]
                    dist = xs + min_sqdist[i]
                    if runner_up[i - start] - min_sqdist[i] <= tie_err * (2.0 * xs + 2.0 * cmax):
                        # A near tie: direct float64 distances decide.
                        dist = sqdist(&X[i, 0], &centers[0, 0], d)
                        lab = 0
                        for c2 in range(1, k):
                            near = sqdist(&X[i, 0], &centers[c2, 0], d)
                            if near < dist:
                                dist = near
                                lab = c2
                        labels[i] = lab
                    elif dist < exact_below * (xs + c_sqnorms[lab]):
                        # The expansion cancelled most digits: recompute directly.
                        dist = sqdist(&X[i, 0], &centers[lab, 0], d)
                    min_sqdist[i] = <floating> dist
                    w = sample_weight[i] if weighted else 1.0
                    inertia = inertia + w * dist
                    if fused:
                        slice_weights[s, lab] += w
                        add_scaled_row(&slice_sums[s, lab, 0], &X[i, 0], w, d)
            slice_inertia[s] = inertia
