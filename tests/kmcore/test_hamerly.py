"""Hamerly's bounds (kmcore._hamerly) against float64 NumPy, and KMeans with
them against algorithm="lloyd" from the same init.

The bounds' labels are the nearest centers by direct float64 distances. The
plain pass labels by float32 GEMM expansions, whose rounding can decide a
near tie the other way (``test_plain_pass_rounding_is_where_they_part``): the
float32 comparisons with "lloyd" use data near the origin, where that needs a
tie within about 1e-6 of the distance, and are checked on such data.
"""

import numpy as np
import pytest
from _bounds_cases import assert_same, blobs
from _bounds_cases import rows as _rows
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_reference import f64, ref_sqdist

from dynkm import KMeans, _lloyd
from kmcore import _hamerly, hamerly
from kmcore.hamerly import HamerlyBounds, center_tables


@pytest.fixture(scope="module", autouse=True)
def tables_by_size_alone():
    """The neighbour tables wherever they fit (``TABLE_WORK`` 0): these
    shapes are too small for the rule to build them, and the tests here are
    meant to run both the tables (k > 16) and the single table (k <= 16)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(hamerly, "TABLE_WORK", 0)
    yield
    mp.undo()


def _blobs(n, d, k, dtype, seed=0, std=2.0):
    """Blobs around the origin (see ``_bounds_cases.blobs``)."""
    return blobs(n, d, k, dtype, seed, std, centered=True)


def _exact_labels(X, C):
    return ref_sqdist(X, C).argmin(axis=1)  # ties: lowest index


def _check_bounds(bounds, X, C):
    """Labels are the exact nearest centers; the bounds hold and are tight after a scan."""
    D = np.sqrt(ref_sqdist(X, C))
    rows = np.arange(len(X))
    np.testing.assert_array_equal(bounds.labels, D.argmin(axis=1))
    own = D[rows, bounds.labels]
    D[rows, bounds.labels] = np.inf
    assert (bounds.upper >= own).all()
    assert (bounds.lower <= D.min(axis=1)).all()


# ------------------------------------------------------------------ kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d, k", [(1, 5), (3, 17), (8, 64), (16, 40)])
def test_assign_against_numpy(dtype, d, k):
    X = _blobs(3000, d, k, dtype, seed=d)
    C = _rows(X, k, seed=k)
    bounds = HamerlyBounds(X, k, 2)
    counts = bounds.assign(C)
    assert counts[0] >= len(X) * k and counts[1] == len(X)  # the first call: every distance
    _check_bounds(bounds, X, C)
    D = np.sqrt(ref_sqdist(X, C))
    own = D[np.arange(len(X)), bounds.labels]
    np.testing.assert_allclose(bounds.upper, own, rtol=1e-5, atol=1e-15)  # tight
    # Centers moved a little: the bounds move by the drifts, and most rows
    # are decided without a scan.
    rng = np.random.default_rng(d)
    C2 = (C + rng.normal(scale=0.01, size=C.shape)).astype(dtype)
    drift = np.sqrt(((f64(C2) - f64(C)) ** 2).sum(axis=1))
    old = bounds.labels.copy()
    counts = bounds.assign(C2, drift)
    _check_bounds(bounds, X, C2)
    assert counts[1] < len(X) // 2 or k < 16
    assert counts[3] == (bounds.labels != old).sum()


def test_far_move_and_invalidate():
    X = _blobs(2000, 4, 20, np.float64, seed=1)
    C = _rows(X, 20)
    bounds = HamerlyBounds(X, 20, 1)
    bounds.assign(C)
    C2 = C[::-1].copy()  # every center moves far: nothing can be skipped
    drift = np.sqrt(((C2 - C) ** 2).sum(axis=1))
    bounds.invalidate(np.arange(0, 2000, 7))
    bounds.assign(C2, drift)
    _check_bounds(bounds, X, C2)


def test_half_gaps_against_numpy():
    rng = np.random.default_rng(0)
    for k, d in [(1, 3), (2, 1), (30, 8), (70, 16)]:
        C = rng.normal(size=(k, d))
        out = np.empty(k)
        _hamerly._half_gaps(C, out, 2)
        D = np.sqrt(ref_sqdist(C, C)) + np.diag(np.full(k, np.inf))
        want = D.min(axis=1) / 2
        assert (out <= want).all()
        np.testing.assert_allclose(out, want, rtol=1e-9)


def _tie_data(dtype, seed=0):
    """Rows on the midpoint of two integer centers (exact ties) or nudged by
    2^-12 of their distance towards one (near ties inside the float32
    margin). Every value is a multiple of 2^-13 below 8: every distance here
    is exact in both dtypes, so the nearest center is unambiguous."""
    rng = np.random.default_rng(seed)
    B = np.unique(rng.integers(0, 6, (30, 4)).astype(np.float64), axis=0)
    pairs = rng.integers(0, len(B), (1500, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    nudge = rng.choice([-(2.0 ** -12), 0.0, 2.0 ** -12], len(pairs))[:, None]
    a, b = B[pairs[:, 0]], B[pairs[:, 1]]
    return ((a + b) / 2 + nudge * (b - a)).astype(dtype), B.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ties_and_near_ties(dtype):
    X, C = _tie_data(dtype)
    bounds = HamerlyBounds(X, len(C), 2)
    counts = bounds.assign(C)
    assert counts[2] > 0  # rows resolved by float64 distances
    np.testing.assert_array_equal(bounds.labels, _exact_labels(X, C))
    lloyd, hamerly = _fit_both(X, C, tol=0.0)
    assert_same(lloyd, hamerly, X, None)


def test_kernel_rejects_bad_arguments():
    X = np.zeros((10, 3))
    C = np.eye(4, 3)
    tab, order, radius, _ = center_tables(C, X.dtype, False)
    good = dict(X=X, centers=C, tab=tab, order=order, radius=radius,
                near_drift=np.zeros((1, 1)), half_gap=np.zeros(4),
                drift=np.zeros(4), labels=np.zeros(10, dtype=np.intp), upper=np.zeros(10),
                lower=np.zeros(10), iscratch=np.empty((1, 4096), dtype=np.intp),
                slice_counts=np.empty((1, 4), dtype=np.int64))

    def call(init=False, **changes):
        args = dict(good, **changes)
        _hamerly._hamerly_assign(*args.values(), 4096, init, 1)

    call()
    for name, bad, match in [
        ("tab", np.zeros((1, 8)), "tab.shape"),
        ("tab", np.zeros((2, 48)), "tab.shape"),
        ("order", np.zeros((1, 8), dtype=np.intp), "order.shape"),
        ("order", np.zeros((2, 16), dtype=np.intp), "order.shape"),
        ("order", np.full((1, 16), 4, dtype=np.intp), "order"),
        ("radius", np.zeros((1, 16)), "radius.shape"),
        ("near_drift", np.zeros((1, 2)), "near_drift.shape"),
        ("half_gap", np.zeros(3), "half_gap"),
        ("drift", np.zeros(5), "drift"),
        ("lower", np.zeros(9), "lower"),
        ("iscratch", np.empty((1, 100), dtype=np.intp), "iscratch"),
        ("slice_counts", np.empty((2, 4), dtype=np.int64), "slice_counts"),
        ("labels", np.full(10, 4, dtype=np.intp), "labels"),
    ]:
        with pytest.raises(ValueError, match=match):
            call(**{name: bad})
    with pytest.raises(ValueError, match="centers must have shape"):
        HamerlyBounds(X, 4, 1).assign(np.eye(5, 3))
    with pytest.raises(ValueError, match="half_gap"):
        _hamerly._half_gaps(C, np.zeros(3), 1)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), d=st.integers(1, 16), k=st.integers(1, 40),
       f32=st.booleans(), seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([1e-3, 1, 1e3]))
def test_assign_hypothesis(n, d, k, f32, seed, scale):
    dtype = np.float32 if f32 else np.float64
    rng = np.random.default_rng(seed)
    X = (scale * rng.normal(size=(n, d))).astype(dtype)
    C = (scale * rng.normal(size=(k, d))).astype(dtype)
    bounds = HamerlyBounds(X, k, 2)
    bounds.assign(C)
    _check_bounds(bounds, X, C)
    C2 = (C + scale * rng.normal(scale=0.1, size=C.shape)).astype(dtype)
    bounds.assign(C2, np.sqrt(((f64(C2) - f64(C)) ** 2).sum(axis=1)))
    _check_bounds(bounds, X, C2)


# ------------------------------------------------------------------ estimator
@pytest.fixture
def hamerly_always(monkeypatch):
    """KMeans runs Hamerly's bounds on every shape (not only where "auto" picks them)."""
    monkeypatch.setattr(_lloyd, "choose_algorithm",
                        lambda algorithm, n, k, d=None: ("hamerly", 0, "test"))


