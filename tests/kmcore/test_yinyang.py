"""KMeans(algorithm="yinyang"/"elkan") against "lloyd" from the same init, and
the Yinyang kernels against brute-force NumPy."""

import numpy as np
import pytest
from _bounds_cases import assert_same as _assert_same
from _bounds_cases import blobs as _blobs
from _bounds_cases import rows as _rows
from kernel_reference import assert_bitwise_equal

import dynkm._rows
from dynkm import KMeans, _lloyd
from kmcore import _yinyang_sums, yinyang
from kmcore.centers import means_from_sums, weighted_sums
from kmcore.distances import _row_norms
from kmcore.yinyang import (
    _DRIFT_SLACK,
    ClusterSums,
    GroupBounds,
    center_groups,
    labelled_inertia,
)


def _fit_both(X, C0, w=None, algorithm="yinyang", **kw):
    lloyd = KMeans(len(C0), init=C0, algorithm="lloyd", **kw).fit(X, sample_weight=w)
    bounded = KMeans(len(C0), init=C0, algorithm=algorithm, **kw).fit(X, sample_weight=w)
    return lloyd, bounded


CASES = [
    # n, d, k, dtype, weighted, tol, max_iter
    (50, 2, 2, np.float64, False, 0.0, 300),
    (60, 3, 25, np.float32, True, 0.0, 300),
    (300, 100, 40, np.float64, True, 1e-4, 300),
    (1000, 5, 7, np.float32, False, 1e-4, 300),
    (1000, 20, 300, np.float64, False, 0.0, 300),
    (2000, 2, 100, np.float32, True, 0.0, 300),
    (3000, 50, 64, np.float32, False, 0.0, 4),
    (5000, 10, 120, np.float64, True, 1e-3, 300),
    (20000, 8, 50, np.float32, False, 0.0, 300),
]


@pytest.mark.parametrize("n, d, k, dtype, weighted, tol, max_iter", CASES)
def test_same_iterations_as_lloyd(n, d, k, dtype, weighted, tol, max_iter):
    X = _blobs(n, d, k, dtype, seed=n + d)
    rng = np.random.default_rng(k)
    w = None
    if weighted:
        w = rng.uniform(0.2, 3.0, n).astype(dtype)
        w[rng.random(n) < 0.1] = 0  # zero weights: labelled, never summed
    C0 = _rows(X, k, seed=d)
    lloyd, bounded = _fit_both(X, C0, w, tol=tol, max_iter=max_iter)
    assert bounded.history_["algorithm"] == "yinyang"
    _assert_same(lloyd, bounded, X, w)
    if max_iter < 300:
        assert bounded.n_iter_ == max_iter


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elkan_same_iterations_as_lloyd(dtype):
    X = _blobs(2000, 6, 40, dtype, seed=5)
    C0 = _rows(X, 40, seed=5)
    lloyd, bounded = _fit_both(X, C0, algorithm="elkan", tol=0.0)
    assert bounded.history_["algorithm"] == "elkan" and bounded.history_["n_groups"] == 40
    _assert_same(lloyd, bounded, X, None)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_clusters_relocated_as_lloyd(dtype):
    # Duplicate initial centers (one of each pair wins nothing) and centers
    # far from every row: clusters go empty and are refilled by the plain step.
    X = _blobs(3000, 5, 40, dtype, seed=2)
    C0 = _rows(X, 40, seed=2)
    C0[1], C0[3] = C0[0], C0[2]
    C0[-3:] = 1e3 * np.arange(1, 4)[:, None]
    w = np.random.default_rng(2).uniform(0, 2, len(X)).astype(dtype)
    lloyd, bounded = _fit_both(X, C0, w, tol=0.0)
    assert lloyd.history_["n_relocated"].sum() >= 5
    np.testing.assert_array_equal(bounded.history_["n_relocated"], lloyd.history_["n_relocated"])
    _assert_same(lloyd, bounded, X, w)


