"""Plots of a dynamic-vs-static comparison, written as PNG files.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot): nothing
opens a window, nothing blocks, no global backend is changed.

matplotlib is optional (the ``plot`` extra): it is imported when a plot is
drawn, so ``import dynkm.plot`` works without it and a call raises an
ImportError that says how to install it.
"""

from pathlib import Path

import numpy as np

__all__ = ["plot_clusters_2d", "plot_comparison"]


MISSING_MATPLOTLIB = (
    'dynkm.plot needs matplotlib, which could not be imported; install it with '
    'pip install "dynkm[plot]"'
)


def _matplotlib():
    """Return matplotlib's (Figure, FigureCanvasAgg), or raise a clear ImportError."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(MISSING_MATPLOTLIB) from exc
    return Figure, FigureCanvasAgg


def _figure(width=6.4, height=4.0):
    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_comparison(result, out_dir):
    """Write the comparison's four plots into ``out_dir``; return their paths.

    ``loss_history.png`` (dynamic loss per batch, static loss as a line),
    ``time_history.png`` (cumulative dynamic seconds per batch, static seconds
    as a line), ``loss_bars.png`` and ``time_bars.png``. Raises ImportError
    before writing anything when matplotlib is not installed.
    """
    _matplotlib()
    out = Path(out_dir)
    batches = np.arange(1, len(result.loss_history) + 1)
    paths = []
    for name, history, static, ylabel in [
        ("loss_history.png", result.loss_history, result.static_loss, "loss (SSE of points seen)"),
        ("time_history.png", result.seconds_history, result.static_seconds, "cumulative seconds"),
    ]:
        fig, ax = _figure()
        ax.plot(batches, history, label="dynamic")
        ax.axhline(static, color="tab:orange", linestyle="--",
                   label=f"static ({result.static_method}, all data)")
        ax.set_xlabel("batch")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{result.data}\n{ylabel} over batches", fontsize=10)
        ax.legend()
        paths.append(_save(fig, out / name))
    for name, values, ylabel in [
        ("loss_bars.png", (result.dynamic_loss, result.static_loss), "loss (SSE)"),
        ("time_bars.png", (result.dynamic_seconds, result.static_seconds), "seconds"),
    ]:
        fig, ax = _figure(4.8, 4.0)
        ax.bar(["dynamic", f"static ({result.static_method})"], values,
               color=["tab:blue", "tab:orange"])
        ax.set_ylabel(ylabel)
        ax.set_title(f"{result.data}\n{ylabel}, k = {result.n_clusters}", fontsize=10)
        paths.append(_save(fig, out / name))
    return paths


def plot_clusters_2d(X, labels, centers, path, title="clusters"):
    """S2's scatter: 2-D points colored by cluster, centers as stars; PNG at ``path``."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_clusters_2d needs 2-D points, got shape {X.shape}")
    centers = np.asarray(centers)
    fig, ax = _figure(5.5, 5.5)
    ax.scatter(X[:, 0], X[:, 1], c=labels, s=8, cmap="tab20", alpha=0.7)
    ax.scatter(centers[:, 0], centers[:, 1], marker="*", s=220, c="black",
               edgecolors="white")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)
