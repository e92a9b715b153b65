"""dynkm.persist: save/load of every estimator in a file that loads without running code.

1. Round trips: every estimator, fitted (and after partial_fit batches) or
   not, loads with bitwise the same attributes and predictions; streaming
   models resume bitwise as if never stopped.
2. Safety: pickles and files with pickled members are refused without running
   them; truncated, corrupted, foreign and newer files raise naming the path.
3. Saving: what the format cannot store raises naming it, nothing is written,
   the model is unchanged, and a failed write leaves the old file intact.
"""

import copy
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
from sklearn.base import ClassifierMixin
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import dynkm
from dynkm import (
    ClusterLabelClassifier,
    DynamicKMeans,
    KMeans,
    KMeansClassifier,
    MiniBatchKMeans,
    SoftKMeans,
)
from dynkm.persist import FORMAT_VERSION

# Wall-clock entries differ between two runs of the same computation.
TIMINGS = {"seconds", "init_seconds", "_seconds"}


def assert_same(a, b, where="", ignore=()):
    """Recursive bitwise equality: arrays by dtype, shape and bytes; scalars by type
    and bits; containers by type, order and items; objects by type and vars."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        if a.dtype.kind == "O":
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
                assert_same(x, y, f"{where}[{i}]", ignore)
        else:
            assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), where
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), where
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), f"{where}: {a} vs {b}"
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]", ignore)
    elif isinstance(a, dict):
        # In order: iteration order is part of a dict's behaviour.
        items_a = [(k, v) for k, v in a.items() if not (isinstance(k, str) and k in ignore)]
        items_b = [(k, v) for k, v in b.items() if not (isinstance(k, str) and k in ignore)]
        assert len(items_a) == len(items_b), f"{where}: {len(items_a)} vs {len(items_b)} keys"
        for (ka, va), (kb, vb) in zip(items_a, items_b, strict=True):
            assert_same(ka, kb, f"{where} key {ka!r}", ignore)
            assert_same(va, vb, f"{where}[{ka!r}]", ignore)
    elif isinstance(a, np.random.RandomState):
        assert_same(a.get_state(), b.get_state(), where, ignore)
    elif a is None or isinstance(a, (bool, int, str, type, np.dtype)):
        assert a == b, f"{where}: {a!r} vs {b!r}"
    else:
        assert_same(attrs(a), attrs(b), where, ignore)


def attrs(model):
    """The model's attributes by name (their insertion order carries no meaning).

    DynamicKMeans keeps the rows seen in buffers with spare capacity, allocated
    uninitialised: only the first ``_n_seen`` rows are state (the round trip
    keeps the rest too, but two runs have different garbage there).
    """
    out = dict(sorted(vars(model).items()))
    if isinstance(model, DynamicKMeans) and out.get("_data") is not None:
        for name in ("_data", "_point_ids", "_point_w", "_point_t"):
            out[name] = out[name][:model._n_seen]
    return out


def saved_copy(model, tmp_path, name="model.dynkm", **kwargs):
    path = tmp_path / name
    model.save(path, **kwargs)
    return type(model).load(path)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=600, centers=5, n_features=4, random_state=0)
    return X, y


def batches(X, size):
    return [X[i:i + size] for i in range(0, len(X), size)]


def one_thread(model):
    """The model on one thread: faster on these tiny problems (results do not depend on it)."""
    return model.set_params(n_threads=1)


# ===========================================================================
# 1. Round trips
# ===========================================================================


def fitted_models(X, y):
    """(name, fitted model, X to predict) for every estimator and several states."""
    Xf = X.astype(np.float32)
    labels = np.array(["ant", "bee", "cat", "dog", "eel"])[y]
    fits = [
        ("kmeans", KMeans(5, random_state=0), X, None),
        ("kmeans-float32-init-array", KMeans(5, init=X[:5].copy(), random_state=0), Xf, None),
        ("minibatch-fit", MiniBatchKMeans(5, batch_size=64, random_state=0), X, None),
        ("soft-fit", SoftKMeans(5, beta=0.5, random_state=0), X, None),
        ("soft-minibatch", SoftKMeans(5, batch_size=50, max_iter=3, random_state=0), X, None),
        ("dynamic-fit", DynamicKMeans(min_size=20, max_size=60, random_state=0), X, None),
        ("dynamic-nokeep", DynamicKMeans(min_size=10, max_size=40, keep_data=False,
                                         decay_factor=0.9, random_state=0), Xf, None),
        ("classifier", KMeansClassifier(2, random_state=0), X, y),
        ("classifier-str-klist", KMeansClassifier(2, k_list={"ant": 3, "eel": 1},
                                                  dtype=np.float32, merge_threshold=0.5,
                                                  random_state=0), X, labels),
        ("classifier-cosine", KMeansClassifier(3, distance="cosine", lambda_penalty=0.1,
                                               random_state=0), X, y),
        ("cluster-label", ClusterLabelClassifier(12, random_state=0), X, labels),
    ]
    streams = [
        ("minibatch-partial", MiniBatchKMeans(5, random_state=np.random.RandomState(3)), None),
        ("soft-partial", SoftKMeans(5, random_state=1), None),
        ("dynamic-partial", DynamicKMeans(min_size=15, max_size=40, half_life=3,
                                          refine_iter=1, random_state=1), None),
        ("classifier-partial", KMeansClassifier(2, min_weight=0.5, random_state=2), labels),
    ]
    out = []
    for name, model, data, target in fits:
        out.append((name, one_thread(model).fit(data, *(() if target is None else (target,))),
                    data))
    for name, model, target in streams:
        one_thread(model)
        for start in range(0, len(X), 100):
            rows = slice(start, start + 100)
            model.partial_fit(X[rows], *(() if target is None else (target[rows],)))
        out.append((name, model, X))
    return out


@pytest.fixture(scope="module")
def models(blobs):
    return fitted_models(*blobs)


def predictions(model, X):
    """Every output of the model on X."""
    out = {"predict": model.predict(X)}
    for method in ("transform", "predict_proba", "decision_function"):
        if hasattr(model, method):
            out[method] = getattr(model, method)(X)
    if not isinstance(model, ClassifierMixin):
        out["score"] = model.score(X)
    return out


def test_round_trip_every_estimator(models, tmp_path):
    """Loaded models have bitwise the same attributes (private ones, timings and
    RandomState included) and the same outputs; dynkm.load gives the same class."""
    assert {type(m) for _, m, _ in models} == {KMeans, MiniBatchKMeans, SoftKMeans,
                                               DynamicKMeans, KMeansClassifier,
                                               ClusterLabelClassifier}
    for name, model, Xp in models:
        expected = predictions(model, Xp)
        for compress in (False, True):
            loaded = saved_copy(model, tmp_path, f"{name}.dynkm", compress=compress)
            assert_same(attrs(model), attrs(loaded), name)
            assert_same(expected, predictions(loaded, Xp), name)
            again = dynkm.load(tmp_path / f"{name}.dynkm")
            assert type(again) is type(model)
            assert_same(attrs(model), attrs(again), name)


def test_round_trip_keeps_feature_names_and_types(blobs, tmp_path):
    """feature_names_in_ comes back as an object array of str; parameter values keep
    their exact types (numpy ints and floats, a dtype class, a RandomState)."""
    pd = pytest.importorskip("pandas")
    X, y = blobs
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = KMeans(np.int64(5), tol=np.float32(1e-3), random_state=np.random.RandomState(4),
                   n_threads=1)
    model.fit(frame)
    assert model.feature_names_in_.dtype == object
    loaded = saved_copy(model, tmp_path)
    assert_same(attrs(model), attrs(loaded))
    assert type(loaded.n_clusters) is np.int64 and type(loaded.tol) is np.float32
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    clf = KMeansClassifier(2, dtype=np.float32, k_list=(1, 2, 3, 1, 2), n_threads=1).fit(X, y)
    loaded = saved_copy(clf, tmp_path, "clf.dynkm")
    assert loaded.dtype is np.float32 and loaded.k_list == (1, 2, 3, 1, 2)
    assert_same(attrs(clf), attrs(loaded))


def test_every_supported_value_round_trips_exactly(blobs, tmp_path):
    """What the encoder supports, attached to a model: back with the same types, dtypes,
    bytes, memory layout and sharing; the file lands at the exact path, mode from umask."""
    X, _ = blobs
    model = KMeans(3, random_state=0, n_threads=1).fit(X)
    shared = [1, 2.5]
    big = np.asfortranarray(np.arange(20000, dtype=">f8").reshape(100, 200))
    model.zoo_ = {
        np.int64(3): [np.float32(1.5), np.bool_(True), np.str_(""), np.str_("été"),
                      np.complex128(1 - 2j), np.uint8(255), np.float64("nan")],
        (1, "a", None): (float("-inf"), float("nan"), -0.0, 2 ** 70, True, "text"),
        None: {"empty": np.empty((0, 3), dtype=np.int32), "scalar": np.array(7.0),
               "bytes": np.array([b"ab", b"c"]), "str": np.array([["x", "yz"]]),
               "bool": np.array([True, False]), "complex": np.arange(3) * 1j,
               "fortran-small": np.asfortranarray(np.ones((3, 4))), "fortran-big": big,
               "objects": np.array(["a", 1, None, 2.5], dtype=object)},
        "types": [np.float32, float, int, bool, str, np.dtype(">i2"), np.dtype("<U3")],
        "shared": (shared, shared, [shared]),
        "rng": [np.random.RandomState(1)] * 2,
    }
    path = str(tmp_path / "zoo.bin")
    model.save(path)
    assert os.listdir(tmp_path) == ["zoo.bin"]  # used as given: no extension added
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    loaded = KMeans.load(path)
    assert_same(attrs(model), attrs(loaded))
    zoo = loaded.zoo_
    assert zoo["shared"][0] is zoo["shared"][1] is zoo["shared"][2][0]
    assert zoo["rng"][0] is zoo["rng"][1]
    assert zoo[None]["fortran-big"].flags.f_contiguous
    assert zoo[None]["fortran-big"].dtype == np.dtype(">f8")
    assert all(a.flags.writeable for a in zoo[None].values())


def test_unfitted_round_trip(blobs, tmp_path):
    """An unfitted model round-trips with its parameters and then fits like a new one."""
    X, y = blobs
    for cls in (KMeans, MiniBatchKMeans, SoftKMeans, DynamicKMeans, KMeansClassifier,
                ClusterLabelClassifier):
        model = cls(random_state=7, n_threads=1)
        loaded = saved_copy(model, tmp_path, f"{cls.__name__}.dynkm")
        assert_same(attrs(model), attrs(loaded), cls.__name__)
        with pytest.raises(NotFittedError):
            check_is_fitted(loaded)
        fit_args = (X, y) if "Classifier" in cls.__name__ else (X,)
        fresh = cls(random_state=7, n_threads=1).fit(*fit_args)
        assert_same(attrs(fresh), attrs(loaded.fit(*fit_args)), cls.__name__, TIMINGS)


STREAMS = {
    "dynamic": (lambda: DynamicKMeans(min_size=15, max_size=40, random_state=5), None),
    "dynamic-decay-nokeep": (lambda: DynamicKMeans(min_size=10, max_size=30, decay_factor=0.99,
                                                   time_unit="points", keep_data=False,
                                                   random_state=5), None),
    "minibatch": (lambda: MiniBatchKMeans(5, random_state=5), None),
    "minibatch-shared-rng": (lambda: MiniBatchKMeans(5, random_state=np.random.RandomState(5)),
                             None),
    "soft": (lambda: SoftKMeans(5, beta=0.2, random_state=5), None),
    "classifier": (lambda: KMeansClassifier(2, merge_threshold=0.3, random_state=5), "y"),
    "classifier-str": (lambda: KMeansClassifier(3, init="random", random_state=5), "str"),
}


@pytest.mark.parametrize("case", STREAMS, ids=list(STREAMS))
def test_resume_after_load_is_bitwise_uninterrupted(blobs, tmp_path, case):
    """Save after half the batches, load, continue: bitwise the model that never stopped."""
    X, y = blobs
    make, labels = STREAMS[case]
    if labels == "str":
        y = np.array(["ant", "bee", "cat", "dog", "eel"])[y]

    def step(model, i):
        rows = slice(60 * i, 60 * (i + 1))
        if labels is None:
            model.partial_fit(X[rows])
        else:
            model.partial_fit(X[rows], y[rows])

    n = len(X) // 60
    whole, first = one_thread(make()), one_thread(make())
    for i in range(n):
        step(whole, i)
    for i in range(n // 2):
        step(first, i)
    resumed = saved_copy(first, tmp_path)
    if case == "minibatch-shared-rng":
        # The RandomState parameter and the model's generator stay one object.
        assert first._rng is first.random_state
        assert resumed._rng is resumed.random_state
    for i in range(n // 2, n):
        step(resumed, i)
    assert_same(attrs(whole), attrs(resumed), case, ignore=TIMINGS)
    assert_same(predictions(whole, X), predictions(resumed, X), case)
    if isinstance(resumed, DynamicKMeans):
        # The loaded per-cluster state is writable (it is updated in place).
        assert all(a.flags.writeable for a in resumed._state.cols.values())


def test_save_leaves_the_model_unchanged(blobs, tmp_path):
    X, _ = blobs
    model = DynamicKMeans(min_size=15, max_size=40, random_state=5, n_threads=1)
    for b in batches(X, 100):
        model.partial_fit(b)
    before = copy.deepcopy(attrs(model))
    model.save(tmp_path / "m.dynkm")
    assert_same(before, attrs(model))


def test_pickle_and_deepcopy_still_work(models):
    """Pickling stays (joblib, multiprocessing; trusted input only)."""
    for name, model, Xp in models:
        for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            assert_same(attrs(model), attrs(clone), name)
            assert_same(predictions(model, Xp), predictions(clone, Xp), name)


# ===========================================================================
# 2. Loading untrusted files
# ===========================================================================


class _Payload:
    """Unpickling this creates a marker file: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_crafted_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.dynkm"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    # The payload works (this is what the pickle-based load used to do).
    pickle.loads(path.read_bytes()).close()
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match="pickle") as err:
        DynamicKMeans.load(path)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="pickle"):
        dynkm.load(path)
    assert not marker.exists()


