"""Compare an estimator's whole state before and after a call (bitwise)."""

import copy

import numpy as np


def snapshot(obj):
    """A deep copy of ``vars(obj)`` to compare against later."""
    return copy.deepcopy(vars(obj))


def _same(a, b, path):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and a.shape == b.shape, path
        if a.dtype.kind in "fc":
            assert np.array_equal(a, b, equal_nan=True), path
        else:
            assert np.array_equal(a, b), path
    elif isinstance(a, np.random.RandomState):
        assert isinstance(b, np.random.RandomState), path
        _same(a.get_state(), b.get_state(), path + ".get_state()")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            _same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _same(x, y, f"{path}[{i}]")
    elif hasattr(a, "__dict__") and not callable(a):
        assert type(a) is type(b), path
        _same(vars(a), vars(b), path)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


def assert_same_state(before, obj):
    """Every attribute of ``obj`` equals the ``snapshot`` taken before (same types, bits)."""
    _same(before, vars(obj), type(obj).__name__)


def assert_same_values(a, b):
    """Two states (e.g. dicts of a model's fitted attributes) equal bitwise, types included."""
    _same(a, b, "state")
