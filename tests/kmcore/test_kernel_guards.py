"""Every native kernel entry checks what it relies on; bad arguments get named errors.

The compiled kernels run without bounds checks. Each ``def`` entry of the
.pyx modules is called here directly, first with consistent arguments (which
must work), then with each argument made inconsistent in turn: each must
raise ValueError naming that argument, never read or write past a buffer
(a crash would take the test process down with it). The private Python
wrappers that the estimators call are checked the same way for the widths
of X and the centers (a refit that failed half-way once left centers of
another width behind, and predict read past them).
"""

import re

import numpy as np
import pytest

import kmcore
from kmcore import _assign, _centers, _distances, _seeding, _soft, _split

N, D, K = 23, 5, 4


def data(dtype=np.float64):
    rng = np.random.default_rng(0)
    return np.ascontiguousarray(rng.standard_normal((N, D)), dtype=dtype)


def row_norms(A):
    return np.ascontiguousarray((A.astype(np.float64) ** 2).sum(axis=1), dtype=A.dtype)


def f(*shape):
    return np.zeros(shape, dtype=np.float64)


def idx(*values):
    return np.asarray(values, dtype=np.intp)


# --------------------------------------------------------------------------
# One builder per kernel entry: consistent keyword arguments, in order.
# --------------------------------------------------------------------------


def row_sqnorms_args():
    X = data()
    return dict(X=X, out=f(N), n_threads=2)


def pairwise_args(shift=False):
    X, Y = data(), data()[:K].copy()
    return dict(X=X, x_sqnorms=row_norms(X), Y=Y, y_sqnorms=row_norms(Y), out=f(N, K),
                chunk_rows=8, n_threads=2, origin=f(D) if shift else f(0),
                buffers=f(2, 8 * (D + 1)) if shift else f(0, 0))


def assign_args(shift=False, fused=False):
    X = data()
    C = X[:K].copy()
    chunk, kb = 8, K
    n_slices = 3
    width = chunk * (kb + 3) + (chunk * (D + 1) if shift else 0)
    return dict(
        X=X, x_sqnorms=row_norms(X), centers=C, c_sqnorms=row_norms(C), sample_weight=f(0),
        buffers=f(2, width), block_labels=np.zeros((2, chunk), np.int32),
        labels=np.zeros(N, np.intp), min_sqdist=f(N), slice_inertia=f(n_slices),
        slice_sums=f(n_slices, K, D) if fused else f(0, 0, 0),
        slice_weights=f(n_slices, K) if fused else f(0, 0),
        exact_below=1e-6, tie_err=1e-12, chunk_rows=chunk, k_block=kb, n_threads=2,
        origin=f(D) if shift else f(0), gemm_centers=C,
    )


