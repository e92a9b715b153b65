"""The per-block state of the Yinyang E-step (``_yinyang``) and its folds.

A block holds up to ``block_rows`` rows of one slice that failed the global
filter. For each, it keeps the best candidate so far (its distance and the
bounds rounding allows it), the smallest lower bound of the other
candidates, and per group the two smallest lower bounds and the center of
the smallest: from these the kernel decides the label (or that a near tie
must be recomputed directly) and the new bounds. The folds take expanded
distances (the strip products of ``_yinyang_dots.h``, one error margin per
group) or direct float64 distances. Inline helpers shared by the kernel's
block code, kept apart from its filter pass and driver.
"""

from cython cimport floating
from libc.math cimport INFINITY, nextafterf
from libc.stdint cimport int32_t, int64_t

from kmcore._common cimport argmin_block, sqdist
from kmcore._dots cimport KM_STRIP_BYTES, km_panel_dots_f32, km_panel_dots_f64

ctypedef Py_ssize_t intp_t

cdef extern from "_yinyang_dots.h" nogil:
    void km_sqdist_rows_f32(const float* const*, const float* const*, Py_ssize_t, Py_ssize_t,
                            double*)
    void km_sqdist_rows_f64(const double* const*, const double* const*, Py_ssize_t,
                            Py_ssize_t, double*)

cdef enum:
    # Per-row doubles and intps of the block scratch (see _carve).
    _ROW_DOUBLES = 7
    _ROW_INTPS = 4
    # Counters of one slice (slice_counts columns).
    _C_DISTANCES = 0   # distances computed (products or direct)
    _C_GATHERED = 1    # rows that needed a group
    _C_AMBIGUOUS = 2   # rows resolved by direct distances (near ties)
    _C_CHANGED = 3     # rows whose label changed
    _C_TIGHTENED = 4   # rows whose upper bound was tightened (a direct distance)
    _C_PRODUCTS = 5    # products (group or whole-block)
    _N_COUNTS = 6


cdef inline float _down(double v) noexcept nogil:
    """v rounded to float32 toward -inf (so a lower bound stays one)."""
    cdef float f = <float> v
    if f > v:
        f = nextafterf(f, -INFINITY)
    return f


cdef struct _Geometry:
    # The sizes and tolerances every block of one call shares.
    Py_ssize_t n, d, k, t
    double rel_err, gamma, whole_fraction
    bint init
    double* group_sqmax     # (t,) largest squared center norm of each group
    const double* origin    # (d,) the products' rows and centers are shifted by it, or NULL
    const void* panel       # the products' centers in strips (_yinyang_dots.h), X's dtype
    intp_t* strip_start     # (t + 1,) first strip of each group in panel


cdef struct _Block:
    # Thread-local scratch of one block of gathered rows (see _carve).
    Py_ssize_t m, n_needed
    intp_t* rows        # (B,) row of X in each slot
    intp_t* best_idx    # (B,) original index of the best candidate so far
    intp_t* sub         # (B,) slots that need the group being computed
    void** ptrs         # (B,) their rows (for the group products)
    double* own_d       # (B,) exact squared distance to the row's own center
    double* own_lo      # (B,) lower and
    double* own_hi      # (B,) upper bound of it
    double* best_d      # (B,) best candidate: squared distance,
    double* best_lo     # (B,) its lower and
    double* best_hi     # (B,) upper bound
    double* second_lo   # (B,) smallest lower bound of the other candidates
    double* gmin1       # (B, t) per group: smallest lower bound,
    double* gmin2       # (B, t) the second smallest,
    intp_t* gidx1       # (B, t) the center of the smallest
    unsigned char* need # (B, t) group examined for this row
    intp_t* moved       # the slice's rows whose label changed, or NULL
    intp_t* moved_from  # their previous labels


