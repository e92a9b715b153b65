"""dynkm.dask on a memory-mapped .npy larger than memory: seconds, memory, read throughput.

    python benchmarks/memmap_run.py DIR [--gb 20] [--k 256] [--iterations 5] [--json out.json]

Creates ``DIR/mixture_<rows>x<features>_float32.npy`` (about ``--gb`` GB of
float32 rows from a Gaussian mixture, written slice by slice) unless it is
there already, then on this machine:

1. evicts the file's pages from the page cache (``posix_fadvise``, this file
   only; ``--warm`` keeps them) and times one sequential read of it;
2. starts a scheduler and ``--workers`` single-threaded workers as separate
   processes (``python -m dask scheduler`` / ``python -m dask worker``, loopback
   only), as on a real cluster, and connects a Client;
3. builds a dask array whose every chunk of ``--chunk-rows`` rows is
   ``np.load(path, mmap_mode="r")[a:b]`` opened on the worker (no data goes
   through the client or the scheduler);
4. evicts the file again and fits ``dynkm.dask.KMeans(k, init=..., max_iter=
   iterations, tol=0)``: the init is k distinct random rows (``--init rows``,
   one small read) or ``k-means||`` (more passes over the file);
5. reports the fit's seconds, the seconds of each iteration, the read
   throughput of the fit's passes over the file (one validation pass, one
   per iteration, one for the final inertia) and of the median iteration
   against the sequential read, and the peak anonymous memory (RssAnon,
   sampled every 50 ms from /proc/PID/status: the file's cached pages are the
   kernel's, not ours) of the client, the scheduler and every worker.

The workers run without a memory limit (``--memory-limit 0``): their RSS
counts the file's mapped pages, which dask's memory manager would otherwise
take for its own and spill or pause on. Work stealing is off, so that a
chunk is read by the worker that loaded it (any chunk moved between workers
would be copied into anonymous memory).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SAMPLE_SECONDS = 0.05
READ_BLOCK = 64 << 20
COMPONENTS = 100


# ----------------------------------------------------------------- the file
def mixture_file(folder, gb, n_features, seed=0):
    """The .npy of about ``gb`` GB of float32 mixture rows in ``folder``, created if missing."""
    rows = int(gb * 1e9) // (4 * n_features)
    path = Path(folder) / f"mixture_{rows}x{n_features}_float32.npy"
    if path.exists():
        X = np.load(path, mmap_mode="r")
        if X.shape == (rows, n_features) and X.dtype == np.float32:
            return path
        raise SystemExit(f"{path} exists with shape {X.shape} and dtype {X.dtype}; remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial.npy")
    X = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(rows, n_features))
    means = np.random.default_rng(seed).normal(0, 10, size=(COMPONENTS, n_features))
    step = 250_000
    for j, start in enumerate(range(0, rows, step)):
        m = min(step, rows - start)
        rng = np.random.default_rng([seed, j])  # slice j's rows do not depend on the others
        centers = means[rng.integers(0, COMPONENTS, m)]
        X[start:start + m] = centers + rng.normal(size=(m, n_features))
    X.flush()
    del X
    os.replace(tmp, path)
    return path


def evict(path):
    """Drop this file's pages from the page cache (written back first)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def sequential_read(path):
    """Seconds of one sequential read of the whole file into a reused buffer."""
    buf = bytearray(READ_BLOCK)
    view = memoryview(buf)
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(view):
            pass
    return time.perf_counter() - start


def load_rows(path, start, stop):
    """Rows [start, stop) of the .npy, memory-mapped (runs on a worker)."""
    return np.load(path, mmap_mode="r")[start:stop]


# ------------------------------------------------------------------ memory
def status(pid):
    """RssAnon, RssFile and VmHWM of a process in bytes (0 for a missing field)."""
    out = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in out:
                out[key] = int(value.split()[0]) * 1024
    return out


