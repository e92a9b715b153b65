"""Two-way split (2-means) of a subset of rows, named by index, without copying.

With two centers the nearest-center test is one hyperplane test per row:
x is nearer c1 than c0 exactly when x.(c1 - c0) > (||c1||^2 - ||c0||^2) / 2,
so an iteration costs one dot product per member (a GEMV), no distances.
"""

from cython cimport floating
from cython.parallel cimport prange

from kmcore._common cimport (
    check_at_least,
    check_equal,
    check_indices,
    check_blas_int,
    check_optional,
    check_threads,
    dot,
    shifted_dot,
    sqdist,
)

ctypedef Py_ssize_t intp_t


def _member_sqdist(
    const floating[:, ::1] X not None,              # IN  (n, d)
    const intp_t[::1] indices not None,             # IN  (m,) rows of the subset
    const floating[::1] center not None,            # IN  (d,)
    floating[::1] out not None,                     # OUT (m,)
    int n_threads,
):
    """Exact squared distance ||X[indices[i]] - center||^2 of every member.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    indices : rows of X forming the subset, in [0, n)
    center : ndarray of shape (d,)
    out : receives the distances, in the subset's order
    n_threads : int
    """
    cdef str K = "_member_sqdist"
    cdef Py_ssize_t i, m = indices.shape[0], d = X.shape[1]
    check_at_least(d, 1, K, "X.shape[1]")
    check_equal(center.shape[0], d, K, "center.shape[0] (columns of X)")
    check_equal(out.shape[0], m, K, "out.shape[0] (length of indices)")
    check_threads(n_threads, K)
    check_indices(indices, X.shape[0], K, "indices")
    with nogil:
        for i in prange(m, schedule="static", num_threads=n_threads):
            out[i] = <floating> sqdist(&X[indices[i], 0], &center[0], d)


def _two_means(
    const floating[:, ::1] X not None,              # IN    (n, d)
    const intp_t[::1] indices not None,             # IN    (m,) rows of the subset
    const floating[::1] sample_weight not None,     # IN    (m,) weights of the members, or (0,)
    floating[:, ::1] centers not None,              # INOUT (2, d) initial, then final centers
    floating[::1] direction not None,               # OUT   (d,) scratch: c1 - c0
    intp_t[::1] labels not None,                    # OUT   (m,) 0 or 1
    double[:, ::1] sums not None,                   # OUT   (2, d) scratch
    double[::1] weights not None,                   # OUT   (2,) weight of each side
    int max_iter,
    int n_threads,
    double[::1] midpoint not None,                  # OUT   (d,) scratch: (c0 + c1) / 2
    double shift_factor,
):
    """Lloyd iterations with two centers on a subset, by hyperplane tests.

    Stops when no label changes or after ``max_iter`` iterations. On return
    ``centers`` are the weighted means of the two sides of ``labels``; a side
    that receives no member keeps its previous center (the caller handles it).

    The test x.(c1 - c0) > (||c1||^2 - ||c0||^2) / 2 cancels when the
    centers sit far from the origin against their distance. Then (when
    ``||mid||^2 > shift_factor * ||(c1 - c0) / 2||^2``, with mid the
    midpoint) each iteration tests the same hyperplane as
    ``(x - mid) . (c1 - c0) > 0`` instead, summed in float64: translation
    moves the threshold to exactly 0.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    indices : rows of X forming the subset, in [0, n)
    sample_weight : weights of the members (aligned with indices); empty means 1
    centers : the two starting centers; receives the final ones
    direction, sums, midpoint : scratch
    labels : receives the side of every member (ties go to side 0)
    weights : receives the total weight of each side
    max_iter : int
    n_threads : int
    shift_factor : float
        When to test around the midpoint (see above); +inf: never.

    Returns
    -------
    n_iter : int
        Iterations run.
    """
    cdef str K = "_two_means"
    cdef Py_ssize_t m = indices.shape[0], d = X.shape[1]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef bint shifted
    cdef Py_ssize_t i, j, side, n_changed
    cdef intp_t new
    cdef double threshold, w, half, mid_sq, half_sq
    cdef int it = 0
    check_at_least(d, 1, K, "X.shape[1]")
    check_at_least(max_iter, 1, K, "max_iter")
    check_optional(sample_weight.shape[0], m, K, "sample_weight.shape[0] (length of indices)")
    check_equal(centers.shape[0], 2, K, "centers.shape[0]")
    check_equal(centers.shape[1], d, K, "centers.shape[1] (columns of X)")
    check_equal(direction.shape[0], d, K, "direction.shape[0] (columns of X)")
    check_equal(midpoint.shape[0], d, K, "midpoint.shape[0] (columns of X)")
    check_equal(labels.shape[0], m, K, "labels.shape[0] (length of indices)")
    check_equal(sums.shape[0], 2, K, "sums.shape[0]")
    check_equal(sums.shape[1], d, K, "sums.shape[1] (columns of X)")
    check_equal(weights.shape[0], 2, K, "weights.shape[0]")
    check_blas_int(d, K, "X.shape[1]")
    check_threads(n_threads, K)
    check_indices(indices, X.shape[0], K, "indices")
    with nogil:
        for i in range(m):
            labels[i] = -1
        while it < max_iter:
            it = it + 1
            threshold = 0.0
            mid_sq = 0.0
            half_sq = 0.0
            for j in range(d):
                direction[j] = centers[1, j] - centers[0, j]
                threshold = threshold + 0.5 * (
                    <double> centers[1, j] * centers[1, j]
                    - <double> centers[0, j] * centers[0, j])
                midpoint[j] = 0.5 * (<double> centers[0, j] + centers[1, j])
                half = 0.5 * (<double> centers[1, j] - centers[0, j])
                mid_sq = mid_sq + midpoint[j] * midpoint[j]
                half_sq = half_sq + half * half
            shifted = mid_sq > shift_factor * half_sq
            n_changed = 0
            for i in prange(m, schedule="static", num_threads=n_threads):
                if shifted:
                    new = 1 if shifted_dot(&X[indices[i], 0], &midpoint[0], &direction[0],
                                           d) > 0 else 0
                else:
                    new = 1 if dot(&X[indices[i], 0], &direction[0], <int> d) > threshold else 0
                if new != labels[i]:
                    n_changed += 1
                    labels[i] = new
            if n_changed == 0:
                break
            # Each side summed by one thread in member order: deterministic.
            for side in prange(2, schedule="static", num_threads=min(n_threads, 2)):
                weights[side] = 0
                for j in range(d):
                    sums[side, j] = 0
                for i in range(m):
                    if labels[i] != side:
                        continue
                    w = sample_weight[i] if weighted else 1.0
                    weights[side] += w
                    for j in range(d):
                        sums[side, j] += w * X[indices[i], j]
                if weights[side] > 0:
                    for j in range(d):
                        centers[side, j] = <floating> (sums[side, j] / weights[side])
    return it
