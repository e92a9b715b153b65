"""The M-step: weighted per-cluster sums, deterministic for any thread count,
and the means with how far each center moved.

The rows are cut into a fixed number of contiguous parts (chosen by the
caller from the shape, never from the thread count). Each part adds its rows,
in order, into its own K x D float64 sums; the parts are then added in part
order. Every thread streams through whole rows of one range of X: measured
on MNIST (k = 256, 2 threads), that takes 8-11 ms where faiss's scheme (each
thread owns a range of clusters and scans all labels, skipping the rows of
others) took 13-15 ms, presumably because each thread's prefetchers fetch
the rows it skips. A part's sums are zeroed a row at a time when a cluster
first appears in it, so a part that sees few clusters neither writes nor
adds the rest.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

from kmcore._common cimport add_scaled_row

ctypedef Py_ssize_t intp_t


def _weighted_sums(
    const floating[:, ::1] X,              # IN  (n, d)
    const intp_t[::1] labels,              # IN  (n,) values in [0, k)
    const floating[::1] sample_weight,     # IN  (n,), or (0,) for unit weights
    const intp_t[::1] row_bounds,          # IN  (n_parts + 1,) row ranges
    double[:, :, ::1] part_sums,           # OUT (n_parts - 1, k, d) scratch
    double[:, ::1] part_weights,           # OUT (n_parts - 1, k) scratch
    unsigned char[:, ::1] seen,            # OUT (n_parts, k) scratch
    double[:, ::1] sums,                   # OUT (k, d)
    double[::1] weight_in_clusters,        # OUT (k,)
    int n_threads,
):
    """Per-cluster weighted sums of rows and of weights, in float64.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    labels : cluster of every row
    sample_weight : row weights; empty means 1
    row_bounds : part p is rows ``row_bounds[p]:row_bounds[p + 1]``; parts run
        in parallel. The result depends on them (the order of the float64
        additions), not on ``n_threads``.
    part_sums, part_weights : sums of parts 1.. (part 0 accumulates in ``sums``
        and ``weight_in_clusters``); contents on entry are ignored
    seen : whether cluster c has appeared in part p yet; contents on entry are
        ignored
    sums : receives sum of w_i * x_i per cluster
    weight_in_clusters : receives sum of w_i per cluster
    n_threads : int
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = sums.shape[0]
    cdef Py_ssize_t n_parts = row_bounds.shape[0] - 1
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t p, i, j, lab, c
    cdef double w
    cdef double* acc
    cdef double* acc_w
    # Shapes only (cheap); labels and bounds are the caller's to get right.
    if (labels.shape[0] != n or sums.shape[1] != d or weight_in_clusters.shape[0] != k
            or n_parts < 1 or seen.shape[0] != n_parts or seen.shape[1] != k
            or part_sums.shape[0] != n_parts - 1 or part_weights.shape[0] != n_parts - 1
            or (n_parts > 1 and (part_sums.shape[1] != k or part_sums.shape[2] != d
                                 or part_weights.shape[1] != k))):
        raise ValueError("_weighted_sums: inconsistent argument shapes")
    with nogil:
        # Static schedule: with fewer threads than parts each thread takes
        # neighbouring parts, so it still reads one contiguous range of X.
        for p in prange(n_parts, schedule="static", num_threads=n_threads):
            if p == 0:
                acc = &sums[0, 0]
                acc_w = &weight_in_clusters[0]
            else:
                acc = &part_sums[p - 1, 0, 0]
                acc_w = &part_weights[p - 1, 0]
            for c in range(k):
                seen[p, c] = 0
            for i in range(row_bounds[p], row_bounds[p + 1]):
                lab = labels[i]
                w = sample_weight[i] if weighted else 1.0
                if not seen[p, lab]:
                    seen[p, lab] = 1
                    acc_w[lab] = 0
                    for j in range(d):
                        acc[lab * d + j] = 0
                acc_w[lab] += w
                add_scaled_row(acc + lab * d, &X[i, 0], w, d)
        for c in prange(k, schedule="static", num_threads=n_threads):
            if not seen[0, c]:
                weight_in_clusters[c] = 0
                for j in range(d):
                    sums[c, j] = 0
            for p in range(1, n_parts):
                if seen[p, c]:
                    weight_in_clusters[c] += part_weights[p - 1, c]
                    add_scaled_row(&sums[c, 0], &part_sums[p - 1, c, 0], 1.0, d)


def _means(
    const double[:, ::1] sums,             # IN    (k, d)
    const double[::1] weight_in_clusters,  # IN    (k,)
    floating[:, ::1] centers,              # INOUT (k, d)
    double[::1] shift,                     # OUT   (k,), or (0,) to skip
    int n_threads,
):
    """Replace each center of positive weight by its cluster's mean.

    One pass over K x D with no temporaries: done with NumPy, the divide and
    the shift's difference, square and sum took 20 ms per iteration at
    k = 4000, d = 784 (1% of the GEMM), most of it in page faults.

    Parameters
    ----------
    sums, weight_in_clusters : float64 sums of w_i * x_i and of w_i per cluster
    centers : on entry, the rows to keep where the weight is not positive; on
        return ``sums / weight`` rounded once to the centers' dtype elsewhere
    shift : receives the Euclidean distance between each row of ``centers``
        on entry and on return (in float64), unless empty
    n_threads : int
    """
    cdef Py_ssize_t k = centers.shape[0], d = centers.shape[1]
    cdef bint want_shift = shift.shape[0] > 0
    cdef Py_ssize_t c, j
    cdef double w, diff, sq
    cdef floating mean
    if (sums.shape[0] != k or sums.shape[1] != d or weight_in_clusters.shape[0] != k
            or (want_shift and shift.shape[0] != k)):
        raise ValueError("_means: inconsistent argument shapes")
    with nogil:
        for c in prange(k, schedule="static", num_threads=n_threads):
            w = weight_in_clusters[c]
            sq = 0.0
            if w > 0:
                for j in range(d):
                    mean = <floating> (sums[c, j] / w)
                    diff = <double> mean - <double> centers[c, j]
                    sq = sq + diff * diff
                    centers[c, j] = mean
            if want_shift:
                shift[c] = sqrt(sq)
