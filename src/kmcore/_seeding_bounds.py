"""The bounds of greedy k-means++: which rows a step need not read.

A row whose current closest distance no candidate can undercut keeps it, so
a step computes only the other rows and still picks the rows of the full
pass. ``TriangleBounds`` proves it from the chosen centers' distances to the
candidates (exact acceleration of k-means++, after Raff 2021);
``ProjectionBounds`` from the rows' projections on a few directions of
largest spread, for high-dimensional data where the triangle inequality
rarely proves anything. ``kmcore.seeding`` drives them.
"""

import numpy as np

from kmcore import _seeding
from kmcore._threads import blas_single_threaded

# The projection bounds (see ProjectionBounds): at most this many
# directions, their projected rows (bfloat16) at most this fraction of X's
# bytes, and used only with at least these many directions, rows and
# centers (below, their one product with X is not repaid).
PROJECTION_DIMS = 128
PROJECTION_MEMORY = 1 / 12
PROJECTION_MIN_DIMS = 32
PROJECTION_MIN_ROWS = 4096
PROJECTION_MIN_CENTERS = 16
# Evenly spaced rows the directions are found from, the values of X per
# block of the projection product (copied around the mean: kept small), and
# rows per block of the filter.
PROJECTION_SAMPLE = 1024
PROJECTION_CHUNK = 1 << 20
PROJECTION_BLOCK = 256


class TriangleBounds:
    """Which rows a k-means++ step must compute (exact acceleration, after Raff 2021).

    A row x whose closest chosen center a is at computed distance D cannot
    come closer to a candidate c with ``d(a, c) >= 2 sqrt(D + E)`` (E bounds
    the rounding of a computed distance): then the full pass's min for that
    row is D itself, and the row need not be read. The chosen centers are
    kept in float64 (around the pass's origin, if any), and the
    center-candidate distances of each step come from one float64 product of
    (chosen centers x candidates), their own rounding bound taken off.
    """

    def __init__(self, X, x_sqnorms, n_clusters, origin):
        n, d = X.shape
        self.X, self.x_sqnorms, self.origin = X, x_sqnorms, origin
        self.centers = np.empty((n_clusters, d), dtype=np.float64)
        self.c_sqnorms = np.empty(n_clusters, dtype=np.float64)
        self.n_centers = 0
        # Rounding bounds, relative to the squared norms of the operands: of
        # a distance by the GEMM expansion in X's dtype (products, sums,
        # norms, the shift to the origin; a generous multiple of the
        # worst-case d * eps), and of the float64 center-candidate distances.
        self.error_scale = 4.0 * (d + 4) * float(np.finfo(X.dtype).eps)
        self.cc_error = 4.0 * (d + 4) * float(np.finfo(np.float64).eps)
        self.origin_norm = 0.0 if origin is None else float(np.sqrt(origin @ origin))
        self.max_norm = float(np.sqrt(np.max(x_sqnorms)))

    def _float64(self, rows):
        A = np.asarray(self.X[rows], dtype=np.float64)
        return A if self.origin is None else A - self.origin

    def add(self, row):
        """Record the row of X chosen as the next center."""
        c = self.n_centers
        self.centers[c] = self._float64(row)
        self.c_sqnorms[c] = self.centers[c] @ self.centers[c]
        self.n_centers = c + 1

    def rows_to_compute(self, candidate_rows, closest, assigned, need, n_threads):
        """Fill ``need``; return the rows and row-candidate pairs not skipped."""
        C = self.centers[:self.n_centers]
        cn = self.c_sqnorms[:self.n_centers, None]
        Q = self._float64(candidate_rows)
        qn = np.einsum("ij,ij->i", Q, Q)[None, :]
        scale = cn + qn
        cc = scale - 2.0 * (C @ Q.T)
        cc -= self.cc_error * scale
        np.maximum(cc, 0.0, out=cc)
        return _seeding._rows_to_compute(closest, self.x_sqnorms, assigned, cc, self.error_scale,
                                         self.origin_norm, self.max_norm, need, n_threads)


