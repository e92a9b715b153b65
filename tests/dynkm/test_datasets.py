"""dynkm.datasets: vecs/IDX readers and writers, MNIST loading, generators."""

import gzip
import mmap
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from _fakes import idx_bytes as _idx_bytes
from _fakes import write_idx as _write_idx

from dynkm import datasets
from dynkm.datasets import (
    load_mnist, make_blobs_streak, make_high_dim, make_rings, read_bvecs, read_fvecs,
    read_idx, read_ivecs, read_npy, write_bvecs, write_fvecs, write_ivecs,
)

FORMATS = {
    "fvecs": (read_fvecs, write_fvecs, np.float32, 4),
    "ivecs": (read_ivecs, write_ivecs, np.int32, 4),
    "bvecs": (read_bvecs, write_bvecs, np.uint8, 1),
}


def _random_rows(fmt, n, d, rng):
    if fmt == "fvecs":
        return rng.standard_normal((n, d)).astype(np.float32)
    if fmt == "ivecs":
        return rng.integers(-2**31, 2**31, size=(n, d), dtype=np.int64).astype(np.int32)
    return rng.integers(0, 256, size=(n, d), dtype=np.uint8)


def _raw(n, d, itemsize, dims=None):
    """Bytes of n records of dimension d with zero values; dims overrides fields."""
    rec = bytearray()
    for i in range(n):
        di = d if dims is None else dims[i]
        rec += np.int32(di).astype("<i4").tobytes() + bytes(itemsize * max(di, 0))
    return bytes(rec)


def _offset_in(message, offset):
    return re.search(rf"\boffset {offset}\b", message) is not None


# --------------------------------------------------------------------------- vecs

SHAPES = [(1, 1), (1, 5), (6, 1), (3, 2), None, None]


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("shape_index", range(len(SHAPES)))
def test_vecs_round_trip(tmp_path, fmt, mmap, shape_index):
    read, write, dtype, _ = FORMATS[fmt]
    rng = np.random.default_rng(1000 + shape_index)
    shape = SHAPES[shape_index] or tuple(int(v) for v in rng.integers(1, 40, size=2))
    X = _random_rows(fmt, *shape, rng)
    path = tmp_path / f"data.{fmt}"
    write(path, X)
    assert path.stat().st_size == shape[0] * (4 + shape[1] * np.dtype(dtype).itemsize)
    Y = read(path, mmap=mmap)
    assert Y.shape == shape
    assert Y.dtype == dtype
    np.testing.assert_array_equal(Y, X)
    if not mmap:
        assert Y.flags.c_contiguous and Y.flags.writeable and Y.flags.owndata
    # str paths work too
    np.testing.assert_array_equal(read(str(path), mmap=mmap), X)


