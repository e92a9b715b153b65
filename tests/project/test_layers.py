"""The import direction of the README's "Architecture" section, kept true.

``LAYERS`` lists every module of dynkm, lowest first, in layers. A module may
import (at the top or inside a function) the modules of the layers below its
own and those listed before it in its own layer; never one listed after it.
So the helpers never import the rows, the rows never the Lloyd driver or the
initialisation, and nothing below the estimators imports an estimator.
kmcore, the layer under all of them, imports nothing of dynkm.
"""

import ast
from pathlib import Path

import dynkm
import kmcore

DYNKM = Path(dynkm.__file__).resolve().parent
KMCORE = Path(kmcore.__file__).resolve().parent

# (layer, files relative to python/dynkm/, in the order they may import each other)
LAYERS = [
    ("helpers", ["_validation.py", "_params.py", "_renamed.py", "_atomic.py", "_grow.py",
                 "_history.py", "_tolerance.py", "_minibatch_rules.py", "_persist_tree.py",
                 "_cli_progress.py", "_generators.py"]),
    ("rows", ["_rows.py", "_csr_seeding.py", "_inputs.py"]),
    ("model pieces", ["_lloyd.py", "_init.py", "_base.py", "persist.py", "_dynamic_state.py",
                      "_summary_store.py", "_member_file.py", "_point_store.py",
                      "_dynamic_params.py"]),
    ("estimators", ["kmeans.py", "minibatch.py", "soft.py",
                    "classifier/_params.py", "classifier/_fit.py", "classifier/_penalty.py",
                    "classifier/_predict.py", "classifier/_prune.py", "classifier/_stream.py",
                    "classifier/kmeans_classifier.py", "classifier/cluster_label.py",
                    "classifier/__init__.py", "dynamic.py",
                    "dask/_chunks.py", "dask/_data.py", "dask/_init.py", "dask/_lloyd.py",
                    "dask/_kmeans.py",
                    "dask/__init__.py"]),
    ("package and tools", ["metrics.py", "datasets.py", "plot.py", "compare.py", "__init__.py",
                           "_cli_classify.py", "__main__.py"]),
]
ORDER = [path for _, paths in LAYERS for path in paths]


def module_files(root):
    """Every module of the package at ``root``, as paths relative to it."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))


def file_of(dotted):
    """The file under python/dynkm of module ``dotted`` (dynkm.x.y), or None if not a module."""
    parts = dotted.split(".")[1:]
    for candidate in ("/".join(parts) + ".py", "/".join([*parts, "__init__.py"])):
        if (DYNKM / candidate).is_file():
            return candidate
    return None


def dynkm_imports(path):
    """(line, imported file) of every dynkm module that ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        assert not (isinstance(node, ast.ImportFrom) and node.level), (
            f"{path}: relative import (dynkm uses absolute ones)")
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module == "dynkm" or node.module.startswith("dynkm.")):
            for alias in node.names:
                # "from dynkm import _rows" imports a module; "from dynkm import KMeans" a name.
                target = file_of(f"{node.module}.{alias.name}") or file_of(node.module)
                found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, file_of(a.name)) for a in node.names
                      if a.name == "dynkm" or a.name.startswith("dynkm.")]
    return found


def test_every_module_has_a_layer():
    assert sorted(ORDER) == module_files(DYNKM), (
        "add new modules to LAYERS (and to the README's Architecture section)")
    assert len(ORDER) == len(set(ORDER))


def test_dynkm_imports_only_downward():
    rank = {path: i for i, path in enumerate(ORDER)}
    upward = []
    for path in ORDER:
        for line, target in dynkm_imports(DYNKM / path):
            assert target is not None, f"{path}:{line}: import of no dynkm module"
            if target != path and rank[target] > rank[path]:
                upward.append(f"{path}:{line} imports {target}")
    assert not upward, "imports against the layer order: " + "; ".join(upward)


def test_nothing_below_the_estimators_imports_one():
    below = [p for _, paths in LAYERS[:3] for p in paths]
    estimators = set(dict(LAYERS)["estimators"])
    bad = [f"{p} imports {t}" for p in below for _, t in dynkm_imports(DYNKM / p)
           if t in estimators]
    assert not bad, bad


def test_kmcore_imports_nothing_of_dynkm():
    for rel in module_files(KMCORE):
        tree = ast.parse((KMCORE / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not any(n == "dynkm" or n.startswith("dynkm.") for n in names), rel


def test_the_check_sees_an_upward_import(tmp_path):
    """A function-level import of an estimator from a helper is found (else the
    direction tests prove nothing)."""
    helper = tmp_path / "helper.py"
    helper.write_text("def f():\n    from dynkm.kmeans import KMeans\n    import dynkm._rows\n"
                      "    from dynkm import _lloyd\n")
    assert [t for _, t in dynkm_imports(helper)] == ["kmeans.py", "_rows.py", "_lloyd.py"]


def test_readme_architecture_lists_every_module_in_its_layer():
    """The README's "Architecture" section is this table in words: each layer's
    numbered item names its modules (in backquotes), in the same layers."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    items = re.split(r"\n\d\. ", section)[1:]
    assert len(items) == len(LAYERS), "one numbered item per layer"
    for (layer, paths), item in zip(LAYERS, items, strict=True):
        assert item.startswith(layer + ":"), (layer, item[:40])
        named = set(re.findall(r"`([\w/]+)`", item))
        for path in paths:
            stem = path[:-3].split("/")[-1]
            if stem == "__init__" and "/" in path:
                continue  # a package's __init__ is named by the package itself
            assert stem in named, f"README Architecture, {layer}: add `{stem}` ({path})"
