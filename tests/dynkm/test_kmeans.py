"""dynkm.KMeans against scikit-learn and faiss from the same initial centers."""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans as SKKMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
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
    np.testing.assert_allclose(D ** 2, pairwise_sqdist(X, km.cluster_centers_), rtol=1e-9,
                               atol=1e-6)
    np.testing.assert_array_equal(KMeans(10, random_state=0, max_iter=50).fit_predict(X),
                                  km.labels_)


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
    np.testing.assert_array_equal(km.cluster_centers_,
                                  KMeans(5, init=X[:5]).fit(X).cluster_centers_)
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
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(5\) found "
                      r"smaller than n_clusters \(8\)\. Possibly due to duplicate points in X"):
        km = KMeans(8, random_state=0).fit(X)
    assert np.isfinite(km.cluster_centers_).all()
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "X, err, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), ValueError, "infinity"),
        (np.empty((0, 3)), ValueError, "sample"),
        (sp.csr_matrix(np.array([[1.0, np.nan], [0.0, 1.0]])), ValueError, "NaN"),
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
            "check_sample_weight_equivalence_on_sparse_data": "as on dense data",
        },
    )


def test_command_line_runs(capsys):
    from dynkm.__main__ import main

    assert main(["kmeans", "--n-init", "2"]) == 0
    out = capsys.readouterr().out
    assert "dynkm.KMeans" in out and "sklearn KMeans" in out and "purity" in out


# ------------------------------------------------- scikit-learn's interface
@pytest.mark.parametrize("copy_x", [True, False])
def test_copy_x_accepted_and_X_never_modified(digits, copy_x):
    X = digits[0] + 1000.0  # far from the origin: computed around the mean, X untouched
    before = X.copy()
    km = KMeans(5, copy_x=copy_x, random_state=0).fit(X)
    np.testing.assert_array_equal(X, before)
    ref = KMeans(5, random_state=0).fit(X)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_array_equal(km.cluster_centers_, ref.cluster_centers_)
    with pytest.raises(TypeError, match="copy_x"):
        KMeans(5, copy_x="no").fit(X)


@pytest.mark.parametrize("tol, last", [
    (0.0, r"Converged at iteration \d+: strict convergence\."),
    (1e-2, r"Converged at iteration \d+: center shift \S+ within tolerance \S+\."),
])
def test_verbose_prints_scikit_learns_lines(capsys, tol, last):
    X = np.random.default_rng(0).normal(size=(2000, 5))
    km = KMeans(3, init="random", n_init=2, tol=tol, random_state=0, verbose=1).fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert lines.count("Initialization complete") == 2
    iterations = [ln for ln in lines if ln.startswith("Iteration")]
    assert len(iterations) >= km.n_iter_  # both runs' iterations, the best one's among them
    for ln in iterations:
        assert re.fullmatch(r"Iteration \d+, inertia [0-9.e+-]+\.", ln), ln
        float(ln.split("inertia ")[1][:-1])
    ends = [ln for ln in lines if ln.startswith("Converged")]
    assert len(ends) == 2 and all(re.fullmatch(last, ln) for ln in ends), ends
    assert set(lines) <= {"Initialization complete"} | set(iterations) | set(ends)


def test_n_init_resolved_as_scikit_learn(digits):
    X = digits[0]
    assert KMeans(3).fit(X)._n_init == 1
    assert KMeans(3, init="random").fit(X)._n_init == 10
    assert KMeans(3, init=lambda X, k, random_state: X[:k]).fit(X)._n_init == 10
    assert KMeans(3, init=X[:3]).fit(X)._n_init == 1
    with pytest.warns(RuntimeWarning, match=r"^Explicit initial center position passed: "
                      r"performing only one init in KMeans instead of n_init=4\.$"):
        assert KMeans(3, init=X[:3], n_init=4).fit(X)._n_init == 1


