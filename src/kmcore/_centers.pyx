"""The M-step: weighted per-cluster sums, deterministic for any thread count,
and the means with how far each center moved.

The rows are cut into a fixed number of contiguous parts (chosen by the
caller from the shape, never from the thread count). Each part adds its rows,
in order, into its own K x D float64 sums; the parts are then added in part
order. Every thread streams through whole rows of one range of X, which
was faster than giving each thread a range of clusters to scan all labels
for (skipping the rows of others), presumably because each thread's
prefetchers fetch the rows it skips (benchmarks/TUNING.md). A part's sums are zeroed a row at a time when a cluster
first appears in it, so a part that sees few clusters neither writes nor
adds the rest.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

from kmcore._common cimport (
    add_scaled_row,
    check_at_least,
    check_equal,
    check_indices,
    check_optional,
    check_threads,
)

ctypedef Py_ssize_t intp_t


def _weighted_sums(
    const floating[:, ::1] X not None,              # IN  (n, d)
    const intp_t[::1] labels not None,              # IN  (n,) values in [0, k)
    const floating[::1] sample_weight not None,     # IN  (n,), or (0,) for unit weights
    const intp_t[::1] row_bounds not None,          # IN  (n_parts + 1,) row ranges
    double[:, :, ::1] part_sums not None,           # OUT (n_parts - 1, k, d) scratch
    double[:, ::1] part_weights not None,           # OUT (n_parts - 1, k) scratch
    unsigned char[:, ::1] seen not None,            # OUT (n_parts, k) scratch
    double[:, ::1] sums not None,                   # OUT (k, d)
    double[::1] weight_in_clusters not None,        # OUT (k,)
    int n_threads,
):
    """Per-cluster weighted sums of rows and of weights, in float64.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    labels : cluster of every row, in ``[0, k)`` (checked: one pass)
    sample_weight : row weights; empty means 1
    row_bounds : part p is rows ``row_bounds[p]:row_bounds[p + 1]``, from 0
        to n, non-decreasing; parts run in parallel. The result depends on
        them (the order of the float64 additions), not on ``n_threads``.
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
    cdef str K = "_weighted_sums"
    check_at_least(d, 1, K, "X.shape[1]")
    check_at_least(k, 1, K, "sums.shape[0] (n_clusters)")
    check_equal(labels.shape[0], n, K, "labels.shape[0] (rows of X)")
    check_optional(sample_weight.shape[0], n, K, "sample_weight.shape[0] (rows of X)")
    check_equal(sums.shape[1], d, K, "sums.shape[1] (columns of X)")
    check_equal(weight_in_clusters.shape[0], k, K, "weight_in_clusters.shape[0] (rows of sums)")
    check_at_least(n_parts, 1, K, "row_bounds.shape[0] - 1 (n_parts)")
    check_equal(seen.shape[0], n_parts, K, "seen.shape[0] (n_parts)")
    check_equal(seen.shape[1], k, K, "seen.shape[1] (rows of sums)")
    check_equal(part_sums.shape[0], n_parts - 1, K, "part_sums.shape[0] (n_parts - 1)")
    check_equal(part_weights.shape[0], n_parts - 1, K, "part_weights.shape[0] (n_parts - 1)")
    if n_parts > 1:
        check_equal(part_sums.shape[1], k, K, "part_sums.shape[1] (rows of sums)")
        check_equal(part_sums.shape[2], d, K, "part_sums.shape[2] (columns of X)")
        check_equal(part_weights.shape[1], k, K, "part_weights.shape[1] (rows of sums)")
    check_threads(n_threads, K)
    if row_bounds[0] != 0 or row_bounds[n_parts] != n:
        raise ValueError(f"{K}: row_bounds must run from 0 to {n}, got "
                         f"{row_bounds[0]} to {row_bounds[n_parts]}")
    for p in range(n_parts):
        if row_bounds[p + 1] < row_bounds[p]:
            raise ValueError(f"{K}: row_bounds must be non-decreasing, got "
                             f"{row_bounds[p]} then {row_bounds[p + 1]} at position {p}")
    # The labels index the sums: one cheap pass, so a bad label raises here
    # rather than writing past them.
    check_indices(labels, k, K, "labels")
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
    const double[:, ::1] sums not None,             # IN    (k, d)
    const double[::1] weight_in_clusters not None,  # IN    (k,)
    floating[:, ::1] centers not None,              # INOUT (k, d)
    double[::1] shift not None,                     # OUT   (k,), or (0,) to skip
    int n_threads,
):
    """Replace each center of positive weight by its cluster's mean.

    One pass over K x D with no temporaries: done with NumPy, the divide and
    the shift's difference, square and sum cost a measurable share of an
    iteration at large K x D, most of it in page faults of the temporaries.

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
    cdef str K = "_means"
    check_equal(sums.shape[0], k, K, "sums.shape[0] (rows of centers)")
    check_equal(sums.shape[1], d, K, "sums.shape[1] (columns of centers)")
    check_equal(weight_in_clusters.shape[0], k, K, "weight_in_clusters.shape[0] (rows of centers)")
    check_optional(shift.shape[0], k, K, "shift.shape[0] (rows of centers)")
    check_threads(n_threads, K)
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