def candidate_args(shift=False):
    X = data()
    cands = X[:3].copy()
    chunk = 8
    width = chunk * (3 + (D + 1 if shift else 0))
    return dict(
        X=X, x_sqnorms=row_norms(X), candidates=cands, cand_sqnorms=row_norms(cands),
        closest=np.full(N, np.inf), sample_weight=f(0), buffers=f(2, width), dist=f(3, N),
        chunk_pots=f(-(-N // chunk), 3), chunk_rows=chunk, n_threads=2, exact_below=1e-6,
        origin=f(D) if shift else f(0), gemm_candidates=cands,
    )


def rows_to_compute_args():
    return dict(closest=np.ones(N), x_sqnorms=np.ones(N), assigned=np.zeros(N, np.int32),
                cc_lower=np.ones((2, 3)), error_scale=1e-6, origin_norm=0.0, max_norm=1.0,
                need=np.zeros(N, np.uint8), n_threads=2)


def filtered_args(shift=False, projection=False):
    X = data()
    cands = X[:3].copy()
    chunk, m, f32 = 8, 3, np.float32
    proj = dict(proj=np.zeros((m, N), np.uint16), y_norms=np.ones(N),
                cand_proj=np.zeros((3, m), f32),
                cand_norm=1.0, origin_gap=0.0, error_scale=1e-6, proj_error=1e-6,
                gram_error=1e-6, acc=np.zeros((2, 8), f32), thresholds=f(2, 8))
    if not projection:
        proj.update(proj=np.zeros((0, 0), np.uint16), y_norms=f(0),
                    cand_proj=np.zeros((0, 0), f32),
                    acc=np.zeros((0, 0), f32), thresholds=f(0, 0))
    return dict(
        X=X, x_sqnorms=row_norms(X), candidates=cands, cand_sqnorms=row_norms(cands),
        closest=np.full(N, np.inf), sample_weight=f(0), buffers=f(2, chunk * (3 + D + 1)),
        dist=f(3, N), chunk_pots=f(-(-N // chunk), 3), chunk_rows=chunk, n_threads=2,
        exact_below=1e-6, origin=f(D) if shift else f(0), gemm_candidates=cands,
        need=np.ones(N, np.uint8), need_given=False, gathered=np.zeros((2, 16), np.intp),
        tile_rows=16, gather_below=0.9, **proj,
    )


def sample_args():
    return dict(closest=np.ones(N), sample_weight=f(0), sorted_targets=np.array([0.5, 3.0]),
                out=np.zeros(2, np.intp))


def soft_args(shift=False):
    X = data()
    C = X[:K].copy()
    chunk = 8
    return dict(
        X=X, x_sqnorms=row_norms(X), centers=C, c_sqnorms=row_norms(C), beta=1.0,
        underflow=746.0, sample_weight=f(0), out=f(N, K), chunk_objective=f(-(-N // chunk)),
        chunk_rows=chunk, n_threads=2, origin=f(D) if shift else f(0),
        buffers=f(2, chunk * (D + 1)) if shift else f(0, 0),
    )


def member_args():
    X = data()
    return dict(X=X, indices=idx(0, 3, 22), center=f(D), out=f(3), n_threads=2)


def two_means_args():
    X = data()
    return dict(X=X, indices=idx(0, 3, 7, 22), sample_weight=f(0), centers=X[[0, 3]].copy(),
                direction=f(D), labels=np.zeros(4, np.intp), sums=f(2, D), weights=f(2),
                max_iter=5, n_threads=2, midpoint=f(D), shift_factor=16.0)


def weighted_sums_args(parts=2):
    X = data()
    bounds = np.linspace(0, N, parts + 1).astype(np.intp)
    return dict(X=X, labels=np.arange(N, dtype=np.intp) % K, sample_weight=f(0),
                row_bounds=bounds, part_sums=f(parts - 1, K, D), part_weights=f(parts - 1, K),
                seen=np.zeros((parts, K), np.uint8), sums=f(K, D), weight_in_clusters=f(K),
                n_threads=2)


def means_args():
    return dict(sums=np.ones((K, D)), weight_in_clusters=np.ones(K), centers=f(K, D),
                shift=f(K), n_threads=2)


def weighted_sqnorms_args():
    return dict(X=f(N, D), weights=f(N), origin=f(D), out=f(-(-N // 8)), slice_rows=8,
                n_threads=2)


KERNELS = {
    "_row_sqnorms": (_distances._row_sqnorms, row_sqnorms_args),
    "_weighted_sqnorms": (_distances._weighted_sqnorms, weighted_sqnorms_args),
    "_pairwise_sqdist": (_distances._pairwise_sqdist, pairwise_args),
    "_assign_chunked": (_assign._assign_chunked, assign_args),
    "_candidate_distances": (_seeding._candidate_distances, candidate_args),
    "_sample_by_potential": (_seeding._sample_by_potential, sample_args),
    "_rows_to_compute": (_seeding._rows_to_compute, rows_to_compute_args),
    "_filtered_distances": (_seeding._filtered_distances, filtered_args),
    "_soft_assign": (_soft._soft_assign, soft_args),
    "_member_sqdist": (_split._member_sqdist, member_args),
    "_two_means": (_split._two_means, two_means_args),
    "_weighted_sums": (_centers._weighted_sums, weighted_sums_args),
    "_means": (_centers._means, means_args),
}

# (kernel, builder options, argument, bad value[, argument named]): each must
# raise ValueError naming the argument (or the scratch too small for it).
BAD = [
    ("_row_sqnorms", {}, "out", f(N - 1)),
    ("_row_sqnorms", {}, "X", f(N, 0)),
    ("_row_sqnorms", {}, "n_threads", 0),
    ("_pairwise_sqdist", {}, "Y", f(K, D + 1)),
    ("_pairwise_sqdist", {}, "x_sqnorms", f(N - 1)),
    ("_pairwise_sqdist", {}, "y_sqnorms", f(K + 1)),
    ("_pairwise_sqdist", {}, "out", f(N - 1, K)),
    ("_pairwise_sqdist", {}, "out", f(N, K - 1)),
    ("_pairwise_sqdist", {}, "chunk_rows", 0),
    ("_pairwise_sqdist", {}, "n_threads", -1),
    ("_pairwise_sqdist", {}, "origin", f(D - 1)),
    ("_pairwise_sqdist", {"shift": True}, "buffers", f(2, 8 * (D + 1) - 1)),
    ("_pairwise_sqdist", {"shift": True}, "buffers", f(1, 8 * (D + 1))),
    ("_assign_chunked", {}, "x_sqnorms", f(N + 1)),
    ("_assign_chunked", {}, "centers", f(K, D - 1)),
    ("_assign_chunked", {}, "c_sqnorms", f(K - 1)),
    ("_assign_chunked", {}, "gemm_centers", f(K - 1, D)),
    ("_assign_chunked", {}, "gemm_centers", f(K, D + 1)),
    ("_assign_chunked", {}, "origin", f(D + 1)),
    ("_assign_chunked", {}, "sample_weight", f(N - 1)),
    ("_assign_chunked", {}, "labels", np.zeros(N - 1, np.intp)),
    ("_assign_chunked", {}, "min_sqdist", f(N - 1)),
    ("_assign_chunked", {}, "slice_inertia", f(0)),
    ("_assign_chunked", {"fused": True}, "slice_sums", f(3, K, D + 1)),
    ("_assign_chunked", {"fused": True}, "slice_sums", f(2, K, D)),
    ("_assign_chunked", {"fused": True}, "slice_weights", f(3, K - 1)),
    ("_assign_chunked", {}, "buffers", f(2, 8 * (K + 1) - 1)),
    ("_assign_chunked", {}, "buffers", f(1, 8 * (K + 1))),
    ("_assign_chunked", {"shift": True}, "buffers", f(2, 8 * (K + 1))),
    ("_assign_chunked", {}, "block_labels", np.zeros((2, 7), np.int32)),
    ("_assign_chunked", {}, "block_labels", np.zeros((1, 8), np.int32)),
    ("_assign_chunked", {}, "chunk_rows", 0),
    ("_assign_chunked", {}, "chunk_rows", 9, "buffers"),  # the scratch is sized for 8
    ("_assign_chunked", {}, "k_block", 0),
    ("_assign_chunked", {}, "n_threads", 3),  # two rows of scratch
    ("_assign_chunked", {}, "n_threads", 0),
    ("_candidate_distances", {}, "x_sqnorms", f(N - 1)),
    ("_candidate_distances", {}, "candidates", f(3, D + 1)),
    ("_candidate_distances", {}, "cand_sqnorms", f(2)),
    ("_candidate_distances", {}, "gemm_candidates", f(2, D)),
    ("_candidate_distances", {}, "closest", f(N + 1)),
    ("_candidate_distances", {}, "sample_weight", f(N + 1)),
    ("_candidate_distances", {}, "origin", f(1)),
    ("_candidate_distances", {}, "dist", f(2, N)),
    ("_candidate_distances", {}, "dist", f(3, N - 1)),
    ("_candidate_distances", {}, "chunk_pots", f(2, 3)),
    ("_candidate_distances", {}, "chunk_pots", f(3, 2)),
    ("_candidate_distances", {}, "buffers", f(2, 8 * 3 - 1)),
    ("_candidate_distances", {"shift": True}, "buffers", f(2, 8 * 3)),
    ("_candidate_distances", {}, "buffers", f(1, 8 * 3)),
    ("_candidate_distances", {}, "chunk_rows", 0),
    ("_candidate_distances", {}, "chunk_rows", 16, "buffers"),  # the scratch is sized for 8
    ("_candidate_distances", {}, "n_threads", 0),
    ("_rows_to_compute", {}, "x_sqnorms", f(N - 1)),
    ("_rows_to_compute", {}, "assigned", np.zeros(N + 1, np.int32)),
    ("_rows_to_compute", {}, "need", np.zeros(N - 1, np.uint8)),
    ("_rows_to_compute", {}, "n_threads", 0),
    ("_filtered_distances", {}, "x_sqnorms", f(N - 1)),
    ("_filtered_distances", {}, "candidates", f(3, D + 1)),
    ("_filtered_distances", {}, "cand_sqnorms", f(2)),
    ("_filtered_distances", {}, "gemm_candidates", f(2, D)),
    ("_filtered_distances", {}, "closest", f(N + 1)),
    ("_filtered_distances", {}, "sample_weight", f(N + 1)),
    ("_filtered_distances", {}, "origin", f(1)),
    ("_filtered_distances", {}, "dist", f(3, N - 1)),
    ("_filtered_distances", {}, "chunk_pots", f(2, 3)),
    ("_filtered_distances", {}, "chunk_pots", f(3, 2)),
    ("_filtered_distances", {}, "buffers", f(2, 8 * (3 + D + 1) - 1)),
    ("_filtered_distances", {}, "buffers", f(1, 8 * (3 + D + 1))),
    ("_filtered_distances", {}, "need", np.ones(N - 1, np.uint8)),
    ("_filtered_distances", {}, "gathered", np.zeros((2, 12), np.intp)),
    ("_filtered_distances", {}, "gathered", np.zeros((2, 4), np.intp)),
    ("_filtered_distances", {}, "gathered", np.zeros((1, 16), np.intp)),
    ("_filtered_distances", {}, "tile_rows", 12),
    ("_filtered_distances", {}, "tile_rows", 4),
    ("_filtered_distances", {}, "chunk_rows", 0),
    ("_filtered_distances", {}, "n_threads", 0),
    ("_filtered_distances", {"projection": True}, "proj", np.zeros((3, N - 1), np.uint16)),
    ("_filtered_distances", {"projection": True}, "y_norms", f(N - 1)),
    ("_filtered_distances", {"projection": True}, "cand_proj", np.zeros((3, 4), np.float32)),
    ("_filtered_distances", {"projection": True}, "cand_proj", np.zeros((2, 3), np.float32)),
    ("_filtered_distances", {"projection": True}, "acc", np.zeros((1, 8), np.float32)),
    ("_filtered_distances", {"projection": True}, "thresholds", f(2, 7)),
    ("_sample_by_potential", {}, "sample_weight", f(N - 1)),
    ("_sample_by_potential", {}, "out", np.zeros(1, np.intp)),
    ("_sample_by_potential", {}, "closest", f(0)),
    ("_soft_assign", {}, "x_sqnorms", f(N - 1)),
    ("_soft_assign", {}, "centers", f(K, D + 1)),
    ("_soft_assign", {}, "c_sqnorms", f(K + 1)),
    ("_soft_assign", {}, "sample_weight", f(N + 1)),
    ("_soft_assign", {}, "origin", f(D + 1)),
    ("_soft_assign", {}, "out", f(N, K + 1)),
    ("_soft_assign", {}, "out", f(N - 1, K)),
    ("_soft_assign", {}, "chunk_objective", f(2)),
    ("_soft_assign", {}, "chunk_rows", 0),
    ("_soft_assign", {}, "n_threads", 0),
    ("_soft_assign", {}, "beta", 0.0),
    ("_soft_assign", {}, "beta", float("nan")),
    ("_soft_assign", {"shift": True}, "buffers", f(2, 8 * (D + 1) - 1)),
    ("_soft_assign", {"shift": True}, "buffers", f(1, 8 * (D + 1))),
    ("_member_sqdist", {}, "center", f(D + 1)),
    ("_member_sqdist", {}, "out", f(2)),
    ("_member_sqdist", {}, "indices", idx(0, N, 1)),
    ("_member_sqdist", {}, "indices", idx(-1, 2, 1)),
    ("_member_sqdist", {}, "n_threads", 0),
    ("_two_means", {}, "indices", idx(0, 3, 7, N)),
    ("_two_means", {}, "indices", idx(0, -3, 7, 1)),
    ("_two_means", {}, "sample_weight", f(3)),
    ("_two_means", {}, "centers", f(3, D)),
    ("_two_means", {}, "centers", f(2, D - 1)),
    ("_two_means", {}, "direction", f(D - 1)),
    ("_two_means", {}, "midpoint", f(D + 1)),
    ("_two_means", {}, "labels", np.zeros(3, np.intp)),
    ("_two_means", {}, "sums", f(1, D)),
    ("_two_means", {}, "sums", f(2, D + 1)),
    ("_two_means", {}, "weights", f(1)),
    ("_two_means", {}, "max_iter", 0),
    ("_two_means", {}, "n_threads", 0),
    ("_weighted_sums", {}, "labels", np.zeros(N - 1, np.intp)),
    ("_weighted_sums", {}, "labels", np.r_[np.zeros(N - 1, np.intp), K]),
    ("_weighted_sums", {}, "labels", np.r_[-1, np.zeros(N - 1, np.intp)]),
    ("_weighted_sums", {}, "sample_weight", f(N - 1)),
    ("_weighted_sums", {}, "row_bounds", idx(0, 10, N + 1)),
    ("_weighted_sums", {}, "row_bounds", idx(1, 10, N)),
    ("_weighted_sums", {"parts": 3}, "row_bounds", idx(0, 20, 10, N)),
    ("_weighted_sums", {}, "row_bounds", idx(0)),
    ("_weighted_sums", {}, "part_sums", f(1, K + 1, D)),
    ("_weighted_sums", {}, "part_sums", f(1, K, D - 1)),
    ("_weighted_sums", {}, "part_sums", f(0, K, D)),
    ("_weighted_sums", {}, "part_weights", f(1, K - 1)),
    ("_weighted_sums", {}, "seen", np.zeros((1, K), np.uint8)),
    ("_weighted_sums", {}, "seen", np.zeros((2, K + 1), np.uint8)),
    ("_weighted_sums", {}, "sums", f(K, D + 1)),
    ("_weighted_sums", {}, "weight_in_clusters", f(K - 1)),
    ("_weighted_sums", {}, "n_threads", 0),
    ("_means", {}, "sums", f(K + 1, D)),
    ("_means", {}, "sums", f(K, D - 1)),
    ("_means", {}, "weight_in_clusters", f(K + 1)),
    ("_means", {}, "shift", f(K - 1)),
    ("_means", {}, "n_threads", 0),
    ("_weighted_sqnorms", {}, "weights", f(N - 1)),
    ("_weighted_sqnorms", {}, "origin", f(D + 1)),
    ("_weighted_sqnorms", {}, "out", f(-(-N // 8) + 1)),
    ("_weighted_sqnorms", {}, "slice_rows", 0),
    ("_weighted_sqnorms", {}, "n_threads", 0),
]


def _bad_id(case):
    name, opts, arg, value = case[:4]
    shape = getattr(value, "shape", value)
    return f"{name}-{arg}-{shape}" + "".join(f"-{k}" for k in opts)


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_entry_accepts_consistent_arguments(name):
    kernel, build = KERNELS[name]
    kernel(*build().values())


@pytest.mark.parametrize("case", BAD, ids=[_bad_id(c) for c in BAD])
def test_kernel_entry_rejects_inconsistent_argument(case):
    name, opts, arg, value = case[:4]
    named = case[4] if len(case) > 4 else arg
    kernel, build = KERNELS[name]
    args = build(**opts)
    kernel(*args.values())  # the base case is consistent
    args = build(**opts)
    assert arg in args
    args[arg] = value
    with pytest.raises(ValueError, match=rf"{name}: .*\b{re.escape(named)}\b"):
        kernel(*args.values())


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_entry_rejects_none(name):
    kernel, build = KERNELS[name]
    args = build()
    for arg, value in args.items():
        if isinstance(value, np.ndarray):
            with pytest.raises(TypeError):
                kernel(*{**args, arg: None}.values())


def test_kernel_entries_cover_every_def():
    """Every function a kernel module exports is in the table above."""
    modules = [_assign, _centers, _distances, _seeding, _soft, _split]
    exported = {n for m in modules for n in dir(m)
                if n.startswith("_") and not n.startswith("__") and callable(getattr(m, n))}
    exported -= {"_pyx_unpickle_Enum"}
    assert exported <= set(KERNELS), exported - set(KERNELS)


def test_weighted_sums_bad_label_leaves_outputs_untouched():
    args = weighted_sums_args()
    args["labels"] = np.r_[np.zeros(N - 1, np.intp), 10**6]
    args["sums"] = np.full((K, D), 7.0)
    with pytest.raises(ValueError,
                       match=r"labels must lie in \[0, 4\), got 1000000 at position 22"):
        _centers._weighted_sums(*args.values())
    assert np.all(args["sums"] == 7.0)


# --------------------------------------------------------------------------
# The private wrappers the estimators call
# --------------------------------------------------------------------------

X4 = data()
C_WIDE = np.zeros((3, D + 3))
NORMS = row_norms(X4)

WRAPPERS = {
    "assign_rows": lambda C: kmcore.assignment.assign_rows(X4, NORMS, C, None, 1),
    "_lloyd_step": lambda C: kmcore.assignment._lloyd_step(X4, NORMS, C, None, True, 1),
    "finish_step": lambda C: kmcore.assignment.finish_step(
        X4, None, C, np.zeros(N, np.intp), f(N), 0.0, f(3, D), f(3), True, 1),
    "_pairwise_sqdist": lambda C: kmcore.distances._pairwise_validated(
        X4, NORMS, C, row_norms(C), 1),
    "soft_assign_rows": lambda C: kmcore.soft.soft_assign_rows(X4, NORMS, C, 1.0, None, 1),
}


@pytest.mark.parametrize("name", list(WRAPPERS))
def test_private_wrappers_reject_centers_of_another_width(name):
    """The crash after a failed refit: 4-feature centers met wider X."""
    with pytest.raises(ValueError, match=r"(centers|Y) has shape \(3, 8\) but X has 5 features"):
        WRAPPERS[name](C_WIDE)
    with pytest.raises(ValueError, match=r"has shape \(3, 2\) but X has 5 features"):
        WRAPPERS[name](np.zeros((3, 2)))


@pytest.mark.parametrize("call, match", [
    (lambda: kmcore.assignment.assign_rows(X4, NORMS[:-1], X4[:3], None, 1), "x_sqnorms"),
    (lambda: kmcore.assignment.assign_rows(X4, NORMS, X4[:3], np.ones(N + 1), 1),
     "sample_weight"),
    (lambda: kmcore.seeding._kmeans_plusplus(X4, NORMS[:3], 3, None, 2,
                                             np.random.RandomState(0), 1), "x_sqnorms"),
    (lambda: kmcore.seeding._kmeans_plusplus(X4, NORMS, N + 1, None, 2,
                                             np.random.RandomState(0), 1), "n_clusters"),
    (lambda: kmcore.seeding._farthest_first(X4, NORMS, 3, np.ones(3),
                                            np.random.RandomState(0), 1), "sample_weight"),
    (lambda: kmcore.centers.weighted_sums(X4, np.zeros(N - 1, np.intp), 3, None, 1), "labels"),
    (lambda: kmcore.centers.weighted_sums(X4, np.full(N, 3, np.intp), 3, None, 1), "labels"),
    (lambda: kmcore.split.split_members(X4, idx(0, N), None, 5, np.random.RandomState(0), 1),
     "indices"),
    (lambda: kmcore.split.split_members(X4, idx(0, 1), np.ones(3), 5, np.random.RandomState(0), 1),
     "member_weight"),
    (lambda: kmcore.soft.soft_sums(X4, np.ones((N - 1, 3)), None), "resp"),
    (lambda: kmcore.distances._pairwise_validated(X4, NORMS, X4[:3], NORMS, 1), "y_sqnorms"),
])
def test_private_wrappers_check_lengths(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------
# Arguments that must be named (issue item 9)
# --------------------------------------------------------------------------


def test_pairwise_sqdist_rejects_out_overlapping_an_input():
    A = np.random.default_rng(0).standard_normal((6, 6))
    ref = kmcore.pairwise_sqdist(A, A)
    for out in (A, A.reshape(-1)[:36].reshape(6, 6)):
        before = A.copy()
        with pytest.raises(ValueError, match=r"^out must not share memory"):
            kmcore.pairwise_sqdist(A, A, out=out)
        assert np.array_equal(A, before)
    B = A.copy()
    with pytest.raises(ValueError, match=r"^out must not share memory"):
        kmcore.pairwise_sqdist(A, B, out=B)
    norms = np.zeros((2, 6))
    with pytest.raises(ValueError, match=r"^out must not share memory"):
        kmcore.pairwise_sqdist(A[:2], A, x_sqnorms=norms[0, :2], out=norms)
    out = np.empty((6, 6))
    assert kmcore.pairwise_sqdist(A, A, out=out) is out
    assert np.array_equal(out, ref)


def test_soft_assign_rejects_out_overlapping_an_input():
    X = np.random.default_rng(0).standard_normal((5, 5))
    with pytest.raises(ValueError, match=r"^out must not share memory"):
        kmcore.soft_assign(X, X, beta=1.0, out=X)


@pytest.mark.parametrize("name", ["lloyd_step", "update_centers", "kmeans_plusplus",
                                  "farthest_first", "split_two"])
def test_float32_weights_whose_sum_overflows_are_rejected(name):
    X = data(np.float32)
    w = np.full(N, 3e38, dtype=np.float32)  # each finite, their float32 sum is not
    calls = {
        "lloyd_step": lambda: kmcore.lloyd_step(X, X[:3], sample_weight=w),
        "update_centers": lambda: kmcore.update_centers(X, np.arange(N) % 3, 3, sample_weight=w),
        "kmeans_plusplus": lambda: kmcore.kmeans_plusplus(X, 3, sample_weight=w, random_state=0),
        "farthest_first": lambda: kmcore.farthest_first(X, 3, sample_weight=w, random_state=0),
        "split_two": lambda: kmcore.split_two(X, sample_weight=w, random_state=0),
    }
    with pytest.raises(ValueError, match=r"^sample_weight sums to 6.9e\+39, beyond the range "
                                         r"of float32"):
        calls[name]()
    # The same weights with float64 data are fine (the sum fits).
    kmcore.kmeans_plusplus(X.astype(np.float64), 3, sample_weight=w, random_state=0)


@pytest.mark.parametrize("n_threads, exc, match", [
    (2**31, ValueError, r"n_threads must be <= 1024, got 2147483648"),
    (2**63, ValueError, r"n_threads must be <= 1024"),
    (1025, ValueError, r"n_threads must be <= 1024, got 1025"),
    (np.int64(2**40), ValueError, r"n_threads must be <= 1024"),
])
def test_n_threads_beyond_the_bound_is_rejected(n_threads, exc, match):
    X = data()
    for call in (lambda: kmcore.assign(X, X[:3], n_threads=n_threads),
                 lambda: kmcore.row_norms(X, n_threads=n_threads),
                 lambda: kmcore.kmeans_plusplus(X, 3, n_threads=n_threads)):
        with pytest.raises(exc, match=match):
            call()
    kmcore.assign(X, X[:3], n_threads=1024)  # the bound itself is accepted


@pytest.mark.parametrize("beta", [1 + 0j, np.complex128(2.0), np.complex64(1.0), 1j,
                                  np.array(1.0), "1.0", True, None])
def test_soft_assign_non_real_beta_is_a_type_error(beta):
    X = data()
    with pytest.raises(TypeError, match=r"^beta must be a real number"):
        kmcore.soft_assign(X, X[:3], beta=beta)


@pytest.mark.parametrize("beta", [1, 2.5, np.float32(0.5), np.float64(3.0), np.int64(2)])
def test_soft_assign_real_beta_forms_are_accepted(beta):
    X = data()
    R = kmcore.soft_assign(X, X[:3], beta=beta)
    np.testing.assert_allclose(R.sum(axis=1), 1.0)
