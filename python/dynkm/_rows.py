"""Rows dense or scipy CSR, raw or unit-norm: one dispatch for every estimator.

Each function takes dense rows (computed by kmcore's public kernels on
trusted input) or CSR rows under one signature. The CSR ones keep the same
results, computed by scipy's sparse products on blocks of rows, so a CSR
matrix is never densified: the largest dense temporary is one block of
``_BLOCK_CELLS`` row-by-center distances, and the centers themselves.
A CSR distance that the expansion ||x||^2 - 2 x.c + ||c||^2 cancels (a row
at or near a center) is recomputed directly, as kmcore's dense kernels do, so
a row on a center is at distance exactly 0 in both layouts.
The Lloyd loop that runs these steps is ``dynkm._lloyd.run_lloyd``.
"""

import numpy as np
import scipy.sparse as sp

import kmcore
from kmcore.assignment import EXACT_BELOW, finish_step
from kmcore.assignment import assign_rows as dense_assign_rows
from kmcore.centers import weighted_sums as dense_weighted_sums
from kmcore.distances import PAIRWISE_CHUNK_ROWS
from kmcore.origin import data_origin

# Row-by-center cells of one dense distance block of a CSR matrix (32 MB in float64).
_BLOCK_CELLS = 1 << 22
# Rows per block of the float64 per-cluster sums of a CSR matrix.
_SUM_ROWS = 1 << 16
# Rows per slice of the float64 norms around an origin (bounded temporary memory).
_SLICE_ROWS = 8192


def weights_or_ones(sample_weight, n):
    """Row weights as float64 (ones when None)."""
    return np.ones(n) if sample_weight is None else sample_weight.astype(np.float64)


def row_norms(X, n_threads):
    """Squared Euclidean norm of every row, in X's dtype."""
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=X.dtype).ravel()
    return kmcore.row_norms(X, n_threads=n_threads, check_input=False)


def unit_rows(X, n_threads):
    """A copy of X with every nonzero row scaled to unit norm (zero rows stay zero)."""
    norms = np.sqrt(row_norms(X, n_threads))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(scale) @ X, dtype=X.dtype)
    return X * scale[:, None]


def unit_centers(centers):
    """Centers scaled to unit norm; an all-zero center stays zero."""
    norms = np.linalg.norm(centers, axis=1, keepdims=True)
    return np.divide(centers, norms, out=np.zeros_like(centers), where=norms > 0)


def dense_rows(X, rows):
    """Rows of X as a dense float array (for the few rows that become centers)."""
    block = X[rows]
    return block.toarray() if sp.issparse(block) else np.array(block)


