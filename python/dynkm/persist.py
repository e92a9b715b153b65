"""Saving and loading dynkm estimators in a file that loads without running code.

A model file is a zip written by :func:`numpy.savez`: one member ``metadata``
(the UTF-8 bytes of a JSON document, as a uint8 array) and numbered members
holding the numeric, boolean and string arrays of the model. The JSON says
what the file is (``"format": "dynkm-model"``, an integer format version, the
dynkm and numpy versions that wrote it), which estimator it holds (a name
looked up in a fixed table of dynkm classes, never imported from the file),
its constructor parameters and a tree of its fitted attributes whose leaves
are plain JSON values, tagged numbers or references to the array members.
Reading uses ``numpy.load(..., allow_pickle=False)`` and ``json.loads``
only, so a file cannot execute code; every part of it is checked, and a
truncated, corrupted or foreign file raises ValueError naming the path.

The tree is built from the estimator's own state (``__getstate__``, i.e.
``vars(estimator)`` unless the class leaves views out and rebuilds them in
``__setstate__``), so the format follows the attributes without a per-class
list. Values are kept exactly: array dtypes and bytes, int vs float vs bool
vs numpy scalar types, tuples vs lists, dict keys of any supported type,
RandomState states, and objects shared between attributes (restored shared).
Anything else (a callable ``init``, an arbitrary object) is refused at save
time with a ValueError naming it, never dropped. The node types, the table of
estimator classes and that of allowed helper objects are in
``dynkm._persist_tree``.

Pickle (joblib, multiprocessing, ``copy.deepcopy``) keeps working on every
estimator, but loading a pickle runs code from the file: use it for trusted
input only.
"""

import json
import os
import secrets
from typing import TYPE_CHECKING, Any

import numpy as np

from dynkm._persist_tree import (
    FORMAT_NAME,
    FORMAT_VERSION,
    META,
    ZIP_ERRORS,
    Decoder,
    Encoder,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "PersistMixin", "load", "save"]

_ZIP_MAGIC = b"PK\x03\x04"


class PersistMixin:
    """``save(path)`` and ``load(path)`` in the dynkm model format (see :mod:`dynkm.persist`).

    The file holds the parameters and every fitted attribute, so a loaded
    model predicts, and resumes ``partial_fit``, exactly as the saved one
    would. Loading runs no code from the file. Pickling also works (joblib,
    multiprocessing) but unpickling runs code: for trusted input only.
    """

    def save(self, path: str | os.PathLike[str], *, compress: bool = False) -> None:
        """Write the model to ``path`` in the dynkm model format (no pickle).

        The file is written next to ``path`` under a temporary name and then
        moved over it, so a failed save leaves any previous file intact.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, used as given (no extension is added).
        compress : bool, default=False
            Deflate the members (``numpy.savez_compressed``): several times
            slower to write, smaller when the arrays compress well (retained
            rows of sparse-looking data such as MNIST). Loading reads both.

        Raises
        ------
        ValueError
            A parameter or attribute that the format cannot store (e.g. a
            callable ``init``): nothing is written.
        OSError
            The file cannot be written.
        """
        save(self, path, compress=compress)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Self":
        """Read a model written by :meth:`save`; it resumes exactly where it was.

        Only data is read (``numpy.load(allow_pickle=False)`` and JSON): a file
        cannot run code. Pickles are refused; unpickle only trusted files.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        estimator : instance of this class

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        ValueError
            Not a dynkm model file, truncated or corrupted, or written by a
            newer dynkm (the message says which and where).
        TypeError
            The file holds another estimator class (:func:`dynkm.load` reads any).
        """
        return _load(path, cls)


# ---------------------------------------------------------------------- save
def save(estimator: Any, path: str | os.PathLike[str], *, compress: bool = False) -> None:
    """Write ``estimator`` to ``path`` (see :meth:`PersistMixin.save`)."""
    meta, arrays = Encoder().estimator(estimator)
    payload = np.frombuffer(json.dumps(meta, allow_nan=False).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)[:200]}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never write through an existing file or link; 0o666 lets the umask decide.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            # The members are named p<i>/a<i>: none can be taken for savez's allow_pickle.
            (np.savez_compressed if compress else np.savez)(
                f, **{META: payload}, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename durable where the platform allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- load
def load(path: str | os.PathLike[str]) -> Any:
    """Read any dynkm estimator written by ``save`` (see :meth:`PersistMixin.load`)."""
    return _load(path, None)


def _load(path, expected):
    path_str = os.fspath(path)
    with open(path_str, "rb") as f:
        head = f.read(4)
        if head != _ZIP_MAGIC:
            _not_a_model(path_str, head)
        f.seek(0)
        try:
            npz = np.load(f, allow_pickle=False)
        except (ValueError, *ZIP_ERRORS) as exc:
            raise ValueError(f"{path_str}: not a readable dynkm model file (truncated or "
                             f"corrupted zip: {exc})") from None
        with npz:
            est = Decoder(path_str, npz).estimator(expected)
    # A model whose state lives partly beside the file (DynamicKMeans' disk store) opens it.
    after_load = getattr(est, "_after_load", None)
    if after_load is not None:
        after_load(path_str)
    return est


def _not_a_model(path, head):
    if head[:1] == b"\x80":
        raise ValueError(
            f"{path}: this is a pickle, not a dynkm model file. dynkm no longer loads pickles "
            "(unpickling runs code from the file). If you trust the file, unpickle it yourself "
            "and save() the model again."
        )
    what = "empty" if not head else "truncated" if _ZIP_MAGIC.startswith(head) else "not a zip"
    raise ValueError(f"{path}: not a dynkm model file ({what})")
