"""Initial centers: the ``init`` and ``n_init`` rules of every restartable estimator.

:func:`check_init` validates an ``init`` parameter (a name, a callable or
centers), :func:`resolve_n_init` turns ``n_init`` ("auto" or a count) into a
number of runs, :func:`initial_centers` draws the centers of one run from a
checked ``init`` on dense or CSR rows, and :func:`prepare_fit` is what every
restartable fit (KMeans, SoftKMeans) checks and computes before its runs.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from dynkm._csr_seeding import farthest_first_csr, kmeans_plusplus_csr
from dynkm._inputs import center_shape_error
from dynkm._rows import dense_rows, row_norms
from dynkm._tolerance import absolute_tol
from dynkm._validation import (
    check_int,
    check_range,
    n_threads_of,
    validate_X,
    validated_weights,
)
from kmcore import farthest_first, kmeans_plusplus
from kmcore.seeding import row_probabilities
from kmcore.validation import check_data, check_random_state

_INITS = ("k-means++", "random", "farthest")


def prepare_fit(estimator, X, sample_weight, params):
    """What every restartable fit checks and computes first.

    Returns X (validated), the weights, the checked init, the number of runs,
    the RandomState, the thread count, the squared row norms and the absolute
    tolerance (``params.tol`` times the mean per-feature variance).
    """
    X = validate_X(estimator, X, reset=True)
    k = params.n_clusters
    if X.shape[0] < k:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={k}.")
    sample_weight = validated_weights(sample_weight, X)
    init = check_init(estimator.init, X, k, estimator.n_init)
    n_init = 1 if isinstance(init, np.ndarray) else params.n_init
    rng = check_random_state(estimator.random_state)
    n_threads = n_threads_of(estimator.n_threads, work=X.shape[0] * k * X.shape[1])
    x_sqnorms = row_norms(X, n_threads)
    check_range(x_sqnorms, sample_weight)
    tol = absolute_tol(params.tol, X)
    return X, sample_weight, init, n_init, rng, n_threads, x_sqnorms, tol


def resolve_n_init(n_init, init, random_runs=10, name="n_init"):
    """Runs for ``n_init`` (the parameter ``name``), scikit-learn's rule.

    "auto" is ``random_runs`` for ``init="random"`` and callables (scikit-learn:
    10 for KMeans, 3 for MiniBatchKMeans) and 1 for the other inits; an integer
    must be >= 1.
    """
    if isinstance(n_init, str):
        if n_init != "auto":
            raise ValueError(f"{name} must be 'auto' or an integer >= 1, got {n_init!r}")
        random_init = (isinstance(init, str) and init == "random") or callable(init)
        return random_runs if random_init else 1
    return check_int(n_init, name)


def check_init(init, X, n_clusters, n_init, owner=None):
    """Validate an ``init`` parameter: a known name, a callable, or (k, d) centers.

    Arrays are returned as a new array in X's dtype (the user's is never
    modified); one of the wrong shape raises ValueError with scikit-learn's
    message. A RuntimeWarning (scikit-learn's text; ``owner``: the
    estimator's name) says that explicit centers run once when ``n_init``
    asks for more.
    """
    if isinstance(init, str):
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, an array or a callable, got {init!r}")
        return str(init)
    if callable(init):
        return init
    centers = _checked_centers(init, X, n_clusters, "given as init", "init")
    if not isinstance(n_init, str) and n_init != 1:
        where = f" in {owner}" if owner else ""
        warnings.warn(
            f"Explicit initial center position passed: performing only one init{where} "
            f"instead of n_init={n_init}.",
            RuntimeWarning, stacklevel=4,
        )
    return centers


def _checked_centers(centers, X, n_clusters, source, name):
    """Initial centers as a new C-contiguous array of X's dtype, of shape (n_clusters, d)."""
    if sp.issparse(centers):
        centers = centers.toarray()
    centers = np.array(check_data(centers, name, dtype=X.dtype), order="C", copy=True)
    message = center_shape_error(centers.shape, n_clusters, X.shape[1], source)
    if message is not None:
        raise ValueError(message)
    check_range(row_norms(centers, 1), name=name)
    return centers


def initial_centers(X, x_sqnorms, n_clusters, sample_weight, init, rng, n_threads):
    """Initial centers from a checked ``init`` (see :func:`check_init`); X dense or CSR."""
    if isinstance(init, np.ndarray):
        return init.copy()
    sparse = sp.issparse(X)
    if init == "k-means++":
        n_trials = 2 + int(np.log(n_clusters))
        if sparse:
            return kmeans_plusplus_csr(X, x_sqnorms, n_clusters, sample_weight, n_trials, rng)[0]
        return kmeans_plusplus(X, n_clusters, sample_weight, n_trials, rng, x_sqnorms, n_threads,
                               check_input=False)[0]
    if init == "farthest":
        if sparse:
            return farthest_first_csr(X, x_sqnorms, n_clusters, sample_weight, rng)[0]
        return farthest_first(X, n_clusters, sample_weight, rng, x_sqnorms, n_threads,
                              check_input=False)[0]
    if init == "random":
        p = row_probabilities(X.shape[0], sample_weight)
        live = int(np.count_nonzero(p))
        if live < n_clusters:
            raise ValueError(
                f"init='random' draws n_clusters={n_clusters} distinct rows with probability "
                f"proportional to sample_weight, but only {live} of the {X.shape[0]} rows it "
                "draws from have a positive sample_weight"
            )
        rows = rng.choice(X.shape[0], size=n_clusters, replace=False, p=p)
        return dense_rows(X, rows).astype(X.dtype, copy=False) if sparse else X[rows]
    centers = init(X, n_clusters, random_state=rng)
    return _checked_centers(centers, X, n_clusters,
                            "returned by init(X, n_clusters, random_state)",
                            "init(X, ...) result")
