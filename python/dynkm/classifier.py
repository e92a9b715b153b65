"""Classification by k-means: several prototypes per class, or cluster-then-label."""

import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import kmeans_plusplus as _sparse_kmeans_plusplus
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from dynkm import _rows
from dynkm._atomic import AtomicSetParams, atomic
from dynkm._lloyd import make_spherical_steps, make_steps, run_lloyd
from dynkm._validation import (
    as_dtype,
    check_float,
    check_int,
    check_range,
    n_threads_of,
    validate_named,
    validated_weights,
)
from dynkm.kmeans import initial_centers
from dynkm.persist import PersistMixin
from kmcore._threads import blas_single_threaded
from kmcore._validation import check_random_state
from kmcore.seeding import row_probabilities

_DISTANCES = ("euclidean", "cosine")
_SOFT_TYPES = ("softmax", "linear")
_INITS = ("k-means++", "random")
# Prototypes sampled to estimate the typical distance between prototypes
# (relative_merge, percentile_threshold).
_MERGE_SAMPLE = 2048
# What ``history_`` records for every partial_fit batch.
_HISTORY_KEYS = ("shift", "n_new", "n_merged", "n_pruned", "n_prototypes", "seconds")


def check_class_labels(y):
    """1-D discrete class labels, else ValueError saying what y looks like."""
    if y is None:
        raise ValueError("This classifier requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        raise ValueError(
            f"y must be a 1-D array of class labels, got shape {y.shape}: one-hot or "
            "probabilistic targets are not accepted (pass y.argmax(axis=1) for one-hot rows)."
        )
    if y.ndim == 2:
        y = column_or_1d(y, warn=True)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class labels, got shape {y.shape}")
    kind = type_of_target(y, input_name="y")
    if kind == "continuous":
        raise ValueError(
            "Unknown label type: 'continuous'. y must hold discrete class labels; "
            "continuous values (probabilities, regression targets) are not classes."
        )
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {kind!r}. y must hold class labels of one kind "
            "(all numbers or all strings)."
        )
    return y


def _label_kind(labels):
    """'number' or 'text': labels of different kinds cannot share ``classes_``."""
    return "text" if np.asarray(labels).dtype.kind in "USO" else "number"


def _validate_X(estimator, X, reset, dtype):
    """Dense C-ordered or CSR float rows, in ``dtype`` (None keeps float32, else float64)."""
    X = validate_named(estimator, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                       order="C", reset=reset)
    return X if dtype is None else as_dtype(X, dtype)


def _checked_norms(X, w, n_threads):
    """Squared row norms of the raw rows, after ``check_range`` (before any unit scaling,
    which an overflowing norm would turn into a zero row)."""
    x_sqnorms = _rows.row_norms(X, n_threads)
    check_range(x_sqnorms, w)
    return x_sqnorms


def _check_dtype(dtype):
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}") from None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}")
    return dtype


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


