"""What runs on one chunk of rows, and the fixed-order reduction of the chunks' results.

Every function named ``chunk_*`` runs where its chunk lives (a dask task) and
calls kmcore's kernels on that chunk alone; each returns small per-chunk
partial results (float64 per-cluster sums and weights, inertia, counts, the
farthest rows). They are added over one binary tree fixed by the chunk index,
never in completion order: the result depends on the chunk layout only, not
on the number of workers nor on which finishes first. :func:`tree_reduce`
builds that tree as tasks; :func:`group_step` runs the Lloyd step of several
chunks held by one worker in one task and adds, there, every subtree whose
chunks it all holds (:func:`held_subtrees`), and :func:`update` adds the
groups' subtrees into the root (:func:`add_subtrees`): the same additions in
the same order whichever worker holds which chunk (in the next iteration's
task of every group, :func:`iteration_step`, or in a task of its own). The
bounded steps keep each chunk's bounds in its process's :data:`BOUNDS`.
"""

import threading

import dask
import numpy as np

from dynkm._lloyd import sums_objective
from dynkm._validation import check_range
from kmcore import pairwise_sqdist, row_norms
from kmcore.assignment import assign_rows
from kmcore.centers import means_from_sums, weighted_sums
from kmcore.distances import weighted_sqnorm_sum
from kmcore.hamerly import HamerlyBounds
from kmcore.validation import check_data
from kmcore.yinyang import GroupBounds, labelled_inertia

# Results added per reduction task: a power of two (see tree_reduce).
FAN_IN = 8


def chunk_validate(x, w, index, shape, dtype, sample=None, sqnorm_sum=False):
    """Check one chunk of X (and of sample_weight) and compute its squared row norms.

    Returns ``(x, x_sqnorms, w, stats)``: x C-contiguous in ``dtype``, the
    weights in ``dtype`` (None: unit weights), and stats (the float64 column
    sums, the total weight, the number of rows of positive weight) for the
    mean and the first center. In the same pass, for a bounded fit's
    objective (:meth:`dynkm.dask._data.ChunkedData.objective_terms`):
    ``stats["sample"]``, the rows ``sample`` (local indices; None: none),
    and with ``sqnorm_sum`` ``stats["wx2"]``, the chunk's float64 ``sum w
    ||x||^2`` (:func:`chunk_sqnorm_sum` around 0).
    """
    name = f"X (chunk {index}, rows from its dask array)"
    x = np.asarray(x)
    if x.shape != tuple(shape):
        raise ValueError(
            f"X: chunk {index} has shape {x.shape} but the dask array's chunks say "
            f"{tuple(shape)} (mismatched chunk widths or lengths); rebuild X with the right "
            "chunks"
        )
    x = check_data(x, name, dtype=dtype)
    sqnorms = row_norms(x, n_threads=1, check_input=False)
    if w is not None:
        w = np.asarray(w)
        if w.dtype.kind not in "biuf" or w.shape != (x.shape[0],):
            raise ValueError(
                f"sample_weight: chunk {index} has shape {w.shape} and dtype {w.dtype}; it "
                f"must hold {x.shape[0]} real numbers like chunk {index} of X"
            )
        w = np.ascontiguousarray(w, dtype=dtype)
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"sample_weight: chunk {index} holds negative, NaN or infinite "
                             "weights; weights must be finite and non-negative")
    check_range(sqnorms, w, name=name)
    # The column sums by kmcore's float64 sums kernel (every row in one
    # cluster): a fraction of the cost of NumPy's float64 reduction of a
    # float32 chunk over its rows, the same sums to rounding.
    colsum = weighted_sums(x, np.zeros(x.shape[0], dtype=np.intp), 1, None, 1)[0][0]
    stats = {
        "colsum": colsum,
        "weight": float(x.shape[0]) if w is None else float(w.sum(dtype=np.float64)),
        "n_positive": x.shape[0] if w is None else int(np.count_nonzero(w > 0)),
    }
    if sample is not None:
        stats["sample"] = x[sample]
    if sqnorm_sum:
        stats["wx2"] = weighted_sqnorm_sum(x, w, None)
    return x, sqnorms, w, stats


