"""Schema of the `tinylm` section (placeholder until the experiment lands)."""

from __future__ import annotations

from sublim.params import Section


class TinyLMParams(Section):
    pass