def test_write_accepts_lists_and_casts(tmp_path):
    write_fvecs(tmp_path / "a.fvecs", [[1, 2], [3, 4]])
    np.testing.assert_array_equal(read_fvecs(tmp_path / "a.fvecs"), [[1, 2], [3, 4]])
    write_bvecs(tmp_path / "a.bvecs", np.array([[0.0, 255.0]]))
    assert read_bvecs(tmp_path / "a.bvecs").tolist() == [[0, 255]]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_vecs_mmap_is_read_only_view_of_the_file(tmp_path, fmt):
    read, write, dtype, itemsize = FORMATS[fmt]
    n, d = 7, 3
    X = _random_rows(fmt, n, d, np.random.default_rng(0))
    path = tmp_path / f"m.{fmt}"
    write(path, X)
    Y = read(path)
    assert not Y.flags.writeable
    with pytest.raises(ValueError):
        Y[0, 0] = 1
    # The .base chain reaches a memmap of the file, and Y lies inside it.
    base = Y
    while isinstance(base, np.ndarray) and not isinstance(base.base, mmap.mmap):
        base = base.base
    assert isinstance(base, np.memmap) and str(base.filename) == str(path.resolve())
    assert base.nbytes == path.stat().st_size  # maps the whole file
    assert np.shares_memory(Y, base)
    assert Y.strides == (4 + d * itemsize, itemsize)  # strided view, dimension column skipped
    assert not Y.flags.c_contiguous
    # No copy: a change written to the file shows through the mapping.
    writer = np.memmap(path, dtype=np.uint8, mode="r+")
    record = 4 + d * itemsize
    new = np.array([X[4, 1]]).view(np.uint8).copy()
    new[0] ^= 1  # flip the lowest bit of one (little-endian) value
    writer[4 * record + 4 + itemsize:4 * record + 4 + 2 * itemsize] = new
    writer.flush()
    del writer
    assert Y[4, 1].tobytes() == new.tobytes()
    assert Y[4, 1].tobytes() != X[4, 1].tobytes()


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_vecs_truncated_last_record(tmp_path, fmt, mmap):
    read, write, _, itemsize = FORMATS[fmt]
    d = 5
    record = 4 + d * itemsize
    path = tmp_path / f"trunc.{fmt}"
    path.write_bytes(_raw(4, d, itemsize)[:-1])
    with pytest.raises(ValueError, match=re.escape(path.name)) as err:
        read(path, mmap=mmap)
    assert _offset_in(str(err.value), 3 * record), str(err.value)
    assert "record 3" in str(err.value)


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("same_size", [True, False])
def test_vecs_mismatching_dimension(tmp_path, fmt, mmap, same_size):
    read, _, _, itemsize = FORMATS[fmt]
    d = 3
    record = 4 + d * itemsize
    dims = [d, d, d, d, d, d]
    dims[3] = d + 1
    raw = bytearray(_raw(6, d, itemsize, dims))
    if same_size:  # only the dimension field is wrong: the size is still 6 records
        raw = raw[:len(raw) - itemsize]
        assert len(raw) == 6 * record
    path = tmp_path / f"mix.{fmt}"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=re.escape(path.name)) as err:
        read(path, mmap=mmap)
    message = str(err.value)
    assert "record 3" in message and _offset_in(message, 3 * record), message
    assert f"dimension {d + 1}" in message


@pytest.mark.parametrize("mmap", [True, False])
def test_vecs_mismatch_in_a_later_read_block(tmp_path, monkeypatch, mmap):
    # Small blocks so the mismatch is found in the third block, not the first.
    monkeypatch.setattr(datasets, "_CHECK_CHUNK", 4)
    monkeypatch.setattr(datasets, "_READ_CHUNK", 4 * 12)
    dims = [2] * 20
    dims[13] = 7
    path = tmp_path / "late.fvecs"
    path.write_bytes(_raw(20, 2, 4, dims)[:20 * 12])
    with pytest.raises(ValueError, match=r"record 13 at offset 156\b"):
        read_fvecs(path, mmap=mmap)


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("content, says", [
    (b"", "empty"),
    (b"\x01\x00", "incomplete record 0"),
    (np.array([-3, 0, 0, 0], "<i4").tobytes(), "invalid dimension -3"),
    (np.array([0, 0], "<i4").tobytes(), "invalid dimension 0"),
    (np.array([1000], "<i4").tobytes() + bytes(8), "incomplete record 0"),
    (np.array([2**29 - 1], "<i4").tobytes() + bytes(8), "incomplete record 0"),
    (np.array([2**29], "<i4").tobytes() + bytes(8), f"invalid dimension {2**29}"),
    (np.array([2**31 - 1], "<i4").tobytes(), f"invalid dimension {2**31 - 1}"),
    (b"1.0 2.0 3.0\n4.0 5.0 6.0\n", "invalid dimension"),
    (b"# a comment line\n", "invalid dimension"),
], ids=["empty", "short", "negative-d", "zero-d", "huge-d", "largest-d", "d-2**29",
        "d-int32-max", "text", "text-comment"])
def test_vecs_malformed_header(tmp_path, fmt, mmap, content, says):
    read = FORMATS[fmt][0]
    path = tmp_path / f"bad.{fmt}"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(path.name)) as err:
        read(path, mmap=mmap)
    assert _offset_in(str(err.value), 0), str(err.value)
    assert says in str(err.value)


def test_vecs_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_fvecs(tmp_path / "nope.fvecs")


