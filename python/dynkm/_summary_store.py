"""The bounded store of :class:`dynkm.DynamicKMeans` (``store="summary"``).

No row is kept beyond a per-cluster *reservoir*: a weighted random sample of
at most ``r`` of the cluster's members (weighted reservoir sampling without
replacement, as Efraimidis and Spirakis: every point draws a key from its
weight and each cluster keeps the ``r`` best keys). Memory is C x r x (D x b
+ 24) bytes for C cluster rows of capacity (at most twice the largest number
of clusters), D features of b bytes (the model's dtype) and three float64 per
slot, whatever the number of points seen: O(K x r x D) beside the O(K x D)
per-cluster state.

``r`` is fixed (``summary_size``) or adaptive: as many rows as keep the
reservoirs within a byte budget (``max_bytes``), at most ``max_budget`` (the
largest cluster, ``max_size``: a sample as large as the cluster is the
cluster) and :data:`MAX_BUDGET`, at least :data:`MIN_BUDGET`. Few clusters of
up to ``MAX_BUDGET`` points then keep every member, and their splits are
exact; as the capacity doubles, every reservoir keeps its best keys, as many
as the new ``r`` (a sample of a sample by the same keys is a sample), so the
budget holds until ``r`` reaches its floor.

Each sampled point keeps a *threshold*: the best key that was ever left out
of its reservoir while it was in it (infinite while nothing was). The point
is in the sample because its key is below that threshold, which happens with
probability ``p = 1 - exp(-w e^tau)`` for a point of weight ``w``; the sample
is weighed by ``w / p`` (Horvitz-Thompson), so that points that joined an
emptied reservoir (after a split) stand for themselves, and older points for
the members left out beside them.

A split runs the 2-means kernel on the reservoir; the cluster's exact
statistics (sum, weight, second moment) are then divided in the proportions
of the sample's two sides and corrected so that the halves add up exactly to
the cluster's statistics (see :func:`split_statistics`). The reservoir is
divided with the sample: each half keeps the sampled points of its side, a
sample of its own members. A merge keeps the best ``r`` keys of the two
reservoirs, which is a weighted sample of the merged cluster.

Keys are stored as ``log(-log u) - log w + log G``, where ``G`` is the decay
of the past at the point's arrival: smaller is better, and the order of two
points does not change as time passes, so forgetting costs nothing here.

Rows of the reservoir follow the rows of the cluster state (a split adds
one, a merge moves the last row into the removed one). The estimator takes a
:meth:`fork` (shallow) before a batch; every write into the reservoirs goes
through :func:`dynkm._atomic.write`, so a failed batch is undone in
O(what it wrote); growing makes new columns and leaves the old ones as they
were.
"""

import numpy as np

from dynkm import _atomic
from dynkm._grow import capacity_of, new_columns

__all__ = ["MAX_BUDGET", "MIN_BUDGET", "ReservoirStore", "split_statistics"]

_EMPTY = np.inf
# Bytes of a slot besides its row: key, log weight and threshold (float64 each).
_SLOT_BYTES = 24
# The fewest rows an adaptive reservoir keeps, whatever the byte budget (the
# 2-means of a smaller sample, and the means of its halves, are too noisy), and
# the most (a split and a batch cost O(r x D) per cluster they touch).
MIN_BUDGET = 32
MAX_BUDGET = 1024


