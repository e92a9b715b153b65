"""Hamerly's bounds for few features: Lloyd E-steps with direct SIMD distances
that skip the rows whose label provably stays (see ``_hamerly.pyx`` for the
algorithm and its exactness).

Public, trusted-input building blocks for a Lloyd driver, as
:mod:`kmcore.yinyang` (whose :class:`~kmcore.yinyang.GroupBounds` interface
:class:`HamerlyBounds` shares); see ``__all__``.

Memory: per row one label (intp) and two float64 bounds
(:func:`bounds_nbytes`); per thread, one slice of row indices; two intp per
row once the rows that changed label are recorded
(:class:`kmcore.yinyang.MovedRows`); per call, the center tables
(:func:`center_tables`): k copies of the centers, one per center in order of
distance from it, while those take at most ``NEIGHBOUR_BYTES`` and there
are enough rows to repay building them (``TABLE_WORK``), else one.
"""

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from kmcore import _hamerly
from kmcore.yinyang import MovedRows

__all__ = ["NEIGHBOUR_BYTES", "TABLE_WORK", "HamerlyBounds", "bounds_nbytes", "center_tables",
           "neighbour_drifts", "use_neighbours"]

# Rows per slice: the unit of parallel work, fixed so that results never
# depend on the thread count.
_SLICE_ROWS = 4096
# Centers per SIMD pass of the distance loop (KM_LANES in _hamerly.h).
_LANES = 16
# Center pairs x features from which the half-gaps are computed in parallel.
_PARALLEL_GAPS = 1 << 20
#: Largest size in bytes of the k neighbour tables (k x k centers): beyond it
#: one table in index order, and a row that fails its bounds scans every
#: center. Within it the tables stay in the caches the rows' scans read.
#: It caps the tables' centers only; their cost per iteration is capped by
#: ``TABLE_WORK``.
NEIGHBOUR_BYTES = 4 << 20
#: The neighbour tables also need ``n_samples * n_features >= TABLE_WORK * k *
#: kp`` (kp: k rounded up to 16). They are rebuilt every iteration (the k x k
#: float64 gaps, an argsort of k rows of k, the gathered centers), a cost per
#: table entry far above a row's filter; what they save is part of the scans
#: of the rows that fail their bounds, which shrinks with the features. With
#: few rows per table entry or few features the build costs more than it
#: saves (benchmarks/TUNING.md).
TABLE_WORK = 512
# The drifts are inflated by this before the bounds move by them: they are
# float64 distances between the stored centers, exact to a few ulps.
_DRIFT_SLACK = 1 + 1e-12


def bounds_nbytes(n_samples: int) -> int:
    """Bytes of the bounds of :class:`HamerlyBounds` (labels, upper, lower)."""
    return int(n_samples) * 24