def row_blocks(n_rows, n_centers):
    """(start, stop) of row blocks with at most ``_BLOCK_CELLS`` distances each."""
    step = max(1, _BLOCK_CELLS // max(n_centers, 1))
    return [(start, min(n_rows, start + step)) for start in range(0, n_rows, step)]


def block_rows(max_rows, n_centers, n_threads):
    """Rows per dense distance block: at most ``max_rows`` and ``_BLOCK_CELLS`` cells,
    a multiple of kmcore's pairwise chunk per thread when that fits (so the
    threads get equal shares of every block)."""
    rows = max(1, min(max_rows, _BLOCK_CELLS // max(n_centers, 1)))
    unit = PAIRWISE_CHUNK_ROWS * n_threads
    return rows - rows % unit if rows >= unit else rows


def sqdist_block(X, x_sqnorms, centers, c_sqnorms, n_threads, out=None):
    """Dense squared distances from (a block of) rows to every center, clamped at 0.

    ``out`` (dense X only): a C-contiguous (rows, centers) buffer to write into.
    """
    if not sp.issparse(X):
        return kmcore.pairwise_sqdist(X, centers, x_sqnorms, c_sqnorms, n_threads=n_threads,
                                      out=out, check_input=False)
    D = np.asarray(X @ centers.T, dtype=X.dtype)
    D *= -2
    D += x_sqnorms[:, None]
    D += c_sqnorms[None, :]
    _recompute_cancelled(X, x_sqnorms, centers, c_sqnorms, D)
    return np.maximum(D, 0, out=D)


def exact_sqdist_block(X, x_sqnorms, centers, c_sqnorms, n_threads):
    """``sqdist_block`` with every distance the expansion cancelled recomputed directly.

    CSR blocks already are. kmcore's dense pairwise kernel keeps the
    expansion everywhere, so the distance of a row to an identical center can
    be a rounding residue instead of 0 (``transform(cluster_centers_)`` would
    show it on its diagonal); the assignment kernels recompute those, and so
    does this. The rule is relative to the norms the kernel's expansion used:
    around the data's origin when kmcore computed there (:mod:`kmcore.origin`).
    """
    D = sqdist_block(X, x_sqnorms, centers, c_sqnorms, n_threads)
    if not sp.issparse(X):
        origin = data_origin(X)
        if origin is not None:
            x_sqnorms, c_sqnorms = _shifted_sqnorms(X, origin), _shifted_sqnorms(centers, origin)
        _recompute_cancelled(X, x_sqnorms, centers, c_sqnorms, D)
    return D


def _shifted_sqnorms(A, origin):
    """Squared norms of the rows of ``A - origin`` in float64, by row slices."""
    out = np.empty(A.shape[0])
    for start in range(0, A.shape[0], _SLICE_ROWS):
        diff = A[start:start + _SLICE_ROWS].astype(np.float64) - origin
        out[start:start + _SLICE_ROWS] = np.einsum("ij,ij->i", diff, diff)
    return out


def _recompute_cancelled(X, x_sqnorms, centers, c_sqnorms, D):
    """Recompute directly, in ``D`` (in place), the distances the expansion cancelled.

    Where the expansion is below ``EXACT_BELOW * (||x||^2 + ||c||^2)`` most of
    its digits are rounding (kmcore's assignment kernels use the same rule).
    Those entries are few (rows at or near a center); their rows are taken
    (CSR: densified) a block at a time for ``sum((x - c)^2)``, so at most
    ``_BLOCK_CELLS`` values.
    """
    threshold = EXACT_BELOW[np.dtype(X.dtype)]
    rows, cols = np.nonzero(D < threshold * (x_sqnorms[:, None] + c_sqnorms[None, :]))
    step = max(1, _BLOCK_CELLS // max(X.shape[1], 1))
    for start in range(0, rows.size, step):
        r, c = rows[start:start + step], cols[start:start + step]
        block = X[r]
        block = block.toarray() if sp.issparse(block) else block
        diff = block.astype(np.float64) - centers[c]
        D[r, c] = np.einsum("ij,ij->i", diff, diff)


def assign_rows(X, x_sqnorms, centers, sample_weight, n_threads):
    """:func:`kmcore.assignment.assign_rows` (labels, min_sqdist, inertia, None), dense or CSR."""
    if not sp.issparse(X):
        return dense_assign_rows(X, x_sqnorms, centers, sample_weight, n_threads)
    n = X.shape[0]
    labels = np.empty(n, dtype=np.intp)
    min_sqdist = np.empty(n, dtype=X.dtype)
    c_sqnorms = row_norms(centers, n_threads)
    for start, stop in row_blocks(n, centers.shape[0]):
        D = sqdist_block(X[start:stop], x_sqnorms[start:stop], centers, c_sqnorms, n_threads)
        labels[start:stop] = D.argmin(axis=1)
        min_sqdist[start:stop] = D[np.arange(stop - start), labels[start:stop]]
    return labels, min_sqdist, float(weights_or_ones(sample_weight, n) @ min_sqdist), None


def weighted_sums(X, labels, n_clusters, sample_weight, n_threads):
    """float64 per-cluster sums and weights, dense (kmcore) or CSR (one sparse product)."""
    if not sp.issparse(X):
        return dense_weighted_sums(X, labels, n_clusters, sample_weight, n_threads)
    n = X.shape[0]
    w = weights_or_ones(sample_weight, n)
    member = sp.csr_matrix((w, (labels, np.arange(n))), shape=(n_clusters, n)).tocsc()
    sums = np.zeros((n_clusters, X.shape[1]))
    # float64 products by row blocks: a float32 X is never copied whole.
    for start in range(0, n, _SUM_ROWS):
        stop = min(n, start + _SUM_ROWS)
        sums += (member[:, start:stop] @ X[start:stop].astype(np.float64)).toarray()
    return sums, np.bincount(labels, weights=w, minlength=n_clusters)


def lloyd_step(X, x_sqnorms, centers, sample_weight, relocate_empty, n_threads):
    """:func:`kmcore.lloyd_step` (a LloydStep) on trusted input, dense (fused kernel) or CSR."""
    if not sp.issparse(X):
        return kmcore.lloyd_step(X, centers, sample_weight, x_sqnorms, relocate_empty, n_threads,
                                 check_input=False)
    labels, min_sqdist, inertia, _ = assign_rows(X, x_sqnorms, centers, sample_weight, n_threads)
    sums, weights = weighted_sums(X, labels, centers.shape[0], sample_weight, n_threads)
    return finish_step(X, sample_weight, centers, labels, min_sqdist, inertia, sums, weights,
                       relocate_empty, n_threads)
