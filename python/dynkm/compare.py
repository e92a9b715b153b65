"""Dynamic vs static k-means on the same data and the same number of clusters (S0)."""

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dynkm.dynamic import DynamicKMeans
from dynkm.kmeans import KMeans
from dynkm.metrics import center_distance
from kmcore import assign

__all__ = ["Comparison", "compare", "STATIC_METHODS"]

STATIC_METHODS = ("dynkm", "faiss", "sklearn")


@dataclass
class Comparison:
    """Result of :func:`compare`; ``save`` writes it as JSON and Markdown."""

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

    def summary_rows(self):
        """(label, dynamic, static) rows of the summary table."""
        return [
            ("clusters", f"{self.n_clusters}", f"{self.n_clusters}"),
            ("loss (SSE)", f"{self.dynamic_loss:.6g}", f"{self.static_loss:.6g}"),
            ("loss / static", f"{self.dynamic_loss / self.static_loss:.4f}", "1"),
            ("seconds", f"{self.dynamic_seconds:.3f}", f"{self.static_seconds:.3f}"),
            ("splits / merges", f"{sum(self.splits_history)} / {sum(self.merges_history)}", "-"),
        ]

    def to_markdown(self):
        lines = [
            f"# Dynamic vs static k-means: {self.data}",
            "",
            f"{self.n_samples} x {self.n_features}, batches of {self.batch_size}, "
            f"cluster size in [{self.min_size:g}, {self.max_size:g}], static: "
            f"{self.static_method} ({self.static_iterations} iterations).",
            "",
            "| | dynamic | static |",
            "|---|---|---|",
        ]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in self.summary_rows()]
        lines += ["", f"Mean distance from each dynamic center to the nearest static center: "
                      f"{self.center_distance:.6g}.", ""]
        return "\n".join(lines)

    def to_text(self):
        width = max(len(r[0]) for r in self.summary_rows()) + 2
        out = [f"{'':<{width}}{'dynamic':>16}{'static':>16}"]
        out += [f"{a:<{width}}{b:>16}{c:>16}" for a, b, c in self.summary_rows()]
        out.append(f"{'center distance':<{width}}{self.center_distance:>16.6g}")
        return "\n".join(out)

    def save(self, out_dir):
        """Write ``report.json`` and ``report.md`` into ``out_dir``; return their paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = out / "report.json", out / "report.md"
        paths[0].write_text(json.dumps(asdict(self), indent=2))
        paths[1].write_text(self.to_markdown())
        return paths


def compare(X, *, data_name="data", batch_size=100, min_size=60, max_size=150,
            static="dynkm", static_max_iter=100, random_state=0, n_threads=None,
            on_batch=None):
    """Stream X through :class:`DynamicKMeans`, then fit a static k-means of the same k.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    data_name : str, default="data"
        Name shown in the reports.
    batch_size, min_size, max_size : DynamicKMeans parameters (S0's defaults).
    static : {"dynkm", "faiss", "sklearn"}, default="dynkm"
        The static k-means: :class:`dynkm.KMeans`, ``faiss.Kmeans`` or
        ``sklearn.cluster.KMeans`` (the last two must be installed), each
        seeded by k-means++ (faiss: its own random init), ``static_max_iter``
        iterations at most.
    static_max_iter : int, default=100
    random_state : int, default=0
    n_threads : int, default=None
    on_batch : callable, default=None
        Called as ``on_batch(done, total)`` after each batch (progress bars).

    Returns
    -------
    Comparison
        Losses are the SSE of all rows of X against their nearest center of
        each model, computed the same way for both.
    """
    if static not in STATIC_METHODS:
        raise ValueError(f"static must be one of {STATIC_METHODS}, got {static!r}")
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    dyn = DynamicKMeans(min_size=min_size, max_size=max_size, batch_size=batch_size,
                        random_state=random_state, n_threads=n_threads)
    n = X.shape[0]
    n_batches = -(-n // batch_size)
    for b, start in enumerate(range(0, n, batch_size)):
        dyn.partial_fit(X[start:start + batch_size])
        if on_batch is not None:
            on_batch(b + 1, n_batches)
    k = dyn.n_clusters_
    t0 = time.perf_counter()
    static_centers, static_iter = _fit_static(X, k, static, static_max_iter, random_state,
                                              n_threads)
    static_seconds = time.perf_counter() - t0
    h = dyn.history_
    return Comparison(
        data=data_name, n_samples=n, n_features=X.shape[1], batch_size=batch_size,
        min_size=float(min_size), max_size=float(max_size), static_method=static,
        n_clusters=k, dynamic_loss=_sse(X, dyn.cluster_centers_),
        static_loss=_sse(X, static_centers), dynamic_seconds=h["seconds"][-1],
        static_seconds=static_seconds,
        center_distance=center_distance(dyn.cluster_centers_, static_centers),
        static_iterations=static_iter, loss_history=list(h["loss"]),
        seconds_history=list(h["seconds"]), n_clusters_history=list(h["n_clusters"]),
        splits_history=list(h["n_splits"]), merges_history=list(h["n_merges"]),
    )


def _sse(X, centers):
    """SSE of every row against its nearest center, summed in float64."""
    _, sqdist = assign(X, np.asarray(centers, dtype=X.dtype))
    return float(sqdist.sum(dtype=np.float64))


def _fit_static(X, k, method, max_iter, random_state, n_threads):
    if method == "dynkm":
        km = KMeans(k, n_init=1, max_iter=max_iter, random_state=random_state,
                    n_threads=n_threads).fit(X)
        return km.cluster_centers_, km.n_iter_
    if method == "sklearn":
        from sklearn.cluster import KMeans as SKKMeans

        km = SKKMeans(k, n_init=1, max_iter=max_iter, random_state=random_state).fit(X)
        return km.cluster_centers_, int(km.n_iter_)
    try:
        import faiss
    except ImportError as exc:
        raise ImportError("static='faiss' needs faiss-cpu: pip install faiss-cpu") from exc
    km = faiss.Kmeans(X.shape[1], k, niter=max_iter, seed=random_state)
    km.train(np.ascontiguousarray(X, dtype=np.float32))
    return km.centroids.astype(X.dtype), max_iter
