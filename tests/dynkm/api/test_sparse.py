"""KMeans and MiniBatchKMeans on scipy CSR input: the dense results, X never densified."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from _state import assert_same_state, snapshot
from dynkm import KMeans, MiniBatchKMeans, _rows
from dynkm._csr_seeding import farthest_first_csr, kmeans_plusplus_csr
from kmcore.seeding import _farthest_first, _kmeans_plusplus

CONTAINERS = [sp.csr_matrix, sp.csr_array]


def _data(dtype=np.float64, n=600, d=20, seed=0):
    """Blobs with about half the values set to 0: sparse-looking, clusters intact."""
    X, _ = make_blobs(n, n_features=d, centers=6, cluster_std=1.5, random_state=seed)
    X = np.abs(X)
    X[X < np.median(X)] = 0.0
    return X.astype(dtype)


def _weights(n, seed=1):
    return np.random.default_rng(seed).uniform(0.2, 3.0, n)


def _tol(dtype):
    return 1e-4 if dtype == np.float32 else 1e-6


# ----------------------------------------------------------------- seeding
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_csr_seeding_picks_the_dense_rows(dtype, weighted, seed):
    X = _data(dtype, seed=seed)
    Xs = sp.csr_matrix(X)
    w = _weights(len(X), seed).astype(dtype) if weighted else None
    xs_dense, xs_csr = _rows.row_norms(X, 1), _rows.row_norms(Xs, 1)
    for k in (1, 7, 40):
        rng_d, rng_s = np.random.RandomState(seed), np.random.RandomState(seed)
        C_d, idx_d = _kmeans_plusplus(X, xs_dense, k, w, 2 + int(np.log(k)), rng_d, 1)
        C_s, idx_s = kmeans_plusplus_csr(Xs, xs_csr, k, w, 2 + int(np.log(k)), rng_s)
        np.testing.assert_array_equal(idx_s, idx_d)
        np.testing.assert_array_equal(C_s, C_d)
        assert C_s.dtype == dtype
        # Same draws from the RandomState: the rest of a fit stays in step too.
        assert rng_s.randint(1 << 30) == rng_d.randint(1 << 30)
        rng_d, rng_s = np.random.RandomState(seed), np.random.RandomState(seed)
        idx_d = _farthest_first(X, xs_dense, k, w, rng_d, 1)[1]
        idx_s = farthest_first_csr(Xs, xs_csr, k, w, rng_s)[1]
        np.testing.assert_array_equal(idx_s, idx_d)


def test_csr_kmeans_plusplus_never_redraws_a_seed():
    # 30 distinct rows, each 4 times: k = 30 seeds must be 30 distinct points.
    X = np.repeat(_data(n=30, seed=3), 4, axis=0)
    Xs = sp.csr_matrix(X)
    for seed in range(5):
        idx = kmeans_plusplus_csr(Xs, _rows.row_norms(Xs, 1), 30, None, 3,
                                  np.random.RandomState(seed))[1]
        assert len(np.unique(X[idx], axis=0)) == 30


def test_csr_distance_of_a_row_to_itself_is_exactly_zero():
    """The expansion leaves rounding residues (some negative, some positive) on the
    diagonal; they are recomputed, as kmcore's dense kernels do."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        X = rng.uniform(0, 10, (200, 30)).astype(dtype)
        X[X < 5] = 0
        Xs = sp.csr_matrix(X)
        xs, C = _rows.row_norms(Xs, 1), X[:20].copy()
        D = _rows.sqdist_block(Xs, xs, C, _rows.row_norms(C, 1), 1)
        np.testing.assert_array_equal(np.diag(D[:20]), 0)
        X64, C64 = X.astype(np.float64), C.astype(np.float64)
        ref = ((X64[:, None, :] - C64[None]) ** 2).sum(-1)
        np.testing.assert_allclose(D, ref, rtol=_tol(dtype) * 10, atol=_tol(dtype) * 10)


# ------------------------------------------------------------------ KMeans
@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("init", ["k-means++", "random", "farthest", "array"])
def test_kmeans_csr_equals_dense(container, dtype, weighted, init):
    X = _data(dtype)
    w = _weights(len(X)) if weighted else None
    if init == "array":
        init = X[[0, 100, 200, 300, 400, 500]].copy()
    kw = {"n_clusters": 6, "init": init, "random_state": 0, "tol": 0.0}
    dense = KMeans(n_init=1 if isinstance(init, np.ndarray) else 2, **kw).fit(X, sample_weight=w)
    csr = KMeans(n_init=1 if isinstance(init, np.ndarray) else 2, **kw).fit(container(X),
                                                                            sample_weight=w)
    np.testing.assert_array_equal(csr.labels_, dense.labels_)
    assert csr.n_iter_ == dense.n_iter_
    assert csr.cluster_centers_.dtype == dtype
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, rtol=_tol(dtype),
                               atol=_tol(dtype))
    assert csr.inertia_ == pytest.approx(dense.inertia_, rel=_tol(dtype))
    for model in (dense, csr):
        for data in (X, container(X)):
            np.testing.assert_array_equal(model.predict(data), dense.labels_)
            np.testing.assert_allclose(model.transform(data), dense.transform(X),
                                       rtol=_tol(dtype), atol=_tol(dtype))
            assert model.score(data, sample_weight=w) == pytest.approx(-dense.inertia_,
                                                                        rel=_tol(dtype))


