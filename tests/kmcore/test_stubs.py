"""The .pyi stubs of the compiled modules match what the extensions export."""

import subprocess
import sys

import pytest

EXTENSIONS = ["_parallel", "_distances", "_assign", "_centers", "_seeding", "_split", "_soft",
              "_yinyang", "_yinyang_sums", "_hamerly"]


def test_stubs_match_extensions():
    pytest.importorskip("mypy.stubtest")
    modules = [f"kmcore.{name}" for name in EXTENSIONS]
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--concise", *modules],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
