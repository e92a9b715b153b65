"""Plots of a dynamic-vs-static comparison, written as PNG files.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot): nothing
opens a window, nothing blocks, no global backend is changed.

matplotlib is optional (the ``plot`` extra): it is imported when a plot is
drawn, so ``import dynkm.plot`` works without it and a call raises an
ImportError that says how to install it.
"""

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["loss_lines", "plot_clusters_2d", "plot_comparison"]


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


def _save(fig, path, layout=True):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout:
        fig.tight_layout()
    fig.savefig(path)
    return path


def loss_lines(result: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The lines of ``loss_history.png``: {label: (batches, values)}.

    "dynamic" and "static": the SSE of the stream's first
    ``result.batch_ends[b]`` rows against each model's final nearest center,
    divided by that number of rows, so the two compare at every batch; their
    last points are ``result.dynamic_loss`` and ``result.static_loss`` over
    ``n_samples``. "dynamic / static": their ratio per batch (its last point
    is ``result.loss_ratio``).
    """
    batches = np.arange(1, len(result.batch_ends) + 1)
    seen = np.asarray(result.batch_ends, dtype=np.float64)
    dynamic = np.asarray(result.dynamic_prefix_loss, dtype=np.float64)
    static = np.asarray(result.static_prefix_loss, dtype=np.float64)
    return {
        "dynamic": (batches, dynamic / seen),
        "static": (batches, static / seen),
        "dynamic / static": (batches, dynamic / static),
    }


def _integer_batches(ax, n_batches):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlim(0.5, n_batches + 0.5)
    ax.set_xlabel("batch")


def _caption(fig, text):
    """A caption under the axes, wrapped to the figure's width."""
    import textwrap

    fig.text(0.01, 0.01, textwrap.fill(text, 110), fontsize=7, va="bottom", ha="left")


def plot_comparison(result: Any, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the comparison's four plots into ``out_dir``; return their paths.

    ``loss_history.png``: per batch, the SSE per row of the rows seen so far
    (:func:`loss_lines`), with a caption saying what each line is;
    ``time_history.png``: the dynamic model's cumulative seconds per batch
    and the static fit's seconds (after the stream, on all rows);
    ``loss_bars.png``: the dynamic loss as a ratio to the static one on a
    zoomed axis, so that a gap of 1% shows; ``time_bars.png``: both models'
    seconds. Raises ImportError before writing anything when matplotlib is
    not installed.
    """
    _matplotlib()
    out = Path(out_dir)
    n_batches = len(result.batch_ends)
    paths = []

    paths.append(_loss_history(result, out / "loss_history.png"))

    fig, ax = _figure()
    ax.plot(np.arange(1, n_batches + 1), result.seconds_history, label="dynamic (cumulative)")
    ax.axhline(result.static_seconds, color="tab:orange", linestyle="--",
               label=f"static ({result.static_method}), one fit on all rows after the stream")
    _integer_batches(ax, n_batches)
    ax.set_ylabel("seconds")
    ax.set_title(f"{result.data}\ncumulative seconds over batches", fontsize=10)
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "time_history.png"))

    paths.append(_loss_ratio_bars(result, out / "loss_bars.png"))

    fig, ax = _figure(4.8, 4.0)
    values = (result.dynamic_seconds, result.static_seconds)
    bars = ax.bar(["dynamic", f"static ({result.static_method})"], values,
                  color=["tab:blue", "tab:orange"])
    ax.bar_label(bars, labels=[f"{v:.3g} s" for v in values], fontsize=8)
    ax.set_ylabel("seconds")
    ax.set_title(f"{result.data}\nseconds, k = {result.n_clusters}", fontsize=10)
    paths.append(_save(fig, out / "time_bars.png"))
    return paths


def _loss_history(result, path):
    """Per-row SSE of the rows seen so far under both final models, and their ratio."""
    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(figsize=(7.2, 6.4), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    lines = loss_lines(result)
    n_batches = len(result.batch_ends)
    marker = dict(marker="o", markersize=3) if n_batches <= 40 else {}
    top.plot(*lines["dynamic"], color="tab:blue", label="dynamic", **marker)
    top.plot(*lines["static"], color="tab:orange", linestyle="--",
             label=f"static ({result.static_method})", **marker)
    top.set_ylabel("SSE per row, rows seen so far")
    top.legend(fontsize=8)
    top.set_title(f"{result.data}, k = {result.n_clusters}\nloss of the stream's first rows "
                  f"under each final model", fontsize=10)
    bottom.plot(*lines["dynamic / static"], color="tab:green", **marker)
    bottom.axhline(1.0, color="grey", linewidth=0.8)
    bottom.set_ylabel("dynamic / static")
    _integer_batches(bottom, n_batches)
    n = result.n_samples
    _caption(fig, f"Each point: the SSE of the rows seen up to that batch against the model's "
             f"final centers (each row to its nearest), divided by the number of those rows. "
             f"The last points are the reported losses / {n} rows ({result.dynamic_loss / n:.5g}"
             f" and {result.static_loss / n:.5g}; ratio {result.loss_ratio:.4f}). Not drawn: the"
             f" dynamic model's own running loss (report's loss_history: each row against the "
             f"center of the cluster it was in at that batch), which ends at "
             f"{result.loss_history[-1] / n:.5g} per row, above its reported loss, since a "
             f"row's cluster need not hold its nearest final center.")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return _save(fig, path, layout=False)


def _loss_ratio_bars(result, path):
    """Loss / static loss as bars on an axis zoomed around both, labelled as zoomed."""
    ratios = (result.loss_ratio, 1.0)
    low, high = min(ratios), max(ratios)
    pad = max(0.005, 0.5 * (high - low))
    fig, ax = _figure(4.8, 4.2)
    bars = ax.bar(["dynamic", f"static ({result.static_method})"], ratios,
                  color=["tab:blue", "tab:orange"], bottom=0)
    ax.set_ylim(low - pad, high + pad)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.bar_label(bars, labels=[f"{result.loss_ratio:.4f} ({result.loss_ratio - 1:+.1%})",
                               "1"], fontsize=8)
    ax.set_ylabel(f"loss / static loss (axis from {low - pad:.3f}, not 0)")
    ax.set_title(f"{result.data}, k = {result.n_clusters}\nSSE: dynamic "
                 f"{result.dynamic_loss:.5g}, static {result.static_loss:.5g}", fontsize=10)
    return _save(fig, path)


def plot_clusters_2d(X: ArrayLike, labels: ArrayLike, centers: ArrayLike,
                     path: str | os.PathLike[str],
                     title: str = "clusters") -> Path:
    """The NumPy k-means tutorial's scatter: 2-D points colored by cluster, centers as stars;
    PNG at ``path``."""
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
