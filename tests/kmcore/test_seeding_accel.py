"""Exact acceleration of greedy k-means++: the skipped rows change no pick.

The accelerated seeding computes only the rows that some candidate may come
closer to (triangle inequality with a rounding margin) and must pick bitwise
the rows of the plain pass over every row. The plain pass is the same code
with gathering switched off (``_GATHER_BELOW = 0``: every step reads every
row, as before the acceleration); the accelerated one is forced to gather at
every step (``_GATHER_BELOW`` above 1). For float64 data both must also pick
the rows of a plain float64 NumPy k-means++ drawing from the same
RandomState. Float32 data are compared with the plain pass only: their
distances come from a float32 GEMM, whose rounding (about 1e-6 of a distance)
moves the cumulative sums the draws search by more than a float64 reference's,
so a draw landing that close to the boundary between two rows picks the other
row (with 10^4 rows about one draw in 10^2); bitwise equality to NumPy is not
a property float32 arithmetic can have.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kmcore
from kmcore import _seeding, _seeding_bounds, seeding
from kmcore._origin import data_origin


def force_projection(monkeypatch, dims=64):
    """Projection bounds on any shape, with at most ``dims`` directions."""
    for name, value in [("PROJECTION_MIN_DIMS", 1), ("PROJECTION_MIN_ROWS", 0),
                        ("PROJECTION_MIN_CENTERS", 0), ("PROJECTION_MEMORY", 1e9),
                        ("PROJECTION_DIMS", dims)]:
        monkeypatch.setattr(_seeding_bounds, name, value)


def plusplus(X, k, sample_weight=None, n_local_trials=None, seed=0, n_threads=1, gather=None,
             stats=None, monkeypatch=None, projection=None):
    """kmcore's k-means++ with the bounds' gathering forced on (True), every row computed
    by the plain pass (False) or by the filtered pass without gathering ("whole"), or as
    shipped (None).

    ``projection``: None as shipped, False never, or the most directions of
    projection bounds forced on whatever the shape.
    """
    if gather is False:
        # The plain pass at every step, as before the acceleration: the reference.
        def plain(self, candidate_rows, closest, need, need_given, projection, tile_rows=None):
            return self.run(candidate_rows, closest), len(closest), len(closest)
        monkeypatch.setattr(seeding._CandidatePass, "run_filtered", plain)
    elif gather is not None:
        monkeypatch.setattr(seeding, "_GATHER_BELOW", 2.0 if gather is True else 0.0)
    if projection is False or gather is False:
        # The plain pass reads every row: no bounds to set up either.
        monkeypatch.setattr(_seeding_bounds, "PROJECTION_MIN_ROWS", np.inf)
    elif projection is not None:
        force_projection(monkeypatch, projection)
    L = 2 + int(np.log(k)) if n_local_trials is None else n_local_trials
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=X.dtype)
    _, idx = seeding._kmeans_plusplus(X, kmcore.row_norms(X), k, w, L,
                                      np.random.RandomState(seed), n_threads, stats)
    monkeypatch.undo() if monkeypatch is not None else None
    return idx


def numpy_plusplus(X, k, sample_weight=None, n_local_trials=None, seed=0, follow=None):
    """Greedy k-means++ in plain float64 NumPy, drawing as kmcore does.

    Where two candidates' potentials agree to 1e-12 (say two isolated rows
    that are each other's nearest: adding either leaves the same potential)
    rounding alone decides; there the row ``follow`` picked is taken if it is
    one of them, so that the comparison goes on.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    L = 2 + int(np.log(k)) if n_local_trials is None else n_local_trials
    rng = np.random.RandomState(seed)
    p = np.full(n, 1.0 / n) if sample_weight is None else w / w.sum()
    indices = [int(rng.choice(n, p=p))]
    closest = ((X - X[indices[0]]) ** 2).sum(axis=1)
    pot = np.cumsum(w * closest)[-1]
    for _ in range(1, k):
        targets = rng.uniform(size=L) * pot
        mass = w * closest
        cum = np.cumsum(mass)
        positive = np.flatnonzero(mass > 0)
        candidates = []
        for t in targets:
            i = int(np.searchsorted(cum, t))
            # The first row of positive mass whose cumulative sum reaches t;
            # past the end, the last row of positive mass (or of positive weight).
            if i >= n or mass[i] <= 0:
                later = positive[positive >= min(i, n)]
                if later.size:
                    i = int(later[0])
                elif positive.size:
                    i = int(positive[-1])
                else:
                    i = int(np.flatnonzero(w > 0)[-1])
            candidates.append(i)
        trial = [np.minimum(closest, ((X - X[c]) ** 2).sum(axis=1)) for c in candidates]
        pots = [np.cumsum(w * d)[-1] for d in trial]
        best = int(np.argmin(pots))
        if follow is not None:
            tied = [j for j, q in enumerate(pots) if q <= pots[best] * (1 + 1e-12)]
            best = next((j for j in tied if candidates[j] == follow[len(indices)]), best)
        pot, closest = pots[best], trial[best]
        indices.append(candidates[best])
    return np.array(indices)