@pytest.mark.parametrize("fmt, X, error", [
    ("fvecs", np.zeros(3), ValueError),
    ("fvecs", np.zeros((0, 3)), ValueError),
    ("fvecs", np.zeros((2, 0)), ValueError),
    ("fvecs", np.array([["a"]]), TypeError),
    ("bvecs", np.array([[256]]), ValueError),
    ("bvecs", np.array([[-1]]), ValueError),
    ("bvecs", np.array([[1.5]]), ValueError),
    ("ivecs", np.array([[2**31]]), ValueError),
    ("ivecs", np.array([[np.nan]]), ValueError),
])
def test_write_vecs_rejects(tmp_path, fmt, X, error):
    path = tmp_path / f"w.{fmt}"
    with pytest.raises(error, match=re.escape(path.name)):
        FORMATS[fmt][1](path, X)
    assert not path.exists()


# --------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype, shape", [
    (np.uint8, (3, 4, 5)), (np.uint8, (7,)), (np.float32, (2, 3)), (np.float32, (1, 1, 1, 2)),
])
def test_read_idx_round_trip(tmp_path, suffix, dtype, shape):
    rng = np.random.default_rng(5)
    if dtype is np.uint8:
        array = rng.integers(0, 256, size=shape, dtype=np.uint8)
    else:
        array = rng.standard_normal(shape).astype(np.float32)
    path = tmp_path / f"a.idx{suffix}"
    _write_idx(path, array)
    got = read_idx(path)
    assert got.shape == shape
    assert got.dtype == dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_read_idx_hand_written_bytes(tmp_path):
    # Magic 0x00000803 (uint8, 3 dims), shape 1x2x2, then 4 pixel bytes.
    path = tmp_path / "hand-idx3-ubyte"
    path.write_bytes(bytes.fromhex("00000803 00000001 00000002 00000002 01020304"))
    np.testing.assert_array_equal(read_idx(path), [[[1, 2], [3, 4]]])
    # float32 big-endian: 1.5 and -2.0
    path = tmp_path / "hand-idx1-float"
    path.write_bytes(bytes.fromhex("00000d01 00000002 3fc00000 c0000000"))
    np.testing.assert_array_equal(read_idx(path), np.array([1.5, -2.0], np.float32))


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("name, mutate, offset", [
    ("bad-magic", lambda b: b"\x01" + b[1:], 0),
    ("bad-code", lambda b: b[:2] + b"\x42" + b[3:], 2),
    ("truncated-payload", lambda b: b[:-3], 12),
    ("extra-payload", lambda b: b + b"\x00", 12),
    ("short-header", lambda b: b[:7], 0),
])
def test_read_idx_malformed(tmp_path, suffix, name, mutate, offset):
    data = mutate(_idx_bytes(np.zeros((2, 3), np.uint8)))
    path = tmp_path / f"{name}{suffix}"
    if suffix:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(path.name)) as err:
        read_idx(path)
    assert _offset_in(str(err.value), offset), str(err.value)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape, says", [
    ((65536,) * 4, "needs 18446744073709551616 (more than int64"),  # 2**64 wraps to 0
    ((2**32 - 1,) * 3, f"needs {(2**32 - 1) ** 3}"),
    ((2**32 - 1, 2), f"needs {2 * (2**32 - 1)}"),
], ids=["2**64", "huge-3d", "huge-rows"])
def test_read_idx_sizes_do_not_overflow(tmp_path, suffix, shape, says):
    # A header whose element count overflows int64 must not match the payload by
    # wrapping around (np.prod of 2**16 x 4 is 0 in int64, like this empty payload).
    data = bytes([0, 0, 0x08, len(shape)]) + np.array(shape, ">u4").tobytes()
    path = tmp_path / f"huge-idx{suffix}"
    path.write_bytes(gzip.compress(data) if suffix else data)
    with pytest.raises(ValueError, match=re.escape(path.name)) as err:
        read_idx(path)
    assert says in str(err.value) and "payload has 0 bytes" in str(err.value)


def test_read_idx_zero_dimensions(tmp_path):
    path = tmp_path / "scalar-idx"
    path.write_bytes(bytes([0, 0, 0x08, 0]) + b"\x07")
    with pytest.raises(ValueError, match=r"scalar-idx: .*0 dimensions at offset 3"):
        read_idx(path)


