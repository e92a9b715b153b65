import numpy as np
from numpy.typing import NDArray

def _row_sqnorms(X: NDArray[np.floating], out: NDArray[np.floating], n_threads: int) -> None: ...
def _pairwise_sqdist(
    X: NDArray[np.floating],
    x_sqnorms: NDArray[np.floating],
    Y: NDArray[np.floating],
    y_sqnorms: NDArray[np.floating],
    out: NDArray[np.floating],
    chunk_rows: int,
    n_threads: int,
    origin: NDArray[np.float64],
    buffers: NDArray[np.floating],
) -> None: ...
def _weighted_sqnorms(
    X: NDArray[np.floating],
    weights: NDArray[np.floating],
    origin: NDArray[np.float64],
    out: NDArray[np.float64],
    slice_rows: int,
    n_threads: int,
) -> None: ...