def chunk_sqdev(part, mean):
    """float64 per-column sum of squared deviations from ``mean`` (the variance's sum)."""
    diff = part[0].astype(np.float64) - mean
    return {"sqdev": np.einsum("ij,ij->j", diff, diff)}


def chunk_step(part, centers, offset, n_threads, previous=None):
    """One Lloyd E-step on a validated chunk, with its M-step partial results.

    Returns stats: float64 per-cluster ``sums`` and ``weights``, weighted
    ``inertia``, ``n_positive`` (rows of positive weight per cluster),
    ``changed`` and ``far``: the chunk's up to k rows of positive weight
    farthest from their center, as (distance, global row index, label,
    weight), farthest first (ties to the lower row), from which empty
    clusters are refilled. The labels are not kept: a result that depends
    on the chunk and ``centers`` alone (a lost worker's share is recomputed
    from them, never from a chain of earlier iterations). ``changed``
    counts the labels that differ from those against ``previous`` (the
    centers of the step before, assigned again here), -1 when not given.
    """
    x, sqnorms, w, _ = part
    k = centers.shape[0]
    labels, min_sqdist, inertia, fused = assign_rows(x, sqnorms, centers, w, n_threads,
                                                     with_sums=True)
    sums, weights = fused if fused is not None else weighted_sums(x, labels, k, w, n_threads)
    positive = labels if w is None else labels[w > 0]
    dist = min_sqdist if w is None else np.where(w > 0, min_sqdist, 0)
    order = farthest(dist, k)
    far = {
        "dist": dist[order].astype(np.float64),
        "row": order.astype(np.int64) + offset,
        "label": labels[order].astype(np.int64),
        "weight": np.ones(order.size) if w is None else w[order].astype(np.float64),
    }
    changed = -1
    if previous is not None:
        changed = int(np.count_nonzero(
            assign_rows(x, sqnorms, previous, w, n_threads, with_sums=True)[0] != labels))
    return {"sums": sums, "weights": weights, "inertia": inertia,
            "n_positive": np.bincount(positive, minlength=k), "changed": changed, "far": far}


def chunk_bounded_step(part, centers, drift, bounds, center_group, n_threads,
                       previous=None, direct=False):
    """One bounded E-step on a validated chunk (Yinyang's or Hamerly's bounds) and its
    M-step partial results.

    ``bounds``: the chunk's bounds object (kmcore's ``GroupBounds`` or
    ``HamerlyBounds``) after the step before, updated in place with
    ``drift``, how far each center moved since (float64, (k,)); None: new
    bounds, every distance computed. ``center_group``: the group of every
    center (Yinyang), None for Hamerly's bounds. The labels do not depend on
    the bounds (they only skip distances that cannot win), so new bounds
    give the same step as kept ones: what a step run again elsewhere (a
    retry, a lost worker's recompute) falls back to.

    Returns ``(stats, bounds)``: stats as :func:`chunk_step`'s (``sums`` and
    ``weights`` summed from all the new labels; no ``far`` rows: a step that
    empties a cluster is redone by Lloyd's pass, which has them) plus
    ``distances``, the number of row-center distances the bounds computed.
    No ``inertia`` unless ``direct`` (then by direct float64 distances to
    the labels' centers, a pass over the chunk): as in memory, an
    iteration's objective is expanded from the reduced sums (see
    :func:`update`), and only the final centers' inertia is summed directly.
    """
    x, sqnorms, w, _ = part
    k = centers.shape[0]
    if bounds is None:
        drift = None
        if center_group is None:
            bounds = HamerlyBounds(x, k, n_threads)
        else:
            bounds = GroupBounds(x, sqnorms, center_group, n_threads)
    counts = bounds.assign(centers, drift)
    labels = bounds.labels
    # The sums from every label, not moved incrementally: a function of the
    # labels alone, so equal labels give bitwise equal sums (the strict stop
    # of _lloyd.strict_stop) and the reduction stays the fixed tree's.
    sums, weights = weighted_sums(x, labels, k, w, n_threads)
    positive = labels if w is None else labels[w > 0]
    changed = -1
    if previous is not None:
        changed = int(np.count_nonzero(
            assign_rows(x, sqnorms, previous, w, n_threads, with_sums=True)[0] != labels))
    stats = {"sums": sums, "weights": weights,
             "n_positive": np.bincount(positive, minlength=k), "changed": changed,
             "distances": int(counts[0])}
    if direct:
        stats["inertia"] = labelled_inertia(x, centers, labels, w, n_threads)
    return stats, bounds


