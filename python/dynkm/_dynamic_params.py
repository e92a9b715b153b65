"""The parameters of :class:`dynkm.DynamicKMeans`, checked once per stream.

:func:`check_dynamic_params` reads the estimator's parameters when a stream
starts (``fit``, or the first ``partial_fit``) and returns what the batches
use: the sizes, the decay per time unit (``half_life`` turned into a factor),
the store kind (the deprecated ``keep_data`` resolved) and the reservoir
budget (``summary_size``; None: adaptive, within :data:`SUMMARY_BYTES`). The
dict is kept on the estimator as ``_p`` and saved with it, so a loaded model
resumes with the values its stream started with.
"""

import os

from dynkm._params import Bool, Int, Options, Real, Rule, check_params
from dynkm._point_store import store_kind

__all__ = ["SUMMARY_BYTES", "TIME_UNITS", "check_dynamic_params"]

TIME_UNITS = ("batches", "points")
# What the reservoirs of store="summary" may take when summary_size is None.
SUMMARY_BYTES = 64 << 20


def _path(value, name):
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path or None, got {value!r}")
    if not os.path.isdir(value):
        raise ValueError(f"{name} must be an existing directory, got {os.fspath(value)!r}")
    return value


# Each parameter's rule, once (dynkm._params); store and the deprecated
# keep_data are resolved together (store_kind), random_state and n_threads
# when the stream starts.
DYNAMIC_SPECS = {
    "min_size": Real(),
    "max_size": Real(),
    "time_unit": Options(*TIME_UNITS),
    "half_life": Real(low=1e-300, none=True),
    "decay_factor": Real(high=1.0),
    "refine_iter": Int(low=0),
    "summary_size": Int(low=2, none=True),
    "store_path": Rule(_path, "an existing directory", none=True),
    "k_init": Int(none=True),
    "batch_size": Int(),
    "merge": Bool(),
    "spherical": Bool(),
    "verbose": Int(low=0, bools=True),
}


def check_dynamic_params(est):
    """The checked parameters of DynamicKMeans ``est`` (its ``_param_specs``, then the
    rules across them; TypeError/ValueError naming the parameter): a dict with
    ``min_size``, ``max_size``, ``decay``, ``refine``, ``k_init``, ``spherical``,
    ``store`` and ``budget`` (a plain dict: it is saved with the model)."""
    p = check_params(est)
    if p.max_size < 1 or p.min_size > p.max_size:
        raise ValueError(f"need 1 <= max_size and min_size <= max_size, got "
                         f"min_size={p.min_size}, max_size={p.max_size}")
    decay = p.decay_factor if p.half_life is None else 0.5 ** (1.0 / p.half_life)
    store = store_kind(est.store, est.keep_data)
    if p.refine_iter and store == "summary":
        raise ValueError("refine_iter > 0 needs the rows (store='memory' or 'disk'; "
                         "keep_data=True): it revisits the points")
    # None: the store adapts the reservoirs to SUMMARY_BYTES (dynkm._summary_store).
    budget = p.summary_size
    return {"min_size": p.min_size, "max_size": p.max_size, "decay": decay,
            "refine": p.refine_iter, "k_init": p.k_init, "spherical": p.spherical,
            "store": store, "budget": budget}
