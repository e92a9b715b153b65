"""All or nothing, for every estimator: failed calls, interrupted batches, dtypes, ranges.

A call that raises -- bad input, a bad parameter, or a KeyboardInterrupt
injected inside the work (monkeypatched internal steps) -- must leave the
estimator bitwise as it was (every attribute, private ones and RandomStates
included), and running the same call again without the fault must give
bitwise what an uninterrupted run of the same sequence gives.
"""

import functools

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import dynkm._lloyd
import dynkm._rows
import dynkm.classifier
import dynkm.classifier.cluster_label
import dynkm.dynamic
import dynkm.kmeans
import dynkm.minibatch
import dynkm.soft
from dynkm import (
    ClusterLabelClassifier,
    DynamicKMeans,
    KMeans,
    KMeansClassifier,
    MiniBatchKMeans,
    SoftKMeans,
)
from dynkm._atomic import atomic, transaction, write

# ===========================================================================
# Helpers
# ===========================================================================

# DynamicKMeans keeps the rows seen in buffers with spare capacity: only the
# first ``_n_seen`` rows are state (the rest is scratch space, np.empty).
_ROW_BUFFERS = ("_data", "_point_ids", "_point_w", "_point_t")


def snapshot(est, timing=True):
    """A deep, comparable copy of ``vars(est)``: arrays copied, RandomStates as
    their state, objects by their own attributes. ``timing=False`` drops wall
    times (any key with "seconds"), for comparing two separate runs."""
    n_seen = vars(est).get("_n_seen")

    def copy(value, key=None):
        if type(value).__name__ == "_ScratchDir":
            return "a disk store's scratch directory"  # each run makes its own
        if type(value).__name__ == "MemberFile":
            # A disk store's member lists: what the store reads (its segments and their
            # members). The file past a segment's length is spare, as rows past n are.
            return ("MemberFile", copy({"segments": dict(value.segments), "end": value.end,
                                        "live": value.live, "members": {
                                            c: value.members(c) for c in value.segments}}))
        if isinstance(value, np.random.RandomState):
            return ("RandomState", copy(value.get_state()))
        if isinstance(value, np.ndarray):
            if key in _ROW_BUFFERS and n_seen is not None:
                value = value[:n_seen]
            return value.copy()
        if isinstance(value, dict):
            return {k: copy(v, k) for k, v in value.items()
                    if timing or "seconds" not in str(k)}
        if isinstance(value, (list, tuple)):
            return type(value)(copy(v) for v in value)
        if hasattr(value, "__dict__") and not isinstance(value, type):
            return (type(value).__name__, copy(vars(value)))
        return value

    return copy(dict(vars(est)))


def assert_same(a, b, path="state"):
    """Recursive bitwise equality of two :func:`snapshot` results (dtypes included)."""
    assert type(a) is type(b), path
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), (path, set(a) ^ set(b))
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == b or (a != a and b != b), path
    else:
        assert a == b, path


def blobs(n=600, d=4, centers=6, seed=0, dtype=np.float64):
    X, y = make_blobs(n, d, centers=centers, cluster_std=1.0, random_state=seed)
    return X.astype(dtype), y % 3


class Interrupt:
    """Patch ``owner.name`` so that its ``at``-th call raises KeyboardInterrupt,
    after the real call has done its work (RandomState draws included)."""

    def __init__(self, monkeypatch, owner, name, at=1):
        self.calls = 0
        self.armed = True
        real = getattr(owner, name)

        @functools.wraps(real)
        def patched(*args, **kwargs):
            result = real(*args, **kwargs)
            self.calls += 1
            if self.armed and self.calls == at:
                raise KeyboardInterrupt(f"injected in {name}")
            return result

        monkeypatch.setattr(owner, name, patched)

    def disarm(self):
        self.armed = False


def _rs(seed):
    return np.random.RandomState(seed)


# ===========================================================================
# 1. A failed refit leaves the estimator as it was
# ===========================================================================

