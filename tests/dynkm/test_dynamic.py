"""Tests of dynkm.DynamicKMeans: the streaming k-means with split and merge.

The reference for the algorithm is the seed's ``DynamicKmeansController``
(DynCluster, /work/shared/seeds/000_30b18eebb38d56b1.txt), re-implemented
below in plain NumPy (:func:`seed_reference`). Everything else is checked
against from-scratch recomputations written here (means, SSE, nearest
centers, decayed weights) or against the estimator itself run another way
(same seed, other thread count, saved and loaded, fit vs partial_fit), never
against numbers produced once by our own code and pasted in.
"""

import copy
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans as SKKMeans
from sklearn.metrics import adjusted_rand_score

from _state import assert_same_values

from dynkm import DynamicKMeans

# ===========================================================================
# Helpers
# ===========================================================================


def batches(X, size, w=None):
    """(X_b, w_b) slices of ``size`` rows, in order."""
    for start in range(0, X.shape[0], size):
        yield X[start:start + size], (None if w is None else w[start:start + size])


def stream(model, X, size, w=None):
    for Xb, wb in batches(X, size, w):
        model.partial_fit(Xb, sample_weight=wb)
    return model


def same_partition(a, b):
    """True when label vectors a and b define the same partition (any relabelling)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def public_state(model):
    """Deep copy of every public fitted attribute (``seconds`` excluded: wall time)."""
    s = {
        "cluster_centers_": np.array(model.cluster_centers_, copy=True),
        "counts_": np.array(model.counts_, copy=True),
        "cluster_ids_": np.array(model.cluster_ids_, copy=True),
        "n_clusters_": model.n_clusters_,
        "n_features_in_": model.n_features_in_,
        "history_": {k: list(v) for k, v in model.history_.items() if k != "seconds"},
        "events_": copy.deepcopy(model.events_),
    }
    if model.keep_data:
        s["labels_"] = np.array(model.labels_, copy=True)
    return s


def private_state(model):
    """Every attribute, private ones included (retained rows, RNG state), as bytes.

    Pickles the instance's ``__dict__``, not the instance, so that it does not
    depend on the estimator's own ``__getstate__``.
    """
    return pickle.dumps(vars(model), protocol=pickle.HIGHEST_PROTOCOL)


def assert_same_state(a, b):
    """Bitwise equality of two :func:`public_state` dicts (dtypes and types included)."""
    assert_same_values(a, b)


def member_sums(X, labels, w, k):
    """Weighted sum of the rows of each label (float64), by a sparse indicator product."""
    n = X.shape[0]
    indicator = sp.csr_matrix((np.asarray(w, np.float64), (labels, np.arange(n))), shape=(k, n))
    return np.asarray(indicator @ np.asarray(X, np.float64))


def unit(X):
    """Rows of X scaled to unit norm, computed in float64, in X's dtype (zero rows stay)."""
    X = np.asarray(X)
    x = X.astype(np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0).astype(X.dtype)


def sqdist_to(X, C):
    """Exact squared distances (explicit differences, float64), shape (n, k)."""
    X = np.asarray(X, np.float64)
    C = np.asarray(C, np.float64)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


class InvariantTracker:
    """Checks the documented invariants after every batch of a stream.

    Unit or given weights, no forgetting. Tracks cluster IDs over the stream
    (an ID that disappears never comes back; new IDs are fresh) and replays
    ``events_`` to rebuild the set of live IDs. A spherical model sees the
    rows scaled to unit norm, and its centers are the unit vectors along the
    members' means.
    """

    def __init__(self, model, rtol):
        self.model = model
        self.rtol = rtol
        self.X = []
        self.w = []
        self.ever = set()
        self.gone = set()
        self.prev_ids = set()
        self.n_events = 0
        self.n_splits = 0
        self.n_merges = 0

    def add(self, Xb, wb=None, full=True):
        """partial_fit one batch, then check. ``full=False`` skips the checks that
        cost O(points seen) (labels, means, loss), not the size bound or the IDs."""
        m = self.model
        m.partial_fit(Xb, sample_weight=wb)
        self.X.append(unit(Xb) if m.spherical else np.asarray(Xb))
        self.w.append(np.ones(len(Xb)) if wb is None else np.asarray(wb, np.float64))
        self.check(full)

    def check(self, full=True):
        m = self.model
        b = len(self.X) - 1  # index of the batch just added
        C, counts, ids = m.cluster_centers_, m.counts_, m.cluster_ids_
        k = m.n_clusters_
        h = m.history_

        # Shapes and bookkeeping.
        assert k == len(C) == len(ids) == len(counts) == h["n_clusters"][-1]
        assert all(len(v) == b + 1 for v in h.values())
        assert h["n_seen"][-1] == sum(len(x) for x in self.X)
        assert C.dtype == self.X[0].dtype
        assert np.isfinite(C).all()
        assert (counts >= 0).all()
        # Size bound (splits until every part fits; merges only when they fit).
        assert counts.max() <= m.max_size
        if m.merge and b > 0:
            # A cluster lighter than min_size survives only if no merge fits.
            for row in np.flatnonzero(counts < m.min_size):
                others = np.delete(counts, row)
                assert (others + counts[row] > m.max_size).all()

        if full:
            self._check_points(C, counts, k, h)
        self._check_ids(ids, k, h, b, C if full else None)

    def _check_points(self, C, counts, k, h):
        m = self.model
        X = np.concatenate(self.X).astype(np.float64)
        w = np.concatenate(self.w)
        # Labels: counts are their (weighted) bincount, centers their means.
        labels = m.labels_
        assert labels.shape == (X.shape[0],)
        assert labels.min() >= 0 and labels.max() < k
        np.testing.assert_allclose(counts, np.bincount(labels, w, minlength=k), rtol=1e-12)
        sums = member_sums(X, labels, w, k)
        filled = counts > 0
        means = sums[filled] / counts[filled, None]
        np.testing.assert_allclose(C[filled], unit(means) if m.spherical else means,
                                   rtol=self.rtol, atol=self.rtol * np.abs(X).max())
        if not m.spherical:
            # Total sums are conserved by every split and merge.
            np.testing.assert_allclose(counts @ C.astype(np.float64), w @ X, rtol=self.rtol,
                                       atol=self.rtol * np.abs(X).max() * w.sum())

        # The loss is the exact SSE of every point seen against its center.
        sse = float(w @ ((X - C.astype(np.float64)[labels]) ** 2).sum(axis=1))
        np.testing.assert_allclose(h["loss"][-1], sse, rtol=self.rtol)

    def _check_ids(self, ids, k, h, b, C):
        m = self.model
        # IDs: unique, fresh when new, never back once gone.
        cur = [int(i) for i in ids]
        assert len(set(cur)) == len(cur)
        cur = set(cur)
        assert not (cur & self.gone), "an ID came back"
        new = cur - self.prev_ids
        assert not (new & self.ever), "an ID was reused"

        # events_ replayed on the previous IDs give the current IDs.
        events = m.events_[self.n_events:]
        assert all(e[0] == b for e in events)
        live = set(self.prev_ids)
        if b == 0:  # the first batch's k-means clusters: the IDs no split created
            live = cur - {e[3] for e in events if e[1] == "split"}
            assert len(live) == k - h["n_splits"][0]
        for _, kind, a, c in events:
            if kind == "split":
                assert a in live and c not in live and c not in self.ever
                live.add(c)
                self.ever.add(c)
            else:
                assert kind == "merge"
                assert a in live and c in live and a != c
                live.remove(a)
        assert live == cur
        assert h["n_splits"][-1] == sum(e[1] == "split" for e in events)
        assert h["n_merges"][-1] == sum(e[1] == "merge" for e in events)
        self.n_splits += h["n_splits"][-1]
        self.n_merges += h["n_merges"][-1]

        # Stable IDs on split: the half nearer the parent's center keeps the ID.
        # Checked on splits whose two IDs take part in no other event of the batch
        # and without refine (which reassigns points after the splits): then the
        # parent's pre-split members are the union of the two halves.
        touched = [i for e in events for i in e[2:]] if C is not None and not m.refine_iter else []
        if touched:
            X = np.concatenate(self.X).astype(np.float64)
            w = np.concatenate(self.w)
            labels = m.labels_
        row_of = {int(i): r for r, i in enumerate(ids)}
        for _, kind, parent, child in events:
            if kind != "split" or touched.count(parent) != 1 or touched.count(child) != 1:
                continue
            rp, rc = row_of[parent], row_of[child]
            both = (labels == rp) | (labels == rc)
            pre = w[both] @ X[both] / w[both].sum()
            if m.spherical:
                pre = unit(pre[None])[0]
            dp = ((C[rp].astype(np.float64) - pre) ** 2).sum()
            dc = ((C[rc].astype(np.float64) - pre) ** 2).sum()
            assert dp <= dc * (1 + 1e-9) + 1e-12

        self.gone |= self.prev_ids - cur
        self.ever |= cur
        self.prev_ids = cur
        self.n_events = len(m.events_)


