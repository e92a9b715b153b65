"""The per-block pieces of the seeding kernels (``_seeding.pyx``), shared by its entries.

One chunk of the candidate distances (``_chunk_distances``), one block of the
projection test (``_projection_block``) and one chunk of the potentials
(``_chunk_potentials``): each entry of ``_seeding`` that computes a row or
sums it goes through the same code, so the plain pass and the filtered pass
agree bitwise.
"""

from libc.math cimport INFINITY, sqrt
from libc.stdint cimport uint8_t, uint16_t
from libc.stdlib cimport malloc

from cython cimport floating

from kmcore._common cimport shift_rows, sqdist
from kmcore._dots cimport KM_STRIP_BYTES, fill_strips, km_panel_dots_f32, km_panel_dots_f64

ctypedef Py_ssize_t intp_t


# Rows whose pointers one call of the strip products takes.
cdef enum:
    _DOT_TILE = 96

cdef extern from "_projection.h" nogil:
    void km_projected_sqdist(const uint16_t* pt, Py_ssize_t stride, Py_ssize_t rows,
                             Py_ssize_t dims, const float* cand, float* acc)


cdef inline floating* _candidate_panel(
    const floating[:, ::1] gemm_candidates,         # IN  (L, d)
) noexcept nogil:
    """The candidates laid out in strips for the products (``_dots.fill_strips``),
    allocated here (the caller frees it); NULL if memory ran out."""
    cdef Py_ssize_t L = gemm_candidates.shape[0], d = gemm_candidates.shape[1]
    cdef Py_ssize_t W = KM_STRIP_BYTES // sizeof(floating)
    cdef floating* panel = <floating*> malloc((((L + W - 1) // W) * d * W + 1)
                                              * sizeof(floating))
    if panel != NULL:
        fill_strips(gemm_candidates, 0, L, panel)
    return panel


cdef inline void _chunk_distances(
    const floating* X,                              # IN  (n, d) rows of X
    const floating[::1] x_sqnorms,                  # IN  (n,)
    const floating[:, ::1] candidates,              # IN  (L, d)
    const floating[::1] cand_sqnorms,               # IN  (L,)
    const floating* panel,                          # IN  gemm_candidates in strips
    const floating[::1] closest,                    # IN  (n,)
    const floating[::1] sample_weight,              # IN  (n,), or (0,) for unit weights
    floating* buf,                                  # OUT chunk_rows * (L + d + 1) scratch
    floating[:, ::1] dist,                          # OUT (L, n) the chunk's columns
    const intp_t* rows,                             # IN  (m,) the chunk's rows, or NULL
    Py_ssize_t start,
    Py_ssize_t m,
    Py_ssize_t chunk_rows,
    const double* org,                              # IN  (d,) the origin, or NULL
    double exact_below,
    double* pots,                                   # OUT (L,) the chunk's potentials, or NULL
) noexcept nogil:
    """One chunk of ``_candidate_distances``: rows ``rows[:m]``, or without
    ``rows`` the m rows from ``start`` on; with ``pots``, their weighted
    potentials summed in row order. Every caller computes a row's distances
    here, so they are the same whichever pass reads it.

    The products come from the strip kernel of ``_yinyang_dots.h``, not from
    a GEMM: with a handful of candidates a GEMM is a thin one, and the rows a
    step's bounds leave would have to be copied for it; the kernel reads
    them where they are. Each product sums over the features in order, so a
    row's value does not depend on which rows share its call: a gathered row
    gets the bits the full pass gives it.
    """
    cdef Py_ssize_t L = candidates.shape[0], i, l, r, q0, mq
    cdef int d = <int> candidates.shape[1]
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef floating* xbuf = buf + chunk_rows * L
    cdef floating* row
    cdef const floating* block = NULL
    cdef const floating* norms
    cdef const void* ptrs[_DOT_TILE]
    cdef floating v, cl, xs
    cdef double pot
    if m <= 0:
        return
    if rows != NULL:
        # The rows' norms side by side; the rows themselves are read in place,
        # or copied shifted when there is an origin.
        for i in range(m):
            r = rows[i]
            if org != NULL:
                shift_rows(X + r * d, 1, d, org, xbuf + i * d, xbuf + chunk_rows * d + i)
            else:
                xbuf[chunk_rows * d + i] = x_sqnorms[r]
        if org != NULL:
            block = xbuf
        norms = xbuf + chunk_rows * d
    elif org != NULL:
        shift_rows(X + start * d, m, d, org, xbuf, xbuf + chunk_rows * d)
        block = xbuf
        norms = xbuf + chunk_rows * d
    else:
        block = X + start * d
        norms = &x_sqnorms[start]
    # Center-major block, buf[l * m + i] = -2 cand_l . x_i, so the loop below
    # runs contiguously over rows.
    q0 = 0
    while q0 < m:
        mq = min(<Py_ssize_t> _DOT_TILE, m - q0)
        for i in range(mq):
            if block != NULL:
                ptrs[i] = <const void*> (block + (q0 + i) * d)
            else:
                ptrs[i] = <const void*> (X + rows[q0 + i] * d)
        if floating is float:
            km_panel_dots_f32(<const float* const*> ptrs, mq, panel, d, L, buf + q0, m)
        else:
            km_panel_dots_f64(<const double* const*> ptrs, mq, panel, d, L, buf + q0, m)
        q0 = q0 + mq
    for l in range(L):
        cl = cand_sqnorms[l]
        row = buf + l * m
        pot = 0.0
        for i in range(m):
            r = rows[i] if rows != NULL else start + i
            xs = norms[i]
            v = row[i] + xs + cl
            if v < exact_below * (<double> xs + cl):
                # The expansion cancelled most digits: recompute directly.
                v = <floating> sqdist(X + r * d, &candidates[l, 0], d)
            if v < 0:
                v = 0
            if closest[r] < v:
                v = closest[r]
            dist[l, r] = v
            pot = pot + (sample_weight[r] if weighted else 1.0) * v
        if pots != NULL:
            pots[l] = pot


cdef inline Py_ssize_t _projection_block(
    const uint16_t* proj,                           # IN  (m, n) projected rows (bfloat16)
    Py_ssize_t n,
    Py_ssize_t m,
    const double* y_norms,                          # IN  (n,)
    const floating[::1] closest,                    # IN  (n,)
    const float* cand_proj,                         # IN  (L, m)
    Py_ssize_t L,
    double cand_norm,
    double origin_gap,
    double error_scale,
    double proj_error,
    double gram_error,
    uint8_t[::1] need,                              # INOUT (n,) (OUT only without masked)
    bint masked,
    Py_ssize_t start,
    Py_ssize_t cnt,
    float* a,                                       # OUT (cnt,) scratch
    double* t,                                      # OUT (cnt,) scratch
) noexcept nogil:
    """Clear ``need`` for the rows of ``start .. start + cnt`` whose projections
    prove no candidate closer.

    With Q the projection basis (orthonormal up to ``gram_error``:
    ``||Q^T v||^2 <= (1 + gram_error) ||v||^2``), ``proj[:, i]`` (bfloat16:
    the high halves of float32 bits, read as those float32) is
    ``Q^T (x_i - p_origin)`` up to ``proj_error * ||x_i - p_origin||`` (in
    norm), and ``y_norms[i]`` bounds ``||x_i - p_origin||`` from above. For a
    candidate c (``cand_norm`` bounds its ``||c - p_origin||``), the exact
    distance satisfies ``||x - c|| >= ||Q^T (x - c)|| / sqrt(1 + gram_error)``
    and the projected distance is at least the stored one's less
    ``proj_error * (||x - p_origin|| + ||c - p_origin||)``. When that lower
    bound reaches ``sqrt(D_i + E_i)`` (D_i = ``closest[i]``; E_i bounds the
    rounding of the distance the full pass computes, as in
    ``_seeding._rows_to_compute``, with ``||x - origin|| <= y_norms[i] +
    origin_gap`` and ``||c - origin|| <= cand_norm + origin_gap``, ``origin``
    being the pass's), the full pass's min for that pair is D_i. A row that may skip
    every candidate gets ``need[i] = 0``.

    The stored projected distance is summed in float32; its rounding is a
    relative ``(m + 2) * eps32 / 2`` at most in any order (non-negative
    terms), taken off the test. A NaN anywhere keeps the row.

    With ``masked``, only the rows where ``need`` is 1 are looked at; else
    every row is, as if ``need`` held 1 (it is written either way). Returns
    the rows left with ``need[i] = 1``.
    """
    cdef Py_ssize_t i, l, left = 0, n_rows = 0
    cdef double far, sx, target, radius, slack
    far = (cand_norm + origin_gap) * (cand_norm + origin_gap)
    # 1 / (1 - (m + 2) eps32 / 2) <= 1 + (m + 4) eps32 for any useful m; the
    # float64 rounding of the threshold itself is covered by the 1e-9.
    slack = (1.0 + (m + 4) * 1.1920928955078125e-07) * (1.0 + 1e-9)
    for i in range(cnt):
        if not masked or need[start + i]:
            need[start + i] = 1
            sx = y_norms[start + i] + origin_gap
            target = (closest[start + i] + error_scale * (sx * sx + far)) * (1.0 + 1e-12)
            radius = (sqrt(target * (1.0 + gram_error))
                      + proj_error * (y_norms[start + i] + cand_norm))
            t[i] = radius * radius * slack
            # An infinite threshold (closest infinite) keeps the row already.
            if t[i] != INFINITY:
                left = left + 1
        else:
            # Not looked at: marked as if kept, left alone below.
            t[i] = INFINITY
    for l in range(L):
        if left == 0:
            break
        km_projected_sqdist(proj + start, n, cnt, m, cand_proj + l * m, a)
        for i in range(cnt):
            # Kept rows get an infinite threshold: kept from then on.
            if t[i] != INFINITY and not (<double> a[i] >= t[i]):
                t[i] = INFINITY
                left = left - 1
    for i in range(cnt):
        if need[start + i]:
            if t[i] == INFINITY:
                n_rows += 1
            else:
                need[start + i] = 0
    return n_rows


cdef inline void _chunk_potentials(
    floating[:, ::1] dist,                          # INOUT (L, n)
    const floating[::1] closest,                    # IN  (n,)
    const uint8_t[::1] need,                        # IN  (n,)
    const floating[::1] sample_weight,              # IN  (n,), or (0,) for unit weights
    Py_ssize_t start,
    Py_ssize_t end,
    double* pots,                                   # OUT (L,)
) noexcept nogil:
    """The full pass's potentials of rows ``start .. end`` after computing some of them.

    ``dist[l, i]`` is set to ``closest[i]`` where ``need[i]`` is 0 (what the
    full pass gives a row no candidate comes closer to) and kept elsewhere;
    ``pots[l]`` receives the weighted sum of ``dist[l]`` over the rows, in
    float64 and in row order, so it is bitwise the full pass's for the same
    chunk.
    """
    cdef Py_ssize_t L = dist.shape[0], i, l
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef double pot
    for l in range(L):
        pot = 0.0
        for i in range(start, end):
            if not need[i]:
                dist[l, i] = closest[i]
            pot = pot + (sample_weight[i] if weighted else 1.0) * dist[l, i]
        pots[l] = pot
