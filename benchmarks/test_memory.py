"""Peak memory of KMeans.fit beyond the data: 1,000,000 x 128 float32, k = 1000.

The fit runs in a fresh subprocess that makes the data, resets the kernel's
peak-RSS counter (Linux: /proc/self/clear_refs), fits, and reads the peak:
what it reports is every byte the fit added, BLAS's buffers included.

    python -m pytest benchmarks/test_memory.py --benchmark-json benchmarks/results/memory.json
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LIMIT_MB = 64

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from dynkm import KMeans

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    sys.path.insert(0, {bench_dir!r})
    from conftest import gaussian_mixture
    X = gaussian_mixture(1_000_000, 128, 50)
    KMeans(8, max_iter=1, n_threads={threads}).fit(X[:5000])  # load BLAS/OpenMP pools first
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    t0 = time.perf_counter()
    km = KMeans(1000, max_iter={max_iter}, n_threads={threads}, random_state=0).fit(X)
    seconds = time.perf_counter() - t0
    peak = status("VmHWM")
    print(json.dumps({{"extra_mb": (peak - before) / 2**20, "seconds": seconds,
                      "n_iter": int(km.n_iter_), "data_mb": X.nbytes / 2**20}}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc (Linux)")
@pytest.mark.benchmark(group="memory")
def test_fit_peak_memory(benchmark):
    from conftest import THREADS

    def run():
        out = subprocess.run([sys.executable, "-c", SCRIPT.format(threads=THREADS, max_iter=5,
                                                             bench_dir=str(Path(__file__).parent))],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    result = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["extra_mb"] <= LIMIT_MB, result
