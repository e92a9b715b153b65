"""dynkm.metrics against direct computations, and the S3 table script on fake data.

Expected values are written by hand or computed by explicit Python loops
here, never by the functions under test.
"""

import importlib.util
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import dynkm.metrics as metrics
from dynkm.metrics import cluster_label_map, contingency, gini, inertia, purity

# A small hand-made clustering: 3 classes (0, 1, 2), 3 clusters (10, 20, 30).
#   cluster 10: classes 0, 0, 0, 1        -> majority 0 (3 of 4)
#   cluster 20: classes 1, 1, 2, 2        -> tie 1/2, majority 1 (smallest)
#   cluster 30: classes 2                 -> majority 2
Y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
C = np.array([10, 10, 10, 10, 20, 20, 20, 20, 30])
#   gini: (4/9)(1 - (3/4)^2 - (1/4)^2) + (4/9)(1 - 2 (1/2)^2) + (1/9) * 0
#       = (4/9)(6/16) + (4/9)(1/2) = 1/6 + 2/9 = 7/18
GINI_BY_HAND = 7 / 18
PURITY_BY_HAND = (3 + 2 + 1) / 9


def gini_loop(y, c):
    """S3's compute_purity_gini, Gini part, as written there (Counter per cluster)."""
    members = {}
    for p, t in zip(c, y, strict=False):
        members.setdefault(p, []).append(t)
    total = 0.0
    for items in members.values():
        counts = Counter(items)
        total += (1.0 - sum((v / len(items)) ** 2 for v in counts.values())) * len(items)
    return total / len(y)


def purity_loop(y, c):
    members = {}
    for p, t in zip(c, y, strict=False):
        members.setdefault(p, []).append(t)
    return sum(max(Counter(items).values()) for items in members.values()) / len(y)


def sse_loop(X, centers, labels, w=None):
    total = 0.0
    for i in range(len(X)):
        s = 0.0
        for j in range(X.shape[1]):
            s += (float(X[i, j]) - float(centers[labels[i], j])) ** 2
        total += s * (1.0 if w is None else float(w[i]))
    return total


def nearest_loop(X, centers):
    labels = []
    for x in X:
        best, best_d = 0, math.inf
        for k, c in enumerate(centers):
            d = sum((float(a) - float(b)) ** 2 for a, b in zip(x, c, strict=False))
            if d < best_d:
                best, best_d = k, d
        labels.append(best)
    return np.array(labels)


# ---------------------------------------------------------------- purity / gini
def test_purity_and_gini_by_hand():
    assert purity(Y, C) == pytest.approx(PURITY_BY_HAND)
    assert gini(Y, C) == pytest.approx(GINI_BY_HAND, abs=1e-15)
    assert gini_loop(Y, C) == pytest.approx(GINI_BY_HAND)  # the loop is S3's definition


def test_perfect_clustering():
    y = np.array([3, 3, 1, 1, 1, 7])
    assert purity(y, y) == 1.0
    assert gini(y, y) == 0.0
    # Perfect up to renaming, and a split of a class into two pure clusters.
    assert purity(y, np.array([0, 0, 5, 5, 5, 9])) == 1.0
    assert gini(y, np.array([0, 0, 5, 6, 6, 9])) == 0.0


def test_single_cluster_holds_all_classes():
    y = np.array([0] * 5 + [1] * 3 + [2] * 2)
    one = np.zeros(10, dtype=int)
    assert purity(y, one) == pytest.approx(0.5)                      # majority share 5/10
    assert gini(y, one) == pytest.approx(1 - (0.5**2 + 0.3**2 + 0.2**2))  # 0.62
    # Uniform over 4 classes: the largest Gini, 1 - 1/4.
    assert gini(np.arange(8) % 4, np.zeros(8)) == pytest.approx(0.75)


def test_one_point_per_cluster_is_pure():
    y = np.array([0, 1, 1, 2])
    assert gini(y, np.arange(4)) == 0.0
    assert purity(y, np.arange(4)) == 1.0


