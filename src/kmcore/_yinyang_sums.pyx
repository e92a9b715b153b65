"""The incremental M-step of the Yinyang strategy and the direct inertia.

The bounds kernel (``_yinyang._yinyang_assign``) lists the rows whose label
changed; ``_move_rows`` moves just those rows between the float64 cluster
sums, so an iteration that relabels few rows costs few additions instead of a
pass over X. ``_labelled_inertia`` sums the final inertia from direct
float64 distances. Both give the same result for any thread count: each
cluster receives its additions in row order, and the inertia is summed per
fixed slice of rows.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t

from kmcore._common cimport add_scaled_row, sqdist

ctypedef Py_ssize_t intp_t


def _move_rows(
    const floating[:, ::1] X,              # IN    (n, d)
    const floating[::1] sample_weight,     # IN    (n,), or (0,) for unit weights
    const intp_t[::1] rows,                # IN    (m,) rows whose label changed, in order
    const intp_t[::1] old_labels,          # IN    (m,)
    const intp_t[::1] new_labels,          # IN    (m,)
    double[:, ::1] sums,                   # INOUT (k, d) float64 sums of w * x per cluster
    double[::1] weights,                   # INOUT (k,) sums of w
    double[::1] scale,                     # INOUT (k,) sums of |w| ever added or removed
    int64_t[::1] n_positive,               # INOUT (k,) rows of positive weight
    int n_threads,
):
    """The incremental M-step: move the rows that changed label between sums.

    Each thread updates one range of clusters, scanning the moved rows in
    order: every cluster receives its additions and subtractions in row order
    whatever the thread count.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    sample_weight : row weights; empty means 1
    rows, old_labels, new_labels : the rows that moved, from which cluster to
        which (``old != new``)
    sums, weights : per-cluster float64 sums of ``w * x`` and of ``w``
    scale : per cluster, the total weight that went through it (a measure of
        the rounding its sums carry; the caller recomputes them when it
        dwarfs the weight left)
    n_positive : per cluster, the rows of positive weight (exact emptiness)
    n_threads : int
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = sums.shape[0], m = rows.shape[0]
    cdef bint weighted = sample_weight.shape[0] > 0
    # One cluster range per thread: every range scans all the moved rows,
    # so more ranges than threads would only repeat that scan.
    cdef Py_ssize_t n_parts = max(1, min(k, n_threads))
    cdef Py_ssize_t p, q, i, lo, hi
    cdef intp_t a, c
    cdef double w
    cdef bint bad = False
    if (old_labels.shape[0] != m or new_labels.shape[0] != m or sums.shape[1] != d
            or weights.shape[0] != k or scale.shape[0] != k or n_positive.shape[0] != k
            or (weighted and sample_weight.shape[0] != n)):
        raise ValueError("_move_rows: inconsistent argument shapes")
    with nogil:
        for q in range(m):
            if (rows[q] < 0 or rows[q] >= n or old_labels[q] < 0 or old_labels[q] >= k
                    or new_labels[q] < 0 or new_labels[q] >= k):
                bad = True
    if bad:
        raise ValueError("_move_rows: rows or labels out of range")
    if m == 0:
        return
    with nogil:
        for p in prange(n_parts, schedule="static", num_threads=n_threads):
            lo = p * k // n_parts
            hi = (p + 1) * k // n_parts
            for q in range(m):
                i = rows[q]
                w = sample_weight[i] if weighted else 1.0
                a = old_labels[q]
                c = new_labels[q]
                if lo <= a < hi:
                    add_scaled_row(&sums[a, 0], &X[i, 0], -w, d)
                    weights[a] -= w
                    scale[a] += w
                    if w > 0:
                        n_positive[a] -= 1
                if lo <= c < hi:
                    add_scaled_row(&sums[c, 0], &X[i, 0], w, d)
                    weights[c] += w
                    scale[c] += w
                    if w > 0:
                        n_positive[c] += 1


def _labelled_inertia(
    const floating[:, ::1] X,              # IN  (n, d)
    const floating[:, ::1] centers,        # IN  (k, d)
    const intp_t[::1] labels,              # IN  (n,)
    const floating[::1] sample_weight,     # IN  (n,), or (0,) for unit weights
    double[::1] slice_inertia,             # OUT (n_slices,)
    Py_ssize_t slice_rows,
    int n_threads,
):
    """sum(w * ||x - c_label||^2) by direct float64 distances, per row slice.

    Parameters
    ----------
    X, centers : C-contiguous arrays of one dtype
    labels : center of every row
    sample_weight : row weights; empty means 1
    slice_inertia : receives each slice's sum (add them in order: the total
        does not depend on the thread count)
    slice_rows : rows per slice
    n_threads : int
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t n_slices = slice_inertia.shape[0]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t s, i
    cdef double acc
    cdef bint bad = False
    if (centers.shape[1] != d or labels.shape[0] != n or slice_rows < 1
            or n_slices != (n + slice_rows - 1) // slice_rows
            or (weighted and sample_weight.shape[0] != n)):
        raise ValueError("_labelled_inertia: inconsistent argument shapes")
    with nogil:
        for i in range(n):
            if labels[i] < 0 or labels[i] >= k:
                bad = True
    if bad:
        raise ValueError("_labelled_inertia: labels out of range")
    with nogil:
        for s in prange(n_slices, schedule="static", num_threads=n_threads):
            acc = 0.0
            for i in range(s * slice_rows, min(n, (s + 1) * slice_rows)):
                acc = acc + (sample_weight[i] if weighted else 1.0) * sqdist(
                    &X[i, 0], &centers[labels[i], 0], d)
            slice_inertia[s] = acc
