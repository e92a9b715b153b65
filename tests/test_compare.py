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
    assert r.loss_history == dyn.history_["loss"]
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
    # Plain `dynkm` is `dynkm compare` with every default: digits into ./dynkm-out.
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = tmp_path / "dynkm-out"
    text = capsys.readouterr()
    assert "loss (SSE)" in text.out and "digits" in text.out
    assert text.err == ""  # captured stderr is no terminal: no progress bar
    for name in ("report.json", "report.md", "loss_history.png", "time_history.png",
                 "loss_bars.png", "time_bars.png"):
        assert (out / name).stat().st_size > 0
    report = json.loads((out / "report.json").read_text())
    assert report["data"].startswith("digits") and report["n_clusters"] >= 1


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
