"""One Lloyd loop for every assignment strategy, with scikit-learn's stopping rule.

:func:`run_lloyd` iterates from initial centers; a *strategy* does the work of
one iteration:

- ``step(centers)`` returns the iteration's ``LloydStep`` (labels against
  ``centers``, the new centers, ...), the fraction of the
  n_samples x n_clusters distances it computed, and how many labels differ
  from the previous step's (None: not known, the loop compares the label
  arrays; a strategy that knows the count may return its live label array,
  valid until its next step);
- ``final(centers, step, strict)`` returns the labels and inertia of the final
  centers.

:class:`LloydSteps` is the fused Lloyd pass of kmcore (or any function with
its signature: the classifier passes sparse and spherical ones);
:class:`BoundedSteps` skips, with Yinyang's group bounds, the distances that
provably cannot change a label, and updates the sums incrementally;
:class:`HamerlySteps` is the same with Hamerly's bounds (few features). All give
the same iterations: labels are those of exact arithmetic (near ties are
recomputed directly, ties to the lowest center index), centers equal to
rounding, the same stopping iteration.

The choice for ``KMeans(algorithm=...)`` (:func:`choose_algorithm`):

- ``"lloyd"``: always the plain pass.
- ``"yinyang"``: groups of about ten centers (``round(k / 10)`` groups),
  when the bounds (:func:`kmcore.yinyang.bounds_nbytes`: 24 + 4 t bytes per
  row) fit ``BOUNDS_BUDGET``; otherwise the plain pass.
- ``"elkan"``: one group per center (Elkan's per-center bounds, n x k
  float32) when that fits the budget, else as ``"yinyang"``.
- ``"auto"``: the plain pass for fewer than ``AUTO_MIN_CLUSTERS`` clusters or
  fewer than ``AUTO_MIN_SAMPLES`` rows (the bounds' bookkeeping costs about as
  much as the distances they save there); below ``AUTO_MIN_FEATURES``
  features, Hamerly's bounds (:class:`HamerlySteps`: one upper and one lower
  bound per row, 24 bytes, and direct SIMD distances instead of GEMM, which
  in few dimensions spends more on packing than on arithmetic), when those
  fit the budget; otherwise as ``"yinyang"``. The measurements behind the
  rule are in ``benchmarks/`` and the README.

``"elkan"`` and ``"yinyang"`` keep their meaning in few dimensions too (the
bounds a user asked for, with their memory): only ``"auto"`` picks Hamerly's.

Data far from the origin run the bounds around the data's mean, as the
plain pass does (:mod:`kmcore.origin`). scipy CSR input and spherical
k-means always run the plain pass (CSR: ``dynkm._rows``' blocked
sparse products; spherical: the centers renormalised after every step).
:func:`make_spherical_steps` (the classifiers' cosine fits) keeps the bounds
for spherical k-means on dense rows (:class:`SphericalSteps`).
``history["algorithm"]`` says what ran and ``history["algorithm_reason"]`` why.

With ``verbose`` the loop prints scikit-learn's lines ("Iteration N, inertia
...", "Converged at iteration N: strict convergence." or "...: center shift
... within tolerance ..."), which scripts grep.
"""

import time
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from dynkm import _rows
from dynkm._history import new_history, record
from kmcore import LloydStep
from kmcore.assignment import assign_rows
from kmcore.distances import weighted_sqnorm_sum
from kmcore.hamerly import HamerlyBounds
from kmcore.hamerly import bounds_nbytes as hamerly_nbytes
from kmcore.origin import data_origin
from kmcore.yinyang import (
    ClusterSums,
    GroupBounds,
    bounds_nbytes,
    center_groups,
    labelled_inertia,
)

ALGORITHMS = ("auto", "lloyd", "elkan", "yinyang")
# Largest memory the bounds may take (bytes).
BOUNDS_BUDGET = 1 << 30
AUTO_MIN_CLUSTERS = 32
AUTO_MIN_SAMPLES = 4096
AUTO_MIN_FEATURES = 16
# Centers per Yinyang group (Ding et al. suggest k / 10 groups).
GROUP_SIZE = 10
# Centers x features from which the means are divided out in parallel.
_PARALLEL_MEANS = 1 << 16
# history's columns (dynkm._history), one element per iteration.
HISTORY_COLUMNS = {"objective": np.float64, "center_shift": np.float64, "seconds": np.float64,
                   "n_relocated": np.int64, "imbalance": np.float64,
                   "distance_fraction": np.float64}




