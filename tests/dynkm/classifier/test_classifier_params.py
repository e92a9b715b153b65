"""What the classifiers accept (dynkm.classifier._params): labels, parameters, rows, weights."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

from dynkm.classifier import ClusterLabelClassifier, check_class_labels

from _classifier_helpers import (
    FORMATS,
    _clf,
    _as,
)


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
