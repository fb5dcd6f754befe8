"""Dotted-key overrides of a params section as plain values, for the development scripts (`scripts/`)."""

from __future__ import annotations

from typing import Any


def overridden(raw: dict[str, Any], overrides: dict[str, Any], section: str) -> dict[str, Any]:
    """`raw` (a section's values, changed in place and returned) with each dotted key of `overrides` set; a key the
    section does not have is a KeyError naming it."""
    for dotted, value in overrides.items():
        *path, last = dotted.split(".")
        node = raw
        for key in path:
            node = node[key]
        if last not in node:
            raise KeyError(f"{section}.{dotted}: no such key in params.yaml's {section} section")
        node[last] = value
    return raw
