"""The dynkm command run as a user runs it: a subprocess, its exit status and its stderr.

Every bad input must end in exit status 2 (command line) or 1 (data,
environment) with one ``dynkm: error: ...`` line on stderr naming the problem,
and never a traceback.

A subprocess costs about a second (importing scikit-learn), so each class of
error runs once through ``python -m dynkm`` (marked "process" in the test ids)
and its other variants through ``main()`` in this process ("main"), with the
same assertions on status, stdout and stderr.
"""

import contextlib
import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _fakes import idx_bytes, write_mnist

import dynkm
import kmcore
from dynkm.__main__ import main
from dynkm.datasets import _MNIST_FILES

SHARED = Path("shared", "datasets", "mnist")
# Tiny parameters so a successful compare takes well under a second.
FAST = ["--batch-size", "10", "--min-size", "2", "--max-size", "8", "--no-plots"]


def _env(**extra):
    """This environment, minus dynkm's variables, with the tested packages importable.

    The subprocess imports dynkm and kmcore from where this process did (a
    checkout's src/ and python/, or site-packages when installed), so it runs
    the code under test.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("DYNKM_DEBUG", "DYNKM_MNIST")}
    dirs = []
    for module in (kmcore, dynkm):
        folder = str(Path(module.__file__).resolve().parents[1])
        if Path(folder).is_dir() and folder not in dirs:
            dirs.append(folder)
    env["PYTHONPATH"] = os.pathsep.join(dirs + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


def run(args, cwd, code=None, **env):
    """``python -m dynkm ARGS`` (or ``python -c CODE ARGS``) in ``cwd``."""
    head = ["-m", "dynkm"] if code is None else ["-c", code]
    return subprocess.run([sys.executable, *head, *map(str, args)], cwd=cwd, env=_env(**env),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli(monkeypatch):
    """``cli(args, cwd, via, **env)``: run the command in a subprocess or through main()."""

    def call(args, cwd, via="process", **env):
        if via == "process":
            return run(args, cwd, **env)
        monkeypatch.chdir(cwd)
        for name in ("DYNKM_DEBUG", "DYNKM_MNIST"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main([str(a) for a in args])
            except SystemExit as exc:  # argparse: usage errors, --help, --version
                status = exc.code
        return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())

    return call


def wrapped(setup):
    """Code that runs ``setup`` (module ``m`` is dynkm.__main__), then the command."""
    return f"import sys\nimport dynkm.__main__ as m\n{setup}\nsys.exit(m.main())"


def error_line(proc, status, *needles):
    """Assert exit ``status``, nothing on stdout, one error line with every needle."""
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dynkm: error: "), proc.stderr
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    assert proc.stdout == ""
    return lines[0]


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """A small valid .npy data file (60 x 3 float32)."""
    path = tmp_path_factory.mktemp("rows") / "rows.npy"
    np.save(path, np.random.default_rng(0).standard_normal((60, 3)).astype(np.float32))
    return path


# --------------------------------------------------------------------------- usage: exit 2

USAGE_ERRORS = [
    ("process", ["compare", "--batch-size", "0"], ["--batch-size", "'0'",
                                                   "dynkm compare --help"]),
    ("main", ["--batch-size", "-3"], ["--batch-size", "'-3'"]),  # the default subcommand
    ("main", ["--batch-size", "2.5"], ["--batch-size", "'2.5'"]),
    ("process", ["--min-size", "-1"], ["--min-size", "'-1'"]),
    ("main", ["--max-size", "-5"], ["--max-size"]),
    ("main", ["--min-size", "nan"], ["--min-size", "'nan'"]),
    ("process", ["--max-size", "NaN"], ["--max-size", "'NaN'"]),
    ("main", ["--min-size", "inf"], ["--min-size", "finite"]),
    ("process", ["--min-size", "100", "--max-size", "50"], ["--min-size 100", "--max-size 50"]),
    ("main", ["--static-max-iter", "0"], ["--static-max-iter"]),
    ("main", ["--n-threads", "0"], ["--n-threads"]),
    ("main", ["--random-state", "-1"], ["--random-state"]),
    ("main", ["--random-state", str(2**32)], ["--random-state"]),
    ("main", ["--format", "csv"], ["--format", "'csv'"]),
    ("main", ["--static", "torch"], ["--static", "'torch'"]),
    ("main", ["compare", "--bogus"], ["--bogus"]),
    ("process", ["compar"], ["'compar'", "compare", "kmeans", "classify"]),
    ("process", ["kmeans", "--n-clusters", "0"], ["--n-clusters", "dynkm kmeans --help"]),
    ("main", ["kmeans", "--n-init", "-1"], ["--n-init"]),
    ("main", ["kmeans", "--n-threads", "x"], ["--n-threads", "'x'"]),
    ("process", ["classify", "--per-class", "0"], ["--per-class", "dynkm classify --help"]),
    ("main", ["classify", "--clusters", "-2"], ["--clusters"]),
    ("main", ["classify", "--max-iter", "nan"], ["--max-iter", "'nan'"]),
    ("main", ["classify", "--data", "cifar"], ["--data", "'cifar'"]),
]


@pytest.mark.parametrize("via, args, needles", USAGE_ERRORS,
                         ids=[f"{v}: {' '.join(a)}" for v, a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2(cli, tmp_path, via, args, needles):
    error_line(cli(args, tmp_path, via), 2, *needles)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even --out


# --------------------------------------------------------------------------- data: exit 1

def _npy(path, array):
    np.save(path, array, allow_pickle=True)
    return path


# name -> (how to make it, needles); the names in PROCESS also run as a subprocess.
BAD_FILES = {
    "missing.npy": (None, ["--data", "missing.npy", "neither"]),
    "empty.npy": (lambda p: _npy(p, np.zeros((0, 3))), ["empty.npy", "empty", "(0, 3)"]),
    "nocols.npy": (lambda p: _npy(p, np.zeros((4, 0))), ["nocols.npy", "empty"]),
    "flat.npy": (lambda p: _npy(p, np.zeros(5)), ["flat.npy", "1-D", "(5,)"]),
    "nan.npy": (lambda p: _npy(p, np.array([[1.0, 2.0], [3.0, np.nan]])),
                ["nan.npy", "row 1, column 1", "nan", "finite"]),
    "inf.npy": (lambda p: _npy(p, np.array([[np.inf, 2.0]])), ["inf.npy", "inf"]),
    "junk.npy": (lambda p: p.write_bytes(b"definitely not numpy"), ["junk.npy", "not a .npy"]),
    "objects.npy": (lambda p: _npy(p, np.array([[{}, 1]], dtype=object)),
                    ["objects.npy", "Python objects"]),
    "words.npy": (lambda p: _npy(p, np.array([["a", "b"]])), ["words.npy", "not numeric"]),
    "cut.npy": (lambda p: p.write_bytes(_npy(p, np.zeros((40, 4))).read_bytes()[:-5]),
                ["cut.npy", "unreadable"]),
    "text.fvecs": (lambda p: p.write_text("1.0 2.0 3.0\n4.0 5.0 6.0\n"),
                   ["text.fvecs", "dimension", "offset 0"]),
    "nan.fvecs": (lambda p: p.write_bytes(np.array([[2, 0, 0x7FC00000]], "<i4").tobytes()),
                  ["nan.fvecs", "row 0, column 1", "finite"]),
    "huge-idx3-ubyte": (lambda p: p.write_bytes(bytes([0, 0, 8, 4]) + b"\x00\x01\x00\x00" * 4),
                        ["huge-idx3-ubyte", "needs 18446744073709551616", "--format"]),
    "cut-idx3-ubyte.gz": (lambda p: p.write_bytes(gzip.compress(
        idx_bytes(np.zeros((5, 4, 4), np.uint8)))[:-12]), ["cut-idx3-ubyte.gz", "gzip"]),
    "labels-idx1-ubyte": (lambda p: p.write_bytes(idx_bytes(np.zeros(4, np.uint8))),
                          ["labels-idx1-ubyte", "shape (4,)"]),
}


PROCESS = {"empty.npy", "flat.npy", "nan.npy", "junk.npy", "text.fvecs"}
FILE_CASES = [("process" if name in PROCESS else "main", name) for name in sorted(BAD_FILES)]


@pytest.mark.parametrize("via, name", FILE_CASES, ids=[f"{v}: {n}" for v, n in FILE_CASES])
def test_bad_data_file_exit_1(cli, tmp_path, via, name):
    make, needles = BAD_FILES[name]
    path = tmp_path / name
    if make is not None:
        make(path)
    out = tmp_path / "out"
    error_line(cli(["compare", "--data", path, "--out", out, *FAST], tmp_path, via), 1,
               *needles)
    assert not out.exists()  # the folder made for the run is removed again


@pytest.mark.parametrize("via", ["process", "main"])
def test_text_file_as_fvecs(cli, tmp_path, via):
    path = tmp_path / "notes.txt"
    path.write_text("some words, not vectors\n")
    error_line(cli(["--data", path, "--format", "fvecs", "--out", tmp_path / "o"], tmp_path,
                   via), 1, "notes.txt", "invalid dimension", "fvecs")


def test_folder_as_data(cli, tmp_path):
    error_line(cli(["--data", tmp_path, "--out", tmp_path / "o"], tmp_path, "main"), 1,
               str(tmp_path), "folder")


# --------------------------------------------------------------------------- MNIST

@pytest.mark.parametrize("via, command", [("process", "compare"), ("main", "classify")])
def test_mnist_dir_missing(cli, tmp_path, via, command):
    missing = tmp_path / "no-such-folder"
    error_line(cli([command, "--data", "mnist", "--mnist-dir", missing], tmp_path, via), 1,
               "--mnist-dir", missing, "no such folder")


@pytest.mark.parametrize("command", ["compare", "classify"])
def test_mnist_dir_without_the_files(cli, tmp_path, command):
    (tmp_path / "empty").mkdir()
    error_line(cli([command, "--data", "mnist", "--mnist-dir", tmp_path / "empty"], tmp_path,
                   "main"), 1, "--mnist-dir", "empty", "missing", _MNIST_FILES["train"][0])


def test_mnist_environment_variable_is_not_replaced(cli, tmp_path):
    # A wrong $DYNKM_MNIST is an error even though the shared folder would be found.
    write_mnist(tmp_path / SHARED)
    error_line(cli(["classify", "--data", "mnist"], tmp_path, "main",
                   DYNKM_MNIST=tmp_path / "wrong"), 1, "$DYNKM_MNIST=", "wrong", "no such folder")


@pytest.mark.parametrize("via, command", [("process", "classify"), ("main", "compare")])
def test_mnist_not_found_lists_where_it_looked(cli, tmp_path, monkeypatch, via, command):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text("")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    if via == "process":
        code = wrapped(f"m._CHECKOUT = m.Path({str(checkout)!r})")
        proc = run([command, "--data", "mnist"], cwd, code=code)
    else:
        monkeypatch.setattr("dynkm.__main__._CHECKOUT", checkout)
        proc = cli([command, "--data", "mnist"], cwd, via)
    line = error_line(proc, 1, "MNIST not found", "--mnist-dir", "DYNKM_MNIST")
    for folder in (cwd / SHARED, tmp_path / SHARED, checkout / SHARED):
        assert str(folder) in line


@pytest.mark.parametrize("via, where", [("process", "."), ("main", "..")])
def test_mnist_found_in_shared_folder(cli, tmp_path, via, where):
    cwd = tmp_path / "work"
    cwd.mkdir()
    write_mnist((cwd / where / SHARED).resolve(), n_train=30, n_test=10)
    proc = cli(["compare", "--data", "mnist", "--out", cwd / "o", *FAST], cwd, via)
    assert proc.returncode == 0, proc.stderr
    assert "MNIST train+test (40 x 784)" in proc.stdout  # the fake, not a real copy


@pytest.mark.parametrize("via, command", [("process", "classify"), ("main", "compare")])
def test_mnist_counts_disagree(cli, tmp_path, via, command):
    folder = write_mnist(tmp_path / "m", n_train=30, n_train_labels=29)
    images, labels = _MNIST_FILES["train"]
    args = [command, "--data", "mnist", "--mnist-dir", folder]
    if command == "compare":
        args += ["--out", tmp_path / "o"]
    error_line(cli(args, tmp_path, via), 1, "30 images", "29 labels", images, labels)


# --------------------------------------------------------------------------- --out, faiss

def test_out_is_a_file(cli, tmp_path, rows):
    target = tmp_path / "taken"
    target.write_text("x")
    error_line(cli(["--data", rows, "--out", target], tmp_path), 1, "--out", target,
               "not a folder")
    error_line(cli(["--data", rows, "--out", target / "sub"], tmp_path, "main"), 1,
               "--out", target / "sub", "cannot write")
    assert target.read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_out_read_only_folder(cli, tmp_path, rows):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        error_line(cli(["--data", rows, "--out", locked / "o"], tmp_path, "main"), 1,
                   "--out", locked / "o", "cannot write")
    finally:
        locked.chmod(0o700)


def test_out_checked_before_any_work(cli, tmp_path):
    # Both --out and --mnist-dir are wrong: --out is reported, so it came first.
    target = tmp_path / "taken"
    target.write_text("")
    error_line(cli(["--data", "mnist", "--mnist-dir", tmp_path / "nope", "--out", target],
                   tmp_path, "main"), 1, "--out")


def test_static_faiss_without_faiss(tmp_path, rows):
    code = wrapped("sys.modules['faiss'] = None  # `import faiss` now fails")
    out = tmp_path / "o"
    error_line(run(["compare", "--data", rows, "--static", "faiss", "--out", out, *FAST],
                   tmp_path, code=code), 1, "--static faiss", "pip install faiss-cpu",
               "--static dynkm")
    assert not out.exists()


def test_compare_without_matplotlib_skips_the_plots(tmp_path, rows):
    # matplotlib is the optional [plot] extra: the reports are written, the plots skipped.
    code = wrapped("sys.modules['matplotlib'] = None  # `import matplotlib` now fails")
    out = tmp_path / "o"
    fast = [a for a in FAST if a != "--no-plots"]
    proc = run(["compare", "--data", rows, "--out", out, *fast], tmp_path, code=code)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "plots are skipped" in proc.stderr and "dynkm[plot]" in proc.stderr
    assert (out / "report.json").exists() and not list(out.glob("*.png"))


def test_kmeans_more_clusters_than_digits(tmp_path):
    error_line(run(["kmeans", "--n-clusters", "5000"], tmp_path), 1, "--n-clusters 5000", "1797")


# --------------------------------------------------------------------------- bugs, Ctrl-C

def test_debug_variable_shows_the_traceback(tmp_path):
    path = _npy(tmp_path / "flat.npy", np.zeros(3))
    proc = run(["--data", path, "--out", tmp_path / "o"], tmp_path, DYNKM_DEBUG="1")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ValueError" in proc.stderr and "1-D" in proc.stderr


def test_a_bug_is_not_swallowed(tmp_path):
    code = wrapped("def bug(args):\n    return 1 // 0\nm._run_kmeans = bug")
    proc = run(["kmeans"], tmp_path, code=code)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr


def test_keyboard_interrupt_exit_130(tmp_path, rows):
    code = wrapped("def stop(*args):\n    raise KeyboardInterrupt\nm.load_data = stop")
    proc = run(["--data", rows, "--out", tmp_path / "o"], tmp_path, code=code)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.splitlines() == ["dynkm: interrupted"]
    assert not (tmp_path / "o").exists()


def test_closed_stdout_is_quiet(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "dynkm", "kmeans", "--n-init", "1"],
                            cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head -0`: nobody reads the output
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert err == b"", err.decode()


# --------------------------------------------------------------------------- normal runs

def test_version(tmp_path):
    proc = run(["--version"], tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"dynkm {dynkm.__version__}"


@pytest.mark.parametrize("via, command", [("process", "compare"), ("main", "kmeans"),
                                          ("main", "classify")])
def test_help_shows_defaults_and_exit_codes(cli, tmp_path, via, command):
    proc = cli([command, "--help"], tmp_path, via)
    assert proc.returncode == 0 and proc.stderr == ""
    default = {"compare": "rows per batch of the stream (default: 10000 for --data stream, "
                          "else 100)",
               "kmeans": "k-means++ restarts (default: 10)",
               "classify": "k-means iterations at most (default: 20)"}[command]
    assert default in " ".join(proc.stdout.split())
    assert "DYNKM_DEBUG=1" in proc.stdout and "exit status" in proc.stdout


def test_compare_in_a_log_has_no_progress_bar(tmp_path, rows):
    proc = run(["--data", rows, "--out", tmp_path / "o", *FAST], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # stderr is a pipe: no carriage-return bars piling up
    assert "\r" not in proc.stdout
    assert "loss (SSE)" in proc.stdout and "rows.npy (60 x 3)" in proc.stdout
    assert (tmp_path / "o" / "report.json").stat().st_size > 0


def test_kmeans_in_a_log_has_no_progress_display(tmp_path):
    # Long enough for the fit's ticker (0.5 s) on a terminal; in a pipe nothing is drawn.
    path = tmp_path / "big.npy"
    np.save(path, np.random.default_rng(0).standard_normal((40000, 16)).astype(np.float32))
    proc = run(["kmeans", "--data", path, "--n-clusters", "64", "--n-init", "3",
                "--out", tmp_path / "o"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and "\r" not in proc.stdout
    assert "k = 64" in proc.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux pty")
def test_compare_on_a_terminal_shows_the_bar(tmp_path, rows):
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dynkm", "--data", str(rows),
                             "--out", str(tmp_path / "o"), *FAST], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    terminal = b"".join(chunks).decode()
    assert "\rdynamic [" in terminal and "6/6 batches" in terminal


# --------------------------------------------------------------------------- kmeans --data

def _blobs(n=90, d=4, seed=1):
    """Three separated groups of rows, float32."""
    rng = np.random.default_rng(seed)
    offsets = np.repeat(np.eye(3, d) * 8.0, n // 3, axis=0)
    return (rng.standard_normal((n, d)) + offsets).astype(np.float32)


def test_kmeans_data_writes_labels_centers_and_model(tmp_path):
    X = _blobs()
    path = tmp_path / "mine.npy"
    np.save(path, X)
    out = tmp_path / "deep" / "out"
    proc = run(["kmeans", "--data", path, "--n-clusters", 3, "--n-init", 2, "--out", out],
               tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    labels = np.load(out / "labels.npy", allow_pickle=False)
    centers = np.load(out / "centers.npy", allow_pickle=False)
    model = dynkm.load(out / "model.dynkm")
    assert isinstance(model, dynkm.KMeans)
    assert model.get_params()["n_clusters"] == 3 and model.get_params()["n_init"] == 2
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_array_equal(centers, model.cluster_centers_)
    assert centers.shape == (3, 4) and centers.dtype == np.float32
    # The same fit from Python: the command adds nothing of its own.
    direct = dynkm.KMeans(3, n_init=2, random_state=0).fit(X)
    np.testing.assert_array_equal(labels, direct.labels_)
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    for needle in ["mine.npy", "n = 90", "d = 4", "k = 3", f"inertia = {direct.inertia_:.6g}",
                   f"n_iter = {direct.n_iter_}", " s;", str(out / "model.dynkm")]:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize("suffix", ["fvecs", "bvecs", "idx3-ubyte"])
def test_kmeans_data_reads_every_format(cli, tmp_path, suffix):
    from dynkm import datasets

    X = np.abs(_blobs(60, 3)).round().astype(np.uint8)  # exact in every format
    path = tmp_path / f"rows.{suffix}"
    if suffix == "idx3-ubyte":
        path.write_bytes(idx_bytes(X))
    else:
        getattr(datasets, f"write_{suffix}")(path, X)
    proc = cli(["kmeans", "--data", path, "--n-clusters", 2, "--n-init", 1, "--algorithm",
                "elkan", "--out", tmp_path / "o"], tmp_path, "main")
    assert proc.returncode == 0, proc.stderr
    model = dynkm.load(tmp_path / "o" / "model.dynkm")
    assert model.get_params()["algorithm"] == "elkan"
    assert model.n_features_in_ == 3
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "labels.npy"),
                                  model.predict(X.astype(np.float64)))


KMEANS_BAD_FILES = ["missing.npy", "nan.npy", "junk.npy", "text.fvecs", "huge-idx3-ubyte"]


@pytest.mark.parametrize("name", KMEANS_BAD_FILES)
def test_kmeans_bad_data_file_exit_1(cli, tmp_path, name):
    make, needles = BAD_FILES[name]
    path = tmp_path / name
    if make is not None:
        make(path)
    out = tmp_path / "out"
    via = "process" if name == "junk.npy" else "main"
    error_line(cli(["kmeans", "--data", path, "--out", out], tmp_path, via), 1, *needles)
    assert not out.exists()  # the folder made for the run is removed again


def test_kmeans_data_errors(cli, tmp_path, rows):
    # --out is checked before the data is read.
    taken = tmp_path / "taken"
    taken.write_text("x")
    error_line(cli(["kmeans", "--data", tmp_path / "nope.npy", "--out", taken], tmp_path,
                   "main"), 1, "--out", "not a folder")
    error_line(cli(["kmeans", "--data", rows, "--n-clusters", 61, "--out", tmp_path / "o"],
                   tmp_path, "main"), 1, "--n-clusters 61", "60 rows")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("via, args, needles", [
    ("process", ["kmeans", "--out", "o"], ["--out needs --data", "dynkm kmeans --help"]),
    ("main", ["kmeans", "--format", "npy"], ["--format needs --data"]),
    ("main", ["kmeans", "--mnist-dir", "m"], ["--mnist-dir needs --data"]),
    ("main", ["kmeans", "--algorithm", "fast"], ["--algorithm", "'fast'"]),
    ("main", ["kmeans", "--data", "x.npy", "--format", "csv"], ["--format", "'csv'"]),
])
def test_kmeans_usage_errors_exit_2(cli, tmp_path, via, args, needles):
    error_line(cli(args, tmp_path, via), 2, *needles)
    assert not (tmp_path / "o").exists()