def choose_algorithm(algorithm, n_samples, n_clusters, n_features=None):
    """What ``KMeans(algorithm=...)`` runs on this shape: (name, n_groups, reason).

    ``n_features`` None: not taken into account.
    """
    n, k = n_samples, n_clusters
    if algorithm == "lloyd":
        return "lloyd", 0, "asked for"
    if algorithm == "auto":
        if k < AUTO_MIN_CLUSTERS:
            return "lloyd", 0, f"auto: n_clusters < {AUTO_MIN_CLUSTERS}"
        if n < AUTO_MIN_SAMPLES:
            return "lloyd", 0, f"auto: n_samples < {AUTO_MIN_SAMPLES}"
        if (n_features is not None and n_features < AUTO_MIN_FEATURES
                and hamerly_nbytes(n) <= BOUNDS_BUDGET):
            return "hamerly", 0, f"auto: n_features < {AUTO_MIN_FEATURES} (Hamerly's bounds)"
    if algorithm == "elkan":
        if bounds_nbytes(n, k) <= BOUNDS_BUDGET:
            return "elkan", k, "elkan: one group per center"
        algorithm = "elkan (n x k bounds over the budget)"
    t = max(1, round(k / GROUP_SIZE))
    need = bounds_nbytes(n, t)
    if need <= BOUNDS_BUDGET:
        return "yinyang", t, f"{algorithm}: {t} groups of centers"
    return "lloyd", 0, (f"{algorithm}: the bounds would take {need / 2**20:.0f} MiB, more than "
                        f"the budget of {BOUNDS_BUDGET / 2**20:.0f} MiB")


def make_steps(algorithm, X, x_sqnorms, sample_weight, centers, n_threads, spherical=False):
    """The strategy for ``algorithm`` (one of ``ALGORITHMS``) on X from ``centers``.

    CSR X run the plain pass whatever was asked (the bounds' kernel is
    dense), and so do ``spherical`` runs (unit rows, centers renormalised
    after each step, which the bounded M-step does not do). Data far from
    the origin need nothing special: both kernels compute around the data's
    mean (:mod:`kmcore.origin`).
    """
    name, n_groups, reason = choose_algorithm(algorithm, X.shape[0], centers.shape[0],
                                              X.shape[1])
    if sp.issparse(X) or spherical:
        if name != "lloyd":
            what = "sparse input" if sp.issparse(X) else "spherical"
            reason = f"{algorithm}: {what} runs the plain pass"
        step_fn = spherical_lloyd_step if spherical else _rows.lloyd_step
        return LloydSteps(X, x_sqnorms, sample_weight, n_threads, step_fn, _rows.assign_rows,
                          reason=reason)
    if name == "lloyd":
        return LloydSteps(X, x_sqnorms, sample_weight, n_threads, reason=reason)
    if name == "hamerly":
        return HamerlySteps(X, x_sqnorms, sample_weight, centers, n_threads, reason)
    return BoundedSteps(X, x_sqnorms, sample_weight, centers, n_groups, n_threads, name, reason)


class LloydRun(NamedTuple):
    """Result of :func:`run_lloyd`: the fit of one initialisation."""

    centers: np.ndarray
    """Final centers (X's dtype)."""
    labels: np.ndarray
    """Nearest final center of every row (intp)."""
    inertia: float
    """Weighted sum of squared distances to the final centers."""
    n_iter: int
    """Iterations run."""
    history: dict
    """Per iteration: objective, center_shift, seconds, ... (dynkm._history)."""
    counts: np.ndarray | None = None
    """Weight of each final cluster, where the caller computed it (the classifiers)."""


