"""Input of the public kernels: fully checked, or trusted with ``check_input=False``.

With ``check_input=True`` (the default) every array goes through
``kmcore._validation``: converted to a C-contiguous float32/float64 array
and scanned for NaN, infinity and out-of-range values (a full pass over X,
a large share of a kernel call). A caller who validated its arrays once and
calls the kernels in a loop passes ``check_input=False``: then nothing is
converted or scanned, and only what costs O(1) is checked, the type, dtype,
layout and shapes that keep the native code inside its buffers. An array
that would need a conversion raises instead of being copied, so that the
caller learns it is paying for one. Index arrays (labels, indices) are
range-checked in the kernels themselves, in either mode.
"""

import numbers

import numpy as np

from kmcore._validation import check_centers, check_data, check_sample_weight, check_sqnorms

_FLOAT_CHARS = ("f", "d")  # float32, float64


def check_input_flag(check_input):
    """``check_input`` must be a bool (a typo such as ``check_input="no"`` must not pass)."""
    if check_input is True or check_input is False:
        return check_input
    if not isinstance(check_input, (bool, np.bool_)):
        raise TypeError(f"check_input must be True or False, got {check_input!r}")
    return bool(check_input)


def trusted_array(a, name, ndim, dtype=None):
    """``a`` itself if it is a C-contiguous float32/float64 ndarray of ``ndim`` dimensions.

    ``dtype``, when given, is the dtype ``a`` must have (the data's). O(1):
    the values are not looked at.
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray when check_input=False, "
                        f"got {type(a).__name__}")
    # dtype.char: one attribute read instead of dtype comparisons (per kernel call).
    if a.dtype.char not in _FLOAT_CHARS or (dtype is not None and a.dtype is not dtype
                                            and a.dtype != dtype):
        want = np.dtype(dtype).name if dtype is not None else "float32 or float64"
        raise TypeError(f"{name} must have dtype {want} when check_input=False, got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous when check_input=False")
    return a


def data(X, name, check_input, dtype=None):
    """X for a kernel: :func:`check_data`, or trusted as a non-empty 2-D array."""
    if check_input_flag(check_input):
        return check_data(X, name, dtype=dtype)
    X = trusted_array(X, name, 2, dtype)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    return X


def centers(C, n_features, dtype, check_input, name="centers"):
    """Centers of the data's width and dtype (cast and checked, or trusted)."""
    if check_input:
        return check_centers(C, n_features, dtype, name=name)
    C = trusted_array(C, name, 2, dtype)
    if C.shape[0] == 0 or C.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {C.shape}")
    if C.shape[1] != n_features:
        raise ValueError(f"{name} has {C.shape[1]} features but the data has {n_features}")
    return C


def vector(v, name, n, dtype):
    """A trusted length-``n`` vector of ``dtype`` (None stays None)."""
    if v is None:
        return None
    v = trusted_array(v, name, 1, dtype)
    if v.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {v.shape}")
    return v


def sample_weight(w, n, dtype, check_input):
    """Weights: :func:`check_sample_weight`, or a trusted vector (a scalar still expands)."""
    if check_input:
        return check_sample_weight(w, n, dtype)
    if w is None:
        return None
    if isinstance(w, numbers.Number) and not isinstance(w, (bool, np.bool_)):
        return np.full(n, w, dtype=dtype)
    return vector(w, "sample_weight", n, dtype)


def sqnorms(v, name, n, dtype, check_input):
    """Precomputed squared norms: :func:`check_sqnorms`, or a trusted vector."""
    return check_sqnorms(v, name, n, dtype) if check_input else vector(v, name, n, dtype)