def _fit_hamerly(X, C0, w=None, **kw):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_lloyd, "choose_algorithm", lambda a, n, k, d=None: ("hamerly", 0, "test"))
        hamerly = KMeans(len(C0), init=C0, **kw).fit(X, sample_weight=w)
    assert hamerly.history_["algorithm"] == "hamerly"
    return hamerly


def _fit_both(X, C0, w=None, **kw):
    lloyd = KMeans(len(C0), init=C0, algorithm="lloyd", **kw).fit(X, sample_weight=w)
    return lloyd, _fit_hamerly(X, C0, w, **kw)


CASES = [
    # n, d, k, dtype, weighted, tol, max_iter
    (50, 1, 2, np.float64, False, 0.0, 300),
    (400, 1, 30, np.float32, True, 0.0, 300),
    (600, 2, 25, np.float32, True, 0.0, 300),
    (1000, 3, 7, np.float64, False, 1e-4, 300),
    (2000, 4, 100, np.float32, True, 0.0, 300),
    (3000, 5, 64, np.float32, False, 0.0, 4),
    (3000, 6, 17, np.float64, True, 1e-3, 300),
    (5000, 7, 50, np.float32, False, 0.0, 300),
    (5000, 8, 64, np.float64, True, 0.0, 300),
    (4000, 9, 33, np.float64, False, 1e-2, 300),
    (3000, 10, 24, np.float32, True, 0.0, 300),
    (2500, 14, 36, np.float32, False, 0.0, 300),
    (3000, 11, 80, np.float64, False, 0.0, 300),
    (3000, 12, 20, np.float32, True, 0.0, 7),
    (2000, 13, 48, np.float64, False, 0.0, 300),
    (2000, 15, 40, np.float32, False, 1e-4, 300),
    (2000, 16, 70, np.float64, True, 0.0, 300),
]


