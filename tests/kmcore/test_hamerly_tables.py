"""The center tables of Hamerly's bounds (kmcore.hamerly.center_tables,
neighbour_drifts) against float64 NumPy, and the bounds with per-center
neighbour tables against the same bounds scanning every center."""

import numpy as np
import pytest
from _bounds_cases import assert_same, blobs
from _bounds_cases import rows as _rows
from kernel_reference import f64, ref_sqdist

from dynkm import KMeans, _lloyd
from kmcore import _hamerly, hamerly
from kmcore.hamerly import HamerlyBounds, center_tables, neighbour_drifts


@pytest.fixture
def tables_anywhere(monkeypatch):
    """The neighbour tables wherever they fit (``TABLE_WORK`` 0): the shapes
    here are too small for the rule to build them."""
    monkeypatch.setattr(hamerly, "TABLE_WORK", 0)


def _unblock(tab, k, d):
    """The (kp, d) centers of each table of ``tab``, in table order."""
    kp = tab.shape[1] // d
    return tab.reshape(-1, kp // 16, d, 16).transpose(0, 1, 3, 2).reshape(-1, kp, d)


def _check_bounds(bounds, X, C):
    """Labels are the float64 nearest centers (lowest index on ties); the bounds hold."""
    D = np.sqrt(ref_sqdist(X, C))
    at = np.arange(len(X))
    np.testing.assert_array_equal(bounds.labels, D.argmin(axis=1))
    assert (bounds.upper >= D[at, bounds.labels]).all()
    D[at, bounds.labels] = np.inf
    assert (bounds.lower <= D.min(axis=1)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k, d", [(1, 3), (5, 2), (16, 8), (17, 1), (40, 8), (70, 5)])
def test_center_tables_against_numpy(dtype, k, d):
    rng = np.random.default_rng(k)
    C = rng.normal(size=(k, d)).astype(dtype)
    C[k // 2] = C[0]  # a duplicate: distance 0, ties by index
    kp = -(-k // 16) * 16
    true = np.sqrt(ref_sqdist(C, C))
    gaps = np.empty(k)
    _hamerly._half_gaps(C, gaps, 1)
    for neighbours in (False, True):
        tab, order, radius, half_gap = center_tables(C, dtype, neighbours)
        n_tables = k if neighbours else 1
        assert tab.shape == (n_tables, kp * d) and tab.dtype == dtype
        assert order.shape == (n_tables, kp) and radius.shape == (n_tables, kp + 1)
        np.testing.assert_array_equal(half_gap, gaps)  # the same bounds either way
        blocks = _unblock(tab, k, d)
        for t in range(n_tables):
            np.testing.assert_array_equal(blocks[t, :k], C[order[t, :k]])
            assert np.isinf(blocks[t, k:]).all()  # padding: never nearest
        if not neighbours:
            np.testing.assert_array_equal(order[0, :k], np.arange(k))
            continue
        for a in range(k):
            # Sorted by the float64 distance from center a, ties to the lowest index.
            want = np.lexsort((np.arange(k), true[a]))
            np.testing.assert_array_equal(order[a, :k], want)
            r = radius[a, :k]
            assert (np.diff(r) >= 0).all() and np.isinf(radius[a, k:]).all()
            assert (r <= true[a, want]).all()  # lower bounds...
            np.testing.assert_allclose(r, true[a, want], rtol=1e-9)  # ...and tight


def test_neighbour_drifts_against_brute_force():
    rng = np.random.default_rng(0)
    k = 45
    C = rng.normal(size=(k, 3))
    _, order, _, _ = center_tables(C, np.float64, True)
    drift = rng.exponential(size=k)
    near = neighbour_drifts(order, drift)
    assert near.shape == (k, 3)
    for a in range(k):
        for b in range(3):
            first = [j for j in order[a, :min(16 * (b + 1), k)] if j != a]
            assert near[a, b] == drift[first].max()
    np.testing.assert_array_equal(near[:, -1], [np.delete(drift, a).max() for a in range(k)])


def _drifting_centers(C, rng, steps, dtype, target):
    """Centers moving a little each step, and now and then one center jumping
    to ``target``, far from every other (a large drift)."""
    out = []
    for step in range(steps):
        C = C + rng.normal(scale=0.05, size=C.shape)
        if step % 2:
            C[rng.integers(len(C))] = target + rng.normal(size=C.shape[1])
        out.append(C.astype(dtype))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads, d", [(1, 4), (2, 4), (2, 1), (1, 2)])
def test_tables_give_the_full_scans_labels_and_valid_bounds(dtype, n_threads, d,
                                                            tables_anywhere):
    rng = np.random.default_rng(5)
    # Rows far from every center, where the jumping centers go: there the
    # bound through the far neighbours (radius - u) is the one that holds.
    far = 30 + 3 * rng.normal(size=(300, d))
    X = np.vstack([blobs(6000, d, 70, dtype, seed=5, std=1.0, centered=True), far]).astype(dtype)
    C0 = f64(_rows(X[:6000], 70, seed=5))  # no center among the far rows
    near = HamerlyBounds(X, 70, n_threads)
    full = HamerlyBounds(X, 70, n_threads)
    assert near.neighbours
    full.neighbours = False
    totals = np.zeros((2, 4), dtype=np.int64)
    previous = None
    for C in [C0.astype(dtype)] + _drifting_centers(C0, rng, 8, dtype, 30.0):
        drift = None if previous is None else np.sqrt(((f64(C) - previous) ** 2).sum(axis=1))
        totals[0] += near.assign(C, drift)
        totals[1] += full.assign(C, drift)
        _check_bounds(near, X, C)
        _check_bounds(full, X, C)
        previous = f64(C)
    # Fewer distances: the scans of the centers that cannot be nearer are skipped.
    assert totals[0, 0] < 0.8 * totals[1, 0]
    assert totals[0, 3] == totals[1, 3]  # the same labels changed


def test_many_equal_centers_span_blocks(tables_anywhere):
    # 20 copies of one center (more than a block of 16, all at distance 0 of
    # each other): every row ties among them and takes the lowest index.
    rng = np.random.default_rng(1)
    C = np.repeat(rng.normal(size=(3, 2)), [20, 1, 1], axis=0)
    X = C[rng.integers(0, len(C), 500)] + rng.normal(scale=0.1, size=(500, 2))
    bounds = HamerlyBounds(X, len(C), 1)
    assert bounds.neighbours
    bounds.assign(C)
    _check_bounds(bounds, X, C)
    C2 = C + 0.01
    bounds.assign(C2, np.full(len(C), 0.011 * np.sqrt(2)))
    _check_bounds(bounds, X, C2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_with_and_without_tables_same_as_lloyd(dtype, monkeypatch, tables_anywhere):
    X = blobs(8000, 6, 48, dtype, seed=6, centered=True)
    C0 = _rows(X, 48, seed=6)
    monkeypatch.setattr(_lloyd, "choose_algorithm", lambda a, n, k, d=None: ("hamerly", 0, "t"))
    lloyd = KMeans(48, init=C0, algorithm="lloyd", tol=0).fit(X)
    fits = {}
    for name, budget in (("tables", hamerly.NEIGHBOUR_BYTES), ("full", 0)):
        monkeypatch.setattr(hamerly, "NEIGHBOUR_BYTES", budget)
        fits[name] = KMeans(48, init=C0, algorithm="auto", tol=0).fit(X)
        assert fits[name].history_["algorithm"] == "hamerly"
        assert_same(lloyd, fits[name], X, None)
    tables, full = (fits[n].history_["distance_fraction"] for n in ("tables", "full"))
    assert tables[1:].sum() < full[1:].sum()


def test_neighbour_rule():
    # Tables when they fit NEIGHBOUR_BYTES and the rows' work per table entry
    # reaches TABLE_WORK; never for one block of centers.
    work = hamerly.TABLE_WORK
    for n, d, k, itemsize in [(500_000, 8, 64, 4), (200_000, 1, 1000, 4), (200_000, 2, 256, 4),
                              (500_000, 8, 256, 4), (10**8, 1, 1000, 4), (10**9, 16, 16, 8),
                              (10**9, 16, 17, 8), (10**9, 8, 2000, 4)]:
        kp = -(-k // 16) * 16
        want = (k > 16 and k * kp * d * itemsize <= hamerly.NEIGHBOUR_BYTES
                and n * d >= work * k * kp)
        assert hamerly.use_neighbours(n, d, k, itemsize) == want
        if n == 500_000 and d == 8 and k == 64:
            assert want  # the low-dimensional benchmark's shape keeps them
        if d <= 2 and n < 10**6:
            assert not want  # few features, many centers: their build costs more
    # The boundary: k * kp = 4096 table entries, two features.
    n, d, k = 4096 * work // 2, 2, 64
    assert hamerly.use_neighbours(n, d, k, 4) and not hamerly.use_neighbours(n - 1, d, k, 4)
    assert HamerlyBounds(np.zeros((1000, 8), np.float32), 64, 1).neighbours is False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 8])
@pytest.mark.parametrize("neighbours", [False, True])
def test_first_scan_is_tight_for_every_lane(dtype, d, neighbours, tables_anywhere):
    # The first call scans every center: the label is the float64 nearest
    # (lowest index on ties), the upper bound its distance and the lower
    # bound the second-smallest distance, to rounding, wherever in its
    # block of 16 the nearest and the second sit (centers shuffled, k from
    # one block to several, a partial last block, duplicated centers, exact
    # ties on an integer grid).
    rng = np.random.default_rng(d)
    for k in (2, 15, 16, 17, 33, 64, 80):
        X = rng.integers(-4, 5, (1500, d)).astype(dtype)
        X[:700] += rng.normal(scale=0.3, size=(700, d)).astype(dtype)
        C = rng.integers(-4, 5, (k, d)).astype(dtype)
        C[k // 2] = C[0]
        C = C[rng.permutation(k)]
        bounds = HamerlyBounds(X, k, 2)
        bounds.neighbours = neighbours and k > 16
        counts = bounds.assign(C)
        assert counts[0] >= len(X) * k
        D = np.sqrt(ref_sqdist(X, C))
        at = np.arange(len(X))
        np.testing.assert_array_equal(bounds.labels, D.argmin(axis=1))
        own = D[at, bounds.labels]
        D[at, bounds.labels] = np.inf
        second = D.min(axis=1)
        assert (bounds.upper >= own).all() and (bounds.lower <= second).all()
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(bounds.upper, own, rtol=rtol, atol=1e-6)
        np.testing.assert_allclose(bounds.lower, second, rtol=rtol, atol=1e-6)
        # Only near ties go to the float64 recomputation: the SIMD result
        # decides every other row (a merge that lost the nearest's rank or
        # the second would send rows there, with right labels).
        assert counts[2] <= np.count_nonzero(second ** 2 - own ** 2 <= 1e-4 * own ** 2 + 1e-30)
