"""Mini-batch k-means (Sculley, 2010) on the kmcore kernels.

Each step draws a batch of rows, labels it with the fused assignment kernel
(which also returns the batch's per-cluster float64 sums in the same pass) and
moves every center that received weight towards the batch mean of its rows
with a per-center learning rate: 1 / (total weight the center has received).
The steps, the draws from the RandomState, the low-count reassignment and the
stopping rules are scikit-learn's ``MiniBatchKMeans``; see the class docstring
for where this one differs. Batches of scipy CSR rows are labelled and summed
by ``dynkm._rows``' blocked sparse products; with ``spherical=True`` the rows
are unit-normalised and the centers renormalised after every step.
"""

import math
import time
import warnings
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)

from dynkm._atomic import AtomicSetParams, atomic
from dynkm._base import CentersMixin
from dynkm._history import ArrayHistory, new_history, record
from dynkm._params import Bool, Either, Int, Real, check_params
from dynkm._init import check_init, initial_centers, resolve_n_init
from dynkm._inputs import RowsCentersMixin, SphereRows, validate_rows
from dynkm._minibatch_rules import (
    _Convergence,
    _draw_cdf,
    _print_step,
    _reassign_due,
    _step_threads,
    running_means,
)
from dynkm._rows import assign_rows, dense_rows, row_norms, unit_centers, weighted_sums
from dynkm._tolerance import absolute_tol
from dynkm._validation import (
    as_dtype,
    check_range,
    n_threads_of,
    validated_weights,
)
from dynkm.persist import PersistMixin
from kmcore.assignment import assign_rows as dense_assign_rows
from kmcore.threads import blas_single_threaded
from kmcore.validation import check_random_state

if TYPE_CHECKING:
    from typing import Self

# history_'s columns (dynkm._history), one element per step.
_HISTORY_COLUMNS = {"batch_inertia": np.float64, "ewa_inertia": np.float64,
                    "center_shift": np.float64, "seconds": np.float64, "n_reassigned": np.int64}


