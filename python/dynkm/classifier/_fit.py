"""Seeding and k-means runs on the rows of one class, the classes run side by side.

Both classifiers fit with :func:`kmeans_run`: :class:`dynkm.KMeans`' Lloyd
driver (``dynkm._lloyd``) on dense or CSR rows, spherical for cosine.
KMeansClassifier runs it once per class (:func:`fit_classes`), several classes
at a time on separate threads when there are enough of them.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import kmeans_plusplus as _sparse_kmeans_plusplus

from dynkm import _rows
from dynkm._tolerance import absolute_tol
from dynkm._lloyd import make_spherical_steps, make_steps, run_lloyd
from dynkm._init import initial_centers
from kmcore.seeding import row_probabilities

# Classes run side by side (one worker per thread, each kernel on its share of
# the threads) when there are at least this many per worker: small per-class
# problems give the kernels' parallel slices little work each, and one class's
# Python steps then overlap another's kernels; with fewer classes the last ones
# would leave threads idle.
_CLASSES_PER_WORKER = 4


def work(X, n_centers):
    """Work of one pass comparing X's rows with ``n_centers`` centers (for the thread count)."""
    return (X.nnz if sp.issparse(X) else X.size) * int(n_centers)


def fit_classes(fit_class, X, y_idx, w, n_classes, targets, rng, n_threads):
    """Run ``fit_class(X_c, w_c, target_c, rng_c, threads)`` on the rows of every class.

    Returns the runs in class order. Each class gets a seed of its own,
    drawn from ``rng`` up front, so its result depends on neither the order
    in which the classes run nor the number of threads.
    """
    order = np.argsort(y_idx, kind="stable")
    bounds = np.searchsorted(y_idx[order], np.arange(n_classes + 1))
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_classes)

    def run_class(c, threads):
        rows = order[bounds[c]:bounds[c + 1]]
        return fit_class(X[rows], None if w is None else w[rows], targets[c],
                         np.random.RandomState(seeds[c]), threads)

    # A class costs about its rows times its prototypes per iteration.
    return per_class(run_class, np.diff(bounds) * targets, n_threads)


def per_class(fit_class, costs, n_threads):
    """``[fit_class(c, threads) for c in range(len(costs))]``, classes run concurrently.

    Classes start in decreasing order of ``costs`` (largest first leaves the
    shortest tail when the workers run out of classes). Every result is the
    same as in a sequential run: the kernels' results do not depend on their
    thread count, and each class has its own seed.
    """
    n_classes = len(costs)
    workers = min(n_threads, n_classes // _CLASSES_PER_WORKER)
    if workers <= 1:
        return [fit_class(c, n_threads) for c in range(n_classes)]
    order = np.argsort(-np.asarray(costs), kind="stable")
    with ThreadPoolExecutor(workers) as pool:
        futures = {c: pool.submit(fit_class, c, n_threads // workers) for c in order.tolist()}
        return [futures[c].result() for c in range(n_classes)]


def fit_class(Xc, wc, k_target, p, rng, n_threads):
    """Seed and run (spherical) Lloyd on one class's rows, with at most a prototype a row."""
    live = Xc.shape[0] if wc is None else int(np.count_nonzero(wc))
    if live == 0:
        raise ValueError("sample_weight is 0 for every row of a class; drop the class "
                         "from y or give its rows weight")
    return kmeans_run(Xc, wc, int(min(k_target, live)), p, rng, n_threads)


def own_assignment(X, x_sqnorms, y_idx, protos, starts, n_threads):
    """Nearest prototype of every row among its own class's: global index and sqdist.

    ``starts[c]:starts[c + 1]`` are the prototypes of class c; every class in
    ``y_idx`` must have at least one.
    """
    own = np.empty(X.shape[0], dtype=np.intp)
    own_sqdist = np.empty(X.shape[0], dtype=np.float64)
    for c in np.unique(y_idx):
        rows = np.flatnonzero(y_idx == c)
        lab, dist, _, _ = _rows.assign_rows(X[rows], x_sqnorms[rows],
                                            protos[starts[c]:starts[c + 1]], None, n_threads)
        own[rows] = lab + starts[c]
        own_sqdist[rows] = dist
    return own, own_sqdist


def seed_centers(X, x_sqnorms, w, k, init, rng, n_threads):
    """k initial centers among the rows of X (dense or CSR): k-means++ or random rows."""
    if k == X.shape[0]:
        init = "random"  # every row is a center
    if not sp.issparse(X):
        return initial_centers(X, x_sqnorms, k, w, init, rng, n_threads)
    if init == "random":
        rows = rng.choice(X.shape[0], size=k, replace=False, p=row_probabilities(X.shape[0], w))
        centers = _rows.dense_rows(X, rows)
    else:
        # scikit-learn's k-means++ draws the same rows as kmcore's from the same
        # RandomState: dense and CSR input get the same seeds.
        centers = _sparse_kmeans_plusplus(
            X, k, sample_weight=w, x_squared_norms=x_sqnorms, random_state=rng,
            n_local_trials=2 + int(np.log(k)))[0]
    return np.ascontiguousarray(centers, dtype=X.dtype)


def kmeans_run(X, w, k, p, rng, n_threads, algorithm="auto"):
    """Seed and run Lloyd (spherical for cosine, on unit rows) once on X, dense or CSR.

    The loop and the choice of strategy are :class:`dynkm.KMeans`'s
    (``dynkm._lloyd``; ``algorithm`` as ``KMeans(algorithm=...)``): "auto"
    runs Yinyang's group bounds (or Hamerly's, in few dimensions) where they
    fit the memory budget and pay off, and the plain pass otherwise, always
    the plain pass on CSR input. Cosine keeps the bounds too (the centers
    scaled to unit norm after each step, ``_lloyd.SphericalSteps``), which
    ``KMeans(spherical=True)`` does not do yet. Every strategy gives the
    iterations of plain Lloyd, stopping when the labels stop changing, the
    squared center shift is at most ``tol`` or after ``max_iter``.
    ``p`` holds the checked ``init``, ``distance``, ``tol`` and ``max_iter``.
    Returns ``run_lloyd``'s ``LloydRun`` with ``counts`` (float64 weight of each center).
    """
    x_sqnorms = _rows.row_norms(X, n_threads)
    centers = seed_centers(X, x_sqnorms, w, k, p.init, rng, n_threads)
    tol = absolute_tol(p.tol, X)
    if p.distance == "cosine":
        steps = make_spherical_steps(algorithm, X, x_sqnorms, w, centers, n_threads)
    else:
        steps = make_steps(algorithm, X, x_sqnorms, w, centers, n_threads)
    run = run_lloyd(steps, centers, p.max_iter, tol, 1, 0)
    return _with_counts(run, w, k)


def _with_counts(run, w, k):
    """The run with ``counts``: the weight of each center's rows (float64)."""
    weights = _rows.weights_or_ones(w, len(run.labels))
    return run._replace(counts=np.bincount(run.labels, weights=weights,
                                           minlength=k).astype(np.float64))
