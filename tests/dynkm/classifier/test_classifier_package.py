"""dynkm.classifier's public names (which module may import which is tests/project/test_layers.py's
LAYERS, with the rest of dynkm)."""

import dynkm
import dynkm.classifier
from dynkm.classifier import ClusterLabelClassifier, KMeansClassifier


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
