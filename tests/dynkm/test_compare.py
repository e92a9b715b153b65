"""dynkm.compare, dynkm.plot, dynkm.metrics and the dynkm command."""

import argparse
import io
import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from dynkm import DynamicKMeans
from dynkm.__main__ import _Formatter, _parser, _progress, main
from dynkm.compare import Comparison, compare
from dynkm.metrics import center_distance, purity
from dynkm.plot import plot_clusters_2d, plot_comparison

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(1200, n_features=6, centers=8, random_state=0)
    return X


def _sse(X, C):
    return float(((X[:, None, :] - C[None]) ** 2).sum(-1).min(1).sum())


@pytest.mark.parametrize("static", ["dynkm", "sklearn", "faiss"])
def test_compare_reports_what_it_measured(blobs, static):
    if static == "faiss":
        pytest.importorskip("faiss")
    calls = []
    r = compare(blobs, batch_size=100, min_size=20, max_size=60, static=static,
                on_batch=lambda done, total: calls.append((done, total)))
    dyn = DynamicKMeans(min_size=20, max_size=60, batch_size=100, random_state=0).fit(blobs)
    assert calls == [(i, 12) for i in range(1, 13)]
    assert r.n_clusters == dyn.n_clusters_
    np.testing.assert_allclose(r.dynamic_loss, _sse(blobs, dyn.cluster_centers_), rtol=1e-9)
    assert r.loss_history == dyn.history_["loss"].tolist()
    assert len(r.seconds_history) == len(r.n_clusters_history) == 12
    assert np.all(np.diff(r.seconds_history) >= 0)
    assert r.static_loss > 0 and r.static_method == static
    # The static model is a k-means of the same k: no worse than 10% above the stream.
    assert r.static_loss <= 1.1 * r.dynamic_loss


def test_comparison_save_round_trip(blobs, tmp_path):
    r = compare(blobs, batch_size=200, min_size=20, max_size=60)
    json_path, md_path = r.save(tmp_path / "out")
    again = Comparison(**json.loads(json_path.read_text()))
    assert again == r
    md = md_path.read_text()
    assert "| loss (SSE) |" in md and str(r.n_clusters) in md


def test_plots_write_pngs(blobs, tmp_path):
    r = compare(blobs, batch_size=200, min_size=20, max_size=60)
    paths = plot_comparison(r, tmp_path)
    assert sorted(p.name for p in paths) == ["loss_bars.png", "loss_history.png",
                                             "time_bars.png", "time_history.png"]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == PNG and len(data) > 5000
    X2 = blobs[:, :2]
    p = plot_clusters_2d(X2, np.arange(len(X2)) % 3, X2[:3], tmp_path / "c.png")
    assert p.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="2-D"):
        plot_clusters_2d(blobs, np.zeros(len(blobs)), blobs[:2], tmp_path / "bad.png")


def test_center_distance_and_purity_by_hand():
    a = np.array([[0.0, 0.0], [10.0, 0.0]])
    b = np.array([[0.0, 3.0], [10.0, 4.0], [100.0, 100.0]])
    assert center_distance(a, b) == pytest.approx((3.0 + 4.0) / 2)
    assert center_distance(b[:2], b) == 0.0
    y = np.array([0, 0, 1, 1, 1, 2])
    clusters = np.array([5, 5, 5, 7, 7, 7])  # {0,0,1} -> 2 right, {1,1,2} -> 2 right
    assert purity(y, clusters) == pytest.approx(4 / 6)
    assert purity(y, y) == 1.0
    with pytest.raises(ValueError, match="one length"):
        purity(y, clusters[:3])


def test_compare_rejects_unknown_static(blobs):
    with pytest.raises(ValueError, match="static"):
        compare(blobs, static="nope")


def test_command_compare_default_and_files(tmp_path, capsys, monkeypatch):
    # Plain `dynkm` is `dynkm compare` with every default: the built-in stream into
    # ./dynkm-out (one thread only to keep the test short on a busy machine: results do
    # not depend on the thread count).
    monkeypatch.chdir(tmp_path)
    assert main(["--n-threads", "1"]) == 0
    out = tmp_path / "dynkm-out"
    text = capsys.readouterr()
    assert "loss (SSE)" in text.out and "arriving clusters (300000 x 32" in text.out
    assert "n_init 1 (scikit-learn's 'auto' rule for k-means++)" in text.out
    assert text.err == ""  # captured stderr is no terminal: no progress display
    assert "\r" not in text.out
    for name in ("report.json", "report.md", "loss_history.png", "time_history.png",
                 "loss_bars.png", "time_bars.png"):
        assert (out / name).stat().st_size > 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"].startswith("arriving clusters")
    assert (report["n_samples"], report["n_features"]) == (300000, 32)
    assert (report["batch_size"], report["min_size"], report["max_size"]) == (10000, 500, 8000)
    assert len(report["batch_ends"]) == 30 and report["n_clusters"] >= 2
    # The clusters arrive over time: the dynamic model's k grows along the stream.
    assert report["n_clusters_history"][0] < report["n_clusters_history"][-1]
    assert report["static_n_init"] == 1 and report["static_init"] == "k-means++"