@pytest.mark.parametrize("algorithm", ["elkan", "yinyang", "auto"])
def test_kmeans_csr_runs_the_plain_pass_and_says_so(algorithm):
    X = _data(n=5000)
    C0 = X[np.random.default_rng(0).choice(len(X), 40, replace=False)].copy()
    plain = KMeans(40, init=C0, algorithm="lloyd", max_iter=20).fit(sp.csr_matrix(X))
    km = KMeans(40, init=C0, algorithm=algorithm, max_iter=20).fit(sp.csr_matrix(X))
    assert km.history_["algorithm"] == "lloyd"
    assert "sparse input runs the plain pass" in km.history_["algorithm_reason"]
    np.testing.assert_array_equal(km.labels_, plain.labels_)
    dense = KMeans(40, init=C0, algorithm=algorithm, max_iter=20).fit(X)
    assert dense.history_["algorithm"] != "lloyd"  # the bounds would have run on dense X
    np.testing.assert_array_equal(km.labels_, dense.labels_)


def test_csr_of_other_layouts_and_int_values():
    X = np.rint(_data() * 3)
    C0 = X[[0, 100, 200, 300, 400, 500]].copy()
    ref = KMeans(6, init=C0).fit(X)
    for Xs in (sp.csc_matrix(X.astype(np.int64)), sp.coo_array(X), sp.csr_matrix(X)):
        km = KMeans(6, init=C0).fit(Xs)
        np.testing.assert_array_equal(km.labels_, ref.labels_)
        assert km.cluster_centers_.dtype == np.float64


def test_csr_fit_never_densifies_X():
    """A 3000 x 50000 CSR of 0.05% density: its dense copy alone would take 1.2 GB."""
    rng = np.random.default_rng(0)
    n, d = 3000, 50_000
    X = sp.random(n, d, density=5e-4, format="csr", random_state=0, dtype=np.float64)
    X.data = rng.uniform(1, 2, X.nnz)
    dense_bytes = n * d * 8
    for model in (KMeans(8, n_init=1, random_state=0, max_iter=5),
                  MiniBatchKMeans(8, batch_size=500, random_state=0, max_iter=2)):
        tracemalloc.start()
        try:
            model.fit(X)
            model.predict(X)
            model.score(X)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < dense_bytes / 20, f"{type(model).__name__}: peak {peak / 2**20:.0f} MiB"


def test_csr_bad_input_names_X_and_keeps_the_model():
    X = _data()
    for model in (KMeans(6, random_state=0), MiniBatchKMeans(6, batch_size=100, random_state=0)):
        model.fit(sp.csr_matrix(X))
        before = snapshot(model)
        bad = sp.csr_matrix(X)
        bad.data[3] = np.nan
        methods = ["fit"] + (["partial_fit"] if hasattr(model, "partial_fit") else [])
        for method in methods:
            with pytest.raises(ValueError, match="X"):
                getattr(model, method)(bad)
        for method in ("predict", "transform", "score"):
            with pytest.raises(ValueError, match="features"):
                getattr(model, method)(sp.csr_matrix(X[:, :-1]))
        assert_same_state(before, model)


# --------------------------------------------------------- MiniBatchKMeans
@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_minibatch_csr_equals_dense(container, dtype, weighted, init):
    X = _data(dtype)
    w = _weights(len(X)) if weighted else None
    kw = {"n_clusters": 6, "init": init, "batch_size": 64, "random_state": 0, "max_iter": 5}
    dense = MiniBatchKMeans(**kw).fit(X, sample_weight=w)
    csr = MiniBatchKMeans(**kw).fit(container(X), sample_weight=w)
    assert csr.n_steps_ == dense.n_steps_
    np.testing.assert_array_equal(csr.labels_, dense.labels_)
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_,
                               rtol=_tol(dtype) * 10, atol=_tol(dtype) * 10)
    np.testing.assert_allclose(csr.counts_, dense.counts_)
    assert csr.inertia_ == pytest.approx(dense.inertia_, rel=_tol(dtype) * 10)


def test_minibatch_partial_fit_csr_equals_dense():
    X = _data()
    init = X[[0, 0, 100, 200, 300, 400]]  # a duplicate: its twin gets no rows, is reassigned
    dense, csr = (MiniBatchKMeans(6, init=init, random_state=0) for _ in range(2))
    for start in range(0, len(X), 100):
        dense.partial_fit(X[start:start + 100])
        csr.partial_fit(sp.csr_array(X[start:start + 100]))
        np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, rtol=1e-9,
                                   atol=1e-9)
        np.testing.assert_array_equal(csr.labels_, dense.labels_)
    assert sum(dense.history_["n_reassigned"]) > 0  # the CSR reassignment ran too
    assert csr.history_["n_reassigned"].tolist() == dense.history_["n_reassigned"].tolist()


def test_csr_results_thread_independent_and_saved(tmp_path):
    from dynkm import load

    Xs = sp.csr_matrix(_data(n=3000))
    for make in (lambda t: KMeans(6, n_init=2, random_state=0, n_threads=t),
                 lambda t: MiniBatchKMeans(6, batch_size=256, random_state=0, n_threads=t)):
        one, two = make(1).fit(Xs), make(2).fit(Xs)
        np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)
        np.testing.assert_array_equal(one.labels_, two.labels_)
        assert one.inertia_ == two.inertia_
        one.save(tmp_path / "m")
        back = load(tmp_path / "m")
        np.testing.assert_array_equal(back.predict(Xs), one.labels_)
        np.testing.assert_array_equal(back.transform(Xs), one.transform(Xs))
