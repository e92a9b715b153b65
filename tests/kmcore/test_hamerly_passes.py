"""The per-row passes of kmcore._hamerly: the first scan by blocks of rows,
the vectorised global filter of later calls, and the objective's
``sum(w ||x - origin||^2)`` (``kmcore.distances.weighted_sqnorm_sum``, the objective term
Hamerly, Yinyang and dask share).

Each is checked against what it replaces, bit for bit: the first scan of a
whole array against the same rows scanned one at a time (a call of one row
never takes the blocked loop), the filter's bounds against the global test
written in NumPy, the sum against float64 NumPy; and for 1 and 2 threads.
"""

import numpy as np
import pytest
from _bounds_cases import blobs
from kernel_reference import f64, ref_sqdist

from kmcore import hamerly
from kmcore.distances import weighted_sqnorm_sum
from kmcore.hamerly import HamerlyBounds, center_tables

# The kernel's slice of rows (hamerly._SLICE_ROWS): the cases cross it.
SLICE = 4096


def _data(n, d, k, dtype, seed=0):
    rows = blobs(n + k, d, k, dtype, seed, std=1.5, centered=True)
    return rows[:n].copy(), rows[n:].copy()


def _tie_rows(dtype, n, d, k, seed=0):
    """Integer rows and centers (many exact ties, every distance exact), some
    nudged by 2^-12 (near ties inside the float32 margin)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(-3, 4, (n, d)).astype(np.float64)
    X[::3] += 2.0 ** -12
    C = rng.integers(-3, 4, (k, d)).astype(np.float64)
    return X.astype(dtype), C.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, d, k, ties", [
    (1, 8, 64, False), (3, 8, 20, False), (4, 2, 17, False), (7, 8, 64, True),
    (SLICE + 6, 8, 64, False), (2 * SLICE + 3, 3, 40, True), (1001, 13, 5, True),
])
def test_first_scan_by_blocks_of_rows_is_the_one_row_scan(dtype, n, d, k, ties):
    # The first call compares blocks of rows with every center at once; the
    # rows left over at the end of each slice go one at a time. Either way
    # each row's label and bounds are those of scanning it alone.
    X, C = _tie_rows(dtype, n, d, k) if ties else _data(n, d, k, dtype)
    whole = {}
    for n_threads in (1, 2):
        bounds = HamerlyBounds(X, k, n_threads)
        bounds.assign(C)
        whole[n_threads] = (bounds.labels.copy(), bounds.upper.copy(), bounds.lower.copy())
    for a, b in zip(whole[1], whole[2], strict=True):
        assert a.tobytes() == b.tobytes()
    single = [HamerlyBounds(X[i:i + 1], k, 1) for i in range(min(n, 300))]
    for one in single:
        one.neighbours = False  # one row: the table in index order, as the first scan uses
    for i, one in enumerate(single):
        one.assign(C)
        assert one.labels[0] == whole[1][0][i]
        assert one.upper[0].tobytes() == whole[1][1][i].tobytes()
        assert one.lower[0].tobytes() == whole[1][2][i].tobytes()
    np.testing.assert_array_equal(whole[1][0], ref_sqdist(X, C).argmin(axis=1))


def _global_test(labels, upper, lower, drift, half_gap):
    """Hamerly's global test in NumPy, the kernel's float64 operations in its order:
    (u, g, keeps)."""
    top = np.argmax(drift)  # the first of the largest: the kernel's drift_arg
    others = np.where(np.arange(len(drift)) == top, -np.inf, drift).max(initial=0.0)
    u = upper + drift[labels]
    g = lower - np.where(labels == top, others, drift.max()) if drift.max() > 0 else lower - 0.0
    g = np.where(g > 0, g, 0.0)
    m = np.where(g > half_gap[labels], g, half_gap[labels])
    return u, g, u * (1 + 1e-9) < m


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("neighbours", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_filter_moves_the_bounds_of_the_rows_it_keeps(dtype, neighbours, n_threads):
    # After the centers move, a row that passes the global test keeps its
    # label, its upper bound grows by its center's drift and its lower bound
    # falls by the largest drift of the other centers, in float64, exactly
    # as the scalar test computed them; the rows that fail are recomputed
    # (valid bounds, exact labels).
    X, C = _data(3 * SLICE + 77, 8, 40, dtype, seed=3)
    bounds = HamerlyBounds(X, 40, n_threads)
    bounds.neighbours = neighbours
    bounds.assign(C)
    rng = np.random.default_rng(1)
    for step in range(3):
        moved = (C + rng.normal(scale=0.05 * (step + 1), size=C.shape) / 4).astype(dtype)
        drift = np.sqrt(((f64(moved) - f64(C)) ** 2).sum(axis=1))
        drift[7] = drift.max() * 2  # one center moves most: the others' largest is drift2
        labels, upper, lower = bounds.labels.copy(), bounds.upper.copy(), bounds.lower.copy()
        half_gap = center_tables(moved, dtype, False)[3]
        u, g, keeps = _global_test(labels, upper, lower, drift * hamerly._DRIFT_SLACK, half_gap)
        bounds.assign(moved, drift)
        assert len(X) // 10 < keeps.sum() < len(X)
        np.testing.assert_array_equal(bounds.labels[keeps], labels[keeps])
        assert bounds.upper[keeps].tobytes() == u[keeps].tobytes()
        if not neighbours:
            # (with the tables, a row the global test fails may still pass
            # by its neighbours' drifts; here it is kept or recomputed)
            assert bounds.lower[keeps].tobytes() == g[keeps].tobytes()
        D = np.sqrt(ref_sqdist(X, moved))
        at = np.arange(len(X))
        np.testing.assert_array_equal(bounds.labels, D.argmin(axis=1))
        own = D[at, bounds.labels]
        D[at, bounds.labels] = np.inf
        assert (bounds.upper >= own).all() and (bounds.lower <= D.min(axis=1)).all()
        C = moved


@pytest.mark.parametrize("bad", [-1, 5])
def test_labels_out_of_range_raise_and_change_nothing(bad):
    X, C = _data(2 * SLICE + 5, 3, 5, np.float32)
    bounds = HamerlyBounds(X, 5, 2)
    bounds.assign(C)
    labels = bounds.labels
    labels[SLICE + 3] = bad  # in the second slice: the first is not updated either
    upper, lower = bounds.upper.copy(), bounds.lower.copy()
    before = labels.copy()
    with pytest.raises(ValueError, match="labels"):
        bounds.assign(C, np.full(5, 0.1))
    np.testing.assert_array_equal(labels, before)
    assert bounds.upper.tobytes() == upper.tobytes()
    assert bounds.lower.tobytes() == lower.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("far", [False, True])
def test_weighted_sqnorm_sum_against_numpy(dtype, weighted, far):
    rng = np.random.default_rng(2)
    n = 2 * SLICE + 123
    X = rng.normal(size=(n, 5)).astype(dtype)
    origin = None
    if far:
        X += dtype(1000)
        origin = f64(X[:100]).mean(axis=0)
    w = rng.random(n).astype(dtype) if weighted else None
    diff = f64(X) - (0 if origin is None else origin)
    want = float(np.einsum("ij,ij->i", diff, diff) @ (np.ones(n) if w is None else f64(w)))
    got = {t: weighted_sqnorm_sum(X, w, origin, t) for t in (1, 2)}
    assert got[1] == got[2]  # fixed slices: thread-independent
    np.testing.assert_allclose(got[1], want, rtol=1e-12)
    assert weighted_sqnorm_sum(X[:0], None if w is None else w[:0], origin, 2) == 0.0


def test_weighted_sqnorm_sum_names_bad_arguments_and_takes_other_layouts():
    """The public wrapper: errors name the argument; weights of another dtype and
    non-contiguous X are converted, not refused with a buffer error."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 6))
    want = weighted_sqnorm_sum(np.ascontiguousarray(X[:, ::2]), np.arange(40.0), None)
    assert weighted_sqnorm_sum(X[:, ::2], np.arange(40, dtype=np.int64), None) == want
    for args, error, match in [
        ((X.astype(np.int64), None, None), TypeError, "X"),
        ((X[0], None, None), TypeError, "X"),
        ((X, np.ones(39), None), ValueError, "sample_weight"),
        ((X, None, np.zeros(5)), ValueError, "origin"),
    ]:
        with pytest.raises(error, match=match):
            weighted_sqnorm_sum(*args)
