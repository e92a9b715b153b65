"""Streaming k-means with split and merge: the dynamic mode.

Batches of a stream arrive. The first is clustered with k-means++ into
``k_init`` clusters; every later point goes to its nearest center and the
centers move to the weighted mean of their members; a cluster heavier than
``max_size`` is split in two by 2-means of its members until every part fits;
a cluster lighter than ``min_size`` merges into its nearest cluster when the
result fits ``max_size``.

The state is O(K x D) running sums per cluster, so a batch costs O(batch x K x D)
for the assignment plus the split and merge work, never O(points seen). The
loss (sum of squared distances of every point seen to its center) is kept
exactly by Welford-style merges of per-cluster second moments. The state and
its updates are in :mod:`dynkm._dynamic_state`; the decisions (first batch,
assignment, split, merge, refinement) here.
"""

import time

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from dynkm import _atomic, _rows
from dynkm._atomic import AtomicSetParams, atomic
from dynkm._base import CentersMixin
from dynkm._dynamic_state import ClusterState
from dynkm._validation import (
    as_dtype,
    check_float,
    check_int,
    check_range,
    n_threads_of,
    validate_X,
    validated_weights,
)
from dynkm.classifier import _kmeans_run
from dynkm.kmeans import KMeans
from dynkm.persist import PersistMixin
from kmcore._threads import blas_single_threaded
from kmcore._validation import check_random_state
from kmcore.assignment import _assign_rows
from kmcore.distances import _row_norms
from kmcore.split import _split_two

_TIME_UNITS = ("batches", "points")
# The first batch's spherical k-means: KMeans' defaults (k-means++, tol, max_iter).
_SPHERICAL_FIRST_BATCH = {"init": "k-means++", "max_iter": 300, "tol": 1e-4,
                          "distance": "cosine"}
# Lloyd iterations of one two-way split (it converges in a handful).
_SPLIT_MAX_ITER = 50


