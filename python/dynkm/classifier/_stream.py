"""KMeansClassifier's streaming state and the mini-batch update of one partial_fit batch."""

import numpy as np

from dynkm import _rows
from dynkm.classifier._fit import own_assignment, seed_centers
from dynkm.classifier._params import check_label_kinds, target_counts
from kmcore.validation import check_random_state


class StreamState:
    """The part of a KMeansClassifier that a ``partial_fit`` batch changes.

    :meth:`start` reads it from the estimator (empty before the first
    batch) with the batch's new classes added, :meth:`update` learns the
    batch and :meth:`write_to` puts the result on the estimator. The estimator
    is not touched before :meth:`write_to`: the update never writes into an
    array it shares with the estimator, it binds new ones. The RandomState
    is the estimator's own and advances as seeds are drawn (``@atomic``
    rewinds it when the batch fails).
    """

    # Field -> the estimator's attribute (written in this order).
    ATTRIBUTES = {
        "prototypes": "prototypes_",
        "proto_class": "_proto_class",  # class index of each prototype
        "weights": "counts_",
        "n_seeded": "_n_seeded",        # prototypes ever seeded for each class
        "total_weight": "_total_weight",
        "scale": "scale_",
        "rng": "_rng",
        "classes": "classes_",
        "targets": "_targets",          # prototypes wanted for each class
    }
    __slots__ = tuple(ATTRIBUTES)

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields[name])

    @classmethod
    def start(cls, est, X, y, classes, k_init):
        """The state of ``est`` with the classes of ``y`` and ``classes`` added."""
        known = getattr(est, "classes_", y[:0])
        check_label_kinds(known, y=y, classes=classes)
        extra = y if classes is None else np.concatenate([np.asarray(classes), y])
        if hasattr(est, "prototypes_"):
            proto_class, n_seeded = est._proto_class, est._n_seeded
            fields = {"prototypes": est.prototypes_, "weights": est.counts_,
                      "total_weight": est._total_weight, "scale": est.scale_, "rng": est._rng}
        else:
            proto_class, n_seeded = np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
            fields = {"prototypes": np.empty((0, X.shape[1]), dtype=X.dtype),
                      "weights": np.empty(0), "total_weight": 0.0, "scale": 0.0,
                      "rng": check_random_state(est.random_state)}
            if est.k_list is not None and not isinstance(est.k_list, dict) and classes is None:
                raise ValueError("k_list given as a sequence needs classes= on the first "
                                 "partial_fit call (to know which count is whose)")
        all_classes = np.union1d(known, extra)
        # Re-index the prototypes' classes into the grown class list.
        fields["proto_class"] = np.searchsorted(all_classes, known[proto_class])
        grown = np.zeros(len(all_classes), dtype=np.intp)
        grown[np.searchsorted(all_classes, known)] = n_seeded
        fields["n_seeded"] = grown
        fields["classes"] = all_classes
        fields["targets"] = target_counts(est.k_list, all_classes, k_init)
        return cls(**fields)

    def write_to(self, est):
        for name, attribute in self.ATTRIBUTES.items():
            setattr(est, attribute, getattr(self, name))

    def update(self, X, y, w, p, n_threads, seed_more):
        """Seed missing prototypes from the batch, then one mini-batch k-means update.

        ``seed_more(X_c, x_sqnorms_c, w_c, existing, k, init, rng, n_threads)``
        draws up to k new prototypes of a class among its rows of the batch
        (:func:`seed_more`). Every row then moves the nearest prototype of its
        class: each prototype becomes the weighted mean of all the rows it has
        won so far. Returns ``(stats, young)``: the batch's ``shift`` (largest
        move of a prototype) and ``n_new`` (prototypes seeded), and the mask of
        those seeded prototypes.
        """
        y_idx = np.searchsorted(self.classes, y)
        x_sqnorms = _rows.row_norms(X, n_threads)
        wt = _rows.weights_or_ones(w, X.shape[0])
        protos, proto_class, n_old = self.prototypes, self.proto_class, len(self.weights)
        new_protos, new_class = [protos], [proto_class]
        n_new = 0
        for c in np.unique(y_idx[wt > 0]):
            missing = self.targets[c] - self.n_seeded[c]
            if missing <= 0:
                continue
            rows = np.flatnonzero((y_idx == c) & (wt > 0))
            seeds = seed_more(X[rows], x_sqnorms[rows], None if w is None else w[rows],
                              protos[proto_class == c], missing, p.init, self.rng, n_threads)
            new_protos.append(seeds)
            new_class.append(np.full(len(seeds), c, dtype=np.intp))
            # n_seeded is this state's own array (start() made it): no copy needed.
            self.n_seeded[c] += len(seeds)
            n_new += len(seeds)
        protos = np.concatenate(new_protos)
        proto_class = np.concatenate(new_class)
        weights = np.concatenate([self.weights, np.zeros(len(protos) - n_old)])
        # Group by class (stable): the layout every prediction relies on.
        order = np.argsort(proto_class, kind="stable")
        protos, proto_class, weights = protos[order], proto_class[order], weights[order]

        starts = np.searchsorted(proto_class, np.arange(len(self.classes) + 1))
        # Rows of a class without prototypes (only zero-weight rows so far) teach nothing.
        taught = np.flatnonzero((starts[1:] > starts[:-1])[y_idx])
        X, x_sqnorms, y_idx, wt = X[taught], x_sqnorms[taught], y_idx[taught], wt[taught]
        w = None if w is None else w[taught]
        own, own_sqdist = own_assignment(X, x_sqnorms, y_idx, protos, starts, n_threads)
        sums, batch_w = _rows.weighted_sums(X, own, len(protos), w, n_threads)
        won = batch_w > 0
        total_w = weights + batch_w
        before = protos
        merged = protos.astype(np.float64)
        merged[won] = (merged[won] * weights[won, None] + sums[won]) / total_w[won, None]
        protos = merged.astype(protos.dtype)
        if p.distance == "cosine":
            protos = _rows.unit_centers(protos)
        moves = np.sqrt(((protos.astype(np.float64) - before) ** 2).sum(axis=1))
        stats = {"shift": float(moves.max(initial=0.0)), "n_new": n_new}
        # Seeds of this batch: not pruned before a batch of their own.
        young = order >= n_old
        batch_total = float(wt.sum())
        total = self.total_weight + batch_total
        if total > 0:
            self.scale = (self.scale * self.total_weight + float(wt @ own_sqdist)) / total
        self.total_weight = total
        self.prototypes, self.proto_class, self.weights = protos, proto_class, total_w
        return stats, young


