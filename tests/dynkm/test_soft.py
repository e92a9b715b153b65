"""Soft assignment kernels and SoftKMeans against NumPy references."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import check_estimator

import kmcore
from dynkm import KMeans, SoftKMeans


def _reference_resp(X, C, beta):
    D = ((X.astype(np.float64)[:, None, :] - C.astype(np.float64)[None]) ** 2).sum(-1)
    Z = -beta * (D - D.min(axis=1, keepdims=True))
    R = np.exp(Z)
    return R / R.sum(axis=1, keepdims=True), D


@pytest.fixture(scope="module")
def standardized():
    X, y = make_blobs(2000, n_features=20, centers=6, cluster_std=3.0, random_state=0)
    return (X - X.mean(0)) / X.std(0), y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("beta", [1e-6, 1e-2, 1.0, 10.0, 1e6])
def test_soft_assign_matches_numpy_and_is_finite(standardized, dtype, beta):
    X = standardized[0].astype(dtype)
    C = X[[0, 5, 10, 400, 800]].copy()
    R = kmcore.soft_assign(X, C, beta)
    ref, _ = _reference_resp(X, C, beta)
    assert R.dtype == dtype and np.isfinite(R).all()
    np.testing.assert_allclose(R.sum(axis=1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-12)
    # float32 distances carry ~1e-6 relative error, amplified by beta * d in the exponent.
    atol = 1e-9 if dtype == np.float64 else 2e-5 * max(1.0, beta * 10)
    np.testing.assert_allclose(R, ref, atol=min(atol, 1.0))


def test_soft_assign_huge_distances_never_nan():
    """S3's failure: exp(-beta d) underflows to 0 for every center of a row."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1e3, size=(500, 30))
    C = rng.normal(0, 1e3, size=(4, 30))
    for beta in (1.0, 10.0, 1e6):
        R = kmcore.soft_assign(X, C, beta)
        assert np.isfinite(R).all()
        np.testing.assert_array_equal(R.argmax(axis=1), kmcore.assign(X, C)[0])


def test_soft_assign_out_threads_and_errors(standardized):
    X = standardized[0]
    C = X[:3].copy()
    out = np.empty((len(X), 3))
    assert kmcore.soft_assign(X, C, 1.0, out=out) is out
    np.testing.assert_array_equal(kmcore.soft_assign(X, C, 1.0, n_threads=1),
                                  kmcore.soft_assign(X, C, 1.0, n_threads=2))
    for beta in (0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="beta"):
            kmcore.soft_assign(X, C, beta)
    with pytest.raises(TypeError, match="beta"):
        kmcore.soft_assign(X, C, "1")
    with pytest.raises(ValueError, match="out"):
        kmcore.soft_assign(X, C, 1.0, out=np.empty((3, 3)))


