"""dynkm uses kmcore only through kmcore's public API.

Public means: a name of ``kmcore.__all__``, or of the ``__all__`` of a module
listed in ``kmcore.PUBLIC_MODULES``. The test reads dynkm's source (ast), so
an import inside a function or an attribute such as ``kmcore._seeding`` is
found as well as a top-level ``from kmcore._threads import ...``.
"""

import ast
import importlib
from pathlib import Path


import dynkm
import kmcore

DYNKM = Path(dynkm.__file__).resolve().parent
# Imports of private kmcore modules in files that another branch of issue 16
# rewrites (classifier.py becomes a package): they switch to kmcore.threads and
# kmcore.validation there. Remove an entry once its file is gone or clean (the
# last test fails while an entry is no longer needed).
PENDING = {}


def public_api():
    """{module: set of public names} for kmcore and its public submodules."""
    api = {"kmcore": set(kmcore.__all__)}
    for name in kmcore.PUBLIC_MODULES:
        api[name] = set(importlib.import_module(name).__all__)
    return api


def kmcore_uses(tree):
    """(line, "module.name") of every kmcore name the module imports or reads."""
    uses, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module == "kmcore" or node.module.startswith("kmcore.")):
            uses += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "kmcore" or a.name.startswith("kmcore."):
                    uses.append((node.lineno, a.name))
                    # "import kmcore.x" binds kmcore; "import kmcore.x as y" binds y to x.
                    aliases[a.asname or "kmcore"] = a.name if a.asname else "kmcore"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases):
            uses.append((node.lineno, f"{aliases[node.value.id]}.{node.attr}"))
    return uses


def is_public(dotted, api):
    """A public module, or a public name of a public module."""
    if dotted in api:
        return True
    module, _, name = dotted.rpartition(".")
    return module in api and name in api[module]


def private_uses():
    """{file relative to dynkm: set of non-public kmcore names it uses}."""
    api = public_api()
    found = {}
    for path in sorted(DYNKM.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        bad = {dotted for _, dotted in kmcore_uses(tree) if not is_public(dotted, api)}
        if bad:
            found[path.relative_to(DYNKM).as_posix()] = bad
    return found


def test_public_api_is_well_formed():
    """Every listed name exists, and no public module or name is an underscore one."""
    for module, names in public_api().items():
        mod = importlib.import_module(module)
        assert not any(part.startswith("_") for part in module.split(".")), module
        for name in names:
            assert hasattr(mod, name), f"{module}.__all__ lists {name}, which it lacks"
            assert not name.startswith("_") or name == "__version__", f"{module}.{name}"


def test_the_checker_sees_private_uses():
    """The walk finds each way of reaching a private name (else the next test proves nothing)."""
    source = ("from kmcore._threads import blas_single_threaded\n"
              "from kmcore import _seeding, assign\n"
              "import kmcore\n"
              "import kmcore.assignment as km\n"
              "def f():\n"
              "    from kmcore.assignment import _lloyd_step\n"
              "    return kmcore._origin, kmcore.row_norms, km.assign_rows, km._EXACT\n")
    api = public_api()
    bad = sorted(d for _, d in kmcore_uses(ast.parse(source)) if not is_public(d, api))
    assert bad == ["kmcore._origin", "kmcore._seeding", "kmcore._threads.blas_single_threaded",
                   "kmcore.assignment._EXACT", "kmcore.assignment._lloyd_step"]


def test_dynkm_imports_only_public_kmcore_names():
    found = private_uses()
    unexpected = {path: names - PENDING.get(path, set()) for path, names in found.items()}
    unexpected = {path: sorted(names) for path, names in unexpected.items() if names}
    assert not unexpected, f"dynkm uses kmcore names outside its public API: {unexpected}"


def test_pending_exceptions_are_still_needed():
    uses = private_uses()
    for path, names in PENDING.items():
        assert uses.get(path, set()) >= names, (
            f"{path} no longer uses {sorted(names - uses.get(path, set()))}: "
            "remove them from PENDING")
