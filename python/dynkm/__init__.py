"""dynkm: exact, fast and streaming k-means with a scikit-learn API.

The estimators run on the :mod:`kmcore` kernels (Cython + OpenMP + BLAS).
"""

from dynkm import _persist_tree
from dynkm._dynamic_state import ClusterState
from dynkm._point_store import DiskStoreRef, MemoryStore
from dynkm._summary_store import ReservoirStore
from dynkm.classifier import ClusterLabelClassifier, KMeansClassifier
from dynkm.dynamic import DynamicKMeans
from dynkm.kmeans import KMeans
from dynkm.metrics import gini, inertia, purity
from dynkm.minibatch import MiniBatchKMeans
from dynkm.persist import load
from dynkm.soft import SoftKMeans
from kmcore import __version__

__all__ = [
    "ClusterLabelClassifier",
    "DynamicKMeans",
    "KMeans",
    "KMeansClassifier",
    "MiniBatchKMeans",
    "SoftKMeans",
    "__version__",
    "gini",
    "inertia",
    "load",
    "purity",
]

# What a model file may hold (dynkm.persist loads nothing else), registered
# here, above the estimators, so that the format layer imports none of them.
# The number is the version of each class's state layout (DynamicKMeans 2: the
# cluster state and the point store became objects of their own).
for _cls, _state_version in ((KMeans, 1), (MiniBatchKMeans, 1), (SoftKMeans, 1),
                             (DynamicKMeans, 2), (KMeansClassifier, 1),
                             (ClusterLabelClassifier, 1)):
    _persist_tree.register_estimator(_cls, _state_version)
for _internal in (ClusterState, MemoryStore, DiskStoreRef, ReservoirStore):
    _persist_tree.register_internal(_internal)
del _cls, _state_version, _internal
