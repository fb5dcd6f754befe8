"""Schema of the `mnist` section (placeholder until the experiment lands)."""

from __future__ import annotations

from sublim.params import Section


class MnistParams(Section):
    pass
