"""The ``dynkm`` command: cluster a built-in dataset and report the result."""

import argparse
import sys
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="dynkm",
        description="Fit dynkm.KMeans on scikit-learn's digits (1797 x 64, bundled) "
        "and print inertia, time and purity next to scikit-learn's KMeans.",
    )
    parser.add_argument("--n-clusters", type=int, default=10, help="clusters (default 10)")
    parser.add_argument("--n-init", type=int, default=10, help="k-means++ runs (default 10)")
    parser.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--n-threads", type=int, default=None,
                        help="OpenMP threads (default: physical cores)")
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    sys.exit(main())
