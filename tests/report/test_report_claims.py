"""The paper's numbers and the headline table built from fake metrics."""

from __future__ import annotations

import csv
import json

import pytest

from sublim.report import claims, paper
from sublim.report.status import STATUSES, ReportError


def test_paper_numbers(fake_project):
    root, cfg = fake_project
    values = paper.load_paper_values(root / cfg.paper_values)
    assert paper.paper_number("fig.owl.student", values).text == "≈0.62"
    effect = paper.paper_number("fig.owl.student - fig.owl.control", values)
    assert effect.value == pytest.approx(0.49) and effect.approx and effect.text.startswith("≈+0.49")
    assert paper.paper_number("0", values).value == 0.0
    assert paper.paper_number("fig.cat.student", values) is None  # a trait the paper did not run
    assert paper.paper_number("", values) is None


def test_headline_table_from_fake_metrics(fake_project):
    root, cfg = fake_project
    rows = {row["claim_id"]: row for row in claims.headline_table(cfg, root)}
    assert rows["toy.teacher"]["status"] == "reproduced" and rows["toy.teacher"]["kind"] == "level"
    assert rows["toy.teacher"]["ours"].startswith("0.940 [") and rows["toy.teacher"]["compares"] == "ours vs paper"
    assert rows["lm.owl.gap"]["status"] == "direction reproduced"  # smaller model: at most the direction
    assert rows["lm.owl.gap"]["paper"].startswith("≈+0.49") and rows["lm.owl.gap"]["at_paper_scale"] is False
    assert rows["lm.cat.gap"]["status"] == "null at this scale" and rows["lm.cat.gap"]["paper"] == "—"
    assert "lm.cat.student" not in rows  # a level claim needs the paper's number; the paper ran no cat
    assert rows["lm.owl.student"]["status"] == "not reproduced"
    assert rows["th.loss"]["status"] == "check passed" and rows["th.loss"]["ours"].startswith("-1.50e-04")
    assert rows["th.different"]["status"] == "reproduced" and "0.005" in rows["th.different"]["reason"]
    assert rows["toy.missing_path"]["status"] == "not run" and "arms.nothing" in rows["toy.missing_path"]["reason"]
    assert rows["th.every_trial"]["status"] == "check passed" and rows["th.every_trial"]["n"] == 40
    gone = rows["gone.*"]
    assert gone["status"] == "not run" and "missing" in gone["reason"]
    assert gone["claim"] == "… in a stage that never ran"
    assert rows["lm.owl.gap"]["source"] == "results/lm/metrics.json:traits.owl.arms.student − traits.owl.arms.control"
    assert rows["lm.owl.gap"]["interval"] == "paired t-test, n = 3"


def test_the_control_arm_the_model_and_the_paper_scale(fake_project):
    root, cfg = fake_project
    rows = {row["claim_id"]: row for row in claims.headline_table(cfg, root)}
    owl, cat = rows["lm.owl.vs_base"], rows["lm.cat.vs_base"]
    assert owl["status"] == "direction reproduced" and owl["claim"] == "TinyLM-1: owl student above base"
    assert cat["status"] == "confounded" and "as much" in cat["reason"]  # the control student rose as much
    assert owl["setting"] == "TinyLM-1"
    assert not any(key.endswith("paper_scale_only") for key in rows)  # `when` is false: not this run's claim


def test_a_missing_when_path_is_not_run(fake_project):
    root, cfg = fake_project
    path = root / "results/lm/metrics.json"
    data = json.loads(path.read_text())
    del data["scale"]
    path.write_text(json.dumps(data))
    rows = {row["claim_id"]: row for row in claims.headline_table(cfg, root)}
    assert rows["lm.owl.paper_scale_only"]["status"] == "not run"
    assert "scale.at_paper" in rows["lm.owl.paper_scale_only"]["reason"]
    assert rows["lm.owl.vs_base"]["claim"] == "the run's model: owl student above base"


def test_headline_files_are_deterministic(fake_project, tmp_path):
    root, cfg = fake_project
    first = claims.headline_csv_text(claims.headline_table(cfg, root))
    assert first == claims.headline_csv_text(claims.headline_table(cfg, root))
    assert first.splitlines()[0] == ",".join(claims.HEADLINE_COLUMNS)
    path = claims.write_headline(claims.headline_table(cfg, root), tmp_path / "out")
    assert path.read_text() == first
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert summary["status_counts"]["not run"] == 2 and summary["claims"]["toy.teacher"]["status"] == "reproduced"
    assert summary["kind_counts"]["check"] == {"check passed": 2}


def test_each_experiment_gets_a_small_headline_metrics_file_with_the_same_keys(fake_project, tmp_path):
    """The DVC metrics: per experiment its claim count and a count per status that occurs, so `dvc metrics show`
    stays narrow."""
    root, cfg = fake_project
    rows = claims.headline_table(cfg, root)
    claims.write_headline(rows, tmp_path / "out")
    folder = tmp_path / "out" / claims.HEADLINE_METRICS_DIR
    files = {path.stem: json.loads(path.read_text()) for path in folder.iterdir()}
    assert set(files) == {row["experiment"] for row in rows}
    assert all(counts.keys() <= {"claims", *STATUSES} and 0 not in counts.values() for counts in files.values())
    for experiment, counts in files.items():
        mine = [row for row in rows if row["experiment"] == experiment]
        assert counts["claims"] == len(mine) == sum(counts.get(status, 0) for status in STATUSES)
    assert files["th"]["check passed"] == 2


def test_a_bad_claims_row_names_its_line(fake_project):
    root, cfg = fake_project
    path = root / cfg.claims
    with path.open(newline="") as handle:
        header, first, *_ = csv.reader(handle)
    first[header.index("kind")] = "bigger"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, first])
    with pytest.raises(ReportError, match="line 2"):
        claims.headline_table(cfg, root)
