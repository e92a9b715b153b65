"""All or nothing: a public call that raises leaves the estimator exactly as it was.

Every public method that changes a dynkm estimator (``fit``, ``partial_fit``,
``set_params``, ``fit_predict``, ``fit_transform``) runs inside a
:class:`transaction`. The transaction takes a snapshot before the call; if the
call raises anything at all (a ValueError from validation, a KeyboardInterrupt
between two kernels, a MemoryError), it puts the snapshot back and re-raises.
Retrying the same call then gives what it would have given the first time,
random draws included.

The snapshot copies no array, so it costs O(attributes) per call, never
O(data seen). It holds:

- the attribute dict, shallow: attributes that the failed call added are
  removed, those it rebound get their old object back;
- the items of every dict attribute (one level deep);
- the length of every list attribute and of every list that is a value of a
  dict attribute;
- the state of every numpy RandomState among the attributes: the estimator's
  own, and ``random_state`` when the user passed a RandomState (each draw
  advances it). numpy's global RandomState (``random_state=None``) is never
  rewound: another thread may be drawing from it, and ``None`` promises no
  reproducibility anyway.

A shallow snapshot is only correct if the code follows these rules while a
call runs (the estimators do):

1. An array or other object held by the estimator is never modified in place:
   a call computes a new one and rebinds the attribute (copy-on-write). Three
   exceptions keep streaming O(batch) instead of O(data seen):

   a. writing into the spare capacity of a buffer, past a logical size that is
      itself an attribute (rolled back, the written part is spare again);
      a buffer that must grow is reallocated, never resized in place;
   b. writing through :func:`write`, which records the entries it overwrites
      so that a failed call can write them back (for large arrays of which a
      call changes a few entries);
   c. rearranging a large array in place (a permutation) after registering
      its inverse with :func:`on_rollback`.

2. A list held by the estimator (as an attribute or as the value of a dict
   attribute) is only appended to.
3. A dict attribute may gain, lose and rebind items; its values follow rules
   1 and 2.

Not covered: another thread using the same estimator during the call, and an
exception raised while the snapshot itself is being put back.
"""

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

_Method = TypeVar("_Method", bound=Callable[..., Any])

__all__ = ["AtomicSetParams", "atomic", "on_rollback", "transaction", "write"]

_active = threading.local()


def _stack():
    """This thread's open transactions, innermost last."""
    stack = getattr(_active, "stack", None)
    if stack is None:
        stack = _active.stack = []
    return stack


def _innermost(obj):
    for txn in reversed(_stack()):
        if txn.obj is obj:
            return txn
    return None


class transaction:
    """Context manager: on any exception, ``obj`` is put back as it was on entry.

    Transactions nest: an inner one that succeeds hands what :func:`write`
    recorded to the enclosing transaction of the same object, so that the
    outer call can still undo it.
    """

    __slots__ = ("obj", "_attrs", "_dicts", "_lists", "_rngs", "undo")

    def __init__(self, obj):
        self.obj = obj

    def __enter__(self):
        attrs = dict(vars(self.obj))
        dicts = [(d, dict(d)) for d in attrs.values() if isinstance(d, dict)]
        lists = [v for v in attrs.values() if isinstance(v, list)]
        for _, items in dicts:
            lists.extend(v for v in items.values() if isinstance(v, list))
        global_rng = np.random.mtrand._rand
        self._attrs = attrs
        self._dicts = dicts
        self._lists = [(lst, len(lst)) for lst in lists]
        self._rngs = [(r, r.get_state()) for r in attrs.values()
                      if isinstance(r, np.random.RandomState) and r is not global_rng]
        self.undo = []
        _stack().append(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        stack = _stack()
        stack.remove(self)
        if exc_type is None:
            outer = _innermost(self.obj)
            if outer is not None:
                outer.undo.extend(self.undo)
            return False
        self._rollback()
        return False  # re-raise

    def _rollback(self):
        # Journaled writes first: they went into arrays the snapshot refers to.
        for array, index, old in reversed(self.undo):
            if array is None:
                old()  # recorded by on_rollback
            else:
                array[index] = old
        state = vars(self.obj)
        state.clear()
        state.update(self._attrs)
        for d, items in self._dicts:
            if d.keys() != items.keys() or any(d[k] is not v for k, v in items.items()):
                d.clear()
                d.update(items)
        for lst, n in self._lists:
            del lst[n:]
        for rng, rng_state in self._rngs:
            rng.set_state(rng_state)


def atomic(method: _Method) -> _Method:
    """Decorator: run ``method(self, ...)`` in a :class:`transaction` of ``self``."""

    @functools.wraps(method)
    def atomic_method(self, *args, **kwargs):
        with transaction(self):
            return method(self, *args, **kwargs)

    return atomic_method  # type: ignore[return-value]  # functools.wraps keeps the signature


def write(obj, array, index, values):
    """``array[index] = values``, undone if the current call on ``obj`` fails.

    For in-place updates of a few entries of a large state array (rule 1b of
    the module docstring): the overwritten entries are copied first, so the
    cost is O(entries written). Outside any transaction this is a plain write.
    """
    txn = _innermost(obj)
    if txn is not None:
        txn.undo.append((array, index, np.array(array[index], copy=True)))
    array[index] = values


def on_rollback(obj, undo):
    """Call ``undo()`` if the current call on ``obj`` fails, in its place among the writes.

    For an in-place change that is cheaper to reverse than to record (a
    permutation of a large array: :func:`write` would copy what it moves).
    ``undo`` runs before the entries recorded earlier are written back, after
    those recorded later. Outside any transaction nothing is recorded.
    """
    txn = _innermost(obj)
    if txn is not None:
        txn.undo.append((None, None, undo))


class AtomicSetParams:
    """``set_params`` that sets all the given parameters or, when one is invalid, none."""

    @atomic
    def set_params(self, **params):
        return super().set_params(**params)