class BoundsStore:
    """The chunks' bounds objects of the fits running here, kept from one step to the next.

    One per process (:data:`BOUNDS`): a worker's steps find there the bounds
    their chunks had after the step before, and update them in place (no
    copy, no transfer: the bounds never leave the worker, nor appear among
    dask's results). An entry is ``fit -> chunk -> (iteration, bounds)``;
    a step takes its chunk's entry out while it runs and puts it back
    after, so a step that fails leaves none. A step that finds no entry of
    the iteration before (its worker lost and the step run elsewhere, a
    step run twice, a fit started afresh) starts new bounds: the same
    labels, more distances. A fit's entries are dropped at its end (also
    when it fails); a step still running then puts nothing back (the ids of
    the last ``MAX_DROPPED`` dropped fits are remembered). At most
    ``MAX_FITS`` fits are kept, the least recently used dropped first: a fit
    whose client went away before it could drop its bounds holds memory
    until newer fits push it out. The bounds are not dask's data: its memory
    manager neither counts nor spills them.
    """

    MAX_FITS = 4
    MAX_DROPPED = 64

    def __init__(self):
        self._lock = threading.Lock()
        self._fits = {}
        self._dropped = {}  # fit -> None, oldest first (a bounded ordered set)

    def take(self, fit, chunk, iteration):
        """The bounds of ``chunk`` after the step of ``iteration`` (taken out), or None."""
        with self._lock:
            entry = self._fits.get(fit, {}).pop(chunk, None)
        return entry[1] if entry is not None and entry[0] == iteration else None

    def put(self, fit, chunk, iteration, bounds):
        """Keep ``bounds``, those of ``chunk`` after the step of ``iteration``."""
        with self._lock:
            if fit in self._dropped:
                return  # the fit ended while this step ran: nothing will read them
            chunks = self._fits.pop(fit, None)
            if chunks is None:
                while len(self._fits) >= self.MAX_FITS:
                    self._fits.pop(next(iter(self._fits)))
                chunks = {}
            self._fits[fit] = chunks  # the most recently used last
            chunks[chunk] = (iteration, bounds)

    def drop(self, fit):
        """Forget the fit's bounds, and refuse them from then on; returns how many
        chunks' bounds were kept."""
        with self._lock:
            self._dropped[fit] = None
            while len(self._dropped) > self.MAX_DROPPED:
                self._dropped.pop(next(iter(self._dropped)))
            return len(self._fits.pop(fit, {}))

    def held(self):
        """The number of chunks' bounds kept, over all fits."""
        with self._lock:
            return sum(len(chunks) for chunks in self._fits.values())


BOUNDS = BoundsStore()


def drop_bounds(fit):
    """:meth:`BoundsStore.drop` on this process's store (run on every worker at a fit's end)."""
    return BOUNDS.drop(fit)


def held_bounds():
    """:meth:`BoundsStore.held` on this process's store."""
    return BOUNDS.held()


def farthest(dist, k):
    """Indices of the up to k largest positive ``dist``, largest first, ties to the lower index.

    The k-th largest value by a partition (linear time), then only the rows
    at or above it sorted: the order of a stable sort of all, at a fraction
    of its cost when the chunk has many more rows than k.
    """
    if dist.size > k:
        threshold = np.partition(dist, dist.size - k)[dist.size - k]
        candidates = np.flatnonzero(dist >= threshold)
    else:
        candidates = np.arange(dist.size)
    order = candidates[np.argsort(-dist[candidates], kind="stable")][:k]
    return order[dist[order] > 0]


