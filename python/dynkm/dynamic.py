"""Streaming k-means with split and merge: the dynamic mode.

Batches of a stream arrive. The first is clustered with k-means++ into
``k_init`` clusters; every later point goes to its nearest center and the
centers move to the weighted mean of their members; a cluster heavier than
``max_size`` is split in two by 2-means of its members until every part fits;
a cluster lighter than ``min_size`` merges into its nearest cluster when the
result fits ``max_size``.

Three objects share the work. The estimator here decides (first batch,
assignment, which clusters split and merge, refinement). The per-cluster
state (:class:`dynkm._dynamic_state.ClusterState`: O(K x D) running sums,
weights and exact second moments, so that a batch costs O(batch x K x D)
plus the split and merge work, never O(points seen)) applies the updates.
The store keeps what a split looks at: every row (in memory or on disk,
:mod:`dynkm._point_store`) or a bounded sample per cluster
(:mod:`dynkm._summary_store`).
"""

import math
import os
import time
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClusterMixin

from dynkm import _rows
from dynkm._atomic import AtomicSetParams, atomic
from dynkm._base import CentersMixin
from dynkm._dynamic_params import DYNAMIC_SPECS, SUMMARY_BYTES, check_dynamic_params
from dynkm._dynamic_state import ClusterState
from dynkm._history import ArrayHistory, new_history, record
from dynkm._point_store import DiskStore, MemoryStore, StorePersistMixin
from dynkm._summary_store import ReservoirStore, split_statistics
from dynkm._validation import (
    as_dtype,
    check_int,
    check_range,
    n_threads_of,
    validate_X,
    validated_weights,
)
from dynkm._params import Params
from dynkm.classifier import _kmeans_run
from dynkm.kmeans import KMeans
from dynkm.persist import PersistMixin
from kmcore import row_norms
from kmcore.assignment import assign_rows
from kmcore.split import split_members
from kmcore.threads import blas_single_threaded
from kmcore.validation import check_random_state

if TYPE_CHECKING:
    from typing import Self

# history_'s columns (dynkm._history), one element per batch.
_HISTORY_COLUMNS = {"loss": np.float64, "n_clusters": np.int64, "seconds": np.float64,
                    "n_splits": np.int64, "n_merges": np.int64, "n_seen": np.int64}
# The first batch's spherical k-means: KMeans' defaults (k-means++, tol, max_iter).
_SPHERICAL_FIRST_BATCH = Params({"init": "k-means++", "max_iter": 300, "tol": 1e-4,
                                 "distance": "cosine"})
# Lloyd iterations of one two-way split (it converges in a handful).
_SPLIT_MAX_ITER = 50


