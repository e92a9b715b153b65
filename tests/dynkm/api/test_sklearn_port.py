"""scikit-learn's own KMeans/MiniBatchKMeans tests, run against dynkm.

The test file shipped inside the installed scikit-learn
(``sklearn/cluster/tests/test_k_means.py``) is read at collection time, its
import of the estimators is changed to ``from dynkm import KMeans,
MiniBatchKMeans`` (nothing else), and it is executed here, so that this stays
true as scikit-learn changes. Two kinds of its tests are skipped, each with
its reason (the README lists them):

- ``_NOT_PORTABLE``: tests that call scikit-learn's private methods on the
  estimator they build, which dynkm does not have;
- tests that build no dynkm estimator at all (found by reading their code):
  they test scikit-learn's own functions and private kernels (``k_means``,
  ``kmeans_plusplus``, ``_mini_batch_step``, ``_inertia_dense``, ...), which
  the port keeps importing from scikit-learn. Running them here would count
  scikit-learn's passes as dynkm's.

The fixtures scikit-learn's ``conftest.py`` gives its tests
(``global_random_seed``, ``global_dtype``) are defined here with the same
meaning; ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` is honoured as scikit-learn
documents it (unset: 42; "all"; "a-b"; one value). ``global_dtype`` runs
float32 as well as float64 (scikit-learn runs float32 only on request).
"""

import importlib.util
import inspect
import os
from pathlib import Path

import numpy as np
import pytest

import dynkm

_spec = importlib.util.find_spec("sklearn.cluster.tests.test_k_means")
if _spec is None or _spec.origin is None:
    pytest.skip("scikit-learn's test files are not installed", allow_module_level=True)

_SOURCE = Path(_spec.origin).read_text()
_IMPORT = "from sklearn.cluster import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus\n"
if _IMPORT not in _SOURCE:
    pytest.skip("scikit-learn's test file no longer has the expected import line",
                allow_module_level=True)
# One line for one line: tracebacks point at the right lines of scikit-learn's file.
_SOURCE = _SOURCE.replace(
    _IMPORT,
    "from sklearn.cluster import k_means, kmeans_plusplus; "
    "from dynkm import KMeans, MiniBatchKMeans\n",
)
exec(compile(_SOURCE, _spec.origin, "exec"), globals())

# Tests that need scikit-learn's private API on the estimator they build.
_NOT_PORTABLE = {
    "test_sample_weight_init": (
        "calls KMeans._init_centroids, scikit-learn's private initialisation method; that "
        "sample_weight is used by the seeding is tested in tests/dynkm/test_kmeans.py"
    ),
    "test_sample_weight_zero": (
        "calls KMeans._init_centroids, scikit-learn's private initialisation method; that "
        "rows of zero weight are never seeds is tested in tests/dynkm/test_kmeans.py"
    ),
}

_ESTIMATOR_NAMES = {"KMeans", "MiniBatchKMeans"}


def _names(code):
    """Global names a code object and the functions nested in it refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _names(const)
    return names


def _uses_dynkm(fn):
    """Whether the test builds a dynkm estimator: by name in its code or as a parameter."""
    if _names(fn.__code__) & _ESTIMATOR_NAMES:
        return True
    for mark in getattr(fn, "pytestmark", []):
        if mark.name == "parametrize" and _holds_estimator(mark.args[1]):
            return True
    return False


def _holds_estimator(values):
    """Whether a parametrize value list holds KMeans or MiniBatchKMeans (in tuples too)."""
    for value in values:
        if value is dynkm.KMeans or value is dynkm.MiniBatchKMeans:
            return True
        if isinstance(value, (tuple, list)) and _holds_estimator(value):
            return True
    return False


def _skip(fn, reason):
    fn.pytestmark = [*getattr(fn, "pytestmark", []), pytest.mark.skip(reason=reason)]


for _name, _fn in list(globals().items()):
    if not (_name.startswith("test_") and inspect.isfunction(_fn)):
        continue
    if _name in _NOT_PORTABLE:
        _skip(_fn, _NOT_PORTABLE[_name])
    elif not _uses_dynkm(_fn):
        _called = sorted(n for n in _names(_fn.__code__) if n.startswith(("_", "k_means",
                                                                          "kmeans_")))
        _skip(_fn, "builds no dynkm estimator: tests scikit-learn's own "
                   + (", ".join(_called) or "code"))


def _global_random_seeds():
    value = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if value is None:
        return [42]
    if value == "all":
        return list(range(100))
    low, _, high = value.partition("-")
    seeds = list(range(int(low), int(high or low) + 1))
    if not seeds or min(seeds) < 0 or max(seeds) > 99:
        raise ValueError(f"SKLEARN_TESTS_GLOBAL_RANDOM_SEED must be in [0, 99], got {value!r}")
    return seeds


def pytest_generate_tests(metafunc):
    if "global_random_seed" in metafunc.fixturenames:
        metafunc.parametrize("global_random_seed", _global_random_seeds())


@pytest.fixture(params=[np.float32, np.float64])
def global_dtype(request):
    return request.param