def run_lloyd(steps, centers, max_iter, tol, check_every, verbose):
    """One run of Lloyd's algorithm from ``centers`` with the strategy ``steps``.

    Stops at the first checked iteration (every ``check_every``-th, and the
    last) whose labels equal the previous iteration's with nothing relocated
    ("strict convergence": the centers cannot move any more), or whose sum of
    squared center shifts is at most ``tol``, or after ``max_iter``.

    Returns a dict: centers, labels and inertia of the final centers, n_iter,
    and history (per iteration: objective, center_shift, seconds,
    n_relocated, imbalance, distance_fraction; and algorithm, n_groups,
    algorithm_reason).
    """
    history = new_history(HISTORY_COLUMNS)
    labels_old = None
    strict = False
    for i in range(max_iter):
        t0 = time.perf_counter()
        step, fraction, n_changed = steps.step(centers)
        centers = step.centers
        shift = float((step.center_shift ** 2).sum())
        w = step.counts
        record(history, objective=step.inertia, center_shift=shift,
               n_relocated=step.n_relocated,
               imbalance=len(w) * float(w @ w) / float(w.sum()) ** 2,
               distance_fraction=fraction, seconds=time.perf_counter() - t0)
        if verbose:
            print(f"Iteration {i}, inertia {step.inertia}.")
            if verbose > 1:
                print(f"  center shift {shift:.3g}, {fraction:.1%} of the distances, "
                      f"{history['seconds'][-1]:.3f} s")
        if (i + 1) % check_every == 0 or i == max_iter - 1:
            if n_changed is None:
                same = labels_old is not None and np.array_equal(step.labels, labels_old)
            else:
                same = i > 0 and n_changed == 0
            if same and step.n_relocated == 0:
                # Same partition as the iteration before: the centers did not move.
                strict = True
                if verbose:
                    print(f"Converged at iteration {i}: strict convergence.")
                break
            if shift <= tol:
                if verbose:
                    print(f"Converged at iteration {i}: center shift {shift} within "
                          f"tolerance {tol}.")
                break
        labels_old = step.labels if n_changed is None else None
    labels, inertia = steps.final(centers, step, strict)
    history.update(algorithm=steps.name, n_groups=steps.n_groups,
                   algorithm_reason=steps.reason)
    return LloydRun(centers, labels, inertia, i + 1, history)


class LloydSteps:
    """Every distance, every iteration: kmcore's fused pass (or a function like it).

    ``step_fn`` and ``assign_fn`` have the signatures of :func:`dynkm._rows.lloyd_step` and
    :func:`kmcore.assignment.assign_rows` (None: those, looked up at call time).
    """

    name = "lloyd"
    n_groups = 0

    def __init__(self, X, x_sqnorms, sample_weight, n_threads, step_fn=None,
                 assign_fn=None, reason=""):
        self.X, self.x_sqnorms, self.sample_weight = X, x_sqnorms, sample_weight
        self.n_threads, self.step_fn, self.assign_fn = n_threads, step_fn, assign_fn
        self.reason = reason

    def step(self, centers):
        step_fn = _rows.lloyd_step if self.step_fn is None else self.step_fn
        step = step_fn(self.X, self.x_sqnorms, centers, self.sample_weight, True, self.n_threads)
        return step, 1.0, None

    def final(self, centers, step, strict):
        if strict:
            return step.labels, step.inertia
        # Labels of the final centers (the last step labelled against the previous ones).
        assign_fn = assign_rows if self.assign_fn is None else self.assign_fn
        labels, _, inertia, _ = assign_fn(self.X, self.x_sqnorms, centers, self.sample_weight,
                                          self.n_threads)
        return labels, inertia