SIX = {
    "KMeans": lambda: KMeans(3, random_state=0),
    "MiniBatchKMeans": lambda: MiniBatchKMeans(3, batch_size=32, random_state=0),
    "SoftKMeans": lambda: SoftKMeans(3, random_state=0),
    "DynamicKMeans": lambda: DynamicKMeans(min_size=10, max_size=40, random_state=0),
    "KMeansClassifier": lambda: KMeansClassifier(2, random_state=0),
    "ClusterLabelClassifier": lambda: ClusterLabelClassifier(3, random_state=0),
}


def _fit(est, X, y, **kw):
    return est.fit(X, y, **kw) if "Classifier" in type(est).__name__ else est.fit(X, **kw)


@pytest.mark.parametrize("name", SIX)
def test_failed_refit_leaves_the_estimator_as_it_was(name):
    """The issue's sequence with 50 features: the old code kept n_features_in_=50
    beside the 4-feature centers (then predict read past them)."""
    X4, y = blobs(200, 4)
    X50, _ = blobs(200, 50, seed=1)
    est = _fit(SIX[name](), X4, y)
    before = snapshot(est)
    predicted = est.predict(X4)
    with pytest.raises(ValueError, match="sample_weight"):
        _fit(est, X50, y, sample_weight=-np.ones(200))
    assert_same(before, snapshot(est))
    assert est.n_features_in_ == 4
    np.testing.assert_array_equal(est.predict(X4), predicted)
    with pytest.raises(ValueError, match="features"):
        est.predict(X50)


FIRST_BATCH_FAILURES = {
    # Valid input that fails after validation: the random init cannot draw
    # 3 distinct rows from the one row of positive weight.
    "MiniBatchKMeans": lambda: MiniBatchKMeans(3, init="random", random_state=0),
    "SoftKMeans": lambda: SoftKMeans(3, init="random", random_state=0),
    # A weight that fails validation after n_features_in_ was set.
    "DynamicKMeans": lambda: DynamicKMeans(random_state=0),
    "KMeansClassifier": lambda: KMeansClassifier(2, random_state=0),
}


@pytest.mark.parametrize("name", FIRST_BATCH_FAILURES)
def test_failed_first_partial_fit_leaves_the_estimator_unfitted(name):
    X, y = blobs(200)
    est = FIRST_BATCH_FAILURES[name]()
    fresh = snapshot(est)
    args = (X[:20], y[:20]) if "Classifier" in name else (X[:20],)
    w = np.r_[1.0, np.zeros(19)] if "init" in est.get_params() and est.init == "random" \
        else np.r_[-1.0, np.ones(19)]
    with pytest.raises(ValueError, match="sample_weight"):
        est.partial_fit(*args, sample_weight=w)
    assert_same(fresh, snapshot(est))
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    with pytest.raises(NotFittedError):
        est.predict(X)


@pytest.mark.parametrize("name", ["MiniBatchKMeans", "SoftKMeans"])
def test_first_partial_fit_interrupted_in_the_init_leaves_it_unfitted(name, monkeypatch):
    X, _ = blobs(200)
    module = dynkm.minibatch if name == "MiniBatchKMeans" else dynkm.soft
    est = SIX[name]().set_params(random_state=_rs(3))
    fresh = snapshot(est)
    fault = Interrupt(monkeypatch, module, "initial_centers")
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(X)
    assert_same(fresh, snapshot(est))  # the user's RandomState is rewound too
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    fault.disarm()
    clean = SIX[name]().set_params(random_state=_rs(3)).partial_fit(X)
    assert_same(snapshot(clean, timing=False), snapshot(est.partial_fit(X), timing=False))


def test_set_params_sets_all_or_none():
    est = KMeans(3)
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(n_clusters=5, no_such_parameter=1)
    assert est.n_clusters == 3


# ===========================================================================
# 2. Interrupted batches: rolled back, and the retry is the uninterrupted run
# ===========================================================================


