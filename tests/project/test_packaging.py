"""Packaging: one version everywhere, matplotlib optional, a complete sdist.

The checks that need the source tree (pyproject.toml's expansion, MANIFEST.in)
skip where only the tests were copied, as when cibuildwheel tests a wheel.
"""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dynkm
import kmcore

ROOT = Path(__file__).resolve().parents[2]
PLOT_HINT = 'pip install "dynkm[plot]"'


def _pyproject():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    path = ROOT / "pyproject.toml"
    if not path.exists():
        pytest.skip(f"no pyproject.toml at {ROOT}")
    with path.open("rb") as f:
        return tomllib.load(f)


def _python(code, *args):
    """Run code in a fresh interpreter (same sys.path setup) and return its stdout."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_both_packages_report_the_one_version():
    from kmcore import _version

    assert kmcore.__version__ == dynkm.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc|\.dev|\.post)?\d*", kmcore.__version__)
    project = _pyproject()
    # Written once: pyproject.toml takes it from kmcore/_version.py.
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "kmcore._version.__version__"}


def test_setuptools_reads_the_same_version():
    if not (ROOT / "src" / "kmcore" / "_version.py").exists():
        pytest.skip("no source tree beside the tests")
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    config = pyprojecttoml.read_configuration(ROOT / "pyproject.toml", expand=True)
    assert config["project"]["version"] == kmcore.__version__


def test_installed_metadata_has_the_same_version():
    # A build in the checkout leaves a dynkm.egg-info there too: take the
    # distribution that the imported kmcore belongs to.
    here = Path(kmcore.__file__).resolve()
    dists = [d for d in importlib.metadata.distributions(name="dynkm")
             if Path(d.locate_file("kmcore/__init__.py")).resolve() == here]
    if not dists:
        pytest.skip(f"the kmcore imported ({here}) is not an installed distribution's")
    assert dists[0].version == kmcore.__version__ == dynkm.__version__


def test_matplotlib_is_an_extra():
    project = _pyproject()["project"]

    def names(requirements):
        return {re.match(r"[A-Za-z0-9_.-]+", r).group().lower() for r in requirements}

    extras = project["optional-dependencies"]
    assert "matplotlib" not in names(project["dependencies"])
    assert "matplotlib" in names(extras["plot"])
    assert {"matplotlib", "hypothesis", "pytest"} <= names(extras["test"])


def test_importing_the_packages_does_not_import_matplotlib():
    out = _python("import sys, kmcore, dynkm, dynkm.compare, dynkm.plot, dynkm.datasets, "
                  "dynkm.__main__; print('matplotlib' in sys.modules)")
    assert out.strip() == "False"


def test_plots_without_matplotlib_say_how_to_install_it(tmp_path):
    # None in sys.modules is what an uninstalled package looks like to import.
    code = """if True:
        import sys
        sys.modules["matplotlib"] = None
        from pathlib import Path
        import numpy as np
        from dynkm.compare import compare
        from dynkm.plot import plot_clusters_2d, plot_comparison

        out = Path(sys.argv[1])
        X = np.random.default_rng(0).normal(size=(300, 2))
        result = compare(X, batch_size=100, min_size=20, max_size=60)
        calls = [lambda: plot_comparison(result, out / "comparison"),
                 lambda: plot_clusters_2d(X, np.zeros(len(X), int), X[:2], out / "c.png")]
        for call in calls:
            try:
                call()
            except ImportError as exc:
                print("ImportError:", exc)
            else:
                print("no error")
        print("written:", sorted(p.name for p in out.rglob("*")))
    """
    lines = _python(code, str(tmp_path)).splitlines()
    assert len(lines) == 3
    for line in lines[:2]:
        assert line.startswith("ImportError:") and PLOT_HINT in line, line
    assert lines[2] == "written: []"


def test_manifest_ships_the_sources_and_no_generated_files(monkeypatch):
    if not (ROOT / "src" / "kmcore").is_dir():
        pytest.skip("no source tree beside the tests")
    egg_info = pytest.importorskip("setuptools.command.egg_info")
    monkeypatch.chdir(ROOT)
    # The same template processing that setuptools' sdist applies to MANIFEST.in.
    files = egg_info.FileList()
    files.findall()
    for line in (ROOT / "MANIFEST.in").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            files.process_template_line(line)
    shipped = set(files.files)
    sources = {p.relative_to(ROOT).as_posix() for pattern in ("*.pyx", "*.pxd", "*.pyi", "*.h")
               for p in (ROOT / "src" / "kmcore").glob(pattern)}
    assert len([s for s in sources if s.endswith(".pyx")]) >= 7
    needed = sources | {"tests/conftest.py", "tests/README.md", "README.md", "LICENSE",
                        "CHANGELOG.md", "pyproject.toml", "setup.py", "src/kmcore/py.typed",
                        "python/dynkm/py.typed"}
    # Every module of the subpackages, every test file and helper in every test folder,
    # and the saved models the tests load.
    needed |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert "tests/project/test_packaging.py" in needed
    needed |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "python" / "dynkm").rglob("*.py")}
    needed |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "data").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert "python/dynkm/classifier/_stream.py" in needed
    assert needed <= shipped, sorted(needed - shipped)
    generated = sorted(f for f in shipped if f.endswith((".c", ".so", ".pyd", ".html", ".pyc")))
    assert generated == []


def _tree_packages():
    """Every package of the source tree (a folder with an __init__.py), by import name."""
    from setuptools import find_packages

    return {name for root, top in (("src", "kmcore"), ("python", "dynkm"))
            for name in find_packages(ROOT / root) if name.split(".")[0] == top}


def test_every_package_of_the_tree_is_listed():
    if not (ROOT / "python" / "dynkm").is_dir():
        pytest.skip("no source tree beside the tests")
    listed = _pyproject()["tool"]["setuptools"]["packages"]
    assert {"kmcore", "dynkm", "dynkm.classifier", "dynkm.dask"} <= _tree_packages()
    assert sorted(listed) == sorted(_tree_packages())


def test_wheel_gets_every_module_of_the_tree(tmp_path):
    """build_py copies the Python part of a wheel: every module, and no warning about a
    package left out of ``packages`` (which setuptools would stop shipping)."""
    if not (ROOT / "python" / "dynkm").is_dir():
        pytest.skip("no source tree beside the tests")
    lib = tmp_path / "lib"
    # egg_info's folder in tmp_path too: the source tree is left as it was.
    done = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base",
                           str(tmp_path), "build_py", "--build-lib", str(lib)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "absent from the `packages` configuration" not in done.stderr, done.stderr
    for root, top in (("src", "kmcore"), ("python", "dynkm")):
        tree = {p.relative_to(ROOT / root).as_posix() for p in (ROOT / root / top).rglob("*.py")}
        built = {p.relative_to(lib).as_posix() for p in (lib / top).rglob("*.py")}
        assert tree == built, (sorted(tree - built), sorted(built - tree))
    assert (lib / "dynkm" / "classifier" / "kmeans_classifier.py").is_file()
