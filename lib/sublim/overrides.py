"""Dotted-key overrides of a params section as plain values, for the development scripts (`scripts/`)."""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any


def value_at(raw: dict[str, Any], dotted: str) -> Any:
    """The value of `raw` under a dotted key ("distill.lora.r")."""
    return reduce(operator.getitem, dotted.split("."), raw)


def overridden(raw: dict[str, Any], overrides: dict[str, Any], section: str) -> dict[str, Any]:
    """`raw` (a section's values, changed in place and returned) with each dotted key of `overrides` set; a key the
    section does not have is a KeyError naming it."""
    for dotted, value in overrides.items():
        parent, _, last = dotted.rpartition(".")
        node = value_at(raw, parent) if parent else raw
        if last not in node:
            raise KeyError(f"{section}.{dotted}: no such key in params.yaml's {section} section")
        node[last] = value
    return raw
