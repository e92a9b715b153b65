"""KMeansClassifier and ClusterLabelClassifier against NumPy and scikit-learn references.

Every model here runs with ``n_threads=1`` unless the number of threads is
what is tested: the data are tiny, and on a 2-core machine shared with other
jobs OpenMP's thread start-up costs more than the work itself.
"""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestCentroid
from sklearn.utils.estimator_checks import check_estimator

from dynkm.classifier import ClusterLabelClassifier, KMeansClassifier, check_class_labels
from dynkm.kmeans import KMeans

DTYPES = [np.float64, np.float32]
FORMATS = ["dense", "csr"]


def _clf(k_init=3, **params):
    params.setdefault("n_threads", 1)
    params.setdefault("random_state", 0)
    return KMeansClassifier(k_init, **params)


def _as(X, fmt, dtype=None):
    X = X if dtype is None else X.astype(dtype)
    return sp.csr_matrix(X) if fmt == "csr" else X


def _untie(X, seed=0):
    """Digits are integer pixels: jitter far above rounding removes exact distance ties."""
    return X + np.random.default_rng(seed).uniform(0, 1e-3, X.shape)


def _sqdist(A, B):
    """Exact float64 squared distances, rows of A by rows of B (small inputs)."""
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=2)


def _unit(X):
    X = np.asarray(X, dtype=np.float64)
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, n, out=np.zeros_like(X), where=n > 0)


def _class_sqdist_ref(model, X):
    """Squared distance to the nearest prototype of each class (inf for a class without any)."""
    X = _unit(X) if model.distance == "cosine" else np.asarray(X, dtype=np.float64)
    D = _sqdist(X, model.prototypes_)
    S = np.full((X.shape[0], len(model.classes_)), np.inf)
    for j, c in enumerate(model.classes_):
        mine = model.prototype_labels_ == c
        if mine.any():
            S[:, j] = D[:, mine].min(axis=1)
    return S


def _state(model):
    """Deep copy of everything fitting set (public and private), parameters excluded."""
    params = model.get_params(deep=False)
    return {k: copy.deepcopy(v) for k, v in vars(model).items() if k not in params}


def _assert_state_equal(before, model):
    after = _state(model)
    assert sorted(after) == sorted(before)
    for key, value in before.items():
        other = after[key]
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and value.shape == other.shape, key
            assert value.tobytes() == other.tobytes(), key
        elif isinstance(value, np.random.RandomState):
            for a, b in zip(value.get_state(), other.get_state(), strict=True):
                np.testing.assert_array_equal(a, b, err_msg=key)
        else:
            assert type(value) is type(other) and value == other, key


@pytest.fixture(scope="module")
def digits_split(digits):
    X, y = digits
    return train_test_split(_untie(X), y, test_size=0.3, random_state=0, stratify=y)


# ------------------------------------------------------------ accuracy


def _separable(distance, n, seed):
    """Five classes whose blobs are far apart (euclidean) or point in different
    directions with random row norms (cosine: not separable by Euclidean distance)."""
    centers = 20.0 * np.eye(5)
    X, y = make_blobs(n, n_features=5, centers=centers, cluster_std=1.0, random_state=seed)
    if distance == "cosine":
        X *= np.random.default_rng(seed).uniform(0.3, 3.0, (n, 1))
    return X, y


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_separable_blobs_perfect(distance, dtype, fmt):
    Xtr, ytr = _separable(distance, 300, seed=0)
    Xte, yte = _separable(distance, 300, seed=1)
    model = _clf(2, distance=distance).fit(_as(Xtr, fmt, dtype), ytr)
    np.testing.assert_array_equal(model.predict(_as(Xtr, fmt, dtype)), ytr)
    np.testing.assert_array_equal(model.predict(_as(Xte, fmt, dtype)), yte)
    assert model.score(_as(Xte, fmt, dtype), yte) == 1.0


@pytest.mark.parametrize("k_init", [2, 3])
def test_multimodal_class_beats_nearest_centroid(k_init):
    # Class 0 is two blobs on either side of class 1: its mean sits on class 1.
    X, blob = make_blobs(600, n_features=2, centers=[[-10, 0], [10, 0], [0, 0]],
                         cluster_std=1.0, random_state=0)
    y = (blob == 2).astype(int)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
    ours = _clf(k_init).fit(Xtr, ytr).score(Xte, yte)
    reference = NearestCentroid().fit(Xtr, ytr).score(Xte, yte)
    assert ours >= 0.99
    assert ours >= reference + 0.3


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_prototype_is_weighted_class_mean(digits, dtype, fmt):
    X, y = digits
    X = _untie(X)
    w = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    model = _clf(1).fit(_as(X, fmt, dtype), y, sample_weight=w)
    ref = np.array([np.average(X[y == c], axis=0, weights=w[y == c]) for c in np.unique(y)])
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(model.prototypes_, ref, rtol=rtol, atol=rtol * np.abs(X).max())
    np.testing.assert_allclose(model.prototype_weights_,
                               [w[y == c].sum() for c in np.unique(y)], rtol=1e-6)
    # Unweighted: the same classifier as NearestCentroid.
    plain = _clf(1).fit(_as(X, fmt, dtype), y)
    nc = NearestCentroid().fit(X, y)
    np.testing.assert_allclose(plain.prototypes_, nc.centroids_, rtol=rtol,
                               atol=rtol * np.abs(X).max())
    np.testing.assert_array_equal(plain.predict(_as(X, fmt, dtype)), nc.predict(X))


def test_weighted_equals_repeated_and_zero_equals_dropped():
    X, y = make_blobs(300, n_features=4, centers=4, cluster_std=2.0, random_state=0)
    w = np.random.default_rng(0).integers(1, 4, len(y))
    weighted = _clf(1).fit(X, y, sample_weight=w)
    repeated = _clf(1).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.prototypes_, repeated.prototypes_, rtol=1e-6)
    np.testing.assert_allclose(weighted.prototype_weights_, repeated.prototype_weights_)
    np.testing.assert_allclose(weighted.scale_, repeated.scale_, rtol=1e-6)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               rtol=1e-6, atol=1e-12)
    w0 = w.astype(np.float64)
    w0[::3] = 0.0
    zero = _clf(1).fit(X, y, sample_weight=w0)
    dropped = _clf(1).fit(X[w0 > 0], y[w0 > 0], sample_weight=w0[w0 > 0])
    np.testing.assert_allclose(zero.prototypes_, dropped.prototypes_, rtol=1e-12)
    np.testing.assert_allclose(zero.prototype_weights_, dropped.prototype_weights_)
    np.testing.assert_allclose(zero.scale_, dropped.scale_, rtol=1e-12)


# ------------------------------------------------------------ bookkeeping


def _check_layout(model):
    """prototypes_ grouped by class in the order of classes_, attributes consistent."""
    counts = model.n_prototypes_per_class_
    assert counts.shape == (len(model.classes_),)
    assert counts.sum() == len(model.prototypes_) == len(model.prototype_labels_)
    assert len(model.prototype_weights_) == len(model.prototypes_)
    np.testing.assert_array_equal(model.prototype_labels_, np.repeat(model.classes_, counts))


