"""A dask array checked once, persisted on the workers, with the helpers to run tasks on it.

:func:`prepare` turns the user's X (a dask array, or a dask DataFrame's values)
and sample_weight into :class:`ChunkedData`: one persisted task result per
chunk of rows, ``(x, x_sqnorms, w, stats)`` (see
:func:`dynkm.dask._chunks.chunk_validate`). The user's arrays are not changed:
columns split over several chunks are rechunked into one in a new array.
"""

import contextlib

import dask
import dask.array as da
import numpy as np

from dynkm.dask import _chunks
from kmcore.origin import data_origin


def client_or_none():
    """The current distributed Client, or None (then dask's default scheduler runs)."""
    try:
        from distributed import get_client
        return get_client()
    except (ImportError, ValueError):
        return None


def broadcast(value):
    """``value`` as one task of the graph, which every chunk's task takes as an argument.

    Sent once with the graph; each worker fetches it once from where it was
    computed, never once per task. Not ``client.scatter``: scattered data has
    no lineage, so a worker lost with it fails the fit, and a broadcast
    scatter waits on every worker the scheduler lists, a dead one included
    (a hang); a task of the graph is recomputed where needed.
    """
    return dask.delayed(value, pure=False)


def as_dask_array(X, name="X"):
    """X as a 2-D dask array of real numbers with known row chunks, one chunk of columns."""
    if hasattr(X, "to_dask_array"):  # a dask DataFrame: its values, with their lengths
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} must be a dask array or a dask DataFrame, got {type(X).__name__}"
                        "; use dynkm.KMeans for data in memory")
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D dask array (n_samples, n_features), got shape "
                         f"{X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if any(np.isnan(c) for c in X.chunks[0]) or np.isnan(X.shape[1]):
        raise ValueError(f"{name} has chunks of unknown size; call {name}.compute_chunk_sizes() "
                         "first (or pass the dask DataFrame itself)")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    if X.numblocks[1] > 1:
        # Each task needs whole rows: the distances involve every feature.
        X = X.rechunk({1: -1})
    # Chunks may be pandas DataFrames (a reader's delayed calls): as NumPy
    # arrays (a view of NumPy chunks, memory-mapped ones included), since
    # dask's map_blocks hands other chunk types to the kernels as object arrays.
    return X.map_blocks(np.asarray, dtype=X.dtype)


def working_dtype(X):
    """float32 stays float32; other real types compute in float64 (as dynkm.KMeans)."""
    return np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)


def weight_blocks(sample_weight, X):
    """Delayed weight chunks aligned with X's row chunks (None: unit weights)."""
    if sample_weight is None:
        return [None] * X.numblocks[0]
    if hasattr(sample_weight, "to_dask_array"):  # a dask Series: its values, with lengths
        sample_weight = sample_weight.to_dask_array(lengths=True)
    if isinstance(sample_weight, da.Array):
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},) to match X, got "
                             f"{sample_weight.shape}")
        if sample_weight.chunks[0] != X.chunks[0]:
            # Each chunk's weights must live with its rows: rechunking here
            # would move weights between workers behind the user's back.
            raise ValueError(
                f"sample_weight's chunks {_brief(sample_weight.chunks[0])} differ from X's row "
                f"chunks {_brief(X.chunks[0])}; give it the same chunks, e.g. "
                "sample_weight.rechunk((X.chunks[0],))"
            )
        w = sample_weight
    else:
        w = np.asarray(sample_weight)
        if w.shape != (X.shape[0],):
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},) to match X, got "
                             f"{w.shape}")
        w = da.from_array(w, chunks=(X.chunks[0],))
    return list(w.to_delayed().ravel())


def _brief(chunks, shown=6):
    """A chunk-size tuple for a message, shortened when long."""
    chunks = tuple(chunks)
    if len(chunks) <= shown:
        return str(chunks)
    return f"({', '.join(str(c) for c in chunks[:shown])}, ... {len(chunks)} chunks)"


