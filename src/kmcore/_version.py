"""The version of the dynkm distribution (both kmcore and dynkm report it).

This file is the single source: pyproject.toml reads it at build time
(``[tool.setuptools.dynamic]``), and a plain file rather than
``importlib.metadata`` keeps ``__version__`` right when the packages run from
the source tree without being installed.
"""

__version__ = "0.1.0"
