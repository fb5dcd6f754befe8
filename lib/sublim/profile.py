"""Switch params.yaml to a named profile: `python -m sublim.profile paper` (or paper-14b; cpu-extended and
cpu-sft-greedy: SmolLM2 configurations that transmitted in the CPU search, docs/llm_cpu_search.md).

A profile (profiles/<name>.yaml) names what it needs (`requires`: a CUDA GPU, vLLM, hub models) and the params keys
it changes (`params`, merged key by key into params.yaml; `extends` names a parent profile applied first).
The command checks the requirements first and stops with a message saying what is missing, then rewrites
params.yaml in place (only the lines of the keys it sets change), validating the result before it replaces the
file. Going back to the CPU default: `git checkout params.yaml`. `--skip-checks` writes the file without the
GPU/vLLM/hub checks (to inspect the params, or to prepare a run on another machine).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from sublim.core.io import write_text_atomic
from sublim.core.params import DEFAULT_PARAMS_FILE, ParamsError, read_yaml
from sublim.sections import load_params

PROFILES_DIR = Path("profiles")


Edit = tuple[int, int, int, str]  # a value's line, start and end columns, and its new text


class ProfileError(RuntimeError):
    """A profile that cannot be applied here; the message says why and what to do."""


def known_profiles(directory: Path = PROFILES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def read_profile(name: str, directory: Path = PROFILES_DIR) -> dict[str, Any]:
    """The profile with its parents merged in (parent first); a key given twice in a profile is refused (ParamsError,
    as in params.yaml)."""
    path = directory / f"{name}.yaml"
    if not path.exists():
        raise ProfileError(f"no profile {name!r} ({path} not found); known profiles: {known_profiles(directory)}")
    profile = read_yaml(path)
    unknown = set(profile) - {"extends", "requires", "params"}
    if unknown:
        raise ProfileError(f"{path}: unknown top-level keys {sorted(unknown)}; use extends, requires, params")
    parent = profile.get("extends")
    if parent:
        base = read_profile(parent, directory)
        profile = {
            "requires": profile.get("requires", base.get("requires", {})),
            "params": deep_merge(base.get("params", {}), profile.get("params", {})),
        }
    return profile


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        merged[key] = (
            deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def check_requirements(requires: dict[str, Any]) -> None:
    if requires.get("gpu"):
        import torch  # deferred: only a GPU profile needs it

        if not torch.cuda.is_available():
            raise ProfileError(
                "this profile needs a CUDA GPU (the paper scale: a 7B/14B model, 30,000 generations, LoRA training); "
                "torch sees none here. Run it on a GPU machine, or keep the CPU default (`git checkout params.yaml`)."
            )
    for model_id in requires.get("hub_models", []):
        check_hub_model(model_id)
    if requires.get("vllm") and importlib.util.find_spec("vllm") is None:
        raise ProfileError(
            "this profile samples with vLLM (llm.backend: vllm), which is not installed: `pip install '.[gpu]'`, or "
            "apply it with --skip-checks and set llm.backend: transformers"
        )


def check_hub_model(model_id: str) -> None:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ProfileError(f"this profile downloads {model_id} from the Hugging Face hub, but HF_HUB_OFFLINE=1")
    try:
        from huggingface_hub import HfApi  # inside the try: any failure to reach the hub is reported alike

        HfApi().model_info(model_id, timeout=15)
    except Exception as err:  # network down, proxy, gated model without a token, ...
        raise ProfileError(
            f"cannot reach {model_id} on the Hugging Face hub ({type(err).__name__}: {err}). The paper profile "
            "needs hub access (and `huggingface-cli login` for gated models)."
        ) from None


def _represent_float(representer: Any, value: float) -> Any:
    """A profile's float as params.yaml's reader reads it back: a decimal point before any exponent (YAML 1.1,
    which PyYAML follows, reads `1e-05` as text; `1.0e-05` is a float)."""
    if value != value or value in (float("inf"), float("-inf")):
        return representer.represent_float(value)
    text = repr(value)
    mantissa, marker, exponent = text.partition("e")
    if marker and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return representer.represent_scalar("tag:yaml.org,2002:float", text)


def merge_into_yaml(text: str, overrides: dict[str, Any]) -> str:
    """params.yaml with the overrides applied key by key, comments and order kept. Each value that sits on its key's
    line is replaced there, so the file's other lines stay as written; when one cannot be (a block list, a value
    over several lines), the whole file is written back by a ruamel round trip, which reflows flow collections."""
    document = _round_trip_yaml().load(text)
    edits: list[Edit | None] = []
    _apply(document, overrides, "", edits, text.splitlines())
    if all(edit is not None for edit in edits):
        edited = _edit_lines(text, edits)
        if yaml.safe_load(edited) == yaml.safe_load(_dump(document)):
            return edited
    return _dump(document)


class _ParamsRepresenter(RoundTripRepresenter):
    """ruamel's round-trip representer with params.yaml's floats and `null`, on a subclass of its own: ruamel's
    `add_representer` changes the class it is called on, so on the base class it would reach every YAML writer in the
    process (DVC's lock files included)."""


_ParamsRepresenter.add_representer(float, _represent_float)
_ParamsRepresenter.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))


