"""Shared fixtures: data sets that are always there, and MNIST when it is.

Also the hypothesis profiles of the property tests: "fast" (the default: a
few hundred examples in all, derandomized so that every run, CI included,
tries the same ones) and "thorough" (``--hypothesis-profile=thorough``: many
more, freshly random each run, for a longer local search).
"""

import os
from pathlib import Path

import numpy as np
import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the property tests skip themselves without hypothesis
    pass
else:
    settings.register_profile(
        "fast", max_examples=30, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "thorough", max_examples=2000, deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    # --hypothesis-profile (read by hypothesis's pytest plugin after this
    # file is loaded) overrides this.
    settings.load_profile("fast")

# The project's shared datasets sit beside the repository (../shared).
_SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled digits (1797 x 64, float64) and their classes."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float64), y


@pytest.fixture(scope="session")
def mnist_path():
    """Folder of MNIST's IDX files ($DYNKM_MNIST or ../shared/datasets/mnist), else skip."""
    from dynkm.datasets import mnist_dir

    folder = mnist_dir(os.environ.get("DYNKM_MNIST")) or mnist_dir(_SHARED_MNIST)
    if folder is None:
        pytest.skip(f"MNIST not found: set DYNKM_MNIST or provide {_SHARED_MNIST}")
    return folder


@pytest.fixture(scope="session")
def mnist_train(mnist_path):
    from dynkm.datasets import load_mnist

    return load_mnist(mnist_path, "train")