def chunk_sqnorm_sum(part, origin):
    """float64 ``sum(w * ||x - origin||^2)`` of a validated chunk (origin None: 0), the
    first term of the objective expanded from the sums (:func:`update`)."""
    x, _, w, _ = part
    return {"wx2": weighted_sqnorm_sum(x, w, origin)}


def chunk_inertia(part, centers, n_threads):
    """Weighted inertia of a validated chunk against ``centers``."""
    x, sqnorms, w, _ = part
    return {"inertia": assign_rows(x, sqnorms, centers, w, n_threads)[2]}


def chunk_rows(part, rows):
    """The rows ``rows`` (local indices) of a validated chunk, and their weights."""
    x, _, w, _ = part
    return x[rows], (np.ones(len(rows), dtype=x.dtype) if w is None else w[rows])


def part_stats(part):
    """The stats of a validated chunk."""
    return part[3]


def part_weights(part):
    """The weights of a validated chunk (None: unit weights)."""
    return part[2]


def second(pair):
    """The second item of a task's pair (the stats that are reduced)."""
    return pair[1]


def checked_chunk(x, centers, index, n_features):
    """A chunk of new data checked against fitted centers (predict / transform / score)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(
            f"X: chunk {index} has shape {x.shape}, but the model was fitted on "
            f"{n_features} features"
        )
    x = check_data(x, f"X (chunk {index})", dtype=centers.dtype)
    sqnorms = row_norms(x, n_threads=1, check_input=False)
    check_range(sqnorms, name=f"X (chunk {index})")
    return x, sqnorms


def chunk_predict(x, centers, n_features, block_info=None):
    """Nearest center of every row of a chunk of new data (map_blocks)."""
    x, sqnorms = checked_chunk(x, centers, _block_index(block_info), n_features)
    return assign_rows(x, sqnorms, centers, None, 1)[0]


def chunk_transform(x, centers, n_features, block_info=None):
    """Euclidean distances of a chunk's rows to every center (map_blocks)."""
    x, sqnorms = checked_chunk(x, centers, _block_index(block_info), n_features)
    D = pairwise_sqdist(x, centers, sqnorms, n_threads=1, check_input=False)
    return np.sqrt(D, out=D)


def chunk_score(x, w, centers, index, n_features):
    """Weighted inertia of a chunk of new data against ``centers``."""
    x, sqnorms = checked_chunk(x, centers, index, n_features)
    if w is not None:
        w = np.ascontiguousarray(w, dtype=x.dtype)
        if w.shape != (x.shape[0],) or not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"sample_weight: chunk {index} must hold {x.shape[0]} finite, "
                             "non-negative weights")
    return {"inertia": assign_rows(x, sqnorms, centers, w, 1)[2]}


def _block_index(block_info):
    return block_info[0]["chunk-location"][0] if block_info else "?"


def combine(a, b):
    """Two chunks' stats added (a before b): arrays and numbers summed, ``far`` merged."""
    out = {}
    for key, value in a.items():
        if key == "far":
            out[key] = merge_far(value, b[key], len(a["weights"]))
        else:
            out[key] = value + b[key]
    return out


def merge_far(a, b, k):
    """The k farthest of two candidate sets: larger distance first, ties to the lower row."""
    cat = {key: np.concatenate([a[key], b[key]]) for key in a}
    order = np.lexsort((cat["row"], -cat["dist"]))[:k]
    return {key: value[order] for key, value in cat.items()}


def tree_reduce(items):
    """Reduce ``items`` (delayed stats in chunk order) by a binary tree over their index.

    Pairs (0, 1), (2, 3), ... then the pairs' results in order: a fixed shape,
    so the float64 sums are added in the same order whatever runs where.
    Each task adds a block of FAN_IN consecutive results in memory by that
    same tree (a block aligned on a power of two is one of its subtrees):
    one hop between workers per FAN_IN-fold reduction, not per pair, since
    every hop is a few messages and the iteration waits for them all.
    """
    block = dask.delayed(add_in_tree, pure=True)
    level = list(items)
    while len(level) > 1:
        level = [block(*level[i:i + FAN_IN]) if len(level[i:i + FAN_IN]) > 1 else level[i]
                 for i in range(0, len(level), FAN_IN)]
    return level[0]


