"""dynkm.dask against the in-memory dynkm estimators, on LocalClusters the tests start.

Most tests run the workers as threads of this process (``processes=False``):
everything they test (the chunk layout, the fixed-order reduction, the
scatter, the loss of a worker) goes through the same scheduler either way.
A few run on worker processes (``processes=True``, the deployment's real
shape: every task's arguments and results pickled, a worker killed by a
signal); they skip, saying why, where processes cannot be started. Workers
and the scheduler's HTTP server listen on loopback only, on free ports.
"""

import contextlib
import os
import signal

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dynkm.dask needs dask[array] (the [dask] extra)")
distributed = pytest.importorskip("distributed",
                                  reason="dynkm.dask's tests need distributed (the [dask] extra)")

import dynkm  # noqa: E402
import dynkm.dask as dkd  # noqa: E402
from dynkm.dask import _lloyd  # noqa: E402

RTOL = 1e-10


def _cluster(n_workers):
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False,
                                    dashboard_address="127.0.0.1:0")


@contextlib.contextmanager
def _process_cluster():
    """A LocalCluster of 2 single-threaded worker processes, or a skip saying why not.

    distributed's nanny sets OMP_NUM_THREADS=1 (and BLAS's, malloc's) in this
    process's environment for its workers and leaves it: restored on exit,
    since kmcore reads OMP_NUM_THREADS (the other tests' thread counts).
    """
    saved = dict(os.environ)
    try:
        try:
            cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                               processes=True, host="127.0.0.1",
                                               dashboard_address="127.0.0.1:0")
        except (OSError, RuntimeError, TimeoutError) as exc:  # pragma: no cover - sandboxes
            pytest.skip(f"worker processes cannot start here ({type(exc).__name__}: {exc}); "
                        "the thread-worker tests run the same scheduler code")
        with cluster:
            yield cluster
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def process_cluster():
    with _process_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster2():
    with _cluster(2) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster1():
    with _cluster(1) as cluster:
        yield cluster


def blobs(n=3000, d=6, k=7, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 4
    X = centers[rng.randint(k, size=n)] + rng.randn(n, d)
    return X.astype(dtype)


def assert_same_fit(model, ref):
    """The dask fit equals the in-memory one: labels, n_iter; centers and inertia to RTOL."""
    assert model.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(model.labels_.compute(), ref.labels_)
    scale = np.abs(ref.cluster_centers_).max()
    np.testing.assert_allclose(model.cluster_centers_, ref.cluster_centers_, rtol=RTOL,
                               atol=RTOL * scale)
    np.testing.assert_allclose(model.inertia_, ref.inertia_, rtol=RTOL)
    np.testing.assert_allclose(model.history_["objective"], ref.history_["objective"],
                               rtol=RTOL)
    np.testing.assert_array_equal(model.history_["n_relocated"], ref.history_["n_relocated"])


LAYOUTS = [3000, 1000, (700, 1300, 1, 999)]


@pytest.mark.parametrize("chunks", LAYOUTS, ids=["one", "even", "uneven"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("max_iter", [300, 3], ids=["converged", "max_iter"])
def test_fit_equals_in_memory(chunks, weighted, max_iter):
    X = blobs()
    rng = np.random.RandomState(1)
    w = rng.uniform(0, 3, size=X.shape[0]) if weighted else None
    init = X[rng.choice(X.shape[0], 7, replace=False)]
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd", max_iter=max_iter).fit(
        X, sample_weight=w)
    rows = chunks
    dX = da.from_array(X, chunks=(rows, X.shape[1]))
    dw = None if w is None else da.from_array(w, chunks=(rows,))
    model = dkd.KMeans(7, init=init, max_iter=max_iter).fit(dX, sample_weight=dw)
    assert_same_fit(model, ref)
    if max_iter == 3:
        assert model.n_iter_ == 3  # the final-labels pass ran


def test_empty_cluster_relocated_as_in_memory():
    X = blobs(n=2000, k=5, seed=3)
    init = X[:5].copy()
    init[[1, 3]] = 1e3  # two centers nobody is near: empty at the first iteration
    ref = dynkm.KMeans(5, init=init, algorithm="lloyd").fit(X)
    assert ref.history_["n_relocated"][0] == 2
    model = dkd.KMeans(5, init=init).fit(da.from_array(X, chunks=(300, 6)))
    assert_same_fit(model, ref)


def test_columns_split_and_tol_stop():
    X = blobs(seed=4)
    init = X[:7].copy()
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd", tol=1e-2).fit(X)
    model = dkd.KMeans(7, init=init, tol=1e-2).fit(da.from_array(X, chunks=(500, 2)))
    assert_same_fit(model, ref)


def test_predict_transform_score_equal_in_memory():
    X = blobs(seed=5)
    Y = blobs(n=1000, seed=6)
    init = X[:7].copy()
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd").fit(X)
    model = dkd.KMeans(7, init=init).fit(da.from_array(X, chunks=(800, 6)))
    dY = da.from_array(Y, chunks=(300, 6))
    labels = model.predict(dY)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), ref.predict(Y))
    np.testing.assert_allclose(model.transform(dY).compute(), ref.transform(Y), rtol=RTOL)
    w = np.linspace(0, 2, Y.shape[0])
    np.testing.assert_allclose(model.score(dY, sample_weight=da.from_array(w, chunks=300)),
                               ref.score(Y, sample_weight=w), rtol=RTOL)


