"""Schema of the `llm` section (placeholder until the experiment lands)."""

from __future__ import annotations

from sublim.params import Section


class LLMParams(Section):
    pass
