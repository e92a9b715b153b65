"""dynkm.dask's bounded strategies (Yinyang's groups, Elkan's, Hamerly's) against in memory.

Each chunk's bounds and labels stay on the worker holding the chunk, in its
process's store from one step to the next: these tests check that the fit is
still the in-memory one from the same init (labels, n_iter, centers and
inertia to 1e-10 in float64), that a step from kept bounds equals one from new
bounds (what a retry or a lost worker's recompute falls back to) and leaves
its other inputs as they were, and that the memory budget falls back to
Lloyd's pass.
"""

import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dynkm.dask needs dask[array] (the [dask] extra)")
distributed = pytest.importorskip("distributed",
                                  reason="dynkm.dask's tests need distributed (the [dask] extra)")

import dynkm  # noqa: E402
import dynkm._lloyd as memory_lloyd  # noqa: E402
import dynkm.dask as dkd  # noqa: E402
from dynkm.dask import _chunks, _lloyd  # noqa: E402
from kmcore import row_norms  # noqa: E402
from kmcore.yinyang import bounds_nbytes, center_groups  # noqa: E402

RTOL = 1e-10
K = 40  # at least dynkm._lloyd.AUTO_MIN_CLUSTERS: "auto" bounds the distances


def _cluster(n_workers):
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=False,
                                    dashboard_address="127.0.0.1:0")


@pytest.fixture(scope="module")
def cluster2():
    with _cluster(2) as cluster:
        yield cluster


