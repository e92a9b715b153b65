"""Classification by k-means: several prototypes per class, or cluster-then-label.

Public: :class:`KMeansClassifier` (``kmeans_classifier``), :class:`ClusterLabelClassifier`
(``cluster_label``) and :func:`check_class_labels`. The private modules each hold
one part of the work, and import only the ones above them in this list:

- ``_params``: what the classifiers accept (parameters, class labels, rows);
- ``_fit``: seeding and k-means runs per class, the classes run side by side;
- ``_penalty``: the ``lambda_penalty`` iterations;
- ``_prune``: pruning light prototypes, merging close ones;
- ``_stream``: ``partial_fit``'s state (:class:`~dynkm.classifier._stream.StreamState`)
  and its mini-batch update;
- ``_predict``: per-class distances, logits and probabilities.
"""

# dynkm.dynamic seeds its first batch with the classifiers' Lloyd run, imported from here.
from dynkm.classifier._fit import kmeans_run as _kmeans_run  # noqa: F401
from dynkm.classifier._params import check_class_labels
from dynkm.classifier.cluster_label import ClusterLabelClassifier
from dynkm.classifier.kmeans_classifier import KMeansClassifier

__all__ = ["ClusterLabelClassifier", "KMeansClassifier", "check_class_labels"]
