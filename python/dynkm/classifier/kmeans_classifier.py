"""KMeansClassifier: a nearest-prototype classifier with k-means prototypes per class.

The estimator holds the public methods and the fitted attributes; the work is
done by the package's private modules (see ``dynkm.classifier``).
"""

import time
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from dynkm import _rows
from dynkm._atomic import AtomicSetParams, atomic
from dynkm._history import ArrayHistory, new_history, record
from dynkm._validation import n_threads_of, validated_weights
from dynkm.classifier import _fit, _params, _predict, _prune
from dynkm.classifier._penalty import penalised_iterations
from dynkm.classifier._stream import StreamState, seed_more
from dynkm._renamed import RenamedAttributes
from dynkm.persist import PersistMixin
from kmcore.threads import blas_single_threaded
from kmcore.validation import check_random_state

if TYPE_CHECKING:
    from typing import Self

# What ``history_`` records for every partial_fit batch (dynkm._history's columns).
_HISTORY_COLUMNS = {"shift": np.float64, "n_new": np.int64, "n_merged": np.int64,
                    "n_pruned": np.int64, "n_prototypes": np.int64, "seconds": np.float64}


class KMeansClassifier(ArrayHistory, PersistMixin, AtomicSetParams, _params.AcceptsCSR,
                       ClassifierMixin, RenamedAttributes, BaseEstimator):
    """Nearest-prototype classifier with several k-means prototypes per class.

    Each class is summarised by its own k-means centers (prototypes), so a
    class made of several modes keeps one prototype per mode instead of the
    single, averaged centroid of ``NearestCentroid``. A row is predicted as the
    class of its nearest prototype. :meth:`fit` runs exact k-means on each
    class's rows; :meth:`partial_fit` learns from a stream by mini-batch
    k-means updates. With ``distance="cosine"`` the model is spherical
    k-means: rows and prototypes have unit norm and "nearest" means largest
    cosine. Dense arrays and scipy CSR matrices are accepted; a CSR matrix is
    never densified (blocks of rows against the dense prototypes).

    ``save(path)`` / ``load(path)`` keep the model in a file that loads
    without running code (:mod:`dynkm.persist`); pickling works too, but
    unpickling runs code from the file: for trusted input only.

    Parameters
    ----------
    k_init : int, default=3
        Prototypes per class, for classes not named in ``k_list``. A class
        with fewer rows (of positive weight) gets one prototype per row;
        duplicate rows collapse (the extra prototypes win nothing and are
        pruned).
    k_list : dict or sequence of int, default=None
        Prototypes per class: ``{class: k}`` (other classes get ``k_init``), or
        one count per class in the sorted order of ``classes_`` (then
        ``partial_fit`` needs ``classes`` on its first call).
    init : {"k-means++", "random"}, default="k-means++"
        Seeding of each class's prototypes: greedy k-means++ on the class's
        rows (on unit rows for cosine, where squared distance is
        ``2 - 2 cos``, so the seeding is cosine-aware), or rows drawn at
        random with probability proportional to their weight.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Euclidean k-means, or spherical k-means (rows and prototypes scaled to
        unit norm; predictions do not depend on the scale of a row).
    dtype : {None, "float32", "float64"}, default=None
        Precision of the prototypes and the arithmetic; None keeps float32
        input in float32 and computes everything else in float64.
    soft : bool, default=True
        ``predict_proba`` gives soft probabilities from the distances to each
        class's nearest prototype (below); False gives the one-hot vector of
        the predicted class.
    soft_type : {"softmax", "linear"}, default="softmax"
        Shape of the soft probabilities. With ``s_c`` the squared distance to
        the nearest prototype of class c and ``scale_`` the mean squared
        distance of the training rows to their own prototype:
        "softmax": ``p_c ~ exp(-s_c / (temperature * scale_))`` (the posterior
        of isotropic Gaussians of that variance around the prototypes);
        "linear": ``p_c ~ max(0, sim_c)`` with ``sim_c = 1 - s_c / 2`` (the
        cosine) for cosine and ``1 / (1 + s_c / scale_)`` for euclidean.
        Both give the highest probability to the predicted class.
    temperature : float, default=1.0
        Divides the softmax logits: larger is flatter, smaller is harder.
    lambda_penalty : float, default=0.0
        Push prototypes away from the rows of other classes that they win.
        Each fit iteration then minimises, per prototype, its own rows' squared
        distances minus ``lambda_penalty`` times those of the intruding rows
        (rows of another class whose nearest prototype it is); the push is
        capped so that no prototype moves farther than its own rows' mean
        allows (intruders count at most half as much as its own rows).
        0 is plain per-class k-means. Costs one extra pass against all
        prototypes per iteration.
    merge_threshold : float, default=None
        After fitting (and after each ``partial_fit``), prototypes of the same
        class closer than this are merged (transitively) into their weighted
        mean. The distance is Euclidean, or ``1 - cos`` for cosine.
        None disables merging.
    relative_merge : bool, default=False
        Read ``merge_threshold`` as a fraction of the mean distance between
        prototypes (estimated on at most 2048 of them).
    percentile_threshold : float in (0, 1], default=None
        Merge only pairs that are also closer than this quantile of the
        distances between prototypes (same sample as above).
    min_weight : float, default=0.0
        Prune prototypes whose accumulated sample weight is at most this
        (prototypes that won no row, by default). Each class keeps at least
        its heaviest prototype; in ``partial_fit`` a prototype seeded from a
        batch is judged from the next batch on. A pruned prototype is not
        seeded again.
    max_iter : int, default=100
        Lloyd iterations per class in ``fit`` (each class stops earlier when
        no label changes or the center shift is below ``tol``).
    tol : float, default=1e-4
        Relative tolerance as in :class:`dynkm.KMeans`, per class.
    batch_size : int, default=10240
        Rows per block in prediction: its temporary memory is at most
        ``batch_size x n_prototypes`` distances (and never more than 4M of
        them). The sparse products of ``fit`` use blocks of that same 4M-cell
        bound.
    random_state : None, int or RandomState, default=None
        Seeds the prototypes. The same value gives the same model (also for
        the same sequence of ``partial_fit`` batches).
    n_threads : int, default=None
        OpenMP threads of the kernels; the result does not depend on it.
        None: ``kmcore.effective_n_threads`` (OpenMP's limit and the CPUs,
        one thread for little work); -1 all CPUs.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels.
    prototypes_ : ndarray of shape (n_prototypes, n_features)
        All prototypes, grouped by class in the order of ``classes_``.
    prototype_labels_ : ndarray of shape (n_prototypes,)
        The class of each prototype.
    counts_ : ndarray of shape (n_prototypes,)
        Sample weight each prototype has won (float64); ``prototype_weights_``
        is its deprecated name.
    n_prototypes_per_class_ : ndarray of shape (n_classes,)
        Prototypes of each class.
    scale_ : float
        Mean squared distance of the training rows to their nearest prototype
        of their own class (the unit of the soft probabilities).
    n_iter_ : ndarray of shape (n_classes,)
        Lloyd iterations run for each class by ``fit`` (0 after partial_fit).
    n_penalty_iter_ : int
        Iterations of the ``lambda_penalty`` objective run by ``fit`` (0 when
        the penalty is 0).
    n_merged_ : int
        Prototypes removed by merging in the last fit / partial_fit.
    n_pruned_ : int
        Prototypes removed by pruning in the last fit / partial_fit.
    history_ : dict of ndarray
        1-D arrays with one entry per ``partial_fit`` batch since the last
        ``fit`` (which empties them; :mod:`dynkm._history`: appending a batch
        costs O(1), never a copy of the batches before): ``shift`` (largest
        move of a prototype), ``n_new`` (prototypes seeded from the batch),
        ``n_merged``, ``n_pruned``, ``n_prototypes`` (after the batch) and
        ``seconds``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had feature names.
    """

    # Each parameter's rule, once (see dynkm.classifier._params).
    _param_specs = _params.KMEANS_CLASSIFIER_SPECS
    _renamed_attributes = {"prototype_weights_": "counts_"}
    _history_columns = _HISTORY_COLUMNS

    def __init__(self, k_init=3, *, k_list=None, init="k-means++", distance="euclidean",
                 dtype=None, soft=True, soft_type="softmax", temperature=1.0,
                 lambda_penalty=0.0, merge_threshold=None, relative_merge=False,
                 percentile_threshold=None, min_weight=0.0, max_iter=100, tol=1e-4,
                 batch_size=10240, random_state=None, n_threads=None):
        self.k_init = k_init
        self.k_list = k_list
        self.init = init
        self.distance = distance
        self.dtype = dtype
        self.soft = soft
        self.soft_type = soft_type
        self.temperature = temperature
        self.lambda_penalty = lambda_penalty
        self.merge_threshold = merge_threshold
        self.relative_merge = relative_merge
        self.percentile_threshold = percentile_threshold
        self.min_weight = min_weight
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------------- fit
    @atomic
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> "Self":
        """Fit the prototypes of every class by k-means on that class's rows.

        Each class runs the Lloyd iterations of :class:`dynkm.KMeans` with
        ``algorithm="auto"`` (group bounds that skip the distances which
        cannot change a label, where they pay off); with at least 4 classes
        per thread, classes run side by side, one thread each. Then the
        ``lambda_penalty`` iterations, pruning and merging.
        A fit that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : {array-like, scipy sparse CSR} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (one-hot, probabilistic or continuous targets raise).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; None means 1 for every row.

        Returns
        -------
        self
        """
        p = _params.check_params(self)
        y = _params.check_class_labels(y)
        X = _params.validate_X(self, X, True, p.dtype)
        _params.check_same_rows(X, y)
        w = validated_weights(sample_weight, X)
        classes, y_idx = np.unique(y, return_inverse=True)
        targets = _params.target_counts(self.k_list, classes, p.k_init)
        _params.warn_unknown_k_list_classes(self.k_list, classes)
        n_threads = n_threads_of(self.n_threads, work=_fit.work(X, targets.max()))
        _params.checked_norms(X, w, n_threads)
        rng = check_random_state(self.random_state)
        if p.distance == "cosine":
            X = _rows.unit_rows(X, n_threads)

        def fit_class(Xc, wc, k_target, class_rng, threads):
            return self._fit_class(Xc, wc, k_target, p, class_rng, threads)

        with blas_single_threaded():
            runs = _fit.fit_classes(fit_class, X, y_idx, w, len(classes), targets, rng,
                                    n_threads)
            inertia = sum(run.inertia for run in runs)
            self.classes_ = classes
            self._set_prototypes(
                np.concatenate([run.centers for run in runs]),
                np.concatenate([np.full(len(run.centers), c, dtype=np.intp)
                                for c, run in enumerate(runs)]),
                np.concatenate([run.counts for run in runs]))
            self.n_penalty_iter_ = 0
            if p.lambda_penalty > 0:
                protos, weights, self.n_penalty_iter_, inertia = penalised_iterations(
                    # mypy infers prototypes_ from the line below, which reads it (has-type).
                    X, y_idx, w, self.prototypes_,  # type: ignore[has-type]
                    self._proto_class, self._class_starts(),
                    p, n_threads)
                self.prototypes_, self.counts_ = protos, weights
        total = float(len(y_idx) if w is None else w.sum())
        self.scale_ = inertia / total if total > 0 else 0.0
        self._total_weight = total
        self.n_iter_ = np.asarray([run.n_iter for run in runs], dtype=np.intp)
        # What fit could seed (fewer than the target for a small class): partial_fit tops up.
        self._n_seeded = np.bincount(self._proto_class, minlength=len(classes))
        self._rng = rng
        self.history_ = new_history(_HISTORY_COLUMNS)
        self._adapt(p)
        return self

    def _fit_class(self, Xc, wc, k_target, p, rng, n_threads):
        """Seed and run (spherical) Lloyd on one class's rows (``_fit.fit_class``)."""
        return _fit.fit_class(Xc, wc, k_target, p, rng, n_threads)

    # ------------------------------------------------------------ partial_fit
    @atomic
    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> "Self":
        """Update the prototypes with one batch of a stream.

        Classes seen for the first time (in ``y`` or ``classes``) join
        ``classes_``; a class gets its prototypes from its first rows (k-means++
        or random among them, topped up from later batches while it has fewer
        than its target), then every row moves the nearest prototype of its
        class by a mini-batch k-means update (the prototype becomes the running
        weighted mean of all rows it has won). Merging and pruning follow.
        All or nothing: a batch that raises (rejected input, or an
        interruption anywhere in the update) leaves the model exactly as it
        was, its RandomState included.

        Parameters
        ----------
        X : {array-like, scipy sparse CSR} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, default=None
            Classes to know in advance (a class named here but absent from the
            data so far gets prototypes when its rows arrive).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        t0 = time.perf_counter()
        p = _params.check_params(self)
        y = _params.check_class_labels(y)
        first = not hasattr(self, "prototypes_")
        X = _params.validate_X(self, X, first, p.dtype if first else self.prototypes_.dtype)
        _params.check_same_rows(X, y)
        w = validated_weights(sample_weight, X)
        # Each row meets the prototypes of its class (about k_init of them).
        n_threads = n_threads_of(self.n_threads, work=_fit.work(X, p.k_init))
        _params.checked_norms(X, w, n_threads)
        if p.distance == "cosine":
            X = _rows.unit_rows(X, n_threads)
        state = StreamState.start(self, X, y, classes, p.k_init)
        with blas_single_threaded():
            batch, young = state.update(X, y, w, p, n_threads, self._seed_more)
        state.write_to(self)
        self._set_prototypes(self.prototypes_, self._proto_class, self.counts_)
        self.n_iter_ = np.zeros(len(self.classes_), dtype=np.intp)
        self._adapt(p, young)
        history = getattr(self, "history_", None) or new_history(_HISTORY_COLUMNS)
        record(history, **batch, n_merged=self.n_merged_, n_pruned=self.n_pruned_,
               n_prototypes=len(self.prototypes_), seconds=time.perf_counter() - t0)
        self.history_ = history
        return self

    def _seed_more(self, Xc, x_sqnorms, wc, existing, k, init, rng, n_threads):
        """Up to k new prototypes of a class among its rows Xc (``_stream.seed_more``)."""
        return seed_more(Xc, x_sqnorms, wc, existing, k, init, rng, n_threads)

    # ------------------------------------------------------ merge and prune
    def _set_prototypes(self, protos, proto_class, weights):
        self.prototypes_ = protos
        self._proto_class = proto_class
        self.prototype_labels_ = self.classes_[proto_class]
        self.counts_ = weights
        self.n_prototypes_per_class_ = np.bincount(proto_class, minlength=len(self.classes_))

    def _class_starts(self):
        return np.searchsorted(self._proto_class, np.arange(len(self.classes_) + 1))

    def _adapt(self, p, young=None):
        """Prune dead prototypes (except ``young`` ones), then merge close ones of a class."""
        self.n_pruned_ = self._prune(p.min_weight, young)
        self.n_merged_ = 0 if p.merge_threshold is None else self._merge(p)

    def _prune(self, min_weight, young=None):
        """Drop prototypes with weight <= min_weight (``_prune.kept_prototypes``)."""
        w, cls = self.counts_, self._proto_class
        keep = _prune.kept_prototypes(w, cls, min_weight, young)
        if keep.all():
            return 0
        self._set_prototypes(self.prototypes_[keep], cls[keep], w[keep])
        return int((~keep).sum())

    def _merge(self, p):
        """Merge same-class prototypes closer than the threshold (``_prune.merge_prototypes``)."""
        n = len(self.prototypes_)
        merged = _prune.merge_prototypes(self.prototypes_, self._proto_class,
                                         self.counts_, self._class_starts(), p)
        if merged is None:
            return 0
        self._set_prototypes(*merged)
        return n - len(merged[0])

    # -------------------------------------------------------------- predict
    def _check_X(self, X):
        check_is_fitted(self)
        X = _params.validate_X(self, X, False, self.prototypes_.dtype)
        if self.distance == "cosine":
            X = _rows.unit_rows(X, n_threads_of(self.n_threads, work=_fit.work(X, 1)))
        return X

    def _class_sqdist(self, X):
        """Squared distance of every row to the nearest prototype of each class."""
        n_threads = n_threads_of(self.n_threads, work=_fit.work(X, len(self.prototypes_)))
        return _predict.class_sqdist(X, self.prototypes_, self._class_starts(),
                                     self.batch_size, n_threads)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class of the nearest prototype of every row (ties: the first class).

        From the same per-class distances as :meth:`predict_proba` and
        :meth:`decision_function`, so their argmax is always this class.
        """
        S = self._class_sqdist(self._check_X(X))
        return self.classes_[S.argmin(axis=1)]

    def decision_function(self, X: ArrayLike) -> NDArray[np.floating]:
        """Per-class scores whose argmax is :meth:`predict`.

        ``-s_c / (temperature * scale_)`` with ``s_c`` the squared distance to
        the nearest prototype of class c, shifted so the best class scores 0
        (these are the softmax logits). Shape (n_samples,) for two classes:
        the score of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        Z = _predict.logits(self._class_sqdist(self._check_X(X)), self.temperature,
                            self.scale_)
        return Z[:, 1] - Z[:, 0] if len(self.classes_) == 2 else Z

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class probabilities (see ``soft`` and ``soft_type``); rows sum to 1."""
        S = self._class_sqdist(self._check_X(X))
        return _predict.probabilities(S, self.soft, self.soft_type, self.distance == "cosine",
                                      self.temperature, self.scale_)

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
