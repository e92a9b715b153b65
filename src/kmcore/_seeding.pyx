"""Kernels of greedy k-means++ and farthest-first seeding.

One call of ``_candidate_distances`` is one pass over X: the distances of all
rows to the L candidate centers of one step come from one thin GEMM per chunk
(memory-bound, the floor of a seeding step), fused with the min against the
current closest distances and the weighted potential of each candidate.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid

from kmcore._common cimport gemm_abt

ctypedef Py_ssize_t intp_t


def _candidate_distances(
    const floating[:, ::1] X,              # IN  (n, d)
    const floating[::1] x_sqnorms,         # IN  (n,)
    const floating[:, ::1] candidates,     # IN  (L, d)
    const floating[::1] cand_sqnorms,      # IN  (L,)
    const floating[::1] closest,           # IN  (n,) current closest squared distance
    const floating[::1] sample_weight,     # IN  (n,), or (0,) for unit weights
    floating[:, ::1] buffers,              # OUT (n_threads, chunk_rows * L) scratch
    floating[:, ::1] dist,                 # OUT (L, n)
    double[:, ::1] chunk_pots,             # OUT (n_chunks, L)
    Py_ssize_t chunk_rows,
    int n_threads,
):
    """Closest squared distances if each candidate were added, and their potentials.

    ``dist[l, i] = min(closest[i], ||x_i - cand_l||^2)`` (the distance by the
    GEMM expansion, clamped at 0) and ``chunk_pots[c, l]`` is the weighted sum of
    ``dist[l]`` over chunk c, in float64. Summing ``chunk_pots`` over chunks in
    order gives a potential that does not depend on the thread count.

    Parameters
    ----------
    X, x_sqnorms : data and its squared row norms
    candidates, cand_sqnorms : candidate centers and their squared norms
    closest : current closest squared distance of every row (+inf for none)
    sample_weight : row weights; empty means 1
    buffers : scratch, one row per thread
    dist : receives the updated closest distances, one row per candidate
    chunk_pots : receives the per-chunk potentials
    chunk_rows : rows of X per GEMM call
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    """
    cdef Py_ssize_t n = X.shape[0], L = candidates.shape[0]
    cdef int d = X.shape[1]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t n_chunks = (n + chunk_rows - 1) // chunk_rows
    cdef Py_ssize_t c, i, l, m, start, end
    cdef floating* buf
    cdef floating* row
    cdef floating v, cl
    cdef double pot
    with nogil:
        for c in prange(n_chunks, schedule="static", num_threads=n_threads):
            buf = &buffers[threadid(), 0]
            start = c * chunk_rows
            end = min(start + chunk_rows, n)
            m = end - start
            # Center-major block, buf[l * m + i] = -2 cand_l . x_{start + i}, so
            # the loop below runs contiguously over rows (vectorisable).
            gemm_abt(&candidates[0, 0], <int> L, &X[start, 0], <int> m, d, -2.0,
                     buf, <int> m)
            for l in range(L):
                cl = cand_sqnorms[l]
                row = buf + l * m
                pot = 0.0
                for i in range(m):
                    v = row[i] + x_sqnorms[start + i] + cl
                    if v < 0:
                        v = 0
                    if closest[start + i] < v:
                        v = closest[start + i]
                    dist[l, start + i] = v
                    pot = pot + (sample_weight[start + i] if weighted else 1.0) * v
                chunk_pots[c, l] = pot


def _sample_by_potential(
    const floating[::1] closest,           # IN  (n,)
    const floating[::1] sample_weight,     # IN  (n,), or (0,) for unit weights
    const double[::1] sorted_targets,      # IN  (L,) ascending
    intp_t[::1] out,                       # OUT (L,)
):
    """Rows drawn with probability proportional to ``w * closest``.

    For each target t, the first row of positive ``w * closest`` whose
    cumulative sum (in float64, in row order) reaches t: for t > 0 that is
    ``numpy.searchsorted(cumsum, t)``, without building the cumulative sum.
    Targets past the total (rounding) give the last row of positive
    ``w * closest``; when every row has ``w * closest == 0`` (every row sits
    on a center) the last row of positive weight is returned.

    Parameters
    ----------
    closest : current closest squared distances
    sample_weight : row weights; empty means 1
    sorted_targets : uniform draws times the total potential, sorted
    out : receives the drawn row for each target, in the targets' order
    """
    cdef Py_ssize_t n = closest.shape[0], L = sorted_targets.shape[0]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t i = 0, l = 0, last_positive = -1, last_weighted = n - 1
    cdef double acc = 0.0, p, w
    with nogil:
        while l < L and i < n:
            w = sample_weight[i] if weighted else 1.0
            p = closest[i] * w
            if p > 0:
                acc = acc + p
                last_positive = i
                while l < L and acc >= sorted_targets[l]:
                    out[l] = i
                    l = l + 1
            elif w > 0:
                last_weighted = i
            i = i + 1
        if last_positive >= 0:
            last_weighted = last_positive
        while l < L:
            out[l] = last_weighted
            l = l + 1
