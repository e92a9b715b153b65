"""Clustering quality measures.

Internal measures: :func:`inertia` (the k-means objective, weighted SSE) and
:func:`center_distance`. External measures against reference classes:
:func:`purity`, :func:`gini` (the size-weighted Gini impurity, which the
MNIST clustering demo this project grew from calls its Gini index),
:func:`contingency` (the class x cluster table) and
:func:`cluster_label_map` (each cluster's majority class, for
cluster-then-label). All are vectorised: no Python loop over points.
"""

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics.cluster import contingency_matrix

from kmcore import assign
from kmcore.validation import check_data, check_sample_weight

__all__ = [
    "center_distance",
    "cluster_label_map",
    "contingency",
    "gini",
    "inertia",
    "purity",
]

# Budget of the float64 temporaries of ``inertia`` with labels (one block of
# rows minus their centers): the block never exceeds this many bytes.
_INERTIA_BLOCK_BYTES = 64 << 20

# Largest dense table :func:`contingency` builds (classes x clusters cells).
_MAX_CELLS = 10_000_000


def _check_labels(labels, name):
    """``labels`` as a 1-D, non-empty array without NaN, else ValueError naming it."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {labels.shape}")
    if labels.size == 0:
        raise ValueError(f"{name} is empty")
    if labels.dtype.kind in "fc":
        bad = ~np.isfinite(labels)
    elif labels.dtype.kind == "O":
        bad = np.asarray(labels != labels, dtype=bool)  # NaN is the value unequal to itself
    else:
        return labels
    if bad.any():
        raise ValueError(
            f"{name} contains NaN or infinity (first at index {int(np.flatnonzero(bad)[0])})"
        )
    return labels


def _check_label_pair(labels_true, labels_pred):
    """Both label vectors checked, and of one length."""
    labels_true = _check_labels(labels_true, "labels_true")
    labels_pred = _check_labels(labels_pred, "labels_pred")
    if labels_true.shape[0] != labels_pred.shape[0]:
        raise ValueError(
            f"labels_true and labels_pred must be of one length, got different lengths: "
            f"{labels_true.shape[0]} and {labels_pred.shape[0]}"
        )
    return labels_true, labels_pred


def purity(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Fraction of points whose cluster's majority class is their own class.

    ``sum over clusters of (largest class count in the cluster) / n``; 1 when
    every cluster is pure. It rewards many small clusters, so compare it at a
    fixed number of clusters.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Reference classes.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ValueError
        Labels not 1-D, empty, of different lengths, or containing NaN or
        infinity (naming the argument).
    """
    labels_true, labels_pred = _check_label_pair(labels_true, labels_pred)
    table = contingency_matrix(labels_true, labels_pred, sparse=True)
    return float(table.max(axis=0).sum() / labels_true.size)