def test_prototype_bookkeeping_and_k_list():
    X, y = make_blobs(400, n_features=3, centers=4, random_state=0)
    names = np.array(["d", "c", "b", "a"])[y]  # classes_ sorted: a b c d
    model = _clf(3).fit(X, names)
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c", "d"])
    _check_layout(model)
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [3, 3, 3, 3])
    np.testing.assert_allclose(model.prototype_weights_.sum(), len(y))
    # Each prototype of class c is the mean of the class-c rows it is nearest to.
    for c in model.classes_:
        rows, mine = X[names == c], np.flatnonzero(model.prototype_labels_ == c)
        won = _sqdist(rows, model.prototypes_[mine]).argmin(axis=1)
        np.testing.assert_allclose(model.prototype_weights_[mine], np.bincount(won, minlength=3))
        for j, p in enumerate(mine):
            np.testing.assert_allclose(model.prototypes_[p], rows[won == j].mean(axis=0),
                                       rtol=1e-9)

    as_dict = _clf(3, k_list={"a": 1, "c": 5}).fit(X, names)
    _check_layout(as_dict)
    np.testing.assert_array_equal(as_dict.n_prototypes_per_class_, [1, 3, 5, 3])
    as_list = _clf(3, k_list=[4, 1, 2, 3]).fit(X, names)
    _check_layout(as_list)
    np.testing.assert_array_equal(as_list.n_prototypes_per_class_, [4, 1, 2, 3])
    with pytest.raises(ValueError, match="k_list has 2 entries but there are 4 classes"):
        _clf(3, k_list=[1, 2]).fit(X, names)


def test_class_with_fewer_rows_than_k():
    X, y = make_blobs(400, n_features=3, centers=4, random_state=0)
    few = np.r_[np.flatnonzero(y != 3), np.flatnonzero(y == 3)[:2]]
    model = _clf(5).fit(X[few], y[few])
    _check_layout(model)
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [5, 5, 5, 2])
    got = model.prototypes_[model.prototype_labels_ == 3]
    want = X[y == 3][:2]
    np.testing.assert_array_equal(got[np.lexsort(got.T)], want[np.lexsort(want.T)])
    np.testing.assert_array_equal(model.predict(want), [3, 3])


# ------------------------------------------------------------ streaming


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
    np.testing.assert_allclose(stream.prototype_weights_.sum(), len(ytr))
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
    np.testing.assert_allclose(weighted.prototype_weights_, [w[y == c].sum() for c in range(3)])
    for other in (repeated, dropped):
        np.testing.assert_allclose(other.prototypes_, weighted.prototypes_, rtol=1e-9)
        np.testing.assert_allclose(other.prototype_weights_, weighted.prototype_weights_)
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
    assert {"prototypes_", "prototype_weights_", "classes_", "scale_", "_rng"} <= set(before)
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
    np.testing.assert_array_equal(runs[0].prototype_weights_, runs[1].prototype_weights_)
    assert runs[0].scale_ == runs[1].scale_
    other = _clf(4, init=init, random_state=4)
    for a in range(0, 600, 100):
        rows = order[a:a + 100]
        other.partial_fit(X[rows], y[rows])
    assert not np.array_equal(runs[0].prototypes_, other.prototypes_)


