"""Clustering quality measures."""

import numpy as np
from sklearn.metrics.cluster import contingency_matrix

from kmcore import assign

__all__ = ["center_distance", "purity"]


def purity(labels_true, labels_pred):
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
    """
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.shape != labels_pred.shape or labels_true.ndim != 1:
        raise ValueError(
            f"labels_true and labels_pred must be 1-D of one length, got "
            f"{labels_true.shape} and {labels_pred.shape}"
        )
    if labels_true.size == 0:
        raise ValueError("labels_true is empty")
    table = contingency_matrix(labels_true, labels_pred, sparse=True)
    return float(table.max(axis=0).sum() / labels_true.size)


def center_distance(centers_from, centers_to):
    """Mean distance from each center of ``centers_from`` to its nearest in ``centers_to``.

    S0's comparison of a dynamic and a static clustering: how far, on
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
