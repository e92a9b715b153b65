"""What the classifiers accept: their parameters, class labels and rows.

Every check raises ValueError or TypeError naming the argument, before any
attribute of the estimator changes.
"""

import warnings

import numpy as np
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

from dynkm import _rows
from dynkm._params import Bool, Int, Options, Real, Rule
from dynkm._params import check_params as check_specs
from dynkm._validation import (
    as_dtype,
    check_int,
    check_range,
    validate_named,
)

DISTANCES = ("euclidean", "cosine")
SOFT_TYPES = ("softmax", "linear")
INITS = ("k-means++", "random")


class AcceptsCSR:
    """Tells scikit-learn's checks that scipy CSR input is supported."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# ------------------------------------------------------------------ labels and rows
def check_class_labels(y):
    """1-D discrete class labels, else ValueError saying what y looks like."""
    if y is None:
        raise ValueError("This classifier requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        raise ValueError(
            f"y must be a 1-D array of class labels, got shape {y.shape}: one-hot or "
            "probabilistic targets are not accepted (pass y.argmax(axis=1) for one-hot rows)."
        )
    if y.ndim == 2:
        y = column_or_1d(y, warn=True)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class labels, got shape {y.shape}")
    kind = type_of_target(y, input_name="y")
    if kind == "continuous":
        raise ValueError(
            "Unknown label type: 'continuous'. y must hold discrete class labels; "
            "continuous values (probabilities, regression targets) are not classes."
        )
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {kind!r}. y must hold class labels of one kind "
            "(all numbers or all strings)."
        )
    return y


def label_kind(labels):
    """'number' or 'text': labels of different kinds cannot share ``classes_``."""
    return "text" if np.asarray(labels).dtype.kind in "USO" else "number"


def check_label_kinds(known, **labels):
    """TypeError unless every given array of labels is of the kind of ``known``."""
    for name, values in labels.items():
        if values is not None and label_kind(values) != label_kind(known):
            raise TypeError(
                f"{name} holds {label_kind(values)} labels but the model's classes are "
                f"{label_kind(known)} labels ({known[:3].tolist()}...); use one kind")


def validate_X(estimator, X, reset, dtype):
    """Dense C-ordered or CSR float rows, in ``dtype`` (None keeps float32, else float64)."""
    X = validate_named(estimator, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                       order="C", reset=reset)
    return X if dtype is None else as_dtype(X, dtype)


def check_same_rows(X, y):
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")


def checked_norms(X, w, n_threads):
    """Squared row norms of the raw rows, after ``check_range`` (before any unit scaling,
    which an overflowing norm would turn into a zero row)."""
    x_sqnorms = _rows.row_norms(X, n_threads)
    check_range(x_sqnorms, w)
    return x_sqnorms


# ------------------------------------------------------------------ parameters
def check_dtype(dtype, name="dtype"):
    """None, or float32/float64 as a numpy dtype, else ValueError naming ``name``."""
    if dtype is None:
        return None
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{name} must be None, 'float32' or 'float64', got {dtype!r}") from None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{name} must be None, 'float32' or 'float64', got {dtype!r}")
    return dtype


# Each parameter's rule, stated once, in the order they are checked (so the
# same error comes first as before the specs); rules across parameters follow
# in the check functions below.
KMEANS_CLASSIFIER_SPECS = {
    "k_init": Int(),
    "init": Options(*INITS),
    "distance": Options(*DISTANCES),
    "dtype": Rule(check_dtype, "None, 'float32' or 'float64'", none=True),
    "soft_type": Options(*SOFT_TYPES),
    "temperature": Real(exclusive=True),
    "lambda_penalty": Real(),
    "min_weight": Real(),
    "max_iter": Int(),
    "tol": Real(),
    "batch_size": Int(),
    "soft": Bool(),
    "relative_merge": Bool(),
    "merge_threshold": Real(none=True),
    "percentile_threshold": Real(high=1.0, exclusive=True, none=True),
}

CLUSTER_LABEL_SPECS = {
    "init": Options(*INITS),
    "distance": Options(*DISTANCES),
    "max_iter": Int(),
    "tol": Real(),
    "n_clusters": Int(),
    "n_init": Int(),
}


def check_params(est):
    """KMeansClassifier's parameters (its ``_param_specs``, then the rules across them),
    checked: a read-only ``Params``."""
    p = check_specs(est)
    if p.merge_threshold is None and (p.relative_merge or p.percentile_threshold is not None):
        raise ValueError("relative_merge and percentile_threshold refine merge_threshold; "
                         "set merge_threshold too (None disables merging)")
    check_k_list(est.k_list)
    return p


def check_cluster_label_params(est):
    """ClusterLabelClassifier's parameters (its ``_param_specs``), checked: a read-only
    ``Params``."""
    return check_specs(est)


def check_k_list(k_list):
    if k_list is None:
        return
    counts = k_list.values() if isinstance(k_list, dict) else k_list
    if isinstance(counts, (str, bytes)) or not hasattr(counts, "__iter__"):
        raise TypeError(f"k_list must be a dict or a sequence of ints, got {k_list!r}")
    for k in counts:
        check_int(k, "k_list entries")


def target_counts(k_list, classes, k_init):
    """Prototypes wanted for each class of ``classes`` (sorted, all known classes)."""
    if k_list is None:
        return np.full(len(classes), k_init, dtype=np.intp)
    if isinstance(k_list, dict):
        return np.array([k_list.get(c, k_init) for c in classes.tolist()], dtype=np.intp)
    k_list = np.asarray(k_list, dtype=np.intp)
    if k_list.shape != (len(classes),):
        raise ValueError(
            f"k_list has {k_list.size} entries but there are {len(classes)} classes; "
            "give one count per class of classes_ (sorted), or a dict {class: k}"
        )
    return k_list


def warn_unknown_k_list_classes(k_list, classes):
    """A dict ``k_list`` naming classes that y lacks is probably a typo: say so."""
    if isinstance(k_list, dict):
        unknown = [c for c in k_list if c not in set(classes.tolist())]
        if unknown:
            warnings.warn(f"k_list names classes that are not in y: {unknown!r}",
                          UserWarning, stacklevel=3)
