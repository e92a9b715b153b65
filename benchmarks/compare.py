"""Compare two pytest-benchmark JSON files: our times and ratios, old run against new.

    python benchmarks/compare.py OLD.json NEW.json [--threshold 0.10]
                                 [--quality-threshold 0.01] [--ratios-only]

For every benchmark present in both files (matched by ``fullname``) it prints
the median time and every ratio in ``extra_info``, old and new, and the change
(new / old - 1). Every quantity compared is "lower is better":

- the median seconds of a benchmark that times dynkm (benchmarks that time a
  peer alone, see ``PEER_BENCHMARKS`` and ``--peers``, are printed but not
  judged);
- ``ratio_to_{peer}``: dynkm's time / the peer's time in the same run (the
  peer may be another library, a plain GEMM, a read pass or dynkm's own
  plain Lloyd);
- ``{what}_ratio_to_{peer}``, e.g. ``inertia_ratio_to_faiss``: a quality
  ratio, dynkm's / the peer's, judged against ``--quality-threshold``;
- ``same_*`` flags (e.g. ``same_rows``): True turning False is a regression.

The exit status is 1 when anything regressed by more than its threshold, 0
otherwise (2 for unreadable input). Ratios move little between machines and
seconds a lot: ``--ratios-only`` judges only the ratios and flags, for runs
on different machines.
"""

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass

# Benchmarks whose timed call is a peer's, not dynkm's: their seconds are not ours to regress.
PEER_BENCHMARKS = re.compile(
    r"::test_\w*_(sklearn|faiss|numpy|dask_ml)(\[|$)"
    r"|::test_(dask_ml|knn_sklearn|seed_prefix|text_nearest_centroid|text_logistic_regression)"
    r"(\[|$)"
)
_RATIO = re.compile(r"^(?:(?P<what>\w+?)_)?ratio_to_(?P<peer>\w+)$")


@dataclass
class Row:
    """One compared quantity of one benchmark."""

    benchmark: str
    quantity: str
    old: object
    new: object
    limit: float = None      # the allowed relative increase; None: printed, not judged
    regressed: bool = False

    def change(self):
        """new / old - 1, or None when it has no meaning (flags, zero or missing)."""
        if not (_is_number(self.old) and _is_number(self.new)) or self.old == 0:
            return None
        return self.new / self.old - 1


def _is_number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def ratio_kind(key):
    """"time" for ``ratio_to_*``, "quality" for ``*_ratio_to_*``, else None."""
    match = _RATIO.match(key)
    if match is None:
        return None
    return "time" if match["what"] is None else "quality"


def benchmark_key(bench):
    """``file.py::test[param]``: the fullname without the folders, which depend on where
    pytest ran."""
    path, sep, rest = bench.get("fullname", bench["name"]).partition("::")
    return path.rsplit("/", 1)[-1] + sep + rest if sep else path


def load(path):
    """{benchmark_key: benchmark} of a pytest-benchmark JSON file."""
    with open(path) as f:
        data = json.load(f)
    return {benchmark_key(bench): bench for bench in data["benchmarks"]}


def _judged(row):
    change = row.change()
    row.regressed = row.limit is not None and change is not None and change > row.limit
    return row


def compare_benchmark(name, old, new, threshold, quality_threshold, ratios_only=False,
                      peers=PEER_BENCHMARKS):
    """The rows of one benchmark present in both runs."""
    ours = not ratios_only and peers.search(name) is None
    rows = [_judged(Row(name, "median s", (old.get("stats") or {}).get("median"),
                        (new.get("stats") or {}).get("median"), threshold if ours else None))]
    old_info, new_info = old.get("extra_info", {}), new.get("extra_info", {})
    for key in sorted(set(old_info) | set(new_info)):
        a, b = old_info.get(key, "missing"), new_info.get(key, "missing")
        kind = ratio_kind(key)
        if kind is not None:
            limit = threshold if kind == "time" else quality_threshold
            rows.append(_judged(Row(name, key, a, b, limit)))
        elif key.startswith("same_") and isinstance(a, bool):
            rows.append(Row(name, key, a, b, regressed=a is True and b is False))
    return rows


def compare(old, new, threshold=0.10, quality_threshold=0.01, ratios_only=False,
            peers=PEER_BENCHMARKS):
    """Rows of every benchmark in both runs, and the names found in only one of them."""
    rows = []
    for name in sorted(set(old) & set(new)):
        rows += compare_benchmark(name, old[name], new[name], threshold, quality_threshold,
                                  ratios_only, peers)
    return rows, sorted(set(old) - set(new)), sorted(set(new) - set(old))


def _fmt(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.6g}"


def format_rows(rows):
    """Aligned text lines: benchmark, quantity, old, new, change and verdict."""
    lines, previous = [], None
    for row in rows:
        if row.benchmark != previous:
            lines.append(row.benchmark)
            previous = row.benchmark
        change = row.change()
        shown = "" if change is None else f"{change:+.1%}"
        verdict = ""
        if row.regressed:
            verdict = "REGRESSED" if row.limit is None else f"REGRESSED (> {row.limit:+.0%})"
        elif row.limit is None and row.quantity == "median s" and change is not None:
            verdict = "(a peer's time: not judged)"
        lines.append(f"    {row.quantity:<34} {_fmt(row.old):>12} {_fmt(row.new):>12} "
                     f"{shown:>8}  {verdict}".rstrip())
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="pytest-benchmark JSON of the reference run")
    parser.add_argument("new", help="pytest-benchmark JSON of the run to check")
    parser.add_argument("--threshold", type=float, default=0.10,
                        help="allowed relative increase of our times and time ratios "
                             "(default 0.10: 10%%)")
    parser.add_argument("--quality-threshold", type=float, default=0.01,
                        help="allowed relative increase of quality ratios such as "
                             "inertia_ratio_to_* (default 0.01)")
    parser.add_argument("--ratios-only", action="store_true",
                        help="do not judge seconds (runs on different machines)")
    parser.add_argument("--peers", metavar="REGEX",
                        help="benchmarks (file.py::test[param]) that time a peer, beside "
                             "the built-in list: their seconds are not judged")
    args = parser.parse_args(argv)
    peers = PEER_BENCHMARKS
    if args.peers:
        peers = re.compile(f"{PEER_BENCHMARKS.pattern}|{args.peers}")
    try:
        old, new = load(args.old), load(args.new)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"compare.py: cannot read the benchmark files: {exc!r}", file=sys.stderr)
        return 2
    rows, only_old, only_new = compare(old, new, args.threshold, args.quality_threshold,
                                       args.ratios_only, peers)
    print(f"{'':4}{'quantity':<34} {'old':>12} {'new':>12} {'change':>8}")
    for line in format_rows(rows):
        print(line)
    for label, names in [("only in OLD", only_old), ("only in NEW", only_new)]:
        for name in names:
            print(f"{label}: {name}")
    regressed = [row for row in rows if row.regressed]
    if regressed:
        print(f"\n{len(regressed)} regression(s): "
              + ", ".join(f"{row.benchmark} {row.quantity}" for row in regressed))
        return 1
    print(f"\nNo regression beyond the thresholds ({len(rows)} quantities in "
          f"{len(set(old) & set(new))} benchmarks).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
