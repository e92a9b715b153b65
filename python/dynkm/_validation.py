"""Parameter and data checks shared by the dynkm estimators."""

import numbers

import numpy as np
from sklearn.utils.validation import validate_data

from kmcore._validation import check_sample_weight

__all__ = ["check_int", "check_float", "validate_X", "validated_weights"]


def check_int(value, name, low=1):
    """An integer >= low (bools rejected), else TypeError/ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def check_float(value, name, low=0.0):
    """A real number >= low, else TypeError/ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value) or value < low:
        raise ValueError(f"{name} must be finite and >= {low}, got {value}")
    return float(value)


def validate_X(estimator, X, reset):
    """Dense float32/float64 C-contiguous data (float32 kept; ints become float64).

    Read-only and memory-mapped arrays are used as they are; other layouts are
    copied once. NaN/inf, sparse input and a wrong feature count raise.
    """
    return validate_data(
        estimator, X, dtype=[np.float64, np.float32], order="C",
        accept_sparse=False, reset=reset,
    )


def validated_weights(sample_weight, X):
    """None (unit weights, no allocation) or a checked float vector of X's dtype."""
    return check_sample_weight(sample_weight, X.shape[0], X.dtype)
