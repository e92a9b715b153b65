"""dynkm.minibatch.MiniBatchKMeans: Sculley's mini-batch k-means.

The references are a plain NumPy re-implementation of one step written here
(:func:`sculley_step`, in Sculley's per-row form: each row moves its center by
``w / count`` of the way), scikit-learn's ``MiniBatchKMeans`` (same draws from
the same RandomState, so the same steps from the same initial centers) and the
full k-means inertia; never numbers produced once by our own code.
"""

import pickle
import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans as SKMiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import check_estimator

from dynkm import KMeans
from dynkm.minibatch import MiniBatchKMeans

# ===========================================================================
# Helpers
# ===========================================================================


def _init_rows(X, k, seed=0):
    return X[np.random.default_rng(seed).choice(X.shape[0], k, replace=False)].copy()


def _untie(X, seed=0):
    """Integer pixels make exact distance ties common; jitter far above rounding
    makes comparisons with scikit-learn about the algorithm, not about ties."""
    return X + np.random.default_rng(seed).uniform(0, 1e-3, X.shape)


def sculley_step(X, C, counts, w=None, ratio=0.0, rng=None, reassign=False):
    """One mini-batch step in plain NumPy (float64).

    Labels from the centers the step starts from; then, row by row, the count
    of the row's center grows by its weight and the center moves ``w / count``
    of the way to it (Sculley 2010, Algorithm 1, with weights). Then
    scikit-learn's low-count reassignment. Returns centers, counts, inertia,
    number reassigned.
    """
    X = np.asarray(X, dtype=np.float64)
    C = np.array(C, dtype=np.float64)
    counts = np.array(counts, dtype=np.float64)
    n = X.shape[0]
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    D = ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    labels = D.argmin(axis=1)
    inertia = float((w * D[np.arange(n), labels]).sum())
    for x, j, wi in zip(X, labels, w, strict=False):
        if wi > 0:
            counts[j] += wi
            eta = wi / counts[j]
            C[j] = (1 - eta) * C[j] + eta * x
    n_re = 0
    if reassign and ratio > 0:
        low = counts < ratio * counts.max()
        if low.sum() > 0.5 * n:
            low[np.argsort(counts)[int(0.5 * n):]] = False
        n_re = int(low.sum())
        if n_re:
            C[low] = X[rng.choice(n, replace=False, size=n_re)]
            counts[low] = counts[~low].min()
    return C, counts, inertia, n_re


def full_inertia(X, C, w=None):
    D = ((X[:, None, :].astype(np.float64) - C[None, :, :]) ** 2).sum(axis=2).min(axis=1)
    return float(D.sum() if w is None else (w * D).sum())


def state(model):
    """Every attribute, private ones (RandomState included) too, as bytes;
    wall times removed."""
    d = dict(vars(model))
    if "history_" in d:
        d["history_"] = {k: v for k, v in d["history_"].items()
                         if k not in ("seconds", "init_seconds")}
    return pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL)


def assert_same_fit(a, b):
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.counts_, b.counts_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    assert a.n_steps_ == b.n_steps_
    for key in ("batch_inertia", "ewa_inertia", "center_shift", "n_reassigned"):
        np.testing.assert_array_equal(a.history_[key], b.history_[key], err_msg=key)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(4000, n_features=8, centers=10, cluster_std=1.5, random_state=0)
    return X


