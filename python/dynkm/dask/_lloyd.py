"""Lloyd's iterations on the chunks, several iterations per graph.

The iterations and the stopping rule are those of
``dynkm.KMeans(algorithm="lloyd")`` (``dynkm._lloyd.run_lloyd``). Each graph
holds ``chain`` iterations: iteration i's tasks are one per group of chunks
(:func:`dynkm.dask._chunks.group_step`, on the worker holding them) and
:func:`dynkm.dask._chunks.update` (one per worker, or one: see
:func:`chain_graph`), which adds the groups' results over the fixed tree and
divides the sums into the next centers, the input of iteration i + 1's
tasks. The centers stay on the workers; the client reads
a few numbers per iteration as they come (the stopping rule's), while the
next iterations already run, and drops what ran past the stop: the same
iterations, n_iter and history as one graph per iteration, without a
round trip through the client between them.

An iteration that leaves a cluster without weight ends its graph: the
client fetches that iteration's reduced stats, refills the cluster from the
farthest rows (:func:`relocate_empty`, which reads those rows where they
live) and starts the next graph from the centers it computed. Every graph
starts from centers the client holds, so a lost worker's share is
recomputed from at most one graph's iterations.
"""

import time

import dask
import numpy as np

from dynkm._history import new_history, record
from dynkm._lloyd import HISTORY_COLUMNS
from dynkm.dask import _chunks
from dynkm.dask._data import broadcast

# Iterations per graph with a distributed Client (dask's local schedulers
# have no round trip to save: one iteration per compute there).
CHAIN = 10
# Up to this many workers, each computes every iteration's update itself
# (see chain_graph); beyond, the all-to-all of the groups' results would cost
# more than the second hop it saves.
MAX_REPLICAS = 4


class Runner:
    """Graphs computed on the Client as futures, or at once by dask's local scheduler."""

    def __init__(self, client):
        self.client = client

    def submit(self, values):
        if self.client is None:
            return list(dask.compute(*values))
        return self.client.compute(values)

    def result(self, handle):
        return handle if self.client is None else handle.result()

    def release(self, handles):
        """Forget the results (tasks no longer wanted and not yet run do not run).

        Released, not cancelled: cancelling futures that depend on each
        other trips an assertion in distributed's scheduler.
        """
        if self.client is not None:
            for handle in handles:
                handle.release()


def chain_graph(data, centers, previous, length, n_threads):
    """``length`` iterations from ``centers`` as delayed objects: their updates and infos.

    ``previous`` (None or centers): the first iteration also counts its
    labels that differ from those against ``previous``. With a few workers
    every one computes the update from all the groups' results (bitwise the
    same everywhere: the same inputs, the same additions), so its next
    step's centers are already there: one hop between workers per
    iteration, not two (to the reducing worker and back). With more, one
    update, which every worker fetches.
    """
    homes = sorted({home[0] for home, _ in data.groups if home is not None})
    replicas = homes if 0 < len(homes) <= MAX_REPLICAS else [None]
    first = broadcast({"centers": centers})
    state = {replica: first for replica in replicas}
    sent_previous = None if previous is None else broadcast(previous)
    step = dask.delayed(_chunks.group_step, pure=True)
    update = dask.delayed(_chunks.update, pure=True)
    pick = dask.delayed(_chunks.pick, pure=True)
    n_chunks = len(data.parts)
    updates, infos = [], []
    for t in range(length):
        groups = []
        for home, ids in data.groups:
            replica = home[0] if home is not None and home[0] in state else replicas[0]
            with data.pinned(home):
                groups.append(step(ids, state[replica], data.offsets, n_chunks, n_threads,
                                   sent_previous if t == 0 else None,
                                   *[data.parts[j] for j in ids]))
        for replica in replicas:
            with data.pinned(None if replica is None else [replica]):
                state[replica] = update(state[replica], n_chunks, data.dtype, n_threads, *groups)
        updates.append(state[replicas[0]])
        infos.append(pick(updates[-1], "info"))
    return updates, infos


