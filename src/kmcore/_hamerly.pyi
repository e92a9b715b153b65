import numpy as np
from numpy.typing import NDArray

def _hamerly_assign(
    X: NDArray[np.floating],
    centers: NDArray[np.floating],
    tab: NDArray[np.floating],
    order: NDArray[np.intp],
    radius: NDArray[np.float64],
    near_drift: NDArray[np.float64],
    half_gap: NDArray[np.float64],
    drift: NDArray[np.float64],
    labels: NDArray[np.intp],
    upper: NDArray[np.float64],
    lower: NDArray[np.float64],
    iscratch: NDArray[np.intp],
    slice_counts: NDArray[np.int64],
    slice_rows: int,
    init: bool,
    n_threads: int,
    moved: NDArray[np.intp] | None = ...,
    moved_from: NDArray[np.intp] | None = ...,
) -> None: ...

def _half_gaps(
    centers: NDArray[np.floating],
    half_gap: NDArray[np.float64],
    n_threads: int,
) -> None: ...

def _center_distances(
    centers: NDArray[np.floating],
    out: NDArray[np.float64],
    n_threads: int,
) -> None: ...
