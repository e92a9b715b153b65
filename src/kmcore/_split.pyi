import numpy as np
from numpy.typing import NDArray

def _member_sqdist(
    X: NDArray[np.floating],
    indices: NDArray[np.intp],
    center: NDArray[np.floating],
    out: NDArray[np.floating],
    n_threads: int,
) -> None: ...
def _two_means(
    X: NDArray[np.floating],
    indices: NDArray[np.intp],
    sample_weight: NDArray[np.floating],
    centers: NDArray[np.floating],
    direction: NDArray[np.floating],
    labels: NDArray[np.intp],
    sums: NDArray[np.float64],
    weights: NDArray[np.float64],
    max_iter: int,
    n_threads: int,
    midpoint: NDArray[np.float64],
    shift_factor: float,
) -> int: ...
