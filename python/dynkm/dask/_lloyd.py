"""Lloyd's iterations on the chunks, several iterations per graph.

The iterations and the stopping rule are those of ``dynkm.KMeans``
(``dynkm._lloyd.run_lloyd``). Each graph holds ``chain`` iterations:
iteration i's tasks are one per group of chunks
(:func:`dynkm.dask._chunks.group_step`, or with bounds
:func:`dynkm.dask._chunks.group_bounded_step`, on the worker holding them)
and :func:`dynkm.dask._chunks.update` (one per worker, or one: see
:func:`chain_graph`), which adds the groups' results over the fixed tree and
divides the sums into the next centers, the input of iteration i + 1's
tasks. The centers stay on the workers; the client reads
a few numbers per iteration as they come (the stopping rule's), while the
next iterations already run, and drops what ran past the stop: the same
iterations, n_iter and history as one graph per iteration, without a
round trip through the client between them.

With bounds (:func:`choose_strategy`), each group's step also takes the
group's result of the iteration before (its chunks' bounds and labels, on
the same worker) and returns new ones; the client keeps the futures of the
last iteration it read, the next graph's starting point. Those futures
have lineage: a lost worker's bounds are recomputed from the graphs
before, bitwise the same (every task is a function of its inputs).

An iteration that leaves a cluster without weight ends its graph: the
client fetches that iteration's reduced stats (with bounds, of the same
iteration again by Lloyd's pass, which keeps the farthest rows), refills
the cluster from the farthest rows (:func:`relocate_empty`, which reads
those rows where they live) and starts the next graph from the centers it
computed, the bounds afresh.
"""

import time

import dask
import numpy as np

from dynkm._history import new_history, record
from dynkm import _lloyd as memory_rule
from dynkm._lloyd import AUTO_MIN_SAMPLES, HISTORY_COLUMNS, choose_algorithm
from dynkm.dask import _chunks
from dynkm.dask._data import broadcast
from kmcore.yinyang import center_groups

# Iterations per graph with a distributed Client (dask's local schedulers
# have no round trip to save: one iteration per compute there).
CHAIN = 10
# Up to this many workers, each computes every iteration's update itself
# (see chain_graph); beyond, the all-to-all of the groups' results would cost
# more than the second hop it saves.
MAX_REPLICAS = 4


def choose_strategy(algorithm, sizes, n_clusters, n_features):
    """What a fit runs on chunks of ``sizes`` rows: ``(name, n_groups, reason)``.

    The in-memory rule (:func:`dynkm._lloyd.choose_algorithm`: "auto" picks
    Lloyd's pass for few clusters or rows, Hamerly's bounds for few features,
    else Yinyang's groups; "elkan", "yinyang" and "lloyd" as asked), its
    memory budget (``dynkm._lloyd.BOUNDS_BUDGET``) counting every chunk's
    bounds twice: a step task holds its chunks' bounds of the iteration
    before and its new ones at once (a task must not change its inputs).
    The bounds of all the chunks, wherever they live, twice over, must fit
    the budget; above it, Lloyd's pass (which keeps nothing per row).
    """
    if algorithm == "elkan" and n_clusters == 1:
        return "lloyd", 0, "dynkm.dask: elkan with a single cluster (lloyd)"
    n = int(sum(sizes))
    # The rule reads the number of rows twice: against auto's minimum (of
    # the data) and for the bounds' memory (two copies here; data below
    # that minimum keep one copy's count: a few hundred kB of bounds).
    name, n_groups, reason = choose_algorithm(algorithm, n if n < AUTO_MIN_SAMPLES else 2 * n,
                                              n_clusters, n_features)
    if "budget" in reason:
        reason = (f"{reason.split(':')[0]}: the chunks' bounds, twice over (a step's input "
                  f"and output), would exceed the budget of "
                  f"{memory_rule.BOUNDS_BUDGET / 2**20:.0f} MiB")
    return name, n_groups, f"dynkm.dask: {reason}"


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


