"""Initial centers of a chunked X: k-means|| and k-means++ on a random sample.

k-means|| (Bahmani et al., 2012, "Scalable k-means++"): from one row drawn
with probability proportional to its weight, each round keeps every row with
probability ``min(1, l w d^2 / phi)`` (l = oversampling_factor x k, d the
distance to the nearest candidate so far, phi the weighted sum of d^2), so
about l rows per round, drawn where the chunks live; the candidates are then
weighted by the sample weight of the rows nearest to them and reduced to k
centers by kmcore's weighted k-means++ in memory.

Each chunk draws from its own generator, seeded by (the round's seed, the
chunk index): the draws depend on the chunk layout and random_state only,
never on the workers.
"""

import dask
import numpy as np

from dynkm.dask._chunks import part_weights, second
from dynkm.dask._data import broadcast
from kmcore import kmeans_plusplus, row_norms
from kmcore.assignment import assign_rows

# Rounds of k-means|| when init_max_iter is None (Bahmani et al. find ~5 enough).
DEFAULT_ROUNDS = 5
# k-means++ on a sample: this many rows per cluster, at least SAMPLE_MIN rows.
SAMPLE_PER_CLUSTER = 100
SAMPLE_MIN = 10000


def chunk_sqdist(part, previous, centers):
    """float64 squared distance of each row to its nearest candidate (``previous`` and
    ``centers``), and the chunk's weighted sum ``phi`` of them."""
    x, sqnorms, w, _ = part
    _, min_sqdist, _, _ = assign_rows(x, sqnorms, centers, None, 1)
    d2 = min_sqdist.astype(np.float64)
    if previous is not None:
        np.minimum(d2, previous[0], out=d2)
    phi = float(d2.sum() if w is None else d2 @ w.astype(np.float64))
    return d2, {"phi": phi}


def chunk_oversample(part, pair, phi, factor, seed, index):
    """The rows kept by one k-means|| round in this chunk (chunk order)."""
    x, _, w, _ = part
    d2 = pair[0]
    weighted = d2 if w is None else d2 * w
    p = np.minimum(1.0, factor * weighted / phi)
    keep = np.random.default_rng([seed, index]).random(x.shape[0]) < p
    return x[keep]


def chunk_candidate_weights(part, candidates):
    """Total sample weight of the chunk's rows nearest to each candidate (float64)."""
    x, sqnorms, w, _ = part
    labels, _, _, _ = assign_rows(x, sqnorms, candidates, None, 1)
    return {"cweights": np.bincount(labels, weights=w, minlength=candidates.shape[0])
            .astype(np.float64)}


def first_row(data, rng):
    """One row drawn with probability proportional to its weight (uniform without)."""
    if not data.weighted:
        row = int(rng.randint(data.n_samples))
        return data.rows([row])[0]
    chunk_weights = np.array([s["weight"] for s in data.chunk_stats])
    j = int(np.searchsorted(np.cumsum(chunk_weights), rng.uniform() * chunk_weights.sum(),
                            side="right"))
    j = min(j, len(chunk_weights) - 1)
    while chunk_weights[j] == 0:  # the draw can land on a zero-weight chunk's edge only
        j -= 1
    w = dask.compute(dask.delayed(part_weights)(data.parts[j]))[0].astype(np.float64)
    row = int(rng.choice(w.shape[0], p=w / w.sum())) + int(data.offsets[j])
    return data.rows([row])[0]


def kmeans_parallel(data, n_clusters, rng, oversampling_factor, n_rounds, n_threads):
    """k-means|| centers (see the module docstring), in X's dtype."""
    n_rounds = DEFAULT_ROUNDS if n_rounds is None else n_rounds
    factor = oversampling_factor * n_clusters
    found = [first_row(data, rng)]
    pairs = [None] * len(data.parts)
    # Every round's candidates (tasks of the graph: a lost worker's distances
    # are recomputed from them).
    scattered = []
    for _ in range(n_rounds):
        scattered.append(broadcast(found[-1]))
        pairs = data.map(chunk_sqdist, pairs, scattered[-1])
        pairs = list(dask.persist(*pairs))
        phi = data.reduce([dask.delayed(second)(p) for p in pairs])["phi"]
        if not phi > 0:
            break  # every row sits on a candidate
        seed = int(rng.randint(2 ** 31 - 1))
        kept = [dask.delayed(chunk_oversample)(part, pair, phi, factor, seed, j)
                for j, (part, pair) in enumerate(zip(data.parts, pairs, strict=True))]
        new = np.concatenate(dask.compute(*kept))
        if new.shape[0] == 0:
            continue
        found.append(new)
    candidates = np.ascontiguousarray(np.concatenate(found), dtype=data.dtype)
    weights = data.reduce(data.map(chunk_candidate_weights, broadcast(candidates)))["cweights"]
    live = weights > 0
    if np.count_nonzero(live) < n_clusters:
        raise ValueError(
            f"init='k-means||' found only {np.count_nonzero(live)} candidate centers with "
            f"positive weight for n_clusters={n_clusters} (X has too few distinct rows, or "
            "raise oversampling_factor / init_max_iter); use init='k-means++' or an array"
        )
    candidates, weights = candidates[live], weights[live].astype(data.dtype)
    return _weighted_plusplus(candidates, weights, n_clusters, rng, n_threads)


def kmeans_plusplus_sample(data, n_clusters, rng, n_threads):
    """kmcore's greedy k-means++ on rows drawn uniformly without replacement, weighted."""
    size = min(data.n_samples, max(SAMPLE_MIN, SAMPLE_PER_CLUSTER * n_clusters))
    rows = np.sort(rng.choice(data.n_samples, size=size, replace=False))
    x, w = data.rows(rows)
    if not data.weighted:
        w = None
    elif np.count_nonzero(w) < n_clusters:
        raise ValueError(
            f"init='k-means++' drew {size} rows of which only {np.count_nonzero(w)} have a "
            f"positive sample_weight, fewer than n_clusters={n_clusters}"
        )
    return _weighted_plusplus(x, w, n_clusters, rng, n_threads)


def _weighted_plusplus(x, w, n_clusters, rng, n_threads):
    x = np.ascontiguousarray(x)
    return kmeans_plusplus(x, n_clusters, w, 2 + int(np.log(n_clusters)), rng,
                           row_norms(x, n_threads=n_threads, check_input=False), n_threads,
                           check_input=False)[0]
