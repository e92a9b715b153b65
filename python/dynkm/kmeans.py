"""Static k-means: Lloyd's algorithm on the kmcore kernels."""

import time
import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)

from dynkm._atomic import AtomicSetParams, atomic
from dynkm._base import CentersMixin
from dynkm._lloyd import LloydSteps, check_algorithm, make_steps, run_lloyd
from dynkm._validation import (
    check_float,
    check_int,
    check_range,
    n_threads_of,
    validate_X,
    validated_weights,
)
from dynkm.persist import PersistMixin
from kmcore._threads import blas_single_threaded
from kmcore._validation import check_centers, check_random_state
from kmcore.distances import _row_norms
from kmcore.seeding import _farthest_first, _kmeans_plusplus, row_probabilities

_INITS = ("k-means++", "random", "farthest")
# Rows per slice when computing the data's variance (bounded temporary memory).
_VARIANCE_ROWS = 8192


class KMeans(PersistMixin, AtomicSetParams, CentersMixin, ClassNamePrefixFeaturesOutMixin,
             TransformerMixin, ClusterMixin, BaseEstimator):
    """K-means clustering by Lloyd's algorithm, exact, on the kmcore kernels.

    From the same initial centers it computes the same iterations as
    scikit-learn's ``KMeans(algorithm="lloyd")``: same labels, same centers up
    to rounding, same stopping rule. With ``algorithm="lloyd"`` each iteration
    is one fused pass over the data (GEMM + argmin + per-cluster sums); the
    bounded algorithms compute only the distances that may change a label.
    Never an n_samples x n_clusters matrix, and the result is bitwise the
    same for any ``n_threads``.

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
        last). The test is cheap here; this keeps S2's behaviour available.
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the initialisation. The same value gives the same result.
    n_threads : int, default=None
        OpenMP threads of the kernels; None means the physical cores (or
        ``OMP_NUM_THREADS``). Results do not depend on it.
    verbose : int, default=0
        Print one line per iteration when > 0.
    algorithm : {"auto", "lloyd", "elkan", "yinyang"}, default="auto"
        How each iteration finds the nearest centers; every choice gives the
        same iterations from the same init (labels, n_iter, centers and
        inertia to rounding) unless a tie is decided by the rounding of the
        plain pass: the bounded ones decide ties exactly (lowest index among
        equally near centers). "lloyd": every distance, every iteration.
        "yinyang": bounds per row and group of about ten centers skip the
        distances that cannot change a label (16 + 4 * n_clusters / 10 bytes
        per row). "elkan": bounds per row and center. "auto": "lloyd" below 32
        clusters, 4096 rows or 16 features, else "yinyang". Bounds over 1 GiB,
        and data far from the origin, fall back to "lloyd"
        (``history_["algorithm_reason"]`` says so).

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
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300,
                 tol=1e-4, check_every=1, random_state=None, n_threads=None, verbose=0,
                 algorithm="auto"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.check_every = check_every
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.algorithm = algorithm

    # ------------------------------------------------------------------ fit
    @atomic
    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering.

        A fit that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Dense data; float32 is kept, other real types become float64.
            Read-only and memory-mapped arrays are used without a copy.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; None means 1 for every row.

        Returns
        -------
        self
        """
        params = self._check_params()
        n_clusters = params["n_clusters"]
        X, sample_weight, init, n_init, rng, n_threads, x_sqnorms, tol = prepare_fit(
            self, X, sample_weight, params)

        best = None
        with blas_single_threaded():
            for _ in range(n_init):
                best = self._run_once(X, x_sqnorms, sample_weight, init, rng, n_threads, tol,
                                      params, best)
        self.cluster_centers_ = best["centers"]
        self.labels_ = best["labels"]
        self.inertia_ = best["inertia"]
        self.n_iter_ = best["n_iter"]
        self.history_ = best["history"]
        self._n_features_out = n_clusters
        return self

    def _run_once(self, X, x_sqnorms, sample_weight, init, rng, n_threads, tol, params, best):
        """Initialise and run Lloyd once; return the better of this run and ``best``."""
        t0 = time.perf_counter()
        centers = initial_centers(X, x_sqnorms, self.n_clusters, sample_weight, init, rng,
                                  n_threads)
        init_seconds = time.perf_counter() - t0
        steps = make_steps(params["algorithm"], X, x_sqnorms, sample_weight, centers, n_threads)
        run = run_lloyd(steps, centers, params["max_iter"], tol, params["check_every"],
                        self.verbose)
        run["history"]["init_seconds"] = init_seconds
        return run if best is None or run["inertia"] < best["inertia"] else best

    def _check_params(self):
        n_init = resolve_n_init(self.n_init, self.init)
        check_int(int(self.verbose) if isinstance(self.verbose, bool) else self.verbose,
                  "verbose", low=0)
        return {
            "n_clusters": check_int(self.n_clusters, "n_clusters"),
            "n_init": n_init,
            "max_iter": check_int(self.max_iter, "max_iter"),
            "tol": check_float(self.tol, "tol"),
            "check_every": check_int(self.check_every, "check_every"),
            "algorithm": check_algorithm(self.algorithm),
        }

