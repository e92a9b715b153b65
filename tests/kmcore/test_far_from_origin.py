"""Data far from the origin, and the soft assignment's finiteness.

float32 data at offset + N(0, 1): the GEMM expansion ||x||^2 - 2 x.c + ||c||^2
cancels (at 1e4 in 8-D nothing is left of the distances), so the kernels
compute around a nearby origin (``kmcore._origin``). Here every kernel is
checked against a float64 reference at offsets 1e3..1e5, and data near the
origin are checked to take the unshifted path, bit for bit.
"""

import numpy as np
import pytest
from kernel_reference import (
    assert_bitwise_equal,
    centered_tol,
    clear_rows,
    f64,
    ref_means,
    ref_soft,
    ref_sqdist,
)

import kmcore

OFFSETS = [1e3, 1e4, 1e5]


def blobs(offset, dtype=np.float32, n=2400, d=8, seed=0):
    """Three unit blobs 3 apart, at ``offset`` in every coordinate."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    Z[: n // 3] += 3.0
    Z[n // 3: 2 * n // 3, :2] -= 3.0
    return (offset + Z).astype(dtype)


def pick_rows(X, k, seed=1):
    rng = np.random.default_rng(seed)
    return X[np.sort(rng.choice(X.shape[0], k, replace=False))].copy()


@pytest.fixture
def never_shift(monkeypatch):
    monkeypatch.setattr("kmcore._origin.SHIFT_FACTOR", np.inf)


# --------------------------------------------------------------------------
# Labels, distances, steps
# --------------------------------------------------------------------------


@pytest.mark.parametrize("offset", OFFSETS)
def test_assign_far_from_origin_matches_float64(offset):
    X = blobs(offset)
    C = pick_rows(X, 6)
    labels, dist = kmcore.assign(X, C)
    D = ref_sqdist(X, C)
    tol = centered_tol(X, C, np.float32)
    clear = clear_rows(D, tol)
    assert clear.mean() > 0.95
    assert np.array_equal(labels[clear], D.argmin(axis=1)[clear])
    rows = np.arange(X.shape[0])
    chosen = D[rows, labels]
    assert np.all(np.abs(f64(dist) - chosen) <= tol[rows, labels] + 1e-6 * chosen)


@pytest.mark.parametrize("offset", OFFSETS)
def test_assign_far_from_origin_without_the_shift_falls_back_to_direct(offset, never_shift):
    """The control: with the shift turned off the expansion cancels for every row
    (it used to give wrong labels); the near-tie rule now sends those rows to
    direct float64 distances, so the labels are still right, only slower."""
    X = blobs(offset)
    C = pick_rows(X, 6)
    labels, _ = kmcore.assign(X, C)
    D = ref_sqdist(X, C)
    clear = clear_rows(D, centered_tol(X, C, np.float32))
    assert clear.mean() > 0.5
    assert np.array_equal(labels[clear], D.argmin(axis=1)[clear])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", OFFSETS)
def test_lloyd_step_far_from_origin_matches_float64(offset, dtype):
    X = blobs(offset, dtype)
    C = pick_rows(X, 6)
    w = np.random.default_rng(3).uniform(0.5, 2.0, X.shape[0])
    step = kmcore.lloyd_step(X, C, sample_weight=w)
    D = ref_sqdist(X, C)
    tol = centered_tol(X, C, dtype)
    clear = clear_rows(D, tol)
    assert np.array_equal(step.labels[clear], D.argmin(axis=1)[clear])
    w_eff = f64(w.astype(dtype))
    means, weights = ref_means(X, step.labels, 6, w_eff)
    # The means are summed in float64 and rounded once: within an ulp at the offset.
    atol = float(np.spacing(dtype(offset + 10))) + 1e-12 * offset
    np.testing.assert_allclose(f64(step.centers), means, rtol=0, atol=atol)
    np.testing.assert_allclose(step.counts, weights, rtol=1e-12)
    chosen = D[np.arange(X.shape[0]), step.labels]
    np.testing.assert_allclose(step.inertia, w_eff @ chosen, rtol=1e-5)


@pytest.mark.parametrize("offset", OFFSETS)
def test_pairwise_sqdist_far_from_origin_matches_float64(offset):
    X = blobs(offset, n=300)
    Y = pick_rows(X, 40)
    D = kmcore.pairwise_sqdist(X, Y)
    ref = ref_sqdist(X, Y)
    assert np.all(np.abs(f64(D) - ref) <= centered_tol(X, Y, np.float32))


def split_blob(offset):
    """One Gaussian blob: its 2-means split leaves many rows near the hyperplane."""
    rng = np.random.default_rng(4)
    return (offset + rng.standard_normal((3000, 8))).astype(np.float32)


@pytest.mark.parametrize("offset", [1e4, 1e5, 1e6])
def test_split_two_far_from_origin_is_a_fixed_point(offset):
    X = split_blob(offset)
    centers, labels = kmcore.split_two(X, random_state=0, max_iter=1000)
    D = ref_sqdist(X, centers)
    clear = clear_rows(D, centered_tol(X, centers, np.float32))
    assert clear.mean() > 0.95
    assert np.array_equal(labels[clear], D.argmin(axis=1)[clear])
    means, _ = ref_means(X, labels, 2)
    np.testing.assert_allclose(f64(centers), means, rtol=0,
                               atol=np.spacing(np.float32(offset + 10)))


def test_split_two_far_from_origin_was_wrong_without_the_shift(never_shift):
    """The control: the hyperplane test x.(c1 - c0) against a threshold cancels."""
    X = split_blob(1e6)
    centers, labels = kmcore.split_two(X, random_state=0, max_iter=1000)
    D = ref_sqdist(X, centers)
    clear = clear_rows(D, centered_tol(X, centers, np.float32))
    assert (labels[clear] != D.argmin(axis=1)[clear]).mean() > 0.005


@pytest.mark.parametrize("offset", OFFSETS)
def test_soft_update_far_from_origin_matches_float64(offset):
    X = blobs(offset)
    C = pick_rows(X, 5)
    R = kmcore.soft_assign(X, C, beta=0.5)
    centers, mass = kmcore.soft_update(X, R)
    R64 = f64(R)
    ref = (R64.T @ f64(X)) / R64.sum(axis=0)[:, None]
    np.testing.assert_allclose(mass, R64.sum(axis=0), rtol=1e-10)
    # Rounded once at the offset; a float32 product of raw rows is ~3x worse.
    np.testing.assert_allclose(f64(centers), ref, rtol=0,
                               atol=0.6 * np.spacing(np.float32(offset + 10)))


# --------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("offset", OFFSETS)
def test_kmeans_plusplus_far_from_origin_picks_as_at_the_origin(offset, weighted):
    X = blobs(offset, n=2000)
    # The same geometry at the origin: X - offset is exact in float32.
    X0 = (X - np.float32(offset)).astype(np.float64)
    w = np.random.default_rng(5).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    for seed in range(3):
        _, idx = kmcore.kmeans_plusplus(X, 12, sample_weight=w, random_state=seed)
        assert len(np.unique(idx)) == 12
        _, idx0 = kmcore.kmeans_plusplus(X0, 12, sample_weight=w, random_state=seed)
        assert np.array_equal(idx, idx0)


@pytest.mark.parametrize("shift", ["auto", "off"])
@pytest.mark.parametrize("offset", OFFSETS)
def test_seeding_never_picks_a_row_twice_far_from_origin(offset, shift, monkeypatch):
    """The issue's data, 1e4 + N(0, 1) in 8-D, where the same row came six times.

    Also with the shift turned off: a row's distance to a chosen row near it
    is computed directly, so a chosen row has potential 0.
    """
    if shift == "off":
        monkeypatch.setattr("kmcore._origin.SHIFT_FACTOR", np.inf)
    rng = np.random.default_rng(8)
    X = (offset + rng.standard_normal((2000, 8))).astype(np.float32)
    for seed in range(4):
        _, idx = kmcore.kmeans_plusplus(X, 12, random_state=seed)
        assert len(np.unique(idx)) == 12
        _, idx = kmcore.farthest_first(X, 12, random_state=seed)
        assert len(np.unique(idx)) == 12


@pytest.mark.parametrize("offset", OFFSETS)
def test_farthest_first_far_from_origin_picks_as_at_the_origin(offset):
    X = blobs(offset, n=2000)
    X0 = (X - np.float32(offset)).astype(np.float64)
    _, idx = kmcore.farthest_first(X, 15, random_state=0)
    _, idx0 = kmcore.farthest_first(X0, 15, random_state=0)
    assert np.array_equal(idx, idx0)


# --------------------------------------------------------------------------
# Data near the origin keep the unshifted path, bit for bit
# --------------------------------------------------------------------------


def near_origin_sets():
    from sklearn.datasets import load_digits, make_blobs

    rng = np.random.default_rng(6)
    digits = load_digits().data[:600]
    return {
        "gaussian": rng.standard_normal((700, 10)),
        "blobs": make_blobs(700, 6, centers=5, random_state=0)[0],
        "digits": digits,  # pixels 0..16, like MNIST's 0..255
        "digits_f32": digits.astype(np.float32),
    }


NEAR = near_origin_sets()


def every_kernel(X):
    C = X[::97][:7].copy()
    w = np.linspace(0.5, 2.0, X.shape[0])
    R = kmcore.soft_assign(X, C, beta=0.05)
    return {
        "assign": kmcore.assign(X, C),
        "lloyd_step": tuple(kmcore.lloyd_step(X, C, sample_weight=w)[:5]),
        "pairwise_sqdist": kmcore.pairwise_sqdist(X, C),
        "soft_assign": R,
        "soft_update": kmcore.soft_update(X, R),
        "kmeans_plusplus": kmcore.kmeans_plusplus(X, 9, sample_weight=w, random_state=0),
        "farthest_first": kmcore.farthest_first(X, 9, random_state=0),
        "split_two": kmcore.split_two(X, random_state=0),
    }


@pytest.mark.parametrize("name", list(NEAR))
def test_near_origin_results_are_those_of_the_unshifted_path(name, monkeypatch):
    X = NEAR[name]
    assert kmcore._origin.data_origin(X) is None
    default = every_kernel(X)
    monkeypatch.setattr("kmcore._origin.SHIFT_FACTOR", np.inf)
    unshifted = every_kernel(X)
    for kernel in default:
        assert_bitwise_equal(default[kernel], unshifted[kernel])


def test_far_data_do_take_the_shifted_path(monkeypatch):
    """The control of the test above: there, forcing the shift off changes results."""
    X = blobs(1e4, n=700)
    assert kmcore._origin.data_origin(X) is not None
    default = every_kernel(X)
    monkeypatch.setattr("kmcore._origin.SHIFT_FACTOR", np.inf)
    unshifted = every_kernel(X)
    # (The seeding and the split may end the same either way: their tests are above.)
    for kernel in ["assign", "lloyd_step", "pairwise_sqdist", "soft_assign", "soft_update"]:
        a, b = default[kernel], unshifted[kernel]
        a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
        assert any(not np.array_equal(x, y) for x, y in zip(a, b, strict=True)), kernel


# --------------------------------------------------------------------------
# Soft assignment: finite, normalised, accurate
# --------------------------------------------------------------------------


def test_soft_assign_issue_example_is_finite():
    """The nearest term was exp(beta * rounding) = inf; now it is exactly exp(0)."""
    X = np.array([[2602.0]], dtype=np.float32)
    C = np.array([[-711.1934]], dtype=np.float32)
    R = kmcore.soft_assign(X, C, beta=1000)
    assert R.dtype == np.float32
    assert np.array_equal(R, [[1.0]])


@pytest.mark.parametrize("beta", [1e-3, 1e-1, 1.0, 10.0, 1e3])
@pytest.mark.parametrize("norm", [1e4, 3e4, 1e5])
def test_soft_assign_float32_large_norms(norm, beta):
    rng = np.random.default_rng(int(np.log10(norm) * 10 + np.log10(beta) * 3 + 50))
    d, k = 6, 5
    direction = rng.standard_normal(d)
    direction *= norm / np.linalg.norm(direction)
    X = (direction + 3 * rng.standard_normal((400, d))).astype(np.float32)
    C = (direction + 3 * rng.standard_normal((k, d))).astype(np.float32)
    # Also centers on the far side of the origin, as in the issue's example.
    C[0] = -C[0]
    R = kmcore.soft_assign(X, C, beta=beta)
    assert np.all(np.isfinite(R))
    assert np.all(R >= 0)
    np.testing.assert_allclose(f64(R).sum(axis=1), 1.0, atol=k * np.finfo(np.float32).eps)
    ref, D = ref_soft(X, C, beta)
    # Well conditioned where beta times the distance error is small.
    err = beta * centered_tol(X, C, np.float32).max(axis=1, where=ref > 1e-30, initial=0.0)
    good = err < 1e-2
    if beta <= 10:
        assert good.mean() > 0.9
    assert np.all(np.abs(f64(R) - ref)[good] <= (3 * err[good] + 1e-6)[:, None])
    # Where the nearest center is clear, it has the largest responsibility.
    tol = centered_tol(X, C, np.float32)
    clear = clear_rows(D, tol)
    assert clear.mean() > 0.9
    assert np.array_equal(R.argmax(axis=1)[clear], D.argmin(axis=1)[clear])


@pytest.mark.parametrize("data", ["spread_1e3", "spread_1e4", "offset_1e4"])
def test_soft_kmeans_reports_finite_mass_and_objective(data):
    """The estimator on float32 data of large norms: never NaN (read-only use of dynkm).

    With rows 1e3..1e4 from their nearest center, beta = 1e3 made the nearest
    term exp(beta * rounding) overflow.
    """
    dynkm = pytest.importorskip("dynkm")
    rng = np.random.default_rng(9)
    scale, offset = {"spread_1e3": (1e3, 0.0), "spread_1e4": (1e4, 0.0),
                     "offset_1e4": (1.0, 1e4)}[data]
    X = (offset + scale * rng.standard_normal((300, 4))).astype(np.float32)
    for beta in [1e-3, 1.0, 1e3]:
        model = dynkm.SoftKMeans(3, beta=beta, random_state=0, max_iter=10).fit(X)
        for value in (model.cluster_centers_, model.counts_, model.inertia_,
                      model.history_["objective"]):
            assert np.all(np.isfinite(value)), beta


# --------------------------------------------------------------------------
# The estimator (read-only here): same SSE as scikit-learn from the same init
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", OFFSETS)
def test_kmeans_far_from_origin_reaches_sklearn_sse(offset, dtype):
    dynkm = pytest.importorskip("dynkm")
    from sklearn.cluster import KMeans as SKKMeans

    X = blobs(offset, dtype, n=3000)
    C0 = pick_rows(X, 6, seed=7)
    ours = dynkm.KMeans(6, init=C0, n_init=1, max_iter=100, tol=0).fit(X)
    theirs = SKKMeans(6, init=C0, n_init=1, max_iter=100, tol=0, algorithm="lloyd").fit(X)

    def sse(labels):
        means, _ = ref_means(X, labels, 6)
        return float(((f64(X) - means[labels]) ** 2).sum())

    # float32 centers at 1e5 are quantised to 1/128 while Lloyd runs (scikit-
    # learn keeps them centered): a few boundary rows may settle differently.
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    assert sse(ours.labels_) <= sse(theirs.labels_) * (1 + rtol)
