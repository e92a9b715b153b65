"""scikit-learn's API on every dynkm estimator: its estimator checks, set_output, threads.

``parametrize_with_checks`` runs scikit-learn's whole check suite on each
estimator with settings that make sense on the small data the checks use
(tens of rows); a check expected to fail says why. The set_output checks,
which ``check_estimator`` does not run, are run explicitly on the center
estimators. The thread tests pin down ``kmcore.effective_n_threads``:
scikit-learn's rule (OpenMP's limit, threadpoolctl, container quotas,
negative counts) plus one thread for small work.
"""

import numpy as np
import pytest
import threadpoolctl
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

import kmcore
import kmcore._threads as threads
from dynkm import (
    ClusterLabelClassifier,
    DynamicKMeans,
    KMeans,
    KMeansClassifier,
    MiniBatchKMeans,
    SoftKMeans,
)
from dynkm._validation import n_threads_of

pd = pytest.importorskip("pandas")

# ------------------------------------------------------------ estimator checks

_SEEDED_DRAWS = (
    "the seeding draws rows at random, so weighted rows and repeated rows give different "
    "random draws (and {what}); weighted == repeated is tested from fixed starting points "
    "in {where}."
)
_WEIGHT_REASONS = {
    "KMeans": _SEEDED_DRAWS.format(what="Lloyd then starts elsewhere",
                                   where="test_kmeans.py::test_weighted_equals_repeated"),
    "MiniBatchKMeans": _SEEDED_DRAWS.format(
        what="the batches are random draws too; scikit-learn's MiniBatchKMeans fails this "
             "check for the same reason",
        where="test_minibatch.py::test_weighted_equals_repeated_for_one_step"),
    "SoftKMeans": _SEEDED_DRAWS.format(
        what="EM then starts elsewhere",
        where="test_soft.py::test_soft_update_matches_numpy (the weighted update)"),
    "DynamicKMeans": _SEEDED_DRAWS.format(
        what="repeated rows also move the batch boundaries of the stream",
        where="test_dynamic.py::test_integer_weights_equal_repeated_rows"),
    "ClusterLabelClassifier": _SEEDED_DRAWS.format(
        what="init='random' draws its centers",
        where="classifier/test_cluster_label.py::test_cluster_label_weights"),
}
_COSINE_ON_BLOBS = (
    "the check's training accuracy floor (0.83) is for blobs separated by position; "
    "with distance='cosine' only the directions of the rows count, and those blobs overlap "
    "in direction"
)
_DEFAULT_SIZES = (
    "with its default sizes (60 to 150 points per cluster) DynamicKMeans makes the 50 rows of "
    "this check one cluster, by design; the check runs with sizes for 50 rows in the "
    "DynamicKMeans(min_size=5, max_size=20) cases"
)

# Every estimator at its defaults where they suit tens of rows, and otherwise
# (DynamicKMeans, whose sizes are absolute) with sizes for tens of rows as well.
ESTIMATORS = [
    KMeans(),
    MiniBatchKMeans(),
    SoftKMeans(),
    DynamicKMeans(),
    DynamicKMeans(min_size=5, max_size=20),
    DynamicKMeans(min_size=5, max_size=20, spherical=True),
    KMeansClassifier(),
    KMeansClassifier(distance="cosine"),
    # n_clusters=100 on tens of rows: one cluster per row, with a warning.
    ClusterLabelClassifier(),
    ClusterLabelClassifier(n_clusters=3, distance="cosine"),
]


