import numpy as np
from numpy.typing import NDArray

def _weighted_sums(
    X: NDArray[np.floating],
    labels: NDArray[np.intp],
    sample_weight: NDArray[np.floating],
    row_bounds: NDArray[np.intp],
    part_sums: NDArray[np.float64],
    part_weights: NDArray[np.float64],
    seen: NDArray[np.uint8],
    sums: NDArray[np.float64],
    weight_in_clusters: NDArray[np.float64],
    n_threads: int,
) -> None: ...

def _means(
    sums: NDArray[np.float64],
    weight_in_clusters: NDArray[np.float64],
    centers: NDArray[np.floating],
    shift: NDArray[np.float64],
    n_threads: int,
) -> None: ...
