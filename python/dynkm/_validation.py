"""Parameter and data checks shared by the dynkm estimators."""

import numbers
import re

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

from kmcore import effective_n_threads
from kmcore.validation import check_int as _check_int
from kmcore.validation import check_sample_weight

__all__ = ["INT_MAX", "RANGE_FACTOR", "as_dtype", "check_float", "check_int", "check_range",
           "n_threads_of", "validate_X", "validate_named", "validated_weights"]

# Integer parameters end up as C ints (loop bounds, counts, thread numbers) in
# the kernels: larger values are refused here with the parameter's name rather
# than by an OverflowError from deep inside.
INT_MAX = 2 ** 31 - 1

# The kernels square. A row's squared norm ||x||^2 is computed in the data's
# dtype, and a squared distance as ||x||^2 - 2 x.c + ||c||^2, whose terms are
# each at most ||x||^2 + ||c||^2 in size. Centers are weighted means of rows
# (||c||^2 <= the largest ||x||^2), or at most 3 times as far from the origin
# (a split without retained rows, the classifier's penalty): every such term
# then stays below 16 times the largest squared row norm. check_range asks for
# that bound to be finite, in the dtype for the distances and in float64 for
# the weighted sums of squared distances (inertia, loss, objective).
RANGE_FACTOR = 16.0


def check_int(value, name, low=1, high=INT_MAX):
    """An integer in [low, high] (bools rejected), else TypeError/ValueError naming it:
    :func:`kmcore.validation.check_int`, bounded by a C int by default."""
    return _check_int(value, name, low, high)


def check_float(value, name, low=0.0):
    """A real number >= low, else TypeError/ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.isfinite(value) or value < low:
        raise ValueError(f"{name} must be finite and >= {low}, got {value}")
    return float(value)


def n_threads_of(n_threads, work=None):
    """Threads the kernels will use for the ``n_threads`` parameter and a call's ``work``
    (see ``kmcore.effective_n_threads``: None follows OpenMP's limit and the CPUs,
    -1 all of them, and one thread when the work is small)."""
    if n_threads is not None:
        check_int(n_threads, "n_threads", low=-INT_MAX)  # named, within a C int
    return effective_n_threads(n_threads, work)


def validate_X(estimator, X, reset):
    """Dense float32/float64 C-contiguous data (float32 kept; ints become float64).

    Read-only and memory-mapped arrays are used as they are; other layouts are
    copied once. NaN/inf, sparse input and a wrong feature count raise.
    """
    return validate_named(estimator, X, dtype=[np.float64, np.float32], order="C",
                          accept_sparse=False, reset=reset)


def validate_named(estimator, X, name="X", **kwargs):
    """scikit-learn's ``validate_data``, whose errors always name the argument.

    Some of its messages ("Expected 2D array", "Found array with 0 sample(s)",
    "could not convert string to float") do not say which argument was wrong;
    those are re-raised, same type, prefixed with ``name``.
    """
    try:
        return validate_data(estimator, X, **kwargs)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        if re.search(rf"\b{re.escape(name)}\b", message):
            raise
        base = ValueError if isinstance(exc, ValueError) else TypeError
        raise base(f"{name}: {message}") from exc


def validated_weights(sample_weight, X):
    """None (unit weights, no allocation) or a checked float vector of X's dtype."""
    return check_sample_weight(sample_weight, X.shape[0], X.dtype)


def as_dtype(X, dtype, name="X"):
    """X (dense or CSR) in ``dtype``: the one cast of a batch to a model's dtype.

    X itself when it already has that dtype. A value that does not fit (a
    float64 beyond float32's range) raises ValueError naming ``name`` instead
    of turning into infinity.
    """
    dtype = np.dtype(dtype)
    if X.dtype == dtype:
        return X
    with np.errstate(over="ignore"):
        cast = X.astype(dtype)
    values = cast.data if sp.issparse(cast) else cast
    if not np.isfinite(values).all():
        bad = np.abs(X.data if sp.issparse(X) else X).max()
        raise ValueError(
            f"{name} does not fit in {dtype.name}: its largest magnitude {bad:.3g} is beyond "
            f"{dtype.name}'s {np.finfo(dtype).max:.3g}"
        )
    return cast


def check_range(x_sqnorms, sample_weight=None, name="X"):
    """Raise ValueError when the data is too large for the kernels' arithmetic.

    ``x_sqnorms`` are the squared row norms as the kernels compute them (in
    the data's dtype). The rule (see ``RANGE_FACTOR``): ``16 * max ||x_i||^2``
    must be finite in that dtype, and ``16 * sum_i w_i ||x_i||^2`` in float64.
    Data that passes gives finite distances, inertia and objectives.
    """
    dtype = x_sqnorms.dtype
    limit = float(np.finfo(dtype).max) / RANGE_FACTOR
    largest = float(x_sqnorms.max()) if x_sqnorms.size else 0.0
    if not largest <= limit:
        row = int(np.argmax(x_sqnorms))
        value = (f"overflows {dtype.name}" if np.isinf(largest)
                 else f"is {largest:.3g}")
        hint = " or pass float64" if dtype == np.float32 else ""
        raise ValueError(
            f"{name} is too large for {dtype.name} arithmetic: the squared norm of row {row} "
            f"{value}, but it must stay below {limit:.3g} ({dtype.name}'s largest / "
            f"{RANGE_FACTOR:g}) for the squared distances the kernels form to be finite; "
            f"scale {name} down{hint}"
        )
    sq = x_sqnorms.astype(np.float64)
    with np.errstate(over="ignore"):
        total = float(sq.sum() if sample_weight is None else np.dot(sample_weight, sq))
    limit64 = float(np.finfo(np.float64).max) / RANGE_FACTOR
    if not total <= limit64:
        raise ValueError(
            f"{name} with its sample_weight is too large: the weighted sum of squared row norms "
            f"is {total:.3g}, but the sums of squared distances need it below {limit64:.3g}; "
            f"scale {name} or sample_weight down"
        )
