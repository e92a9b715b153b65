"""Kernels of greedy k-means++ and farthest-first seeding.

One call of ``_candidate_distances`` is one pass over X: the distances of all
rows to the L candidate centers of one step come from one strip product per
chunk (``_yinyang_dots.h``: memory-bound, the floor of a seeding step), fused with the min against the
current closest distances and the weighted potential of each candidate.

k-means++ skips the rows that no candidate can come closer to:
``_rows_to_compute`` proves it by the triangle inequality, and in high
dimension, where that rarely proves anything, ``_filtered_distances`` from
the rows' projections on a few directions of largest spread (a projected
distance never exceeds the distance; ``_seeding_blocks._projection_block``).
``_filtered_distances`` runs a whole step in one parallel region: the
projection test, the products of the rows left (read in place) and the potentials,
summed over every row in the full pass's chunks and order, so the
potentials, and the rows picked, are those of the full pass.
"""

from libc.math cimport sqrt
from libc.stdint cimport int32_t, uint8_t, uint16_t
from libc.stdlib cimport free

from cython cimport floating
from cython.parallel cimport prange, threadid

from kmcore._common cimport (
    check_at_least,
    check_blas_int,
    check_equal,
    check_optional,
    check_threads,
)
from kmcore._seeding_blocks cimport (
    _candidate_panel,
    _chunk_distances,
    _chunk_potentials,
    _projection_block,
)

ctypedef Py_ssize_t intp_t


cdef int _check_candidate_pass(
    str K,
    const floating[:, ::1] X,
    const floating[::1] x_sqnorms,
    const floating[:, ::1] candidates,
    const floating[::1] cand_sqnorms,
    const floating[:, ::1] gemm_candidates,
    const floating[::1] closest,
    const floating[::1] sample_weight,
    const double[::1] origin,
    floating[:, ::1] dist,
    Py_ssize_t chunk_rows,
    int n_threads,
) except -1:
    """Refuse inconsistent shapes of the arguments both candidate passes take.

    :func:`_candidate_distances` and :func:`_filtered_distances` read X,
    the candidates and their norms the same way: one set of checks, run with
    the GIL before either enters native code, naming the entry ``K``.
    """
    cdef Py_ssize_t n = X.shape[0], L = candidates.shape[0]
    check_at_least(X.shape[1], 1, K, "X.shape[1]")
    check_equal(x_sqnorms.shape[0], n, K, "x_sqnorms.shape[0] (rows of X)")
    check_equal(candidates.shape[1], X.shape[1], K, "candidates.shape[1] (columns of X)")
    check_equal(cand_sqnorms.shape[0], L, K, "cand_sqnorms.shape[0] (rows of candidates)")
    check_equal(gemm_candidates.shape[0], L, K, "gemm_candidates.shape[0] (rows of candidates)")
    check_equal(gemm_candidates.shape[1], X.shape[1], K,
                "gemm_candidates.shape[1] (columns of X)")
    check_equal(closest.shape[0], n, K, "closest.shape[0] (rows of X)")
    check_optional(sample_weight.shape[0], n, K, "sample_weight.shape[0] (rows of X)")
    check_optional(origin.shape[0], X.shape[1], K, "origin.shape[0] (columns of X)")
    check_equal(dist.shape[0], L, K, "dist.shape[0] (rows of candidates)")
    check_equal(dist.shape[1], n, K, "dist.shape[1] (rows of X)")
    check_at_least(chunk_rows, 1, K, "chunk_rows")
    check_blas_int(chunk_rows, K, "chunk_rows")
    check_blas_int(L, K, "candidates.shape[0]")
    check_blas_int(X.shape[1], K, "X.shape[1]")
    check_threads(n_threads, K)
    return 0


