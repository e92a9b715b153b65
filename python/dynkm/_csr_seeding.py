"""k-means++ and farthest-first seeding of scipy CSR rows, never densifying X.

The same algorithms as kmcore's dense :func:`kmcore.kmeans_plusplus` and
:func:`kmcore.farthest_first`, drawing from the RandomState in the same order
with the same draw (:func:`kmcore.seeding.draw_by_potential`), so a CSR matrix
and its dense copy get the same rows from the same ``random_state`` (up to a
draw that lands within rounding of the boundary between two rows).

Distances come from :func:`dynkm._rows.sqdist_block` on blocks of rows: one
sparse x dense product per block, the cancelled ones recomputed directly (a
chosen row is at distance exactly 0 and is never drawn again). The largest
temporaries are one block of row-by-candidate distances and the
``n_local_trials x n_samples`` candidate distances kmcore keeps too.
"""

import numpy as np

from dynkm._rows import dense_rows, row_blocks, sqdist_block
from kmcore.seeding import draw_by_potential, row_probabilities


def kmeans_plusplus_csr(X, x_sqnorms, n_clusters, sample_weight, n_local_trials, rng):
    """Greedy k-means++ on CSR ``X``: (centers, indices) as :func:`kmcore.kmeans_plusplus`.

    The first center is a row drawn with probability proportional to its
    weight; each next one is, of ``n_local_trials`` rows drawn with
    probability proportional to ``weight * D(x)^2``, the one that lowers the
    weighted potential most.

    Parameters
    ----------
    X : scipy sparse CSR matrix or array of shape (n_samples, n_features)
    x_sqnorms : ndarray of shape (n_samples,), X's dtype
    n_clusters : int, 1 <= n_clusters <= n_samples
    sample_weight : ndarray of shape (n_samples,) in X's dtype, or None (unit weights)
    n_local_trials : int >= 1
    rng : numpy.random.RandomState (advanced by the draws)

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
    indices : ndarray of shape (n_clusters,), intp
    """
    n = X.shape[0]
    _check_k(n_clusters, n)
    indices = np.empty(n_clusters, dtype=np.intp)
    indices[0] = int(rng.choice(n, p=row_probabilities(n, sample_weight)))
    closest = np.full(n, np.inf, dtype=X.dtype)
    dist = _candidate_distances(X, x_sqnorms, indices[:1], closest)
    closest = dist[0]
    pot = _potentials(dist, sample_weight)[0]
    for c in range(1, n_clusters):
        targets = rng.uniform(size=n_local_trials) * pot
        candidates = draw_by_potential(closest, sample_weight, targets)
        dist = _candidate_distances(X, x_sqnorms, candidates, closest)
        pots = _potentials(dist, sample_weight)
        best = int(np.argmin(pots))
        pot = pots[best]
        closest = dist[best]
        indices[c] = candidates[best]
    return dense_rows(X, indices).astype(X.dtype, copy=False), indices


def farthest_first_csr(X, x_sqnorms, n_clusters, sample_weight, rng):
    """Farthest-first traversal on CSR ``X``: (centers, indices) as :func:`kmcore.farthest_first`.

    The first center is a row drawn with probability proportional to its
    weight; each next one is the row of positive weight farthest from every
    chosen center (ties to the lower index).
    """
    n = X.shape[0]
    _check_k(n_clusters, n)
    indices = np.empty(n_clusters, dtype=np.intp)
    indices[0] = int(rng.choice(n, p=row_probabilities(n, sample_weight)))
    closest = np.full(n, np.inf, dtype=X.dtype)
    for c in range(1, n_clusters):
        closest = _candidate_distances(X, x_sqnorms, indices[c - 1:c], closest)[0]
        if sample_weight is None:
            indices[c] = int(np.argmax(closest))
        else:
            indices[c] = int(np.argmax(np.where(sample_weight > 0, closest, -1)))
    return dense_rows(X, indices).astype(X.dtype, copy=False), indices


def _check_k(n_clusters, n):
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must lie in [1, {n}], got {n_clusters}")


def _candidate_distances(X, x_sqnorms, candidate_rows, closest):
    """``min(closest, ||x - X[cand]||^2)`` for every candidate: shape (L, n), X's dtype.

    Parameters
    ----------
    X : CSR rows
    x_sqnorms : squared row norms of X
    candidate_rows : indices of the candidate rows
    closest : current closest squared distance (+inf for none)
    """
    cands = dense_rows(X, candidate_rows).astype(X.dtype, copy=False)
    # A candidate's own norm as X's: its distance to itself cancels to 0 exactly
    # or is recomputed (sqdist_block), never left at a rounding residue.
    c_sqnorms = x_sqnorms[candidate_rows]
    dist = np.empty((len(candidate_rows), X.shape[0]), dtype=X.dtype)
    for start, stop in row_blocks(X.shape[0], len(candidate_rows)):
        D = sqdist_block(X[start:stop], x_sqnorms[start:stop], cands, c_sqnorms, 1)
        np.minimum(D.T, closest[None, start:stop], out=dist[:, start:stop])
    return dist


def _potentials(dist, sample_weight):
    """Weighted sum of each row of ``dist``, in float64 (the k-means++ potential)."""
    d64 = dist.astype(np.float64)
    return d64.sum(axis=1) if sample_weight is None else d64 @ sample_weight.astype(np.float64)
