"""The declarative parameter specs (dynkm._params): each spec's accepted values and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynkm._params import Bool, Either, Int, Options, Params, Real, Rule, check_params
from dynkm._validation import INT_MAX


class _Est:
    _param_specs = {
        "n_clusters": Int(),
        "tol": Real(),
        "copy_x": Bool(),
        "algorithm": Options("lloyd", "elkan"),
        "n_init": Either(("auto",), Int()),
        "init_size": Int(none=True),
        "verbose": Int(low=0, bools=True),
    }

    def __init__(self, **kw):
        values = dict(n_clusters=8, tol=1e-4, copy_x=True, algorithm="lloyd", n_init="auto",
                      init_size=None, verbose=False)
        values.update(kw)
        self.__dict__.update(values)


def test_check_params_returns_checked_values_in_order():
    params = check_params(_Est(n_clusters=np.int64(3), copy_x=np.bool_(False), verbose=True))
    assert list(params.as_dict()) == list(_Est._param_specs)
    assert params.n_clusters == 3 and type(params.n_clusters) is int
    assert params.copy_x is False and params.verbose == 1
    assert params.n_init == "auto" and params.init_size is None
    assert params.tol == 1e-4 and type(params.tol) is float


@pytest.mark.parametrize("name, value, error, text", [
    ("n_clusters", 0, ValueError, "n_clusters must be >= 1"),
    ("n_clusters", 2.0, TypeError, "n_clusters must be an integer"),
    ("n_clusters", True, TypeError, "n_clusters must be an integer"),
    ("n_clusters", INT_MAX + 1, ValueError, "n_clusters must be <="),
    ("tol", -1.0, ValueError, "tol must be finite and >= 0"),
    ("tol", float("nan"), ValueError, "tol must be finite"),
    ("tol", "1", TypeError, "tol must be a real number"),
    ("copy_x", 1, TypeError, "copy_x must be a bool"),
    ("algorithm", "full", ValueError, "algorithm must be one of ('lloyd', 'elkan')"),
    ("algorithm", None, ValueError, "algorithm must be one of"),
    ("n_init", "many", ValueError, "n_init must be 'auto' or an integer >= 1"),
    ("n_init", 0, ValueError, "n_init must be >= 1"),
    ("init_size", -2, ValueError, "init_size must be >= 1"),
    ("verbose", -1, ValueError, "verbose must be >= 0"),
])
def test_bad_values_raise_naming_the_parameter(name, value, error, text):
    est = _Est(**{name: value})
    before = dict(est.__dict__)
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        check_params(est)
    assert est.__dict__ == before


@given(st.integers(min_value=-10, max_value=10), st.floats(allow_nan=True))
def test_int_and_real_agree_with_their_ranges(i, x):
    if i >= 1:
        assert Int()(i, "a") == i
    else:
        with pytest.raises(ValueError):
            Int()(i, "a")
    if np.isfinite(x) and 0 <= x <= 2:
        assert Real(high=2.0)(x, "b") == x
    else:
        with pytest.raises(ValueError):
            Real(high=2.0)(x, "b")


def test_real_exclusive_and_interval_messages():
    assert Real(exclusive=True)(0.5, "t") == 0.5
    with pytest.raises(ValueError, match="t must be > 0, got 0"):
        Real(exclusive=True)(0, "t")
    with pytest.raises(ValueError, match=r"q must lie in \(0, 1\], got 0.0"):
        Real(high=1.0, exclusive=True)(0.0, "q")
    with pytest.raises(ValueError, match=r"q must lie in \(0, 1\], got 1.5"):
        Real(high=1.0, exclusive=True)(1.5, "q")
    with pytest.raises(ValueError, match=r"q must lie in \[0, 2\], got 3.0"):
        Real(high=2.0)(3.0, "q")
    assert Real(exclusive=True).describe() == "a real number > 0.0"


def test_rule_and_describe():
    def even(value, name):
        if value % 2:
            raise ValueError(f"{name} must be even, got {value}")
        return value

    spec = Rule(even, "an even integer", none=True)
    assert spec(4, "m") == 4 and spec(None, "m") is None
    with pytest.raises(ValueError, match="m must be even"):
        spec(3, "m")
    assert spec.describe() == "an even integer or None"
    assert Either(("auto",), Int()).describe() == "'auto' or an integer >= 1"
    assert Int(high=9).describe() == "an integer >= 1 and <= 9"


def test_params_are_read_only_and_replace_copies():
    params = Params({"a": 1, "b": 2})
    with pytest.raises(AttributeError):
        params.a = 3
    with pytest.raises(AttributeError, match="no checked parameter 'c'"):
        _ = params.c
    other = params.replace(a=5)
    assert (params.a, other.a, other.b) == (1, 5, 2)
    with pytest.raises(AttributeError):
        params.replace(c=1)
    assert params == Params({"a": 1, "b": 2}) and params != other


# Parameters every estimator checks against the data when fit starts, not by a
# spec: init (a name, a callable or centers of X's shape), random_state
# (check_random_state), n_threads (n_threads_of, with the call's work) and
# KMeansClassifier's k_list (one count per class of y).
CHECKED_WITH_THE_DATA = {"init", "random_state", "n_threads", "k_list"}
# DynamicKMeans' store and its deprecated keep_data are resolved together (store_kind).
CHECKED_TOGETHER = {"store", "keep_data"}


@pytest.mark.parametrize("name", ["KMeans", "MiniBatchKMeans", "SoftKMeans",
                                  "KMeansClassifier", "ClusterLabelClassifier", "dask.KMeans",
                                  "DynamicKMeans"])
def test_every_parameter_has_its_rule_declared_once(name):
    import importlib

    module, _, cls_name = f"dynkm.{name}".rpartition(".")
    if module == "dynkm.dask":
        pytest.importorskip("dask.array")
    cls = getattr(importlib.import_module(module), cls_name)
    params = set(cls().get_params())
    specs = set(cls._param_specs)
    assert specs <= params, sorted(specs - params)
    unchecked = CHECKED_WITH_THE_DATA | CHECKED_TOGETHER
    assert params - specs <= unchecked, sorted(params - specs - unchecked)
    # The specs are what fit checks: -1, refused by every spec these estimators
    # declare, fails fit with the parameter's name and leaves the estimator as it was.
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    for param in cls._param_specs:
        est = cls(**{param: -1})
        before = est.get_params()
        with pytest.raises((ValueError, TypeError), match=param):
            est.fit(X, y)
        assert est.get_params() == before and not hasattr(est, "n_features_in_")


@pytest.mark.parametrize("name, old", [("SoftKMeans", "mass_"),
                                       ("KMeansClassifier", "prototype_weights_")])
def test_renamed_attributes_warn_and_old_files_load(name, old, tmp_path):
    import pickle

    import dynkm

    X, y = _digits()
    est = getattr(dynkm, name)(random_state=0).fit(X, y)
    with pytest.warns(FutureWarning, match=f"{old} is deprecated.*use counts_"):
        assert getattr(est, old) is est.counts_
    with pytest.raises(AttributeError, match="no attribute 'other_'"):
        _ = est.other_
    # A model saved under the old name (state as the old code wrote it) loads.
    state = dict(est.__getstate__())  # a copy: it may be the __dict__ itself
    state[old] = state.pop("counts_")
    again = type(est).__new__(type(est))
    again.__setstate__(state)
    np.testing.assert_array_equal(again.counts_, est.counts_)
    assert old not in vars(again)
    assert pickle.loads(pickle.dumps(again)).counts_ is not None


def test_lloyd_step_counts_and_its_deprecated_name():
    import kmcore

    X, _ = _digits()
    step = kmcore.lloyd_step(X, X[:5])
    assert step._fields[2] == "counts"
    with pytest.warns(FutureWarning, match="use LloydStep.counts"):
        assert step.weight_in_clusters is step.counts


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]
