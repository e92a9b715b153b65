"""
Dynamic vs static k-means
=========================

:func:`dynkm.compare.compare` streams the data through
:class:`dynkm.DynamicKMeans`, fits a static k-means with the number of
clusters the stream ended with, and records both models' loss and time;
:func:`dynkm.plot.plot_comparison` draws the four plots that ``dynkm compare``
writes. Here on the digits.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from dynkm.compare import compare
from dynkm.plot import plot_comparison

X = load_digits().data
result = compare(X, data_name="digits", batch_size=100, min_size=60, max_size=150,
                 random_state=0)
print(result.to_text())

# %%
# The plots, as written by :func:`~dynkm.plot.plot_comparison` (PNG files).

with tempfile.TemporaryDirectory() as folder:
    paths = plot_comparison(result, folder)
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    for ax, path in zip(axes.flat, paths, strict=True):
        ax.imshow(plt.imread(path))
        ax.set_title(Path(path).name, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
