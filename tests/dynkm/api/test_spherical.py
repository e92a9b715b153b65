"""Spherical (cosine) k-means: KMeans(spherical=True) and MiniBatchKMeans(spherical=True)
against a plain NumPy reference from the same initial centers."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from dynkm import KMeans, MiniBatchKMeans, load


def _unit(A):
    A = np.asarray(A, dtype=np.float64)
    n = np.linalg.norm(A, axis=1, keepdims=True)
    return np.divide(A, n, out=np.zeros_like(A), where=n > 0)


def _data(n=500, d=8, k=5, seed=0, dtype=np.float64):
    """Directions in k groups, each row scaled by a random length: the Euclidean
    clustering of these rows differs from the spherical one."""
    D, _ = make_blobs(n, n_features=d, centers=k, cluster_std=0.6, random_state=seed)
    scale = np.random.default_rng(seed).uniform(0.1, 20.0, (n, 1))
    return (_unit(D) * scale).astype(dtype)


def _reference(X, w, C0, max_iter=100):
    """Spherical Lloyd in float64: label by the nearest unit center (zero rows: 0),
    center = unit weighted mean of its unit rows; stop when no label changes."""
    U, C = _unit(X), _unit(C0)
    zero = ~U.any(axis=1)
    w = np.ones(len(X)) if w is None else np.asarray(w, dtype=np.float64)
    fit_w = np.where(zero, 0.0, w)
    old, n_iter = None, 0
    while n_iter < max_iter:
        n_iter += 1
        d2 = ((U[:, None, :] - C[None]) ** 2).sum(-1)
        labels = np.where(zero, 0, d2.argmin(1))
        S = np.array([(fit_w[labels == j, None] * U[labels == j]).sum(0) for j in range(len(C))])
        C_new = _unit(S)
        if old is not None and np.array_equal(labels, old):
            break
        old, C = labels, C_new
    d2 = ((U[:, None, :] - C[None]) ** 2).sum(-1)
    labels = np.where(zero, 0, d2.argmin(1))
    inertia = float(w @ np.where(zero, 1.0, d2[np.arange(len(X)), labels]))
    return C, labels, inertia, n_iter


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("zero_rows", [False, True])
def test_kmeans_spherical_equals_numpy_reference(dtype, weighted, layout, zero_rows):
    X = _data(dtype=dtype)
    if zero_rows:
        X[[3, 50, 222]] = 0
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X)) if weighted else None
    C0 = X[[0, 100, 200, 300, 400]] * 3.0  # any length: scaled to unit norm
    km = KMeans(5, init=C0, spherical=True, tol=0.0)
    km.fit(sp.csr_matrix(X) if layout == "csr" else X, sample_weight=w)
    C, labels, inertia, n_iter = _reference(X, w, C0)
    tol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_array_equal(km.labels_, labels)
    assert km.n_iter_ == n_iter
    np.testing.assert_allclose(km.cluster_centers_, C, rtol=tol, atol=tol)
    np.testing.assert_allclose(np.linalg.norm(km.cluster_centers_.astype(np.float64), axis=1),
                               1.0, rtol=tol)
    assert km.inertia_ == pytest.approx(inertia, rel=tol)
    assert km.cluster_centers_.dtype == dtype
    assert km.history_["algorithm"] == "lloyd"


def test_spherical_differs_from_euclidean_and_ignores_row_lengths():
    X = _data()
    C0 = X[[0, 100, 200, 300, 400]]
    sph = KMeans(5, init=C0, spherical=True).fit(X)
    euc = KMeans(5, init=C0).fit(X)
    assert not np.array_equal(sph.labels_, euc.labels_)
    # Rescaling rows changes nothing: neither the fit nor predict/transform/score.
    scale = np.random.default_rng(3).uniform(0.01, 100.0, (len(X), 1))
    again = KMeans(5, init=C0, spherical=True).fit(X * scale)
    np.testing.assert_array_equal(again.labels_, sph.labels_)
    np.testing.assert_allclose(again.cluster_centers_, sph.cluster_centers_, atol=1e-12)
    np.testing.assert_array_equal(sph.predict(X * scale), sph.labels_)
    np.testing.assert_allclose(sph.transform(X * scale), sph.transform(X), atol=1e-12)
    assert sph.score(X * scale) == pytest.approx(-sph.inertia_, rel=1e-12)
    # transform: the distances of the unit rows, 2 - 2 cos when squared.
    cos = _unit(X) @ sph.cluster_centers_.T
    np.testing.assert_allclose(sph.transform(X) ** 2, 2 - 2 * cos, atol=1e-12)


def test_zero_rows_move_nothing_and_get_label_0():
    X = _data()
    Xz = np.vstack([X, np.zeros((7, X.shape[1]))])
    C0 = X[[0, 100, 200, 300, 400]]
    w = np.r_[np.ones(len(X)), np.full(7, 2.5)]
    a = KMeans(5, init=C0, spherical=True).fit(X)
    b = KMeans(5, init=C0, spherical=True).fit(Xz, sample_weight=w)
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, atol=1e-12)
    np.testing.assert_array_equal(b.labels_[len(X):], 0)
    assert b.inertia_ == pytest.approx(a.inertia_ + 7 * 2.5, rel=1e-12)
    np.testing.assert_array_equal(b.predict(np.zeros((2, X.shape[1]))), 0)
    for model in (KMeans(5, spherical=True), MiniBatchKMeans(5, spherical=True)):
        with pytest.raises(ValueError, match="X has no row of nonzero norm"):
            model.fit(np.zeros((20, 3)))


@pytest.mark.parametrize("init", ["k-means++", "random", "farthest"])
def test_spherical_string_inits_dense_equals_csr(init):
    X = _data(n=800, k=6)
    X[::97] = 0
    dense = KMeans(6, init=init, spherical=True, n_init=2, random_state=0).fit(X)
    csr = KMeans(6, init=init, spherical=True, n_init=2, random_state=0).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(csr.labels_, dense.labels_)
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(dense.cluster_centers_, axis=1), 1.0)


def test_spherical_with_bounded_algorithm_runs_plain_pass_and_says_so():
    X = _data(n=5000, k=40)
    km = KMeans(40, spherical=True, algorithm="yinyang", random_state=0, max_iter=5).fit(X)
    assert km.history_["algorithm"] == "lloyd"
    assert "spherical runs the plain pass" in km.history_["algorithm_reason"]


def test_spherical_parameter_checked_and_saved(tmp_path):
    with pytest.raises(TypeError, match="spherical"):
        KMeans(3, spherical="yes").fit(_data())
    with pytest.raises(TypeError, match="spherical"):
        MiniBatchKMeans(3, spherical=1).fit(_data())
    X = _data()
    km = KMeans(5, spherical=True, random_state=0).fit(X)
    km.save(tmp_path / "m")
    back = load(tmp_path / "m")
    assert back.spherical is True
    np.testing.assert_array_equal(back.predict(X * 4.0), km.labels_)


# --------------------------------------------------------- MiniBatchKMeans
def _minibatch_reference(batches, C0):
    """Sculley's steps with per-center rates, each followed by unit renormalisation."""
    C = _unit(C0)
    counts = np.zeros(len(C))
    out = []
    for B in batches:
        U = _unit(B)[np.linalg.norm(B, axis=1) > 0]
        labels = ((U[:, None, :] - C[None]) ** 2).sum(-1).argmin(1)
        for j in range(len(C)):
            rows = U[labels == j]
            if len(rows):
                counts[j] += len(rows)
                C[j] += (rows.sum(0) - len(rows) * C[j]) / counts[j]
        C = _unit(C)
        out.append(C.copy())
    return out


