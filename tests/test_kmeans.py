"""dynkm.KMeans against scikit-learn and faiss from the same initial centers."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans as SKKMeans
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import check_estimator

from dynkm import KMeans
from kmcore import assign, pairwise_sqdist


def _init_rows(X, k, seed=0):
    return X[np.random.default_rng(seed).choice(X.shape[0], k, replace=False)].copy()


def _sk_same_init(X, C0, **kw):
    return SKKMeans(len(C0), init=C0, n_init=1, algorithm="lloyd", **kw).fit(X)


def _untie(X, seed=0):
    """Integer pixels make exact distance ties common, and scikit-learn breaks
    them by the rounding of its internal centering of X: jitter far above
    rounding makes the comparison about the algorithm, not about ties."""
    return X + np.random.default_rng(seed).uniform(0, 1e-3, X.shape)


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_same_init_as_sklearn_digits(digits, k):
    X = _untie(digits[0])
    C0 = _init_rows(X, k)
    ours = KMeans(k, init=C0, max_iter=100).fit(X)
    ref = _sk_same_init(X, C0, max_iter=100)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-9)
    assert ours.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("tol", [0.0, 1e-2])
def test_same_init_as_sklearn_blobs_weighted(tol):
    X, _ = make_blobs(3000, n_features=12, centers=15, cluster_std=3.0, random_state=1)
    w = np.random.default_rng(2).uniform(0.1, 3.0, X.shape[0])
    C0 = _init_rows(X, 15, seed=3)
    ours = KMeans(15, init=C0, tol=tol).fit(X, sample_weight=w)
    ref = _sk_same_init(X, C0, tol=tol).fit(X, sample_weight=w)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-9)
    assert ours.n_iter_ == ref.n_iter_


def test_kmeanspp_seed_as_sklearn(digits):
    X = _untie(digits[0])
    ours = KMeans(10, random_state=0, n_init=1).fit(X)
    ref = SKKMeans(10, random_state=0, n_init=1).fit(X)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-6)


def test_float32_close_to_float64(digits):
    X, _ = digits
    C0 = _init_rows(X, 10)
    f64 = KMeans(10, init=C0, max_iter=20, tol=0).fit(X)
    f32 = KMeans(10, init=C0, max_iter=20, tol=0).fit(X.astype(np.float32))
    assert f32.cluster_centers_.dtype == np.float32
    assert f32.transform(X.astype(np.float32)).dtype == np.float32
    assert (f32.labels_ != f64.labels_).mean() < 0.01
    np.testing.assert_allclose(f32.inertia_, f64.inertia_, rtol=1e-3)


def _faiss_inertia(X, C0, niter):
    faiss = pytest.importorskip("faiss")
    km = faiss.Kmeans(X.shape[1], len(C0), niter=niter, seed=0,
                      max_points_per_centroid=10**9, min_points_per_centroid=1)
    km.train(np.ascontiguousarray(X, dtype=np.float32), init_centroids=C0.astype(np.float32))
    _, dist = assign(X.astype(np.float64), km.centroids.astype(np.float64))
    return float(dist.sum())


@pytest.mark.parametrize("k", [10, 64])
def test_inertia_close_to_faiss_digits(digits, k):
    X, _ = digits
    C0 = _init_rows(X, k)
    ours = KMeans(k, init=C0, max_iter=20, tol=0).fit(X.astype(np.float32))
    _, dist = assign(X, ours.cluster_centers_.astype(np.float64))
    assert abs(dist.sum() - _faiss_inertia(X, C0, 20)) <= 0.005 * dist.sum()


def test_mnist_same_as_sklearn_and_faiss(mnist_train):
    X = _untie(mnist_train[0].astype(np.float64))
    C0 = _init_rows(X, 10)
    ours = KMeans(10, init=C0, max_iter=10, tol=0).fit(X)
    ref = _sk_same_init(X, C0, max_iter=10, tol=0)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-9)
    ours32 = KMeans(10, init=C0, max_iter=10, tol=0).fit(X.astype(np.float32))
    _, dist = assign(X, ours32.cluster_centers_.astype(np.float64))
    assert abs(dist.sum() - _faiss_inertia(X, C0, 10)) <= 0.005 * dist.sum()


def test_reproducible_and_thread_independent(digits):
    X, _ = digits
    a = KMeans(12, random_state=7, n_init=3, n_threads=1).fit(X)
    b = KMeans(12, random_state=7, n_init=3, n_threads=2).fit(X)
    c = KMeans(12, random_state=7, n_init=3, n_threads=2).fit(X)
    for other in (b, c):
        np.testing.assert_array_equal(a.labels_, other.labels_)
        np.testing.assert_array_equal(a.cluster_centers_, other.cluster_centers_)
        assert a.inertia_ == other.inertia_


def test_weighted_equals_repeated():
    X, _ = make_blobs(400, n_features=5, centers=6, random_state=0)
    w = np.random.default_rng(0).integers(1, 4, X.shape[0])
    C0 = _init_rows(X, 6)
    weighted = KMeans(6, init=C0, tol=0).fit(X, sample_weight=w)
    repeated = KMeans(6, init=C0, tol=0).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-10)
    np.testing.assert_allclose(weighted.inertia_, repeated.inertia_, rtol=1e-10)
    unit = KMeans(6, init=C0, tol=0).fit(X, sample_weight=np.ones(X.shape[0]))
    plain = KMeans(6, init=C0, tol=0).fit(X)
    np.testing.assert_array_equal(unit.cluster_centers_, plain.cluster_centers_)


def test_history_and_methods(digits):
    X, _ = digits
    km = KMeans(10, random_state=0, max_iter=50).fit(X)
    h = km.history_
    assert len(h["objective"]) == km.n_iter_ == len(h["seconds"]) == len(h["center_shift"])
    # Lloyd never increases the objective.
    assert np.all(np.diff(h["objective"]) <= 1e-9 * h["objective"][0])
    assert km.inertia_ <= h["objective"][-1] * (1 + 1e-12)
    assert np.all(h["imbalance"] >= 1 - 1e-12)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    np.testing.assert_allclose(km.score(X), -km.inertia_, rtol=1e-12)
    D = km.transform(X)
    np.testing.assert_allclose(D ** 2, pairwise_sqdist(X, km.cluster_centers_), rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(KMeans(10, random_state=0, max_iter=50).fit_predict(X), km.labels_)


def test_check_every_stops_on_a_multiple(digits):
    X, _ = digits
    C0 = _init_rows(X, 10)
    every = KMeans(10, init=C0, check_every=4, tol=0).fit(X)
    always = KMeans(10, init=C0, tol=0).fit(X)
    assert every.n_iter_ % 4 == 0 and every.n_iter_ >= always.n_iter_
    np.testing.assert_array_equal(every.labels_, always.labels_)


@pytest.mark.parametrize("init", ["k-means++", "random", "farthest"])
def test_string_inits(digits, init):
    X, _ = digits
    km = KMeans(10, init=init, random_state=0).fit(X)
    assert km.cluster_centers_.shape == (10, 64)
    assert np.isfinite(km.inertia_) and len(np.unique(km.labels_)) == 10
    again = KMeans(10, init=init, random_state=0).fit(X)
    np.testing.assert_array_equal(km.cluster_centers_, again.cluster_centers_)


def test_callable_init_and_explicit_init_runs_once(digits):
    X, _ = digits
    seen = []

    def pick(X, k, random_state):
        seen.append(k)
        return X[:k]

    km = KMeans(5, init=pick, n_init=2).fit(X)
    assert seen == [5, 5]
    np.testing.assert_array_equal(km.cluster_centers_, KMeans(5, init=X[:5]).fit(X).cluster_centers_)
    with pytest.warns(RuntimeWarning, match="only one init"):
        KMeans(5, init=X[:5], n_init=3).fit(X)


def test_empty_clusters_relocated_deterministically():
    X = np.vstack([np.zeros((20, 2)), np.ones((20, 2)) * 10, [[50.0, 50.0]]])
    C0 = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 10.0]])  # a duplicate: one empty
    a = KMeans(3, init=C0).fit(X)
    b = KMeans(3, init=C0).fit(X)
    assert a.history_["n_relocated"][0] == 1
    assert len(np.unique(a.labels_)) == 3
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_more_clusters_than_distinct_points():
    X = np.repeat(np.arange(5, dtype=np.float64)[:, None], 4, axis=0)
    km = KMeans(8, random_state=0).fit(X)
    assert np.isfinite(km.cluster_centers_).all()
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "X, err, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), ValueError, "infinity"),
        (np.empty((0, 3)), ValueError, "sample"),
        (sp.csr_matrix(np.eye(4)), TypeError, "[Ss]parse"),
        (np.ones((3, 2)), ValueError, "n_samples=3 should be >= n_clusters=8"),
    ],
)
def test_bad_input(X, err, match):
    with pytest.raises(err, match=match):
        KMeans(8).fit(X)


@pytest.mark.parametrize(
    "params, err, match",
    [
        ({"n_clusters": 0}, ValueError, "n_clusters"),
        ({"n_clusters": 2.5}, TypeError, "n_clusters"),
        ({"init": "nope"}, ValueError, "init"),
        ({"init": np.zeros((3, 4))}, ValueError, "init has 3 features|features"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"n_init": "always"}, ValueError, "n_init"),
        ({"check_every": 0}, ValueError, "check_every"),
        ({"n_threads": 0}, ValueError, "n_threads"),
    ],
)
def test_bad_params(digits, params, err, match):
    X, _ = digits
    with pytest.raises(err, match=match):
        KMeans(**{"n_clusters": 3, **params}).fit(X[:, :5])


def test_bad_weights_and_predict_width(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="sample_weight"):
        KMeans(3).fit(X, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        KMeans(3).fit(X, sample_weight=np.ones(3))
    km = KMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        km.predict(X[:, :10])


def test_input_not_modified_readonly_and_fortran(digits):
    X, _ = digits
    Xr = X.copy()
    Xr.setflags(write=False)
    C0 = _init_rows(X, 8)
    a = KMeans(8, init=C0).fit(Xr)
    b = KMeans(8, init=C0).fit(np.asfortranarray(X))
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_check_estimator():
    check_estimator(
        KMeans(),
        expected_failed_checks={
            "check_sample_weight_equivalence_on_dense_data": (
                "k-means++ draws its seeds from the rows, so weighted rows and repeated "
                "rows give different random draws; weighted == repeated is tested from "
                "a fixed init in test_weighted_equals_repeated."
            ),
        },
    )


def test_command_line_runs(capsys):
    from dynkm.__main__ import main

    assert main(["kmeans", "--n-init", "2"]) == 0
    out = capsys.readouterr().out
    assert "dynkm.KMeans" in out and "sklearn KMeans" in out and "purity" in out