class ReservoirStore:
    """Per-cluster weighted reservoirs of at most ``budget`` rows each.

    ``budget`` fixed (an int), or None: adaptive, the most rows per cluster
    row of capacity that keep the reservoirs within ``max_bytes``, between
    :data:`MIN_BUDGET` and ``min(max_budget, MAX_BUDGET)``; as the capacity doubles, every
    reservoir keeps its best half (a weighted sample still).
    """

    exact = False

    def __init__(self, n_features, dtype, capacity, budget, max_bytes=None, max_budget=None):
        self.max_bytes = None if budget is not None else int(max_bytes)
        self.max_budget = None if budget is not None else max(
            MIN_BUDGET, min(MAX_BUDGET, int(max_budget)))
        row_bytes = n_features * np.dtype(dtype).itemsize + _SLOT_BYTES
        self.budget = int(budget) if budget is not None else self._budget_for(capacity,
                                                                              row_bytes)
        self.cols = self._columns(capacity, self.budget, n_features, dtype)
        self.k = 0
        self.log_decay = 0.0  # log of the decay of everything since the start

    @staticmethod
    def _columns(capacity, budget, n_features, dtype):
        cols = new_columns({"rows": ((budget, n_features), dtype),
                            "keys": ((budget,), np.float64),
                            "log_w": ((budget,), np.float64),
                            "tau": ((budget,), np.float64)}, capacity)
        cols["keys"][:] = _EMPTY
        return cols

    def _budget_for(self, capacity, row_bytes):
        """Rows per reservoir of an adaptive store of ``capacity`` cluster rows."""
        fit = self.max_bytes // (capacity * row_bytes)
        return int(min(self.max_budget, max(MIN_BUDGET, fit)))

    def fork(self):
        new = object.__new__(type(self))
        vars(new).update(vars(self))
        if "tau" not in new.cols:
            # Saved before the thresholds existed: weighed as if nothing had been left out.
            new.cols = dict(new.cols, tau=np.full(new.cols["keys"].shape, _EMPTY))
        return new

    def ram_bytes(self):
        """Bytes of the arrays the store holds in RAM."""
        return sum(a.nbytes for a in self.cols.values())

    # ---------------------------------------------------------------- rows
    def make_room(self, n):
        """Capacity for n more cluster rows (an adaptive store's reservoirs may shrink:
        call it before taking a sample that the new rows will divide)."""
        if self.k + n > capacity_of(self.cols):
            self._grow(max(2 * capacity_of(self.cols), self.k + n))

    def add_rows(self, owner, n):
        """Empty reservoirs for n new cluster rows."""
        k = self.k
        self.make_room(n)
        # The rows past k may be live in the committed store (a removed row was last).
        _atomic.write(owner, self.cols["keys"], slice(k, k + n), _EMPTY)
        self.k = k + n

    def _grow(self, capacity):
        """New columns of ``capacity`` rows; an adaptive store's reservoirs keep their
        best keys, as many as its budget for that capacity (the committed store keeps
        its columns: nothing is written into them)."""
        rows = self.cols["rows"]
        budget = self.budget
        if getattr(self, "max_bytes", None) is not None:
            budget = min(budget, self._budget_for(capacity, rows[0, :1].nbytes + _SLOT_BYTES))
        k = self.k
        cols = self._columns(capacity, budget, rows.shape[2], rows.dtype)
        # By blocks of cluster rows: the copy then needs no temporary of the store's size
        # (the old and the new columns are both alive until the batch commits).
        for start in range(0, k, 256):
            block = slice(start, min(k, start + 256))
            if budget == self.budget:
                for name, col in self.cols.items():
                    cols[name][block] = col[block]
                continue
            order = np.argsort(self.cols["keys"][block], axis=1, kind="stable")
            keep = order[:, :budget]
            for name, col in self.cols.items():
                index = keep[:, :, None] if col.ndim == 3 else keep
                cols[name][block] = np.take_along_axis(col[block], index, 1)
            # A reservoir cut short: the best key left out is every kept point's threshold.
            left_out = np.take_along_axis(self.cols["keys"][block], order[:, budget:budget + 1],
                                          1)
            cols["tau"][block] = np.minimum(cols["tau"][block], left_out)
        self.cols, self.budget = cols, budget

    def remove_row(self, owner, row):
        last = self.k - 1
        if row != last:
            for col in self.cols.values():
                _atomic.write(owner, col, row, col[last])
        self.k = last

    def decay(self, owner, log_a):
        """Forget: weights of the past times ``exp(log_a)`` (0 empties every reservoir)."""
        if np.isneginf(log_a):
            _atomic.write(owner, self.cols["keys"], slice(0, self.k), _EMPTY)
            self.log_decay = 0.0
        else:
            self.log_decay += log_a

    # ---------------------------------------------------------------- sample
    def absorb(self, owner, rng, X, sample_weight, rows):
        """Offer the batch's points to the reservoirs of their cluster rows."""
        n = X.shape[0]
        w = np.ones(n) if sample_weight is None else sample_weight.astype(np.float64)
        u = rng.uniform(size=n)
        with np.errstate(divide="ignore"):
            log_w = np.log(w) - self.log_decay        # weight in the units of time 0
            keys = np.log(-np.log1p(-u)) - log_w      # -log(1 - u) > 0: u may be 0
        keys[w <= 0] = _EMPTY                          # weightless points are not sampled
        touched, inverse = np.unique(rows, return_inverse=True)
        r = self.budget
        old_keys = self.cols["keys"][touched]                       # (t, r)
        # Candidates: the r slots of every touched reservoir, then the new points.
        cand_row = np.concatenate([np.repeat(np.arange(len(touched)), r), inverse])
        cand_key = np.concatenate([old_keys.ravel(), keys])
        order = np.lexsort((np.arange(cand_key.size), cand_key, cand_row))
        group_start = np.searchsorted(cand_row[order], np.arange(len(touched)))
        rank = np.arange(order.size) - np.repeat(group_start, np.diff(
            np.r_[group_start, order.size]))
        # Candidates sorted by cluster then key: the first r of each cluster stay. An old
        # entry that falls out leaves its slot to a new point that comes in; both lists
        # are grouped by cluster with equal counts per cluster, so they pair up in order.
        n_old = old_keys.size
        out = order[(rank >= r) & (order < n_old)]
        enter = order[(rank < r) & (order >= n_old)] - n_old
        at = (touched[out // r], out % r)
        _atomic.write(owner, self.cols["rows"], at, X[enter])
        _atomic.write(owner, self.cols["keys"], at, keys[enter])
        _atomic.write(owner, self.cols["log_w"], at, log_w[enter])
        _atomic.write(owner, self.cols["tau"], at, _EMPTY)
        # Where a key was left out, every point kept stood below it: it lowers their
        # thresholds (the best key left out is the one of rank r).
        first_out = order[rank == r]
        lost = touched[cand_row[first_out]]
        if lost.size:
            tau = self.cols["tau"][lost]
            _atomic.write(owner, self.cols["tau"], lost,
                          np.minimum(tau, cand_key[first_out][:, None]))

    def sample(self, row):
        """The reservoir of cluster ``row``: rows, relative weights and slots."""
        slots = np.flatnonzero(np.isfinite(self.cols["keys"][row]))
        log_w = self.cols["log_w"][row, slots]
        # Horvitz-Thompson: a point of weight w is kept while its key stays below its
        # threshold tau, with probability p = 1 - exp(-w e^tau) (1 while nothing that
        # arrived with or after it was left out): it stands for w / p.
        z = log_w + self.cols["tau"][row, slots]
        # log p, without underflow: p = w e^tau to double precision below e^-20.
        with np.errstate(divide="ignore"):
            log_p = np.where(z < -20, z, np.log(-np.expm1(-np.exp(np.minimum(z, 700.0)))))
        log_w = log_w - log_p
        w = np.exp(log_w - log_w.max()) if slots.size else np.empty(0)
        return self.cols["rows"][row, slots], w, slots

    def split(self, owner, row, new_row, slots, side, keep):
        """Divide reservoir ``row``: its side-``keep`` points stay where they are, the
        others move to the first slots of ``new_row`` (an empty reservoir). A slot of
        infinite key is empty wherever it is, so nothing else is written (O(moved x D))."""
        moved = slots[side != keep]
        for name in ("rows", "keys", "log_w", "tau"):
            col = self.cols[name]
            _atomic.write(owner, col, (new_row, slice(0, len(moved))), col[row, moved])
        _atomic.write(owner, self.cols["keys"], (row, moved), _EMPTY)

    def merge(self, owner, row, into):
        """Reservoir ``into`` becomes the best ``budget`` keys of both."""
        keys = np.concatenate([self.cols["keys"][into], self.cols["keys"][row]])
        order = np.argsort(keys, kind="stable")
        best, left_out = order[: self.budget], keys[order[self.budget]]
        for name in ("rows", "keys", "log_w", "tau"):
            col = self.cols[name]
            both = np.concatenate([col[into], col[row]])
            if name == "tau":
                both = np.minimum(both, left_out)
            _atomic.write(owner, col, into, both[best])


def split_statistics(sums, weight, m2, X, w, side):
    """Halves of a cluster's exact statistics, divided as its sample is by ``side``.

    The sample's side weights give the halves' shares of ``weight``; its side
    means, shifted by one common vector so that ``W0 m0 + W1 m1 = sums``
    exactly, give the halves' means; the second moment left after the
    between-halves term ``W0 W1 / W ||m0 - m1||^2`` is divided as the sample's
    within-side moments. The halves' sums and weights add up to the cluster's
    (up to rounding); their moments plus the between term to ``m2``, unless
    the estimate of the between term exceeds ``m2`` (then they are zero).

    Parameters
    ----------
    sums : ndarray of shape (n_features,), float64
    weight, m2 : float
    X : ndarray of shape (m, n_features)
        The sample (m >= 2).
    w : ndarray of shape (m,)
        Its (relative) weights.
    side : ndarray of shape (m,) of {0, 1}

    Returns
    -------
    halves : list of two (sums, weight, m2, mean) tuples, for side 0 and 1,
        or None when the sample gives one side no weight.
    """
    x = X.astype(np.float64)
    w0, w1 = float(w[side == 0].sum()), float(w[side == 1].sum())
    if not (w0 > 0 and w1 > 0) or not weight > 0:
        return None
    a = [w[side == s] @ x[side == s] / ws for s, ws in ((0, w0), (1, w1))]
    W0 = weight * w0 / (w0 + w1)
    W1 = weight - W0
    shift = (sums - W0 * a[0] - W1 * a[1]) / weight
    m = [a[0] + shift, a[1] + shift]
    s0 = W0 * m[0]
    s1 = sums - s0
    between = W0 * W1 / weight * float(((m[0] - m[1]) ** 2).sum())
    within = max(m2 - between, 0.0)
    v = [float(w[side == s] @ ((x[side == s] - a[s]) ** 2).sum(axis=1)) for s in (0, 1)]
    share0 = v[0] / (v[0] + v[1]) if v[0] + v[1] > 0 else W0 / weight
    return [(s0, W0, within * share0, m[0]), (s1, W1, within * (1 - share0), m[1])]