def mixture(n, d, groups, spread, dtype, seed=0, offset=0.0):
    rng = np.random.RandomState(seed)
    means = rng.normal(size=(groups, d)) * 10 + offset
    return (means[rng.randint(groups, size=n)] + spread * rng.normal(size=(n, d))).astype(dtype)


@pytest.mark.parametrize("projection", [False, 8])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n, d, groups, k", [(400, 3, 8, 30), (600, 20, 30, 60), (300, 64, 5, 40),
                                             (150, 2, 150, 150)])
def test_float64_picks_the_rows_of_numpy(n, d, groups, k, weighted, projection, monkeypatch):
    X = mixture(n, d, groups, 0.5, np.float64)
    w = np.random.RandomState(1).uniform(0.1, 3.0, n) if weighted else None
    fast = plusplus(X, k, w, gather=True, monkeypatch=monkeypatch, projection=projection)
    np.testing.assert_array_equal(fast, numpy_plusplus(X, k, w, follow=fast))
    np.testing.assert_array_equal(plusplus(X, k, w), fast)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(2, 300), d=st.integers(1, 40), groups=st.integers(1, 40),
       spread=st.sampled_from([0.0, 1e-3, 0.3, 3.0]), dtype=st.sampled_from([np.float32,
                                                                            np.float64]),
       offset=st.sampled_from([0.0, 1e4]), weights=st.sampled_from(["none", "random", "zeros"]),
       duplicates=st.booleans(), k_frac=st.floats(0.0, 1.0), trials=st.sampled_from([None, 1, 5]),
       projection=st.sampled_from([None, 1, 3, 64]), tile=st.sampled_from([1, 40, 1024]),
       seed=st.integers(0, 2**31 - 1))
