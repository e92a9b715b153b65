"""Property tests of kmcore.split: split_two (see _problems.py)."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from _problems import describe, eff_weights, problems, small_blocks  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from kernel_reference import (  # noqa: E402
    centered_tol,
    f64,
    mean_tol,
    ref_sqdist,
)

import kmcore  # noqa: E402


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