cdef inline void _carve(
    _Block* b,
    Py_ssize_t block_rows,
    Py_ssize_t t,
    double* dbuf,          # OUT (block_rows * (_ROW_DOUBLES + 2 t)) scratch
    intp_t* ibuf,          # OUT (block_rows * (_ROW_INTPS + t)) scratch
    unsigned char* mbuf,   # OUT (block_rows * t) scratch
) noexcept nogil:
    """Point the block's arrays into one thread's scratch."""
    cdef Py_ssize_t B = block_rows
    b.m = 0
    b.n_needed = 0
    b.rows = ibuf
    b.best_idx = ibuf + B
    b.sub = ibuf + 2 * B
    # Pointers in intp slots: Py_ssize_t is as wide as a pointer wherever
    # Python runs.
    b.ptrs = <void**> (ibuf + 3 * B)
    b.gidx1 = ibuf + 4 * B
    b.own_d = dbuf
    b.own_lo = dbuf + B
    b.own_hi = dbuf + 2 * B
    b.best_d = dbuf + 3 * B
    b.best_lo = dbuf + 4 * B
    b.best_hi = dbuf + 5 * B
    b.second_lo = dbuf + 6 * B
    b.gmin1 = dbuf + 7 * B
    b.gmin2 = dbuf + 7 * B + B * t
    b.need = mbuf


cdef inline void _candidate(
    _Block* b,
    Py_ssize_t r,
    Py_ssize_t g,
    Py_ssize_t t,
    intp_t j,
    double dist,
    double lo,
    double hi,
    bint is_own,
) noexcept nogil:
    """Fold center j (squared distance ``dist`` within [lo, hi]) into slot r's
    best candidate and into group g's two smallest lower bounds."""
    cdef Py_ssize_t at = r * t + g
    if not is_own:
        # The own center starts as the best (see _start_row): not its own rival.
        if dist < b.best_d[r] or (dist == b.best_d[r] and j < b.best_idx[r]):
            if b.best_lo[r] < b.second_lo[r]:
                b.second_lo[r] = b.best_lo[r]
            b.best_d[r] = dist
            b.best_lo[r] = lo
            b.best_hi[r] = hi
            b.best_idx[r] = j
        elif lo < b.second_lo[r]:
            b.second_lo[r] = lo
    if lo < b.gmin1[at]:
        b.gmin2[at] = b.gmin1[at]
        b.gmin1[at] = lo
        b.gidx1[at] = j
    elif lo < b.gmin2[at]:
        b.gmin2[at] = lo


cdef inline void _start_row(_Block* b, Py_ssize_t r, Py_ssize_t t, intp_t own) noexcept nogil:
    """Reset slot r: the own center (if any) is the best candidate so far."""
    cdef Py_ssize_t g
    b.best_d[r] = b.own_d[r]
    b.best_lo[r] = b.own_lo[r]
    b.best_hi[r] = b.own_hi[r]
    b.best_idx[r] = own
    b.second_lo[r] = INFINITY
    for g in range(t):
        b.gmin1[r * t + g] = INFINITY
        b.gmin2[r * t + g] = INFINITY
        b.gidx1[r * t + g] = -1


cdef inline void _fold_minima(
    _Block* b,
    Py_ssize_t r,
    Py_ssize_t g,
    _Geometry* geo,
    double m1,                      # smallest -2 x.c + ||c||^2 of the group
    double m2,                      # the second smallest
    intp_t j,                       # center of the smallest
    double xs,                      # ||x||^2 of the row
) noexcept nogil:
    """Fold group g's two smallest expanded distances of slot r into its state.

    One error margin serves the whole group, that of its largest center norm:
    then the lower bounds order as the distances, and the group reduces to
    its two smallest distances and the index of the smallest. The own center
    is folded with its expanded distance like the others; being the best already
    (with its exact distance), it is then not its own rival.
    """
    cdef double e = geo.rel_err * (xs + geo.group_sqmax[g])
    cdef double lo1, lo2
    cdef Py_ssize_t at = r * geo.t + g
    m1 = m1 + xs
    m2 = m2 + xs
    lo1 = m1 - e
    lo2 = m2 - e
    b.gmin1[at] = lo1
    b.gmin2[at] = lo2
    b.gidx1[at] = j
    if j != b.best_idx[r]:
        if m1 < b.best_d[r] or (m1 == b.best_d[r] and j < b.best_idx[r]):
            if b.best_lo[r] < b.second_lo[r]:
                b.second_lo[r] = b.best_lo[r]
            b.best_d[r] = m1
            b.best_lo[r] = lo1
            b.best_hi[r] = m1 + e
            b.best_idx[r] = j
        elif lo1 < b.second_lo[r]:
            b.second_lo[r] = lo1
    if lo2 < b.second_lo[r]:
        b.second_lo[r] = lo2