def read_members(path):
    """Metadata dict and arrays of a model file (read with pickles off)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return json.loads(arrays.pop("metadata").tobytes()), arrays


def write_members(path, meta, arrays, allow_pickle=False):
    """A model file as np.savez writes it (or, ``allow_pickle``, with pickled members)."""
    payload = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with zipfile.ZipFile(path, "w") as z:
        for name, a in {"metadata": payload, **arrays}.items():
            with z.open(name + ".npy", "w") as m:
                np.lib.format.write_array(m, np.asanyarray(a), allow_pickle=allow_pickle)


@pytest.fixture()
def saved(tmp_path):
    """A DynamicKMeans file with pooled small arrays and one large array member (_data)."""
    X, _ = make_blobs(n_samples=600, centers=5, n_features=20, random_state=0)
    model = DynamicKMeans(min_size=20, max_size=60, random_state=0, n_threads=1).fit(X)
    assert model._points.cols["_data"].nbytes > (1 << 16)
    path = tmp_path / "good.dynkm"
    model.save(path)
    return model, path


def test_pickled_member_is_refused_without_running(saved, tmp_path):
    """A model file whose array member is a pickled object array: refused, not run."""
    _, path = saved
    meta, arrays = read_members(path)
    marker = tmp_path / "ran"
    name = next(iter(arrays))
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    arrays[name] = payload
    bad = tmp_path / "evil.dynkm"
    write_members(bad, meta, arrays, allow_pickle=True)
    with pytest.raises(ValueError, match=f"member {name}") as err:
        DynamicKMeans.load(bad)
    assert str(bad) in str(err.value)
    assert not marker.exists()
    # Also when the metadata claims the object dtype.
    meta["members"][name] = {"dtype": "|O", "shape": [1]}
    write_members(bad, meta, arrays, allow_pickle=True)
    with pytest.raises(ValueError, match="invalid dtype"):
        DynamicKMeans.load(bad)
    assert not marker.exists()


def test_truncated_files_raise_naming_the_path(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    bad = tmp_path / "cut.dynkm"
    for length in (0, 1, 3, 4, 30, 100, 1000, len(data) // 2, len(data) - 22, len(data) - 1):
        bad.write_bytes(data[:length])
        with pytest.raises(ValueError) as err:
            dynkm.load(bad)
        assert str(bad) in str(err.value), length


def test_corrupted_bytes_never_load_silently(saved, tmp_path):
    """Any flipped byte: a ValueError naming the path, or (a flip in a field nothing
    reads, such as a zip timestamp) the very same model, never another one."""
    model, path = saved
    bad = tmp_path / "flip.dynkm"
    for compress in (False, True):
        model.save(path, compress=compress)
        data = path.read_bytes()
        rng = np.random.default_rng(0)
        positions = sorted(set(rng.integers(0, len(data), 100).tolist())
                           | set(range(0, 48)) | set(range(len(data) - 48, len(data))))
        n_raised = 0
        for pos in positions:
            flipped = bytearray(data)
            flipped[pos] ^= 0x5A
            bad.write_bytes(bytes(flipped))
            try:
                loaded = dynkm.load(bad)
            except ValueError as err:
                assert str(bad) in str(err), pos
                n_raised += 1
            else:
                assert_same(attrs(model), attrs(loaded), f"byte {pos}")
        # Zip headers have fields nobody checks (times, attributes): those flips are
        # harmless; everything read (data, sizes, CRCs, names) is checked.
        assert n_raised > 0.5 * len(positions)


def test_foreign_files_raise(tmp_path):
    cases = {
        "random": np.random.default_rng(0).bytes(5000),
        "zip-magic-then-random": b"PK\x03\x04" + np.random.default_rng(1).bytes(5000),
        "text": b"hello world\n",
        "empty": b"",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match="not a") as err:
            dynkm.load(path)
        assert str(path) in str(err.value), name
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="not a zip"):
        dynkm.load(npy)
    npz = tmp_path / "plain.npz"
    np.savez(npz, x=np.zeros(3))
    with pytest.raises(ValueError, match="no 'metadata' member") as err:
        dynkm.load(npz)
    assert str(npz) in str(err.value)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "not a model")
    with pytest.raises(ValueError, match="not a dynkm model file"):
        dynkm.load(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError, match="absent.dynkm"):
        dynkm.load(tmp_path / "absent.dynkm")


def edited(path, tmp_path, edit, name="edited.dynkm"):
    meta, arrays = read_members(path)
    edit(meta, arrays)
    out = tmp_path / name
    write_members(out, meta, arrays)
    return out


def _rows_node(meta):
    """The metadata node of a DynamicKMeans' retained rows (the memory store's column)."""
    items = meta["state"]["_points"]["attrs"]["cols"]["items"]
    return next(value for key, value in items if key == "_data")


# Edits of a valid file's metadata or members, and what the error must say.
BAD_EDITS = {
    "wrong-format-name": (lambda m, a: m.update(format="other-model"), "not a dynkm model"),
    "no-format": (lambda m, a: m.pop("format"), "not a dynkm model"),
    "format-version-str": (lambda m, a: m.update(format_version="1"), "format_version"),
    "missing-key": (lambda m, a: m.pop("members"), "missing keys \\['members'\\]"),
    "unknown-key": (lambda m, a: m.update(extra=1), "unknown keys \\['extra'\\]"),
    "unknown-class": (lambda m, a: m.update({"class": "os.system"}), "unknown estimator class"),
    "unknown-param": (lambda m, a: m["params"].update(evil=1), "unknown \\['evil'\\]"),
    "missing-param": (lambda m, a: m["params"].pop("min_size"), "missing \\['min_size'\\]"),
    "dunder-attribute": (lambda m, a: m["state"].update(__class__=1), "'__class__'"),
    "unknown-node": (lambda m, a: m["state"].update(_p={"type": "eval", "code": "1"}),
                     "attribute _p: unknown node type 'eval'"),
    "unknown-object": (lambda m, a: m["state"]["_state"].update({"class": "os._wrap_close"}),
                       "unknown object class"),
    "bad-ref": (lambda m, a: m["state"].update(_p={"type": "ref", "id": 99}), "unknown object"),
    "bare-list": (lambda m, a: m["state"].update(events_=[1, 2]), "attribute events_: invalid"),
    "wrong-member-shape": (lambda m, a: a.update(a0=a["a0"][:-1]), "member a0: holds"),
    "shape-mismatch": (lambda m, a: _rows_node(m).update(shape=[7, 7]),
                       "attribute _points.cols\\['_data'\\]: member a0 holds <f8 "
                       "\\(1024, 20\\), expected"),
    "dtype-mismatch": (lambda m, a: _rows_node(m).update(dtype="<f4"),
                       "attribute _points.cols\\['_data'\\]"),
    "pool-shape-mismatch": (lambda m, a: m["state"]["_state"]["attrs"]["row_of_id"].update(
        shape=[1]),
                            "do not add up"),
    "member-used-twice": (lambda m, a: m["state"].update(_x=_rows_node(m)), "used twice"),
    "member-missing": (lambda m, a: a.pop(sorted(a)[0]), "do not match"),
    "member-extra": (lambda m, a: a.update(zz=np.zeros(2)), "do not match"),
    "pool-overrun": (lambda m, a: m["state"]["_state"]["attrs"]["row_of_id"].update(
        offset=10**9),
                     "outside member"),
    "bad-scalar": (lambda m, a: m["state"].update(_now={"type": "scalar", "dtype": "<f8",
                                                        "bytes": "00"}), "needs 8 bytes"),
    "bad-random-state": (lambda m, a: m["state"]["_rng"]["state"]["items"].pop(),
                         "invalid RandomState"),
    "non-finite-json": (lambda m, a: m["state"].update(_now=float("inf")), "not valid JSON"),
}


@pytest.mark.parametrize("case", BAD_EDITS, ids=list(BAD_EDITS))
def test_invalid_metadata_raises_naming_path_and_key(saved, tmp_path, case):
    _, path = saved
    edit, message = BAD_EDITS[case]
    bad = edited(path, tmp_path, edit)
    with pytest.raises(ValueError, match=message) as err:
        DynamicKMeans.load(bad)
    assert str(bad) in str(err.value)


def test_bad_json_raises(saved, tmp_path):
    _, path = saved
    _, arrays = read_members(path)
    bad = tmp_path / "json.dynkm"
    for text, message in [(b"{not json", "not valid JSON"), (b"[1, 2]", "not a JSON object"),
                          (b'{"format": "dynkm-model", "format": "x"}', "duplicate keys"),
                          (b'{"format": NaN}', "not valid JSON"),
                          (b"\xff\xfe", "not valid JSON")]:
        with open(bad, "wb") as f:
            np.savez(f, metadata=np.frombuffer(text, dtype=np.uint8), **arrays)
        with pytest.raises(ValueError, match=message) as err:
            dynkm.load(bad)
        assert str(bad) in str(err.value)
    with open(bad, "wb") as f:
        np.savez(f, metadata=np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="metadata: expected a 1-D uint8 array"):
        dynkm.load(bad)
    with open(bad, "wb") as f:
        np.savez(f, metadata=np.zeros(5, dtype=np.float64))
    with pytest.raises(ValueError, match="member metadata: holds <f8"):
        dynkm.load(bad)


def _node_paths(node, prefix=()):
    """Paths to every node of a JSON tree (of each list, the first item only)."""
    yield prefix
    children = node.items() if isinstance(node, dict) else (
        enumerate(node[:1]) if isinstance(node, list) else ())
    for key, child in children:
        yield from _node_paths(child, prefix + (key,))


def test_any_replaced_node_raises_a_value_error_or_loads(tmp_path):
    """Every node of the metadata replaced by junk: the load raises ValueError naming the
    path, or reads the (edited) data; never another exception from deep inside."""
    X, _ = make_blobs(n_samples=100, centers=3, n_features=2, random_state=0)
    model = DynamicKMeans(min_size=10, max_size=30, batch_size=50, random_state=0,
                          n_threads=1).fit(X)
    model.save(tmp_path / "m.dynkm")
    meta, arrays = read_members(tmp_path / "m.dynkm")
    bad = tmp_path / "junk.dynkm"
    junk = [None, -1, "x", {"type": "list", "items": 3}, {"type": "dict", "items": [[[], 1]]},
            10 ** 30]
    paths = [p for p in _node_paths(meta) if p]
    assert len(paths) >= 100, len(paths)
    for i, path in enumerate(paths):
        # Two junk values per node, in turn (every value meets every kind of node).
        for value in (junk[i % len(junk)], junk[(i + 3) % len(junk)]):
            copy_ = json.loads(json.dumps(meta))
            node = copy_
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            write_members(bad, copy_, arrays)
            try:
                dynkm.load(bad)
            except ValueError as err:
                assert str(bad) in str(err), (path, value)


def test_newer_version_says_so(saved, tmp_path):
    _, path = saved
    newer = edited(path, tmp_path, lambda m, a: m.update(format_version=FORMAT_VERSION + 1,
                                                         dynkm_version="9.0"))
    with pytest.raises(ValueError, match="newer dynkm") as err:
        dynkm.load(newer)
    message = str(err.value)
    assert str(newer) in message and "9.0" in message and dynkm.__version__ in message
    assert f"version {FORMAT_VERSION + 1}" in message and f"up to {FORMAT_VERSION}" in message
    state = edited(path, tmp_path, lambda m, a: m.update(state_version=3), "state.dynkm")
    with pytest.raises(ValueError, match="state version 3.*newer dynkm"):
        dynkm.load(state)


def test_class_mismatch_is_a_type_error(saved, tmp_path, blobs):
    _, path = saved
    for cls in (KMeans, MiniBatchKMeans, SoftKMeans, KMeansClassifier, ClusterLabelClassifier):
        with pytest.raises(TypeError, match=f"holds a DynamicKMeans, not a {cls.__name__}"):
            cls.load(path)
    assert type(DynamicKMeans.load(path)) is DynamicKMeans


# ===========================================================================
# 3. Saving
# ===========================================================================


def test_callable_init_raises_naming_init(blobs, tmp_path):
    X, _ = blobs

    def init(X, k, random_state):
        return X[:k]

    for cls in (KMeans, MiniBatchKMeans, SoftKMeans):
        model = cls(5, init=init, n_init=1, n_threads=1).fit(X)
        path = tmp_path / "callable.dynkm"
        with pytest.raises(ValueError, match="parameter init is a callable"):
            model.save(path)
        assert not path.exists()
        assert os.listdir(tmp_path) == []


def test_unsupported_attributes_raise_naming_them(blobs, tmp_path):
    X, _ = blobs
    model = KMeans(3, random_state=0, n_threads=1).fit(X)
    before = copy.deepcopy(attrs(model))
    path = tmp_path / "m.dynkm"
    for value, where in [(object(), "extra_"), ({"a": [1, lambda: 0]}, r"extra_\['a'\]\[1\]"),
                         (np.array([1, 2], dtype="datetime64[s]"), "extra_"),
                         (np.ma.masked_array([1.0]), "extra_"), ({1, 2}, "extra_"),
                         ({"k": {frozenset(): 1}}, r"extra_\['k'\] \(a key\)")]:
        model.extra_ = value
        with pytest.raises(ValueError, match=f"attribute {where} is"):
            model.save(path)
        assert not path.exists() and os.listdir(tmp_path) == []
        del model.extra_
        assert_same(before, attrs(model))
    cyclic = []
    cyclic.append(cyclic)
    model.extra_ = cyclic
    with pytest.raises(ValueError, match="cycle"):
        model.save(path)
    # Views of one array would load as independent copies: refused.
    model.extra_ = model.cluster_centers_[1:]
    with pytest.raises(ValueError, match="share memory"):
        model.save(path)
    del model.extra_
    model.save(path)


def test_subclass_is_refused(blobs, tmp_path):
    class MyKMeans(KMeans):
        pass

    model = MyKMeans(3, n_threads=1).fit(blobs[0])
    with pytest.raises(TypeError, match="MyKMeans"):
        model.save(tmp_path / "m.dynkm")


def test_failed_write_leaves_the_old_file(saved, tmp_path, monkeypatch):
    """A write that fails midway (disk full) raises and leaves the previous file intact."""
    model, path = saved
    before = path.read_bytes()

    def full_disk(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == [path.name]
    monkeypatch.undo()
    assert_same(attrs(model), attrs(DynamicKMeans.load(path)))


def test_unwritable_destination_raises_oserror(saved, tmp_path):
    model, path = saved
    with pytest.raises(OSError):
        model.save(tmp_path / "no" / "such" / "dir.dynkm")
    with pytest.raises(OSError):
        model.save(tmp_path)  # a directory
    assert sorted(os.listdir(tmp_path)) == [path.name]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only directories")
def test_read_only_directory_keeps_existing_file(saved):
    model, path = saved
    before = path.read_bytes()
    os.chmod(path.parent, 0o500)
    try:
        with pytest.raises(OSError):
            model.save(path)
    finally:
        os.chmod(path.parent, 0o700)
    assert path.read_bytes() == before
