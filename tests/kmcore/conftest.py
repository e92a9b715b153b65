"""Fixtures of the kmcore kernel tests (those of tests/conftest.py apply too)."""

import pytest
from _kernel_cases import force_row_parts


@pytest.fixture(params=["fused", "two_pass", "row_parts"])
def m_step_path(request, monkeypatch):
    """Run lloyd_step with its M-step fused in the E-step, or in a second pass
    (one row part, as small inputs get, or up to eight)."""
    if request.param != "fused":
        monkeypatch.setattr("kmcore.assignment._FUSED_SUMS_BYTES", -1)
    if request.param == "row_parts":
        force_row_parts(monkeypatch)
    return request.param