cdef inline void _fold_group(
    _Block* b,
    Py_ssize_t g,
    _Geometry* geo,
    const floating* cross,          # IN  (p1 - p0, mg) -2 x.c, center-major
    Py_ssize_t mg,
    const floating* gc_sqnorms,     # IN  (k,)
    const intp_t* gorder,           # IN  (k,)
    Py_ssize_t p0,
    Py_ssize_t p1,
    const floating* x_sqnorms,      # IN  (n,) of the products' rows
    const intp_t* slots,            # IN  (mg,) the block slot of each product row
    floating* best,                 # OUT (mg,) scratch
    floating* second,               # OUT (mg,) scratch
    int32_t* label,                 # OUT (mg,) scratch
) noexcept nogil:
    """Fold the products of the slots ``slots[:mg]`` with group g's centers:
    each row's two smallest values and the center of the smallest, by the
    plain pass's vectorised argmin over rows (its sum of the product and the
    center's norm is rounded in X's dtype, which the error margin covers as
    it does for the plain pass)."""
    cdef Py_ssize_t q
    argmin_block(cross, mg, p1 - p0, gc_sqnorms + p0, best, second, label)
    for q in range(mg):
        _fold_minima(b, slots[q], g, geo, best[q], second[q], gorder[p0 + label[q]],
                     x_sqnorms[b.rows[slots[q]]])


cdef inline void _panel_dots(
    const floating* const* rows,    # IN  (mg,) the rows
    Py_ssize_t mg,
    const floating* panel,          # IN  the group's strips (_yinyang_dots.h)
    Py_ssize_t d,
    Py_ssize_t nc,
    floating* out,                  # OUT (nc, ldc) -2 x.c, center-major
    Py_ssize_t ldc,
) noexcept nogil:
    """-2 x.c of each row q and each of the group's nc centers j, in
    ``out[j * ldc + q]``."""
    if floating is float:
        km_panel_dots_f32(rows, mg, panel, d, nc, out, ldc)
    else:
        km_panel_dots_f64(rows, mg, panel, d, nc, out, ldc)


cdef inline void _sqdist_rows(
    const floating* const* x,       # IN  (m,) rows
    const floating* const* c,       # IN  (m,) a center for each
    Py_ssize_t m,
    Py_ssize_t d,
    double* out,                    # OUT (m,)
) noexcept nogil:
    """``out[q] = sqdist(x[q], c[q], d)`` bit for bit, several rows at a time."""
    if floating is float:
        km_sqdist_rows_f32(x, c, m, d, out)
    else:
        km_sqdist_rows_f64(x, c, m, d, out)


cdef inline void _fold_direct(
    _Block* b,
    Py_ssize_t r,
    Py_ssize_t g,
    _Geometry* geo,
    const floating* x,              # IN  (d,) the row
    const floating* gcenters,       # IN  (k, d)
    const intp_t* gorder,           # IN  (k,)
    Py_ssize_t p0,
    Py_ssize_t p1,
    intp_t own,
    int64_t* counts,
) noexcept nogil:
    """Fold direct float64 distances of slot r to the sorted centers p0..p1-1."""
    cdef Py_ssize_t p
    cdef double dist
    for p in range(p0, p1):
        if gorder[p] == own:
            _candidate(b, r, g, geo.t, own, b.own_d[r], b.own_lo[r], b.own_hi[r], True)
            continue
        dist = sqdist(x, &gcenters[p * geo.d], geo.d)
        counts[_C_DISTANCES] += 1
        _candidate(b, r, g, geo.t, gorder[p], dist, dist * (1 - geo.gamma),
                   dist * (1 + geo.gamma), False)