@pytest.mark.parametrize("n, d, k, dtype, weighted, tol, max_iter", CASES)
def test_same_iterations_as_lloyd(n, d, k, dtype, weighted, tol, max_iter):
    X = _blobs(n, d, k, dtype, seed=n + d)
    rng = np.random.default_rng(k)
    w = None
    if weighted:
        w = rng.uniform(0.2, 3.0, n).astype(dtype)
        w[rng.random(n) < 0.1] = 0  # zero weights: labelled, never summed
    lloyd, hamerly = _fit_both(X, _rows(X, k, seed=d), w, tol=tol, max_iter=max_iter)
    assert_same(lloyd, hamerly, X, w)
    if max_iter < 300:
        assert hamerly.n_iter_ == max_iter


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_clusters_relocated_as_lloyd(dtype):
    # Duplicate initial centers (one of each pair wins nothing) and centers
    # far from every row: clusters go empty and are refilled by the plain step.
    X = _blobs(3000, 3, 40, dtype, seed=2)
    C0 = _rows(X, 40, seed=2)
    C0[1], C0[3] = C0[0], C0[2]
    C0[-3:] = 1e3 * np.arange(1, 4)[:, None]
    w = np.random.default_rng(2).uniform(0, 2, len(X)).astype(dtype)
    lloyd, hamerly = _fit_both(X, C0, w, tol=0.0)
    assert lloyd.history_["n_relocated"].sum() >= 5
    np.testing.assert_array_equal(hamerly.history_["n_relocated"],
                                  lloyd.history_["n_relocated"])
    assert_same(lloyd, hamerly, X, w)


