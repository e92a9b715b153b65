"""The Yinyang kernel's kept own distances (``GroupBounds.own_sq``).

A row's direct distance to its own center is kept and reused to tighten its
upper bound while that center has not moved. Reused or read again, the value
is the same sqdist of the same numbers: every label, bound and kept distance
must be bitwise what the kernel gives when it reads every row again (its
behaviour before it kept them, forced here by clearing ``own_sq``), on 1 and
2 threads; and whole fits must be bitwise those without the reuse.
"""

import numpy as np
import pytest
from _bounds_cases import blobs, rows
from kernel_reference import assert_bitwise_equal

from dynkm import KMeans
from kmcore.distances import _row_norms
from kmcore.yinyang import GroupBounds, center_groups

N, D, K = 5000, 12, 40  # three slices of rows: several blocks per call
READ, TIGHTENED = 0, 4  # columns of assign's counts: distances, rows read to tighten


def _bounds(X, C, n_threads):
    bounds = GroupBounds(X, _row_norms(X, True, n_threads), center_groups(C, 6), n_threads)
    bounds.assign(C)
    return bounds


def _state(bounds):
    return (bounds.labels.copy(), bounds.upper.copy(), bounds.lower.copy(),
            bounds.own_sq.copy())


def _moves(C, dtype, rng):
    """New centers: a quarter stay exactly where they were, a quarter move by
    one ulp in every coordinate (a drift far below any bound's margin), the
    rest by a real step. Returns the centers, the drifts and the three masks."""
    kind = rng.permutation(np.arange(K) % 4)
    still, ulp = kind == 0, kind == 1
    new = C.copy()
    new[ulp] = np.nextafter(C[ulp], dtype(np.inf))
    step = rng.normal(scale=0.05, size=C.shape).astype(dtype)
    new[kind >= 2] += step[kind >= 2]
    drift = np.sqrt(((new.astype(np.float64) - C) ** 2).sum(axis=1))
    return new, drift, still, ulp


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fail_all", [False, True], ids=["filtered", "every_row_fails"])
def test_kept_distances_give_the_results_of_reading_again(dtype, fail_all):
    rng = np.random.default_rng(7)
    X = blobs(N, D, K, dtype, seed=5, std=2.5)
    C = rows(X, K, seed=5)
    kept = {n_threads: _bounds(X, C, n_threads) for n_threads in (1, 2)}
    read = _bounds(X, C, 2)
    reused = ulp_rows = ulp_differ = still_rows = 0
    for _ in range(6):
        new, drift, still, ulp = _moves(C, dtype, rng)
        before, labels_before = kept[1].own_sq.copy(), kept[1].labels.copy()
        results = {}
        for name, bounds in [("kept1", kept[1]), ("kept2", kept[2]), ("read", read)]:
            if fail_all:
                bounds.lower[:] = 0  # every row fails the global filter and tightens
            if name == "read":
                bounds.own_sq[:] = -1  # no kept distance: every tightening reads the row
            counts = bounds.assign(new, drift, record=True)
            results[name] = (_state(bounds), bounds.moved_rows(), counts)
        (s1, m1, c1), (s2, m2, c2), (sr, mr, cr) = results.values()
        assert_bitwise_equal(s1 + m1, s2 + m2)
        np.testing.assert_array_equal(c1, c2)
        # Labels, bounds and moved rows as if every row were read again ...
        assert_bitwise_equal(s1[:3] + m1, sr[:3] + mr)
        # ... and every distance the reading kernel knows, the same value.
        labels, own_kept, own_read = s1[0], s1[3], sr[3]
        known = own_read >= 0
        assert_bitwise_equal(own_kept[known], own_read[known])
        if fail_all:
            assert (own_kept[~known] < 0).all()
        # The same gathering; fewer reads, each one distance less.
        np.testing.assert_array_equal(c1[[1, 2, 3, 5]], cr[[1, 2, 3, 5]])
        assert c1[READ] == cr[READ] - (cr[TIGHTENED] - c1[TIGHTENED])
        reused += cr[TIGHTENED] - c1[TIGHTENED]
        stayed = (labels == labels_before) & (before >= 0)
        # The rows of a center moved by one ulp were read, not reused: their
        # distances differ from the kept ones (which a reuse would have given).
        of_ulp = ulp[labels] & stayed & known
        ulp_rows += of_ulp.sum()
        ulp_differ += (own_kept[of_ulp] != before[of_ulp]).sum()
        # A still center's rows keep their distances, read again or not.
        of_still = still[labels] & stayed
        still_rows += of_still.sum()
        assert_bitwise_equal(own_kept[of_still], before[of_still])
        C = new
    # Not vacuous: the reuse happened, and both kinds of center had such rows.
    assert reused > 0 and still_rows > 0 and ulp_rows > 0
    assert ulp_differ > 0


