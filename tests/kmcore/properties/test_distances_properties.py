"""Property tests of kmcore.distances: row_norms, pairwise_sqdist (problems: _problems.py)."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from _problems import describe, problems, small_blocks  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from kernel_reference import (  # noqa: E402
    centered_tol,
    f64,
    ref_sqdist,
)

import kmcore  # noqa: E402


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
