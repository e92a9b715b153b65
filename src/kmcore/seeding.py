"""Center seeding: greedy k-means++ and farthest-first traversal."""

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kmcore import _input, _seeding
from kmcore._seeding_bounds import ProjectionBounds, TriangleBounds, projection_dims
from kmcore._origin import NO_ORIGIN, data_origin, shifted
from kmcore._threads import blas_single_threaded, block_sizes, effective_n_threads
from kmcore._validation import (
    check_kernel_inputs,
    check_n_clusters,
    check_positive_int,
    check_random_state,
)
from kmcore.assignment import EXACT_BELOW as _EXACT_BELOW
from kmcore.centers import _unit_or
from kmcore.distances import _row_norms

__all__ = ["draw_by_potential", "farthest_first", "kmeans_plusplus", "row_probabilities"]


def kmeans_plusplus(X: ArrayLike, n_clusters: int, sample_weight: ArrayLike | None = None,
                    n_local_trials: int | None = None,
                    random_state: int | np.random.RandomState | None = None,
                    x_sqnorms: ArrayLike | None = None, n_threads: int | None = None,
                    check_input: bool = True
                    ) -> tuple[NDArray[np.floating], NDArray[np.intp]]:
    """Greedy k-means++ seeding.

    The first center is a row drawn with probability proportional to its
    weight; each next one is the best of ``n_local_trials`` rows drawn with
    probability proportional to ``weight * D(x)^2`` (D: distance to the
    nearest chosen center), the best being the one that lowers the weighted
    potential most. One step is at most one pass over X (one parallel
    region): the distances to all trials come from one product of a block
    of rows with the trials (a SIMD kernel reading the rows in place), fused
    with the potential sums. Rows that no trial can come
    closer to than their closest center (proved by the triangle inequality,
    with a margin for rounding) are not read at all, the others are gathered
    into blocks of the same size: the same distances and potentials come
    out, so the same rows are picked. That
    skips most rows of clustered data once every cluster holds a center, and
    few of high-dimensional data without clear clusters (where the bounds
    are then tried only now and then). On high-dimensional data a second
    bound proves it from the rows' projections on m <= 128 directions of
    largest spread, found once per call: with at least 4096 rows and 16
    centers, and m as large as keeps the projections (stored as bfloat16)
    within 1/12 of X's bytes, if that is at least 32 (float32 X: 192
    features or more; float64 X: 96). It costs one product of X with the m
    directions and extra memory O(n_samples x m): the projected rows (2 m
    bytes a row) and one float64 per row.
    The draws use float64 cumulative sums, in the order scikit-learn's
    ``kmeans_plusplus`` uses its RandomState, so with float64 data and the
    same ``random_state`` both pick the same rows (up to ties in rounding).
    Distances that the expansion cancels (a row at or near a candidate)
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


# A tile of a filtered k-means++ pass gathers the rows it must compute when
# they are fewer than this fraction of its rows; above, computing the whole
# tile (no copy, the potentials fused into it) costs about as much. Either
# way the same distances and potentials come out.
_GATHER_BELOW = 0.9
# When the bounds left too many rows to gather, they are next tried this
# fraction of the centers chosen so far later (plus one step): on data where
# they rarely prune (high-dimensional, unclustered), their cost stays a few
# steps' worth, and as the centers multiply and the distances shrink they
# are tried again.
_RETRY_AFTER = 0.25
# Rows per tile of the filtered pass: the work a thread takes at a time
# (the rows of its chunks it filters, lists and sums). A tile is made large
# enough for _TILE_CALLS calls of a chunk's length over the rows the bounds
# left at the previous step (few, long calls);
# but at least _TILE_ROWS rows, and small enough that every thread gets
# _TILES_PER_THREAD tiles: a thread the machine holds back delays the step
# by that share at most. The tile never changes a result.
_TILE_ROWS = 1024
_TILE_CALLS = 4
_TILES_PER_THREAD = 4


def _kmeans_plusplus(X, x_sqnorms, n_clusters, sample_weight, n_local_trials, rng, n_threads,
                     stats=None):
    """kmeans_plusplus on validated input.

    Each step computes only the rows some candidate may come closer to than
    their closest center (see ``TriangleBounds`` and ``ProjectionBounds``):
    the others keep their distance, exactly as the full pass would give it,
    so the same rows are picked. ``stats``, a list, receives per step (after the first) the
    fraction of rows whose distances to the candidates were computed, the
    fractions of rows and of row-candidate pairs the triangle bounds could
    not skip, and the fraction of rows left after the projection bounds too
    (each None when not tried).
    """
    check_kernel_inputs(X, None, x_sqnorms, sample_weight)
    n = X.shape[0]
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must lie in [1, {n}], got {n_clusters}")
    state = _GreedyState(X, x_sqnorms, n_clusters, sample_weight, n_local_trials, n_threads)
    indices = np.empty(n_clusters, dtype=np.intp)
    indices[0] = _first_center(n, sample_weight, rng)
    pot = state.start(indices[0])
    # The step from which each bound (triangle, projection) is tried again.
    next_try = [1, 1]
    # The bounds' small float64 products run between our OpenMP passes.
    with blas_single_threaded():
        for c in range(1, n_clusters):
            candidates = state.draw(rng, pot)
            pots, paid = state.potentials(candidates, [c >= t for t in next_try], stats)
            for b, bound_paid in enumerate(paid):
                if not bound_paid:
                    next_try[b] = max(next_try[b], c + 1 + int(_RETRY_AFTER * c))
            best = int(np.argmin(pots))
            pot = pots[best]
            indices[c] = candidates[best]
            state.choose(best, c, indices[c])
    return X[indices], indices


class _GreedyState:
    """What greedy k-means++ keeps between steps: every row's closest chosen
    center (its distance and index), the passes' buffers and the bounds."""

    def __init__(self, X, x_sqnorms, n_clusters, sample_weight, n_local_trials, n_threads):
        n = X.shape[0]
        self.X, self.n_threads, self.L = X, n_threads, n_local_trials
        self.weight = _unit_or(sample_weight, X.dtype)
        self.passes = _CandidatePass(X, x_sqnorms, sample_weight, n_local_trials, n_threads,
                                     gather=True)
        self.bounds = TriangleBounds(X, x_sqnorms, n_clusters, self.passes.origin)
        m = projection_dims(n, X.shape[1], X.dtype.itemsize, n_clusters)
        self.projection = (ProjectionBounds(X, m, self.passes.origin, self.bounds.error_scale,
                                             n_threads) if m else None)
        if self.projection is not None and not self.projection.usable:
            self.projection = None
        # The fraction of rows the bounds left at the last step (sizes the tiles).
        self.left_fraction = 1.0
        self.closest = np.full(n, np.inf, dtype=X.dtype)
        self.assigned = np.zeros(n, dtype=np.int32)
        self.need = np.empty(n, dtype=np.uint8)
        self.moved = np.empty(n, dtype=bool)
        self.targets_sorted = np.empty(n_local_trials, dtype=np.float64)
        self.drawn = np.empty(n_local_trials, dtype=np.intp)

    def start(self, first):
        """Take row ``first`` as center 0; the potential."""
        pot = self.passes.run(np.array([first], dtype=np.intp), self.closest)[0]
        self.closest[:] = self.passes.dist[0]
        self.bounds.add(first)
        return pot

    def draw(self, rng, pot):
        """The candidates: rows drawn with probability proportional to weight * closest."""
        targets = rng.uniform(size=self.L) * pot
        order = np.argsort(targets, kind="stable")
        self.targets_sorted[:] = targets[order]
        _seeding._sample_by_potential(self.closest, self.weight, self.targets_sorted, self.drawn)
        candidates = np.empty(self.L, dtype=np.intp)
        candidates[order] = self.drawn
        return candidates

    def potentials(self, candidates, tries, stats):
        """The potential of adding each candidate; and, for the triangle and the
        projection bounds, False if tried (``tries``) and left too many rows to gather."""
        n = self.X.shape[0]
        try_triangle, try_projection = tries[0], tries[1] and self.projection is not None
        tri_rows = n_pairs = None
        if try_triangle:
            tri_rows, n_pairs = self.bounds.rows_to_compute(candidates, self.closest,
                                                            self.assigned, self.need,
                                                            self.n_threads)
        # Without either bound this is the plain pass (every tile whole).
        pots, left, computed = self.passes.run_filtered(
            candidates, self.closest, self.need, try_triangle,
            self.projection if try_projection else None,
            self.passes.tile_for(self.left_fraction))
        self.left_fraction = left / n
        if stats is not None:
            stats.append((computed / n, tri_rows / n if try_triangle else None,
                          n_pairs / (n * self.L) if try_triangle else None,
                          left / n if try_projection else None))
        paid = (not try_triangle or tri_rows < _GATHER_BELOW * n,
                not try_projection or left < _GATHER_BELOW * n)
        return pots, paid

    def choose(self, best, c, row):
        """Add candidate ``best`` (row ``row`` of X) as center c."""
        dist = self.passes.dist[best]
        np.less(dist, self.closest, out=self.moved)
        self.assigned[self.moved] = c
        self.closest[:] = dist
        self.bounds.add(row)