def _fit_kmpar(X, seed):
    return dkd.KMeans(7, random_state=seed).fit(da.from_array(X, chunks=(700, 6)))


def test_bitwise_same_across_schedulers_and_workers(cluster1, cluster2):
    """k-means|| and the Lloyd loop give bitwise the same fit on 0 (threads), 1 and 2 workers."""
    X = blobs(seed=7)
    w = np.random.RandomState(2).uniform(0.5, 2, size=X.shape[0])
    fits = []
    for cluster in (None, cluster1, cluster2):
        if cluster is None:
            fits.append(dkd.KMeans(7, random_state=3).fit(
                da.from_array(X, chunks=(700, 6)), sample_weight=w))
            continue
        with distributed.Client(cluster):
            m = dkd.KMeans(7, random_state=3).fit(da.from_array(X, chunks=(700, 6)),
                                                   sample_weight=w)
            m.labels_ = m.labels_.compute()
            fits.append(m)
    for m in fits[1:]:
        np.testing.assert_array_equal(m.cluster_centers_, fits[0].cluster_centers_)
        assert m.inertia_ == fits[0].inertia_
        assert m.n_iter_ == fits[0].n_iter_
        np.testing.assert_array_equal(m.labels_, fits[0].labels_.compute())


def test_kmeans_parallel_close_to_kmeans_plusplus():
    """Final inertia from k-means|| (and sampled k-means++) within 5% of in-memory k-means++.

    Means over 12 seeds: single runs differ by up to 15% (local minima) whatever the init.
    """
    X = blobs(n=8000, d=8, k=20, seed=8)
    dX = da.from_array(X, chunks=(2000, 8))
    par = np.mean([dkd.KMeans(20, random_state=s).fit(dX).inertia_ for s in range(12)])
    pp = np.mean([dynkm.KMeans(20, random_state=s).fit(X).inertia_ for s in range(12)])
    sample = np.mean([dkd.KMeans(20, init="k-means++", random_state=s).fit(dX).inertia_
                      for s in range(12)])
    assert par <= 1.05 * pp, (par, pp)
    assert sample <= 1.05 * pp, (sample, pp)


def test_nan_chunk_raises_naming_it(cluster2):
    X = blobs()
    X[2100, 3] = np.nan
    dX = da.from_array(X, chunks=(1000, 6))  # row 2100 is in chunk 2
    model = dkd.KMeans(7, init=X[:7])
    with pytest.raises(ValueError, match=r"X \(chunk 2.*NaN"):
        model.fit(dX)
    with distributed.Client(cluster2), pytest.raises(ValueError, match=r"X \(chunk 2.*NaN"):
        model.fit(dX)
    assert not hasattr(model, "cluster_centers_")  # nothing half-fitted


