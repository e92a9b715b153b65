"""dynkm: exact, fast and streaming k-means with a scikit-learn API.

The estimators run on the :mod:`kmcore` kernels (Cython + OpenMP + BLAS).
"""

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
