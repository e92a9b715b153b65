"""The classifiers' k-means runs (dynkm.classifier._fit): classes side by side, and the
bounded strategies of the Lloyd driver giving plain Lloyd's iterations."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from dynkm._params import Params
from dynkm.classifier import ClusterLabelClassifier

from _classifier_helpers import (
    DTYPES,
    _clf,
)


def test_class_parallel_equals_sequential():
    # 8 classes on 2 threads run as 2 workers of 1 thread each; 1 thread runs them in turn.
    X, y = make_blobs(4000, n_features=8, centers=16, cluster_std=2.0, random_state=1)
    y = y % 8
    one = _clf(3, random_state=2, n_threads=1, max_iter=10).fit(X, y)
    two = _clf(3, random_state=2, n_threads=2, max_iter=10).fit(X, y)
    np.testing.assert_array_equal(one.prototypes_, two.prototypes_)
    np.testing.assert_array_equal(one.n_iter_, two.n_iter_)
    assert one.scale_ == two.scale_


# ---------------------------------------------------------------- the Lloyd driver
def _blobs(n, d, centers, dtype=np.float64, seed=0):
    X, y = make_blobs(n, n_features=d, centers=centers, cluster_std=3.0, random_state=seed)
    return (X + 20.0).astype(dtype), y


def _force_lloyd(monkeypatch):
    """Make the classifiers' runs take the plain pass (``algorithm="lloyd"``)."""
    import dynkm._lloyd
    import dynkm.classifier._fit

    def plain(algorithm, *args, **kwargs):
        return dynkm._lloyd.make_steps("lloyd", *args, **kwargs)

    def plain_spherical(algorithm, *args):
        return dynkm._lloyd.make_steps("lloyd", *args, spherical=True)

    monkeypatch.setattr(dynkm.classifier._fit, "make_steps", plain)
    monkeypatch.setattr(dynkm.classifier._fit, "make_spherical_steps", plain_spherical)


def _record_strategies(monkeypatch):
    """The strategy names of every classifier run, in a list that fills as they run."""
    import dynkm._lloyd
    import dynkm.classifier._fit

    names = []

    def recording(steps, *args):
        names.append(steps.name)
        return dynkm._lloyd.run_lloyd(steps, *args)

    monkeypatch.setattr(dynkm.classifier._fit, "run_lloyd", recording)
    return names


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_cluster_label_many_clusters_runs_yinyang_as_lloyd(monkeypatch, dtype, distance):
    # Enough rows and clusters for algorithm="auto" to pick Yinyang's bounds.
    X, y = _blobs(5000, 20, 60, dtype)
    params = dict(init="random", tol=0.0, max_iter=40, random_state=0, n_threads=1,
                  distance=distance)
    bounded = ClusterLabelClassifier(200, **params).fit(X, y)
    h = bounded.history_
    assert h["algorithm"] == "yinyang" and h["n_groups"] > 1
    # The bounds skipped distances after the first iteration.
    assert h["distance_fraction"][1:].max() < 0.9
    with monkeypatch.context() as mp:
        _force_lloyd(mp)
        plain = ClusterLabelClassifier(200, **params).fit(X, y)
    assert plain.history_["algorithm"] == "lloyd"
    assert bounded.n_iter_ == plain.n_iter_ == len(h["objective"])
    np.testing.assert_array_equal(bounded.predict(X), plain.predict(X))
    np.testing.assert_array_equal(bounded._nearest(X), plain._nearest(X))
    np.testing.assert_array_equal(bounded.class_weights_, plain.class_weights_)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(bounded.cluster_centers_, plain.cluster_centers_, rtol=rtol)
    np.testing.assert_allclose(bounded.inertia_, plain.inertia_, rtol=rtol)


def test_cluster_label_strategy_by_input(monkeypatch):
    # CSR input runs the plain pass (also for cosine); few clusters too ("auto").
    X, y = _blobs(5000, 20, 60)
    params = dict(init="random", max_iter=5, random_state=0, n_threads=1)
    for distance in ("euclidean", "cosine"):
        assert ClusterLabelClassifier(60, distance=distance, **params).fit(
            sp.csr_matrix(X), y).history_["algorithm"] == "lloyd"
    assert ClusterLabelClassifier(60, distance="cosine", **params).fit(
        X, y).history_["algorithm"] == "yinyang"
    assert ClusterLabelClassifier(8, **params).fit(X, y).history_["algorithm"] == "lloyd"
    assert ClusterLabelClassifier(60, **params).fit(X, y).history_["algorithm"] == "yinyang"