def _check_interrupted(make, calls, faulty, patch, monkeypatch):
    """Run ``calls`` then ``faulty`` on two estimators from ``make()``: on one,
    ``patch(monkeypatch)`` makes ``faulty`` raise KeyboardInterrupt; its state
    must be bitwise as before, and ``faulty`` run again without the fault
    must leave it bitwise equal to the other (uninterrupted) one."""
    clean, est = make(), make()
    for call in calls:
        call(clean)
        call(est)
    before = snapshot(est)
    fault = patch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        faulty(est)
    assert fault.calls >= 1
    assert_same(before, snapshot(est))
    fault.disarm()
    faulty(est)
    faulty(clean)
    assert_same(snapshot(clean, timing=False), snapshot(est, timing=False))


X_STREAM, Y_STREAM = blobs(900, 4, centers=8, seed=5)
BATCHES = [slice(i, i + 150) for i in range(0, 900, 150)]


def _stream_calls(n, with_y=False):
    def call(b):
        if with_y:
            return lambda est: est.partial_fit(X_STREAM[b], Y_STREAM[b], classes=[0, 1, 2])
        return lambda est: est.partial_fit(X_STREAM[b])
    return [call(b) for b in BATCHES[:n]], call(BATCHES[n])


def _refit(est):
    X, y = blobs(500, 4, seed=9)
    return est.fit(X, y) if "Classifier" in type(est).__name__ else est.fit(X)


# (make, n earlier batches (None: fit then refit), owner, function, which call raises)
INTERRUPTS = {
    "kmeans-fit-lloyd-step": (lambda: KMeans(4, n_init=3, random_state=_rs(1)), None,
                              dynkm._rows, "lloyd_step", 5),
    "kmeans-fit-init": (lambda: KMeans(4, n_init=3, random_state=_rs(1)), None,
                        dynkm.kmeans, "initial_centers", 2),
    "soft-fit-em-step": (lambda: SoftKMeans(4, n_init=2, random_state=_rs(1)), None,
                         dynkm.soft, "_em_step", 4),
    "soft-fit-minibatch-epoch": (lambda: SoftKMeans(4, batch_size=64, random_state=_rs(1)),
                                 None, dynkm.soft, "_minibatch_epoch", 2),
    "soft-partial-fit-step": (lambda: SoftKMeans(4, random_state=_rs(1)), 3,
                              dynkm.soft, "_soft_minibatch_step", 1),
    "minibatch-fit-reassign": (lambda: MiniBatchKMeans(5, batch_size=50, random_state=_rs(1)),
                               None, dynkm.minibatch, "_reassign", 3),
    "minibatch-partial-fit-reassign": (
        lambda: MiniBatchKMeans(5, random_state=_rs(1)), 3, dynkm.minibatch, "_reassign", 1),
    "minibatch-partial-fit-record": (
        lambda: MiniBatchKMeans(5, random_state=_rs(1)), 3, dynkm.minibatch, "_record", 1),
    # With these data and parameters the fifth batch splits 4 clusters and merges 2.
    "dynamic-partial-fit-split": (
        lambda: DynamicKMeans(min_size=15, max_size=40, decay_factor=0.9, random_state=_rs(0)),
        4, dynkm.dynamic, "split_members", 2),
    "dynamic-partial-fit-split-summary": (
        lambda: DynamicKMeans(min_size=15, max_size=40, store="summary", random_state=_rs(1)),
        3, DynamicKMeans, "_split_sampled", 2),
    "dynamic-partial-fit-split-disk": (
        lambda: DynamicKMeans(min_size=15, max_size=40, store="disk", decay_factor=0.9,
                              random_state=_rs(0)),
        4, dynkm.dynamic, "split_members", 2),
    "dynamic-partial-fit-merge": (
        lambda: DynamicKMeans(min_size=15, max_size=40, decay_factor=0.9, random_state=_rs(0)),
        4, DynamicKMeans, "_merge", 2),
    "dynamic-partial-fit-refine": (
        lambda: DynamicKMeans(min_size=15, max_size=40, refine_iter=1, random_state=_rs(1)),
        3, DynamicKMeans, "_refine", 1),
    "dynamic-fit-split": (
        lambda: DynamicKMeans(min_size=15, max_size=40, batch_size=100, random_state=_rs(1)),
        None, dynkm.dynamic, "split_members", 6),
    "classifier-fit-per-class": (
        lambda: KMeansClassifier(3, merge_threshold=0.5, random_state=_rs(1)), None,
        KMeansClassifier, "_fit_class", 2),
    "classifier-fit-merge": (
        lambda: KMeansClassifier(3, merge_threshold=1.0, lambda_penalty=0.1,
                                 random_state=_rs(1)), None, KMeansClassifier, "_merge", 1),
    # 60 prototypes per class: the first batch's 50 rows per class cannot seed them all.
    "classifier-partial-fit-seed": (
        lambda: KMeansClassifier(60, init="random", random_state=_rs(1)), 1,
        KMeansClassifier, "_seed_more", 1),
    "classifier-partial-fit-merge": (
        lambda: KMeansClassifier(3, merge_threshold=1.0, random_state=_rs(1)), 2,
        KMeansClassifier, "_merge", 1),
    "cluster-label-fit-run": (
        lambda: ClusterLabelClassifier(6, n_init=3, random_state=_rs(1)), None,
        dynkm.classifier.cluster_label, "kmeans_run", 2),
}