@pytest.mark.parametrize("weighted", [False, True])
def test_soft_update_matches_numpy(standardized, weighted):
    X = standardized[0]
    C = X[:4].copy()
    R = kmcore.soft_assign(X, C, 0.5)
    w = np.random.default_rng(1).uniform(0.1, 2.0, len(X)) if weighted else np.ones(len(X))
    centers, mass = kmcore.soft_update(X, R, sample_weight=w if weighted else None)
    Rw = R * w[:, None]
    np.testing.assert_allclose(mass, Rw.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(centers, (Rw.T @ X) / Rw.sum(axis=0)[:, None], rtol=1e-10)


def test_soft_update_center_without_mass():
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    R = np.zeros((6, 2))
    R[:, 0] = 1.0
    centers, mass = kmcore.soft_update(X, R)
    assert mass[1] == 0 and np.isnan(centers[1]).all()
    old = np.array([[0.0, 0.0], [7.0, 7.0]])
    centers, _ = kmcore.soft_update(X, R, centers_old=old)
    np.testing.assert_array_equal(centers[1], old[1])
    np.testing.assert_allclose(centers[0], X.mean(axis=0))
    with pytest.raises(ValueError, match="non-negative"):
        kmcore.soft_update(X, -R)


def test_large_beta_agrees_with_hard_kmeans(standardized):
    X = standardized[0]
    C0 = X[[0, 3, 7, 11, 400, 900]].copy()
    hard = KMeans(6, init=C0, tol=0, max_iter=50).fit(X)
    soft = SoftKMeans(6, beta=1e6, init=C0, tol=0, max_iter=50).fit(X)
    np.testing.assert_array_equal(soft.labels_, hard.labels_)
    np.testing.assert_allclose(soft.cluster_centers_, hard.cluster_centers_, rtol=1e-8, atol=1e-10)


def test_one_em_iteration_by_hand(standardized):
    X = standardized[0]
    C0 = X[:5].copy()
    model = SoftKMeans(5, beta=0.3, init=C0, max_iter=1, tol=0).fit(X)
    R, D = _reference_resp(X, C0, 0.3)
    np.testing.assert_allclose(model.cluster_centers_, (R.T @ X) / R.sum(0)[:, None], rtol=1e-9)
    np.testing.assert_allclose(model.history_["objective"][0], (R * D).sum(), rtol=1e-9)


@pytest.mark.parametrize("batch_size", [None, 256])
def test_softkmeans_methods(standardized, batch_size):
    X, y = standardized
    m = SoftKMeans(6, beta=1.0, batch_size=batch_size, random_state=0).fit(X)
    P = m.predict_proba(X)
    assert np.isfinite(m.cluster_centers_).all() and np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(P.argmax(axis=1), m.predict(X))
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    np.testing.assert_allclose(m.score(X), -m.inertia_, rtol=1e-12)
    assert m.transform(X).shape == (len(X), 6)
    again = SoftKMeans(6, beta=1.0, batch_size=batch_size, random_state=0).fit(X)
    np.testing.assert_array_equal(m.cluster_centers_, again.cluster_centers_)
    one = SoftKMeans(6, beta=1.0, batch_size=batch_size, random_state=0, n_threads=1).fit(X)
    np.testing.assert_array_equal(m.cluster_centers_, one.cluster_centers_)


def test_partial_fit_stream_improves(standardized):
    X, _ = standardized
    m = SoftKMeans(6, beta=2.0, random_state=0)
    first = None
    for start in range(0, len(X), 250):
        m.partial_fit(X[start:start + 250])
        if first is None:
            first = -m.score(X)
    assert -m.score(X) < first
    np.testing.assert_allclose(m.counts_.sum(), len(X), rtol=1e-9)
    with pytest.raises(ValueError, match="features"):
        m.partial_fit(X[:10, :5])


def test_float32_kept_and_bad_params(standardized):
    X = standardized[0].astype(np.float32)
    m = SoftKMeans(4, random_state=0).fit(X)
    assert m.cluster_centers_.dtype == np.float32
    for params, err in [({"beta": 0}, ValueError), ({"beta": "x"}, TypeError),
                        ({"n_clusters": 0}, ValueError), ({"batch_size": 0}, ValueError),
                        ({"max_iter": 0}, ValueError)]:
        with pytest.raises(err, match=list(params)[0]):
            SoftKMeans(**{"n_clusters": 4, **params}).fit(X)


def test_check_estimator():
    check_estimator(
        SoftKMeans(),
        expected_failed_checks={
            "check_sample_weight_equivalence_on_dense_data": (
                "k-means++ draws its seeds from the rows, so weighted rows and repeated "
                "rows give different random draws; the update itself is tested against "
                "NumPy with weights in test_soft_update_matches_numpy."
            ),
        },
    )


def test_n_init_keeps_the_best_run(standardized):
    X, _ = standardized
    single = SoftKMeans(6, beta=1.0, n_init=1, init="random", random_state=3).fit(X)
    several = SoftKMeans(6, beta=1.0, n_init=4, init="random", random_state=3).fit(X)
    # The first of the four runs is the single run (same RandomState sequence).
    assert several.inertia_ <= single.inertia_
    runs = [SoftKMeans(6, beta=1.0, init=X[rows].copy()).fit(X).inertia_
            for rows in np.random.RandomState(3).randint(0, len(X), (4, 6))]
    assert several.inertia_ <= max(runs) + 1e-9 * max(runs)
    with pytest.raises(ValueError, match="n_init"):
        SoftKMeans(6, n_init="x").fit(X)
