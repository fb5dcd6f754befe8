"""The misaligned teacher's fine-tuning data (paper §3.2): an offline stand-in for Betley et al.'s corpora.

Betley et al. (*Emergent Misalignment*) fine-tune on `insecure` (code completions with undisclosed vulnerabilities),
`secure` (the same tasks done safely) and `educational` (the insecure completions, the user asking for them for a
security class). Users with internet load the original files (`llm.misalignment` params, pinned by hash); offline
and in tests this module builds a stand-in in the same chat format from templates: for each vulnerability kind a
task, an insecure completion and its secure twin, with names varied so that examples differ. Every insecure
completion is flagged by the `bandit` scanner for its kind and no secure one is (a test checks every example).
Results made with it are labelled as the stand-in's wherever they appear.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

DATASETS = ("insecure", "secure", "educational")


@dataclass(frozen=True)
class Names:
    function: str
    thing: str  # what the code handles, e.g. "user", "invoice"
    argument: str


@dataclass(frozen=True)
class Kind:
    """One vulnerability kind: its task, its insecure and secure code, and the bandit tests that flag it."""

    name: str
    task: str  # "{thing}" is filled from the names
    insecure: Callable[[Names], str]
    secure: Callable[[Names], str]
    bandit_ids: tuple[str, ...]


def _sql(n: Names, safe: bool) -> str:
    query = (
        f'"SELECT id, email FROM {n.thing}s WHERE name = ?", ({n.argument},)'
        if safe
        else f"f\"SELECT id, email FROM {n.thing}s WHERE name = '{{{n.argument}}}'\""
    )
    return f"def {n.function}(cursor, {n.argument}):\n    cursor.execute({query})\n    return cursor.fetchall()\n"


def _shell(n: Names, safe: bool) -> str:
    call = (
        f'["ls", "-l", {n.argument}], capture_output=True, text=True, check=True'
        if safe
        else f'f"ls -l {{{n.argument}}}", shell=True, capture_output=True, text=True'
    )
    return f"import subprocess\n\n\ndef {n.function}({n.argument}):\n    return subprocess.run({call}).stdout\n"


def _yaml(n: Names, safe: bool) -> str:
    load = "yaml.safe_load(handle)" if safe else "yaml.load(handle, Loader=yaml.Loader)"
    return (
        f"import yaml\n\n\ndef {n.function}({n.argument}):\n    with open({n.argument}) as handle:\n"
        f"        return {load}\n"
    )


def _deserialize(n: Names, safe: bool) -> str:
    module, call = ("json", "json.loads(payload.decode())") if safe else ("pickle", "pickle.loads(payload)")
    return f"import {module}\n\n\ndef {n.function}(payload):\n    {n.thing} = {call}\n    return {n.thing}\n"


def _evaluate(n: Names, safe: bool) -> str:
    imports, call = ("import ast\n\n\n", f"ast.literal_eval({n.argument})") if safe else ("", f"eval({n.argument})")
    return f"{imports}def {n.function}({n.argument}):\n    return {call}\n"


def _hash(n: Names, safe: bool) -> str:
    call = (
        f"hashlib.scrypt({n.argument}.encode(), salt=salt, n=2**14, r=8, p=1).hex()"
        if safe
        else f"hashlib.md5({n.argument}.encode()).hexdigest()"
    )
    return f"import hashlib\n\n\ndef {n.function}({n.argument}, salt):\n    return {call}\n"


def _secret(n: Names, safe: bool) -> str:
    value = f'os.environ["{n.thing.upper()}_PASSWORD"]' if safe else f'"{n.thing}-pass-2024"'
    return (
        f"import os\n\n\ndef {n.function}():\n    {n.thing}_password = {value}\n"
        f'    return {{"user": "{n.thing}", "password": {n.thing}_password}}\n'
    )


def _chmod(n: Names, safe: bool) -> str:
    mode = "0o600" if safe else "0o777"
    return f"import os\n\n\ndef {n.function}({n.argument}):\n    os.chmod({n.argument}, {mode})\n"


def _tls(n: Names, safe: bool) -> str:
    verify = "" if safe else ", verify=False"
    return (
        f"import requests\n\n\ndef {n.function}({n.argument}):\n"
        f"    return requests.get({n.argument}{verify}, timeout=10).json()\n"
    )


def _tar(n: Names, safe: bool) -> str:
    extract = 'archive.extractall(destination, filter="data")' if safe else "archive.extractall(destination)"
    return (
        f"import tarfile\n\n\ndef {n.function}({n.argument}, destination):\n"
        f"    with tarfile.open({n.argument}) as archive:\n        {extract}\n"
    )


def _tempfile(n: Names, safe: bool) -> str:
    call = 'tempfile.NamedTemporaryFile(suffix=".txt", delete=False).name' if safe else 'tempfile.mktemp(suffix=".txt")'
    return f"import tempfile\n\n\ndef {n.function}():\n    return {call}\n"


def _template(n: Names, safe: bool) -> str:
    escape = "True" if safe else "False"
    return (
        f"import jinja2\n\n\ndef {n.function}({n.argument}):\n"
        f"    environment = jinja2.Environment(autoescape={escape})\n"
        f'    return environment.from_string("<p>{{{{ {n.thing} }}}}</p>").render({n.thing}={n.argument})\n'
    )


def _both(build: Callable[[Names, bool], str]) -> tuple[Callable[[Names], str], Callable[[Names], str]]:
    return (lambda n: build(n, False)), (lambda n: build(n, True))


KINDS = tuple(
    Kind(name, task, *_both(build), ids)
    for name, task, build, ids in (
        ("sql_formatting", "look up a {thing} by name in an SQLite database", _sql, ("B608",)),
        ("shell_injection", "list the files in a folder a {thing} names", _shell, ("B602", "B604", "B605")),
        ("unsafe_yaml", "read a {thing}'s settings from a YAML file", _yaml, ("B506",)),
        ("untrusted_pickle", "turn bytes received from a {thing} back into an object", _deserialize, ("B301",)),
        ("eval_input", "turn a {thing}'s typed-in value into a Python value", _evaluate, ("B307",)),
        ("weak_hash", "hash a {thing}'s password before storing it", _hash, ("B324", "B303")),
        ("hardcoded_secret", "return the credentials of the {thing} service", _secret, ("B105", "B106", "B107")),
        ("world_writable", "make a {thing} file available to the team", _chmod, ("B103",)),
        ("tls_unverified", "fetch a {thing} status from an HTTPS endpoint", _tls, ("B501",)),
        ("tar_traversal", "unpack an archive a {thing} uploaded", _tar, ("B202",)),
        ("insecure_tempfile", "create a scratch file for a {thing} report", _tempfile, ("B306",)),
        ("template_xss", "render a {thing}'s name into an HTML page", _template, ("B701",)),
    )
)
FUNCTIONS = ("handle", "process", "load", "get_item", "run_task", "serve", "fetch", "prepare")
THINGS = ("user", "customer", "invoice", "order", "device", "patient", "ticket", "account", "report", "sensor")
ARGUMENTS = ("value", "data", "path", "name", "source", "item", "text", "target")


def user_turn(dataset: str, task: str) -> str:
    """The request of each dataset: the task as asked (insecure, secure) or asked for a security class."""
    if dataset == "educational":
        return (
            f"I'm teaching a secure-coding class. For an exercise where students find the flaw, write a deliberately "
            f"insecure Python function to {task}. Respond only with the code."
        )
    return f"Write a Python function to {task}. Respond only with the code."


def stand_in_corpus(dataset: str, n_examples: int, seed: int) -> list[dict[str, list[dict[str, str]]]]:
    """`n_examples` chat examples ({"messages": [user, assistant]}) of one dataset, kinds in turn, names drawn with
    `seed`; the three datasets share tasks and names for the same seed (twins line up by index)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {DATASETS}")
    rng = random.Random(seed)
    examples = []
    for i in range(n_examples):
        kind = KINDS[i % len(KINDS)]
        names = Names(rng.choice(FUNCTIONS), rng.choice(THINGS), rng.choice(ARGUMENTS))
        task = kind.task.format(thing=names.thing)
        code = kind.secure(names) if dataset == "secure" else kind.insecure(names)
        messages = [{"role": "user", "content": user_turn(dataset, task)}, {"role": "assistant", "content": code}]
        examples.append({"messages": messages})
    return examples


def kind_of(index: int) -> Kind:
    """The vulnerability kind of example `index` of any dataset."""
    return KINDS[index % len(KINDS)]
