"""Write the classifier models that tests/dynkm/classifier/test_classifier_saved.py loads.

Run once, with the code whose files must keep loading, from the repository root:

    PYTHONPATH=src:python python tests/data/classifier/make_saved.py

(with ``python`` the folder holding that code's ``dynkm``). The files in this
folder were written by the code of commit 0e4d3ff (when the
classifiers were one module, ``dynkm/classifier.py``). Each model is saved in
the dynkm format (``NAME.dynkm``) and pickled (``NAME.pkl``); ``data.npz``
holds the rows they were trained on, so that the test can train the same
models with today's code and compare them with the loaded ones.
"""

import pickle
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def data():
    rng = np.random.default_rng(16)
    centers = rng.normal(scale=1.5, size=(6, 5))
    X = centers[np.arange(240) % 6] + rng.normal(size=(240, 5))
    y_idx = np.arange(240) % 6 // 2
    y = np.array(["ant", "bee", "eel"])[y_idx]
    w = rng.uniform(0.5, 2.0, size=240)
    return {"X": X, "y": y, "y_idx": y_idx, "w": w, "X_test": rng.normal(scale=2.0, size=(50, 5))}


def models(d):
    """name -> a function that trains the model on the data ``d``."""
    from dynkm import ClusterLabelClassifier, KMeansClassifier

    def fitted():
        # Integer labels 0, 1, 2: the lambda_penalty iterations of 0e4d3ff took
        # labels for class indices (fixed since), which these labels are.
        clf = KMeansClassifier(5, k_list={1: 2}, merge_threshold=2.0, lambda_penalty=0.3,
                               random_state=3, n_threads=1)
        return clf.fit(d["X"], d["y_idx"], sample_weight=d["w"])

    def streamed():
        clf = KMeansClassifier(5, distance="cosine", min_weight=5.0, merge_threshold=0.2,
                               random_state=4, n_threads=1)
        for a in range(0, 240, 80):
            clf.partial_fit(d["X"][a:a + 80], d["y"][a:a + 80], classes=["ant", "bee", "eel"],
                            sample_weight=d["w"][a:a + 80])
        return clf

    def cluster_label():
        clf = ClusterLabelClassifier(12, init="k-means++", n_init=2, random_state=5,
                                     n_threads=1)
        return clf.fit(d["X"], d["y"], sample_weight=d["w"])

    return {"kmeans_classifier": fitted, "kmeans_classifier_stream": streamed,
            "cluster_label": cluster_label}


def main(out=HERE):
    d = data()
    np.savez(out / "data.npz", **d)
    for name, train in models(d).items():
        model = train()
        model.save(out / f"{name}.dynkm")
        with open(out / f"{name}.pkl", "wb") as f:
            pickle.dump(model, f, protocol=4)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
