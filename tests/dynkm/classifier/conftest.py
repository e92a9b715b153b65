"""Fixtures of the classifier tests (those of tests/conftest.py, such as ``digits``, apply too)."""

import pytest
from sklearn.model_selection import train_test_split

from _classifier_helpers import _untie


@pytest.fixture(scope="module")
def digits_split(digits):
    X, y = digits
    return train_test_split(_untie(X), y, test_size=0.3, random_state=0, stratify=y)
