"""Columns with spare capacity: the one doubling array of the streaming state.

A set of *columns* is a dict of arrays that share their first dimension (the
per-cluster state of :class:`dynkm._dynamic_state.ClusterState`, the rows of
a point store). Only a prefix of them is live; its length is kept by the
owner. :func:`reserve` makes room for more rows by doubling the capacity, so
appending a row is amortised O(row).

:func:`reserve` never resizes an array in place: it returns a new dict (new
arrays, or new mappings of a grown file), and the old dict and arrays stay
valid. That is what the copy-on-write rules of :mod:`dynkm._atomic` need: a
call that fails after growing the columns leaves the owner holding the old
ones, whose live prefix it did not touch.
"""

import numpy as np

__all__ = ["capacity_of", "new_columns", "reserve"]


def new_columns(specs, capacity):
    """Zeroed columns: ``specs`` maps a name to ``(row shape, dtype)``."""
    return {name: np.zeros((capacity,) + tuple(shape), dtype=dtype)
            for name, (shape, dtype) in specs.items()}


def capacity_of(columns):
    """Rows the columns have room for."""
    return next(iter(columns.values())).shape[0]


def reserve(columns, n_rows, n_live, allocate=None):
    """Columns with room for ``n_rows`` rows whose first ``n_live`` rows are kept.

    Returns ``columns`` itself when they are large enough, else new columns of
    capacity ``max(2 x capacity, n_rows)``.

    Parameters
    ----------
    columns : dict of str to ndarray
    n_rows : int
        Rows needed.
    n_live : int
        Rows to keep (the live prefix); the rest of the new arrays is zero.
    allocate : callable, default=None
        ``allocate(name, old, capacity)`` returns the array that replaces
        ``old`` with ``capacity`` rows and its first ``n_live`` rows (a file
        store maps a longer file: the rows are already there). None: a new
        zeroed array in memory, the live rows copied.
    """
    capacity = capacity_of(columns)
    if n_rows <= capacity:
        return columns
    capacity = max(2 * capacity, n_rows)
    out = {}
    for name, old in columns.items():
        if allocate is None:
            new = np.zeros((capacity,) + old.shape[1:], dtype=old.dtype)
            new[:n_live] = old[:n_live]
        else:
            new = allocate(name, old, capacity)
        out[name] = new
    return out