def prepare_fit(estimator, X, sample_weight, params):
    """What every restartable fit checks and computes first.

    Returns X (validated), the weights, the checked init, the number of runs,
    the RandomState, the thread count, the squared row norms and the absolute
    tolerance (``params["tol"]`` times the mean per-feature variance).
    """
    X = validate_X(estimator, X, reset=True)
    k = params["n_clusters"]
    if X.shape[0] < k:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={k}.")
    sample_weight = validated_weights(sample_weight, X)
    init = check_init(estimator.init, X, k, estimator.n_init)
    n_init = 1 if isinstance(init, np.ndarray) else params["n_init"]
    rng = check_random_state(estimator.random_state)
    n_threads = n_threads_of(estimator.n_threads)
    x_sqnorms = _row_norms(X, True, n_threads)
    check_range(x_sqnorms, sample_weight)
    tol = params["tol"] * _mean_variance(X) if params["tol"] > 0 else 0.0
    return X, sample_weight, init, n_init, rng, n_threads, x_sqnorms, tol


def resolve_n_init(n_init, init):
    """Runs for ``n_init``: "auto" is 10 for "random" and callables, 1 otherwise."""
    if isinstance(n_init, str):
        if n_init != "auto":
            raise ValueError(f"n_init must be 'auto' or an integer >= 1, got {n_init!r}")
        random_init = (isinstance(init, str) and init == "random") or callable(init)
        return 10 if random_init else 1
    return check_int(n_init, "n_init")


def check_init(init, X, n_clusters, n_init):
    """Validate an ``init`` parameter: a known name, a callable, or (k, d) centers.

    Arrays are returned cast to X's dtype; a warning says that explicit
    centers run once when ``n_init`` asks for more.
    """
    if isinstance(init, str):
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, an array or a callable, got {init!r}")
        return init
    if callable(init):
        return init
    centers = check_centers(init, X.shape[1], X.dtype, name="init")
    if centers.shape[0] != n_clusters:
        raise ValueError(f"init has {centers.shape[0]} centers but n_clusters={n_clusters}")
    check_range(_row_norms(centers, True, 1), name="init")
    if n_init not in ("auto", 1):
        warnings.warn(
            "Explicit initial centers were given: performing only one init (n_init=1).",
            RuntimeWarning, stacklevel=3,
        )
    return centers


def initial_centers(X, x_sqnorms, n_clusters, sample_weight, init, rng, n_threads):
    """Initial centers from a checked ``init`` (see :func:`check_init`)."""
    if isinstance(init, np.ndarray):
        return init.copy()
    if init == "k-means++":
        return _kmeans_plusplus(X, x_sqnorms, n_clusters, sample_weight,
                                2 + int(np.log(n_clusters)), rng, n_threads)[0]
    if init == "farthest":
        return _farthest_first(X, x_sqnorms, n_clusters, sample_weight, rng, n_threads)[0]
    if init == "random":
        p = row_probabilities(X.shape[0], sample_weight)
        live = int(np.count_nonzero(p))
        if live < n_clusters:
            raise ValueError(
                f"init='random' draws n_clusters={n_clusters} distinct rows with probability "
                f"proportional to sample_weight, but only {live} of the {X.shape[0]} rows it "
                "draws from have a positive sample_weight"
            )
        return X[rng.choice(X.shape[0], size=n_clusters, replace=False, p=p)]
    centers = init(X, n_clusters, random_state=rng)
    centers = check_centers(centers, X.shape[1], X.dtype, name="init(X, ...) result")
    if centers.shape[0] != n_clusters:
        raise ValueError(f"init(X, ...) returned {centers.shape[0]} centers, expected {n_clusters}")
    check_range(_row_norms(centers, True, 1), name="init(X, ...) result")
    return centers


def _lloyd(X, x_sqnorms, sample_weight, centers, max_iter, tol, check_every, n_threads, verbose,
           step_fn=None, assign_fn=None):
    """One run of Lloyd's algorithm from ``centers`` (scikit-learn's stopping rule).

    ``step_fn`` and ``assign_fn`` have the signatures of kmcore's ``_lloyd_step``
    and ``_assign_rows`` (None: those, looked up at call time); the classifier
    passes sparse and spherical variants. The loop is ``dynkm._lloyd.run_lloyd``.
    """
    steps = LloydSteps(X, x_sqnorms, sample_weight, n_threads, step_fn, assign_fn)
    return run_lloyd(steps, centers, max_iter, tol, check_every, verbose)


def _mean_variance(X):
    """Mean over features of the per-feature variance, in float64, by row slices."""
    mean = X.mean(axis=0, dtype=np.float64)
    sq = np.zeros(X.shape[1], dtype=np.float64)
    for start in range(0, X.shape[0], _VARIANCE_ROWS):
        diff = X[start:start + _VARIANCE_ROWS].astype(np.float64) - mean
        sq += np.einsum("ij,ij->j", diff, diff)
    return float(sq.mean() / X.shape[0])