@pytest.mark.parametrize("init, match", [
    (np.zeros((2, 64)), r"The shape of the initial centers given as init, \(2, 64\), does "
                        r"not match the number of clusters n_clusters=3\."),
    (np.zeros((3, 5)), r"The shape of the initial centers given as init, \(3, 5\), does "
                       r"not match the number of features of the data X.shape\[1\]=64\."),
    (lambda X, k, random_state: X[:2], r"The shape of the initial centers returned by "
                                       r"init\(X, n_clusters, random_state\), \(2, 64\)"),
])
def test_init_of_the_wrong_shape(digits, init, match):
    km = KMeans(3, init=init, n_init=1)
    with pytest.raises(ValueError, match=match):
        km.fit(digits[0])
    assert not hasattr(km, "cluster_centers_")


def test_elkan_with_one_cluster_warns_and_runs_lloyd(digits):
    with pytest.warns(RuntimeWarning, match="algorithm='elkan' doesn't make sense for a single "
                      "cluster. Using 'lloyd' instead."):
        km = KMeans(1, algorithm="elkan").fit(digits[0])
    assert km.history_["algorithm"] == "lloyd"
    assert "single cluster" in km.history_["algorithm_reason"]
    np.testing.assert_allclose(km.cluster_centers_[0], digits[0].mean(0))


def test_same_clustering_with_lower_inertia_by_rounding_keeps_the_first():
    """scikit-learn's rule for n_init: a run replaces the best only if it is a
    different partition. Two runs of one partition differ in inertia only by
    rounding (float32 sums in another order); taking the smaller would make the
    label numbering depend on that rounding, e.g. differ between dense and CSR."""
    from dynkm.kmeans import _same_clustering

    a = np.array([0, 0, 1, 2, 2, 1])
    assert _same_clustering(a, np.array([2, 2, 0, 1, 1, 0]))
    assert not _same_clustering(a, np.array([2, 2, 0, 1, 1, 1]))
    assert not _same_clustering(a, np.array([0, 0, 1, 1, 1, 1]))


@pytest.mark.parametrize("init", ["k-means++", "random", "farthest"])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_seeding_uses_sample_weight_and_never_picks_zero_weight_rows(init, layout):
    """What scikit-learn's test_sample_weight_init/_zero check through its private
    _init_centroids, through dynkm's (dense and CSR alike)."""
    from dynkm._rows import row_norms
    from dynkm.kmeans import initial_centers

    X, _ = make_blobs(200, n_features=10, centers=10, random_state=0)
    data = sp.csr_matrix(X) if layout == "csr" else X
    xs = row_norms(data, 1)
    w = np.random.default_rng(0).uniform(size=len(X))
    a = initial_centers(data, xs, 5, w, init, np.random.RandomState(0), 1)
    b = initial_centers(data, xs, 5, np.ones(len(X)), init, np.random.RandomState(0), 1)
    assert not np.allclose(a, b)
    w[::2] = 0
    for seed in range(5):
        C = initial_centers(data, xs, 10, w, init, np.random.RandomState(seed), 1)
        d = ((X[::2, None, :] - C[None]) ** 2).sum(-1)
        assert (d > 1e-6).all()


@pytest.mark.parametrize("offset", [0.0, 1e4])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_transform_of_the_centers_has_an_exact_zero_diagonal(offset, layout):
    """kmcore's pairwise kernel leaves rounding residues where x == c; transform
    recomputes the distances the expansion cancelled (scikit-learn's test_transform
    compares with exact zeros)."""
    from kmcore.distances import _pairwise_validated, _row_norms

    rng = np.random.default_rng(0)
    C = rng.normal(size=(60, 7)) * 3 + offset
    xs = _row_norms(C, True, 1)
    assert np.diag(_pairwise_validated(C, xs, C, xs, 1)).any()  # the residues exist
    X = np.vstack([C, rng.normal(size=(200, 7)) * 3 + offset])
    km = KMeans(60, init=C, n_init=1, max_iter=1).fit(X)
    km.cluster_centers_ = C  # a row at each center, bit for bit
    data = sp.csr_matrix(C) if layout == "csr" else C
    D = km.transform(data)
    np.testing.assert_array_equal(np.diag(D), 0)
    ref = np.sqrt(((C[:, None, :] - C[None]) ** 2).sum(-1))
    np.testing.assert_allclose(D, ref, rtol=1e-9 if offset == 0 else 1e-6)