def _sqdist_in_order(X, C):
    """Each row's squared distance to its center summed as kmcore's sqdist
    does: float64 squares into four partial sums by feature mod 4 (the
    features past the last multiple of four into the first), each sum in
    feature order, then (s0 + s1) + (s2 + s3)."""
    t = X.astype(np.float64) - C.astype(np.float64)
    t = t * t
    d = X.shape[1]
    d4 = d - d % 4
    lanes = [np.cumsum(t[:, lane:d4:4], axis=1)[:, -1] if d4 else np.zeros(len(X))
             for lane in range(4)]
    lanes[0] = np.cumsum(np.column_stack([lanes[0], t[:, d4:]]), axis=1)[:, -1]
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [3, 13, 40])
def test_tightened_distances_are_sqdist_bit_for_bit(dtype, d):
    """The filter pass computes the tightening distances several rows at a
    time: each must be the single-row sqdist's value to the bit (near ties
    compare it with sqdist's distances to the other centers), whatever the
    feature count's remainder mod 4, for rows in any position of a batch."""
    X = blobs(N, d, K, dtype, seed=9, std=2.5)
    C = rows(X, K, seed=9)
    rng = np.random.default_rng(9)
    bounds = _bounds(X, C, 2)
    checked = 0
    for _ in range(3):
        new = C + rng.normal(scale=0.05, size=C.shape).astype(dtype)
        drift = np.sqrt(((new.astype(np.float64) - C) ** 2).sum(axis=1))
        bounds.lower[rng.random(N) < 0.5] = 0  # scattered rows fail and tighten
        counts = bounds.assign(new, drift)
        known = bounds.own_sq >= 0
        expected = _sqdist_in_order(X[known], new[bounds.labels[known]])
        assert_bitwise_equal(bounds.own_sq[known], expected)
        checked += counts[TIGHTENED]
        C = new
    assert checked > N  # the tightenings ran, not only the kept distances


def test_invalidate_forgets_the_kept_distance():
    X = blobs(N, D, K, np.float64, seed=6)
    C = rows(X, K, seed=6)
    bounds = _bounds(X, C, 2)
    bounds.lower[:] = 0  # every row tightens, reading its own distance
    bounds.assign(C, np.zeros(K))
    lost = np.arange(0, N, 3)
    assert (bounds.own_sq[lost] >= 0).mean() > 0.9
    bounds.invalidate(lost)
    assert (bounds.own_sq[lost] < 0).all()
    # The next call reads exactly those rows again (the others, if they fail
    # the filter, reuse their kept distances).
    counts = bounds.assign(C, np.zeros(K))
    assert counts[TIGHTENED] == lost.size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_fit_is_bitwise_the_fit_without_kept_distances(dtype, n_threads, monkeypatch):
    """Whole weighted fits (to convergence, so that late iterations have still
    centers) with and without the reuse: the same labels, centers, inertia,
    n_iter and objectives, bitwise."""
    X = blobs(6000, 30, 64, dtype, seed=8, std=4.0)
    w = np.random.default_rng(8).uniform(0.5, 2.0, len(X)).astype(dtype)
    C0 = rows(X, 64, seed=8)
    assign = GroupBounds.assign
    tightened = {}

    def counting(forget):
        def wrapped(self, centers, drift=None, record=False):
            if forget:
                self.own_sq[:] = -1
            counts = assign(self, centers, drift, record)
            tightened[forget] = tightened.get(forget, 0) + int(counts[TIGHTENED])
            return counts
        return wrapped

    fits = {}
    for forget in (False, True):
        monkeypatch.setattr(GroupBounds, "assign", counting(forget))
        fits[forget] = KMeans(64, init=C0, algorithm="yinyang", tol=0.0,
                              n_threads=n_threads).fit(X, sample_weight=w)
    kept, read = fits[False], fits[True]
    assert kept.history_["algorithm"] == "yinyang" and kept.n_iter_ > 10
    assert_bitwise_equal((kept.labels_, kept.cluster_centers_, kept.history_["objective"]),
                         (read.labels_, read.cluster_centers_, read.history_["objective"]))
    assert kept.inertia_ == read.inertia_ and kept.n_iter_ == read.n_iter_
    assert tightened[False] < tightened[True]