def _candidate_distances(
    const floating[:, ::1] X not None,              # IN  (n, d)
    const floating[::1] x_sqnorms not None,         # IN  (n,)
    const floating[:, ::1] candidates not None,     # IN  (L, d)
    const floating[::1] cand_sqnorms not None,      # IN  (L,) norms of gemm_candidates
    const floating[::1] closest not None,           # IN  (n,) current closest squared distance
    const floating[::1] sample_weight not None,     # IN  (n,), or (0,) for unit weights
    floating[:, ::1] buffers not None,              # OUT (n_threads, see below) scratch
    floating[:, ::1] dist not None,                 # OUT (L, n)
    double[:, ::1] chunk_pots not None,             # OUT (n_chunks, L)
    Py_ssize_t chunk_rows,
    int n_threads,
    double exact_below,
    const double[::1] origin not None,              # IN  (d,), or (0,): no shift
    const floating[:, ::1] gemm_candidates not None,  # IN (L, d) candidates - origin, or candidates
):
    """Closest squared distances if each candidate were added, and their potentials.

    ``dist[l, i] = min(closest[i], ||x_i - cand_l||^2)`` and ``chunk_pots[c, l]``
    is the weighted sum of ``dist[l]`` over chunk c, in float64. Summing
    ``chunk_pots`` over chunks in order gives a potential that does not
    depend on the thread count.

    The distance comes from the expansion ``||x||^2 - 2 x.c + ||c||^2``, clamped
    at 0, except where it
    is below ``exact_below * (||x||^2 + ||cand||^2)``: there the expansion has
    cancelled most of its digits (a row at or near the candidate) and it is
    recomputed directly as sum((x - cand)^2); so a chosen row always gets
    distance 0 and is never drawn again. With an ``origin`` (data far from
    the origin against their spread: the caller decides), the products run on
    ``x - origin`` (each chunk copied into the thread's buffer, its norms
    summed directly; ``x_sqnorms`` is then not used) and on
    ``gemm_candidates = candidates - origin``.

    :func:`_filtered_distances` computes the same distances for the rows its
    bounds leave.

    Parameters
    ----------
    X, x_sqnorms : data and its squared row norms
    candidates : candidate centers (rows of X)
    cand_sqnorms : squared norms of ``gemm_candidates``
    closest : current closest squared distance of every row (+inf for none)
    sample_weight : row weights; empty means 1
    buffers : scratch, one row per thread of ``chunk_rows * L`` elements,
        plus ``chunk_rows * (d + 1)`` with an origin
    dist : receives the updated closest distances, one row per candidate
    chunk_pots : receives the per-chunk potentials (at least n_chunks rows)
    chunk_rows : rows of X per chunk (the unit of parallel work and of the sums)
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    exact_below : relative threshold of the direct recomputation
    origin : the shift (float64), or empty for none
    gemm_candidates : ``candidates - origin`` in X's dtype, or ``candidates``
        itself without an origin
    """
    cdef str K = "_candidate_distances"
    cdef Py_ssize_t n = X.shape[0], L = candidates.shape[0]
    cdef bint shifting = origin.shape[0] > 0
    cdef Py_ssize_t n_chunks, c, m, start
    cdef const double* org = NULL
    cdef floating* panel
    _check_candidate_pass(K, X, x_sqnorms, candidates, cand_sqnorms, gemm_candidates, closest,
                          sample_weight, origin, dist, chunk_rows, n_threads)
    n_chunks = (n + chunk_rows - 1) // chunk_rows
    check_at_least(chunk_pots.shape[0], n_chunks, K, "chunk_pots.shape[0] (n_chunks)")
    check_equal(chunk_pots.shape[1], L, K, "chunk_pots.shape[1] (rows of candidates)")
    if n == 0 or L == 0:
        return
    check_at_least(buffers.shape[0], n_threads, K, "buffers.shape[0] (n_threads)")
    check_at_least(buffers.shape[1], chunk_rows * (L + (X.shape[1] + 1 if shifting else 0)),
                   K, "buffers.shape[1]")
    if shifting:
        org = &origin[0]
    panel = _candidate_panel(gemm_candidates)
    if panel == NULL:
        raise MemoryError(f"{K}: no memory for the candidates' strips")
    with nogil:
        for c in prange(n_chunks, schedule="static", num_threads=n_threads):
            start = c * chunk_rows
            m = min(start + chunk_rows, n) - start
            _chunk_distances(&X[0, 0], x_sqnorms, candidates, cand_sqnorms, panel,
                             closest, sample_weight, &buffers[threadid(), 0], dist,
                             NULL, start, m, chunk_rows, org, exact_below, &chunk_pots[c, 0])
    free(panel)


