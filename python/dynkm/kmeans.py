"""Static k-means: Lloyd's algorithm on the kmcore kernels."""

import time
import warnings
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning

from dynkm._atomic import AtomicSetParams, atomic
from dynkm._base import CentersMixin
from dynkm._params import Bool, Either, Int, Options, Real, check_params
from dynkm._init import check_init, initial_centers, resolve_n_init
from dynkm._inputs import RowsCentersMixin, SphereRows, validate_rows
from dynkm._lloyd import ALGORITHMS, make_steps, run_lloyd
from dynkm._rows import row_norms, unit_centers
from dynkm._tolerance import absolute_tol
from dynkm._validation import (
    check_range,
    n_threads_of,
    validated_weights,
)
from dynkm.persist import PersistMixin
from kmcore.threads import blas_single_threaded
from kmcore.validation import check_random_state

if TYPE_CHECKING:
    from typing import Self

__all__ = ["KMeans"]

class KMeans(PersistMixin, AtomicSetParams, RowsCentersMixin, CentersMixin,
             ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """K-means clustering by Lloyd's algorithm, exact, on the kmcore kernels.

    From the same initial centers it computes the same iterations as
    scikit-learn's ``KMeans(algorithm="lloyd")``: same labels, same centers up
    to rounding, same stopping rule. With ``algorithm="lloyd"`` each iteration
    is one fused pass over the data (GEMM + argmin + per-cluster sums); the
    bounded algorithms compute only the distances that may change a label.
    Never an n_samples x n_clusters matrix, and the result is bitwise the
    same for any ``n_threads``.

    X may be dense or scipy sparse CSR (``csr_matrix`` or ``csr_array``;
    other sparse formats are converted to CSR). CSR is never densified: each
    pass is blocked sparse x dense products, the k-means++ and farthest-first
    seeding included (the same rows as for the dense copy of X from the same
    ``random_state``); from the same init, CSR and dense input give the same
    labels and centers to rounding. Every ``algorithm`` runs the plain pass on
    CSR (``history_["algorithm_reason"]`` says so).

    ``spherical=True`` is spherical k-means, for the cosine distance: the rows
    are scaled to unit norm (a copy of X; of its nonzero values for CSR), the
    centers are renormalised to unit norm after every iteration, and every
    distance -- ``labels_``, ``inertia_``, :meth:`predict`, :meth:`transform`,
    :meth:`score` -- is the Euclidean one between unit rows and unit centers,
    whose square is ``2 - 2 cos``. New rows are scaled the same way. A row of
    zero norm has no direction: it moves no center, gets label 0 and adds its
    weight times 1 (its squared distance to any unit center) to the inertia.
    Initial centers are scaled to unit norm too (an array init is copied
    first; a callable init is given the unit rows).

    ``save(path)`` / ``load(path)`` keep the model in a file that loads
    without running code (:mod:`dynkm.persist`); pickling works too, but
    unpickling runs code from the file: for trusted input only.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {"k-means++", "random", "farthest"}, callable or array-like, default="k-means++"
        Initial centers. "k-means++": greedy k-means++ (``kmcore.kmeans_plusplus``,
        ``2 + ln k`` trials per center); "random": ``n_clusters`` distinct rows
        drawn with probability proportional to their weight; "farthest":
        farthest-first traversal from a random row (``kmcore.farthest_first``);
        an array of shape (n_clusters, n_features): those centers; a callable
        ``init(X, n_clusters, random_state) -> centers``.
    n_init : "auto" or int, default="auto"
        Runs from different initialisations; the lowest inertia wins. "auto"
        means 10 for "random" and callables, 1 otherwise; an array init runs once.
    max_iter : int, default=300
        Maximum Lloyd iterations of one run.
    tol : float, default=1e-4
        Relative tolerance as in scikit-learn: a run stops when the sum of
        squared center moves of an iteration is at most ``tol`` times the mean
        per-feature variance of X. A run also stops ("strict convergence")
        when no label changes.
    check_every : int, default=1
        Test convergence only every ``check_every`` iterations (and at the
        last). The test is cheap here; this keeps available the behaviour of
        scripts that test convergence only every few iterations.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initialisation. The same value gives the same result.
    n_threads : int, default=None
        OpenMP threads of the kernels; None follows OpenMP's limit (threadpoolctl,
        ``OMP_NUM_THREADS``) capped by the cores and CPU quota, and one thread for
        small work (``kmcore.effective_n_threads``); -1 all of them. Results do not
        depend on it.
    verbose : int, default=0
        When > 0, print scikit-learn's lines: "Initialization complete" after
        each initialisation, "Iteration N, inertia I." per iteration, and
        "Converged at iteration N: strict convergence." or "Converged at
        iteration N: center shift S within tolerance T."; when > 1 also the
        center shift, the share of distances computed and the seconds of
        every iteration.
    copy_x : bool, default=True
        Accepted for scikit-learn compatibility; it has no effect. dynkm never
        modifies X (data far from the origin are computed around their mean
        without subtracting it from X), so X is unchanged with either value.
    spherical : bool, default=False
        Spherical (cosine) k-means on unit-norm rows and centers (see above).
        faiss calls this ``spherical=True`` too.
    algorithm : {"auto", "lloyd", "elkan", "yinyang"}, default="auto"
        How each iteration finds the nearest centers; every choice gives the
        same iterations from the same init (labels, n_iter, centers and
        inertia to rounding) unless a tie is decided by the rounding of the
        plain pass: the bounded ones decide ties exactly (lowest index among
        equally near centers). "lloyd": every distance, every iteration.
        "yinyang": bounds per row and group of about ten centers skip the
        distances that cannot change a label (16 + 4 * n_clusters / 10 bytes
        per row). "elkan": bounds per row and center. "auto": "lloyd" below 32
        clusters or 4096 rows; below 16 features Hamerly's bounds (one upper
        and one lower bound per row, 24 bytes, with direct SIMD distances
        instead of GEMM; ``history_["algorithm"]`` is then "hamerly"); else
        "yinyang". "elkan" and "yinyang" keep their meaning in few features
        too. Bounds over 1 GiB fall back to "lloyd"
        (``history_["algorithm_reason"]`` says so), and so do CSR input and
        ``spherical=True``; data far from the origin run the bounds around
        the data's mean, as the plain pass does. "elkan" with
        ``n_clusters=1`` warns and runs "lloyd", as scikit-learn does.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centers, in X's dtype (float32 stays float32).
    labels_ : ndarray of shape (n_samples,)
        Nearest center of every training row.
    inertia_ : float
        Weighted sum of squared distances of the rows to their center.
    n_iter_ : int
        Iterations of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had feature names.
    history_ : dict of ndarray
        Per iteration of the best run: ``objective`` (inertia against the
        centers the iteration started from), ``center_shift`` (sum of squared
        center moves), ``seconds``, ``n_relocated`` (empty clusters refilled),
        ``imbalance`` (k * sum(w_c^2) / (sum w)^2, 1 when balanced),
        ``distance_fraction`` (distances computed / (n_samples * n_clusters));
        and ``init_seconds`` (float), ``algorithm`` (what ran), ``n_groups``,
        ``algorithm_reason``.
    _n_init : int
        Initialisations the last fit ran (``n_init`` resolved; 1 for an array
        init), under scikit-learn's name for it.

    Warns
    -----
    ConvergenceWarning
        When the fit ends with fewer distinct labels than ``n_clusters``
        (more clusters than distinct rows), with scikit-learn's message.
    RuntimeWarning
        When explicit initial centers come with ``n_init > 1`` (one run is
        made), and for ``algorithm="elkan"`` with one cluster.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300,
                 tol=1e-4, check_every=1, random_state=None, n_threads=None, verbose=0,
                 copy_x=True, spherical=False, algorithm="auto"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.check_every = check_every
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.copy_x = copy_x
        self.spherical = spherical
        self.algorithm = algorithm

    # ------------------------------------------------------------------ fit
    @atomic
    def fit(self, X: ArrayLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> "Self":
        """Compute the clustering.

        A fit that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : {array-like, scipy sparse CSR} of shape (n_samples, n_features)
            float32 is kept, other real types become float64. Read-only and
            memory-mapped arrays are used without a copy; X is never modified.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; None means 1 for every row.

        Returns
        -------
        self
        """
        params = self._check_params()
        k = params.n_clusters
        X = validate_rows(self, X, reset=True)
        if X.shape[0] < k:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={k}.")
        sample_weight = validated_weights(sample_weight, X)
        # One pass costs about n x k x d multiply-adds: small fits run on one thread.
        n_threads = n_threads_of(self.n_threads, work=X.shape[0] * k * X.shape[1])
        x_sqnorms = row_norms(X, n_threads)
        check_range(x_sqnorms, sample_weight)
        init = check_init(self.init, X, k, params.n_init, owner="KMeans")
        n_init = 1 if isinstance(init, np.ndarray) else params.n_init
        algorithm, note = params.algorithm, None
        if algorithm == "elkan" and k == 1:
            warnings.warn("algorithm='elkan' doesn't make sense for a single cluster. Using "
                          "'lloyd' instead.", RuntimeWarning, stacklevel=3)
            algorithm, note = "lloyd", "elkan: a single cluster (lloyd)"
        X, x_sqnorms, fit_w, init, sphere = SphereRows.fit_rows(
            X, x_sqnorms, sample_weight, init, params.spherical, n_threads)
        rng = check_random_state(self.random_state)
        tol = absolute_tol(params.tol, X)

        best = None
        with blas_single_threaded():
            for _ in range(n_init):
                best = self._run_once(X, x_sqnorms, fit_w, init, rng, n_threads, tol,
                                      params.replace(algorithm=algorithm), best)
            assert best is not None  # n_init >= 1
            if sphere is not None and sphere.zero.any():
                # The zero rows, left out of the fit, count in labels_ and inertia_.
                labels, _, inertia, _ = sphere.assign(best.centers, sample_weight,
                                                      n_threads)
                best = best._replace(labels=labels, inertia=inertia)
        if note is not None:
            best.history["algorithm_reason"] = note
        _warn_distinct(best.labels, k)
        self.cluster_centers_ = best.centers
        self.labels_ = best.labels
        self.inertia_ = best.inertia
        self.n_iter_ = best.n_iter
        self.history_ = best.history
        self._n_init = n_init
        self._n_features_out = k
        return self

    def _run_once(self, X, x_sqnorms, sample_weight, init, rng, n_threads, tol, params, best):
        """Initialise and run Lloyd once; return the better of this run and ``best``."""
        t0 = time.perf_counter()
        centers = initial_centers(X, x_sqnorms, self.n_clusters, sample_weight, init, rng,
                                  n_threads)
        if params.spherical:
            centers = unit_centers(centers)
        init_seconds = time.perf_counter() - t0
        if self.verbose:
            print("Initialization complete")
        steps = make_steps(params.algorithm, X, x_sqnorms, sample_weight, centers, n_threads,
                           spherical=params.spherical)
        run = run_lloyd(steps, centers, params.max_iter, tol, params.check_every,
                        self.verbose)
        run.history["init_seconds"] = init_seconds
        if best is None:
            return run
        # A lower inertia wins unless it is the same clustering with other label
        # numbers, where only rounding differs (scikit-learn's rule): then the
        # choice must not depend on the layout of X or the order of the sums.
        better = (run.inertia < best.inertia
                  and not _same_clustering(run.labels, best.labels))
        return run if better else best

    # Each parameter's rule, once (dynkm._params); init, random_state and
    # n_threads are checked against the data when fit starts.
    _param_specs = {
        "n_init": Either(("auto",), Int()),
        "verbose": Int(low=0, bools=True),
        "copy_x": Bool(),
        "n_clusters": Int(),
        "max_iter": Int(),
        "tol": Real(),
        "check_every": Int(),
        "algorithm": Options(*ALGORITHMS),
        "spherical": Bool(),
    }

    def _check_params(self):
        params = check_params(self)
        return params.replace(n_init=resolve_n_init(params.n_init, self.init))


def _same_clustering(a, b):
    """Whether labels ``a`` and ``b`` are the same partition up to renumbering."""
    pairs = np.unique(a.astype(np.int64) * (int(b.max()) + 1) + b)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def _warn_distinct(labels, n_clusters):
    """scikit-learn's ConvergenceWarning when fewer than ``n_clusters`` labels are used."""
    distinct = int(np.count_nonzero(np.bincount(labels, minlength=n_clusters)))
    if distinct < n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
            f"({n_clusters}). Possibly due to duplicate points in X.",
            ConvergenceWarning, stacklevel=4,
        )

