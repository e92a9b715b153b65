"""The ``dynkm`` command.

``dynkm`` (or ``dynkm compare``) streams a dataset through DynamicKMeans,
fits a static k-means of the same k, prints the summary and writes
``report.json``, ``report.md`` and the plots into ``--out``.
``dynkm kmeans`` fits the static KMeans on the digits next to scikit-learn's.
``dynkm classify`` trains the k-means classifiers (several prototypes per
class, and cluster-then-label) on the digits or MNIST and prints test accuracy
and seconds next to scikit-learn's NearestCentroid.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

BUILTIN = ("digits", "blobs", "mnist")
FORMATS = ("idx", "fvecs", "npy")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("compare", "kmeans", "classify", "-h", "--help"):
        argv.insert(0, "compare")
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser():
    parser = argparse.ArgumentParser(prog="dynkm", description=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)

    cmp_ = sub.add_parser("compare", help="dynamic vs static k-means (the default)")
    cmp_.add_argument("--data", default="digits",
                      help=f"one of {', '.join(BUILTIN)} or a file path (default digits)")
    cmp_.add_argument("--format", choices=FORMATS, default=None,
                      help="format of a data file (default: from its extension)")
    cmp_.add_argument("--mnist-dir", default=None,
                      help="MNIST folder for --data mnist (default $DYNKM_MNIST)")
    cmp_.add_argument("--batch-size", type=int, default=100)
    cmp_.add_argument("--min-size", type=float, default=60)
    cmp_.add_argument("--max-size", type=float, default=150)
    cmp_.add_argument("--static", choices=("dynkm", "faiss", "sklearn"), default="dynkm")
    cmp_.add_argument("--static-max-iter", type=int, default=100)
    cmp_.add_argument("--random-state", type=int, default=0)
    cmp_.add_argument("--n-threads", type=int, default=None)
    cmp_.add_argument("--out", default="dynkm-out", help="output folder (default dynkm-out)")
    cmp_.add_argument("--no-plots", action="store_true", help="write the reports only")
    cmp_.set_defaults(run=_run_compare)

    km = sub.add_parser("kmeans", help="static KMeans on the digits next to scikit-learn")
    km.add_argument("--n-clusters", type=int, default=10)
    km.add_argument("--n-init", type=int, default=10)
    km.add_argument("--random-state", type=int, default=0)
    km.add_argument("--n-threads", type=int, default=None)
    km.set_defaults(run=_run_kmeans)

    clf = sub.add_parser("classify", help="k-means classifiers on the digits or MNIST")
    clf.add_argument("--data", choices=("digits", "mnist"), default="digits",
                     help="digits (75/25 split) or MNIST's train/test (default digits)")
    clf.add_argument("--mnist-dir", default=None, help="MNIST folder (default $DYNKM_MNIST)")
    clf.add_argument("--per-class", type=int, default=10,
                     help="prototypes per class of KMeansClassifier (default 10)")
    clf.add_argument("--clusters", type=int, default=None,
                     help="clusters of ClusterLabelClassifier (default 10 x --per-class)")
    clf.add_argument("--distance", choices=("euclidean", "cosine"), default="cosine")
    clf.add_argument("--init", choices=("random", "k-means++"), default="random")
    clf.add_argument("--max-iter", type=int, default=20)
    clf.add_argument("--random-state", type=int, default=0)
    clf.add_argument("--n-threads", type=int, default=None)
    clf.set_defaults(run=_run_classify)
    return parser


def load_data(name, fmt=None, mnist_dir=None):
    """(X, display name) for a built-in dataset name or a file path."""
    if name == "digits":
        from sklearn.datasets import load_digits

        return load_digits().data.astype(np.float64), "digits (1797 x 64)"
    if name == "blobs":
        from sklearn.datasets import make_blobs

        X, _ = make_blobs(20000, n_features=32, centers=50, cluster_std=2.0, random_state=0)
        return X.astype(np.float32), "blobs (20000 x 32)"
    if name == "mnist":
        from dynkm.datasets import MNIST_ENV, load_mnist

        X, _ = load_mnist(mnist_dir or os.environ.get(MNIST_ENV), "all")
        return X, f"MNIST train+test ({X.shape[0]} x {X.shape[1]})"
    path = Path(name)
    if not path.exists():
        raise SystemExit(f"dynkm: --data {name!r} is neither one of {BUILTIN} nor a file")
    fmt = fmt or {".npy": "npy", ".fvecs": "fvecs"}.get(path.suffix, "idx")
    if fmt == "npy":
        X = np.load(path, mmap_mode="r")
    elif fmt == "fvecs":
        from dynkm.datasets import read_fvecs

        X = read_fvecs(path)
    else:
        from dynkm.datasets import read_idx

        X = read_idx(path)
        X = X.reshape(X.shape[0], -1)
    return X, f"{path.name} ({X.shape[0]} x {X.shape[1] if X.ndim > 1 else 1})"


class _Progress:
    """A one-line progress bar over batches on stderr (no dependency)."""

    def __init__(self, label, stream=None, width=30):
        self.label, self.width = label, width
        self.stream = sys.stderr if stream is None else stream
        self.t0 = time.perf_counter()
        self.shown = -1

    def __call__(self, done, total):
        step = done * self.width // total
        if step == self.shown and done != total:
            return
        self.shown = step
        bar = "#" * step + "-" * (self.width - step)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} batches "
                          f"{time.perf_counter() - self.t0:.1f} s")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def _run_compare(args):
    from dynkm.compare import compare

    X, name = load_data(args.data, args.format, args.mnist_dir)
    result = compare(X, data_name=name, batch_size=args.batch_size, min_size=args.min_size,
                     max_size=args.max_size, static=args.static,
                     static_max_iter=args.static_max_iter, random_state=args.random_state,
                     n_threads=args.n_threads, on_batch=_Progress("dynamic"))
    written = list(result.save(args.out))
    if not args.no_plots:
        from dynkm.plot import plot_comparison

        written += plot_comparison(result, args.out)
    print(f"{name}: batches of {args.batch_size}, sizes [{args.min_size:g}, {args.max_size:g}], "
          f"static = {args.static}")
    print(result.to_text())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _run_kmeans(args):
    from sklearn.cluster import KMeans as SKKMeans
    from sklearn.datasets import load_digits

    from dynkm import KMeans, purity

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float64)
    rows = []
    for name, model in [
        ("dynkm.KMeans", KMeans(args.n_clusters, n_init=args.n_init,
                                random_state=args.random_state, n_threads=args.n_threads)),
        ("sklearn KMeans", SKKMeans(args.n_clusters, n_init=args.n_init,
                                    random_state=args.random_state)),
    ]:
        t0 = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - t0
        rows.append((name, model.inertia_, seconds, purity(y, model.labels_), model.n_iter_))
    print(f"digits: {X.shape[0]} x {X.shape[1]}, k = {args.n_clusters}, n_init = {args.n_init}")
    print(f"{'model':<16}{'inertia':>14}{'seconds':>10}{'purity':>9}{'iters':>7}")
    for name, inertia, seconds, pur, n_iter in rows:
        print(f"{name:<16}{inertia:>14.1f}{seconds:>10.3f}{pur:>9.4f}{n_iter:>7}")
    return 0


def _run_classify(args):
    import warnings

    from sklearn.neighbors import NearestCentroid

    from dynkm.classifier import ClusterLabelClassifier, KMeansClassifier

    # NearestCentroid warns about the constant border pixels of digits and MNIST.
    warnings.filterwarnings("ignore", message="self.within_class_std_dev_")

    if args.data == "mnist":
        from dynkm.datasets import MNIST_ENV, load_mnist

        folder = args.mnist_dir or os.environ.get(MNIST_ENV)
        (Xtr, ytr), (Xte, yte) = load_mnist(folder, "train"), load_mnist(folder, "test")
    else:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y,
                                              random_state=args.random_state)
    clusters = args.clusters or 10 * args.per_class
    common = dict(init=args.init, distance=args.distance, max_iter=args.max_iter,
                  random_state=args.random_state, n_threads=args.n_threads)
    models = [
        (f"KMeansClassifier({args.per_class} per class)",
         KMeansClassifier(args.per_class, **common)),
        (f"ClusterLabelClassifier({clusters})", ClusterLabelClassifier(clusters, **common)),
        ("sklearn NearestCentroid", NearestCentroid()),
    ]
    print(f"{args.data}: {Xtr.shape[0]} train / {Xte.shape[0]} test rows x {Xtr.shape[1]}, "
          f"{args.distance}, init {args.init}, at most {args.max_iter} iterations")
    print(f"{'model':<40}{'accuracy':>9}{'fit s':>9}{'predict s':>11}")
    for name, model in models:
        t0 = time.perf_counter()
        model.fit(Xtr, ytr)
        t1 = time.perf_counter()
        accuracy = float(np.mean(model.predict(Xte) == yte))
        print(f"{name:<40}{accuracy:>9.4f}{t1 - t0:>9.2f}{time.perf_counter() - t1:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
