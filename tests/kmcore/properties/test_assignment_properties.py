"""Property-based tests of every public kernel against plain float64 NumPy references.

hypothesis draws small problems: shapes, float32/float64, offsets up to 1e5
(where the GEMM expansion cancels unless the kernels compute around the
data), sample weights with zeros, duplicated rows and near-duplicate
centers, and block sizes small enough that a few dozen rows already span
several chunks, center blocks, slices and M-step parts. Distances are held
to what a computation centered on the data achieves
(``kernel_reference.centered_tol``); labels are compared only where the
reference's best center wins by more than those tolerances.

The default profile ("fast", tests/conftest.py) runs a few hundred examples
in all, the same ones every run; ``--hypothesis-profile=thorough`` searches
longer.
"""

import contextlib
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import event, given, note  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from kernel_reference import (  # noqa: E402
    assert_bitwise_equal,
    centered_tol,
    clear_rows,
    f64,
    mean_tol,
    ref_means,
    ref_soft,
    ref_sqdist,
)

import kmcore  # noqa: E402

OFFSETS = [0.0, 1.0, 1e2, 1e3, 1e4, 1e5]


@st.composite
def problems(draw, max_n=48, max_d=9, max_k=7):
    """Data, centers, weights and block sizes of one small problem."""
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    k = draw(st.integers(1, max_k))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    offset = draw(st.sampled_from(OFFSETS))
    scale = draw(st.sampled_from([1e-2, 1.0, 30.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    signs = rng.choice([-1.0, 1.0], size=d)
    Z = scale * rng.standard_normal((n, d))
    if n > 3 and draw(st.booleans()):
        Z[rng.integers(n, size=n // 3)] = Z[rng.integers(n, size=n // 3)]  # duplicated rows
    X = (offset * signs + Z).astype(dtype)
    kind = draw(st.sampled_from(["rows", "random", "near_duplicates"]))
    if kind == "rows" and k <= n:
        C = X[rng.choice(n, k, replace=False)]
    else:
        C = (offset * signs + scale * rng.standard_normal((k, d))).astype(dtype)
    if kind == "near_duplicates" and k > 1:
        C[1:] = C[0] + (scale * 1e-6 * rng.standard_normal((k - 1, d))).astype(dtype)
    weights = draw(st.sampled_from(["none", "positive", "zeros"]))
    w = None
    if weights != "none":
        w = rng.uniform(0.1, 3.0, n)
        if weights == "zeros":
            w[rng.random(n) < 0.3] = 0.0
            w[rng.integers(n)] = 1.0
    blocks = draw(st.sampled_from([None, (1, 1), (3, 2), (7, 3)]))
    return SimpleNamespace(X=X, C=np.ascontiguousarray(C), w=w, dtype=np.dtype(dtype),
                           blocks=blocks, rng=rng, n=n, d=d, k=k)


@contextlib.contextmanager
def small_blocks(blocks):
    """Run the kernels with tiny chunks, center blocks, slices and M-step parts."""
    if blocks is None:
        yield
        return
    rows, k_block = blocks

    def sizes(n_samples, n_features, n_centers, itemsize):
        return min(rows, n_samples), min(k_block, n_centers)

    with contextlib.ExitStack() as stack:
        for target, value in [
            ("kmcore.assignment.block_sizes", sizes),
            ("kmcore.seeding.block_sizes", sizes),
            ("kmcore.assignment._N_FUSED_SLICES", 3),
            ("kmcore.distances.PAIRWISE_CHUNK_ROWS", rows),
            ("kmcore.soft._SOFT_CHUNK_ROWS", rows),
            ("kmcore.soft._SHIFTED_CHUNK_ROWS", rows),
            ("kmcore.centers._MIN_PART_ROWS", 1),
            ("kmcore.centers._PART_READ_PER_SUMS", 0),
            ("kmcore.centers._MIN_ROWS_BEYOND_TWO", 1),
            ("kmcore.split._PARALLEL_MIN_MEMBERS", 1),
        ]:
            stack.enter_context(mock.patch(target, value))
        yield


def eff_weights(p):
    """The weights the kernels see (cast to the data's dtype), in float64; ones for None."""
    return np.ones(p.n) if p.w is None else f64(np.asarray(p.w).astype(p.dtype))


def describe(p):
    note(f"n={p.n} d={p.d} k={p.k} dtype={p.dtype} blocks={p.blocks} "
         f"|X|max={np.abs(f64(p.X)).max():.3g} weights={'none' if p.w is None else 'some'}")


# --------------------------------------------------------------------------
# Distances and assignment
# --------------------------------------------------------------------------


@given(problems())
def test_row_norms(p):
    describe(p)
    got = f64(kmcore.row_norms(p.X))
    ref = (f64(p.X) ** 2).sum(axis=1)
    assert np.all(np.abs(got - ref) <= 2 * p.d * np.finfo(p.dtype).eps * ref)
    root = f64(kmcore.row_norms(p.X, squared=False))
    np.testing.assert_allclose(root, np.sqrt(ref), rtol=2 * p.d * np.finfo(p.dtype).eps)


@given(problems(), st.booleans())
def test_pairwise_sqdist(p, with_out):
    describe(p)
    out = np.full((p.n, p.k), np.nan, dtype=p.dtype) if with_out else None
    with small_blocks(p.blocks):
        D = kmcore.pairwise_sqdist(p.X, p.C, out=out)
    assert D.dtype == p.dtype and (out is None or D is out)
    ref = ref_sqdist(p.X, p.C)
    assert np.all(D >= 0)
    assert np.all(np.abs(f64(D) - ref) <= centered_tol(p.X, p.C, p.dtype))


@given(problems())
def test_assign(p):
    describe(p)
    with small_blocks(p.blocks):
        labels, dist = kmcore.assign(p.X, p.C)
    D = ref_sqdist(p.X, p.C)
    tol = centered_tol(p.X, p.C, p.dtype)
    clear = clear_rows(D, tol)
    assert labels.dtype == np.intp and np.all((labels >= 0) & (labels < p.k))
    event(f"clear rows: {'all' if clear.all() else 'some' if clear.any() else 'none'}")
    assert np.array_equal(labels[clear], D.argmin(axis=1)[clear])
    rows = np.arange(p.n)
    # The chosen center is nearest up to the tolerances, wherever the margin is.
    assert np.all(D[rows, labels] - tol[rows, labels] <= (D + tol).min(axis=1))
    assert np.all(np.abs(f64(dist) - D[rows, labels]) <= tol[rows, labels])


@given(problems())
def test_lloyd_step(p):
    describe(p)
    with small_blocks(p.blocks):
        step = kmcore.lloyd_step(p.X, p.C, sample_weight=p.w, relocate_empty=False)
    D = ref_sqdist(p.X, p.C)
    tol = centered_tol(p.X, p.C, p.dtype)
    clear = clear_rows(D, tol)
    assert np.array_equal(step.labels[clear], D.argmin(axis=1)[clear])
    w = eff_weights(p)
    means, weights = ref_means(p.X, step.labels, p.k, w)
    np.testing.assert_allclose(step.counts, weights, rtol=1e-12, atol=0)
    empty = weights == 0
    assert_bitwise_equal(step.centers[empty], p.C[empty])
    np.testing.assert_allclose(f64(step.centers[~empty]), means[~empty], rtol=0,
                               atol=mean_tol(p.X, p.dtype))
    rows = np.arange(p.n)
    chosen = D[rows, step.labels]
    assert abs(step.inertia - w @ chosen) <= w @ tol[rows, step.labels] + 1e-12 * (w @ chosen)
    shift = np.sqrt(((f64(step.centers) - f64(p.C)) ** 2).sum(axis=1))
    np.testing.assert_allclose(step.center_shift, shift, rtol=1e-6, atol=1e-300)
    assert step.n_relocated == 0


@given(problems(), st.booleans())
def test_update_centers(p, with_old):
    describe(p)
    labels = p.rng.integers(p.k, size=p.n)
    old = p.C if with_old else None
    with small_blocks(p.blocks):
        centers, weights = kmcore.update_centers(p.X, labels, p.k, sample_weight=p.w,
                                                 centers_old=old)
    means, ref_w = ref_means(p.X, labels, p.k, eff_weights(p))
    np.testing.assert_allclose(weights, ref_w, rtol=1e-12, atol=0)
    empty = ref_w == 0
    if with_old:
        assert_bitwise_equal(centers[empty], p.C[empty])
    else:
        assert np.all(np.isnan(centers[empty]))
    np.testing.assert_allclose(f64(centers[~empty]), means[~empty], rtol=0,
                               atol=mean_tol(p.X, p.dtype))


# --------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------


def first_row(p, rng):
    """The first center's draw, as kmcore (and scikit-learn) make it."""
    if p.w is None:
        probs = np.full(p.n, 1.0 / p.n)
    else:
        w = np.asarray(p.w).astype(p.dtype)
        probs = w / w.sum()
    return int(rng.choice(p.n, p=probs))


def draw_row(pw, w, t):
    """The row ``_sample_by_potential`` draws for target t (first cumsum reaching t)."""
    acc, last_pos, last_weighted = 0.0, -1, len(pw) - 1
    for i, (v, wi) in enumerate(zip(pw, w, strict=True)):
        if v > 0:
            acc += v
            last_pos = i
            if acc >= t:
                return i
        elif wi > 0:
            last_weighted = i
    return last_pos if last_pos >= 0 else last_weighted


def ref_kmeans_plusplus(p, k, n_trials, seed):
    """Greedy k-means++ in float64 with kmcore's draws, and how many picks are clear.

    A pick is clear when no draw lands within the distances' tolerance of a
    cumulative-sum boundary and the best candidate's potential wins by more
    than the tolerance; after an unclear pick the two may part ways.
    """
    rng = np.random.RandomState(seed)
    D = ref_sqdist(p.X, p.X)
    tol = centered_tol(p.X, p.X, p.dtype)
    w = eff_weights(p)
    picks = [first_row(p, rng)]
    closest, err = D[:, picks[0]].copy(), tol[:, picks[0]].copy()
    n_clear, clear = 1, True
    for _ in range(1, k):
        pot = w @ closest
        slack = w @ err
        targets = rng.uniform(size=n_trials) * pot
        bounds = np.concatenate([[0.0], np.cumsum(w * closest)])
        if np.min(np.abs(bounds[None, :] - targets[:, None])) <= slack:
            clear = False
        cands = [draw_row(w * closest, w, t) for t in targets]
        pots = np.array([w @ np.minimum(closest, D[:, j]) for j in cands])
        slacks = np.array([w @ np.maximum(err, tol[:, j]) for j in cands])
        best = int(np.argmin(pots))
        for j in range(len(cands)):
            same = np.array_equal(p.X[cands[j]], p.X[cands[best]])
            if not same and pots[j] - pots[best] <= slacks[j] + slacks[best]:
                clear = False
        c = cands[best]
        picks.append(c)
        err = np.where(D[:, c] < closest, tol[:, c], err)
        err = np.maximum(err, np.where(np.abs(D[:, c] - closest) <= err + tol[:, c],
                                       tol[:, c], 0.0))
        closest = np.minimum(closest, D[:, c])
        n_clear += clear
    return np.array(picks), n_clear


@given(problems(), st.integers(1, 6), st.sampled_from([None, 1, 3]), st.integers(0, 2**16))
def test_kmeans_plusplus(p, k, n_trials, seed):
    describe(p)
    n_positive = p.n if p.w is None else int((np.asarray(p.w) > 0).sum())
    k = min(k, p.n)
    with small_blocks(p.blocks):
        centers, idx = kmcore.kmeans_plusplus(p.X, k, sample_weight=p.w, random_state=seed,
                                              n_local_trials=n_trials)
    assert idx.dtype == np.intp and idx.shape == (k,)
    assert np.all((idx >= 0) & (idx < p.n))
    assert_bitwise_equal(centers, p.X[idx])
    if p.w is not None and k <= n_positive:
        assert np.all(np.asarray(p.w)[idx] > 0)
    distinct = len(np.unique(p.X[eff_weights(p) > 0], axis=0))
    if k <= distinct:
        # A chosen row's potential is 0: never drawn twice, nor any copy of it.
        assert len(np.unique(p.X[idx], axis=0)) == k
    n_trials = 2 + int(np.log(k)) if n_trials is None else n_trials
    ref, n_clear = ref_kmeans_plusplus(p, k, n_trials, seed)
    note(f"ref {ref.tolist()} clear {n_clear} got {idx.tolist()}")
    event("every pick compared" if n_clear == k else "a prefix of the picks compared")
    assert np.array_equal(idx[:n_clear], ref[:n_clear])


@given(problems(), st.integers(1, 8), st.integers(0, 2**16))
def test_farthest_first(p, k, seed):
    describe(p)
    k = min(k, p.n)
    with small_blocks(p.blocks):
        centers, idx = kmcore.farthest_first(p.X, k, sample_weight=p.w, random_state=seed)
    assert_bitwise_equal(centers, p.X[idx])
    assert idx[0] == first_row(p, np.random.RandomState(seed))
    # Follow the kernel's picks: each is an eligible row farthest from the
    # previous ones, up to the distances' tolerance.
    D = ref_sqdist(p.X, p.X)
    tol = centered_tol(p.X, p.X, p.dtype)
    eligible = eff_weights(p) > 0
    closest, err = D[:, idx[0]].copy(), tol[:, idx[0]].copy()
    for c in idx[1:]:
        assert eligible[c]
        best = np.max(np.where(eligible, closest - err, -np.inf))
        assert closest[c] + err[c] >= best
        err = np.maximum(err, tol[:, c])
        closest = np.minimum(closest, D[:, c])


# --------------------------------------------------------------------------
# Two-way split
# --------------------------------------------------------------------------


@given(problems(), st.booleans(), st.integers(0, 2**16))
def test_split_two(p, subset, seed):
    describe(p)
    if p.n < 2:
        return
    indices = np.arange(p.n)
    if subset:
        indices = p.rng.choice(p.n, max(2, p.n // 2), replace=False)
    w = eff_weights(p)
    if not (w[indices] > 0).any():
        return
    with small_blocks(p.blocks):
        centers, labels = kmcore.split_two(p.X, indices, sample_weight=p.w, max_iter=1000,
                                           random_state=seed)
    m = indices.shape[0]
    assert labels.shape == (m,) and set(np.unique(labels)) == {0, 1}
    members = f64(p.X)[indices]
    ww = w[indices]
    position_cut = np.array_equal(labels, np.arange(m) >= m // 2)
    for side in (0, 1):
        on = labels == side
        mean = ww[on] @ members[on] / ww[on].sum() if ww[on].sum() > 0 else members[on].mean(0)
        np.testing.assert_allclose(f64(centers[side]), mean, rtol=0, atol=mean_tol(p.X, p.dtype))
    if not position_cut:
        # A fixed point of 2-means: every member on its nearer side, up to tolerance.
        D = ref_sqdist(members, centers)
        tol = centered_tol(members, centers, p.dtype)
        r = np.arange(m)
        own, other = labels, 1 - labels
        assert np.all(D[r, own] - tol[r, own] <= D[r, other] + tol[r, other])


# --------------------------------------------------------------------------
# Soft assignment
# --------------------------------------------------------------------------


@given(problems(), st.sampled_from([1e-3, 1e-1, 1.0, 10.0, 1e3]))
def test_soft_assign(p, beta):
    describe(p)
    with small_blocks(p.blocks):
        R = kmcore.soft_assign(p.X, p.C, beta)
    assert R.dtype == p.dtype and R.shape == (p.n, p.k)
    assert np.all(np.isfinite(R)) and np.all(R >= 0)
    np.testing.assert_allclose(f64(R).sum(axis=1), 1.0, atol=2 * p.k * np.finfo(p.dtype).eps)
    ref, D = ref_soft(p.X, p.C, beta)
    tol = centered_tol(p.X, p.C, p.dtype)
    # Where beta times the distance error is small the reference is well
    # conditioned: each responsibility then moves by at most ~2 beta tol.
    err = beta * tol.max(axis=1)
    good = err < 1e-2
    assert np.all(np.abs(f64(R) - ref)[good] <= (3 * err[good] + 2e-6)[:, None])
    # Where the nearest center is clear, and beta makes its lead visible in
    # the dtype, it has the largest responsibility.
    clear = clear_rows(D, tol) & (beta * soft_gap(D) > 16 * np.finfo(p.dtype).eps)
    assert np.array_equal(R.argmax(axis=1)[clear], D.argmin(axis=1)[clear])


def soft_gap(D):
    """Second-best minus best distance of every row (inf with one center)."""
    if D.shape[1] == 1:
        return np.full(D.shape[0], np.inf)
    part = np.partition(D, 1, axis=1)
    return part[:, 1] - part[:, 0]


@given(problems(), st.booleans())
def test_soft_update(p, with_old):
    describe(p)
    R = p.rng.random((p.n, p.k)).astype(p.dtype)
    R[p.rng.random((p.n, p.k)) < 0.3] = 0
    old = p.C if with_old else None
    with small_blocks(p.blocks):
        centers, mass = kmcore.soft_update(p.X, R, sample_weight=p.w, centers_old=old)
    RW = f64(R) * eff_weights(p)[:, None]
    ref_mass = RW.sum(axis=0)
    np.testing.assert_allclose(mass, ref_mass, rtol=1e-6 if p.dtype == np.float32 else 1e-12)
    empty = ref_mass == 0
    if with_old:
        assert_bitwise_equal(centers[empty], p.C[empty])
    else:
        assert np.all(np.isnan(centers[empty]))
    ref = (RW.T @ f64(p.X))[~empty] / ref_mass[~empty, None]
    # The products run in X's dtype around the data's mean: an error of eps
    # times the spread per term, plus the final rounding.
    mu = f64(p.X).mean(axis=0)
    spread = np.sqrt(((f64(p.X) - mu) ** 2).sum(axis=1).max()) + np.sqrt(f64(mu) @ mu) * (
        kmcore._origin.data_origin(p.X) is None)
    atol = mean_tol(p.X, p.dtype) + 4 * p.n * np.finfo(p.dtype).eps * spread
    np.testing.assert_allclose(f64(centers[~empty]), ref, rtol=0, atol=atol)


# --------------------------------------------------------------------------
# The same result for any thread count
# --------------------------------------------------------------------------


def run_kernel(name, p, n_threads):
    X, C, w = p.X, p.C, p.w
    k = min(p.k, p.n)
    calls = {
        "row_norms": lambda: kmcore.row_norms(X, n_threads=n_threads),
        "pairwise_sqdist": lambda: kmcore.pairwise_sqdist(X, C, n_threads=n_threads),
        "assign": lambda: kmcore.assign(X, C, n_threads=n_threads),
        "lloyd_step": lambda: tuple(kmcore.lloyd_step(X, C, sample_weight=w,
                                                      n_threads=n_threads)[:5]),
        "update_centers": lambda: kmcore.update_centers(
            X, np.arange(p.n) % p.k, p.k, sample_weight=w, n_threads=n_threads),
        "kmeans_plusplus": lambda: kmcore.kmeans_plusplus(
            X, k, sample_weight=w, random_state=0, n_threads=n_threads),
        "farthest_first": lambda: kmcore.farthest_first(
            X, k, sample_weight=w, random_state=0, n_threads=n_threads),
        "split_two": lambda: kmcore.split_two(X, sample_weight=w, random_state=0,
                                              n_threads=n_threads),
        "soft_assign": lambda: kmcore.soft_assign(X, C, 0.5, n_threads=n_threads),
    }
    with small_blocks(p.blocks):
        return calls[name]()


THREADED = ["row_norms", "pairwise_sqdist", "assign", "lloyd_step", "update_centers",
            "kmeans_plusplus", "farthest_first", "split_two", "soft_assign"]


@pytest.mark.skipif(not kmcore.openmp_enabled(), reason="serial build")
@given(problems(), st.sampled_from(THREADED))
def test_thread_count_independence(p, name):
    describe(p)
    if name == "split_two" and p.n < 2:
        return
    assert_bitwise_equal(run_kernel(name, p, 1), run_kernel(name, p, 2))