def _tie_data(dtype, seed=0):
    """Rows on the midpoint of two integer centers (exact ties), or nudged by
    2^-12 of their distance towards one (a near tie within the float32 bounds'
    margin). Every coordinate is a multiple of 2^-13 below 8, so both the plain
    pass (float32 GEMM included) and NumPy compute these distances exactly:
    ties go to the lowest index everywhere. (Where a tie is not exact in the
    plain pass's arithmetic, its rounding decides; the bounds then follow exact
    arithmetic, and the two may differ.)"""
    rng = np.random.default_rng(seed)
    B = rng.integers(0, 6, (30, 4)).astype(np.float64)
    B = np.unique(B, axis=0)
    pairs = rng.integers(0, len(B), (1500, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    nudge = rng.choice([-(2.0 ** -12), 0.0, 2.0 ** -12], len(pairs))[:, None]
    a, b = B[pairs[:, 0]], B[pairs[:, 1]]
    X = (a + b) / 2 + nudge * (b - a)
    return X.astype(dtype), B.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ties_and_near_ties_as_lloyd(dtype):
    X, C0 = _tie_data(dtype)
    lloyd, bounded = _fit_both(X, C0, tol=0.0)
    _assert_same(lloyd, bounded, X, None)
    # The kernel alone: exact ties go to the lowest index, near ties to the
    # nearer center, through the direct recomputation.
    bounds = GroupBounds(X, _row_norms(X, True, 1), center_groups(C0, 4), 1)
    counts = bounds.assign(C0)
    assert counts[2] > 0  # rows resolved by direct distances
    np.testing.assert_array_equal(bounds.labels, _exact_labels(X, C0))


def test_thread_count_does_not_change_anything():
    X = _blobs(6000, 12, 80, np.float32, seed=3)
    C0 = _rows(X, 80, seed=3)
    w = np.random.default_rng(3).uniform(0, 2, len(X)).astype(np.float32)
    for algorithm in ("yinyang", "elkan"):
        one, two = (KMeans(80, init=C0, algorithm=algorithm, tol=0, n_threads=t)
                    .fit(X, sample_weight=w) for t in (1, 2))
        np.testing.assert_array_equal(one.labels_, two.labels_)
        np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)  # bitwise
        assert one.inertia_ == two.inertia_ and one.n_iter_ == two.n_iter_
        for key in ("objective", "center_shift", "distance_fraction"):
            np.testing.assert_array_equal(one.history_[key], two.history_[key])


def test_distance_fraction_falls_as_the_fit_converges():
    X = _blobs(20000, 16, 60, np.float32, seed=4, std=3.0)
    km = KMeans(100, init=_rows(X, 100, seed=4), algorithm="yinyang", tol=0).fit(X)
    f = km.history_["distance_fraction"]
    assert f[0] >= 1.0 and len(f) >= 10  # every distance (and near ties again)
    # Falling, not necessarily at every step: each third of the fit needs
    # less than the one before, and the end needs almost nothing.
    thirds = [part.mean() for part in np.array_split(f[1:], 3)]
    assert thirds[0] > thirds[1] > thirds[2]
    assert f[-1] < 0.02 and f[1:].mean() < 0.3


# ------------------------------------------------------------------ kernels
def _exact_sqdist(X, C):
    X64, C64 = X.astype(np.float64), C.astype(np.float64)
    return ((X64[:, None, :] - C64[None, :, :]) ** 2).sum(axis=2)


def _exact_labels(X, C):
    return _exact_sqdist(X, C).argmin(axis=1)  # ties: lowest index


def _numpy_filter(bounds, X, centers, drift):
    """Rows the kernel must gather: those failing the global filter after the
    drifts, and again after tightening u to the exact own distance."""
    drift = drift * _DRIFT_SLACK
    widest = np.maximum.reduceat(drift[bounds.gorder], bounds.gstart[:-1])
    gd = widest.astype(np.float32)
    gd[gd < widest] = np.nextafter(gd[gd < widest], np.float32(np.inf))
    lower = np.maximum((bounds.lower - gd) * np.float32(1 - 2.0 ** -22), np.float32(0))
    lmin = lower.min(axis=1)
    upper = bounds.upper + drift[bounds.labels]
    fails = ~(lmin > upper * (1 + 1e-9))
    diff = X.astype(np.float64) - centers.astype(np.float64)[bounds.labels]
    gamma = (X.shape[1] + 16) * 2.0 ** -52
    tight = np.sqrt(np.einsum("ij,ij->i", diff, diff) * (1 + gamma))
    return fails & ~(lmin > tight * (1 + 1e-9))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_groups", [1, 5, 30])
def test_kernel_against_brute_force(dtype, n_groups):
    rng = np.random.default_rng(n_groups)
    X = _blobs(1500, 7, 30, dtype, seed=n_groups, std=3.0)
    C = _rows(X, 30, seed=n_groups)
    bounds = GroupBounds(X, _row_norms(X, True, 2), center_groups(C, n_groups), 2)
    drift, k, n = None, len(C), len(X)
    for _ in range(8):
        expected = None if drift is None else _numpy_filter(bounds, X, C, drift)
        old = bounds.labels.copy()
        counts = bounds.assign(C, drift)
        D = _exact_sqdist(X, C)
        labels = D.argmin(axis=1)
        np.testing.assert_array_equal(bounds.labels, labels)
        dist = np.sqrt(D)
        assert (bounds.upper >= dist[np.arange(n), labels]).all()
        dist[np.arange(n), labels] = np.inf  # a row's own center is not a rival
        for g in range(bounds.n_groups):
            assert (bounds.lower[:, g] <= dist[:, bounds.center_group == g].min(axis=1)).all()
        if expected is None:
            assert counts[0] == n * k
        else:
            # The kernel gathers exactly the rows NumPy's filter says may change,
            # and every row whose nearest center changed is among them.
            assert counts[1] == expected.sum()
            assert expected[labels != old].all()
            assert counts[3] == (labels != old).sum()
        # An M-step, and a nudge of some centers so that the drifts differ more.
        sums, w = weighted_sums(X, bounds.labels, k, None, 1)
        new = means_from_sums(sums, w, C, X.dtype, n_threads=1)
        new[rng.random(k) < 0.2] += dtype(0.3)
        drift = np.sqrt(((new.astype(np.float64) - C.astype(np.float64)) ** 2).sum(axis=1))
        C = new


def test_equal_bounds_do_not_skip_a_tie():
    # Rows on two identical centers, labelled with the higher index, with valid
    # bounds u = l = 0: only a strict filter (l > u) sends them to be
    # recomputed, and then the lowest index wins as in the plain pass.
    X = _blobs(300, 3, 6, np.float64, seed=6)
    C = _rows(X, 6, seed=6)
    C[4] = C[1]
    X[:10] = C[1]
    groups = np.array([0, 1, 2, 0, 2, 1])
    bounds = GroupBounds(X, _row_norms(X, True, 1), groups, 1)
    bounds.assign(C)
    assert (bounds.labels[:10] == 1).all()
    bounds.labels[:10] = 4
    bounds.upper[:10] = 0.0
    bounds.lower[:10, groups[1]] = 0.0  # the distance to center 1, now a rival
    bounds.assign(C, np.zeros(6))
    assert (bounds.labels[:10] == 1).all()


def test_incremental_sums_match_a_recomputation():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 9)).astype(np.float32)
    w = rng.uniform(0, 2, len(X)).astype(np.float32)
    w[:300] = 0
    labels = rng.integers(0, 20, len(X))
    sums = ClusterSums(X, w, 20, 2)
    sums.rebuild(labels)
    for _ in range(5):
        old = labels.copy()
        moved = rng.random(len(X)) < 0.05
        labels = np.where(moved, rng.integers(0, 20, len(X)), labels)
        sums.move(labels, old)
    assert 0 < sums.moved_since_rebuild < len(X)  # moved, not recomputed
    ref_sums, ref_weights = weighted_sums(X, labels, 20, w, 1)
    np.testing.assert_allclose(sums.sums, ref_sums, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(sums.weights, ref_weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(sums.n_positive, np.bincount(labels[w > 0], minlength=20))
    # Emptying a cluster (all but zero-weight rows leave it) shows as n_positive == 0.
    old = labels.copy()
    labels = np.where((labels == 3) & (w > 0), 4, labels)
    sums.move(labels, old)
    assert sums.n_positive[3] == 0
    with pytest.raises(ValueError, match="out of range"):
        _yinyang_sums._move_rows(X, w, np.array([0]), np.array([0]), np.array([20]), sums.sums,
                            sums.weights, sums.scale, sums.n_positive, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cluster_means_divide_only_what_changed(dtype, monkeypatch):
    """ClusterSums.means is bitwise means_from_sums (centers and shifts) over
    a run of moves, an emptied cluster, a rebuild and centers changed by the
    caller (a copy, and the returned array in place); after a move it divides
    out only the clusters the move touched."""
    rng = np.random.default_rng(1)
    k = 30
    X = rng.standard_normal((3000, 7)).astype(dtype)
    w = rng.uniform(0, 2, len(X)).astype(dtype)
    labels = rng.integers(0, k, len(X))
    sums = ClusterSums(X, w, k, 2)
    sums.rebuild(labels)
    divided = []
    original = yinyang.means_from_sums

    def counting(s, *args, **kw):
        divided.append(len(s))
        return original(s, *args, **kw)

    monkeypatch.setattr(yinyang, "means_from_sums", counting)
    centers, expected = X[:k].astype(dtype), k
    for it in range(10):
        ref_shift, shift = np.empty(k), np.empty(k)
        ref = means_from_sums(sums.sums, sums.weights, centers, dtype, ref_shift, 2)
        divided.clear()
        centers = sums.means(centers, dtype, shift, 2)
        assert_bitwise_equal((centers, shift), (ref, ref_shift))
        assert sum(divided) == expected
        old = labels.copy()
        labels[rng.choice(len(X), 3, replace=False)] = rng.integers(0, k, 3)
        if it == 3:
            labels[(labels == 5) & (w > 0)] = 6  # empties cluster 5 (it keeps its center)
        sums.move(labels, old)
        differ = labels != old
        expected = np.unique(np.concatenate([old[differ], labels[differ]])).size
        if it == 5:
            sums.rebuild(labels)  # every cluster again
            expected = k
        if it == 7:
            centers = centers.copy()  # a changed copy of the array returned: every cluster
            centers[2] += dtype(1)
            expected = k
        if it == 8:
            centers[3] += dtype(1)  # the array returned, edited in place: every cluster
            expected = k
    assert (shift == 0).sum() > k // 2  # most clusters did not move: a saving


def test_labelled_inertia_is_direct():
    X = np.full((3, 2), 1e4) + np.array([[0.0, 1e-3], [0.0, 0.0], [2e-3, 0.0]])
    C = np.full((1, 2), 1e4)
    # The GEMM expansion loses these distances to cancellation; summed directly they survive.
    assert labelled_inertia(X, C, np.zeros(3, dtype=np.intp), None, 1) == pytest.approx(
        5e-6, rel=1e-6)


def test_kernel_rejects_inconsistent_input():
    X = np.zeros((10, 3))
    C = np.eye(3)
    bounds = GroupBounds(X, np.zeros(10), np.array([0, 0, 1]), 1)
    bounds.assign(C)
    bounds.labels[4] = 3  # not a center
    with pytest.raises(ValueError, match="labels"):
        bounds.assign(C, np.zeros(3))
    with pytest.raises(ValueError, match="centers must have shape"):
        GroupBounds(X, np.zeros(10), np.array([0, 0, 1]), 1).assign(np.eye(4, 3))
    with pytest.raises(ValueError, match="shapes"):
        _yinyang_sums._labelled_inertia(X, C, np.zeros(9, dtype=np.intp), np.empty(0),
                                   np.empty(1), 2048, 1)
    with pytest.raises(ValueError, match="no empty group"):
        GroupBounds(X, np.zeros(10), np.array([0, 2, 2]), 1)


def test_center_groups_merge_small_groups():
    # Unbalanced centers: a dense cloud and a few isolated points, each of
    # which k-means of the centers would leave as a group of one.
    rng = np.random.default_rng(7)
    C = np.vstack([rng.normal(size=(60, 5)), 50.0 * np.eye(5)])
    groups = center_groups(C, 10)
    sizes = np.bincount(groups)
    assert sizes.sum() == 65 and (sizes > 0).all()  # numbered 0..t-1, none empty
    assert sizes.min() >= 8 and len(sizes) >= 2
    assert (center_groups(C, 65) == np.arange(65)).all()  # Elkan: one center per group
    assert (center_groups(C[:5], 2) == 0).all()  # fewer centers than a group: one group


# ------------------------------------------------------------------ choice
def test_algorithm_choice_and_fallback(monkeypatch):
    assert _lloyd.choose_algorithm("auto", 100000, 16)[0] == "lloyd"
    assert _lloyd.choose_algorithm("auto", 1000, 256)[0] == "lloyd"
    assert _lloyd.choose_algorithm("auto", 60000, 256)[:2] == ("yinyang", 26)
    assert _lloyd.choose_algorithm("auto", 60000, 256, 784)[:2] == ("yinyang", 26)
    assert _lloyd.choose_algorithm("auto", 500000, 64, 8)[0] == "hamerly"
    assert _lloyd.choose_algorithm("yinyang", 500000, 64, 8)[0] == "yinyang"
    assert _lloyd.choose_algorithm("yinyang", 100, 8)[:2] == ("yinyang", 1)
    assert _lloyd.choose_algorithm("elkan", 60000, 256)[:2] == ("elkan", 256)
    # Elkan's n x k bounds over the budget: group bounds; those over it too: Lloyd.
    assert _lloyd.choose_algorithm("elkan", 10**6, 1000)[:2] == ("yinyang", 100)
    name, _, reason = _lloyd.choose_algorithm("yinyang", 10**8, 1000)
    assert name == "lloyd" and "budget" in reason
    X = _blobs(500, 3, 10, np.float64)
    monkeypatch.setattr(_lloyd, "BOUNDS_BUDGET", 1000)
    km = KMeans(10, init=_rows(X, 10), algorithm="yinyang").fit(X)
    assert km.history_["algorithm"] == "lloyd" and "budget" in km.history_["algorithm_reason"]
    np.testing.assert_array_equal(km.history_["distance_fraction"], 1.0)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        KMeans(3, algorithm="full").fit(X)


@pytest.mark.parametrize("algorithm", ["yinyang", "elkan", "auto"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_far_from_origin_same_iterations_as_lloyd(algorithm, dtype):
    # Far from 0 against their spread, the GEMM expansions cancel: both the
    # plain pass and the bounds compute around the data's mean, and every
    # strategy gives the plain pass's iterations.
    X = (_blobs(5000, 20, 40, np.float64, seed=8) + 1e4).astype(dtype)
    init = _rows(X, 40, seed=8)
    lloyd, bounded = _fit_both(X, init, algorithm=algorithm, tol=0.0, max_iter=30)
    assert bounded.history_["algorithm"] == ("elkan" if algorithm == "elkan" else "yinyang")
    _assert_same(lloyd, bounded, X, None)
    assert bounded.history_["distance_fraction"][1:].mean() < 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_far_from_origin_needs_few_direct_distances(dtype):
    # Without the shift every float32 expansion would be within rounding of
    # every other (1e8-sized norms, distances of ~100): all rows would be
    # near ties, resolved by direct distances. Shifted, almost none are.
    X = (_blobs(4000, 20, 30, np.float64, seed=9) + 1e4).astype(dtype)
    C = _rows(X, 30, seed=9)
    bounds = GroupBounds(X, _row_norms(X, True, 2), center_groups(C, 4), 2)
    assert bounds.origin.shape == (20,)
    counts = bounds.assign(C)
    np.testing.assert_array_equal(bounds.labels, _exact_labels(X, C))
    assert counts[2] < 0.01 * len(X)
    dist = np.sqrt(_exact_sqdist(X, C))
    assert (bounds.upper >= dist[np.arange(len(X)), bounds.labels]).all()
    dist[np.arange(len(X)), bounds.labels] = np.inf
    for g in range(bounds.n_groups):
        assert (bounds.lower[:, g] <= dist[:, bounds.center_group == g].min(axis=1)).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_assign_records_the_rows_it_relabels(dtype, n_threads):
    # The kernel's list of moved rows (per slice, in row order) against a
    # comparison of the labels before and after.
    X = _blobs(9000, 6, 30, dtype, seed=5)
    C = _rows(X, 30, seed=5)
    bounds = GroupBounds(X, _row_norms(X, True, 1), center_groups(C, 3), n_threads)
    bounds.assign(C)
    with pytest.raises(RuntimeError, match="did not record"):
        bounds.moved_rows()
    rng = np.random.default_rng(5)
    for _ in range(4):
        new = C + rng.normal(0, 0.3, C.shape).astype(dtype)
        drift = np.sqrt(((new.astype(np.float64) - C) ** 2).sum(axis=1))
        before = bounds.labels.copy()
        counts = bounds.assign(new, drift, record=True)
        rows, old, now = bounds.moved_rows()
        expected = np.flatnonzero(bounds.labels != before)
        assert expected.size > 0 and counts[3] == expected.size
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_array_equal(old, before[expected])
        np.testing.assert_array_equal(now, bounds.labels[expected])
        C = new


def test_move_rows_same_sums_for_any_thread_count():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((5000, 7))
    w = rng.uniform(0, 2, len(X))
    labels = rng.integers(0, 25, len(X))
    rows = np.flatnonzero(rng.random(len(X)) < 0.3)
    new = rng.integers(0, 25, rows.size)
    results = []
    for n_threads in (1, 2, 3):
        sums, weights = weighted_sums(X, labels, 25, w, 1)
        scale, n_pos = weights.copy(), np.bincount(labels, minlength=25).astype(np.int64)
        _yinyang_sums._move_rows(X, w, rows, labels[rows], new, sums, weights, scale, n_pos,
                            n_threads)
        results.append((sums, weights, scale, n_pos))
    moved = labels.copy()
    moved[rows] = new
    ref_sums, ref_weights = weighted_sums(X, moved, 25, w, 1)
    np.testing.assert_allclose(results[0][0], ref_sums, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(results[0][1], ref_weights, rtol=1e-12, atol=1e-12)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, b)  # bitwise


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("strategy", ["yinyang", "hamerly"])
def test_step_counts_the_labels_that_changed(strategy, flip, monkeypatch):
    # run_lloyd's strict-convergence test reads the strategy's count of
    # changed labels instead of comparing label arrays: it must be exact,
    # also on an iteration redone by the plain step. Here the middle center
    # loses both its rows at iteration 1: the outer centers move to their
    # blobs at -2.5 and 2.5, nearer to those rows than it is.
    x = np.r_[np.full(20, -2.5), np.full(20, 2.5), -1.9, 1.9]
    X = np.zeros((x.size, 3), dtype=np.float32)
    X[:, 0] = x
    C = np.zeros((3, 3), dtype=np.float32)
    C[:, 0] = [-4, 0, 4]
    w = np.random.default_rng(2).uniform(0.5, 2, len(X)).astype(np.float32)
    norms = _row_norms(X, True, 1)
    if flip:
        # The plain step decides a row the other way (as its rounding may on a
        # near tie): the strategy adopts that label, which must be counted.
        plain = dynkm._rows.lloyd_step

        def flipped(*args):
            step = plain(*args)
            step.labels[0] = 2
            return step

        monkeypatch.setattr(dynkm._rows, "lloyd_step", flipped)
    if strategy == "yinyang":
        steps = _lloyd.BoundedSteps(X, norms, w, C, 3, 2, "yinyang")
    else:
        steps = _lloyd.HamerlySteps(X, norms, w, C, 2)
    previous, plain_later = None, 0
    for _ in range(6):
        step, fraction, n_changed = steps.step(C)
        if previous is None:
            assert n_changed is None
        else:
            assert n_changed == int((step.labels != previous).sum())
            plain_later += fraction > 1
        previous = step.labels.copy()
        C = step.centers
    assert plain_later == 1  # the plain-step branch was counted too
    assert n_changed == 0
