"""What every center-based dynkm estimator does with its fitted centers."""

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from dynkm._atomic import atomic
from dynkm._validation import as_dtype, check_range, n_threads_of, validate_X, validated_weights
from dynkm._rows import row_norms, unit_rows
from kmcore import pairwise_sqdist
from kmcore.assignment import assign_rows


class CentersMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """predict / transform / score from ``cluster_centers_``, by the kmcore kernels.

    A subclass of scikit-learn's TransformerMixin so that ``set_output`` sees
    :meth:`transform` and :meth:`fit_transform`: its output wrapper wraps only
    the methods a class defines itself, when that class is created (a plain
    mixin's methods reach the estimator unwrapped, and ``set_output`` was then
    silently ignored). Output columns are named ``<classname>0``, ... from
    ``_n_features_out``, the number of centers, which subclasses set.
    """

    @atomic
    def fit_predict(self, X: ArrayLike, y: object = None,
                    sample_weight: ArrayLike | None = None) -> NDArray[np.intp]:
        """Fit and return the labels of X (``fit(X).labels_``)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    @atomic
    def fit_transform(self, X: ArrayLike, y: object = None,
                      sample_weight: ArrayLike | None = None) -> NDArray[np.floating]:
        """Fit and return :meth:`transform` of X."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Index of the nearest center (row of ``cluster_centers_``) of every row of X."""
        return self._assign(X)[0]

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Euclidean distances to every center, shape (n_samples, n_clusters).

        This is the n_samples x n_clusters matrix by definition; use
        :meth:`predict` for labels, which never forms it.
        """
        X, x_sqnorms, centers, _, n_threads = self._prepare(X)
        D = pairwise_sqdist(X, centers, x_sqnorms, row_norms(centers, n_threads),
                            n_threads=n_threads, check_input=False)
        return np.sqrt(D, out=D)

    def score(self, X: ArrayLike, y: object = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Opposite of the weighted SSE of X against its nearest centers."""
        return -self._assign(X, sample_weight)[2]

    def _prepare(self, X, sample_weight=None):
        """What predict, transform and score need, checked (see ``prepare_centers``)."""
        check_is_fitted(self)
        return prepare_centers(self, X, self.cluster_centers_, sample_weight)

    def _assign(self, X, sample_weight=None):
        X, x_sqnorms, centers, w, n_threads = self._prepare(X, sample_weight)
        return assign_rows(X, x_sqnorms, centers, w, n_threads)


def prepare_centers(estimator, X, centers, sample_weight=None):
    """X validated against a fitted estimator, with what the kernels need to compare
    it with ``centers``: X, its squared row norms, the centers in X's dtype, the
    weights and the thread count. Data or centers too large for X's dtype raise
    (``check_range``). When the estimator's ``spherical`` parameter is True,
    X's rows come back scaled to unit norm (zero rows stay zero)."""
    X = validate_X(estimator, X, reset=False)
    n_threads = n_threads_of(estimator.n_threads, work=X.size * len(centers))
    w = validated_weights(sample_weight, X)
    x_sqnorms = row_norms(X, n_threads)
    check_range(x_sqnorms, w)
    if getattr(estimator, "spherical", False) is True:
        # Spherical models compare directions: X's rows at unit norm (a copy).
        X = unit_rows(X, n_threads)
        x_sqnorms = row_norms(X, n_threads)
    centers = np.ascontiguousarray(as_dtype(centers, X.dtype, name="cluster_centers_"))
    check_range(row_norms(centers, n_threads), name="cluster_centers_")
    return X, x_sqnorms, centers, w, n_threads
