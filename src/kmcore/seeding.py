"""Center seeding: greedy k-means++ and farthest-first traversal."""

import numpy as np

from kmcore import _input, _seeding
from kmcore._origin import NO_ORIGIN, data_origin, shifted
from kmcore._threads import blas_single_threaded, block_sizes, effective_n_threads
from kmcore._validation import (
    check_kernel_inputs,
    check_n_clusters,
    check_positive_int,
    check_random_state,
)
from kmcore.assignment import _EXACT_BELOW
from kmcore.centers import _unit_or
from kmcore.distances import _row_norms


def kmeans_plusplus(X, n_clusters, sample_weight=None, n_local_trials=None,
                    random_state=None, x_sqnorms=None, n_threads=None, check_input=True):
    """Greedy k-means++ seeding.

    The first center is a row drawn with probability proportional to its
    weight; each next one is the best of ``n_local_trials`` rows drawn with
    probability proportional to ``weight * D(x)^2`` (D: distance to the
    nearest chosen center), the best being the one that lowers the weighted
    potential most. One step is one pass over X: the distances to all trials
    come from one thin GEMM per block of rows, fused with the potential sums.
    The draws use float64 cumulative sums, in the order scikit-learn's
    ``kmeans_plusplus`` uses its RandomState, so with float64 data and the
    same ``random_state`` both pick the same rows (up to ties in rounding).
    Distances that the GEMM expansion cancels (a row at or near a candidate)
    are recomputed directly, so a chosen row is never drawn again; data far
    from the origin against their spread are computed around the mean of
    evenly spaced rows (see ``kmcore._origin``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
        Centers to pick, 1 <= n_clusters <= n_samples.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights; None means 1 for every row.
    n_local_trials : int, default=None
        Candidates per step; None means ``2 + int(ln(n_clusters))``.
    random_state : None, int or numpy.random.RandomState, default=None
    x_sqnorms : array-like of shape (n_samples,), default=None
        Precomputed squared row norms of X.
    n_threads : int, default=None
        OpenMP threads. None: ``kmcore.effective_n_threads`` (OpenMP's limit and the
        CPUs; one thread for small inputs); -1 all CPUs. The potentials are
        summed per block in a fixed order: the result does not depend on it.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
    indices : ndarray of shape (n_clusters,), intp
        ``X[indices[i]]`` is ``centers[i]``.
    """
    X = _input.data(X, "X", check_input)
    n_clusters = check_n_clusters(n_clusters, X.shape[0])
    sample_weight = _input.sample_weight(sample_weight, X.shape[0], X.dtype, check_input)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    n_local_trials = check_positive_int(n_local_trials, "n_local_trials")
    x_sqnorms = _input.sqnorms(x_sqnorms, "x_sqnorms", X.shape[0], X.dtype, check_input)
    # One pass per center compares every row with the candidates.
    n_threads = effective_n_threads(n_threads, work=X.size * n_local_trials)
    if x_sqnorms is None:
        x_sqnorms = _row_norms(X, True, n_threads)
    return _kmeans_plusplus(X, x_sqnorms, n_clusters, sample_weight, n_local_trials,
                            check_random_state(random_state), n_threads)


def _kmeans_plusplus(X, x_sqnorms, n_clusters, sample_weight, n_local_trials, rng, n_threads):
    """kmeans_plusplus on validated input."""
    check_kernel_inputs(X, None, x_sqnorms, sample_weight)
    n = X.shape[0]
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must lie in [1, {n}], got {n_clusters}")
    passes = _CandidatePass(X, x_sqnorms, sample_weight, n_local_trials, n_threads)
    indices = np.empty(n_clusters, dtype=np.intp)
    indices[0] = _first_center(n, sample_weight, rng)
    closest = np.full(n, np.inf, dtype=X.dtype)
    pot = passes.run(indices[:1], closest)[0]
    closest[:] = passes.dist[0]
    targets_sorted = np.empty(n_local_trials, dtype=np.float64)
    drawn = np.empty(n_local_trials, dtype=np.intp)
    for c in range(1, n_clusters):
        targets = rng.uniform(size=n_local_trials) * pot
        order = np.argsort(targets, kind="stable")
        targets_sorted[:] = targets[order]
        _seeding._sample_by_potential(closest, _unit_or(sample_weight, X.dtype),
                                      targets_sorted, drawn)
        candidates = np.empty(n_local_trials, dtype=np.intp)
        candidates[order] = drawn
        pots = passes.run(candidates, closest)
        best = int(np.argmin(pots))
        pot = pots[best]
        closest[:] = passes.dist[best]
        indices[c] = candidates[best]
    return X[indices], indices