def seed_more(Xc, x_sqnorms, wc, existing, k, init, rng, n_threads):
    """Up to k new prototypes among rows Xc (positive weights ``wc``).

    The class's first prototypes are seeded as in ``fit``; more are drawn
    with probability proportional to weight (random) or to weight times
    the squared distance to the nearest prototype so far (k-means++).
    """
    k = int(min(k, Xc.shape[0]))
    if len(existing) == 0 or init == "random":
        return seed_centers(Xc, x_sqnorms, wc, k, init, rng, n_threads)
    closest = _rows.assign_rows(Xc, x_sqnorms, existing, None, n_threads)[1]
    closest = closest.astype(np.float64)
    weight = _rows.weights_or_ones(wc, Xc.shape[0])
    chosen = []
    for _ in range(k):
        potential = weight * closest
        total = potential.sum()
        if total <= 0:
            break
        row = int(rng.choice(Xc.shape[0], p=potential / total))
        chosen.append(row)
        center = _rows.dense_rows(Xc, [row]).astype(Xc.dtype)
        dist = _rows.sqdist_block(Xc, x_sqnorms, center, _rows.row_norms(center, n_threads),
                                  n_threads)[:, 0]
        np.minimum(closest, dist, out=closest)
    return np.ascontiguousarray(_rows.dense_rows(Xc, chosen), dtype=Xc.dtype).reshape(
        len(chosen), Xc.shape[1])
