"""The synthetic data sets of the k-means homework notebook this project grew from, vectorised
and seeded.

Public through :mod:`dynkm.datasets`.
"""

import numbers

import numpy as np
from numpy.typing import NDArray

from dynkm._validation import check_float, check_int

__all__ = ["make_rings", "make_blobs_streak", "make_high_dim"]


#: What ``random_state`` may be: a seed (``np.random.default_rng`` semantics for
#: None and ints) or a generator to draw from.
RandomStateLike = int | np.random.Generator | np.random.RandomState | None


def _rng(random_state):
    """A Generator or RandomState to draw from (int/None: ``np.random.default_rng``)."""
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    if isinstance(random_state, (bool, np.bool_)) or not (
            random_state is None or isinstance(random_state, numbers.Integral)):
        raise TypeError(
            "random_state must be None, an int, a numpy Generator or RandomState, "
            f"got {random_state!r}"
        )
    return np.random.default_rng(random_state)


def _component_sizes(n_samples, n_components):
    """n // k points per component, the remainder going to the first (as the notebook's
    ``gen3`` does)."""
    sizes = np.full(n_components, n_samples // n_components, dtype=np.int64)
    sizes[0] += n_samples % n_components
    return sizes


def _labels(sizes):
    return np.repeat(np.arange(sizes.shape[0], dtype=np.int64), sizes)


# Nominal radii of make_rings's components (outer ring, centre).
_RINGS_RADII = (2.0, 0.0)


def make_rings(n_samples: int = 300, noise: float | tuple[float, float] = (0.2, 0.25),
               random_state: RandomStateLike = None
               ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Two noisy concentric "rings" in 2-D: radius 2 around a blob at radius 0.

    Each point is ``r * (cos a, sin a)`` with ``a`` uniform on ``[0, 2 pi)`` and
    ``r = radius + noise * N(0, 1)``; the radii are 2 (component 0) and 0
    (component 1), as in the original notebook (``gen2(N, 1/5, 2)`` and
    ``gen2(N, 1/4, 0)``).

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points, at least 2; each component gets
        ``n_samples // 2`` and the first one the remainder.
    noise : float or pair of float, default=(0.2, 0.25)
        Standard deviation of the radius of the outer ring and of the centre
        blob; a single number is used for both.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seed (``np.random.default_rng`` semantics for None/int) or generator to
        draw from; a generator passed in is advanced.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        Component of each point (0: ring of radius 2, 1: centre), in blocks:
        all 0s first.

    Notes
    -----
    The "ring" of radius 0 is a disc: its signed radius is ``N(0, noise)``,
    so the distance to the origin is half-normal (mean ``noise * sqrt(2/pi)``)
    and the density peaks at the centre.
    """
    n_samples = check_int(n_samples, "n_samples", low=2)
    noise = np.asarray(noise, dtype=np.float64)
    if noise.ndim == 0:
        noise = np.full(2, noise)
    if noise.shape != (2,):
        raise ValueError(f"noise must be a number or a pair, got shape {noise.shape}")
    noise = np.array([check_float(float(value), "noise") for value in noise])
    rng = _rng(random_state)
    y = _labels(_component_sizes(n_samples, 2))
    angle = 2 * np.pi * rng.random(n_samples)
    radius = np.asarray(_RINGS_RADII)[y] + noise[y] * rng.standard_normal(n_samples)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X, y


def make_blobs_streak(n_samples: int = 300, random_state: RandomStateLike = None
                      ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Two small Gaussian blobs and a curved streak in 2-D (the notebook's gen1).

    Component 0: ``N((0, 0), (1/3)^2 I)``; component 1: ``N((2, 2), (1/3)^2 I)``;
    component 2 (the streak): ``x = 1.5 + 3 |z1|``, ``y = (z2 - 3) / x`` with
    ``z1, z2 ~ N(0, 1)``, a band below the x axis that flattens out as ``x``
    grows (``x >= 1.5``, ``y ~ -3 / x``).

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points, at least 3; each component gets
        ``n_samples // 3`` and the first one the remainder.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seed (``np.random.default_rng`` semantics for None/int) or generator to
        draw from; a generator passed in is advanced.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64
        Component of each point (0, 1: blobs, 2: streak), in blocks.
    """
    n_samples = check_int(n_samples, "n_samples", low=3)
    rng = _rng(random_state)
    y = _labels(_component_sizes(n_samples, 3))
    Z = rng.standard_normal((n_samples, 2))
    X = np.where((y == 1)[:, None], 2.0, 0.0) + Z / 3
    streak = y == 2
    sx = 1.5 + 3 * np.abs(Z[streak, 0])
    X[streak, 0] = sx
    X[streak, 1] = (Z[streak, 1] - 3) / sx
    return X, y


def make_high_dim(n_samples: int = 1000, n_features: int = 100, n_clusters: int = 10,
                  scale: float = 10, random_state: RandomStateLike = None
                  ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Gaussian clusters in many dimensions (after the notebook's gen3).

    Each cluster has a centre drawn from ``N(0, scale^2 I)``; its points are
    the centre plus ``N(0, I)`` noise.

    Parameters
    ----------
    n_samples : int, default=1000
        Total number of points, at least ``n_clusters``; each cluster gets
        ``n_samples // n_clusters`` and the first one the remainder (as in
        gen3).
    n_features : int, default=100
        Dimension.
    n_clusters : int, default=10
        Number of clusters.
    scale : float, default=10
        Standard deviation of the centres' coordinates (gen3's ``d``); the
        within-cluster noise has unit standard deviation.
    random_state : None, int, numpy.random.Generator or RandomState, default=None
        Seed (``np.random.default_rng`` semantics for None/int) or generator to
        draw from; a generator passed in is advanced.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64
        Cluster of each point, in blocks.

    Notes
    -----
    The notebook's gen3 adds ``numpy.random.randn(N_i, 1) * d``: one random
    offset **per point** (broadcast along the diagonal), not per cluster, so
    its "clusters" all have the same distribution and its labels carry no
    structure. This function draws one centre per cluster instead, which is
    what the cluster count and the labels are for.
    """
    n_features = check_int(n_features, "n_features")
    n_clusters = check_int(n_clusters, "n_clusters")
    n_samples = check_int(n_samples, "n_samples", low=n_clusters)
    scale = check_float(scale, "scale")
    rng = _rng(random_state)
    y = _labels(_component_sizes(n_samples, n_clusters))
    centers = scale * rng.standard_normal((n_clusters, n_features))
    X = centers[y] + rng.standard_normal((n_samples, n_features))
    return X, y
