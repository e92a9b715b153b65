"""Yinyang group bounds: Lloyd E-steps that skip the distances which cannot
change a label, and the incremental M-step (see ``_yinyang.pyx`` for the
algorithm and its exactness, ``_yinyang_sums.pyx`` for the M-step).

Public, trusted-input building blocks for a Lloyd driver (dynkm's is
``dynkm._lloyd``): arrays as the kernels use them (C-contiguous
float32/float64 of X's dtype), a thread count >= 1; see ``__all__``.

Memory: per row one label (intp), one float64 upper bound, one float64
kept own distance and one float32 lower bound per group, i.e.
:func:`bounds_nbytes`; the scratch is per thread
and bounded by ``_BLOCK_BYTES``. A caller that asks :meth:`GroupBounds.assign`
to record the rows that changed label adds two intp per row (allocated on the
first such call).
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kmcore import _yinyang, _yinyang_sums
from kmcore._origin import NO_ORIGIN, data_origin, shifted
from kmcore.centers import _unit_or, means_from_sums, weighted_sums
from kmcore.distances import _row_norms, relative_error

__all__ = ["ClusterSums", "GroupBounds", "MovedRows", "bounds_nbytes", "center_groups",
           "labelled_inertia"]

# Rows per slice: the unit of parallel work, fixed so that results never
# depend on the thread count (a slice is also the horizon of a gathered block).
_SLICE_ROWS = 2048
# Thread-local scratch per gathered block (shifted rows, products, per-group
# state). Whole slices are the blocks while the scratch stays within this
# budget: a block is also the unit of the whole-block rule, and on MNIST
# blocks of 256 and 512 rows took that rule more often for no gain.
_BLOCK_BYTES = 32 << 20
_MIN_BLOCK_ROWS = 16
_MAX_BLOCK_ROWS = _SLICE_ROWS
# A block is multiplied against every center when at least this fraction of
# its row x center distances is needed. Lower than the break-even of one
# iteration: the whole product refreshes every group's bound of every row
# (the group products only those they examine), which makes the next
# iterations much cheaper; picked on whole 20-iteration fits of MNIST at
# k = 256 and 1024.
_WHOLE_FRACTION = 0.3
# Lloyd iterations that group the initial centers.
_GROUP_ITERATIONS = 5
# Groups of fewer centers are merged into their nearest neighbour.
_MIN_GROUP = 8
# The drifts are inflated by this before the bounds move by them: they are
# float64 distances between the stored centers, exact to a few ulps.
_DRIFT_SLACK = 1 + 1e-12
# Moved rows x features from which ClusterSums.move_rows runs in parallel:
# below, waking the threads costs more than the additions.
_PARALLEL_MOVES = 1 << 17


def bounds_nbytes(n_samples: int, n_groups: int) -> int:
    """Bytes of the bounds of :class:`GroupBounds` (labels, upper, own_sq, lower)."""
    return int(n_samples) * (8 + 8 + 8 + 4 * int(n_groups))


def center_groups(centers: ArrayLike, n_groups: int) -> NDArray[np.intp]:
    """Group the centers by a few Lloyd iterations on them (Ding et al.).

    Deterministic: the initial group centers are evenly spaced rows of
    ``centers``; groups left empty are dropped, so there may be fewer than
    ``n_groups``. Returns the group of every center, in ``[0, t)``.
    """
    C = np.asarray(centers, dtype=np.float64)
    k = C.shape[0]
    t = int(min(max(n_groups, 1), k))
    if t == k:
        return np.arange(k, dtype=np.intp)
    G = C[np.linspace(0, k - 1, t).round().astype(np.intp)].copy()
    c_sq = np.einsum("ij,ij->i", C, C)
    for _ in range(_GROUP_ITERATIONS + 1):
        D = c_sq[:, None] - 2 * (C @ G.T) + np.einsum("ij,ij->i", G, G)[None, :]
        groups = D.argmin(axis=1)
        counts = np.bincount(groups, minlength=t)
        sums = np.zeros_like(G)
        np.add.at(sums, groups, C)
        filled = counts > 0
        G[filled] = sums[filled] / counts[filled, None]
    groups = np.unique(groups, return_inverse=True)[1].astype(np.intp)
    return _merge_small_groups(C, groups, min(_MIN_GROUP, k))


def _merge_small_groups(C, groups, min_size):
    """Merge every group of fewer than ``min_size`` centers into the group
    whose mean is nearest to its own, smallest first (lowest number on ties).

    A small group costs as much bookkeeping per row as a large one and its
    distances run in thin, inefficient products; merged, its centers only
    weaken the lower bound of a neighbouring group.
    """
    members = [list(np.flatnonzero(groups == g)) for g in range(int(groups.max()) + 1)]
    means = np.array([C[m].mean(axis=0) for m in members])
    while len(members) > 1:
        sizes = np.array([len(m) for m in members])
        g = int(np.argmin(sizes))
        if sizes[g] >= min_size:
            break
        gaps = ((means - means[g]) ** 2).sum(axis=1)
        gaps[g] = np.inf
        h = int(np.argmin(gaps))
        members[h] = sorted(members[h] + members[g])
        means[h] = C[members[h]].mean(axis=0)
        del members[g]
        means = np.delete(means, g, axis=0)
    out = np.empty(C.shape[0], dtype=np.intp)
    for g, m in enumerate(members):
        out[m] = g
    return out


class GroupBounds:
    """Labels and Yinyang bounds of the rows of X for a fixed grouping.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous float32/64
    x_sqnorms : ndarray of shape (n_samples,), X's dtype
        Squared row norms of X. Data far from the origin
        (:func:`kmcore.origin.data_origin`) are computed around their mean,
        as kmcore's plain pass does: then the norms of the shifted rows are
        computed here instead (n values, one pass over X).
    groups : ndarray of shape (n_clusters,), int
        Group of every center, values ``0..t-1`` with none empty.
    n_threads : int

    Attributes
    ----------
    labels : ndarray of shape (n_samples,), intp
        Nearest center of every row, after :meth:`assign`.
    upper : ndarray of shape (n_samples,), float64
        Upper bound on the distance of each row to its center.
    lower : ndarray of shape (n_samples, t), float32
        Lower bound on the distance of each row to every center of each group
        except its own.
    own_sq : ndarray of shape (n_samples,), float64
        The direct squared distance of each row to its own center where the
        kernel knows it (negative elsewhere): reused to tighten ``upper``
        while that center has not moved. A caller that sets labels or bounds
        by hand sets it negative for those rows (:meth:`invalidate` does).
    """

    def __init__(self, X: NDArray[np.floating], x_sqnorms: NDArray[np.floating], groups: ArrayLike,
                 n_threads: int) -> None:
        groups = np.asarray(groups, dtype=np.intp)
        k = groups.shape[0]
        t = int(groups.max()) + 1 if k else 0
        if k == 0 or groups.min() < 0 or np.bincount(groups, minlength=t).min() == 0:
            raise ValueError("groups must number the centers 0..t-1 with no empty group")
        n, d = X.shape
        self.X, self.n_threads = X, n_threads
        origin = data_origin(X)
        self.origin = NO_ORIGIN if origin is None else origin
        if origin is not None:
            x_sqnorms = np.empty(n, dtype=X.dtype)
            for start in range(0, n, _SLICE_ROWS):
                block = shifted(X[start:start + _SLICE_ROWS], origin, X.dtype)
                x_sqnorms[start:start + _SLICE_ROWS] = _row_norms(block, True, n_threads)
        self.x_sqnorms = x_sqnorms
        self.n_clusters, self.n_groups = k, t
        self.center_group = groups
        self.gorder = np.argsort(groups, kind="stable").astype(np.intp)
        self.gpos = np.empty(k, dtype=np.intp)
        self.gpos[self.gorder] = np.arange(k)
        self.gstart = np.searchsorted(groups[self.gorder], np.arange(t + 1)).astype(np.intp)
        self.rel_err = relative_error(d, X.dtype)
        self.labels = np.zeros(n, dtype=np.intp)
        self.upper = np.full(n, np.inf)
        self.lower = np.zeros((n, t), dtype=np.float32)
        self.own_sq = np.full(n, -1.0)
        # The sorted centers of the last call: those still equal to them keep
        # the rows' own distances exact.
        self._last_gcenters: NDArray[np.floating] | None = None
        self.n_slices = -(-n // _SLICE_ROWS)
        self.n_workers = max(1, min(n_threads, self.n_slices))
        itemsize = X.dtype.itemsize
        per_row = (d + k + 3) * itemsize + (7 + 2 * t) * 8 + (4 + t) * 8 + t
        rows = min(_MAX_BLOCK_ROWS, max(_MIN_BLOCK_ROWS, _BLOCK_BYTES // per_row))
        self.block_rows = min(rows - rows % _MIN_BLOCK_ROWS, _SLICE_ROWS)
        B, w = self.block_rows, self.n_workers
        self._fscratch = np.empty((w, B * (d + k + 3)), dtype=X.dtype)
        self._dscratch = np.empty((w, B * (7 + 2 * t)), dtype=np.float64)
        self._iscratch = np.empty((w, B * (4 + t)), dtype=np.intp)
        self._mscratch = np.empty((w, B * t), dtype=np.uint8)
        self._counts = np.empty((self.n_slices, 6), dtype=np.int64)
        self._moves = MovedRows(n, _SLICE_ROWS)

    def assign(self, centers: NDArray[np.floating], drift: ArrayLike | None = None,
               record: bool = False) -> NDArray[np.int64]:
        """Labels and bounds for ``centers``.

        ``drift``: how far each center moved since the last call (float64,
        shape (k,)); None computes every distance (the first call, or after
        the bounds were lost). ``record``: keep the rows whose label changed
        for :meth:`moved_rows`. Returns the counts summed over the slices:
        distances computed, rows that needed a group, rows resolved by direct
        distances (near ties), rows whose label changed, rows whose upper
        bound was tightened (a read of the row), products (group or whole-block).
        """
        k, t = self.n_clusters, self.n_groups
        if centers.shape != (k, self.X.shape[1]):
            raise ValueError(f"centers must have shape {(k, self.X.shape[1])}, got {centers.shape}")
        gcenters = np.ascontiguousarray(centers[self.gorder], dtype=self.X.dtype)
        gemm_centers = gcenters
        if self.origin.shape[0]:
            gemm_centers = shifted(gcenters, self.origin, self.X.dtype)
        gc_sqnorms = _row_norms(gemm_centers, True, self.n_threads)
        init = drift is None
        last = self._last_gcenters
        if init or last is None:
            still = np.zeros(k, dtype=np.uint8)
        else:
            still = (gcenters == last).all(axis=1).view(np.uint8)
        if init:
            drift = np.empty(0)
            group_drift = np.zeros(t, dtype=np.float32)
        else:
            drift = np.ascontiguousarray(drift, dtype=np.float64) * _DRIFT_SLACK
            widest = np.maximum.reduceat(drift[self.gorder], self.gstart[:-1])
            group_drift = widest.astype(np.float32)
            low = group_drift < widest
            group_drift[low] = np.nextafter(group_drift[low], np.float32(np.inf))
        _yinyang._yinyang_assign(
            self.X, self.x_sqnorms, self.origin, gcenters, gemm_centers, gc_sqnorms,
            self.gorder, self.gpos, self.gstart, self.center_group, drift, group_drift,
            self.labels, self.upper, self.lower, self.own_sq, still, self._fscratch,
            self._dscratch, self._iscratch, self._mscratch, self._counts, self.rel_err,
            _SLICE_ROWS, self.block_rows, _WHOLE_FRACTION, init, self.n_workers,
            *self._moves.buffers(record and not init),
        )
        self._last_gcenters = gcenters
        self._moves.done(record and not init, self._counts)
        return self._counts.sum(axis=0)

    def moved_rows(self) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """(rows, old labels, new labels) of the rows the last recording
        :meth:`assign` relabelled, in row order (see :class:`MovedRows`)."""
        return self._moves.rows(self.labels)

    def invalidate(self, rows: NDArray[np.intp]) -> None:
        """Forget the bounds of ``rows``: the next :meth:`assign` recomputes them."""
        self.upper[rows] = np.inf
        self.lower[rows] = 0
        self.own_sq[rows] = -1


class MovedRows:
    """The rows a bounds kernel relabelled, as it reports them.

    The kernels write slice s's changed rows and their previous labels from
    ``s * slice_rows`` on, as many as the slice's changed count: no pass over
    every label is needed to find them (only the rows that moved are read).
    The two buffers of n intp are allocated on the first recording call.
    """

    def __init__(self, n_samples: int, slice_rows: int) -> None:
        self.n, self.slice_rows = n_samples, slice_rows
        self._rows: NDArray[np.intp] | None = None
        self._from: NDArray[np.intp] | None = None
        # Per-slice counts of the last recording call.
        self._changed: NDArray[np.int64] | None = None

    def buffers(self, record: bool) -> tuple[NDArray[np.intp], ...]:
        """The kernel's ``moved, moved_from`` arguments: two arrays, or none."""
        self._changed = None
        if not record:
            return ()
        if self._rows is None or self._from is None:  # allocated together
            self._rows = np.empty(self.n, dtype=np.intp)
            self._from = np.empty(self.n, dtype=np.intp)
        return self._rows, self._from

    def done(self, record: bool, slice_counts: NDArray[np.int64]) -> None:
        """Keep the per-slice changed counts of a call made with ``buffers(record)``."""
        if record:
            self._changed = slice_counts[:, 3].copy()

    def rows(self, labels: NDArray[np.intp]
             ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """(rows, old labels, new labels) in row order; a RuntimeError when
        the last call did not record."""
        counts = self._changed
        if counts is None:
            raise RuntimeError("the last assign did not record the rows that moved")
        total = int(counts.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.intp)
            return empty, empty, empty
        filled = np.flatnonzero(counts)
        c = counts[filled]
        # Position of each recorded entry: its slice's start plus its rank in the slice.
        before = np.cumsum(c) - c
        at = np.repeat(filled * self.slice_rows - before, c) + np.arange(total)
        # Recorded counts mean a recording call, so the buffers exist.
        assert self._rows is not None and self._from is not None
        rows = self._rows[at]
        return rows, self._from[at], labels[rows]


class ClusterSums:
    """float64 per-cluster sums kept up to date by moving the rows that changed.

    A full recomputation (``kmcore.centers.weighted_sums``) happens on
    :meth:`rebuild`, when more rows move than a recomputation costs, when the
    rows moved since the last one reach ``n_samples`` (bounded rounding), and
    when a cluster's weight falls below ``_CANCELLED`` of the weight that went
    through it (its sum would carry the rounding of much larger terms).
    :meth:`means` divides out only the clusters whose sums changed.
    """

    _CANCELLED = 1e-2

    def __init__(self, X: NDArray[np.floating], sample_weight: NDArray[np.floating] | None,
                 n_clusters: int, n_threads: int) -> None:
        self.X, self.sample_weight, self.n_threads = X, sample_weight, n_threads
        self.k = n_clusters
        self._w = _unit_or(sample_weight, X.dtype)
        self._positive = None if sample_weight is None else sample_weight > 0
        # The clusters whose sums changed since the last means (None: all of
        # them), and the centers those means returned.
        self._changed: NDArray[np.bool_] | None = None
        self._last: NDArray[np.floating] | None = None

    def rebuild(self, labels: NDArray[np.intp]) -> None:
        """Sums, weights and positive-weight row counts from scratch."""
        self.sums, self.weights = weighted_sums(self.X, labels, self.k, self.sample_weight,
                                                 self.n_threads)
        members = labels if self._positive is None else labels[self._positive]
        self.n_positive = np.bincount(members, minlength=self.k).astype(np.int64)
        self.scale = self.weights.copy()
        self.moved_since_rebuild = 0
        self._changed = None

    def move(self, labels: NDArray[np.intp], old_labels: NDArray[np.intp]) -> None:
        """Update for the rows whose label differs between ``old_labels`` and ``labels``."""
        rows = np.flatnonzero(labels != old_labels)
        self.move_rows(rows, old_labels[rows], labels[rows], labels)

    def move_rows(self, rows: NDArray[np.intp], old: NDArray[np.intp], new: NDArray[np.intp],
                  labels: NDArray[np.intp]) -> None:
        """Update for ``rows`` (increasing) moving from clusters ``old`` to
        ``new``; ``labels``, all the current labels, for a recomputation."""
        n = labels.shape[0]
        if rows.size == 0:
            return
        if 2 * rows.size >= n or self.moved_since_rebuild + rows.size > n:
            self.rebuild(labels)
            return
        # The result does not depend on the thread count: only the speed.
        threads = self.n_threads if rows.size * self.X.shape[1] >= _PARALLEL_MOVES else 1
        _yinyang_sums._move_rows(self.X, self._w, rows, old, new, self.sums, self.weights,
                            self.scale, self.n_positive, threads)
        self.moved_since_rebuild += rows.size
        if self._changed is not None:
            self._changed[old] = True
            self._changed[new] = True
        if ((self.weights < self._CANCELLED * self.scale) & (self.n_positive > 0)).any():
            self.rebuild(labels)

    def means(self, centers: NDArray[np.floating], dtype: np.dtype, shift: NDArray[np.float64],
              n_threads: int) -> NDArray[np.floating]:
        """``kmcore.centers.means_from_sums(sums, weights, centers, dtype, shift,
        n_threads)``, bitwise, dividing out only the clusters whose sums changed.

        When ``centers`` holds bitwise what the last call returned (a private
        copy is kept and compared, so an edit in place is seen), a cluster
        whose sums did not change since has its mean there already: it is
        copied, with a shift of 0. Otherwise every cluster is divided.
        """
        changed = self._changed
        if changed is None or centers.dtype != dtype or not _same_bits(centers, self._last):
            new = means_from_sums(self.sums, self.weights, centers, dtype, shift, n_threads)
        else:
            new = centers.copy()
            shift[:] = 0
            at = np.flatnonzero(changed)
            if at.size:
                moved = np.empty(at.size, dtype=np.float64)
                new[at] = means_from_sums(self.sums[at], self.weights[at], centers[at], dtype,
                                          moved, 1)
                shift[at] = moved
        self._changed = np.zeros(self.k, dtype=bool)
        self._last = new.copy()
        return new


def _same_bits(a: NDArray[np.floating], b: NDArray[np.floating] | None) -> bool:
    """Whether ``a`` and ``b`` have the same shape, dtype and bits (-0.0 differs from 0.0)."""
    if b is None or a.shape != b.shape or a.dtype != b.dtype:
        return False
    bits = np.dtype(f"u{a.dtype.itemsize}")
    return bool(np.array_equal(np.ascontiguousarray(a).view(bits), b.view(bits)))


def labelled_inertia(X: NDArray[np.floating], centers: ArrayLike, labels: NDArray[np.intp],
                     sample_weight: NDArray[np.floating] | None, n_threads: int) -> float:
    """sum(w * ||x - c_label||^2) by direct float64 distances (thread-independent)."""
    n_slices = -(-X.shape[0] // _SLICE_ROWS)
    out = np.empty(n_slices, dtype=np.float64)
    _yinyang_sums._labelled_inertia(X, np.ascontiguousarray(centers, dtype=X.dtype), labels,
                               _unit_or(sample_weight, X.dtype), out, _SLICE_ROWS, n_threads)
    return float(out.sum())
