"""Pruning light prototypes and merging close ones of a class (connected components)."""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from dynkm import _rows

# Prototypes sampled to estimate the typical distance between prototypes
# (relative_merge, percentile_threshold).
MERGE_SAMPLE = 2048


def kept_prototypes(weights, proto_class, min_weight, young=None):
    """Mask of the prototypes that pruning keeps: weight > min_weight, or ``young``.

    ``young`` (a mask, or None) marks prototypes seeded by the current batch:
    they are kept until they have seen a batch after their own. Each class
    keeps at least its heaviest prototype (the first on ties).
    """
    keep = weights > min_weight
    if young is not None:
        keep |= young
    order = np.lexsort((-weights, proto_class))
    first = order[np.r_[True, proto_class[order][1:] != proto_class[order][:-1]]]
    keep[first] = True
    return keep


def merge_threshold(protos, p):
    """The distance below which two prototypes merge, or None when no pair can be judged.

    ``merge_threshold`` itself, or scaled by the mean distance between
    prototypes (``relative_merge``) and capped by a quantile of those distances
    (``percentile_threshold``), both on a sample of at most ``MERGE_SAMPLE``
    prototypes drawn the same way every time.
    """
    threshold = p.merge_threshold
    quantile = p.percentile_threshold
    if not p.relative_merge and quantile is None:
        return threshold
    rng = np.random.RandomState(0)
    sample = protos[np.sort(rng.permutation(len(protos))[:MERGE_SAMPLE])]
    dist = distance(sample, sample, p.distance == "cosine")[np.triu_indices(len(sample), 1)]
    if dist.size == 0:
        return None
    if p.relative_merge:
        threshold = threshold * float(dist.mean())
    if quantile is not None:
        threshold = min(threshold, float(np.quantile(dist, quantile)))
    return threshold


def merge_prototypes(protos, proto_class, weights, starts, p):
    """Merge same-class prototypes closer than the threshold, transitively.

    ``starts[c]:starts[c + 1]`` are the prototypes of class c. Each group of
    prototypes joined by pairs closer than :func:`merge_threshold` (Euclidean,
    or ``1 - cos`` for cosine) becomes its weighted mean (unit norm for
    cosine). Returns ``(prototypes, proto_class, weights)`` of the groups,
    still grouped by class, or None when nothing merges.
    """
    cosine = p.distance == "cosine"
    threshold = merge_threshold(protos, p)
    if threshold is None:
        return None
    rows, cols = [], []
    for c in range(len(starts) - 1):
        a, b = starts[c], starts[c + 1]
        if b - a < 2:
            continue
        i, j = np.nonzero(np.triu(distance(protos[a:b], protos[a:b], cosine) < threshold, 1))
        rows.append(i + a)
        cols.append(j + a)
    n_edges = sum(len(r) for r in rows)
    if n_edges == 0:
        return None
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
    gw = np.bincount(group, weights=weights, minlength=n_groups)
    # Weighted mean of each group (a plain mean where the group has no weight).
    member_w = np.where(gw[group] > 0, weights, 1.0)
    sums = np.zeros((n_groups, protos.shape[1]))
    np.add.at(sums, group, protos * member_w[:, None])
    denom = np.bincount(group, weights=member_w, minlength=n_groups)
    merged = (sums / denom[:, None]).astype(protos.dtype)
    if cosine:
        merged = _rows.unit_centers(merged)
    group_class = np.empty(n_groups, dtype=np.intp)
    group_class[group] = proto_class
    return merged, group_class, gw


def distance(A, B, cosine):
    """Euclidean distances, or 1 - cos between unit rows, as a dense matrix (small inputs)."""
    D = _rows.sqdist_block(A, _rows.row_norms(A, 1), B, _rows.row_norms(B, 1), 1)
    return D.astype(np.float64) / 2.0 if cosine else np.sqrt(D.astype(np.float64))