def chain_graph(data, centers, previous, length, n_threads, plan=None, direct_last=False):
    """``length`` iterations from ``centers`` as delayed objects: their updates and infos.

    ``previous`` (None or centers): the first iteration also counts its
    labels that differ from those against ``previous``. With a few workers
    every one computes the update from all the groups' results (bitwise the
    same everywhere: the same inputs, the same additions), so its next
    step's centers are already there: one hop between workers per
    iteration, not two (to the reducing worker and back). With more, one
    update, which every worker fetches.

    ``plan`` (None: Lloyd's pass) runs the bounded steps
    (:func:`dynkm.dask._chunks.group_bounded_step`): a :class:`BoundedPlan`,
    whose ``carry`` (each group's last result, or None) and ``drift`` the
    first step starts from. Each group's step takes its own result of the
    iteration before, on the worker holding both; the objective of a
    bounded step is expanded from its reduced sums (``plan.expand``), the
    last step's summed from direct distances with ``direct_last`` (the
    inertia of the final centers). Returns ``(updates, infos,
    lasts)``: ``lasts``, the groups' results of the last step (empty without
    a plan), from which the next graph goes on.
    """
    homes = sorted({home[0] for home, _ in data.groups if home is not None})
    replicas = homes if 0 < len(homes) <= MAX_REPLICAS else [None]
    first = {"centers": centers}
    if plan is not None:
        first["drift"] = plan.drift if plan.carry is not None else None
    first = broadcast(first)
    state = {replica: first for replica in replicas}
    sent_previous = None if previous is None else broadcast(previous)
    step = dask.delayed(_chunks.group_step, pure=True)
    bounded_step = dask.delayed(_chunks.group_bounded_step, pure=True)
    update = dask.delayed(_chunks.update, pure=True)
    pick = dask.delayed(_chunks.pick, pure=True)
    n_chunks = len(data.parts)
    # Each group's latest result (a copy: the plan's carry is released by the caller).
    before = [None] * len(data.groups) if plan is None or plan.carry is None else list(plan.carry)
    center_group = None if plan is None else broadcast(plan.center_group)
    expand = None if plan is None else broadcast(plan.expand)
    updates, infos = [], []
    for t in range(length):
        groups = []
        for g, (home, ids) in enumerate(data.groups):
            replica = home[0] if home is not None and home[0] in state else replicas[0]
            parts = [data.parts[j] for j in ids]
            prev = sent_previous if t == 0 else None
            with data.pinned(home):
                if plan is None:
                    groups.append(step(ids, state[replica], data.offsets, n_chunks, n_threads,
                                       prev, *parts))
                    continue
                before[g] = bounded_step(ids, state[replica], before[g], center_group,
                                         n_chunks, n_threads, prev,
                                         direct_last and t == length - 1, *parts)
                # Only the stats leave the worker; the bounds stay for the next step.
                groups.append(pick(before[g], "stats"))
        for replica in replicas:
            with data.pinned(None if replica is None else [replica]):
                state[replica] = update(state[replica], n_chunks, data.dtype, n_threads,
                                        expand, *groups)
        updates.append(state[replicas[0]])
        infos.append(pick(updates[-1], "info"))
    return updates, infos, (before if plan is not None else [])


class BoundedPlan:
    """What a bounded run carries from one graph to the next.

    ``center_group``: Yinyang's group of every center (from the run's initial
    centers, as in memory; None for Hamerly's bounds). ``carry``: the
    groups' results of the last iteration read (futures on the workers, or
    values with dask's local schedulers), None to start the bounds afresh
    (the first graph, and after the client refilled an empty cluster);
    ``drift``: how far each center moved in that iteration. ``expand``: the
    data's ``(origin, sum w ||x - origin||^2)``, from which each iteration's
    objective is expanded (:meth:`ChunkedData.objective_terms`).
    """

    def __init__(self, center_group, expand):
        self.center_group = center_group
        self.expand = expand
        self.carry = None
        self.drift = None

    def restart(self):
        self.carry, self.drift = None, None


def iteration_info(runner, handle):
    """What the client reads of an iteration: the ``info`` of its update (one call each)."""
    return runner.result(handle)


