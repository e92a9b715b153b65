"""``history_`` has one shape in every estimator: a dict of 1-D arrays (dynkm._history).

The streaming estimators append a row per batch into buffers with spare
capacity; these tests check the shape and dtypes, that appending does not
copy the rows before it, that a failed batch leaves the history as it was
even after the row was written, and that models saved (files and pickles)
when the history was a dict of lists load into the new shape and resume.
"""

import copy
import json
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import dynkm
import dynkm.classifier.kmeans_classifier
import dynkm.dynamic
import dynkm.minibatch
from dynkm import (
    ClusterLabelClassifier,
    DynamicKMeans,
    KMeans,
    KMeansClassifier,
    MiniBatchKMeans,
    SoftKMeans,
)
from dynkm._history import as_arrays, new_history, record

X, Y = make_blobs(900, n_features=4, centers=6, random_state=7)
Y = Y % 3
BATCHES = np.array_split(np.arange(len(X)), 9)

# name -> (a new streaming estimator, the module that records its history)
STREAMING = {
    "MiniBatchKMeans": (lambda: MiniBatchKMeans(5, batch_size=50, random_state=0, n_threads=1),
                        dynkm.minibatch),
    "DynamicKMeans": (lambda: DynamicKMeans(min_size=20, max_size=60, random_state=0,
                                            n_threads=1), dynkm.dynamic),
    "KMeansClassifier": (lambda: KMeansClassifier(3, random_state=0, n_threads=1),
                         dynkm.classifier.kmeans_classifier),
}


def _batch(est, b):
    rows = BATCHES[b]
    if isinstance(est, KMeansClassifier):
        return est.partial_fit(X[rows], Y[rows])
    return est.partial_fit(X[rows])


def _stream(make, n_batches):
    est = make()
    for b in range(n_batches):
        _batch(est, b)
    return est


def _without_seconds(history):
    """The history's entries that do not depend on the clock; arrays by dtype and bits."""
    return {key: (value.dtype.str, value.tobytes()) if isinstance(value, np.ndarray)
            else value for key, value in history.items() if "seconds" not in key}


def _assert_shape(est, n_rows):
    history = est.history_
    assert type(history) is dict
    for key, dtype in type(est)._history_columns.items():
        column = history[key]
        assert type(column) is np.ndarray, key
        assert column.ndim == 1 and len(column) == n_rows and column.dtype == dtype, key
    # Whatever else is there describes the run as a whole (a scalar).
    for key in history.keys() - type(est)._history_columns.keys():
        assert isinstance(history[key], (int, float, str)), key


# ------------------------------------------------------------------ the helper
def test_record_appends_into_spare_capacity_and_doubles():
    history = new_history({"x": np.float64, "n": np.int64}, note="run")
    buffers, held = set(), None
    for i in range(1000):
        record(history, x=i / 2, n=i)
        buffers.add(id(history["x"].base))
        if i == 9:
            held = history["x"]
    np.testing.assert_array_equal(history["x"], np.arange(1000) / 2)
    np.testing.assert_array_equal(history["n"], np.arange(1000))
    assert history["n"].dtype == np.int64 and history["note"] == "run"
    # Doubling: 1, 2, 4, ..., 1024 rows, not one buffer (one copy of all rows) per append.
    assert len(buffers) <= 11
    assert history["x"].base.shape[0] < 2 * 1000
    # A view taken earlier keeps its rows: only slots past every live view are written.
    np.testing.assert_array_equal(held, np.arange(10) / 2)


def test_record_never_writes_into_an_array_it_did_not_allocate():
    mine = np.zeros(8)
    history = {"x": mine[:3]}
    record(history, x=5.0)
    np.testing.assert_array_equal(mine, 0.0)  # its spare-looking slot 3 untouched
    np.testing.assert_array_equal(history["x"], [0, 0, 0, 5])
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    history = {"x": frozen}
    record(history, x=3.0)
    np.testing.assert_array_equal(history["x"], [0, 1, 2, 3])


def test_as_arrays_reads_lists_with_the_columns_dtypes():
    old = {"loss": [1.5, 2.5], "n": [1, 2], "other": [3], "init_seconds": 0.25,
           "done": np.arange(2)}
    new = as_arrays(old, {"loss": np.float64, "n": np.int64})
    assert new["loss"].dtype == np.float64 and new["n"].dtype == np.int64
    assert new["other"].tolist() == [3] and new["init_seconds"] == 0.25
    assert new["done"] is old["done"]
    assert as_arrays({"loss": []}, {"loss": np.float64})["loss"].dtype == np.float64


