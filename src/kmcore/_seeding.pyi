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
    rows: NDArray[np.intp],
) -> None: ...
def _rows_to_compute(
    closest: NDArray[np.floating],
    x_sqnorms: NDArray[np.floating],
    assigned: NDArray[np.int32],
    cc_lower: NDArray[np.float64],
    error_scale: float,
    origin_norm: float,
    max_norm: float,
    need: NDArray[np.uint8],
    n_threads: int,
) -> tuple[int, int]: ...
def _potentials(
    dist: NDArray[np.floating],
    closest: NDArray[np.floating],
    need: NDArray[np.uint8],
    sample_weight: NDArray[np.floating],
    chunk_pots: NDArray[np.float64],
    chunk_rows: int,
    n_threads: int,
) -> None: ...
def _sample_by_potential(
    closest: NDArray[np.floating],
    sample_weight: NDArray[np.floating],
    sorted_targets: NDArray[np.float64],
    out: NDArray[np.intp],
) -> None: ...
def _projection_rows(
    proj: NDArray[np.float32],
    y_norms: NDArray[np.float64],
    closest: NDArray[np.floating],
    cand_proj: NDArray[np.float32],
    cand_norm: float,
    origin_gap: float,
    error_scale: float,
    proj_error: float,
    gram_error: float,
    need: NDArray[np.uint8],
    acc: NDArray[np.float32],
    thresholds: NDArray[np.float64],
    n_threads: int,
) -> int: ...