def _round_trip_yaml() -> YAML:
    ruamel = YAML()
    ruamel.Representer = _ParamsRepresenter
    ruamel.preserve_quotes = True
    ruamel.width = 4096
    return ruamel


def _dump(document: Any) -> str:
    out = io.StringIO()
    _round_trip_yaml().dump(document, out)
    return out.getvalue()


def _apply(node: Any, update: dict[str, Any], where: str, edits: list[Edit | None], lines: list[str]) -> None:
    """Set each override in the ruamel document and note its in-place text edit in `edits` (None: it has none)."""
    for key, value in update.items():
        if key not in node:
            raise ProfileError(f"profile sets {where}{key}, which params.yaml does not have")
        if isinstance(value, dict) and isinstance(node[key], dict) and node[key]:
            _apply(node[key], value, f"{where}{key}.", edits, lines)  # an empty mapping (`models: {}`) takes it
            continue
        edits.append(_value_edit(node, key, value, lines))
        node[key] = value


def _value_edit(node: Any, key: str, value: Any, lines: list[str]) -> Edit | None:
    key_line, _ = node.lc.key(key)
    line, column = node.lc.value(key)
    if line != key_line or line >= len(lines):
        return None
    end = _comment_start(lines[line], column)
    old = lines[line][column:end]
    try:
        if yaml.safe_load(old) != json.loads(json.dumps(node[key])):  # ruamel's types as plain ones
            return None  # the old value runs past its line
    except yaml.YAMLError:
        return None
    new = _flow_text(value)
    if end < len(lines[line]):  # a comment follows: keep its column where the new value fits
        new = new.ljust(len(old)) if len(new) < len(old) else new + " "
    return line, column, end, new


def _comment_start(line: str, column: int) -> int:
    """Where a `#` comment begins after `column` (outside quotes), else the line's end."""
    quote = None
    for i in range(column, len(line)):
        char = line[i]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and i > column and line[i - 1] in " \t":
            return i
    return len(line)


def _flow_text(value: Any) -> str:
    """A value as one line of YAML (PyYAML's flow style: what params.yaml's reader reads back)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000, sort_keys=False).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _edit_lines(text: str, edits: list[Edit]) -> str:
    lines = text.splitlines(keepends=True)
    for line, start, end, new in edits:
        body = lines[line].rstrip("\r\n")
        lines[line] = (body[:start] + new + body[end:]).rstrip() + lines[line][len(body) :]
    return "".join(lines)


def apply_profile(
    name: str, params_file: Path = DEFAULT_PARAMS_FILE, skip_checks: bool = False, directory: Path = PROFILES_DIR
) -> Path:
    profile = read_profile(name, directory)
    if not skip_checks:
        check_requirements(profile.get("requires", {}))
    new_text = merge_into_yaml(Path(params_file).read_text(), profile.get("params", {}))
    candidate = Path(params_file).with_name(f".{Path(params_file).name}.profile-check")
    try:
        candidate.write_text(new_text)
        load_params(candidate)  # the merged file must validate before it replaces params.yaml
    finally:
        candidate.unlink(missing_ok=True)
    write_text_atomic(params_file, new_text)
    return Path(params_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sublim.profile", description=__doc__.split("\n\n")[0])
    names = ", ".join(known_profiles())
    parser.add_argument("name", help=f"profile name: a file profiles/<name>.yaml ({names})")
    parser.add_argument("--params", default=str(DEFAULT_PARAMS_FILE))
    parser.add_argument("--skip-checks", action="store_true", help="do not check for a GPU, vLLM and hub access")
    args = parser.parse_args(argv)
    try:
        path = apply_profile(args.name, Path(args.params), args.skip_checks)
    except (ProfileError, ParamsError) as err:
        print(f"sublim.profile {args.name}: {err}", file=sys.stderr)
        return 1
    print(f"sublim.profile: {path} now holds profile {args.name!r}; run `dvc repro` (undo: git checkout {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