def _expected_failures(estimator):
    """The checks that fail, each with its reason (exactly these: none passes)."""
    name = type(estimator).__name__
    failures = {}
    if name in _WEIGHT_REASONS:
        failures["check_sample_weight_equivalence_on_dense_data"] = _WEIGHT_REASONS[name]
        if name in ("ClusterLabelClassifier", "KMeans", "MiniBatchKMeans"):  # take CSR input
            failures["check_sample_weight_equivalence_on_sparse_data"] = _WEIGHT_REASONS[name]
    if name == "DynamicKMeans" and estimator.max_size == DynamicKMeans().max_size:
        # One cluster: weighted and repeated rows then agree trivially.
        failures = {"check_clustering": _DEFAULT_SIZES}
    if name == "KMeansClassifier" and estimator.distance == "cosine":
        failures["check_classifiers_train"] = _COSINE_ON_BLOBS
    return failures


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_default_classifier_fits_tiny_data():
    """ClusterLabelClassifier() (100 clusters) on 12 rows: 12 clusters, a warning, and
    every training row predicted as its own class."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(12, 3)), np.arange(12) % 3
    with pytest.warns(UserWarning, match=r"n_clusters=100 is more than the 12 rows"):
        model = ClusterLabelClassifier(random_state=0).fit(X, y)
    assert model.n_clusters_ == 12
    np.testing.assert_array_equal(model.predict(X), y)
    # Zero-weight rows do not count: 8 rows of positive weight, 8 clusters.
    w = np.r_[np.ones(8), np.zeros(4)]
    with pytest.warns(UserWarning, match=r"than the 8 rows of positive weight"):
        assert ClusterLabelClassifier(random_state=0).fit(X, y, w).n_clusters_ == 8


# ------------------------------------------------------------------ set_output

def _small_settings():
    return {
        "KMeans": KMeans(3, random_state=0),
        "MiniBatchKMeans": MiniBatchKMeans(3, random_state=0),
        "SoftKMeans": SoftKMeans(3, random_state=0),
        "DynamicKMeans": DynamicKMeans(min_size=5, max_size=20, random_state=0),
        "DynamicKMeans-spherical": DynamicKMeans(min_size=5, max_size=20, random_state=0,
                                                 spherical=True),
    }


CENTER_ESTIMATORS = list(_small_settings())


@pytest.mark.parametrize("name", CENTER_ESTIMATORS)
def test_set_output_pandas_gives_named_columns(name):
    """transform and fit_transform honour set_output(transform="pandas"): columns
    named <class>0, <class>1, ... (get_feature_names_out), the input's index kept,
    the values those of the default output."""
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"),
                     index=[f"r{i}" for i in range(60)])
    default = clone(_small_settings()[name])
    framed = clone(default).set_output(transform="pandas")
    expected = default.fit(X).transform(X)
    out = framed.fit(X).transform(X)
    assert isinstance(out, pd.DataFrame)
    k = framed.cluster_centers_.shape[0]
    prefix = type(framed).__name__.lower()
    assert list(out.columns) == [f"{prefix}{i}" for i in range(k)]
    np.testing.assert_array_equal(framed.get_feature_names_out(), out.columns)
    assert list(out.index) == list(X.index)
    np.testing.assert_array_equal(out.to_numpy(), expected)
    again = clone(framed).fit_transform(X)
    assert isinstance(again, pd.DataFrame)
    np.testing.assert_array_equal(again.to_numpy(), expected)
    # Back to arrays.
    assert isinstance(framed.set_output(transform="default").transform(X), np.ndarray)


@pytest.mark.parametrize("name", CENTER_ESTIMATORS)
@pytest.mark.parametrize("check", ["check_set_output_transform",
                                   "check_set_output_transform_pandas",
                                   "check_global_output_transform_pandas"])
def test_sklearn_set_output_checks(name, check):
    """scikit-learn's own set_output checks (not part of check_estimator)."""
    if not hasattr(estimator_checks, check):
        pytest.skip(f"this scikit-learn has no {check}")
    estimator = _small_settings()[name]
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


def test_dynamic_feature_names_follow_the_clusters():
    """DynamicKMeans' output columns are its current clusters: they change with the stream."""
    rng = np.random.RandomState(1)
    model = DynamicKMeans(min_size=5, max_size=20, random_state=0)
    with pytest.raises(NotFittedError):
        model.get_feature_names_out()
    model.partial_fit(rng.normal(size=(30, 2)))
    before = model.n_clusters_
    assert len(model.get_feature_names_out()) == before
    model.partial_fit(rng.normal(loc=50.0, size=(80, 2)))  # far away: new clusters split off
    assert model.n_clusters_ > before
    np.testing.assert_array_equal(model.get_feature_names_out(),
                                  [f"dynamickmeans{i}" for i in range(model.n_clusters_)])
    assert model.transform(np.zeros((3, 2))).shape == (3, model.n_clusters_)


# --------------------------------------------------------------------- threads

def test_none_follows_threadpoolctl_openmp_limit():
    """threadpoolctl's OpenMP limit (omp_set_num_threads) is what None gives, capped
    by the CPUs; the limit is read at every call, not once."""
    full = kmcore.effective_n_threads()
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert kmcore.effective_n_threads() == 1
        assert kmcore.effective_n_threads(-1) == 1
        assert n_threads_of(None) == 1
        # An explicit count is not limited.
        assert kmcore.effective_n_threads(3) == (3 if kmcore.openmp_enabled() else 1)
    with threadpoolctl.threadpool_limits(64, user_api="openmp"):
        assert kmcore.effective_n_threads() == full  # still capped by the CPUs
    assert kmcore.effective_n_threads() == full


def test_none_is_capped_by_the_usable_cpus(monkeypatch):
    """A container's CPU quota (joblib's count) caps None unless OMP_NUM_THREADS is set."""
    if not kmcore.openmp_enabled():
        pytest.skip("built without OpenMP: always one thread")
    from joblib import cpu_count

    assert threads._usable_cpus() == cpu_count()
    assert threads.cpu_limit() == min(threads.physical_cores(), cpu_count())
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_usable_cpus", lambda: 1)
    assert kmcore.effective_n_threads() == 1
    assert kmcore.effective_n_threads(-1) == 1
    # OMP_NUM_THREADS is the user's explicit choice: OpenMP's count, uncapped.
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert kmcore.effective_n_threads() == threads.omp_max_threads()


