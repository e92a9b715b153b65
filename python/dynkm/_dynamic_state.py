"""The per-cluster state of :class:`dynkm.DynamicKMeans` and its bookkeeping.

Each live cluster has a row in the buffers: its center, float64 weighted sum
of members, total weight and second moment (weighted sum of squared
distances of the members to their mean), and a stable ID. The retained rows
(``keep_data``) record the ID of their cluster; ``_members`` lists the
retained rows of every cluster. The methods here add a batch's points to
that state (exactly, by Welford-style merges of the moments), add and
remove cluster rows, and discount the past; splitting and merging, which
decide what to change, are in :mod:`dynkm.dynamic`. Every update follows the
copy-on-write rules of :mod:`dynkm._atomic`.

With ``spherical=True`` the rows are unit vectors and a center is the unit
vector along its cluster's mean (spherical k-means); the sums, weights and
moments still describe the members around their mean.
"""

import numpy as np

from dynkm import _atomic


class ClusterState:
    """Mixin of DynamicKMeans: the cluster rows, the retained rows and their updates."""

    def _store(self, X, sample_weight):
        """Append the batch to the retained rows; return the points' indices."""
        n, start = X.shape[0], self._n_seen
        self._n_seen += n
        if not self.keep_data:
            return None
        if self._data is None:
            cap = max(1024, 2 * n)
            self._data = np.zeros((cap, X.shape[1]), dtype=X.dtype)
            self._point_ids = np.zeros(cap, dtype=np.int64)
            self._point_w = np.zeros(cap, dtype=np.float64)
            self._point_t = np.zeros(cap, dtype=np.float64)
        elif start + n > self._data.shape[0]:
            cap = max(2 * self._data.shape[0], start + n)
            for name in ("_data", "_point_ids", "_point_w", "_point_t"):
                old = getattr(self, name)
                new = np.zeros((cap,) + old.shape[1:], dtype=old.dtype)
                new[:start] = old[:start]
                setattr(self, name, new)
        self._data[start:start + n] = X
        self._point_w[start:start + n] = 1.0 if sample_weight is None else sample_weight
        self._point_t[start:start + n] = self._now
        return np.arange(start, start + n, dtype=np.intp)

    def _decay(self, n_new):
        """Discount the past (Spark semantics) before the batch is added."""
        steps = 1 if self.time_unit == "batches" else n_new
        if self._centers is not None and self._p["decay"] < 1:
            a = self._p["decay"] ** steps
            self._sums *= a
            self._weights *= a
            self._m2 *= a
        if self._centers is not None:
            self._now += steps

    @property
    def _spherical(self):
        # .get: models saved before spherical existed have no such key.
        return bool(self._p.get("spherical", False))

    def _center_of(self, sums, weights):
        """Centers of clusters with these sums and (positive) weights: the means,
        scaled to unit norm when spherical (a zero mean stays zero)."""
        means = sums / np.asarray(weights, dtype=np.float64)[..., None]
        if not self._spherical:
            return means
        norms = np.linalg.norm(means, axis=-1, keepdims=True)
        return np.divide(means, norms, out=np.zeros_like(means), where=norms > 0)

    def _loss(self):
        """Weighted SSE of every point seen against its center (decayed).

        The moments are taken around the means; a spherical center is not the
        mean, so each cluster adds weight x squared distance from its mean to
        its center (the parallel axis theorem).
        """
        loss = float(self._m2.sum())
        if self._spherical:
            live = self._weights > 0
            means = self._sums[live] / self._weights[live, None]
            loss += float(self._weights[live] @ ((means - self._centers[live]) ** 2).sum(axis=1))
        return loss

    def _absorb(self, X, sample_weight, rows, dist, point_ids):
        """Add points labelled with cluster rows; ``dist``: squared distance to the
        current center of their row. Updates sums, weights, exact second moments."""
        w = np.ones(X.shape[0]) if sample_weight is None else sample_weight.astype(np.float64)
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
        touched = sorted_rows[starts]
        wb = np.add.reduceat(w[order], starts)
        sb = np.add.reduceat(X[order] * w[order, None], starts, axis=0)
        db = np.add.reduceat(w[order] * dist[order], starts)
        # Clusters that receive only zero-weight rows gain members but no mass.
        mass = wb > 0
        t, wb, sb, db = touched[mass], wb[mass], sb[mass], db[mass]
        W_old = self._weights[t]
        W = W_old + wb
        mean_b = sb / wb[:, None]
        if not self._spherical:
            # Welford: M2' = M2 + D_b - (W_b^2 / W') ||mean_b - c||^2, where D_b is the
            # batch's weighted squared distance to the current center c (the mean of
            # the old members; any c when the cluster was empty, since then W = 0).
            gap = ((mean_b - self._centers[t]) ** 2).sum(axis=1)
            self._m2[t] += np.maximum(db - wb ** 2 / W * gap, 0.0)
        else:
            # The unit center c is not the old mean m: the batch's own moment is
            # D_b - W_b ||mean_b - c||^2, plus the spread between the two means.
            old_mean = np.divide(self._sums[t], W_old[:, None], out=np.zeros_like(sb),
                                 where=W_old[:, None] > 0)
            within = db - wb * ((mean_b - self._centers[t]) ** 2).sum(axis=1)
            between = W_old * wb / W * ((mean_b - old_mean) ** 2).sum(axis=1)
            self._m2[t] += np.maximum(within, 0.0) + between
        self._weights[t] = W
        self._sums[t] += sb
        self._centers[t] = self._center_of(self._sums[t], W)
        if point_ids is not None:
            ids = self._ids[rows]
            _atomic.write(self, self._point_ids, point_ids, ids)
            for cluster_id, members in zip(ids[order][starts],
                                           np.split(point_ids[order], starts[1:]), strict=True):
                self._members.setdefault(int(cluster_id), []).append(members)

    def _add_clusters(self, n):
        """Append n empty cluster rows with fresh IDs; return their rows."""
        k = self._k
        self._buffers.reserve(k + n)
        self._k = k + n
        self._refresh_views()
        new = slice(k, k + n)
        self._centers[new] = 0
        self._sums[new] = 0.0
        self._weights[new] = 0.0
        self._m2[new] = 0.0
        self._ids[new] = np.arange(self._next_id, self._next_id + n)
        self._next_id += n
        self._row_of_id = np.concatenate([self._row_of_id, np.arange(k, k + n, dtype=np.intp)])
        return np.arange(k, k + n)

    def _remove_row(self, row):
        """Drop a cluster row: the last row moves into it (its ID is kept)."""
        last = self._k - 1
        _atomic.write(self, self._row_of_id, self._ids[row], -1)
        if row != last:
            for arr in (self._centers, self._sums, self._weights, self._m2, self._ids):
                arr[row] = arr[last]
            _atomic.write(self, self._row_of_id, self._ids[row], row)
        self._k = last
        self._refresh_views()

    def _refresh_views(self):
        """Point the state attributes at the live rows of the buffers."""
        b, k = self._buffers, self._k
        self._centers, self._sums, self._weights = b.centers[:k], b.sums[:k], b.weights[:k]
        self._m2, self._ids = b.m2[:k], b.ids[:k]

    def __getstate__(self):
        # The state arrays are views of the buffers: pickle the buffers only
        # and rebuild the views on load, so that they stay views.
        state = dict(super().__getstate__())  # a copy: the base returns __dict__ itself
        if state.get("_buffers") is not None:
            for name in ("_centers", "_sums", "_weights", "_m2", "_ids"):
                del state[name]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if getattr(self, "_buffers", None) is not None:
            self._refresh_views()

    def _member_rows(self, cluster_id):
        parts = self._members.get(cluster_id, [])
        members = np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else
                                                                 np.empty(0, np.intp))
        self._members[cluster_id] = [members]
        return members

    def _n_members(self, cluster_id):
        return sum(len(part) for part in self._members.get(cluster_id, []))

    def _effective_weights(self, members):
        """Sample weight times decay since arrival, for retained points."""
        w = self._point_w[members]
        if self._p["decay"] < 1:
            w = w * self._p["decay"] ** (self._now - self._point_t[members])
        return w
