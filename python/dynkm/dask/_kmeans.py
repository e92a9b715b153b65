"""KMeans on dask arrays: Dask schedules, kmcore computes every chunk.

Each Lloyd iteration runs kmcore's E-step and float64 sums on every chunk
where it lives (one task per worker's group of chunks), adds the chunks'
partial results over a binary tree fixed by the chunk index and divides
them into the next centers on the workers (each next step's task does it
for itself); several iterations go to the scheduler as one graph, the
client reading only the numbers of the stopping rule
(:mod:`dynkm.dask._lloyd`). The iterations and the stopping
rule are those of ``dynkm.KMeans`` (see ``dynkm._lloyd.run_lloyd``).

The E-step is the one the in-memory rule picks for the data
(:func:`dynkm.dask._lloyd.choose_strategy`): Lloyd's full pass, or
Yinyang's group bounds or Hamerly's, kept per chunk on the worker that
holds it. A chunk's bounds and labels stay in that worker's store from one
step to the next, updated in place (a step that finds none, a retry or a
lost worker's recompute elsewhere, starts new bounds: the same labels), and
its sums are recomputed from all its labels (one pass over the chunk, no
distances): a function of the labels alone, added in the same fixed tree,
so the result does not depend on the strategy either; as in memory, a
bounded iteration's objective is expanded from the reduced sums, and only
the final centers' inertia is summed from direct distances. With Lloyd's pass
nothing of the fit (the labels neither) is left on the workers between
iterations; with the bounds, only they are, until the fit ends.
"""

import time
from typing import TYPE_CHECKING, Any, TypeVar

import dask
import dask.array as da
import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from dynkm._lloyd import ALGORITHMS
from dynkm._params import Int, Options, Real, check_params
from dynkm._validation import as_dtype, check_range
from dynkm.dask import _chunks
from dynkm.dask._data import ChunkedData, as_dask_array, broadcast, weight_blocks
from dynkm.dask._init import kmeans_parallel, kmeans_plusplus_sample
from dynkm.dask._lloyd import choose_strategy, run_lloyd
from kmcore import row_norms
from kmcore.validation import check_centers, check_random_state

if TYPE_CHECKING:
    from typing import Self

    import dask.dataframe as dd

# An estimator with partial_fit (fit_chunks returns the one it was given).
_Streaming = TypeVar("_Streaming", bound=Any)

