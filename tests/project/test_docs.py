"""The documentation builds without a warning and documents every public name.

The build runs ``python -m sphinx -W --keep-going -b html`` on a copy of
``docs/`` and the README (the generated gallery pages then land in the copy,
never in the checkout), importing dynkm and kmcore from where this process
did: the source tree or the installed package.
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dynkm
import kmcore

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# The build's dependencies (the [docs] extra), by import name.
NEEDED = ("sphinx", "numpydoc", "myst_parser", "sphinxarg", "sphinx_gallery", "matplotlib")
PUBLIC = ("kmcore", *kmcore.PUBLIC_MODULES, "dynkm", "dynkm.datasets", "dynkm.metrics",
          "dynkm.compare", "dynkm.plot", "dynkm.persist", "dynkm.dask")
EXAMPLES = ("plot_streaming", "plot_classifier", "plot_dynamic_vs_static")


def _missing():
    missing = []
    for name in NEEDED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


pytestmark = [
    pytest.mark.skipif(not (DOCS / "conf.py").is_file() or not (ROOT / "README.md").is_file(),
                       reason="no docs/ and README.md next to the tests (not a checkout)"),
    pytest.mark.skipif(bool(_missing()),
                       reason=f"the docs' dependencies are not installed ({', '.join(_missing())}"
                       f"; pip install \".[docs]\")"),
]


def _env():
    """This environment with dynkm and kmcore importable from where this process has them."""
    dirs = []
    for module in (kmcore, dynkm):
        folder = str(Path(module.__file__).resolve().parents[1])
        if folder not in dirs:
            dirs.append(folder)
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(dirs + [p for p in [env.get("PYTHONPATH")] if p])
    return env


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The built site's folder (the build must pass with warnings as errors)."""
    base = tmp_path_factory.mktemp("docs")
    shutil.copy2(ROOT / "README.md", base / "README.md")
    shutil.copytree(DOCS, base / "docs",
                    ignore=shutil.ignore_patterns("_build", "auto_examples", "__pycache__",
                                                  "sg_execution_times.rst"))
    out = base / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q",
                           "-b", "html", str(base / "docs"), str(out)], cwd=base, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # -q: only warnings would print
    return out


def _ids(page):
    return set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))


def _text(page):
    return " ".join(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")).split())


@pytest.mark.parametrize("module", PUBLIC)
def test_every_public_name_has_an_api_entry(html, module):
    ids = _ids(html / "api.html")
    names = importlib.import_module(module).__all__
    missing = [name for name in names if f"{module}.{name}" not in ids]
    assert not missing, f"{module}: no entry for {missing} in api.html"


def test_every_readme_section_is_a_page(html):
    """A section added to the README must reach the docs (the pages include it by heading)."""
    readme = re.sub(r"```.*?```", "", (ROOT / "README.md").read_text(encoding="utf-8"),
                    flags=re.S)
    headings = re.findall(r"^#{2,3} (.+)$", readme, flags=re.M)
    assert len(headings) >= 8
    site = " ".join(_text(page) for page in html.glob("*.html"))
    missing = [h for h in headings if h.replace("`", "") not in site]
    assert not missing, f"README sections missing from the docs: {missing}"


def test_cli_page_lists_every_subcommand_and_option(html):
    import argparse

    from dynkm.__main__ import _parser

    text = _text(html / "cli.html")
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"compare", "kmeans", "classify"}
    for command, parser in sub.choices.items():
        assert f"dynkm {command}" in text
        for action in parser._actions:
            for option in action.option_strings:
                assert option in text, (command, option)


@pytest.mark.parametrize("example", EXAMPLES)
def test_gallery_example_ran_and_drew(html, example):
    page = html / "auto_examples" / f"{example}.html"
    assert page.is_file()
    assert (html / "_images" / f"sphx_glr_{example}_001.png").stat().st_size > 0
    assert "Traceback" not in _text(page)