# ===========================================================================
# 1. The seed's algorithm, in NumPy, and the comparison
# ===========================================================================


def two_means_farthest(P, max_iter=100):
    """2-means of the rows of P: Lloyd from the two rows farthest apart.

    The seed splits with ``sklearn.cluster.KMeans(2, init="k-means++")``. On
    the data of these tests (two tight, well-separated sub-blobs) 2-means
    has one obvious optimum that both reach; this deterministic start makes
    the reference free of randomness. Returns labels 0/1.
    """
    D = sqdist_to(P, P)
    i, j = np.unravel_index(np.argmax(D), D.shape)
    c = P[[i, j]].astype(np.float64)
    labels = None
    for _ in range(max_iter):
        new = np.argmin(sqdist_to(P, c), axis=1)
        if labels is not None and (new == labels).all():
            break
        labels = new
        c = np.stack([P[labels == s].mean(axis=0) for s in (0, 1)])
    return labels


def seed_reference(X, batch_size, min_size, max_size):
    """The seed's DynamicKmeansController.run, step by step, in NumPy.

    * first batch: k-means into ``k_init = max(1, len(batch) // ((min_size +
      max_size) // 2))`` clusters (scikit-learn KMeans, as the seed; n_init=10
      instead of the seed's single run, so that the optimum is found);
    * later batches: every point to its nearest center (centers as they were
      at the start of the batch);
    * every center recomputed as the mean of its members;
    * every cluster larger than ``max_size`` (listed once, after the update)
      split once in two by 2-means (:func:`two_means_farthest`); one half keeps
      the cluster's index, the other gets the next index.

    Returns the label of every point after every batch (list of arrays), the
    number of clusters and of splits per batch, and ``recursive_free``: True
    when, after every batch, no cluster is above ``max_size`` (then splitting
    once per batch, as the seed does, equals splitting until every part fits,
    as DynamicKMeans does).
    """
    centroids = []
    members = {}
    labels_per_batch, n_clusters, n_splits = [], [], []
    recursive_free = True
    for start in range(0, X.shape[0], batch_size):
        idx = list(range(start, min(start + batch_size, X.shape[0])))
        B = X[idx]
        if not centroids:
            k_init = max(1, len(B) // ((min_size + max_size) // 2))
            km = SKKMeans(k_init, init="k-means++", n_init=10, random_state=0).fit(B)
            centroids = list(km.cluster_centers_)
            for cid in range(k_init):
                members[cid] = [i for i, lbl in zip(idx, km.labels_, strict=False) if lbl == cid]
        else:
            C = np.array(centroids)
            for i in idx:
                lbl = int(np.argmin(np.sqrt(sqdist_to(X[i:i + 1], C)[0])))
                members.setdefault(lbl, []).append(i)
        for cid, mem in members.items():
            if mem:
                centroids[cid] = X[mem].mean(axis=0)
        next_cid = max(members, default=-1) + 1
        oversized = [cid for cid, mem in members.items() if len(mem) > max_size]
        for cid in oversized:
            mem = members.pop(cid)
            side = two_means_farthest(X[mem])
            members[cid] = [i for i, s in zip(mem, side, strict=False) if s == 0]
            members[next_cid] = [i for i, s in zip(mem, side, strict=False) if s == 1]
            centroids[cid] = X[members[cid]].mean(axis=0)
            centroids.append(X[members[next_cid]].mean(axis=0))
            next_cid += 1
        recursive_free &= all(len(mem) <= max_size for mem in members.values())
        labels = np.full(idx[-1] + 1, -1)
        for cid, mem in members.items():
            labels[mem] = cid
        labels_per_batch.append(labels)
        n_clusters.append(len(members))
        n_splits.append(len(oversized))
    return labels_per_batch, n_clusters, n_splits, recursive_free


def hierarchical_blobs(seed, n_groups=2, leaf=30, std=0.05):
    """Tight 2-D blobs in a three-level hierarchy, shuffled.

    ``n_groups`` groups 100 apart; each has two sub-groups 10 apart (along x);
    each sub-group two leaves 1 apart (along y); each leaf ``leaf`` points of
    standard deviation ``std``. A group is thus a blob of 4 * leaf points
    whose 2-means split is obvious, and so is each sub-group's.
    """
    rng = np.random.default_rng(seed)
    centers = []
    for g in range(n_groups):
        gx, gy = 100.0 * g, 100.0 * (g % 2)
        for sx in (-5.0, 5.0):
            for ly in (-0.5, 0.5):
                centers.append((gx + sx, gy + ly))
    centers = np.array(centers)
    y = np.repeat(np.arange(len(centers)), leaf)
    X = centers[y] + rng.normal(scale=std, size=(len(y), 2))
    order = rng.permutation(len(y))
    return X[order], y[order]


# min 10 / max 40: k_init = 50 // 25 = 2 = number of groups in the first batch.
@pytest.mark.parametrize("data_seed", [0, 1, 2, 3])
def test_seed_semantics_same_partitions(data_seed):
    """Same partition after every batch as the seed's algorithm.

    Two groups of 4 leaves x 30 points arrive in shuffled batches of 50;
    min_size=10, max_size=40 give k_init = 50 // 25 = 2 (one cluster per
    group). A group's cluster passes 40 points and splits into its two
    sub-groups; these pass 40 later and split into leaves (8 clusters at the
    end). merge=False (the seed never merges). The seed splits each oversized
    cluster once per batch, DynamicKMeans until every part fits: on this data
    no part of a split is above max_size (asserted on the reference), so the
    two rules coincide.
    """
    X, _ = hierarchical_blobs(data_seed)
    ref_labels, ref_k, ref_splits, recursive_free = seed_reference(X, 50, 10, 40)
    assert recursive_free, "test data must not need a second split in a batch"
    assert sum(ref_splits) >= 4, "the data must exercise splits at two levels"

    model = DynamicKMeans(min_size=10, max_size=40, merge=False, random_state=data_seed)
    for b, (Xb, _) in enumerate(batches(X, 50)):
        model.partial_fit(Xb)
        seen = ref_labels[b].shape[0]
        assert model.labels_.shape == (seen,)
        assert same_partition(model.labels_, ref_labels[b]), f"batch {b}"
        assert adjusted_rand_score(ref_labels[b], model.labels_) == 1.0
        assert model.n_clusters_ == ref_k[b]
        assert model.history_["n_splits"][b] == ref_splits[b]
    assert model.n_clusters_ == 8
    # Same partition, hence the same centers (member means) and the same loss.
    ref = ref_labels[-1]
    ref_centers = np.array([X[ref == c].mean(axis=0) for c in np.unique(ref)])
    ours = model.cluster_centers_[np.unique(model.labels_)]
    order = np.argmin(sqdist_to(ours, ref_centers), axis=1)
    np.testing.assert_allclose(ours, ref_centers[order], rtol=1e-9, atol=1e-9)
    ref_sse = sum(((X[ref == c] - X[ref == c].mean(axis=0)) ** 2).sum() for c in np.unique(ref))
    np.testing.assert_allclose(model.history_["loss"][-1], ref_sse, rtol=1e-9)


def test_seed_k_init_formula():
    """k_init = max(1, len(first batch) // ((min_size + max_size) // 2)), as the seed.

    The first batch's k-means clusters are the clusters after it minus its
    splits (no merge happens on the first batch).
    """
    X = np.random.default_rng(0).normal(size=(530, 3))
    for lo, hi, n in [(60, 150, 530), (60, 150, 100), (60, 150, 104), (10, 41, 530),
                      (3, 3, 20), (60, 150, 1)]:
        expected = max(1, n // ((lo + hi) // 2))
        m = DynamicKMeans(min_size=lo, max_size=hi, random_state=0).partial_fit(X[:n])
        assert m.history_["n_merges"][0] == 0
        assert m.n_clusters_ - m.history_["n_splits"][0] == expected, (lo, hi, n)
    # An explicit k_init wins; it is capped by the first batch's rows.
    m = DynamicKMeans(k_init=7, max_size=1000, random_state=0).partial_fit(X)
    assert m.n_clusters_ == 7
    m = DynamicKMeans(k_init=7, max_size=1000, random_state=0).partial_fit(X[:3])
    assert m.n_clusters_ == 3
    np.testing.assert_array_equal(np.sort(m.cluster_centers_, axis=0), np.sort(X[:3], axis=0))


# ===========================================================================
# 2. Invariants after every batch
# ===========================================================================


def blob_stream(n=1500, d=5, centers=12, std=1.0, seed=0, dtype=np.float64):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n, n_features=d, centers=centers, cluster_std=std, random_state=seed)
    return X.astype(dtype), y


INVARIANT_CASES = {
    "float64": dict(dtype=np.float64, params={}),
    "float32": dict(dtype=np.float32, params={}),
    "weighted": dict(dtype=np.float64, params={}, weighted=True),
    "no-merge": dict(dtype=np.float64, params={"merge": False}),
    "refine": dict(dtype=np.float64, params={"refine_iter": 1}),
    "k_init": dict(dtype=np.float32, params={"k_init": 3}),
    "one-feature": dict(dtype=np.float64, params={}, d=1),
    "spherical": dict(dtype=np.float64, params={"spherical": True}, d=3),
    "spherical-float32": dict(dtype=np.float32, params={"spherical": True}, d=3),
    "spherical-weighted-refine": dict(dtype=np.float64, params={"spherical": True,
                                                                "refine_iter": 1},
                                      weighted=True, d=3),
}


@pytest.mark.parametrize("case", INVARIANT_CASES, ids=list(INVARIANT_CASES))
def test_invariants_after_every_batch(case):
    """Every documented invariant, after each of 30 batches (see InvariantTracker)."""
    cfg = INVARIANT_CASES[case]
    X, _ = blob_stream(d=cfg.get("d", 5), dtype=cfg["dtype"])
    w = None
    if cfg.get("weighted"):
        w = np.random.default_rng(1).uniform(0.5, 3.0, X.shape[0])
    model = DynamicKMeans(min_size=30, max_size=60, random_state=0, **cfg["params"])
    tracker = InvariantTracker(model, rtol=1e-9 if cfg["dtype"] == np.float64 else 1e-5)
    for Xb, wb in batches(X, 50, w):
        tracker.add(Xb, wb)
    assert tracker.n_splits > 0
    if model.merge:
        assert tracker.n_merges > 0
    assert len(model.events_) == tracker.n_splits + tracker.n_merges


def test_merge_never_exceeds_max_size():
    """Many light clusters (k_init large) merge; no merge result is above max_size."""
    X, _ = blob_stream(n=1200, d=3, centers=6, std=2.0, seed=3)
    model = DynamicKMeans(min_size=45, max_size=50, k_init=40, random_state=0)
    tracker = InvariantTracker(model, rtol=1e-9)
    for Xb, _ in batches(X, 100):
        tracker.add(Xb)
        b = len(model.history_["loss"]) - 1
        counts = dict(zip(model.cluster_ids_.tolist(), model.counts_.tolist(), strict=False))
        for e in model.events_:
            if e[0] == b and e[1] == "merge" and e[3] in counts:
                assert counts[e[3]] <= 50
    assert tracker.n_merges > 10


# ===========================================================================
# 3. Sample weights
# ===========================================================================


@pytest.mark.parametrize("split", [False, True], ids=["no-split", "split"])
def test_integer_weights_equal_repeated_rows(split):
    """A second batch given once with integer weights and once with rows repeated.

    The first batch is the same for both models (same seed); batch boundaries
    are then the same. With ``split`` the second batch pushes one cluster
    (two tight sub-blobs 10 apart) above max_size, so the weighted split is
    compared too (its 2-means optimum is unique: one sub-blob on each side).
    """
    rng = np.random.default_rng(5)
    if split:
        X1 = np.concatenate([rng.normal((-5, 0), 0.1, (10, 2)), rng.normal((5, 0), 0.1, (10, 2)),
                             rng.normal(100, 0.1, (20, 2))])
        X2 = np.concatenate([rng.normal((-5, 0), 0.1, (15, 2)), rng.normal((5, 0), 0.1, (15, 2)),
                             rng.normal(100, 0.1, (4, 2))])
        params = dict(min_size=1, max_size=60, k_init=2)
    else:
        X1 = rng.normal(size=(120, 3))
        X2 = rng.normal(size=(40, 3))
        params = dict(min_size=10, max_size=1000)
    reps = rng.integers(1, 5, X2.shape[0])
    weighted = DynamicKMeans(random_state=0, merge=False, **params)
    repeated = DynamicKMeans(random_state=0, merge=False, **params)
    weighted.partial_fit(X1).partial_fit(X2, sample_weight=reps.astype(float))
    repeated.partial_fit(X1).partial_fit(np.repeat(X2, reps, axis=0))
    assert weighted.history_["n_splits"].tolist() == repeated.history_["n_splits"].tolist()
    assert weighted.history_["n_splits"][-1] == (1 if split else 0)
    assert weighted.events_ == repeated.events_
    np.testing.assert_array_equal(weighted.cluster_ids_, repeated.cluster_ids_)
    np.testing.assert_allclose(weighted.counts_, repeated.counts_, rtol=1e-12)
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-9)
    np.testing.assert_allclose(weighted.history_["loss"], repeated.history_["loss"], rtol=1e-9)
    # The points' labels agree too (each repeated row carries its row's label).
    n1 = X1.shape[0]
    np.testing.assert_array_equal(np.repeat(weighted.labels_[n1:], reps), repeated.labels_[n1:])
    np.testing.assert_array_equal(weighted.labels_[:n1], repeated.labels_[:n1])