def _rows_to_compute(
    const floating[::1] closest not None,           # IN  (n,) current closest squared distance
    const floating[::1] x_sqnorms not None,         # IN  (n,)
    const int32_t[::1] assigned not None,           # IN  (n,) the center closest[i] is to
    const double[:, ::1] cc_lower not None,         # IN  (n_centers, L) see below
    double error_scale,
    double origin_norm,
    double max_norm,
    uint8_t[::1] need not None,                     # OUT (n,) 1 where a candidate may be closer
    int n_threads,
):
    """Rows that some candidate may come closer to than their closest center.

    Row i may skip candidate l when ``d(c_l, c_a) >= 2 sqrt(D_i + E_i)``
    (a = ``assigned[i]``, D_i = ``closest[i]``): then, by the triangle
    inequality, ``||x_i - c_l|| >= sqrt(D_i + E_i)`` exactly, and the full
    pass's computed distance, whose error is at most E_i, is at least D_i,
    so its min with D_i is D_i. ``cc_lower[a, l]`` is a lower bound on
    ``d(c_a, c_l)^2`` (the caller takes its own rounding off), and
    ``E_i = error_scale * ((sqrt(x_sqnorms[i]) + origin_norm)^2
    + (max_norm + origin_norm)^2)`` bounds the rounding of the GEMM
    expansion, whose operands are the rows less the origin (norm at most
    ``||x|| + ||origin||``) and candidates no longer than ``max_norm``. A row
    skips when it may skip every candidate; ``assigned`` outside
    ``[0, n_centers)`` means "compute".

    Parameters
    ----------
    closest, x_sqnorms : the rows' closest squared distances and squared norms
    assigned : index (a row of ``cc_lower``) of each row's closest center
    cc_lower : lower bounds on the squared center-candidate distances
    error_scale : relative rounding bound of a distance (see above)
    origin_norm : norm of the origin the GEMM runs around (0 for none)
    max_norm : the largest row norm of X
    need : receives 1 for the rows to compute, 0 for the rows to skip
    n_threads : int
        OpenMP threads; rows are independent.

    Returns
    -------
    n_rows, n_pairs : int
        The rows to compute, and the row-candidate pairs that could not be
        skipped (the work a per-pair skip would leave).
    """
    cdef str K = "_rows_to_compute"
    cdef Py_ssize_t n = closest.shape[0], L = cc_lower.shape[1], n_centers = cc_lower.shape[0]
    cdef Py_ssize_t i, l, a, n_rows = 0, n_pairs = 0, pairs
    cdef double bound, sx, far = (max_norm + origin_norm) * (max_norm + origin_norm)
    check_equal(x_sqnorms.shape[0], n, K, "x_sqnorms.shape[0] (rows of closest)")
    check_equal(assigned.shape[0], n, K, "assigned.shape[0] (rows of closest)")
    check_equal(need.shape[0], n, K, "need.shape[0] (rows of closest)")
    check_threads(n_threads, K)
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            a = assigned[i]
            pairs = L
            if 0 <= a < n_centers:
                sx = sqrt(<double> x_sqnorms[i]) + origin_norm
                # The margin's own rounding is covered by the 1e-12.
                bound = 4.0 * (closest[i] + error_scale * (sx * sx + far)) * (1.0 + 1e-12)
                pairs = 0
                for l in range(L):
                    if not cc_lower[a, l] >= bound:
                        pairs = pairs + 1
            need[i] = pairs > 0
            n_rows += pairs > 0
            n_pairs += pairs
    return n_rows, n_pairs


