"""Hamerly's bounds: Lloyd E-steps for few features, with direct distances.

Every row keeps an upper bound ``u`` on its distance to its own center and
one lower bound ``l`` on its distance to every other center (Hamerly, SDM
2010). After the centers move, ``u`` grows by the own center's drift and
``l`` shrinks by the largest drift of the other centers. With ``s(a)`` half
the distance from center a to its nearest other center, a row labelled a
keeps its label when ``u < max(l, s(a))``: every other center is then
farther than u. Otherwise ``u`` is tightened to the exact distance and the
test repeated; a row that still fails is compared with the centers that can
be nearer than its own.

Those candidates (the neighbour tables, when the caller builds them): every
center b with ``|c_a - c_b| > 2 u`` is farther from the row than c_a (the
triangle inequality), so with the other centers sorted by their distance
from c_a only a prefix of that order is scanned, and every center beyond it
is at least ``r - u`` from the row, r the distance of the first one left
out: a lower bound for the new ``l``. Without the tables (one table in
index order) every center is scanned. The tables also give a row's ``l`` a
drift of its own (``_near_lower``): only the centers before a block boundary
of c_a's table are moved by their drifts, those after it are bounded through
c_a, so a center that moves a lot far from c_a no longer lowers ``l``.

In few dimensions the distances that remain are computed directly, one row
(four consecutive float32 rows in the first call, which scans every row)
against blocks of 16 centers in SIMD lanes (``_hamerly.h``), not by GEMM: a
GEMM of inner dimension 8 spends more on packing its operands than on
arithmetic. A later call tests every row's bounds in one vectorised loop
(``km_hamerly_filter``); the few rows that fail are then tightened and
tested again without a branch on the outcome, and only the rows that still
fail are scanned.

Exactness. A label is the nearest center by direct float64 distances
(``sqdist``), ties to the lowest center index; the same rule as the Yinyang
kernel's, so the labels are those of exact arithmetic. The SIMD loop sums in
X's dtype: its distances are trusted to within ``gamma`` (relative, plus an
underflow allowance ``tiny``), and when the second-nearest center is within
that margin of the nearest, every candidate's distance is recomputed in
float64 and the smallest wins. The bounds are float64 and every skip needs a
relative margin of ``_SLACK``, far above the rounding of the drift updates.

Rows are cut into slices of ``slice_rows`` (fixed by the caller) and each row
is decided from its own bounds alone, so the result is bitwise the same for
any number of threads.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.float cimport DBL_MIN, FLT_MIN
from libc.math cimport INFINITY, sqrt
from libc.stdint cimport int64_t

from kmcore._common cimport (
    check_at_least,
    check_equal,
    check_indices,
    check_threads,
    sqdist,
)

ctypedef Py_ssize_t intp_t

cdef extern from "_hamerly.h" nogil:
    enum: KM_LANES
    void KM_PREFETCH(const void*)
    enum: KM_ROWS
    void km_nearest_two_f32(const float*, Py_ssize_t, const float*, Py_ssize_t, Py_ssize_t,
                            float*, float*, Py_ssize_t*)
    void km_nearest_two_f64(const double*, Py_ssize_t, const double*, Py_ssize_t, Py_ssize_t,
                            double*, double*, Py_ssize_t*)
    void km_nearest_two_rows_f32(const float*, Py_ssize_t, const float*, Py_ssize_t,
                                 Py_ssize_t, float*, float*, Py_ssize_t*)
    Py_ssize_t km_hamerly_filter(const Py_ssize_t*, double*, double*, const double*,
                                 const double*, double, double, Py_ssize_t, double, Py_ssize_t,
                                 Py_ssize_t, Py_ssize_t*)
    bint km_labels_in_range(const Py_ssize_t*, Py_ssize_t, Py_ssize_t)

# A row keeps its label only when u * _SLACK < max(l, s): covers the float64
# rounding that u and l accumulate through the drift updates between two
# recomputations (a few ulps per iteration).
cdef double _SLACK = 1.0 + 1e-9
# Failed rows fetched this many ahead of the one being processed.
cdef Py_ssize_t _AHEAD = 8
# Half-gaps are shrunk by this after the float64 square root.
cdef double _SHRINK = 1.0 - 1e-12

cdef enum:
    # Counters of one slice (slice_counts columns).
    _C_DISTANCES = 0   # distances computed
    _C_SCANNED = 1     # rows compared with their candidate centers
    _C_AMBIGUOUS = 2   # rows resolved by float64 distances (near ties)
    _C_CHANGED = 3     # rows whose label changed
    _N_COUNTS = 4


cdef struct _Margins:
    # Rounding allowances shared by every row of one call.
    double gamma       # relative error of a SIMD distance
    double tiny        # absolute allowance for underflow in a SIMD distance
    double gamma64     # relative error of a float64 sqdist
    double wide        # gamma + 2 gamma64: compares a SIMD distance with a sqdist


cdef inline void _nearest_two(
    const floating* x,          # IN  (rows, d) consecutive rows
    const floating* tab,        # IN  (nb * d * KM_LANES,) center blocks
    Py_ssize_t d,
    Py_ssize_t nb,
    Py_ssize_t rows,            # 1 or KM_ROWS
    double* best,               # OUT (rows,) smallest distance
    double* second,             # OUT (rows,) smallest distance at another position
    intp_t* pos,                # OUT (rows,) its position in the table
) noexcept nogil:
    """The SIMD loop of ``_hamerly.h`` for X's dtype, per row (KM_ROWS float32
    rows in one pass of it: the same results)."""
    cdef float b32[KM_ROWS]
    cdef float s32[KM_ROWS]
    cdef Py_ssize_t r
    if floating is float:
        if rows == 1:
            km_nearest_two_f32(x, 0, tab, d, nb, b32, s32, pos)
        else:
            km_nearest_two_rows_f32(x, d, tab, d, nb, b32, s32, pos)
        for r in range(rows):
            best[r] = b32[r]
            second[r] = s32[r]
    else:
        for r in range(rows):
            km_nearest_two_f64(x + r * d, 0, tab, d, nb, &best[r], &second[r], &pos[r])


cdef inline Py_ssize_t _scan_row(
    const floating* x,          # IN  (d,) the row
    const floating* centers,    # IN  (k, d)
    const floating* tab,        # IN  center blocks of one table
    const intp_t* order,        # IN  (kp,) center at each position of the table
    Py_ssize_t d,
    Py_ssize_t k,
    Py_ssize_t nb,
    double beyond,
    _Margins* mg,
    double* upper,              # OUT bound on the distance to the new label
    double* lower,              # OUT bound on the distance to every other center
    int64_t* counts,            # INOUT (_N_COUNTS,)
) noexcept nogil:
    """Compare a row with the first ``nb`` blocks of a table; return its label and set its bounds.

    Every center beyond them must be known farther than the label found and
    at least ``beyond`` from the row (+inf when the table is scanned whole).
    """
    cdef double best, second
    cdef intp_t p
    _nearest_two(x, tab, d, nb, 1, &best, &second, &p)
    return _settle_row(x, centers, order, d, k, nb, beyond, mg, best, second, p, upper, lower,
                       counts)


cdef inline Py_ssize_t _settle_row(
    const floating* x,          # IN  (d,) the row
    const floating* centers,    # IN  (k, d)
    const intp_t* order,        # IN  (kp,) center at each position of the table
    Py_ssize_t d,
    Py_ssize_t k,
    Py_ssize_t nb,
    double beyond,
    _Margins* mg,
    double best,                # the SIMD loop's smallest distance over nb blocks,
    double second,              # the smallest at another position
    intp_t p,                   # and the position of the smallest
    double* upper,              # OUT bound on the distance to the new label
    double* lower,              # OUT bound on the distance to every other center
    int64_t* counts,            # INOUT (_N_COUNTS,)
) noexcept nogil:
    """:func:`_scan_row` once the SIMD loop has run: the label, its near-tie check and bounds."""
    cdef double lo, hi, dist
    cdef intp_t lab, j
    cdef Py_ssize_t m = nb * KM_LANES
    m = m if m < k else k
    counts[_C_DISTANCES] += m
    counts[_C_SCANNED] += 1
    if p >= m:
        p = 0  # only for NaN input, which the callers reject: stay in range
    lab = order[p]
    hi = best * (1 + mg.wide) + mg.tiny
    lo = second * (1 - mg.wide) - mg.tiny
    if lo > hi:
        # The nearest is nearer than any other within every rounding.
        upper[0] = sqrt(best * (1 + mg.gamma) + mg.tiny)
        lo = second * (1 - mg.gamma) - mg.tiny
        lo = sqrt(lo) if lo > 0 else 0
        lower[0] = lo if lo < beyond else beyond
        return lab
    # A near tie: float64 distances decide, ties to the lowest index.
    counts[_C_AMBIGUOUS] += 1
    counts[_C_DISTANCES] += m
    best = INFINITY
    second = INFINITY
    lab = k
    for p in range(m):
        j = order[p]
        dist = sqdist(x, &centers[j * d], d)
        if dist < best or (dist == best and j < lab):
            second = best
            best = dist
            lab = j
        elif dist < second:
            second = dist
    if lab == k:
        lab = 0  # NaN distances only, as above
    upper[0] = sqrt(best * (1 + mg.gamma64))
    lo = second * (1 - mg.gamma64)
    lo = sqrt(lo) if lo > 0 else 0
    lower[0] = lo if lo < beyond else beyond
    return lab


cdef inline double _near_lower(
    double l,                   # a lower bound on the distances to the other previous centers
    double u,                   # an upper bound on the distance to the row's center a
    const double* near_drift,   # IN (kb,) of center a
    const double* radius,       # IN (kp + 1,) of center a
    Py_ssize_t kb,
) noexcept nogil:
    """A lower bound on the row's distances to every center but a, from its neighbours' drifts.

    For each block boundary P of a's table: the centers before P moved at
    most ``near_drift[P / 16 - 1]``, so they are at least ``l`` minus that
    from the row, and those from P on are at least ``radius[P] - u`` (the
    triangle inequality through c_a); the best of those minima. At ``P =
    kp`` it is ``l`` minus the largest drift of the other centers, the
    global bound: a center far from c_a that moves a lot no longer lowers
    the bound of the rows around c_a.
    """
    cdef double best = 0, near, far
    cdef Py_ssize_t b
    for b in range(kb):
        near = l - near_drift[b]
        far = (radius[(b + 1) * KM_LANES] - u) * _SHRINK
        near = near if near < far else far
        best = near if near > best else best
    return best


cdef void _run_slice(
    Py_ssize_t start,
    Py_ssize_t end,
    const floating[:, ::1] X,
    const floating[:, ::1] centers,
    const floating[:, ::1] tab,
    const intp_t[:, ::1] order,
    const double[:, ::1] radius,
    const double[:, ::1] near_drift,
    const double[::1] half_gap,
    const double[::1] drift,
    double drift1,
    double drift2,
    intp_t drift_arg,
    intp_t[::1] labels,
    double[::1] upper,
    double[::1] lower,
    intp_t* failed,
    _Margins* mg,
    bint init,
    int64_t* counts,
    intp_t* moved,
    intp_t* moved_from,
) noexcept nogil:
    """Filter, tighten and rescan the rows ``start:end``.

    Two passes: the bounds of every row first (sequential, no access to X),
    collecting the rows that fail into ``failed``; then those rows, each one
    fetched a few rows ahead (they are scattered over X). The rows whose
    label changes go, in order, to ``moved`` and their old labels to
    ``moved_from`` (both the slice's own part, or NULL: not recorded).
    """
    cdef Py_ssize_t d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t kb = order.shape[1] // KM_LANES
    cdef bint neighbours = tab.shape[0] > 1
    cdef Py_ssize_t i, c, q, t, nb, m_failed = 0
    cdef intp_t a, lab
    cdef double u, g, m, reach, beyond
    cdef bint keep
    cdef double best[KM_ROWS]
    cdef double second[KM_ROWS]
    cdef intp_t pos[KM_ROWS]
    for c in range(_N_COUNTS):
        counts[c] = 0
    if init:
        # Every row against every center, KM_ROWS rows per pass of the loop.
        i = start
        while i + KM_ROWS <= end:
            _nearest_two(&X[i, 0], &tab[0, 0], d, kb, KM_ROWS, best, second, pos)
            for q in range(KM_ROWS):
                labels[i + q] = _settle_row(&X[i + q, 0], &centers[0, 0], &order[0, 0], d, k,
                                            kb, INFINITY, mg, best[q], second[q], pos[q],
                                            &upper[i + q], &lower[i + q], counts)
            i += KM_ROWS
        for i in range(i, end):
            labels[i] = _scan_row(&X[i, 0], &centers[0, 0], &tab[0, 0], &order[0, 0], d, k, kb,
                                  INFINITY, mg, &upper[i], &lower[i], counts)
        return
    # The global test (u against the largest drift of the other centers and
    # the half-gap) for every row, vectorised; its failures in ``failed``.
    m_failed = km_hamerly_filter(&labels[start], &upper[start], &lower[start], &drift[0],
                                 &half_gap[0], drift1, drift2, drift_arg, _SLACK, end - start,
                                 start, failed)
    if neighbours:
        # A failing row still keeps its label when its neighbours' drifts
        # bound it (it failed the global test: only ``g`` can pass it now).
        # Branch-free as below; a row that fails keeps the previous centers'
        # bound in lower[i] for the tightening.
        q, m_failed = m_failed, 0
        for t in range(q):
            i = failed[t]
            a = labels[i]
            g = _near_lower(lower[i], upper[i], &near_drift[a, 0], &radius[a, 0], kb)
            keep = upper[i] * _SLACK < g
            lower[i] = g if keep else lower[i]
            failed[m_failed] = i
            m_failed += not keep
    # Tighten u of every failing row to its exact distance and test again,
    # without a branch on the outcome (it is unpredictable: rows of
    # neighbouring iterations of the loop overlap); the rows that still
    # fail are compacted in place to the front of ``failed``.
    q, m_failed = m_failed, 0
    for t in range(q):
        if t + _AHEAD < q:
            KM_PREFETCH(&X[failed[t + _AHEAD], 0])
        i = failed[t]
        a = labels[i]
        u = sqrt(sqdist(&X[i, 0], &centers[a, 0], d) * (1 + mg.gamma64))
        upper[i] = u
        if neighbours:
            g = _near_lower(lower[i], u, &near_drift[a, 0], &radius[a, 0], kb)
        else:
            g = lower[i] - (drift2 if a == drift_arg else drift1)
            g = g if g > 0 else 0
        lower[i] = g
        m = g if g > half_gap[a] else half_gap[a]
        failed[m_failed] = i  # m_failed <= t: overwrites only rows already read
        m_failed += not (u * _SLACK < m)
    counts[_C_DISTANCES] += q
    # Compare those with the centers that can be nearer than their own.
    for q in range(m_failed):
        if q + _AHEAD < m_failed:
            KM_PREFETCH(&X[failed[q + _AHEAD], 0])
        i = failed[q]
        a = labels[i]
        u = upper[i]
        t, nb, beyond = 0, kb, INFINITY
        if neighbours:
            # The centers within 2u of c_a, in whole blocks; the first one
            # left out is at least radius - u from the row.
            t = a
            reach = 2 * u * _SLACK
            nb = 1
            while nb < kb and radius[a, nb * KM_LANES] <= reach:
                nb += 1
            beyond = (radius[a, nb * KM_LANES] - u) * _SHRINK
        lab = _scan_row(&X[i, 0], &centers[0, 0], &tab[t, 0], &order[t, 0], d, k, nb, beyond,
                        mg, &upper[i], &lower[i], counts)
        if lab != a:
            if moved != NULL:
                moved[counts[_C_CHANGED]] = i
                moved_from[counts[_C_CHANGED]] = a
            counts[_C_CHANGED] += 1
        labels[i] = lab


def _hamerly_assign(
    const floating[:, ::1] X not None,         # IN    (n, d)
    const floating[:, ::1] centers not None,   # IN    (k, d)
    const floating[:, ::1] tab not None,       # IN    (1 or k, kp * d) center blocks
    const intp_t[:, ::1] order not None,       # IN    (1 or k, kp) center at each position
    const double[:, ::1] radius not None,      # IN    (1 or k, kp + 1) distance from c_a
    const double[:, ::1] near_drift not None,  # IN    (1 or k, kp / 16) neighbours' drifts
    const double[::1] half_gap not None,       # IN    (k,) from _half_gaps
    const double[::1] drift not None,          # IN    (k,) how far each center moved
    intp_t[::1] labels not None,               # INOUT (n,)
    double[::1] upper not None,                # INOUT (n,)
    double[::1] lower not None,                # INOUT (n,)
    intp_t[:, ::1] iscratch not None,          # OUT   (n_threads, slice_rows) scratch
    int64_t[:, ::1] slice_counts not None,     # OUT   (n_slices, 4)
    Py_ssize_t slice_rows,
    bint init,
    int n_threads,
    intp_t[::1] moved=None,                    # OUT   (n,) or None
    intp_t[::1] moved_from=None,               # OUT   (n,) or None
):
    """Nearest center of every row, skipping what Hamerly's bounds prove unchanged.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous
    centers : the current centers, X's dtype
    tab, order, radius : the center tables (``kmcore.hamerly.center_tables``),
        ``kp`` the number of centers rounded up to a multiple of 16. Table t
        holds the centers ``order[t]`` in blocks of 16 (block b's feature j at
        ``tab[t, (b * d + j) * 16:][:16]``; positions from k on are padding,
        +inf). One table: the centers in index order, every one scanned
        (``radius`` unused). k tables: table a lists the centers by their
        distance from center a, ``radius[a]`` (nondecreasing, +inf from k on)
        lower bounds on those distances: a row of label a scans only the
        prefix that can hold a nearer center.
    near_drift : with k tables, ``near_drift[a, b]`` bounds the drift of the
        centers other than a at the positions before ``16 (b + 1)`` of table
        a (the running maximum of ``drift`` in that order, a left out);
        ignored with one table or when ``init``
    half_gap : per center, a lower bound on half the distance to its nearest
        other center (:func:`_half_gaps`)
    drift : per center, an upper bound on the distance it moved since
        ``upper``/``lower`` were valid (ignored when ``init``)
    labels, upper, lower : the labels and bounds of the previous centers; on
        return those of ``centers``. Ignored on entry when ``init``.
    iscratch : one row per worker thread
    slice_counts : receives per slice the distances computed, the rows
        compared with every candidate center, the rows resolved by float64
        distances (near ties) and the rows whose label changed
    slice_rows : rows per slice (the unit of parallel work)
    init : compare every row with every center (no previous bounds)
    n_threads : int
    moved, moved_from : None, or receive the rows whose label changed and
        their previous labels: those of slice s in row order at
        ``s * slice_rows`` onwards, as many as its changed count (nothing
        written when ``init``). They spare the caller a comparison of all
        labels to find the rows that moved.
    """
    cdef str K = "_hamerly_assign"
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    cdef Py_ssize_t kp, n_tables, n_slices, s, c, t
    cdef double drift1 = 0, drift2 = 0
    cdef intp_t drift_arg = -1
    cdef _Margins mg
    cdef intp_t* moved_p = NULL
    cdef intp_t* from_p = NULL
    check_at_least(d, 1, K, "X.shape[1]")
    check_at_least(k, 1, K, "centers.shape[0]")
    check_equal(centers.shape[1], d, K, "centers.shape[1] (columns of X)")
    kp = (k + KM_LANES - 1) // KM_LANES * KM_LANES
    n_tables = order.shape[0]
    if n_tables != 1:
        check_equal(n_tables, k, K, "order.shape[0] (1 or rows of centers)")
    check_equal(order.shape[1], kp, K, "order.shape[1] (centers rounded up to 16)")
    check_equal(tab.shape[0], n_tables, K, "tab.shape[0] (order.shape[0])")
    check_equal(tab.shape[1], kp * d, K, "tab.shape[1] (order.shape[1] * X.shape[1])")
    check_equal(radius.shape[0], n_tables, K, "radius.shape[0] (order.shape[0])")
    check_equal(radius.shape[1], kp + 1, K, "radius.shape[1] (order.shape[1] + 1)")
    check_equal(near_drift.shape[0], n_tables, K, "near_drift.shape[0] (order.shape[0])")
    check_equal(near_drift.shape[1], kp // KM_LANES, K, "near_drift.shape[1] (order.shape[1] / 16)")
    for t in range(n_tables):
        check_indices(order[t, :k], k, K, "order")
    check_equal(half_gap.shape[0], k, K, "half_gap.shape[0] (rows of centers)")
    check_at_least(iscratch.shape[0], n_threads, K, "iscratch.shape[0] (n_threads)")
    check_at_least(iscratch.shape[1], slice_rows, K, "iscratch.shape[1] (slice_rows)")
    if not init:
        check_equal(drift.shape[0], k, K, "drift.shape[0] (rows of centers)")
    check_equal(labels.shape[0], n, K, "labels.shape[0] (rows of X)")
    check_equal(upper.shape[0], n, K, "upper.shape[0] (rows of X)")
    check_equal(lower.shape[0], n, K, "lower.shape[0] (rows of X)")
    check_at_least(slice_rows, 1, K, "slice_rows")
    n_slices = (n + slice_rows - 1) // slice_rows
    check_equal(slice_counts.shape[0], n_slices, K, "slice_counts.shape[0] (n_slices)")
    check_equal(slice_counts.shape[1], _N_COUNTS, K, "slice_counts.shape[1]")
    check_threads(n_threads, K)
    if (moved is None) != (moved_from is None):
        raise ValueError(f"{K}: moved and moved_from must both be given or both be None")
    if moved is not None:
        check_equal(moved.shape[0], n, K, "moved.shape[0] (rows of X)")
        check_equal(moved_from.shape[0], n, K, "moved_from.shape[0] (rows of X)")
    if not init and n > 0 and not km_labels_in_range(&labels[0], n, k):
        check_indices(labels, k, K, "labels")  # raises, naming the first bad one
    if not init:
        for c in range(k):
            if drift[c] > drift1:
                drift2 = drift1
                drift1 = drift[c]
                drift_arg = c
            elif drift[c] > drift2:
                drift2 = drift[c]
    if n == 0:
        return
    if moved is not None:
        moved_p = &moved[0]
        from_p = &moved_from[0]
    if floating is float:
        mg.gamma = (d + 8) * 5.960464477539063e-08     # 2^-24 per operation
        mg.tiny = d * FLT_MIN
    else:
        mg.gamma = (d + 8) * 1.1102230246251565e-16    # 2^-53
        mg.tiny = d * DBL_MIN
    mg.gamma64 = (d + 16) * 2.220446049250313e-16
    mg.wide = mg.gamma + 2 * mg.gamma64
    with nogil:
        for s in prange(n_slices, schedule="dynamic", num_threads=n_threads):
            _run_slice(s * slice_rows, min(n, (s + 1) * slice_rows), X, centers, tab, order,
                       radius, near_drift, half_gap, drift, drift1, drift2, drift_arg, labels,
                       upper, lower,
                       &iscratch[threadid(), 0], &mg, init, &slice_counts[s, 0],
                       moved_p + s * slice_rows if moved_p != NULL else NULL,
                       from_p + s * slice_rows if from_p != NULL else NULL)


def _center_distances(
    const floating[:, ::1] centers not None,   # IN  (k, d)
    double[:, ::1] out not None,               # OUT (k, k)
    int n_threads,
):
    """Lower bounds on the distances between the centers, rounded down.

    Direct float64 distances (``sqdist``), each lowered by its rounding
    allowance before the square root and shrunk after it; 0 on the diagonal.
    Half the smallest off-diagonal entry of a row is :func:`_half_gaps`'
    value for that center.

    Parameters
    ----------
    centers : ndarray of shape (k, d), C-contiguous
    out : receives the bounds
    n_threads : int
    """
    cdef str K = "_center_distances"
    cdef Py_ssize_t k = centers.shape[0], d = centers.shape[1]
    cdef Py_ssize_t a, j
    cdef double dist
    cdef double gamma64 = (d + 16) * 2.220446049250313e-16
    check_equal(out.shape[0], k, K, "out.shape[0] (rows of centers)")
    check_equal(out.shape[1], k, K, "out.shape[1] (rows of centers)")
    check_threads(n_threads, K)
    if k == 0:
        return
    check_at_least(d, 1, K, "centers.shape[1]")
    with nogil:
        for a in prange(k, schedule="static", num_threads=n_threads):
            for j in range(k):
                dist = sqdist(&centers[a, 0], &centers[j, 0], d) * (1 - gamma64)
                out[a, j] = sqrt(dist) * _SHRINK if dist > 0 and j != a else 0


def _half_gaps(
    const floating[:, ::1] centers not None,   # IN  (k, d)
    double[::1] half_gap not None,             # OUT (k,)
    int n_threads,
):
    """Half the distance from each center to its nearest other center, rounded down.

    Direct float64 distances (``sqdist``), each lowered by its rounding
    allowance before the square root; +inf for a single center.

    Parameters
    ----------
    centers : ndarray of shape (k, d), C-contiguous
    half_gap : receives the bounds
    n_threads : int
    """
    cdef str K = "_half_gaps"
    cdef Py_ssize_t k = centers.shape[0], d = centers.shape[1]
    cdef Py_ssize_t a, j
    cdef double best, dist
    cdef double gamma64 = (d + 16) * 2.220446049250313e-16
    check_equal(half_gap.shape[0], k, K, "half_gap.shape[0] (rows of centers)")
    check_threads(n_threads, K)
    if k == 0:
        return
    check_at_least(d, 1, K, "centers.shape[1]")
    with nogil:
        for a in prange(k, schedule="static", num_threads=n_threads):
            best = INFINITY
            for j in range(k):
                if j != a:
                    dist = sqdist(&centers[a, 0], &centers[j, 0], d)
                    best = dist if dist < best else best
            best = best * (1 - gamma64)
            half_gap[a] = 0.5 * sqrt(best) * _SHRINK if best > 0 else 0
