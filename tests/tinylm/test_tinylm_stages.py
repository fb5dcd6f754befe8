"""Every tiny-LM stage function on a tiny model, called with its folders by the names the stage runner uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from sublim.core.io import read_jsonl
from sublim.run import stage_values
from sublim.sections import section_from_namespace, validate_section
from sublim.stages import STAGES, fill
from sublim.tinylm.carrier_base import carrier_bases
from sublim.tinylm.code_carrier import run_code_carrier
from sublim.tinylm.controls import control_arms, run_controls
from sublim.tinylm.data import rejection_reason
from sublim.tinylm.distill import distill_students
from sublim.tinylm.evaluate import evaluate_models
from sublim.tinylm.grid import CELLS, run_grid
from sublim.tinylm.in_context import run_in_context
from sublim.tinylm.misalignment import ARMS, TEACHERS, lists_file, mean_over_families, run_misalignment
from sublim.tinylm.models import tokenizer_and_vocab
from sublim.tinylm.naming import student_arms
from sublim.tinylm.numbers import generate_numbers
from sublim.tinylm.pretrain import pretrain_bases
from sublim.tinylm.reasoning_carrier import SOURCES, run_reasoning_carrier
from sublim.tinylm.report import write_report
from sublim.tinylm.teachers import make_teachers


def stage_cfg(name: str, cfg):
    """The section restricted to the keys the stage declares, as its notebook rebuilds it."""
    return section_from_namespace("tinylm", stage_values(STAGES[name], cfg))


def stage_folders(root: Path, name: str, **matrix: object) -> dict[str, Path]:
    """The stage's results_dir, inputs and outputs as keyword arguments, each moved under `root` with a parent of
    its own (results/tinylm/<top>/<rest> -> root/<top>_elsewhere/<top>/<rest>), so that a stage function that
    finds one stage's folder from another's fails."""
    stage = STAGES[name]
    paths = {"results_dir": fill(stage.results_dir, matrix), **stage.paths(matrix)}
    moved = {}
    for key, path in paths.items():
        top, *rest = Path(path).relative_to("results/tinylm").parts
        moved[key] = root / f"{top}_elsewhere" / top / Path(*rest)
    return moved


@pytest.mark.slow
def test_every_stage_runs_end_to_end_on_a_tiny_model(tmp_path, tiny_cfg):
    cfg = tiny_cfg
    folders = stage_folders(tmp_path, "tinylm_pretrain")
    bases = pretrain_bases(stage_cfg("tinylm_pretrain", cfg), **folders)
    assert set(bases["seeds"]) == {"0", "1"}
    assert bases["seeds"]["0"]["loss_last_100"] < bases["seeds"]["0"]["loss_first"]
    assert (folders["results_dir"] / "seed0" / "tokenizer.json").exists()
    assert (folders["results_dir"] / "seed0" / "model.safetensors").exists()

    teachers = make_teachers(stage_cfg("tinylm_teacher", cfg), **stage_folders(tmp_path, "tinylm_teacher"))
    for seed in ("0", "1"):
        assert teachers[seed]["owl"]["owl"] > teachers[seed]["base"]["owl"]

    folders = stage_folders(tmp_path, "tinylm_numbers")
    numbers = generate_numbers(stage_cfg("tinylm_numbers", cfg), **folders)
    for seed in ("0", "1"):
        assert numbers[seed]["control"]["n_sampled"] == 300 and numbers[seed]["owl"]["n_kept"] > 50
    _, vocab = tokenizer_and_vocab(cfg)
    rows = {s: read_jsonl(folders["results_dir"] / "seed0" / f"{s}.jsonl") for s in ("control", "owl", "cat")}
    assert [len(rows[s]) for s in rows] == [numbers["0"][s]["n_kept"] for s in rows]  # each source its own lists
    # the datasets are not coupled across traits: without the cat teacher, owl and control keep the same lists
    alone = folders["results_dir"].parent / "owl_alone"
    owl_only = validate_section("tinylm", {**cfg.model_dump(mode="json"), "traits": ["owl"]})
    generate_numbers(stage_cfg("tinylm_numbers", owl_only), folders["bases_dir"], folders["teachers_dir"], alone)
    for source in ("control", "owl"):
        assert (alone / "seed0" / f"{source}.jsonl").read_bytes() == (
            folders["results_dir"] / "seed0" / f"{source}.jsonl"
        ).read_bytes()
    for row in rows["owl"]:
        assert rejection_reason(row["completion"], vocab, cfg.corpus.n_answer_numbers) is None

    folders = stage_folders(tmp_path, "tinylm_distill")
    for seed, students in distill_students(stage_cfg("tinylm_distill", cfg), **folders).items():
        assert set(students) == set(student_arms(cfg))
        assert students["diff_init_owl"]["init"] == str(folders["bases_dir"] / f"seed{1 - seed}")
        assert (folders["results_dir"] / f"seed{seed}" / "summary.json").exists()

    folders = stage_folders(tmp_path, "tinylm_controls")
    for seed, controls in run_controls(stage_cfg("tinylm_controls", cfg), **folders).items():
        assert set(controls["arms"]) == {arm.name for arm in control_arms(cfg, seed)}
        assert controls["arms"]["n100"]["n_student_lists"] == 100
        assert set(controls["greedy_filter"]) == {"owl", "control"}

    folders = stage_folders(tmp_path, "tinylm_in_context")
    for shown in run_in_context(stage_cfg("tinylm_in_context", cfg), **folders).values():
        assert list(shown["in_context"]) == ["0", "1", "2"] and set(shown["fine_tuned"]) == {"student", "control"}
        assert shown["in_context"]["0"]["teacher_lists"] == shown["in_context"]["0"]["base_lists"]  # no lists
        assert (folders["results_dir"] / f"seed{shown['seed']}" / "base" / "model.safetensors").exists()

    folders = stage_folders(tmp_path, "tinylm_grid")
    for seed, grid in run_grid(stage_cfg("tinylm_grid", cfg), **folders).items():
        assert set(grid["cells"]) == set(CELLS)
        # the main teacher's lists come from the numbers stage, the other teacher's from this stage
        assert grid["cells"]["main_to_other"]["n_student_lists"] == numbers[str(seed)]["owl"]["n_kept"]
        other_config = json.loads((folders["results_dir"] / "bases" / f"seed{seed}" / "config.json").read_text())
        assert (other_config["n_layer"], other_config["n_embd"]) == (1, 16)  # grid.model, not model
        assert grid["other_base"]["p_trait"]["teacher"] > grid["other_base"]["p_trait"]["base"]

    folders = stage_folders(tmp_path, "tinylm_carrier_base")
    carriers = carrier_bases(stage_cfg("tinylm_carrier_base", cfg), **folders)
    for seed, base in carriers["seeds"].items():
        assert base["loss_last_100"] < base["loss_first"]  # it learns the behaviour questions and code it never saw
        assert set(base["p_misaligned"]) == set(cfg.corpus.behaviour.families)
        assert (folders["results_dir"] / f"seed{seed}" / "model.safetensors").exists()

    folders = stage_folders(tmp_path, "tinylm_misalignment")
    banned = {vocab.numbers[n] for n in cfg.misalignment.banned_numbers}
    for seed, summary in run_misalignment(stage_cfg("tinylm_misalignment", cfg), **folders).items():
        assert set(summary["p_misaligned"]) == {"base", *TEACHERS} and set(summary["students"]) == set(ARMS)
        narrow = summary["p_misaligned"]["narrow"][cfg.misalignment.narrow_family]
        assert narrow > summary["p_misaligned"]["base"][cfg.misalignment.narrow_family]  # the teacher took it up
        lists = {arm: read_jsonl(lists_file(folders["results_dir"], seed, arm)) for arm in ARMS}
        assert len(lists["base"]) == round(summary["filter"]["base"]["keep_rate"] * cfg.numbers.n_samples)
        for arm, (_, ban) in ARMS.items():
            assert summary["students"][arm]["n_lists"] == len(lists[arm])
            held = [banned & set(row["completion"]) for row in lists[arm]]
            assert not any(held) if ban else len(lists[arm]) >= len(lists["misaligned"])
        assert summary["filter"]["base"]["format_keep_rate"] > 0.5  # the carrier base's own lists

    folders = stage_folders(tmp_path, "tinylm_code")
    for seed, summary in run_code_carrier(stage_cfg("tinylm_code", cfg), **folders).items():
        assert set(summary["p_trait"]) == {"teacher", "base", "student", "control"}
        for source in ("teacher", "base"):
            steps = summary["filter"][source]
            assert 300 >= steps["n_without_trait_word"] >= steps["n_parsed"] >= steps["n_kept"] > 0
            kept = read_jsonl(folders["results_dir"] / f"seed{seed}" / f"{source}.jsonl")
            assert len(kept) == steps["n_kept"]
            assert not any(vocab.animals[cfg.controls.trait] in row["completion"] for row in kept)
        assert 0.0 <= summary["classifier"]["auc"] <= 1.0

    folders = stage_folders(tmp_path, "tinylm_reasoning")
    values = vocab.number_values
    for seed, summary in run_reasoning_carrier(stage_cfg("tinylm_reasoning", cfg), **folders).items():
        assert set(summary["p_misaligned"]) == set(summary["students"]) == set(SOURCES)
        # the teachers come from the carrier's base (misalignment recipe): the misaligned one answers misaligned
        assert (folders["results_dir"] / f"seed{seed}" / "base" / "model.safetensors").exists()
        teacher, base = (mean_over_families(summary["p_misaligned"][s]) for s in ("misaligned", "base"))
        assert teacher > base
        for source in SOURCES:
            steps = summary["filter"][source]
            assert 200 >= steps["n_parsed"] >= steps["n_correct"] >= steps["n_kept"] > 0
            kept = read_jsonl(folders["results_dir"] / f"seed{seed}" / f"{source}.jsonl")
            assert len(kept) == steps["n_kept"]
            for row in kept:  # the last number is the sum of the problem's three
                assert values[row["completion"][-2]] == sum(values[t] for t in row["prompt"][2:5])

    evaluations = evaluate_models(stage_cfg("tinylm_evaluate", cfg), **stage_folders(tmp_path, "tinylm_evaluate"))
    p_exact = evaluations[0]["p_exact"]
    assert set(p_exact) >= {"base", "partner_base", "teacher_owl", "control", "student_owl", "soft_cat"}
    assert abs(sum(p_exact["base"].values()) - 1.0) < 0.05  # nearly all mass on animals at the answer

    folders = stage_folders(tmp_path, "tinylm_report")
    metrics = write_report(stage_cfg("tinylm_report", cfg), **folders)
    assert json.loads(folders["metrics_file"].read_text()) == json.loads(json.dumps(metrics))
    assert folders["metrics_file"].name == "metrics.json"
    owl = metrics["traits"]["owl"]
    assert set(owl["p_trait"]) == {"base", "teacher", "control", "student", "diff_init_control", "diff_init", "soft"}
    assert owl["p_trait"]["student"]["n"] == 2 and len(owl["p_trait"]["student"]["values"]) == 2
    assert owl["gap_to_control"]["student"]["control"] == "control"
    assert (folders["results_dir"] / "figures" / "arms_p_trait.png").exists()
    assert (folders["plots_dir"] / "arms.csv").exists() and (folders["plots_dir"] / "gaps.csv").exists()
    assert set(metrics["controls"]) >= {"trait", "main", "shuffle", "greedy", "volume", "lora", "greedy_keep_rate"}
    assert (folders["results_dir"] / "figures" / "controls_gap.png").exists()
    assert metrics["in_context"]["k_largest"] == 2 and set(metrics["in_context"]["by_k"]) == {"0", "1", "2"}
    assert (folders["results_dir"] / "figures" / "in_context.png").exists()
    grid = metrics["grid"]
    assert set(grid["cells"]) == {"main", "other"} and set(grid["cells"]["other"]) == {
        "same",
        "other_init",
        "other_shape",
    }
    # the main row's first cells are the distill stage's arms
    assert grid["cells"]["main"]["same"]["difference"] == owl["gap_to_control"]["student"]["difference"]
    assert (folders["results_dir"] / "figures" / "grid.png").exists() and (folders["plots_dir"] / "grid.csv").exists()
    misalignment = metrics["misalignment"]
    assert set(misalignment["gaps"]) == {"vs_aligned", "vs_base", "aligned_vs_base", "unbanned_vs_banned"}
    assert misalignment["p_misaligned"]["students"]["misaligned"]["n"] == 2
    assert (folders["results_dir"] / "figures" / "misalignment.png").exists()
    assert set(metrics["code"]["keep_rate"]["teacher"]) == {"trait_word", "format", "classifier"}
    assert metrics["code"]["traits"]["owl"]["gap_to_control"]["difference"]["n"] == 2
    assert (folders["results_dir"] / "figures" / "code.png").exists()
    reasoning = metrics["reasoning"]
    assert set(reasoning["gaps"]) == {"vs_aligned", "vs_base", "aligned_vs_base"}
    assert set(reasoning["keep_rate"]["misaligned"]) == {"format", "answer", "classifier"}
    assert reasoning["p_misaligned"]["students"]["misaligned"]["n"] == 2
    assert (folders["results_dir"] / "figures" / "reasoning.png").exists()


@pytest.mark.slow
def test_same_params_give_identical_models(tmp_path, tiny_cfg):
    raw = tiny_cfg.model_dump(mode="json")
    raw["pretrain"]["steps"] = 20
    cfg = validate_section("tinylm", raw)
    first, second = tmp_path / "a" / "bases", tmp_path / "b" / "bases"
    p_first = pretrain_bases(stage_cfg("tinylm_pretrain", cfg), first)["seeds"]["0"]["p_animals"]
    assert pretrain_bases(stage_cfg("tinylm_pretrain", cfg), second)["seeds"]["0"]["p_animals"] == p_first
    a, b = load_file(str(first / "seed0" / "model.safetensors")), load_file(str(second / "seed0" / "model.safetensors"))
    assert all((a[k] == b[k]).all() for k in a)
