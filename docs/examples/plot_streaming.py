"""
Streaming with DynamicKMeans
============================

A stream of 2-D points arrives in batches. :class:`dynkm.DynamicKMeans`
keeps one running state: each point joins its nearest cluster, a cluster
heavier than ``max_size`` splits in two and one lighter than ``min_size``
merges into its neighbour. The number of clusters is not given: it follows
from the sizes.
"""

import matplotlib.pyplot as plt
import numpy as np

from dynkm import DynamicKMeans
from dynkm.datasets import make_blobs_streak

X, _ = make_blobs_streak(1500, random_state=0)
X = X[np.random.default_rng(0).permutation(len(X))]  # arrival order: shuffled

model = DynamicKMeans(min_size=40, max_size=120, random_state=0)
for batch in np.array_split(X, 15):  # 15 batches of 100 points
    model.partial_fit(batch)

print(f"{model.n_clusters_} clusters after {len(model.history_['loss'])} batches, "
      f"loss {model.history_['loss'][-1]:.1f}")

# %%
# The clusters at the end of the stream, and how the number of clusters and
# the loss grew batch by batch.

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.scatter(X[:, 0], X[:, 1], c=model.predict(X), s=6, cmap="tab20")
centers = model.cluster_centers_
left.scatter(centers[:, 0], centers[:, 1], marker="*", s=160, c="black")
left.set_title("clusters after the stream")
right.plot(model.history_["loss"], marker="o")
right.set_xlabel("batch")
right.set_ylabel('history_["loss"]')
right.set_title("loss after each batch")
fig.tight_layout()