def gini(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Size-weighted Gini impurity of the clusters (the MNIST clustering demo's "Gini index").

    For each cluster ``k`` with ``n_k`` points of which ``n_ck`` are of class
    ``c``, the Gini impurity is ``1 - sum_c (n_ck / n_k)^2``: the chance that two
    points drawn with replacement from the cluster have different classes.
    The result is their average weighted by cluster size,
    ``sum_k (n_k / n) (1 - sum_c (n_ck / n_k)^2) = 1 - sum_k sum_c n_ck^2 / (n n_k)``.
    0 when every cluster is pure; at most ``1 - 1 / n_classes``. Lower is
    better; like :func:`purity` it favours many small clusters.

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Reference classes (any hashable, sortable values; no NaN).
    labels_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    float in [0, 1)

    Raises
    ------
    ValueError
        Labels not 1-D, empty, of different lengths, or containing NaN.

    Notes
    -----
    Computed from scikit-learn's sparse contingency matrix, so the cost is
    O(n_samples log n_samples) and the memory O(non-zero cells), whatever the
    number of classes and clusters.
    """
    labels_true, labels_pred = _check_label_pair(labels_true, labels_pred)
    n = labels_true.shape[0]
    table = contingency_matrix(labels_true, labels_pred, sparse=True).tocsc()
    counts = table.data.astype(np.float64)
    sizes = np.add.reduceat(counts, table.indptr[:-1])        # every cluster is non-empty
    squares = np.add.reduceat(counts * counts, table.indptr[:-1])
    value = 1.0 - float(np.sum(squares / sizes)) / n
    return max(value, 0.0)  # a pure clustering may round to -1e-17


def contingency(labels_true: ArrayLike, labels_pred: ArrayLike, *, max_cells: int = _MAX_CELLS
                ) -> tuple[NDArray[np.int64], np.ndarray, np.ndarray]:
    """The class x cluster count table, dense, with its row and column labels.

    A thin wrapper of :func:`sklearn.metrics.cluster.contingency_matrix` for
    small label sets (reports, confusion-style plots).

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Reference classes.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels.
    max_cells : int, default=10_000_000
        Largest table allowed (``n_classes * n_clusters``); a larger one
        raises instead of allocating it.

    Returns
    -------
    table : ndarray of shape (n_classes, n_clusters), int64
        ``table[i, j]`` = number of points of class ``classes[i]`` in cluster
        ``clusters[j]``.
    classes : ndarray of shape (n_classes,)
        The distinct values of ``labels_true``, sorted.
    clusters : ndarray of shape (n_clusters,)
        The distinct values of ``labels_pred``, sorted.

    Raises
    ------
    ValueError
        Bad labels (see :func:`gini`), or a table of more than ``max_cells``
        cells (use ``contingency_matrix(..., sparse=True)`` then).
    """
    labels_true, labels_pred = _check_label_pair(labels_true, labels_pred)
    if isinstance(max_cells, (bool, np.bool_)) or not isinstance(max_cells, numbers.Integral) \
            or max_cells < 1:
        raise ValueError(f"max_cells must be a positive integer, got {max_cells!r}")
    classes = np.unique(labels_true)
    clusters = np.unique(labels_pred)
    cells = classes.size * clusters.size
    if cells > max_cells:
        raise ValueError(
            f"the contingency table would have {classes.size} classes x {clusters.size} "
            f"clusters = {cells} cells, more than max_cells={max_cells}; use "
            f"sklearn.metrics.cluster.contingency_matrix(..., sparse=True)"
        )
    table = contingency_matrix(labels_true, labels_pred, sparse=True).toarray()
    return table.astype(np.int64, copy=False), classes, clusters


def cluster_label_map(labels_true: ArrayLike, labels_pred: ArrayLike) -> dict[Any, Any]:
    """The majority class of each cluster (cluster-then-label).

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Reference classes.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    dict
        ``{cluster: class}`` for every distinct value of ``labels_pred``, in
        increasing cluster order, as Python scalars. The class is the most
        frequent one among the cluster's points; ties go to the smallest class.
        ``purity(y, c) == mean(y == [mapping[k] for k in c])``.

    Raises
    ------
    ValueError
        Bad labels (see :func:`gini`).

    Examples
    --------
    Map new cluster labels to classes without a Python loop over points:

    >>> mapping = cluster_label_map([0, 0, 1, 1, 1], [7, 7, 7, 3, 3])
    >>> mapping
    {3: 1, 7: 0}
    >>> keys, values = np.array(list(mapping)), np.array(list(mapping.values()))
    >>> values[np.searchsorted(keys, [3, 7, 7])].tolist()
    [1, 0, 0]
    """
    labels_true, labels_pred = _check_label_pair(labels_true, labels_pred)
    classes, class_idx = np.unique(labels_true, return_inverse=True)
    clusters, cluster_idx = np.unique(labels_pred, return_inverse=True)
    table = contingency_matrix(class_idx, cluster_idx, sparse=True).tocoo()
    rows = np.asarray(table.row)
    cols = np.asarray(table.col)
    counts = np.asarray(table.data)
    # Sort by cluster, then count descending, then class ascending: the first
    # entry of each cluster is its majority class, ties to the smallest class.
    order = np.lexsort((rows, -counts, cols))
    cols = cols[order]
    first = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
    majority = classes[rows[order][first]]
    return dict(zip(clusters[cols[first]].tolist(), majority.tolist(), strict=True))


def inertia(X: ArrayLike, centers: ArrayLike, labels: ArrayLike | None = None,
            sample_weight: ArrayLike | None = None) -> float:
    """Weighted sum of squared distances of the rows to their centers (k-means SSE).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data; float32 and float64 are used in place, other real types become
        float64.
    centers : array-like of shape (n_clusters, n_features)
        Centers.
    labels : array-like of shape (n_samples,), default=None
        Center index of every row, integers in ``[0, n_clusters)`` (floats
        holding whole numbers are accepted): each row
        is measured against ``centers[labels[i]]`` (the objective of a given
        assignment, e.g. a soft model's argmax). None means each row's nearest
        center (the k-means objective of ``centers``).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights, at least one positive; None means 1 for every row.

    Returns
    -------
    float
        ``sum_i w_i ||x_i - c_i||^2``, summed in float64.

    Raises
    ------
    ValueError
        Empty or non-finite data, centers with another number of features,
        labels of the wrong shape, non-integer or out of range, bad weights
        (each naming the argument).
    TypeError
        Sparse or non-numeric input.

    Notes
    -----
    With ``labels`` the differences ``x_i - c_i`` are formed directly in
    float64, block by block, so no float64 temporary exceeds 64 MB; the
    result does not depend on the dtype of ``centers``. Without, the nearest
    center and its distance come from :func:`kmcore.assign` (a fused GEMM +
    argmin in X's dtype, accurate per row to float32 rounding for float32
    data), and the distances are summed in float64.
    """
    X = check_data(X, "X")
    n, d = X.shape
    w = check_sample_weight(sample_weight, n, np.float64)
    if labels is None:
        centers = check_data(centers, "centers", dtype=X.dtype)
        if centers.shape[1] != d:
            raise ValueError(f"centers has {centers.shape[1]} features but X has {d}")
        _, sqdist = assign(X, centers)
        if w is None:
            return float(np.sum(sqdist, dtype=np.float64))
        return float(np.dot(sqdist.astype(np.float64), w))

    centers = check_data(centers, "centers", dtype=np.float64)
    if centers.shape[1] != d:
        raise ValueError(f"centers has {centers.shape[1]} features but X has {d}")
    labels = _check_center_labels(labels, n, centers.shape[0])
    block = max(1, min(n, _INERTIA_BLOCK_BYTES // (8 * d)))
    buf = np.empty((block, d), dtype=np.float64)
    total = 0.0
    for start in range(0, n, block):
        stop = min(start + block, n)
        diff = buf[:stop - start]
        np.take(centers, labels[start:stop], axis=0, out=diff)
        np.subtract(X[start:stop], diff, out=diff)       # float32 rows cast chunk-wise
        row_sq = np.einsum("ij,ij->i", diff, diff)
        total += float(row_sq.sum() if w is None else np.dot(row_sq, w[start:stop]))
    return total


def _check_center_labels(labels, n, k):
    """Labels indexing ``k`` centers: 1-D integers in [0, k) of length ``n``."""
    labels = _check_labels(labels, "labels")
    if labels.shape[0] != n:
        raise ValueError(f"labels has {labels.shape[0]} entries but X has {n} rows")
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)):
            labels = labels.astype(np.intp)
        else:
            raise ValueError(f"labels must be integers (center indices), got dtype {labels.dtype}")
    low, high = labels.min(), labels.max()
    if low < 0 or high >= k:
        raise ValueError(
            f"labels must be center indices in [0, {k}), got values from {low} to {high}"
        )
    return labels.astype(np.intp, copy=False)


def center_distance(centers_from: ArrayLike, centers_to: ArrayLike) -> float:
    """Mean distance from each center of ``centers_from`` to its nearest in ``centers_to``.

    The DynCluster project's comparison of a dynamic and a static clustering: how far, on
    average, each dynamic center lies from the closest static one. Not
    symmetric; 0 when every center of ``centers_from`` is also in ``centers_to``.

    Parameters
    ----------
    centers_from : array-like of shape (k1, n_features)
    centers_to : array-like of shape (k2, n_features)

    Returns
    -------
    float
    """
    a = np.asarray(centers_from, dtype=np.float64)
    b = np.asarray(centers_to, dtype=np.float64)
    _, sqdist = assign(a, b)
    return float(np.sqrt(sqdist).mean())