def test_relabelling_invariance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    c = rng.integers(0, 6, 300)
    perm = rng.permutation(6)
    renamed = perm[c] * 7 - 3          # a permutation, then an affine renaming
    as_strings = np.array([f"c{v}" for v in c])
    for other in (renamed, as_strings):
        assert gini(y, other) == pytest.approx(gini(y, c), abs=1e-15)
        assert purity(y, other) == pytest.approx(purity(y, c), abs=1e-15)
    # Renaming the classes changes nothing either.
    assert gini(np.array(["a", "b", "c", "d"])[y], c) == pytest.approx(gini(y, c), abs=1e-15)


def test_gini_and_purity_match_loops_on_random_labels():
    rng = np.random.default_rng(1)
    for n, n_classes, n_clusters in [(1, 1, 1), (50, 3, 8), (500, 10, 20), (400, 2, 200)]:
        y = rng.integers(0, n_classes, n)
        c = rng.integers(0, n_clusters, n)
        assert gini(y, c) == pytest.approx(gini_loop(y, c), abs=1e-12)
        assert purity(y, c) == pytest.approx(purity_loop(y, c), abs=1e-12)


def test_gini_accepts_lists_strings_and_float_labels():
    assert gini(list(Y), list(C)) == pytest.approx(GINI_BY_HAND)
    assert gini(Y.astype(float), C.astype(np.float32)) == pytest.approx(GINI_BY_HAND)
    assert gini(np.array(list("aaabbbccc")), C) == pytest.approx(GINI_BY_HAND)


# ---------------------------------------------------------------- contingency / label map
def test_contingency_by_hand():
    table, classes, clusters = contingency(Y, C)
    expected = np.array([[3, 0, 0],    # class 0
                         [1, 2, 0],    # class 1
                         [0, 2, 1]])   # class 2
    np.testing.assert_array_equal(table, expected)
    assert table.dtype == np.int64
    np.testing.assert_array_equal(classes, [0, 1, 2])
    np.testing.assert_array_equal(clusters, [10, 20, 30])
    # Strings: sorted classes and clusters, counts by an explicit loop.
    y = np.array(["b", "a", "b", "b"])
    c = np.array(["x", "y", "y", "x"])
    table, classes, clusters = contingency(y, c)
    assert classes.tolist() == ["a", "b"] and clusters.tolist() == ["x", "y"]
    for i, cls in enumerate(classes):
        for j, k in enumerate(clusters):
            assert table[i, j] == sum(1 for a, b in zip(y, c, strict=False) if a == cls and b == k)


def test_contingency_refuses_huge_tables():
    y = np.arange(200)
    with pytest.raises(ValueError, match="max_cells"):
        contingency(y, y, max_cells=39_999)
    assert contingency(y, y, max_cells=40_000)[0].shape == (200, 200)
    big = np.arange(4000)                           # 16e6 cells > the default 1e7
    with pytest.raises(ValueError, match="4000 classes x 4000 clusters"):
        contingency(big, big)
    with pytest.raises(ValueError, match="max_cells"):
        contingency(y, y, max_cells=0)


def test_cluster_label_map_by_hand_with_ties():
    assert cluster_label_map(Y, C) == {10: 0, 20: 1, 30: 2}   # 20 is a 1/2 tie -> 1
    # Tie between classes 5 and 3 in cluster 0 goes to 3, whatever the order of points.
    y = np.array([5, 3, 5, 3, 9])
    c = np.array([0, 0, 0, 0, 1])
    assert cluster_label_map(y, c) == {0: 3, 1: 9}
    assert cluster_label_map(y[::-1], c[::-1]) == {0: 3, 1: 9}
    m = cluster_label_map(["dog", "cat", "cat"], ["k2", "k1", "k2"])
    assert m == {"k1": "cat", "k2": "cat"}                    # k2: tie -> "cat" < "dog"
    assert all(type(k) is str and type(v) is str for k, v in m.items())


def test_cluster_label_map_matches_loop_and_purity():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 5, 400)
    c = rng.integers(0, 12, 400) * 3
    mapping = cluster_label_map(y, c)
    expected = {}
    for k in sorted(set(c.tolist())):
        counts = Counter(y[c == k].tolist())
        top = max(counts.values())
        expected[k] = min(cls for cls, v in counts.items() if v == top)
    assert mapping == expected
    assert list(mapping) == sorted(mapping)
    # Cluster-then-label accuracy is purity.
    predicted = np.array([mapping[k] for k in c.tolist()])
    assert np.mean(predicted == y) == pytest.approx(purity(y, c))


