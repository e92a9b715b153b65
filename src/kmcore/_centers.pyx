"""Weighted per-cluster sums (the M-step), deterministic for any thread count.

Each thread owns a contiguous range of clusters and scans all labels, adding
the rows of its own clusters (faiss's scheme). A cluster's sum is therefore
always accumulated in row order by one thread: no per-thread K x D partial
buffers, no lock, and bitwise the same result for 1 or many threads.
"""

from cython cimport floating
from cython.parallel cimport prange

from kmcore._common cimport add_scaled_row

ctypedef Py_ssize_t intp_t


def _weighted_sums(
    const floating[:, ::1] X,              # IN  (n, d)
    const intp_t[::1] labels,              # IN  (n,) values in [0, k)
    const floating[::1] sample_weight,     # IN  (n,), or (0,) for unit weights
    const intp_t[::1] part_bounds,         # IN  (n_parts + 1,) cluster ranges
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
    part_bounds : clusters ``part_bounds[p]:part_bounds[p + 1]`` belong to part
        p; parts run in parallel. Choose them with balanced member counts.
        The result does not depend on them.
    sums : receives sum of w_i * x_i per cluster (zeroed here)
    weight_in_clusters : receives sum of w_i per cluster (zeroed here)
    n_threads : int
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t n_parts = part_bounds.shape[0] - 1
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t p, i, j, lab, lo, hi
    cdef double w
    with nogil:
        for p in prange(n_parts, schedule="dynamic", num_threads=n_threads):
            lo = part_bounds[p]
            hi = part_bounds[p + 1]
            for lab in range(lo, hi):
                weight_in_clusters[lab] = 0
                for j in range(d):
                    sums[lab, j] = 0
            for i in range(n):
                lab = labels[i]
                if lab < lo or lab >= hi:
                    continue
                w = sample_weight[i] if weighted else 1.0
                weight_in_clusters[lab] += w
                add_scaled_row(&sums[lab, 0], &X[i, 0], w, d)
