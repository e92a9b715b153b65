"""Lloyd's iterations on the chunks, several iterations per graph.

The iterations and the stopping rule are those of ``dynkm.KMeans``
(``dynkm._lloyd.run_lloyd``). Each graph holds ``chain`` iterations:
iteration i's tasks are one per group of chunks
(:func:`dynkm.dask._chunks.iteration_step` running
:func:`dynkm.dask._chunks.group_step`, or with bounds
:func:`dynkm.dask._chunks.group_bounded_step`, on the worker holding them).
With a few workers, iteration i + 1's task of every group takes all the
groups' results of iteration i, adds them over the fixed tree and divides
the sums into its centers itself (:func:`dynkm.dask._chunks.update`, the
same bits in every group): between two iterations the workers only
exchange their partial results, one hop, with no task in between. With
more workers, one update task per iteration (see :func:`chain_graph`). The
centers stay on the workers; the client reads a few numbers per iteration
as they come (the stopping rule's), while the next iterations already
run, and drops what ran past the stop: the same iterations, n_iter and
history as one graph per iteration, without a round trip through the
client between them.

With bounds (:func:`choose_strategy`), each chunk's bounds and labels stay
in the store of the worker holding it (``dynkm.dask._chunks.BOUNDS``),
from one iteration to the next and from one graph to the next, updated in
place by its steps; a step that finds none of the iteration before (a
lost worker's chunk recomputed elsewhere, a retry) starts new bounds,
which give the same labels. The run's bounds are dropped when it ends.

An iteration that leaves a cluster without weight ends its graph: the
client fetches that iteration's reduced stats (with bounds, of the same
iteration again by Lloyd's pass, which keeps the farthest rows), refills
the cluster from the farthest rows (:func:`relocate_empty`, which reads
those rows where they live) and starts the next graph from the centers it
computed, the bounds afresh.
"""

import time
import uuid

import dask
import numpy as np

from dynkm._history import new_history, record
from dynkm._lloyd import HISTORY_COLUMNS, choose_algorithm
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
    else Yinyang's groups; "elkan", "yinyang" and "lloyd" as asked) with its
    memory budget (``dynkm._lloyd.BOUNDS_BUDGET``): the bounds of all the
    chunks, wherever they live, must fit it (each chunk's bounds are one
    object, updated in place by its steps); above it, Lloyd's pass (which
    keeps nothing per row).
    """
    if algorithm == "elkan" and n_clusters == 1:
        return "lloyd", 0, "dynkm.dask: elkan with a single cluster (lloyd)"
    name, n_groups, reason = choose_algorithm(algorithm, int(sum(sizes)), n_clusters,
                                              n_features)
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

    def state(self, handle):
        """The ``state`` of an update handle (a step's result holds its group's stats too,
        which stay on the worker)."""
        if self.client is None:
            return handle["state"]
        return self.client.submit(_chunks.pick, handle, "state", pure=False).result()

    def release(self, handles):
        """Forget the results (tasks no longer wanted and not yet run do not run).

        Released, not cancelled: cancelling futures that depend on each
        other trips an assertion in distributed's scheduler.
        """
        if self.client is not None:
            for handle in handles:
                handle.release()

    def drop_bounds(self, fit):
        """Forget a run's bounds on every worker (here without a Client)."""
        if self.client is None:
            _chunks.drop_bounds(fit)
            return
        # A worker gone (its store with it) or failing, or the client itself
        # closed, is not the fit's error: this runs in a finally, where raising
        # would replace the error the fit is propagating.
        try:
            self.client.run(_chunks.drop_bounds, fit, on_error="ignore")
        except Exception:  # noqa: BLE001
            pass


def chain_graph(data, centers, previous, length, n_threads, plan=None, direct_last=False,
                start=0):
    """``length`` iterations from ``centers`` as delayed objects: their updates and infos.

    ``previous`` (None or centers): the first iteration also counts its
    labels that differ from those against ``previous``. Each group's step
    is one task on the worker holding its chunks
    (:func:`dynkm.dask._chunks.iteration_step`). With a few workers (up to
    ``MAX_REPLICAS``), the step of iteration t + 1 takes every group's
    result of iteration t and computes the update itself (bitwise the same
    in every group: the same inputs, the same additions): between two
    iterations each worker only fetches the others' results, no task runs
    in between. With more, one update task per iteration, whose result
    every group's next step fetches. The graph's last update is its own
    task (:func:`dynkm.dask._chunks.reduced_update`).

    ``plan`` (None: Lloyd's pass) runs the bounded steps
    (:func:`dynkm.dask._chunks.group_bounded_step`) of the run
    ``plan.fit``, the graph's first step being the run's iteration
    ``start``: each chunk's bounds are kept on its worker from one step to
    the next, across graphs too (from the bounds of the iteration before
    with ``plan.drift`` when ``plan.carry``, else new ones). The objective
    of a bounded step is expanded from its reduced sums (``plan.expand``),
    the last step's summed from direct distances with ``direct_last`` (the
    inertia of the final centers). Returns ``(updates, infos)``:
    ``updates[t]`` a result whose ``state`` is iteration t's update (read by
    :meth:`Runner.state`), ``infos[t]`` its ``info``.
    """
    homes = sorted({home[0] for home, _ in data.groups if home is not None})
    fused = 0 < len(homes) <= MAX_REPLICAS
    first = {"centers": centers}
    if plan is not None:
        first["drift"] = plan.drift if plan.carry else None
    prior = broadcast({"state": first})
    sent_previous = None if previous is None else broadcast(previous)
    step = dask.delayed(_chunks.iteration_step, pure=True)
    reduced = dask.delayed(_chunks.reduced_update, pure=True)
    info = dask.delayed(_chunks.pick_info, pure=True)
    n_chunks = len(data.parts)
    center_group = None if plan is None else broadcast(plan.center_group)
    expand = None if plan is None else broadcast(plan.expand)
    reduce_args = (n_chunks, data.dtype, n_threads, expand)
    updates, results = [], None
    for t in range(length):
        prev = sent_previous if t == 0 else None
        new = []
        for home, ids in data.groups:
            parts = [data.parts[j] for j in ids]
            if plan is None:
                fn, args = _chunks.group_step, (data.offsets, n_chunks, n_threads, prev)
            else:
                fn = _chunks.group_bounded_step
                args = (plan.fit, start + t, center_group, n_chunks, n_threads, prev,
                        direct_last and t == length - 1)
            with data.pinned(home):
                new.append(step(fn, prior, results, reduce_args, ids, *args, *parts))
        if results is not None:
            updates.append(new[0])  # its state: the update of iteration t - 1
        results = new
        if not fused or t == length - 1:
            with data.pinned(data.groups[0][0]):
                prior = reduced(results, *reduce_args)
            updates.append(prior)
            results = None
    # The last iteration the client reads of the graph (the one before its
    # extra step, if it has one) brings the centers the next graph starts from.
    read_last = length - 1 - (direct_last and length > 1)
    infos = [info(u, t == read_last) for t, u in enumerate(updates)]
    return updates, infos