# ---------------------------------------------------------------- inertia
def test_inertia_by_hand():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [12.0, 10.0]])
    centers = np.array([[0.5, 0.0], [11.0, 10.0]])
    # nearest: 0.25 + 0.25 + 1 + 1
    assert inertia(X, centers) == pytest.approx(2.5)
    assert inertia(X, centers, labels=[0, 0, 1, 1]) == pytest.approx(2.5)
    # against a forced assignment: row 0 to center 1 is 11^2 + 10^2 = 221
    assert inertia(X, centers, labels=[1, 0, 1, 1]) == pytest.approx(221 + 0.25 + 1 + 1)
    assert inertia(X, centers, sample_weight=[2, 0, 1, 4]) == pytest.approx(0.5 + 0 + 1 + 4)
    assert inertia(X, centers, labels=[1, 0, 1, 1], sample_weight=[2, 0, 1, 4]) == \
        pytest.approx(442 + 0 + 1 + 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inertia_equals_brute_force(dtype):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 5)).astype(dtype)
    centers = rng.normal(size=(4, 5)).astype(dtype)
    w = rng.uniform(0, 3, 60)
    nearest = nearest_loop(X, centers)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert inertia(X, centers) == pytest.approx(sse_loop(X, centers, nearest), rel=rtol)
    assert inertia(X, centers, sample_weight=w) == \
        pytest.approx(sse_loop(X, centers, nearest, w), rel=rtol)
    labels = rng.integers(0, 4, 60)
    assert inertia(X, centers, labels) == pytest.approx(sse_loop(X, centers, labels), rel=1e-12)
    assert inertia(X, centers, labels, sample_weight=w) == \
        pytest.approx(sse_loop(X, centers, labels, w), rel=1e-12)
    # The nearest assignment is the smallest objective of any assignment.
    assert inertia(X, centers) <= inertia(X, centers, labels) + 1e-9


def test_inertia_with_labels_is_float64_whatever_the_dtypes():
    # float32 rows against float64 centers: the difference is taken in float64.
    X = np.array([[1.0e4 + 1.0]], dtype=np.float32)
    centers = np.array([[1.0e4 + 1.0 + 1e-3]])
    assert inertia(X, centers, [0]) == pytest.approx(1e-6, rel=1e-6)


def test_inertia_blocks(monkeypatch):
    """Several blocks (a tiny budget) give the loop's sum, weights included."""
    monkeypatch.setattr(metrics, "_INERTIA_BLOCK_BYTES", 3 * 8 * 4)   # 3 rows of 4 features
    rng = np.random.default_rng(4)
    X = rng.normal(size=(10, 4)).astype(np.float32)
    centers = rng.normal(size=(3, 4))
    labels = rng.integers(0, 3, 10)
    w = rng.uniform(0.5, 2.0, 10)
    assert inertia(X, centers, labels) == pytest.approx(sse_loop(X, centers, labels), rel=1e-12)
    assert inertia(X, centers, labels, w) == pytest.approx(sse_loop(X, centers, labels, w),
                                                           rel=1e-12)


def test_inertia_unit_weights_and_float_labels():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 3))
    centers = X[:3]
    labels = rng.integers(0, 3, 30)
    assert inertia(X, centers, labels, np.ones(30)) == pytest.approx(inertia(X, centers, labels))
    assert inertia(X, centers, labels.astype(float)) == inertia(X, centers, labels)
    assert inertia(X, centers, None, np.ones(30)) == pytest.approx(inertia(X, centers))


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("func", [purity, gini, contingency, cluster_label_map])
def test_label_errors_name_the_argument(func):
    with pytest.raises(ValueError, match="different lengths: 9 and 8"):
        func(Y, C[:8])
    with pytest.raises(ValueError, match="labels_true is empty"):
        func([], [])
    with pytest.raises(ValueError, match="labels_pred is empty"):
        func([1], [])
    with pytest.raises(ValueError, match=r"labels_true must be 1-D, got shape \(3, 3\)"):
        func(Y.reshape(3, 3), C)
    with pytest.raises(ValueError, match="labels_pred must be 1-D"):
        func(Y, C.reshape(9, 1))
    bad = Y.astype(float)
    bad[4] = np.nan
    with pytest.raises(ValueError, match="labels_true contains NaN.*index 4"):
        func(bad, C)
    with pytest.raises(ValueError, match="labels_pred contains NaN"):
        func(Y, np.array([1] * 8 + [np.nan], dtype=object))