@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_minibatch_spherical_partial_fit_equals_numpy_reference(layout):
    X = _data(n=600)
    X[[5, 123, 480]] = 0
    C0 = X[[0, 100, 200, 300, 400]] * 0.5
    batches = [X[i:i + 100] for i in range(0, 600, 100)]
    model = MiniBatchKMeans(5, init=C0, spherical=True, reassignment_ratio=0.0)
    for B, C in zip(batches, _minibatch_reference(batches, C0), strict=True):
        model.partial_fit(sp.csr_matrix(B) if layout == "csr" else B)
        np.testing.assert_allclose(model.cluster_centers_, C, atol=1e-12)
    last = batches[-1]
    U = _unit(last)
    d2 = ((U[:, None, :] - C[None]) ** 2).sum(-1)
    zero = ~last.any(axis=1)
    np.testing.assert_array_equal(model.labels_, np.where(zero, 0, d2.argmin(1)))
    assert model.inertia_ == pytest.approx(
        float(np.where(zero, 1.0, d2.min(1)).sum()), rel=1e-12)


def test_minibatch_spherical_fit_dense_equals_csr_and_rows_scale_free():
    X = _data(n=1000, k=6)
    X[::50] = 0
    kw = {"n_clusters": 6, "spherical": True, "batch_size": 100, "random_state": 0}
    dense = MiniBatchKMeans(**kw).fit(X)
    csr = MiniBatchKMeans(**kw).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, atol=1e-9)
    np.testing.assert_array_equal(csr.labels_, dense.labels_)
    np.testing.assert_allclose(np.linalg.norm(dense.cluster_centers_, axis=1), 1.0)
    np.testing.assert_array_equal(dense.labels_[::50], 0)
    np.testing.assert_array_equal(dense.predict(X * 9.0), dense.labels_)
    # Good directions: about as good as the full spherical k-means.
    full = KMeans(6, spherical=True, random_state=0).fit(X)
    assert dense.inertia_ <= 1.2 * full.inertia_


@pytest.mark.parametrize("Estimator", [KMeans, MiniBatchKMeans])
def test_check_estimator_spherical(Estimator):
    from sklearn.utils.estimator_checks import check_estimator

    reason = "the seeding and the batches draw rows: weighted and repeated rows differ"
    check_estimator(Estimator(spherical=True), expected_failed_checks={
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    })
