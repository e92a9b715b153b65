"""Two-way split (2-means) of a subset of rows, named by index, without copying.

With two centers the nearest-center test is one hyperplane test per row:
x is nearer c1 than c0 exactly when x.(c1 - c0) > (||c1||^2 - ||c0||^2) / 2,
so an iteration costs one dot product per member (a GEMV), no distances.
"""

from cython cimport floating
from cython.parallel cimport prange

from kmcore._common cimport dot, sqdist

ctypedef Py_ssize_t intp_t


def _member_sqdist(
    const floating[:, ::1] X,              # IN  (n, d)
    const intp_t[::1] indices,             # IN  (m,) rows of the subset
    const floating[::1] center,            # IN  (d,)
    floating[::1] out,                     # OUT (m,)
    int n_threads,
):
    """Exact squared distance ||X[indices[i]] - center||^2 of every member.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    indices : rows of X forming the subset
    center : ndarray of shape (d,)
    out : receives the distances, in the subset's order
    n_threads : int
    """
    cdef Py_ssize_t i, m = indices.shape[0], d = X.shape[1]
    with nogil:
        for i in prange(m, schedule="static", num_threads=n_threads):
            out[i] = <floating> sqdist(&X[indices[i], 0], &center[0], d)


def _two_means(
    const floating[:, ::1] X,              # IN    (n, d)
    const intp_t[::1] indices,             # IN    (m,) rows of the subset
    const floating[::1] sample_weight,     # IN    (m,) weights of the members, or (0,)
    floating[:, ::1] centers,              # INOUT (2, d) initial, then final centers
    floating[::1] direction,               # OUT   (d,) scratch: c1 - c0
    intp_t[::1] labels,                    # OUT   (m,) 0 or 1
    double[:, ::1] sums,                   # OUT   (2, d) scratch
    double[::1] weights,                   # OUT   (2,) weight of each side
    int max_iter,
    int n_threads,
):
    """Lloyd iterations with two centers on a subset, by hyperplane tests.

    Stops when no label changes or after ``max_iter`` iterations. On return
    ``centers`` are the weighted means of the two sides of ``labels``; a side
    that receives no member keeps its previous center (the caller handles it).

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    indices : rows of X forming the subset
    sample_weight : weights of the members (aligned with indices); empty means 1
    centers : the two starting centers; receives the final ones
    direction, sums : scratch
    labels : receives the side of every member (ties go to side 0)
    weights : receives the total weight of each side
    max_iter : int
    n_threads : int

    Returns
    -------
    n_iter : int
        Iterations run.
    """
    cdef Py_ssize_t m = indices.shape[0], d = X.shape[1]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t i, j, side, n_changed
    cdef intp_t new
    cdef double threshold, w
    cdef int it = 0
    with nogil:
        for i in range(m):
            labels[i] = -1
        while it < max_iter:
            it = it + 1
            threshold = 0.0
            for j in range(d):
                direction[j] = centers[1, j] - centers[0, j]
                threshold = threshold + 0.5 * (
                    <double> centers[1, j] * centers[1, j]
                    - <double> centers[0, j] * centers[0, j])
            n_changed = 0
            for i in prange(m, schedule="static", num_threads=n_threads):
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