def test_zero_weight_rows_are_ignored():
    """Rows of weight 0 (allowed by the validation) change nothing but labels_."""
    X1 = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    X2 = np.array([[0.0, 0.5], [10.0, 0.5]])
    a = DynamicKMeans(min_size=1, max_size=100, k_init=2, merge=False, random_state=0)
    b = DynamicKMeans(min_size=1, max_size=100, k_init=2, merge=False, random_state=0)
    a.partial_fit(X1).partial_fit(X2, sample_weight=[1.0, 0.0])
    b.partial_fit(X1).partial_fit(X2[:1])
    assert np.isfinite(a.history_["loss"]).all()
    np.testing.assert_allclose(a.history_["loss"], b.history_["loss"], rtol=1e-12)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)
    np.testing.assert_allclose(a.counts_, b.counts_, rtol=1e-12)


# ===========================================================================
# 4. Failure atomicity
# ===========================================================================


def _bad_batches(d):
    rng = np.random.default_rng(9)
    good = rng.normal(size=(30, d))
    nan = good.copy()
    nan[7, 1] = np.nan
    inf = good.copy()
    inf[3, 0] = -np.inf
    return [
        ("nan", nan, None, ValueError),
        ("inf", inf, None, ValueError),
        ("too-wide", rng.normal(size=(30, d + 1)), None, ValueError),
        ("too-narrow", rng.normal(size=(30, d - 1)), None, ValueError),
        ("zero-rows", np.empty((0, d)), None, ValueError),
        ("one-d", good[0], None, ValueError),
        ("negative-weight", good, np.r_[-1.0, np.ones(29)], ValueError),
        ("zero-weights", good, np.zeros(30), ValueError),
        ("nan-weight", good, np.r_[np.nan, np.ones(29)], ValueError),
        ("short-weights", good, np.ones(29), ValueError),
        ("long-weights", good, np.ones(31), ValueError),
        ("sparse", sp.csr_matrix(good), None, TypeError),
    ]


