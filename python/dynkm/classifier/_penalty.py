"""The ``lambda_penalty`` objective: prototypes pushed away from the rows of other classes."""

import numpy as np

from dynkm import _rows
from dynkm._tolerance import absolute_tol
from dynkm.classifier._fit import own_assignment


def penalised_iterations(X, y_idx, w, protos, proto_class, starts, p, n_threads):
    """Lloyd iterations of the penalised objective, from the fitted ``protos``.

    Each iteration assigns every row to its own class's nearest prototype
    (the attraction) and to the nearest prototype overall (an intruder when
    that one belongs to another class), then moves every prototype to the
    minimiser of own-row squared distances minus ``lambda`` times
    intruder squared distances, with ``lambda`` capped per prototype at
    half its own weight over the intruders' weight. Unlike plain k-means
    this need not converge (it can alternate between partitions): it stops
    when a pair of assignments repeats, when the prototypes move less than
    ``tol`` (as in ``fit``) or after ``max_iter`` iterations.

    Parameters
    ----------
    X : ndarray or CSR of shape (n_samples, n_features)
        The training rows (unit rows for cosine).
    y_idx : ndarray of shape (n_samples,)
        Index of each row's class.
    w : ndarray of shape (n_samples,) or None
        Sample weights.
    protos : ndarray of shape (n_prototypes, n_features)
        The prototypes, grouped by class; ``proto_class`` the index of their
        class and ``starts[c]:starts[c + 1]`` the prototypes of class c.
    p : dict
        The checked parameters (``lambda_penalty``, ``tol``, ``max_iter``,
        ``distance``).

    Returns
    -------
    protos : ndarray of shape (n_prototypes, n_features)
        The moved prototypes (a new array).
    weights : ndarray of shape (n_prototypes,)
        Weight of the rows whose own-class nearest prototype each one is.
    n_iter : int
        Iterations run (``n_penalty_iter_``).
    inertia : float
        The final own-class inertia.
    """
    lam = p.lambda_penalty
    x_sqnorms = _rows.row_norms(X, n_threads)
    n_protos = len(proto_class)
    tol = absolute_tol(p.tol, X)
    wt = _rows.weights_or_ones(w, X.shape[0])
    seen = set()
    n_iter = 0
    for _ in range(p.max_iter):
        own = own_assignment(X, x_sqnorms, y_idx, protos, starts, n_threads)[0]
        near = _rows.assign_rows(X, x_sqnorms, protos, None, n_threads)[0]
        # The step is a function of the two partitions: a repeated pair means a
        # fixed point or a cycle (this objective can alternate), so stop there.
        key = hash((own.tobytes(), near.tobytes()))
        if key in seen:
            break
        seen.add(key)
        # Class indices on both sides (never the labels, which need not be 0..n-1).
        intruder = proto_class[near] != y_idx
        own_sums, own_w = _rows.weighted_sums(X, own, n_protos, w, n_threads)
        wi = np.where(intruder, wt, 0.0).astype(X.dtype)
        bad_sums, bad_w = _rows.weighted_sums(X, near, n_protos, wi, n_threads)
        # Per-prototype cap: lambda * intruder weight <= own weight / 2.
        lam_k = np.minimum(lam, np.divide(0.5 * own_w, bad_w, out=np.full(n_protos, lam),
                                          where=bad_w > 0))
        denom = own_w - lam_k * bad_w
        live = denom > 0
        new = protos.astype(np.float64)
        new[live] = (own_sums[live] - lam_k[live, None] * bad_sums[live]) / denom[live, None]
        new = new.astype(protos.dtype)
        if p.distance == "cosine":
            new = _rows.unit_centers(new)
        moved = float(((new.astype(np.float64) - protos) ** 2).sum())
        protos = new
        n_iter += 1
        if moved <= tol:
            break
    own, own_sqdist = own_assignment(X, x_sqnorms, y_idx, protos, starts, n_threads)
    weights = np.bincount(own, weights=wt, minlength=n_protos)
    return protos, weights, n_iter, float(np.dot(wt, own_sqdist))