class _AcceptsCSR:
    """Tells scikit-learn's checks that scipy CSR input is supported."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class KMeansClassifier(PersistMixin, AtomicSetParams, _AcceptsCSR, ClassifierMixin,
                       BaseEstimator):
    """Nearest-prototype classifier with several k-means prototypes per class.

    Each class is summarised by its own k-means centers (prototypes), so a
    class made of several modes keeps one prototype per mode instead of the
    single, averaged centroid of ``NearestCentroid``. A row is predicted as the
    class of its nearest prototype.

    ``fit`` runs exact k-means on each class's rows: the Lloyd iterations of
    :class:`dynkm.KMeans` with ``algorithm="auto"`` (group bounds that skip
    the distances which cannot change a label, where they pay off); with at
    least 4 classes per thread, classes run side by side, one thread each.
    Prediction compares blocks of ``batch_size`` rows with every prototype.
    ``partial_fit`` learns from a stream: classes appear when first seen, get
    their prototypes seeded from their first rows, and prototypes then move by
    mini-batch k-means updates (each a running mean of the rows it won).
    With ``distance="cosine"`` the model is spherical k-means: rows and
    prototypes have unit norm and "nearest" means largest cosine.
    Dense arrays and scipy CSR matrices are accepted; a CSR matrix is never
    densified (blocks of rows against the dense prototypes).

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
    prototype_weights_ : ndarray of shape (n_prototypes,)
        Sample weight each prototype has won (float64).
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
    history_ : dict of list
        One entry per ``partial_fit`` batch since the last ``fit`` (which
        empties it): ``shift`` (largest move of a prototype), ``n_new``
        (prototypes seeded from the batch), ``n_merged``, ``n_pruned``,
        ``n_prototypes`` (after the batch) and ``seconds``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had feature names.
    """

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

    # ------------------------------------------------------------ parameters
    def _check_params(self):
        p = {
            "k_init": check_int(self.k_init, "k_init"),
            "init": _check_choice(self.init, "init", _INITS),
            "distance": _check_choice(self.distance, "distance", _DISTANCES),
            "dtype": _check_dtype(self.dtype),
            "soft_type": _check_choice(self.soft_type, "soft_type", _SOFT_TYPES),
            "temperature": check_float(self.temperature, "temperature"),
            "lambda_penalty": check_float(self.lambda_penalty, "lambda_penalty"),
            "min_weight": check_float(self.min_weight, "min_weight"),
            "max_iter": check_int(self.max_iter, "max_iter"),
            "tol": check_float(self.tol, "tol"),
            "batch_size": check_int(self.batch_size, "batch_size"),
        }
        if p["temperature"] == 0:
            raise ValueError("temperature must be > 0, got 0")
        if not isinstance(self.soft, (bool, np.bool_)):
            raise TypeError(f"soft must be a bool, got {self.soft!r}")
        if not isinstance(self.relative_merge, (bool, np.bool_)):
            raise TypeError(f"relative_merge must be a bool, got {self.relative_merge!r}")
        p["relative_merge"] = bool(self.relative_merge)
        p["merge_threshold"] = (None if self.merge_threshold is None
                                else check_float(self.merge_threshold, "merge_threshold"))
        q = self.percentile_threshold
        if q is not None:
            q = check_float(q, "percentile_threshold")
            if not 0 < q <= 1:
                raise ValueError(f"percentile_threshold must lie in (0, 1], got {q}")
        p["percentile_threshold"] = q
        if p["merge_threshold"] is None and (p["relative_merge"] or q is not None):
            raise ValueError("relative_merge and percentile_threshold refine merge_threshold; "
                             "set merge_threshold too (None disables merging)")
        self._check_k_list()
        return p

    def _check_k_list(self):
        k_list = self.k_list
        if k_list is None:
            return
        counts = k_list.values() if isinstance(k_list, dict) else k_list
        if isinstance(counts, (str, bytes)) or not hasattr(counts, "__iter__"):
            raise TypeError(f"k_list must be a dict or a sequence of ints, got {k_list!r}")
        for k in counts:
            check_int(k, "k_list entries")

    def _target_counts(self, classes, k_init):
        """Prototypes wanted for each class of ``classes`` (sorted, all known classes)."""
        k_list = self.k_list
        if k_list is None:
            return np.full(len(classes), k_init, dtype=np.intp)
        if isinstance(k_list, dict):
            return np.array([k_list.get(c, k_init) for c in classes.tolist()], dtype=np.intp)
        k_list = np.asarray(k_list, dtype=np.intp)
        if k_list.shape != (len(classes),):
            raise ValueError(
                f"k_list has {k_list.size} entries but there are {len(classes)} classes; "
                "give one count per class of classes_ (sorted), or a dict {class: k}"
            )
        return k_list

    # ------------------------------------------------------------------- fit
    @atomic
    def fit(self, X, y, sample_weight=None):
        """Fit the prototypes of every class by k-means on that class's rows.

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
        p = self._check_params()
        y = check_class_labels(y)
        X = _validate_X(self, X, True, p["dtype"])
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        w = validated_weights(sample_weight, X)
        classes, y_idx = np.unique(y, return_inverse=True)
        targets = self._target_counts(classes, p["k_init"])
        if isinstance(self.k_list, dict):
            unknown = [c for c in self.k_list if c not in set(classes.tolist())]
            if unknown:
                warnings.warn(f"k_list names classes that are not in y: {unknown!r}",
                              UserWarning, stacklevel=2)
        n_threads = n_threads_of(self.n_threads, work=_work(X, targets.max()))
        _checked_norms(X, w, n_threads)
        rng = check_random_state(self.random_state)
        if p["distance"] == "cosine":
            X = _rows.unit_rows(X, n_threads)

        order = np.argsort(y_idx, kind="stable")
        bounds = np.searchsorted(y_idx[order], np.arange(len(classes) + 1))
        # One seed per class, drawn up front: each class's result depends on
        # neither the order in which classes run nor the number of threads.
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(classes))

        def fit_class(c, threads):
            rows = order[bounds[c]:bounds[c + 1]]
            return self._fit_class(X[rows], None if w is None else w[rows], targets[c], p,
                                   np.random.RandomState(seeds[c]), threads)

        with blas_single_threaded():
            # A class costs about its rows times its prototypes per iteration.
            runs = _per_class(fit_class, np.diff(bounds) * targets, n_threads)
            protos = [run["centers"] for run in runs]
            labels = [np.full(len(run["centers"]), c, dtype=np.intp) for c, run in enumerate(runs)]
            weights = [run["weights"] for run in runs]
            n_iter = [run["n_iter"] for run in runs]
            inertia = sum(run["inertia"] for run in runs)
            self.classes_ = classes
            self._set_prototypes(np.concatenate(protos), np.concatenate(labels),
                                 np.concatenate(weights))
            self.n_penalty_iter_ = 0
            if p["lambda_penalty"] > 0:
                inertia = self._penalised_iterations(X, y_idx, w, p, n_threads)
        total = float(len(y_idx) if w is None else w.sum())
        self.scale_ = inertia / total if total > 0 else 0.0
        self._total_weight = total
        self.n_iter_ = np.asarray(n_iter, dtype=np.intp)
        # What fit could seed (fewer than the target for a small class): partial_fit tops up.
        self._n_seeded = np.bincount(self._proto_class, minlength=len(classes))
        self._rng = rng
        self.history_ = {key: [] for key in _HISTORY_KEYS}
        self._adapt(p)
        return self

    def _fit_class(self, Xc, wc, k_target, p, rng, n_threads):
        """Seed and run (spherical) Lloyd on one class's rows."""
        live = Xc.shape[0] if wc is None else int(np.count_nonzero(wc))
        if live == 0:
            raise ValueError("sample_weight is 0 for every row of a class; drop the class "
                             "from y or give its rows weight")
        return _kmeans_run(Xc, wc, int(min(k_target, live)), p, rng, n_threads)

    def _penalised_iterations(self, X, y_idx, w, p, n_threads):
        """Lloyd iterations of the penalised objective (see ``lambda_penalty``).

        Each iteration assigns every row to its own class's nearest prototype
        (the attraction) and to the nearest prototype overall (an intruder when
        that one belongs to another class), then moves every prototype to the
        minimiser of own-row squared distances minus ``lambda`` times
        intruder squared distances, with ``lambda`` capped per prototype at
        half its own weight over the intruders' weight. Unlike plain k-means
        this need not converge (it can alternate between partitions): it stops
        when a pair of assignments repeats, when the prototypes move less than
        ``tol`` (as in ``fit``) or after ``max_iter`` iterations
        (``n_penalty_iter_``).
        Returns the final own-class inertia.
        """
        lam = p["lambda_penalty"]
        x_sqnorms = _rows.row_norms(X, n_threads)
        n_protos = len(self.prototype_labels_)
        tol = _rows.absolute_tol(p["tol"], X)
        starts = self._class_starts()
        wt = _rows.weights_or_ones(w, X.shape[0])
        seen = set()
        for _ in range(p["max_iter"]):
            protos = self.prototypes_
            own = _own_assignment(X, x_sqnorms, y_idx, protos, starts, n_threads)[0]
            near = _rows.assign_rows(X, x_sqnorms, protos, None, n_threads)[0]
            # The step is a function of the two partitions: a repeated pair means a
            # fixed point or a cycle (this objective can alternate), so stop there.
            key = hash((own.tobytes(), near.tobytes()))
            if key in seen:
                break
            seen.add(key)
            intruder = self.prototype_labels_[near] != y_idx
            own_sums, own_w = _rows.weighted_sums(X, own, n_protos, w, n_threads)
            wi = np.where(intruder, wt, 0.0).astype(X.dtype)
            bad_sums, bad_w = _rows.weighted_sums(X, near, n_protos, wi, n_threads)
            # Per-prototype cap: lambda * intruder weight <= own weight / 2.
            lam_k = np.minimum(lam, np.divide(0.5 * own_w, bad_w, out=np.full(n_protos, lam),
                                              where=bad_w > 0))
            denom = own_w - lam_k * bad_w
            live = denom > 0
            new = protos.astype(np.float64)
            new[live] = (own_sums[live] - lam_k[live, None] * bad_sums[live]) / denom[live, None]
            new = new.astype(protos.dtype)
            if p["distance"] == "cosine":
                new = _rows.unit_centers(new)
            moved = float(((new.astype(np.float64) - protos) ** 2).sum())
            self.prototypes_ = new
            self.n_penalty_iter_ += 1
            if moved <= tol:
                break
        own, own_sqdist = _own_assignment(X, x_sqnorms, y_idx, self.prototypes_, starts,
                                          n_threads)
        self.prototype_weights_ = np.bincount(own, weights=wt, minlength=n_protos)
        return float(np.dot(wt, own_sqdist))

    # ------------------------------------------------------------ partial_fit
    @atomic
    def partial_fit(self, X, y, classes=None, sample_weight=None):
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
        p = self._check_params()
        y = check_class_labels(y)
        first = not hasattr(self, "prototypes_")
        X = _validate_X(self, X, first, p["dtype"] if first else self.prototypes_.dtype)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        w = validated_weights(sample_weight, X)
        # Each row meets the prototypes of its class (about k_init of them).
        n_threads = n_threads_of(self.n_threads, work=_work(X, p["k_init"]))
        _checked_norms(X, w, n_threads)
        if p["distance"] == "cosine":
            X = _rows.unit_rows(X, n_threads)
        state = self._stream_state(X, y, classes, p)
        with blas_single_threaded():
            state = self._stream_update(state, X, y, w, p, n_threads)
        batch = state.pop("_batch")
        young = batch.pop("new")
        for key, value in state.items():
            setattr(self, key, value)
        self._set_prototypes(self.prototypes_, self._proto_class, self.prototype_weights_)
        self.n_iter_ = np.zeros(len(self.classes_), dtype=np.intp)
        self._adapt(p, young)
        history = getattr(self, "history_", None) or {key: [] for key in _HISTORY_KEYS}
        batch.update(n_merged=self.n_merged_, n_pruned=self.n_pruned_,
                     n_prototypes=len(self.prototypes_), seconds=time.perf_counter() - t0)
        for key in _HISTORY_KEYS:
            history[key].append(batch[key])
        self.history_ = history
        return self

    def _stream_state(self, X, y, classes, p):
        """The model's state (empty on the first call), classes added; never modified in place."""
        known = getattr(self, "classes_", y[:0])
        for name, labels in [("y", y), ("classes", classes)]:
            if labels is not None and _label_kind(labels) != _label_kind(known):
                raise TypeError(
                    f"{name} holds {_label_kind(labels)} labels but the model's classes are "
                    f"{_label_kind(known)} labels ({known[:3].tolist()}...); use one kind")
        extra = y if classes is None else np.concatenate([np.asarray(classes), y])
        if hasattr(self, "prototypes_"):
            state = {
                "prototypes_": self.prototypes_,
                "_proto_class": self._proto_class,
                "prototype_weights_": self.prototype_weights_,
                "_n_seeded": self._n_seeded,
                "_total_weight": self._total_weight,
                "scale_": self.scale_,
                "_rng": self._rng,
            }
        else:
            state = {
                "prototypes_": np.empty((0, X.shape[1]), dtype=X.dtype),
                "_proto_class": np.empty(0, dtype=np.intp),
                "prototype_weights_": np.empty(0),
                "_n_seeded": np.empty(0, dtype=np.intp),
                "_total_weight": 0.0,
                "scale_": 0.0,
                "_rng": check_random_state(self.random_state),
            }
            if self.k_list is not None and not isinstance(self.k_list, dict) and classes is None:
                raise ValueError("k_list given as a sequence needs classes= on the first "
                                 "partial_fit call (to know which count is whose)")
        all_classes = np.union1d(known, extra)
        # Re-index the prototypes' classes into the grown class list.
        state["_proto_class"] = np.searchsorted(all_classes, known[state["_proto_class"]])
        grown = np.zeros(len(all_classes), dtype=np.intp)
        grown[np.searchsorted(all_classes, known)] = state["_n_seeded"]
        state["_n_seeded"] = grown
        state["classes_"] = all_classes
        state["_targets"] = self._target_counts(all_classes, p["k_init"])
        return state

    def _stream_update(self, s, X, y, w, p, n_threads):
        """Seed missing prototypes from the batch, then one mini-batch update."""
        y_idx = np.searchsorted(s["classes_"], y)
        x_sqnorms = _rows.row_norms(X, n_threads)
        wt = _rows.weights_or_ones(w, X.shape[0])
        protos, proto_class = s["prototypes_"], s["_proto_class"]
        new_protos, new_class = [protos], [proto_class]
        n_new = 0
        for c in np.unique(y_idx[wt > 0]):
            missing = s["_targets"][c] - s["_n_seeded"][c]
            if missing <= 0:
                continue
            rows = np.flatnonzero((y_idx == c) & (wt > 0))
            seeds = self._seed_more(X[rows], x_sqnorms[rows], None if w is None else w[rows],
                                    protos[proto_class == c], missing, p["init"], s["_rng"],
                                    n_threads)
            new_protos.append(seeds)
            new_class.append(np.full(len(seeds), c, dtype=np.intp))
            s["_n_seeded"][c] += len(seeds)
            n_new += len(seeds)
        protos = np.concatenate(new_protos)
        proto_class = np.concatenate(new_class)
        weights = np.concatenate([s["prototype_weights_"],
                                  np.zeros(len(protos) - len(s["prototype_weights_"]))])
        # Group by class (stable): the layout every prediction relies on.
        order = np.argsort(proto_class, kind="stable")
        protos, proto_class, weights = protos[order], proto_class[order], weights[order]

        starts = np.searchsorted(proto_class, np.arange(len(s["classes_"]) + 1))
        # Rows of a class without prototypes (only zero-weight rows so far) teach nothing.
        taught = np.flatnonzero((starts[1:] > starts[:-1])[y_idx])
        X, x_sqnorms, y_idx, wt = X[taught], x_sqnorms[taught], y_idx[taught], wt[taught]
        w = None if w is None else w[taught]
        own, own_sqdist = _own_assignment(X, x_sqnorms, y_idx, protos, starts, n_threads)
        sums, batch_w = _rows.weighted_sums(X, own, len(protos), w, n_threads)
        won = batch_w > 0
        total_w = weights + batch_w
        before = protos
        merged = protos.astype(np.float64)
        merged[won] = (merged[won] * weights[won, None] + sums[won]) / total_w[won, None]
        protos = merged.astype(protos.dtype)
        if p["distance"] == "cosine":
            protos = _rows.unit_centers(protos)
        moves = np.sqrt(((protos.astype(np.float64) - before) ** 2).sum(axis=1))
        s["_batch"] = {"shift": float(moves.max(initial=0.0)), "n_new": n_new,
                       # Seeds of this batch: not pruned before a batch of their own.
                       "new": order >= len(s["prototype_weights_"])}
        batch_total = float(wt.sum())
        total = s["_total_weight"] + batch_total
        if total > 0:
            s["scale_"] = (s["scale_"] * s["_total_weight"] + float(wt @ own_sqdist)) / total
        s["_total_weight"] = total
        s["prototypes_"], s["_proto_class"], s["prototype_weights_"] = protos, proto_class, total_w
        return s

    def _seed_more(self, Xc, x_sqnorms, wc, existing, k, init, rng, n_threads):
        """Up to k new prototypes among rows Xc (positive weights ``wc``).

        The class's first prototypes are seeded as in ``fit``; more are drawn
        with probability proportional to weight (random) or to weight times
        the squared distance to the nearest prototype so far (k-means++).
        """
        k = int(min(k, Xc.shape[0]))
        if len(existing) == 0 or init == "random":
            return _seed_centers(Xc, x_sqnorms, wc, k, init, rng, n_threads)
        closest = _rows.assign_rows(Xc, x_sqnorms, existing, None, n_threads)[1]
        closest = closest.astype(np.float64)
        weight = _rows.weights_or_ones(wc, Xc.shape[0])
        chosen = []
        for _ in range(k):
            potential = weight * closest
            total = potential.sum()
            if total <= 0:
                break
            row = int(rng.choice(Xc.shape[0], p=potential / total))
            chosen.append(row)
            center = _rows.dense_rows(Xc, [row]).astype(Xc.dtype)
            dist = _rows.sqdist_block(Xc, x_sqnorms, center, _rows.row_norms(center, n_threads),
                                      n_threads)[:, 0]
            np.minimum(closest, dist, out=closest)
        return np.ascontiguousarray(_rows.dense_rows(Xc, chosen), dtype=Xc.dtype).reshape(
            len(chosen), Xc.shape[1])

    # ------------------------------------------------------ merge and prune
    def _set_prototypes(self, protos, proto_class, weights):
        self.prototypes_ = protos
        self._proto_class = proto_class
        self.prototype_labels_ = self.classes_[proto_class]
        self.prototype_weights_ = weights
        self.n_prototypes_per_class_ = np.bincount(proto_class, minlength=len(self.classes_))

    def _class_starts(self):
        return np.searchsorted(self._proto_class, np.arange(len(self.classes_) + 1))

    def _adapt(self, p, young=None):
        """Prune dead prototypes (except ``young`` ones), then merge close ones of a class."""
        self.n_pruned_ = self._prune(p["min_weight"], young)
        self.n_merged_ = 0 if p["merge_threshold"] is None else self._merge(p)

    def _prune(self, min_weight, young=None):
        """Drop prototypes with weight <= min_weight; each class keeps its heaviest.

        ``young`` (a mask) marks prototypes seeded by the current batch: they
        are kept until they have seen a batch after their own.
        """
        w, cls = self.prototype_weights_, self._proto_class
        keep = w > min_weight
        if young is not None:
            keep |= young
        # The heaviest prototype of each class (first on ties) is always kept.
        order = np.lexsort((-w, cls))
        first = order[np.r_[True, cls[order][1:] != cls[order][:-1]]]
        keep[first] = True
        if keep.all():
            return 0
        self._set_prototypes(self.prototypes_[keep], cls[keep], w[keep])
        return int((~keep).sum())

    def _merge(self, p):
        """Merge same-class prototypes closer than the threshold (connected components)."""
        protos, cls, w = self.prototypes_, self._proto_class, self.prototype_weights_
        cosine = p["distance"] == "cosine"
        threshold = p["merge_threshold"]
        quantile = p["percentile_threshold"]
        if p["relative_merge"] or quantile is not None:
            rng = np.random.RandomState(0)
            sample = protos[np.sort(rng.permutation(len(protos))[:_MERGE_SAMPLE])]
            dist = _distance(sample, sample, cosine)[np.triu_indices(len(sample), 1)]
            if dist.size == 0:
                return 0
            if p["relative_merge"]:
                threshold = threshold * float(dist.mean())
            if quantile is not None:
                threshold = min(threshold, float(np.quantile(dist, quantile)))
        starts = self._class_starts()
        rows, cols = [], []
        for c in range(len(self.classes_)):
            a, b = starts[c], starts[c + 1]
            if b - a < 2:
                continue
            i, j = np.nonzero(np.triu(_distance(protos[a:b], protos[a:b], cosine) < threshold, 1))
            rows.append(i + a)
            cols.append(j + a)
        n_edges = sum(len(r) for r in rows)
        if n_edges == 0:
            return 0
        n = len(protos)
        graph = sp.coo_matrix((np.ones(n_edges),
                               (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        n_groups, group = connected_components(graph, directed=False)
        # Groups never span classes (edges only join same-class prototypes), and
        # numbering by first member keeps the class-grouped order.
        _, first = np.unique(group, return_index=True)
        relabel = np.empty(n_groups, dtype=np.intp)
        relabel[np.argsort(first, kind="stable")] = np.arange(n_groups)
        group = relabel[group]
        gw = np.bincount(group, weights=w, minlength=n_groups)
        # Weighted mean of each group (a plain mean where the group has no weight).
        member_w = np.where(gw[group] > 0, w, 1.0)
        sums = np.zeros((n_groups, protos.shape[1]))
        np.add.at(sums, group, protos * member_w[:, None])
        denom = np.bincount(group, weights=member_w, minlength=n_groups)
        merged = (sums / denom[:, None]).astype(protos.dtype)
        if cosine:
            merged = _rows.unit_centers(merged)
        group_class = np.empty(n_groups, dtype=np.intp)
        group_class[group] = cls
        self._set_prototypes(merged, group_class, gw)
        return n - n_groups

    # -------------------------------------------------------------- predict
    def _check_X(self, X):
        check_is_fitted(self)
        X = _validate_X(self, X, False, self.prototypes_.dtype)
        if self.distance == "cosine":
            X = _rows.unit_rows(X, n_threads_of(self.n_threads, work=_work(X, 1)))
        return X

    def _class_sqdist(self, X):
        """Squared distance of every row to the nearest prototype of each class, by blocks."""
        protos = self.prototypes_
        n_threads = n_threads_of(self.n_threads, work=_work(X, len(protos)))
        p_sqnorms = _rows.row_norms(protos, n_threads)
        starts = self._class_starts()
        # A class known from partial_fit(classes=...) but without rows yet is at infinity.
        filled = starts[1:] > starts[:-1]
        starts = starts[:-1][filled]
        out = np.full((X.shape[0], len(self.classes_)), np.inf)
        step = _rows.block_rows(min(self.batch_size, X.shape[0]), len(protos), n_threads)
        buf = np.empty((step, len(protos)), dtype=protos.dtype)
        with blas_single_threaded():
            for a in range(0, X.shape[0], step):
                block = X[a:a + step]
                D = _rows.sqdist_block(block, _rows.row_norms(block, n_threads), protos,
                                       p_sqnorms, n_threads, out=buf[:block.shape[0]])
                S = np.minimum.reduceat(D, starts, axis=1)
                if filled.all():
                    out[a:a + step] = S
                else:
                    out[a:a + step, filled] = S
        return out

    def _logits(self, S):
        """Softmax logits of each class, shifted so the best is 0 in every row."""
        scale = self.temperature * max(self.scale_, np.finfo(np.float64).tiny)
        with np.errstate(over="ignore", invalid="ignore"):
            Z = -(S - S.min(axis=1, keepdims=True)) / scale
        # Rows whose squared norm overflowed are at infinity from every class
        # (inf - inf): no class is nearer, so all get the same score.
        Z[np.isnan(Z)] = 0.0
        return Z

    def predict(self, X):
        """Class of the nearest prototype of every row (ties: the first class).

        From the same per-class distances as :meth:`predict_proba` and
        :meth:`decision_function`, so their argmax is always this class.
        """
        S = self._class_sqdist(self._check_X(X))
        return self.classes_[S.argmin(axis=1)]

    def decision_function(self, X):
        """Per-class scores whose argmax is :meth:`predict`.

        ``-s_c / (temperature * scale_)`` with ``s_c`` the squared distance to
        the nearest prototype of class c, shifted so the best class scores 0
        (these are the softmax logits). Shape (n_samples,) for two classes:
        the score of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        Z = self._logits(self._class_sqdist(self._check_X(X)))
        return Z[:, 1] - Z[:, 0] if len(self.classes_) == 2 else Z

    def predict_proba(self, X):
        """Class probabilities (see ``soft`` and ``soft_type``); rows sum to 1."""
        S = self._class_sqdist(self._check_X(X))
        if not self.soft:
            P = np.zeros_like(S)
            P[np.arange(len(S)), S.argmin(axis=1)] = 1.0
            return P
        if self.soft_type == "softmax":
            P = np.exp(self._logits(S))
        elif self.distance == "cosine":
            P = np.maximum(1.0 - S / 2.0, 0.0)
        else:
            P = 1.0 / (1.0 + S / max(self.scale_, np.finfo(np.float64).tiny))
        total = P.sum(axis=1, keepdims=True)
        # Every prototype at cosine <= 0: the nearest class gets everything.
        dead = total[:, 0] <= 0
        if dead.any():
            P[dead] = 0.0
            P[np.flatnonzero(dead), S[dead].argmin(axis=1)] = 1.0
            total[dead] = 1.0
        return P / total

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


# Classes run side by side (one worker per thread, each kernel on its share of
# the threads) when there are at least this many per worker: small per-class
# problems give the kernels' parallel slices little work each, and one class's
# Python steps then overlap another's kernels (about 10% faster on MNIST's 10
# classes); with fewer classes the last ones would leave threads idle.
_CLASSES_PER_WORKER = 4


def _per_class(fit_class, costs, n_threads):
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


def _own_assignment(X, x_sqnorms, y_idx, protos, starts, n_threads):
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


def _seed_centers(X, x_sqnorms, w, k, init, rng, n_threads):
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


def _kmeans_run(X, w, k, p, rng, n_threads, algorithm="auto"):
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
    Returns ``run_lloyd``'s dict plus ``weights`` (float64 weight of each center).
    """
    x_sqnorms = _rows.row_norms(X, n_threads)
    centers = _seed_centers(X, x_sqnorms, w, k, p["init"], rng, n_threads)
    tol = _rows.absolute_tol(p["tol"], X)
    if p["distance"] == "cosine":
        steps = make_spherical_steps(algorithm, X, x_sqnorms, w, centers, n_threads)
    else:
        steps = make_steps(algorithm, X, x_sqnorms, w, centers, n_threads)
    run = run_lloyd(steps, centers, p["max_iter"], tol, 1, 0)
    return _with_weights(run, w, k)


def _with_weights(run, w, k):
    """The run with ``weights``: the weight of each center's rows (float64)."""
    weights = _rows.weights_or_ones(w, len(run["labels"]))
    run["weights"] = np.bincount(run["labels"], weights=weights, minlength=k).astype(np.float64)
    return run


def _work(X, n_centers):
    """Work of one pass comparing X's rows with ``n_centers`` centers (for the thread count)."""
    return (X.nnz if sp.issparse(X) else X.size) * int(n_centers)


def _distance(A, B, cosine):
    """Euclidean distances, or 1 - cos between unit rows, as a dense matrix (small inputs)."""
    D = _rows.sqdist_block(A, _rows.row_norms(A, 1), B, _rows.row_norms(B, 1), 1)
    return D.astype(np.float64) / 2.0 if cosine else np.sqrt(D.astype(np.float64))


class ClusterLabelClassifier(PersistMixin, AtomicSetParams, _AcceptsCSR, ClassifierMixin,
                             BaseEstimator):
    """Cluster-then-label: k-means over all rows, each cluster labelled by majority.

    S1's recipe: k-means with ``n_clusters`` clusters on the training rows
    (labels unused), then each cluster takes the class that holds most of its
    weight (ties to the first class). A row is predicted as the class of its
    nearest cluster; ``predict_proba`` is that cluster's class histogram,
    normalised. The clustering is the same Lloyd as :class:`dynkm.KMeans`
    with ``algorithm="auto"`` (many clusters on dense rows run Yinyang's group
    bounds, with the same iterations as plain Lloyd; spherical k-means on unit
    rows for cosine, with the bounds too); dense arrays and scipy CSR
    matrices are accepted.

    ``save(path)`` / ``load(path)`` keep the model in a file that loads
    without running code (:mod:`dynkm.persist`); pickling works too, but
    unpickling runs code from the file: for trusted input only.

    Parameters
    ----------
    n_clusters : int, default=100
        Number of clusters. Training data with fewer rows of positive weight
        gets one cluster per such row (then a 1-nearest-neighbour classifier),
        with a warning; ``n_clusters_`` says how many were fitted.
    init : {"random", "k-means++"}, default="random"
        Initial centers: distinct rows drawn with probability proportional to
        their weight (S1's and faiss's choice, which scales to thousands of
        clusters), or greedy k-means++ (one pass over the data per cluster).
    n_init : int, default=1
        Runs from different seeds; the lowest k-means objective wins.
    distance : {"euclidean", "cosine"}, default="euclidean"
        Euclidean k-means, or spherical k-means (rows and centers scaled to
        unit norm).
    max_iter : int, default=300
        Lloyd iterations of a run (it stops earlier when no label changes or
        the center shift is below ``tol``).
    tol : float, default=1e-4
        Relative tolerance as in :class:`dynkm.KMeans`.
    random_state : None, int or RandomState, default=None
        Seeds the initial centers. The same value gives the same model.
    n_threads : int, default=None
        OpenMP threads of the kernels; the result does not depend on it.
        None: ``kmcore.effective_n_threads`` (OpenMP's limit and the CPUs,
        one thread for little work); -1 all CPUs.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
    n_clusters_ : int
        Clusters fitted: ``n_clusters``, or fewer on fewer rows (see above).
    cluster_labels_ : ndarray of shape (n_clusters_,)
        The class of each cluster.
    class_weights_ : ndarray of shape (n_clusters, n_classes)
        Training weight of each class in each cluster. A cluster without
        training weight predicts the classes' overall distribution.
    inertia_ : float
        k-means objective of the chosen run (on unit rows for cosine).
    n_iter_ : int
        Lloyd iterations of the chosen run.
    history_ : dict
        The chosen run's Lloyd history, as ``KMeans.history_``:
        per iteration ``objective``, ``center_shift``, ``seconds``,
        ``n_relocated``, ``imbalance`` and ``distance_fraction`` (arrays), and
        ``algorithm`` (the strategy that ran: "lloyd", "yinyang", ...),
        ``n_groups`` and ``algorithm_reason``.
    n_features_in_ : int
    """

    def __init__(self, n_clusters=100, *, init="random", n_init=1, distance="euclidean",
                 max_iter=300, tol=1e-4, random_state=None, n_threads=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.distance = distance
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.n_threads = n_threads

    @atomic
    def fit(self, X, y, sample_weight=None):
        """Cluster X, then label every cluster by the majority class of its rows.

        A fit that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : {array-like, scipy sparse CSR} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        p = {
            "init": _check_choice(self.init, "init", _INITS),
            "distance": _check_choice(self.distance, "distance", _DISTANCES),
            "max_iter": check_int(self.max_iter, "max_iter"),
            "tol": check_float(self.tol, "tol"),
        }
        k = check_int(self.n_clusters, "n_clusters")
        n_init = check_int(self.n_init, "n_init")
        y = check_class_labels(y)
        X = _validate_X(self, X, True, None)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        w = validated_weights(sample_weight, X)
        live = X.shape[0] if w is None else int(np.count_nonzero(w))
        if live < k:
            warnings.warn(f"n_clusters={k} is more than the {live} rows of positive weight: "
                          f"fitting {live} clusters (one per such row)", UserWarning,
                          stacklevel=3)
            k = live
        n_threads = n_threads_of(self.n_threads, work=_work(X, k))
        _checked_norms(X, w, n_threads)
        rng = check_random_state(self.random_state)
        if p["distance"] == "cosine":
            X = _rows.unit_rows(X, n_threads)
        best = None
        with blas_single_threaded():
            for _ in range(n_init):
                run = _kmeans_run(X, w, k, p, rng, n_threads)
                if best is None or run["inertia"] < best["inertia"]:
                    best = run
        classes, y_idx = np.unique(y, return_inverse=True)
        n_classes = len(classes)
        wt = _rows.weights_or_ones(w, len(y_idx))
        table = np.bincount(best["labels"] * n_classes + y_idx, weights=wt,
                            minlength=k * n_classes).reshape(k, n_classes)
        empty = table.sum(axis=1) == 0
        table[empty] = np.bincount(y_idx, weights=wt, minlength=n_classes)
        self.classes_ = classes
        self.cluster_centers_ = best["centers"]
        self.class_weights_ = table
        self.cluster_labels_ = classes[table.argmax(axis=1)]
        self.inertia_ = best["inertia"]
        self.n_iter_ = best["n_iter"]
        self.history_ = best["history"]
        self.n_clusters_ = k
        return self

    def _nearest(self, X):
        check_is_fitted(self)
        X = _validate_X(self, X, False, self.cluster_centers_.dtype)
        n_threads = n_threads_of(self.n_threads, work=_work(X, len(self.cluster_centers_)))
        if self.distance == "cosine":
            X = _rows.unit_rows(X, n_threads)
        with blas_single_threaded():
            return _rows.assign_rows(X, _rows.row_norms(X, n_threads), self.cluster_centers_,
                                     None, n_threads)[0]

    def predict(self, X):
        """Class of the nearest cluster of every row."""
        nearest = self._nearest(X)
        return self.cluster_labels_[nearest]

    def predict_proba(self, X):
        """Class histogram of the nearest cluster, normalised; rows sum to 1."""
        nearest = self._nearest(X)
        table = self.class_weights_[nearest]
        return table / table.sum(axis=1, keepdims=True)
