"""
Classification with k-means prototypes
======================================

:class:`dynkm.KMeansClassifier` keeps several k-means prototypes per class and
predicts the class of the nearest one; :class:`dynkm.ClusterLabelClassifier`
clusters all rows and labels each cluster by its majority class. Both on the
handwritten digits, next to scikit-learn's ``NearestCentroid`` (one centroid
per class).
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestCentroid

from dynkm import ClusterLabelClassifier, KMeansClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)

per_class = [1, 2, 4, 8]
accuracy = []
for k in per_class:
    clf = KMeansClassifier(k, distance="cosine", max_iter=20, random_state=0)
    accuracy.append(clf.fit(X_train, y_train).score(X_test, y_test))

cluster_then_label = ClusterLabelClassifier(80, distance="cosine", max_iter=20,
                                            random_state=0).fit(X_train, y_train)
baseline = NearestCentroid().fit(X_train, y_train).score(X_test, y_test)
print("KMeansClassifier:", dict(zip(per_class, [round(a, 4) for a in accuracy], strict=True)))
print(f"ClusterLabelClassifier(80): {cluster_then_label.score(X_test, y_test):.4f}")
print(f"NearestCentroid: {baseline:.4f}")

# %%
# Test accuracy against the number of prototypes per class.

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(per_class, accuracy, marker="o", label="KMeansClassifier")
ax.axhline(baseline, color="gray", linestyle="--", label="NearestCentroid")
ax.set_xscale("log", base=2)
ax.set_xlabel("prototypes per class")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()