# ---------------------------------------------------------- every estimator
def test_every_estimator_has_a_dict_of_1d_arrays():
    fitted = [KMeans(4, n_init=1, random_state=0).fit(X),
              SoftKMeans(4, n_init=1, random_state=0).fit(X),
              ClusterLabelClassifier(6, n_init=1, random_state=0).fit(X, Y),
              MiniBatchKMeans(4, batch_size=100, max_iter=2, random_state=0).fit(X),
              DynamicKMeans(min_size=20, max_size=60, random_state=0).fit(X),
              KMeansClassifier(3, random_state=0).fit(X, Y)]
    for est in fitted:
        history = est.history_
        assert type(history) is dict, type(est).__name__
        lengths = {len(v) for v in history.values() if isinstance(v, np.ndarray)}
        assert len(lengths) == 1, (type(est).__name__, lengths)
        for key, value in history.items():
            assert (isinstance(value, np.ndarray) and value.ndim == 1) or isinstance(
                value, (int, float, str)), (type(est).__name__, key)


@pytest.mark.parametrize("name", STREAMING)
def test_streaming_history_columns(name):
    make, _ = STREAMING[name]
    est = _stream(make, 4)
    _assert_shape(est, 4)
    assert est.history_[next(iter(type(est)._history_columns))].base.shape[0] >= 4
    if name != "KMeansClassifier":
        fitted = make().fit(X)
        n = len(fitted.history_["seconds"])
        assert n > 1
        _assert_shape(fitted, n)
    else:
        _assert_shape(make().fit(X, Y), 0)


@pytest.mark.parametrize("name", STREAMING)
def test_batch_that_fails_after_recording_leaves_the_history(name, monkeypatch):
    """The failed batch writes its row into the buffers' spare slot, then raises:
    the history is put back as it was, and the retried batch records what a
    model that never failed records."""
    make, module = STREAMING[name]
    est, reference = _stream(make, 3), _stream(make, 4)
    before = copy.deepcopy(est.history_)
    real_record = module.record
    seen = {}

    def record_then_interrupt(history, **values):
        real_record(history, **values)
        seen["rows"] = len(history["seconds"])
        seen["buffer"] = history["seconds"].base
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "record", record_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _batch(est, 3)
    assert seen["rows"] == 4  # the row had been appended in place
    assert est.history_.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert est.history_[key].dtype == value.dtype, key
            np.testing.assert_array_equal(est.history_[key], value, err_msg=key)
        else:
            assert est.history_[key] == value, key
    monkeypatch.setattr(module, "record", real_record)
    _batch(est, 3)
    assert est.history_["seconds"].base is seen["buffer"]  # the same buffer, slot reused
    assert _without_seconds(est.history_) == _without_seconds(reference.history_)


# ------------------------------------------------------ saved models, old and new
def _old_shaped(est):
    """``est`` with its history as the code before the arrays wrote it: lists."""
    old = copy.deepcopy(est)
    old.history_ = {key: value.tolist() if isinstance(value, np.ndarray) else value
                    for key, value in est.history_.items()}
    return old


def _history_node(path):
    with zipfile.ZipFile(path) as z, z.open("metadata.npy") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        meta = json.loads(f.read().decode("utf-8"))
    return meta["state"]["history_"]


@pytest.mark.parametrize("how", ["dynkm", "pickle"])
@pytest.mark.parametrize("name", STREAMING)
def test_model_saved_with_lists_loads_as_arrays_and_resumes(name, how, tmp_path):
    make, _ = STREAMING[name]
    live = _stream(make, 3)
    old = _old_shaped(live)
    if how == "dynkm":
        path = tmp_path / "old.dynkm"
        old.save(path)
        columns = {pair[0]: pair[1]["type"] for pair in _history_node(path)["items"]
                   if isinstance(pair[1], dict)}
        assert set(columns.values()) == {"list"}  # the file holds the old shape
        loaded = dynkm.load(path)
    else:
        loaded = pickle.loads(pickle.dumps(old))
    _assert_shape(loaded, 3)
    for key in type(live)._history_columns:
        assert loaded.history_[key].tobytes() == live.history_[key].tobytes(), key
    for est in (loaded, live):
        _batch(est, 3)
        _batch(est, 4)
    _assert_shape(loaded, 5)
    assert _without_seconds(loaded.history_) == _without_seconds(live.history_)


@pytest.mark.parametrize("how", ["dynkm", "pickle"])
@pytest.mark.parametrize("name", STREAMING)
def test_history_round_trips_and_resumes(name, how, tmp_path):
    make, _ = STREAMING[name]
    live = _stream(make, 3)
    if how == "dynkm":
        live.save(tmp_path / "m.dynkm")
        loaded = dynkm.load(tmp_path / "m.dynkm")
    else:
        loaded = pickle.loads(pickle.dumps(live))
    for key, value in live.history_.items():
        if isinstance(value, np.ndarray):
            assert loaded.history_[key].dtype == value.dtype, key
            assert loaded.history_[key].tobytes() == value.tobytes(), key  # n rows, no spare
        else:
            assert loaded.history_[key] == value, key
    for est in (loaded, live):
        _batch(est, 3)
    assert _without_seconds(loaded.history_) == _without_seconds(live.history_)
