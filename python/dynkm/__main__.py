"""The ``dynkm`` command.

``dynkm`` (or ``dynkm compare``) streams a dataset (by default 300000 rows in
which 50 clusters appear one after another) through DynamicKMeans, fits a
static k-means of the same k, prints both sides' settings and the summary and
writes ``report.json``, ``report.md`` and the plots into ``--out``.
``dynkm kmeans --data PATH`` clusters a data file with KMeans and writes the
labels, the centers and the model into ``--out``; without ``--data`` it fits
the static KMeans on the digits next to scikit-learn's.
``dynkm classify`` trains the k-means classifiers (several prototypes per
class, and cluster-then-label) on the digits or MNIST and prints test accuracy
and seconds next to scikit-learn's NearestCentroid.

Errors are one line on stderr and an exit status: 2 for a bad command line
(argparse's checks, here made one line), 1 for bad data or a missing
resource (the library's ValueError, TypeError, OSError, an optional
dependency's ImportError), 130 for Ctrl-C. Anything else is a bug and keeps
its traceback, as does everything when ``DYNKM_DEBUG=1``.
"""

import argparse
import importlib
import math
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from dynkm._cli_progress import _isatty, _progress, _ticker

BUILTIN = ("stream", "digits", "blobs", "mnist")
FORMATS = ("idx", "fvecs", "ivecs", "bvecs", "npy")
COMMANDS = ("compare", "kmeans", "classify")
DEBUG_ENV = "DYNKM_DEBUG"
# --batch-size, --min-size, --max-size of compare when not given: for the built-in stream
# (300000 rows of 50 clusters of about 6000), else the DynCluster project's defaults
# (digits, files, MNIST).
STREAM_DEFAULTS = {"batch_size": 10000, "min_size": 500.0, "max_size": 8000.0}
OTHER_DEFAULTS = {"batch_size": 100, "min_size": 60.0, "max_size": 150.0}

# File name ending -> format, when --format is not given (anything else is IDX).
_FORMAT_BY_SUFFIX = {".npy": "npy", ".fvecs": "fvecs", ".ivecs": "ivecs", ".bvecs": "bvecs"}
# Where MNIST is looked for when neither --mnist-dir nor $DYNKM_MNIST names a
# folder: a "shared" datasets folder in or beside the current directory or the
# source checkout this module runs from (python/dynkm/__main__.py).
_SHARED_MNIST = Path("shared", "datasets", "mnist")
_CHECKOUT = Path(__file__).resolve().parents[2]
# Top-level words that are not a subcommand; an option first means `compare`.
_TOP_LEVEL = ("-h", "--help", "--version")

_EPILOG = f"""\
exit status: 0 done; 1 bad data or environment (a missing, unreadable or
invalid file, NaN data, MNIST not found, --out not writable, an optional
dependency not installed); 2 bad command line; 130 interrupted. An error is
one line on stderr, "dynkm: error: ...". Set {DEBUG_ENV}=1 to get the
traceback instead.

MNIST (--data mnist) is read from --mnist-dir if given, else from the folder
named by $DYNKM_MNIST if set, else from the first of ./shared/datasets/mnist
and ../shared/datasets/mnist, relative to the current directory and then to
the source checkout, that holds the four IDX files (raw or .gz)."""


