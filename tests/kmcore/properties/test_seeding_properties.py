"""Property tests of kmcore.seeding: kmeans_plusplus, farthest_first (see _problems.py)."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from _problems import describe, eff_weights, problems, small_blocks  # noqa: E402
from hypothesis import event, given, note  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from kernel_reference import (  # noqa: E402
    assert_bitwise_equal,
    centered_tol,
    ref_sqdist,
)

import kmcore  # noqa: E402


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
