import numpy as np
from numpy.typing import NDArray

def _assign_chunked(
    X: NDArray[np.floating],
    x_sqnorms: NDArray[np.floating],
    centers: NDArray[np.floating],
    c_sqnorms: NDArray[np.floating],
    sample_weight: NDArray[np.floating],
    buffers: NDArray[np.floating],
    block_labels: NDArray[np.int32],
    labels: NDArray[np.intp],
    min_sqdist: NDArray[np.floating],
    slice_inertia: NDArray[np.float64],
    slice_sums: NDArray[np.float64],
    slice_weights: NDArray[np.float64],
    exact_below: float,
    tie_err: float,
    chunk_rows: int,
    k_block: int,
    n_threads: int,
    origin: NDArray[np.float64],
    gemm_centers: NDArray[np.floating],
) -> None: ...