def farthest_first(X: ArrayLike, n_clusters: int, sample_weight: ArrayLike | None = None,
                   random_state: int | np.random.RandomState | None = None,
                   x_sqnorms: ArrayLike | None = None, n_threads: int | None = None,
                   check_input: bool = True
                   ) -> tuple[NDArray[np.floating], NDArray[np.intp]]:
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


def row_probabilities(n: int, sample_weight: NDArray[np.floating] | None) -> NDArray[np.floating]:
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

    def __init__(self, X, x_sqnorms, sample_weight, max_candidates, n_threads, gather=False):
        n, d = X.shape
        self.X, self.x_sqnorms, self.n_threads = X, x_sqnorms, n_threads
        self.weight = _unit_or(sample_weight, X.dtype)
        self.chunk_rows, _ = block_sizes(n, d, max_candidates, X.dtype.itemsize)
        self.chunk_rows = max(self.chunk_rows, 1)
        self.n_chunks = -(-n // self.chunk_rows)
        self.n_workers = max(1, min(n_threads, self.n_chunks))
        self.origin = data_origin(X)
        # With an origin or gathered rows, each thread also holds its chunk of
        # (shifted or gathered) rows and their norms.
        width = max_candidates + (0 if self.origin is None and not gather else d + 1)
        # Zeros: scratch that holds finite values from the start.
        self.buffers = np.zeros((self.n_workers, self.chunk_rows * width), dtype=X.dtype)
        # The filtered pass's tiles: whole chunks, each thread's row list.
        self.min_tile = self.chunk_rows * max(1, _TILE_ROWS // self.chunk_rows)
        share = -(-n // (_TILES_PER_THREAD * self.n_workers))
        self.max_tile = max(self.min_tile, -(-share // self.chunk_rows) * self.chunk_rows)
        self.gathered = np.empty((self.n_workers, self.max_tile if gather else 0), dtype=np.intp)
        self.dist_all = np.empty((max_candidates, n), dtype=X.dtype)
        self.dist = self.dist_all

    def _candidates(self, candidate_rows):
        """The candidates, those the products run on (shifted to the origin) and their
        norms."""
        cands = self.X[candidate_rows]
        if self.origin is None:
            origin, gemm_cands = NO_ORIGIN, cands
        else:
            origin, gemm_cands = self.origin, shifted(cands, self.origin, self.X.dtype)
        self.dist = self.dist_all[:len(candidate_rows)]
        return cands, origin, gemm_cands, _row_norms(gemm_cands, True, 1)

    def run(self, candidate_rows, closest):
        """Potentials of adding each candidate; ``self.dist[l]`` the new closest distances.

        The plain pass: every row is computed.
        """
        cands, origin, gemm_cands, cand_norms = self._candidates(candidate_rows)
        chunk_pots = np.empty((self.n_chunks, len(candidate_rows)), dtype=np.float64)
        with blas_single_threaded():
            _seeding._candidate_distances(
                self.X, self.x_sqnorms, cands, cand_norms, closest, self.weight, self.buffers,
                self.dist, chunk_pots, self.chunk_rows, self.n_workers,
                _EXACT_BELOW[self.X.dtype], origin, gemm_cands,
            )
        # Chunks are added in order: nothing here depends on the thread count.
        return chunk_pots.sum(axis=0)

    def tile_for(self, left_fraction):
        """Rows per tile of the filtered pass when about this fraction of rows is left."""
        rows = _TILE_CALLS * self.chunk_rows / max(left_fraction, 1e-12)
        tile = min(self.max_tile, -(-int(min(rows, self.max_tile)) // self.chunk_rows)
                   * self.chunk_rows)
        return max(self.min_tile, tile)

    def run_filtered(self, candidate_rows, closest, need, need_given, projection,
                     tile_rows=None):
        """``run`` computing only the rows the bounds leave: the same results.

        ``need`` holds the triangle bounds' rows if ``need_given``;
        ``projection`` (a ``ProjectionBounds`` or None) tests the rows in the
        same pass (``_seeding._filtered_distances``), in tiles of
        ``tile_rows`` rows (``tile_for``; None: the smallest). Returns the
        potentials, the rows the bounds left and the rows computed.
        """
        cands, origin, gemm_cands, cand_norms = self._candidates(candidate_rows)
        chunk_pots = np.empty((self.n_chunks, len(candidate_rows)), dtype=np.float64)
        bounds = _NO_PROJECTION if projection is None else projection.kernel_args(candidate_rows)
        with blas_single_threaded():
            left, computed = _seeding._filtered_distances(
                self.X, self.x_sqnorms, cands, cand_norms, closest, self.weight, self.buffers,
                self.dist, chunk_pots, self.chunk_rows, self.n_workers,
                _EXACT_BELOW[self.X.dtype], origin, gemm_cands, need, need_given,
                self.gathered, self.min_tile if tile_rows is None else tile_rows,
                _GATHER_BELOW, *bounds,
            )
        return chunk_pots.sum(axis=0), left, computed


# The filtered pass reads an empty projection as none.
_NO_PROJECTION = (np.empty((0, 0), dtype=np.uint16), np.empty(0), np.empty((0, 0), np.float32),
                  0.0, 0.0, 0.0, 0.0, 0.0, np.empty((0, 0), np.float32), np.empty((0, 0)))


def draw_by_potential(closest: NDArray[np.floating], sample_weight: NDArray[np.floating] | None,
                      targets: NDArray[np.floating]) -> NDArray[np.intp]:
    """Rows drawn with probability proportional to ``sample_weight * closest`` (trusted input).

    The draw of greedy k-means++: for each target t, the first row whose
    cumulative ``sample_weight * closest`` (float64, in row order) reaches t
    (see ``_seeding._sample_by_potential`` for the edge cases). Callers that
    seed other layouts of the same rows (dynkm's CSR seeding) draw the same
    rows from the same targets.

    Parameters
    ----------
    closest : ndarray of shape (n_samples,), C-contiguous float32 or float64
        Squared distance of every row to its closest chosen center.
    sample_weight : ndarray of shape (n_samples,), closest's dtype, or None
    targets : ndarray of shape (n_targets,), float64
        Uniform draws times the total potential, in draw order.

    Returns
    -------
    rows : ndarray of shape (n_targets,), intp
        The row drawn for each target, in the targets' order.
    """
    order = np.argsort(targets, kind="stable")
    drawn = np.empty(order.shape[0], dtype=np.intp)
    _seeding._sample_by_potential(closest, _unit_or(sample_weight, closest.dtype),
                                  np.ascontiguousarray(targets[order], dtype=np.float64), drawn)
    rows = np.empty_like(drawn)
    rows[order] = drawn
    return rows
