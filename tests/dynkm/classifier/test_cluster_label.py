"""ClusterLabelClassifier (dynkm.classifier.cluster_label) against KMeans and NumPy."""

import numpy as np
import pytest
import scipy.sparse as sp

from dynkm.classifier import ClusterLabelClassifier
from dynkm.kmeans import KMeans

from _classifier_helpers import (
    DTYPES,
    _untie,
)


def _cluster_label_ref(X, y, Xte, n_clusters, w=None):
    """dynkm.KMeans with the same parameters, then majority class of each cluster."""
    km = KMeans(n_clusters, init="random", n_init=1, random_state=0, n_threads=1)
    km.fit(X, sample_weight=w)
    classes = np.unique(y)
    table = np.zeros((n_clusters, len(classes)))
    np.add.at(table, (km.labels_, np.searchsorted(classes, y)), 1.0 if w is None else w)
    assert (table.sum(axis=1) > 0).all()
    return classes[table.argmax(axis=1)][km.predict(Xte)], table[km.predict(Xte)]


def test_cluster_label_matches_reference(digits_split):
    Xtr, Xte, ytr, yte = digits_split
    model = ClusterLabelClassifier(50, random_state=0, n_threads=1).fit(Xtr, ytr)
    pred_ref, table_ref = _cluster_label_ref(Xtr, ytr, Xte, 50)
    np.testing.assert_array_equal(model.predict(Xte), pred_ref)
    assert model.score(Xte, yte) == (pred_ref == yte).mean()
    P = model.predict_proba(Xte)
    np.testing.assert_allclose(P, table_ref / table_ref.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_[P.argmax(axis=1)], model.predict(Xte))
    assert model.cluster_centers_.shape == (50, Xtr.shape[1])
    assert model.class_weights_.sum() == len(ytr)
    coarse = ClusterLabelClassifier(10, random_state=0, n_threads=1).fit(Xtr, ytr)
    assert model.score(Xte, yte) > coarse.score(Xte, yte) + 0.05


def test_cluster_label_weights(digits_split):
    Xtr, Xte, ytr, _ = digits_split
    w = np.random.default_rng(0).uniform(0.1, 5.0, len(ytr))
    model = ClusterLabelClassifier(30, random_state=0, n_threads=1).fit(Xtr, ytr,
                                                                       sample_weight=w)
    pred_ref, table_ref = _cluster_label_ref(Xtr, ytr, Xte, 30, w)
    np.testing.assert_array_equal(model.predict(Xte), pred_ref)
    np.testing.assert_allclose(model.predict_proba(Xte),
                               table_ref / table_ref.sum(axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(model.class_weights_.sum(), w.sum(), rtol=1e-6)
    # A heavy class wins clusters it would lose by count.
    heavy = np.where(ytr == 1, 1e4, 1.0)
    tilted = ClusterLabelClassifier(30, random_state=0, n_threads=1).fit(Xtr, ytr,
                                                                        sample_weight=heavy)
    unweighted = ClusterLabelClassifier(30, random_state=0, n_threads=1).fit(Xtr, ytr)
    assert (tilted.cluster_labels_ == 1).sum() > (unweighted.cluster_labels_ == 1).sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_cluster_label_cosine_csr_equals_dense(digits_split, dtype):
    Xtr, Xte, ytr, _ = digits_split
    Xtr, Xte = _untie(Xtr).astype(dtype), _untie(Xte, 1).astype(dtype)
    dense = ClusterLabelClassifier(30, distance="cosine", random_state=0, n_threads=1)
    dense.fit(Xtr, ytr)
    csr = ClusterLabelClassifier(30, distance="cosine", random_state=0, n_threads=1)
    csr.fit(sp.csr_matrix(Xtr), ytr)
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.linalg.norm(dense.cluster_centers_, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(csr.predict(sp.csr_matrix(Xte)), dense.predict(Xte))
    # Spherical: scaling a row changes nothing.
    scale = np.random.default_rng(2).uniform(0.1, 10.0, (len(Xte), 1)).astype(dtype)
    np.testing.assert_array_equal(dense.predict(Xte * scale), dense.predict(Xte))
    assert dense.cluster_centers_.dtype == dtype


def test_cluster_label_n_init_and_errors(digits_split):
    Xtr, _, ytr, _ = digits_split
    one = ClusterLabelClassifier(20, random_state=0, n_threads=1).fit(Xtr, ytr)
    best = ClusterLabelClassifier(20, n_init=4, random_state=0, n_threads=1).fit(Xtr, ytr)
    # The first of the 4 runs is the single run: the best cannot be worse.
    assert best.inertia_ <= one.inertia_
    # More clusters than rows: one cluster per row, said by a warning (a
    # 1-nearest-neighbour classifier, which fits its training rows exactly).
    with pytest.warns(UserWarning, match=rf"n_clusters={len(ytr) + 1} .* fitting {len(ytr)} "):
        many = ClusterLabelClassifier(len(ytr) + 1, random_state=0, n_threads=1).fit(Xtr, ytr)
    assert many.n_clusters_ == len(many.cluster_centers_) == len(ytr)
    assert one.n_clusters_ == 20
    assert many.score(Xtr, ytr) == 1.0
    with pytest.raises(ValueError, match="distance"):
        ClusterLabelClassifier(5, distance="manhattan").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="init"):
        ClusterLabelClassifier(5, init="farthest").fit(Xtr, ytr)
