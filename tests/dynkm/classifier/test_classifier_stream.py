"""KMeansClassifier.partial_fit (dynkm.classifier._stream): seeding, the mini-batch
update, new classes, rejected batches and the history."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from _classifier_helpers import (
    FORMATS,
    _clf,
    _as,
    _state,
    _assert_state_equal,
    _check_layout,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partial_fit_close_to_fit(digits, seed):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    one_shot = _clf(5, random_state=seed).fit(Xtr, ytr).score(Xte, yte)
    stream = _clf(5, random_state=seed)
    for a in range(0, len(ytr), 128):
        stream.partial_fit(Xtr[a:a + 128], ytr[a:a + 128], classes=np.arange(10))
    _check_layout(stream)
    np.testing.assert_array_equal(stream.n_prototypes_per_class_, np.full(10, 5))
    np.testing.assert_allclose(stream.counts_.sum(), len(ytr))
    np.testing.assert_array_equal(stream.n_iter_, np.zeros(10))
    assert stream.score(Xte, yte) >= one_shot - 0.03


@pytest.mark.parametrize("fmt", FORMATS)
def test_partial_fit_running_weighted_mean(fmt):
    # With one prototype per class every row of the class moves it: after the stream it
    # is the weighted mean of all the class's rows, whatever row seeded it.
    X, y = make_blobs(300, n_features=4, centers=3, cluster_std=2.0, random_state=0)
    w = np.random.default_rng(0).integers(0, 4, len(y)).astype(np.float64)
    weighted, repeated, dropped = _clf(1), _clf(1), _clf(1)
    for a in range(0, len(y), 70):
        rows = np.arange(a, min(a + 70, len(y)))
        weighted.partial_fit(_as(X[rows], fmt), y[rows], sample_weight=w[rows])
        reps = np.repeat(rows, w[rows].astype(int))
        repeated.partial_fit(_as(X[reps], fmt), y[reps])
        live = rows[w[rows] > 0]
        dropped.partial_fit(_as(X[live], fmt), y[live], sample_weight=w[live])
    ref = np.array([np.average(X[y == c], axis=0, weights=w[y == c]) for c in range(3)])
    np.testing.assert_allclose(weighted.prototypes_, ref, rtol=1e-9)
    np.testing.assert_allclose(weighted.counts_, [w[y == c].sum() for c in range(3)])
    for other in (repeated, dropped):
        np.testing.assert_allclose(other.prototypes_, weighted.prototypes_, rtol=1e-9)
        np.testing.assert_allclose(other.counts_, weighted.counts_)
    # scale_ counts the first batch's distances to the seed row, which is drawn among the
    # rows of positive weight: the same draw without the zero-weight rows, not with repeats.
    np.testing.assert_allclose(dropped.scale_, weighted.scale_, rtol=1e-9)


def _four_blobs(n=400, seed=0):
    centers = [[0, 0, 0], [20, 0, 0], [0, 20, 0], [0, 0, 20]]
    return make_blobs(n, n_features=3, centers=centers, random_state=seed)


def test_partial_fit_new_classes_mid_stream():
    X, y = _four_blobs()
    model = _clf(2)
    model.partial_fit(X[y >= 2], y[y >= 2])  # classes 2, 3 first
    np.testing.assert_array_equal(model.classes_, [2, 3])
    model.partial_fit(X[y == 1], y[y == 1])
    model.partial_fit(X[y == 0][:30], y[y == 0][:30])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2, 3])
    _check_layout(model)
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [2, 2, 2, 2])
    np.testing.assert_array_equal(model.predict(X), y)
    assert model.predict_proba(X).shape == (len(y), 4)


def test_partial_fit_announced_classes():
    X, y = _four_blobs()
    model = _clf(2).partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2, 3])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2, 3])
    _check_layout(model)
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [2, 2, 0, 0])
    P = model.predict_proba(X)
    assert P.shape == (len(y), 4)
    np.testing.assert_array_equal(P[:, 2:], 0.0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert set(model.predict(X)) <= {0, 1}
    model.partial_fit(X[y == 2], y[y == 2])
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [2, 2, 2, 0])
    np.testing.assert_array_equal(model.predict_proba(X)[:, 3], 0.0)
    np.testing.assert_array_equal(model.predict(X[y < 3]), y[y < 3])
    model.partial_fit(X[y == 3], y[y == 3])
    np.testing.assert_array_equal(model.predict(X), y)
    assert (model.predict_proba(X[y == 3])[:, 3] > 0.5).all()


def test_partial_fit_k_list_sequence_needs_classes():
    X, y = _four_blobs()
    model = _clf(2, k_list=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="k_list given as a sequence needs classes="):
        model.partial_fit(X, y)
    model.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2, 3])
    model.partial_fit(X, y)
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [1, 2, 3, 4])
    _check_layout(model)


def _nan_row(X):
    X = X.copy()
    X[5, 1] = np.nan
    return X


@pytest.mark.parametrize(
    "bad, match",
    [
        pytest.param(lambda X, y: (_nan_row(X), y), "NaN", id="nan"),
        pytest.param(lambda X, y: (X[:, :2], y), "features", id="n_features"),
        pytest.param(lambda X, y: (X, y[:-1]), "labels", id="len_y"),
        pytest.param(lambda X, y: (X, y + 0.5), "Unknown label type", id="continuous_y"),
        pytest.param(lambda X, y: (X, np.c_[y, y]), "1-D", id="2d_y"),
        pytest.param(lambda X, y: (X, y, None, -np.ones(len(y))), "sample_weight",
                     id="negative_weight"),
        # Fails after validation, while growing the class list (k_list has 4 counts).
        pytest.param(lambda X, y: (X, np.r_[y[:-1], 7]), "k_list has 4 entries but there are 5",
                     id="new_class_beyond_k_list"),
    ],
)
def test_rejected_batch_leaves_model_unchanged(bad, match):
    X, y = _four_blobs()
    model = _clf(2, k_list=[1, 2, 2, 1], merge_threshold=0.5)
    model.partial_fit(X[:200], y[:200], classes=[0, 1, 2, 3])
    model.partial_fit(X[200:300], y[200:300])
    before = _state(model)
    assert {"prototypes_", "counts_", "classes_", "scale_", "_rng"} <= set(before)
    with pytest.raises(ValueError, match=match):
        model.partial_fit(*bad(X[300:], y[300:]))
    _assert_state_equal(before, model)
    # And the next batch gives what it gives without the rejected one in between.
    clean = _clf(2, k_list=[1, 2, 2, 1], merge_threshold=0.5)
    clean.partial_fit(X[:200], y[:200], classes=[0, 1, 2, 3]).partial_fit(X[200:300], y[200:300])
    model.partial_fit(X[300:], y[300:])
    clean.partial_fit(X[300:], y[300:])
    np.testing.assert_array_equal(model.prototypes_, clean.prototypes_)


def test_rejected_first_batch_leaves_model_unfitted():
    X, y = _four_blobs()
    model = _clf(2)
    with pytest.raises(ValueError, match="labels"):
        model.partial_fit(X, y[:-1])
    assert not [k for k in vars(model) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_partial_fit_after_fit_tops_up_small_class():
    X, y = _four_blobs()
    few = np.r_[np.flatnonzero(y != 3), np.flatnonzero(y == 3)[:2]]
    rest = np.flatnonzero(y == 3)[2:]
    streamed = _clf(4).partial_fit(X[few], y[few])
    fitted = _clf(4).fit(X[few], y[few])
    np.testing.assert_array_equal(streamed.n_prototypes_per_class_, [4, 4, 4, 2])
    np.testing.assert_array_equal(fitted.n_prototypes_per_class_, [4, 4, 4, 2])
    streamed.partial_fit(X[rest], y[rest])
    fitted.partial_fit(X[rest], y[rest])
    np.testing.assert_array_equal(streamed.n_prototypes_per_class_, [4, 4, 4, 4])
    np.testing.assert_array_equal(fitted.n_prototypes_per_class_, [4, 4, 4, 4])


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_partial_fit_reproducible(digits, init):
    X, y = digits
    order = np.random.default_rng(0).permutation(len(y))
    runs = []
    for _ in range(2):
        model = _clf(4, init=init, random_state=3)
        for a in range(0, 600, 100):
            rows = order[a:a + 100]
            model.partial_fit(X[rows], y[rows])
        runs.append(model)
    np.testing.assert_array_equal(runs[0].prototypes_, runs[1].prototypes_)
    np.testing.assert_array_equal(runs[0].counts_, runs[1].counts_)
    assert runs[0].scale_ == runs[1].scale_
    other = _clf(4, init=init, random_state=4)
    for a in range(0, 600, 100):
        rows = order[a:a + 100]
        other.partial_fit(X[rows], y[rows])
    assert not np.array_equal(runs[0].prototypes_, other.prototypes_)


def test_partial_fit_history():
    X, y = make_blobs(600, n_features=4, centers=6, random_state=3)
    y = y % 3
    model = _clf(4, random_state=1)
    batches = np.array_split(np.arange(len(y)), 6)
    for rows in batches:
        model.partial_fit(X[rows], y[rows])
    h = model.history_
    assert all(len(values) == len(batches) for values in h.values())
    assert h["n_prototypes"][-1] == len(model.prototypes_)
    # Without merging, every prototype was seeded once and none was pruned away unseen.
    assert sum(h["n_new"]) == len(model.prototypes_) + sum(h["n_pruned"])
    assert h["n_new"][0] == 12 and all(n == 0 for n in h["n_new"][1:])
    assert all(s >= 0 for s in h["shift"]) and max(h["shift"]) > 0
    assert model.fit(X, y).history_["shift"].tolist() == []


def test_partial_fit_rejects_mixed_label_kinds():
    X, y = make_blobs(60, n_features=3, centers=3, random_state=0)
    model = _clf(2).fit(X, y)
    before = model.prototypes_.copy()
    with pytest.raises(TypeError, match="y holds text labels"):
        model.partial_fit(X[:5], ["a"] * 5)
    np.testing.assert_array_equal(model.prototypes_, before)
    assert model.classes_.dtype.kind in "iu"
    with pytest.raises(TypeError, match="classes holds text labels"):
        _clf(2).partial_fit(X, y, classes=["a", "b", "c"])


def test_min_weight_streaming_judges_seeds_after_their_batch():
    # Seeds weigh a few rows in their own batch (here all at most 5): pruning them at
    # once would leave one prototype per class for good.
    X, y = make_blobs(400, n_features=2, centers=6, random_state=0)
    y = y % 2
    model = _clf(3, min_weight=5.0)
    batches = np.array_split(np.arange(len(y)), 20)
    model.partial_fit(X[batches[0]], y[batches[0]])
    assert (model.counts_ <= 5.0).sum() >= 4
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [3, 3])
    assert model.history_["n_pruned"] == [0]
    for rows in batches[1:]:
        model.partial_fit(X[rows], y[rows])
    # From the second batch on they are judged; pruned ones are not seeded again.
    assert (model.counts_ > 5.0).all()
    assert sum(model.history_["n_new"]) == 6
    assert len(model.prototypes_) == 6 - sum(model.history_["n_pruned"])


def test_stream_state_leaves_the_estimator_alone_until_written():
    # StreamState is the batch's own view of the model: start() and update() bind new
    # arrays and never write into the estimator's; write_to() sets the attributes.
    from dynkm.classifier._params import check_params
    from dynkm.classifier._stream import StreamState, seed_more

    X, y = make_blobs(300, n_features=3, centers=6, random_state=2)
    y = y % 3
    model = _clf(3, random_state=1).partial_fit(X[:100], y[:100])
    before = _state(model)
    state = StreamState.start(model, X[100:], y[100:], [0, 1, 2, 3], 3)
    assert state.classes.tolist() == [0, 1, 2, 3] and state.targets.tolist() == [3, 3, 3, 3]
    stats, young = state.update(X[100:], y[100:], None, check_params(model), 1, seed_more)
    assert stats["shift"] > 0 and stats["n_new"] == 0 and not young.any()
    _assert_state_equal(before, model)
    assert not np.array_equal(state.prototypes, model.prototypes_)
    state.write_to(model)
    for field, attribute in StreamState.ATTRIBUTES.items():
        assert getattr(model, attribute) is getattr(state, field), attribute
    assert model.classes_.tolist() == [0, 1, 2, 3]
