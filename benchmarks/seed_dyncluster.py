"""The seed's DynCluster algorithm (S0), re-implemented as written, for benchmarks only.

Per batch: the first batch is clustered by k-means into
``max(1, len(batch) // ((min_size + max_size) // 2))`` clusters; every later
point is assigned in a Python loop to the nearest centroid (one norm per
centroid); every centroid is recomputed from all its members; every cluster
above ``max_size`` is split once by 2-means; the loss is recomputed over all
points. This is the baseline the streaming mode is measured against: its
cost per batch grows with the points seen.
"""

import numpy as np
from sklearn.cluster import KMeans


class SeedDynCluster:
    def __init__(self, data, batch_size=100, min_size=60, max_size=150):
        self.data = data
        self.batch_size, self.min_size, self.max_size = batch_size, min_size, max_size
        self.centroids = []
        self.members = {}
        self.loss_history = []

    def run(self, n_points=None):
        n = self.data.shape[0] if n_points is None else n_points
        for start in range(0, n, self.batch_size):
            indices = list(range(start, min(start + self.batch_size, n)))
            self._add_batch(self.data[indices], indices)
            self._update_clusters()
            self._split_large_clusters()
            self.loss_history.append(self._loss())
        return self

    def _add_batch(self, batch, indices):
        if not self.centroids:
            k = max(1, len(batch) // ((self.min_size + self.max_size) // 2))
            km = KMeans(n_clusters=k, init="k-means++", random_state=42).fit(batch)
            self.centroids = list(km.cluster_centers_)
            for cid in range(k):
                self.members[cid] = [i for i, lab in zip(indices, km.labels_, strict=True)
                                     if lab == cid]
            return
        for idx, point in zip(indices, batch, strict=True):
            distances = [np.linalg.norm(point - c) for c in self.centroids]
            self.members.setdefault(int(np.argmin(distances)), []).append(idx)

    def _update_clusters(self):
        for cid, members in self.members.items():
            if members:
                self.centroids[cid] = np.array([self.data[i] for i in members]).mean(axis=0)

    def _split_large_clusters(self):
        next_cid = max(self.members, default=-1) + 1
        for cid in [c for c, m in self.members.items() if len(m) > self.max_size]:
            members = self.members.pop(cid)
            km = KMeans(n_clusters=2, init="k-means++", random_state=42).fit(
                np.array([self.data[i] for i in members]))
            self.centroids[cid] = km.cluster_centers_[0]
            pairs = list(zip(members, km.labels_, strict=True))
            self.members[cid] = [m for m, lab in pairs if lab == 0]
            self.centroids.append(km.cluster_centers_[1])
            self.members[next_cid] = [m for m, lab in pairs if lab == 1]
            next_cid += 1

    def _loss(self):
        total = 0.0
        for cid, members in self.members.items():
            pts = np.array([self.data[i] for i in members])
            if len(pts):
                total += float(((pts - self.centroids[cid]) ** 2).sum())
        return total
