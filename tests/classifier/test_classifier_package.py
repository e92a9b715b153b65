"""dynkm.classifier's layout: the public names, and which module may import which."""

import ast
from pathlib import Path

import dynkm
import dynkm.classifier
from dynkm.classifier import ClusterLabelClassifier, KMeansClassifier

PACKAGE = Path(dynkm.classifier.__file__).resolve().parent
# The private modules, each importing only modules before it here (none imports an
# estimator module or the package's __init__).
PRIVATE = ["_params", "_fit", "_penalty", "_prune", "_stream", "_predict"]
ESTIMATORS = ["kmeans_classifier", "cluster_label"]


def _imports_of(module):
    """The dynkm.classifier modules that ``module`` imports (names after the package)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "dynkm.classifier":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("dynkm.classifier."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[2] for alias in node.names
                      if alias.name.startswith("dynkm.classifier.")}
    return found


def test_public_names_are_the_same_objects_everywhere():
    assert dynkm.KMeansClassifier is KMeansClassifier
    assert dynkm.ClusterLabelClassifier is ClusterLabelClassifier
    assert sorted(dynkm.classifier.__all__) == ["ClusterLabelClassifier", "KMeansClassifier",
                                                "check_class_labels"]
    assert KMeansClassifier.__module__ == "dynkm.classifier.kmeans_classifier"
    assert ClusterLabelClassifier.__module__ == "dynkm.classifier.cluster_label"
    # dynkm.dynamic seeds its first batch with the classifiers' run, from the package.
    from dynkm.classifier._fit import kmeans_run

    assert dynkm.classifier._kmeans_run is kmeans_run


def test_every_module_is_accounted_for():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(PRIVATE) | set(ESTIMATORS)


def test_private_modules_import_only_the_ones_before_them():
    for i, module in enumerate(PRIVATE):
        imported = _imports_of(module)
        assert imported <= set(PRIVATE[:i]), (module, sorted(imported - set(PRIVATE[:i])))


def test_the_estimators_import_private_modules_only():
    for module in ESTIMATORS:
        imported = _imports_of(module)
        assert imported and imported <= set(PRIVATE), (module, sorted(imported))