def test_bad_chunks_raise():
    X = blobs()
    good = dkd.KMeans(7, init=X[:7]).fit(da.from_array(X, chunks=(1000, 6)))
    # A chunk whose real width differs from what the dask array declares.
    lie = da.concatenate([da.from_array(X[:1000], chunks=(1000, 6)),
                          da.from_delayed(__import__("dask").delayed(X[1000:, :5]),
                                          shape=(2000, 6), dtype=X.dtype)])
    with pytest.raises(ValueError, match=r"chunk 1 has shape \(2000, 5\)"):
        dkd.KMeans(7, init=X[:7]).fit(lie)
    with pytest.raises(ValueError, match="features"):
        good.predict(da.from_array(X[:, :5], chunks=(1000, 5)))
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        dkd.KMeans(7, init=X[:7]).fit(da.from_array(X, chunks=1000), sample_weight=np.ones(5))
    with pytest.raises(TypeError, match="dask array"):
        dkd.KMeans(7).fit(X)
    with pytest.raises(ValueError, match="init"):
        dkd.KMeans(7, init="random").fit(da.from_array(X, chunks=1000))


def test_fit_chunks_equals_partial_fit_in_memory():
    X = blobs(seed=9)
    chunks = (1000, 700, 1300)
    ref = dynkm.MiniBatchKMeans(7, random_state=0)
    start = 0
    for size in chunks:
        ref.partial_fit(X[start:start + size])
        start += size
    model = dkd.fit_chunks(dynkm.MiniBatchKMeans(7, random_state=0),
                           da.from_array(X, chunks=(chunks, 6)))
    np.testing.assert_array_equal(model.cluster_centers_, ref.cluster_centers_)


def test_worker_lost_mid_fit_gives_the_same_result(monkeypatch):
    """A worker closed after the second iteration: its chunks are recomputed, same fit."""
    X = blobs(seed=10)
    init = X[:7].copy()
    expected = dkd.KMeans(7, init=init).fit(da.from_array(X, chunks=(500, 6)))
    with _cluster(2) as cluster, distributed.Client(cluster) as client:
        calls = []
        original = _lloyd.iteration_info

        def read_then_kill(runner, handle):
            calls.append(1)
            if len(calls) == 2:
                worker = next(iter(cluster.workers.values()))
                client.sync(worker.close)
            return original(runner, handle)

        monkeypatch.setattr(_lloyd, "iteration_info", read_then_kill)
        model = dkd.KMeans(7, init=init).fit(da.from_array(X, chunks=(500, 6)))
        assert len(calls) >= 3 and len(client.scheduler_info()["workers"]) == 1
        np.testing.assert_array_equal(model.cluster_centers_, expected.cluster_centers_)
        np.testing.assert_array_equal(model.labels_.compute(), expected.labels_.compute())
        assert model.inertia_ == expected.inertia_


def test_fit_chunks_dynamic_equals_partial_fit_in_memory():
    X = blobs(n=2000, seed=12)
    chunks = (600, 400, 1000)
    ref = dynkm.DynamicKMeans(min_size=40, max_size=120, random_state=0)
    start = 0
    for size in chunks:
        ref.partial_fit(X[start:start + size])
        start += size
    model = dkd.fit_chunks(dynkm.DynamicKMeans(min_size=40, max_size=120, random_state=0),
                           da.from_array(X, chunks=(chunks, 6)))
    np.testing.assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
    assert model.history_["n_clusters"].tolist() == ref.history_["n_clusters"].tolist()


def test_far_from_origin_equals_in_memory():
    """Data far from the origin (kmcore computes around their mean): the same fit."""
    X = blobs(seed=11) + 1e5
    init = X[:7].copy()
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd").fit(X)
    model = dkd.KMeans(7, init=init).fit(da.from_array(X, chunks=(700, 6)))
    assert_same_fit(model, ref)


def test_float32_kept_and_close_to_in_memory():
    X = blobs(seed=13, dtype=np.float32)
    init = X[:7].copy()
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd").fit(X)
    model = dkd.KMeans(7, init=init).fit(da.from_array(X, chunks=(1000, 6)))
    assert model.cluster_centers_.dtype == np.float32
    assert model.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(model.labels_.compute(), ref.labels_)
    np.testing.assert_allclose(model.cluster_centers_, ref.cluster_centers_, rtol=1e-5,
                               atol=1e-5)


