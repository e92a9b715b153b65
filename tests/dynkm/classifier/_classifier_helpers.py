"""Helpers of the classifier tests: models on one thread, formats, NumPy references."""

import copy

import numpy as np
import scipy.sparse as sp

from dynkm.classifier import KMeansClassifier

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
        elif isinstance(value, dict):  # history_: its arrays by dtype, shape and bytes
            assert type(other) is dict and value.keys() == other.keys(), key
            for k, v in value.items():
                assert (v.dtype.str, v.shape, v.tobytes()) == (
                    other[k].dtype.str, other[k].shape, other[k].tobytes()), (key, k)
        else:
            assert type(value) is type(other) and value == other, key


def _check_layout(model):
    """prototypes_ grouped by class in the order of classes_, attributes consistent."""
    counts = model.n_prototypes_per_class_
    assert counts.shape == (len(model.classes_),)
    assert counts.sum() == len(model.prototypes_) == len(model.prototype_labels_)
    assert len(model.counts_) == len(model.prototypes_)
    np.testing.assert_array_equal(model.prototype_labels_, np.repeat(model.classes_, counts))