def _gzipped(tmp_path, name="a-idx3-ubyte.gz"):
    path = tmp_path / name
    array = np.random.default_rng(0).integers(0, 256, size=(20, 7, 7), dtype=np.uint8)
    _write_idx(path, array)
    return path, array


@pytest.mark.parametrize("damage", ["truncated", "cut-header", "corrupt-stream", "bad-crc",
                                    "not-gzip"])
def test_read_idx_broken_gzip(tmp_path, damage):
    path, _ = _gzipped(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "cut-header":
        data = data[:5]
    elif damage == "corrupt-stream":
        data[12:40] = bytes(range(28))  # garbage in the deflate stream
    elif damage == "bad-crc":
        data[-8] ^= 0xFF  # the CRC32 of the trailer
    else:
        data = bytearray(b"plain bytes, not gzip at all")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=re.escape(path.name) + ".*gzip"):
        read_idx(path)


def test_read_idx_gzip_without_gz_suffix(tmp_path):
    path, array = _gzipped(tmp_path)
    renamed = path.rename(tmp_path / "b-idx3-ubyte")  # gzip magic bytes, no .gz
    np.testing.assert_array_equal(read_idx(renamed), array)


# --------------------------------------------------------------------------- MNIST

@pytest.fixture
def fake_mnist(tmp_path):
    """Two 28x28 images per part; train pixels from 0, test pixels from 100."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    parts = {"train": (0, [3, 1]), "test": (100, [7, 9])}
    for (part, (start, labels)), (images_name, labels_name) in zip(
            parts.items(), (datasets._MNIST_FILES["train"],
                            datasets._MNIST_FILES["test"]), strict=False):
        images = ((start + np.arange(2 * 28 * 28)) % 256).astype(np.uint8).reshape(2, 28, 28)
        # train images compressed, test images raw: both spellings are found
        _write_idx(folder / (images_name + (".gz" if part == "train" else "")), images)
        _write_idx(folder / labels_name, np.array(labels, np.uint8))
    return folder


def test_load_mnist_subsets(fake_mnist):
    X, y = load_mnist(fake_mnist)
    assert X.shape == (2, 784) and X.dtype == np.float32
    assert y.tolist() == [3, 1] and y.dtype == np.uint8
    assert X[0, 0] == 0 and X[1, 0] == 784 % 256
    Xt, yt = load_mnist(fake_mnist, "test", dtype=np.float64)
    assert Xt.shape == (2, 784) and Xt.dtype == np.float64
    assert yt.tolist() == [7, 9] and Xt[0, 0] == 100
    Xa, ya = load_mnist(fake_mnist, "all")
    assert Xa.shape == (4, 784) and ya.tolist() == [3, 1, 7, 9]
    np.testing.assert_array_equal(Xa, np.concatenate([X, Xt]))
    with pytest.raises(ValueError, match="subset"):
        load_mnist(fake_mnist, "validation")


def test_load_mnist_from_environment(fake_mnist, monkeypatch):
    monkeypatch.setenv(datasets.MNIST_ENV, str(fake_mnist))
    assert datasets.MNIST_ENV == "DYNKM_MNIST"
    X, y = load_mnist()
    assert X.shape == (2, 784) and y.tolist() == [3, 1]
    assert datasets.mnist_dir() == fake_mnist


def test_load_mnist_absent(tmp_path, fake_mnist, monkeypatch):
    monkeypatch.delenv(datasets.MNIST_ENV, raising=False)
    with pytest.raises(FileNotFoundError):
        load_mnist()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(empty.name)):
        load_mnist(empty)
    monkeypatch.setenv(datasets.MNIST_ENV, str(empty))
    with pytest.raises(FileNotFoundError, match=re.escape(empty.name)):
        load_mnist()
    # one of the four files missing is "absent" too
    (fake_mnist / (datasets._MNIST_FILES["test"][1])).unlink()
    with pytest.raises(FileNotFoundError):
        load_mnist(fake_mnist, "train")


def _mnist_path(folder, part, which):
    return datasets._find(folder, datasets._MNIST_FILES[part][which])


@pytest.mark.parametrize("part, which, array, says", [
    ("train", 1, np.array([3, 1, 4], np.uint8), "2 images but 3 labels"),
    ("test", 1, np.array([7], np.uint8), "2 images but 1 labels"),
    ("train", 0, np.zeros((2, 784), np.uint8), "images must be 3-D"),
    ("test", 1, np.zeros((2, 1), np.uint8), "labels must be 1-D"),
], ids=["train-counts", "test-counts", "flat-images", "2-D-labels"])
def test_load_mnist_inconsistent_files(fake_mnist, part, which, array, says):
    target = _mnist_path(fake_mnist, part, which)
    _write_idx(target, array)
    with pytest.raises(ValueError) as err:
        load_mnist(fake_mnist, part)
    message = str(err.value)
    assert says in message
    for other in (0, 1):  # both files of the pair are named
        assert str(_mnist_path(fake_mnist, part, other)) in message


def test_load_mnist_parts_of_different_shapes(fake_mnist):
    test_images = _mnist_path(fake_mnist, "test", 0)
    _write_idx(test_images, np.zeros((2, 32, 32), np.uint8))
    assert load_mnist(fake_mnist, "test")[0].shape == (2, 1024)  # each part alone is fine
    with pytest.raises(ValueError) as err:
        load_mnist(fake_mnist, "all")
    message = str(err.value)
    assert "(28, 28)" in message and "(32, 32)" in message
    assert str(test_images) in message and str(_mnist_path(fake_mnist, "train", 0)) in message


def test_load_mnist_says_which_files_are_missing(fake_mnist):
    missing = datasets._MNIST_FILES["test"][1]
    (fake_mnist / missing).unlink()
    with pytest.raises(FileNotFoundError, match=f"missing {missing}"):
        load_mnist(fake_mnist)
    assert datasets._mnist_problem(fake_mnist / "nope") == "no such folder"
    assert datasets._mnist_problem(_mnist_path(fake_mnist, "test", 0)) == "not a folder"


# --------------------------------------------------------------------------- .npy

@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, bool])
def test_read_npy_round_trip(tmp_path, mmap, dtype):
    X = (np.random.default_rng(0).standard_normal((7, 3)) * 50).astype(dtype)
    np.save(tmp_path / "x.npy", X)
    Y = read_npy(tmp_path / "x.npy", mmap=mmap)
    assert Y.dtype == X.dtype and isinstance(Y, np.memmap) == mmap
    np.testing.assert_array_equal(Y, X)


class _Trap:
    """Unpickling this creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (Path(self.marker),)