class BoundedSteps:
    """Yinyang's bounds for the E-step, moved rows only for the M-step (dense X).

    The first iteration computes every distance. Later ones move the bounds
    by the centers' drifts and compute only what they cannot decide
    (:class:`kmcore.yinyang.GroupBounds`). The float64 sums move only the
    rows that changed label (:class:`kmcore.yinyang.ClusterSums`), which the
    kernel lists as it relabels them: an iteration makes no pass over all
    the labels outside the kernel, and returns the bounds' live label array
    with the count of changed labels (for run_lloyd's convergence test). An
    iteration that leaves a cluster without weight is redone as kmcore's
    plain step, which relocates exactly as ``algorithm="lloyd"`` does.

    ``objective`` per iteration comes from the sums,
    ``sum w ||x||^2 - 2 sum_c c.S_c + sum_c W_c ||c||^2`` in float64 (no
    distance needed; x, c and S_c taken relative to the bounds' origin when
    there is one); the final inertia is summed from direct distances.
    """

    def __init__(self, X, x_sqnorms, sample_weight, centers, n_groups, n_threads, name,
                 reason=""):
        self.X, self.x_sqnorms, self.sample_weight = X, x_sqnorms, sample_weight
        self.n_threads, self.name, self.reason = n_threads, name, reason
        groups = center_groups(centers, n_groups)
        self.bounds = GroupBounds(X, x_sqnorms, groups, n_threads)
        self.n_groups = self.bounds.n_groups
        self.sums = ClusterSums(X, sample_weight, centers.shape[0], n_threads)
        self._m_threads = _small_threads(centers.shape, n_threads)
        self.drift = None  # no bounds yet
        self.stale = True  # the sums do not match the labels
        # The objective is expanded around the bounds' origin (0 unless the
        # data sit far from it): around 0 its terms would cancel there.
        self._origin = self.bounds.origin if self.bounds.origin.shape[0] else None
        self._wx2 = weighted_sqnorm_sum(X, sample_weight, self._origin, n_threads)

    def step(self, centers):
        n, k = self.X.shape[0], centers.shape[0]
        # The kernel lists the rows it relabels (none on the first call, which
        # labels every row): the sums and the convergence test read only those.
        first = self.drift is None
        counts = self.bounds.assign(centers, self.drift, record=not first)
        fraction = float(counts[0]) / (n * k)
        n_changed = None if first else int(counts[3])
        labels = self.bounds.labels
        if not first:
            rows, old, new = self.bounds.moved_rows()
        if self.stale:
            self.sums.rebuild(labels)
            self.stale = False
        else:
            self.sums.move_rows(rows, old, new, labels)
        sums = self.sums
        if (sums.n_positive == 0).any():
            # An empty cluster: the plain step relocates as Lloyd does.
            if not first:
                previous = labels.copy()
                previous[rows] = old
            step = _rows.lloyd_step(self.X, self.x_sqnorms, centers, self.sample_weight, True,
                                    self.n_threads)
            differ = np.flatnonzero(step.labels != labels)
            if differ.size:
                # Rounding decided a near tie the other way: adopt it, recompute those rows.
                labels[differ] = step.labels[differ]
                self.bounds.invalidate(differ)
            if not first:
                n_changed = int(np.count_nonzero(step.labels != previous))
            self.drift = step.center_shift
            self.stale = True
            return step, fraction + 1.0, n_changed
        shift = np.empty(k, dtype=np.float64)
        new = sums.means(centers, self.X.dtype, shift, self._m_threads)
        self.drift = shift
        # The live labels: run_lloyd tests convergence by n_changed, final() copies them.
        step = LloydStep(labels, new, sums.weights.copy(), self._objective(centers), shift, 0)
        return step, fraction, n_changed

    def final(self, centers, step, strict):
        if not strict:
            # Labels of the final centers: one more bounded E-step.
            self.bounds.assign(centers, self.drift)
        labels = self.bounds.labels.copy()
        inertia = labelled_inertia(self.X, centers, labels, self.sample_weight, self.n_threads)
        return labels, inertia

    def _objective(self, centers):
        return sums_objective(centers, self.sums.sums, self.sums.weights, self._wx2,
                              self._origin)


