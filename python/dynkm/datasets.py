"""Data readers and the datasets dynkm's examples use.

Readers: MNIST's IDX format (:func:`read_idx`, :func:`load_mnist`), the
SIFT / ANN-benchmark ``.fvecs`` / ``.ivecs`` / ``.bvecs`` formats
(:func:`read_fvecs` and friends, with writers for making such files) and
numpy's ``.npy`` (:func:`read_npy`). Every reader checks the file against its
own header and raises a ValueError naming the file and what is wrong.

Generators: the synthetic data sets of the k-means homework notebook this project grew from,
vectorised and seeded (:func:`make_rings`, :func:`make_blobs_streak`,
:func:`make_high_dim`).
"""

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from dynkm._generators import make_blobs_streak, make_high_dim, make_rings

__all__ = [
    "read_idx", "load_mnist", "mnist_dir", "MNIST_ENV",
    "read_fvecs", "read_ivecs", "read_bvecs", "read_npy",
    "write_fvecs", "write_ivecs", "write_bvecs",
    "make_rings", "make_blobs_streak", "make_high_dim",
]

#: Environment variable naming the folder with MNIST's four IDX files.
MNIST_ENV = "DYNKM_MNIST"

# IDX type codes (third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (MNIST's format), raw or gzip-compressed.

    A file is decompressed if its name ends in ``.gz`` or it starts with the
    gzip magic bytes.

    Returns
    -------
    ndarray
        Shape from the header, native-endian dtype from the type code.

    Raises
    ------
    ValueError
        Naming the file and the byte offset, if the header or size is wrong
        (the payload must hold exactly the header's shape), or if the gzip
        data is truncated or corrupt.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number at offset 0)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x} at offset 2")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions at offset 3")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header (expected {header} bytes at offset 0)")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    # Python ints: a header of 2**32 - 1 sized dimensions must not wrap around
    # (np.prod would, in int64) and match some small payload by accident.
    needed = math.prod(shape) * dtype.itemsize
    payload = len(data) - header
    if payload != needed:
        beyond = " (more than int64 can count)" if needed >= 2**63 else ""
        raise ValueError(
            f"{path}: IDX payload has {payload} bytes at offset {header}, "
            f"shape {shape} needs {needed}{beyond}"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    """The file's bytes, decompressed if it is gzip (``.gz`` name or gzip magic bytes)."""
    with open(path, "rb") as f:
        compressed = path.suffix == ".gz" or f.read(2) == _GZIP_MAGIC
        f.seek(0)
        if not compressed:
            return f.read()
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                return g.read()
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ValueError(f"{path}: truncated or corrupt gzip data ({exc})") from exc


def mnist_dir(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The MNIST folder: ``path`` if given, else ``$DYNKM_MNIST``; None if it lacks the files.

    An explicit ``path`` is never replaced by the environment variable: a
    wrong path must not silently load another copy.
    """
    candidate = path if path is not None else os.environ.get(MNIST_ENV)
    if candidate and not _mnist_problem(candidate):
        return Path(candidate)
    return None


def _mnist_problem(path):
    """Why ``path`` is not an MNIST folder: "" if it has the four IDX files, else the reason.

    Each file may be raw or ``.gz``.
    """
    folder = Path(path)
    if not folder.is_dir():
        return "no such folder" if not folder.exists() else "not a folder"
    missing = [name for pair in _MNIST_FILES.values() for name in pair
               if _find(folder, name) is None]
    return f"missing {', '.join(missing)} (raw or .gz)" if missing else ""


def load_mnist(path: str | os.PathLike[str] | None = None, subset: str = "train",
               dtype: DTypeLike = np.float32
               ) -> tuple[NDArray[np.floating], NDArray[np.uint8]]:
    """MNIST images as (n, 784) rows and their labels.

    Parameters
    ----------
    path : str or Path, default=None
        Folder with the four IDX files (raw or ``.gz``); None means the folder
        named by the environment variable ``DYNKM_MNIST``.
    subset : {"train", "test", "all"}, default="train"
        60000 training rows, 10000 test rows, or both (train first).
    dtype : numpy dtype, default=float32
        Pixel values 0..255 in this dtype.

    Returns
    -------
    X : ndarray of shape (n, 784)
    y : ndarray of shape (n,), uint8

    Raises
    ------
    FileNotFoundError
        If the folder lacks one of the four files (the message says which).
    ValueError
        If a file is not valid IDX (see :func:`read_idx`), or naming both
        files if images are not 3-D (n, rows, cols), labels not 1-D, their
        counts differ, or the train and test images differ in shape.
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    folder = mnist_dir(path)
    if folder is None:
        if path is None and not os.environ.get(MNIST_ENV):
            raise FileNotFoundError(f"MNIST IDX files not found: no path given and "
                                    f"${MNIST_ENV} is not set")
        where = path if path is not None else f"${MNIST_ENV}={os.environ.get(MNIST_ENV)!r}"
        reason = _mnist_problem(path if path is not None else os.environ[MNIST_ENV])
        raise FileNotFoundError(f"MNIST IDX files not found in {where}: {reason}")
    parts = ["train", "test"] if subset == "all" else [subset]
    Xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    sources: list[tuple[object, tuple[int, ...]]] = []  # (file, image shape) of each part
    for part in parts:
        image_path, label_path = (_find(folder, name) for name in _MNIST_FILES[part])
        images, labels = read_idx(image_path), read_idx(label_path)
        _check_mnist_pair(images, labels, image_path, label_path)
        if sources and images.shape[1:] != sources[0][1]:
            raise ValueError(
                f"MNIST images of shape {sources[0][1]} in {sources[0][0]} but "
                f"{images.shape[1:]} in {image_path}"
            )
        sources.append((image_path, images.shape[1:]))
        Xs.append(images.reshape(images.shape[0], -1).astype(dtype))
        ys.append(labels)
    return np.concatenate(Xs), np.concatenate(ys)


def _check_mnist_pair(images, labels, image_path, label_path):
    """Images (n, rows, cols) and n labels, else a ValueError naming both files."""
    both = f"(images {image_path}, labels {label_path})"
    if images.ndim != 3:
        raise ValueError(f"MNIST images must be 3-D (n, rows, cols), got shape "
                         f"{images.shape} {both}")
    if labels.ndim != 1:
        raise ValueError(f"MNIST labels must be 1-D, got shape {labels.shape} {both}")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"MNIST counts disagree: {images.shape[0]} images but "
                         f"{labels.shape[0]} labels {both}")


def _find(folder, name):
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------
# .fvecs / .ivecs / .bvecs (SIFT / ANN-benchmark formats)
# ---------------------------------------------------------------------------

# Format name -> little-endian dtype of the values that follow each record's
# int32 dimension field.
_VECS_DTYPES = {"fvecs": np.dtype("<f4"), "ivecs": np.dtype("<i4"), "bvecs": np.dtype("u1")}

# Records whose dimension fields are compared per vectorised step (bounds the
# temporaries of the check on files with billions of records).
_CHECK_CHUNK = 1 << 22
# Bytes read per step by the in-memory (mmap=False) reader.
_READ_CHUNK = 1 << 26
# Dimensions from here on are rejected: a record of 2**29 float32 values is
# 2 GiB, far beyond any real vector file, and most other files (any text, whose
# fourth byte is a printable character) decode to such a dimension.
_MAX_DIM = 1 << 29


def _record_dtype(d, values):
    """The packed record: int32 dimension, then d values (no padding)."""
    return np.dtype([("d", "<i4"), ("v", values, (d,))])


def _check_dims(dims, d, path, record, first=0):
    """Raise if some entry of ``dims`` (records first, first+1, ...) is not d."""
    for start in range(0, dims.shape[0], _CHECK_CHUNK):
        block = dims[start:start + _CHECK_CHUNK]
        bad = np.flatnonzero(block != d)
        if bad.size:
            i = first + start + int(bad[0])
            raise ValueError(
                f"{path}: record {i} at offset {i * record} has dimension "
                f"{int(block[bad[0]])}, expected {d} (the first record's)"
            )


def _read_vecs(path, fmt, mmap):
    path = Path(os.fspath(path))
    values = _VECS_DTYPES[fmt]
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: empty {fmt} file (no record at offset 0)")
    if size < 4:
        raise ValueError(
            f"{path}: incomplete record 0 at offset 0: the file has {size} bytes, "
            f"the int32 dimension field alone needs 4"
        )
    with open(path, "rb") as f:
        d = int(np.frombuffer(f.read(4), "<i4")[0])
    if d <= 0 or d >= _MAX_DIM:
        raise ValueError(
            f"{path}: invalid dimension {d} at offset 0 (must be >= 1 and < 2**29); "
            f"is it a .{fmt} file?"
        )
    record = 4 + d * values.itemsize
    n, tail = divmod(size, record)
    rec = _record_dtype(d, values)

    if mmap:
        X = None
        if n:
            mm = np.memmap(path, dtype=rec, mode="r", shape=(n,))
            # A wrong dimension earlier in the file is the real cause of a
            # ragged size, so report it before the incomplete tail.
            _check_dims(mm["d"], d, path, record)
            X = mm["v"]
    else:
        X = np.empty((n, d), dtype=values.newbyteorder("="))
        per_step = max(1, _READ_CHUNK // record)
        with open(path, "rb") as f:
            for start in range(0, n, per_step):
                block = np.fromfile(f, dtype=rec, count=min(per_step, n - start))
                _check_dims(block["d"], d, path, record, first=start)
                X[start:start + block.shape[0]] = block["v"]
    if tail:
        raise ValueError(
            f"{path}: incomplete record {n} at offset {n * record}: {tail} bytes left, "
            f"a record of dimension {d} takes {record} bytes (4 + {d} * {values.itemsize})"
        )
    return X


_READ_DOC = """Read a ``.{fmt}`` file ({what} vectors, SIFT / ANN-benchmark format).

    Each record is a little-endian int32 dimension ``d`` followed by ``d``
    {what} values; every record must have the first record's ``d``.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    mmap : bool, default=True
        If True, map the file read-only and return a view into the mapping:
        no copy is made and pages are read on demand. If False, read the
        file into a new C-contiguous, writable, native-endian array.

    Returns
    -------
    X : ndarray of shape (n, d), {dtype}
        With ``mmap=True`` a read-only :class:`numpy.memmap` view that skips
        the dimension column, so it is **not contiguous** when ``n > 1``
        (row stride ``4 + d * {itemsize}`` bytes); ``np.ascontiguousarray(X)``
        copies it into memory. Estimators that need C-ordered data (such as
        :class:`dynkm.KMeans`) make that copy themselves. The mapping stays
        open while ``X`` or a view of it is alive.

    Raises
    ------
    ValueError
        Naming the file and the byte offset: empty file; dimension ``d <= 0``
        or ``d >= 2**29`` (offset 0; a text file usually decodes to such a
        dimension); a record whose dimension differs from the first one's
        (its index and offset); a file size that is not a whole number of
        records (index and offset of the incomplete last record).
    FileNotFoundError
        If the file does not exist.

    See Also
    --------
    write_{fmt} : Write such a file.

    Notes
    -----
    The dimension fields are checked in vectorised blocks; for a large file
    with ``mmap=True`` this touches every page of the file once.
"""


def read_fvecs(path: str | os.PathLike[str], mmap: bool = True) -> NDArray[np.float32]:
    return _read_vecs(path, "fvecs", mmap)


def read_ivecs(path: str | os.PathLike[str], mmap: bool = True) -> NDArray[np.int32]:
    return _read_vecs(path, "ivecs", mmap)


def read_bvecs(path: str | os.PathLike[str], mmap: bool = True) -> NDArray[np.uint8]:
    return _read_vecs(path, "bvecs", mmap)


read_fvecs.__doc__ = _READ_DOC.format(fmt="fvecs", what="float32", dtype="float32",
                                      itemsize=4)
read_ivecs.__doc__ = _READ_DOC.format(fmt="ivecs", what="int32", dtype="int32", itemsize=4)
read_bvecs.__doc__ = _READ_DOC.format(fmt="bvecs", what="uint8", dtype="uint8", itemsize=1)


def _write_vecs(path, X, fmt):
    values = _VECS_DTYPES[fmt]
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"{path}: X must be 2-D with at least one row and one column to write "
            f"{fmt}, got shape {X.shape}"
        )
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{path}: X must be numeric to write {fmt}, got dtype {X.dtype}")
    if values.kind in "iu" and X.dtype.kind != "b":
        info = np.iinfo(values)
        if X.dtype.kind == "f" and not np.all(np.isfinite(X) & (X == np.round(X))):
            raise ValueError(f"{path}: X has non-integer values, {fmt} stores {values}")
        if X.min() < info.min or X.max() > info.max:
            raise ValueError(
                f"{path}: X values {X.min()}..{X.max()} are outside {fmt}'s "
                f"range {info.min}..{info.max}"
            )
    n, d = X.shape
    out = np.empty(n, dtype=_record_dtype(d, values))
    out["d"] = d
    out["v"] = X
    out.tofile(os.fspath(path))


_WRITE_DOC = """Write the rows of ``X`` as a ``.{fmt}`` file ({what} values).

    Parameters
    ----------
    path : str or os.PathLike
        The file (overwritten).
    X : array-like of shape (n, d)
        ``n >= 1`` rows, ``d >= 1`` columns.{extra}

    Raises
    ------
    ValueError
        If ``X`` is not 2-D with ``n, d >= 1``{raise_extra}.
    TypeError
        If ``X`` is not numeric.

    See Also
    --------
    read_{fmt} : Read such a file.
"""


def write_fvecs(path: str | os.PathLike[str], X: ArrayLike) -> None:
    _write_vecs(path, X, "fvecs")


def write_ivecs(path: str | os.PathLike[str], X: ArrayLike) -> None:
    _write_vecs(path, X, "ivecs")


def write_bvecs(path: str | os.PathLike[str], X: ArrayLike) -> None:
    _write_vecs(path, X, "bvecs")


write_fvecs.__doc__ = _WRITE_DOC.format(
    fmt="fvecs", what="float32", raise_extra="",
    extra=" Values are rounded to float32.")
write_ivecs.__doc__ = _WRITE_DOC.format(
    fmt="ivecs", what="int32", raise_extra=", or has non-integer or out-of-range values",
    extra=" Values must be integers in int32's range.")
write_bvecs.__doc__ = _WRITE_DOC.format(
    fmt="bvecs", what="uint8", raise_extra=", or has non-integer or out-of-range values",
    extra=" Values must be integers in 0..255.")


# ---------------------------------------------------------------------------
# .npy and the checks every data matrix gets
# ---------------------------------------------------------------------------

_NPY_MAGIC = b"\x93NUMPY"
# Values checked for NaN/inf per step (bounds the temporaries on large memmaps).
_FINITE_CHUNK = 1 << 22


def read_npy(path: str | os.PathLike[str], mmap: bool = True) -> np.ndarray:
    """Read a ``.npy`` file holding a data matrix (rows are samples).

    The file is loaded with ``allow_pickle=False``: an object array is
    rejected, never unpickled.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    mmap : bool, default=True
        If True, map the file read-only (``np.load(mmap_mode="r")``): pages
        are read on demand. If False, read it into memory.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The array as stored (its dtype and memory order).

    Raises
    ------
    ValueError
        Naming the file: not a ``.npy`` file (a ``.npz`` archive, other
        bytes), a truncated or unreadable one, an object or other
        non-numeric dtype, not 2-D, no rows or no columns, or a NaN or
        infinite value (with its row and column).
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(os.fspath(path))
    with open(path, "rb") as f:
        head = f.read(len(_NPY_MAGIC))
    if head != _NPY_MAGIC:
        what = "a .npz archive, not a .npy file" if head[:2] == b"PK" else "not a .npy file"
        raise ValueError(f"{path}: {what} (no NUMPY magic at offset 0)")
    try:
        X = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        if "object" in str(exc).lower():  # numpy's words for an array of pickles
            raise ValueError(f"{path}: the array holds Python objects, which are not "
                             f"loaded (they would be unpickled)") from exc
        raise ValueError(f"{path}: unreadable .npy file ({exc})") from exc
    return _check_rows(X, path)


def _check_rows(X, source):
    """X if it is a non-empty 2-D numeric array of finite values, else ValueError naming source."""
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{source}: dtype {X.dtype} is not numeric (need numbers)")
    if X.ndim != 2:
        raise ValueError(f"{source}: {X.ndim}-D array of shape {X.shape}, need a 2-D "
                         f"(n_samples, n_features) array")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{source}: empty array of shape {X.shape} (need at least one row "
                         f"and one column)")
    if X.dtype.kind == "f":
        step = max(1, _FINITE_CHUNK // X.shape[1])
        for start in range(0, X.shape[0], step):
            bad = ~np.isfinite(X[start:start + step])
            if bad.any():
                row, col = (int(i) for i in np.argwhere(bad)[0])
                raise ValueError(f"{source}: row {start + row}, column {col} is "
                                 f"{X[start + row, col]} (the data must be finite)")
    return X
