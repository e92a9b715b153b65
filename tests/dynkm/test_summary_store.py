"""The summary store's growth: inside its pool, no second copy, undone by a failed batch.

An adaptive summary store (``summary_size=None``) keeps its reservoirs in one
pool of the whole byte budget; when the clusters outgrow its capacity, every
reservoir is cut to its best keys and laid out again inside the pool. Checked
here: such a batch allocates much less than one copy of the store (measured by
tracemalloc, deterministic); a batch that fails after the rearrangement, or in
the middle of it, leaves the model and every slot of the pool as they were, and
the retry gives the uninterrupted result.
"""

import tracemalloc

import numpy as np
import pytest

from _state import assert_same_values
from test_stores import gaussian_mixture, state, stream

import dynkm
import dynkm._summary_store
import dynkm.dynamic
from dynkm import DynamicKMeans

# Bytes of reservoirs (the default, 64 MiB, is too slow for a test): with 32 float32
# features, 120 rows a reservoir at 64 and 128 clusters of capacity, then 77 (a row's new
# place overlaps its old one) and 38 (it does not).
BUDGET = 3_000_000
PARAMS = dict(min_size=40, max_size=120, store="summary", random_state=2)


def _stream():
    return gaussian_mixture(30_000, 32, 80, seed=5)


def _shrinking_batches(monkeypatch, X, size):
    """Batches (start) in which the reservoirs were cut short inside the pool."""
    monkeypatch.setattr(dynkm.dynamic, "SUMMARY_BYTES", BUDGET)
    model, found = DynamicKMeans(**PARAMS), []
    for start in range(0, X.shape[0], size):
        before = model._points.budget if start else None
        model.partial_fit(X[start:start + size])
        if before is not None and model._points.budget < before:
            found.append(start)
    return found


def _pool(model):
    return {name: a.copy() for name, a in model._points.pool.items()}


def test_growth_allocates_no_second_copy_of_the_reservoirs(monkeypatch):
    """Every growth of the reservoirs' capacity inside the budget (some of them cutting
    the reservoirs short) allocates at its peak less than a quarter of the store (before:
    a whole new store beside the old one)."""
    monkeypatch.setattr(dynkm.dynamic, "SUMMARY_BYTES", BUDGET)
    real, grown = dynkm._summary_store.ReservoirStore._grow, []

    def grow(store, owner, capacity):
        before, store_bytes = store.budget, store.ram_bytes()
        tracemalloc.reset_peak()
        current = tracemalloc.get_traced_memory()[0]
        real(store, owner, capacity)
        grown.append((before, store.budget, tracemalloc.get_traced_memory()[1] - current,
                      store_bytes))

    monkeypatch.setattr(dynkm._summary_store.ReservoirStore, "_grow", grow)
    tracemalloc.start()
    try:
        model = stream(DynamicKMeans(**PARAMS), _stream(), 1000)
    finally:
        tracemalloc.stop()
    assert model._points.ram_bytes() <= BUDGET
    assert len(grown) >= 3 and sum(after < before for before, after, _, _ in grown) >= 2
    for before, after, peak, store_bytes in grown:
        assert peak < store_bytes / 4, (before, after, peak, store_bytes)


def _failing(real, when, returned=False):
    """``real``, interrupted at the calls ``when`` accepts: before it runs, or
    (``returned``) after it ran, as a signal handled when a call returns."""
    calls = []

    def fail(*args, **kwargs):
        calls.append(1)
        if not returned and when(len(calls)):
            raise KeyboardInterrupt
        result = real(*args, **kwargs)
        if returned and when(len(calls)):
            raise KeyboardInterrupt
        return result

    return fail


@pytest.mark.parametrize("where", ["first-split-after", "last-split", "compact-1",
                                   "compact-5", "permute-3", "compact-1-returned",
                                   "compact-5-returned", "permute-3-returned"])
def test_failed_batch_after_an_in_place_growth_leaves_every_slot(monkeypatch, where):
    """A batch interrupted after an in-place growth (in a split, or before or
    just after one of the rearrangements' stores) leaves the model and every
    slot of the pool as they were, and the retry gives the uninterrupted result."""
    X, size = _stream(), 1000
    start = _shrinking_batches(monkeypatch, X, size)[-1]
    whole = stream(DynamicKMeans(**PARAMS), X, size)
    model = stream(DynamicKMeans(**PARAMS), X, size, stop=start)
    before, pool, budget = state(model), _pool(model), model._points.budget
    if where.startswith(("compact", "permute")):
        name, n, *returned = where.split("-")
        module = dynkm._summary_store
        real = getattr(module, "_" + name)
        monkeypatch.setattr(module, "_" + name,
                            _failing(real, lambda c, n=int(n): c == n, bool(returned)))
    else:
        real, grown = dynkm.dynamic.split_members, model._points.capacity
        if where == "last-split":
            n_calls = _count_splits(monkeypatch, X, start, size)
            fail = _failing(real, lambda c: c == n_calls)
        else:  # the first split after the capacity doubled
            fail = _failing(real, lambda c: model._points.capacity != grown)
        monkeypatch.setattr(dynkm.dynamic, "split_members", fail)
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X[start:start + size])
    monkeypatch.undo()
    assert model._points.budget == budget
    assert_same_values(before, state(model))
    for name, a in _pool(model).items():
        np.testing.assert_array_equal(a, pool[name], err_msg=name)
    stream(model, X, size, start=start)
    assert_same_values(state(whole), state(model))
    assert model._points.budget < budget


def _count_splits(monkeypatch, X, start, size):
    """Split kernels that the batch ``X[start:start + size]`` runs."""
    model = stream(DynamicKMeans(**PARAMS), X, size, stop=start)
    real, calls = dynkm.dynamic.split_members, []

    def count(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dynkm.dynamic, "split_members", count)
    model.partial_fit(X[start:start + size])
    monkeypatch.setattr(dynkm.dynamic, "split_members", real)
    return len(calls)
