"""Yinyang group bounds: the E-step of Lloyd's algorithm without the distances
that provably cannot change a label (the incremental M-step that follows it
is ``_yinyang_sums``).

The centers are split into t groups. Every row keeps an upper bound ``u`` on
its distance to its own center and, per group, a lower bound ``l_g`` on its
distance to every center of that group except its own (Ding et al., ICML
2015). After the centers move, ``u`` grows by the own center's drift and
``l_g`` shrinks by the largest drift in group g. A row whose every ``l_g``
exceeds ``u`` keeps its label (global filter); otherwise ``u`` is tightened
to the exact distance and only the groups with ``l_g <= u`` are examined
(group filter). The exact own distance is kept per row and reused while
the own center stays bitwise where it was: late in a fit most centers no
longer move, and the rows that fail the filter then need no read for it.

The distances that remain are computed for blocks of failing rows. Each
group's centers are laid out once per call in strips (``_yinyang_dots.h``);
the rows of a block that need a group are multiplied against its strips
where they are, through a list of pointers (no copy; data far from the
origin are copied minus an origin once per block, as kmcore's plain pass
does, see ``kmcore._origin``), or the whole block against every center
when a large part of its distances is needed anyway. The products are
center-major, so that the plain pass's vectorised argmin folds a group's
products of all the block's rows at once. The rows that fail the global
filter are tightened several at a time (independent chains of the direct
sums, whose reads are the filter's bottleneck). Exact distances use X
itself.

Exactness. Every bound allows for rounding: an expanded distance
``||x||^2 - 2 x.c + ||c||^2`` (a product of the strips, summed in X's dtype
like a GEMM's) is trusted to within
``rel_err * (||x||^2 + ||c||^2)`` (with the largest ``||c||^2`` of the
center's group, so one margin serves a group), a direct float64 sum((x - c)^2) to within
``(d + 16) * 2^-52`` of itself, and lower bounds are stored in float32
rounded down. A row keeps a label only when its distance to that center is
provably smaller than to every other center; when two centers are within
rounding of each other the row's distances to the candidates are recomputed
directly in float64 and the smallest wins, ties to the lowest center index
(as the Lloyd kernel's argmin). The labels are those of exact arithmetic.

Rows are cut into slices of ``slice_rows`` (fixed by the caller, never by the
thread count) and a block never spans two slices, so every row's result is
bitwise the same for any number of threads.

This module is the filter pass and the driver; the block's per-row state
and its folds of expanded and direct distances are inline helpers in
``_yinyang_block.pxd``, the SIMD loops of the products and the direct
distances are in ``_yinyang_dots.h``.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY, sqrt
from libc.stdlib cimport free, malloc
from libc.stdint cimport int32_t, int64_t

from kmcore._dots cimport fill_strips
from kmcore._yinyang_block cimport (
    _C_AMBIGUOUS,
    _C_CHANGED,
    _C_DISTANCES,
    _C_GATHERED,
    _C_PRODUCTS,
    _C_TIGHTENED,
    _N_COUNTS,
    _ROW_DOUBLES,
    _ROW_INTPS,
    _Block,
    _carve,
    _down,
    _fold_direct,
    _fold_group,
    _Geometry,
    _panel_dots,
    _sqdist_rows,
    _start_row,
    KM_STRIP_BYTES,
    intp_t,
)

# A float32 lower bound after ``l - drift`` (drift rounded up to float32) is
# multiplied by this: the product is below the exact l - drift whatever the
# two roundings did (each loses at most 2^-24 relative).
cdef float _SHRINK = <float> (1.0 - 1.0 / 4194304.0)
# An upper bound is compared as u * _SLACK: covers the float64 rounding of
# the drift additions it accumulates between two tightenings.
cdef double _SLACK = 1.0 + 1e-9
# Rows of a whole-block product that go through every group together: their
# rows stay in the core's cache while each group's strips are read once.
cdef enum:
    _WHOLE_ROWS = 64
    # Rows of the filter pass whose tightenings are computed together.
    _QUEUE = 8


cdef extern from *:
    void __builtin_prefetch(const void* addr) nogil


cdef inline void _prefetch(const void* p, Py_ssize_t nbytes) noexcept nogil:
    """Ask for the cache lines of ``p[:nbytes]`` ahead of their use."""
    cdef Py_ssize_t o
    for o in range(0, nbytes, 64):
        __builtin_prefetch(<const char*> p + o)


cdef void _process_block(
    _Block* b,
    _Geometry* geo,
    const floating* X,                  # IN  (n, d) for the direct distances
    const floating* xblock,             # IN  (m, d) the block's rows shifted (with an origin)
    floating* out,                      # OUT (k, m) scratch: products, center-major
    floating* fold,                     # OUT (3 m) scratch: each row's nearest two in a group
    const floating* x_sqnorms,          # IN  (n,) of the products' rows
    const floating* gcenters,           # IN  (k, d) for the direct distances
    const floating* gc_sqnorms,         # IN  (k,) of the products' centers
    const intp_t* gorder,               # IN  (k,)
    const intp_t* gstart,               # IN  (t + 1,)
    const intp_t* center_group,         # IN  (k,)
    intp_t* labels,                     # INOUT (n,)
    double* upper,                      # INOUT (n,)
    float* lower,                       # INOUT (n, t)
    double* own_sq,                     # INOUT (n,)
    int64_t* counts,                    # INOUT (_N_COUNTS,)
) noexcept nogil:
    """Compute the needed distances of a block, then its labels and bounds."""
    cdef Py_ssize_t m = b.m, d = geo.d, k = geo.k, t = geo.t
    cdef Py_ssize_t r, g, i, mg, p0, p1
    cdef Py_ssize_t W = KM_STRIP_BYTES // sizeof(floating)
    cdef intp_t own, lab
    cdef double v
    cdef bint direct
    # A group's smallest and second smallest -2 x.c + ||c||^2 per row, and the first's center.
    cdef floating* best = fold
    cdef floating* second = fold + m
    cdef int32_t* label = <int32_t*> (fold + 2 * m)
    for r in range(m):
        _start_row(b, r, t, -1 if geo.init else labels[b.rows[r]])
    if b.n_needed >= geo.whole_fraction * m * k:
        # Most of the block's distances are needed: the product against every
        # center, and every group's bounds refreshed from it. Blocks of
        # _WHOLE_ROWS rows go through all the groups, their rows kept in cache.
        for r in range(m):
            b.sub[r] = r
            b.ptrs[r] = <void*> (xblock + r * d if geo.origin != NULL else X + b.rows[r] * d)
            for g in range(t):
                b.need[r * t + g] = 1
        p0 = 0
        while p0 < m:
            mg = min(<Py_ssize_t> _WHOLE_ROWS, m - p0)
            for g in range(t):
                _panel_dots(<const floating* const*> b.ptrs + p0, mg,
                            <const floating*> geo.panel + geo.strip_start[g] * d * W, d,
                            gstart[g + 1] - gstart[g], out + gstart[g] * m + p0, m)
            p0 += mg
        counts[_C_DISTANCES] += m * k
        counts[_C_PRODUCTS] += 1
        for g in range(t):
            _fold_group(b, g, geo, out + gstart[g] * m, m, gc_sqnorms, gorder, gstart[g],
                        gstart[g + 1], x_sqnorms, b.sub, best, second, label)
    else:
        # Group by group, the products of the rows that need it, read where
        # they are (no copy, see _yinyang_dots.h).
        for g in range(t):
            mg = 0
            for r in range(m):
                if b.need[r * t + g]:
                    b.sub[mg] = r
                    b.ptrs[mg] = <void*> (xblock + r * d if geo.origin != NULL
                                          else X + b.rows[r] * d)
                    mg += 1
            if mg == 0:
                continue
            p0 = gstart[g]
            p1 = gstart[g + 1]
            _panel_dots(<const floating* const*> b.ptrs, mg,
                        <const floating*> geo.panel + geo.strip_start[g] * d * W, d, p1 - p0,
                        out, mg)
            counts[_C_DISTANCES] += mg * (p1 - p0)
            counts[_C_PRODUCTS] += 1
            _fold_group(b, g, geo, out, mg, gc_sqnorms, gorder, p0, p1, x_sqnorms, b.sub,
                        best, second, label)
    for r in range(m):
        i = b.rows[r]
        own = -1 if geo.init else labels[i]
        direct = b.second_lo[r] <= b.best_hi[r]
        if direct:
            # Another center may be as near as the best within rounding: direct
            # distances over the examined groups decide, ties to the lowest index.
            _start_row(b, r, t, own)
            for g in range(t):
                if b.need[r * t + g]:
                    _fold_direct(b, r, g, geo, X + i * d, gcenters, gorder, gstart[g],
                                 gstart[g + 1], own, counts)
            counts[_C_AMBIGUOUS] += 1
        lab = b.best_idx[r]
        upper[i] = sqrt(b.best_hi[r])
        # The best candidate's distance is sqdist's (the value a tightening
        # would compute) when it is the own center's or came from the direct
        # distances; an expanded distance is not kept.
        own_sq[i] = b.best_d[r] if direct or lab == own else -1.0
        for g in range(t):
            if b.need[r * t + g]:
                v = b.gmin2[r * t + g] if b.gidx1[r * t + g] == lab else b.gmin1[r * t + g]
                lower[i * t + g] = _down(sqrt(v)) if v > 0 else 0
        if own >= 0 and lab != own:
            if b.moved != NULL:
                b.moved[counts[_C_CHANGED]] = i
                b.moved_from[counts[_C_CHANGED]] = own
            counts[_C_CHANGED] += 1
            g = center_group[own]
            if not b.need[r * t + g]:
                # The old center becomes a rival in its (unexamined) group.
                v = _down(sqrt(b.own_lo[r])) if b.own_lo[r] > 0 else 0
                if v < lower[i * t + g]:
                    lower[i * t + g] = <float> v
        labels[i] = lab
    b.m = 0
    b.n_needed = 0


cdef void _run_slice(
    Py_ssize_t start,
    Py_ssize_t end,
    _Geometry* geo,
    Py_ssize_t block_rows,
    const floating[:, ::1] X,
    const floating[::1] x_sqnorms,
    const floating[:, ::1] gcenters,
    const floating[::1] gc_sqnorms,
    const intp_t[::1] gorder,
    const intp_t[::1] gpos,
    const intp_t[::1] gstart,
    const intp_t[::1] center_group,
    const double[::1] drift,
    const float[::1] group_drift,
    intp_t[::1] labels,
    double[::1] upper,
    float[:, ::1] lower,
    double[::1] own_sq,
    const unsigned char[::1] still,
    floating* fbuf,
    double* dbuf,
    intp_t* ibuf,
    unsigned char* mbuf,
    int64_t* counts,
    intp_t* moved,
    intp_t* moved_from,
) noexcept nogil:
    """Filter, tighten and gather the rows ``start:end``; compute their blocks.

    ``moved``/``moved_from``: where the slice records its changed rows (or NULL).
    """
    cdef Py_ssize_t d = geo.d, k = geo.k, t = geo.t
    cdef Py_ssize_t i, g, r, c, q, row, nq = 0, nread
    cdef intp_t lab
    cdef double u, thr, dist
    cdef float lmin, v
    cdef float* low
    cdef _Block b
    cdef floating* xblock = fbuf
    cdef floating* out = fbuf + block_rows * d
    cdef floating* fold = fbuf + block_rows * (d + k)
    # The rows that failed the global filter, waiting for their tightening.
    cdef intp_t queue[_QUEUE]
    cdef float queue_lmin[_QUEUE]
    cdef const floating* xs[_QUEUE]
    cdef const floating* cs[_QUEUE]
    cdef double dists[_QUEUE]
    _carve(&b, block_rows, t, dbuf, ibuf, mbuf)
    b.moved = moved
    b.moved_from = moved_from
    for c in range(_N_COUNTS):
        counts[c] = 0
    # Rows are taken in row order, _QUEUE at a time: the rows that fail the
    # filter are fetched as they are found and their exact distances to
    # their own centers (the read that bounds the filter's speed) computed
    # together, then each joins the block or keeps its label.
    for i in range(start, end + 1):
        if i < end:
            if geo.init:
                queue[nq] = i
                nq += 1
            else:
                # The filter pass: bounds moved by the drifts (vectorisable over groups).
                lab = labels[i]
                u = upper[i] + drift[lab]
                low = &lower[i, 0]
                lmin = INFINITY
                for g in range(t):
                    v = (low[g] - group_drift[g]) * _SHRINK
                    v = v if v > 0 else 0
                    low[g] = v
                    lmin = v if v < lmin else lmin
                upper[i] = u
                if not still[gpos[lab]]:
                    own_sq[i] = -1.0
                if not lmin > u * _SLACK:
                    queue[nq] = i
                    queue_lmin[nq] = lmin
                    nq += 1
                    if own_sq[i] < 0:
                        _prefetch(&X[i, 0], d * sizeof(floating))
        if nq == 0 or (nq < _QUEUE and i < end):
            continue
        if not geo.init:
            # Tighten u to the exact distance to the own center: the one kept
            # from an earlier call when that center has not moved since (the
            # same sqdist of the same values), else a read.
            nread = 0
            for q in range(nq):
                if own_sq[queue[q]] < 0:
                    xs[nread] = &X[queue[q], 0]
                    cs[nread] = &gcenters[gpos[labels[queue[q]]], 0]
                    nread += 1
            _sqdist_rows(xs, cs, nread, d, dists)
            counts[_C_DISTANCES] += nread
            counts[_C_TIGHTENED] += nread
        nread = 0
        for q in range(nq):
            row = queue[q]
            r = b.m
            if geo.init:
                b.own_d[r] = INFINITY
                b.own_lo[r] = INFINITY
                b.own_hi[r] = INFINITY
                for g in range(t):
                    b.need[r * t + g] = 1
                b.n_needed += k
            else:
                dist = own_sq[row]
                if dist < 0:
                    dist = dists[nread]
                    nread += 1
                    own_sq[row] = dist
                u = sqrt(dist * (1 + geo.gamma))
                upper[row] = u
                thr = u * _SLACK
                if queue_lmin[q] > thr:
                    continue
                b.own_d[r] = dist
                b.own_lo[r] = dist * (1 - geo.gamma)
                b.own_hi[r] = dist * (1 + geo.gamma)
                low = &lower[row, 0]
                for g in range(t):
                    if low[g] <= thr:
                        b.need[r * t + g] = 1
                        b.n_needed += gstart[g + 1] - gstart[g]
                    else:
                        b.need[r * t + g] = 0
            if geo.origin != NULL:
                for c in range(d):
                    xblock[r * d + c] = <floating> (<double> X[row, c] - geo.origin[c])
            b.rows[r] = row
            b.m = r + 1
            counts[_C_GATHERED] += 1
            if b.m == block_rows:
                _process_block(&b, geo, &X[0, 0], xblock, out, fold, &x_sqnorms[0],
                               &gcenters[0, 0], &gc_sqnorms[0], &gorder[0],
                               &gstart[0], &center_group[0], &labels[0], &upper[0],
                               &lower[0, 0], &own_sq[0], counts)
        nq = 0
    if b.m > 0:
        _process_block(&b, geo, &X[0, 0], xblock, out, fold, &x_sqnorms[0],
                       &gcenters[0, 0], &gc_sqnorms[0], &gorder[0],
                       &gstart[0], &center_group[0], &labels[0], &upper[0], &lower[0, 0],
                       &own_sq[0], counts)


def _yinyang_assign(
    const floating[:, ::1] X,              # IN    (n, d)
    const floating[::1] x_sqnorms,         # IN    (n,) of X - origin
    const double[::1] origin,              # IN    (d,), or (0,): no shift
    const floating[:, ::1] gcenters,       # IN    (k, d) the centers sorted by group
    const floating[:, ::1] gemm_centers,   # IN    (k, d) gcenters - origin, or gcenters
    const floating[::1] gc_sqnorms,        # IN    (k,) squared norms of gemm_centers
    const intp_t[::1] gorder,              # IN    (k,) original index of each sorted center
    const intp_t[::1] gpos,                # IN    (k,) sorted position of each center
    const intp_t[::1] gstart,              # IN    (t + 1,) group g is gorder[gstart[g]:gstart[g+1]]
    const intp_t[::1] center_group,        # IN    (k,) group of each center
    const double[::1] drift,               # IN    (k,) how far each center moved
    const float[::1] group_drift,          # IN    (t,) largest drift per group, rounded up
    intp_t[::1] labels,                    # INOUT (n,)
    double[::1] upper,                     # INOUT (n,)
    float[:, ::1] lower,                   # INOUT (n, t)
    double[::1] own_sq,                    # INOUT (n,) kept own distances, < 0: none
    const unsigned char[::1] still,        # IN    (k,) sorted centers unmoved since the last call
    floating[:, ::1] fscratch,             # OUT   (n_workers, block_rows * (d + k + 3)) scratch
    double[:, ::1] dscratch,               # OUT   (n_workers, block_rows * (7 + 2 t)) scratch
    intp_t[:, ::1] iscratch,               # OUT   (n_workers, block_rows * (4 + t)) scratch
    unsigned char[:, ::1] mscratch,        # OUT   (n_workers, block_rows * t) scratch
    int64_t[:, ::1] slice_counts,          # OUT   (n_slices, 6)
    double rel_err,
    Py_ssize_t slice_rows,
    Py_ssize_t block_rows,
    double whole_fraction,
    bint init,
    int n_threads,
    intp_t[::1] moved=None,                # OUT   (n,) or None
    intp_t[::1] moved_from=None,           # OUT   (n,) or None
):
    """Nearest center of every row, skipping what the bounds prove unchanged.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    x_sqnorms : squared row norms of X, or with an origin of the rows of
        ``X - origin`` rounded to X's dtype (the products' operands)
    origin : far from 0 the expansions cancel: with an origin the products
        run on the rows and centers minus it (``kmcore._origin``); the exact
        distances always use X and gcenters
    gcenters : the current centers, permuted so that each group is contiguous
    gemm_centers, gc_sqnorms : ``gcenters - origin`` rounded to X's dtype
        (gcenters itself without an origin) and their squared norms: the
        products' centers
    gorder, gpos : the permutation (sorted position -> center) and its inverse
    gstart : group boundaries in the sorted order (t + 1 increasing values
        from 0 to k, no empty group)
    center_group : group of each center (original order)
    drift : distance each center moved since ``upper``/``lower`` were valid
        (ignored when ``init``)
    group_drift : per group, the largest drift, rounded up to float32
    labels, upper, lower : the labels and bounds of the previous centers; on
        return those of the current centers. Ignored on entry when ``init``.
    own_sq : per row, sqdist of the row to its own center as the last call
        that computed it left it, or negative when there is none (the last
        label came from an expanded distance, or the center has moved since). On
        return, that of the current centers or negative. A caller that
        changes a row's label or its bounds' history must set it negative.
    still : per sorted center, 1 when its coordinates are those of the
        previous call (bitwise), so that its kept own distances stay exact;
        ignored when ``init``
    fscratch, dscratch, iscratch, mscratch : per-worker scratch, at least
        ``n_threads`` rows of the sizes shown
    slice_counts : receives per slice the distances computed, the rows that
        needed a group, the rows resolved by direct distances (near ties),
        the rows whose label changed, the rows whose upper bound was
        tightened and the products (one per group product, one per
        whole-block product)
    rel_err : relative error allowed to an expanded distance, times
        ``||x||^2 + ||c||^2``
    slice_rows : rows per slice (the unit of parallel work)
    block_rows : rows per gathered block (at most ``slice_rows``)
    whole_fraction : a block is multiplied against every center when its
        needed distances are at least this fraction of ``block_rows * k``
    init : compute every distance (no previous bounds)
    n_threads : int
        OpenMP threads (no BLAS call is made).
    moved, moved_from : None, or receive the rows whose label changed and
        their previous labels, slice s's in row order from ``s * slice_rows``
        (as many as its changed count; nothing when ``init``), as in
        ``_hamerly._hamerly_assign``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = gcenters.shape[0]
    cdef Py_ssize_t t = gstart.shape[0] - 1
    cdef Py_ssize_t B = block_rows
    cdef Py_ssize_t n_slices = slice_counts.shape[0]
    cdef Py_ssize_t s, i, w, g
    cdef Py_ssize_t W = KM_STRIP_BYTES // sizeof(floating)
    cdef floating* panel = NULL
    cdef bint bad = False
    cdef _Geometry geo
    cdef intp_t* moved_p = NULL
    cdef intp_t* from_p = NULL
    if (x_sqnorms.shape[0] != n or gcenters.shape[1] != d or gc_sqnorms.shape[0] != k
            or gemm_centers.shape[0] != k or gemm_centers.shape[1] != d
            or (origin.shape[0] != 0 and origin.shape[0] != d)
            or gorder.shape[0] != k or gpos.shape[0] != k or center_group.shape[0] != k
            or t < 1 or group_drift.shape[0] != t or (not init and drift.shape[0] != k)
            or labels.shape[0] != n or upper.shape[0] != n
            or lower.shape[0] != n or lower.shape[1] != t
            or own_sq.shape[0] != n or still.shape[0] != k
            or B < 1 or slice_rows < B or n_slices != (n + slice_rows - 1) // slice_rows
            or slice_counts.shape[1] != _N_COUNTS or n_threads < 1
            or fscratch.shape[0] < n_threads or fscratch.shape[1] < B * (d + k + 3)
            or dscratch.shape[0] < n_threads or dscratch.shape[1] < B * (_ROW_DOUBLES + 2 * t)
            or iscratch.shape[0] < n_threads or iscratch.shape[1] < B * (_ROW_INTPS + t)
            or mscratch.shape[0] < n_threads or mscratch.shape[1] < B * t):
        raise ValueError("_yinyang_assign: inconsistent argument shapes")
    if ((moved is None) != (moved_from is None)
            or (moved is not None and (moved.shape[0] != n or moved_from.shape[0] != n))):
        raise ValueError("_yinyang_assign: moved and moved_from must both be None or (n,)")
    if n == 0 or d == 0:
        return
    if moved is not None:
        moved_p = &moved[0]
        from_p = &moved_from[0]
    # Indices that the loops below follow into other arrays: never out of range.
    with nogil:
        if gstart[0] != 0 or gstart[t] != k:
            bad = True
        for g in range(t):
            if gstart[g + 1] <= gstart[g]:
                bad = True
        for i in range(k):
            if (gorder[i] < 0 or gorder[i] >= k or gpos[i] < 0 or gpos[i] >= k
                    or center_group[i] < 0 or center_group[i] >= t):
                bad = True
            elif gpos[gorder[i]] != i:
                bad = True
        if not init:
            for i in range(n):
                if labels[i] < 0 or labels[i] >= k:
                    bad = True
    if bad:
        raise ValueError("_yinyang_assign: invalid groups or labels")
    geo.n = n
    geo.d = d
    geo.k = k
    geo.t = t
    geo.rel_err = rel_err
    geo.gamma = (d + 16) * 2.220446049250313e-16
    geo.whole_fraction = whole_fraction
    geo.init = init
    geo.origin = &origin[0] if origin.shape[0] > 0 else NULL
    geo.group_sqmax = <double*> malloc(t * sizeof(double))
    geo.strip_start = <intp_t*> malloc((t + 1) * sizeof(intp_t))
    if geo.strip_start != NULL:
        geo.strip_start[0] = 0
        for g in range(t):
            geo.strip_start[g + 1] = (geo.strip_start[g]
                                      + (gstart[g + 1] - gstart[g] + W - 1) // W)
        panel = <floating*> malloc(geo.strip_start[t] * d * W * sizeof(floating))
    if geo.group_sqmax == NULL or geo.strip_start == NULL or panel == NULL:
        free(geo.group_sqmax)
        free(geo.strip_start)
        free(panel)
        raise MemoryError()
    geo.panel = <const void*> panel
    with nogil:
        # Each group's centers in strips of W, feature-major, zero-padded.
        for g in range(t):
            fill_strips(gemm_centers, gstart[g], gstart[g + 1],
                        panel + geo.strip_start[g] * d * W)
    for g in range(t):
        geo.group_sqmax[g] = 0
        for i in range(gstart[g], gstart[g + 1]):
            if gc_sqnorms[i] > geo.group_sqmax[g]:
                geo.group_sqmax[g] = gc_sqnorms[i]
    with nogil:
        for s in prange(n_slices, schedule="dynamic", num_threads=n_threads):
            w = threadid()
            _run_slice(s * slice_rows, min(n, (s + 1) * slice_rows), &geo, B, X, x_sqnorms,
                       gcenters, gc_sqnorms, gorder, gpos, gstart, center_group,
                       drift, group_drift, labels, upper, lower, own_sq, still,
                       &fscratch[w, 0], &dscratch[w, 0],
                       &iscratch[w, 0], &mscratch[w, 0], &slice_counts[s, 0],
                       moved_p + s * slice_rows if moved_p != NULL else NULL,
                       from_p + s * slice_rows if from_p != NULL else NULL)
    free(geo.group_sqmax)
    free(geo.strip_start)
    free(panel)
