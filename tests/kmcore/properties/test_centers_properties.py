"""Property tests of kmcore.centers: update_centers (see _problems.py)."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from _problems import describe, eff_weights, problems, small_blocks  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from kernel_reference import (  # noqa: E402
    assert_bitwise_equal,
    f64,
    mean_tol,
    ref_means,
)

import kmcore  # noqa: E402


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