def run_lloyd(data, centers, max_iter, tol, check_every, n_threads, verbose, chain=None,
              strategy=None):
    """Lloyd's iterations on the chunks from ``centers`` (the rule of ``dynkm._lloyd``).

    ``chain``: iterations per graph (None: ``CHAIN`` with a Client, else 1);
    the result does not depend on it. ``strategy``: ``(name, n_groups,
    reason)`` of :func:`choose_strategy` (None: Lloyd's pass). With Lloyd's
    pass nothing of an iteration stays on the workers, the labels neither:
    the in-memory rule stops strictly when a checked iteration's labels
    equal the step before's with nothing relocated, and those labels can be
    compared without keeping them (see :func:`strict_stop`). With bounds,
    each chunk's bounds and labels stay on its worker from one iteration
    to the next (task results, never changed in place), and are released
    when the run ends.

    Returns a dict: centers, inertia (of the final centers), n_iter, history.
    """
    runner = Runner(data.client)
    if chain is None:
        chain = CHAIN if data.client is not None else 1
    name, n_groups, reason = strategy or ("lloyd", 0, "dynkm.dask: Lloyd by chunks")
    plan = None
    if name != "lloyd":
        # The grouping of the run's initial centers, as in memory.
        center_group = None if name == "hamerly" else center_groups(centers, n_groups)
        n_groups = 1 if center_group is None else int(center_group.max()) + 1
        plan = BoundedPlan(center_group, data.objective_terms())
    # The in-memory driver's columns, recorded the same way.
    history = new_history(HISTORY_COLUMNS)
    previous = None  # the centers of a step that relocated (for the label count after it)
    moved = None  # the rows it relocated
    n_distances = data.n_samples * centers.shape[0]
    i = 0
    try:
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
            updates, infos, lasts = chain_graph(data, centers, previous if compare else None,
                                                size, n_threads, plan, size > length)
            handles = runner.submit(updates + infos + lasts)
            if plan is not None:
                # The bounds carried in: the scheduler keeps them until the
                # graph's first step has read them, then frees them.
                runner.release(plan.carry or [])
                plan.restart()
            updates, infos, lasts = (handles[:size], handles[size:2 * size],
                                     handles[2 * size:])
            kept = False
            try:
                t0 = time.perf_counter()
                for t in range(length):
                    info = iteration_info(runner, infos[t])
                    relocated, refilled = 0, info["empty"]
                    fraction = 1.0 if plan is None else info["distances"] / n_distances
                    if refilled:
                        # Refilled on the client (the graph's later steps did not run).
                        step = runner.result(updates[t])
                        if plan is not None:
                            # The bounded steps keep no far rows: the iteration again
                            # by Lloyd's pass (the same labels), which has them.
                            step = _lloyd_again(runner, data, step["centers_in"],
                                                previous if compare and t == 0 else None,
                                                n_threads)
                            info, fraction = step["info"], fraction + 1.0
                        stats = step["stats"]
                        relocated = relocate_empty(data, stats)
                        centers, shift = _chunks.new_centers(stats["sums"], stats["weights"],
                                                             step["centers_in"], data.dtype,
                                                             n_threads)
                        info = dict(info, shift2=float((shift ** 2).sum()),
                                    imbalance=_chunks.imbalance(stats["weights"]))
                        previous, moved = step["centers_in"], stats.get("moved")
                    record(history, objective=info["objective"], center_shift=info["shift2"],
                           n_relocated=relocated, imbalance=info["imbalance"],
                           distance_fraction=fraction, seconds=time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    stop = _stop(i, info, history["n_relocated"], compare and t == 0, tol,
                                 check_every, max_iter, history["seconds"][-1], verbose)
                    i += 1
                    if stop is not None or refilled:
                        break
                if stop is None:
                    if not refilled:  # the graph ran to its end: on from its last centers
                        last = runner.result(updates[t])
                        centers = last["centers"]
                        if plan is not None:
                            # Its bounds go on into the next graph (kept on the workers).
                            plan.carry, plan.drift = _carried(runner, lasts), last["drift"]
                            kept = True
                    continue
                if not refilled:
                    centers = runner.result(updates[t])["centers"]
                inertia = None
                if stop == "strict" and plan is None:
                    # Same labels as the step before: the centers (sums of the same rows
                    # in the same order) and the inertia against them are those of the step.
                    inertia = info["objective"]
                elif (t + 1 < size and not refilled
                      and (plan is None or (t + 2 == size and size > length))):
                    # The next step's objective: the inertia of the final centers (with
                    # bounds only the graph's last step's, summed from direct distances).
                    inertia = iteration_info(runner, infos[t + 1])["objective"]
            finally:
                runner.release(handles if not kept else updates + infos)
            if inertia is None:  # the stop ended a graph: one step more from the final centers
                # By the run's own strategy: a bounded run's final inertia is summed from
                # direct distances (as in memory), Lloyd's pass's from its expansion
                # (even after a strict stop, where a bounded run's objectives are
                # expanded from the sums), and the inertia
                # must not depend on where the stop fell in a graph. The bounds start
                # afresh there (the last graph's were released); the labels are exact.
                final_plan = (None if plan is None
                              else BoundedPlan(plan.center_group, plan.expand))
                handles = runner.submit(
                    chain_graph(data, centers, None, 1, n_threads, final_plan, True)[1])
                inertia = runner.result(handles[0])["objective"]
                runner.release(handles)
            break
    finally:
        if plan is not None:
            runner.release(plan.carry or [])
    history.update(algorithm=name, n_groups=n_groups, algorithm_reason=reason)
    return {"centers": centers, "inertia": float(inertia), "n_iter": i, "history": history}


def _lloyd_again(runner, data, centers, previous, n_threads):
    """The update of one Lloyd iteration from ``centers`` (computed, released)."""
    handles = runner.submit(chain_graph(data, centers, previous, 1, n_threads)[0])
    try:
        return runner.result(handles[0])
    finally:
        runner.release(handles)


def _carried(runner, lasts):
    """The groups' last results as the next graph's inputs: the futures themselves on a
    Client (they stay on their workers), else the values as tasks of the next graph."""
    if runner.client is not None:
        return list(lasts)
    return [broadcast(value) for value in lasts]


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
