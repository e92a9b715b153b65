import numpy as np
from numpy.typing import NDArray

def _move_rows(
    X: NDArray[np.floating],
    sample_weight: NDArray[np.floating],
    rows: NDArray[np.intp],
    old_labels: NDArray[np.intp],
    new_labels: NDArray[np.intp],
    sums: NDArray[np.float64],
    weights: NDArray[np.float64],
    scale: NDArray[np.float64],
    n_positive: NDArray[np.int64],
    n_threads: int,
) -> None: ...

def _labelled_inertia(
    X: NDArray[np.floating],
    centers: NDArray[np.floating],
    labels: NDArray[np.intp],
    sample_weight: NDArray[np.floating],
    slice_inertia: NDArray[np.float64],
    slice_rows: int,
    n_threads: int,
) -> None: ...
