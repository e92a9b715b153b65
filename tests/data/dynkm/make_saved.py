"""The saved summary models of tests/dynkm/test_stores.py, kept for the record.

- summary_store_v0.dynkm: a store="summary" model saved by dynkm before the
  reservoirs had thresholds and an adaptive size (the code of commit 2893d18):
  ``python make_saved.py v0`` with that version of dynkm.
- summary_store_v1.dynkm: an adaptive one (thresholds, 64 MiB budget) saved
  before the reservoirs lived in one pool (the code of commit f13f8e7^), after
  1000 points; summary_store_v1_resumed.npz: the centers and counts that code
  reached resuming it to 3000 points: ``python make_saved.py v1`` with that
  version.
"""

import sys

import numpy as np
from sklearn.datasets import make_blobs

from dynkm import DynamicKMeans

X = make_blobs(3000, 5, centers=12, cluster_std=1.5, random_state=11)[0].astype(np.float32)
version = sys.argv[1] if len(sys.argv) > 1 else "v0"
seen = 2000 if version == "v0" else 1000
model = DynamicKMeans(min_size=20, max_size=60, store="summary", random_state=3)
for start in range(0, seen, 200):
    model.partial_fit(X[start:start + 200])
model.save(f"summary_store_{version}.dynkm", compress=True)
if version == "v1":
    for start in range(seen, 3000, 200):
        model.partial_fit(X[start:start + 200])
    np.savez("summary_store_v1_resumed.npz", centers=model.cluster_centers_,
             counts=model.counts_)
