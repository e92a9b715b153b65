"""Dynamic vs static k-means on the same data and the same number of clusters.

:func:`compare` streams the rows through :class:`~dynkm.DynamicKMeans` in
their order, then fits a static k-means with the number of clusters the stream
ended with, seeded and restarted as a user of that k-means would (scikit-learn's
``n_init="auto"`` rule unless ``static_n_init`` is given). The
:class:`Comparison` it returns states both sides' settings and, when the losses
differ, why they may. :func:`make_arriving_clusters` is the ``dynkm``
command's default stream.
"""

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dynkm._generators import RandomStateLike, _rng, make_high_dim
from dynkm._validation import check_float, check_int
from dynkm.dynamic import DynamicKMeans
from dynkm._init import resolve_n_init
from dynkm.kmeans import KMeans
from dynkm.metrics import center_distance
from kmcore import assign

__all__ = ["Comparison", "compare", "make_arriving_clusters", "STATIC_METHODS"]

STATIC_METHODS = ("dynkm", "faiss", "sklearn")
# Seedings the static side offers; faiss.Kmeans only seeds by a random sample of rows.
_STATIC_INITS = {"dynkm": ("k-means++", "random"), "sklearn": ("k-means++", "random"),
                 "faiss": ("random",)}
# Loss ratios within this of 1 count as "the same" in the notes.
_SAME_LOSS = 0.01


