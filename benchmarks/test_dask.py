"""dynkm.dask against dask-ml's KMeans and in-memory dynkm, on a LocalCluster of processes.

The test starts a ``distributed.LocalCluster`` of THREADS worker processes
with one thread each (loopback only; the nanny starts them with OpenMP and
BLAS at one thread) and scatters the data's row chunks to the workers, where
they stay. Every fit runs 10 Lloyd iterations from the
same initial centers (random rows of X):

- ``dynkm.dask.KMeans(init=C, max_iter=10, tol=0)`` on the chunks;
- dask-ml's ``KMeans(init=C, max_iter=10, tol=0)`` on the same chunks: its
  loop stops only when the squared center shift is *below* tol, never with
  tol=0, so it runs exactly max_iter iterations from ``init`` (an array init
  is used as given), then one more pass for the final labels; its
  ``inertia_`` is then the sum of *unsquared* distances, so the benchmark
  recomputes its squared inertia against its centers with kmcore;
- ``dynkm.KMeans(init=C, max_iter=10, tol=0)`` in memory on THREADS threads
  (the same cores; the workers are idle meanwhile).

Both dynkm fits run their default ``algorithm="auto"``: the same rule picks
the same E-step in memory and per chunk (Lloyd's pass at k = 10, Yinyang's
group bounds at k = 256, kept with each chunk on its worker), so the ratio
compares the engine, not the strategies; ``extra_info`` records what ran
(``algorithm``) and the mean fraction of the n x k distances computed per
iteration (``distance_fraction``) of both. DYNKM_BENCH_ALGORITHM sets
another ``algorithm`` for both (``lloyd``: every distance, every iteration).

Each round times dask-ml, then in-memory dynkm, then dynkm.dask (the timed
function); ``extra_info`` keeps the peers' median seconds, the medians of
the per-round ratios (``speedup_vs_dask_ml``, ``ratio_to_in_memory``), the
median seconds per iteration of both dynkm fits, the inertia of each fit
and whether the dask fit's labels equal the in-memory ones. The cases:

- MNIST 60000 x 784 float32 in 8 chunks, k = 10 and 256 (``-m quick``, a few
  minutes on an idle 2-core machine);
- a 4,000,000 x 64 float32 mixture (1 GB) in chunks of 250,000, k = 10 and
  256 (the full run; ``-k mixture`` runs only these;
  DYNKM_BENCH_MIXTURE_ROWS makes it smaller). The data take 1 GB in this
  process and 1 GB on the workers, plus dask-ml's copies.

::

    python -m pytest benchmarks/test_dask.py -m quick --benchmark-json benchmarks/results/dask.json
    python -m pytest benchmarks/test_dask.py --benchmark-json benchmarks/results/dask.json
    python -m pytest benchmarks/test_dask.py -k mixture --benchmark-json ...

DYNKM_BENCH_ROUNDS sets the rounds (default 3 for MNIST, 2 for the mixture).
dask-ml (``pip install "dynkm[bench]"``) is optional: without it only the
two dynkm fits run.
"""

import os
import sys
import time

import numpy as np
import pytest
from conftest import THREADS, gaussian_mixture, initial_centers
from test_foundation import SETTLE

da = pytest.importorskip("dask.array", reason="needs dask[array] (dynkm's [dask] extra)")
distributed = pytest.importorskip("distributed", reason="needs distributed (the [dask] extra)")

import cloudpickle  # noqa: E402 (a dependency of distributed)

import dynkm  # noqa: E402
import dynkm.dask  # noqa: E402
import kmcore  # noqa: E402

try:
    from dask_ml.cluster import KMeans as DaskMLKMeans
except ImportError:  # pragma: no cover - dask-ml is optional
    DaskMLKMeans = None

# The worker processes cannot import this file (benchmarks/ is not a
# package on their path): the functions they run travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ITERATIONS = 10
MNIST_CHUNKS = 8
MIXTURE_ROWS = int(os.environ.get("DYNKM_BENCH_MIXTURE_ROWS", "4000000"))
MIXTURE_CHUNK = 250_000
MIXTURE_FEATURES = 64
MIXTURE_COMPONENTS = 100
_ROUNDS = os.environ.get("DYNKM_BENCH_ROUNDS")
ALGORITHM = os.environ.get("DYNKM_BENCH_ALGORITHM", "auto")
ROUNDS = {"mnist": int(_ROUNDS or 3), "mixture": int(_ROUNDS or 2)}

