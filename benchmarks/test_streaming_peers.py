"""Streaming peers: the same stream through DynamicKMeans, river and MiniBatchKMeans.

    python -m pytest benchmarks/test_streaming_peers.py \
        --benchmark-json benchmarks/results/streaming_peers.json

The stream is the ``dynkm`` command's default (``make_arriving_clusters``:
300000 x 32 rows in which 50 Gaussian clusters appear one after another) and
the same rows shuffled (no clusters appearing over time). DynamicKMeans runs
first and fixes the number of clusters k; every peer then gets that k:
river's ``cluster.STREAMKMeans`` and ``cluster.CluStream`` (pure Python, one
dict per row: on a prefix of the stream, recorded in ``extra_info``; on the
arriving stream a prefix holds only the clusters that have appeared by then) and
scikit-learn's ``MiniBatchKMeans.partial_fit`` over the same batches. Each
records the SSE of **all** rows of the stream against its final centers and
the rows it learned from per second (conversion of rows to river's dicts is
done before the clock starts). The benchmarks pause between libraries so
that one library's threads are gone before the next starts.
"""

import os
import time

import numpy as np
import pytest
from conftest import THREADS

from dynkm import DynamicKMeans
from dynkm.compare import _sse, make_arriving_clusters

BATCH = 10_000
SIZES = dict(min_size=500, max_size=8000)  # the command's defaults for this stream
# river learns one dict per row in Python: STREAMKMeans on the first 20000 rows, CluStream
# (a search over its micro-clusters per row, about 10x slower still) on the first 5000.
RIVER_PREFIX = int(os.environ.get("DYNKM_BENCH_RIVER_PREFIX", "20000"))
CLUSTREAM_PREFIX = int(os.environ.get("DYNKM_BENCH_CLUSTREAM_PREFIX", "5000"))
PAUSE = float(os.environ.get("DYNKM_BENCH_PAUSE", "3"))
STREAMS = ("arriving", "shuffled")


@pytest.fixture(scope="module")
def streams():
    X, _ = make_arriving_clusters(random_state=0)
    shuffled = X[np.random.default_rng(1).permutation(X.shape[0])]
    return {"arriving": X, "shuffled": shuffled}


@pytest.fixture(scope="module")
def final_k(streams):
    """DynamicKMeans' final k on each stream (the k every peer is given)."""
    return {name: _dynamic(X).n_clusters_ for name, X in streams.items()}


@pytest.fixture(autouse=True)
def pause():
    """A pause before every benchmark: the previous library's threads wind down."""
    time.sleep(PAUSE)
    yield


def _dynamic(X):
    model = DynamicKMeans(batch_size=BATCH, random_state=0, n_threads=THREADS, **SIZES)
    for start in range(0, X.shape[0], BATCH):
        model.partial_fit(X[start:start + BATCH])
    return model


def _record(benchmark, X, centers, library, stream, k, n_learned, note=""):
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "library": library, "stream": stream, "n_clusters": int(k),
        "n_centers": int(len(centers)), "rows_learned": int(n_learned),
        "rows_evaluated": int(X.shape[0]), "sse_all_rows": _sse(X, centers),
        "points_per_second": n_learned / seconds, "threads": THREADS, "note": note,
    })


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.benchmark(group="streaming peers")
def test_dynkm(benchmark, streams, final_k, stream):
    X = streams[stream]
    model = benchmark.pedantic(_dynamic, args=(X,), rounds=1, iterations=1)
    _record(benchmark, X, model.cluster_centers_, "dynkm DynamicKMeans", stream,
            final_k[stream], X.shape[0], f"batches of {BATCH}, sizes {SIZES}")


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.benchmark(group="streaming peers")
def test_sklearn_minibatch_partial_fit(benchmark, streams, final_k, stream):
    from sklearn.cluster import MiniBatchKMeans

    X, k = streams[stream], final_k[stream]

    def run():
        model = MiniBatchKMeans(n_clusters=k, random_state=0, n_init="auto")
        for start in range(0, X.shape[0], BATCH):
            model.partial_fit(X[start:start + BATCH])
        return model

    model = benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, X, model.cluster_centers_, "sklearn MiniBatchKMeans.partial_fit",
            stream, k, X.shape[0], f"batches of {BATCH}, k-means++ on the first batch")


def _river_rows(X, prefix):
    n = min(prefix, X.shape[0])
    return [dict(enumerate(row)) for row in X[:n].astype(np.float64).tolist()]


def _river_centers(centers, d):
    return np.array([[center[j] for j in range(d)] for center in centers.values()])


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.benchmark(group="streaming peers")
def test_river_streamkmeans(benchmark, streams, final_k, stream):
    river = pytest.importorskip("river.cluster")
    X, k = streams[stream], final_k[stream]
    rows = _river_rows(X, RIVER_PREFIX)

    def run():
        model = river.STREAMKMeans(chunk_size=max(k, 100), n_clusters=k, seed=0)
        for x in rows:
            model.learn_one(x)
        return model

    model = benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, X, _river_centers(model.centers, X.shape[1]), "river STREAMKMeans",
            stream, k, len(rows), f"first {len(rows)} rows only (pure Python, one row at a "
            f"time); chunk_size {max(k, 100)}")


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.benchmark(group="streaming peers")
def test_river_clustream(benchmark, streams, final_k, stream):
    river = pytest.importorskip("river.cluster")
    X, k = streams[stream], final_k[stream]
    rows = _river_rows(X, CLUSTREAM_PREFIX)
    micro = 2 * k

    def run():
        model = river.CluStream(n_macro_clusters=k, max_micro_clusters=micro,
                                time_gap=1000, seed=0)
        for x in rows:
            model.learn_one(x)
        return model

    model = benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, X, _river_centers(model.centers, X.shape[1]), "river CluStream", stream,
            k, len(rows), f"first {len(rows)} rows only (pure Python, one row at a time); "
            f"{micro} micro-clusters, macro k-means every 1000 rows")
