"""KMeans on dask arrays: Dask schedules, kmcore computes every chunk.

Each Lloyd iteration sends the centers once, runs kmcore's fused E-step
and float64 sums on every chunk where it lives, and reduces the chunks'
partial results over a binary tree fixed by the chunk index
(:func:`dynkm.dask._chunks.tree_reduce`); the client only divides the sums
into the new centers: one graph and one round trip per iteration, and
nothing of it (the labels neither) left on the workers. The iterations and
the stopping rule are those of ``dynkm.KMeans(algorithm="lloyd")`` (see
``dynkm._lloyd.run_lloyd``).

Every chunk runs Lloyd's full assignment, not the bounded (Yinyang)
strategy: bounds kept with a chunk across iterations would be a persisted
result per chunk and iteration, each derived from the one before (a task
may be re-run, so they cannot be updated in place): a copy of n x t float32
lower bounds per iteration, and a lost worker's bounds rebuilt only by
replaying that chain. It could be made exact and deterministic (the bounds
skip distances, never change a label); it is not done yet.
"""

import time

import dask
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from dynkm._validation import as_dtype, check_float, check_int, check_range
from dynkm.dask import _chunks
from dynkm.dask._data import ChunkedData, as_dask_array, broadcast, weight_blocks
from dynkm.dask._init import kmeans_parallel, kmeans_plusplus_sample
from kmcore import row_norms
from kmcore.centers import means_from_sums
from kmcore.validation import check_centers, check_random_state