class DynamicKMeans(ArrayHistory, StorePersistMixin, PersistMixin, AtomicSetParams, CentersMixin,
                    ClusterMixin, BaseEstimator):
    """Streaming k-means whose number of clusters follows the data.

    The sizes are absolute: with the defaults a cluster holds 60 to 150
    points, so a stream of 50 rows is one cluster. Set ``min_size`` and
    ``max_size`` (or ``k_init``) for the cluster sizes your data has.

    ``save(path)`` / ``load(path)`` keep the model in a file that loads
    without running code (:mod:`dynkm.persist`); with ``store="disk"`` the
    rows go to a directory beside it (see :meth:`save`). Pickling works too,
    but unpickling runs code from the file: for trusted input only.

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
        earlier assignments (needs ``store="memory"`` or ``"disk"``). Each costs O(points seen x K
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
    store : {"memory", "disk", "summary"}, default="memory"
        Where the points seen are kept, i.e. what a split can look at:

        - ``"memory"``: every row, in memory (O(points seen x D) bytes). Splits
          are 2-means over the members; ``labels_`` and ``refine_iter`` work.
        - ``"disk"``: every row, in memory-mapped files of a scratch directory
          (see ``store_path``), and the member lists too (segments of a file);
          RAM holds the per-cluster state and three numbers per cluster,
          nothing per point. Bitwise the results of ``"memory"``. :meth:`save`
          copies the rows beside the model file.
        - ``"summary"``: bounded memory: no rows, only per cluster its exact
          statistics and a weighted random sample (reservoir) of at most r of
          its members, O(K x (D + r x D)) for K clusters and D features,
          whatever the number of points seen (r: see ``summary_size``). A
          split is 2-means of the sample; the cluster's exact sum, weight and
          second moment are divided as the sample is and corrected so the
          halves add up exactly. No ``labels_``, no ``refine_iter``.

        Memory in bytes, for n points seen, K clusters, D features of b bytes
        (4 for float32, 8 for float64) and C rows of capacity of the
        per-cluster state (at least 64, at most twice the largest K so far: it
        doubles as K grows). Every store holds the state, C x (D x (b + 8) +
        24). ``"memory"`` adds up to 2n x (D x b + 24) for the rows, weights,
        arrival times and cluster IDs (capacity doubles) and 8n for the member
        lists. ``"disk"`` adds about 200 x K of RAM (the member table) and,
        in files, up to 2n x (D x b + 16) plus 8n to 64n for the member lists
        (compacted when they are mostly garbage). ``"summary"`` adds C x r x
        (D x b + 24), C x r the largest so far (with the default ``summary_size``,
        at most 64 MiB while r > 16). With ``"disk"`` and ``"summary"``, RAM depends on n only
        through K (which forgetting bounds).
    summary_size : int, default=None
        Rows sampled per cluster (r) with ``store="summary"``. None: adaptive,
        the most that keep the samples within 64 MiB (C x r x (D x b + 24) <=
        2**26 bytes), at most ``ceil(max_size)`` and 1024, at least 16: while the
        clusters are few every member is kept (splits exact); as C doubles,
        each sample keeps its best keys (still a weighted sample). Past C x 16
        rows of capacity (C > 14,979 for 64 float32 features) the samples
        take more than the budget: C x 16 x (D x b + 24) bytes. The sample's error
        in the halves' means stays in their sums, and matters most where
        clusters mix several groups (early, or large ``max_size``).
    store_path : str or os.PathLike, default=None
        With ``store="disk"``: the directory in which the store makes its
        scratch directory (None: the system's temporary directory,
        ``tempfile.gettempdir()``). The scratch directory is deleted with
        the last model object that uses it.
    keep_data : bool, default="deprecated"
        Deprecated alias of ``store``: True is ``store="memory"``, False
        ``store="summary"`` (a FutureWarning says so).
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
        Row of ``cluster_centers_`` of every point seen (not with
        ``store="summary"``).
    history_ : dict of ndarray
        1-D arrays with one entry per batch (:mod:`dynkm._history`; appending
        a batch costs O(1), never a copy of the batches before): ``loss``
        (weighted SSE of all points seen against their centers, decayed when
        forgetting; exact with ``"memory"`` and ``"disk"``; with ``"summary"``
        exact until a cluster splits, then an estimate: the split's division
        of the second moment is the sample's), ``n_clusters``, ``seconds``
        (cumulative), ``n_splits``, ``n_merges``, ``n_seen``.
    events_ : list of tuple
        ``(batch, "split", parent_id, new_id)`` and
        ``(batch, "merge", absorbed_id, into_id)``, in order.
    n_features_in_ : int
    """

    # Each parameter's rule, once (see dynkm._dynamic_params).
    _param_specs = DYNAMIC_SPECS

    _history_columns = _HISTORY_COLUMNS

    def __init__(self, min_size=60, max_size=150, batch_size=100, k_init=None, merge=True,
                 refine_iter=0, decay_factor=1.0, half_life=None, time_unit="batches",
                 store="memory", summary_size=None, store_path=None, keep_data="deprecated",
                 random_state=None, n_threads=None, verbose=0, spherical=False):
        self.min_size = min_size
        self.max_size = max_size
        self.batch_size = batch_size
        self.k_init = k_init
        self.merge = merge
        self.refine_iter = refine_iter
        self.decay_factor = decay_factor
        self.half_life = half_life
        self.time_unit = time_unit
        self.store = store
        self.summary_size = summary_size
        self.store_path = store_path
        self.keep_data = keep_data
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.spherical = spherical

    # ------------------------------------------------------------ streaming
    @atomic
    def fit(self, X: ArrayLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> "Self":
        """Stream X from its first row in batches of ``batch_size`` (state reset).

        A fit that raises leaves the estimator exactly as it was.
        """
        batch_size = check_int(self.batch_size, "batch_size")
        X = validate_X(self, X, reset=True)
        sample_weight = validated_weights(sample_weight, X)
        n_threads = n_threads_of(self.n_threads, work=X.size)
        check_range(row_norms(X, n_threads=n_threads, check_input=False), sample_weight)
        self._reset()
        for start in range(0, X.shape[0], batch_size):
            w = None if sample_weight is None else sample_weight[start:start + batch_size]
            # The state is this fit's own: no copy-on-write needed.
            self._partial_fit(X[start:start + batch_size], w, own_state=True)
        return self

    @atomic
    def partial_fit(self, X: ArrayLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> "Self":
        """Add one batch.

        All or nothing: a batch that raises (NaN/inf, the wrong width, no
        rows, bad weights, data too large for the model's dtype, or an
        interruption anywhere in the update) leaves the model exactly as it
        was (a disk store's files past the committed rows are ignored), and
        offering it again gives what it would have given the first time.
        Batches are cast to the dtype of the first batch.
        """
        first = getattr(self, "_state", None) is None
        X = validate_X(self, X, reset=first)
        if not first:
            # The model keeps the dtype of its first batch (float32 stays float32).
            X = as_dtype(X, self._state.cols["centers"].dtype)
        sample_weight = validated_weights(sample_weight, X)
        n_threads = n_threads_of(self.n_threads, work=X.size)
        check_range(row_norms(X, n_threads=n_threads, check_input=False), sample_weight)
        if first:
            self._reset()
        self._partial_fit(X, sample_weight, own_state=first)
        return self

    def _reset(self):
        self._p = check_dynamic_params(self)
        self._rng = check_random_state(self.random_state)
        self._state = None
        self._points = None
        self._n_batches = 0
        self._now = 0.0
        self._seconds = 0.0
        self._n_seen = 0
        self.history_ = new_history(_HISTORY_COLUMNS)
        self.events_ = []

    @property
    def _spherical(self):
        # .get: models saved before spherical existed have no such key.
        return bool(self._p.get("spherical", False))

    @property
    def _exact(self):
        """Whether the store keeps every row (splits over the members)."""
        return self._points.exact

    def _threads(self, n_rows, n_centers):
        """Threads for kernels comparing ``n_rows`` rows with ``n_centers`` centers."""
        return n_threads_of(self.n_threads, work=n_rows * n_centers * self.n_features_in_)

    def _partial_fit(self, X, sample_weight, own_state):
        """Add one batch to the state (see ``_atomic`` for the rules it follows).

        Unless the state was created by the current call (``own_state``), the
        per-cluster state is copied first, O(clusters x features), and the
        store forked (shallow, O(clusters)): the batch then updates its own
        copies. Rows are only appended (past the committed ones), and the few
        entries that splits and merges change in earlier ones are written
        through ``_atomic.write``.
        """
        t0 = time.perf_counter()
        if not own_state and self._state is not None:
            self._state = self._state.copy()
            self._points = self._points.fork()
        n_events = len(self.events_)
        if self._spherical:
            X = _rows.unit_rows(X, self._threads(X.shape[0], 1))
        with blas_single_threaded():
            self._decay(X.shape[0])
            self._n_seen += X.shape[0]
            if self._state is None:
                self._first_batch(X, sample_weight)
            else:
                self._add_batch(X, sample_weight)
            self._split_heavy()
            if self._p["refine"]:
                self._refine(self._p["refine"])
                self._split_heavy()
            if self.merge and self._n_batches > 0:
                self._merge_light()
        self._n_batches += 1
        self._seconds += time.perf_counter() - t0
        events = self.events_[n_events:]
        n_splits = sum(e[1] == "split" for e in events)
        n_merges = sum(e[1] == "merge" for e in events)
        loss = self._state.loss()
        record(self.history_, loss=loss, n_clusters=self._state.k, seconds=self._seconds,
               n_splits=n_splits, n_merges=n_merges, n_seen=self._n_seen)
        if self.verbose:
            print(f"batch {self._n_batches}: {self._state.k} clusters, loss {loss:.6g}, "
                  f"+{n_splits} splits, +{n_merges} merges, {self._seconds:.3f} s")

    def _decay(self, n_new):
        """Discount the past (Spark semantics) before the batch is added."""
        if self._state is None:
            return
        steps = 1 if self.time_unit == "batches" else n_new
        if self._p["decay"] < 1:
            self._state.decay(self._p["decay"] ** steps)
            if not self._exact:
                with np.errstate(divide="ignore"):
                    self._points.decay(self, steps * math.log(self._p["decay"])
                                       if self._p["decay"] > 0 else -np.inf)
        self._now += steps

    def _new_store(self, X, capacity):
        p, d = self._p, X.shape[1]
        if p["store"] == "memory":
            return MemoryStore(d, X.dtype, 2 * X.shape[0])
        if p["store"] == "disk":
            parent = None if self.store_path is None else os.fspath(self.store_path)
            return DiskStore(d, X.dtype, 2 * X.shape[0], parent)
        return ReservoirStore(d, X.dtype, capacity, p["budget"], SUMMARY_BYTES,
                              math.ceil(p["max_size"]))

    def _first_batch(self, X, sample_weight):
        p = self._p
        typical = max(1, int((p["min_size"] + p["max_size"]) // 2))
        k = p["k_init"] or max(1, X.shape[0] // typical)
        k = min(k, X.shape[0])
        n_threads = self._threads(X.shape[0], k)
        if self._spherical:
            # Spherical k-means (unit centers) from the same k-means++ seeding.
            run = _kmeans_run(X, sample_weight, k, _SPHERICAL_FIRST_BATCH, self._rng, n_threads)
            centers, labels = run.centers, run.labels
        else:
            km = KMeans(k, n_init=1, random_state=self._rng, n_threads=n_threads)
            km.fit(X, sample_weight=sample_weight)
            centers, labels = km.cluster_centers_, km.labels_
        capacity = max(64, 2 * k)
        self._state = ClusterState(X.shape[1], X.dtype, capacity, self._spherical)
        self._points = self._new_store(X, capacity)
        self._add_clusters(k)
        # Absorbing against the k-means centers keeps the moments exact
        # (the update measures the batch against the current center).
        self._state.centers[:] = centers
        dist = ((X - centers[labels]) ** 2).sum(axis=1)
        self._absorb(X, sample_weight, labels, dist)

    def _add_batch(self, X, sample_weight):
        n_threads = self._threads(X.shape[0], self._state.k)
        labels, dist, _, _ = assign_rows(X, row_norms(X, n_threads=n_threads, check_input=False),
                                         self._state.centers, sample_weight, n_threads)
        self._absorb(X, sample_weight, labels, dist)

    def _absorb(self, X, sample_weight, rows, dist):
        """The batch's points join clusters ``rows``: statistics, then the store."""
        self._state.absorb(X, sample_weight, rows, dist)
        if self._exact:
            points = self._points.append(X, sample_weight, self._now)
            self._points.assign(self, points, self._state.ids[rows], rows)
        else:
            self._points.absorb(self, self._rng, X, sample_weight, rows)

    def _add_clusters(self, n):
        rows = self._state.add_clusters(n)
        if not self._exact:
            self._points.add_rows(self, n)
        return rows

    def _remove_row(self, row):
        self._state.remove_row(row)
        if not self._exact:
            self._points.remove_row(self, row)

    # ----------------------------------------------------- split and merge
    def _split_heavy(self):
        max_size = self._p["max_size"]
        s = self._state
        heavy = [int(i) for i in s.ids[s.weights > max_size]]
        while heavy:
            cluster_id = heavy.pop()
            row = s.row_of_id[cluster_id]
            new_row = self._split(row) if self._exact else self._split_sampled(row)
            if new_row is None:
                continue  # nothing to split (one point heavier than max_size)
            for r in (row, new_row):
                if s.weights[r] > max_size:
                    heavy.append(int(s.ids[r]))

    def _keep_side(self, centers2, row):
        """The side whose center is nearer cluster ``row``'s (it keeps the ID)."""
        # (Spherical: compared as unit vectors, i.e. by cosine.)
        halves = self._state.center_of(centers2, 1.0)
        return int(np.argmin(((halves - self._state.centers[row]) ** 2).sum(axis=1)))

    def _split(self, row):
        """Split cluster ``row`` in two by 2-means of its members; the half nearer the
        old center keeps the ID. Returns the new cluster's row (None: < 2 members)."""
        s, points, p = self._state, self._points, self._p
        parent = int(s.ids[row])
        if points.n_members(parent) < 2:
            return None
        new_row = self._add_clusters(1)[0]
        new_id = int(s.ids[new_row])
        members = points.member_rows(parent)
        w = points.effective_weights(members, p["decay"], self._now)
        X = points.data
        centers2, side = split_members(X, members, w.astype(X.dtype), _SPLIT_MAX_ITER,
                                       self._rng, self._threads(len(members), 2))
        keep = self._keep_side(centers2, row)
        for half, r in ((keep, row), (1 - keep, new_row)):
            m, wm = members[side == half], w[side == half]
            x = X[m].astype(np.float64)
            sums, total = wm @ x, wm.sum()
            # A half of weightless (fully decayed) members has no weighted mean.
            mean = sums / total if total > 0 else x.mean(axis=0)
            s.set_stats(r, sums, total, float(wm @ ((x - mean) ** 2).sum(axis=1)), mean)
        points.set_members(self, parent, members[side == keep])
        points.set_members(self, new_id, members[side != keep])
        self.events_.append((self._n_batches, "split", parent, new_id))
        return new_row

    def _split_sampled(self, row):
        """Split cluster ``row`` by 2-means of its reservoir (``store="summary"``)."""
        s, points = self._state, self._points
        points.make_room(self, 1)  # (growing may shrink the reservoirs: before the sample)
        Xs, ws, slots = points.sample(row)
        if len(slots) < 2:
            return None
        centers2, side = split_members(Xs, np.arange(len(slots), dtype=np.intp),
                                       ws.astype(Xs.dtype), _SPLIT_MAX_ITER, self._rng,
                                       self._threads(len(slots), 2))
        halves = split_statistics(s.sums[row].copy(), float(s.weights[row]), float(s.m2[row]),
                                  Xs, ws, side)
        if halves is None:
            return None
        keep = self._keep_side(centers2, row)
        parent = int(s.ids[row])
        new_row = self._add_clusters(1)[0]
        for half, r in ((keep, row), (1 - keep, new_row)):
            s.set_stats(r, *halves[half])
        points.split(self, row, new_row, slots, side, keep)
        self.events_.append((self._n_batches, "split", parent, int(s.ids[new_row])))
        return new_row

    def _merge_light(self):
        p, s = self._p, self._state
        while True:
            light = np.flatnonzero(s.weights < p["min_size"])
            if light.size == 0 or s.k < 2:
                return
            merged = False
            for row in light[np.argsort(s.weights[light], kind="stable")]:
                fits = s.weights + s.weights[row] <= p["max_size"]
                fits[row] = False
                if not fits.any():
                    continue
                d = ((s.centers - s.centers[row]) ** 2).sum(axis=1)
                d[~fits] = np.inf
                into = int(np.argmin(d))
                self._merge(row, into)
                merged = True
                break
            if not merged:
                return

    def _merge(self, row, into):
        """Merge cluster ``row`` into cluster ``into`` (which keeps its ID)."""
        s = self._state
        absorbed, kept = int(s.ids[row]), int(s.ids[into])
        s.merge_stats(row, into)
        if self._exact:
            self._points.move_all(self, absorbed, kept)
        else:
            self._points.merge(self, row, into)
        self._remove_row(row)
        self.events_.append((self._n_batches, "merge", absorbed, kept))

    def _refine(self, n_iter):
        """Lloyd iterations over every retained point; sums and moments rebuilt."""
        s, points = self._state, self._points
        n = self._n_seen
        X = points.data[:n]
        all_points = np.arange(n, dtype=np.intp)
        w = points.effective_weights(all_points, self._p["decay"], self._now)
        n_threads = self._threads(n, s.k)
        xn = row_norms(X, n_threads=n_threads, check_input=False)
        for _ in range(n_iter):
            rows, dist, _, _ = assign_rows(X, xn, s.centers, w.astype(X.dtype), n_threads)
            s.sums[:] = 0.0
            s.weights[:] = 0.0
            s.m2[:] = 0.0
            points.clear_members()
            s.absorb(X, w, rows, dist)
            points.assign(self, all_points, s.ids[rows], rows)

    # ---------------------------------------------------------- attributes
    # Snapshots: the live state keeps changing with every batch.
    @property
    def cluster_centers_(self):
        self._check_started()
        return self._state.centers.copy()

    @property
    def cluster_ids_(self):
        self._check_started()
        return self._state.ids.copy()

    @property
    def counts_(self):
        self._check_started()
        return self._state.weights.copy()

    @property
    def n_clusters_(self):
        self._check_started()
        return self._state.k

    @property
    def labels_(self):
        self._check_started()
        if not self._exact:
            raise AttributeError("labels_ needs the rows seen: store='memory' or 'disk' "
                                 "(keep_data=True), not store='summary'")
        return self._points.labels(self._state.row_of_id)

    @property
    def _n_features_out(self):
        # transform's columns (and get_feature_names_out): one per current cluster.
        return self.n_clusters_

    def _check_started(self):
        if getattr(self, "_state", None) is None:
            raise AttributeError("this DynamicKMeans has seen no data yet")

    def __sklearn_is_fitted__(self):
        return getattr(self, "_state", None) is not None

    # save(path) / load(path): PersistMixin's, through StorePersistMixin (a disk store's
    # rows go beside the model file); the file loads without running code and the model
    # resumes the stream exactly. Pickling also works: trusted input only.
