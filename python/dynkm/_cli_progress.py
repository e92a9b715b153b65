"""Progress displays of the ``dynkm`` command, drawn only on a terminal.

Carriage-return displays make sense on a terminal only: in a log file or a
pipe they pile up on one line, so every display here is None (nothing is
written) unless its stream is a terminal.
"""

import contextlib
import sys
import threading
import time

__all__ = []


def _isatty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _progress(label, stream=None):
    """A progress bar over batches on ``stream`` (stderr) if it is a terminal, else None."""
    stream = sys.stderr if stream is None else stream
    return _Progress(label, stream) if _isatty(stream) else None


class _Progress:
    """A one-line progress bar over batches (no dependency)."""

    def __init__(self, label, stream=None, width=30):
        self.label, self.width = label, width
        self.stream = sys.stderr if stream is None else stream
        self.t0 = time.perf_counter()
        self.shown = -1

    def __call__(self, done, total):
        step = done * self.width // total
        if step == self.shown and done != total:
            return
        self.shown = step
        bar = "#" * step + "-" * (self.width - step)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} batches "
                          f"{time.perf_counter() - self.t0:.1f} s")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def _ticker(stream=None, delay=0.5, every=0.25):
    """``_ticker()(label)``: a context manager showing ``label`` and the seconds elapsed.

    For a phase with no steps to count (a static k-means fit: its kernels
    release the GIL, so a thread can draw meanwhile). Nothing is drawn for a
    phase shorter than ``delay`` seconds; a phase that was drawn ends its line
    with the total time. On a stream that is not a terminal it is
    :func:`contextlib.nullcontext`: nothing is written.
    """
    stream = sys.stderr if stream is None else stream
    if not _isatty(stream):
        return lambda label: contextlib.nullcontext()
    return lambda label: _Ticker(label, stream, delay, every)


class _Ticker:
    """Redraw ``label ... N.N s`` from a daemon thread until the phase ends."""

    def __init__(self, label, stream, delay, every):
        self.label, self.stream, self.delay, self.every = label, stream, delay, every
        self.done = threading.Event()
        self.drawn = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.thread.start()
        return self

    def _draw(self, end=""):
        self.stream.write(f"\r{self.label} ... {time.perf_counter() - self.t0:.1f} s{end}")
        self.stream.flush()
        self.drawn = True

    def _run(self):
        if self.done.wait(self.delay):
            return
        while not self.done.is_set():
            self._draw()
            self.done.wait(self.every)

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        if self.drawn:  # end the line (an error or Ctrl-C then starts on a fresh one)
            self._draw(" done\n" if exc[0] is None else "\n")
        return False