@pytest.mark.parametrize("keep_data", [True, False])
def test_bad_batch_changes_nothing(keep_data):
    """Each bad batch raises; the model is bitwise unchanged and the stream goes on
    exactly as if the bad batch had never been offered."""
    X, _ = blob_stream(n=600, d=4, centers=5, seed=2)
    parts = list(batches(X, 60))
    params = dict(min_size=20, max_size=60, random_state=0, keep_data=keep_data)
    clean = DynamicKMeans(**params)
    model = DynamicKMeans(**params)
    for Xb, _ in parts[:4]:
        clean.partial_fit(Xb)
        model.partial_fit(Xb)
    for name, Xbad, wbad, err in _bad_batches(X.shape[1]):
        before = public_state(model)
        raw = private_state(model)
        with pytest.raises(err):
            model.partial_fit(Xbad, sample_weight=wbad)
        assert_same_state(before, public_state(model))
        assert private_state(model) == raw, name
    for Xb, _ in parts[4:]:
        clean.partial_fit(Xb)
        model.partial_fit(Xb)
    assert_same_state(public_state(clean), public_state(model))


@pytest.mark.parametrize("first,second", [(np.float32, np.float64), (np.float64, np.float32)])
def test_other_dtype_batch_is_atomic(first, second):
    """A batch in the other float dtype is either used (as if cast to the model's
    dtype: the first batch's) or rejected leaving the model unchanged.

    (Commit d0a65b7 raised 'Buffer dtype mismatch' from the kernel after
    _decay/_store had changed the state; labels_ then read uninitialised IDs.)
    """
    X, _ = blob_stream(n=300, d=3, centers=3, seed=4)
    a = DynamicKMeans(min_size=20, max_size=60, random_state=0)
    b = DynamicKMeans(min_size=20, max_size=60, random_state=0)
    for m in (a, b):
        m.partial_fit(X[:100].astype(first))
    raw = private_state(a)
    try:
        a.partial_fit(X[100:200].astype(second))
    except (ValueError, TypeError):
        assert private_state(a) == raw
        a.partial_fit(X[100:200].astype(second))
    b.partial_fit(X[100:200].astype(second).astype(first))
    assert_same_state(public_state(a), public_state(b))
    assert a.cluster_centers_.dtype == first


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float64_batch_overflowing_float32_is_rejected_atomically():
    X, _ = blob_stream(n=200, d=3, centers=3, seed=4, dtype=np.float32)
    m = DynamicKMeans(min_size=20, max_size=60, random_state=0).partial_fit(X[:100])
    before, raw = public_state(m), private_state(m)
    big = X[100:].astype(np.float64)
    big[5, 1] = 1e39  # finite in float64, inf in float32
    with pytest.raises(ValueError):
        m.partial_fit(big)
    assert_same_state(before, public_state(m))
    assert private_state(m) == raw


# ===========================================================================
# 5. Save / load and pickle
# ===========================================================================


SAVE_CASES = {
    "default": dict(min_size=30, max_size=60),
    "decay-points-nokeep": dict(min_size=10, max_size=30, decay_factor=0.995,
                                time_unit="points", keep_data=False),
    "refine-decay": dict(min_size=10, max_size=30, half_life=3, refine_iter=1),
    "spherical": dict(min_size=30, max_size=60, spherical=True),
}


@pytest.mark.parametrize("case", SAVE_CASES, ids=list(SAVE_CASES))
def test_save_load_resumes_exactly(tmp_path, case):
    """Save after half the stream, load, continue: the same as never stopping.

    (That saving leaves the saved model itself intact is
    test_pickling_leaves_the_model_intact.)
    """
    X, _ = blob_stream(n=1200, d=4, centers=8, seed=6, dtype=np.float32)
    parts = list(batches(X, 60))
    params = dict(random_state=11, **SAVE_CASES[case])
    whole = stream(DynamicKMeans(**params), X, 60)
    first = DynamicKMeans(**params)
    for Xb, _ in parts[:10]:
        first.partial_fit(Xb)
    at_half = public_state(first)
    path = tmp_path / "model.dynkm"
    first.save(path)
    resumed = DynamicKMeans.load(path)
    assert type(resumed) is DynamicKMeans
    assert_same_state(at_half, public_state(resumed))
    assert resumed.get_params() == DynamicKMeans(**params).get_params()
    for Xb, _ in parts[10:]:
        resumed.partial_fit(Xb)
    assert sum(whole.history_["n_splits"][10:]) > 0  # the second half splits
    assert_same_state(public_state(whole), public_state(resumed))
    # The loss history is the uninterrupted one, value for value.
    assert resumed.history_["loss"].tolist() == whole.history_["loss"].tolist()


