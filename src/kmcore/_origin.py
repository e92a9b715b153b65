"""When the distance kernels compute around a nearby origin instead of 0.

The distances come from the expansion ||x||^2 - 2 x.c + ||c||^2, whose
rounding error is about eps * (||x||^2 + ||c||^2). Squared distances are
translation invariant, the error is not: data sitting at m, far from 0
against their spread s^2 (the mean of ||x - m||^2), lose about
log2(||m||^2 / s^2) bits to the offset, and in float32 at an offset of 1e4
(spread 1) nothing is left. So the kernels compute with x - m and c - m
when ``||m||^2 > SHIFT_FACTOR * s^2``: then at most log2(SHIFT_FACTOR) = 4
bits are lost to the offset, about what centered data lose anyway (for them
||m|| is at most comparable to s: MNIST's ratio is below 1, Gaussian data
at 0 about 0, and they keep the unshifted path and its results bit for
bit). The same rule holds in float32 and float64.

The statistics are cheap: m is the mean of up to ``SAMPLE_ROWS`` evenly
spaced rows of X (fewer in high dimension: at most ``SAMPLE_ELEMENTS``
values, at least 8 rows), and s^2 their mean ||x - m||^2, summed directly in
float64 (no pass over X, no cancellation, no dependence on the thread
count). m only
has to lie near the data: the error of each distance is then about
eps * (||x - m||^2 + ||c - m||^2), which a center far from the data only
raises for its own (large) distances. (The centers' mean would be free too,
but one center far from the data drags it off for every pair; and the
spread estimated as mean(||x||^2) - ||m||^2 from the norms cancels.)
"""

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

# Shift when ||m||^2 exceeds this times the spread (4 bits; see above).
SHIFT_FACTOR = 16.0
# Rows of X the origin and the spread are taken from, and the most values
# they may hold: the sample is taken at every call of the assignment, so it
# must stay small enough not to evict the step's own buffers from cache (a
# large sample measurably slowed the Lloyd step that followed it).
SAMPLE_ROWS = 64
SAMPLE_ELEMENTS = 8192
# The kernels read an empty origin as "no shift".
NO_ORIGIN = np.empty(0, dtype=np.float64)
NO_ORIGIN.setflags(write=False)


def data_origin(X: NDArray[np.floating]) -> NDArray[np.float64] | None:
    """Where to compute the distances of the rows of X: a float64 point, or None for 0.

    The mean m of evenly spaced rows of X when ``||m||^2`` exceeds
    ``SHIFT_FACTOR`` times their mean squared distance to m (see above).
    """
    n, d = X.shape
    n_rows = min(SAMPLE_ROWS, max(8, SAMPLE_ELEMENTS // max(d, 1)))
    rows = np.array(X[:: max(1, -(-n // n_rows))], dtype=np.float64)
    if rows.shape[0] == 0:
        return None
    # Rows near float64's limit (accepted by predict-only callers) square to
    # inf: then the rule compares infinities and keeps the plain path.
    with np.errstate(over="ignore", invalid="ignore"):
        m = rows.mean(axis=0)
        rows -= m  # in place: no temporaries beyond the sample
        np.square(rows, out=rows)
        spread = float(rows.sum(axis=1).mean())
        offset = float(m @ m)
    return m if np.isfinite(offset) and offset > SHIFT_FACTOR * spread else None


def shifted(A: ArrayLike, origin: NDArray[np.float64],
            dtype: DTypeLike) -> NDArray[np.floating]:
    """``A - origin`` computed in float64, rounded once to ``dtype`` (C-contiguous)."""
    return np.ascontiguousarray(np.asarray(A, dtype=np.float64) - origin, dtype=dtype)