# ===========================================================================
# 1. The step against references
# ===========================================================================


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_steps_equal_numpy_reference(blobs, weighted, dtype):
    """Two partial_fit steps from given centers = Sculley's per-row update."""
    X = blobs[:600].astype(dtype)
    # Weights are used in X's dtype: the reference gets the same values.
    w = np.random.default_rng(1).uniform(0.2, 3.0, 600).astype(dtype) if weighted else None
    C0 = _init_rows(X, 7, seed=2)
    model = MiniBatchKMeans(7, init=C0, reassignment_ratio=0.0)
    C, counts = C0.astype(np.float64), np.zeros(7)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    for part in (slice(0, 250), slice(250, 600)):
        wb = None if w is None else w[part]
        model.partial_fit(X[part], sample_weight=wb)
        C, counts, inertia, _ = sculley_step(X[part], C, counts, wb)
        assert model.cluster_centers_.dtype == dtype
        np.testing.assert_allclose(model.cluster_centers_, C, rtol=rtol, atol=rtol * 10)
        np.testing.assert_allclose(model.counts_, counts, rtol=1e-12)
        batch_weight = part.stop - part.start if wb is None else wb.sum()
        batch_inertia = model.history_["batch_inertia"][-1] * batch_weight
        assert batch_inertia == pytest.approx(inertia, rel=rtol * 10)
        # labels_/inertia_ of partial_fit: the batch against the new centers.
        assert model.inertia_ == pytest.approx(full_inertia(X[part], C, wb), rel=rtol * 10)
    assert model.n_steps_ == 2
    assert model.history_["n_reassigned"].tolist() == [0, 0]


