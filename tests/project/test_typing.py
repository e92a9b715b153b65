"""The annotations of the public API, as a user's type checker sees them.

Both packages ship ``py.typed``, so mypy reads their annotations in the code
that uses them. These tests run mypy (with the project's ``[tool.mypy]``) on
small snippets of user code: the revealed types of the public calls must be
the annotated ones (an unannotated function would reveal ``Any``), correct
use must raise no error, and each line of wrong use must be reported.
"""

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is not installed (the test extra has it)")

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"

HEADER = """\
import numpy as np

import dynkm
import kmcore
from dynkm.datasets import make_rings
from dynkm.metrics import inertia, purity

X, y = make_rings(120, random_state=0)
"""

# Each checked line ends with "# expect: <part of the revealed type>" (or
# "= <the revealed type>").
CORRECT_USE = """\
km = dynkm.KMeans(n_clusters=3, random_state=0).fit(X)
reveal_type(km)  # expect: dynkm.kmeans.KMeans
reveal_type(km.predict(X))  # expect: numpy.signedinteger
reveal_type(km.transform(X))  # expect: numpy.floating
reveal_type(km.score(X))  # expect: = float
reveal_type(km.fit_predict(X))  # expect: numpy.signedinteger
reveal_type(dynkm.MiniBatchKMeans(n_clusters=3).partial_fit(X))  # expect: minibatch.MiniBatchKMeans
reveal_type(dynkm.DynamicKMeans().fit(X))  # expect: dynkm.dynamic.DynamicKMeans
reveal_type(dynkm.SoftKMeans(n_clusters=3).fit(X).predict_proba(X))  # expect: numpy.floating
reveal_type(dynkm.KMeansClassifier().fit(X, y))  # expect: KMeansClassifier
reveal_type(dynkm.SoftKMeans.load("model.dkm"))  # expect: dynkm.soft.SoftKMeans
reveal_type(kmcore.assign(X, km.cluster_centers_))  # expect: tuple[numpy.ndarray
reveal_type(kmcore.kmeans_plusplus(X, 3, random_state=0)[1])  # expect: numpy.signedinteger
reveal_type(kmcore.lloyd_step(X, km.cluster_centers_))  # expect: kmcore.assignment.LloydStep
reveal_type(purity(y, km.labels_))  # expect: = float
reveal_type(inertia(X, km.cluster_centers_))  # expect: = float


class Mine(dynkm.KMeans):
    pass


reveal_type(Mine(n_clusters=3).fit(X))  # expect: Mine
labels: np.ndarray = km.predict(X)
km.save("model.dkm", compress=True)
"""

# Every line is wrong and must be reported on its own line. (An unknown
# attribute of an estimator is not: scikit-learn has no type information, so
# to mypy its base classes, and unknown attributes of their subclasses, are Any.)
WRONG_USE = """\
kmcore.kmeans_plusplus(X, "3")
kmcore.assign(X, X, n_threads="2")
kmcore.row_norms(X, squared="yes")
n: int = dynkm.KMeans().fit(X).score(X)
dynkm.KMeans().save(3)
dynkm.KMeans().fit(X).predict(X).upper()
dynkm.datasets.load_mnist(subset=1)
purity(y)
"""


@pytest.fixture(scope="module")
def run_mypy(tmp_path_factory):
    """mypy on a snippet: its errors and revealed types, by line of the snippet."""
    cache = tmp_path_factory.mktemp("mypy_cache")

    def run(name, body, monkeypatch):
        path = tmp_path_factory.mktemp("snippet") / f"{name}.py"
        path.write_text(HEADER + textwrap.dedent(body))
        # [tool.mypy]'s mypy_path is relative to the working directory: the
        # source tree when the tests run from it, else the installed packages.
        monkeypatch.chdir(ROOT)
        out, err, status = mypy_api.run([
            "--config-file", str(CONFIG), "--cache-dir", str(cache),
            "--no-error-summary", "--show-error-codes", str(path),
        ])
        assert status in (0, 1), f"mypy failed to run:\n{out}\n{err}"
        found = {"error": {}, "note": {}}
        for line in out.splitlines():
            m = re.match(r"(.+?):(\d+): (error|note): (.*)$", line)
            assert m, f"unexpected mypy output: {line}"
            # Only the snippet's lines: the packages must be clean anyway
            # (.ci/run checks them), and are reported here if they are not.
            assert Path(m.group(1)).name == path.name, f"error in the packages: {line}"
            found[m.group(3)].setdefault(int(m.group(2)) - HEADER.count("\n"), []).append(
                m.group(4))
        return found

    return run


def test_revealed_types_are_the_annotated_ones(run_mypy, monkeypatch):
    found = run_mypy("correct_use", CORRECT_USE, monkeypatch)
    assert found["error"] == {}, f"correct use reported: {found['error']}"
    expected = {i: line.split("# expect: ")[1]
                for i, line in enumerate(CORRECT_USE.splitlines(), start=1)
                if "# expect: " in line}
    assert len(expected) == CORRECT_USE.count("# expect: ")
    for i, part in expected.items():
        notes = found["note"].get(i, [])
        assert len(notes) == 1 and notes[0].startswith("Revealed type is"), (i, notes)
        revealed = notes[0].split('"')[1]
        if part.startswith("= "):
            assert revealed == part[2:], (i, part, revealed)
        else:
            assert part in revealed, (i, part, revealed)


def test_wrong_use_is_reported_on_every_line(run_mypy, monkeypatch):
    found = run_mypy("wrong_use", WRONG_USE, monkeypatch)
    n_lines = len(WRONG_USE.splitlines())
    missed = [(i, line) for i, line in enumerate(WRONG_USE.splitlines(), start=1)
              if i not in found["error"]]
    assert not missed, f"mypy did not flag: {missed}"
    assert set(found["error"]) == set(range(1, n_lines + 1))
    # The str given for an int parameter is named as such.
    assert any('"str"; expected "int"' in e for e in found["error"][1]), found["error"][1]
