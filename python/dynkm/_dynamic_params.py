"""The parameters of :class:`dynkm.DynamicKMeans`, checked once per stream.

:func:`check_dynamic_params` reads the estimator's parameters when a stream
starts (``fit``, or the first ``partial_fit``) and returns what the batches
use: the sizes, the decay per time unit (``half_life`` turned into a factor),
the store kind (the deprecated ``keep_data`` resolved) and the reservoir
budget. The dict is kept on the estimator as ``_p`` and saved with it, so a
loaded model resumes with the values its stream started with.
"""

import os

import numpy as np

from dynkm._point_store import store_kind
from dynkm._validation import check_float, check_int

__all__ = ["TIME_UNITS", "check_dynamic_params"]

TIME_UNITS = ("batches", "points")


def check_dynamic_params(est):
    """The checked parameters of DynamicKMeans ``est`` (TypeError/ValueError naming
    the parameter): a dict with ``min_size``, ``max_size``, ``decay``, ``refine``,
    ``k_init``, ``spherical``, ``store`` and ``budget``."""
    min_size = check_float(est.min_size, "min_size")
    max_size = check_float(est.max_size, "max_size")
    if max_size < 1 or min_size > max_size:
        raise ValueError(f"need 1 <= max_size and min_size <= max_size, got "
                         f"min_size={min_size}, max_size={max_size}")
    if est.time_unit not in TIME_UNITS:
        raise ValueError(f"time_unit must be one of {TIME_UNITS}, got {est.time_unit!r}")
    if est.half_life is not None:
        decay = 0.5 ** (1.0 / check_float(est.half_life, "half_life", low=1e-300))
    else:
        decay = check_float(est.decay_factor, "decay_factor")
        if decay > 1:
            raise ValueError(f"decay_factor must be in [0, 1], got {decay}")
    store = store_kind(est.store, est.keep_data)
    refine = check_int(est.refine_iter, "refine_iter", low=0)
    if refine and store == "summary":
        raise ValueError("refine_iter > 0 needs the rows (store='memory' or 'disk'; "
                         "keep_data=True): it revisits the points")
    budget = (max(32, min(256, int(max_size) // 4)) if est.summary_size is None
              else check_int(est.summary_size, "summary_size", low=2))
    if est.store_path is not None:
        if not isinstance(est.store_path, (str, os.PathLike)):
            raise TypeError(f"store_path must be a path or None, got {est.store_path!r}")
        if not os.path.isdir(est.store_path):
            raise ValueError(f"store_path must be an existing directory, got "
                             f"{os.fspath(est.store_path)!r}")
    k_init = None if est.k_init is None else check_int(est.k_init, "k_init")
    check_int(est.batch_size, "batch_size")
    if not isinstance(est.spherical, (bool, np.bool_)):
        raise TypeError(f"spherical must be a bool, got {est.spherical!r}")
    return {"min_size": min_size, "max_size": max_size, "decay": decay, "refine": refine,
            "k_init": k_init, "spherical": bool(est.spherical), "store": store,
            "budget": budget}
