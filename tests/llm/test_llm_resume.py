"""Nothing lost, nothing stale: the LLM stages that resume (generate, distill) on a tiny random-init Llama.

A killed run resumes to what an uninterrupted run gives; a second writer on the same folder fails at once; rows
that are not prompts 0..k-1 in order, or were written under other data, model or code, are generated again; a
checkpoint of other data is discarded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from llm_stage_helpers import (
    run_distill,
    run_filter,
    run_generate,
    run_teacher,
    stage_args,
    tiny_cfg,
)
from safetensors.torch import load_file
from transformers import LlamaForCausalLM

from sublim.core.io import FolderLockedError, read_json, read_jsonl, write_jsonl_atomic
from sublim.llm import distill, generate
from sublim.llm.domains.numbers.filter import parse_response

LIB = Path(__file__).resolve().parents[2] / "lib"


def generated(cfg) -> tuple[Path, list[dict]]:
    """The owl teacher's rows of an uninterrupted run: (its folder, the rows)."""
    run_teacher(cfg, "owl")
    run_generate(cfg, "owl")
    out = stage_args("llm_generate", cfg, trait="owl")["results_dir"]
    return out, read_jsonl(out / generate.ROWS_FILE)


def kill_distill_at_step(cfg, results_dir: Path, monkeypatch, step_to_die: int = 2) -> None:
    class Killed(RuntimeError):
        pass

    def dying(trait, seed):
        def on_step(step, loss):
            if step == step_to_die:
                raise Killed

        return on_step

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(distill, "_print_step", dying)
        run_distill(cfg, "owl", 1, results_dir)
    assert (results_dir / "checkpoint" / "checkpoint.json").exists()


def assert_same_student(a: Path, b: Path) -> None:
    wa, wb = (load_file(str(d / "student" / "adapter_model.safetensors")) for d in (a, b))
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], rtol=1e-5, atol=1e-6)


def test_generate_resumes_after_a_kill(in_tmp_repo, tiny_base):
    cfg = tiny_cfg(tiny_base)
    out, full = generated(cfg)
    assert [r["prompt_id"] for r in full] == list(range(6))
    assert all(parse_response(r["completion"]) is not None for r in full if r["finished"])
    # a kill after the first batch, with half a line written
    lines = (out / generate.ROWS_FILE).read_text().splitlines(keepends=True)
    (out / generate.ROWS_FILE).write_text("".join(lines[:5]) + lines[5][:10])
    summary = run_generate(cfg, "owl")
    assert summary["resumed_from"] == 4
    assert read_jsonl(out / generate.ROWS_FILE) == full


def test_a_second_generate_on_the_same_folder_fails_at_once(in_tmp_repo, tiny_base):
    """The runner of a killed `dvc repro` still writes the folder: the rerun must not become a second writer."""
    cfg = tiny_cfg(tiny_base)
    run_teacher(cfg, "owl")
    out = stage_args("llm_generate", cfg, trait="owl")["results_dir"]
    code = (
        "import time\nfrom sublim.core.io import writer_lock\n"
        f"with writer_lock({str(out)!r}):\n    print('ready', flush=True)\n    time.sleep(600)\n"
    )
    orphan = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(LIB)}
    )
    try:
        assert orphan.stdout is not None and orphan.stdout.readline().strip() == "ready"
        with pytest.raises(FolderLockedError, match=f"{out} is being written by process {orphan.pid}"):
            run_generate(cfg, "owl")
        assert not (out / generate.ROWS_FILE).exists()
    finally:
        orphan.send_signal(signal.SIGKILL)
        orphan.wait()
    run_generate(cfg, "owl")  # the dead process's lock is taken over
    assert [r["prompt_id"] for r in read_jsonl(out / generate.ROWS_FILE)] == list(range(6))


