"""Shared scaffolding of the bounded strategies' tests (Hamerly, Yinyang): the
blob data, the initial rows, and the comparison of a bounded fit with
``algorithm="lloyd"`` from the same init."""

import numpy as np
from sklearn.datasets import make_blobs


def blobs(n, d, k, dtype, seed=0, std=2.0, centered=False):
    """Blobs of ``max(2, k // 2)`` centers; ``centered``: moved to mean 0.

    Centered data keep the plain pass's float32 GEMM expansions close to the
    direct distances: where its rounding decides a near tie, its label is
    not the nearest center, the bounds' label is (and the two fits part).
    """
    X, _ = make_blobs(n, n_features=d, centers=max(2, k // 2), cluster_std=std,
                      random_state=seed)
    if centered:
        X = X - X.mean(axis=0)
    return X.astype(dtype)


def rows(X, k, seed=0):
    """k distinct rows of X (a copy)."""
    return X[np.random.default_rng(seed).choice(X.shape[0], k, replace=False)].copy()


def reference_inertia(X, centers, labels, w):
    """sum w ||x - c_label||^2 in float64."""
    diff = X.astype(np.float64) - centers.astype(np.float64)[labels]
    return float(np.einsum("ij,ij->i", diff, diff) @ (np.ones(len(X)) if w is None else w))


def assert_same(lloyd, bounded, X, w):
    """A bounded fit gives the plain fit's labels, n_iter, centers (to rounding),
    inertia and objectives, from direct distances."""
    np.testing.assert_array_equal(bounded.labels_, lloyd.labels_)
    assert bounded.n_iter_ == lloyd.n_iter_
    f32 = X.dtype == np.float32
    # Centers: float64 sums added in another order, rounded once to X's dtype.
    np.testing.assert_allclose(bounded.cluster_centers_, lloyd.cluster_centers_,
                               rtol=1e-6 if f32 else 1e-12, atol=1e-12)
    # Ours is summed from direct float64 distances: exact to ~1e-12. The plain
    # pass keeps float32 GEMM expansions per row, each off by up to about
    # (16 + 2 sqrt(d)) eps32 (||x||^2 + ||c||^2): ~1e-6 of the inertia here.
    ref = reference_inertia(X, bounded.cluster_centers_, bounded.labels_, w)
    np.testing.assert_allclose(bounded.inertia_, ref, rtol=1e-10)
    np.testing.assert_allclose(bounded.inertia_, lloyd.inertia_, rtol=1e-5 if f32 else 1e-9)
    h = bounded.history_
    np.testing.assert_allclose(h["objective"], lloyd.history_["objective"],
                               rtol=1e-5 if f32 else 1e-9)
    assert len(h["distance_fraction"]) == bounded.n_iter_
    assert h["distance_fraction"][0] >= 1.0