class MiniBatchKMeans(ArrayHistory, PersistMixin, AtomicSetParams, RowsCentersMixin,
                      CentersMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                      ClusterMixin, BaseEstimator):
    """Mini-batch k-means: Sculley's algorithm with per-center learning rates.

    Each step draws ``batch_size`` rows with replacement, with probability
    proportional to their weight, labels them with the fused GEMM + argmin
    kernel (which sums each cluster's rows in the same pass) and updates every
    center ``j`` that received batch weight ``b_j > 0``::

        counts_[j] += b_j
        c_j += (sum of the batch rows of j - b_j * c_j) / counts_[j]

    i.e. ``c_j`` is the running weighted mean of every row it has been given.
    Centers whose accumulated weight falls below ``reassignment_ratio`` times
    the largest are moved to random rows of the current batch. This is
    scikit-learn's ``MiniBatchKMeans``: with float64 data, the same initial
    centers and the same ``random_state`` it draws the same batches and makes
    the same steps (tested: same centers up to rounding). Results are bitwise
    the same for any ``n_threads``.

    X may be dense or scipy sparse CSR (``csr_matrix`` or ``csr_array``),
    never densified: from the same init and ``random_state``, CSR and dense
    input make the same steps (same centers to rounding).

    ``spherical=True`` is spherical mini-batch k-means (cosine distance): the
    rows are scaled to unit norm (a copy of X in :meth:`fit`, of each batch in
    :meth:`partial_fit`), each step updates the centers as above and scales
    them back to unit norm, and every distance (``labels_``, ``inertia_``,
    :meth:`predict`, :meth:`transform`, :meth:`score`) is the Euclidean one
    between unit rows and unit centers (squared: ``2 - 2 cos``). Rows of zero
    norm are never drawn into a batch nor used by a step; they get label 0
    at squared distance 1.

    ``save(path)`` / ``load(path)`` keep the model in a file that loads
    without running code (:mod:`dynkm.persist`); pickling works too, but
    unpickling runs code from the file: for trusted input only.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    batch_size : int, default=1024
        Rows per step (capped at the number of rows of X in :meth:`fit`).
    max_iter : int, default=100
        Maximum number of epochs over X in :meth:`fit`: at most
        ``max_iter * n_samples // batch_size`` steps.
    init : {"k-means++", "random", "farthest"}, callable or array-like, default="k-means++"
        Initial centers, computed on a random subsample of ``init_size`` rows.
        "k-means++": greedy k-means++ (``kmcore.kmeans_plusplus``, ``2 + ln k``
        trials per center); "random": ``n_clusters`` distinct rows drawn with
        probability proportional to their weight; "farthest": farthest-first
        traversal from a random row (``kmcore.farthest_first``); an array of
        shape (n_clusters, n_features): those centers; a callable
        ``init(X, n_clusters, random_state) -> centers``.
    init_size : int, default=None
        Rows drawn (uniformly, with replacement) to compute each
        initialisation on, and to compare the initialisations on when
        ``n_init > 1``. None means ``3 * batch_size`` (at least
        ``3 * n_clusters``); a value below ``n_clusters`` is raised to
        ``3 * n_clusters`` with a warning; it is capped at the number of rows.
    n_init : "auto" or int, default="auto"
        Initialisations to try; the one with the lowest inertia on the
        ``init_size`` rows wins. "auto" means 3 for "random" and callables,
        1 otherwise; an array init runs once. :meth:`partial_fit` always
        initialises once.
    reassignment_ratio : float, default=0.01
        Every ``10 * n_clusters`` rows seen (and at every step while a center
        has received no weight), the centers whose accumulated weight is below
        ``reassignment_ratio`` times the largest (at most half the batch size
        of them, the lightest) are moved to distinct random rows of the
        current batch, and their weight is set to the smallest weight of the
        others. 0 disables this.
    max_no_improvement : int or None, default=10
        Stop :meth:`fit` after this many consecutive steps without a new
        minimum of the smoothed batch inertia (an exponentially weighted
        average of the per-row batch inertia with
        ``alpha = min(1, 2 * batch_size / (n_samples + 1))``). None disables it.
    tol : float, default=0.0
        Stop :meth:`fit` when the sum of squared center moves of a step is at
        most ``tol`` times the mean per-feature variance of X (scikit-learn's
        definition). 0 disables it.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initialisation, the batches and the reassignments. The same
        value gives the same result.
    n_threads : int, default=None
        OpenMP threads of the kernels; None follows OpenMP's limit (threadpoolctl,
        ``OMP_NUM_THREADS``) capped by the cores and CPU quota, and one thread for
        small work (``kmcore.effective_n_threads``); -1 all of them. Results do not
        depend on it.
    verbose : int, default=0
        When > 0, print scikit-learn's lines: "Init i/n with method ...",
        "Inertia for init i/n: ...", "Minibatch step s/S: mean batch inertia:
        ..., ewa inertia: ...", "[MiniBatchKMeans] Reassigning r cluster
        centers." and "Converged (small centers change) at step s/S" or
        "Converged (lack of improvement in inertia) at step s/S".
    spherical : bool, default=False
        Spherical (cosine) mini-batch k-means on unit rows and centers (see above).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centers, in X's dtype (float32 stays float32).
    counts_ : ndarray of shape (n_clusters,)
        Weight each center has accumulated (its inverse learning rate),
        float64, reassignment resets included.
    labels_ : ndarray of shape (n_samples,)
        After :meth:`fit`: nearest center of every row of X (one full pass);
        after :meth:`partial_fit`: of every row of the last batch.
    inertia_ : float
        Weighted sum of squared distances of the rows of X (after
        :meth:`partial_fit`: of the last batch) to their nearest center.
    n_steps_ : int
        Steps made (mini-batches processed), :meth:`partial_fit` included.
    n_iter_ : int
        Epochs started by the last :meth:`fit`:
        ``ceil(steps * batch_size / n_samples)``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had feature names.
    history_ : dict of ndarray
        1-D arrays with one entry per step (:mod:`dynkm._history`; appending
        a step costs O(1), never a copy of the steps before), in :meth:`fit`
        and :meth:`partial_fit` alike: ``batch_inertia`` (weighted inertia of
        the batch against the centers the step started from, divided by the
        batch's total weight), ``ewa_inertia`` (the smoothed value the
        ``max_no_improvement`` rule watches; NaN at the first step of a fit
        and in :meth:`partial_fit`), ``center_shift`` (sum of squared center
        moves, reassignments included), ``seconds``, ``n_reassigned``; and
        ``init_seconds`` (float).
    _init_size, _n_init : int
        The init size and number of initialisations the last fit used
        (``init_size`` and ``n_init`` resolved), under scikit-learn's names.

    Notes
    -----
    Differences from scikit-learn's ``MiniBatchKMeans``: ``counts_`` is kept
    in float64 for float32 data too (scikit-learn keeps it in X's dtype, where
    it stops growing past 2**24); the rows counted towards the next
    reassignment in :meth:`partial_fit` are the rows of each batch (scikit-learn
    counts the first batch's size every time);
    there is no ``compute_labels`` (labels are always computed) and there is a
    "farthest" init.

    References
    ----------
    D. Sculley, "Web-scale k-means clustering", WWW 2010.
    """

    _history_columns = _HISTORY_COLUMNS

    def __init__(self, n_clusters=8, *, batch_size=1024, max_iter=100, init="k-means++",
                 init_size=None, n_init="auto", reassignment_ratio=0.01,
                 max_no_improvement=10, tol=0.0, random_state=None, n_threads=None,
                 verbose=0, spherical=False):
        self.n_clusters = n_clusters
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.init = init
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.max_no_improvement = max_no_improvement
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.spherical = spherical

    # ------------------------------------------------------------------ fit
    @atomic
    def fit(self, X: ArrayLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> "Self":
        """Compute the clustering by mini-batch steps over X.

        A fit that raises leaves the estimator exactly as it was (a
        RandomState given as ``random_state`` included).

        Parameters
        ----------
        X : {array-like, scipy sparse CSR} of shape (n_samples, n_features)
            float32 is kept, other real types become float64. Read-only and
            memory-mapped arrays are used without a copy; X is never modified.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; None means 1 for every row. Batches are
            drawn with probability proportional to the weights (each drawn
            row then counts once); the initialisation and ``inertia_`` use them.

        Returns
        -------
        self
        """
        params = self._check_params()
        n_threads = n_threads_of(self.n_threads)
        X = validate_rows(self, X, reset=True)
        n, k = X.shape[0], params.n_clusters
        if n < k:
            raise ValueError(f"n_samples={n} should be >= n_clusters={k}.")
        sample_weight = validated_weights(sample_weight, X)
        init = check_init(self.init, X, self.n_clusters, params.n_init,
                          owner="MiniBatchKMeans")
        n_init = 1 if isinstance(init, np.ndarray) else params.n_init
        batch_size, init_size = self._sizes(n, params)
        rng = check_random_state(self.random_state)
        x_sqnorms = row_norms(X, n_threads)
        check_range(x_sqnorms, sample_weight)
        X, x_sqnorms, fit_w, init, sphere = SphereRows.fit_rows(
            X, x_sqnorms, sample_weight, init, params.spherical, n_threads)
        tol = absolute_tol(params.tol, X)
        ratio = params.reassignment_ratio
        step_threads = _step_threads(batch_size, k, X.shape[1], n_threads)

        with blas_single_threaded():
            t0 = time.perf_counter()
            centers = self._best_init(X, x_sqnorms, fit_w, init, n_init, init_size, rng,
                                      _step_threads(init_size, k, X.shape[1], n_threads),
                                      params.spherical)
            history = new_history(_HISTORY_COLUMNS, init_seconds=time.perf_counter() - t0)

            counts = np.zeros(k, dtype=np.float64)
            since_reassign = 0
            convergence = _Convergence(batch_size, n, tol, params.max_no_improvement)
            n_steps = (params.max_iter * n) // batch_size
            cdf = _draw_cdf(n, fit_w, X.dtype)
            for i in range(n_steps):
                t0 = time.perf_counter()
                # RandomState.choice(n, batch_size, p=w / w.sum()), as scikit-learn
                # draws, without recomputing the cumulative sum at every step.
                rows = cdf.searchsorted(rng.random_sample(batch_size), side="right")
                since_reassign, reassign = _reassign_due(since_reassign, batch_size, counts)
                step = _minibatch_step(X[rows], x_sqnorms[rows], None, centers, counts, rng,
                                       reassign, ratio, step_threads, params.spherical)
                centers, counts = step.centers, step.counts
                batch_inertia = step.inertia / batch_size
                stop = convergence.update(i, batch_inertia, step.center_shift)
                _record(history, batch_inertia, convergence.ewa, step, time.perf_counter() - t0)
                if self.verbose:
                    _print_step(step, i + 1, n_steps, batch_inertia, convergence.ewa)
                if stop:
                    if self.verbose:
                        print(f"Converged ({stop}) at step {i + 1}/{n_steps}")
                    break
            if sphere is None:
                labels, _, inertia, _ = assign_rows(X, x_sqnorms, centers, sample_weight,
                                                    n_threads)
            else:
                labels, _, inertia, _ = sphere.assign(centers, sample_weight, n_threads)

        self.cluster_centers_ = centers
        self.counts_ = counts
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_steps_ = i + 1
        self.n_iter_ = math.ceil((i + 1) * batch_size / n)
        self.history_ = history
        self._init_size = init_size
        self._n_init = n_init
        self._rng = rng
        self._since_reassign = since_reassign
        self._n_features_out = k
        return self

    @atomic
    def partial_fit(self, X: ArrayLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> "Self":
        """One mini-batch step on X (initialising the centers from X on the first call).

        All or nothing: a batch that raises (a bad batch -- NaN or infinity,
        the wrong width, no rows, bad weights --, a bad parameter, or an
        interruption anywhere in the step) leaves the model exactly as it was,
        its RandomState included, so the stream goes on as if the batch had
        never been offered. Later batches are cast to the dtype of the model.

        Parameters
        ----------
        X : {array-like, scipy sparse CSR} of shape (n_batch, n_features)
            The first batch needs at least ``n_clusters`` rows (of nonzero
            norm with ``spherical=True``, where a batch with no row of nonzero
            norm and positive weight raises ValueError).
        y : ignored
        sample_weight : array-like of shape (n_batch,), default=None
            Non-negative weights of the batch's rows; None means 1 for every row.

        Returns
        -------
        self
        """
        first = not hasattr(self, "cluster_centers_")
        params = self._check_params()
        n_threads = n_threads_of(self.n_threads)
        X, sample_weight, init = self._validate_batch(X, sample_weight, first, params)

        t0 = time.perf_counter()
        n_threads = _step_threads(X.shape[0], params.n_clusters if first
                                  else self.cluster_centers_.shape[0], X.shape[1], n_threads)
        x_sqnorms = row_norms(X, n_threads)
        check_range(x_sqnorms, sample_weight)
        # The rows the step uses: the unit rows of nonzero norm when spherical.
        Xs, xs_sq, ws, sphere = X, x_sqnorms, sample_weight, None
        if params.spherical:
            sphere = SphereRows(X, x_sqnorms, sample_weight, n_threads)
            Xs, xs_sq = sphere.X, sphere.x_sqnorms
            if sphere.zero.any():
                keep = np.flatnonzero(~sphere.zero)
                Xs, xs_sq = Xs[keep], xs_sq[keep]
                ws = None if ws is None else ws[keep]
            if first and Xs.shape[0] < params.n_clusters:
                raise ValueError(
                    f"X: the first batch has {Xs.shape[0]} rows of nonzero norm, but "
                    f"spherical k-means initialises n_clusters={params.n_clusters} unit "
                    "centers from them"
                )
            if isinstance(init, np.ndarray):
                init = unit_centers(init)
        with blas_single_threaded():
            if first:
                rng = check_random_state(self.random_state)
                _, init_size = self._sizes(Xs.shape[0], params)
                centers = self._initial_centers(Xs, xs_sq, ws, init, init_size, rng, n_threads)
                if params.spherical:
                    centers = unit_centers(centers)
                counts = np.zeros(params.n_clusters, dtype=np.float64)
                since_reassign, n_steps = 0, 0
                self.history_ = new_history(_HISTORY_COLUMNS,
                                            init_seconds=time.perf_counter() - t0)
                self._n_features_out = centers.shape[0]
                self._init_size, self._n_init = init_size, 1
                t0 = time.perf_counter()
            else:
                rng, centers, counts = self._rng, self.cluster_centers_, self.counts_
                since_reassign, n_steps = self._since_reassign, self.n_steps_
            since_reassign, reassign = _reassign_due(since_reassign, Xs.shape[0], counts)
            step = _minibatch_step(Xs, xs_sq, ws, centers, counts, rng, reassign,
                                   params.reassignment_ratio, n_threads, params.spherical)
            if sphere is None:
                labels, _, inertia, _ = assign_rows(X, x_sqnorms, step.centers,
                                                    sample_weight, n_threads)
            else:
                labels, _, inertia, _ = sphere.assign(step.centers, sample_weight, n_threads)
        batch_weight = Xs.shape[0] if ws is None else float(ws.sum())
        _record(self.history_, step.inertia / batch_weight, np.nan, step,
                time.perf_counter() - t0)
        self.cluster_centers_ = step.centers
        self.counts_ = step.counts
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_steps_ = n_steps + 1
        self._rng = rng
        self._since_reassign = since_reassign
        if self.verbose:
            if step.n_reassigned:
                print(f"[MiniBatchKMeans] Reassigning {step.n_reassigned} cluster centers.")
            print(f"Minibatch step {self.n_steps_}: mean batch inertia: "
                  f"{self.history_['batch_inertia'][-1]}")
        return self

    def _validate_batch(self, X, sample_weight, first, params):
        """Checked batch (in the model's dtype after the first), weights and first init."""
        X = validate_rows(self, X, reset=first)
        init = None
        if first:
            k = params.n_clusters
            if X.shape[0] < k:
                raise ValueError(
                    f"n_samples={X.shape[0]} should be >= n_clusters={k} in the first "
                    "batch (the centers are initialised from it)."
                )
            init = check_init(self.init, X, self.n_clusters, self.n_init,
                              owner="MiniBatchKMeans")
        else:
            X = as_dtype(X, self.cluster_centers_.dtype)
        return X, validated_weights(sample_weight, X), init

    # ------------------------------------------------------ parameter checks
    # Each parameter's rule, once (dynkm._params); init, random_state and
    # n_threads are checked against the data when fit starts.
    _param_specs = {
        "n_init": Either(("auto",), Int()),
        "verbose": Int(low=0, bools=True),
        "init_size": Int(none=True),
        "max_no_improvement": Int(low=0, none=True),
        "n_clusters": Int(),
        "batch_size": Int(),
        "max_iter": Int(),
        "reassignment_ratio": Real(),
        "tol": Real(),
        "spherical": Bool(),
    }

    def _check_params(self):
        params = check_params(self)
        return params.replace(n_init=resolve_n_init(params.n_init, self.init, random_runs=3))

    def _sizes(self, n, params):
        """Batch size and init size for n rows, as scikit-learn computes them."""
        k = params.n_clusters
        batch_size = min(params.batch_size, n)
        init_size = params.init_size
        if init_size is None:
            init_size = 3 * batch_size
            if init_size < k:
                init_size = 3 * k
        elif init_size < k:
            warnings.warn(
                f"init_size={init_size} should be larger than n_clusters={k}. "
                "Setting it to min(3*n_clusters, n_samples)",
                RuntimeWarning, stacklevel=3,
            )
            init_size = 3 * k
        return batch_size, min(init_size, n)

    # -------------------------------------------------------- initialisation
    def _best_init(self, X, x_sqnorms, sample_weight, init, n_init, init_size, rng, n_threads,
                   spherical=False):
        """Best of ``n_init`` initialisations by inertia on ``init_size`` random rows."""
        n = X.shape[0]
        # Drawn even for one init: the RandomState then runs as scikit-learn's.
        valid = rng.randint(0, n, init_size)
        best, best_inertia = None, None
        for run in range(n_init):
            if self.verbose:
                print(f"Init {run + 1}/{n_init} with method {init}")
            centers = self._initial_centers(X, x_sqnorms, sample_weight, init, init_size, rng,
                                            n_threads)
            if spherical:
                centers = unit_centers(centers)
            if n_init == 1:
                return centers
            inertia = assign_rows(X[valid], x_sqnorms[valid], centers,
                                  None if sample_weight is None else sample_weight[valid],
                                  n_threads)[2]
            if self.verbose:
                print(f"Inertia for init {run + 1}/{n_init}: {inertia}")
            if best_inertia is None or inertia < best_inertia:
                best, best_inertia = centers, inertia
        return best

    def _initial_centers(self, X, x_sqnorms, sample_weight, init, init_size, rng, n_threads):
        """One initialisation, on ``init_size`` rows drawn with replacement."""
        if init_size < X.shape[0]:
            # Drawn before looking at init, as scikit-learn does, for the same RandomState use.
            rows = rng.randint(0, X.shape[0], init_size)
            X, x_sqnorms = X[rows], x_sqnorms[rows]
            sample_weight = None if sample_weight is None else sample_weight[rows]
        return initial_centers(X, x_sqnorms, self.n_clusters, sample_weight, init, rng, n_threads)


class MiniBatchStep(NamedTuple):
    """Result of one mini-batch step (:func:`_minibatch_step`), as kmcore's ``LloydStep``."""

    centers: np.ndarray
    """New centers (X's dtype)."""
    counts: np.ndarray
    """Weight each center has accumulated (float64)."""
    inertia: float
    """Weighted inertia of the batch against the centers the step started from."""
    center_shift: float
    """Sum of the squared center moves."""
    n_reassigned: int
    """Centers moved to random rows of the batch (scikit-learn's low-count rule)."""


def _minibatch_step(X, x_sqnorms, sample_weight, centers, counts, rng, reassign, ratio,
                    n_threads, spherical=False):
    """One step of Sculley's update on a validated batch (dense or CSR); the inputs
    are not modified. ``spherical``: the new centers are scaled to unit norm.

    Returns a :class:`MiniBatchStep`.
    """
    k = centers.shape[0]
    fused = None
    if sp.issparse(X):
        labels, _, inertia, _ = assign_rows(X, x_sqnorms, centers, sample_weight, n_threads)
    else:
        labels, _, inertia, fused = dense_assign_rows(X, x_sqnorms, centers, sample_weight,
                                                      n_threads, with_sums=True)
    if fused is not None:
        sums, batch_weight = fused
    else:
        sums, batch_weight = weighted_sums(X, labels, k, sample_weight, n_threads)
    new, counts = running_means(centers, counts, sums, batch_weight)

    n_reassigned = _reassign(X, new, counts, rng, ratio) if reassign and ratio > 0 else 0
    if spherical:
        new = unit_centers(new)
    new_centers = new.astype(centers.dtype)
    shift = float(((new_centers - centers.astype(np.float64)) ** 2).sum())
    return MiniBatchStep(new_centers, counts, inertia, shift, n_reassigned)


def _reassign(X, centers, counts, rng, ratio):
    """scikit-learn's low-count reassignment (_mini_batch_step), its RandomState calls included.

    Moves the centers whose count is below ``ratio`` times the largest to
    distinct random rows of the batch X, in ``centers`` and ``counts`` (the
    step's own new arrays); returns how many moved.
    """
    n = X.shape[0]
    to_reassign = counts < ratio * counts.max()
    if to_reassign.sum() > 0.5 * n:
        # At most half the batch: keep the heaviest.
        to_reassign[np.argsort(counts)[int(0.5 * n):]] = False
    n_reassigned = int(to_reassign.sum())
    if n_reassigned:
        centers[to_reassign] = dense_rows(X, rng.choice(n, replace=False, size=n_reassigned))
    if n_reassigned and not to_reassign.all():
        # Not too small, or they would be reassigned again at once.
        counts[to_reassign] = counts[~to_reassign].min()
    return n_reassigned


def _record(history, batch_inertia, ewa, step, seconds):
    record(history, batch_inertia=batch_inertia, ewa_inertia=ewa,
           center_shift=step.center_shift, seconds=seconds,
           n_reassigned=step.n_reassigned)
