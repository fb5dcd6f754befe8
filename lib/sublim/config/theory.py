"""Schema of the `theory` section (placeholder until the experiment lands)."""

from __future__ import annotations

from sublim.params import Section


class TheoryParams(Section):
    pass
