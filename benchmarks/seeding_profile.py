"""Where greedy k-means++ spends its time, by part, on MNIST (or any .npy).

    python benchmarks/seeding_profile.py [--k 256] [--threads 2] [--mnist DIR | --npy X.npy]

One seeding through ``kmcore.seeding._kmeans_plusplus`` (the shipped rule),
timed by part: setting up the bounds (the projection directions and the
rows' projections), the filtered passes (``_filtered_distances``: the
projection filter, the gathered GEMM and the potentials of a step), and the
Python around them (draws, updates, the candidates' projections). Then the
recorded steps are replayed twice, with the projection filter and with its
result given instead (the same rows computed, no filter), which splits a
step between the filter and the rest. Also printed, deterministic: the
rows the bounds left and computed per step. Wall and process CPU seconds;
on a loaded machine the CPU seconds are the work, the wall seconds mostly
waiting for threads the machine holds back.
"""

import argparse
import time

import numpy as np

import kmcore
from kmcore import _seeding, seeding
from kmcore._threads import blas_single_threaded


class _Clock:
    """Wall and CPU seconds summed over the calls of wrapped functions, by name."""

    def __init__(self):
        self.wall, self.cpu = {}, {}

    def wrap(self, owner, name, label):
        inner = getattr(owner, name)

        def timed(*args, **kwargs):
            w, c = time.perf_counter(), time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.wall[label] = self.wall.get(label, 0.0) + time.perf_counter() - w
                self.cpu[label] = self.cpu.get(label, 0.0) + time.process_time() - c

        setattr(owner, name, timed)
        return inner


def profile(X, k, n_threads):
    L = 2 + int(np.log(k))
    x_sqnorms = kmcore.row_norms(X)
    clock, trace, stats = _Clock(), [], []
    originals = [(seeding._GreedyState, "__init__"), (seeding._GreedyState, "draw"),
                 (seeding._GreedyState, "choose"), (seeding._GreedyState, "potentials"),
                 (_seeding, "_filtered_distances")]
    saved = [getattr(o, n) for o, n in originals]
    labels = ["setup", "draws", "updates", "step (Python + kernel)", "kernel"]
    try:
        for (owner, name), label in zip(originals, labels, strict=True):
            clock.wrap(owner, name, label)
        timed_step = seeding._GreedyState.potentials

        def recorded(self, candidates, tries, stats_):
            trace.append((candidates.copy(), self.closest.copy()))
            return timed_step(self, candidates, tries, stats_)

        seeding._GreedyState.potentials = recorded
        w, c = time.perf_counter(), time.process_time()
        seeding._kmeans_plusplus(X, x_sqnorms, k, None, L, np.random.RandomState(0),
                                 n_threads, stats)
        total = time.perf_counter() - w, time.process_time() - c
    finally:
        for (owner, name), f in zip(originals, saved, strict=True):
            setattr(owner, name, f)
    print(f"k-means++ {X.shape[0]} x {X.shape[1]} {X.dtype}, k = {k}, {n_threads} threads: "
          f"{total[0]:.3f} s wall, {total[1]:.3f} s CPU")
    for label in labels:
        print(f"  {label:24s} {clock.wall.get(label, 0):7.3f} s wall "
              f"{clock.cpu.get(label, 0):7.3f} s CPU")
    computed = np.mean([s[0] for s in stats])
    left = [s[3] for s in stats if s[3] is not None]
    print(f"  rows computed per step {computed:.3f}, left by the projection bounds "
          f"{np.mean(left) if left else float('nan'):.3f} (on {len(left)} steps)")
    # Replay: the same candidates and closest distances, the filter on and
    # then its result given (only the rows it left computed, no filter).
    state = seeding._GreedyState(X, x_sqnorms, k, None, L, n_threads)
    if state.projection is None:
        return
    passes, need = state.passes, np.empty(X.shape[0], dtype=np.uint8)
    tile = passes.tile_for(computed)
    spent = {"with the filter": [0.0, 0.0], "its rows given": [0.0, 0.0]}
    with blas_single_threaded():
        for candidates, closest in trace:
            for label, given, projection in (("with the filter", False, state.projection),
                                             ("its rows given", True, None)):
                w, c = time.perf_counter(), time.process_time()
                passes.run_filtered(candidates, closest, need, given, projection, tile)
                spent[label][0] += time.perf_counter() - w
                spent[label][1] += time.process_time() - c
    steps = len(trace)
    for label, (w, c) in spent.items():
        print(f"  replayed step, {label:16s} {1e3 * w / steps:6.2f} ms wall "
              f"{1e3 * c / steps:6.2f} ms CPU")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mnist", default=None,
                        help="MNIST's folder (default: the DYNKM_MNIST variable)")
    parser.add_argument("--npy", default=None, help="an (n, d) .npy instead of MNIST")
    args = parser.parse_args()
    if args.npy:
        X = np.ascontiguousarray(np.load(args.npy))
    else:
        from dynkm.datasets import load_mnist
        X = load_mnist(args.mnist)[0]
    profile(X, args.k, args.threads)


if __name__ == "__main__":
    main()