def projection_dims(n, d, itemsize, n_clusters):
    """Directions of the projection bounds for an (n, d) X of this itemsize, or 0 for none.

    As many as ``PROJECTION_DIMS`` allows, fewer when their bfloat16 rows
    would take more than ``PROJECTION_MEMORY`` of X's bytes; none below
    ``PROJECTION_MIN_DIMS`` (low-dimensional X, where the triangle bounds
    do well and a few directions hold little of the distance) or with fewer
    than ``PROJECTION_MIN_ROWS`` rows or ``PROJECTION_MIN_CENTERS`` centers.
    """
    m = min(PROJECTION_DIMS, d, int(d * itemsize * PROJECTION_MEMORY) // 2)
    if m < PROJECTION_MIN_DIMS or n < PROJECTION_MIN_ROWS or n_clusters < PROJECTION_MIN_CENTERS:
        return 0
    return m


def to_bfloat16(v):
    """bfloat16 bits (uint16) of float32 ``v``, rounded to nearest, ties to even.

    Finite values only (the caller checks them): the high half of each
    float32, plus a carry from the low half.
    """
    b = np.ascontiguousarray(v, dtype=np.float32).view(np.uint32)
    return ((b + (np.uint32(0x7FFF) + ((b >> 16) & np.uint32(1)))) >> 16).astype(np.uint16)


def from_bfloat16(h):
    """The float32 values of bfloat16 bits ``h`` (exact)."""
    return (np.asarray(h, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def top_directions(S, m):
    """An orthonormal (d, m') float64 basis, m' <= m, near the top principal directions of S.

    S is a centred sample of rows. A randomized range finder with two power
    iterations (a fixed seed: the same basis at every call); the bounds hold
    for any orthonormal basis, a good one only makes them tighter.
    """
    r, d = S.shape
    if m >= d:
        return np.eye(d)
    omega = np.random.RandomState(0).normal(size=(d, min(d, m + 8)))
    Z = S @ omega
    for _ in range(2):
        Z = np.linalg.qr(Z)[0]
        Z = S @ (S.T @ Z)
    Z = np.linalg.qr(Z)[0]
    Vt = np.linalg.svd(Z.T @ S, full_matrices=False)[2]
    return np.linalg.qr(Vt[:m].T)[0]


class ProjectionBounds:
    """Which rows a k-means++ step must compute, from projections on a few directions.

    For an orthonormal (d, m) basis Q, ``||x - c|| >= ||Q^T (x - c)||``: a row
    whose projected distance to every candidate already reaches
    ``sqrt(D + E)`` (D its closest distance, E the rounding bound of the
    full pass's distance) cannot get a smaller distance from the full pass,
    as in ``TriangleBounds``; ``_seeding._filtered_distances`` tests it with
    the margins of every rounding involved (see
    ``_seeding_blocks._projection_block``). Q is near the top
    principal directions of ``PROJECTION_SAMPLE`` evenly spaced rows, the
    rows are projected around their mean p (rounded to float32, so that p is
    exactly representable): the rows ``Q^T (x - p)``, computed once per call
    by a float32 product of ``x - p`` (rounded once in X's dtype, then to
    float32) with Q (float32; its own distance from orthonormality is
    measured in float64, ``gram_error``), stored rounded to bfloat16 (the
    high half of a float32: the filter streams through them at every step,
    and half the bytes is about half its time). Extra memory: the (m, n)
    bfloat16 projections, n float64 norm bounds, and blocks of
    ``PROJECTION_CHUNK`` values while projecting. Disabled (``usable``
    False) when the values are too large for the float32 sums, are not
    finite, or the basis is far from orthonormal.
    """

    def __init__(self, X, m, pass_origin, error_scale, n_threads):
        self.error_scale, self.n_threads = error_scale, n_threads
        # Rows near the dtype's limits (or NaN, when the caller skipped the
        # checks) only make the bounds unusable.
        with np.errstate(over="ignore", invalid="ignore"):
            self.usable = self._project(X, m, pass_origin)
        if not self.usable:
            self.proj = self.y_norms = None
            return
        self.acc = np.empty((n_threads, PROJECTION_BLOCK), dtype=np.float32)
        self.thresholds = np.empty((n_threads, PROJECTION_BLOCK), dtype=np.float64)

    def _project(self, X, m, pass_origin):
        """Find the basis and project every row; False if the bounds cannot be used."""
        n, d = X.shape
        u32, u64 = float(np.finfo(np.float32).eps) / 2, float(np.finfo(np.float64).eps) / 2
        if d * u32 > 1e-2:
            return False
        n_sample = min(PROJECTION_SAMPLE, max(2 * m, 4 * PROJECTION_CHUNK // d))
        sample = np.array(X[:: max(1, n // n_sample)][:n_sample], dtype=np.float64)
        origin = sample.mean(axis=0).astype(np.float32).astype(np.float64)
        sample -= origin
        if not (np.isfinite(sample).all() and np.isfinite(origin).all()):
            return False
        # Small products: BLAS's threads would cost more than they save.
        with blas_single_threaded():
            Q = np.ascontiguousarray(top_directions(sample, m), dtype=np.float32)
        m = Q.shape[1]
        if m == 0:
            return False
        Q64 = Q.astype(np.float64)
        # Each Gram entry's float64 rounding is at most gamma_d (unit columns).
        self.gram_error = (float(np.linalg.norm(Q64.T @ Q64 - np.eye(m)))
                           + 4.0 * m * (d + 2) * u64)
        if not self.gram_error < 1e-3:
            return False
        # ||stored - Q^T (x - p)|| <= proj_error ||x - p||: the float32 product
        # (gamma_d per element, any summation order) of x - p rounded to
        # float32 (u32, plus u64 more for float64 X).
        gamma = d * u32 / (1.0 - d * u32)
        grow = np.sqrt(1.0 + self.gram_error)
        proj_error = 1.01 * (gamma * np.sqrt(m) * grow * (1.0 + u32 + 2 * u64)
                             + grow * (u32 + 2 * u64))
        # Rounding to bfloat16 (8 significant bits, to nearest) moves each
        # element by at most 2^-8 of it, or half its smallest subnormal
        # step: in norm 2^-8 ||stored32|| <= 2^-8 (grow + proj_error) ||x - p||,
        # plus sqrt(m) 2^-134, which y_norms absorbs (see below).
        self.proj_error = proj_error + 1.01 * 2.0 ** -8 * (grow + proj_error)
        tiny = np.sqrt(m) * 2.0 ** -134 / self.proj_error
        self.proj = np.empty((m, n), dtype=np.uint16)
        self.y_norms = np.empty(n, dtype=np.float64)
        big = 0.0
        chunk = max(1, PROJECTION_CHUNK // d)
        for start in range(0, n, chunk):
            # x - p rounded once in X's dtype (p is exact in it), then to float32.
            rows = np.subtract(X[start:start + chunk], origin.astype(X.dtype))
            end = start + rows.shape[0]
            # ||x - p|| <= ||rows|| / (1 - u32); the float64 sum's rounding
            # (about d * u64) is far inside the 1e-6 too.
            self.y_norms[start:end] = np.sqrt(
                np.einsum("ij,ij->i", rows, rows, dtype=np.float64)) * (1.0 + 1e-6) + tiny
            proj = (rows.astype(np.float32, copy=False) @ Q).T
            # np.maximum keeps a NaN (Python's max would drop it).
            big = float(np.maximum(big, np.max(np.abs(proj))))
            self.proj[:, start:end] = to_bfloat16(proj)
        # The float32 sums of squares of the filter must not overflow (a NaN
        # fails the test too).
        big = float(np.maximum(big, np.max(self.y_norms)))
        if not big < 1e15:
            return False
        # Subtraction is correctly rounded: the factor covers it.
        gap = origin if pass_origin is None else origin - pass_origin
        self.origin_gap = float(np.sqrt(gap @ gap)) * (1.0 + 1e-6)
        return True

    def kernel_args(self, candidate_rows):
        """The arguments of ``_seeding._filtered_distances`` from ``proj`` on, for these
        candidates."""
        cand_proj = np.ascontiguousarray(from_bfloat16(self.proj[:, candidate_rows]).T)
        cand_norm = float(np.max(self.y_norms[candidate_rows]))
        return (self.proj, self.y_norms, cand_proj, cand_norm, self.origin_gap,
                self.error_scale, self.proj_error, self.gram_error, self.acc, self.thresholds)
