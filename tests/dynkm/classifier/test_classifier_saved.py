"""Classifier files written before the classifiers became a package still load.

tests/data/classifier holds models saved (dynkm format and pickle) by the code
of commit 0e4d3ff, when both classifiers lived in one module
``dynkm/classifier.py`` (how: tests/data/classifier/make_saved.py). Each file
must load into today's class and hold bitwise the state that today's code
fits from the same data and parameters: the move neither broke the files nor
changed a result.
"""

import importlib.util
import pickle
import pickletools
import warnings
from pathlib import Path

import numpy as np
import pytest

from dynkm import ClusterLabelClassifier, KMeansClassifier
from dynkm.persist import load

DATA = Path(__file__).resolve().parents[2] / "data" / "classifier"


def _recipe():
    """tests/data/classifier/make_saved.py: the data and models the files were written with."""
    spec = importlib.util.spec_from_file_location("make_saved", DATA / "make_saved.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_saved = _recipe()

NAMES = ["kmeans_classifier", "kmeans_classifier_stream", "cluster_label"]


@pytest.fixture(scope="module")
def data():
    with np.load(DATA / "data.npz", allow_pickle=False) as f:
        return {key: f[key] for key in f.files}


def _comparable(value, key=None):
    """Arrays by dtype, shape and bytes; RandomStates by state; wall times dropped."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.random.RandomState):
        return ("RandomState", _comparable(value.get_state()))
    if isinstance(value, dict):
        return {k: _comparable(v, k) for k, v in value.items() if k != "seconds"}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_comparable(v) for v in value])
    return (type(value).__name__, value)


def _load_pickle(path):
    with warnings.catch_warnings():
        # A newer scikit-learn than the one that wrote the file only warns.
        warnings.simplefilter("ignore")
        with open(path, "rb") as f:
            return pickle.load(f)


def test_the_saved_data_are_the_recipes():
    with np.load(DATA / "data.npz", allow_pickle=False) as f:
        for key, value in make_saved.data().items():
            assert f[key].tobytes() == value.tobytes(), key


@pytest.mark.parametrize("name", NAMES)
def test_the_pickles_name_the_single_module(name):
    """They find their class under its old path, ``dynkm.classifier.<name>``."""
    strings = [arg for op, arg, _ in pickletools.genops((DATA / f"{name}.pkl").read_bytes())
               if isinstance(arg, str)]
    cls = "ClusterLabelClassifier" if name == "cluster_label" else "KMeansClassifier"
    assert strings[:2] == ["dynkm.classifier", cls]


@pytest.mark.parametrize("how", ["dynkm", "pickle"])
@pytest.mark.parametrize("name", NAMES)
def test_file_saved_by_the_single_module_loads_as_today_fits(data, name, how):
    if how == "pickle" and int(np.__version__.split(".")[0]) < 2:
        pytest.skip("the pickles were written by numpy 2 (numpy._core), which numpy 1 lacks")
    path = DATA / f"{name}.{'dynkm' if how == 'dynkm' else 'pkl'}"
    old = load(path) if how == "dynkm" else _load_pickle(path)
    cls = ClusterLabelClassifier if name == "cluster_label" else KMeansClassifier
    assert type(old) is cls
    new = make_saved.models(data)[name]()
    assert old.get_params() == new.get_params()
    assert _comparable(vars(old)) == _comparable(vars(new))
    for method in ("predict", "predict_proba"):
        a, b = getattr(old, method)(data["X_test"]), getattr(new, method)(data["X_test"])
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), method


def test_loaded_stream_resumes_as_the_live_one(data):
    old = load(DATA / "kmeans_classifier_stream.dynkm")
    new = make_saved.models(data)["kmeans_classifier_stream"]()
    X, y, w = data["X"][::-1], data["y"][::-1], data["w"][::-1]
    for model in (old, new):
        model.partial_fit(X[:100], y[:100], sample_weight=w[:100])
    assert _comparable(vars(old)) == _comparable(vars(new))