@pytest.mark.parametrize("mmap", [True, False])
def test_read_npy_never_unpickles(tmp_path, mmap):
    marker = tmp_path / "ran"
    trap = np.empty((1, 1), dtype=object)
    trap[0, 0] = _Trap(marker)
    np.save(tmp_path / "trap.npy", trap, allow_pickle=True)
    pickle.loads(pickle.dumps(_Trap(tmp_path / "check")))  # the trap works when unpickled
    assert (tmp_path / "check").exists()
    with pytest.raises(ValueError, match=r"trap\.npy: .*Python objects"):
        read_npy(tmp_path / "trap.npy", mmap=mmap)
    assert not marker.exists()


def _save(path, array):
    np.save(path, array)


@pytest.mark.parametrize("mmap", [True, False])
@pytest.mark.parametrize("name, make, says", [
    ("rows0", lambda p: _save(p, np.zeros((0, 4))), "empty array of shape (0, 4)"),
    ("cols0", lambda p: _save(p, np.zeros((4, 0))), "empty array of shape (4, 0)"),
    ("scalar", lambda p: _save(p, np.float64(3)), "0-D array"),
    ("flat", lambda p: _save(p, np.arange(5.0)), "1-D array of shape (5,)"),
    ("cube", lambda p: _save(p, np.zeros((2, 2, 2))), "3-D array"),
    ("words", lambda p: _save(p, np.array([["a"]])), "dtype <U1 is not numeric"),
    ("complex", lambda p: _save(p, np.ones((2, 2), complex)), "not numeric"),
    ("records", lambda p: _save(p, np.zeros((2, 2), "i4,f4")), "not numeric"),
    ("nan", lambda p: _save(p, np.array([[0.0, 1.0], [np.nan, 2.0]])), "row 1, column 0 is nan"),
    ("inf", lambda p: _save(p, np.array([[0.0, -np.inf]], np.float32)), "column 1 is -inf"),
    ("junk", lambda p: p.write_bytes(b"col1,col2\n1,2\n"), "not a .npy file"),
    ("zip", lambda p: p.write_bytes(b"PK\x03\x04 rest of an archive"), ".npz archive"),
    ("empty-file", lambda p: p.write_bytes(b""), "not a .npy file"),
    ("truncated", lambda p: (_save(p, np.ones((30, 4))), p.write_bytes(p.read_bytes()[:-7])),
     "unreadable .npy"),
    ("bad-header", lambda p: p.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8"),
     "unreadable .npy"),
])
def test_read_npy_rejects(tmp_path, mmap, name, make, says):
    path = tmp_path / f"{name}.npy"
    make(path)
    with pytest.raises(ValueError, match=re.escape(path.name)) as err:
        read_npy(path, mmap=mmap)
    assert says in str(err.value), str(err.value)