def iteration_info(runner, handle):
    """What the client reads of an iteration: the ``info`` of its update (one call each)."""
    return runner.result(handle)


def run_lloyd(data, centers, max_iter, tol, check_every, n_threads, verbose, chain=None):
    """Lloyd's iterations on the chunks from ``centers`` (the rule of ``dynkm._lloyd``).

    ``chain``: iterations per graph (None: ``CHAIN`` with a Client, else 1);
    the result does not depend on it. Nothing of an iteration stays on the
    workers, the labels neither: the in-memory rule stops strictly when a
    checked iteration's labels equal the step before's with nothing
    relocated, and those labels can be compared without keeping them (see
    :func:`strict_stop`).

    Returns a dict: centers, inertia (of the final centers), n_iter, history.
    """
    runner = Runner(data.client)
    if chain is None:
        chain = CHAIN if data.client is not None else 1
    # The in-memory driver's columns, recorded the same way.
    history = new_history(HISTORY_COLUMNS)
    previous = None  # the centers of a step that relocated (for the label count after it)
    moved = None  # the rows it relocated
    i = 0
    while True:
        # After a relocation the labels must be compared (see strict_stop):
        # the step before's are assigned again in the graph's first tasks.
        compare = (_checked(i, check_every, max_iter) and i > 0
                   and history["n_relocated"][-1] > 0
                   and not surely_moved(moved, centers))
        length = min(chain, max_iter - i)
        # The run's last graph has one step more: its objective is the
        # inertia of the final centers.
        size = length + (length == max_iter - i)
        updates, infos = chain_graph(data, centers, previous if compare else None, size,
                                     n_threads)
        handles = runner.submit(updates + infos)
        updates, infos = handles[:size], handles[size:]
        try:
            t0 = time.perf_counter()
            for t in range(length):
                info = iteration_info(runner, infos[t])
                relocated = 0
                if info["empty"]:
                    # Refilled on the client (the graph's later steps did not run).
                    step = runner.result(updates[t])
                    stats = step["stats"]
                    relocated = relocate_empty(data, stats)
                    centers, shift2 = _chunks.new_centers(stats["sums"], stats["weights"],
                                                          step["centers_in"], data.dtype,
                                                          n_threads)
                    info = dict(info, shift2=shift2,
                                imbalance=_chunks.imbalance(stats["weights"]))
                    previous, moved = step["centers_in"], stats.get("moved")
                record(history, objective=info["objective"], center_shift=info["shift2"],
                       n_relocated=relocated, imbalance=info["imbalance"],
                       distance_fraction=1.0, seconds=time.perf_counter() - t0)
                t0 = time.perf_counter()
                stop = _stop(i, info, history["n_relocated"], compare and t == 0, tol,
                             check_every, max_iter, history["seconds"][-1], verbose)
                i += 1
                if stop is not None or relocated:
                    break
            if stop is None:
                if not relocated:  # the graph ran to its end: on from its last centers
                    centers = runner.result(updates[t])["centers"]
                continue
            if not relocated:
                centers = runner.result(updates[t])["centers"]
            inertia = None
            if stop == "strict":
                # Same labels as the step before: the centers (sums of the same rows
                # in the same order) and the inertia against them are those of the step.
                inertia = info["objective"]
            elif t + 1 < size and not relocated:
                # The next step's objective: the inertia of the final centers.
                inertia = iteration_info(runner, infos[t + 1])["objective"]
        finally:
            runner.release(handles)
        if inertia is None:  # the stop ended a graph: one step more from the final centers
            handles = runner.submit(chain_graph(data, centers, None, 1, n_threads)[1])
            inertia = runner.result(handles[0])["objective"]
            runner.release(handles)
        break
    history.update(algorithm="lloyd", n_groups=0, algorithm_reason="dynkm.dask: Lloyd by chunks")
    return {"centers": centers, "inertia": float(inertia), "n_iter": i, "history": history}


def _checked(i, check_every, max_iter):
    """Whether iteration i tests convergence."""
    return (i + 1) % check_every == 0 or i == max_iter - 1


