"""The DVC plots are said once (sublim.plots): every CSV with its x, y, template and axis titles, written into
dvc.yaml by the wiring, and drawn offline with matplotlib."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sublim import plots, wiring
from sublim.plots import PLOTS, Plot


def test_every_csv_plot_has_x_y_a_template_and_axis_titles():
    data = [plot for plot in PLOTS if plot.is_data]
    assert len(data) >= 10
    for plot in data:
        assert plot.template in plots.TEMPLATES and plot.x and plot.ys and plot.x_label and plot.y_label, plot
    with pytest.raises(ValueError, match="give x, y"):
        Plot("a.csv", "linear", "x")
    with pytest.raises(ValueError, match="one y"):
        Plot("a.csv", "bar_horizontal", "value", ("name", "other"), "t", "x", "y")
    with pytest.raises(ValueError, match="takes no template"):
        Plot("figures", "linear")


def test_each_plots_columns_are_in_the_csv_its_stage_wrote(repo_root):
    checked = 0
    for plot in (p for p in PLOTS if p.is_data and (repo_root / p.path).exists()):
        with (repo_root / plot.path).open(newline="") as handle:
            header = next(csv.reader(handle))
        assert {plot.x, *plot.ys} <= set(header), (plot.path, header)
        checked += 1
    assert checked >= 8  # the plot data is kept in git


def test_the_wiring_writes_the_plots_and_keeps_metrics_to_the_headline_files(repo_root, monkeypatch, tmp_path):
    monkeypatch.chdir(repo_root)
    text = (repo_root / "dvc.yaml").read_text()
    dvc_file = tmp_path / "dvc.yaml"
    dvc_file.write_text(text[: text.index("\n# Written by `python -m sublim.wiring`")])  # no plots, nor their comment
    assert "dvc.yaml plots differ from sublim.plots.PLOTS: run `python -m sublim.wiring`" in wiring.check(dvc_file)
    wiring.rewrite(dvc_file)
    assert dvc_file.read_text() == text and wiring.check(dvc_file) == []
    detail = "      - results/mnist/metrics.json:\n"  # an out, followed by the stage's other outs
    dvc_file.write_text(text.replace(detail, "    metrics:\n" + detail, 1))
    assert any(
        p.startswith("mnist: metrics results/mnist/metrics.json: only results/report/headline")
        for p in wiring.check(dvc_file)
    )
    dvc_file.write_text(text.replace(detail, "    plots:\n" + detail, 1))
    assert any(p.startswith("mnist: declares plots; plots are top-level") for p in wiring.check(dvc_file))
    dvc_file.write_text(text.replace("  - results/report/figures\n", "  - results/elsewhere.csv\n"))
    assert any(p.startswith("dvc.yaml plots differ") for p in wiring.check(dvc_file))


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_offline_view_draws_each_csv_and_skips_a_missing_one(tmp_path, capsys):
    sweep = Plot("r/sweep.csv", "linear", "sigma", "acc", "a sweep", "sigma", "accuracy")
    arms = Plot("r/arms.csv", "bar_horizontal", "mean", "label", "arms", "P(trait)", "arm")
    points = Plot("r/points.csv", "scatter", "epsilon", ("a", "b"), "points", "epsilon", "value")
    missing = Plot("r/never.csv", "linear", "x", "y", "never written", "x", "y")
    write_csv(
        tmp_path / sweep.path,
        [{"sigma": s, "acc": 0.5 - s, "acc_ci_low": 0.4 - s, "acc_ci_high": 0.6 - s} for s in (0.0, 0.1, 0.3)],
    )
    write_csv(
        tmp_path / arms.path,
        [
            {"label": "base", "mean": 0.1, "ci_low": "", "ci_high": ""},
            {"label": "student", "mean": 0.2, "ci_low": 0.15, "ci_high": 0.25},
        ],
    )
    write_csv(tmp_path / points.path, [{"epsilon": e, "a": e / 10, "b": 1 - e / 10} for e in (0.001, 0.1, 10.0)])
    (tmp_path / "r/figures").mkdir()
    images = Plot("r/figures")
    out = tmp_path / "view"
    written = plots.render(out, tmp_path, (sweep, arms, points, missing, images))
    assert [p.name for p in written] == ["r__sweep.png", "r__arms.png", "r__points.png"]
    assert "r/never.csv not written yet" in capsys.readouterr().out
    page = (out / "index.html").read_text()
    assert all(p.name in page for p in written) and "https://" not in page  # nothing to fetch
    first = [p.read_bytes() for p in written]
    plots.render(out, tmp_path, (sweep, arms, points))
    assert [p.read_bytes() for p in written] == first  # the same CSVs, the same bytes