@pytest.mark.parametrize("case", INTERRUPTS)
def test_interrupted_call_rolls_back_and_the_retry_is_exact(case, monkeypatch):
    make, n_batches, owner, name, at = INTERRUPTS[case]
    if n_batches is None:
        calls, faulty = [_refit], lambda est: _fit(est, X_STREAM, Y_STREAM)
    else:
        calls, faulty = _stream_calls(n_batches, with_y="classifier" in case)
    _check_interrupted(make, calls, faulty,
                       lambda mp: Interrupt(mp, owner, name, at), monkeypatch)


def test_dynamic_interrupted_batch_really_had_changed_the_state(monkeypatch):
    """The interruption in a split strikes after sums were decayed, rows stored
    and ``n_seen`` advanced: without the rollback all of that would stay."""
    est = DynamicKMeans(min_size=15, max_size=40, decay_factor=0.9, random_state=0)
    for b in BATCHES[:4]:
        est.partial_fit(X_STREAM[b])
    n_seen, loss = est._n_seen, list(est.history_["loss"])
    seen = {}

    def split_then_interrupt(*args, **kwargs):
        seen["n_seen"] = est._n_seen
        raise KeyboardInterrupt

    monkeypatch.setattr(dynkm.dynamic, "split_members", split_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(X_STREAM[BATCHES[4]])
    assert seen["n_seen"] == n_seen + 150
    assert est._n_seen == n_seen and est.history_["loss"].tolist() == loss


def test_dynamic_batch_does_not_copy_the_retained_rows():
    """Copy-on-write stops at the per-cluster state: the rows seen are appended
    into spare capacity, not copied per batch."""
    est = DynamicKMeans(min_size=15, max_size=40, random_state=0)
    est.partial_fit(X_STREAM[:150])
    cols = est._points.cols
    assert cols["_data"].shape[0] >= 300
    est.partial_fit(X_STREAM[150:300])
    assert all(est._points.cols[name] is a for name, a in cols.items())


# ===========================================================================
# 3. Dtypes and ranges
# ===========================================================================

STREAMING = {
    "MiniBatchKMeans": lambda: MiniBatchKMeans(3, random_state=0),
    "SoftKMeans": lambda: SoftKMeans(3, random_state=0),
    "DynamicKMeans": lambda: DynamicKMeans(min_size=10, max_size=40, random_state=0),
    "KMeansClassifier": lambda: KMeansClassifier(2, random_state=0),
}


def _partial_fit(est, X, y=None):
    if isinstance(est, KMeansClassifier):
        return est.partial_fit(X, y)
    return est.partial_fit(X)


@pytest.mark.parametrize("name", STREAMING)
def test_float64_batch_beyond_float32_is_rejected(name):
    X, y = blobs(200, dtype=np.float32)
    est = _partial_fit(STREAMING[name](), X[:100], y[:100])
    before = snapshot(est)
    big = X[100:].astype(np.float64)
    big[7, 2] = 1e39
    with pytest.raises(ValueError, match="X does not fit in float32"):
        _partial_fit(est, big, y[100:])
    assert_same(before, snapshot(est))


def test_float32_classifier_rejects_float64_beyond_its_range_in_fit():
    X, y = blobs(200)
    X[3, 1] = 1e39
    with pytest.raises(ValueError, match="X does not fit in float32"):
        KMeansClassifier(2, dtype="float32").fit(X, y)


@pytest.mark.parametrize("first, second", [(np.float32, np.float64), (np.float64, np.float32)])
def test_soft_kmeans_keeps_its_dtype_on_a_batch_of_the_other(first, second):
    X, _ = blobs(300)
    a = SoftKMeans(3, random_state=0).partial_fit(X[:150].astype(first))
    b = SoftKMeans(3, random_state=0).partial_fit(X[:150].astype(first))
    a.partial_fit(X[150:].astype(second))
    b.partial_fit(X[150:].astype(second).astype(first))
    assert a.cluster_centers_.dtype == first
    assert_same(snapshot(b), snapshot(a))


HUGE = {
    "float32 x 1e20": lambda X: X.astype(np.float32) * np.float32(1e20),
    "float64 x 1e154": lambda X: X * 1e154,
}


@pytest.mark.parametrize("scale", HUGE)
@pytest.mark.parametrize("name", SIX)
def test_data_too_large_for_its_dtype_is_rejected(name, scale):
    """Finite data whose squared norms overflow used to give NaN inertia (and
    NaN centers); now fit and partial_fit say what is wrong with X."""
    X, y = blobs(200)
    est = SIX[name]()
    fresh = snapshot(est)
    with pytest.raises(ValueError, match="X is too large for float"):
        _fit(est, HUGE[scale](X), y)
    assert_same(fresh, snapshot(est))
    if hasattr(est, "partial_fit"):
        with pytest.raises(ValueError, match="X is too large for float"):
            _partial_fit(est, HUGE[scale](X), y)
        assert_same(fresh, snapshot(est))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SIX)