def use_neighbours(n_samples: int, n_features: int, n_clusters: int, itemsize: int) -> bool:
    """Whether :class:`HamerlyBounds` builds the k neighbour tables for this shape.

    More than one block of centers, the tables within ``NEIGHBOUR_BYTES``,
    and enough row work per table entry (``TABLE_WORK``).
    """
    k = int(n_clusters)
    kp = -(-k // _LANES) * _LANES
    return (k > _LANES and k * kp * n_features * itemsize <= NEIGHBOUR_BYTES
            and n_samples * n_features >= TABLE_WORK * k * kp)


def center_tables(
    centers: NDArray[np.floating], dtype: DTypeLike, neighbours: bool, n_threads: int = 1
) -> tuple[NDArray[np.floating], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
    """The center tables of ``_hamerly._hamerly_assign`` and the half-gaps.

    Returns ``(tab, order, radius, half_gap)``. ``neighbours``: one table per
    center a, the centers sorted by their distance from a (ties: lowest
    index first), ``radius[a]`` lower bounds on those distances; else one
    table of the centers in index order. Each table holds its centers in
    blocks of 16, feature-major within a block, padded with +inf centers.
    """
    centers = np.ascontiguousarray(centers, dtype=dtype)
    k, d = centers.shape
    kp = -(-k // _LANES) * _LANES
    half_gap = np.empty(k)
    if neighbours:
        gaps = np.empty((k, k))
        _hamerly._center_distances(centers, gaps, n_threads)
        order = np.zeros((k, kp), dtype=np.intp)
        order[:, :k] = np.argsort(gaps, axis=1, kind="stable")
        radius = np.full((k, kp + 1), np.inf)
        radius[:, :k] = np.take_along_axis(gaps, order[:, :k], axis=1)
        # The second smallest of a row: its nearest other center (0 for a duplicate).
        half_gap[:] = 0.5 * radius[:, 1]
    else:
        _hamerly._half_gaps(centers, half_gap, n_threads)
        order = np.zeros((1, kp), dtype=np.intp)
        order[0, :k] = np.arange(k)
        radius = np.full((1, kp + 1), np.inf)
    padded = np.full((order.shape[0], kp, d), np.inf, dtype=dtype)
    padded[:, :k] = centers[order[:, :k]]
    # (table, block, lane, feature) -> (table, block, feature, lane)
    tab = padded.reshape(-1, kp // _LANES, _LANES, d).transpose(0, 1, 3, 2)
    return np.ascontiguousarray(tab).reshape(order.shape[0], kp * d), order, radius, half_gap


def neighbour_drifts(order: NDArray[np.intp], drift: NDArray[np.float64]) -> NDArray[np.float64]:
    """The ``near_drift`` of ``_hamerly._hamerly_assign`` for k neighbour tables.

    ``[a, b]``: the largest ``drift`` of the centers other than a among the
    first ``16 (b + 1)`` of table a (``order`` of :func:`center_tables`).
    """
    k, kp = order.shape
    listed = order[:, :k]
    moved = drift[listed]
    moved[listed == np.arange(k)[:, None]] = 0  # a's own drift does not lower its rows' l
    np.maximum.accumulate(moved, axis=1, out=moved)
    ends = np.minimum(np.arange(_LANES, kp + 1, _LANES), k) - 1
    return np.ascontiguousarray(moved[:, ends])


class HamerlyBounds:
    """Labels and Hamerly's bounds of the rows of X (C-contiguous float32/64).

    The interface of :class:`kmcore.yinyang.GroupBounds` (``labels``,
    :meth:`assign`, :meth:`invalidate`), so that dynkm's bounded strategy
    drives either.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,), intp
        Nearest center of every row, after :meth:`assign`.
    upper : ndarray of shape (n_samples,), float64
        Upper bound on the distance of each row to its center.
    lower : ndarray of shape (n_samples,), float64
        Lower bound on the distance of each row to every other center.
    neighbours : bool
        Whether the center tables list each center's neighbours (a row that
        fails its bounds scans only the centers that can be nearer), or are
        one table in index order (every center scanned): by their size and
        cost per iteration (:func:`use_neighbours`).
    """

    def __init__(self, X: NDArray[np.floating], n_clusters: int, n_threads: int) -> None:
        n = X.shape[0]
        self.X, self.n_clusters, self.n_threads = X, int(n_clusters), n_threads
        self.labels = np.zeros(n, dtype=np.intp)
        self.upper = np.full(n, np.inf)
        self.lower = np.zeros(n)
        self._counts = np.empty((-(-n // _SLICE_ROWS), 4), dtype=np.int64)
        self._iscratch = np.empty((n_threads, _SLICE_ROWS), dtype=np.intp)
        self._moves = MovedRows(n, _SLICE_ROWS)
        k, d = self.n_clusters, X.shape[1]
        self.neighbours = use_neighbours(n, d, k, X.dtype.itemsize)
        # k^2 d work: threads only where it outweighs waking them.
        self._gap_threads = n_threads if k * k * d >= _PARALLEL_GAPS else 1

    def assign(self, centers: NDArray[np.floating], drift: ArrayLike | None = None,
               record: bool = False) -> NDArray[np.int64]:
        """Labels and bounds for ``centers``.

        ``drift``: how far each center moved since the last call (float64,
        shape (k,)); None compares every row with every center (the first
        call). ``record``: keep the rows whose label changed for
        :meth:`moved_rows`. Returns the counts summed over the slices:
        distances computed, rows compared with their candidate centers, rows
        resolved by float64 distances (near ties), rows whose label changed.
        """
        k, d = self.n_clusters, self.X.shape[1]
        if centers.shape != (k, d):
            raise ValueError(f"centers must have shape {(k, d)}, got {centers.shape}")
        centers = np.ascontiguousarray(centers, dtype=self.X.dtype)
        tab, order, radius, half_gap = center_tables(centers, self.X.dtype, self.neighbours,
                                                     self._gap_threads)
        init = drift is None
        drift = np.empty(0) if init else np.asarray(drift, dtype=np.float64) * _DRIFT_SLACK
        if init or not self.neighbours:
            near = np.zeros((order.shape[0], order.shape[1] // _LANES))
        else:
            near = neighbour_drifts(order, drift)
        record = record and not init
        _hamerly._hamerly_assign(self.X, centers, tab, order, radius, near, half_gap, drift,
                                 self.labels, self.upper, self.lower, self._iscratch, self._counts,
                                 _SLICE_ROWS, init, self.n_threads,
                                 *self._moves.buffers(record))
        self._moves.done(record, self._counts)
        return self._counts.sum(axis=0)

    def moved_rows(self) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """(rows, old labels, new labels) of the rows the last recording
        :meth:`assign` relabelled, in row order."""
        return self._moves.rows(self.labels)

    def invalidate(self, rows: NDArray[np.intp]) -> None:
        """Forget the bounds of ``rows``: the next :meth:`assign` recomputes them."""
        self.upper[rows] = np.inf
        self.lower[rows] = 0