def test_pickle_round_trip():
    X, _ = blob_stream(n=900, d=3, centers=6, seed=7)
    parts = list(batches(X, 50))
    whole = stream(DynamicKMeans(min_size=20, max_size=50, random_state=3), X, 50)
    m = DynamicKMeans(min_size=20, max_size=50, random_state=3)
    for Xb, _ in parts[:9]:
        m.partial_fit(Xb)
    before, pred = public_state(m), m.predict(X)
    copy_ = pickle.loads(pickle.dumps(m))
    assert_same_state(before, public_state(copy_))
    np.testing.assert_array_equal(copy_.predict(X), pred)
    for Xb, _ in parts[9:]:
        copy_.partial_fit(Xb)
    assert_same_state(public_state(whole), public_state(copy_))
    # A pickled copy of a copy resumes the same way (views and buffers restored).
    again = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(copy_))))
    assert_same_state(public_state(whole), public_state(again))
    extra = X[:100] * 1.5
    copy_.partial_fit(extra)
    again.partial_fit(extra)
    assert_same_state(public_state(copy_), public_state(again))
    # An unfitted model pickles too and then fits like a new one.
    fresh = pickle.loads(pickle.dumps(DynamicKMeans(min_size=20, max_size=50, random_state=3)))
    assert_same_state(public_state(whole), public_state(stream(fresh, X, 50)))


def test_pickling_leaves_the_model_intact(tmp_path):
    """pickle.dumps and save() are read-only: the model works and is unchanged after.

    (Commit d0a65b7's __getstate__ popped the state arrays from the live
    ``__dict__``, which ``object.__getstate__`` returns on Python >= 3.11.)
    """
    X, _ = blob_stream(n=300, d=3, centers=4, seed=7)
    m = stream(DynamicKMeans(min_size=20, max_size=50, random_state=3), X[:200], 50)
    before, raw = public_state(m), private_state(m)
    pickle.dumps(m)
    m.save(tmp_path / "m.dynkm")
    assert_same_state(before, public_state(m))
    assert private_state(m) == raw
    ref = stream(DynamicKMeans(min_size=20, max_size=50, random_state=3), X, 50)
    assert_same_state(public_state(ref), public_state(stream(m, X[200:], 50)))


def test_load_rejects_other_objects(tmp_path):
    from dynkm import KMeans

    # A model file of another estimator: TypeError naming both classes.
    path = tmp_path / "kmeans.dynkm"
    KMeans(3, random_state=0).fit(np.random.default_rng(0).normal(size=(30, 2))).save(path)
    with pytest.raises(TypeError, match="holds a KMeans, not a DynamicKMeans"):
        DynamicKMeans.load(path)
    # Pickles (of anything, a DynamicKMeans included) are refused, not unpickled.
    for i, obj in enumerate([{"cluster_centers_": np.zeros((2, 2))}, [DynamicKMeans()],
                             DynamicKMeans()]):
        path = tmp_path / f"other{i}.pkl"
        with open(path, "wb") as f:
            pickle.dump(obj, f)
        with pytest.raises(ValueError, match="pickle"):
            DynamicKMeans.load(path)


# ===========================================================================
# 6. Reproducibility, 7. fit == streaming partial_fit
# ===========================================================================


def test_same_random_state_same_result():
    X, _ = blob_stream(n=1500, d=5, centers=10, seed=8)
    runs = [stream(DynamicKMeans(min_size=30, max_size=60, random_state=42), X, 50)
            for _ in range(2)]
    assert_same_state(public_state(runs[0]), public_state(runs[1]))
    # A RandomState instance seeded alike gives the same as the int.
    r = stream(DynamicKMeans(min_size=30, max_size=60,
                             random_state=np.random.RandomState(42)), X, 50)
    assert_same_state(public_state(runs[0]), public_state(r))
    # and the seed matters (k-means++ and the splits draw from it).
    other = stream(DynamicKMeans(min_size=30, max_size=60, random_state=43), X, 50)
    assert not (other.cluster_centers_.shape == runs[0].cluster_centers_.shape
                and np.array_equal(other.cluster_centers_, runs[0].cluster_centers_))


