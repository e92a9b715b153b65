"""DynamicKMeans' stores on long streams: SSE, clusters, points/s and memory.

Streams (as in the issue that asked for bounded streaming):

- a 1,000,000 x 64 float32 mixture of 200 unit Gaussians (``conftest.gaussian_mixture``)
  in batches of 10,000;
- MNIST train+test (70,000 x 784 float32) in batches of 100 (random data of that shape
  when MNIST is not found);

at two size settings (``min_size, max_size`` = 60, 150 and 3000, 6000), for
``store="memory"``, ``"disk"`` and ``"summary"`` (its default ``summary_size``).

Each run is a fresh subprocess that makes the data, then streams it and
reports: the SSE of all points to their nearest final center, the final k,
points per second of the streaming, the peak RSS growth over the stream (the
kernel's high-water mark, reset before streaming; it counts file pages that a
disk store has mapped), the anonymous RSS growth at the end (``RssAnon``: what
the process holds that is not a file mapping), and the model's own state
(per-cluster state plus store, in RAM).

    python -m pytest benchmarks/test_stream_stores.py --benchmark-json \\
        benchmarks/results/stream_stores.json
    python benchmarks/test_stream_stores.py          # prints the table (Markdown)
    python benchmarks/test_stream_stores.py mixture 60 150 memory summary   # some rows

"beyond model" is the peak RSS growth less the model's own bytes: what the
stream costs besides the model it builds (batch copies, the copy-on-write
state of a batch, temporaries of the kernels).
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

STREAMS = {"mixture": (10_000, "1M x 64 mixture (200 components), batches of 10,000"),
           "mnist": (100, "MNIST train+test, batches of 100")}
SIZES = [(60, 150), (3000, 6000)]
STORES = ["memory", "disk", "summary"]

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, tempfile, time
    import numpy as np
    sys.path.insert(0, {bench_dir!r})
    from conftest import THREADS, _SHARED_MNIST, gaussian_mixture
    from dynkm import DynamicKMeans
    from kmcore.assignment import assign_rows
    from kmcore.distances import _row_norms

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

    if {stream!r} == "mixture":
        X = gaussian_mixture(1_000_000, 64, 200)
    else:
        from dynkm.datasets import load_mnist, mnist_dir
        folder = mnist_dir(os.environ.get("DYNKM_MNIST")) or mnist_dir(_SHARED_MNIST)
        if folder is not None:
            X = load_mnist(folder, "all")[0]
        else:
            X = np.random.default_rng(0).uniform(0, 255, (70000, 784)).astype(np.float32)
    X = np.ascontiguousarray(X, dtype=np.float32)
    batch = {batch}
    model = DynamicKMeans(min_size={min_size}, max_size={max_size}, store={store!r},
                          random_state=0, n_threads=THREADS)
    model.partial_fit(X[:batch])  # load BLAS/OpenMP pools (the first batch is timed too)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    rss0, anon0 = status("VmRSS"), status("RssAnon")
    t0 = time.perf_counter()
    for start in range(batch, X.shape[0], batch):
        model.partial_fit(X[start:start + batch])
    seconds = time.perf_counter() - t0 + model.history_["seconds"][0]
    peak, anon1 = status("VmHWM"), status("RssAnon")
    state = sum(a.nbytes for a in model._state.cols.values())
    store = model._points.ram_bytes()
    C = np.ascontiguousarray(model.cluster_centers_, dtype=np.float32)
    sse = 0.0
    for start in range(0, X.shape[0], 20000):
        x = X[start:start + 20000]
        _, d, _, _ = assign_rows(x, _row_norms(x, True, THREADS), C, None, THREADS)
        sse += float(d.astype(np.float64).sum())
    print(json.dumps({{"sse": sse, "k": int(model.n_clusters_), "seconds": seconds,
                      "points_per_second": X.shape[0] / seconds, "n": int(X.shape[0]),
                      "peak_rss_growth_mb": (peak - rss0) / 2**20,
                      "anon_rss_growth_mb": (anon1 - anon0) / 2**20,
                      "model_mb": (state + store) / 2**20,
                      "data_mb": X.nbytes / 2**20}}))
    """
)


def run(stream, sizes, store):
    batch = STREAMS[stream][0]
    code = SCRIPT.format(bench_dir=str(Path(__file__).parent), stream=stream, batch=batch,
                         min_size=sizes[0], max_size=sizes[1], store=store)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


CASES = [(s, z, st) for s in STREAMS for z in SIZES for st in STORES]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc (Linux)")
@pytest.mark.benchmark(group="stream-stores")
@pytest.mark.parametrize("stream,sizes,store", CASES,
                         ids=[f"{s}-{z[0]}-{z[1]}-{st}" for s, z, st in CASES])
def test_stream_store(benchmark, stream, sizes, store):
    result = benchmark.pedantic(run, args=(stream, sizes, store), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["k"] >= 1 and result["sse"] > 0


def main(argv):
    """The table; ``argv`` = [stream, min_size, max_size, store, ...] for some of its
    rows (the SSE ratio is against the first store's)."""
    rows = ["| stream | sizes | store | k | SSE | SSE / memory | points/s | peak RSS growth MB "
            "| anon RSS growth MB | model MB | beyond model MB |", "|---" * 11 + "|"]
    streams, sizes_list, stores = list(STREAMS), SIZES, STORES
    if argv:
        streams, sizes_list = [argv[0]], [(int(argv[1]), int(argv[2]))]
        stores = argv[3:]
    for stream in streams:
        title = STREAMS[stream][1]
        for sizes in sizes_list:
            base = None
            for store in stores:
                r = run(stream, sizes, store)
                base = base or r["sse"]
                rows.append(f"| {title} | {sizes[0]}/{sizes[1]} | {store} | {r['k']} | "
                            f"{r['sse']:.4g} | {r['sse'] / base:.3f} | "
                            f"{r['points_per_second']:,.0f} | {r['peak_rss_growth_mb']:.0f} | "
                            f"{r['anon_rss_growth_mb']:.0f} | {r['model_mb']:.1f} | "
                            f"{r['peak_rss_growth_mb'] - r['model_mb']:.0f} |")
                print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
