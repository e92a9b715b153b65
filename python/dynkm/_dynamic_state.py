"""The per-cluster state of :class:`dynkm.DynamicKMeans`.

Each live cluster has a row: its center, float64 weighted sum of members,
total weight, second moment (weighted sum of squared distances of the
members to their mean) and a stable ID. :class:`ClusterState` holds these
rows and every update of them: absorbing a batch (exactly, by Welford-style
merges of the moments), merging two clusters, setting the halves of a split,
discounting the past, adding and removing rows. Which clusters split or merge
is decided by the estimator (:mod:`dynkm.dynamic`); where the points are is
the business of the point stores (:mod:`dynkm._point_store`,
:mod:`dynkm._summary_store`).

The estimator copies the state before a batch changes it (O(clusters x
features), the copy-on-write of :mod:`dynkm._atomic`), so the methods here
update it in place.

With ``spherical=True`` the rows are unit vectors and a center is the unit
vector along its cluster's mean (spherical k-means); the sums, weights and
moments still describe the members around their mean.
"""

import numpy as np

from dynkm._grow import new_columns, reserve

_COLUMNS = ("centers", "sums", "weights", "m2", "ids")


class ClusterState:
    """Rows of per-cluster sufficient statistics with stable IDs.

    Attributes
    ----------
    cols : dict of ndarray
        The columns (``centers``, ``sums``, ``weights``, ``m2``, ``ids``)
        with spare capacity (:mod:`dynkm._grow`); rows ``[:k]`` are live.
    k : int
    row_of_id : ndarray of intp
        Row of every ID ever issued, -1 once the cluster is gone.
    next_id : int
    spherical : bool
    """

    def __init__(self, n_features, dtype, capacity, spherical):
        self.cols = new_columns({"centers": ((n_features,), dtype),
                                 "sums": ((n_features,), np.float64),
                                 "weights": ((), np.float64), "m2": ((), np.float64),
                                 "ids": ((), np.int64)}, capacity)
        self.k = 0
        self.row_of_id = np.empty(0, dtype=np.intp)
        self.next_id = 0
        self.spherical = bool(spherical)

    # The live rows, as views (not attributes: a saved state holds no views).
    centers = property(lambda self: self.cols["centers"][:self.k])
    sums = property(lambda self: self.cols["sums"][:self.k])
    weights = property(lambda self: self.cols["weights"][:self.k])
    m2 = property(lambda self: self.cols["m2"][:self.k])
    ids = property(lambda self: self.cols["ids"][:self.k])

    def copy(self):
        """An independent copy (a batch's copy-on-write of the state)."""
        new = object.__new__(ClusterState)
        vars(new).update(vars(self))
        new.cols = {name: a.copy() for name, a in self.cols.items()}
        new.row_of_id = self.row_of_id.copy()
        return new

    # ----------------------------------------------------------------- rows
    def add_clusters(self, n):
        """Append n empty rows with fresh IDs; return their rows."""
        k = self.k
        self.cols = reserve(self.cols, k + n, k)
        self.k = k + n
        new = slice(k, k + n)
        for name in _COLUMNS:
            self.cols[name][new] = 0
        self.cols["ids"][new] = np.arange(self.next_id, self.next_id + n)
        self.next_id += n
        self.row_of_id = np.concatenate([self.row_of_id, np.arange(k, k + n, dtype=np.intp)])
        return np.arange(k, k + n)

    def remove_row(self, row):
        """Drop a cluster row: the last row moves into it (its ID is kept)."""
        last = self.k - 1
        self.row_of_id[self.ids[row]] = -1
        if row != last:
            for name in _COLUMNS:
                self.cols[name][row] = self.cols[name][last]
            self.row_of_id[self.ids[row]] = row
        self.k = last

    # ---------------------------------------------------------- statistics
    def center_of(self, sums, weights):
        """Centers of clusters with these sums and (positive) weights: the means,
        scaled to unit norm when spherical (a zero mean stays zero)."""
        means = sums / np.asarray(weights, dtype=np.float64)[..., None]
        if not self.spherical:
            return means
        norms = np.linalg.norm(means, axis=-1, keepdims=True)
        return np.divide(means, norms, out=np.zeros_like(means), where=norms > 0)

    def mean(self, row):
        """The weighted mean of cluster ``row`` (float64)."""
        return self.sums[row] / max(self.weights[row], 1e-300)

    def decay(self, a):
        """Multiply every weight, sum and moment by ``a`` (forgetting)."""
        self.sums[:] *= a
        self.weights[:] *= a
        self.m2[:] *= a

    def loss(self):
        """Weighted SSE of every point seen against its center (decayed).

        The moments are taken around the means; a spherical center is not the
        mean, so each cluster adds weight x squared distance from its mean to
        its center (the parallel axis theorem).
        """
        loss = float(self.m2.sum())
        if self.spherical:
            live = self.weights > 0
            means = self.sums[live] / self.weights[live, None]
            loss += float(self.weights[live] @ ((means - self.centers[live]) ** 2).sum(axis=1))
        return loss

    def absorb(self, X, sample_weight, rows, dist):
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
        W_old = self.weights[t]
        W = W_old + wb
        mean_b = sb / wb[:, None]
        if not self.spherical:
            # Welford: M2' = M2 + D_b - (W_b^2 / W') ||mean_b - c||^2, where D_b is the
            # batch's weighted squared distance to the current center c (the mean of
            # the old members; any c when the cluster was empty, since then W = 0).
            gap = ((mean_b - self.centers[t]) ** 2).sum(axis=1)
            self.m2[t] += np.maximum(db - wb ** 2 / W * gap, 0.0)
        else:
            # The unit center c is not the old mean m: the batch's own moment is
            # D_b - W_b ||mean_b - c||^2, plus the spread between the two means.
            old_mean = np.divide(self.sums[t], W_old[:, None], out=np.zeros_like(sb),
                                 where=W_old[:, None] > 0)
            within = db - wb * ((mean_b - self.centers[t]) ** 2).sum(axis=1)
            between = W_old * wb / W * ((mean_b - old_mean) ** 2).sum(axis=1)
            self.m2[t] += np.maximum(within, 0.0) + between
        self.weights[t] = W
        self.sums[t] += sb
        self.centers[t] = self.center_of(self.sums[t], W)

    def set_stats(self, row, sums, weight, m2, mean):
        """Give cluster ``row`` these statistics (a half of a split); ``mean``: its
        mean, given because a weightless half has none to derive from ``sums``."""
        self.sums[row], self.weights[row] = sums, weight
        self.centers[row] = self.center_of(mean, 1.0)
        self.m2[row] = m2

    def merge_stats(self, row, into):
        """Add cluster ``row``'s statistics to cluster ``into`` (exact moments)."""
        wa, wb = self.weights[row], self.weights[into]
        W = wa + wb
        if W > 0:
            gap = float(((self.mean(row) - self.mean(into)) ** 2).sum()) if (
                wa > 0 and wb > 0) else 0.0
            self.m2[into] += self.m2[row] + wa * wb / W * gap
            self.sums[into] += self.sums[row]
            self.weights[into] = W
            self.centers[into] = self.center_of(self.sums[into], W)