def test_weights_with_other_chunks_raise():
    """sample_weight must be chunked like X's rows: a clear error, the estimator untouched."""
    X = blobs()
    dX = da.from_array(X, chunks=(1000, 6))
    w = np.ones(X.shape[0])
    model = dkd.KMeans(7, init=X[:7])
    for chunks in [(1500, 1500), (1000, 999, 1001)]:
        with pytest.raises(ValueError, match=r"sample_weight's chunks .* differ from X's row "
                                             r"chunks \(1000, 1000, 1000\).*rechunk"):
            model.fit(dX, sample_weight=da.from_array(w, chunks=(chunks,)))
    assert not hasattr(model, "cluster_centers_")
    fitted = dkd.KMeans(7, init=X[:7]).fit(dX)
    with pytest.raises(ValueError, match="sample_weight's chunks"):
        fitted.score(dX, sample_weight=da.from_array(w, chunks=500))
    # Same chunks, or weights in memory: accepted.
    model.fit(dX, sample_weight=da.from_array(w, chunks=1000))
    model.fit(dX, sample_weight=w)


def test_dask_dataframe_and_pandas_chunks_equal_in_memory():
    """A dask DataFrame (weights as one of its columns) and a dask array of pandas chunks."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    dask = pytest.importorskip("dask")
    X = blobs(seed=14)
    w = np.random.RandomState(3).uniform(0.2, 2, size=X.shape[0])
    init = X[:7].copy()
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd").fit(X, sample_weight=w)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]).assign(w=w)
    ddf = dd.from_pandas(frame, npartitions=4)
    features = ddf[[f"f{i}" for i in range(X.shape[1])]]
    assert_same_fit(dkd.KMeans(7, init=init).fit(features, sample_weight=ddf["w"]), ref)
    # A dask array whose chunks are pandas DataFrames (as from a reader's delayed calls).
    bounds = [0, 1100, 2000, 3000]
    parts = [da.from_delayed(dask.delayed(pd.DataFrame)(X[a:b]), shape=(b - a, X.shape[1]),
                             dtype=X.dtype) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    model = dkd.KMeans(7, init=init).fit(da.concatenate(parts),
                                         sample_weight=da.from_array(w, chunks=((1100, 900,
                                                                                 1000),)))
    assert_same_fit(model, ref)
    # Its .values have chunks of unknown length: a clear error, not a guess.
    with pytest.raises(ValueError, match="unknown size.*compute_chunk_sizes"):
        dkd.KMeans(7, init=init).fit(features.values)
    with pytest.raises(TypeError, match="real numbers"):
        dkd.KMeans(7, init=init).fit(ddf.assign(s="a"))


def _uneven_weighted(seed):
    X = blobs(seed=seed)
    w = np.random.RandomState(seed).uniform(0, 3, size=X.shape[0])
    chunks = (700, 1300, 1, 999)
    return X, w, da.from_array(X, chunks=(chunks, 6)), da.from_array(w, chunks=(chunks,))


def _keys_received(dask_worker):
    """The keys a worker fetched from other workers."""
    return [str(key) for t in dask_worker.transfer_incoming_log for key in t["keys"]]


def test_process_workers_equal_in_memory_and_threads(process_cluster, cluster2):
    """On worker processes: the in-memory fit, bitwise the fit on thread workers."""
    X, w, dX, dw = _uneven_weighted(15)
    init = X[:7].copy()
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd").fit(X, sample_weight=w)
    fits = []
    for cluster in (process_cluster, cluster2):
        with distributed.Client(cluster) as client:
            m = dkd.KMeans(7, init=init).fit(dX, sample_weight=dw)
            m.labels_ = m.labels_.compute()
            k_par = dkd.KMeans(7, random_state=4).fit(dX, sample_weight=dw)
            fits.append((m, k_par.cluster_centers_))
            # Every chunk's tasks ran where the chunk was: none was copied to
            # the other worker (the centers are on both).
            moved = client.run(_keys_received)
            assert not any(key.startswith("chunk_validate") for keys in moved.values()
                           for key in keys), moved
    (proc, proc_par), (thr, thr_par) = fits
    proc.labels_ = da.from_array(proc.labels_)  # assert_same_fit computes them
    assert_same_fit(proc, ref)
    np.testing.assert_array_equal(proc.cluster_centers_, thr.cluster_centers_)
    np.testing.assert_array_equal(proc_par, thr_par)


def test_worker_process_killed_mid_fit_gives_the_same_result(monkeypatch):
    """SIGKILL to a worker process after the second iteration: the same fit as undisturbed.

    The nanny starts a new worker; the killed one's chunks, labels and
    centers are recomputed from their lineage or fetched from the
    other worker.
    """
    X, w, dX, dw = _uneven_weighted(16)
    init = X[:7].copy()
    expected = dkd.KMeans(7, init=init).fit(dX, sample_weight=dw)
    with _process_cluster() as cluster, distributed.Client(cluster) as client:
        calls = []
        original = _lloyd.iteration_info
        pids = sorted(client.run(os.getpid).values())

        def read_then_kill(runner, handle):
            calls.append(1)
            if len(calls) == 2:
                os.kill(pids[0], signal.SIGKILL)
            return original(runner, handle)

        monkeypatch.setattr(_lloyd, "iteration_info", read_then_kill)
        model = dkd.KMeans(7, init=init).fit(dX, sample_weight=dw)
        assert len(calls) >= 3
        assert pids[0] not in client.run(os.getpid).values()  # that process is gone
        np.testing.assert_array_equal(model.cluster_centers_, expected.cluster_centers_)
        np.testing.assert_array_equal(model.labels_.compute(), expected.labels_.compute())
        assert model.inertia_ == expected.inertia_
        assert model.n_iter_ == expected.n_iter_


def _pairwise_tree(values):
    """The reference reduction: pairs (0, 1), (2, 3), ..., then the pairs' sums, in order.

    Written by strides (value i takes value i + stride, for strides 1, 2, 4, ...), not
    level by level as the code under test, so that it checks the order independently.
    """
    v = list(values)
    stride = 1
    while stride < len(v):
        for i in range(0, len(v) - stride, 2 * stride):
            v[i] = v[i] + v[i + stride]
        stride *= 2
    return v[0]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 130])
def test_tree_reduce_adds_as_the_pairwise_tree(n):
    # Values of very different magnitudes: any other order of additions
    # rounds differently (checked below), so equality means the same order.
    from dynkm.dask import _chunks

    rng = np.random.RandomState(n)
    values = rng.randn(n, 5) * 10.0 ** rng.randint(-8, 9, size=(n, 1))
    stats = [{"inertia": v[0], "sums": v} for v in values]
    got = dask_compute_sync(_chunks.tree_reduce([dask_value(s) for s in stats]))
    want = _pairwise_tree(values)
    np.testing.assert_array_equal(got["sums"], want)
    assert got["inertia"] == want[0]
    if n >= 17:
        assert not np.array_equal(np.cumsum(values, axis=0)[-1], want)


def dask_value(value):
    import dask
    return dask.delayed(value, pure=False)


def dask_compute_sync(value):
    import dask
    return dask.compute(value, scheduler="sync")[0]


def test_farthest_is_a_stable_sort_of_all():
    from dynkm.dask import _chunks

    rng = np.random.RandomState(0)
    for size, k in [(50, 7), (7, 50), (1000, 256), (300, 1), (40, 40)]:
        dist = rng.randint(0, 5, size=size).astype(np.float32)  # many ties, zeros
        want = np.argsort(-dist, kind="stable")[:k]
        want = want[dist[want] > 0]
        np.testing.assert_array_equal(_chunks.farthest(dist, k), want)


def test_chunk_step_counts_changed_labels():
    from dynkm.dask import _chunks

    X = blobs(n=500, seed=11)
    part = _chunks.chunk_validate(X, None, 0, X.shape, np.float64)
    a, b = X[:7].copy(), X[7:14].copy()
    labels = [((X[:, None] - c[None]) ** 2).sum(-1).argmin(1) for c in (a, b)]
    assert _chunks.chunk_step(part, b, 0, 1)["changed"] == -1
    assert (_chunks.chunk_step(part, b, 0, 1, previous=a)["changed"]
            == np.count_nonzero(labels[0] != labels[1]) > 0)
    assert _chunks.chunk_step(part, b, 0, 1, previous=b)["changed"] == 0


@pytest.mark.parametrize("case", ["converged", "relocated", "relocated-counted", "max_iter"])
def test_strict_convergence_as_in_memory(case, capsys, monkeypatch):
    """The in-memory run stops strictly (labels equal) exactly when the dask run does.

    After a relocation the changed labels are counted unless a moved row surely
    changed label ("relocated": seen to be sure; "relocated-counted": counted
    anyway)."""
    X = blobs(n=2000, k=5, seed=3)
    init = X[:5].copy()
    max_iter = 300
    sure = []
    original = _lloyd.surely_moved
    monkeypatch.setattr(_lloyd, "surely_moved", lambda moved, centers: sure.append(
        original(moved, centers)) or (sure[-1] and case == "relocated"))
    if case.startswith("relocated"):
        init[[1, 3]] = 1e3  # empty at the first iteration
    if case == "max_iter":
        max_iter = 2
    ref = dynkm.KMeans(5, init=init, algorithm="lloyd", max_iter=max_iter, tol=0,
                       verbose=1).fit(X)
    in_memory = "strict convergence" in capsys.readouterr().out
    model = dkd.KMeans(5, init=init, max_iter=max_iter, tol=0, verbose=1).fit(
        da.from_array(X, chunks=(300, 6)))
    assert ("strict convergence" in capsys.readouterr().out) == in_memory
    assert in_memory == (case != "max_iter")
    assert_same_fit(model, ref)
    assert (True in sure) == case.startswith("relocated")


def _held_names(client):
    """The task names (keys without their token) of everything the workers hold."""
    keys = {key for keys in client.has_what().values() for key in keys}
    return sorted({str(key[0] if isinstance(key, tuple) else key).rsplit("-", 1)[0]
                   for key in keys})


def test_an_iteration_leaves_nothing_on_the_workers(cluster2, monkeypatch):
    """The chunks stay on the workers through the fit and nothing of its steps (their
    stats, the centers) after it; the workers holding the chunks are looked up once per
    fit, not per iteration.

    (With several iterations per graph, the steps in flight when the client reads one
    iteration are on the workers at that moment: not checked per iteration.)"""
    import time

    X = blobs(seed=12)
    held, lookups = [], []
    original = _lloyd.iteration_info
    who_has = distributed.Client.who_has

    def read_and_look(runner, handle):
        held.append(_held_names(client))
        return original(runner, handle)

    def counted(self, *args, **kwargs):
        lookups.append(1)
        return who_has(self, *args, **kwargs)

    monkeypatch.setattr(_lloyd, "iteration_info", read_and_look)
    monkeypatch.setattr(distributed.Client, "who_has", counted)
    steps = {"iteration_step", "reduced_update", "pick_info", "pick", "dict"}
    with distributed.Client(cluster2) as client:
        model = dkd.KMeans(7, init=X[:7].copy(), max_iter=4, tol=0).fit(
            da.from_array(X, chunks=(500, 6)))
        # The client's releases travel to the scheduler, then to the workers.
        deadline = time.monotonic() + 10
        while steps & set(_held_names(client)) and time.monotonic() < deadline:
            time.sleep(0.05)
        after = _held_names(client)
    # 4 iterations read, then the objective of the step after the last (the inertia).
    assert model.n_iter_ == 4 and len(held) == 5
    assert all("chunk_validate" in names for names in held), held
    assert not steps & set(after), after
    assert len(lookups) == 1


@pytest.mark.parametrize("n_groups", [1, 2, 3, 5])
@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
def test_subtrees_of_any_grouping_add_as_the_pairwise_tree(n, n_groups):
    """Chunks split among workers in any way (each worker adding the subtrees it holds
    whole): the root is bitwise the pairwise tree over the chunk index."""
    from dynkm.dask import _chunks

    rng = np.random.RandomState(10 * n + n_groups)
    values = rng.randn(n, 5) * 10.0 ** rng.randint(-8, 9, size=(n, 1))
    want = _pairwise_tree(values)
    for _ in range(10):
        owner = rng.randint(n_groups, size=n)
        groups = [_chunks.held_subtrees({j: {"sums": values[j]} for j in np.flatnonzero(
            owner == g)}, n) for g in range(n_groups)]
        np.testing.assert_array_equal(_chunks.add_subtrees(groups, n)["sums"], want)
        # Adjacent chunks of one owner are sent as one subtree, not one by one.
        if n_groups == 1:
            assert list(groups[0]) == [(_chunks.root_level(n), 0)]


def _count_graphs(monkeypatch):
    graphs = []
    original = _lloyd.Runner.submit

    def counted(self, values):
        graphs.append(len(values))
        return original(self, values)

    monkeypatch.setattr(_lloyd.Runner, "submit", counted)
    return graphs


@pytest.mark.parametrize("case", ["tol", "strict", "relocated"])
def test_chained_iterations_stop_as_in_memory(cluster2, monkeypatch, case):
    """Several iterations per graph: stopping mid-graph, at a graph's last iteration or
    in a later graph gives the in-memory n_iter, centers, labels and history, and bitwise
    the fit of one iteration per graph; the graphs are as few as the chain length says."""
    X = blobs(seed=17)
    init = X[:7].copy()
    tol = 1e-2 if case == "tol" else 0.0
    if case == "relocated":
        init[[2, 5]] = 1e3  # empty at the first iteration: refilled on the client
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd", tol=tol).fit(X)
    n = ref.n_iter_
    assert n >= 4
    assert (ref.history_["n_relocated"][0] == 2) == (case == "relocated")
    # A strict stop (no center moved) has the final inertia from its own step.
    strict = ref.history_["center_shift"][-1] == 0
    assert strict == (case != "tol")
    dX = da.from_array(X, chunks=(400, 6))
    graphs = _count_graphs(monkeypatch)
    with distributed.Client(cluster2):
        fits = {}
        for chain in (1, 3, n - 1, n, 50):
            del graphs[:]
            fits[chain] = dkd.KMeans(7, init=init, tol=tol, chain_length=chain).fit(dX)
            fits[chain].labels_ = da.from_array(fits[chain].labels_.compute())
            # One graph per chain_length iterations (a relocation starts a new one),
            # and one more for the final inertia when the stop ends a graph.
            restart = case == "relocated" and chain > 1
            first = 1 if restart else 0
            expected = first + -(-(n - first) // chain)
            if not strict and (n - first) % chain == 0:
                expected += 1
            assert len(graphs) == expected, (chain, graphs)
    for chain, model in fits.items():
        assert_same_fit(model, ref)
        np.testing.assert_array_equal(model.cluster_centers_, fits[1].cluster_centers_)
        assert model.inertia_ == fits[1].inertia_, chain


def test_chained_max_iter_not_a_multiple_of_the_chain(cluster2, monkeypatch):
    X = blobs(seed=18)
    init = X[:7].copy()
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd", max_iter=7, tol=0).fit(X)
    assert ref.n_iter_ == 7
    graphs = _count_graphs(monkeypatch)
    with distributed.Client(cluster2):
        model = dkd.KMeans(7, init=init, max_iter=7, tol=0, chain_length=3).fit(
            da.from_array(X, chunks=(700, 6)))
        assert_same_fit(model, ref)
    # 3 + 3 iterations, then the last with one step more (the final inertia) in one graph.
    assert len(graphs) == 3 and graphs[-1] == 2 * 2


def test_one_update_or_one_per_worker_give_the_same_fit(cluster2, monkeypatch):
    """Each worker computing the update itself, or one task for all (more workers than
    _lloyd.MAX_REPLICAS): bitwise the same fit, the in-memory one."""
    X, w, dX, dw = _uneven_weighted(19)
    init = X[:7].copy()
    ref = dynkm.KMeans(7, init=init, algorithm="lloyd").fit(X, sample_weight=w)
    fits = []
    with distributed.Client(cluster2):
        for replicas in (4, 1):
            monkeypatch.setattr(_lloyd, "MAX_REPLICAS", replicas)
            model = dkd.KMeans(7, init=init, chain_length=4).fit(dX, sample_weight=dw)
            model.labels_ = da.from_array(model.labels_.compute())
            fits.append(model)
    for model in fits:
        assert_same_fit(model, ref)
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert fits[0].inertia_ == fits[1].inertia_


def test_groups_split_by_worker_and_thread():
    """A worker's chunks, in index order, split into one task per thread; chunks of no
    known worker are a task each."""
    from dynkm.dask._data import _groups

    homes = [["a"], ["b"], ["a"], ["a"], ["b"], ["a"], None]
    groups = _groups(homes, {"a": 2, "b": 1})
    assert groups == [(["a"], [0, 2]), (["b"], [1, 4]), (["a"], [3, 5]), (None, [6])]
    assert _groups([None, None], {}) == [(None, [0]), (None, [1])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunk_stats_are_the_float64_sums(dtype):
    """A validated chunk's stats: float64 column sums (unweighted, for the mean of the
    tolerance), total weight and rows of positive weight, against NumPy in float64."""
    from dynkm.dask import _chunks

    rng = np.random.RandomState(21)
    X = (rng.randn(1001, 13) * 100 + 7).astype(dtype)
    w = rng.uniform(0, 2, X.shape[0]).astype(dtype)
    w[::5] = 0
    stats = _chunks.chunk_validate(X, w, 0, X.shape, np.dtype(dtype))[3]
    np.testing.assert_allclose(stats["colsum"], X.astype(np.float64).sum(axis=0), rtol=1e-12)
    assert stats["colsum"].dtype == np.float64
    np.testing.assert_allclose(stats["weight"], w.astype(np.float64).sum(), rtol=1e-12)
    assert stats["n_positive"] == np.count_nonzero(w)


@pytest.mark.parametrize("replicas", [4, 1])
def test_no_task_between_two_iterations(cluster2, monkeypatch, replicas):
    """With a few workers (up to _lloyd.MAX_REPLICAS) each iteration's step of every worker
    depends on the steps of the iteration before directly (it computes the update itself):
    one update task per graph, its last; with more, one update task between two iterations.
    The fit is the in-memory one either way."""
    from dask.core import get_dependencies

    from dynkm.dask._data import ChunkedData

    monkeypatch.setattr(_lloyd, "MAX_REPLICAS", replicas)
    X, _, dX, _ = _uneven_weighted(20)
    init = X[:7].copy()
    with distributed.Client(cluster2):
        data = ChunkedData(dX, None)
        assert len({home[0] for home, _ in data.groups}) == 2
        infos = _lloyd.chain_graph(data, init, None, 3, 1)[1]
        dsk = dict(infos[-1].__dask_graph__())

        def name(key):
            return str(key).split("-", 1)[0]

        steps = [key for key in dsk if name(key) == "iteration_step"]
        updates = [key for key in dsk if name(key) == "reduced_update"]
        assert len(steps) == 3 * len(data.groups)
        assert len(updates) == (1 if replicas == 4 else 3)
        after = {"iteration_step": 0, "reduced_update": 0}
        for key in steps:
            before = {name(dep) for dep in get_dependencies(dsk, key)}
            assert before <= {"iteration_step", "reduced_update", "dict"}, before
            for task in after:
                after[task] += task in before
        # Iterations 1 and 2 follow the steps (replicas) or an update task (one).
        n = 2 * len(data.groups)
        assert after == ({"iteration_step": n, "reduced_update": 0} if replicas == 4
                         else {"iteration_step": 0, "reduced_update": n}), after
        fit = _lloyd.run_lloyd(data, init.copy(), 3, 0.0, 1, 1, 0, chain=3)
    ref = dynkm.KMeans(7, init=init, max_iter=3, tol=0, algorithm="lloyd").fit(X)
    np.testing.assert_allclose(fit["centers"], ref.cluster_centers_, rtol=1e-10)
    assert fit["n_iter"] == ref.n_iter_