def test_data_just_inside_the_range_gives_finite_results(name, dtype):
    """The bound is not too tight: data at a quarter of the limit fits, with finite
    centers, inertia and predictions. (float32: the largest squared norm is a
    quarter of float32's limit; float64: the sum of the squared norms is a
    quarter of float64's.)"""
    X, y = blobs(200)
    X = X - X.mean(axis=0)
    sq = (X ** 2).sum(axis=1)
    limit = float(np.finfo(dtype).max) / 16
    X = (X * np.sqrt(limit / 4 / (sq.max() if dtype == np.float32 else sq.sum()))).astype(dtype)
    est = _fit(SIX[name](), X, y)
    centers = getattr(est, "cluster_centers_", getattr(est, "prototypes_", None))
    assert np.isfinite(centers).all()
    if hasattr(est, "inertia_"):
        assert np.isfinite(est.inertia_)
    if hasattr(est, "score") and not hasattr(est, "classes_"):
        assert np.isfinite(est.score(X))
    assert len(est.predict(X)) == len(X)


def test_predict_rejects_rows_too_large_for_the_dtype():
    X, _ = blobs(200, dtype=np.float32)
    km = KMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X is too large for float32"):
        km.predict(X * np.float32(1e20))


def test_too_large_weights_are_rejected():
    X, _ = blobs(200)
    X *= 1e150 / np.abs(X).max()
    with pytest.raises(ValueError, match="sample_weight is too large"):
        KMeans(3).fit(X, sample_weight=np.full(200, 1e10))


def test_init_centers_too_large_are_rejected():
    X, _ = blobs(200, dtype=np.float32)
    with pytest.raises(ValueError, match="init is too large for float32"):
        KMeans(2, init=np.full((2, 4), 1e19, dtype=np.float32)).fit(X)


# ===========================================================================
# 4. Errors that name their argument
# ===========================================================================


