"""The bad-input matrix: every public estimator and kernel against every class of bad input.

Each bad input must raise a ValueError or TypeError whose message names the
argument at fault, and a fitted model must be left exactly as it was (every
attribute bitwise the same, predictions unchanged). The README's reliability
section documents this matrix.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import kmcore
from dynkm import (
    ClusterLabelClassifier,
    DynamicKMeans,
    KMeans,
    KMeansClassifier,
    MiniBatchKMeans,
    SoftKMeans,
)

from _state import assert_same_state, snapshot

N, D, K = 60, 4, 3


def _data(dtype=np.float64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(dtype)
    y = np.arange(N) % 3
    return X, y


# Bad data, each with the error types allowed. Every message must name X.
def _bad_X():
    X, _ = _data()
    nan = X.copy()
    nan[5, 1] = np.nan
    inf = X.copy()
    inf[7, 2] = np.inf
    return {
        "nan": nan,
        "inf": inf,
        "empty": np.empty((0, D)),
        "no_features": np.empty((N, 0)),
        "1-D": X[:, 0].copy(),
        "3-D": X.reshape(N, 2, 2),
        "object": np.array([[object()] * D] * N, dtype=object),
        "str": np.full((N, D), "a"),
        "complex": X.astype(np.complex128) + 1j,
        "huge_f32": (X * 1e20).astype(np.float32),
        "huge_f64": X * 1e160,
    }


BAD_X = _bad_X()

# Inputs that only make sense after a fit of width D.
WRONG_WIDTH = np.zeros((5, D + 1))


def _bad_weights():
    return {
        "negative": np.r_[-1.0, np.ones(N - 1)],
        "nan": np.r_[np.nan, np.ones(N - 1)],
        "inf": np.r_[np.inf, np.ones(N - 1)],
        "wrong_length": np.ones(N - 1),
        "2-D": np.ones((N, 1)),
        "all_zero": np.zeros(N),
        "str": np.full(N, "a"),
        "complex": np.ones(N, dtype=np.complex128),
    }


BAD_WEIGHTS = _bad_weights()


def _raises_naming(name, fn):
    """fn() raises ValueError/TypeError whose message names ``name``."""
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    assert name in str(info.value), f"message does not name {name!r}: {info.value}"


# ------------------------------------------------------------------ estimators
# (estimator factory, does fit take y, has partial_fit)
ESTIMATORS = {
    "KMeans": (lambda: KMeans(K, random_state=0), False, False),
    "MiniBatchKMeans": (lambda: MiniBatchKMeans(K, batch_size=20, random_state=0), False, True),
    "SoftKMeans": (lambda: SoftKMeans(K, random_state=0), False, True),
    "DynamicKMeans": (lambda: DynamicKMeans(min_size=5, max_size=30, batch_size=20,
                                            random_state=0), False, True),
    "KMeansClassifier": (lambda: KMeansClassifier(2, random_state=0), True, True),
    "ClusterLabelClassifier": (lambda: ClusterLabelClassifier(6, random_state=0), True, False),
}


def _fitted(name):
    make, supervised, _ = ESTIMATORS[name]
    X, y = _data()
    est = make()
    return est.fit(X, y) if supervised else est.fit(X)


def _fit_call(est, supervised, X, sample_weight=None, y=None, method="fit"):
    fn = getattr(est, method)
    if y is None:
        y = np.arange(np.shape(X)[0] if np.ndim(X) else 0) % 3
    if supervised:
        return fn(X, y, sample_weight=sample_weight)
    return fn(X, sample_weight=sample_weight)


def _methods(name):
    _, _, has_partial = ESTIMATORS[name]
    return ["fit", "partial_fit"] if has_partial else ["fit"]


@pytest.mark.parametrize("bad", sorted(BAD_X))
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_bad_X_names_X_and_keeps_model(name, bad):
    est = _fitted(name)
    before = snapshot(est)
    probe, _ = _data()
    predicted = est.predict(probe)
    supervised = ESTIMATORS[name][1]
    for method in _methods(name):
        if bad == "huge_f32" and method == "partial_fit":
            continue  # the fitted model is float64, where these values are fine
        _raises_naming("X", lambda m=method: _fit_call(est, supervised, BAD_X[bad], method=m))
        assert_same_state(before, est)
    for method in ("predict", "score", "transform"):
        if hasattr(est, method) and not bad.startswith("huge"):
            args = (BAD_X[bad], np.zeros(N)) if supervised and method == "score" else (BAD_X[bad],)
            _raises_naming("X", lambda m=method, a=args: getattr(est, m)(*a))
    assert_same_state(before, est)
    np.testing.assert_array_equal(est.predict(probe), predicted)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_sparse_where_unsupported(name):
    est = _fitted(name)
    before = snapshot(est)
    X, y = _data()
    Xs = sp.csr_matrix(X)
    supervised = ESTIMATORS[name][1]
    if name in ("KMeans", "MiniBatchKMeans", "KMeansClassifier", "ClusterLabelClassifier"):
        return  # they take CSR input (tested in test_sparse, classifier/)
    for method in _methods(name):
        _raises_naming("X", lambda m=method: _fit_call(est, supervised, Xs, method=m))
    _raises_naming("X", lambda: est.predict(Xs))
    assert_same_state(before, est)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_wrong_width_keeps_model(name):
    est = _fitted(name)
    before = snapshot(est)
    supervised = ESTIMATORS[name][1]
    if ESTIMATORS[name][2]:
        _raises_naming("X", lambda: _fit_call(est, supervised, WRONG_WIDTH,
                                              method="partial_fit"))
    for method in ("predict", "score", "transform", "predict_proba", "decision_function"):
        if hasattr(est, method):
            args = (WRONG_WIDTH, np.zeros(5)) if supervised and method == "score" else (
                WRONG_WIDTH,)
            _raises_naming("X", lambda m=method, a=args: getattr(est, m)(*a))
    assert_same_state(before, est)


@pytest.mark.parametrize("bad", sorted(BAD_WEIGHTS))
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimator_bad_weights_keep_model(name, bad):
    est = _fitted(name)
    before = snapshot(est)
    X, _ = _data()
    supervised = ESTIMATORS[name][1]
    for method in _methods(name):
        _raises_naming("sample_weight", lambda m=method: _fit_call(
            est, supervised, X, sample_weight=BAD_WEIGHTS[bad], method=m))
        assert_same_state(before, est)


@pytest.mark.parametrize("name", ["KMeans", "MiniBatchKMeans", "SoftKMeans"])
def test_estimator_more_clusters_than_rows(name):
    est = _fitted(name)
    before = snapshot(est)
    X, _ = _data()
    _raises_naming("n_clusters", lambda: est.fit(X[: K - 1]))
    assert_same_state(before, est)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_failed_refit_of_another_width_keeps_model(name):
    """The segfault sequence: a refit on another width that fails must change nothing."""
    est = _fitted(name)
    before = snapshot(est)
    wide = np.random.default_rng(1).normal(size=(N, 50))
    supervised = ESTIMATORS[name][1]
    _raises_naming("sample_weight", lambda: _fit_call(est, supervised, wide,
                                                      sample_weight=-np.ones(N)))
    assert_same_state(before, est)
    assert est.n_features_in_ == D
    _raises_naming("X", lambda: est.predict(wide))


# --------------------------------------------------------------------- kernels
def _centers():
    X, _ = _data()
    return X[:K].copy()


KERNELS = {
    "row_norms": lambda X: kmcore.row_norms(X),
    "pairwise_sqdist": lambda X: kmcore.pairwise_sqdist(X, _centers()),
    "assign": lambda X: kmcore.assign(X, _centers()),
    "lloyd_step": lambda X: kmcore.lloyd_step(X, _centers()),
    "update_centers": lambda X: kmcore.update_centers(X, np.arange(np.shape(X)[0]) % K, K),
    "kmeans_plusplus": lambda X: kmcore.kmeans_plusplus(X, K, random_state=0),
    "farthest_first": lambda X: kmcore.farthest_first(X, K, random_state=0),
    "split_two": lambda X: kmcore.split_two(X, random_state=0),
    "soft_assign": lambda X: kmcore.soft_assign(X, _centers(), 1.0),
    "soft_update": lambda X: kmcore.soft_update(X, np.full((np.shape(X)[0], K), 1.0 / K)),
}


@pytest.mark.parametrize("bad", sorted(set(BAD_X) - {"huge_f32", "huge_f64"}))
@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel_bad_X_names_X(kernel, bad):
    X = BAD_X[bad]
    _raises_naming("X", lambda: KERNELS[kernel](X))


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel_sparse_names_X(kernel):
    X, _ = _data()
    _raises_naming("X", lambda: KERNELS[kernel](sp.csr_matrix(X)))


CENTER_KERNELS = {
    "pairwise_sqdist": lambda X, C: kmcore.pairwise_sqdist(X, C),
    "assign": lambda X, C: kmcore.assign(X, C),
    "lloyd_step": lambda X, C: kmcore.lloyd_step(X, C),
    "soft_assign": lambda X, C: kmcore.soft_assign(X, C, 1.0),
}
CENTER_NAMES = {"pairwise_sqdist": "Y"}


@pytest.mark.parametrize("kernel", sorted(CENTER_KERNELS))
@pytest.mark.parametrize("bad", ["wrong_width", "nan", "1-D", "empty", "complex"])
def test_kernel_bad_centers_named(kernel, bad):
    X, _ = _data()
    C = _centers()
    bad_c = {
        "wrong_width": np.zeros((K, D + 1)),
        "nan": np.where(np.eye(K, D) > 0, np.nan, C),
        "1-D": C[0],
        "empty": np.empty((0, D)),
        "complex": C.astype(np.complex128),
    }[bad]
    _raises_naming(CENTER_NAMES.get(kernel, "centers"), lambda: CENTER_KERNELS[kernel](X, bad_c))


WEIGHT_KERNELS = {
    "lloyd_step": lambda X, w: kmcore.lloyd_step(X, _centers(), sample_weight=w),
    "update_centers": lambda X, w: kmcore.update_centers(X, np.arange(len(X)) % K, K,
                                                         sample_weight=w),
    "kmeans_plusplus": lambda X, w: kmcore.kmeans_plusplus(X, K, sample_weight=w,
                                                           random_state=0),
    "farthest_first": lambda X, w: kmcore.farthest_first(X, K, sample_weight=w,
                                                         random_state=0),
    "split_two": lambda X, w: kmcore.split_two(X, sample_weight=w, random_state=0),
    "soft_update": lambda X, w: kmcore.soft_update(X, np.full((len(X), K), 1.0 / K),
                                                   sample_weight=w),
}


@pytest.mark.parametrize("bad", sorted(set(BAD_WEIGHTS) - {"all_zero"}) + ["huge_f32"])
@pytest.mark.parametrize("kernel", sorted(WEIGHT_KERNELS))
def test_kernel_bad_weights_named(kernel, bad):
    X, _ = _data(np.float32)
    w = np.full(N, 3e38, dtype=np.float32) if bad == "huge_f32" else BAD_WEIGHTS[bad]
    _raises_naming("sample_weight", lambda: WEIGHT_KERNELS[kernel](X, w))


@pytest.mark.parametrize("kernel", ["kmeans_plusplus", "farthest_first"])
def test_kernel_more_clusters_than_rows(kernel):
    X, _ = _data()
    fn = getattr(kmcore, kernel)
    _raises_naming("n_clusters", lambda: fn(X[: K - 1], K, random_state=0))


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel_does_not_modify_its_input(kernel):
    X, _ = _data()
    X.flags.writeable = False  # a write would raise inside numpy or be caught below
    copy = X.copy()
    KERNELS[kernel](X)
    np.testing.assert_array_equal(X, copy)