# float64 for cosine: there the plain float32 pass puts a row of these data on the wrong
# side of a near tie (its GEMM expansion's rounding), which the bounds resolve exactly.
@pytest.mark.parametrize("distance, dtype", [("euclidean", np.float32), ("cosine", np.float64)])
def test_kmeans_classifier_classes_run_yinyang_as_lloyd(monkeypatch, distance, dtype):
    X, y = _blobs(9000, 20, 60, dtype)
    y = y % 2  # two classes of ~4500 rows: "auto" bounds each class's fit
    params = dict(tol=0.0, max_iter=30, random_state=0, distance=distance)
    with monkeypatch.context() as mp:
        names = _record_strategies(mp)
        one = _clf(40, n_threads=1, **params).fit(X, y)
        two = _clf(40, n_threads=2, **params).fit(X, y)
    assert names == ["yinyang"] * 4
    with monkeypatch.context() as mp:
        _force_lloyd(mp)
        plain = _clf(40, n_threads=1, **params).fit(X, y)
    # Bitwise the same for any thread count.
    np.testing.assert_array_equal(one.prototypes_, two.prototypes_)
    np.testing.assert_array_equal(one.counts_, two.counts_)
    assert one.scale_ == two.scale_
    # The iterations of plain Lloyd.
    np.testing.assert_array_equal(one.n_iter_, plain.n_iter_)
    np.testing.assert_array_equal(one.counts_, plain.counts_)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(one.prototypes_, plain.prototypes_, rtol=rtol)
    np.testing.assert_allclose(one.scale_, plain.scale_, rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("algorithm", ["elkan", "yinyang"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("tol, max_iter", [(0.0, 30), (1e-3, 30), (0.0, 1), (0.0, 3)])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_kmeans_run_bounded_equals_plain(dtype, algorithm, weighted, tol, max_iter, distance):
    from dynkm._rows import unit_rows
    from dynkm.classifier import _kmeans_run

    X, _ = _blobs(1500, 12, 25, dtype)
    X = unit_rows(X - 20.0, 1) if distance == "cosine" else X  # as the classifiers pass it
    w = (np.random.default_rng(1).uniform(0.5, 2.0, len(X)).astype(dtype) if weighted
         else None)
    p = Params({"init": "k-means++", "tol": tol, "max_iter": max_iter, "distance": distance})
    plain, bounded = (_kmeans_run(X, w, 40, p, np.random.RandomState(0), 1, algorithm=a)
                      for a in ("lloyd", algorithm))
    assert bounded.history["algorithm"] == algorithm
    assert bounded.n_iter == plain.n_iter
    np.testing.assert_array_equal(bounded.labels, plain.labels)
    np.testing.assert_array_equal(bounded.counts, plain.counts)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(bounded.centers, plain.centers, rtol=rtol)
    np.testing.assert_allclose(bounded.inertia, plain.inertia, rtol=rtol)
    if distance == "cosine":
        np.testing.assert_allclose(np.linalg.norm(bounded.centers, axis=1), 1.0, rtol=rtol)


def test_kmeans_run_cosine_relocates_empty_clusters_as_plain():
    # Duplicate rows give k-means++ fewer distinct seeds than clusters: empty clusters refilled.
    from dynkm._rows import unit_rows
    from dynkm.classifier import _kmeans_run

    X, _ = _blobs(300, 12, 5)
    X = unit_rows(np.repeat(X - 20.0, 5, axis=0), 1)
    p = Params({"init": "random", "tol": 0.0, "max_iter": 30, "distance": "cosine"})
    plain, bounded = (_kmeans_run(X, None, 40, p, np.random.RandomState(3), 1, algorithm=a)
                      for a in ("lloyd", "yinyang"))
    assert bounded.history["algorithm"] == "yinyang"
    assert plain.history["n_relocated"].sum() > 0
    np.testing.assert_array_equal(bounded.history["n_relocated"],
                                  plain.history["n_relocated"])
    assert bounded.n_iter == plain.n_iter
    np.testing.assert_array_equal(bounded.labels, plain.labels)
    np.testing.assert_allclose(bounded.centers, plain.centers, rtol=1e-12)
