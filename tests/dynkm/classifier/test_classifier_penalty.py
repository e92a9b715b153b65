"""KMeansClassifier's lambda_penalty iterations (dynkm.classifier._penalty) against a
NumPy reference."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from _classifier_helpers import (
    _clf,
    _sqdist,
    _unit,
    _class_sqdist_ref,
    _check_layout,
)


def _penalised_ref(X, y, lam, max_iter, cosine):
    """The penalised Lloyd iterations of lambda_penalty with one prototype per class."""
    X = _unit(X) if cosine else np.asarray(X, dtype=np.float64)
    classes = np.unique(y)
    y_idx = np.searchsorted(classes, y)
    own_w = np.bincount(y_idx).astype(np.float64)
    own_sums = np.array([X[y_idx == c].sum(axis=0) for c in range(len(classes))])
    P = own_sums / own_w[:, None]
    P = _unit(P) if cosine else P
    seen = set()
    for _ in range(max_iter):
        near = _sqdist(X, P).argmin(axis=1)
        if near.tobytes() in seen:
            break  # A fixed point or a cycle: the next steps repeat.
        seen.add(near.tobytes())
        intruder = near != y_idx
        bad_w = np.bincount(near[intruder], minlength=len(classes)).astype(np.float64)
        bad_sums = np.zeros_like(P)
        np.add.at(bad_sums, near[intruder], X[intruder])
        lam_k = np.where(bad_w > 0, np.minimum(lam, 0.5 * own_w / np.maximum(bad_w, 1)), lam)
        new = (own_sums - lam_k[:, None] * bad_sums) / (own_w - lam_k * bad_w)[:, None]
        P = _unit(new) if cosine else new
    return P


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("lam", [0.2, 2.0])
def test_lambda_penalty_matches_reference(lam, distance):
    X, y = make_blobs(400, n_features=4, centers=4, cluster_std=6.0, random_state=0)
    if distance == "cosine":
        X += 6.0
    # tol=0: iterate until the partitions repeat (a fixed point or a cycle), as the
    # reference does.
    model = _clf(1, distance=distance, lambda_penalty=lam, tol=0).fit(X, y)
    plain = _clf(1, distance=distance).fit(X, y)
    ref = _penalised_ref(X, y, lam, 100, distance == "cosine")
    np.testing.assert_allclose(model.prototypes_, ref, rtol=1e-7, atol=1e-9)
    assert 0 < model.n_penalty_iter_ < 100 and plain.n_penalty_iter_ == 0
    # The default tol stops no later, close to the same point.
    early = _clf(1, distance=distance, lambda_penalty=lam).fit(X, y)
    assert early.n_penalty_iter_ <= model.n_penalty_iter_
    np.testing.assert_allclose(early.prototypes_, ref, atol=0.05)
    assert np.abs(model.prototypes_ - plain.prototypes_).max() > 1e-3
    # lambda=2 pushes hard enough that the cap (intruders count at most half) binds.
    near = _sqdist(_unit(X) if distance == "cosine" else X, ref).argmin(axis=1)
    intruders = np.bincount(near[near != y], minlength=4)
    assert (lam * intruders > 0.5 * np.bincount(y)).any() == (lam > 1)
    # Weights and scale_ still describe the own-class assignment.
    S = _class_sqdist_ref(model, X)
    np.testing.assert_allclose(model.scale_, S[np.arange(len(y)), y].mean(), rtol=1e-9)
    np.testing.assert_allclose(model.counts_, np.bincount(y))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_lambda_penalty_keeps_accuracy(digits_split, distance):
    Xtr, Xte, ytr, yte = digits_split
    plain = _clf(5, distance=distance).fit(Xtr, ytr)
    for lam in [0.1, 1.0]:
        pushed = _clf(5, distance=distance, lambda_penalty=lam).fit(Xtr, ytr)
        _check_layout(pushed)
        assert pushed.score(Xte, yte) >= plain.score(Xte, yte) - 0.015
        assert not np.allclose(pushed.prototypes_, plain.prototypes_)
        if distance == "cosine":
            np.testing.assert_allclose(np.linalg.norm(pushed.prototypes_, axis=1), 1.0)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_lambda_penalty_does_not_depend_on_the_label_values(distance):
    # An intruder is a row whose nearest prototype is of another class, whatever the
    # classes are called: classes 10..13 or names push as classes 0..3 do.
    X, y = make_blobs(400, n_features=4, centers=4, cluster_std=6.0, random_state=0)
    if distance == "cosine":
        X += 6.0
    ref = _penalised_ref(X, y, 0.2, 100, distance == "cosine")
    by_index = _clf(1, distance=distance, lambda_penalty=0.2, tol=0).fit(X, y)
    for labels in (y + 10, np.array(["ant", "bee", "cat", "dog"])[y]):
        model = _clf(1, distance=distance, lambda_penalty=0.2, tol=0).fit(X, labels)
        np.testing.assert_allclose(model.prototypes_, ref, rtol=1e-7, atol=1e-9)
        assert model.prototypes_.tobytes() == by_index.prototypes_.tobytes()
        assert model.n_penalty_iter_ == by_index.n_penalty_iter_ > 0
