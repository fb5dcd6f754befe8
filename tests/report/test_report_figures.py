"""Figures in the paper's layout: one PNG per figure whose metrics exist."""

from __future__ import annotations

from sublim.report import figures


def test_figures_only_for_experiments_with_metrics(fake_project, tmp_path):
    root, cfg = fake_project
    stale = tmp_path / "out" / "figures" / "fig_gone_away.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    paths = figures.plot_figures(cfg, tmp_path / "out", root)
    assert [p.name for p in paths] == ["fig3_lm.png"] and paths[0].stat().st_size > 1000
    assert not stale.exists()  # a figure whose metrics went away does not linger