@dataclass
class Comparison:
    """Result of :func:`compare`; ``save`` writes it as JSON and Markdown.

    Losses are SSEs of rows against their nearest center of a model. Per batch
    ``b`` (``batch_ends[b]`` rows seen): ``dynamic_prefix_loss`` and
    ``static_prefix_loss`` are the SSE of those first rows against each
    model's final centers (their last entries are ``dynamic_loss`` and
    ``static_loss`` exactly); ``loss_history`` is the dynamic model's own
    running loss at that batch (every row seen against the center of the
    cluster it was in then, ``DynamicKMeans.history_["loss"]``), which is at
    least the nearest-center SSE, since a row's cluster need not be its
    nearest center.
    """

    data: str
    n_samples: int
    n_features: int
    batch_size: int
    min_size: float
    max_size: float
    static_method: str
    n_clusters: int
    dynamic_loss: float
    static_loss: float
    dynamic_seconds: float
    static_seconds: float
    center_distance: float
    static_iterations: int
    loss_history: list = field(default_factory=list)
    seconds_history: list = field(default_factory=list)
    n_clusters_history: list = field(default_factory=list)
    splits_history: list = field(default_factory=list)
    merges_history: list = field(default_factory=list)
    static_init: str = "k-means++"
    static_n_init: int = 1
    static_n_init_source: str = ""
    static_max_iter: int = 100
    static_tol: float | None = 1e-4
    static_converged: bool | None = None
    k_source: str = ""
    batch_ends: list = field(default_factory=list)
    dynamic_prefix_loss: list = field(default_factory=list)
    static_prefix_loss: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def loss_ratio(self):
        """dynamic_loss / static_loss."""
        return self.dynamic_loss / self.static_loss

    def static_settings(self):
        """The static k-means' settings in one line."""
        tol = "none: it runs max_iter iterations" if self.static_tol is None else \
            f"{self.static_tol:g}"
        if self.static_converged is None:
            stop = "no convergence test"
        elif self.static_converged:
            stop = f"converged in {self.static_iterations} iterations"
        else:
            stop = f"stopped at max_iter ({self.static_iterations} iterations), not converged"
        return (f"{self.static_method}: init {self.static_init}, n_init {self.static_n_init} "
                f"({self.static_n_init_source}), max_iter {self.static_max_iter}, tol {tol}; "
                f"{stop}; k = {self.n_clusters} ({self.k_source})")

    def dynamic_settings(self):
        """The dynamic model's settings in one line."""
        return (f"DynamicKMeans: one pass over the rows in their order, batches of "
                f"{self.batch_size}, cluster sizes in [{self.min_size:g}, {self.max_size:g}], "
                f"k-means++ on the first batch")

    def summary_rows(self):
        """(label, dynamic, static) rows of the summary table."""
        return [
            ("clusters", f"{self.n_clusters}", f"{self.n_clusters}"),
            ("loss (SSE)", f"{self.dynamic_loss:.6g}", f"{self.static_loss:.6g}"),
            ("loss / static", f"{self.loss_ratio:.4f}", "1"),
            ("seconds", f"{self.dynamic_seconds:.3f}", f"{self.static_seconds:.3f}"),
            ("splits / merges", f"{sum(self.splits_history)} / {sum(self.merges_history)}", "-"),
            ("restarts (n_init)", "-", f"{self.static_n_init}"),
            ("iterations", "1 pass", f"{self.static_iterations}"),
        ]

    def to_markdown(self):
        lines = [
            f"# Dynamic vs static k-means: {self.data}",
            "",
            f"{self.n_samples} x {self.n_features}, batches of {self.batch_size}, "
            f"cluster size in [{self.min_size:g}, {self.max_size:g}], static: "
            f"{self.static_method} ({self.static_iterations} iterations).",
            "",
            f"- Dynamic: {self.dynamic_settings()}.",
            f"- Static: {self.static_settings()}.",
            "",
            "| | dynamic | static |",
            "|---|---|---|",
        ]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in self.summary_rows()]
        lines += ["", f"Mean distance from each dynamic center to the nearest static center: "
                      f"{self.center_distance:.6g}.", ""]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def to_text(self):
        width = max(len(r[0]) for r in self.summary_rows()) + 2
        out = [f"dynamic: {self.dynamic_settings()}", f"static:  {self.static_settings()}", "",
               f"{'':<{width}}{'dynamic':>16}{'static':>16}"]
        out += [f"{a:<{width}}{b:>16}{c:>16}" for a, b, c in self.summary_rows()]
        out.append(f"{'center distance':<{width}}{self.center_distance:>16.6g}")
        out += [""] + [f"* {note}" for note in self.notes]
        return "\n".join(out)

    def save(self, out_dir):
        """Write ``report.json`` and ``report.md`` into ``out_dir``; return their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = out / "report.json", out / "report.md"
        paths[0].write_text(json.dumps(asdict(self), indent=2))
        paths[1].write_text(self.to_markdown())
        return paths


def compare(X: ArrayLike, *, data_name: str = "data", batch_size: int = 100,
            min_size: int = 60, max_size: int = 150, static: str = "dynkm",
            static_init: str | None = None, static_n_init: str | int = "auto",
            static_max_iter: int = 100, static_tol: float = 1e-4, random_state: int = 0,
            n_threads: int | None = None,
            on_batch: Callable[[int, int], object] | None = None,
            on_static: Callable[[str], AbstractContextManager[object]] | None = None
            ) -> Comparison:
    """Stream X through :class:`DynamicKMeans`, then fit a static k-means of the same k.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The stream, in order.
    data_name : str, default="data"
        Name shown in the reports.
    batch_size, min_size, max_size : DynamicKMeans parameters (the defaults of the
        DynCluster course project this project grew from).
    static : {"dynkm", "faiss", "sklearn"}, default="dynkm"
        The static k-means: :class:`dynkm.KMeans`, ``faiss.Kmeans`` or
        ``sklearn.cluster.KMeans`` (the last two must be installed).
    static_init : {"k-means++", "random"}, default=None
        Its seeding; None is k-means++, except for faiss, whose only seeding
        is a random sample of rows ("random").
    static_n_init : "auto" or int, default="auto"
        Its restarts (the best run is kept). "auto" is scikit-learn's rule:
        1 for k-means++, 10 for a random seeding.
    static_max_iter : int, default=100
        Its iterations at most.
    static_tol : float, default=1e-4
        Its convergence tolerance, scikit-learn's definition (relative to the
        mean per-feature variance); faiss has none and runs ``max_iter``.
    random_state : int, default=0
        Seed of both models.
    n_threads : int, default=None
    on_batch : callable, default=None
        Called as ``on_batch(done, total)`` after each batch (progress bars).
    on_static : callable, default=None
        Called as ``on_static(description)`` before the static fit; it returns
        a context manager that the fit runs in (a progress display).

    Returns
    -------
    Comparison
        Losses are the SSE of all rows of X against their nearest center of
        each model, computed the same way for both.
    """
    if static not in STATIC_METHODS:
        raise ValueError(f"static must be one of {STATIC_METHODS}, got {static!r}")
    init = _STATIC_INITS[static][0] if static_init is None else static_init
    if init not in _STATIC_INITS[static]:
        raise ValueError(f"static_init must be one of {_STATIC_INITS[static]} for "
                         f"static={static!r}, got {static_init!r}")
    n_init = resolve_n_init(static_n_init, init, name="static_n_init")
    n_init_source = (f"scikit-learn's 'auto' rule for {init}" if static_n_init == "auto"
                     else "given")
    static_max_iter = check_int(static_max_iter, "static_max_iter")
    static_tol = check_float(static_tol, "static_tol")
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    batch_size = check_int(batch_size, "batch_size")
    dyn = DynamicKMeans(min_size=min_size, max_size=max_size, batch_size=batch_size,
                        random_state=random_state, n_threads=n_threads)
    n = X.shape[0]
    n_batches = -(-n // batch_size)
    for b, start in enumerate(range(0, n, batch_size)):
        dyn.partial_fit(X[start:start + batch_size])
        if on_batch is not None:
            on_batch(b + 1, n_batches)
    k = dyn.n_clusters_
    settings = dict(init=init, n_init=n_init, max_iter=static_max_iter, tol=static_tol)
    t0 = time.perf_counter()
    if on_static is None:
        static_centers, static_iter = _fit_static(X, k, static, settings, random_state,
                                                  n_threads)
    else:
        with on_static(f"static {static} k-means, k = {k}, n_init {n_init}"):
            static_centers, static_iter = _fit_static(X, k, static, settings, random_state,
                                                      n_threads)
    static_seconds = time.perf_counter() - t0
    batch_ends = [min(n, (b + 1) * batch_size) for b in range(n_batches)]
    dyn_prefix = _prefix_sse(X, dyn.cluster_centers_, batch_ends)
    static_prefix = _prefix_sse(X, static_centers, batch_ends)
    h = dyn.history_
    result = Comparison(
        data=data_name, n_samples=n, n_features=X.shape[1], batch_size=batch_size,
        min_size=float(min_size), max_size=float(max_size), static_method=static,
        n_clusters=k, dynamic_loss=dyn_prefix[-1], static_loss=static_prefix[-1],
        dynamic_seconds=h["seconds"][-1], static_seconds=static_seconds,
        center_distance=center_distance(dyn.cluster_centers_, static_centers),
        static_iterations=static_iter, loss_history=h["loss"].tolist(),
        seconds_history=h["seconds"].tolist(), n_clusters_history=h["n_clusters"].tolist(),
        splits_history=h["n_splits"].tolist(), merges_history=h["n_merges"].tolist(),
        static_init=init, static_n_init=n_init, static_n_init_source=n_init_source,
        static_max_iter=static_max_iter, static_tol=None if static == "faiss" else static_tol,
        static_converged=None if static == "faiss" else static_iter < static_max_iter,
        k_source=f"the number of clusters DynamicKMeans ended with; its sizes "
                 f"[{min_size:g}, {max_size:g}] decide it",
        batch_ends=batch_ends, dynamic_prefix_loss=dyn_prefix, static_prefix_loss=static_prefix,
    )
    result.notes = _notes(result)
    return result


def make_arriving_clusters(n_samples: int = 300_000, n_features: int = 32,
                           n_clusters: int = 50, scale: float = 2.0,
                           random_state: RandomStateLike = 0
                           ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """A stream in which Gaussian clusters appear one after another and keep arriving.

    The rows are :func:`dynkm.datasets.make_high_dim`'s (cluster centers from
    ``N(0, scale^2 I)``, unit noise), reordered: cluster ``j``'s rows arrive
    at times drawn uniformly from ``[j / n_clusters, 1)``, so the stream
    starts with one cluster, cluster ``j`` appears at time ``j / n_clusters``
    and every cluster seen keeps receiving rows to the end. Counted in rows
    the clusters appear faster at first (with the defaults the 26th appears
    after 16% of the rows and the last after 91%). A static k-means needs the
    whole stream and the number of clusters; the dynamic model discovers the
    clusters as they come.

    Parameters
    ----------
    n_samples : int, default=300000
    n_features : int, default=32
    n_clusters : int, default=50
    scale : float, default=2.0
        Standard deviation of the centers' coordinates (the noise has 1).
    random_state : None, int, numpy.random.Generator or RandomState, default=0

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
        The rows in arrival order.
    y : ndarray of shape (n_samples,), int64
        The cluster of each row.
    """
    rng = _rng(random_state)  # one generator for the rows and their arrival times
    X, y = make_high_dim(n_samples, n_features, n_clusters, scale=scale, random_state=rng)
    first = y / n_clusters
    order = np.argsort(first + rng.random(n_samples) * (1.0 - first), kind="stable")
    return X[order].astype(np.float32), y[order]


def _sse(X, centers):
    """SSE of every row against its nearest center, summed in float64."""
    _, sqdist = assign(X, np.asarray(centers, dtype=X.dtype))
    return float(sqdist.sum(dtype=np.float64))


def _prefix_sse(X, centers, ends):
    """SSE of rows ``[0, e)`` against their nearest center, for every ``e`` in ``ends``.

    Each slice between two ends is summed in float64 and the sums accumulated,
    so the last entry is the whole SSE.
    """
    _, sqdist = assign(X, np.asarray(centers, dtype=X.dtype))
    out, total, start = [], 0.0, 0
    for end in ends:
        total += float(sqdist[start:end].sum(dtype=np.float64))
        out.append(total)
        start = end
    return out


def _notes(r):
    """Why the two sides' losses may differ, from what was run and measured."""
    notes = [f"k = {r.n_clusters} for both: {r.k_source}; the static k-means is given it.",
             "The dynamic model sees each row once, in stream order: a row joins its nearest "
             "center when it arrives and moves again only when its cluster splits or merges. "
             f"The static k-means sees all {r.n_samples} rows at once and reassigns every row "
             "in every iteration."]
    ratio = r.loss_ratio
    if abs(ratio - 1) <= _SAME_LOSS:
        notes.append(f"The losses agree within {_SAME_LOSS:.0%} (dynamic / static = "
                     f"{ratio:.4f}).")
        return notes
    if ratio > 1:
        notes.append(f"The dynamic loss is {ratio - 1:.1%} above the static one: the price of "
                     "the single pass (rows assigned before their cluster had its own center "
                     "stay where they went unless a split or merge revisits them).")
        return notes
    why = []
    if r.static_n_init == 1:
        why.append(f"it ran one {r.static_init} initialisation (n_init 1, "
                   f"{r.static_n_init_source}), and one seeding can leave a local minimum "
                   "where two clusters share a center while another is cut in two; more "
                   "restarts (static_n_init, --static-n-init) keep the best of several")
    if r.static_converged is False:
        why.append(f"it stopped at max_iter {r.static_max_iter} before converging")
    if not why:
        why.append(f"even the best of its {r.static_n_init} restarts converged to a worse local "
                   "minimum than the one the stream's splits and merges reached")
    notes.append(f"The static loss is {1 / ratio - 1:.1%} above the dynamic one: "
                 + "; ".join(why) + ".")
    return notes


def _fit_static(X, k, method, settings, random_state, n_threads):
    """(centers, iterations) of the static k-means ``method`` with ``settings``."""
    if method == "dynkm":
        km = KMeans(k, random_state=random_state, n_threads=n_threads, **settings).fit(X)
        return km.cluster_centers_, int(km.n_iter_)
    if method == "sklearn":
        from sklearn.cluster import KMeans as SKKMeans

        km = SKKMeans(k, random_state=random_state, **settings).fit(X)
        return km.cluster_centers_, int(km.n_iter_)
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("static='faiss' needs faiss-cpu: pip install faiss-cpu") from exc
    km = faiss.Kmeans(X.shape[1], k, niter=settings["max_iter"], nredo=settings["n_init"],
                      seed=random_state)
    km.train(np.ascontiguousarray(X, dtype=np.float32))
    return km.centroids.astype(X.dtype), settings["max_iter"]
