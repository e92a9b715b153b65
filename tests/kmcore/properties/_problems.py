"""The problems the kmcore property tests draw, and how they run them.

The tests (test_*_properties.py here) hold every public kernel to plain float64
NumPy references. hypothesis draws small problems: shapes, float32/float64, offsets up to 1e5
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
from hypothesis import note
from hypothesis import strategies as st
from kernel_reference import f64

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