def test_generate_never_trusts_rows_that_are_not_the_prompts_in_order(in_tmp_repo, tiny_base, capsys):
    cfg = tiny_cfg(tiny_base)
    out, full = generated(cfg)
    damaged = {
        "two writers appended": full + full[:4],  # 10 rows for 6 prompts
        "duplicates within the count": full[:4] + full[:2],  # 6 rows: looks complete
        "out of order": [full[1], full[0], *full[2:]],
        "another teacher's rows": [{**r, "teacher": "control"} for r in full],
    }
    for damage, rows in damaged.items():
        write_jsonl_atomic(out / generate.ROWS_FILE, rows)
        capsys.readouterr()
        summary = run_generate(cfg, "owl")
        assert "discarding it and starting over" in capsys.readouterr().out, damage
        assert summary["resumed_from"] == 0, damage
        assert read_jsonl(out / generate.ROWS_FILE) == full, damage


def test_generate_starts_over_after_an_edit_of_its_code(in_tmp_repo, tiny_base, monkeypatch, capsys):
    assert {"sublim.llm.generate", "sublim.lm.generate"} <= set(generate.GENERATE_CODE)
    monkeypatch.syspath_prepend(str(in_tmp_repo))
    (in_tmp_repo / "edited_generator.py").write_text("VERSION = 1\n")
    monkeypatch.setattr(generate, "GENERATE_CODE", (*generate.GENERATE_CODE, "edited_generator"))
    cfg = tiny_cfg(tiny_base)
    out, full = generated(cfg)
    (in_tmp_repo / "edited_generator.py").write_text("VERSION = 2\n")
    capsys.readouterr()
    summary = run_generate(cfg, "owl")
    assert "written under different code" in capsys.readouterr().out
    assert summary["resumed_from"] == 0 and summary["new_completion_tokens"] > 0
    assert read_jsonl(out / generate.ROWS_FILE) == full  # the same code behaviour, generated again


def test_generate_starts_over_when_the_teachers_weights_changed(in_tmp_repo, tiny_base, capsys):
    cfg = tiny_cfg(tiny_base)
    out, _ = generated(cfg)
    meta = read_json(out / generate.META_FILE)
    assert {"data", "model", "code"} <= set(meta)
    model = LlamaForCausalLM.from_pretrained(str(tiny_base))
    with torch.no_grad():
        model.model.norm.weight.add_(0.5)
    model.save_pretrained(str(tiny_base))  # the same path, other weights
    capsys.readouterr()
    assert run_generate(cfg, "owl")["resumed_from"] == 0
    assert "written under different model" in capsys.readouterr().out
    assert read_json(out / generate.META_FILE)["model"] != meta["model"]


def test_distill_resumes_after_a_kill(in_tmp_repo, tiny_base, monkeypatch):
    cfg = tiny_cfg(tiny_base)
    generated(cfg)
    run_filter(cfg, "owl")
    straight = run_distill(cfg, "owl", 1, Path("straight"))
    kill_distill_at_step(cfg, Path("resumed"), monkeypatch)
    resumed = run_distill(cfg, "owl", 1, Path("resumed"))
    assert resumed["losses"] == pytest.approx(straight["losses"], rel=1e-5)
    assert_same_student(Path("straight"), Path("resumed"))
    assert not (Path("resumed") / "checkpoint").exists()


def test_distill_starts_over_when_the_filtered_data_changed(in_tmp_repo, tiny_base, monkeypatch, capsys):
    cfg = tiny_cfg(tiny_base)
    generated(cfg)
    run_filter(cfg, "owl")
    kill_distill_at_step(cfg, Path("resumed"), monkeypatch)
    # the filter's output changes (same number of rows) before the rerun
    filtered = stage_args("llm_filter", cfg, trait="owl")["results_dir"] / "numbers_filtered.jsonl"
    rows = read_jsonl(filtered)
    changed = [{**r, "completion": rows[-1 - i]["completion"]} for i, r in enumerate(rows)]
    assert len(rows) > 1 and changed != rows
    write_jsonl_atomic(filtered, changed)
    capsys.readouterr()
    resumed = run_distill(cfg, "owl", 1, Path("resumed"))
    assert "(data differ); discarding it and starting over" in capsys.readouterr().out
    straight = run_distill(cfg, "owl", 1, Path("straight"))
    assert resumed["losses"] == pytest.approx(straight["losses"], rel=1e-5)
    assert_same_student(Path("straight"), Path("resumed"))