CASES = [
    pytest.param("mnist", 10, marks=pytest.mark.quick),
    pytest.param("mnist", 256, marks=pytest.mark.quick),
    pytest.param("mixture", 10),
    pytest.param("mixture", 256),
]


def _warm_workers():
    """Import both libraries on a worker and compile dask-ml's numba kernel for float32.

    dask-ml compiles its per-chunk center sums on first use in each process;
    without this the first timed dask-ml fit would include the compilation.
    """
    import dynkm.dask  # noqa: F401

    try:
        from dask_ml.cluster.k_means import _centers_dense
    except ImportError:
        return False
    _centers_dense(np.zeros((4, 3), np.float32), np.zeros(4, np.int32), 2)
    return True


@pytest.fixture(scope="module")
def client():
    # distributed's nanny leaves OMP_NUM_THREADS=1 (and BLAS's) in this
    # process's environment: restored afterwards for the other benchmarks.
    saved = dict(os.environ)
    try:
        yield from _client()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _client():
    with distributed.LocalCluster(n_workers=THREADS, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(_warm_workers)
        yield client


def _scatter_chunks(client, X, bounds):
    """X's row chunks [bounds[i], bounds[i+1]) scattered to the workers, as one dask array."""
    futures = client.scatter([X[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
                             hash=False)
    parts = [da.from_delayed(f, shape=(b - a, X.shape[1]), dtype=X.dtype)
             for f, a, b in zip(futures, bounds[:-1], bounds[1:], strict=True)]
    return da.concatenate(parts)


@pytest.fixture(scope="module")
def mnist(mnist_like, client):
    X, source = mnist_like
    bounds = np.linspace(0, X.shape[0], MNIST_CHUNKS + 1).astype(int)
    return X, _scatter_chunks(client, X, bounds), source


@pytest.fixture(scope="module")
def mixture(client):
    X = gaussian_mixture(MIXTURE_ROWS, MIXTURE_FEATURES, MIXTURE_COMPONENTS)
    bounds = np.append(np.arange(0, MIXTURE_ROWS, MIXTURE_CHUNK), MIXTURE_ROWS)
    return X, _scatter_chunks(client, X, bounds), f"mixture {MIXTURE_ROWS} x {MIXTURE_FEATURES}"


def _sq_inertia(X, centers):
    """Sum of squared distances of X's rows to their nearest center (kmcore, float64 sum)."""
    C = np.ascontiguousarray(centers, dtype=X.dtype)
    return float(kmcore.assign(X, C, n_threads=THREADS)[1].sum(dtype=np.float64))


@pytest.mark.parametrize("data, k", CASES)
@pytest.mark.benchmark(group="dask_lloyd")
def test_dask_lloyd(benchmark, request, data, k):
    X, dX, source = request.getfixturevalue(data)
    C = initial_centers(X, k)
    fits = {}
    peers = {
        "in_memory": lambda: dynkm.KMeans(k, init=C, max_iter=ITERATIONS, tol=0,
                                          algorithm=ALGORITHM, n_threads=THREADS).fit(X),
    }
    if DaskMLKMeans is not None:
        peers["dask_ml"] = lambda: DaskMLKMeans(k, init=C, max_iter=ITERATIONS, tol=0).fit(dX)
    seconds = {name: [] for name in peers}
    iteration_seconds = {"dask": [], "in_memory": []}

    def run_peers():
        for name, call in peers.items():
            time.sleep(SETTLE)  # the previous library's threads go to sleep first
            start = time.perf_counter()
            fits[name] = call()
            seconds[name].append(time.perf_counter() - start)
        iteration_seconds["in_memory"].extend(fits["in_memory"].history_["seconds"])
        time.sleep(SETTLE)  # before ours (timed right after this setup)

    timed = []  # our seconds per round, timed here: with --benchmark-disable the
    # fixture runs one round and keeps no stats

    def ours():
        start = time.perf_counter()
        fits["dask"] = dynkm.dask.KMeans(k, init=C, max_iter=ITERATIONS, tol=0,
                                         algorithm=ALGORITHM).fit(dX)
        timed.append(time.perf_counter() - start)
        iteration_seconds["dask"].extend(fits["dask"].history_["seconds"])

    benchmark.pedantic(ours, setup=run_peers, rounds=ROUNDS[data], iterations=1)
    ours_seconds = np.asarray(timed)
    dask_fit, ref = fits["dask"], fits["in_memory"]
    info = {
        "data": source, "shape": list(X.shape), "chunks": len(dX.chunks[0]), "k": k,
        "iterations": ITERATIONS, "workers": THREADS, "rounds": len(ours_seconds),
        "n_iter": dask_fit.n_iter_, "in_memory_n_iter": ref.n_iter_,
        "n_relocated": int(ref.history_["n_relocated"].sum()),
        "inertia": dask_fit.inertia_, "in_memory_inertia": ref.inertia_,
        "same_labels": bool(np.array_equal(dask_fit.labels_.compute(), ref.labels_)),
        "algorithm": dask_fit.history_["algorithm"],
        "in_memory_algorithm": ref.history_["algorithm"],
        "distance_fraction": float(np.mean(dask_fit.history_["distance_fraction"])),
        "in_memory_distance_fraction": float(np.mean(ref.history_["distance_fraction"])),
    }
    # Per iteration: the median of history_["seconds"] of each round's fit (the
    # round trip, or with several iterations per graph the time between two
    # iterations' numbers reaching the client) and the fit's seconds over its
    # iterations (everything: the validation pass, the final inertia).
    info.update(
        seconds_per_iteration=float(np.median(iteration_seconds["dask"])),
        fit_seconds_per_iteration=float(np.median(ours_seconds)) / dask_fit.n_iter_,
        in_memory_seconds_per_iteration=float(np.median(iteration_seconds["in_memory"])),
    )
    for name, values in seconds.items():
        values = np.asarray(values)
        info[f"{name}_seconds"] = float(np.median(values))
        info[f"ratio_to_{name}"] = float(np.median(ours_seconds / values))
    if "dask_ml" in fits:
        peer = fits["dask_ml"]
        info.update(
            speedup_vs_dask_ml=1 / info["ratio_to_dask_ml"], dask_ml_n_iter=peer.n_iter_,
            dask_ml_inertia=_sq_inertia(X, peer.cluster_centers_),
            dask_ml_reported_inertia=peer.inertia_,
            dask_ml_center_max_diff=float(np.abs(peer.cluster_centers_ - ref.cluster_centers_)
                                          .max()),
        )
    benchmark.extra_info.update(info)
    # Not timings: every fit ran the iterations asked, and the dask fit is the
    # in-memory one (float32: inertia to rounding).
    assert dask_fit.n_iter_ == ref.n_iter_
    assert info["algorithm"] == info["in_memory_algorithm"]
    assert ref.n_iter_ == ITERATIONS or ref.history_["center_shift"][-1] == 0
    np.testing.assert_allclose(dask_fit.inertia_, ref.inertia_, rtol=1e-5)
    if "dask_ml" in fits:
        assert fits["dask_ml"].n_iter_ == ITERATIONS
        # From the same init the same iterations (dask-ml leaves an empty
        # cluster at the origin where dynkm refills it: then they part).
        if info["n_relocated"] == 0:
            np.testing.assert_allclose(info["dask_ml_inertia"], ref.inertia_, rtol=1e-3)


def summary(results):
    """One line per case of a --benchmark-json file: median seconds, per-round ratios."""
    lines = []
    for bench in results:
        info = bench["extra_info"]
        lines.append(
            f"{info['data']} in {info['chunks']} chunks, k={info['k']} "
            f"({info.get('algorithm', 'lloyd')}): dynkm.dask "
            f"{bench['stats']['median']:.2f} s, in memory {info['in_memory_seconds']:.2f} s "
            f"(x{info['ratio_to_in_memory']:.2f}), dask-ml "
            f"{info.get('dask_ml_seconds', float('nan')):.2f} s "
            f"({info.get('speedup_vs_dask_ml', float('nan')):.1f}x faster); per iteration "
            f"{1e3 * info['seconds_per_iteration']:.1f} ms (fit / n_iter "
            f"{1e3 * info['fit_seconds_per_iteration']:.1f} ms), in memory "
            f"{1e3 * info['in_memory_seconds_per_iteration']:.1f} ms")
    return "\n".join(lines)


if __name__ == "__main__":  # python benchmarks/test_dask.py results.json
    import json

    with open(sys.argv[1]) as f:
        print(summary(json.load(f)["benchmarks"]))