def _stop(i, info, n_relocated, counted, tol, check_every, max_iter, seconds, verbose):
    """Why the run ends at iteration i ("strict", "tol", "max_iter"), or None.

    ``counted``: ``info["changed"]`` holds this step's changed labels.
    """
    shift2 = info["shift2"]
    if verbose:
        print(f"iteration {i}: objective {info['objective']:.6g}, center shift "
              f"{shift2:.3g}, {seconds:.3f} s")
    if _checked(i, check_every, max_iter):
        if i > 0 and strict_stop(n_relocated, shift2, info["changed"] if counted else None):
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            return "strict"  # same partition as the iteration before
        if shift2 <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {shift2} within "
                      f"tolerance {tol}.")
            return "tol"
    return "max_iter" if i == max_iter - 1 else None


def surely_moved(moved, centers):
    """Whether a row relocated by the step before surely left its old cluster's label.

    ``moved`` (from :func:`relocate_empty`): the rows, their labels and the
    clusters they refilled. A row whose new cluster's center is nearer than
    its old one's by more than any rounding of kmcore's distances (a bound
    on the float error of ``|x|^2 - 2 x.c + |c|^2``, taken 4 times over) is
    not labelled as before: some label changed, no need to count them.
    """
    if moved is None:
        return False
    x = moved["x"]
    c = centers.astype(np.float64)
    old, new = c[moved["label"]], c[moved["cluster"]]
    d_old = ((x - old) ** 2).sum(axis=1)
    d_new = ((x - new) ** 2).sum(axis=1)
    scale = (x ** 2).sum(axis=1) + (old ** 2).sum(axis=1) + (new ** 2).sum(axis=1)
    margin = 8 * (x.shape[1] + 2) * np.finfo(centers.dtype).eps * scale
    return bool(np.any(d_old - d_new > margin))


def strict_stop(n_relocated, shift2, changed):
    """Whether a checked step (not the first) ends the run by the in-memory strict rule.

    The rule: nothing relocated in this step and its labels equal the step
    before's. ``n_relocated`` lists the relocations of every step so far
    (this one last), ``shift2`` is this step's squared center shift and
    ``changed`` the count of changed labels (None: not counted). When the
    step before relocated nothing, equal labels give bitwise equal sums and
    weights (the same rows in the same order), hence centers equal to the
    ones they were computed from: a shift of exactly 0. So a nonzero shift
    means some label changed, and a zero shift stops the run in memory
    anyway (``shift2 <= tol``) with the same centers and n_iter, and labels
    and inertia against the same centers. After a relocation the centers
    also hold the moved rows, so there the labels are counted.
    """
    if n_relocated[-1] != 0:
        return False
    if n_relocated[-2] != 0:
        return changed == 0
    return shift2 == 0.0


def relocate_empty(data, stats):
    """Refill clusters of zero weight with the farthest rows, as kmcore's Lloyd step does.

    The rows of positive weight farthest from their center (ties to the lower
    row index) move, farthest first, into the empty clusters in index order;
    a donor left without a row of positive weight reads weight 0. ``stats``'
    sums and weights are changed in place, and ``stats["moved"]`` set to the
    rows moved, their labels and the clusters they refill (for
    :func:`surely_moved`); returns the number of rows moved.
    """
    sums, weights = stats["sums"], stats["weights"]
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return 0
    far = {key: value[:empty.size] for key, value in stats["far"].items()}
    x, _ = data.rows(far["row"])
    stats["moved"] = {"x": x.astype(np.float64), "label": far["label"],
                      "cluster": empty[:far["row"].size]}
    for cluster, xi, wi, old in zip(empty, x.astype(np.float64), far["weight"], far["label"],
                                    strict=False):
        sums[old] -= wi * xi
        weights[old] -= wi
        sums[cluster] = wi * xi
        weights[cluster] = wi
    for old in np.unique(far["label"]):
        if stats["n_positive"][old] == np.count_nonzero(far["label"] == old):
            weights[old] = 0.0
            sums[old] = 0.0
    return int(far["row"].size)
