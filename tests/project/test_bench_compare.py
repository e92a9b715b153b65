"""benchmarks/compare.py on synthetic pytest-benchmark JSON files (nothing is timed)."""

import importlib.util
import json
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "compare.py"
_spec = importlib.util.spec_from_file_location("bench_compare", _PATH)
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)

FIT = "test_fits.py::test_fit_20_iterations[256]"
PEER = "test_foundation.py::test_kmeanspp_sklearn[256]"


def bench(fullname, median, **extra_info):
    """One entry as pytest-benchmark writes it (the fields compare.py reads, and a few more)."""
    name = fullname.split("::")[-1]
    return {"group": "g", "name": name, "fullname": fullname, "params": None,
            "stats": {"min": median * 0.9, "median": median, "max": median * 1.2,
                      "rounds": 3},
            "extra_info": extra_info}


def write(path, *benchmarks):
    path.write_text(json.dumps({"machine_info": {"cpu": {}}, "benchmarks": list(benchmarks)}))
    return str(path)


def run(tmp_path, old, new, *options):
    """compare.py's exit status for two lists of benchmarks."""
    a = write(tmp_path / "old.json", *old)
    b = write(tmp_path / "new.json", *new)
    return compare.main([a, b, *options])


def base(median=2.0, **changes):
    info = dict(ratio_to_faiss=0.8, ratio_to_sklearn=0.6, inertia_ratio_to_faiss=0.99,
                faiss_seconds=2.5, n_iter=20, same_rows=True, distance_fraction=[0.3, 0.2])
    info.update(changes)
    return bench("benchmarks/" + FIT, median, **info)


def lines_of(capsys, quantity):
    out = capsys.readouterr().out
    return [line for line in out.splitlines() if line.strip().startswith(quantity)], out


def test_identical_runs_pass_and_print_every_ratio(tmp_path, capsys):
    assert run(tmp_path, [base()], [base()]) == 0
    out = capsys.readouterr().out
    assert FIT in out
    for quantity in ["median s", "ratio_to_faiss", "ratio_to_sklearn", "inertia_ratio_to_faiss",
                     "same_rows"]:
        assert quantity in out
    # Not ratios: a peer's seconds, counts and lists are left out.
    for other in ["faiss_seconds", "n_iter", "distance_fraction"]:
        assert other not in out
    assert "REGRESSED" not in out


def test_ratio_regression_beyond_the_threshold_fails(tmp_path, capsys):
    assert run(tmp_path, [base()], [base(ratio_to_faiss=0.8 * 1.15)]) == 1
    lines, out = lines_of(capsys, "ratio_to_faiss")
    assert "REGRESSED" in lines[0] and "+15.0%" in lines[0]
    assert "1 regression(s)" in out and f"{FIT} ratio_to_faiss" in out


def test_ratio_change_within_the_threshold_passes(tmp_path, capsys):
    assert run(tmp_path, [base()], [base(ratio_to_faiss=0.8 * 1.05)]) == 0
    assert "REGRESSED" not in capsys.readouterr().out


def test_threshold_option(tmp_path):
    worse = [base(ratio_to_faiss=0.8 * 1.15)]
    assert run(tmp_path, [base()], worse, "--threshold", "0.2") == 0
    assert run(tmp_path, [base()], [base(ratio_to_faiss=0.8 * 1.04)], "--threshold", "0.03") == 1


def test_improvements_never_fail(tmp_path):
    better = base(median=0.5, ratio_to_faiss=0.2, ratio_to_sklearn=0.1,
                  inertia_ratio_to_faiss=0.9)
    assert run(tmp_path, [base()], [better]) == 0


def test_our_median_time_regression_fails_unless_ratios_only(tmp_path, capsys):
    assert run(tmp_path, [base(median=2.0)], [base(median=2.5)]) == 1
    lines, _ = lines_of(capsys, "median s")
    assert "REGRESSED" in lines[0] and "+25.0%" in lines[0]
    assert run(tmp_path, [base(median=2.0)], [base(median=2.5)], "--ratios-only") == 0


def test_a_peers_time_is_printed_not_judged(tmp_path, capsys):
    assert run(tmp_path, [bench(PEER, 20.0)], [bench(PEER, 30.0)]) == 0
    lines, _ = lines_of(capsys, "median s")
    assert "+50.0%" in lines[0] and "not judged" in lines[0]


def test_peers_option_adds_peer_benchmarks(tmp_path):
    name = "test_streaming_peers.py::test_river_stream"
    assert run(tmp_path, [bench(name, 1.0)], [bench(name, 2.0)]) == 1
    assert run(tmp_path, [bench(name, 1.0)], [bench(name, 2.0)], "--peers", "test_river_") == 0


def test_quality_ratios_have_their_own_threshold(tmp_path):
    assert run(tmp_path, [base()], [base(inertia_ratio_to_faiss=0.99 * 1.02)]) == 1
    assert run(tmp_path, [base()], [base(inertia_ratio_to_faiss=0.99 * 1.005)]) == 0
    assert run(tmp_path, [base()], [base(inertia_ratio_to_faiss=0.99 * 1.02)],
               "--quality-threshold", "0.05") == 0


def test_a_same_flag_turning_false_fails(tmp_path, capsys):
    assert run(tmp_path, [base()], [base(same_rows=False)]) == 1
    lines, _ = lines_of(capsys, "same_rows")
    assert "REGRESSED" in lines[0]
    assert run(tmp_path, [base(same_rows=False)], [base(same_rows=True)]) == 0


def test_benchmarks_in_one_run_only_are_listed_not_judged(tmp_path, capsys):
    other = bench("benchmarks/test_fits.py::test_fit_lowdim", 1.0, ratio_to_sklearn=9.0)
    assert run(tmp_path, [base(), other], [base()]) == 0
    out = capsys.readouterr().out
    assert "only in OLD: test_fits.py::test_fit_lowdim" in out
    assert run(tmp_path, [base()], [base(), other]) == 0
    assert "only in NEW: test_fits.py::test_fit_lowdim" in capsys.readouterr().out


def test_a_ratio_missing_from_one_run_is_shown_not_judged(tmp_path, capsys):
    new = base()
    del new["extra_info"]["ratio_to_sklearn"]
    assert run(tmp_path, [base()], [new]) == 0
    lines, _ = lines_of(capsys, "ratio_to_sklearn")
    assert "missing" in lines[0] and "REGRESSED" not in lines[0]


def test_runs_from_other_folders_match(tmp_path):
    """The folders in fullname depend on where pytest ran; the file and test name decide."""
    moved = base(median=3.0)
    moved["fullname"] = "/somewhere/else/benchmarks/" + FIT
    assert run(tmp_path, [base()], [moved]) == 1


@pytest.mark.parametrize("key,kind", [
    ("ratio_to_faiss", "time"), ("ratio_to_gemm", "time"),
    ("inertia_ratio_to_faiss", "quality"), ("inertia_ratio_to_sklearn", "quality"),
    ("loss_ratio", None), ("time_ratio_dynamic_over_static", None),
    ("iteration_to_gemm", None), ("faiss_seconds", None),
])
def test_ratio_kind(key, kind):
    assert compare.ratio_kind(key) == kind


def test_unreadable_input_exits_2(tmp_path, capsys):
    good = write(tmp_path / "good.json", base())
    (tmp_path / "bad.json").write_text("{not json")
    assert compare.main([good, str(tmp_path / "bad.json")]) == 2
    assert compare.main([good, str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