def test_command_compare_npy_file(tmp_path, capsys, blobs):
    path = tmp_path / "x.npy"
    np.save(path, blobs.astype(np.float32))
    assert main(["compare", "--data", str(path), "--out", str(tmp_path / "o"), "--no-plots",
                 "--static", "sklearn", "--batch-size", "300"]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["n_samples"] == len(blobs) and report["static_method"] == "sklearn"
    assert not (tmp_path / "o" / "loss_history.png").exists()
    capsys.readouterr()
    assert main(["compare", "--data", str(tmp_path / "missing.npy")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dynkm: error: --data") and "missing.npy" in err
    assert err.count("\n") == 1


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    assert _progress("x", io.StringIO()) is None  # a log file or pipe: no bar
    stream = _Terminal()
    bar = _progress("dynamic", stream)
    for done in range(1, 5):
        bar(done, 4)
    text = stream.getvalue()
    assert text.startswith("\rdynamic [") and "4/4 batches" in text and text.endswith(" s\n")
    assert text.count("\r") == 4 and text.count("\n") == 1


def test_every_option_has_help_and_a_default():
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(commands.choices) == ["classify", "compare", "kmeans"]
    for name, sub in commands.choices.items():
        formatter = _Formatter(sub.prog)
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = formatter._get_help_string(action)
            assert action.help and "default" in text, (name, action.option_strings, text)


# --------------------------------------------------------------------------- static settings

@pytest.fixture(scope="module")
def twenty_blobs():
    """20 blobs in 8-D streamed in batches of 500: one k-means++ seeding is often unlucky."""
    X, _ = make_blobs(20000, n_features=8, centers=20, random_state=0)
    return X


STREAM_20 = dict(batch_size=500, min_size=500, max_size=1500)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_static_n_init_follows_scikit_learns_auto_rule(blobs, init):
    from sklearn.cluster import KMeans as SKKMeans

    r = compare(blobs, batch_size=200, min_size=20, max_size=60, static_init=init,
                static_max_iter=20)
    sk = SKKMeans(r.n_clusters, init=init, n_init="auto")
    sk._check_params_vs_input(blobs)  # scikit-learn's own resolution of "auto"
    assert r.static_n_init == sk._n_init
    assert r.static_init == init and r.static_n_init_source.startswith("scikit-learn's 'auto'")
    line = r.static_settings()
    for needle in (f"init {init}", f"n_init {sk._n_init}", "max_iter 20", "tol 0.0001",
                   f"k = {r.n_clusters} (the number of clusters DynamicKMeans ended with"):
        assert needle in line, (needle, line)
        assert needle in r.to_markdown() and needle in r.to_text()


@pytest.mark.parametrize("n_init", [1, 3])
def test_static_side_runs_the_stated_settings(blobs, n_init):
    from dynkm import KMeans

    r = compare(blobs, batch_size=200, min_size=20, max_size=60, static_n_init=n_init,
                static_max_iter=7, static_tol=0.0)
    km = KMeans(r.n_clusters, n_init=n_init, max_iter=7, tol=0.0, random_state=0).fit(blobs)
    assert r.static_n_init == n_init and r.static_n_init_source == "given"
    assert r.static_loss == pytest.approx(_sse(blobs, km.cluster_centers_), rel=1e-9)
    assert r.static_iterations == km.n_iter_ == 7 and r.static_converged is False
    assert "stopped at max_iter (7 iterations), not converged" in r.static_settings()


def test_faiss_static_settings():
    pytest.importorskip("faiss")
    X, _ = make_blobs(600, n_features=4, centers=4, random_state=0)
    r = compare(X, batch_size=200, min_size=50, max_size=200, static="faiss",
                static_n_init=2)
    assert (r.static_init, r.static_n_init, r.static_tol, r.static_converged) == (
        "random", 2, None, None)
    assert "tol none: it runs max_iter iterations" in r.static_settings()
    with pytest.raises(ValueError, match="static_init"):
        compare(X, static="faiss", static_init="k-means++")


@pytest.mark.parametrize("bad, error", [("three", ValueError), (0, ValueError),
                                        (2.5, TypeError)])
def test_bad_static_n_init(blobs, bad, error):
    with pytest.raises(error, match="static_n_init"):
        compare(blobs, static_n_init=bad)


def test_restarts_close_an_unlucky_static_gap_and_the_notes_say_why(twenty_blobs):
    one = compare(twenty_blobs, **STREAM_20)
    ten = compare(twenty_blobs, static_n_init=10, **STREAM_20)
    assert one.n_clusters == ten.n_clusters and one.dynamic_loss == ten.dynamic_loss
    # One k-means++ seeding ends in a worse local minimum than the stream; ten do not.
    assert one.loss_ratio < 0.99 and ten.static_loss < one.static_loss
    assert abs(ten.loss_ratio - 1) <= 0.01
    why = one.notes[-1]
    assert why.startswith("The static loss is") and "n_init 1" in why
    assert "--static-n-init" in why
    assert ten.notes[-1].startswith("The losses agree within 1%")
    assert all(note in one.to_markdown() for note in one.notes)


def test_notes_when_the_stream_loses():
    from dynkm.compare import make_arriving_clusters

    X, _ = make_arriving_clusters(30000, 32, 10, random_state=0)
    r = compare(X, batch_size=1000, min_size=100, max_size=4000, static_n_init=10)
    assert r.loss_ratio > 1.01
    assert r.notes[-1].startswith(f"The dynamic loss is {r.loss_ratio - 1:.1%} above")


# --------------------------------------------------------------------------- plot quantities

def test_loss_lines_are_prefix_losses_ending_at_the_reported_ones(blobs):
    from dynkm import KMeans
    from dynkm.plot import loss_lines

    r = compare(blobs, batch_size=250, min_size=20, max_size=60)
    dyn = DynamicKMeans(min_size=20, max_size=60, batch_size=250, random_state=0).fit(blobs)
    static = KMeans(r.n_clusters, n_init=1, max_iter=100, random_state=0).fit(blobs)
    assert r.batch_ends == [250, 500, 750, 1000, 1200]
    lines = loss_lines(r)
    assert sorted(lines) == ["dynamic", "dynamic / static", "static"]
    for b, end in enumerate(r.batch_ends):
        for name, centers in (("dynamic", dyn.cluster_centers_),
                              ("static", static.cluster_centers_)):
            batches, per_row = lines[name]
            assert batches[b] == b + 1
            assert per_row[b] == pytest.approx(_sse(blobs[:end], centers) / end, rel=1e-9)
    n = len(blobs)
    # The last points are the reported losses, exactly.
    assert lines["dynamic"][1][-1] * n == pytest.approx(r.dynamic_loss, rel=1e-15)
    assert lines["static"][1][-1] * n == pytest.approx(r.static_loss, rel=1e-15)
    assert lines["dynamic / static"][1][-1] == pytest.approx(r.loss_ratio, rel=1e-15)
    # The running loss the caption mentions is never below the nearest-center SSE.
    assert r.loss_history[-1] >= r.dynamic_loss * (1 - 1e-12)


# --------------------------------------------------------------------------- default stream

def test_default_stream_shape_and_arrivals():
    from dynkm.__main__ import load_data
    from dynkm.compare import make_arriving_clusters

    X, name = load_data("stream")
    assert X.shape == (300000, 32) and X.dtype == np.float32
    assert name.startswith("arriving clusters (300000 x 32")
    X2, y = make_arriving_clusters(random_state=0)
    np.testing.assert_array_equal(X, X2)
    assert np.bincount(y).tolist() == [6000] * 50
    first = np.array([np.argmax(y == j) for j in range(50)])
    # The clusters appear one after another (the last after most of the stream), and
    # every cluster keeps arriving to the end.
    assert first[0] == 0 and np.all(np.diff(first) > 0) and first[-1] > 0.8 * len(y)
    assert set(y[:100]) == {0}
    assert len(np.unique(y[-3000:])) == 50


def test_compare_defaults_depend_on_the_data():
    from dynkm.__main__ import _check_combinations

    def parsed(*argv):
        args = _parser().parse_args(["compare", *argv])
        _check_combinations(args)
        return args.batch_size, args.min_size, args.max_size

    assert parsed() == (10000, 500, 8000)
    assert parsed("--data", "digits") == (100, 60, 150)
    assert parsed("--data", "x.npy", "--batch-size", "7") == (7, 60, 150)
    assert parsed("--max-size", "9000") == (10000, 500, 9000)


# --------------------------------------------------------------------------- progress

def test_ticker_draws_only_on_a_terminal():
    import time

    from dynkm._cli_progress import _ticker

    log = io.StringIO()
    with _ticker(log, delay=0.0, every=0.01)("static k-means"):
        time.sleep(0.1)
    assert log.getvalue() == ""  # a log file: nothing, no carriage return
    term = _Terminal()
    with _ticker(term, delay=0.0, every=0.01)("static k-means"):
        time.sleep(0.1)
    text = term.getvalue()
    assert text.startswith("\rstatic k-means ... ") and text.endswith(" s done\n")
    assert text.count("\n") == 1
    quick = _Terminal()
    with _ticker(quick, delay=5.0)("fast"):
        pass
    assert quick.getvalue() == ""  # a phase shorter than the delay draws nothing