def test_accelerated_picks_the_rows_of_the_plain_pass(n, d, groups, spread, dtype, offset, weights,
                                                      duplicates, k_frac, trials, projection,
                                                      tile, seed):
    # projection: None for the shipped rule (off at these sizes: the
    # triangle bounds alone), else that many directions at most (all of
    # them when d is smaller: the bound is then the distance itself, and
    # only the margins keep it exact).
    with pytest.MonkeyPatch.context() as mp:
        X = mixture(n, d, groups, spread, dtype, seed % 1000, offset)
        if duplicates:
            X[1::2] = X[::2][: X[1::2].shape[0]]
        rng = np.random.RandomState(seed % 997)
        w = {"none": None, "random": rng.uniform(0.0, 2.0, n),
             "zeros": np.where(rng.rand(n) < 0.5, 0.0, 1.0)}[weights]
        if w is not None and not (w > 0).any():
            w[0] = 1.0
        k = max(1, int(round(k_frac * n)))
        # Chunks of 8 rows and tiles of one, five or all chunks, so that rows
        # cross tiles and tiles are gathered or computed whole.
        def small():
            mp.setattr(seeding, "block_sizes", lambda *shape: (8, shape[2]))
            mp.setattr(seeding, "_TILE_ROWS", tile)
        small()
        plain = plusplus(X, k, w, trials, seed, gather=False, monkeypatch=mp)
        small()
        fast = plusplus(X, k, w, trials, seed, gather=True, monkeypatch=mp, projection=projection)
        np.testing.assert_array_equal(fast, plain)
        small()
        np.testing.assert_array_equal(plusplus(X, k, w, trials, seed, n_threads=2, gather=True,
                                               monkeypatch=mp, projection=projection), plain)
        small()
        np.testing.assert_array_equal(plusplus(X, k, w, trials, seed, n_threads=2,
                                               gather="whole", monkeypatch=mp,
                                               projection=projection), plain)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_k_equal_n_and_all_rows_equal(dtype, monkeypatch):
    X = mixture(50, 4, 5, 0.2, dtype)
    plain = plusplus(X, 50, gather=False, monkeypatch=monkeypatch)
    assert sorted(plain.tolist()) == list(range(50))
    np.testing.assert_array_equal(plusplus(X, 50, gather=True, monkeypatch=monkeypatch), plain)
    same = np.ones((40, 3), dtype=dtype)
    np.testing.assert_array_equal(plusplus(same, 5, gather=True, monkeypatch=monkeypatch),
                                  plusplus(same, 5, gather=False, monkeypatch=monkeypatch))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_public_kmeans_plusplus_thread_independent(dtype):
    X = mixture(3000, 16, 40, 0.5, dtype)
    w = np.random.RandomState(2).uniform(0.0, 2.0, 3000)
    one = kmcore.kmeans_plusplus(X, 64, sample_weight=w, random_state=3, n_threads=1)
    two = kmcore.kmeans_plusplus(X, 64, sample_weight=w, random_state=3, n_threads=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bounds_skip_most_rows_of_separated_clusters(monkeypatch):
    # The deterministic proxy of the speed-up: on well-separated clusters,
    # once every cluster holds a center, almost no row can come closer to a
    # candidate in another cluster, and those rows are not read.
    X = mixture(4000, 8, 20, 0.05, np.float32)
    stats = []
    plain = plusplus(X, 60, gather=False, monkeypatch=monkeypatch)
    fast = plusplus(X, 60, stats=stats)
    np.testing.assert_array_equal(fast, plain)
    computed = np.array([s[0] for s in stats])
    # The last chunk of X, if partial, is always computed whole, as the full
    # pass computes it.
    chunk = seeding._CandidatePass(X, kmcore.row_norms(X), None, 6, 1).chunk_rows
    assert computed[-20:].mean() < 0.3 + (4000 % chunk) / 4000
    assert (computed <= 1.0).all() and computed.shape == (59,)
    left = np.array([s[1] for s in stats[-20:] if s[1] is not None])
    assert left.size and left.mean() < 0.3


# --------------------------------------------------------------------------
# Projection bounds (high-dimensional data)
# --------------------------------------------------------------------------


def full_pass(X, cand_rows, closest):
    """The plain pass's new closest distances (L, n) for these candidates."""
    passes = seeding._CandidatePass(X, kmcore.row_norms(X), None, len(cand_rows), 1)
    passes.run(np.asarray(cand_rows, dtype=np.intp), closest)
    return passes.dist


@pytest.mark.parametrize("offset", [0.0, 1e3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_projection_clears_only_rows_the_full_pass_keeps(dtype, offset, monkeypatch):
    # With every direction kept (m = d) the projected distance is the
    # distance itself: closest distances set at, just above and just below
    # the rows' true distances to the candidates leave the margins alone to
    # decide. The traps: rows whose full-pass distance rounds below the true
    # one get a closest distance in between (one step above the full pass's),
    # which the full pass lowers while the projection alone cannot tell (the
    # filter without its margins clears some of them). Every row cleared must
    # keep its distance in the full pass, and rows far inside the bound must
    # be cleared (the filter proves something).
    n, d = 3000, 12
    X = mixture(n, d, 6, 1.0, dtype, offset=offset)
    cands = np.array([5, 900, 2000])
    exact = ((X.astype(np.float64)[:, None, :] - X.astype(np.float64)[cands]) ** 2).sum(-1).min(1)
    factor = np.random.RandomState(0).choice([0.3, 1 - 1e-4, 1 - 1e-7, 1.0, 1 + 1e-7, 1 + 1e-4,
                                              2.0], n)
    closest = (exact * factor).astype(dtype)
    above = np.nextafter(full_pass(X, cands, np.full(n, np.inf, dtype)).min(0), np.inf,
                         dtype=dtype)
    trap = (above < exact) & (factor != 0.3)
    assert trap.sum() > 20
    closest[trap] = above[trap]
    bounds = _seeding_bounds.ProjectionBounds(X, d, data_origin(X),
                                       4.0 * (d + 4) * float(np.finfo(dtype).eps), 2)
    assert bounds.usable and bounds.proj.shape == (d, n)
    need = np.zeros(n, dtype=np.uint8)
    passes = seeding._CandidatePass(X, kmcore.row_norms(X), None, 3, 2, gather=True)
    _, left, _ = passes.run_filtered(cands, closest, need, False, bounds)
    assert left == need.sum()
    cleared = need == 0
    dist = full_pass(X, cands, closest)
    np.testing.assert_array_equal(passes.dist, dist)
    np.testing.assert_array_equal(dist[:, cleared], np.broadcast_to(closest[cleared],
                                                                    dist[:, cleared].shape))
    # Far inside: every row whose closest distance is 0.3x its true distance.
    assert cleared[factor == 0.3].mean() > (0.9 if offset == 0 else 0.5)
    assert not cleared[(factor > 1) | trap].any()


class FixedProjection:
    """Projection bounds given as the filtered pass's arguments."""

    def __init__(self, *args):
        self.args = args

    def kernel_args(self, candidate_rows):
        return self.args


@pytest.mark.parametrize("n_threads", [1, 2])
def test_projection_test_keeps_rows_not_asked_and_nan(n_threads):
    # Rows 0-4 sit on the candidate (row 0); 5, 6, 8 are 100 away, their
    # closest distance 1; 7 is NaN; 9 was not asked (the triangle bounds
    # skipped it). No margins: the projection alone decides.
    n, m = 10, 2
    X = np.zeros((n, m))
    X[5:, 0] = 100.0
    proj = _seeding_bounds.to_bfloat16(X.T.astype(np.float32))
    closest = np.ones(n)
    closest[7] = np.nan
    need = np.ones(n, dtype=np.uint8)
    need[9] = 0
    bounds = FixedProjection(proj, np.full(n, 100.0), np.zeros((1, m), np.float32), 1.0, 0.0,
                             0.0, 0.0, 0.0, np.empty((2, 4), np.float32), np.empty((2, 4)))
    passes = seeding._CandidatePass(X, kmcore.row_norms(X), None, 1, n_threads, gather=True)
    _, left, _ = passes.run_filtered(np.array([0]), closest, need, True, bounds)
    assert need.tolist() == [1, 1, 1, 1, 1, 0, 0, 1, 0, 0] and left == 6
    np.testing.assert_array_equal(passes.dist[0, [5, 6, 8, 9]], 1.0)
    np.testing.assert_array_equal(passes.dist[0, :5], 0.0)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("m", [128, 256])
def test_projection_test_takes_its_float32_rounding_off(m, n_threads):
    # No other margin (exact stored projections, an exact basis, exact
    # distances): the projection alone decides, from float32 sums of m
    # terms. Built so that the sums round up at every add: a row's first
    # term is 1, each pair of the others adds 0.5625 of a unit in the last
    # place, rounded to a whole one; after m terms the float32 sum exceeds
    # the exact one by about (m / 4) * 0.44 units (1.3 relative units
    # of 2^-23 per 4 terms: 3.3e-6 at m = 128). Rows whose exact
    # projected distance is 1e-9 (relative) below their closest distance
    # must be kept: a test that takes off less than that rounding (none, or
    # the rounding of only the first few tens of terms) clears them. Rows
    # 1e-3 above it must be cleared. Rows are scaled by powers of 2 (the
    # same roundings, relative).
    n = 2048
    rng = np.random.RandomState(m)
    values = np.full((m, n), 0.75 * 2.0 ** -12)
    values[0] = 1.0
    values *= 2.0 ** rng.randint(-20, 20, size=n)
    proj = _seeding_bounds.to_bfloat16(values.astype(np.float32))
    assert (_seeding_bounds.from_bfloat16(proj) == values).all()
    exact = (values ** 2).sum(0)
    above = rng.rand(n) < 0.5
    closest = np.where(above, exact * (1 - 1e-3), exact * (1 + 1e-9))
    block = 64
    bounds = FixedProjection(proj, np.ones(n), np.zeros((1, m), np.float32), 1.0, 0.0, 0.0,
                             0.0, 0.0, np.empty((n_threads, block), np.float32),
                             np.empty((n_threads, block)))
    X = np.zeros((n, 3))
    passes = seeding._CandidatePass(X, kmcore.row_norms(X), None, 1, n_threads, gather=True)
    need = np.zeros(n, dtype=np.uint8)
    _, left, _ = passes.run_filtered(np.array([0]), closest, need, False, bounds)
    kept = need.astype(bool)
    assert kept[~above].all() and not kept[above].any() and left == kept.sum()


def test_projection_shape_rule():
    # High dimension and enough rows and centers (MNIST's shape: all 128
    # directions); never for the memory benchmark's 1,000,000 x 128 float32
    # (its 21 directions within a twelfth of X are too few) nor for small inputs.
    assert _seeding_bounds.projection_dims(60000, 784, 4, 256) == 128
    assert _seeding_bounds.projection_dims(60000, 784, 8, 256) == 128
    assert _seeding_bounds.projection_dims(1_000_000, 128, 4, 1000) == 0
    assert _seeding_bounds.projection_dims(1_000_000, 128, 8, 1000) == 42
    assert _seeding_bounds.projection_dims(1000, 784, 4, 256) == 0
    assert _seeding_bounds.projection_dims(60000, 191, 4, 256) == 0
    assert _seeding_bounds.projection_dims(60000, 192, 4, 256) == 32
    assert _seeding_bounds.projection_dims(60000, 784, 4, 8) == 0


def test_projection_unusable_on_huge_values_falls_back(monkeypatch):
    # Values whose float32 projected sums could overflow: no projection
    # bounds (the triangle bounds remain), the same picks.
    X = mixture(500, 30, 10, 0.5, np.float64) * 1e18
    bounds = _seeding_bounds.ProjectionBounds(X, 30, data_origin(X), 1e-12, 1)
    assert not bounds.usable and bounds.proj is None
    stats = []
    plain = plusplus(X, 40, gather=False, monkeypatch=monkeypatch)
    fast = plusplus(X, 40, gather=True, stats=stats, monkeypatch=monkeypatch, projection=30)
    np.testing.assert_array_equal(fast, plain)
    assert all(s[3] is None for s in stats)


def mnist_like(n, seed=0):
    """Digit-like rows: smooth blobs of ink on a 28 x 28 grid, 0..255, float32."""
    rng = np.random.RandomState(seed)
    grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"), -1).reshape(-1, 2)
    prototypes = []
    for _ in range(20):
        strokes = rng.uniform(6, 22, size=(4, 2))
        ink = np.exp(-((grid[:, None, :] - strokes) ** 2).sum(-1) / 8.0).sum(1)
        prototypes.append(ink)
    P = np.array(prototypes)
    X = P[rng.randint(20, size=n)] * rng.uniform(0.7, 1.3, size=(n, 1))
    X += 0.3 * rng.normal(size=X.shape) * P.mean()
    return np.clip(255 * X / X.max(), 0, 255).astype(np.float32)


@pytest.mark.parametrize("source", ["mnist", "mnist_like"])
def test_projection_on_mnist_shapes_picks_the_plain_rows(source, request, monkeypatch):
    # The shipped rule on a 784-feature set: the projection bounds are on,
    # leave fewer rows than the triangle bounds, and change no pick (float32
    # and float64, 1 and 2 threads; float64 also against NumPy's).
    if source == "mnist":
        X = np.ascontiguousarray(request.getfixturevalue("mnist_train")[0][::4])
    else:
        X = mnist_like(8000)
    assert _seeding_bounds.projection_dims(X.shape[0], 784, 4, 40) == 128
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        stats = []
        plain = plusplus(Xd, 40, gather=False, monkeypatch=monkeypatch)
        fast = plusplus(Xd, 40, stats=stats)
        np.testing.assert_array_equal(fast, plain)
        np.testing.assert_array_equal(plusplus(Xd, 40, n_threads=2), plain)
        both = [s for s in stats if s[1] is not None and s[3] is not None]
        assert both and all(s[3] <= s[1] for s in both)
        assert sum(s[3] is not None for s in stats) > 0.9 * len(stats)
        assert np.mean([s[0] for s in stats[-10:]]) < 0.7
    np.testing.assert_array_equal(plain, numpy_plusplus(Xd, 40, follow=plain))


# --------------------------------------------------------------------------
# The new kernels' guards
# --------------------------------------------------------------------------


def test_rows_to_compute_checks_shapes():
    n, L = 10, 3
    f = np.ones(n)
    cc = np.ones((2, L))
    need = np.empty(n, dtype=np.uint8)
    assigned = np.zeros(n, dtype=np.int32)
    assigned[3] = 7  # outside the centers: computed, never read out of cc
    rows, pairs = _seeding._rows_to_compute(f, f, assigned, cc, 0.0, 0.0, 1.0, need, 2)
    assert need[3] == 1 and rows == n and pairs == n * L
    with pytest.raises(ValueError, match="assigned"):
        _seeding._rows_to_compute(f, f, assigned[:-1], cc, 0.0, 0.0, 1.0, need, 1)
    with pytest.raises(ValueError, match="need"):
        _seeding._rows_to_compute(f, f, assigned, cc, 0.0, 0.0, 1.0, need[:-1], 1)


# --------------------------------------------------------------------------
# The filtered pass (one parallel region per step)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, d, L", [(5000, 784, 7), (3000, 8, 3), (2000, 40, 9), (130, 5, 1),
                                     (700, 13, 17)])
def test_filtered_pass_gives_the_full_pass_bitwise(n, d, L, dtype, weighted, shift):
    # Rows at closest 0 cannot come closer to anything: marked as skipped,
    # the full pass keeps their 0 too. Every other row is computed, gathered
    # into GEMMs of any length (tiles of one chunk to all rows, tails of one
    # row) or whole: the distances and the chunk potentials must be the full
    # pass's bitwise, on 1 and 2 threads (each product must not depend on the
    # other rows of its call; 9 and 17 candidates fill more than one strip).
    rng = np.random.RandomState(n + d)
    X = mixture(n, d, 10, 1.0, dtype, offset=1e3 if shift else 0.0)
    xn = kmcore.row_norms(X)
    w = rng.uniform(0.1, 2.0, n).astype(dtype) if weighted else None
    cands = rng.choice(n, L, replace=False)
    closest = (rng.uniform(0.0, 2.0, n) * np.median(xn) * 1e-2).astype(dtype)
    closest[rng.rand(n) < 0.3] = np.inf
    skipped = rng.rand(n) < 0.6
    closest[skipped] = 0
    ref = seeding._CandidatePass(X, xn, w, L, 1, gather=True)
    assert (ref.origin is not None) == shift
    pots = ref.run(cands, closest)
    dist = ref.dist.copy()
    for n_threads in (1, 2):
        for tile in (1, 3 * ref.chunk_rows + 1, n):
            for gather_below in (0.0, 0.5, 2.0):
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(seeding, "_TILE_ROWS", tile)
                    mp.setattr(seeding, "_GATHER_BELOW", gather_below)
                    passes = seeding._CandidatePass(X, xn, w, L, n_threads, gather=True)
                    need = (~skipped).astype(np.uint8)
                    got, left, computed = passes.run_filtered(cands, closest, need, True, None)
                np.testing.assert_array_equal(passes.dist, dist)
                np.testing.assert_array_equal(got, pots)
                assert left == (~skipped).sum() and left <= computed <= n
                # Gathering computes the rows left, gathered over all of X
                # (no tile pads its own GEMM calls), and the last chunk whole.
                if gather_below == 2.0:
                    tail = n % passes.chunk_rows
                    assert computed == (~skipped[:n - tail]).sum() + tail
                elif gather_below == 0.0:
                    assert computed == n


@pytest.mark.parametrize("n_threads", [1, 2])
def test_filtered_pass_tiles_sized_by_the_rows_left_give_the_same_results(n_threads):
    # The tile grows as fewer rows are left (fewer padded GEMM calls), up to
    # a share of the rows per thread: whichever tile, the full pass's bits.
    X = mixture(9000, 40, 12, 1.0, np.float32)
    xn = kmcore.row_norms(X)
    rng = np.random.RandomState(1)
    cands = rng.choice(9000, 5, replace=False)
    closest = (rng.uniform(0.0, 2.0, 9000) * np.median(xn) * 1e-2).astype(np.float32)
    ref = seeding._CandidatePass(X, xn, None, 5, 1, gather=True)
    ref.run(cands, closest)
    dist = ref.dist.copy()
    passes = seeding._CandidatePass(X, xn, None, 5, n_threads, gather=True)
    tiles = [passes.tile_for(f) for f in (1.0, 0.5, 0.1, 0.01, 0.0)]
    assert tiles == sorted(tiles) and tiles[0] == passes.min_tile < tiles[-1] == passes.max_tile
    assert all(t % passes.chunk_rows == 0 for t in tiles)
    assert passes.max_tile <= max(passes.min_tile, 9000 // (2 * passes.n_workers))
    # Rows marked skipped keep their closest distance (but those of the
    # partial last chunk, always computed whole); the others are computed.
    skipped = rng.rand(9000) < 0.97
    skipped[9000 - 9000 % passes.chunk_rows:] = False
    want = np.where(skipped, closest, dist)
    first = None
    for tile in tiles:
        need = (~skipped).astype(np.uint8)
        got, left, computed = passes.run_filtered(cands, closest, need, True, None, tile)
        np.testing.assert_array_equal(passes.dist, want)
        first = got if first is None else first
        np.testing.assert_array_equal(got, first)
        assert left == computed == (~skipped).sum()
    with pytest.raises(ValueError, match="tile_rows"):
        passes.run_filtered(cands, closest, need, True, None, passes.max_tile + passes.chunk_rows)
    with pytest.raises(ValueError, match="tile_rows"):
        passes.run_filtered(cands, closest, need, True, None, passes.chunk_rows + 1)


def projection_reference(bounds, cands, closest, need):
    """The projection test in plain float64 NumPy, from the bounds' stored rows.

    A row (of those with ``need``) is cleared when its projected squared
    distance to every candidate reaches the threshold the bounds' margins
    give (see ``_seeding_blocks._projection_block``). Returns the rows kept,
    and the rows within 1e-5 of a threshold (where the kernel's float32
    sums may decide otherwise).
    """
    P = _seeding_bounds.from_bfloat16(bounds.proj).astype(np.float64)
    m = P.shape[0]
    cand_norm = bounds.y_norms[cands].max()
    far = (cand_norm + bounds.origin_gap) ** 2
    sx = bounds.y_norms + bounds.origin_gap
    target = (closest.astype(np.float64) + bounds.error_scale * (sx * sx + far)) * (1 + 1e-12)
    radius = (np.sqrt(target * (1 + bounds.gram_error))
              + bounds.proj_error * (bounds.y_norms + cand_norm))
    t = radius ** 2 * (1 + (m + 4) * float(np.finfo(np.float32).eps)) * (1 + 1e-9)
    a = np.stack([((P - P[:, [c]]) ** 2).sum(0) for c in cands], axis=1)
    proved = (a >= t[:, None]).all(1) & np.isfinite(t)
    near = (np.abs(a - t[:, None]) <= 1e-5 * t[:, None]).any(1)
    asked = need.astype(bool)
    return asked & ~proved, asked & near


def test_bfloat16_rounds_to_nearest_within_the_bound():
    # Against float64: the stored value is the nearest bfloat16 (ties to
    # even), so within 2^-8 of the value, or half a subnormal step; and
    # bfloat16 values come back exactly.
    rng = np.random.RandomState(0)
    v = (rng.normal(size=20000) * 10.0 ** rng.randint(-40, 30, 20000)).astype(np.float32)
    v[:4] = [0.0, -0.0, 1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8]  # two ties: to even
    h = _seeding_bounds.to_bfloat16(v)
    back = _seeding_bounds.from_bfloat16(h).astype(np.float64)
    err = np.abs(back - v.astype(np.float64))
    assert (err <= 2.0 ** -8 * np.abs(v.astype(np.float64)) + 2.0 ** -134).all()
    assert back[2] == 1.0 and back[3] == 1.0 + 2 * 2.0 ** -7
    # Nearest: neither neighbouring bfloat16 value is closer.
    for step in (-1, 1):
        other = _seeding_bounds.from_bfloat16((h.astype(np.int64) + step).astype(np.uint16))
        finite = np.isfinite(other)  # past 0 the bits wrap to NaN
        assert finite.mean() > 0.99
        assert (np.abs(other.astype(np.float64) - v)[finite] >= err[finite]).all()
    np.testing.assert_array_equal(_seeding_bounds.to_bfloat16(back.astype(np.float32)), h)


@pytest.mark.parametrize("need_given", [False, True])
def test_filtered_pass_clears_the_rows_of_the_projection_test(need_given):
    # The filtered pass runs the projection test on the rows the triangle
    # bounds left when given, else on all: it leaves the rows a plain
    # float64 NumPy version of the test leaves, clears no row a candidate
    # comes closer to, and still gives the full pass's distances.
    X = mnist_like(6000)
    xn = kmcore.row_norms(X)
    bounds = _seeding_bounds.ProjectionBounds(X, 64, data_origin(X),
                                              4.0 * 788 * float(np.finfo(np.float32).eps), 2)
    assert bounds.usable
    rng = np.random.RandomState(0)
    cands = rng.choice(6000, 7, replace=False)
    full = seeding._CandidatePass(X, xn, None, 7, 1, gather=True)
    # Closest distances as after 40 centers: most rows are then proved.
    closest = np.full(6000, np.inf, np.float32)
    for c in rng.choice(6000, 40, replace=False):
        full.run(np.array([c]), closest)
        closest = full.dist[0].copy()
    given = (rng.rand(6000) < 0.7).astype(np.uint8)
    want, unsure = projection_reference(bounds, cands, closest,
                                        given if need_given else np.ones(6000, np.uint8))
    left = int(want.sum())
    assert 0 < left < 0.9 * 6000 and unsure.sum() < 0.01 * 6000
    pots = full.run(cands, closest)
    dist = full.dist.copy()
    passes = seeding._CandidatePass(X, xn, None, 7, 2, gather=True)
    need = given.copy() if need_given else np.zeros(6000, np.uint8)
    got, got_left, computed = passes.run_filtered(cands, closest, need, need_given, bounds)
    np.testing.assert_array_equal(need[~unsure], want[~unsure])
    assert abs(got_left - left) <= unsure.sum() and got_left <= computed
    # The claim itself, in float64: no cleared row has a candidate closer.
    X64 = X.astype(np.float64)
    exact = ((X64[:, None, :] - X64[cands][None]) ** 2).sum(-1).min(1)
    cleared = (need == 0) & (given.astype(bool) | (not need_given))
    assert cleared.sum() > 0.1 * 6000 and (exact[cleared] >= closest[cleared]).all()
    if need_given:
        # Rows the triangle bounds skipped keep closest; the others are exact.
        keep = given.astype(bool)
        np.testing.assert_array_equal(passes.dist[:, keep], dist[:, keep])
    else:
        np.testing.assert_array_equal(passes.dist, dist)
        np.testing.assert_array_equal(got, pots)
