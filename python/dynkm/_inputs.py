"""Rows as KMeans and MiniBatchKMeans take them: dense or scipy CSR, raw or on the sphere.

- :func:`validate_rows`: dense C-ordered float32/float64 or CSR (matrix or
  array), checked by scikit-learn's ``validate_data`` with errors naming X.
  CSR stays CSR: the estimators compute on it with :mod:`dynkm._rows`'
  blocked sparse x dense products and never densify it as a whole.
- :class:`SphereRows`: spherical k-means sees every row scaled to unit norm
  (a copy; for CSR a copy of the nonzero values only). A row of zero norm has
  no direction: it moves no center (weight 0 in the fit), its label is 0 and
  its squared distance 1 (that of the origin to any unit center).
- :class:`RowsCentersMixin`: predict / score of
  :class:`dynkm._base.CentersMixin` for CSR input and spherical models (dense
  input of a plain model goes to CentersMixin unchanged), and ``transform``
  for every input, exact for rows at a center.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray
import scipy.sparse as sp
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from dynkm._rows import (
    assign_rows,
    exact_sqdist_block,
    row_blocks,
    row_norms,
    unit_centers,
    unit_rows,
    weights_or_ones,
)
from dynkm._validation import as_dtype, check_range, n_threads_of, validate_named, validated_weights


def validate_rows(estimator, X, reset):
    """Dense float32/float64 C-contiguous rows or CSR ones (float32 kept; ints become float64).

    Other sparse formats are converted to CSR (one copy), as scikit-learn does.
    NaN/inf and a wrong feature count raise, naming X.
    """
    return validate_named(estimator, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          order="C", reset=reset)




def center_shape_error(shape, n_clusters, n_features, source):
    """ValueError text for initial centers of the wrong shape (scikit-learn's wording), or None.

    ``source`` says where the centers came from, e.g. "given as init".
    """
    if shape[0] != n_clusters:
        return (f"The shape of the initial centers {source}, {shape}, does not match the "
                f"number of clusters n_clusters={n_clusters}.")
    if shape[1] != n_features:
        return (f"The shape of the initial centers {source}, {shape}, does not match the "
                f"number of features of the data X.shape[1]={n_features}.")
    return None


class SphereRows:
    """The rows spherical k-means works on: X scaled to unit norm, with its zero rows.

    Attributes
    ----------
    X : unit rows (dense or CSR, X's dtype); zero rows stay zero
    x_sqnorms : their squared norms (1, or 0 for zero rows, to rounding)
    fit_weight : the weights the fit uses: ``sample_weight`` with 0 on zero rows
        (None when X has no zero row and no weights)
    zero : boolean mask of the rows of zero norm
    """

    def __init__(self, X, x_sqnorms, sample_weight, n_threads):
        self.zero = x_sqnorms == 0
        self.X = unit_rows(X, n_threads)
        self.x_sqnorms = row_norms(self.X, n_threads)
        self.fit_weight = sample_weight
        if self.zero.any():
            w = weights_or_ones(sample_weight, X.shape[0]).astype(X.dtype)
            w[self.zero] = 0
            if not (w > 0).any():
                raise ValueError(
                    "X has no row of nonzero norm with a positive sample_weight: spherical "
                    "k-means (spherical=True) needs at least one row with a direction"
                )
            self.fit_weight = w

    @classmethod
    def fit_rows(cls, X, x_sqnorms, sample_weight, init, spherical, n_threads):
        """What a fit works on: ``(X, x_sqnorms, weights, init, sphere)``.

        With ``spherical`` the unit rows, their norms and weights, an array
        ``init`` scaled to unit norm and the :class:`SphereRows` itself;
        otherwise the arguments as they are and None.
        """
        if not spherical:
            return X, x_sqnorms, sample_weight, init, None
        sphere = cls(X, x_sqnorms, sample_weight, n_threads)
        if isinstance(init, np.ndarray):
            init = unit_centers(init)
        return sphere.X, sphere.x_sqnorms, sphere.fit_weight, init, sphere

    def assign(self, centers, sample_weight, n_threads):
        """``assign_rows`` on the unit rows; zero rows get label 0 at squared distance 1."""
        return sphere_assign(self.X, self.x_sqnorms, self.zero, centers, sample_weight,
                             n_threads)


def sphere_assign(U, u_sqnorms, zero, centers, sample_weight, n_threads):
    """Labels, squared distances, inertia and None of unit rows ``U`` (``zero``: zero rows)."""
    labels, min_sqdist, inertia, _ = assign_rows(U, u_sqnorms, centers, sample_weight,
                                                 n_threads)
    if zero.any():
        labels[zero] = 0
        min_sqdist[zero] = 1
        inertia = float(weights_or_ones(sample_weight, U.shape[0]) @ min_sqdist)
    return labels, min_sqdist, inertia, None


class RowsCentersMixin(TransformerMixin):
    """CSR input and spherical models for CentersMixin's predict / score; transform.

    A TransformerMixin so that scikit-learn's ``set_output`` wraps the
    ``transform`` defined here (it wraps only methods of its own subclasses).

    Put before ``CentersMixin`` in the bases. The estimator has a ``spherical``
    parameter; for a spherical model new rows are scaled to unit norm before
    being compared with the (unit) centers.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Euclidean distances to every center, shape (n_samples, n_clusters).

        X may be dense or CSR; for a spherical model the distances are those of
        the unit rows (a zero row is at distance 1 from every center). A row
        equal to a center is at distance exactly 0: distances that the
        ``||x||^2 - 2 x.c + ||c||^2`` expansion cancels are recomputed
        directly. This is the n_samples x n_clusters matrix by definition; use
        :meth:`predict` for labels, which never forms it.
        """
        X, x_sqnorms, centers, _, n_threads, _ = self._rows_for_centers(X)
        c_sqnorms = row_norms(centers, n_threads)
        D = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
        for start, stop in row_blocks(X.shape[0], centers.shape[0]):
            D[start:stop] = exact_sqdist_block(X[start:stop], x_sqnorms[start:stop], centers,
                                               c_sqnorms, n_threads)
        return np.sqrt(D, out=D)

    def _assign(self, X, sample_weight=None):
        if not (sp.issparse(X) or self._spherical()):
            return super()._assign(X, sample_weight)
        X, x_sqnorms, centers, w, n_threads, zero = self._rows_for_centers(X, sample_weight)
        if zero is None:
            return assign_rows(X, x_sqnorms, centers, w, n_threads)
        return sphere_assign(X, x_sqnorms, zero, centers, w, n_threads)

    def _spherical(self):
        return bool(getattr(self, "spherical", False))

    def _rows_for_centers(self, X, sample_weight=None):
        """X (dense or CSR) checked against the fitted model, with what the kernels need.

        Returns X (unit rows for a spherical model), their squared norms, the
        centers in X's dtype, the weights, the thread count and the mask of
        zero rows (None for a plain model). Data or centers too large for X's
        dtype raise (``check_range``), as in ``dynkm._base.prepare_centers``.
        """
        check_is_fitted(self)
        X = validate_rows(self, X, reset=False)
        n_threads = n_threads_of(self.n_threads)
        w = validated_weights(sample_weight, X)
        x_sqnorms = row_norms(X, n_threads)
        check_range(x_sqnorms, w)
        centers = np.ascontiguousarray(as_dtype(self.cluster_centers_, X.dtype,
                                                name="cluster_centers_"))
        check_range(row_norms(centers, n_threads), name="cluster_centers_")
        zero = None
        if self._spherical():
            zero = x_sqnorms == 0
            X = unit_rows(X, n_threads)
            x_sqnorms = row_norms(X, n_threads)
        return X, x_sqnorms, centers, w, n_threads, zero
