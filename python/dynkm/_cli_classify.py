"""``dynkm classify``: the k-means classifiers next to scikit-learn's NearestCentroid."""

import time

import numpy as np

__all__ = []


def run_classify(args, find_mnist):
    """``dynkm classify``: train the k-means classifiers and NearestCentroid, print a table.

    ``find_mnist`` is the command's MNIST lookup (``dynkm.__main__.find_mnist``).
    """
    import warnings

    from sklearn.neighbors import NearestCentroid

    from dynkm.classifier import ClusterLabelClassifier, KMeansClassifier

    # NearestCentroid warns about the constant border pixels of digits and MNIST.
    warnings.filterwarnings("ignore", message="self.within_class_std_dev_")

    if args.data == "mnist":
        from dynkm.datasets import load_mnist

        folder = find_mnist(args.mnist_dir)
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
