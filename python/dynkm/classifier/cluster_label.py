"""ClusterLabelClassifier: cluster all rows by k-means, then label each cluster by majority."""

import warnings
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from dynkm import _rows
from dynkm._atomic import AtomicSetParams, atomic
from dynkm._validation import n_threads_of, validated_weights
from dynkm.classifier._fit import kmeans_run, work
from dynkm.classifier._params import (
    AcceptsCSR,
    check_class_labels,
    CLUSTER_LABEL_SPECS,
    check_cluster_label_params,
    check_same_rows,
    checked_norms,
    validate_X,
)
from dynkm.persist import PersistMixin
from kmcore.threads import blas_single_threaded
from kmcore.validation import check_random_state

if TYPE_CHECKING:
    from typing import Self


class ClusterLabelClassifier(PersistMixin, AtomicSetParams, AcceptsCSR, ClassifierMixin,
                             BaseEstimator):
    """Cluster-then-label: k-means over all rows, each cluster labelled by majority.

    k-means with ``n_clusters`` clusters on the training rows
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
        their weight (faiss's choice too, which scales to thousands of
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

    # Each parameter's rule, once (see dynkm.classifier._params).
    _param_specs = CLUSTER_LABEL_SPECS

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
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> "Self":
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
        p = check_cluster_label_params(self)
        k, n_init = p.n_clusters, p.n_init
        y = check_class_labels(y)
        X = validate_X(self, X, True, None)
        check_same_rows(X, y)
        w = validated_weights(sample_weight, X)
        live = X.shape[0] if w is None else int(np.count_nonzero(w))
        if live < k:
            warnings.warn(f"n_clusters={k} is more than the {live} rows of positive weight: "
                          f"fitting {live} clusters (one per such row)", UserWarning,
                          stacklevel=3)
            k = live
        n_threads = n_threads_of(self.n_threads, work=work(X, k))
        checked_norms(X, w, n_threads)
        rng = check_random_state(self.random_state)
        if p.distance == "cosine":
            X = _rows.unit_rows(X, n_threads)
        best = None
        with blas_single_threaded():
            for _ in range(n_init):
                run = kmeans_run(X, w, k, p, rng, n_threads)
                if best is None or run.inertia < best.inertia:
                    best = run
        assert best is not None  # n_init >= 1
        classes, y_idx = np.unique(y, return_inverse=True)
        n_classes = len(classes)
        wt = _rows.weights_or_ones(w, len(y_idx))
        table = np.bincount(best.labels * n_classes + y_idx, weights=wt,
                            minlength=k * n_classes).reshape(k, n_classes)
        empty = table.sum(axis=1) == 0
        table[empty] = np.bincount(y_idx, weights=wt, minlength=n_classes)
        self.classes_ = classes
        self.cluster_centers_ = best.centers
        self.class_weights_ = table
        self.cluster_labels_ = classes[table.argmax(axis=1)]
        self.inertia_ = best.inertia
        self.n_iter_ = best.n_iter
        self.history_ = best.history
        self.n_clusters_ = k
        return self

    def _nearest(self, X):
        check_is_fitted(self)
        X = validate_X(self, X, False, self.cluster_centers_.dtype)
        n_threads = n_threads_of(self.n_threads, work=work(X, len(self.cluster_centers_)))
        if self.distance == "cosine":
            X = _rows.unit_rows(X, n_threads)
        with blas_single_threaded():
            return _rows.assign_rows(X, _rows.row_norms(X, n_threads), self.cluster_centers_,
                                     None, n_threads)[0]

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class of the nearest cluster of every row."""
        nearest = self._nearest(X)
        return self.cluster_labels_[nearest]

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Class histogram of the nearest cluster, normalised; rows sum to 1."""
        nearest = self._nearest(X)
        table = self.class_weights_[nearest]
        return table / table.sum(axis=1, keepdims=True)