# ------------------------------------------------------------ sparse


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_csr_same_as_dense_random_init(digits_split, distance, dtype):
    Xtr, Xte, ytr, _ = digits_split
    dense = _clf(4, init="random", distance=distance).fit(Xtr.astype(dtype), ytr)
    csr = _clf(4, init="random", distance=distance).fit(_as(Xtr, "csr", dtype), ytr)
    assert csr.prototypes_.dtype == dtype
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(csr.prototypes_, dense.prototypes_, rtol=rtol,
                               atol=rtol * np.abs(dense.prototypes_).max())
    np.testing.assert_array_equal(csr.predict(_as(Xte, "csr", dtype)),
                                  dense.predict(Xte.astype(dtype)))
    np.testing.assert_allclose(csr.predict_proba(_as(Xte, "csr", dtype)),
                               dense.predict_proba(Xte.astype(dtype)), rtol=1e-4, atol=1e-6)
    # Streaming on CSR batches, too.
    dense_s, csr_s = (_clf(4, init="random", distance=distance) for _ in range(2))
    for a in range(0, len(ytr), 200):
        dense_s.partial_fit(Xtr[a:a + 200].astype(dtype), ytr[a:a + 200], classes=np.arange(10))
        csr_s.partial_fit(_as(Xtr[a:a + 200], "csr", dtype), ytr[a:a + 200],
                          classes=np.arange(10))
    np.testing.assert_allclose(csr_s.prototypes_, dense_s.prototypes_, rtol=rtol,
                               atol=rtol * np.abs(dense_s.prototypes_).max())
    np.testing.assert_array_equal(csr_s.predict(_as(Xte, "csr", dtype)),
                                  dense_s.predict(Xte.astype(dtype)))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_csr_kmeanspp_same_as_dense(digits_split, distance):
    # CSR is seeded by scikit-learn's k-means++, dense by kmcore's: the same rows from the
    # same RandomState, so the same model (the jitter keeps float32-level ties away).
    Xtr, Xte, ytr, yte = digits_split
    Xtr, Xte = _untie(Xtr), _untie(Xte, 1)
    dense = _clf(4, distance=distance).fit(Xtr, ytr)
    csr = _clf(4, distance=distance).fit(sp.csr_matrix(Xtr), ytr)
    _check_layout(csr)
    np.testing.assert_array_equal(csr.n_prototypes_per_class_, dense.n_prototypes_per_class_)
    np.testing.assert_allclose(csr.prototypes_, dense.prototypes_, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(csr.predict(sp.csr_matrix(Xte)), dense.predict(Xte))
    cl_dense = ClusterLabelClassifier(12, init="k-means++", distance=distance, random_state=0,
                                      n_threads=1).fit(Xtr, ytr)
    cl_csr = ClusterLabelClassifier(12, init="k-means++", distance=distance, random_state=0,
                                    n_threads=1).fit(sp.csr_matrix(Xtr), ytr)
    np.testing.assert_allclose(cl_csr.inertia_, cl_dense.inertia_, rtol=1e-9)
    # One model: CSR and dense rows are predicted alike.
    np.testing.assert_array_equal(dense.predict(sp.csr_matrix(Xte)), dense.predict(Xte))
    np.testing.assert_allclose(dense.predict_proba(sp.csr_matrix(Xte)), dense.predict_proba(Xte),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_csr_never_densified(digits, monkeypatch, distance, init):
    X, y = digits
    Xs = sp.csr_matrix(X)
    shapes = []
    for cls in (sp.csr_matrix, sp.csr_array, sp.csc_matrix, sp.coo_matrix):
        original = cls.toarray

        def toarray(self, *args, _original=original, **kwargs):
            out = _original(self, *args, **kwargs)
            shapes.append(out.shape)
            return out

        monkeypatch.setattr(cls, "toarray", toarray)
    model = _clf(4, init=init, distance=distance, lambda_penalty=0.1).fit(Xs, y)
    model.predict(Xs)
    model.predict_proba(Xs)
    model.decision_function(Xs)
    stream = _clf(4, init=init, distance=distance)
    for a in range(0, len(y), 300):
        stream.partial_fit(Xs[a:a + 300], y[a:a + 300])
    stream.predict(Xs)
    n_protos = max(len(model.prototypes_), len(stream.prototypes_))
    # Only seed rows and per-prototype sums are ever made dense.
    assert shapes and max(s[0] for s in shapes) <= n_protos
    np.testing.assert_array_equal(model.predict(Xs), model.predict(X))


# ------------------------------------------------------------ cosine


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_invariant_to_row_scale(digits_split, dtype, fmt):
    Xtr, Xte, ytr, _ = digits_split
    rng = np.random.default_rng(0)
    s_tr = rng.uniform(0.01, 100.0, (len(Xtr), 1))
    s_te = rng.uniform(0.01, 100.0, (len(Xte), 1))
    tol = 1e-9 if dtype == np.float64 else 1e-4
    for soft_type in ["softmax", "linear"]:
        a = _clf(3, distance="cosine", soft_type=soft_type).fit(_as(Xtr, fmt, dtype), ytr)
        b = _clf(3, distance="cosine", soft_type=soft_type).fit(_as(Xtr * s_tr, fmt, dtype), ytr)
        np.testing.assert_allclose(np.linalg.norm(a.prototypes_, axis=1), 1.0, rtol=tol)
        np.testing.assert_allclose(b.prototypes_, a.prototypes_, rtol=tol, atol=tol)
        for Z in (Xte, Xte * s_te):
            np.testing.assert_array_equal(a.predict(_as(Z, fmt, dtype)),
                                          a.predict(_as(Xte, fmt, dtype)))
            np.testing.assert_array_equal(b.predict(_as(Z, fmt, dtype)),
                                          a.predict(_as(Xte, fmt, dtype)))
            np.testing.assert_allclose(b.predict_proba(_as(Z, fmt, dtype)),
                                       a.predict_proba(_as(Xte, fmt, dtype)), rtol=tol, atol=tol)


# ------------------------------------------------------------ probabilities


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("soft_type", ["softmax", "linear"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_predict_proba_formula(digits_split, distance, soft_type, dtype):
    """predict_proba and decision_function as documented, from NumPy distances."""
    Xtr, Xte, ytr, _ = digits_split
    model = _clf(3, distance=distance, soft_type=soft_type, temperature=0.7).fit(
        Xtr.astype(dtype), ytr)
    S = _class_sqdist_ref(model, Xte)
    if soft_type == "softmax":
        Z = -(S - S.min(axis=1, keepdims=True)) / (0.7 * model.scale_)
        P = np.exp(Z)
    elif distance == "cosine":
        P = np.maximum(1.0 - S / 2.0, 0.0)
    else:
        P = 1.0 / (1.0 + S / model.scale_)
    P /= P.sum(axis=1, keepdims=True)
    tol = 1e-8 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(model.predict_proba(Xte.astype(dtype)), P, rtol=tol, atol=1e-6)
    if soft_type == "softmax":
        np.testing.assert_allclose(model.decision_function(Xte.astype(dtype)), Z,
                                   rtol=tol, atol=tol)
    # scale_: the mean squared distance of the training rows to their own class's prototypes.
    S_tr = _class_sqdist_ref(model, Xtr)
    own = S_tr[np.arange(len(ytr)), np.searchsorted(model.classes_, ytr)]
    np.testing.assert_allclose(model.scale_, own.mean(), rtol=1e-9 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("soft_type", ["softmax", "linear"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_predict_proba_sane(digits_split, distance, soft_type, dtype):
    Xtr, Xte, ytr, _ = digits_split
    model = _clf(3, distance=distance, soft_type=soft_type).fit(Xtr.astype(dtype), ytr)
    n_classes = len(model.classes_)
    far = np.vstack([Xte * 1e6, -Xte[:50] * 1e3, Xte[:50] + 1e5]).astype(dtype)
    zero = np.zeros((3, Xte.shape[1]), dtype=dtype)
    for Z in (Xte.astype(dtype), far, zero):
        P = model.predict_proba(Z)
        assert P.shape == (len(Z), n_classes)
        assert np.isfinite(P).all()
        assert (P >= 0).all() and (P <= 1).all()
        np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
        D = model.decision_function(Z)
        assert not np.isnan(D).any()
    # On ordinary rows both argmaxes are predict (float32 far rows are near-ties in rounding).
    for Z in (Xte.astype(dtype), zero) + ((far,) if dtype == np.float64 else ()):
        pred = model.predict(Z)
        np.testing.assert_array_equal(model.classes_[model.predict_proba(Z).argmax(axis=1)], pred)
        np.testing.assert_array_equal(model.classes_[model.decision_function(Z).argmax(axis=1)],
                                      pred)
    if distance == "cosine":
        # A zero row is equally far (cos 0) from every unit prototype.
        np.testing.assert_allclose(model.predict_proba(zero), 1.0 / n_classes, rtol=1e-5)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(model.predict_log_proba(Xte.astype(dtype)),
                                   np.log(model.predict_proba(Xte.astype(dtype))))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_predict_proba_no_nan_for_huge_finite_rows(digits_split):
    Xtr, Xte, ytr, _ = digits_split
    model = _clf(3).fit(Xtr, ytr)
    Z = Xte[:5] * 1e160
    assert np.isfinite(Z).all()
    P = model.predict_proba(Z)
    assert not np.isnan(P).any()
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_hard_probabilities_and_temperature(digits_split):
    Xtr, Xte, ytr, _ = digits_split
    hard = _clf(3, soft=False).fit(Xtr, ytr)
    onehot = (hard.classes_[None, :] == hard.predict(Xte)[:, None]).astype(np.float64)
    np.testing.assert_array_equal(hard.predict_proba(Xte), onehot)
    soft = _clf(3).fit(Xtr, ytr)
    np.testing.assert_array_equal(soft.prototypes_, hard.prototypes_)
    np.testing.assert_array_equal(soft.predict(Xte), hard.predict(Xte))
    previous = None
    for temperature in [100.0, 10.0, 1.0, 0.3, 0.1, 0.01]:
        P = _clf(3, temperature=temperature).fit(Xtr, ytr).predict_proba(Xte)
        np.testing.assert_array_equal(P.argmax(axis=1), onehot.argmax(axis=1))
        top = P.max(axis=1)
        if previous is not None:
            assert (top >= previous - 1e-12).all()
            assert top.mean() > previous.mean()
        previous = top
    # Hard at low temperature (but for near-ties), flat at high.
    assert (previous > 0.99).mean() > 0.95
    hot = _clf(3, temperature=1e6).fit(Xtr, ytr).predict_proba(Xte)
    np.testing.assert_allclose(hot, 1.0 / len(soft.classes_), rtol=1e-3)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_binary_decision_function(digits, distance):
    X, y = digits
    keep = (y == 3) | (y == 8)
    X, y = _untie(X[keep]), np.where(y[keep] == 3, "three", "eight")
    model = _clf(3, distance=distance).fit(X, y)
    d = model.decision_function(X)
    assert d.shape == (len(y),)
    pred = model.predict(X)
    np.testing.assert_array_equal(pred == model.classes_[1], d > 0)
    S = _class_sqdist_ref(model, X)
    np.testing.assert_allclose(d, (S[:, 0] - S[:, 1]) / model.scale_, rtol=1e-7,
                               atol=1e-7 * np.abs(d).max())
    P = model.predict_proba(X)
    assert P.shape == (len(y), 2)
    np.testing.assert_allclose(P[:, 1], 1.0 / (1.0 + np.exp(-d)), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "y, match",
    [
        pytest.param(lambda y: np.eye(3)[y % 3], "one-hot", id="one_hot"),
        pytest.param(lambda y: np.random.default_rng(0).dirichlet(np.ones(3), len(y)),
                     "probabilistic", id="probabilistic"),
        pytest.param(lambda y: y + np.random.default_rng(0).uniform(0, 0.5, len(y)),
                     "Unknown label type", id="continuous"),
        pytest.param(lambda y: None, "requires y to be passed", id="none"),
        pytest.param(lambda y: y[:-1], "X has 120 rows but y has 119 labels", id="length"),
        pytest.param(lambda y: y.reshape(2, -1, 3).tolist(), "1-D", id="3d"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "cluster"])
def test_bad_labels(y, match, method):
    X, labels = make_blobs(120, n_features=3, centers=3, random_state=0)
    if method == "cluster":
        model, call = ClusterLabelClassifier(3, n_threads=1), "fit"
    else:
        model, call = _clf(2), method
    with pytest.raises(ValueError, match=match):
        getattr(model, call)(X, y(labels))


def test_check_class_labels():
    y = np.array([2, 0, 1, 1])
    np.testing.assert_array_equal(check_class_labels(y), y)
    np.testing.assert_array_equal(check_class_labels(["b", "a"]), ["b", "a"])
    with pytest.warns(Warning, match="column-vector y"):
        np.testing.assert_array_equal(check_class_labels(y[:, None]), y)
    with pytest.raises(ValueError, match="one-hot or probabilistic"):
        check_class_labels(np.eye(4))
    with pytest.raises(ValueError, match="Unknown label type: 'continuous'"):
        check_class_labels([0.5, 1.5, 0.25])


@pytest.mark.parametrize(
    "params, err, match",
    [
        ({"k_init": 0}, ValueError, "k_init"),
        ({"k_init": 2.5}, TypeError, "k_init"),
        ({"distance": "manhattan"}, ValueError, "distance"),
        ({"soft_type": "x"}, ValueError, "soft_type"),
        ({"init": "x"}, ValueError, "init"),
        ({"dtype": "int32"}, ValueError, "dtype"),
        ({"dtype": "nonsense"}, (ValueError, TypeError), "dtype"),
        ({"temperature": 0}, ValueError, "temperature"),
        ({"temperature": -1.0}, ValueError, "temperature"),
        ({"percentile_threshold": 1.5}, ValueError, "percentile_threshold"),
        ({"percentile_threshold": 0.0}, ValueError, "percentile_threshold"),
        ({"merge_threshold": -1}, ValueError, "merge_threshold"),
        ({"merge_threshold": np.inf}, ValueError, "merge_threshold"),
        ({"k_list": [1, 2.5, 3]}, TypeError, "k_list"),
        ({"k_list": {0: "two"}}, TypeError, "k_list"),
        ({"k_list": [1, 0, 3]}, ValueError, "k_list"),
        ({"k_list": "123"}, TypeError, "k_list"),
        ({"lambda_penalty": -0.1}, ValueError, "lambda_penalty"),
        ({"min_weight": -1.0}, ValueError, "min_weight"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"soft": "yes"}, TypeError, "soft"),
        ({"relative_merge": 1}, TypeError, "relative_merge"),
        ({"n_threads": 0}, ValueError, "n_threads"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_params(params, err, match, method):
    X, y = make_blobs(60, n_features=3, centers=3, random_state=0)
    model = _clf(2).set_params(**params)
    with pytest.raises(err, match=match):
        getattr(model, method)(X, y)
    assert not hasattr(model, "prototypes_")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("value, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_X(value, match, fmt):
    X, y = make_blobs(60, n_features=3, centers=3, random_state=0)
    bad = X.copy()
    bad[7, 2] = value
    with pytest.raises(ValueError, match=match):
        _clf(2).fit(_as(bad, fmt), y)
    with pytest.raises(ValueError, match=match):
        _clf(2).partial_fit(_as(bad, fmt), y)
    model = _clf(2).fit(_as(X, fmt), y)
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(ValueError, match=match):
            getattr(model, method)(_as(bad, fmt))
    with pytest.raises(ValueError, match=match):
        ClusterLabelClassifier(3, n_threads=1).fit(bad, y)


def test_bad_weights_and_unfitted():
    X, y = make_blobs(60, n_features=3, centers=3, random_state=0)
    with pytest.raises(ValueError, match="sample_weight"):
        _clf(2).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        _clf(2).fit(X, y, sample_weight=np.ones(3))
    w = np.ones(len(y))
    w[y == 1] = 0.0
    with pytest.raises(ValueError, match="sample_weight is 0 for every row of a class"):
        _clf(2).fit(X, y, sample_weight=w)
    with pytest.raises(NotFittedError):
        _clf(2).predict(X)
    with pytest.raises(NotFittedError):
        ClusterLabelClassifier(3).predict_proba(X)
    model = _clf(2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :2])


# ------------------------------------------------------------ merging and pruning


def _groups_ref(P, labels, threshold, cosine):
    """Same-class prototypes joined (transitively) when closer than threshold:
    a list of index arrays, grouped by class, each group numbered by its first member."""
    n = len(P)
    D = _sqdist(P, P) / 2.0 if cosine else np.sqrt(_sqdist(P, P))
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if labels[i] == labels[j] and D[i, j] < threshold:
                parent[root(j)] = root(i)
    roots = [root(i) for i in range(n)]
    groups = {}
    for i, r in enumerate(roots):
        groups.setdefault(r, []).append(i)
    return sorted((np.array(g) for g in groups.values()), key=lambda g: g[0])


def _merged_ref(unmerged, groups, cosine):
    P, w = unmerged.prototypes_.astype(np.float64), unmerged.prototype_weights_
    means = np.array([np.average(P[g], axis=0, weights=w[g]) for g in groups])
    return _unit(means) if cosine else means


def _pairwise_ref(P, cosine):
    D = _sqdist(P, P) / 2.0 if cosine else np.sqrt(_sqdist(P, P))
    return D[np.triu_indices(len(P), 1)]


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_merge_everything_is_weighted_mean(digits_split, distance):
    Xtr, _, ytr, _ = digits_split
    cosine = distance == "cosine"
    unmerged = _clf(5, distance=distance).fit(Xtr, ytr)
    assert unmerged.n_merged_ == 0 and unmerged.n_pruned_ == 0
    merged = _clf(5, distance=distance, merge_threshold=1e6).fit(Xtr, ytr)
    _check_layout(merged)
    np.testing.assert_array_equal(merged.n_prototypes_per_class_, np.ones(10))
    assert merged.n_merged_ == len(unmerged.prototypes_) - 10
    groups = [np.flatnonzero(unmerged.prototype_labels_ == c) for c in unmerged.classes_]
    np.testing.assert_allclose(merged.prototypes_, _merged_ref(unmerged, groups, cosine),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(merged.prototype_weights_,
                               [unmerged.prototype_weights_[g].sum() for g in groups])
    # The weights matter: the plain mean of the prototypes is something else.
    plain = np.array([unmerged.prototypes_[g].mean(axis=0) for g in groups])
    assert not np.allclose(merged.prototypes_, _unit(plain) if cosine else plain, rtol=1e-3)
    nothing = _clf(5, distance=distance, merge_threshold=0.0).fit(Xtr, ytr)
    assert nothing.n_merged_ == 0
    np.testing.assert_array_equal(nothing.prototypes_, unmerged.prototypes_)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_merge_matches_union_find(digits_split, distance):
    Xtr, Xte, ytr, _ = digits_split
    cosine = distance == "cosine"
    unmerged = _clf(6, distance=distance).fit(Xtr, ytr)
    P, labels = unmerged.prototypes_, unmerged.prototype_labels_
    same = labels[:, None] == labels[None, :]
    D = _sqdist(P, P) / 2.0 if cosine else np.sqrt(_sqdist(P, P))
    within = D[np.triu(same, 1)]
    mean_all = _pairwise_ref(P, cosine).mean()
    cases = [
        ({"merge_threshold": float(np.quantile(within, 0.3))}, np.quantile(within, 0.3)),
        ({"merge_threshold": 0.5, "relative_merge": True}, 0.5 * mean_all),
        ({"merge_threshold": 1e6, "percentile_threshold": 0.02},
         np.quantile(_pairwise_ref(P, cosine), 0.02)),
    ]
    for params, threshold in cases:
        groups = _groups_ref(P, labels, threshold, cosine)
        assert 10 < len(groups) < len(P)  # a real test: some merged, not all
        model = _clf(6, distance=distance, **params).fit(Xtr, ytr)
        _check_layout(model)
        assert model.n_merged_ == len(P) - len(groups)
        np.testing.assert_array_equal(model.prototype_labels_, [labels[g[0]] for g in groups])
        np.testing.assert_allclose(model.prototypes_, _merged_ref(unmerged, groups, cosine),
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(
            model.predict(Xte),
            model.prototype_labels_[_sqdist(_unit(Xte) if cosine else Xte,
                                             model.prototypes_).argmin(axis=1)])


@pytest.mark.parametrize("param", ["relative_merge", "percentile_threshold"])
def test_merge_count_monotone_in_threshold(digits_split, param):
    Xtr, _, ytr, _ = digits_split
    full = len(_clf(6).fit(Xtr, ytr).prototypes_)
    if param == "relative_merge":
        grid = [{"merge_threshold": t, "relative_merge": True}
                for t in [0.0, 0.1, 0.3, 0.5, 0.8, 1.2, 3.0]]
    else:
        grid = [{"merge_threshold": 1e6, "percentile_threshold": q}
                for q in [0.001, 0.01, 0.03, 0.1, 0.3, 1.0]]
    counts = [len(_clf(6, **params).fit(Xtr, ytr).prototypes_) for params in grid]
    assert (np.diff(counts) <= 0).all()
    assert counts[0] > counts[-1]
    assert counts[-1] == 10 and counts[0] <= full
    if param == "relative_merge":
        assert counts[0] == full


def test_min_weight_prunes_but_keeps_one_per_class(digits_split):
    Xtr, _, ytr, _ = digits_split
    ref = _clf(6).fit(Xtr, ytr)
    w, labels = ref.prototype_weights_, ref.prototype_labels_
    for min_weight in [np.median(w), w.max() + 1]:
        keep = w > min_weight
        for c in ref.classes_:
            mine = np.flatnonzero(labels == c)
            keep[mine[np.argmax(w[mine])]] = True
        model = _clf(6, min_weight=min_weight).fit(Xtr, ytr)
        _check_layout(model)
        assert model.n_pruned_ == (~keep).sum() > 0
        assert (model.n_prototypes_per_class_ >= 1).all()
        np.testing.assert_array_equal(model.prototypes_, ref.prototypes_[keep])
        np.testing.assert_array_equal(model.prototype_weights_, w[keep])
    assert (model.n_prototypes_per_class_ == 1).all()


# ------------------------------------------------------------ lambda penalty


def _penalised_ref(X, y, lam, max_iter, cosine):
    """The penalised Lloyd iterations of lambda_penalty with one prototype per class."""
    X = _unit(X) if cosine else np.asarray(X, dtype=np.float64)
    classes = np.unique(y)
    y_idx = np.searchsorted(classes, y)
    own_w = np.bincount(y_idx).astype(np.float64)
    own_sums = np.array([X[y_idx == c].sum(axis=0) for c in range(len(classes))])
    P = own_sums / own_w[:, None]
    P = _unit(P) if cosine else P
    seen = set()
    for _ in range(max_iter):
        near = _sqdist(X, P).argmin(axis=1)
        if near.tobytes() in seen:
            break  # A fixed point or a cycle: the next steps repeat.
        seen.add(near.tobytes())
        intruder = near != y_idx
        bad_w = np.bincount(near[intruder], minlength=len(classes)).astype(np.float64)
        bad_sums = np.zeros_like(P)
        np.add.at(bad_sums, near[intruder], X[intruder])
        lam_k = np.where(bad_w > 0, np.minimum(lam, 0.5 * own_w / np.maximum(bad_w, 1)), lam)
        new = (own_sums - lam_k[:, None] * bad_sums) / (own_w - lam_k * bad_w)[:, None]
        P = _unit(new) if cosine else new
    return P


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("lam", [0.2, 2.0])
def test_lambda_penalty_matches_reference(lam, distance):
    X, y = make_blobs(400, n_features=4, centers=4, cluster_std=6.0, random_state=0)
    if distance == "cosine":
        X += 6.0
    # tol=0: iterate until the partitions repeat (a fixed point or a cycle), as the
    # reference does.
    model = _clf(1, distance=distance, lambda_penalty=lam, tol=0).fit(X, y)
    plain = _clf(1, distance=distance).fit(X, y)
    ref = _penalised_ref(X, y, lam, 100, distance == "cosine")
    np.testing.assert_allclose(model.prototypes_, ref, rtol=1e-7, atol=1e-9)
    assert 0 < model.n_penalty_iter_ < 100 and plain.n_penalty_iter_ == 0
    # The default tol stops no later, close to the same point.
    early = _clf(1, distance=distance, lambda_penalty=lam).fit(X, y)
    assert early.n_penalty_iter_ <= model.n_penalty_iter_
    np.testing.assert_allclose(early.prototypes_, ref, atol=0.05)
    assert np.abs(model.prototypes_ - plain.prototypes_).max() > 1e-3
    # lambda=2 pushes hard enough that the cap (intruders count at most half) binds.
    near = _sqdist(_unit(X) if distance == "cosine" else X, ref).argmin(axis=1)
    intruders = np.bincount(near[near != y], minlength=4)
    assert (lam * intruders > 0.5 * np.bincount(y)).any() == (lam > 1)
    # Weights and scale_ still describe the own-class assignment.
    S = _class_sqdist_ref(model, X)
    np.testing.assert_allclose(model.scale_, S[np.arange(len(y)), y].mean(), rtol=1e-9)
    np.testing.assert_allclose(model.prototype_weights_, np.bincount(y))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_lambda_penalty_keeps_accuracy(digits_split, distance):
    Xtr, Xte, ytr, yte = digits_split
    plain = _clf(5, distance=distance).fit(Xtr, ytr)
    for lam in [0.1, 1.0]:
        pushed = _clf(5, distance=distance, lambda_penalty=lam).fit(Xtr, ytr)
        _check_layout(pushed)
        assert pushed.score(Xte, yte) >= plain.score(Xte, yte) - 0.015
        assert not np.allclose(pushed.prototypes_, plain.prototypes_)
        if distance == "cosine":
            np.testing.assert_allclose(np.linalg.norm(pushed.prototypes_, axis=1), 1.0)


# ------------------------------------------------------------ dtype and reproducibility


@pytest.mark.parametrize("fmt", FORMATS)
def test_dtype(digits, fmt):
    X, y = digits
    X32 = _as(X, fmt, np.float32)
    X64 = _as(X, fmt, np.float64)
    assert _clf(2).fit(X32, y).prototypes_.dtype == np.float32
    assert _clf(2).fit(X64, y).prototypes_.dtype == np.float64
    assert _clf(2).fit(X.astype(np.int64), y).prototypes_.dtype == np.float64
    forced = _clf(2, dtype="float64").fit(X32, y)
    assert forced.prototypes_.dtype == np.float64
    np.testing.assert_array_equal(forced.prototypes_, _clf(2).fit(X64, y).prototypes_)
    down = _clf(2, dtype="float32").fit(X64, y)
    assert down.prototypes_.dtype == np.float32
    np.testing.assert_array_equal(down.prototypes_, _clf(2).fit(X32, y).prototypes_)
    stream = _clf(2, dtype=np.float32).partial_fit(X64, y)
    assert stream.prototypes_.dtype == np.float32
    stream.partial_fit(X64, y)
    assert stream.prototypes_.dtype == np.float32
    np.testing.assert_array_equal(down.predict(X64), down.predict(X32))


def _overlapping_blobs():
    return make_blobs(3000, n_features=16, centers=3, cluster_std=6.0, random_state=0)


@pytest.mark.parametrize("params", [{}, {"distance": "cosine"}, {"lambda_penalty": 0.5},
                                    {"init": "random", "merge_threshold": 10.0}])
def test_reproducible(params):
    X, y = _overlapping_blobs()
    a = _clf(4, random_state=5, **params).fit(X, y)
    b = _clf(4, random_state=5, **params).fit(X, y)
    np.testing.assert_array_equal(a.prototypes_, b.prototypes_)
    np.testing.assert_array_equal(a.prototype_weights_, b.prototype_weights_)
    assert a.scale_ == b.scale_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = _clf(4, random_state=6, **params).fit(X, y)
    assert not np.array_equal(a.prototypes_, c.prototypes_)


@pytest.mark.parametrize("params", [{"lambda_penalty": 0.5},
                                    {"distance": "cosine", "merge_threshold": 0.01}])
def test_thread_independent(params):
    # Classes of 1000 rows: every kernel call has several row blocks to share between
    # the threads. Few iterations: on a busy 2-core machine each 2-thread call is slow.
    X, y = _overlapping_blobs()
    one = _clf(4, random_state=5, n_threads=1, max_iter=5, **params).fit(X, y)
    two = _clf(4, random_state=5, n_threads=2, max_iter=5, **params).fit(X, y)
    np.testing.assert_array_equal(one.prototypes_, two.prototypes_)
    np.testing.assert_array_equal(one.prototype_weights_, two.prototype_weights_)
    assert one.scale_ == two.scale_
    np.testing.assert_array_equal(one.predict(X), two.predict(X))
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))


def test_class_parallel_equals_sequential():
    # 8 classes on 2 threads run as 2 workers of 1 thread each; 1 thread runs them in turn.
    X, y = make_blobs(4000, n_features=8, centers=16, cluster_std=2.0, random_state=1)
    y = y % 8
    one = _clf(3, random_state=2, n_threads=1, max_iter=10).fit(X, y)
    two = _clf(3, random_state=2, n_threads=2, max_iter=10).fit(X, y)
    np.testing.assert_array_equal(one.prototypes_, two.prototypes_)
    np.testing.assert_array_equal(one.n_iter_, two.n_iter_)
    assert one.scale_ == two.scale_


# ------------------------------------------------------------ ClusterLabelClassifier


def _cluster_label_ref(X, y, Xte, n_clusters, w=None):
    """dynkm.KMeans with the same parameters, then majority class of each cluster."""
    km = KMeans(n_clusters, init="random", n_init=1, random_state=0, n_threads=1)
    km.fit(X, sample_weight=w)
    classes = np.unique(y)
    table = np.zeros((n_clusters, len(classes)))
    np.add.at(table, (km.labels_, np.searchsorted(classes, y)), 1.0 if w is None else w)
    assert (table.sum(axis=1) > 0).all()
    return classes[table.argmax(axis=1)][km.predict(Xte)], table[km.predict(Xte)]


def test_cluster_label_matches_reference(digits_split):
    Xtr, Xte, ytr, yte = digits_split
    model = ClusterLabelClassifier(50, random_state=0, n_threads=1).fit(Xtr, ytr)
    pred_ref, table_ref = _cluster_label_ref(Xtr, ytr, Xte, 50)
    np.testing.assert_array_equal(model.predict(Xte), pred_ref)
    assert model.score(Xte, yte) == (pred_ref == yte).mean()
    P = model.predict_proba(Xte)
    np.testing.assert_allclose(P, table_ref / table_ref.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_[P.argmax(axis=1)], model.predict(Xte))
    assert model.cluster_centers_.shape == (50, Xtr.shape[1])
    assert model.class_weights_.sum() == len(ytr)
    coarse = ClusterLabelClassifier(10, random_state=0, n_threads=1).fit(Xtr, ytr)
    assert model.score(Xte, yte) > coarse.score(Xte, yte) + 0.05


def test_cluster_label_weights(digits_split):
    Xtr, Xte, ytr, _ = digits_split
    w = np.random.default_rng(0).uniform(0.1, 5.0, len(ytr))
    model = ClusterLabelClassifier(30, random_state=0, n_threads=1).fit(Xtr, ytr,
                                                                       sample_weight=w)
    pred_ref, table_ref = _cluster_label_ref(Xtr, ytr, Xte, 30, w)
    np.testing.assert_array_equal(model.predict(Xte), pred_ref)
    np.testing.assert_allclose(model.predict_proba(Xte),
                               table_ref / table_ref.sum(axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(model.class_weights_.sum(), w.sum(), rtol=1e-6)
    # A heavy class wins clusters it would lose by count.
    heavy = np.where(ytr == 1, 1e4, 1.0)
    tilted = ClusterLabelClassifier(30, random_state=0, n_threads=1).fit(Xtr, ytr,
                                                                        sample_weight=heavy)
    unweighted = ClusterLabelClassifier(30, random_state=0, n_threads=1).fit(Xtr, ytr)
    assert (tilted.cluster_labels_ == 1).sum() > (unweighted.cluster_labels_ == 1).sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_cluster_label_cosine_csr_equals_dense(digits_split, dtype):
    Xtr, Xte, ytr, _ = digits_split
    Xtr, Xte = _untie(Xtr).astype(dtype), _untie(Xte, 1).astype(dtype)
    dense = ClusterLabelClassifier(30, distance="cosine", random_state=0, n_threads=1)
    dense.fit(Xtr, ytr)
    csr = ClusterLabelClassifier(30, distance="cosine", random_state=0, n_threads=1)
    csr.fit(sp.csr_matrix(Xtr), ytr)
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.linalg.norm(dense.cluster_centers_, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(csr.predict(sp.csr_matrix(Xte)), dense.predict(Xte))
    # Spherical: scaling a row changes nothing.
    scale = np.random.default_rng(2).uniform(0.1, 10.0, (len(Xte), 1)).astype(dtype)
    np.testing.assert_array_equal(dense.predict(Xte * scale), dense.predict(Xte))
    assert dense.cluster_centers_.dtype == dtype


def test_cluster_label_n_init_and_errors(digits_split):
    Xtr, _, ytr, _ = digits_split
    one = ClusterLabelClassifier(20, random_state=0, n_threads=1).fit(Xtr, ytr)
    best = ClusterLabelClassifier(20, n_init=4, random_state=0, n_threads=1).fit(Xtr, ytr)
    # The first of the 4 runs is the single run: the best cannot be worse.
    assert best.inertia_ <= one.inertia_
    # More clusters than rows: one cluster per row, said by a warning (a
    # 1-nearest-neighbour classifier, which fits its training rows exactly).
    with pytest.warns(UserWarning, match=rf"n_clusters={len(ytr) + 1} .* fitting {len(ytr)} "):
        many = ClusterLabelClassifier(len(ytr) + 1, random_state=0, n_threads=1).fit(Xtr, ytr)
    assert many.n_clusters_ == len(many.cluster_centers_) == len(ytr)
    assert one.n_clusters_ == 20
    assert many.score(Xtr, ytr) == 1.0
    with pytest.raises(ValueError, match="distance"):
        ClusterLabelClassifier(5, distance="manhattan").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="init"):
        ClusterLabelClassifier(5, init="farthest").fit(Xtr, ytr)


# ------------------------------------------------------------ MNIST


@pytest.mark.filterwarnings("ignore:self.within_class_std_dev_:UserWarning")
# Floors below the accuracies measured over seeds and inits on this split: euclidean
# k_init=20 0.92-0.93, cosine k_init=30 0.935-0.94 (NearestCentroid: 0.81).
@pytest.mark.parametrize("k_init, distance, floor",
                         [(20, "euclidean", 0.915), (30, "cosine", 0.93)])
def test_mnist_beats_nearest_centroid(mnist_train, k_init, distance, floor):
    X, y = mnist_train
    Xtr, ytr, Xte, yte = X[:10000], y[:10000], X[10000:12000], y[10000:12000]
    ours = _clf(k_init, distance=distance).fit(Xtr, ytr).score(Xte, yte)
    reference = NearestCentroid().fit(Xtr, ytr).score(Xte, yte)
    assert ours > reference + 0.05
    assert ours > floor


# ------------------------------------------------------------ scikit-learn API

_WEIGHT_REASON = (
    "the seeding draws rows at random, so weighted rows and repeated rows give different "
    "random draws; weighted == repeated is tested with k_init=1 in "
    "test_weighted_equals_repeated_and_zero_equals_dropped and for ClusterLabelClassifier "
    "against the same KMeans in test_cluster_label_weights."
)


@pytest.mark.parametrize("estimator", [KMeansClassifier(n_threads=1),
                                       ClusterLabelClassifier(n_clusters=3, n_threads=1)],
                         ids=["KMeansClassifier", "ClusterLabelClassifier"])
def test_check_estimator(estimator):
    check_estimator(estimator, expected_failed_checks={
        "check_sample_weight_equivalence_on_dense_data": _WEIGHT_REASON,
        "check_sample_weight_equivalence_on_sparse_data": _WEIGHT_REASON,
    })


def test_command_line_classify(capsys):
    from dynkm.__main__ import main

    assert main(["classify", "--per-class", "5", "--n-threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line[:40].strip(): line[40:].split() for line in lines[2:]}
    assert set(rows) == {"KMeansClassifier(5 per class)", "ClusterLabelClassifier(50)",
                         "sklearn NearestCentroid"}
    accuracy = {name: float(values[0]) for name, values in rows.items()}
    # Several prototypes per class beat one centroid per class on the digits.
    assert accuracy["KMeansClassifier(5 per class)"] > accuracy["sklearn NearestCentroid"]


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
    assert model.fit(X, y).history_["shift"] == []


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


def test_merge_options_need_merge_threshold():
    X, y = make_blobs(60, n_features=3, centers=3, random_state=0)
    for params in ({"relative_merge": True}, {"percentile_threshold": 0.5}):
        with pytest.raises(ValueError, match="merge_threshold"):
            _clf(2, **params).fit(X, y)


def test_k_list_unknown_class_warns():
    X, y = make_blobs(60, n_features=3, centers=3, random_state=0)
    with pytest.warns(UserWarning, match="k_list names classes that are not in y"):
        model = _clf(2, k_list={"0": 1, 1: 3}).fit(X, y)
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [2, 3, 2])


def test_csr_input_left_untouched():
    X, y = make_blobs(80, n_features=6, centers=2, random_state=0)
    X[X < 0] = 0
    Xs = sp.csr_matrix(X)
    # Unsorted column indices inside each row, as some producers leave them.
    for i in range(Xs.shape[0]):
        a, b = Xs.indptr[i], Xs.indptr[i + 1]
        Xs.indices[a:b] = Xs.indices[a:b][::-1].copy()
        Xs.data[a:b] = Xs.data[a:b][::-1].copy()
    Xs.has_sorted_indices = False
    indices, data = Xs.indices.copy(), Xs.data.copy()
    model = _clf(2, distance="cosine").fit(Xs, y)
    model.partial_fit(Xs, y)
    model.predict_proba(Xs)
    np.testing.assert_array_equal(Xs.indices, indices)
    np.testing.assert_array_equal(Xs.data, data)
    np.testing.assert_array_equal(model.predict(Xs), model.predict(X))


def test_min_weight_streaming_judges_seeds_after_their_batch():
    # Seeds weigh a few rows in their own batch (here all at most 5): pruning them at
    # once would leave one prototype per class for good.
    X, y = make_blobs(400, n_features=2, centers=6, random_state=0)
    y = y % 2
    model = _clf(3, min_weight=5.0)
    batches = np.array_split(np.arange(len(y)), 20)
    model.partial_fit(X[batches[0]], y[batches[0]])
    assert (model.prototype_weights_ <= 5.0).sum() >= 4
    np.testing.assert_array_equal(model.n_prototypes_per_class_, [3, 3])
    assert model.history_["n_pruned"] == [0]
    for rows in batches[1:]:
        model.partial_fit(X[rows], y[rows])
    # From the second batch on they are judged; pruned ones are not seeded again.
    assert (model.prototype_weights_ > 5.0).all()
    assert sum(model.history_["n_new"]) == 6
    assert len(model.prototypes_) == 6 - sum(model.history_["n_pruned"])


# ---------------------------------------------------------------- the Lloyd driver
def _blobs(n, d, centers, dtype=np.float64, seed=0):
    X, y = make_blobs(n, n_features=d, centers=centers, cluster_std=3.0, random_state=seed)
    return (X + 20.0).astype(dtype), y


def _force_lloyd(monkeypatch):
    """Make the classifiers' runs take the plain pass (``algorithm="lloyd"``)."""
    import dynkm._lloyd
    import dynkm.classifier._fit

    def plain(algorithm, *args, **kwargs):
        return dynkm._lloyd.make_steps("lloyd", *args, **kwargs)

    def plain_spherical(algorithm, *args):
        return dynkm._lloyd.make_steps("lloyd", *args, spherical=True)

    monkeypatch.setattr(dynkm.classifier._fit, "make_steps", plain)
    monkeypatch.setattr(dynkm.classifier._fit, "make_spherical_steps", plain_spherical)


def _record_strategies(monkeypatch):
    """The strategy names of every classifier run, in a list that fills as they run."""
    import dynkm._lloyd
    import dynkm.classifier._fit

    names = []

    def recording(steps, *args):
        names.append(steps.name)
        return dynkm._lloyd.run_lloyd(steps, *args)

    monkeypatch.setattr(dynkm.classifier._fit, "run_lloyd", recording)
    return names


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_cluster_label_many_clusters_runs_yinyang_as_lloyd(monkeypatch, dtype, distance):
    # Enough rows and clusters for algorithm="auto" to pick Yinyang's bounds.
    X, y = _blobs(5000, 20, 60, dtype)
    params = dict(init="random", tol=0.0, max_iter=40, random_state=0, n_threads=1,
                  distance=distance)
    bounded = ClusterLabelClassifier(200, **params).fit(X, y)
    h = bounded.history_
    assert h["algorithm"] == "yinyang" and h["n_groups"] > 1
    # The bounds skipped distances after the first iteration.
    assert h["distance_fraction"][1:].max() < 0.9
    with monkeypatch.context() as mp:
        _force_lloyd(mp)
        plain = ClusterLabelClassifier(200, **params).fit(X, y)
    assert plain.history_["algorithm"] == "lloyd"
    assert bounded.n_iter_ == plain.n_iter_ == len(h["objective"])
    np.testing.assert_array_equal(bounded.predict(X), plain.predict(X))
    np.testing.assert_array_equal(bounded._nearest(X), plain._nearest(X))
    np.testing.assert_array_equal(bounded.class_weights_, plain.class_weights_)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(bounded.cluster_centers_, plain.cluster_centers_, rtol=rtol)
    np.testing.assert_allclose(bounded.inertia_, plain.inertia_, rtol=rtol)


def test_cluster_label_strategy_by_input(monkeypatch):
    # CSR input runs the plain pass (also for cosine); few clusters too ("auto").
    X, y = _blobs(5000, 20, 60)
    params = dict(init="random", max_iter=5, random_state=0, n_threads=1)
    for distance in ("euclidean", "cosine"):
        assert ClusterLabelClassifier(60, distance=distance, **params).fit(
            sp.csr_matrix(X), y).history_["algorithm"] == "lloyd"
    assert ClusterLabelClassifier(60, distance="cosine", **params).fit(
        X, y).history_["algorithm"] == "yinyang"
    assert ClusterLabelClassifier(8, **params).fit(X, y).history_["algorithm"] == "lloyd"
    assert ClusterLabelClassifier(60, **params).fit(X, y).history_["algorithm"] == "yinyang"


# float64 for cosine: there the plain float32 pass puts a row of these data on the wrong
# side of a near tie (its GEMM expansion's rounding), which the bounds resolve exactly.
@pytest.mark.parametrize("distance, dtype", [("euclidean", np.float32), ("cosine", np.float64)])
def test_kmeans_classifier_classes_run_yinyang_as_lloyd(monkeypatch, distance, dtype):
    X, y = _blobs(9000, 20, 60, dtype)
    y = y % 2  # two classes of ~4500 rows: "auto" bounds each class's fit
    params = dict(tol=0.0, max_iter=30, random_state=0, distance=distance)
    with monkeypatch.context() as mp:
        names = _record_strategies(mp)
        one = _clf(40, n_threads=1, **params).fit(X, y)
        two = _clf(40, n_threads=2, **params).fit(X, y)
    assert names == ["yinyang"] * 4
    with monkeypatch.context() as mp:
        _force_lloyd(mp)
        plain = _clf(40, n_threads=1, **params).fit(X, y)
    # Bitwise the same for any thread count.
    np.testing.assert_array_equal(one.prototypes_, two.prototypes_)
    np.testing.assert_array_equal(one.prototype_weights_, two.prototype_weights_)
    assert one.scale_ == two.scale_
    # The iterations of plain Lloyd.
    np.testing.assert_array_equal(one.n_iter_, plain.n_iter_)
    np.testing.assert_array_equal(one.prototype_weights_, plain.prototype_weights_)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(one.prototypes_, plain.prototypes_, rtol=rtol)
    np.testing.assert_allclose(one.scale_, plain.scale_, rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ["elkan", "yinyang"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("tol, max_iter", [(0.0, 30), (1e-3, 30), (0.0, 1), (0.0, 3)])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_kmeans_run_bounded_equals_plain(dtype, algorithm, weighted, tol, max_iter, distance):
    from dynkm._rows import unit_rows
    from dynkm.classifier import _kmeans_run

    X, _ = _blobs(1500, 12, 25, dtype)
    X = unit_rows(X - 20.0, 1) if distance == "cosine" else X  # as the classifiers pass it
    w = (np.random.default_rng(1).uniform(0.5, 2.0, len(X)).astype(dtype) if weighted
         else None)
    p = {"init": "k-means++", "tol": tol, "max_iter": max_iter, "distance": distance}
    plain, bounded = (_kmeans_run(X, w, 40, p, np.random.RandomState(0), 1, algorithm=a)
                      for a in ("lloyd", algorithm))
    assert bounded["history"]["algorithm"] == algorithm
    assert bounded["n_iter"] == plain["n_iter"]
    np.testing.assert_array_equal(bounded["labels"], plain["labels"])
    np.testing.assert_array_equal(bounded["weights"], plain["weights"])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(bounded["centers"], plain["centers"], rtol=rtol)
    np.testing.assert_allclose(bounded["inertia"], plain["inertia"], rtol=rtol)
    if distance == "cosine":
        np.testing.assert_allclose(np.linalg.norm(bounded["centers"], axis=1), 1.0, rtol=rtol)


def test_kmeans_run_cosine_relocates_empty_clusters_as_plain():
    # Duplicate rows give k-means++ fewer distinct seeds than clusters: empty clusters refilled.
    from dynkm._rows import unit_rows
    from dynkm.classifier import _kmeans_run

    X, _ = _blobs(300, 12, 5)
    X = unit_rows(np.repeat(X - 20.0, 5, axis=0), 1)
    p = {"init": "random", "tol": 0.0, "max_iter": 30, "distance": "cosine"}
    plain, bounded = (_kmeans_run(X, None, 40, p, np.random.RandomState(3), 1, algorithm=a)
                      for a in ("lloyd", "yinyang"))
    assert bounded["history"]["algorithm"] == "yinyang"
    assert plain["history"]["n_relocated"].sum() > 0
    np.testing.assert_array_equal(bounded["history"]["n_relocated"],
                                  plain["history"]["n_relocated"])
    assert bounded["n_iter"] == plain["n_iter"]
    np.testing.assert_array_equal(bounded["labels"], plain["labels"])
    np.testing.assert_allclose(bounded["centers"], plain["centers"], rtol=1e-12)