@pytest.mark.parametrize("func", [purity, gini, contingency, cluster_label_map])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_metrics_reject_non_finite_labels(func, bad):
    y = np.array([0.0, 1, 1, 2, 2, 2])
    broken = y.copy()
    broken[3] = bad
    with pytest.raises(ValueError, match="labels_true contains NaN or infinity.*index 3"):
        func(broken, y)
    with pytest.raises(ValueError, match="labels_pred contains NaN or infinity.*index 3"):
        func(y, broken)


def test_purity_still_says_one_length():
    with pytest.raises(ValueError, match="one length"):
        purity([0, 1, 1], [0, 1])


def test_inertia_errors_name_the_argument():
    X = np.zeros((4, 2))
    centers = np.zeros((2, 2))
    with pytest.raises(ValueError, match="centers has 3 features but X has 2"):
        inertia(X, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="centers has 3 features"):
        inertia(X, np.zeros((2, 3)), [0, 0, 0, 0])
    with pytest.raises(ValueError, match="X is empty"):
        inertia(np.zeros((0, 2)), centers)
    with pytest.raises(ValueError, match="X contains NaN"):
        inertia(np.array([[0.0, np.nan]] * 4), centers)
    with pytest.raises(ValueError, match="centers contains NaN"):
        inertia(X, np.array([[0.0, np.nan], [0, 0]]), [0, 0, 0, 0])
    with pytest.raises(ValueError, match="labels has 3 entries but X has 4 rows"):
        inertia(X, centers, [0, 0, 0])
    with pytest.raises(ValueError, match="labels must be 1-D"):
        inertia(X, centers, np.zeros((4, 1), dtype=int))
    with pytest.raises(ValueError, match=r"labels must be center indices in \[0, 2\)"):
        inertia(X, centers, [0, 1, 2, 0])
    with pytest.raises(ValueError, match="labels must be center indices"):
        inertia(X, centers, [0, -1, 1, 0])
    with pytest.raises(ValueError, match="labels must be integers"):
        inertia(X, centers, [0, 0.5, 1, 0])
    with pytest.raises(ValueError, match="labels contains NaN"):
        inertia(X, centers, [0, np.nan, 1, 0])
    with pytest.raises(ValueError, match="labels is empty"):
        inertia(X, centers, [])
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        inertia(X, centers, sample_weight=[1, 1])
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        inertia(X, centers, [0, 0, 1, 1], sample_weight=[1, -1, 1, 1])
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        inertia(X, centers, sample_weight=[1, np.nan, 1, 1])


def test_all_exports():
    assert sorted(metrics.__all__) == ["center_distance", "cluster_label_map", "contingency",
                                       "gini", "inertia", "purity"]
    for name in metrics.__all__:
        assert callable(getattr(metrics, name))


# ---------------------------------------------------------------- the S3 table script
def _load_script():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "s3_table.py"
    spec = importlib.util.spec_from_file_location("s3_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_s3_table_standardize_like_s3():
    s3 = _load_script()
    rng = np.random.default_rng(6)
    X = rng.integers(0, 256, size=(50, 12)).astype(np.float32)
    X[:, 3] = 0                                       # a constant pixel: std 0 -> 1
    X[:, 7] = 17
    Z = s3.standardize(X, block_rows=7)
    # S3's code, in float64.
    Xd = X.astype(np.float64)
    mean, std = Xd.mean(axis=0), Xd.std(axis=0)
    std[std == 0] = 1
    assert Z.dtype == np.float32 and Z.shape == X.shape
    np.testing.assert_allclose(Z, (Xd - mean) / std, rtol=1e-6, atol=1e-6)
    assert np.all(Z[:, 3] == 0) and np.all(Z[:, 7] == 0)


def test_s3_table_script_end_to_end_on_fake_mnist(tmp_path):
    """Fake IDX files -> load + standardize -> rows (stand-in estimators) -> checks -> table."""
    s3 = _load_script()
    report = s3.self_check(tmp_path)
    assert report["n_rows"] == 2 * (2 + 2)           # 2 ks x (kmeans, minibatch, 2 betas)
    assert "| method |" in report["markdown"]