def test_read_npy_finds_nan_in_a_later_block(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_FINITE_CHUNK", 6)  # two rows of 3 per step
    X = np.zeros((9, 3))
    X[7, 2] = np.nan
    np.save(tmp_path / "late.npy", X)
    with pytest.raises(ValueError, match=r"row 7, column 2 is nan"):
        read_npy(tmp_path / "late.npy")


def test_read_npy_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_npy(tmp_path / "nope.npy")


# --------------------------------------------------------------------------- generators

GENERATORS = {
    "rings": (make_rings, {}, 2, 2),
    "blobs_streak": (make_blobs_streak, {}, 2, 3),
    "high_dim": (make_high_dim, {"n_features": 20, "n_clusters": 4}, 20, 4),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("n_samples", [12, 301])
def test_generator_shapes_and_labels(name, n_samples):
    make, kwargs, n_features, k = GENERATORS[name]
    X, y = make(n_samples=n_samples, random_state=0, **kwargs)
    assert X.shape == (n_samples, n_features) and X.dtype == np.float64
    assert y.shape == (n_samples,) and y.dtype == np.int64
    assert np.all(np.isfinite(X))
    counts = np.bincount(y, minlength=k)
    assert counts.shape == (k,)
    # n // k each, the remainder to the first component; labels in blocks
    assert counts[1:].tolist() == [n_samples // k] * (k - 1)
    assert counts[0] == n_samples // k + n_samples % k
    assert np.all(np.diff(y) >= 0)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_default_sizes(name):
    make = GENERATORS[name][0]
    X, y = make()
    expected = {"rings": (300, 2), "blobs_streak": (300, 2), "high_dim": (1000, 100)}[name]
    assert X.shape == expected
    if name == "high_dim":
        assert np.bincount(y).tolist() == [100] * 10


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_reproducible(name):
    make, kwargs, _, _ = GENERATORS[name]
    X1, y1 = make(n_samples=50, random_state=42, **kwargs)
    X2, y2 = make(n_samples=50, random_state=42, **kwargs)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make(n_samples=50, random_state=43, **kwargs)
    assert not np.allclose(X1, X3)
    # an int seed means np.random.default_rng(seed)
    X4, _ = make(n_samples=50, random_state=np.random.default_rng(42), **kwargs)
    np.testing.assert_array_equal(X1, X4)
    # a generator passed in is advanced: two calls differ
    rng = np.random.default_rng(7)
    Xa, _ = make(n_samples=50, random_state=rng, **kwargs)
    Xb, _ = make(n_samples=50, random_state=rng, **kwargs)
    assert not np.allclose(Xa, Xb)
    # RandomState works and is reproducible
    Xr1, _ = make(n_samples=50, random_state=np.random.RandomState(3), **kwargs)
    Xr2, _ = make(n_samples=50, random_state=np.random.RandomState(3), **kwargs)
    np.testing.assert_array_equal(Xr1, Xr2)
    # None draws fresh entropy
    Xn1, _ = make(n_samples=50, **kwargs)
    Xn2, _ = make(n_samples=50, **kwargs)
    assert not np.allclose(Xn1, Xn2)


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("bad", [1.5, "seed", True])
def test_generator_rejects_bad_random_state(name, bad):
    make, kwargs, _, _ = GENERATORS[name]
    with pytest.raises(TypeError, match="random_state"):
        make(n_samples=20, random_state=bad, **kwargs)


def test_generator_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_samples"):
        make_rings(n_samples=1)
    with pytest.raises(ValueError, match="n_samples"):
        make_blobs_streak(n_samples=2)
    with pytest.raises(ValueError, match="n_samples"):
        make_high_dim(n_samples=5, n_clusters=6)
    with pytest.raises(TypeError, match="n_features"):
        make_high_dim(n_features=2.0)
    with pytest.raises(ValueError, match="noise"):
        make_rings(noise=-0.1)
    with pytest.raises(ValueError, match="noise"):
        make_rings(noise=(0.1, 0.2, 0.3))


def test_rings_radii_concentrate():
    X, y = make_rings(n_samples=4000, random_state=1)
    radius = np.hypot(X[:, 0], X[:, 1])
    outer, inner = radius[y == 0], radius[y == 1]
    assert abs(outer.mean() - 2.0) < 0.02
    assert abs(outer.std() - 0.2) < 0.02
    # radius 0, signed-radius std 0.25: the distance to the centre is half-normal
    assert abs(inner.mean() - 0.25 * np.sqrt(2 / np.pi)) < 0.02
    assert inner.max() < 1.25 < outer.min()
    # angles cover the circle uniformly
    angles = np.arctan2(X[y == 0, 1], X[y == 0, 0])
    assert np.all(np.bincount(((angles + np.pi) // (np.pi / 4)).astype(int) % 8) > 200)
    # one noise value for both components
    X1, y1 = make_rings(n_samples=4000, noise=0.05, random_state=1)
    assert np.hypot(*X1[y1 == 0].T).std() < 0.06


def test_blobs_streak_structure():
    X, y = make_blobs_streak(n_samples=3000, random_state=2)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [0, 0], atol=0.05)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [2, 2], atol=0.05)
    for label in (0, 1):
        np.testing.assert_allclose(X[y == label].std(axis=0), [1 / 3, 1 / 3], rtol=0.1)
    sx, sy = X[y == 2].T
    assert sx.min() >= 1.5
    # y * x + 3 is the standard normal z2
    z2 = sy * sx + 3
    assert abs(z2.mean()) < 0.1 and abs(z2.std() - 1) < 0.1
    # x - 1.5 = 3 |z1|: mean 3 sqrt(2/pi)
    assert abs((sx - 1.5).mean() - 3 * np.sqrt(2 / np.pi)) < 0.15


def test_high_dim_clusters_are_separated():
    X, y = make_high_dim(n_samples=1000, n_features=100, n_clusters=10, random_state=3)
    means = np.stack([X[y == c].mean(axis=0) for c in range(10)])
    dist = np.linalg.norm(X[:, None, :] - means[None, :, :], axis=2)
    own = dist[np.arange(len(y)), y]
    others = np.where(np.arange(10)[None, :] == y[:, None], np.inf, dist)
    assert np.all(own < others.min(axis=1))          # every point nearest its own mean
    assert own.mean() < 0.2 * others.min(axis=1).mean()
    # unit within-cluster noise; centre coordinates with std `scale`
    assert abs((X - means[y]).std() - 1) < 0.05
    assert abs(means.std() - 10) < 1.0
    Xs, _ = make_high_dim(n_samples=200, n_features=50, n_clusters=4, scale=0, random_state=3)
    assert abs(Xs.std() - 1) < 0.05  # scale 0: all clusters at the origin


def test_all_exports():
    expected = {"read_fvecs", "read_ivecs", "read_bvecs", "read_npy", "write_fvecs",
                "write_ivecs", "write_bvecs", "make_rings", "make_blobs_streak", "make_high_dim",
                "read_idx", "load_mnist"}
    assert expected <= set(datasets.__all__)
    for name in datasets.__all__:
        obj = getattr(datasets, name)
        if callable(obj):
            assert obj.__doc__ and "Parameters" in obj.__doc__ or name in (
                "read_idx", "mnist_dir"), name
