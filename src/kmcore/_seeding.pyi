import numpy as np
from numpy.typing import NDArray

def _candidate_distances(
    X: NDArray[np.floating],
    x_sqnorms: NDArray[np.floating],
    candidates: NDArray[np.floating],
    cand_sqnorms: NDArray[np.floating],
    closest: NDArray[np.floating],
    sample_weight: NDArray[np.floating],
    buffers: NDArray[np.floating],
    dist: NDArray[np.floating],
    chunk_pots: NDArray[np.float64],
    chunk_rows: int,
    n_threads: int,
    exact_below: float,
    origin: NDArray[np.float64],
    gemm_candidates: NDArray[np.floating],
) -> None: ...
def _sample_by_potential(
    closest: NDArray[np.floating],
    sample_weight: NDArray[np.floating],
    sorted_targets: NDArray[np.float64],
    out: NDArray[np.intp],
) -> None: ...
