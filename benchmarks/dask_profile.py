"""Where a dynkm.dask fit's time goes, and what it sends: counted, not only timed.

Starts a LocalCluster of 2 single-threaded worker processes (loopback), scatters MNIST
(or random data of its shape) in 8 row chunks, and for each k runs, ``--reps`` times, an
in-memory ``dynkm.KMeans`` fit (2 threads) then a ``dynkm.dask.KMeans`` fit, both 10
iterations from the same rows, ``tol=0``. One JSON line per dask fit:

- ``calls``: the client's calls to the scheduler by name (compute, gather, who_has,
  Future.result, ...; each a round trip);
- ``tasks``: the tasks run, by name, with their compute seconds on the workers
  (``task_compute_s``) and the workers' transfer seconds;
- ``client_seconds``: in each call above and in ChunkedData (validation), chain_graph (graph
  building) and run_lloyd (the iterations);
- ``sync_gap_median``: per iteration, the median time from the last worker's end of step
  t to each worker's start of step t + 1 (the engine's latency between iterations);
- the fit's and the in-memory fit's seconds and their ratio.

Counts do not depend on the machine's load; seconds do (run it on a quiet machine).
``--replicas 1`` sets ``dynkm.dask._lloyd.MAX_REPLICAS`` (1: one update task between two
iterations instead of every worker's next step adding the results itself)::

    PYTHONPATH=src:python python benchmarks/dask_profile.py --k 10 256 --reps 3
"""

import argparse
import collections
import json
import os
import time
from pathlib import Path

import numpy as np

import dynkm
import dynkm.dask
from dynkm.dask import _data, _lloyd

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
STEPS = ("group_step", "group_bounded_step", "iteration_step")


def _name(key):
    key = key if isinstance(key, str) else key[0]
    return key.rsplit("-", 1)[0]


class Counter:
    """Calls of the client's methods (round trips) and client seconds in the fit's phases."""

    def __init__(self, distributed):
        self.calls, self.seconds = collections.Counter(), collections.Counter()
        for cls, names in ((distributed.Client, ("compute", "persist", "gather", "who_has",
                                                  "scheduler_info", "submit", "run")),
                           (distributed.Future, ("result",))):
            for name in names:
                self._wrap(cls, name, self.calls)
        self._wrap(_lloyd, "chain_graph", self.seconds)
        self._wrap(_lloyd, "run_lloyd", self.seconds)
        self._wrap(_data.ChunkedData, "__init__", self.seconds, "ChunkedData")
        dynkm.dask._kmeans.run_lloyd = _lloyd.run_lloyd

    def _wrap(self, owner, name, counter, label=None):
        original = getattr(owner, name)
        label = label or name
        seconds = self.seconds

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                counter[label] += 1 if counter is not seconds else 0
                seconds[label] += time.perf_counter() - start

        setattr(owner, name, timed)

    def clear(self):
        self.calls.clear()
        self.seconds.clear()


def _sync_gaps(records):
    """Per iteration, each worker's start of step t + 1 minus the last end of step t."""
    steps = collections.defaultdict(list)
    for rec in records:
        if _name(rec["key"]) in STEPS:
            for span in rec["startstops"]:
                if span["action"] == "compute":
                    steps[rec["worker"]].append((span["start"], span["stop"]))
    if not steps:
        return []
    for spans in steps.values():
        spans.sort()
    gaps = []
    for t in range(min(len(spans) for spans in steps.values()) - 1):
        last = max(spans[t][1] for spans in steps.values())
        gaps += [spans[t + 1][0] - last for spans in steps.values()]
    return gaps


def _load():
    from dynkm.datasets import load_mnist, mnist_dir

    folder = mnist_dir(os.environ.get("DYNKM_MNIST")) or mnist_dir(SHARED_MNIST)
    if folder is not None:
        return load_mnist(folder, "train")[0]
    return np.random.default_rng(0).uniform(0, 255, (60000, 784)).astype(np.float32)


def main():
    import dask.array as da
    import distributed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[10, 256])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=None)
    args = parser.parse_args()
    if args.replicas is not None:
        _lloyd.MAX_REPLICAS = args.replicas
    X = _load()
    counter = Counter(distributed)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: __import__("dynkm.dask"))
        bounds = np.linspace(0, X.shape[0], 9).astype(int)
        futures = client.scatter([X[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
                                 hash=False)
        dX = da.concatenate([da.from_delayed(f, shape=(b - a, X.shape[1]), dtype=X.dtype)
                             for f, a, b in zip(futures, bounds[:-1], bounds[1:], strict=True)])
        for k in args.k:
            rows = np.random.default_rng(0).choice(X.shape[0], k, replace=False)
            C = np.ascontiguousarray(X[rows])
            for rep in range(args.reps):
                start = time.perf_counter()
                ref = dynkm.KMeans(k, init=C, max_iter=10, tol=0, n_threads=2).fit(X)
                in_memory = time.perf_counter() - start
                time.sleep(0.25)
                counter.clear()
                with distributed.get_task_stream(client) as stream:
                    start = time.perf_counter()
                    fit = dynkm.dask.KMeans(k, init=C, max_iter=10, tol=0).fit(dX)
                    seconds = time.perf_counter() - start
                tasks, compute, transfer = (collections.Counter() for _ in range(3))
                for rec in stream.data:
                    tasks[_name(rec["key"])] += 1
                    for span in rec["startstops"]:
                        target = compute if span["action"] == "compute" else transfer
                        key = _name(rec["key"]) if target is compute else span["action"]
                        target[key] += span["stop"] - span["start"]
                gaps = _sync_gaps(stream.data)
                print(json.dumps({
                    "k": k, "rep": rep, "algorithm": fit.history_["algorithm"],
                    "in_memory_s": in_memory, "dask_s": seconds, "ratio": seconds / in_memory,
                    "same_inertia": bool(np.isclose(fit.inertia_, ref.inertia_, rtol=1e-5)),
                    "calls": dict(counter.calls),
                    "client_seconds": {name: round(v, 4) for name, v in counter.seconds.items()},
                    "n_tasks": sum(tasks.values()), "tasks": dict(tasks),
                    "task_compute_s": {name: round(v, 4) for name, v in compute.items()},
                    "transfer_s": {name: round(v, 4) for name, v in transfer.items()},
                    "sync_gap_median": float(np.median(gaps)) if gaps else None,
                    "iteration_median": float(np.median(fit.history_["seconds"])),
                    "in_memory_iteration_median": float(np.median(ref.history_["seconds"])),
                }), flush=True)


if __name__ == "__main__":
    main()