class BoundedPlan:
    """What a bounded run carries from one graph to the next.

    ``center_group``: Yinyang's group of every center (from the run's initial
    centers, as in memory; None for Hamerly's bounds). ``fit``: the run's
    name in the workers' bounds stores (``dynkm.dask._chunks.BOUNDS``).
    ``carry``: whether the next graph's first step goes on from the bounds
    of the iteration before (False: new bounds, at the run's start and after
    the client refilled an empty cluster); ``drift``: how far each center
    moved in that iteration. ``expand``: the data's ``(origin, sum w ||x -
    origin||^2)``, from which each iteration's objective is expanded
    (:meth:`ChunkedData.objective_terms`).
    """

    def __init__(self, center_group, expand):
        self.center_group = center_group
        self.expand = expand
        self.fit = uuid.uuid4().hex
        self.carry = False
        self.drift = None

    def go_on(self, drift):
        self.carry, self.drift = True, drift

    def restart(self):
        self.carry, self.drift = False, None


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
    to the next (in the worker's ``dynkm.dask._chunks.BOUNDS``), and are
    dropped when the run ends.

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
            updates, infos = chain_graph(data, centers, previous if compare else None,
                                         size, n_threads, plan, size > length, start=i)
            handles = runner.submit(updates + infos)
            updates, infos = handles[:size], handles[size:]
            try:
                t0 = time.perf_counter()
                for t in range(length):
                    info = iteration_info(runner, infos[t])
                    relocated, refilled = 0, info["empty"]
                    fraction = 1.0 if plan is None else info["distances"] / n_distances
                    if refilled:
                        # Refilled on the client (the graph's later steps did not run).
                        step = runner.state(updates[t])
                        if plan is not None:
                            # The bounded steps keep no far rows: the iteration again
                            # by Lloyd's pass (the same labels), which has them; the
                            # bounds start afresh after the refill.
                            step = _lloyd_again(runner, data, step["centers_in"],
                                                previous if compare and t == 0 else None,
                                                n_threads)
                            info, fraction = step["info"], fraction + 1.0
                            plan.restart()
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
                if not refilled:
                    # The graph's last iteration read brought its centers along.
                    last = info if "centers" in info else runner.state(updates[t])
                    centers = last["centers"]
                    if plan is not None:
                        # The next graph's first step goes on from the bounds this
                        # one left on the workers (those of iteration i - 1).
                        plan.go_on(last["drift"])
                if stop is None:
                    continue
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
                runner.release(handles)
            if inertia is None:  # the stop ended a graph: one step more from the final centers
                # By the run's own strategy: a bounded run's final inertia is summed from
                # direct distances (as in memory), Lloyd's pass's from its expansion
                # (even after a strict stop, where a bounded run's objectives are
                # expanded from the sums), and the inertia must not depend on where
                # the stop fell in a graph. A bounded step goes on from the bounds of
                # the stop's iteration when the workers still hold them (steps the
                # graph ran past the stop moved them on: then new bounds; the labels
                # are the same either way).
                handles = runner.submit(
                    chain_graph(data, centers, None, 1, n_threads, plan, True, start=i)[1])
                inertia = runner.result(handles[0])["objective"]
                runner.release(handles)
            break
    finally:
        if plan is not None:
            runner.drop_bounds(plan.fit)
    history.update(algorithm=name, n_groups=n_groups, algorithm_reason=reason)
    return {"centers": centers, "inertia": float(inertia), "n_iter": i, "history": history}


def _lloyd_again(runner, data, centers, previous, n_threads):
    """The update of one Lloyd iteration from ``centers`` (computed, released)."""
    handles = runner.submit(chain_graph(data, centers, previous, 1, n_threads)[0])
    try:
        return runner.state(handles[0])
    finally:
        runner.release(handles)


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