def test_negative_zero_and_bad_counts():
    full = kmcore.effective_n_threads()
    assert kmcore.effective_n_threads(-1) == full
    assert kmcore.effective_n_threads(-2) == max(1, full - 1)
    assert kmcore.effective_n_threads(-(10 ** 6)) == 1
    assert kmcore.effective_n_threads(np.int64(-1)) == full
    for bad, exc in [(0, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError),
                     (1025, ValueError)]:
        with pytest.raises(exc, match="n_threads"):
            kmcore.effective_n_threads(bad)


def test_negative_counts_fit_every_estimator():
    """n_threads=-1 was rejected; it now means all CPUs, with the same result."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(200, 3)), rng.randint(0, 2, 200)
    for make in (lambda t: KMeans(3, random_state=0, n_threads=t),
                 lambda t: MiniBatchKMeans(3, random_state=0, n_threads=t),
                 lambda t: SoftKMeans(3, random_state=0, n_threads=t),
                 lambda t: DynamicKMeans(min_size=20, max_size=60, random_state=0, n_threads=t)):
        a, b = make(-1).fit(X), make(1).fit(X)
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
        with pytest.raises(ValueError, match="n_threads"):
            make(0).fit(X)
    for make in (lambda t: KMeansClassifier(random_state=0, n_threads=t),
                 lambda t: ClusterLabelClassifier(5, random_state=0, n_threads=t)):
        np.testing.assert_array_equal(make(-1).fit(X, y).predict(X),
                                      make(1).fit(X, y).predict(X))


def test_small_work_runs_on_one_thread():
    full = kmcore.effective_n_threads()
    assert kmcore.effective_n_threads(None, work=threads.SERIAL_WORK - 1) == 1
    assert kmcore.effective_n_threads(None, work=threads.SERIAL_WORK) == full
    assert kmcore.effective_n_threads(None, work=0) == 1
    # An explicit count is honoured whatever the work.
    assert kmcore.effective_n_threads(2, work=1) == (2 if kmcore.openmp_enabled() else 1)
    assert kmcore.effective_n_threads(-1, work=1) == full


def _recorded_threads(monkeypatch, module, name):
    """Patch ``module.name`` (a kernel wrapper taking n_threads last or by name) so
    that it records the thread counts it is given."""
    seen = []
    original = getattr(module, name)

    def recording(*args, **kwargs):
        seen.append(args[-1] if "n_threads" not in kwargs else kwargs["n_threads"])
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return seen


def test_kernels_and_estimators_pick_one_thread_for_small_inputs(monkeypatch):
    """The public kernels and the estimators apply the small-work rule (n_threads=None)."""
    if kmcore.effective_n_threads() < 2:
        pytest.skip("one CPU (or no OpenMP): every count is 1")
    import dynkm._base
    import dynkm.dynamic
    from kmcore import assignment

    seen = _recorded_threads(monkeypatch, assignment, "assign_rows")
    rng = np.random.RandomState(0)
    small, large = rng.normal(size=(200, 2)), rng.normal(size=(20000, 8))
    kmcore.assign(small, small[:3])
    kmcore.assign(large, large[:8])
    kmcore.assign(small, small[:3], n_threads=2)
    assert seen == [1, kmcore.effective_n_threads(), 2]

    seen = _recorded_threads(monkeypatch, dynkm._base, "assign_rows")
    model = KMeans(3, random_state=0, n_threads=None).fit(small)
    model.predict(small)
    model.predict(large[:, :2])
    assert seen == [1, kmcore.effective_n_threads()]

    seen = _recorded_threads(monkeypatch, dynkm.dynamic, "assign_rows")
    norms = _recorded_threads(monkeypatch, dynkm.dynamic, "row_norms")
    stream = DynamicKMeans(min_size=20, max_size=60, random_state=0)
    stream.partial_fit(small[:100]).partial_fit(small[100:])
    stream.fit(small)
    assert seen == [1, 1] and set(norms) == {1}
    DynamicKMeans(min_size=2000, max_size=6000).fit(large)
    assert kmcore.effective_n_threads() in norms


def test_results_do_not_depend_on_the_small_work_rule(monkeypatch):
    """Forcing the rule off (threshold 0) changes no result, only the thread count."""
    rng = np.random.RandomState(3)
    X = rng.normal(size=(300, 4))
    a = DynamicKMeans(min_size=20, max_size=60, random_state=0, spherical=True).fit(X)
    b = SoftKMeans(4, random_state=0).fit(X)
    monkeypatch.setattr(threads, "SERIAL_WORK", 0)
    c = DynamicKMeans(min_size=20, max_size=60, random_state=0, spherical=True).fit(X)
    d = SoftKMeans(4, random_state=0).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, c.cluster_centers_)
    np.testing.assert_array_equal(b.cluster_centers_, d.cluster_centers_)