def main(argv=None):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Usage errors raise SystemExit(2) from argparse; data errors print one
    line and return 1.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        args = _parser().parse_args(_with_default_command(argv))
        _check_combinations(args)
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except KeyboardInterrupt:
        if debug:
            raise
        if _isatty(sys.stderr):
            sys.stderr.write("\n")  # end a progress bar's line
        print("dynkm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`dynkm ... | head`): stop quietly, and
        # point stdout at /dev/null so the final flush at exit does not fail.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except (ValueError, TypeError, OSError, ImportError, MemoryError) as exc:
        if debug or _is_own_import_error(exc):
            raise
        print(f"dynkm: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _is_own_import_error(exc):
    """An ImportError of dynkm or kmcore themselves is a broken build, not user input."""
    return isinstance(exc, ImportError) and (exc.name or "").split(".")[0] in ("dynkm",
                                                                              "kmcore")


def _one_line(exc):
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    elif isinstance(exc, MemoryError):
        text = f"out of memory {exc}".strip()
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _with_default_command(argv):
    """``dynkm`` and ``dynkm --option ...`` mean ``dynkm compare ...``.

    Any other first word goes to argparse as the subcommand, so a typo is an
    "invalid choice" listing the valid ones rather than a silent `compare`.
    """
    if not argv or (argv[0].startswith("-") and argv[0] not in _TOP_LEVEL):
        return ["compare", *argv]
    return argv


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line, like the data errors."""

    def error(self, message):
        self.exit(2, f"dynkm: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default after its help; None/False defaults are described in the help."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _int_at_least(low, high=None):
    """argparse type: an integer in [low, high]."""
    bounds = f">= {low}" if high is None else f"in {low}..{high}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be an integer {bounds}, got {text!r}")
        return value

    return parse


def _finite_at_least(low):
    """argparse type: a finite number >= low (NaN and inf rejected)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(
                f"must be a finite number >= {low:g}, got {text!r}")
        return value

    return parse


_POSITIVE = _int_at_least(1)


def _n_init(text):
    """argparse type: "auto" or an integer >= 1."""
    return text if text == "auto" else _POSITIVE(text)


_SEED = _int_at_least(0, 2**32 - 1)  # what scikit-learn accepts as random_state
_THREADS_HELP = ("threads for the kernels (default: $OMP_NUM_THREADS if set, else the "
                 "physical cores)")


def _parser():
    from dynkm import __version__

    parser = _Parser(prog="dynkm", description=__doc__.split("\n\n")[1].replace("``", ""),
                     epilog=_EPILOG,
                     formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help=f"one of {', '.join(COMMANDS)} (default: compare)")
    common = dict(formatter_class=_Formatter, epilog=_EPILOG)

    cmp_ = sub.add_parser("compare", help="dynamic vs static k-means (the default)",
                          description=_wrap("Stream a dataset through DynamicKMeans, fit a "
                                            "static k-means of the same k, print the summary, "
                                            "write the reports and plots."), **common)
    cmp_.add_argument("--data", default="stream",
                      help=f"one of {', '.join(BUILTIN)} or the path of a data file; stream: "
                      "300000 x 32 rows in which 50 Gaussian clusters appear one after another "
                      "(dynkm.compare.make_arriving_clusters)")
    cmp_.add_argument("--format", choices=FORMATS, default=None,
                      help="format of the --data file (default: from its name: .npy, "
                      ".fvecs, .ivecs, .bvecs, anything else idx, raw or gzip)")
    cmp_.add_argument("--mnist-dir", default=None,
                      help="folder of MNIST's IDX files for --data mnist (default: "
                      "$DYNKM_MNIST, else the shared datasets folder: see below)")
    cmp_.add_argument("--batch-size", type=_POSITIVE, default=None,
                      help="rows per batch of the stream (default: 10000 for --data stream, "
                      "else 100)")
    cmp_.add_argument("--min-size", type=_finite_at_least(0), default=None,
                      help="a cluster lighter than this merges into its nearest one "
                      "(default: 500 for --data stream, else 60)")
    cmp_.add_argument("--max-size", type=_finite_at_least(1), default=None,
                      help="a cluster heavier than this is split; at least --min-size "
                      "(default: 8000 for --data stream, else 150)")
    cmp_.add_argument("--static", choices=("dynkm", "faiss", "sklearn"), default="dynkm",
                      help="the static k-means: dynkm.KMeans, faiss.Kmeans (needs faiss-cpu) "
                      "or scikit-learn's KMeans")
    cmp_.add_argument("--static-init", choices=("k-means++", "random"), default=None,
                      help="seeding of the static k-means (default: k-means++; random for "
                      "faiss, its only seeding)")
    cmp_.add_argument("--static-n-init", type=_n_init, default="auto",
                      help="restarts of the static k-means, the best kept; auto is "
                      "scikit-learn's rule: 1 for k-means++, 10 for random")
    cmp_.add_argument("--static-max-iter", type=_POSITIVE, default=100,
                      help="iterations of the static k-means at most")
    cmp_.add_argument("--random-state", type=_SEED, default=0, help="seed of both models")
    cmp_.add_argument("--n-threads", type=_POSITIVE, default=None, help=_THREADS_HELP)
    cmp_.add_argument("--out", default="dynkm-out",
                      help="folder for report.json, report.md and the plots, created if needed")
    cmp_.add_argument("--no-plots", action="store_true",
                      help="write the reports only (default: the four plots too)")
    cmp_.set_defaults(run=_run_compare, parser=cmp_)

    km = sub.add_parser("kmeans", help="KMeans on a data file, or on the digits next to "
                        "scikit-learn",
                        description=_wrap("With --data: fit dynkm.KMeans on the data, write "
                                          "labels.npy, centers.npy and model.dynkm into --out "
                                          "and print n, d, k, inertia, iterations and seconds. "
                                          "Without --data: fit dynkm.KMeans and scikit-learn's "
                                          "KMeans on the digits; print inertia, seconds, "
                                          "purity and iterations."), **common)
    km.add_argument("--data", default=None,
                    help=f"one of {', '.join(BUILTIN)} or the path of a data file to cluster "
                    "(default: the digits comparison with scikit-learn, nothing written)")
    km.add_argument("--format", choices=FORMATS, default=None,
                    help="format of the --data file (default: from its name, as for compare)")
    km.add_argument("--mnist-dir", default=None,
                    help="MNIST folder for --data mnist (default: $DYNKM_MNIST, else the "
                    "shared datasets folder: see below)")
    km.add_argument("--n-clusters", type=_POSITIVE, default=10, help="number of clusters k")
    km.add_argument("--n-init", type=_POSITIVE, default=10, help="k-means++ restarts")
    km.add_argument("--algorithm", choices=("auto", "lloyd", "elkan", "yinyang"),
                    default="auto", help="how dynkm.KMeans finds the nearest centers")
    km.add_argument("--random-state", type=_SEED, default=0, help="seed of the model(s)")
    km.add_argument("--n-threads", type=_POSITIVE, default=None, help=_THREADS_HELP)
    km.add_argument("--out", default=None,
                    help="folder for labels.npy, centers.npy and model.dynkm with --data, "
                    "created if needed (default: dynkm-out)")
    km.set_defaults(run=_run_kmeans, parser=km)

    clf = sub.add_parser("classify", help="k-means classifiers on the digits or MNIST",
                         description=_wrap("Train KMeansClassifier, ClusterLabelClassifier "
                                           "and scikit-learn's NearestCentroid; print test "
                                           "accuracy and seconds."), **common)
    clf.add_argument("--data", choices=("digits", "mnist"), default="digits",
                     help="digits (75/25 split) or MNIST's train/test")
    clf.add_argument("--mnist-dir", default=None,
                     help="MNIST folder (default: $DYNKM_MNIST, else the shared datasets "
                     "folder: see below)")
    clf.add_argument("--per-class", type=_POSITIVE, default=10,
                     help="prototypes per class of KMeansClassifier")
    clf.add_argument("--clusters", type=_POSITIVE, default=None,
                     help="clusters of ClusterLabelClassifier (default: 10 x --per-class)")
    clf.add_argument("--distance", choices=("euclidean", "cosine"), default="cosine",
                     help="distance of both k-means classifiers")
    clf.add_argument("--init", choices=("random", "k-means++"), default="random",
                     help="seeding of the prototypes")
    clf.add_argument("--max-iter", type=_POSITIVE, default=20,
                     help="k-means iterations at most")
    clf.add_argument("--random-state", type=_SEED, default=0,
                     help="seed of the split and the models")
    clf.add_argument("--n-threads", type=_POSITIVE, default=None, help=_THREADS_HELP)
    clf.set_defaults(run=_run_classify, parser=clf)
    return parser


def _wrap(text):
    """A description paragraph (the formatter keeps descriptions as written, for the epilog)."""
    return textwrap.fill(text, 78)


def _check_combinations(args):
    """Checks between options, as usage errors of the subcommand; fills data defaults."""
    if args.command == "compare":
        defaults = STREAM_DEFAULTS if args.data == "stream" else OTHER_DEFAULTS
        for option, value in defaults.items():
            if getattr(args, option) is None:
                setattr(args, option, value)
    if args.command == "compare" and args.min_size > args.max_size:
        args.parser.error(f"--min-size {args.min_size:g} is larger than --max-size "
                          f"{args.max_size:g}")
    if args.command == "kmeans" and args.data is None:
        # These only mean something for a clustering of --data: refuse rather than ignore.
        for option in ("format", "mnist_dir", "out"):
            if getattr(args, option) is not None:
                args.parser.error(f"--{option.replace('_', '-')} needs --data")


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def load_data(name, fmt=None, mnist_dir=None):
    """(X, display name) for a built-in dataset name or a file path.

    Raises
    ------
    FileNotFoundError
        If ``name`` is neither built in nor an existing file, or MNIST is
        not found (the message lists where it looked).
    ValueError
        Naming the file, if it is not valid in its format or its data is not
        a non-empty numeric matrix of finite values.
    """
    if name == "stream":
        from dynkm.compare import make_arriving_clusters

        X, _ = make_arriving_clusters(random_state=0)
        return X, f"arriving clusters ({X.shape[0]} x {X.shape[1]}, 50 clusters)"
    if name == "digits":
        from sklearn.datasets import load_digits

        return load_digits().data.astype(np.float64), "digits (1797 x 64)"
    if name == "blobs":
        from sklearn.datasets import make_blobs

        X, _ = make_blobs(20000, n_features=32, centers=50, cluster_std=2.0, random_state=0)
        return X.astype(np.float32), "blobs (20000 x 32)"
    if name == "mnist":
        from dynkm.datasets import load_mnist

        X, _ = load_mnist(find_mnist(mnist_dir), "all")
        return X, f"MNIST train+test ({X.shape[0]} x {X.shape[1]})"
    path = Path(name)
    X = _read_file(path, fmt)
    return X, f"{path.name} ({X.shape[0]} x {X.shape[1]})"


def _read_file(path, fmt):
    from dynkm import datasets

    if not path.exists():
        raise FileNotFoundError(f"--data {str(path)!r} is neither one of {', '.join(BUILTIN)} "
                                f"nor an existing file")
    if path.is_dir():
        raise IsADirectoryError(f"--data {path}: is a folder, not a data file")
    # A file whose name gives no format is read as IDX; say so when that fails.
    guessed = fmt is None and path.suffix.lower() not in _FORMAT_BY_SUFFIX
    if fmt is None:
        fmt = _FORMAT_BY_SUFFIX.get(path.suffix.lower(), "idx")
    if fmt == "npy":
        return datasets.read_npy(path)  # checks the rows itself
    if fmt == "idx":
        try:
            X = datasets.read_idx(path)
        except ValueError as exc:
            if guessed:
                raise ValueError(f"{exc} (read as IDX: the file name gives no other format; "
                                 f"--format sets it)") from exc
            raise
        if X.ndim < 2:
            raise ValueError(f"{path}: IDX array of shape {X.shape}, need rows of features "
                             f"(2 or more dimensions)")
        X = X.reshape(X.shape[0], -1)  # (n, rows, cols) images -> (n, rows * cols)
    else:
        X = getattr(datasets, f"read_{fmt}")(path)
    return datasets._check_rows(X, path)


def find_mnist(explicit=None):
    """The MNIST folder: ``explicit``, else ``$DYNKM_MNIST``, else a shared datasets folder.

    A folder named by the user (``explicit`` or the environment variable)
    that lacks the files is an error, never silently replaced by another.

    Raises
    ------
    FileNotFoundError
        Naming the folder and the missing files, or listing every place
        looked at.
    """
    from dynkm.datasets import MNIST_ENV, _mnist_problem

    for given, label in ((explicit, "--mnist-dir "), (os.environ.get(MNIST_ENV), f"${MNIST_ENV}=")):
        if given:
            problem = _mnist_problem(given)
            if problem:
                raise FileNotFoundError(f"{label}{given}: no MNIST there: {problem}")
            return Path(given)
    looked = []
    for folder in _mnist_candidates():
        if not _mnist_problem(folder):
            return folder
        looked.append(str(folder))
    raise FileNotFoundError(
        f"MNIST not found: no --mnist-dir, ${MNIST_ENV} not set, and no MNIST IDX files in "
        f"{', '.join(looked)}; pass --mnist-dir or set ${MNIST_ENV}")


def _mnist_candidates():
    """Shared datasets folders in or beside the current directory, then the checkout."""
    bases = [Path.cwd()]
    if (_CHECKOUT / "pyproject.toml").is_file():  # not when installed in site-packages
        bases.append(_CHECKOUT)
    seen, folders = set(), []
    for base in bases:
        for folder in (base / _SHARED_MNIST, base.parent / _SHARED_MNIST):
            key = os.path.normcase(os.path.abspath(folder))
            if key not in seen:
                seen.add(key)
                folders.append(folder)
    return folders


def _prepare_out(out):
    """Create ``out`` and write a test file there before any work; return the folders made.

    Raises OSError naming ``--out`` if that fails.
    """
    path = Path(out)
    made = [p for p in (path, *path.parents) if not p.exists()]  # deepest first
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--out {out}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        _remove_empty(made)
        raise OSError(f"--out {out}: cannot write there ({exc.strerror or exc})") from exc
    return made


def _remove_empty(folders):
    """Remove the folders we created (deepest first) while they are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def _available(module):
    """Whether an optional dependency imports."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _require(module, message):
    """Import an optional dependency now, before any work; ImportError(message) if missing."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(message, name=module) from exc


# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------

def _run_compare(args):
    from dynkm.compare import compare

    made = _prepare_out(args.out)
    try:
        if args.static == "faiss":
            _require("faiss", "--static faiss needs faiss-cpu (pip install faiss-cpu); "
                     "or use --static dynkm")
        plots = not args.no_plots and _available("matplotlib")
        if not args.no_plots and not plots:
            # The plots are optional (the [plot] extra): the reports are still written.
            print('dynkm: matplotlib is not installed, so the plots are skipped '
                  '(pip install "dynkm[plot]"; --no-plots silences this)', file=sys.stderr)
        X, name = load_data(args.data, args.format, args.mnist_dir)
        result = compare(X, data_name=name, batch_size=args.batch_size,
                         min_size=args.min_size, max_size=args.max_size, static=args.static,
                         static_init=args.static_init, static_n_init=args.static_n_init,
                         static_max_iter=args.static_max_iter, random_state=args.random_state,
                         n_threads=args.n_threads, on_batch=_progress("dynamic"),
                         on_static=_ticker())
    except BaseException:
        _remove_empty(made)  # a failed run leaves no empty output folder behind
        raise
    written = list(result.save(args.out))
    if plots:
        from dynkm.plot import plot_comparison

        written += plot_comparison(result, args.out)
    print(f"{name}: batches of {args.batch_size}, sizes [{args.min_size:g}, {args.max_size:g}], "
          f"static = {args.static}")
    print(result.to_text())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _run_kmeans(args):
    if args.data is not None:
        return _run_kmeans_data(args)
    from sklearn.cluster import KMeans as SKKMeans
    from sklearn.datasets import load_digits

    from dynkm import KMeans, purity

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float64)
    if args.n_clusters > X.shape[0]:
        raise ValueError(f"--n-clusters {args.n_clusters} is more than the {X.shape[0]} digits")
    rows = []
    for name, model in [
        ("dynkm.KMeans", KMeans(args.n_clusters, n_init=args.n_init, algorithm=args.algorithm,
                                random_state=args.random_state, n_threads=args.n_threads)),
        ("sklearn KMeans", SKKMeans(args.n_clusters, n_init=args.n_init,
                                    random_state=args.random_state)),
    ]:
        t0 = time.perf_counter()
        with _ticker()(name):
            model.fit(X)
        seconds = time.perf_counter() - t0
        rows.append((name, model.inertia_, seconds, purity(y, model.labels_), model.n_iter_))
    print(f"digits: {X.shape[0]} x {X.shape[1]}, k = {args.n_clusters}, n_init = {args.n_init}")
    print(f"{'model':<16}{'inertia':>14}{'seconds':>10}{'purity':>9}{'iters':>7}")
    for name, inertia, seconds, pur, n_iter in rows:
        print(f"{name:<16}{inertia:>14.1f}{seconds:>10.3f}{pur:>9.4f}{n_iter:>7}")
    return 0


def _run_kmeans_data(args):
    """``dynkm kmeans --data``: fit KMeans, write labels, centers and the model into --out."""
    from dynkm import KMeans

    out = Path(args.out or "dynkm-out")
    made = _prepare_out(out)
    try:
        X, name = load_data(args.data, args.format, args.mnist_dir)
        if args.n_clusters > X.shape[0]:
            raise ValueError(f"--n-clusters {args.n_clusters} is more than the {X.shape[0]} "
                             f"rows of {name}")
        model = KMeans(args.n_clusters, n_init=args.n_init, algorithm=args.algorithm,
                       random_state=args.random_state, n_threads=args.n_threads)
        t0 = time.perf_counter()
        with _ticker()(f"KMeans, k = {args.n_clusters}, n_init {args.n_init}"):
            model.fit(X)
        seconds = time.perf_counter() - t0
        written = [out / "labels.npy", out / "centers.npy", out / "model.dynkm"]
        np.save(written[0], model.labels_)
        np.save(written[1], model.cluster_centers_)
        model.save(written[2])
    except BaseException:
        _remove_empty(made)  # a failed run leaves no empty output folder behind
        raise
    print(f"{name}: n = {X.shape[0]}, d = {X.shape[1]}, k = {args.n_clusters}, "
          f"inertia = {model.inertia_:.6g}, n_iter = {model.n_iter_}, {seconds:.3f} s; "
          f"wrote {', '.join(str(p) for p in written)}")
    return 0


def _run_classify(args):
    from dynkm._cli_classify import run_classify

    return run_classify(args, find_mnist)


if __name__ == "__main__":
    sys.exit(main())
