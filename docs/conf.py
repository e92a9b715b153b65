"""Sphinx configuration of dynkm's documentation.

Build (from the repository root, the package importable either installed or
from the source tree)::

    PYTHONPATH=src:python python -m sphinx -W --keep-going -b html docs docs/_build/html

The narrative pages include the README's sections (the README stays the one
source of that text), the API page is generated from the numpydoc
docstrings, the command-line page from the argparse parsers of
``dynkm.__main__``, and the gallery runs the scripts in ``docs/examples``.
"""

import importlib.util
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The package is imported as it is: installed, or from PYTHONPATH=src:python.
# Only when it is not importable at all do we fall back to this checkout's
# source tree (its extensions built in place), so a plain
# `python -m sphinx docs ...` in a checkout works too.
if importlib.util.find_spec("dynkm") is None and (ROOT / "python" / "dynkm").is_dir():
    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "python")]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT / "python"), os.environ.get("PYTHONPATH", "")])

import dynkm  # noqa: E402  (after the path set-up above)

project = "dynkm"
author = "The dynkm developers"
copyright = "the dynkm developers"  # noqa: A001  (Sphinx's name)
release = dynkm.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinxarg.ext",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples/README.txt", "**.ipynb_checkpoints"]
root_doc = "index"

# --- autodoc / numpydoc -----------------------------------------------------
autodoc_default_options = {"members": True, "undoc-members": True, "member-order": "bysource"}
autosummary_generate = False  # the API page lists the names itself: no stub files
numpydoc_show_class_members = False  # members are documented by autodoc instead
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# `name : int, default=300` style types stay plain text; no validation checks
# beyond numpydoc's parser (a malformed section is still a warning).

# --- MyST: the README is Markdown ------------------------------------------
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# The README's sections start at "##"/"###"; included under a page title they
# skip a level, which is how they are written, not a mistake.
suppress_warnings = ["myst.header"]

# --- intersphinx ------------------------------------------------------------
# No network at build time: only used when the inventories are cached
# locally, so the build (a test) never depends on the internet.
intersphinx_mapping = {}
intersphinx_disabled_reftypes = ["*"]

# --- gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "within_subsection_order": "FileNameSortKey",
}

# --- HTML -------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"dynkm {release}"
html_static_path = []
html_theme_options = {"description": "Exact, fast and streaming k-means", "fixed_sidebar": True}


# --- docstring conventions ---------------------------------------------------
# scikit-learn's metadata-routing methods (set_fit_request, ...) are attached
# to every estimator class by scikit-learn itself: documented there, not here.
_SKLEARN_REQUEST = re.compile(r"set_\w+_request")
# Shapes written with a fitted attribute, "shape (n_clusters_, n_features)":
# in reST a word ending in "_" is a link, so the underscore is escaped there.
_SHAPE = re.compile(r"shape \(([^()]*)\)")


def _skip_member(app, what, name, obj, skip, options):
    if _SKLEARN_REQUEST.fullmatch(name):
        return True
    return None


def _escape_shape(match):
    return "shape (" + re.sub(r"\b(\w+)_(?=[,)\s]|$)", r"\1\\_", match.group(1)) + ")"


def _process_docstring(app, what, name, obj, options, lines):
    type_doc = getattr(type(obj), "__doc__", None)
    if what in ("data", "attribute") and lines and isinstance(type_doc, str) \
            and type_doc.strip() and lines[0].strip() == type_doc.strip().splitlines()[0]:
        # A constant without a docstring of its own would show its type's
        # (str's, tuple's): the page says what it is instead.
        lines[:] = []
        return
    lines[:] = [_SHAPE.sub(_escape_shape, line) for line in lines]


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _process_docstring)
