"""What every center-based dynkm estimator does with its fitted centers."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from dynkm._validation import validate_X, validated_weights
from kmcore._threads import effective_n_threads
from kmcore.assignment import _assign_rows
from kmcore.distances import _pairwise_sqdist, _row_norms


class CentersMixin:
    """predict / transform / score from ``cluster_centers_``, by the kmcore kernels."""

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return the labels of X (``fit(X).labels_``)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit and return :meth:`transform` of X."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def predict(self, X):
        """Index of the nearest center (row of ``cluster_centers_``) of every row of X."""
        return self._assign(X)[0]

    def transform(self, X):
        """Euclidean distances to every center, shape (n_samples, n_clusters).

        This is the n_samples x n_clusters matrix by definition; use
        :meth:`predict` for labels, which never forms it.
        """
        X, centers, n_threads = self._prepare(X)
        D = _pairwise_sqdist(X, _row_norms(X, True, n_threads), centers,
                             _row_norms(centers, True, n_threads), n_threads)
        return np.sqrt(D, out=D)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted SSE of X against its nearest centers."""
        return -self._assign(X, sample_weight)[2]

    def _prepare(self, X):
        """Validated X, the centers in X's dtype, and the thread count."""
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)
        return X, centers, effective_n_threads(self.n_threads)

    def _assign(self, X, sample_weight=None):
        X, centers, n_threads = self._prepare(X)
        w = validated_weights(sample_weight, X)
        return _assign_rows(X, _row_norms(X, True, n_threads), centers, w, n_threads)
