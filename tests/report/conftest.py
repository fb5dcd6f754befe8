"""A fake project for the report tests: the paper's values, the claims and figures wiring, and metrics files.

The wiring is written as the CSV text of the real files (lib/sublim/data); a backslash at the end of a line
continues the row on the next one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sublim.core.stats import compare, estimate
from sublim.report.config import ReportParams

PAPER_VALUES = """\
value_id,figure,quantity,setting,value,approx,paper_text
fig.owl.student,Fig. 3,q,paper model,0.62,true,≈0.62
fig.owl.control,Fig. 3,q,paper model,0.13,true,≈0.13
fig.teacher,Fig. 10,q,paper model,0.94,true,≈0.94
fig.loss,Thm. 1,q,paper model,,false,negative
"""
CLAIMS = """\
claim_id,experiment,figure,kind,claim,compares,direction,paper_value,metrics,ours,control,paired,confound,margin,\
at_paper_scale,when,model,tolerance,setting,units,readme
toy.teacher,toy,Fig. 10,level,teacher accuracy,ours vs paper,,fig.teacher,results/toy/metrics.json,arms.teacher,\
,,,,true,,,,toy MLP,,
lm.{0}.gap,lm,Fig. 3,effect,{0} student above control,student − control,+,fig.{0}.student - fig.{0}.control,\
results/lm/metrics.json,traits.*.arms.student,traits.{0}.arms.control,true,,,false,,,,tiny {0},,
lm.{0}.student,lm,Fig. 3,level,{0} student level,ours vs paper,,fig.{0}.student,\
results/lm/metrics.json,traits.*.arms.student,,,,,false,,,,tiny {0},,
lm.{0}.vs_base,lm,Fig. 3,effect,{model}: {0} student above base,student − base,+,fig.{0}.student - fig.{0}.control,\
results/lm/metrics.json,traits.*.arms.student,traits.{0}.base,,traits.{0}.student_vs_control,,scale.at_paper,,\
scale.model,,{model},,
lm.{0}.paper_scale_only,lm,Fig. 17,effect,{0} at the paper's scale,student − control,+,\
fig.{0}.student - fig.{0}.control,results/lm/metrics.json,traits.*.arms.student,traits.{0}.arms.control,true,,,\
true,scale.at_paper,,,tiny {0},,
th.loss,th,Thm. 1,check,loss goes down,sign of the change,-,fig.loss,results/th/metrics.json,loss_change,,,,,true,,,,\
one step,,
th.different,th,App. C,null,no signal at another init,trait part vs margin,,,results/th/metrics.json,trait_part,,,,\
0.1*shared,true,,,,one step,,
toy.missing_path,toy,Fig. 10,level,an arm the toy does not write,ours vs paper,,fig.teacher,\
results/toy/metrics.json,arms.nothing,,,,,true,,,,toy MLP,,
gone.{0},gone,Fig. 3,effect,{0} in a stage that never ran,student − control,+,fig.{0}.student,\
results/gone/metrics.json,traits.*.student,,,,,false,,,,nothing {0},,
th.every_trial,th,Thm. 1,check,every trial,share of trials vs the proof,,1,results/th/metrics.json,fraction,,,,,\
true,,,0,one step,n_trials,false
"""
FIGURES = """\
figure_id,title,panel,label,color_key,metrics,ours,paper_value,ylabel
fig3_lm,toy Fig. 3,{0},student,student,results/lm/metrics.json,traits.*.arms.student,fig.{0}.student,P(trait)
fig3_gone,never ran,,x,x,results/gone/metrics.json,x,,y
"""


def write_metrics(root: Path) -> None:
    def dump(relative: str, data: dict) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))

    dump("results/toy/metrics.json", {"arms": {"teacher": estimate([0.93, 0.94, 0.95, 0.94])}})
    owl = {"student": estimate([0.20, 0.22, 0.19]), "control": estimate([0.08, 0.09, 0.08])}
    cat = {"student": estimate([0.10, 0.12, 0.08]), "control": estimate([0.10, 0.09, 0.11])}
    traits = {
        # owl: the student beats its control; cat: the control student rose as much as the cat student
        "owl": {"arms": owl, "base": 0.05, "student_vs_control": compare([0.20, 0.22, 0.19], [0.08, 0.09, 0.08])},
        "cat": {"arms": cat, "base": 0.02, "student_vs_control": compare([0.10, 0.12, 0.08], [0.10, 0.09, 0.11])},
    }
    dump("results/lm/metrics.json", {"traits": traits, "scale": {"at_paper": False, "model": "TinyLM-1"}})
    th = {
        "loss_change": estimate([-1e-4, -2e-4, -1.5e-4]),
        "fraction": 1.0,
        "n_trials": 40,
        "trait_part": estimate([1e-3, -1e-3, 5e-4, -5e-4]),
        "shared": estimate([0.05, 0.06, 0.04]),
    }
    dump("results/th/metrics.json", th)


@pytest.fixture
def fake_project(tmp_path) -> tuple[Path, ReportParams]:
    """(root, section): the wiring under root/data, metrics of three experiments under root/results."""
    data = tmp_path / "data"
    data.mkdir()
    for name, text in (("values.csv", PAPER_VALUES), ("claims.csv", CLAIMS), ("figures.csv", FIGURES)):
        (data / name).write_text(text, encoding="utf-8")
    write_metrics(tmp_path)
    cfg = ReportParams(
        paper_values="data/values.csv",
        claims="data/claims.csv",
        figures="data/figures.csv",
        tolerance=0.05,
        records_dir="results/records",
        decimals=3,
    )
    return tmp_path, cfg