def test_thread_count_does_not_change_anything(hamerly_always):
    X = _blobs(20000, 6, 80, np.float32, seed=3)
    C0 = _rows(X, 80, seed=3)
    w = np.random.default_rng(3).uniform(0, 2, len(X)).astype(np.float32)
    one, two = (KMeans(80, init=C0, tol=0, n_threads=t).fit(X, sample_weight=w) for t in (1, 2))
    assert one.history_["algorithm"] == "hamerly"
    np.testing.assert_array_equal(one.labels_, two.labels_)
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)  # bitwise
    assert one.inertia_ == two.inertia_ and one.n_iter_ == two.n_iter_
    for key in ("objective", "center_shift", "distance_fraction"):
        np.testing.assert_array_equal(one.history_[key], two.history_[key])


def test_distance_fraction_falls():
    X = _blobs(20000, 4, 60, np.float32, seed=4, std=1.0)
    km = KMeans(60, init=_rows(X, 60, seed=4), tol=0).fit(X)
    assert km.history_["algorithm"] == "hamerly"  # "auto" in few dimensions
    f = km.history_["distance_fraction"]
    assert f[0] >= 1.0 and f[1:].mean() < 0.5 and f[-1] < 0.1


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 200), d=st.integers(1, 16), k=st.integers(1, 12),
       f32=st.booleans(), weighted=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_fit_hypothesis(n, d, k, f32, weighted, seed):
    # Integer rows and integer initial centers: every first-iteration distance
    # is exact in both dtypes (GEMM included), so the first labels, ties
    # too, are the same for every strategy; the centers of one iteration
    # follow from them alone.
    dtype = np.float32 if f32 else np.float64
    rng = np.random.default_rng(seed)
    X = rng.integers(-8, 9, (n, d)).astype(dtype)
    k = min(k, n)
    C0 = X[rng.choice(n, k, replace=False)]
    w = rng.uniform(0.5, 2, n).astype(dtype) if weighted else None
    lloyd, hamerly = _fit_both(X, C0, w, max_iter=1)
    np.testing.assert_allclose(hamerly.cluster_centers_, lloyd.cluster_centers_,
                               rtol=1e-6 if f32 else 1e-12)
    assert hamerly.n_iter_ == lloyd.n_iter_ == 1
    # The final labels are the exact nearest centers of the final centers.
    np.testing.assert_array_equal(hamerly.labels_,
                                  _exact_labels(X, hamerly.cluster_centers_))


def test_plain_pass_decides_near_ties_as_hamerly():
    # A float32 case with a near tie at one iteration (relative gap 4e-6,
    # inside the GEMM's rounding): the plain pass used to let rounding pick
    # the wrong center there and the two fits parted. It now recomputes near
    # ties in float64 as the bound kernels do, so every iteration agrees and
    # both objectives are the exact ones of their iterations.
    X = _blobs(4000, 9, 33, np.float32, seed=4009)
    C0 = _rows(X, 33, seed=9)
    lloyd, hamerly = _fit_both(X, C0, tol=0.01)
    np.testing.assert_array_equal(hamerly.labels_, lloyd.labels_)
    assert hamerly.n_iter_ == lloyd.n_iter_
    np.testing.assert_allclose(hamerly.history_["objective"], lloyd.history_["objective"],
                               rtol=1e-6)
    C = C0
    for i in range(hamerly.n_iter_):
        D = ref_sqdist(X, C)
        np.testing.assert_allclose(hamerly.history_["objective"][i], D.min(axis=1).sum(),
                                   rtol=1e-9)
        C = _fit_hamerly(X, C0, tol=0.01, max_iter=i + 1).cluster_centers_


