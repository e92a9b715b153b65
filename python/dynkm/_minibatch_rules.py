"""The rules around a MiniBatchKMeans step: stopping, batch draws, threads, reassignment
schedule and verbose lines, each as scikit-learn's ``MiniBatchKMeans`` has it; and the
running-mean center update that the hard and the soft mini-batch steps share."""

import numpy as np

# A step whose distance work (rows x centers x features) is below this runs on
# one thread: waking a second OpenMP thread costs more than the work (up to a
# scheduler time slice on a busy machine), and a step calls several kernels.
# Results do not depend on the thread count, so this changes only the speed.
_SERIAL_WORK = 1 << 20


def running_means(centers, totals, sums, batch_weight):
    """Move each center to the running mean of the rows it received, in float64.

    Sculley's update: a center that received weight ``w_b`` with weighted sum
    ``s_b`` in this batch moves by ``(s_b - w_b c) / (W + w_b)``, ``W`` the
    weight it had received before; the others stay. Returns the new centers
    (float64) and the new totals ``W + w_b``; the inputs are not modified.
    """
    totals = totals + batch_weight
    hit = batch_weight > 0
    new = centers.astype(np.float64)
    new[hit] += (sums[hit] - batch_weight[hit, None] * new[hit]) / totals[hit, None]
    return new, totals


class _Convergence:
    """scikit-learn's stopping rules of MiniBatchKMeans.fit (``_mini_batch_convergence``).

    The first step is ignored (its inertia is the initialisation's). From the
    second on, the per-row batch inertia is smoothed by an exponentially
    weighted average; fitting stops when a step moves the centers by at most
    ``tol`` (sum of squares), or when the average has not reached a new
    minimum for ``max_no_improvement`` steps.
    """

    def __init__(self, batch_size, n_samples, tol, max_no_improvement):
        self.alpha = min(1.0, batch_size * 2.0 / (n_samples + 1))
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.ewa = np.nan
        self.ewa_min = None
        self.no_improvement = 0

    def update(self, step, batch_inertia, center_shift):
        """Why fitting stops after ``step`` (0-based), or None."""
        if step == 0:
            return None
        if np.isnan(self.ewa):
            self.ewa = batch_inertia
        else:
            self.ewa = self.ewa * (1 - self.alpha) + batch_inertia * self.alpha
        if self.tol > 0.0 and center_shift <= self.tol:
            return "small centers change"
        if self.ewa_min is None or self.ewa < self.ewa_min:
            self.no_improvement, self.ewa_min = 0, self.ewa
        else:
            self.no_improvement += 1
        if self.max_no_improvement is not None and self.no_improvement >= self.max_no_improvement:
            return "lack of improvement in inertia"
        return None


def _draw_cdf(n, sample_weight, dtype):
    """Cumulative draw probabilities exactly as ``RandomState.choice(n, p=w / w.sum())``
    computes them from scikit-learn's weights (X's dtype; ones without weights)."""
    w = np.ones(n, dtype=dtype) if sample_weight is None else sample_weight
    cdf = (w / np.sum(w)).astype(np.float64).cumsum()
    cdf /= cdf[-1]
    return cdf


def _step_threads(n_rows, n_clusters, n_features, n_threads):
    """Threads for kernels on ``n_rows`` rows: 1 when the work is small (see _SERIAL_WORK)."""
    return n_threads if n_rows * n_clusters * n_features >= _SERIAL_WORK else 1


def _reassign_due(since_reassign, n_rows, counts):
    """scikit-learn's schedule: reassign every 10 * n_clusters rows, or while a count is 0."""
    since_reassign += n_rows
    if (counts == 0).any() or since_reassign >= 10 * counts.shape[0]:
        return 0, True
    return since_reassign, False


def _print_step(step, number, n_steps, batch_inertia, ewa):
    """scikit-learn's verbose lines of one step of fit (``number`` counts from 1)."""
    if step.n_reassigned:
        print(f"[MiniBatchKMeans] Reassigning {step.n_reassigned} cluster centers.")
    if number == 1:
        print(f"Minibatch step {number}/{n_steps}: mean batch inertia: {batch_inertia}")
    else:
        print(f"Minibatch step {number}/{n_steps}: mean batch inertia: {batch_inertia}, "
              f"ewa inertia: {ewa}")