def add_in_tree(*stats):
    """The chunks' stats (in chunk order) combined by the binary tree of :func:`tree_reduce`."""
    level = list(stats)
    while len(level) > 1:
        nxt = [combine(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# ------------------------------------------------------------------ the fixed tree as nodes
# Node (level, j) of the tree over n chunks holds the chunks
# [j * 2**level, min((j + 1) * 2**level, n)): the pairwise tree of
# tree_reduce, where a level's odd last node is carried up unchanged.


def root_level(n):
    """The level of the root of the tree over n chunks."""
    return (n - 1).bit_length()


def _node_value(nodes, level, j, n):
    """The stats of node (level, j), from the nodes given (a dict) and their children."""
    if (level, j) in nodes:
        return nodes[(level, j)]
    left = _node_value(nodes, level - 1, 2 * j, n)
    if (2 * j + 1) << (level - 1) < n:
        return combine(left, _node_value(nodes, level - 1, 2 * j + 1, n))
    return left  # carried up


def held_subtrees(leaves, n):
    """The largest subtrees whose chunks are all in ``leaves`` (a dict chunk -> stats), added.

    Returns a dict (level, j) -> stats: what a worker holding those chunks
    contributes to the root. Adjacent chunks on one worker are added there
    (one result sent instead of two); the additions are the tree's, so
    :func:`add_subtrees` gives the same root for any split of the chunks.
    """
    nodes = {(0, j): stats for j, stats in leaves.items()}
    out = {}

    def visit(level, j):
        lo, hi = j << level, min((j + 1) << level, n)
        held = sum(1 for c in range(lo, hi) if c in leaves)
        if held == hi - lo:
            out[(level, j)] = _node_value(nodes, level, j, n)
        elif held:
            visit(level - 1, 2 * j)
            if (2 * j + 1) << (level - 1) < n:
                visit(level - 1, 2 * j + 1)

    visit(root_level(n), 0)
    return out


def add_subtrees(groups, n):
    """The root of the tree over n chunks from the groups' :func:`held_subtrees` dicts."""
    nodes = {}
    for group in groups:
        nodes.update(group)
    return _node_value(nodes, root_level(n), 0, n)


# ------------------------------------------------------------------ one Lloyd iteration


def group_step(ids, state, offsets, n_chunks, n_threads, previous, *parts):
    """:func:`chunk_step` on the chunks ``ids`` (in order; ``parts`` are theirs), added.

    ``state`` is the dict :func:`update` returned for the iteration before
    (its ``centers``; None: that iteration left a cluster empty and the
    client refills it, so this one is not run). Returns the chunks'
    :func:`held_subtrees`, or None.
    """
    centers = state["centers"]
    if centers is None:
        return None
    leaves = {j: chunk_step(part, centers, offsets[j], n_threads, previous)
              for j, part in zip(ids, parts, strict=True)}
    return held_subtrees(leaves, n_chunks)


def group_bounded_step(ids, state, fit, iteration, center_group, n_chunks, n_threads,
                       previous, direct, *parts):
    """:func:`chunk_bounded_step` on the chunks ``ids`` (``parts`` are theirs), added.

    ``fit`` and ``iteration`` (the step's index in the run) name the
    chunks' bounds in :data:`BOUNDS`: those of ``iteration - 1`` are taken
    and updated in place with ``state["drift"]`` (None: new bounds), then
    kept as those of ``iteration``. ``direct``: the stats hold the inertia
    by direct distances (see :func:`chunk_bounded_step`). Returns the
    chunks' :func:`held_subtrees`, or None when ``state`` says the iteration
    is not run.
    """
    centers = state["centers"]
    if centers is None:
        return None
    drift = state.get("drift")
    leaves = {}
    for j, part in zip(ids, parts, strict=True):
        bounds = None if drift is None else BOUNDS.take(fit, j, iteration - 1)
        leaves[j], bounds = chunk_bounded_step(part, centers, drift, bounds, center_group,
                                               n_threads, previous, direct)
        BOUNDS.put(fit, j, iteration, bounds)
    return held_subtrees(leaves, n_chunks)


def iteration_step(fn, prior, results, reduce_args, ids, *args):
    """One group's step of an iteration (``fn``: :func:`group_step` or
    :func:`group_bounded_step` with ``ids, state, *args``), after its centers.

    ``results`` None: the centers are ``prior["state"]``'s (the graph's
    first step, or a separate :func:`reduced_update`'s result). Otherwise
    every group's result of the iteration before, in group order: this
    task adds them itself (:func:`update` with ``reduce_args``), bitwise as
    every other group's task does, so the next centers are computed where
    they are used and no task sits between two iterations. Returns
    ``{"state": the update used, "stats": the group's held subtrees}``.
    """
    if results is None:
        state = prior["state"]
    else:
        state = update(results[0]["state"], *reduce_args, *[r["stats"] for r in results])
    return {"state": state, "stats": fn(ids, state, *args)}


def reduced_update(results, *reduce_args):
    """:func:`update` of every group's :func:`iteration_step` result, as ``{"state": ...}``."""
    return {"state": update(results[0]["state"], *reduce_args, *[r["stats"] for r in results])}


def update(state, n_chunks, dtype, n_threads, expand, *groups):
    """The reduced step of an iteration and the new centers, on a worker.

    ``expand``: None (the reduced stats hold the ``inertia``), or ``(origin,
    wx2)``, the origin and ``sum w ||x - origin||^2`` of the data, from which
    the objective is expanded with the reduced sums and the iteration's
    centers (:func:`dynkm._lloyd.sums_objective`, the in-memory bounded
    driver's), when the stats hold no inertia.

    Returns a dict: ``centers``, the new centers (None when a cluster is
    left without weight: the client refills it from the far rows, so
    ``stats`` and ``centers_in``, the iteration's centers, are kept), and
    ``info``, what the client reads of every iteration (objective, squared
    center shift, imbalance, the changed-labels count; None when the
    iteration was not run).
    """
    centers = state["centers"]
    if centers is None or any(group is None for group in groups):
        return {"centers": None, "info": None}
    stats = add_subtrees(groups, n_chunks)
    weights = stats["weights"]
    if "inertia" in stats:
        objective = stats["inertia"]
    else:
        origin, wx2 = expand
        objective = sums_objective(centers, stats["sums"], weights, wx2, origin)
    info = {"objective": objective, "changed": stats["changed"], "empty": False,
            "distances": stats.get("distances")}
    if (weights == 0).any():
        info["empty"] = True
        return {"centers": None, "info": info, "stats": stats, "centers_in": centers}
    new, shift = new_centers(stats["sums"], weights, centers, dtype, n_threads)
    info.update(shift2=float((shift ** 2).sum()), imbalance=imbalance(weights))
    # drift: how far each center moved, for the next bounded step.
    return {"centers": new, "info": info, "drift": shift}


def new_centers(sums, weights, centers, dtype, n_threads):
    """The means ``sums / weights`` in ``dtype`` (``centers`` where a weight is 0) and
    how far each center moved from ``centers`` (float64, shape (k,))."""
    shift = np.empty(centers.shape[0], dtype=np.float64)
    new = means_from_sums(sums, weights, centers, dtype, shift, n_threads)
    return new, shift


def imbalance(weights):
    """k * sum(W_c^2) / (sum W_c)^2 of the clusters' weights (1: all equal)."""
    return len(weights) * float(weights @ weights) / float(weights.sum()) ** 2


def pick(value, key):
    """``value[key]`` (a task: what the client fetches of a larger result)."""
    return value[key]


def pick_info(value, with_centers=False):
    """``value["state"]["info"]``: what the client reads of an iteration; ``with_centers``
    (a graph's last iteration, from which the next graph goes on): with the state's
    ``centers`` and ``drift`` (None when the iteration was not run or left a cluster
    empty), so the client needs no call more for them."""
    info = value["state"]["info"]
    if not with_centers or info is None:
        return info
    state = value["state"]
    return dict(info, centers=state["centers"], drift=state.get("drift"))
