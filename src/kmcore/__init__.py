"""kmcore: the k-means kernels of dynkm.

Cython/OpenMP kernels for float32 and float64, with sample weights, that never
form an n_samples x n_clusters matrix (except :func:`pairwise_sqdist`, whose
output is that matrix). Each function validates its input and allocates its
output; results for a fixed input are bitwise the same for any ``n_threads``
(rows are independent, and every sum runs in a fixed order). The distances
use BLAS through scipy, limited to one thread inside our OpenMP regions.

The public API is the names in ``kmcore.__all__`` and, for drivers that
validate their data once and call the kernels in loops, the names in the
``__all__`` of each module of :data:`PUBLIC_MODULES`: the kernels' trusted-input
parts (arrays exactly as the kernels use them, only O(1) shape checks), the
Yinyang and Hamerly bounds, the input checks, the thread helpers and the
origin rule. Modules whose name starts with an underscore are internal.
"""

from kmcore._parallel import openmp_enabled
from kmcore._threads import effective_n_threads
from kmcore._version import __version__
from kmcore.assignment import LloydStep, assign, lloyd_step
from kmcore.centers import update_centers
from kmcore.distances import pairwise_sqdist, row_norms
from kmcore.seeding import farthest_first, kmeans_plusplus
from kmcore.soft import soft_assign, soft_update
from kmcore.split import split_two

#: The public submodules of kmcore, each listing its public names in ``__all__``.
PUBLIC_MODULES = (
    "kmcore.assignment",
    "kmcore.centers",
    "kmcore.distances",
    "kmcore.hamerly",
    "kmcore.origin",
    "kmcore.seeding",
    "kmcore.soft",
    "kmcore.split",
    "kmcore.threads",
    "kmcore.validation",
    "kmcore.yinyang",
)

__all__ = [
    "PUBLIC_MODULES",
    "LloydStep",
    "__version__",
    "assign",
    "effective_n_threads",
    "farthest_first",
    "kmeans_plusplus",
    "lloyd_step",
    "openmp_enabled",
    "pairwise_sqdist",
    "row_norms",
    "soft_assign",
    "soft_update",
    "split_two",
    "update_centers",
]
