"""Soft k-means: responsibilities softmax(-beta d^2), centers as weighted means."""

import time
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)

from dynkm._atomic import AtomicSetParams, atomic
from dynkm._base import CentersMixin
from dynkm._renamed import RenamedAttributes
from dynkm._params import Either, Int, Real, Rule, check_params
from dynkm._history import new_history, record
from dynkm._init import check_init, initial_centers, prepare_fit, resolve_n_init
from dynkm._minibatch_rules import running_means
from dynkm._validation import (
    as_dtype,
    check_range,
    n_threads_of,
    validate_X,
    validated_weights,
)
from dynkm.persist import PersistMixin
from kmcore import row_norms, soft_assign
from kmcore.assignment import assign_rows
from kmcore.centers import means_from_sums
from kmcore.soft import check_beta, soft_assign_rows, soft_sums
from kmcore.threads import blas_single_threaded
from kmcore.validation import check_random_state

if TYPE_CHECKING:
    from typing import Self

# Rows per block of the full-batch E+M pass: memory O(block x k), never n x k.
_BLOCK_ROWS = 8192


# history_'s columns (dynkm._history), one element per iteration (epoch).
_HISTORY_COLUMNS = {"objective": np.float64, "center_shift": np.float64, "seconds": np.float64}

class SoftKMeans(PersistMixin, AtomicSetParams, CentersMixin, ClassNamePrefixFeaturesOutMixin,
                 TransformerMixin, ClusterMixin, RenamedAttributes, BaseEstimator):
    """Soft k-means: every point belongs to every center with a responsibility.

    ``r_ij = softmax_j(-beta ||x_i - c_j||^2)`` (computed with the log-sum-exp
    shift: never NaN, for any beta > 0) and ``c_j = sum_i w_i r_ij x_i /
    sum_i w_i r_ij``. Large beta tends to hard k-means (Lloyd), small beta
    pulls every center to the global mean.

    ``save(path)`` / ``load(path)`` keep the model in a file that loads
    without running code (:mod:`dynkm.persist`); pickling works too, but
    unpickling runs code from the file: for trusted input only.

    Parameters
    ----------
    n_clusters : int, default=8
    beta : float, default=1.0
        Inverse temperature (> 0), in units of 1 / squared distance: scale the
        data (e.g. standardize) before comparing betas across datasets.
    init : {"k-means++", "random", "farthest"}, callable or array-like, default="k-means++"
        As in :class:`dynkm.KMeans`.
    n_init : "auto" or int, default="auto"
        Runs from different initialisations; the lowest ``inertia_`` wins.
        "auto": 10 for "random" and callables, 1 otherwise, as in KMeans.
    max_iter : int, default=100
        EM iterations (full batch), or epochs over the data (``batch_size`` set).
    tol : float, default=1e-4
        Stop when the sum of squared center moves of an iteration (epoch) is at
        most ``tol`` times the mean per-feature variance of X.
    batch_size : int, default=None
        None: full-batch EM (each iteration one pass over X by blocks of rows).
        An int: mini-batch soft updates, each center moving toward the batch's
        weighted mean with learning rate (its batch mass) / (its total mass so
        far), as Sculley's mini-batch k-means with soft counts; batches are
        taken in a random order each epoch.
    random_state : None, int or numpy.random.RandomState, default=None
    n_threads : int, default=None
        OpenMP threads; results do not depend on it. None:
        ``kmcore.effective_n_threads`` (OpenMP's limit and the CPUs, one
        thread for little work); -1 all CPUs.
    verbose : int, default=0

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
        Center of highest responsibility (the nearest center) of every row.
    inertia_ : float
        Hard SSE of the rows against the center of their label.
    n_iter_ : int
    counts_ : ndarray of shape (n_clusters,)
        Total responsibility accumulated by each center (mini-batch counts);
        ``mass_`` is its deprecated name.
    history_ : dict of ndarray
        Per iteration (epoch): ``objective`` (weighted expected distortion
        sum_i w_i sum_j r_ij ||x_i - c_j||^2), ``center_shift``, ``seconds``.
    n_features_in_ : int
    """

    def __init__(self, n_clusters=8, *, beta=1.0, init="k-means++", n_init="auto", max_iter=100,
                 tol=1e-4, batch_size=None, random_state=None, n_threads=None, verbose=0):
        self.n_clusters = n_clusters
        self.beta = beta
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    # Each parameter's rule, once (dynkm._params); init, random_state and
    # n_threads are checked against the data when fit starts.
    _renamed_attributes = {"mass_": "counts_"}
    _param_specs = {
        "n_clusters": Int(),
        "beta": Rule(lambda value, name: check_beta(value), "a finite real number > 0"),
        "n_init": Either(("auto",), Int()),
        "max_iter": Int(),
        "tol": Real(),
        "batch_size": Int(none=True),
        "verbose": Int(low=0, bools=True),
    }

    def _check_params(self):
        params = check_params(self)
        return params.replace(n_init=resolve_n_init(params.n_init, self.init))

    @atomic
    def fit(self, X: ArrayLike, y: object = None,
            sample_weight: ArrayLike | None = None) -> "Self":
        """Fit the centers by EM (or mini-batch soft updates); see the class doc.

        With ``n_init`` > 1 the run of lowest ``inertia_`` is kept. A fit that
        raises leaves the estimator exactly as it was.
        """
        p = self._check_params()
        k = p.n_clusters
        X, w, init, n_init, rng, n_threads, xn, tol = prepare_fit(self, X, sample_weight, p)
        rows = X.shape[0] if p.batch_size is None else min(p.batch_size, X.shape[0])
        n_threads = n_threads_of(self.n_threads, work=rows * k * X.shape[1])
        best = None
        with blas_single_threaded():
            for _ in range(n_init):
                run = self._run_once(X, xn, w, init, rng, tol, p, n_threads)
                if best is None or run["inertia"] < best["inertia"]:
                    best = run
        assert best is not None  # n_init >= 1
        self.cluster_centers_ = best["centers"]
        self.labels_ = best["labels"]
        self.inertia_ = best["inertia"]
        self.counts_ = best["mass"]
        self.n_iter_ = best["n_iter"]
        self.history_ = best["history"]
        self._n_features_out = k
        return self

    def _run_once(self, X, xn, w, init, rng, tol, p, n_threads):
        """One initialisation and its iterations."""
        k = p.n_clusters
        history = new_history(_HISTORY_COLUMNS)
        centers = initial_centers(X, xn, k, w, init, rng, n_threads)
        mass = np.zeros(k)
        for it in range(p.max_iter):
            t0 = time.perf_counter()
            if p.batch_size is None:
                new, mass, objective = _em_step(X, xn, centers, p.beta, w, n_threads)
            else:
                new, mass, objective = _minibatch_epoch(X, xn, centers, mass, p.beta, w,
                                                        p.batch_size, rng, n_threads)
            shift = float(((new.astype(np.float64) - centers) ** 2).sum())
            centers = new
            record(history, objective=objective, center_shift=shift,
                   seconds=time.perf_counter() - t0)
            if self.verbose:
                print(f"iteration {it}: objective {objective:.6g}, center shift {shift:.3g}")
            if shift <= tol:
                break
        labels, _, inertia, _ = assign_rows(X, xn, centers, w, n_threads)
        return {"centers": centers, "labels": labels, "inertia": inertia, "mass": mass,
                "n_iter": it + 1, "history": history}

    @atomic
    def partial_fit(self, X: ArrayLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> "Self":
        """One mini-batch soft update with this batch (initialising on the first call).

        A batch that raises (bad input, or an interruption) leaves the model
        exactly as it was. The first batch needs at least ``n_clusters`` rows;
        later batches are cast to the dtype of the model (that of the first
        batch, or of fit's X).
        """
        p = self._check_params()
        first = not hasattr(self, "cluster_centers_")
        X = validate_X(self, X, reset=first)
        if not first:
            X = as_dtype(X, self.cluster_centers_.dtype)
        w = validated_weights(sample_weight, X)
        k = p.n_clusters
        n_threads = n_threads_of(self.n_threads, work=X.size * k)
        with blas_single_threaded():
            xn = row_norms(X, n_threads=n_threads, check_input=False)
            check_range(xn, w)
            if first:
                if X.shape[0] < k:
                    raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={k}.")
                init = check_init(self.init, X, k, 1)
                self._rng = check_random_state(self.random_state)
                centers = initial_centers(X, xn, k, w, init, self._rng, n_threads)
                mass = np.zeros(k)
            else:
                centers, mass = self.cluster_centers_, self.counts_
            centers, mass, _ = _soft_minibatch_step(X, xn, centers, mass, p.beta, w, n_threads)
        self.cluster_centers_ = centers
        self.counts_ = mass
        self.n_iter_ = getattr(self, "n_iter_", 0) + 1
        self._n_features_out = k
        return self

    # -------------------------------------------------------------- predict
    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Responsibilities of every center for every row (rows sum to 1)."""
        X, x_sqnorms, centers, _, n_threads = self._prepare(X)
        return soft_assign(X, centers, self.beta, x_sqnorms, n_threads, check_input=False)


def _em_step(X, xn, centers, beta, w, n_threads):
    """One EM iteration by blocks of rows: new centers, masses, expected distortion."""
    k = centers.shape[0]
    sums, mass, objective = np.zeros((k, X.shape[1])), np.zeros(k), 0.0
    buf = np.empty((min(_BLOCK_ROWS, X.shape[0]), k), dtype=X.dtype)
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        block = slice(start, start + _BLOCK_ROWS)
        wb = None if w is None else w[block]
        Xb = X[block]
        R, obj = soft_assign_rows(Xb, xn[block], centers, beta, wb, n_threads,
                                  buf[: Xb.shape[0]])
        s, m = soft_sums(Xb, R, wb)
        sums += s
        mass += m
        objective += obj
    # A center without mass (all its responsibilities underflowed) stays put.
    return means_from_sums(sums, mass, centers, X.dtype, n_threads=n_threads), mass, objective


def _soft_minibatch_step(X, xn, centers, mass, beta, w, n_threads):
    """Move each center toward the batch's weighted mean, rate batch mass / total mass."""
    R, objective = soft_assign_rows(X, xn, centers, beta, w, n_threads)
    sums, batch_mass = soft_sums(X, R, w)
    new, mass = running_means(centers, mass, sums, batch_mass)
    return new.astype(X.dtype), mass, objective


def _minibatch_epoch(X, xn, centers, mass, beta, w, batch_size, rng, n_threads):
    """One pass over X in batches taken in a random order."""
    objective = 0.0
    order = rng.permutation(-(-X.shape[0] // batch_size))
    for b in order:
        rows = slice(b * batch_size, (b + 1) * batch_size)
        wb = None if w is None else w[rows]
        centers, mass, obj = _soft_minibatch_step(X[rows], xn[rows], centers, mass, beta, wb,
                                             n_threads)
        objective += obj
    return centers, mass, objective
