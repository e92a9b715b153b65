import numpy as np
from numpy.typing import NDArray

def _yinyang_assign(
    X: NDArray[np.floating],
    x_sqnorms: NDArray[np.floating],
    origin: NDArray[np.float64],
    gcenters: NDArray[np.floating],
    gemm_centers: NDArray[np.floating],
    gc_sqnorms: NDArray[np.floating],
    gorder: NDArray[np.intp],
    gpos: NDArray[np.intp],
    gstart: NDArray[np.intp],
    center_group: NDArray[np.intp],
    drift: NDArray[np.float64],
    group_drift: NDArray[np.float32],
    labels: NDArray[np.intp],
    upper: NDArray[np.float64],
    lower: NDArray[np.float32],
    fscratch: NDArray[np.floating],
    dscratch: NDArray[np.float64],
    iscratch: NDArray[np.intp],
    mscratch: NDArray[np.uint8],
    slice_counts: NDArray[np.int64],
    rel_err: float,
    slice_rows: int,
    block_rows: int,
    whole_fraction: float,
    init: bool,
    n_threads: int,
    moved: NDArray[np.intp] | None = ...,
    moved_from: NDArray[np.intp] | None = ...,
) -> None: ...

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