class DynamicKMeans(PersistMixin, AtomicSetParams, ClusterState, CentersMixin, ClusterMixin,
                    BaseEstimator):
    """Streaming k-means whose number of clusters follows the data.

    The sizes are absolute: with the defaults a cluster holds 60 to 150
    points, so a stream of 50 rows is one cluster. Set ``min_size`` and
    ``max_size`` (or ``k_init``) for the cluster sizes your data has.

    ``save(path)`` / ``load(path)`` keep the model in a file that loads
    without running code (:mod:`dynkm.persist`); pickling works too, but
    unpickling runs code from the file: for trusted input only.

    Parameters
    ----------
    min_size : float, default=60
        A cluster lighter than this (total sample weight; the member count
        with unit weights) merges into the nearest cluster (by center distance)
        among those it fits with, i.e. whose merged weight is at most
        ``max_size``; it stays if there is none. Lightest clusters merge first;
        merging starts from the second batch.
    max_size : float, default=150
        A cluster heavier than this is split in two (2-means of its members,
        ``kmcore.split_two``), repeatedly, until every part fits.
    batch_size : int, default=100
        Rows per batch when :meth:`fit` streams an array.
    k_init : int, default=None
        Clusters of the first batch; None means
        ``max(1, len(batch) // ((min_size + max_size) // 2))``.
    merge : bool, default=True
        Merge light clusters as above.
    refine_iter : int, default=0
        Lloyd iterations over all retained points after each batch, to adjust
        earlier assignments (needs ``keep_data``). Each costs O(points seen x K
        x D): useful on short streams, off by default.
    decay_factor : float, default=1.0
        Forgetting, as Spark's StreamingKMeans: before a batch is added, the
        weight of everything seen is multiplied by ``decay_factor`` per time
        unit. 1 keeps everything; 0 keeps only the newest batch.
    half_life : float, default=None
        Alternative to ``decay_factor``: the time (in ``time_unit``) after
        which a point's weight has halved.
    time_unit : {"batches", "points"}, default="batches"
        What one step of decay is: a batch, or a point (a batch of n points
        then decays the past by ``decay_factor ** n``).
    keep_data : bool, default=True
        Keep the rows seen: needed to split clusters by 2-means of their
        members, for ``labels_`` and for ``refine_iter``. Without it a cluster
        is split by moving two copies of its center apart along the direction
        of its largest spread estimate, with the sums halved (an approximation).
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds k-means++ and the splits. Same seed and same batches give the
        same result.
    n_threads : int, default=None
        OpenMP threads of the kernels; results do not depend on it. None:
        ``kmcore.effective_n_threads`` (OpenMP's limit and the CPUs, one
        thread for a batch of little work); -1 all CPUs.
    verbose : int, default=0
        Print one line per batch when > 0.
    spherical : bool, default=False
        Spherical (cosine) k-means: every batch's rows are scaled to unit norm
        (a copy; zero rows stay zero) and every center is the unit vector
        along its cluster's mean, after every update, split and merge. The
        nearest center is then the one of largest cosine; sizes, splits and
        merges work as above, on the unit rows. :meth:`predict`,
        :meth:`transform` and :meth:`score` scale X's rows too (``transform``
        gives ``sqrt(2 - 2 cos)``), and ``history_["loss"]`` is the weighted
        SSE of the unit rows to their unit centers, i.e. ``2 * sum(w * (1 -
        cos))`` over nonzero rows.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
        Weighted means of the clusters (X's dtype).
    cluster_ids_ : ndarray of shape (n_clusters_,)
        Stable identity of each row of ``cluster_centers_``: an ID never changes
        while its cluster lives (a split keeps it on the half nearer the old
        center, a merge on the cluster absorbing the other) and is never reused.
        Rows move when a cluster is removed; IDs do not.
    counts_ : ndarray of shape (n_clusters_,)
        Weight of each cluster (decayed, when forgetting).
    n_clusters_ : int
    labels_ : ndarray of shape (n_points_seen,)
        Row of ``cluster_centers_`` of every point seen (needs ``keep_data``).
    history_ : dict of lists
        Per batch: ``loss`` (weighted SSE of all points seen against their
        centers, exact, decayed when forgetting), ``n_clusters``, ``seconds``
        (cumulative), ``n_splits``, ``n_merges``, ``n_seen``.
    events_ : list of tuple
        ``(batch, "split", parent_id, new_id)`` and
        ``(batch, "merge", absorbed_id, into_id)``, in order.
    n_features_in_ : int
    """

    def __init__(self, min_size=60, max_size=150, batch_size=100, k_init=None, merge=True,
                 refine_iter=0, decay_factor=1.0, half_life=None, time_unit="batches",
                 keep_data=True, random_state=None, n_threads=None, verbose=0,
                 spherical=False):
        self.min_size = min_size
        self.max_size = max_size
        self.batch_size = batch_size
        self.k_init = k_init
        self.merge = merge
        self.refine_iter = refine_iter
        self.decay_factor = decay_factor
        self.half_life = half_life
        self.time_unit = time_unit
        self.keep_data = keep_data
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.spherical = spherical

    # ------------------------------------------------------------ streaming
    @atomic
    def fit(self, X, y=None, sample_weight=None):
        """Stream X from its first row in batches of ``batch_size`` (state reset).

        A fit that raises leaves the estimator exactly as it was.
        """
        batch_size = check_int(self.batch_size, "batch_size")
        X = validate_X(self, X, reset=True)
        sample_weight = validated_weights(sample_weight, X)
        check_range(_row_norms(X, True, n_threads_of(self.n_threads, work=X.size)), sample_weight)
        self._reset()
        for start in range(0, X.shape[0], batch_size):
            w = None if sample_weight is None else sample_weight[start:start + batch_size]
            # The state is this fit's own: no copy-on-write needed.
            self._partial_fit(X[start:start + batch_size], w, own_state=True)
        return self

    @atomic
    def partial_fit(self, X, y=None, sample_weight=None):
        """Add one batch.

        All or nothing: a batch that raises (NaN/inf, the wrong width, no
        rows, bad weights, data too large for the model's dtype, or an
        interruption anywhere in the update) leaves the model exactly as it
        was, and offering it again gives what it would have given the first
        time. Batches are cast to the dtype of the first batch.
        """
        first = getattr(self, "_centers", None) is None
        X = validate_X(self, X, reset=first)
        if not first:
            # The model keeps the dtype of its first batch (float32 stays float32).
            X = as_dtype(X, self._centers.dtype)
        sample_weight = validated_weights(sample_weight, X)
        check_range(_row_norms(X, True, n_threads_of(self.n_threads, work=X.size)), sample_weight)
        if first:
            self._reset()
        self._partial_fit(X, sample_weight, own_state=first)
        return self

    def _reset(self):
        p = self._params()
        self._p = p
        self._rng = check_random_state(self.random_state)
        self._centers = None
        self._sums = self._weights = self._m2 = None
        self._buffers = None
        self._k = 0
        self._ids = np.empty(0, dtype=np.int64)
        self._row_of_id = np.empty(0, dtype=np.intp)
        self._next_id = 0
        self._n_batches = 0
        self._now = 0.0
        self._seconds = 0.0
        self._data = self._point_ids = self._point_w = self._point_t = None
        self._n_seen = 0
        self._members = {}
        self.history_ = {k: [] for k in ("loss", "n_clusters", "seconds", "n_splits",
                                          "n_merges", "n_seen")}
        self.events_ = []

    def _params(self):
        min_size = check_float(self.min_size, "min_size")
        max_size = check_float(self.max_size, "max_size")
        if max_size < 1 or min_size > max_size:
            raise ValueError(f"need 1 <= max_size and min_size <= max_size, got "
                             f"min_size={min_size}, max_size={max_size}")
        if self.time_unit not in _TIME_UNITS:
            raise ValueError(f"time_unit must be one of {_TIME_UNITS}, got {self.time_unit!r}")
        if self.half_life is not None:
            decay = 0.5 ** (1.0 / check_float(self.half_life, "half_life", low=1e-300))
        else:
            decay = check_float(self.decay_factor, "decay_factor")
            if decay > 1:
                raise ValueError(f"decay_factor must be in [0, 1], got {decay}")
        refine = check_int(self.refine_iter, "refine_iter", low=0)
        if refine and not self.keep_data:
            raise ValueError("refine_iter > 0 needs keep_data=True (it revisits the points)")
        k_init = None if self.k_init is None else check_int(self.k_init, "k_init")
        check_int(self.batch_size, "batch_size")
        if not isinstance(self.spherical, (bool, np.bool_)):
            raise TypeError(f"spherical must be a bool, got {self.spherical!r}")
        return {"min_size": min_size, "max_size": max_size, "decay": decay, "refine": refine,
                "k_init": k_init, "spherical": bool(self.spherical)}

    def _threads(self, n_rows, n_centers):
        """Threads for kernels comparing ``n_rows`` rows with ``n_centers`` centers."""
        return n_threads_of(self.n_threads, work=n_rows * n_centers * self.n_features_in_)

    def _partial_fit(self, X, sample_weight, own_state):
        """Add one batch to the state (see ``_atomic`` for the rules it follows).

        Unless the state was created by the current call (``own_state``), the
        per-cluster buffers are copied first, O(clusters x features): the
        batch then updates its own copy in place. The retained rows are only
        appended (past ``_n_seen``), and the few entries of earlier rows that
        splits and merges relabel are written through ``_atomic.write``.
        """
        t0 = time.perf_counter()
        if not own_state and self._buffers is not None:
            self._buffers = self._buffers.copy()
            self._refresh_views()
        n_splits = len(self.events_)
        if self._spherical:
            X = _rows.unit_rows(X, self._threads(X.shape[0], 1))
        with blas_single_threaded():
            self._decay(X.shape[0])
            point_ids = self._store(X, sample_weight)
            if self._centers is None:
                self._first_batch(X, sample_weight, point_ids)
            else:
                self._add_batch(X, sample_weight, point_ids)
            self._split_heavy()
            if self._p["refine"]:
                self._refine(self._p["refine"])
                self._split_heavy()
            if self.merge and self._n_batches > 0:
                self._merge_light()
        self._n_batches += 1
        self._seconds += time.perf_counter() - t0
        events = self.events_[n_splits:]
        h = self.history_
        h["loss"].append(self._loss())
        h["n_clusters"].append(len(self._ids))
        h["seconds"].append(self._seconds)
        h["n_splits"].append(sum(e[1] == "split" for e in events))
        h["n_merges"].append(sum(e[1] == "merge" for e in events))
        h["n_seen"].append(self._n_seen)
        if self.verbose:
            print(f"batch {self._n_batches}: {h['n_clusters'][-1]} clusters, loss "
                  f"{h['loss'][-1]:.6g}, +{h['n_splits'][-1]} splits, "
                  f"+{h['n_merges'][-1]} merges, {self._seconds:.3f} s")

    def _first_batch(self, X, sample_weight, point_ids):
        p = self._p
        typical = max(1, int((p["min_size"] + p["max_size"]) // 2))
        k = p["k_init"] or max(1, X.shape[0] // typical)
        k = min(k, X.shape[0])
        n_threads = self._threads(X.shape[0], k)
        if self._spherical:
            # Spherical k-means (unit centers) from the same k-means++ seeding.
            run = _kmeans_run(X, sample_weight, k, _SPHERICAL_FIRST_BATCH, self._rng, n_threads)
            centers, labels = run["centers"], run["labels"]
        else:
            km = KMeans(k, n_init=1, random_state=self._rng, n_threads=n_threads)
            km.fit(X, sample_weight=sample_weight)
            centers, labels = km.cluster_centers_, km.labels_
        self._buffers = _ClusterBuffers(X.shape[1], X.dtype, capacity=max(64, 2 * k))
        self._add_clusters(k)
        # Absorbing against the k-means centers keeps the moments exact
        # (the update measures the batch against the current center).
        self._centers[:] = centers
        dist = ((X - centers[labels]) ** 2).sum(axis=1)
        self._absorb(X, sample_weight, labels, dist, point_ids)

    def _add_batch(self, X, sample_weight, point_ids):
        n_threads = self._threads(X.shape[0], self._k)
        labels, dist, _, _ = _assign_rows(X, _row_norms(X, True, n_threads), self._centers,
                                          sample_weight, n_threads)
        self._absorb(X, sample_weight, labels, dist, point_ids)

    # ----------------------------------------------------- split and merge
    def _split_heavy(self):
        max_size = self._p["max_size"]
        heavy = [int(i) for i in self._ids[self._weights > max_size]]
        while heavy:
            cluster_id = heavy.pop()
            if self.keep_data and self._n_members(cluster_id) < 2:
                continue  # one point heavier than max_size: nothing to split
            row = self._row_of_id[cluster_id]
            new_row = self._split(row)
            for r in (row, new_row):
                if self._weights[r] > max_size:
                    heavy.append(int(self._ids[r]))

    def _split(self, row):
        """Split cluster ``row`` in two; the half nearer the old center keeps the ID."""
        parent = int(self._ids[row])
        new_row = self._add_clusters(1)[0]
        new_id = int(self._ids[new_row])
        if self.keep_data:
            members = self._member_rows(parent)
            w = self._effective_weights(members)
            X = self._data
            centers2, side = _split_two(X, members, w.astype(X.dtype), _SPLIT_MAX_ITER,
                                        self._rng, self._threads(len(members), 2))
            # (Spherical: compared as unit vectors, i.e. by cosine.)
            halves = self._center_of(centers2, 1.0)
            keep = int(np.argmin(((halves - self._centers[row]) ** 2).sum(axis=1)))
            for half, r in ((keep, row), (1 - keep, new_row)):
                m, wm = members[side == half], w[side == half]
                x = X[m].astype(np.float64)
                s, total = wm @ x, wm.sum()
                # A half of weightless (fully decayed) members has no weighted mean.
                mean = s / total if total > 0 else x.mean(axis=0)
                self._sums[r], self._weights[r] = s, total
                self._centers[r] = self._center_of(mean, 1.0)
                self._m2[r] = float(wm @ ((x - mean) ** 2).sum(axis=1))
            moved = members[side != keep]
            self._members[parent] = [members[side == keep]]
            self._members[new_id] = [moved]
            _atomic.write(self, self._point_ids, moved, new_id)
        else:
            # No members to cluster: two copies of the center, moved apart along
            # the spread estimate (sqrt of the mean squared radius), share the sums.
            # (Moved apart from the mean, which a spherical center is not.)
            spread = np.sqrt(self._m2[row] / max(self._weights[row], 1e-300))
            direction = self._rng.normal(size=self._centers.shape[1])
            direction *= spread / max(np.linalg.norm(direction), 1e-300)
            c = (self._sums[row] / max(self._weights[row], 1e-300) if self._spherical
                 else self._centers[row].astype(np.float64))
            self._weights[row] /= 2
            self._weights[new_row] = self._weights[row]
            self._m2[row] /= 2
            self._m2[new_row] = self._m2[row]
            for r, sign in ((row, 1.0), (new_row, -1.0)):
                self._centers[r] = self._center_of(c + sign * direction, 1.0)
                self._sums[r] = self._weights[r] * (c + sign * direction)
        self.events_.append((self._n_batches, "split", parent, new_id))
        return new_row

    def _merge_light(self):
        p = self._p
        while True:
            light = np.flatnonzero(self._weights < p["min_size"])
            if light.size == 0 or len(self._ids) < 2:
                return
            merged = False
            for row in light[np.argsort(self._weights[light], kind="stable")]:
                fits = self._weights + self._weights[row] <= p["max_size"]
                fits[row] = False
                if not fits.any():
                    continue
                d = ((self._centers - self._centers[row]) ** 2).sum(axis=1)
                d[~fits] = np.inf
                into = int(np.argmin(d))
                self._merge(row, into)
                merged = True
                break
            if not merged:
                return

    def _merge(self, row, into):
        """Merge cluster ``row`` into cluster ``into`` (which keeps its ID)."""
        absorbed, kept = int(self._ids[row]), int(self._ids[into])
        wa, wb = self._weights[row], self._weights[into]
        W = wa + wb
        if W > 0:
            gap = float(((self._sums[row] / max(wa, 1e-300) - self._sums[into] / max(wb, 1e-300))
                         ** 2).sum()) if wa > 0 and wb > 0 else 0.0
            self._m2[into] += self._m2[row] + wa * wb / W * gap
            self._sums[into] += self._sums[row]
            self._weights[into] = W
            self._centers[into] = self._center_of(self._sums[into], W)
        if self.keep_data:
            moved = self._member_rows(absorbed)
            _atomic.write(self, self._point_ids, moved, kept)
            self._members.setdefault(kept, []).append(moved)
            del self._members[absorbed]
        self._remove_row(row)
        self.events_.append((self._n_batches, "merge", absorbed, kept))

    def _refine(self, n_iter):
        """Lloyd iterations over every retained point; sums and moments rebuilt."""
        n = self._n_seen
        X = self._data[:n]
        w = self._effective_weights(np.arange(n))
        n_threads = self._threads(n, self._k)
        xn = _row_norms(X, True, n_threads)
        for _ in range(n_iter):
            rows, dist, _, _ = _assign_rows(X, xn, self._centers, w.astype(X.dtype), n_threads)
            self._sums[:] = 0.0
            self._weights[:] = 0.0
            self._m2[:] = 0.0
            self._members = {}
            self._absorb(X, w, rows, dist, np.arange(n, dtype=np.intp))

    # ---------------------------------------------------------- attributes
    # Snapshots: the live state keeps changing with every batch.
    @property
    def cluster_centers_(self):
        self._check_started()
        return self._centers.copy()

    @property
    def cluster_ids_(self):
        self._check_started()
        return self._ids.copy()

    @property
    def counts_(self):
        self._check_started()
        return self._weights.copy()

    @property
    def n_clusters_(self):
        self._check_started()
        return len(self._ids)

    @property
    def labels_(self):
        self._check_started()
        if not self.keep_data:
            raise AttributeError("labels_ needs keep_data=True")
        return self._row_of_id[self._point_ids[: self._n_seen]]

    @property
    def _n_features_out(self):
        # transform's columns (and get_feature_names_out): one per current cluster.
        return self.n_clusters_

    def _check_started(self):
        if getattr(self, "_centers", None) is None:
            raise AttributeError("this DynamicKMeans has seen no data yet")

    def __sklearn_is_fitted__(self):
        return getattr(self, "_centers", None) is not None

    # --------------------------------------------------------- persistence
    # save(path) / load(path) come from PersistMixin: the state, the history
    # and the retained rows in the dynkm model format, which loads without
    # running code; the model resumes the stream exactly. Pickling (joblib,
    # multiprocessing) goes through __getstate__ above: trusted input only.


class _ClusterBuffers:
    """Per-cluster state with spare capacity: adding a cluster is amortised O(D)."""

    def __init__(self, n_features, dtype, capacity):
        self.centers = np.zeros((capacity, n_features), dtype=dtype)
        self.sums = np.zeros((capacity, n_features))
        self.weights = np.zeros(capacity)
        self.m2 = np.zeros(capacity)
        self.ids = np.zeros(capacity, dtype=np.int64)

    def copy(self):
        """An independent copy (a batch's copy-on-write of the per-cluster state)."""
        new = object.__new__(_ClusterBuffers)
        for name in ("centers", "sums", "weights", "m2", "ids"):
            setattr(new, name, getattr(self, name).copy())
        return new

    def reserve(self, n_rows):
        """Make room for n_rows clusters (doubling), keeping the contents."""
        capacity = self.weights.shape[0]
        if n_rows <= capacity:
            return
        capacity = max(2 * capacity, n_rows)
        for name in ("centers", "sums", "weights", "m2", "ids"):
            old = getattr(self, name)
            new = np.zeros((capacity,) + old.shape[1:], dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, name, new)