def _sample_by_potential(
    const floating[::1] closest not None,           # IN  (n,)
    const floating[::1] sample_weight not None,     # IN  (n,), or (0,) for unit weights
    const double[::1] sorted_targets not None,      # IN  (L,) ascending
    intp_t[::1] out not None,                       # OUT (L,)
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
    cdef str K = "_sample_by_potential"
    cdef Py_ssize_t n = closest.shape[0], L = sorted_targets.shape[0]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef Py_ssize_t i = 0, l = 0, last_positive = -1, last_weighted = n - 1
    cdef double acc = 0.0, p, w
    check_optional(sample_weight.shape[0], n, K, "sample_weight.shape[0] (rows of closest)")
    check_equal(out.shape[0], L, K, "out.shape[0] (number of targets)")
    if L > 0:
        check_at_least(n, 1, K, "closest.shape[0]")
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


def _filtered_distances(
    const floating[:, ::1] X not None,              # IN  (n, d)
    const floating[::1] x_sqnorms not None,         # IN  (n,)
    const floating[:, ::1] candidates not None,     # IN  (L, d)
    const floating[::1] cand_sqnorms not None,      # IN  (L,) norms of gemm_candidates
    const floating[::1] closest not None,           # IN  (n,) current closest squared distance
    const floating[::1] sample_weight not None,     # IN  (n,), or (0,) for unit weights
    floating[:, ::1] buffers not None,              # OUT (n_threads, chunk_rows * (L + d + 1))
    floating[:, ::1] dist not None,                 # OUT (L, n)
    double[:, ::1] chunk_pots not None,             # OUT (n_chunks, L)
    Py_ssize_t chunk_rows,
    int n_threads,
    double exact_below,
    const double[::1] origin not None,              # IN  (d,), or (0,): no shift
    const floating[:, ::1] gemm_candidates not None,  # IN (L, d)
    uint8_t[::1] need not None,                     # INOUT (n,) see below
    bint need_given,
    intp_t[:, ::1] gathered not None,               # OUT (n_threads, >= tile_rows) scratch
    Py_ssize_t tile_rows,
    double gather_below,
    const uint16_t[:, ::1] proj not None,           # IN  (m, n) bfloat16, or (0, 0): no projection
    const double[::1] y_norms not None,             # IN  (n,), or (0,)
    const float[:, ::1] cand_proj not None,         # IN  (L, m)
    double cand_norm,
    double origin_gap,
    double error_scale,
    double proj_error,
    double gram_error,
    float[:, ::1] acc not None,                     # OUT (n_threads, block) scratch
    double[:, ::1] thresholds not None,             # OUT (n_threads, block) scratch
):
    """``_candidate_distances`` over the rows the bounds leave, and the potentials: one pass.

    The rows run in tiles of ``tile_rows`` rows (a multiple of
    ``chunk_rows``), a tile per thread at a time. In a tile, the projection
    test of ``_seeding_blocks._projection_block`` (with ``proj``; see there)
    clears ``need`` for the rows it proves, looking only at rows where
    ``need`` is 1 if ``need_given`` (the triangle bounds filled it), else at
    every row (``need`` is then written, not read). When fewer than
    ``gather_below`` of the tile's rows are left, their products are computed
    by lists of up to ``chunk_rows`` rows and the potentials summed afterwards
    (``_chunk_potentials``); else the tile's chunks are computed whole, with
    the potentials fused, as the full pass does (so is a partial last chunk
    of X, always). Either way every row's
    distances and every chunk's potentials (``chunk_pots``, chunks of
    ``chunk_rows`` rows) are bitwise the full pass's, whatever the thread
    count: a row the bounds skip keeps its closest distance, which is what
    the full pass gives it, and a computed row's distances come from the
    same code (``_chunk_distances``), whose products sum each row over the
    features in order, whatever rows share its call (checked bitwise by
    tests/kmcore/test_seeding_accel.py). One parallel region per step, the
    tiles handed out dynamically: a thread the machine holds back delays
    the others by one tile at most.

    Parameters
    ----------
    X, x_sqnorms, candidates, cand_sqnorms, closest, sample_weight, buffers,
    dist, chunk_rows, exact_below, origin, gemm_candidates
        As in ``_candidate_distances`` (``buffers`` always with room for the
        gathered rows).
    chunk_pots : receives the per-chunk potentials of the full pass
    n_threads : int
        OpenMP threads; BLAS must be limited to one thread by the caller.
    need : the rows to compute; on return 1 for the rows the bounds left
    need_given : whether ``need`` holds the triangle bounds' rows on entry
    gathered : scratch for each thread's row list, at least a tile wide
    tile_rows : rows per tile
    gather_below : fraction of a tile's rows below which they are gathered
    proj, y_norms, cand_proj, cand_norm, origin_gap, error_scale, proj_error, gram_error
        The projection test's (see ``_projection_block``): the projected
        rows (bfloat16 bits, one row per direction), upper bounds of the
        rows' distances to the projection origin, the candidates' projected
        rows (float32), an upper bound of every candidate's distance to the
        projection origin, of the distance between the projection origin and
        the pass's, the relative rounding bound of a distance
        (``_rows_to_compute``), the relative error bound of the stored
        projections and a bound of ``||Q^T Q - I||_2``; an empty ``proj``
        tests nothing.
    acc, thresholds : scratch, one row per thread (their length is the block)

    Returns
    -------
    n_left, n_computed : int
        The rows the bounds left, and the rows whose distances were computed.
    """
    cdef str K = "_filtered_distances"
    cdef Py_ssize_t n = X.shape[0], L = candidates.shape[0], m = proj.shape[0]
    cdef Py_ssize_t tile = tile_rows, block = acc.shape[1]
    cdef Py_ssize_t n_tiles, n_workers, t, tstart, tend, gend, s, b, cnt, i, g, c, count
    cdef Py_ssize_t n_left = 0, n_computed = 0
    cdef bint shifting = origin.shape[0] > 0
    cdef const double* org = NULL
    cdef floating* buf
    cdef floating* panel
    cdef intp_t* idx
    _check_candidate_pass(K, X, x_sqnorms, candidates, cand_sqnorms, gemm_candidates, closest,
                          sample_weight, origin, dist, chunk_rows, n_threads)
    check_equal(need.shape[0], n, K, "need.shape[0] (rows of X)")
    check_at_least(tile, chunk_rows, K, "tile_rows (chunk_rows)")
    check_at_least(gathered.shape[1], tile, K, "gathered.shape[1] (tile_rows)")
    if tile % chunk_rows:
        raise ValueError(f"{K}: tile_rows must be a multiple of chunk_rows "
                         f"({chunk_rows}), got {tile}")
    if m > 0:
        check_equal(proj.shape[1], n, K, "proj.shape[1] (rows of X)")
        check_equal(y_norms.shape[0], n, K, "y_norms.shape[0] (rows of X)")
        check_equal(cand_proj.shape[0], L, K, "cand_proj.shape[0] (rows of candidates)")
        check_equal(cand_proj.shape[1], m, K, "cand_proj.shape[1] (rows of proj)")
        check_at_least(block, 1, K, "acc.shape[1]")
        check_equal(thresholds.shape[1], block, K, "thresholds.shape[1] (acc.shape[1])")
    else:
        block = tile
    n_tiles = (n + tile - 1) // tile
    check_at_least(chunk_pots.shape[0], (n + chunk_rows - 1) // chunk_rows, K,
                   "chunk_pots.shape[0] (n_chunks)")
    check_equal(chunk_pots.shape[1], L, K, "chunk_pots.shape[1] (rows of candidates)")
    if n == 0 or L == 0:
        return 0, 0
    n_workers = min(n_threads, n_tiles)
    check_at_least(buffers.shape[0], n_workers, K, "buffers.shape[0] (n_threads)")
    check_at_least(buffers.shape[1], chunk_rows * (L + X.shape[1] + 1), K, "buffers.shape[1]")
    check_at_least(gathered.shape[0], n_workers, K, "gathered.shape[0] (n_threads)")
    if m > 0:
        check_at_least(acc.shape[0], n_workers, K, "acc.shape[0] (n_threads)")
        check_at_least(thresholds.shape[0], n_workers, K, "thresholds.shape[0] (n_threads)")
    if shifting:
        org = &origin[0]
    panel = _candidate_panel(gemm_candidates)
    if panel == NULL:
        raise MemoryError(f"{K}: no memory for the candidates' strips")
    with nogil:
        for t in prange(n_tiles, schedule="dynamic", num_threads=n_workers):
            buf = &buffers[threadid(), 0]
            idx = &gathered[threadid(), 0]
            tstart = t * tile
            tend = min(tstart + tile, n)
            for b in range((tend - tstart + block - 1) // block):
                s = tstart + b * block
                cnt = min(block, tend - s)
                if m > 0:
                    _projection_block(&proj[0, 0], n, m, &y_norms[0], closest, &cand_proj[0, 0],
                                      L, cand_norm, origin_gap, error_scale, proj_error,
                                      gram_error, need, need_given, s, cnt,
                                      &acc[threadid(), 0], &thresholds[threadid(), 0])
                elif not need_given:
                    for i in range(s, s + cnt):
                        need[i] = 1
            # The last chunk of X, if partial, is computed whole, as by the full
            # pass: its rows are the only ones the full pass computes in a
            # call of another length (see _chunk_distances).
            gend = tend - tend % chunk_rows
            count = 0
            for i in range(tstart, gend):
                if need[i]:
                    idx[count] = i
                    count = count + 1
            for i in range(gend, tend):
                n_left += need[i]
            n_left += count
            if count >= gather_below * (gend - tstart):
                for c in range(tstart // chunk_rows, gend // chunk_rows):
                    s = c * chunk_rows
                    _chunk_distances(&X[0, 0], x_sqnorms, candidates, cand_sqnorms,
                                     panel, closest, sample_weight, buf, dist, NULL,
                                     s, chunk_rows, chunk_rows, org, exact_below,
                                     &chunk_pots[c, 0])
                n_computed += gend - tstart
            else:
                for g in range((count + chunk_rows - 1) // chunk_rows):
                    s = g * chunk_rows
                    _chunk_distances(&X[0, 0], x_sqnorms, candidates, cand_sqnorms,
                                     panel, closest, sample_weight, buf, dist,
                                     idx + s, 0, min(chunk_rows, count - s), chunk_rows, org,
                                     exact_below, NULL)
                for c in range(tstart // chunk_rows, gend // chunk_rows):
                    s = c * chunk_rows
                    _chunk_potentials(dist, closest, need, sample_weight, s, s + chunk_rows,
                                      &chunk_pots[c, 0])
                n_computed += count
            if gend < tend:
                _chunk_distances(&X[0, 0], x_sqnorms, candidates, cand_sqnorms, panel,
                                 closest, sample_weight, buf, dist, NULL, gend, tend - gend,
                                 chunk_rows, org, exact_below, &chunk_pots[gend // chunk_rows, 0])
                n_computed += tend - gend
    free(panel)
    return n_left, n_computed
