"""KMeansClassifier's scores: per-class distances, softmax logits and probabilities."""

import numpy as np

from dynkm import _rows
from kmcore.threads import blas_single_threaded


def class_sqdist(X, protos, starts, batch_size, n_threads):
    """Squared distance of every row to the nearest prototype of each class, by blocks.

    ``starts[c]:starts[c + 1]`` are the prototypes of class c (grouped by
    class). A class without prototypes (known from ``partial_fit(classes=...)``
    but without rows yet) is at infinity. The blocks hold at most
    ``batch_size`` rows (and the kernels' cell bound).
    """
    n_classes = len(starts) - 1
    p_sqnorms = _rows.row_norms(protos, n_threads)
    filled = starts[1:] > starts[:-1]
    starts = starts[:-1][filled]
    out = np.full((X.shape[0], n_classes), np.inf)
    step = _rows.block_rows(min(batch_size, X.shape[0]), len(protos), n_threads)
    buf = np.empty((step, len(protos)), dtype=protos.dtype)
    with blas_single_threaded():
        for a in range(0, X.shape[0], step):
            block = X[a:a + step]
            D = _rows.sqdist_block(block, _rows.row_norms(block, n_threads), protos,
                                   p_sqnorms, n_threads, out=buf[:block.shape[0]])
            S = np.minimum.reduceat(D, starts, axis=1)
            if filled.all():
                out[a:a + step] = S
            else:
                out[a:a + step, filled] = S
    return out


def logits(S, temperature, scale):
    """Softmax logits of each class, shifted so the best is 0 in every row."""
    scale = temperature * max(scale, np.finfo(np.float64).tiny)
    with np.errstate(over="ignore", invalid="ignore"):
        Z = -(S - S.min(axis=1, keepdims=True)) / scale
    # Rows whose squared norm overflowed are at infinity from every class
    # (inf - inf): no class is nearer, so all get the same score.
    Z[np.isnan(Z)] = 0.0
    return Z


def probabilities(S, soft, soft_type, cosine, temperature, scale):
    """Class probabilities from the per-class squared distances ``S`` (see ``soft_type``)."""
    if not soft:
        P = np.zeros_like(S)
        P[np.arange(len(S)), S.argmin(axis=1)] = 1.0
        return P
    if soft_type == "softmax":
        P = np.exp(logits(S, temperature, scale))
    elif cosine:
        P = np.maximum(1.0 - S / 2.0, 0.0)
    else:
        P = 1.0 / (1.0 + S / max(scale, np.finfo(np.float64).tiny))
    total = P.sum(axis=1, keepdims=True)
    # Every prototype at cosine <= 0: the nearest class gets everything.
    dead = total[:, 0] <= 0
    if dead.any():
        P[dead] = 0.0
        P[np.flatnonzero(dead), S[dead].argmin(axis=1)] = 1.0
        total[dead] = 1.0
    return P / total
