"""Writes summary_store_v0.dynkm: a store="summary" model saved by dynkm before the
reservoirs had thresholds and an adaptive size (the code of commit 2893d18), for
tests/dynkm/test_stores.py. Kept for the record: run with that version of dynkm."""

import numpy as np
from sklearn.datasets import make_blobs

from dynkm import DynamicKMeans

X = make_blobs(3000, 5, centers=12, cluster_std=1.5, random_state=11)[0].astype(np.float32)
model = DynamicKMeans(min_size=20, max_size=60, store="summary", random_state=3)
for start in range(0, 2000, 200):
    model.partial_fit(X[start:start + 200])
model.save("summary_store_v0.dynkm", compress=True)