class ChunkedData:
    """The validated chunks of X, persisted, with their row offsets and stats."""

    def __init__(self, X, sample_weight, objective=False, checked=False):
        # checked: X is already as_dask_array's. objective: keep in the
        # validation pass what objective_terms needs (for a bounded fit).
        if not checked:
            X = as_dask_array(X)
        self.dtype = working_dtype(X)
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        self.sizes = [int(s) for s in X.chunks[0]]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self.weighted = sample_weight is not None
        xs = X.to_delayed().ravel()
        ws = weight_blocks(sample_weight, X)
        validate = dask.delayed(_chunks.chunk_validate, pure=True)
        # A bounded fit's objective terms (objective_terms) from the same pass:
        # the rows the origin's rule reads, and each chunk's sum w ||x||^2.
        self._sample = _origin_rows(self.n_samples, self.n_features) if objective else None
        local = [None] * len(self.sizes)
        if objective:
            chunk = np.searchsorted(self.offsets, self._sample, side="right") - 1
            local = [self._sample[chunk == j] - self.offsets[j] for j in range(len(self.sizes))]
        parts = [validate(x, w, i, (size, self.n_features), self.dtype, local[i], objective)
                 for i, (x, w, size) in enumerate(zip(xs, ws, self.sizes, strict=True))]
        self.parts = list(dask.persist(*parts))
        stats = [dask.delayed(_chunks.part_stats, pure=True)(p) for p in self.parts]
        self.chunk_stats = dask.compute(*stats)
        total = sum(s["weight"] for s in self.chunk_stats)
        if self.weighted and not total > 0:
            raise ValueError("sample_weight is zero everywhere: at least one weight must be "
                             "positive")
        self.total_weight = total
        self.n_positive = sum(s["n_positive"] for s in self.chunk_stats)
        # Where each chunk lives, looked up once: the chunks are persisted and
        # their tasks pinned there, so they stay unless a worker is lost (then
        # the loose restriction lets the recomputed chunk's tasks run anywhere).
        self.client = client_or_none()
        self.homes, threads = _homes(self.client, self.parts)
        self.groups = _groups(self.homes, threads)
        self._objective_terms = None

    def map(self, fn, *args, **kwargs):
        """``fn(part, *args)`` on every chunk, as delayed objects in chunk order.

        An argument given as a list (of the chunks' length) is taken per chunk.
        """
        return self.map_with(fn, self.parts, *args, **kwargs)

    def map_with(self, fn, *args, **kwargs):
        """``fn(*args)`` once per chunk, on the worker that holds the chunk.

        Arguments given as lists (of the chunks' length) are taken per chunk.
        """
        f = dask.delayed(fn, pure=True)
        out = []
        for j, home in enumerate(self.homes):
            a = [arg[j] if isinstance(arg, list) else arg for arg in args]
            if home is None:
                out.append(f(*a, **kwargs))
                continue
            # The centers soon sit on every worker, so without this the
            # scheduler may run a chunk's task on a less busy worker and copy
            # the chunk there (a second copy it keeps). A loose restriction:
            # if that worker is gone, the task runs anywhere.
            with dask.annotate(workers=home, allow_other_workers=True):
                out.append(f(*a, **kwargs))
        return out

    def pinned(self, home):
        """A context in which the tasks made run on the workers ``home`` (a list; None:
        anywhere), loosely: elsewhere if those are gone (see map_with)."""
        if home is None:
            return contextlib.nullcontext()
        return dask.annotate(workers=home, allow_other_workers=True)

    def reduce(self, items):
        """The chunks' stats reduced by the fixed tree, computed."""
        return dask.compute(_chunks.tree_reduce(items))[0]

    def mean_variance(self):
        """Mean over features of the per-feature variance, in float64 (two passes)."""
        colsum = _sum_in_tree([s["colsum"] for s in self.chunk_stats])
        mean = colsum / self.n_samples
        sq = self.reduce(self.map(_chunks.chunk_sqdev, broadcast(mean)))["sqdev"]
        return float(sq.mean() / self.n_samples)

    def objective_terms(self):
        """``(origin, wx2)``: where the in-memory bounded driver expands its objective
        (:func:`kmcore.origin.data_origin` of all the rows; None: 0) and the data's
        float64 ``sum w ||x - origin||^2`` (added over the fixed tree), computed once.

        The origin is the in-memory one, from the same sample of rows, fetched
        where they live (the rule reads only evenly spaced rows).
        """
        if self._objective_terms is None:
            origin = data_origin(_RowSample(self))
            if origin is None and all("wx2" in s for s in self.chunk_stats):
                # Summed by the validation (around 0), added over the same tree.
                wx2 = _sum_in_tree([s["wx2"] for s in self.chunk_stats])
            else:
                wx2 = self.reduce(self.map(_chunks.chunk_sqnorm_sum, broadcast(origin)))["wx2"]
            self._objective_terms = (origin, float(wx2))
        return self._objective_terms

    def sampled_rows(self, rows):
        """The rows of global indices ``rows`` if the validation kept them all (the origin's
        sample), else None."""
        if self._sample is None or not np.isin(rows, self._sample).all():
            return None
        sample = np.concatenate([s["sample"] for s in self.chunk_stats])
        return sample[np.searchsorted(self._sample, rows)]

    def rows(self, rows):
        """The rows of global indices ``rows`` (and their weights), in the order given."""
        rows = np.asarray(rows, dtype=np.int64)
        chunk = np.searchsorted(self.offsets, rows, side="right") - 1
        x = np.empty((rows.size, self.n_features), dtype=self.dtype)
        w = np.empty(rows.size, dtype=self.dtype)
        tasks, where = [], []
        for j in np.unique(chunk):
            sel = np.flatnonzero(chunk == j)
            tasks.append(dask.delayed(_chunks.chunk_rows)(self.parts[j],
                                                          rows[sel] - self.offsets[j]))
            where.append(sel)
        for sel, (xj, wj) in zip(where, dask.compute(*tasks), strict=True):
            x[sel], w[sel] = xj, wj
        return x, w