@pytest.mark.parametrize("keep_data", [True, False])
def test_thread_count_does_not_change_result(keep_data):
    """n_threads=1 vs 2, on batches large enough for the parallel kernels
    (the split of a cluster of >= 4096 members runs in parallel)."""
    X, _ = blob_stream(n=24000, d=8, centers=4, std=3.0, seed=9, dtype=np.float32)
    params = dict(min_size=100, max_size=5000, random_state=5, keep_data=keep_data)
    one = stream(DynamicKMeans(n_threads=1, **params), X, 4000)
    two = stream(DynamicKMeans(n_threads=2, **params), X, 4000)
    assert sum(one.history_["n_splits"]) > 0
    assert_same_state(public_state(one), public_state(two))
    Xt = X[:500]
    np.testing.assert_array_equal(one.transform(Xt), two.transform(Xt))


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_equals_partial_fit_stream(weighted):
    X, _ = blob_stream(n=1030, d=4, centers=7, seed=10)  # last batch is short
    w = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    params = dict(min_size=25, max_size=60, batch_size=70, random_state=1)
    fitted = DynamicKMeans(**params).fit(X, sample_weight=w)
    streamed = stream(DynamicKMeans(**params), X, 70, w)
    assert len(fitted.history_["loss"]) == -(-1030 // 70)
    assert_same_state(public_state(fitted), public_state(streamed))
    # fit resets: a second fit of the fitted model gives the same again.
    fitted.set_params(random_state=1).fit(X, sample_weight=w)
    assert_same_state(public_state(fitted), public_state(streamed))
    # partial_fit after fit continues the stream.
    Xn = X[:70] + 0.25
    fitted.partial_fit(Xn)
    streamed.partial_fit(Xn)
    assert_same_state(public_state(fitted), public_state(streamed))


# ===========================================================================
# 8. predict / transform / score on new data
# ===========================================================================


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_transform_score_new_data(dtype):
    X, _ = blob_stream(n=1000, d=6, centers=8, seed=12, dtype=dtype)
    model = stream(DynamicKMeans(min_size=25, max_size=60, random_state=0), X, 50)
    Xn = np.random.default_rng(1).normal(scale=8.0, size=(700, 6)).astype(dtype)
    D2 = sqdist_to(Xn, model.cluster_centers_)
    pred = model.predict(Xn)
    assert pred.shape == (700,)
    best = D2[np.arange(700), pred]
    ref = D2.min(axis=1)
    # The nearest center (ties, within rounding of the dtype, may go either way).
    np.testing.assert_allclose(best, ref, rtol=1e-9 if dtype == np.float64 else 1e-5)
    assert (pred == D2.argmin(axis=1)).mean() > 0.99
    T = model.transform(Xn)
    assert T.shape == (700, model.n_clusters_)
    np.testing.assert_allclose(T, np.sqrt(D2), rtol=1e-9 if dtype == np.float64 else 1e-4,
                               atol=1e-6 if dtype == np.float64 else 1e-3)
    np.testing.assert_array_equal(T.argmin(axis=1)[pred == D2.argmin(axis=1)],
                                  pred[pred == D2.argmin(axis=1)])
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(model.score(Xn), -ref.sum(), rtol=rtol)
    w = np.random.default_rng(2).uniform(0, 3, 700)
    np.testing.assert_allclose(model.score(Xn, sample_weight=w), -(w @ ref), rtol=rtol)
    # predict of the training data: the model's own nearest-center rule, not labels_
    # (earlier points keep the cluster they joined).
    if dtype == np.float64:
        np.testing.assert_array_equal(model.predict(X),
                                      sqdist_to(X, model.cluster_centers_).argmin(axis=1))
    # New data of the wrong width is rejected.
    with pytest.raises(ValueError):
        model.predict(Xn[:, :5])


def test_clone_and_verbose(capsys):
    from sklearn.base import clone

    X, _ = blob_stream(n=300, d=3, centers=3, seed=20)
    m = DynamicKMeans(min_size=20, max_size=60, random_state=0, verbose=1)
    stream(m, X, 100)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 3  # one line per batch
    c = clone(m)
    assert c.get_params() == m.get_params()
    assert not c.__sklearn_is_fitted__()
    c.set_params(verbose=0)
    assert_same_state(public_state(stream(c, X, 100)), public_state(m))
    assert capsys.readouterr().out == ""


def test_unfitted_model_raises():
    from sklearn.exceptions import NotFittedError

    m = DynamicKMeans()
    with pytest.raises(NotFittedError):
        m.predict(np.zeros((2, 2)))
    for attr in ("cluster_centers_", "counts_", "cluster_ids_", "n_clusters_", "labels_"):
        with pytest.raises(AttributeError):
            getattr(m, attr)


# ===========================================================================
# 9. Forgetting
# ===========================================================================


def _varied_batches(X, sizes):
    out, start = [], 0
    for size in sizes:
        out.append(X[start:start + size])
        start += size
    return out


@pytest.mark.parametrize("keep_data", [True, False])
def test_decay_per_batch_total_weight(keep_data):
    """decay_factor=0.5, time_unit="batches": after batch T the total weight is
    sum_b n_b * 0.5 ** (T - b), through splits and merges."""
    X, _ = blob_stream(n=2000, d=3, centers=6, seed=13)
    sizes = [60, 40, 120, 30, 90, 75, 50, 200, 45, 100, 80, 65]
    model = DynamicKMeans(min_size=10, max_size=40, decay_factor=0.5, random_state=0,
                          keep_data=keep_data)
    for T, Xb in enumerate(_varied_batches(X, sizes)):
        model.partial_fit(Xb)
        expected = sum(n * 0.5 ** (T - b) for b, n in enumerate(sizes[:T + 1]))
        np.testing.assert_allclose(model.counts_.sum(), expected, rtol=1e-9)
        assert model.counts_.max() <= 40
        assert model.history_["n_seen"][-1] == sum(sizes[:T + 1])
    assert sum(model.history_["n_splits"]) > 0 and sum(model.history_["n_merges"]) > 0


def test_decay_per_point_total_weight():
    """time_unit="points": a batch of n points decays the past by decay_factor ** n."""
    X, _ = blob_stream(n=2000, d=3, centers=6, seed=14)
    sizes = [60, 40, 120, 30, 90, 75, 50, 200]
    d = 0.99
    model = DynamicKMeans(min_size=5, max_size=40, decay_factor=d, time_unit="points",
                          random_state=0)
    for T, Xb in enumerate(_varied_batches(X, sizes)):
        model.partial_fit(Xb)
        after = np.cumsum(sizes[:T + 1][::-1])[::-1] - sizes[:T + 1]  # points after batch b
        expected = sum(n * d ** a for n, a in zip(sizes[:T + 1], after, strict=False))
        np.testing.assert_allclose(model.counts_.sum(), expected, rtol=1e-9)
    # Not the per-batch rule (which would be sum n_b d^(T-b)).
    per_batch = sum(n * d ** (len(sizes) - 1 - b) for b, n in enumerate(sizes))
    assert not np.isclose(model.counts_.sum(), per_batch, rtol=1e-3)


@pytest.mark.parametrize("time_unit,refine", [("batches", 0), ("points", 0), ("batches", 1)])
def test_decayed_state_is_exact(time_unit, refine):
    """With forgetting and keep_data, counts_, centers and the loss are the decayed
    weighted count, mean and SSE of the members (weight = w * decay ** age)."""
    X, _ = blob_stream(n=900, d=3, centers=5, seed=15)
    decay = 0.7 if time_unit == "batches" else 0.995
    model = DynamicKMeans(min_size=10, max_size=30, decay_factor=decay, time_unit=time_unit,
                          refine_iter=refine, random_state=0)
    sizes = [50, 70, 40, 90, 60, 50, 80, 100, 45, 55]
    seen, t_arrival, now = [], [], 0
    for T, Xb in enumerate(_varied_batches(X, sizes)):
        if T > 0:
            now += 1 if time_unit == "batches" else len(Xb)
        model.partial_fit(Xb)
        seen.append(Xb)
        t_arrival.append(np.full(len(Xb), now))
        Xs, ts = np.concatenate(seen), np.concatenate(t_arrival)
        w = decay ** (now - ts)
        lab, C, k = model.labels_, model.cluster_centers_, model.n_clusters_
        np.testing.assert_allclose(model.counts_, np.bincount(lab, w, minlength=k), rtol=1e-9)
        filled = model.counts_ > 1e-12
        sums = member_sums(Xs, lab, w, k)
        np.testing.assert_allclose(C[filled], sums[filled] / model.counts_[filled, None],
                                   rtol=1e-9, atol=1e-9)
        sse = w @ ((Xs - C[lab]) ** 2).sum(axis=1)
        np.testing.assert_allclose(model.history_["loss"][-1], sse, rtol=1e-9)
    assert sum(model.history_["n_splits"]) > 0


def test_half_life_equals_decay_factor():
    X, _ = blob_stream(n=1000, d=3, centers=6, seed=16)
    for h, unit in [(2.0, "batches"), (3, "batches"), (150.0, "points")]:
        a = stream(DynamicKMeans(min_size=10, max_size=40, half_life=h, time_unit=unit,
                                 random_state=0), X, 50)
        b = stream(DynamicKMeans(min_size=10, max_size=40, decay_factor=0.5 ** (1 / h),
                                 time_unit=unit, random_state=0), X, 50)
        assert_same_state(public_state(a), public_state(b))
        # half_life wins over decay_factor when both are given.
        c = stream(DynamicKMeans(min_size=10, max_size=40, half_life=h, decay_factor=0.1,
                                 time_unit=unit, random_state=0), X, 50)
        assert_same_state(public_state(a), public_state(c))


def _drifting(n_batches=20, per_batch=60, n_blobs=3, seed=17):
    """Blobs moving in a straight line, one step per batch; their last positions."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(-50, 50, (n_blobs, 2))
    velocity = rng.normal(size=(n_blobs, 2))
    velocity *= 2.0 / np.linalg.norm(velocity, axis=1, keepdims=True)
    out = []
    for t in range(n_batches):
        which = rng.integers(0, n_blobs, per_batch)
        out.append(start[which] + t * velocity[which] + rng.normal(scale=0.5, size=(per_batch, 2)))
    return out, start + (n_batches - 1) * velocity


def test_decay_follows_a_drifting_blob():
    """One cluster, one drifting blob: its center is the decayed weighted mean of
    everything seen (exactly), nearer the blob's latest position than without decay."""
    parts, last = _drifting(n_blobs=1)
    params = dict(min_size=1, max_size=1e9, merge=False, random_state=0, k_init=1)
    dec = DynamicKMeans(decay_factor=0.5, **params)
    keep = DynamicKMeans(decay_factor=1.0, **params)
    for Xb in parts:
        dec.partial_fit(Xb)
        keep.partial_fit(Xb)
    T = len(parts) - 1
    w = np.concatenate([np.full(len(p), 0.5 ** (T - b)) for b, p in enumerate(parts)])
    Xs = np.concatenate(parts)
    assert dec.n_clusters_ == keep.n_clusters_ == 1
    np.testing.assert_allclose(dec.cluster_centers_[0], w @ Xs / w.sum(), rtol=1e-9)
    np.testing.assert_allclose(keep.cluster_centers_[0], Xs.mean(axis=0), rtol=1e-9)
    d_dec = np.linalg.norm(dec.cluster_centers_[0] - last[0])
    d_keep = np.linalg.norm(keep.cluster_centers_[0] - last[0])
    assert d_dec < d_keep / 5


def test_decay_follows_drifting_blobs():
    """Three drifting blobs (clusters split as they move): the centers that carry
    the weight end nearer the blobs' latest positions with decay 0.5 than with 1."""
    parts, last = _drifting(n_blobs=3)

    def miss(model):
        # Weighted mean distance of the centers to the nearest latest blob position
        # (by weight, so that clusters forgotten to ~0 weight do not count).
        d = np.sqrt(sqdist_to(model.cluster_centers_, last).min(axis=1))
        return float(model.counts_ @ d / model.counts_.sum())

    dec = DynamicKMeans(min_size=10, max_size=60, decay_factor=0.5, random_state=0)
    keep = DynamicKMeans(min_size=10, max_size=60, decay_factor=1.0, random_state=0)
    for Xb in parts:
        dec.partial_fit(Xb)
        keep.partial_fit(Xb)
    assert sum(dec.history_["n_splits"]) > 0
    assert miss(dec) < miss(keep) / 2
    # and every latest blob position has a decayed center near it.
    near = np.sqrt(sqdist_to(last, dec.cluster_centers_).min(axis=1))
    assert (near < 5.0).all()


def test_decay_zero_keeps_only_the_newest_batch():
    """decay_factor=0 "keeps only the newest batch": the state is that batch's."""
    rng = np.random.default_rng(0)
    m = DynamicKMeans(min_size=1, max_size=150, k_init=1, decay_factor=0.0, merge=False,
                      random_state=0)
    m.partial_fit(rng.normal(size=(140, 2)))
    m.partial_fit(rng.normal(size=(100, 2)))
    m.partial_fit(np.zeros((160, 2)))  # identical rows: 2-means cannot separate them
    assert np.isfinite(m.cluster_centers_).all()
    np.testing.assert_allclose(m.counts_.sum(), 160)
    assert m.counts_.max() <= 150
    assert m.history_["loss"][-1] == pytest.approx(0.0, abs=1e-12)


# ===========================================================================
# 10. keep_data=False
# ===========================================================================


def test_keep_data_false():
    X, _ = blob_stream(n=2000, d=5, centers=10, seed=18, dtype=np.float32)
    model = DynamicKMeans(min_size=20, max_size=50, keep_data=False, random_state=0)
    for Xb, _ in batches(X, 100):
        model.partial_fit(Xb)
        assert model.counts_.max() <= 50
        loss = model.history_["loss"][-1]
        assert np.isfinite(loss) and loss >= 0
        assert np.isfinite(model.cluster_centers_).all()
        # The perturbation split halves the weights and the sums: both totals kept.
        seen = X[: model.history_["n_seen"][-1]].astype(np.float64)
        np.testing.assert_allclose(model.counts_.sum(), seen.shape[0], rtol=1e-12)
        np.testing.assert_allclose(model.counts_ @ model.cluster_centers_.astype(np.float64),
                                   seen.sum(axis=0), rtol=1e-5, atol=1e-3 * seen.shape[0])
    assert sum(model.history_["n_splits"]) > 5
    with pytest.raises(AttributeError, match="keep_data"):
        _ = model.labels_
    assert model.predict(X).shape == (2000,)
    assert model.n_clusters_ == len(model.cluster_centers_) == len(model.cluster_ids_)


# ===========================================================================
# 11. refine_iter
# ===========================================================================


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refine_does_not_increase_loss(seed):
    """refine_iter=1 on a short stream: final loss <= without refine (same seed)."""
    X, _ = blob_stream(n=600, d=4, centers=6, std=2.5, seed=19 + seed)
    plain = stream(DynamicKMeans(min_size=20, max_size=80, random_state=seed), X, 60)
    refined = stream(DynamicKMeans(min_size=20, max_size=80, refine_iter=1, random_state=seed),
                     X, 60)
    assert refined.history_["loss"][-1] <= plain.history_["loss"][-1] * (1 + 1e-12)
    # The refined loss is still the exact SSE of the final assignment.
    sse = ((X - refined.cluster_centers_[refined.labels_]) ** 2).sum()
    np.testing.assert_allclose(refined.history_["loss"][-1], sse, rtol=1e-9)


def test_refine_needs_keep_data():
    X = np.random.default_rng(0).normal(size=(50, 2))
    m = DynamicKMeans(refine_iter=1, keep_data=False)
    with pytest.raises(ValueError, match="refine_iter"):
        m.partial_fit(X)
    with pytest.raises(ValueError, match="refine_iter"):
        m.fit(X)
    assert not m.__sklearn_is_fitted__()


# ===========================================================================
# 12. Bad parameters
# ===========================================================================


@pytest.mark.parametrize("params,err,match", [
    (dict(min_size=200, max_size=150), ValueError, "min_size"),
    (dict(min_size=0, max_size=0.5), ValueError, "max_size"),
    (dict(max_size=-3, min_size=-5), ValueError, "(min|max)_size"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(decay_factor=1.5), ValueError, "decay_factor"),
    (dict(decay_factor=-0.1), ValueError, "decay_factor"),
    (dict(decay_factor=np.nan), ValueError, "decay_factor"),
    (dict(half_life=0), ValueError, "half_life"),
    (dict(half_life=-2.0), ValueError, "half_life"),
    (dict(time_unit="hours"), ValueError, "time_unit"),
    (dict(k_init=0), ValueError, "k_init"),
    (dict(k_init=2.0), TypeError, "k_init"),
    (dict(refine_iter=-1), ValueError, "refine_iter"),
    (dict(refine_iter=True), TypeError, "refine_iter"),
    (dict(min_size="60"), TypeError, "min_size"),
    (dict(max_size=np.inf), ValueError, "max_size"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(random_state="seed"), TypeError, "random_state"),
    (dict(spherical="yes"), TypeError, "spherical"),
    (dict(spherical=1), TypeError, "spherical"),
])
def test_bad_parameters(params, err, match):
    X = np.random.default_rng(0).normal(size=(200, 3))
    for call in ("fit", "partial_fit"):
        m = DynamicKMeans(**params)
        with pytest.raises(err, match=match):
            getattr(m, call)(X)
        assert not m.__sklearn_is_fitted__()


def test_smallest_valid_sizes():
    """min_size=0, max_size=1 is allowed (1 <= max_size, min_size <= max_size); the
    seed's k_init formula would divide by (0 + 1) // 2 == 0."""
    X = np.random.default_rng(0).normal(size=(20, 2))
    m = DynamicKMeans(min_size=0, max_size=1, random_state=0).partial_fit(X)
    assert m.counts_.max() <= 1
    assert m.n_clusters_ == 20


# ===========================================================================
# 13. Identical points
# ===========================================================================


@pytest.mark.parametrize("keep_data", [True, False])
def test_identical_points(keep_data):
    """Copies of one point, max_size=10: the split falls back to halves; all <= 10."""
    X = np.tile([[1.5, -2.0, 3.0]], (500, 1))
    model = DynamicKMeans(min_size=2, max_size=10, keep_data=keep_data, random_state=0)
    for Xb, _ in batches(X, 50):
        model.partial_fit(Xb)
        assert model.counts_.max() <= 10
        np.testing.assert_allclose(model.counts_.sum(), model.history_["n_seen"][-1])
        np.testing.assert_allclose(model.cluster_centers_, np.tile(X[:1], (model.n_clusters_, 1)))
        assert model.history_["loss"][-1] == pytest.approx(0.0, abs=1e-9)
    assert model.n_clusters_ >= 50
    if keep_data:
        np.testing.assert_array_equal(np.bincount(model.labels_, minlength=model.n_clusters_),
                                      model.counts_)


# ===========================================================================
# 14. MNIST
# ===========================================================================


def test_mnist_stream_invariants(mnist_train):
    """The seed's setting: the first 5000 training images, batches of 100,
    min_size 60, max_size 150 (float32). Size bound, IDs and events after every
    batch; labels, means and the exact loss every 10th batch and at the end."""
    X = np.ascontiguousarray(mnist_train[0][:5000])
    assert X.dtype == np.float32
    model = DynamicKMeans(min_size=60, max_size=150, random_state=0)
    tracker = InvariantTracker(model, rtol=1e-5)
    for b, (Xb, _) in enumerate(batches(X, 100)):
        tracker.add(Xb, full=b % 10 == 9)  # the O(points seen) checks every 10th batch
    assert model.history_["n_seen"][-1] == 5000
    assert tracker.n_splits > 0
    assert model.n_clusters_ >= 5000 // 150


# ===========================================================================
# 13. Spherical (cosine) mode
# ===========================================================================


def sphere_stream(n=1500, d=6, centers=20, seed=0):
    """Blobs of directions: tight blobs far from the origin, scaled to unit rows."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n, n_features=d, centers=centers, cluster_std=0.6,
                      center_box=(-10, 10), random_state=seed)
    return unit(X), y


def test_spherical_on_unit_data_matches_the_plain_model():
    """On rows that are unit already, spherical and plain models see the same rows
    and the same seeding; they differ only in scaling the centers to unit norm,
    which on tight blobs of directions changes the partition very little."""
    X, _ = sphere_stream()
    params = dict(min_size=40, max_size=100, random_state=0)
    plain = stream(DynamicKMeans(**params), X, 100)
    sph = stream(DynamicKMeans(spherical=True, **params), X, 100)
    assert sum(sph.history_["n_splits"]) > 0 and sum(sph.history_["n_merges"]) > 0
    assert abs(sph.n_clusters_ - plain.n_clusters_) <= 2
    assert adjusted_rand_score(plain.labels_, sph.labels_) > 0.9
    # Each spherical center lies along the mean of its members, as the plain
    # model's centers (the means) do for theirs: the nearest plain center
    # direction is close in cosine.
    cos = sph.cluster_centers_ @ unit(plain.cluster_centers_).T
    assert np.median(cos.max(axis=1)) > 0.99
    np.testing.assert_allclose(np.linalg.norm(sph.cluster_centers_, axis=1), 1.0, rtol=1e-12)
    # The spherical loss is the SSE to unit centers, at least the plain one (the
    # means minimise the SSE of their members) but close to it.
    assert sph.history_["loss"][-1] >= 0.9 * plain.history_["loss"][-1]
    assert sph.history_["loss"][-1] <= 1.5 * plain.history_["loss"][-1]


@pytest.mark.parametrize("keep_data", [True, False])
def test_spherical_centers_are_unit_and_scale_does_not_matter(keep_data):
    """Rows of any length: centers always unit (after splits and merges, and
    without retained rows), and scaling rows changes nothing but rounding."""
    X, _ = blob_stream(n=1200, d=4, centers=8, std=1.0, seed=4)
    scale = np.random.default_rng(5).uniform(0.1, 20.0, (len(X), 1))
    params = dict(min_size=25, max_size=70, k_init=20, random_state=2, keep_data=keep_data,
                  spherical=True)
    a = stream(DynamicKMeans(**params), X, 60)
    b = stream(DynamicKMeans(**params), X * scale, 60)
    assert sum(a.history_["n_splits"]) > 0 and sum(a.history_["n_merges"]) > 0
    for m in (a, b):
        np.testing.assert_allclose(np.linalg.norm(m.cluster_centers_, axis=1), 1.0, rtol=1e-12)
    assert a.n_clusters_ == b.n_clusters_
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, atol=1e-9)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    if keep_data:
        np.testing.assert_array_equal(a.labels_, b.labels_)
    # The input was not changed (the unit rows are a copy).
    assert not np.allclose(np.linalg.norm(X, axis=1), 1.0)


def test_spherical_predict_transform_score_use_the_cosine():
    X, _ = blob_stream(n=900, d=5, centers=6, seed=7)
    m = stream(DynamicKMeans(min_size=30, max_size=80, random_state=0, spherical=True), X, 90)
    Xn = np.random.default_rng(8).normal(scale=5.0, size=(300, 5))
    Xn[0] = 0.0  # a zero row is at distance 1 from every unit center
    cos = unit(Xn) @ m.cluster_centers_.T
    pred = m.predict(Xn)
    np.testing.assert_allclose(cos[np.arange(300), pred], cos.max(axis=1), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pred[1:], m.predict(unit(Xn))[1:])
    T = m.transform(Xn)
    np.testing.assert_allclose(T[1:], np.sqrt(np.maximum(2 - 2 * cos[1:], 0)), atol=1e-7)
    np.testing.assert_allclose(T[0], 1.0)
    np.testing.assert_allclose(m.score(Xn), -(T.min(axis=1) ** 2).sum(), rtol=1e-9)


def test_spherical_batch_with_zero_rows():
    X, _ = blob_stream(n=300, d=3, centers=4, seed=1)
    X[::7] = 0.0
    m = stream(DynamicKMeans(min_size=10, max_size=40, random_state=0, spherical=True), X, 50)
    assert np.isfinite(m.cluster_centers_).all()
    norms = np.linalg.norm(m.cluster_centers_, axis=1)
    assert ((np.abs(norms - 1) < 1e-12) | (norms == 0)).all()
    assert np.isfinite(m.history_["loss"]).all()


def test_spherical_threads_do_not_change_the_result():
    X, _ = blob_stream(n=24000, d=8, centers=4, std=3.0, seed=9)
    params = dict(min_size=100, max_size=5000, random_state=5, spherical=True)
    one = stream(DynamicKMeans(n_threads=1, **params), X, 4000)
    two = stream(DynamicKMeans(n_threads=2, **params), X, 4000)
    assert sum(one.history_["n_splits"]) > 0
    assert_same_state(public_state(one), public_state(two))


def test_model_saved_before_spherical_existed_keeps_streaming():
    """State written before the parameter existed has no "spherical" entry."""
    X, _ = blob_stream(n=400, d=3, centers=4, seed=2)
    params = dict(min_size=20, max_size=50, random_state=0)
    old = stream(DynamicKMeans(**params), X[:200], 50)
    del old._p["spherical"]
    new = stream(DynamicKMeans(**params), X[:200], 50)
    stream(old, X[200:], 50)
    stream(new, X[200:], 50)
    assert_same_state(public_state(old), public_state(new))