def blobs(n=6000, d=20, k=K, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    centers = rng.randn(k, d) * 3
    X = centers[rng.randint(k, size=n)] + rng.randn(n, d)
    return X.astype(dtype)


def _init(X, k=K, seed=1):
    return X[np.random.RandomState(seed).choice(X.shape[0], k, replace=False)].copy()


def assert_same_fit(model, ref, rtol=RTOL, same_algorithm=True):
    """The dask fit equals the in-memory one: labels, n_iter, algorithm; centers, inertia
    and the objectives to rtol."""
    assert model.n_iter_ == ref.n_iter_
    if same_algorithm:
        assert model.history_["algorithm"] == ref.history_["algorithm"]
        assert model.history_["n_groups"] == ref.history_["n_groups"]
    np.testing.assert_array_equal(model.labels_.compute(), ref.labels_)
    scale = np.abs(ref.cluster_centers_).max()
    np.testing.assert_allclose(model.cluster_centers_, ref.cluster_centers_, rtol=rtol,
                               atol=rtol * scale)
    np.testing.assert_allclose(model.inertia_, ref.inertia_, rtol=rtol)
    np.testing.assert_allclose(model.history_["objective"], ref.history_["objective"],
                               rtol=rtol)
    np.testing.assert_array_equal(model.history_["n_relocated"], ref.history_["n_relocated"])


def _fit_both(X, init, chunks, algorithm="auto", w=None, chain_length=None, **kwargs):
    ref = dynkm.KMeans(init.shape[0], init=init, algorithm=algorithm, **kwargs).fit(
        X, sample_weight=w)
    dX = da.from_array(X, chunks=(chunks, X.shape[1]))
    dw = None if w is None else da.from_array(w, chunks=(chunks,))
    model = dkd.KMeans(init.shape[0], init=init, algorithm=algorithm,
                       chain_length=chain_length, **kwargs).fit(dX, sample_weight=dw)
    return model, ref


@pytest.mark.parametrize("chunks", [6000, 1000, (2500, 1, 1499, 2000)],
                         ids=["one", "even", "uneven"])
@pytest.mark.parametrize("algorithm", ["auto", "elkan"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bounded_fit_equals_in_memory(chunks, algorithm, weighted):
    X = blobs()
    w = np.random.RandomState(2).uniform(0, 3, X.shape[0]) if weighted else None
    model, ref = _fit_both(X, _init(X), chunks, algorithm, w)
    assert model.history_["algorithm"] == ("yinyang" if algorithm == "auto" else "elkan")
    assert ref.n_iter_ > 5  # several bounded iterations ran
    assert_same_fit(model, ref)
    fraction = model.history_["distance_fraction"]
    assert fraction[0] == 1.0 and fraction[-1] < 0.5  # the bounds skipped distances


@pytest.mark.parametrize("k", [32, 100])
@pytest.mark.parametrize("max_iter, tol", [(300, 1e-4), (300, 1e-2), (4, 0.0)],
                         ids=["tol", "coarse-tol", "max_iter"])
def test_bounded_tol_and_max_iter_stops_as_in_memory(cluster2, k, max_iter, tol):
    X = blobs(seed=3, k=k)
    init = _init(X, k, seed=4)
    with distributed.Client(cluster2):
        model, ref = _fit_both(X, init, 700, "yinyang", max_iter=max_iter, tol=tol)
    assert_same_fit(model, ref)
    if max_iter == 4:
        assert model.n_iter_ == 4


def test_hamerly_for_few_features_equals_in_memory(cluster2):
    X = blobs(d=5, seed=5)
    with distributed.Client(cluster2):
        model, ref = _fit_both(X, _init(X), 900)
    assert model.history_["algorithm"] == "hamerly"
    assert_same_fit(model, ref)


def test_float32_bounded_close_to_in_memory(cluster2):
    X = blobs(seed=6, dtype=np.float32)
    with distributed.Client(cluster2):
        model, ref = _fit_both(X, _init(X), 1100)
    assert model.cluster_centers_.dtype == np.float32
    assert model.history_["algorithm"] == "yinyang"
    assert model.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(model.labels_.compute(), ref.labels_)
    np.testing.assert_allclose(model.cluster_centers_, ref.cluster_centers_, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(model.inertia_, ref.inertia_, rtol=1e-5)


def test_far_from_origin_bounded_equals_in_memory():
    """Data far from the origin (the bounds computed around each chunk's mean)."""
    X = blobs(seed=7) + 1e5
    model, ref = _fit_both(X, _init(X), 1500)
    assert_same_fit(model, ref)


def test_empty_cluster_in_a_bounded_run_relocated_as_in_memory(cluster2):
    """A bounded iteration that empties clusters is redone by Lloyd's pass and refilled
    as in memory; the bounds start again after it."""
    X = blobs(seed=8)
    init = _init(X, seed=9)
    init[[3, 11]] = 1e3  # nobody near: empty at the first iteration
    with distributed.Client(cluster2):
        model, ref = _fit_both(X, init, 1000, chain_length=3)
    assert ref.history_["n_relocated"][0] == 2
    assert_same_fit(model, ref)
    # The first iteration is counted twice (the bounds' pass, then Lloyd's).
    assert model.history_["distance_fraction"][0] == 2.0


@pytest.mark.parametrize("chain", [1, 2, 50])
def test_chain_length_does_not_change_a_bounded_fit(cluster2, chain):
    X = blobs(seed=10)
    init = _init(X, seed=11)
    with distributed.Client(cluster2):
        model = dkd.KMeans(K, init=init, chain_length=chain).fit(
            da.from_array(X, chunks=(800, 20)))
        one = dkd.KMeans(K, init=init, chain_length=10).fit(da.from_array(X, chunks=(800, 20)))
    np.testing.assert_array_equal(model.cluster_centers_, one.cluster_centers_)
    assert model.inertia_ == one.inertia_ and model.n_iter_ == one.n_iter_
    np.testing.assert_array_equal(model.history_["distance_fraction"],
                                  one.history_["distance_fraction"])


# ------------------------------------------------------------------ the retry property


def _part(X, w=None):
    x = np.ascontiguousarray(X)
    return x, row_norms(x, n_threads=1, check_input=False), w, {}


def _copy(value):
    if isinstance(value, dict):
        return {key: _copy(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copy(v) for v in value)
    return value.copy() if isinstance(value, np.ndarray) else value


def _assert_equal(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_equal(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _assert_equal(u, v)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def _stats_without_distances(stats):
    return {key: value for key, value in stats.items() if key != "distances"}


@pytest.mark.parametrize("kind", ["yinyang", "hamerly"])
def test_a_bounded_step_from_kept_bounds_equals_one_from_new_bounds(kind):
    """A step that goes on from the chunk's kept bounds (updated in place) and one from new
    bounds (what a step run again elsewhere falls back to): bitwise the same labels and
    stats, the exact nearest centers, fewer distances from the kept bounds; the chunk,
    the centers and the drift unchanged."""
    X = blobs(n=3000, seed=12)
    w = np.random.RandomState(13).uniform(0.5, 2, X.shape[0])
    part = _part(X, w)
    c0 = _init(X, seed=14)
    groups = center_groups(c0, 4) if kind == "yinyang" else None
    _, bounds = _chunks.chunk_bounded_step(part, c0, None, None, groups, 1)
    labels = bounds.labels.copy()
    sums = np.zeros_like(c0)
    np.add.at(sums, labels, w[:, None] * X)
    weights = np.bincount(labels, weights=w, minlength=K)
    c1 = sums / weights[:, None]
    drift = np.sqrt(((c1 - c0) ** 2).sum(axis=1))
    inputs = (part, c1, drift)
    saved = _copy(inputs)
    kept, same = _chunks.chunk_bounded_step(*inputs, bounds, groups, 1)
    _assert_equal(inputs, saved)  # nothing given was changed but the bounds
    assert same is bounds  # updated in place
    new, fresh = _chunks.chunk_bounded_step(*inputs, None, groups, 1)
    _assert_equal(inputs, saved)
    np.testing.assert_array_equal(same.labels, fresh.labels)
    _assert_equal(_stats_without_distances(kept), _stats_without_distances(new))
    # The step is the exact one: labels of the nearest centers, sums from them.
    D = ((X[:, None, :] - c1[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(same.labels, D.argmin(axis=1))
    assert new["distances"] == X.shape[0] * K
    assert kept["distances"] < X.shape[0] * K  # the kept bounds skipped some


def test_a_group_step_keeps_its_bounds_and_run_again_gives_the_same():
    """A group's steps keep their chunks' bounds in the store under (fit, chunk,
    iteration); the step of iteration 1 run again (its entry now that of iteration 1,
    not 0) or after its fit's bounds were dropped (a lost worker) starts new bounds and
    gives bitwise the same stats, its inputs unchanged; nothing is kept once dropped."""
    X = blobs(n=5000, seed=15)
    parts = [_part(X[:2000]), _part(X[2000:])]
    c0 = _init(X, seed=16)
    groups = center_groups(c0, 4)
    fit = "test-group-step"
    store = _chunks.BOUNDS
    before = store.held()
    _chunks.group_bounded_step([0, 1], {"centers": c0}, fit, 0, groups, 2, 1, None, False,
                               *parts)
    assert store.held() == before + 2
    c1 = c0 * 0.999 + 0.001
    state = {"centers": c1, "drift": np.sqrt(((c1 - c0) ** 2).sum(axis=1))}
    inputs = ([0, 1], state, fit, 1, groups, 2, 1, None, False, *parts)
    saved = _copy(inputs)
    kept = _chunks.group_bounded_step(*inputs)
    again = _chunks.group_bounded_step(*inputs)
    assert _chunks.drop_bounds(fit) == 2
    dropped = _chunks.group_bounded_step(*inputs)
    _assert_equal(inputs, saved)
    root = _chunks.root_level(2), 0
    assert kept[root]["distances"] < again[root]["distances"] == X.shape[0] * K
    for other in (again, dropped):
        _assert_equal(_stats_without_distances(kept[root]),
                      _stats_without_distances(other[root]))
    # The step after the drop (a step still running as its fit ended) put nothing back.
    assert _chunks.drop_bounds(fit) == 0 and store.held() == before


def test_the_store_refuses_a_dropped_fit_and_evicts_the_least_recently_used():
    store = _chunks.BoundsStore()
    store.put("a", 0, 1, "bounds a")
    assert store.drop("a") == 1
    store.put("a", 1, 2, "late")  # a step that ran on past its fit's end
    assert store.held() == 0 and store.take("a", 1, 2) is None
    for fit in range(store.MAX_FITS):
        store.put(fit, 0, 1, f"bounds {fit}")
    store.put(0, 1, 1, "used again")  # fit 0 is now the most recently used
    store.put("new", 0, 1, "bounds new")
    assert store.take(1, 0, 1) is None  # the least recently used went
    assert store.take(0, 0, 1) == "bounds 0" and store.take(0, 1, 1) == "used again"
    for fit in range(store.MAX_DROPPED + 1):
        store.drop(("old", fit))
    store.put(("old", 0), 0, 1, "forgotten id")  # only the last MAX_DROPPED are remembered
    assert store.take(("old", 0), 0, 1) == "forgotten id"


def test_the_store_keeps_a_few_fits():
    """The oldest fit's bounds go when a new fit would exceed MAX_FITS; a taken entry is
    out of the store until put back; an entry of another iteration is not given."""
    store = _chunks.BoundsStore()
    for fit in range(store.MAX_FITS + 1):
        store.put(fit, 0, 3, f"bounds {fit}")
    assert store.held() == store.MAX_FITS
    assert store.take(0, 0, 3) is None  # the oldest, dropped
    assert store.take(1, 0, 2) is None  # another iteration's: not given, and dropped
    assert store.take(1, 0, 3) is None
    assert store.take(2, 0, 3) == "bounds 2"
    assert store.take(2, 0, 3) is None  # taken out
    assert store.held() == store.MAX_FITS - 2


# ------------------------------------------------------------------ the rule and the budget


@pytest.mark.parametrize("algorithm", memory_lloyd.ALGORITHMS)
@pytest.mark.parametrize("n, k, d", [(6000, 40, 20), (6000, 40, 5), (6000, 10, 20),
                                     (3000, 40, 20), (6000, 1, 20)])
def test_the_strategy_is_the_in_memory_rule(algorithm, n, k, d):
    """Data whose bounds fit the budget: the in-memory rule's choice, whatever the chunks."""
    expected = memory_lloyd.choose_algorithm(algorithm, n, k, d)[:2]
    if algorithm == "elkan" and k == 1:
        expected = ("lloyd", 0)  # as dynkm.KMeans (which also warns)
    for sizes in ([n], [n // 3] * 3, [1, n - 1]):
        assert _lloyd.choose_strategy(algorithm, sizes, k, d)[:2] == expected


def test_over_the_budget_falls_back_to_lloyd(monkeypatch):
    """The chunks' bounds (one copy: updated in place) above the budget: Lloyd's pass,
    said why, the same fit; at the budget, the bounds (whatever the chunks)."""
    X = blobs(seed=17)
    init = _init(X, seed=18)
    per_row = bounds_nbytes(1, round(K / 10))
    ref = dynkm.KMeans(K, init=init, algorithm="lloyd").fit(X)
    fits = {}
    for budget in (X.shape[0] * per_row, X.shape[0] * per_row - 1):
        monkeypatch.setattr(memory_lloyd, "BOUNDS_BUDGET", budget)
        fits[budget] = [dkd.KMeans(K, init=init).fit(da.from_array(X, chunks=(rows, 20)))
                        for rows in (6000, 1000)]
    at, above = fits.values()
    assert [f.history_["algorithm"] for f in at] == ["yinyang"] * 2
    assert [f.history_["algorithm"] for f in above] == ["lloyd"] * 2
    for model in above:
        assert "budget" in model.history_["algorithm_reason"]
        assert np.all(model.history_["distance_fraction"] == 1.0)
        assert_same_fit(model, ref)
    for model in at:
        assert_same_fit(model, ref, same_algorithm=False)


def test_bad_algorithm_raises():
    X = da.from_array(blobs(n=100), chunks=(50, 20))
    with pytest.raises(ValueError, match="algorithm"):
        dkd.KMeans(3, algorithm="fast").fit(X)


# ------------------------------------------------------------------ workers


def _held_names(client):
    keys = {key for keys in client.has_what().values() for key in keys}
    return sorted({str(key[0] if isinstance(key, tuple) else key).rsplit("-", 1)[0]
                   for key in keys})


def test_bounds_stay_between_graphs_and_are_dropped_after(cluster2, monkeypatch):
    """The chunks' bounds stay in the workers' stores through the fit (one entry per
    chunk, into the next graph too), never among dask's results, and nothing of the fit
    is left after it."""
    X = blobs(seed=19)
    seen = []
    original = _lloyd.iteration_info

    def read_and_look(runner, handle):
        seen.append((_held_names(client), client.run(_chunks.held_bounds)))
        return original(runner, handle)

    monkeypatch.setattr(_lloyd, "iteration_info", read_and_look)
    steps = {"iteration_step", "reduced_update", "pick_info", "pick", "dict"}
    with distributed.Client(cluster2) as client:
        model = dkd.KMeans(K, init=_init(X, seed=20), max_iter=6, tol=0, chain_length=2).fit(
            da.from_array(X, chunks=(1000, 20)))
        deadline = time.monotonic() + 10
        while steps & set(_held_names(client)) and time.monotonic() < deadline:
            time.sleep(0.05)
        after = _held_names(client), client.run(_chunks.held_bounds)
    assert model.n_iter_ == 6 and model.history_["algorithm"] == "yinyang"
    # The workers are threads of this process: one store, 6 chunks' bounds in it.
    assert any(set(held.values()) == {6} for _, held in seen[1:]), seen
    assert not any("group_bounded_step" in names for names, _ in seen)
    assert not steps & set(after[0]), after
    assert set(after[1].values()) == {0}, after


def test_worker_lost_in_a_bounded_fit_gives_the_same_result(monkeypatch):
    """A worker closed after the second iteration, its chunks' bounds with it: they are
    recomputed from their lineage, the same fit as undisturbed."""
    X = blobs(seed=21)
    init = _init(X, seed=22)
    expected = dkd.KMeans(K, init=init).fit(da.from_array(X, chunks=(700, 20)))
    with _cluster(2) as cluster, distributed.Client(cluster) as client:
        calls = []
        original = _lloyd.iteration_info

        def read_then_kill(runner, handle):
            calls.append(1)
            if len(calls) == 4:  # in the second graph: the bounds of the first are carried
                worker = next(iter(cluster.workers.values()))
                client.sync(worker.close)
            return original(runner, handle)

        monkeypatch.setattr(_lloyd, "iteration_info", read_then_kill)
        model = dkd.KMeans(K, init=init, chain_length=3).fit(
            da.from_array(X, chunks=(700, 20)))
        assert len(calls) >= 5 and len(client.scheduler_info()["workers"]) == 1
    assert model.history_["algorithm"] == "yinyang"
    np.testing.assert_array_equal(model.cluster_centers_, expected.cluster_centers_)
    np.testing.assert_array_equal(model.labels_.compute(), expected.labels_.compute())
    assert model.inertia_ == expected.inertia_ and model.n_iter_ == expected.n_iter_


@pytest.mark.parametrize("algorithm, d", [("yinyang", 20), ("auto", 8)])
def test_final_inertia_does_not_depend_on_where_the_stop_falls_in_a_graph(algorithm, d):
    # A tolerance stop on a graph's last step takes the final inertia from one
    # step more; it must be the bounded step's (direct distances), as when the
    # stop falls inside a graph, not Lloyd's pass's expansion.
    X = np.random.default_rng(3).normal(size=(6000, d)).astype(np.float32)
    init = X[:K].copy()
    fits = [dkd.KMeans(K, init=init, n_init=1, tol=3e-2, algorithm=algorithm,
                       chain_length=chain).fit(da.from_array(X, chunks=(1500, d)))
            for chain in (1, 2, 3)]
    ref = dynkm.KMeans(K, init=init, n_init=1, tol=3e-2, algorithm=algorithm).fit(X)
    assert {f.n_iter_ for f in fits} == {ref.n_iter_}
    assert fits[0].history_["algorithm"] == ref.history_["algorithm"] != "lloyd"
    assert fits[0].inertia_ == fits[1].inertia_ == fits[2].inertia_
    np.testing.assert_allclose(fits[0].inertia_, ref.inertia_, rtol=1e-12)


# ------------------------------------------------------------------ the objective from the sums


@pytest.mark.parametrize("max_iter", [4, 300], ids=["max_iter", "strict"])
@pytest.mark.parametrize("far, weighted", [(False, False), (False, True), (True, True)],
                         ids=["plain", "weighted", "far-weighted"])
def test_bounded_objective_from_the_sums_as_in_memory(monkeypatch, max_iter, far, weighted):
    """With bounds, each iteration's objective is expanded from the reduced sums around
    the in-memory origin (no pass over the chunks for it): the history equals the
    in-memory one, and direct distances are summed once per chunk, for the final
    inertia only (after a max_iter stop on a graph's last step and after a strict
    stop alike). The far-from-origin case fails if the expansion is not taken
    around the in-memory origin (its terms cancel around 0), the weighted ones if
    sum w ||x||^2 is stale (another weighting's) or unweighted."""
    X = blobs(seed=23) + (1e5 if far else 0.0)
    w = np.random.RandomState(24).uniform(0, 3, X.shape[0]) if weighted else None
    calls = []
    original = _chunks.labelled_inertia

    def counted(*args):
        calls.append(args[0].shape[0])
        return original(*args)

    monkeypatch.setattr(_chunks, "labelled_inertia", counted)
    model, ref = _fit_both(X, _init(X, seed=25), 1200, w=w, max_iter=max_iter, tol=0.0)
    assert model.history_["algorithm"] == "yinyang"
    if max_iter == 300:
        assert ref.n_iter_ < 300  # a strict stop
    assert_same_fit(model, ref)
    assert sorted(calls) == [1200] * 5  # once per chunk


def _counted(method, calls, name):
    def counted(*args, **kwargs):
        calls.append(name)
        return method(*args, **kwargs)
    return counted


def test_objective_terms_are_the_in_memory_ones():
    """The origin and sum w ||x - origin||^2 the objective is expanded with: the in-memory
    driver's for the same rows, computed once per data, the chunks left unchanged."""
    from dynkm.dask._data import ChunkedData
    from kmcore.origin import data_origin

    for shift in (0.0, 1e5):
        X = blobs(n=3001, seed=26) + shift
        w = np.random.RandomState(27).uniform(0, 2, X.shape[0])
        terms = []
        for objective in (False, True):
            data = ChunkedData(da.from_array(X, chunks=(700, 20)), da.from_array(w, chunks=700),
                               objective=objective)
            passes = []
            for name in ("rows", "reduce"):  # the graphs computed after the validation
                setattr(data, name, _counted(getattr(data, name), passes, name))
            terms.append(data.objective_terms())
            origin, wx2 = terms[-1]
            expected_origin = data_origin(X)
            if shift:
                np.testing.assert_array_equal(origin, expected_origin)
            else:
                assert origin is None and expected_origin is None
            at = 0.0 if origin is None else origin
            np.testing.assert_allclose(wx2, float(w @ ((X - at) ** 2).sum(axis=1)),
                                       rtol=1e-12)
            assert data.objective_terms() is data.objective_terms()
            if objective:
                # The validation kept the origin's rows and, for an origin at 0, the sum.
                assert passes == ([] if origin is None else ["reduce"]), passes
            else:
                assert passes == ["rows", "reduce"], passes
        # Bitwise the same terms either way.
        assert terms[0][1] == terms[1][1]
        if shift:
            np.testing.assert_array_equal(terms[0][0], terms[1][0])
    part = _part(X, w)
    saved = _copy(part)
    value = _chunks.chunk_sqnorm_sum(part, origin)["wx2"]
    _assert_equal(part, saved)
    np.testing.assert_allclose(value, float(w @ ((X - origin) ** 2).sum(axis=1)), rtol=1e-12)


def test_update_expands_the_objective_and_changes_nothing():
    """update() with the objective's terms: the in-memory expansion of the reduced sums
    against the iteration's centers; run twice, the same, its inputs unchanged."""
    X = blobs(n=2000, seed=28) + 1e3
    c = _init(X, seed=29)
    labels = ((X[:, None, :] - c[None]) ** 2).sum(axis=2).argmin(axis=1)
    sums = np.zeros_like(c)
    np.add.at(sums, labels, X)
    weights = np.bincount(labels, minlength=K).astype(np.float64)
    stats = {"sums": sums, "weights": weights, "changed": -1,
             "n_positive": np.bincount(labels, minlength=K), "distances": 1}
    origin = X.mean(axis=0)
    expand = (origin, float(((X - origin) ** 2).sum()))
    inputs = ({"centers": c}, 1, np.float64, 1, expand, {(0, 0): stats})
    saved = _copy(inputs)
    first = _chunks.update(*inputs)
    _assert_equal(inputs, saved)
    _assert_equal(first, _chunks.update(*inputs))
    direct = float(((X - c[labels]) ** 2).sum())
    np.testing.assert_allclose(first["info"]["objective"], direct, rtol=1e-10)


def test_dropping_bounds_never_raises_over_the_fits_error():
    """The drop runs in a finally: a client that cannot reach its workers any more
    (closed, disconnected) must not replace the error the fit is propagating."""
    from dynkm.dask import _lloyd

    class Gone:
        def run(self, *args, **kwargs):
            raise OSError("the client is closed")

    with pytest.raises(ValueError, match="the fit's own"):
        try:
            raise ValueError("the fit's own error")
        finally:
            _lloyd.Runner(Gone()).drop_bounds("some fit")