class _RowSample:
    """The chunks' rows as an array-like of X's shape whose slices are fetched rows (what
    :func:`kmcore.origin.data_origin` reads: a slice of evenly spaced rows)."""

    def __init__(self, data):
        self.data = data
        self.shape = (data.n_samples, data.n_features)

    def __getitem__(self, key):
        rows = np.arange(self.shape[0])[key]
        kept = self.data.sampled_rows(rows)
        return self.data.rows(rows)[0] if kept is None else kept


class _RowRecorder:
    """An array-like of a given shape that records which rows are read of it (zeros)."""

    def __init__(self, shape):
        self.shape = shape
        self.rows = []

    def __getitem__(self, key):
        rows = np.arange(self.shape[0])[key]
        self.rows.append(np.atleast_1d(rows))
        return np.zeros((self.rows[-1].size, self.shape[1]))


def _origin_rows(n_samples, n_features):
    """The rows (sorted global indices) that :func:`kmcore.origin.data_origin` reads of
    data of this shape: it reads a fixed sample, which the validation keeps."""
    recorder = _RowRecorder((n_samples, n_features))
    data_origin(recorder)
    if not recorder.rows:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(recorder.rows)).astype(np.int64)


def _homes(client, parts):
    """The workers holding each persisted chunk (None each without a Client), and the
    number of threads of every worker (a dict; empty without a Client)."""
    if client is None:
        return [None] * len(parts), {}
    who = client.who_has(parts)
    workers = client.scheduler_info().get("workers", {})
    threads = {address: int(w.get("nthreads", 1)) for address, w in workers.items()}
    return [sorted(who.get(p.key, ())) or None for p in parts], threads


def _groups(homes, threads):
    """The chunks' Lloyd-step tasks: a list of (workers, chunk indices in order).

    The chunks held by one worker are split into as many runs of consecutive
    (in index) chunks as it has threads, one task each: fewer tasks per
    iteration, and adjacent chunks' results added on that worker (see
    ``_chunks.held_subtrees``). Chunks of no known worker (no Client) are a
    task each, for dask's threads to share.
    """
    by_home = {}
    for j, home in enumerate(homes):
        key = None if home is None else home[0]
        by_home.setdefault(key, []).append(j)
    groups = []
    for key, ids in by_home.items():
        if key is None:
            groups.extend((None, [j]) for j in ids)
            continue
        n_runs = max(1, min(threads.get(key, 1), len(ids)))
        groups.extend(([key], [int(j) for j in run]) for run in np.array_split(ids, n_runs))
    return sorted(groups, key=lambda group: group[1][0])


def _sum_in_tree(values):
    """Values added by the same fixed binary tree over their index, in memory."""
    level = list(values)
    while len(level) > 1:
        nxt = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
