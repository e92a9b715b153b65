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
O(what it wrote).

The reservoirs are the first C x r slots of one *pool* of columns. An
adaptive store allocates the pool for its whole budget at once (the pages
that no write reaches take no RAM), so that growing the capacity within the
budget rearranges the pool in place instead of copying it: at the same ``r``
nothing moves; a smaller ``r`` sorts every reservoir by key and swaps the
kept slots to their new rows (two permutations whose inverses a failed batch
runs: no slot is lost, no second copy of the store is made; it allocates
blocks of a 32nd of the store, 4 MiB at most, and keeps 10 bytes a slot to
undo it: the old thresholds and the inverse orders). Past the budget (``r``
at its floor) and with a fixed ``summary_size``, growing copies the live
reservoirs into a new pool and leaves the old one as it was (until the batch
commits both are alive). A saved model holds the slots that were ever used, and gets its pool
back on load.
"""

import functools

import numpy as np

from dynkm import _atomic
from dynkm._grow import capacity_of, new_columns

__all__ = ["MAX_BUDGET", "MIN_BUDGET", "ReservoirStore", "split_statistics"]

_EMPTY = np.inf
_COLUMNS = ("rows", "keys", "log_w", "tau")
# Bytes of a slot besides its row: key, log weight and threshold (float64 each).
_SLOT_BYTES = 24
# The fewest rows an adaptive reservoir keeps, whatever the byte budget (the
# 2-means of a smaller sample, and the means of its halves, get too noisy; the
# README's stores section has the measurements of 16, 24 and 32), and the most
# (a split and a batch cost O(r x D) per cluster they touch).
MIN_BUDGET = 16
MAX_BUDGET = 1024


class ReservoirStore:
    """Per-cluster weighted reservoirs of at most ``budget`` rows each.

    ``budget`` fixed (an int), or None: adaptive, the most rows per cluster
    row of capacity that keep the reservoirs within ``max_bytes``, between
    :data:`MIN_BUDGET` and ``min(max_budget, MAX_BUDGET)``; as the capacity doubles, every
    reservoir keeps its best keys (a weighted sample still).

    The reservoirs are the first ``capacity x budget`` slots of one *pool* of
    columns (``cols`` views them as ``(capacity, budget, ...)`` arrays).
    """

    exact = False

    def __init__(self, n_features, dtype, capacity, budget, max_bytes=None, max_budget=None):
        self.max_bytes = None if budget is not None else int(max_bytes)
        self.max_budget = None if budget is not None else max(
            MIN_BUDGET, min(MAX_BUDGET, int(max_budget)))
        slot_bytes = n_features * np.dtype(dtype).itemsize + _SLOT_BYTES
        self.budget = int(budget) if budget is not None else self._budget_for(capacity,
                                                                              slot_bytes)
        self.capacity = int(capacity)
        self.used = self.capacity * self.budget
        slots = self.used
        if self.max_bytes is not None:
            # The pool of an adaptive store is the whole budget at once: the reservoirs then
            # grow and shrink inside it (no second copy). Its pages stay untouched (no RAM)
            # until the reservoirs reach them.
            slots = max(slots, self.max_bytes // slot_bytes)
        self.pool = self._new_pool(slots, n_features, dtype)
        self.k = 0
        self.log_decay = 0.0  # log of the decay of everything since the start

    @staticmethod
    def _new_pool(slots, n_features, dtype):
        pool = new_columns({"rows": ((n_features,), dtype), "keys": ((), np.float64),
                            "log_w": ((), np.float64), "tau": ((), np.float64)}, slots)
        pool["keys"][:] = _EMPTY
        return pool

    @property
    def cols(self):
        """The reservoirs: ``rows`` (capacity, budget, n_features), ``keys``, ``log_w``
        and ``tau`` (capacity, budget), views of the pool's first slots."""
        saved = vars(self).get("cols")
        if saved is not None:
            return saved  # a model saved before the pool, not yet forked
        n, shape = self.capacity * self.budget, (self.capacity, self.budget)
        return {name: a[:n].reshape(shape + a.shape[1:]) for name, a in self.pool.items()}

    def _budget_for(self, capacity, slot_bytes):
        """Rows per reservoir of an adaptive store of ``capacity`` cluster rows."""
        fit = self.max_bytes // (capacity * slot_bytes)
        return int(min(self.max_budget, max(MIN_BUDGET, fit)))

    def _slot_bytes(self):
        rows = self.pool["rows"]
        return rows.shape[1] * rows.itemsize + _SLOT_BYTES

    def _block_bytes(self):
        """Bytes of the temporaries of a rearrangement: a 32nd of the store, 4 MiB at
        most (a block of rows is copied at a time)."""
        return min(4 << 20, max(1 << 16, self.ram_bytes() // 32))

    def fork(self):
        new = object.__new__(type(self))
        vars(new).update(vars(self))
        cols = vars(new).pop("cols", None)
        if cols is not None:
            # Saved before the pool: its reservoirs become one (the arrays are the pool).
            capacity, budget = cols["keys"].shape
            if "tau" not in cols:
                # Saved before the thresholds: weighed as if nothing had been left out.
                cols = dict(cols, tau=np.full((capacity, budget), _EMPTY))
            new.pool = {name: a.reshape((capacity * budget,) + a.shape[2:])
                        for name, a in cols.items()}
            new.capacity, new.budget, new.used = capacity, budget, capacity * budget
        return new

    def saved(self):
        """What a saved model holds: this store without the part of its pool that no
        write reached (:meth:`restored` gives it back)."""
        if "cols" in vars(self):
            return self
        new = object.__new__(type(self))
        vars(new).update(vars(self))
        new.pool = {name: a[:self.used] for name, a in self.pool.items()}
        return new

    def restored(self):
        """The store a saved one stands for: its pool as large as it was."""
        if "cols" in vars(self) or getattr(self, "max_bytes", None) is None:
            return self
        new = object.__new__(type(self))
        vars(new).update(vars(self))
        try:
            slots = max(self.used, self.max_bytes // self._slot_bytes())
            if capacity_of(self.pool) >= slots:
                return self
            rows = self.pool["rows"]
            new.pool = self._new_pool(slots, rows.shape[1], rows.dtype)
            for name, a in self.pool.items():
                new.pool[name][:a.shape[0]] = a
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            return self  # not a pool this dynkm wrote: as it is (growing will copy it)
        return new

    def ram_bytes(self):
        """Bytes of the slots the reservoirs ever used (the rest of an adaptive store's
        pool is address space that no write reached)."""
        if "cols" in vars(self):
            return sum(a.nbytes for a in self.cols.values())
        return self.used * self._slot_bytes()

    # ---------------------------------------------------------------- rows
    def make_room(self, owner, n):
        """Capacity for n more cluster rows (an adaptive store's reservoirs may shrink:
        call it before taking a sample that the new rows will divide)."""
        if self.k + n > self.capacity:
            self._grow(owner, max(2 * self.capacity, self.k + n))

    def add_rows(self, owner, n):
        """Empty reservoirs for n new cluster rows."""
        k = self.k
        self.make_room(owner, n)
        # The rows past k may be live in the committed store (a removed row was last).
        _atomic.write(owner, self.cols["keys"], slice(k, k + n), _EMPTY)
        self.k = k + n

    def _grow(self, owner, capacity):
        """Room for ``capacity`` cluster rows; an adaptive store's reservoirs keep their
        best keys, as many as its budget for that capacity. Inside the pool when it is
        large enough (rearranged in place, the inverse registered for a rollback), else
        in a new pool (the committed store keeps the old one: nothing is written there)."""
        budget = self.budget
        if getattr(self, "max_bytes", None) is not None:
            budget = min(budget, self._budget_for(capacity, self._slot_bytes()))
        if capacity * budget <= capacity_of(self.pool):
            if budget < self.budget:
                self._shrink_in_place(owner, budget)
        else:
            self._new_pool_for(capacity, budget)
        self.capacity, self.budget = capacity, budget
        self.used = max(self.used, capacity * budget)

    def _new_pool_for(self, capacity, budget):
        """Copy the live reservoirs into a new pool of ``capacity x budget`` slots."""
        cols, k = self.cols, self.k
        slots = capacity * budget
        if getattr(self, "max_bytes", None) is not None:
            slots = max(slots, self.max_bytes // self._slot_bytes())  # (as in __init__)
        pool = self._new_pool(slots, *cols["rows"].shape[2:], cols["rows"].dtype)
        new = {name: a[:capacity * budget].reshape((capacity, budget) + a.shape[1:])
               for name, a in pool.items()}
        # By blocks of cluster rows: the copy then needs no temporary of the store's size.
        for block in _blocks(k, self.budget * self._slot_bytes(), self._block_bytes()):
            if budget == self.budget:
                for name, col in cols.items():
                    new[name][block] = col[block]
                continue
            order = np.argsort(cols["keys"][block], axis=1, kind="stable")
            keep = order[:, :budget]
            for name, col in cols.items():
                index = keep[:, :, None] if col.ndim == 3 else keep
                new[name][block] = np.take_along_axis(col[block], index, 1)
            # A reservoir cut short: the best key left out is every kept point's threshold.
            left_out = np.take_along_axis(cols["keys"][block], order[:, budget:budget + 1], 1)
            new["tau"][block] = np.minimum(new["tau"][block], left_out)
        self.pool = pool

    def _shrink_in_place(self, owner, budget):
        """Cut every live reservoir to its best ``budget`` keys, laid out as rows of
        ``budget`` slots, inside the pool: the same reservoirs as a copy into a new pool
        would hold, in the same slots, without a second copy of the store.

        Two permutations of the pool, each registered (inverse first) with
        :func:`dynkm._atomic.on_rollback`: every reservoir sorted by key, then the
        kept slots of row ``i`` swapped to where row ``i`` of the new layout lies
        (before the old row ``i``, after the new rows before it: nothing placed is
        moved again). The cut slots are not lost, only moved: a failed batch puts
        every slot back. The thresholds are lowered through :func:`dynkm._atomic.write`.
        """
        cols, k, old = self.cols, self.k, self.budget
        keys = cols["keys"]
        # 1. Thresholds (a reservoir cut short: the best key left out bounds the kept ones').
        for block in _blocks(k, old * 8, self._block_bytes()):
            left_out = np.partition(keys[block], budget, axis=1)[:, budget:budget + 1]
            _atomic.write(owner, cols["tau"], block, np.minimum(cols["tau"][block], left_out))
        # 2. Every reservoir sorted by key (the order a copy takes them in), by blocks.
        for block in _blocks(k, old * self._slot_bytes(), self._block_bytes()):
            order = np.argsort(keys[block], axis=1, kind="stable")
            inverse = np.argsort(order, axis=1).astype(np.int16 if old < 1 << 15 else np.intp)
            _undoable(owner, functools.partial(_permute, cols, block, order),
                      functools.partial(_permute, cols, block, inverse))
        # 3. Row i's first ``budget`` slots to flat slots [i budget, (i + 1) budget).
        step = max(1, self._block_bytes() // (self._slot_bytes() * budget))
        i = 1
        while i < k:
            if i * old < (i + 1) * budget:  # the target overlaps the source: one row
                j = i + 1
            else:  # rows i..j-1: their targets end before their sources begin
                j = min(k, i * old // budget, i + step)
            _undoable(owner, functools.partial(_compact, self.pool, i, j, old, budget, False),
                      functools.partial(_compact, self.pool, i, j, old, budget, True))
            i = j

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
        r, cols = self.budget, self.cols
        old_keys = cols["keys"][touched]                       # (t, r)
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
        _atomic.write(owner, cols["rows"], at, X[enter])
        _atomic.write(owner, cols["keys"], at, keys[enter])
        _atomic.write(owner, cols["log_w"], at, log_w[enter])
        _atomic.write(owner, cols["tau"], at, _EMPTY)
        # Where a key was left out, every point kept stood below it: it lowers their
        # thresholds (the best key left out is the one of rank r).
        first_out = order[rank == r]
        lost = touched[cand_row[first_out]]
        if lost.size:
            tau = cols["tau"][lost]
            _atomic.write(owner, cols["tau"], lost,
                          np.minimum(tau, cand_key[first_out][:, None]))

    def sample(self, row):
        """The reservoir of cluster ``row``: rows, relative weights and slots."""
        cols = self.cols
        slots = np.flatnonzero(np.isfinite(cols["keys"][row]))
        log_w = cols["log_w"][row, slots]
        # Horvitz-Thompson: a point of weight w is kept while its key stays below its
        # threshold tau, with probability p = 1 - exp(-w e^tau) (1 while nothing that
        # arrived with or after it was left out): it stands for w / p.
        z = log_w + cols["tau"][row, slots]
        # log p, without underflow: p = w e^tau to double precision below e^-20.
        with np.errstate(divide="ignore"):
            log_p = np.where(z < -20, z, np.log(-np.expm1(-np.exp(np.minimum(z, 700.0)))))
        log_w = log_w - log_p
        w = np.exp(log_w - log_w.max()) if slots.size else np.empty(0)
        return cols["rows"][row, slots], w, slots

    def split(self, owner, row, new_row, slots, side, keep):
        """Divide reservoir ``row``: its side-``keep`` points stay where they are, the
        others move to the first slots of ``new_row`` (an empty reservoir). A slot of
        infinite key is empty wherever it is, so nothing else is written (O(moved x D))."""
        moved, cols = slots[side != keep], self.cols
        for name in _COLUMNS:
            col = cols[name]
            _atomic.write(owner, col, (new_row, slice(0, len(moved))), col[row, moved])
        _atomic.write(owner, cols["keys"], (row, moved), _EMPTY)

    def merge(self, owner, row, into):
        """Reservoir ``into`` becomes the best ``budget`` keys of both."""
        cols = self.cols
        keys = np.concatenate([cols["keys"][into], cols["keys"][row]])
        order = np.argsort(keys, kind="stable")
        best, left_out = order[: self.budget], keys[order[self.budget]]
        for name in _COLUMNS:
            col = cols[name]
            both = np.concatenate([col[into], col[row]])
            if name == "tau":
                both = np.minimum(both, left_out)
            _atomic.write(owner, col, into, both[best])


def _blocks(n, row_bytes, block_bytes):
    """Slices of at most ``block_bytes`` covering rows 0..n-1 of ``row_bytes`` each."""
    step = max(1, block_bytes // max(1, row_bytes))
    return [slice(start, min(n, start + step)) for start in range(0, n, step)]


def _undoable(owner, apply, undo):
    """``apply(done)``, then ``undo(...)`` if the current call on ``owner`` fails.

    ``apply`` ends in one statement that stores into the arrays and, as its
    last target, ``done[0] = True``: no Python call (where an interrupt is
    delivered) falls between those stores, so the flag is set exactly when the
    moves were made, and a failed batch reverses exactly them. An interrupt
    delivered as ``apply`` returns (after the stores) finds the flag set.
    """
    done = [False]
    _atomic.on_rollback(owner, lambda: undo([False]) if done[0] else None)
    apply(done)


def _permute(cols, block, order, done):
    """Slot j of every reservoir of ``block`` takes its slot ``order[:, j]``, in every
    column: the new values first, then the stores and ``done[0] = True``, in one
    statement with no call between them (an interrupt lands before the first or
    after the last; see :func:`_undoable`)."""
    r, k, lw, t = (cols[name] for name in _COLUMNS)
    at = np.arange(order.shape[0])[:, None], order
    moved = [col[block][at] for col in (r, k, lw, t)]
    r[block], k[block], lw[block], t[block], done[0] = tuple(moved) + (True,)


def _compact(pool, i, j, old, new, undo, done):
    """Move the first ``new`` slots of rows i..j-1 of a layout of ``old`` slots a row
    (``pool``: flat columns) to where rows i..j-1 of a layout of ``new`` slots lie, by
    a permutation (``undo``: its inverse); the stores and ``done[0] = True`` as in
    :func:`_permute`.

    Rows whose targets end before their sources begin swap the two ranges (its own
    inverse). A row whose target overlaps its source (j = i + 1) rotates the range
    from the target's start to the source's end.
    """
    cols = [pool[name] for name in _COLUMNS]
    if j == i + 1 and i * old < (i + 1) * new:
        s = [col[i * new:i * old + new] for col in cols]
        cut = new if undo else i * (old - new)
        rotated = [np.concatenate([a[cut:], a[:cut]]) for a in s]
        s[0][...], s[1][...], s[2][...], s[3][...], done[0] = tuple(rotated) + (True,)
        return
    t = [col[i * new:j * new] for col in cols]
    s = [col[i * old:j * old].reshape((j - i, old) + col.shape[1:])[:, :new] for col in cols]
    into_t = [b.reshape(a.shape) for a, b in zip(t, s, strict=True)]
    into_s = [a.reshape(b.shape).copy() for a, b in zip(t, s, strict=True)]
    (t[0][...], t[1][...], t[2][...], t[3][...],
     s[0][...], s[1][...], s[2][...], s[3][...], done[0]) = tuple(into_t + into_s) + (True,)


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