def farthest_first(X, n_clusters, sample_weight=None, random_state=None, x_sqnorms=None,
                   n_threads=None, check_input=True):
    """Farthest-first traversal seeding (Gonzalez), the "farthest" init.

    The first center is a row drawn with probability proportional to its
    weight; each next one is the row farthest from all chosen centers (ties to
    the lower index; rows of zero weight are never chosen). Deterministic
    after the first draw; one pass over X per center. Sensitive to outliers
    by design.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like of shape (n_samples,), default=None
    random_state : None, int or numpy.random.RandomState, default=None
    x_sqnorms : array-like of shape (n_samples,), default=None
    n_threads : int, default=None
        OpenMP threads. None: ``kmcore.effective_n_threads`` (OpenMP's limit and the
        CPUs; one thread for small inputs); -1 all CPUs.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
    indices : ndarray of shape (n_clusters,), intp
    """
    X = _input.data(X, "X", check_input)
    n_clusters = check_n_clusters(n_clusters, X.shape[0])
    sample_weight = _input.sample_weight(sample_weight, X.shape[0], X.dtype, check_input)
    x_sqnorms = _input.sqnorms(x_sqnorms, "x_sqnorms", X.shape[0], X.dtype, check_input)
    n_threads = effective_n_threads(n_threads, work=X.size)
    if x_sqnorms is None:
        x_sqnorms = _row_norms(X, True, n_threads)
    return _farthest_first(X, x_sqnorms, n_clusters, sample_weight,
                           check_random_state(random_state), n_threads)


def _farthest_first(X, x_sqnorms, n_clusters, sample_weight, rng, n_threads):
    """farthest_first on validated input."""
    check_kernel_inputs(X, None, x_sqnorms, sample_weight)
    n = X.shape[0]
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must lie in [1, {n}], got {n_clusters}")
    passes = _CandidatePass(X, x_sqnorms, sample_weight, 1, n_threads)
    indices = np.empty(n_clusters, dtype=np.intp)
    indices[0] = _first_center(n, sample_weight, rng)
    closest = np.full(n, np.inf, dtype=X.dtype)
    for c in range(1, n_clusters):
        passes.run(indices[c - 1:c], closest)
        closest[:] = passes.dist[0]
        if sample_weight is None:
            indices[c] = int(np.argmax(closest))
        else:
            indices[c] = int(np.argmax(np.where(sample_weight > 0, closest, -1)))
    return X[indices], indices


def _first_center(n, sample_weight, rng):
    return int(rng.choice(n, p=row_probabilities(n, sample_weight)))


def row_probabilities(n, sample_weight):
    """Probability of drawing each row: proportional to its weight, uniform without.

    Always an explicit vector, as scikit-learn passes to ``RandomState.choice``:
    with and without ``p`` the RandomState is consumed differently, and the
    same ``random_state`` must give the same draws as scikit-learn.
    """
    return np.full(n, 1.0 / n) if sample_weight is None else sample_weight / sample_weight.sum()


class _CandidatePass:
    """Buffers for repeated passes of ``_seeding._candidate_distances`` over one X.

    The origin is chosen once per seeding, from evenly spaced rows of X.
    """

    def __init__(self, X, x_sqnorms, sample_weight, max_candidates, n_threads):
        n, d = X.shape
        self.X, self.x_sqnorms, self.n_threads = X, x_sqnorms, n_threads
        self.weight = _unit_or(sample_weight, X.dtype)
        self.chunk_rows, _ = block_sizes(n, d, max_candidates, X.dtype.itemsize)
        self.chunk_rows = max(self.chunk_rows, 1)
        self.n_chunks = -(-n // self.chunk_rows)
        self.n_workers = max(1, min(n_threads, self.n_chunks))
        self.origin = data_origin(X)
        # With an origin, each thread also holds its chunk of shifted rows and their norms.
        width = max_candidates + (0 if self.origin is None else d + 1)
        self.buffers = np.empty((self.n_workers, self.chunk_rows * width), dtype=X.dtype)
        self.dist_all = np.empty((max_candidates, n), dtype=X.dtype)
        self.dist = self.dist_all

    def run(self, candidate_rows, closest):
        """Potentials of adding each candidate; ``self.dist[l]`` the new closest distances."""
        L = len(candidate_rows)
        cands = self.X[candidate_rows]
        if self.origin is None:
            origin, gemm_cands = NO_ORIGIN, cands
        else:
            origin, gemm_cands = self.origin, shifted(cands, self.origin, self.X.dtype)
        self.dist = self.dist_all[:L]
        chunk_pots = np.empty((self.n_chunks, L), dtype=np.float64)
        with blas_single_threaded():
            _seeding._candidate_distances(
                self.X, self.x_sqnorms, cands, _row_norms(gemm_cands, True, 1), closest,
                self.weight, self.buffers, self.dist, chunk_pots, self.chunk_rows,
                self.n_workers, _EXACT_BELOW[self.X.dtype], origin, gemm_cands,
            )
        return chunk_pots.sum(axis=0)
