"""Small hand-made data files for the reader and command-line tests."""

import gzip

import numpy as np

from dynkm.datasets import _MNIST_FILES

_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.float32): 0x0D}


def idx_bytes(array):
    """The IDX encoding of a uint8 or float32 array (big-endian header and values)."""
    array = np.asarray(array)
    header = bytes([0, 0, _IDX_CODES[array.dtype], array.ndim])
    header += np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array):
    """Write ``array`` as IDX, gzip-compressed if the name ends in ``.gz``."""
    data = idx_bytes(array)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def write_mnist(folder, n_train=30, n_test=10, n_train_labels=None, seed=0):
    """A tiny MNIST folder: random 28x28 uint8 images, labels 0..9 (train images .gz).

    ``n_train_labels`` other than ``n_train`` makes the train counts disagree.
    Returns the folder.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_labels = {"train": n_train if n_train_labels is None else n_train_labels, "test": n_test}
    for part, n in (("train", n_train), ("test", n_test)):
        images_name, labels_name = _MNIST_FILES[part]
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        write_idx(folder / (images_name + (".gz" if part == "train" else "")), images)
        write_idx(folder / labels_name, (np.arange(n_labels[part]) % 10).astype(np.uint8))
    return folder
