"""Two-way split (2-means) of a subset of rows.

Public: the kernel :func:`split_two` and its trusted-input form
:func:`split_members`, which takes the members' own weights.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kmcore import _input, _origin, _split
from kmcore._threads import effective_n_threads
from kmcore._validation import check_positive_int, check_random_state
from kmcore.centers import _unit_or
from kmcore.seeding import draw_by_potential, row_probabilities

__all__ = ["split_members", "split_two"]

# Below this many members the split runs on one thread: thread start-up would
# cost more than the work (the streaming mode splits clusters of ~150 rows).
_PARALLEL_MIN_MEMBERS = 4096


def split_two(X: ArrayLike, indices: ArrayLike | None = None,
              sample_weight: ArrayLike | None = None, max_iter: int = 50,
              random_state: int | np.random.RandomState | None = None, n_threads: int | None = None,
              check_input: bool = True) -> tuple[NDArray[np.floating], NDArray[np.intp]]:
    """Split the rows named by ``indices`` in two by 2-means, without copying X.

    Seeded by greedy k-means++ on the subset (2 trials), then Lloyd iterations
    where the nearest-center test is one hyperplane test per row (a dot
    product, no distances), until no row changes side or ``max_iter``. When
    the two centers sit far from the origin against their distance, the test
    is made around their midpoint, where it does not cancel.

    When the members cannot be separated (all identical, or a side ends
    empty) they are cut by position instead: the first half (by total count)
    on side 0, the rest on side 1, so both sides always have members when
    there are at least two.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    indices : array-like of int of shape (m,), default=None
        Rows of X to split (m >= 2); None means all rows.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows of X (indexed like X, not like ``indices``).
    max_iter : int, default=50
    random_state : None, int or numpy.random.RandomState, default=None
    n_threads : int, default=None
        OpenMP threads for large subsets. None: ``kmcore.effective_n_threads``
        (OpenMP's limit and the CPUs; one thread for small inputs); -1 all
        CPUs. The result does not depend on it.
    check_input : bool, default=True
        False trusts the caller, for loops over input validated once: the
        arrays are used as given (C-contiguous float32/float64 ndarrays of
        X's dtype), never converted or scanned for NaN, infinity or
        out-of-range values. Shapes are still checked (ValueError).
        ``indices`` are range-checked in either mode.

    Returns
    -------
    centers : ndarray of shape (2, n_features), X's dtype
        Weighted means of the two sides.
    labels : ndarray of shape (m,), intp
        Side (0 or 1) of each member, in the order of ``indices``.
    """
    X = _input.data(X, "X", check_input)
    n = X.shape[0]
    if indices is None:
        indices = np.arange(n, dtype=np.intp)
    else:
        indices = np.asarray(indices)
        if indices.dtype.kind not in "iu" or indices.ndim != 1:
            raise TypeError("indices must be a 1-D array of integers")
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            raise ValueError(f"indices must lie in [0, {n})")
        indices = np.ascontiguousarray(indices, dtype=np.intp)
    if indices.shape[0] < 2:
        raise ValueError(f"split_two needs at least 2 rows, got {indices.shape[0]}")
    sample_weight = _input.sample_weight(sample_weight, n, X.dtype, check_input)
    member_weight = None if sample_weight is None else np.ascontiguousarray(sample_weight[indices])
    if check_input and member_weight is not None and not (member_weight > 0).any():
        raise ValueError("sample_weight is zero on every row named by indices")
    max_iter = check_positive_int(max_iter, "max_iter")
    # Each of the 2-means iterations compares every member with two centers.
    n_threads = effective_n_threads(n_threads, work=2 * indices.shape[0] * X.shape[1])
    return split_members(X, indices, member_weight, max_iter, check_random_state(random_state),
                      n_threads)


def split_members(X: NDArray[np.floating], indices: NDArray[np.intp],
                  member_weight: NDArray[np.floating] | None, max_iter: int,
                  rng: np.random.RandomState,
                  n_threads: int) -> tuple[NDArray[np.floating], NDArray[np.intp]]:
    """:func:`split_two` on trusted input, weighted by the members' own weights.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous float32 or float64
    indices : ndarray of shape (m,), C-contiguous intp
        Rows of X to split (m >= 2), range-checked.
    member_weight : ndarray of shape (m,), X's dtype, or None
        Weight of each member (aligned with ``indices``, not with X), some
        positive; None: every member weighs 1.
    max_iter : int >= 1
    rng : numpy.random.RandomState
        Advanced by the seeding's draws.
    n_threads : int >= 1

    Returns
    -------
    centers : ndarray of shape (2, n_features), X's dtype
    labels : ndarray of shape (m,), intp
        As :func:`split_two` returns them.
    """
    if indices.ndim != 1 or (member_weight is not None and member_weight.shape != indices.shape):
        raise ValueError(f"member_weight must match indices: got shapes "
                         f"{None if member_weight is None else member_weight.shape} "
                         f"and {indices.shape}")
    if indices.shape[0] < 2:
        raise ValueError(f"split_two needs at least 2 rows, got {indices.shape[0]}")
    if indices.min() < 0 or indices.max() >= X.shape[0]:
        raise ValueError(f"indices must lie in [0, {X.shape[0]})")
    m, d = indices.shape[0], X.shape[1]
    if m < _PARALLEL_MIN_MEMBERS:
        n_threads = 1
    weight = _unit_or(member_weight, X.dtype)
    centers = np.empty((2, d), dtype=X.dtype)
    labels = np.empty(m, dtype=np.intp)
    if _seed_two(X, indices, member_weight, rng, centers, n_threads):
        weights = np.empty(2, dtype=np.float64)
        _split._two_means(X, indices, weight, centers, np.empty(d, dtype=X.dtype), labels,
                          np.empty((2, d), dtype=np.float64), weights, max_iter, n_threads,
                          np.empty(d, dtype=np.float64), _origin.SHIFT_FACTOR)
        if (weights > 0).all():
            return centers, labels
    # Inseparable members: cut by position.
    labels[: m // 2] = 0
    labels[m // 2:] = 1
    w = np.ones(m) if member_weight is None else member_weight.astype(np.float64)
    for side in (0, 1):
        rows = labels == side
        total = w[rows].sum()
        members = X[indices[rows]].astype(np.float64)
        centers[side] = (w[rows] @ members) / total if total > 0 else members.mean(axis=0)
    return centers, labels


def _seed_two(X, indices, member_weight, rng, centers, n_threads):
    """Greedy k-means++ with 2 trials on the members; False if all coincide."""
    m = indices.shape[0]
    first = indices[int(rng.choice(m, p=row_probabilities(m, member_weight)))]
    centers[0] = X[first]
    closest = np.empty(m, dtype=X.dtype)
    _split._member_sqdist(X, indices, centers[0], closest, n_threads)
    w = np.ones(m) if member_weight is None else member_weight
    pot = float(w @ closest)
    if pot <= 0:
        return False
    trials = draw_by_potential(closest, member_weight, rng.uniform(size=2) * pot)
    dist = np.empty(m, dtype=X.dtype)
    best_pot, best = np.inf, trials[0]
    for t in trials:
        _split._member_sqdist(X, indices, X[indices[t]], dist, n_threads)
        trial_pot = float(w @ np.minimum(closest, dist))
        if trial_pot < best_pot:
            best_pot, best = trial_pot, t
    centers[1] = X[indices[best]]
    return True
