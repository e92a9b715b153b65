"""Merging and pruning of KMeansClassifier's prototypes (dynkm.classifier._prune)
against union-find and NumPy references."""

import numpy as np
import pytest

from _classifier_helpers import (
    _clf,
    _sqdist,
    _unit,
    _check_layout,
)


def _groups_ref(P, labels, threshold, cosine):
    """Same-class prototypes joined (transitively) when closer than threshold:
    a list of index arrays, grouped by class, each group numbered by its first member."""
    n = len(P)
    D = _sqdist(P, P) / 2.0 if cosine else np.sqrt(_sqdist(P, P))
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if labels[i] == labels[j] and D[i, j] < threshold:
                parent[root(j)] = root(i)
    roots = [root(i) for i in range(n)]
    groups = {}
    for i, r in enumerate(roots):
        groups.setdefault(r, []).append(i)
    return sorted((np.array(g) for g in groups.values()), key=lambda g: g[0])


def _merged_ref(unmerged, groups, cosine):
    P, w = unmerged.prototypes_.astype(np.float64), unmerged.counts_
    means = np.array([np.average(P[g], axis=0, weights=w[g]) for g in groups])
    return _unit(means) if cosine else means


def _pairwise_ref(P, cosine):
    D = _sqdist(P, P) / 2.0 if cosine else np.sqrt(_sqdist(P, P))
    return D[np.triu_indices(len(P), 1)]


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_merge_everything_is_weighted_mean(digits_split, distance):
    Xtr, _, ytr, _ = digits_split
    cosine = distance == "cosine"
    unmerged = _clf(5, distance=distance).fit(Xtr, ytr)
    assert unmerged.n_merged_ == 0 and unmerged.n_pruned_ == 0
    merged = _clf(5, distance=distance, merge_threshold=1e6).fit(Xtr, ytr)
    _check_layout(merged)
    np.testing.assert_array_equal(merged.n_prototypes_per_class_, np.ones(10))
    assert merged.n_merged_ == len(unmerged.prototypes_) - 10
    groups = [np.flatnonzero(unmerged.prototype_labels_ == c) for c in unmerged.classes_]
    np.testing.assert_allclose(merged.prototypes_, _merged_ref(unmerged, groups, cosine),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(merged.counts_,
                               [unmerged.counts_[g].sum() for g in groups])
    # The weights matter: the plain mean of the prototypes is something else.
    plain = np.array([unmerged.prototypes_[g].mean(axis=0) for g in groups])
    assert not np.allclose(merged.prototypes_, _unit(plain) if cosine else plain, rtol=1e-3)
    nothing = _clf(5, distance=distance, merge_threshold=0.0).fit(Xtr, ytr)
    assert nothing.n_merged_ == 0
    np.testing.assert_array_equal(nothing.prototypes_, unmerged.prototypes_)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_merge_matches_union_find(digits_split, distance):
    Xtr, Xte, ytr, _ = digits_split
    cosine = distance == "cosine"
    unmerged = _clf(6, distance=distance).fit(Xtr, ytr)
    P, labels = unmerged.prototypes_, unmerged.prototype_labels_
    same = labels[:, None] == labels[None, :]
    D = _sqdist(P, P) / 2.0 if cosine else np.sqrt(_sqdist(P, P))
    within = D[np.triu(same, 1)]
    mean_all = _pairwise_ref(P, cosine).mean()
    cases = [
        ({"merge_threshold": float(np.quantile(within, 0.3))}, np.quantile(within, 0.3)),
        ({"merge_threshold": 0.5, "relative_merge": True}, 0.5 * mean_all),
        ({"merge_threshold": 1e6, "percentile_threshold": 0.02},
         np.quantile(_pairwise_ref(P, cosine), 0.02)),
    ]
    for params, threshold in cases:
        groups = _groups_ref(P, labels, threshold, cosine)
        assert 10 < len(groups) < len(P)  # a real test: some merged, not all
        model = _clf(6, distance=distance, **params).fit(Xtr, ytr)
        _check_layout(model)
        assert model.n_merged_ == len(P) - len(groups)
        np.testing.assert_array_equal(model.prototype_labels_, [labels[g[0]] for g in groups])
        np.testing.assert_allclose(model.prototypes_, _merged_ref(unmerged, groups, cosine),
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(
            model.predict(Xte),
            model.prototype_labels_[_sqdist(_unit(Xte) if cosine else Xte,
                                             model.prototypes_).argmin(axis=1)])


@pytest.mark.parametrize("param", ["relative_merge", "percentile_threshold"])
def test_merge_count_monotone_in_threshold(digits_split, param):
    Xtr, _, ytr, _ = digits_split
    full = len(_clf(6).fit(Xtr, ytr).prototypes_)
    if param == "relative_merge":
        grid = [{"merge_threshold": t, "relative_merge": True}
                for t in [0.0, 0.1, 0.3, 0.5, 0.8, 1.2, 3.0]]
    else:
        grid = [{"merge_threshold": 1e6, "percentile_threshold": q}
                for q in [0.001, 0.01, 0.03, 0.1, 0.3, 1.0]]
    counts = [len(_clf(6, **params).fit(Xtr, ytr).prototypes_) for params in grid]
    assert (np.diff(counts) <= 0).all()
    assert counts[0] > counts[-1]
    assert counts[-1] == 10 and counts[0] <= full
    if param == "relative_merge":
        assert counts[0] == full


def test_min_weight_prunes_but_keeps_one_per_class(digits_split):
    Xtr, _, ytr, _ = digits_split
    ref = _clf(6).fit(Xtr, ytr)
    w, labels = ref.counts_, ref.prototype_labels_
    for min_weight in [np.median(w), w.max() + 1]:
        keep = w > min_weight
        for c in ref.classes_:
            mine = np.flatnonzero(labels == c)
            keep[mine[np.argmax(w[mine])]] = True
        model = _clf(6, min_weight=min_weight).fit(Xtr, ytr)
        _check_layout(model)
        assert model.n_pruned_ == (~keep).sum() > 0
        assert (model.n_prototypes_per_class_ >= 1).all()
        np.testing.assert_array_equal(model.prototypes_, ref.prototypes_[keep])
        np.testing.assert_array_equal(model.counts_, w[keep])
    assert (model.n_prototypes_per_class_ == 1).all()