@pytest.mark.parametrize("make", [
    lambda: KMeans(4, init="random", n_init=1),
    lambda: SoftKMeans(4, init="random", n_init=1),
    lambda: MiniBatchKMeans(4, init="random", n_init=1, batch_size=200),
], ids=["KMeans", "SoftKMeans", "MiniBatchKMeans"])
def test_random_init_with_fewer_positive_weights_than_clusters(make):
    X, _ = blobs(100)
    w = np.zeros(100)
    w[[3, 50, 70]] = 1.0
    with pytest.raises(ValueError, match=r"n_clusters=4.*sample_weight"):
        make().fit(X, sample_weight=w)


INT_PARAMS = {
    KMeans: ["n_clusters", "max_iter", "n_init", "check_every", "n_threads"],
    MiniBatchKMeans: ["n_clusters", "batch_size", "max_iter", "n_init", "init_size",
                      "max_no_improvement", "n_threads"],
    SoftKMeans: ["n_clusters", "max_iter", "n_init", "batch_size", "n_threads"],
    DynamicKMeans: ["batch_size", "k_init", "refine_iter", "n_threads"],
    KMeansClassifier: ["k_init", "max_iter", "batch_size", "n_threads"],
    ClusterLabelClassifier: ["n_clusters", "max_iter", "n_init", "n_threads"],
}


@pytest.mark.parametrize("value", [2 ** 31, 2 ** 63])
@pytest.mark.parametrize("cls, param", [(c, p) for c, ps in INT_PARAMS.items() for p in ps],
                         ids=[f"{c.__name__}-{p}" for c, ps in INT_PARAMS.items() for p in ps])
def test_integer_parameters_beyond_int32_name_themselves(cls, param, value):
    X, y = blobs(100)
    est = cls(**{param: value})
    with pytest.raises(ValueError, match=f"{param} must be <= 2147483647"):
        _fit(est, X, y)


# ===========================================================================
# 5. The mechanism itself
# ===========================================================================


class _Toy:
    def __init__(self):
        self.a = np.arange(5.0)
        self.big = np.zeros(10)
        self.log = [1, 2]
        self.table = {"x": [1], "y": 2}
        self.rng = np.random.RandomState(0)

    @atomic
    def change(self, fail):
        self.a = self.a + 1
        self.added = True
        self.log.append(3)
        self.table["x"].append(9)
        self.table["z"] = 1
        del self.table["y"]
        self.rng.random_sample(10)
        write(self, self.big, [2, 3], 7.0)
        self.inner(fail)

    @atomic
    def inner(self, fail):
        write(self, self.big, 5, 1.0)
        if fail:
            raise KeyboardInterrupt


def test_transaction_restores_everything_the_rules_allow():
    toy = _Toy()
    before = snapshot(toy)
    with pytest.raises(KeyboardInterrupt):
        toy.change(fail=True)
    assert_same(before, snapshot(toy))
    toy.change(fail=False)
    assert toy.added and toy.log == [1, 2, 3] and toy.table == {"x": [1, 9], "z": 1}
    np.testing.assert_array_equal(toy.big, [0, 0, 7, 7, 0, 1, 0, 0, 0, 0])


def test_nested_success_hands_its_journal_to_the_outer_call():
    toy = _Toy()
    with pytest.raises(RuntimeError):
        with transaction(toy):
            toy.inner(fail=False)        # succeeds: its write is the outer call's now
            raise RuntimeError
    np.testing.assert_array_equal(toy.big, np.zeros(10))


def test_global_random_state_is_not_rewound():
    """numpy's global RandomState (random_state=None) may serve other threads."""

    class Uses:
        def __init__(self):
            self.rng = np.random.mtrand._rand

    obj = Uses()
    replay = np.random.RandomState()
    replay.set_state(np.random.get_state())
    with pytest.raises(KeyboardInterrupt):
        with transaction(obj):
            np.random.random_sample(3)
            raise KeyboardInterrupt
    replay.random_sample(3)
    assert np.random.random_sample() == replay.random_sample()
