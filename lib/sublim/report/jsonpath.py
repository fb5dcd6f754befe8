"""The JSON paths that the wiring files (`paper_claims.csv`, `report_figures.csv`) use to find a number.

A JSON path is dotted keys (`arms.student_aux`), list items by index (`items.1`); a `*` matches any key at its
level, alone or inside a key (`conditions.shared/*/*`), and the matched parts fill `{0}`, `{1}`, ... in the row's
other fields, so one row can serve every trait.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any


def resolve(data: Any, path: str) -> Any:
    """The node at a dotted path (`arms.student_aux`, list items by index); KeyError names the missing part."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(f"no {part!r} at {path!r}")
    return node


def expand(data: Any, pattern: str) -> list[tuple[tuple[str, ...], Any]]:
    """Every (matched keys, node) for a dotted path whose `*` segments match every key of a mapping."""
    matches: list[tuple[tuple[str, ...], Any]] = [((), data)]
    for part in pattern.split("."):
        found = []
        for keys, node in matches:
            if "*" in part:  # `*` alone, or inside a key such as `shared/*/*`: each `*` is one captured key part
                regex = re.compile("^" + "(.*)".join(map(re.escape, part.split("*"))) + "$")
                for key, child in node.items() if isinstance(node, dict) else []:
                    if match := regex.match(str(key)):
                        found.append(((*keys, *match.groups()), child))
            else:
                with contextlib.suppress(KeyError):
                    found.append((keys, resolve(node, part)))
        matches = found
    return matches


def fill(template: str, keys: tuple[str, ...]) -> str:
    """Put matched keys into `{0}`, `{1}`, ... (other braces are left alone)."""

    def key(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return keys[index] if index < len(keys) else match.group(0)

    return re.sub(r"\{(\d+)\}", key, template)


def instantiate(pattern: str, keys: tuple[str, ...]) -> str:
    """The concrete path a match came from: each `*` replaced, in order, by its matched key."""
    pieces = pattern.split("*")
    if len(keys) < len(pieces) - 1:
        return pattern
    return "".join(piece + (keys[i] if i < len(pieces) - 1 else "") for i, piece in enumerate(pieces))
