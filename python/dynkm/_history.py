"""``history_``: what an estimator records per iteration or per batch, in one shape.

Every dynkm estimator's ``history_`` is a plain dict. Each entry recorded
once per iteration (KMeans, SoftKMeans, the classifiers' Lloyd runs) or once
per batch or step (MiniBatchKMeans, DynamicKMeans, KMeansClassifier's
``partial_fit``) is a 1-D ndarray with one element per iteration or batch, in
order; its dtype is fixed by the estimator (float64 for losses, shifts and
seconds, int64 for counts). The few entries that describe a run as a whole
(``algorithm``, ``n_groups``, ``init_seconds``, ...) are scalars. Each
estimator's Attributes section lists its keys.

Streaming estimators append one row per batch with :func:`record`. Each
column is a view ``buffer[:n]`` of a buffer with spare capacity: a row is
written into the buffer's next free slot and the dict item is rebound to the
one-longer view; a full buffer is replaced by one of twice the size
(:func:`dynkm._grow.reserve`, the streaming state's doubling). So a batch
costs O(1) amortised per key (every element is copied O(1) times on average,
never all the rows before it per batch as rebuilding an array would) and the
buffers hold at most twice the rows; reading
``history_[key]`` is O(1), a view. The views are ordinary arrays: pickles and
model files hold only their ``n`` elements, and a loaded column gets a new
buffer at its first append (one O(n) copy).

This follows the rules of :mod:`dynkm._atomic`: ``record`` rebinds dict items
(rule 3) and writes only past the end of the views it replaces, into spare
capacity (rule 1a, the view's length being the logical size). A call that
raises after recording gets its dict items, the old views, put back; the
slots it wrote are past their end and the next row overwrites them. Slots
before a view's end are never written again, so a view a user holds keeps
its values.

Models saved when the streaming estimators kept lists load through
:class:`ArrayHistory`, which turns those lists into arrays of the columns'
dtypes.
"""

import weakref
from collections.abc import Mapping

import numpy as np

from dynkm._grow import reserve

__all__ = ["ArrayHistory", "as_arrays", "new_history", "record"]

# The buffers record allocated, by id, while they live: only into those does it write.
_BUFFERS: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def new_history(columns, **scalars):
    """An empty history: one 0-length array per key of ``columns`` (key -> dtype),
    then the ``scalars`` (entries about the run as a whole)."""
    history = {key: np.empty(0, dtype=dtype) for key, dtype in columns.items()}
    history.update(scalars)
    return history


def record(history, **values):
    """Append one row: ``values[key]`` to the column ``history[key]`` of each key.

    O(1) amortised per key (see the module docstring); the dict's items are
    rebound to new views, no array that a caller may hold is changed.
    """
    for key, value in values.items():
        history[key] = _appended(history[key], value)


def _appended(column, value):
    """``column`` with ``value`` after its last element, as a view of a buffer."""
    n = column.shape[0]
    buffer = column.base
    if not (buffer is not None and _BUFFERS.get(id(buffer)) is buffer
            and buffer.dtype == column.dtype
            and column.__array_interface__["data"][0] == buffer.__array_interface__["data"][0]):
        # Not a prefix of one of this module's buffers (a new column, a loaded or
        # unpickled array, an array of the caller's): reserve copies it into a new
        # buffer and never writes into it.
        buffer = column
    # The same buffer while it has a spare slot; past it, one of twice the rows.
    grown = reserve({"column": buffer}, n + 1, n)["column"]
    if grown is not buffer:
        _BUFFERS[id(grown)] = grown
    grown[n] = value
    return grown[:n + 1]


def as_arrays(history, columns=()):
    """``history`` with every list turned into a 1-D array (dtype from ``columns``,
    key -> dtype, when the key is there); arrays and scalars are kept."""
    columns = dict(columns)
    return {key: np.asarray(value, dtype=columns.get(key)) if isinstance(value, list)
            else value for key, value in history.items()}


class ArrayHistory:
    """Reads a ``history_`` saved as a dict of lists (files and pickles of dynkm
    before the columns became arrays) into the shape above.

    A class lists its columns in ``_history_columns`` (key -> dtype).
    """

    _history_columns: Mapping[str, type] = {}

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("history_"), dict):
            state["history_"] = as_arrays(state["history_"], type(self)._history_columns)
        super().__setstate__(state)