class HamerlySteps(BoundedSteps):
    """:class:`BoundedSteps` with Hamerly's bounds (:class:`kmcore.hamerly.HamerlyBounds`).

    One upper and one lower bound per row, and the distances that remain
    computed directly (SIMD over the centers), not by GEMM: the strategy for
    few features. The iteration itself (incremental sums, the plain step when
    a cluster empties, the objective from the sums) is BoundedSteps'.
    """

    def __init__(self, X, x_sqnorms, sample_weight, centers, n_threads, reason=""):
        self.X, self.x_sqnorms, self.sample_weight = X, x_sqnorms, sample_weight
        self.n_threads, self.name, self.reason = n_threads, "hamerly", reason
        self.bounds = HamerlyBounds(X, centers.shape[0], n_threads)
        self.n_groups = 1
        self.sums = ClusterSums(X, sample_weight, centers.shape[0], n_threads)
        self._m_threads = _small_threads(centers.shape, n_threads)
        self.drift = None  # no bounds yet
        self.stale = True  # the sums do not match the labels
        # Hamerly's distances are direct differences, exact far from the origin
        # too; only the objective from the sums needs expanding around the data.
        self._origin = data_origin(X)
        self._wx2 = weighted_sqnorm_sum(X, sample_weight, self._origin, n_threads)


def sums_objective(centers, sums, weights, wx2, origin=None):
    """The weighted inertia of a labelling against ``centers``, from its float64 sums.

    ``sum w ||x||^2 - 2 sum_c c.S_c + sum_c W_c ||c||^2`` with ``S_c``, ``W_c``
    the per-cluster sums and weights of the labelling and ``wx2`` the first
    term (:func:`kmcore.distances.weighted_sqnorm_sum`); x, c and S_c taken relative to
    ``origin`` (None: 0), where the terms do not cancel for data far from 0.
    """
    c = centers.astype(np.float64)
    if origin is not None:
        c = c - origin
        sums = sums - weights[:, None] * origin
    value = (wx2 - 2 * float(np.einsum("ij,ij->", c, sums))
             + float(weights @ np.einsum("ij,ij->i", c, c)))
    return max(value, 0.0)


def _small_threads(shape, n_threads):
    """Threads for the per-iteration k x d passes (the means): one unless
    they are large enough to repay waking the others (same result either way)."""
    return n_threads if shape[0] * shape[1] >= _PARALLEL_MEANS else 1


def spherical_lloyd_step(X, x_sqnorms, centers, sample_weight, relocate_empty, n_threads):
    """One step of spherical k-means on unit rows: the Lloyd step, then unit centers."""
    step = _rows.lloyd_step(X, x_sqnorms, centers, sample_weight, relocate_empty, n_threads)
    new_centers = _rows.unit_centers(step.centers)
    shift = np.sqrt(((new_centers.astype(np.float64) - centers) ** 2).sum(axis=1))
    return step._replace(centers=new_centers, center_shift=shift)


def make_spherical_steps(algorithm, X, x_sqnorms, sample_weight, centers, n_threads):
    """``make_steps`` for spherical k-means on unit rows, keeping the bounds.

    The strategy ``algorithm`` picks for X, its centers scaled to unit norm
    after every step (:class:`SphericalSteps`); where that is the plain pass
    (CSR input, or the rule's choice), the plain spherical pass.
    """
    steps = make_steps(algorithm, X, x_sqnorms, sample_weight, centers, n_threads)
    if isinstance(steps, LloydSteps):
        return make_steps(algorithm, X, x_sqnorms, sample_weight, centers, n_threads,
                          spherical=True)
    return SphericalSteps(steps)


class SphericalSteps:
    """A bounded strategy (:class:`BoundedSteps` or :class:`HamerlySteps`) for spherical
    k-means: each step's new centers are scaled to unit norm.

    The bounds hold for any move of the centers as long as they are moved by
    how far the centers really went: the drift is that of the unit centers.
    The result is the step of :func:`spherical_lloyd_step` (labels
    exact, centers to rounding).
    """

    def __init__(self, inner):
        self.inner = inner
        self.name, self.n_groups, self.reason = inner.name, inner.n_groups, inner.reason

    def step(self, centers):
        step, fraction, n_changed = self.inner.step(centers)
        new = _rows.unit_centers(step.centers)
        shift = np.sqrt(((new.astype(np.float64) - centers) ** 2).sum(axis=1))
        self.inner.drift = shift
        return step._replace(centers=new, center_shift=shift), fraction, n_changed

    def final(self, centers, step, strict):
        return self.inner.final(centers, step, strict)
