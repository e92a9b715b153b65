"""Data readers and the datasets dynkm's examples use."""

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["read_idx", "load_mnist", "MNIST_ENV"]

#: Environment variable naming the folder with MNIST's four IDX files.
MNIST_ENV = "DYNKM_MNIST"

# IDX type codes (third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path):
    """Read an IDX file (MNIST's format), raw or gzip-compressed (``.gz``).

    Returns
    -------
    ndarray
        Shape from the header, native-endian dtype from the type code.

    Raises
    ------
    ValueError
        Naming the file and the byte offset, if the header or size is wrong.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number at offset 0)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x} at offset 2")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header (expected {header} bytes at offset 0)")
    shape = tuple(int(v) for v in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path}: IDX payload has {len(data) - header} bytes at offset {header}, "
            f"shape {shape} needs {expected - header}"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def mnist_dir(path=None):
    """The MNIST folder: ``path``, else ``$DYNKM_MNIST``; None if neither holds the files."""
    for candidate in (path, os.environ.get(MNIST_ENV)):
        if candidate and all(_find(Path(candidate), name) for pair in _MNIST_FILES.values()
                             for name in pair):
            return Path(candidate)
    return None


def load_mnist(path=None, subset="train", dtype=np.float32):
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
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    folder = mnist_dir(path)
    if folder is None:
        where = path if path is not None else f"${MNIST_ENV}={os.environ.get(MNIST_ENV)!r}"
        raise FileNotFoundError(f"MNIST IDX files not found in {where}")
    parts = ["train", "test"] if subset == "all" else [subset]
    Xs, ys = [], []
    for part in parts:
        images, labels = (read_idx(_find(folder, name)) for name in _MNIST_FILES[part])
        Xs.append(images.reshape(images.shape[0], -1).astype(dtype))
        ys.append(labels)
    return np.concatenate(Xs), np.concatenate(ys)


def _find(folder, name):
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None