def test_low_count_center_reassigned_as_reference():
    """A center that gets 2 of 1002 rows (< 1% of the heaviest) is moved to a
    random row of the batch, and its count reset to the smallest other count."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (500, 3)), rng.normal(20, 1, (500, 3)),
                   rng.normal([0, 40, 0], 0.1, (2, 3))])
    C0 = np.array([[0.0, 0, 0], [20, 20, 20], [0, 40, 0]])
    model = MiniBatchKMeans(3, init=C0, random_state=5).partial_fit(X)
    C, counts, _, n_re = sculley_step(X, C0, np.zeros(3), ratio=0.01,
                                      rng=np.random.RandomState(5), reassign=True)
    assert n_re == 1
    assert model.history_["n_reassigned"] == [1]
    np.testing.assert_allclose(model.cluster_centers_, C, rtol=1e-12)
    np.testing.assert_array_equal(model.counts_, counts)
    assert model.counts_[2] == 500.0
    # Moved onto a row of the batch, away from the tiny group.
    assert (np.abs(X - model.cluster_centers_[2]).sum(axis=1) == 0).any()
    assert model.cluster_centers_[2, 1] < 30


def test_dead_center_reassigned_in_fit_and_partial_fit(blobs):
    C0 = _init_rows(blobs, 10, seed=3)
    C0[4] = 1e4  # far from every row: it never receives weight
    fitted = MiniBatchKMeans(10, init=C0, batch_size=256, random_state=0).fit(blobs)
    assert fitted.history_["n_reassigned"][0] == 1
    assert (np.abs(fitted.cluster_centers_) < np.abs(blobs).max()).all()
    assert np.bincount(fitted.labels_, minlength=10).min() > 0

    streamed = MiniBatchKMeans(10, init=C0, random_state=0)
    for start in range(0, 2000, 200):
        streamed.partial_fit(blobs[start:start + 200])
    assert streamed.history_["n_reassigned"][0] == 1
    assert sum(streamed.history_["n_reassigned"]) >= 1
    assert (np.abs(streamed.cluster_centers_) < np.abs(blobs).max()).all()


def test_no_reassignment_when_ratio_is_zero(blobs):
    C0 = _init_rows(blobs, 10, seed=3)
    C0[4] = 1e4
    model = MiniBatchKMeans(10, init=C0, batch_size=256, reassignment_ratio=0.0,
                            random_state=0).fit(blobs)
    assert sum(model.history_["n_reassigned"]) == 0
    np.testing.assert_array_equal(model.cluster_centers_[4], C0[4])
    assert model.counts_[4] == 0


# ===========================================================================
# 2. Against scikit-learn's MiniBatchKMeans
# ===========================================================================


def _sk(X, k, sample_weight=None, **kw):
    return SKMiniBatchKMeans(k, **kw).fit(X, sample_weight=sample_weight)


@pytest.mark.parametrize("kw", [
    dict(max_no_improvement=None, max_iter=3),  # every step of 3 epochs
    dict(),                                      # the default early stop
    dict(tol=1e-3),                              # the center-change stop
])
def test_same_steps_as_sklearn_from_same_init(digits, kw):
    """Same initial centers and random_state: same batches, same steps, same stop."""
    X = _untie(digits[0])
    C0 = _init_rows(X, 10)
    ours = MiniBatchKMeans(10, init=C0, batch_size=256, random_state=3, **kw).fit(X)
    ref = _sk(X, 10, init=C0, batch_size=256, random_state=3, **kw)
    assert ours.n_steps_ == ref.n_steps_
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(ours.counts_, ref._counts)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_same_result_as_sklearn_weighted_with_reassignment(blobs, init):
    """Weighted draws, k-means++ / random (3 inits) on a subsample, and
    reassignments (batches of 10 * n_clusters rows: a reassignment check at every step)."""
    w = np.random.default_rng(4).uniform(0.1, 3.0, blobs.shape[0])
    kw = dict(batch_size=120, max_iter=2, init=init, random_state=1, reassignment_ratio=0.3)
    ours = MiniBatchKMeans(12, **kw).fit(blobs, sample_weight=w)
    ref = _sk(blobs, 12, sample_weight=w, **kw)
    assert sum(ours.history_["n_reassigned"]) > 0
    assert ours.n_steps_ == ref.n_steps_
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)


def test_partial_fit_same_as_sklearn(blobs):
    C0 = _init_rows(blobs, 6, seed=1)
    C0[0] = 100.0  # reassigned at the first step, with scikit-learn's RandomState call
    ours = MiniBatchKMeans(6, init=C0, random_state=2)
    ref = SKMiniBatchKMeans(6, init=C0, random_state=2)
    # Batches of 40 < 10 * n_clusters rows: the first step reassigns because a
    # count is 0, later ones every second batch.
    for start in range(0, 2000, 40):
        ours.partial_fit(blobs[start:start + 40])
        ref.partial_fit(blobs[start:start + 40])
    assert ours.history_["n_reassigned"][0] == 1
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(ours.counts_, ref._counts)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)


@pytest.mark.parametrize("dataset", ["blobs", "digits"])
def test_inertia_comparable_to_sklearn_and_near_full_kmeans(dataset, blobs, digits):
    X, k, batch = (blobs, 10, 512) if dataset == "blobs" else (digits[0], 10, 256)
    ours = [MiniBatchKMeans(k, batch_size=batch, random_state=s).fit(X).inertia_ for s in range(4)]
    theirs = [_sk(X, k, batch_size=batch, random_state=s).inertia_ for s in range(4)]
    full = KMeans(k, n_init=3, random_state=0).fit(X).inertia_
    assert np.mean(ours) <= 1.05 * np.mean(theirs)
    assert np.mean(ours) <= 1.10 * full
    assert np.mean(theirs) <= 1.10 * full


def test_mnist_one_epoch_close_to_sklearn(mnist_train):
    X = mnist_train[0][:10000]
    for seed in range(2):
        ours = MiniBatchKMeans(10, batch_size=1000, max_iter=1, random_state=seed).fit(X)
        ref = _sk(X, 10, batch_size=1000, max_iter=1, random_state=seed)
        assert ours.cluster_centers_.dtype == X.dtype
        assert ours.n_steps_ == 10
        assert abs(ours.inertia_ / ref.inertia_ - 1) <= 0.10


# ===========================================================================
# 3. Streaming, weights, dtypes, reproducibility
# ===========================================================================


def test_partial_fit_stream_improves_inertia(blobs):
    model = MiniBatchKMeans(10, random_state=0)
    scores = []
    for start in range(0, blobs.shape[0], 200):
        model.partial_fit(blobs[start:start + 200])
        scores.append(-model.score(blobs))
    assert model.n_steps_ == len(model.history_["batch_inertia"]) == blobs.shape[0] // 200
    assert scores[-1] < scores[0]
    assert scores[-1] <= 1.10 * KMeans(10, n_init=3, random_state=0).fit(blobs).inertia_
    assert np.isnan(model.history_["ewa_inertia"]).all()
    assert model.labels_.shape == (200,)


def test_fit_then_partial_fit_continues(blobs):
    model = MiniBatchKMeans(10, batch_size=256, random_state=0).fit(blobs[:3000])
    steps, centers = model.n_steps_, model.cluster_centers_
    counts_before = model.counts_.sum()
    model.partial_fit(blobs[3000:3300])
    assert model.n_steps_ == steps + 1
    assert len(model.history_["batch_inertia"]) == steps + 1
    assert model.counts_.sum() >= counts_before + 300  # a reassignment only raises counts
    assert not np.array_equal(model.cluster_centers_, centers)
    assert centers is not model.cluster_centers_  # the old array was not modified in place


def test_weighted_equals_repeated_for_one_step():
    X, _ = make_blobs(300, n_features=5, centers=6, random_state=0)
    w = np.random.default_rng(0).integers(1, 4, X.shape[0])
    C0 = _init_rows(X, 6)
    a = MiniBatchKMeans(6, init=C0, random_state=0).partial_fit(X, sample_weight=w)
    b = MiniBatchKMeans(6, init=C0, random_state=0).partial_fit(np.repeat(X, w, axis=0))
    assert a.history_["n_reassigned"].tolist() == b.history_["n_reassigned"].tolist() == [0]
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)
    np.testing.assert_array_equal(a.counts_, b.counts_)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-12)


def test_zero_weight_rows_are_never_drawn_in_fit(blobs):
    """Batches are drawn in proportion to the weights: far outliers of weight 0
    never reach a batch, a center or a reassignment."""
    X = np.vstack([blobs, np.full((400, blobs.shape[1]), 1e4)])
    w = np.r_[np.ones(blobs.shape[0]), np.zeros(400)]
    model = MiniBatchKMeans(10, batch_size=50, max_iter=3, max_no_improvement=None,
                            init="random", reassignment_ratio=0.2, random_state=0)
    model.fit(X, sample_weight=w)
    assert sum(model.history_["n_reassigned"]) > 0
    assert np.abs(model.cluster_centers_).max() < np.abs(blobs).max()
    assert model.counts_.sum() >= model.n_steps_ * 50
    assert model.inertia_ == pytest.approx(full_inertia(X, model.cluster_centers_, w), rel=1e-9)


def test_float32_kept_and_close_to_float64(digits):
    X = digits[0]
    C0 = _init_rows(X, 10)
    f64 = MiniBatchKMeans(10, init=C0, batch_size=256, random_state=0).fit(X)
    f32 = MiniBatchKMeans(10, init=C0, batch_size=256, random_state=0).fit(X.astype(np.float32))
    assert f32.cluster_centers_.dtype == np.float32
    assert f32.transform(X.astype(np.float32)).dtype == np.float32
    assert f32.counts_.dtype == np.float64
    assert f32.inertia_ == pytest.approx(f64.inertia_, rel=0.02)
    stream = MiniBatchKMeans(10, random_state=0).partial_fit(X[:500].astype(np.float32))
    stream.partial_fit(X[500:1000])  # float64 batch: cast to the model's float32
    assert stream.cluster_centers_.dtype == np.float32


def test_reproducible_and_thread_independent():
    # 64 features x 16 centers x 2048 rows: the steps run on 2 threads.
    X, _ = make_blobs(8000, n_features=64, centers=16, random_state=3)
    kw = dict(batch_size=2048, max_iter=3, max_no_improvement=None, random_state=7)
    a = MiniBatchKMeans(16, n_threads=1, **kw).fit(X)
    b = MiniBatchKMeans(16, n_threads=2, **kw).fit(X)
    c = MiniBatchKMeans(16, n_threads=2, **kw).fit(X)
    assert_same_fit(a, b)
    assert_same_fit(b, c)
    s1 = MiniBatchKMeans(16, n_threads=1, random_state=7)
    s2 = MiniBatchKMeans(16, n_threads=2, random_state=7)
    for start in range(0, 8000, 2000):
        s1.partial_fit(X[start:start + 2000])
        s2.partial_fit(X[start:start + 2000])
    assert_same_fit(s1, s2)
    d = MiniBatchKMeans(16, n_threads=1, **{**kw, "random_state": 8}).fit(X)
    assert not np.array_equal(a.cluster_centers_, d.cluster_centers_)


# ===========================================================================
# 4. API: methods, stopping, inits
# ===========================================================================


def test_methods_and_attributes(blobs):
    w = np.random.default_rng(0).uniform(0.5, 2.0, blobs.shape[0])
    model = MiniBatchKMeans(10, batch_size=300, random_state=0)
    labels = model.fit_predict(blobs, sample_weight=w)
    np.testing.assert_array_equal(labels, model.labels_)
    np.testing.assert_array_equal(model.predict(blobs), labels)
    assert model.inertia_ == pytest.approx(full_inertia(blobs, model.cluster_centers_, w), rel=1e-9)
    assert model.score(blobs, sample_weight=w) == pytest.approx(-model.inertia_, rel=1e-12)
    D = model.transform(blobs[:50])
    ref = np.sqrt(((blobs[:50, None] - model.cluster_centers_[None]) ** 2).sum(axis=2))
    np.testing.assert_allclose(D, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        MiniBatchKMeans(10, batch_size=300, random_state=0).fit_transform(blobs, sample_weight=w),
        model.transform(blobs), rtol=1e-12)
    assert model.n_iter_ == int(np.ceil(model.n_steps_ * 300 / blobs.shape[0]))
    assert set(model.history_) == {"batch_inertia", "ewa_inertia", "center_shift", "seconds",
                                   "n_reassigned", "init_seconds"}
    for key in ("batch_inertia", "ewa_inertia", "center_shift", "seconds", "n_reassigned"):
        assert len(model.history_[key]) == model.n_steps_
    assert np.isnan(model.history_["ewa_inertia"][0])
    assert np.isfinite(model.history_["ewa_inertia"][1:]).all()
    assert model.get_feature_names_out().tolist() == [f"minibatchkmeans{i}" for i in range(10)]


def test_stopping_rules(blobs):
    kw = dict(batch_size=100, max_iter=20, random_state=0)
    n_max = 20 * blobs.shape[0] // 100
    early = MiniBatchKMeans(10, **kw).fit(blobs)
    full = MiniBatchKMeans(10, max_no_improvement=None, **kw).fit(blobs)
    assert early.n_steps_ < n_max
    assert full.n_steps_ == n_max and full.n_iter_ == 20
    # The early stop is when the smoothed inertia had not improved for 10 steps.
    ewa = np.asarray(early.history_["ewa_inertia"])
    assert ewa[-10:].min() >= np.nanmin(ewa[:-10])
    by_tol = MiniBatchKMeans(10, tol=1e-2, max_no_improvement=None, **kw).fit(blobs)
    assert by_tol.n_steps_ < n_max
    tol = 1e-2 * blobs.var(axis=0).mean()
    assert by_tol.history_["center_shift"][-1] <= tol
    assert min(by_tol.history_["center_shift"][1:-1], default=np.inf) > tol


def test_verbose_prints_scikit_learns_lines(blobs, capsys):
    kw = dict(batch_size=100, max_iter=20, random_state=0, verbose=1)
    n_steps = 20 * blobs.shape[0] // 100
    model = MiniBatchKMeans(10, init="random", n_init=2, **kw).fit(blobs)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["Init 1/2 with method random", lines[1], "Init 2/2 with method random"]
    assert re.fullmatch(r"Inertia for init 1/2: [0-9.e+-]+", lines[1])
    assert re.fullmatch(r"Inertia for init 2/2: [0-9.e+-]+", lines[3])
    steps = [ln for ln in lines if ln.startswith("Minibatch step")]
    assert len(steps) == model.n_steps_
    assert re.fullmatch(rf"Minibatch step 1/{n_steps}: mean batch inertia: [0-9.e+-]+", steps[0])
    for i, ln in enumerate(steps[1:], start=2):
        assert re.fullmatch(rf"Minibatch step {i}/{n_steps}: mean batch inertia: [0-9.e+-]+, "
                            r"ewa inertia: [0-9.e+-]+", ln), ln
    assert lines[-1] == f"Converged (lack of improvement in inertia) at step {model.n_steps_}/" \
        f"{n_steps}"
    MiniBatchKMeans(10, tol=1e-2, max_no_improvement=None, **kw).fit(blobs)
    last = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(rf"Converged \(small centers change\) at step \d+/{n_steps}", last)
    # A duplicate initial center gets no rows: it is reassigned, and said so.
    MiniBatchKMeans(3, init=blobs[[0, 0, 500]], **kw).fit(blobs)
    assert "[MiniBatchKMeans] Reassigning 1 cluster centers." in capsys.readouterr().out


def test_init_size_and_n_init_resolved_as_scikit_learn(blobs):
    X = blobs[:100]
    assert MiniBatchKMeans(10, batch_size=5, n_init=1).fit(X)._init_size == 15
    assert MiniBatchKMeans(10, batch_size=1, n_init=1).fit(X)._init_size == 30
    assert MiniBatchKMeans(10, batch_size=5, init_size=101).fit(X)._init_size == 100
    assert MiniBatchKMeans(3, init="random").fit(X)._n_init == 3
    assert MiniBatchKMeans(3).fit(X)._n_init == 1
    with pytest.warns(RuntimeWarning, match="only one init in MiniBatchKMeans instead of "
                      "n_init=5"):
        assert MiniBatchKMeans(3, init=X[:3], n_init=5).fit(X)._n_init == 1


@pytest.mark.parametrize("init", ["k-means++", "random", "farthest"])
def test_string_inits(digits, init):
    X = digits[0]
    model = MiniBatchKMeans(10, init=init, batch_size=256, random_state=0).fit(X)
    assert model.cluster_centers_.shape == (10, 64)
    assert model.inertia_ <= 1.25 * KMeans(10, random_state=0).fit(X).inertia_


def test_callable_init_on_init_size_rows_and_n_init(digits):
    X = digits[0]
    seen = []

    def init(Xs, k, random_state):
        seen.append(Xs.shape)
        return Xs[random_state.choice(Xs.shape[0], k, replace=False)]

    MiniBatchKMeans(5, init=init, init_size=200, random_state=0).fit(X)
    assert seen == [(200, 64)] * 3  # n_init="auto": 3 for callables
    seen.clear()
    MiniBatchKMeans(5, init=init, batch_size=100, n_init=2, random_state=0).fit(X)
    assert seen == [(300, 64)] * 2  # init_size=None: 3 * batch_size
    with pytest.warns(RuntimeWarning, match="n_init"):
        MiniBatchKMeans(5, init=X[:5], n_init=4).fit(X)
    with pytest.warns(RuntimeWarning, match="init_size"):
        MiniBatchKMeans(5, init_size=3, random_state=0).fit(X)


# ===========================================================================
# 5. Bad input, atomicity, scikit-learn's checks
# ===========================================================================


@pytest.mark.parametrize(
    "X, err, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]] * 5), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]] * 5), ValueError, "infinity"),
        (np.empty((0, 3)), ValueError, "sample"),
        (sp.csr_matrix(np.array([[1.0, np.nan], [0.0, 1.0]] * 5)), ValueError, "NaN"),
        (np.ones((3, 2)), ValueError, "n_samples=3 should be >= n_clusters=8"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_input(X, err, match, method):
    model = MiniBatchKMeans(8)
    with pytest.raises(err, match=match):
        getattr(model, method)(X)
    if method == "partial_fit":  # nothing changed
        assert vars(model) == vars(MiniBatchKMeans(8))


@pytest.mark.parametrize(
    "params, err, match",
    [
        ({"n_clusters": 0}, ValueError, "n_clusters"),
        ({"n_clusters": 2.5}, TypeError, "n_clusters"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"init": "nope"}, ValueError, "init"),
        ({"init": np.zeros((3, 4))}, ValueError, "init has 4 features|features"),
        ({"init": np.zeros((2, 5))}, ValueError, "does not match the number of clusters"),
        ({"init_size": 0}, ValueError, "init_size"),
        ({"n_init": "always"}, ValueError, "n_init"),
        ({"n_init": 0}, ValueError, "n_init"),
        ({"reassignment_ratio": -0.1}, ValueError, "reassignment_ratio"),
        ({"max_no_improvement": -1}, ValueError, "max_no_improvement"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"n_threads": 0}, ValueError, "n_threads"),
        ({"verbose": -1}, ValueError, "verbose"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_params(digits, params, err, match, method):
    X = digits[0][:, :5]
    with pytest.raises(err, match=match):
        getattr(MiniBatchKMeans(**{"n_clusters": 3, **params}), method)(X)


def test_bad_weights_and_predict_width(digits):
    X = digits[0]
    with pytest.raises(ValueError, match="sample_weight"):
        MiniBatchKMeans(3).fit(X, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        MiniBatchKMeans(3).partial_fit(X, sample_weight=np.ones(3))
    model = MiniBatchKMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :10])
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :10])


def _bad_batches(d):
    good = np.random.default_rng(9).normal(size=(40, d))
    nan = good.copy()
    nan[7, 1] = np.nan
    return [
        (nan, None, ValueError, "NaN"),
        (good[:, :-1], None, ValueError, "features"),
        (np.empty((0, d)), None, ValueError, "sample"),
        (sp.csr_matrix(nan), None, ValueError, "NaN"),
        (good, -np.ones(40), ValueError, "sample_weight"),
        (good, np.ones(39), ValueError, "sample_weight"),
        (good, np.zeros(40), ValueError, "sample_weight"),
        (np.full((40, d), 1e300), None, ValueError, "float32"),  # overflows the float32 model
    ]


def test_partial_fit_failure_is_atomic(blobs):
    """A bad batch or parameter raises and leaves the model bitwise unchanged;
    the stream then goes on exactly as if it had never been offered."""
    X = blobs.astype(np.float32)
    clean = MiniBatchKMeans(10, random_state=0)
    model = MiniBatchKMeans(10, random_state=0)
    for start in range(0, 600, 200):
        clean.partial_fit(X[start:start + 200])
        model.partial_fit(X[start:start + 200])
    for Xbad, wbad, err, match in _bad_batches(X.shape[1]):
        before = state(model)
        with pytest.raises(err, match=match):
            model.partial_fit(Xbad, sample_weight=wbad)
        assert state(model) == before
    model.set_params(reassignment_ratio=-1.0)
    before = state(model)
    with pytest.raises(ValueError, match="reassignment_ratio"):
        model.partial_fit(X[600:800])
    assert state(model) == before
    model.set_params(reassignment_ratio=0.01)
    for start in range(600, 1400, 200):
        clean.partial_fit(X[start:start + 200])
        model.partial_fit(X[start:start + 200])
    assert state(model) == state(clean)


def test_input_not_modified_readonly_and_fortran(digits):
    X = digits[0].copy()
    Xr = X.copy()
    Xr.setflags(write=False)
    C0 = _init_rows(X, 8)
    a = MiniBatchKMeans(8, init=C0, batch_size=256, random_state=0).fit(Xr)
    b = MiniBatchKMeans(8, init=C0, batch_size=256, random_state=0).fit(np.asfortranarray(X))
    np.testing.assert_array_equal(Xr, X)
    assert_same_fit(a, b)


def test_check_estimator():
    check_estimator(
        MiniBatchKMeans(),
        expected_failed_checks={
            "check_sample_weight_equivalence_on_dense_data": (
                "batches are random draws (with probability proportional to the "
                "weights) and the seeding draws rows, so weighted rows and repeated "
                "rows give different random paths; scikit-learn's MiniBatchKMeans "
                "expects this check to fail for the same reason. Weighted == "
                "repeated is tested for one step from fixed centers in "
                "test_weighted_equals_repeated_for_one_step."
            ),
            "check_sample_weight_equivalence_on_sparse_data": "as on dense data",
        },
    )