# ------------------------------------------------------------------ choice
def test_auto_picks_hamerly_in_few_dimensions(monkeypatch):
    assert _lloyd.choose_algorithm("auto", 500000, 64, 8)[0] == "hamerly"
    assert _lloyd.choose_algorithm("auto", 500000, 64, 15)[0] == "hamerly"
    assert _lloyd.choose_algorithm("auto", 500000, 64, 16)[0] == "yinyang"
    assert _lloyd.choose_algorithm("auto", 500000, 16, 8)[0] == "lloyd"
    assert _lloyd.choose_algorithm("auto", 1000, 64, 8)[0] == "lloyd"
    # The names a user asks for keep their meaning in few dimensions.
    assert _lloyd.choose_algorithm("elkan", 500000, 64, 8)[:2] == ("elkan", 64)
    assert _lloyd.choose_algorithm("yinyang", 500000, 64, 8)[0] == "yinyang"
    with monkeypatch.context() as mp:
        mp.setattr(_lloyd, "BOUNDS_BUDGET", 1000)
        assert _lloyd.choose_algorithm("auto", 500000, 64, 8)[0] != "hamerly"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_far_from_origin_same_iterations_as_lloyd(dtype):
    # Hamerly's distances are direct differences, so data far from 0 need no
    # shift there; the plain pass computes around the data's mean, and the
    # objective from the sums is expanded around it (else its terms cancel).
    X = (_blobs(6000, 8, 40, np.float64, seed=11) + 1e4).astype(dtype)
    lloyd, hamerly = _fit_both(X, _rows(X, 40, seed=11), tol=0.0, max_iter=30)
    assert_same(lloyd, hamerly, X, None)
    auto = KMeans(40, init=_rows(X, 40, seed=11), tol=0.0, max_iter=30).fit(X)
    assert auto.history_["algorithm"] == "hamerly"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_assign_records_the_rows_it_relabels(dtype, n_threads):
    # The kernel's list of moved rows (three slices here, each written from
    # its own start) against a comparison of the labels before and after.
    X = _blobs(10000, 4, 30, dtype, seed=7)
    C = _rows(X, 30, seed=7)
    bounds = HamerlyBounds(X, 30, n_threads)
    bounds.assign(C, record=True)  # the first call labels every row: nothing recorded
    with pytest.raises(RuntimeError, match="did not record"):
        bounds.moved_rows()
    rng = np.random.default_rng(7)
    for _ in range(4):
        new = C + rng.normal(0, 0.3, C.shape).astype(dtype)
        drift = np.sqrt(((new.astype(np.float64) - C) ** 2).sum(axis=1))
        before = bounds.labels.copy()
        counts = bounds.assign(new, drift, record=True)
        rows, old, now = bounds.moved_rows()
        expected = np.flatnonzero(bounds.labels != before)
        assert expected.size > 0 and counts[3] == expected.size
        assert np.unique(expected // 4096).size > 1  # more than one slice moved
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_array_equal(old, before[expected])
        np.testing.assert_array_equal(now, bounds.labels[expected])
        C = new


def test_kernel_rejects_bad_moved_buffers():
    X = np.zeros((10, 3))
    C = np.eye(4, 3)
    args = (X, C, *center_tables(C, X.dtype, False)[:3], np.zeros((1, 1)), np.zeros(4),
            np.zeros(4),
            np.zeros(10, dtype=np.intp), np.zeros(10), np.zeros(10),
            np.empty((1, 4096), dtype=np.intp), np.empty((1, 4), dtype=np.int64), 4096,
            False, 1)
    _hamerly._hamerly_assign(*args, np.empty(10, dtype=np.intp), np.empty(10, dtype=np.intp))
    with pytest.raises(ValueError, match="both"):
        _hamerly._hamerly_assign(*args, np.empty(10, dtype=np.intp))
    with pytest.raises(ValueError, match="moved.shape"):
        _hamerly._hamerly_assign(*args, np.empty(9, dtype=np.intp), np.empty(9, dtype=np.intp))
