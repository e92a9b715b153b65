import numpy as np
from numpy.typing import NDArray

def _soft_assign(
    X: NDArray[np.floating],
    x_sqnorms: NDArray[np.floating],
    centers: NDArray[np.floating],
    c_sqnorms: NDArray[np.floating],
    beta: float,
    underflow: float,
    sample_weight: NDArray[np.floating],
    out: NDArray[np.floating],
    chunk_objective: NDArray[np.float64],
    chunk_rows: int,
    n_threads: int,
    origin: NDArray[np.float64],
    buffers: NDArray[np.floating],
) -> None: ...