class PeakSampler(threading.Thread):
    """Samples /proc/PID/status of the given processes until stopped; keeps the peaks."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = {name: {"RssAnon": 0, "RssFile": 0} for name in pids}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for name, pid in self.pids.items():
                s = status(pid)
                for key in ("RssAnon", "RssFile"):
                    self.peak[name][key] = max(self.peak[name][key], s[key])
            self.done.wait(SAMPLE_SECONDS)

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


def _bytes_received(dask_worker):
    """Bytes this worker fetched from other workers (chunks moved, partial results)."""
    return sum(t["total"] for t in dask_worker.transfer_incoming_log)


# ----------------------------------------------------------------- cluster
def start_cluster(n_workers, folder, log):
    """A scheduler and n_workers workers as processes of their own; returns (procs, file).

    Their log lines go to the open file ``log``.
    """
    env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING="False")
    sched_file = Path(folder) / "scheduler.json"
    out = {"env": env, "stdout": log, "stderr": subprocess.STDOUT}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(sched_file)], **out)]
    for _ in range(200):
        if sched_file.exists():
            break
        time.sleep(0.1)
    for _ in range(n_workers):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "worker", "--scheduler-file", str(sched_file),
             "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--memory-limit", "0",
             "--no-dashboard"], **out))
    return procs, sched_file


def stop_cluster(procs):
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


# -------------------------------------------------------------------- run
def run(args):
    import dask
    import dask.array as da
    from distributed import Client

    import dynkm.dask

    path = mixture_file(args.dir, args.gb, args.features)
    X = np.load(path, mmap_mode="r")
    n, d = X.shape
    size = os.path.getsize(path)
    if not args.warm:
        evict(path)
    seq_seconds = sequential_read(path)
    result = {"file": str(path), "bytes": size, "shape": [n, d], "k": args.k,
              "iterations": args.iterations, "chunk_rows": args.chunk_rows,
              "workers": args.workers, "init": args.init, "cold": not args.warm,
              "sequential_read_seconds": seq_seconds,
              "sequential_read_gb_per_s": size / seq_seconds / 1e9}
    log_path = Path(args.dir) / "memmap_run_cluster.log"
    with tempfile.TemporaryDirectory() as tmp, open(log_path, "w") as log:
        procs, sched_file = start_cluster(args.workers, tmp, log)
        try:
            with Client(scheduler_file=str(sched_file)) as client:
                client.wait_for_workers(args.workers, timeout=120)
                pids = {"client": os.getpid(),
                        "scheduler": client.run_on_scheduler(os.getpid)}
                for i, pid in enumerate(sorted(client.run(os.getpid).values())):
                    pids[f"worker {i}"] = pid
                bounds = list(range(0, n, args.chunk_rows)) + [n]
                load = dask.delayed(load_rows, pure=True)
                dX = da.concatenate([da.from_delayed(load(str(path), a, b), shape=(b - a, d),
                                                     dtype=X.dtype)
                                     for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
                if args.init == "rows":
                    rows = np.sort(np.random.default_rng(args.seed).choice(n, args.k,
                                                                           replace=False))
                    init = np.ascontiguousarray(X[rows])
                else:
                    init = "k-means||"
                if not args.warm:
                    evict(path)
                before = {name: status(pid)["RssAnon"] for name, pid in pids.items()}
                sampler = PeakSampler(pids)
                sampler.start()
                start = time.perf_counter()
                model = dynkm.dask.KMeans(args.k, init=init, max_iter=args.iterations, tol=0,
                                          random_state=args.seed).fit(dX)
                seconds = time.perf_counter() - start
                peak = sampler.stop()
                moved = client.run(_bytes_received)
        finally:
            stop_cluster(procs)
    iteration_seconds = [float(s) for s in model.history_["seconds"]]
    strict = model.n_iter_ < args.iterations
    passes = 1 + model.n_iter_ + (0 if strict else 1)  # validate, iterations, final inertia
    median_iteration = float(np.median(iteration_seconds))
    result.update(
        fit_seconds=seconds, init_seconds=float(model.history_["init_seconds"]),
        n_iter=model.n_iter_, inertia=model.inertia_, iteration_seconds=iteration_seconds,
        passes=passes, fit_gb_per_s=passes * size / seconds / 1e9,
        iteration_gb_per_s=size / median_iteration / 1e9,
        iteration_to_sequential_read=median_iteration / seq_seconds,
        rss_anon_before_mb={name: v / 1e6 for name, v in before.items()},
        peak_rss_anon_mb={name: v["RssAnon"] / 1e6 for name, v in peak.items()},
        peak_rss_file_mb={name: v["RssFile"] / 1e6 for name, v in peak.items()},
        moved_between_workers_mb=sum(moved.values()) / 1e6,
    )
    return result


def report(r):
    lines = [
        f"{r['file']}: {r['shape'][0]} x {r['shape'][1]} float32, {r['bytes'] / 1e9:.2f} GB, "
        f"chunks of {r['chunk_rows']} rows, {r['workers']} workers x 1 thread",
        f"sequential read ({'cold' if r['cold'] else 'as cached'}): "
        f"{r['sequential_read_seconds']:.2f} s, {r['sequential_read_gb_per_s']:.2f} GB/s",
        f"fit k={r['k']}, {r['n_iter']} iterations (init {r['init']}, {r['init_seconds']:.2f} s):"
        f" {r['fit_seconds']:.2f} s, {r['passes']} passes over the file, "
        f"{r['fit_gb_per_s']:.2f} GB/s",
        "iterations (s): " + ", ".join(f"{s:.2f}" for s in r["iteration_seconds"])
        + f"; median {r['iteration_gb_per_s']:.2f} GB/s, "
        f"{r['iteration_to_sequential_read']:.2f}x one sequential read",
        f"moved between workers: {r['moved_between_workers_mb']:.1f} MB",
        "process    RssAnon before (MB)  peak RssAnon (MB)  peak RssFile (MB)",
    ]
    for name in r["peak_rss_anon_mb"]:
        lines.append(f"{name:<10} {r['rss_anon_before_mb'][name]:>19.0f}"
                     f"  {r['peak_rss_anon_mb'][name]:>17.0f}"
                     f"  {r['peak_rss_file_mb'][name]:>17.0f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", help="folder of the .npy (created there if missing)")
    parser.add_argument("--gb", type=float, default=20.0, help="file size in GB (default 20)")
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--init", choices=["rows", "k-means||"], default="rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm", action="store_true",
                        help="keep the file's cached pages (default: evict them before the "
                             "sequential read and before the fit)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    result = run(args)
    print(report(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
