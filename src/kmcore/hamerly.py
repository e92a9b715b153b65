"""Hamerly's bounds for few features: Lloyd E-steps with direct SIMD distances
that skip the rows whose label provably stays (see ``_hamerly.pyx`` for the
algorithm and its exactness).

Public, trusted-input building blocks for a Lloyd driver, as
:mod:`kmcore.yinyang` (whose :class:`~kmcore.yinyang.GroupBounds` interface
:class:`HamerlyBounds` shares); see ``__all__``.

Memory: per row one label (intp) and two float64 bounds
(:func:`bounds_nbytes`); per thread, one slice of row indices; two intp per
row once the rows that changed label are recorded
(:class:`kmcore.yinyang.MovedRows`).
"""

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from kmcore import _hamerly
from kmcore.yinyang import MovedRows

__all__ = ["HamerlyBounds", "bounds_nbytes", "transposed_centers"]

# Rows per slice: the unit of parallel work, fixed so that results never
# depend on the thread count.
_SLICE_ROWS = 4096
# Centers per SIMD pass of the distance loop (KM_LANES in _hamerly.h).
_LANES = 16
# Center pairs x features from which the half-gaps are computed in parallel.
_PARALLEL_GAPS = 1 << 20
# The drifts are inflated by this before the bounds move by them: they are
# float64 distances between the stored centers, exact to a few ulps.
_DRIFT_SLACK = 1 + 1e-12


def bounds_nbytes(n_samples: int) -> int:
    """Bytes of the bounds of :class:`HamerlyBounds` (labels, upper, lower)."""
    return int(n_samples) * 24


def transposed_centers(centers: NDArray[np.floating], dtype: DTypeLike) -> NDArray[np.floating]:
    """``centers.T`` in ``dtype``, padded with +inf columns to a multiple of 16."""
    k, d = centers.shape
    kp = -(-k // _LANES) * _LANES
    ct = np.full((d, kp), np.inf, dtype=dtype)
    ct[:, :k] = centers.T
    return ct


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

    def assign(self, centers: NDArray[np.floating], drift: ArrayLike | None = None,
               record: bool = False) -> NDArray[np.int64]:
        """Labels and bounds for ``centers``.

        ``drift``: how far each center moved since the last call (float64,
        shape (k,)); None compares every row with every center (the first
        call). ``record``: keep the rows whose label changed for
        :meth:`moved_rows`. Returns the counts summed over the slices: distances computed,
        rows compared with every center, rows resolved by float64 distances
        (near ties), rows whose label changed.
        """
        k, d = self.n_clusters, self.X.shape[1]
        if centers.shape != (k, d):
            raise ValueError(f"centers must have shape {(k, d)}, got {centers.shape}")
        centers = np.ascontiguousarray(centers, dtype=self.X.dtype)
        half_gap = np.empty(k)
        # k^2 d work: threads only where it outweighs waking them.
        gap_threads = self.n_threads if k * k * d >= _PARALLEL_GAPS else 1
        _hamerly._half_gaps(centers, half_gap, gap_threads)
        init = drift is None
        drift = np.empty(0) if init else np.asarray(drift, dtype=np.float64) * _DRIFT_SLACK
        ct = transposed_centers(centers, self.X.dtype)
        scratch = np.empty((self.n_threads, ct.shape[1]), dtype=self.X.dtype)
        record = record and not init
        _hamerly._hamerly_assign(self.X, centers, ct, half_gap, drift, self.labels, self.upper,
                                 self.lower, scratch, self._iscratch, self._counts,
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