_INITS = ("k-means||", "k-means++")


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means by Lloyd's algorithm on a dask array, chunk by chunk with kmcore.

    From the same initial centers it runs the iterations of the in-memory
    ``dynkm.KMeans`` (whatever its ``algorithm``): the same labels and number
    of iterations, centers and inertia equal to rounding (the chunks' float64
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
    chain_length : int, default=None
        Lloyd iterations sent to the scheduler as one graph (the client reads
        each one's stopping numbers as it ends; what ran past the stop is
        dropped, and a lost worker's share is recomputed from at most this
        many iterations). None: 10 with a ``distributed.Client``, 1 with
        dask's local schedulers (no round trip to save). The result does not
        depend on it.
    algorithm : {"auto", "lloyd", "elkan", "yinyang"}, default="auto"
        The E-step, chosen by ``dynkm.KMeans``' rule: "auto" runs Lloyd's
        pass below 32 clusters or 4096 rows, Hamerly's bounds below 16
        features, else Yinyang's groups of about ten centers; "elkan" one
        group per center. The bounds of each chunk stay on its worker between
        iterations; all the chunks' bounds (``16 + 4 t`` bytes per row for t
        groups, 24 for Hamerly's) must fit ``dynkm._lloyd.BOUNDS_BUDGET``
        (1 GiB), as in memory, else Lloyd's pass.
        The result is the same whichever runs; ``history_`` says which ran.
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
        As ``dynkm.KMeans.history_``: ``algorithm`` ("lloyd", "yinyang",
        "elkan", "hamerly"), ``n_groups``, ``algorithm_reason``, and per
        iteration ``distance_fraction``, the fraction of the n x k distances
        computed.
    """

    def __init__(self, n_clusters=8, *, init="k-means||", n_init=1, max_iter=300, tol=1e-4,
                 check_every=1, random_state=None, oversampling_factor=2, init_max_iter=None,
                 n_threads=1, chain_length=None, algorithm="auto", verbose=0):
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
        self.chain_length = chain_length
        self.algorithm = algorithm
        self.verbose = verbose

    def fit(self, X: "da.Array | dd.DataFrame", y: object = None,
            sample_weight: "da.Array | dd.Series | ArrayLike | None" = None) -> "Self":
        """Cluster the dask array X (rows in chunks; sample_weight aligned with them).

        A fit that raises leaves the estimator as it was.
        """
        params = self._check_params()
        k = params.n_clusters
        dX = as_dask_array(X)
        # The strategy from the shape and chunks (the in-memory rule): a bounded
        # one's objective terms are summed by the validation pass.
        strategy = choose_strategy(params.algorithm, [int(s) for s in dX.chunks[0]], k,
                                   int(dX.shape[1]))
        data = ChunkedData(dX, sample_weight, objective=strategy[0] != "lloyd", checked=True)
        if data.n_samples < k:
            raise ValueError(f"n_samples={data.n_samples} should be >= n_clusters={k}.")
        init = self.init
        if not isinstance(init, str):
            init = check_centers(init, data.n_features, data.dtype, name="init")
            if init.shape[0] != k:
                raise ValueError(f"init has {init.shape[0]} centers but n_clusters={k}")
            check_range(row_norms(init, n_threads=1, check_input=False), name="init")
        rng = check_random_state(self.random_state)
        tol = params.tol * data.mean_variance() if params.tol > 0 else 0.0
        best = None
        for _ in range(1 if isinstance(init, np.ndarray) else params.n_init):
            t0 = time.perf_counter()
            centers = self._initial_centers(data, init, rng, params)
            init_seconds = time.perf_counter() - t0
            run = run_lloyd(data, centers, params.max_iter, tol, params.check_every,
                            params.n_threads, self.verbose, params.chain_length, strategy)
            run["history"]["init_seconds"] = init_seconds
            if best is None or run["inertia"] < best["inertia"]:
                best = run
        assert best is not None  # at least one run
        # The final centers' labels, computed lazily from X when asked: nothing
        # of the fit stays held on the workers.
        labels = lazy_labels(dX, best["centers"], data.n_features)
        self.n_features_in_ = data.n_features
        self.cluster_centers_ = best["centers"]
        self.labels_ = labels
        self.inertia_ = best["inertia"]
        self.n_iter_ = best["n_iter"]
        self.history_ = best["history"]
        return self

    # Each parameter's rule, once (dynkm._params); init (a name or centers) and
    # random_state are checked when fit starts.
    _param_specs = {
        "init_max_iter": Int(none=True),
        "oversampling_factor": Real(exclusive=True),
        "n_clusters": Int(),
        "n_init": Int(),
        "max_iter": Int(),
        "tol": Real(),
        "check_every": Int(),
        "n_threads": Int(),
        "chain_length": Int(none=True),
        "algorithm": Options(*ALGORITHMS),
        "verbose": Int(low=0, bools=True),
    }

    def _check_params(self):
        if isinstance(self.init, str) and self.init not in _INITS:
            raise ValueError(f"init must be one of {_INITS} or an array, got {self.init!r}")
        return check_params(self)

    def _initial_centers(self, data, init, rng, params):
        k, n_threads = params.n_clusters, params.n_threads
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

    def predict(self, X: "da.Array | dd.DataFrame") -> da.Array:
        """Nearest center of every row of the dask array X, as a dask array (lazy)."""
        X, centers = self._new_data(X)
        return lazy_labels(X, centers, self.n_features_in_)

    def transform(self, X: "da.Array | dd.DataFrame") -> da.Array:
        """Distances of every row of X to every center, a dask array (lazy)."""
        X, centers = self._new_data(X)
        return X.map_blocks(_chunks.chunk_transform, centers, self.n_features_in_,
                            dtype=centers.dtype, chunks=(X.chunks[0], (centers.shape[0],)))

    def fit_predict(self, X: "da.Array | dd.DataFrame", y: object = None,
                    sample_weight: "da.Array | dd.Series | ArrayLike | None" = None) -> da.Array:
        """``fit(X).labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def score(self, X: "da.Array | dd.DataFrame", y: object = None,
              sample_weight: "da.Array | dd.Series | ArrayLike | None" = None) -> float:
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


def fit_chunks(estimator: _Streaming, X: "da.Array | dd.DataFrame",
               sample_weight: "da.Array | dd.Series | ArrayLike | None" = None) -> _Streaming:
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
        assert pending is not None  # chunk j, persisted before the loop or at step j - 1
        x, w = dask.compute(*pending)
        pending = dask.persist(xs[j + 1], ws[j + 1]) if j + 1 < len(xs) else None
        estimator.partial_fit(x, sample_weight=w)
    return estimator


__all__ = ["KMeans", "fit_chunks"]