_INITS = ("k-means||", "k-means++")


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means by Lloyd's algorithm on a dask array, chunk by chunk with kmcore.

    From the same initial centers it runs the iterations of the in-memory
    ``dynkm.KMeans(algorithm="lloyd")``: the same labels and number of
    iterations, centers and inertia equal to rounding (the chunks' float64
    sums are added in another order). The result depends on the chunk
    layout and ``random_state`` only, not on the workers: bitwise the same
    with 1 or 100 workers. Runs with a ``distributed.Client`` when one
    exists, else with dask's default scheduler.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means||", "k-means++"} or array of shape (n_clusters, n_features), \
default="k-means||"
        "k-means||": the scalable k-means++ of Bahmani et al. (a few rounds of
        oversampling over the chunks, then kmcore's weighted k-means++ on the
        candidates); "k-means++": kmcore's greedy k-means++ on
        ``max(10000, 100 * n_clusters)`` rows drawn uniformly (all rows if
        fewer); an array: those centers, as in memory.
    n_init : int, default=1
        Runs from different initialisations (an array init runs once); the
        lowest inertia wins.
    max_iter : int, default=300
    tol : float, default=1e-4
        A run stops when the sum of squared center moves is at most ``tol``
        times the mean per-feature variance of X, or when no label changes.
    check_every : int, default=1
        Test convergence only every ``check_every`` iterations (and at the last).
    random_state : None, int or numpy.random.RandomState, default=None
    oversampling_factor : float, default=2
        k-means||: about ``oversampling_factor * n_clusters`` rows kept per round.
    init_max_iter : int, default=None
        k-means|| rounds (None: 5).
    n_threads : int, default=1
        OpenMP threads of each chunk's task (dask runs several tasks at once).
    verbose : int, default=0

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : dask array of shape (n_samples,)
        Lazy: the nearest final center of every row of X, computed from X when
        asked (``labels_.compute()``); nothing of the fit stays on the workers.
    inertia_ : float
    n_iter_ : int
    n_features_in_ : int
    history_ : dict
        As ``dynkm.KMeans.history_`` (``algorithm`` is "lloyd").
    """

    def __init__(self, n_clusters=8, *, init="k-means||", n_init=1, max_iter=300, tol=1e-4,
                 check_every=1, random_state=None, oversampling_factor=2, init_max_iter=None,
                 n_threads=1, verbose=0):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.check_every = check_every
        self.random_state = random_state
        self.oversampling_factor = oversampling_factor
        self.init_max_iter = init_max_iter
        self.n_threads = n_threads
        self.verbose = verbose

    def fit(self, X, y=None, sample_weight=None):
        """Cluster the dask array X (rows in chunks; sample_weight aligned with them).

        A fit that raises leaves the estimator as it was.
        """
        params = self._check_params()
        k = params["n_clusters"]
        data = ChunkedData(X, sample_weight)
        if data.n_samples < k:
            raise ValueError(f"n_samples={data.n_samples} should be >= n_clusters={k}.")
        init = self.init
        if not isinstance(init, str):
            init = check_centers(init, data.n_features, data.dtype, name="init")
            if init.shape[0] != k:
                raise ValueError(f"init has {init.shape[0]} centers but n_clusters={k}")
            check_range(row_norms(init, n_threads=1, check_input=False), name="init")
        rng = check_random_state(self.random_state)
        tol = params["tol"] * data.mean_variance() if params["tol"] > 0 else 0.0
        best = None
        for _ in range(1 if isinstance(init, np.ndarray) else params["n_init"]):
            t0 = time.perf_counter()
            centers = self._initial_centers(data, init, rng, params)
            init_seconds = time.perf_counter() - t0
            run = run_lloyd(data, centers, params["max_iter"], tol, params["check_every"],
                            params["n_threads"], self.verbose)
            run["history"]["init_seconds"] = init_seconds
            if best is None or run["inertia"] < best["inertia"]:
                best = run
        # The final centers' labels, computed lazily from X when asked: nothing
        # of the fit stays held on the workers.
        labels = lazy_labels(as_dask_array(X), best["centers"], data.n_features)
        self.n_features_in_ = data.n_features
        self.cluster_centers_ = best["centers"]
        self.labels_ = labels
        self.inertia_ = best["inertia"]
        self.n_iter_ = best["n_iter"]
        self.history_ = best["history"]
        return self

    def _check_params(self):
        if isinstance(self.init, str) and self.init not in _INITS:
            raise ValueError(f"init must be one of {_INITS} or an array, got {self.init!r}")
        if self.init_max_iter is not None:
            check_int(self.init_max_iter, "init_max_iter")
        check_float(self.oversampling_factor, "oversampling_factor")
        if not self.oversampling_factor > 0:
            raise ValueError(f"oversampling_factor must be > 0, got {self.oversampling_factor}")
        return {
            "n_clusters": check_int(self.n_clusters, "n_clusters"),
            "n_init": check_int(self.n_init, "n_init"),
            "max_iter": check_int(self.max_iter, "max_iter"),
            "tol": check_float(self.tol, "tol"),
            "check_every": check_int(self.check_every, "check_every"),
            "n_threads": check_int(self.n_threads, "n_threads"),
        }

    def _initial_centers(self, data, init, rng, params):
        k, n_threads = params["n_clusters"], params["n_threads"]
        if isinstance(init, np.ndarray):
            return init.copy()
        if init == "k-means||":
            return kmeans_parallel(data, k, rng, float(self.oversampling_factor),
                                   self.init_max_iter, n_threads)
        return kmeans_plusplus_sample(data, k, rng, n_threads)

    # ------------------------------------------------------------ new data
    def _new_data(self, X):
        check_is_fitted(self)
        X = as_dask_array(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        centers = np.ascontiguousarray(as_dtype(self.cluster_centers_, dtype,
                                                name="cluster_centers_"))
        return X, centers

    def predict(self, X):
        """Nearest center of every row of the dask array X, as a dask array (lazy)."""
        X, centers = self._new_data(X)
        return lazy_labels(X, centers, self.n_features_in_)

    def transform(self, X):
        """Distances of every row of X to every center, a dask array (lazy)."""
        X, centers = self._new_data(X)
        return X.map_blocks(_chunks.chunk_transform, centers, self.n_features_in_,
                            dtype=centers.dtype, chunks=(X.chunks[0], (centers.shape[0],)))

    def fit_predict(self, X, y=None, sample_weight=None):
        """``fit(X).labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted SSE of X against its nearest centers (a float)."""
        X, centers = self._new_data(X)
        c = broadcast(centers)
        score = dask.delayed(_chunks.chunk_score, pure=True)
        stats = [score(x, w, c, j, self.n_features_in_) for j, (x, w) in
                 enumerate(zip(X.to_delayed().ravel(), weight_blocks(sample_weight, X),
                               strict=True))]
        total = dask.compute(_chunks.tree_reduce(stats))[0]
        return -float(total["inertia"])


def lazy_labels(X, centers, n_features):
    """Nearest center of every row of the dask array X (a lazy dask array)."""
    return X.map_blocks(_chunks.chunk_predict, centers, n_features, dtype=np.intp, drop_axis=1)


def run_lloyd(data, centers, max_iter, tol, check_every, n_threads, verbose):
    """Lloyd's iterations on the chunks from ``centers`` (the rule of ``dynkm._lloyd``).

    One graph and one ``compute`` per iteration: the centers as one task,
    one task per chunk (its E-step and partial sums, on the chunk's worker)
    and the fixed tree reducing them to what the client needs. Nothing of an
    iteration stays on the workers, the labels neither: the in-memory rule
    stops strictly when a checked iteration's labels equal the step
    before's with nothing relocated, and those labels can be compared
    without keeping them (see :func:`strict_stop`).

    Returns a dict: centers, inertia (of the final centers), n_iter, history.
    """
    history = {key: [] for key in ("objective", "center_shift", "seconds", "n_relocated",
                                   "imbalance", "distance_fraction")}
    offsets = list(data.offsets[:-1])
    previous = None  # the centers of the step before (a graph task)
    moved = None  # the rows the step before relocated
    strict = False
    for i in range(max_iter):
        t0 = time.perf_counter()
        sent = broadcast(centers)
        checked = (i + 1) % check_every == 0 or i == max_iter - 1
        # After a relocation the labels must be compared (see strict_stop):
        # the step before's are assigned again in the same tasks.
        compare = (checked and i > 0 and history["n_relocated"][-1] > 0
                   and not surely_moved(moved, centers))
        stats = data.reduce(data.map(_chunks.chunk_step, sent, offsets, n_threads,
                                     previous if compare else None))
        sums, weights = stats["sums"], stats["weights"]
        n_relocated = relocate_empty(data, stats)
        moved = stats.get("moved")
        shift = np.empty(centers.shape[0], dtype=np.float64)
        centers = means_from_sums(sums, weights, centers, data.dtype, shift, n_threads)
        shift2 = float((shift ** 2).sum())
        history["objective"].append(stats["inertia"])
        history["center_shift"].append(shift2)
        history["n_relocated"].append(n_relocated)
        history["imbalance"].append(len(weights) * float(weights @ weights)
                                    / float(weights.sum()) ** 2)
        history["distance_fraction"].append(1.0)
        history["seconds"].append(time.perf_counter() - t0)
        if verbose:
            print(f"iteration {i}: objective {stats['inertia']:.6g}, center shift "
                  f"{shift2:.3g}, {history['seconds'][-1]:.3f} s")
        if checked:
            if i > 0 and strict_stop(history["n_relocated"], shift2,
                                     stats["changed"] if compare else None):
                strict = True  # same partition as the iteration before
                if verbose:
                    print(f"Converged at iteration {i}: strict convergence.")
                break
            if shift2 <= tol:
                if verbose:
                    print(f"Converged at iteration {i}: center shift {shift2} within "
                          f"tolerance {tol}.")
                break
        previous = sent
    if strict:
        # Same labels as the step before: the centers (sums of the same rows
        # in the same order) and the inertia against them are those of the step.
        inertia = stats["inertia"]
    else:
        # Inertia of the final centers (the last step measured the previous ones).
        inertia = data.reduce(data.map(_chunks.chunk_inertia, broadcast(centers),
                                       n_threads))["inertia"]
    history = {key: np.asarray(values) for key, values in history.items()}
    history.update(algorithm="lloyd", n_groups=0, algorithm_reason="dynkm.dask: Lloyd by chunks")
    return {"centers": centers, "inertia": float(inertia), "n_iter": i + 1,
            "history": history}


def surely_moved(moved, centers):
    """Whether a row relocated by the step before surely left its old cluster's label.

    ``moved`` (from :func:`relocate_empty`): the rows, their labels and the
    clusters they refilled. A row whose new cluster's center is nearer than
    its old one's by more than any rounding of kmcore's distances (a bound
    on the float error of ``|x|^2 - 2 x.c + |c|^2``, taken 4 times over) is
    not labelled as before: some label changed, no need to count them.
    """
    if moved is None:
        return False
    x = moved["x"]
    c = centers.astype(np.float64)
    old, new = c[moved["label"]], c[moved["cluster"]]
    d_old = ((x - old) ** 2).sum(axis=1)
    d_new = ((x - new) ** 2).sum(axis=1)
    scale = (x ** 2).sum(axis=1) + (old ** 2).sum(axis=1) + (new ** 2).sum(axis=1)
    margin = 8 * (x.shape[1] + 2) * np.finfo(centers.dtype).eps * scale
    return bool(np.any(d_old - d_new > margin))


def strict_stop(n_relocated, shift2, changed):
    """Whether a checked step (not the first) ends the run by the in-memory strict rule.

    The rule: nothing relocated in this step and its labels equal the step
    before's. ``n_relocated`` lists the relocations of every step so far
    (this one last), ``shift2`` is this step's squared center shift and
    ``changed`` the count of changed labels (None: not counted). When the
    step before relocated nothing, equal labels give bitwise equal sums and
    weights (the same rows in the same order), hence centers equal to the
    ones they were computed from: a shift of exactly 0. So a nonzero shift
    means some label changed, and a zero shift stops the run in memory
    anyway (``shift2 <= tol``) with the same centers and n_iter, and labels
    and inertia against the same centers. After a relocation the centers
    also hold the moved rows, so there the labels are counted.
    """
    if n_relocated[-1] != 0:
        return False
    if n_relocated[-2] != 0:
        return changed == 0
    return shift2 == 0.0


def relocate_empty(data, stats):
    """Refill clusters of zero weight with the farthest rows, as kmcore's Lloyd step does.

    The rows of positive weight farthest from their center (ties to the lower
    row index) move, farthest first, into the empty clusters in index order;
    a donor left without a row of positive weight reads weight 0. ``stats``'
    sums and weights are changed in place, and ``stats["moved"]`` set to the
    rows moved, their labels and the clusters they refill (for
    :func:`surely_moved`); returns the number of rows moved.
    """
    sums, weights = stats["sums"], stats["weights"]
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return 0
    far = {key: value[:empty.size] for key, value in stats["far"].items()}
    x, _ = data.rows(far["row"])
    stats["moved"] = {"x": x.astype(np.float64), "label": far["label"],
                      "cluster": empty[:far["row"].size]}
    for cluster, xi, wi, old in zip(empty, x.astype(np.float64), far["weight"], far["label"],
                                    strict=False):
        sums[old] -= wi * xi
        weights[old] -= wi
        sums[cluster] = wi * xi
        weights[cluster] = wi
    for old in np.unique(far["label"]):
        if stats["n_positive"][old] == np.count_nonzero(far["label"] == old):
            weights[old] = 0.0
            sums[old] = 0.0
    return int(far["row"].size)


def fit_chunks(estimator, X, sample_weight=None):
    """``estimator.partial_fit`` on each chunk of rows of the dask array X, in order.

    For dynkm's streaming estimators (``MiniBatchKMeans``, ``DynamicKMeans``):
    a stream stored as chunks is clustered without loading it whole; each
    chunk is computed where it lives and streamed to the client, the next one
    computing while the estimator learns from the current one. Returns the
    estimator.
    """
    X = as_dask_array(X)
    xs = X.to_delayed().ravel()
    ws = weight_blocks(sample_weight, X)
    pending = dask.persist(xs[0], ws[0]) if len(xs) else None
    for j in range(len(xs)):
        x, w = dask.compute(*pending)
        pending = dask.persist(xs[j + 1], ws[j + 1]) if j + 1 < len(xs) else None
        estimator.partial_fit(x, sample_weight=w)
    return estimator


__all__ = ["KMeans", "fit_chunks"]
