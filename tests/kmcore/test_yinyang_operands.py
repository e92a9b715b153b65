"""The Yinyang kernel's GEMM operands: rows used in place or gathered, whole
blocks or group products, against the float64 NumPy reference.

A block's rows that are consecutive rows of X go to the GEMM in place (no
copy); others are gathered into scratch. Both layouts, with the whole-block
product and with group products, must give the labels of exact arithmetic
and valid bounds, bitwise the same on 1 and 2 threads.
"""

import numpy as np
import pytest
from kernel_reference import assert_bitwise_equal, centered_tol, clear_rows, ref_sqdist
from sklearn.datasets import make_blobs

from kmcore import yinyang
from kmcore.distances import _row_norms
from kmcore.yinyang import GroupBounds, center_groups

N, D, K = 5000, 12, 40  # three slices of rows (2048 each): several blocks


def _problem(dtype, offset=0.0):
    X, _ = make_blobs(N, n_features=D, centers=K // 2, cluster_std=2.5, random_state=3)
    X = (X + offset).astype(dtype)
    C = X[np.random.default_rng(3).choice(N, K, replace=False)].copy()
    return X, C


def _fresh(X, C, n_threads):
    bounds = GroupBounds(X, _row_norms(X, True, n_threads), center_groups(C, 6), n_threads)
    bounds.assign(C)
    return bounds


def _run(X, C, layout, n_threads):
    """Labels, bounds and counts after one drift-free assign in which the rows
    of ``layout`` lost their bounds (so they need every group) and the others
    provably keep their labels."""
    bounds = _fresh(X, C, n_threads)
    lost = np.zeros(N, dtype=bool)
    lost[layout] = True
    bounds.upper[lost] = np.inf
    bounds.lower[lost] = 0
    # A kept row: its own center at distance 0 <= every other (its bound
    # stays valid for this call, which checks only the labels of lost rows).
    bounds.upper[~lost] = 0
    bounds.lower[~lost] = np.float32(np.finfo(np.float32).max)
    counts = bounds.assign(C, np.zeros(K))
    return bounds, counts, lost


LAYOUTS = {
    "consecutive": np.arange(N),          # every block in place
    "every_other": np.arange(0, N, 2),    # gathered rows
    "runs": np.flatnonzero((np.arange(N) // 37) % 3 != 1),  # runs and gaps
}



def _check_labels_and_upper(Xr, C, labels, upper, dtype):
    """The rows' labels are NumPy float64's nearest centers wherever rounding
    cannot decide otherwise, and their upper bounds reach the own distance;
    returns the rows' distances with the own center's set to inf (the
    rivals' distances, for the lower bounds' checks)."""
    D = ref_sqdist(Xr, C)
    clear = clear_rows(D, centered_tol(Xr, C, dtype))
    assert clear.mean() > 0.9  # the check below is not vacuous
    np.testing.assert_array_equal(labels[clear], D.argmin(axis=1)[clear])
    dist = np.sqrt(D)
    at = np.arange(Xr.shape[0])
    assert (upper >= dist[at, labels]).all()
    dist[at, labels] = np.inf  # the own center is not a rival
    return dist

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("whole", [0.0, np.inf], ids=["whole_block", "group_products"])
@pytest.mark.parametrize("offset", [0.0, 1e3], ids=["near_origin", "far_from_origin"])
def test_operands_give_exact_labels_and_valid_bounds(dtype, layout, whole, offset, monkeypatch):
    monkeypatch.setattr(yinyang, "_WHOLE_FRACTION", whole)
    X, C = _problem(dtype, offset)
    rows = LAYOUTS[layout]
    results = []
    for n_threads in (1, 2):
        bounds, counts, lost = _run(X, C, rows, n_threads)
        results.append((bounds.labels.copy(), bounds.upper.copy(), bounds.lower.copy(), counts))
    assert_bitwise_equal(results[0], results[1])
    labels, upper, lower, counts = results[0]
    assert counts[1] == rows.size  # exactly the rows without bounds were gathered
    # Every group of every gathered row was computed (one distance more each:
    # the own center's exact distance that tightens u).
    assert counts[0] == rows.size * (K + 1)
    dist = _check_labels_and_upper(X[lost], C, labels[lost], upper[lost], dtype)
    groups = bounds.center_group
    for g in range(bounds.n_groups):
        assert (lower[lost, g] <= dist[:, groups == g].min(axis=1)).all()
    # The kept rows were not touched.
    kept = _fresh(X, C, 1).labels[~lost]
    np.testing.assert_array_equal(labels[~lost], kept)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layout_does_not_change_a_row(dtype, monkeypatch):
    """A row's labels and bounds do not depend on whether its block went to
    the GEMM in place or gathered (the GEMM sees the same values)."""
    monkeypatch.setattr(yinyang, "_WHOLE_FRACTION", np.inf)
    X, C = _problem(dtype)
    inplace, _, _ = _run(X, C, LAYOUTS["consecutive"], 2)
    rows = LAYOUTS["every_other"]
    gathered, _, _ = _run(X, C, rows, 2)
    np.testing.assert_array_equal(gathered.labels[rows], inplace.labels[rows])
    # The bounds come from GEMM products of different row counts: BLAS may
    # round them differently, each within the kernel's own error margin.
    rtol = 64 * np.finfo(dtype).eps * np.sqrt(D) + 1e-6
    np.testing.assert_allclose(gathered.upper[rows], inplace.upper[rows], rtol=rtol)
    np.testing.assert_allclose(gathered.lower[rows], inplace.lower[rows], rtol=rtol)


# Group sizes around the products' strips of centers (16 float32 or 8 float64
# centers of 64 bytes): one center, one short of a strip, a strip, one over,
# several strips and a remainder.
STRIP_GROUPS = [1, 7, 8, 9, 15, 16, 17, 33]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["every_other", "runs"])
@pytest.mark.parametrize("offset", [0.0, 1e3], ids=["near_origin", "far_from_origin"])
def test_group_products_across_strips(dtype, layout, offset, monkeypatch):
    """Group products of groups that fill their strips of centers partly,
    exactly and over several strips, for rows whose count is no multiple of
    the products' tile of rows: exact labels, valid bounds that are within
    the products' error margin of the distances (so not trivially loose),
    bitwise the same on 1 and 2 threads."""
    monkeypatch.setattr(yinyang, "_WHOLE_FRACTION", np.inf)
    k, d = sum(STRIP_GROUPS), 37
    X, _ = make_blobs(N, n_features=d, centers=30, cluster_std=4.0, random_state=5)
    X = (X + offset).astype(dtype)
    C = X[np.random.default_rng(5).choice(N, k, replace=False)].copy()
    groups = np.repeat(np.arange(len(STRIP_GROUPS)), STRIP_GROUPS)
    groups = groups[np.random.default_rng(6).permutation(k)]  # members not in index order
    rows = LAYOUTS[layout]
    kept = np.ones(N, dtype=bool)
    kept[rows] = False
    results = []
    for n_threads in (1, 2):
        bounds = GroupBounds(X, _row_norms(X, True, n_threads), groups, n_threads)
        bounds.assign(C)
        # The layout's rows need every group of a drift-free call, the others
        # provably keep their labels (see _run).
        bounds.upper[rows] = np.inf
        bounds.lower[rows] = 0
        bounds.upper[kept] = 0
        bounds.lower[kept] = np.float32(np.finfo(np.float32).max)
        counts = bounds.assign(C, np.zeros(k))
        results.append((bounds.labels.copy(), bounds.upper.copy(), bounds.lower.copy(), counts))
    assert_bitwise_equal(results[0], results[1])
    labels, upper, lower, counts = results[0]
    assert counts[0] == rows.size * (k + 1)
    dist = _check_labels_and_upper(X[rows], C, labels[rows], upper[rows], dtype)
    # The products' operands: rows and centers minus the origin, if any.
    origin = bounds.origin if bounds.origin.shape[0] else np.zeros(d)
    x2 = ((X[rows] - origin) ** 2).sum(axis=1)
    c2 = ((C - origin) ** 2).sum(axis=1)
    for g in range(len(STRIP_GROUPS)):
        members = groups == g
        near = dist[:, members].min(axis=1)
        assert (lower[rows, g] <= near).all()
        rival = np.isfinite(near)  # a group of one has no rival for its own rows
        margin = 2 * bounds.rel_err * (x2[rival] + c2[members].max())
        floor = np.sqrt(np.maximum(near[rival] ** 2 - margin, 0)) * (1 - 1e-6)
        assert (lower[rows, g][rival] >= floor).all()
