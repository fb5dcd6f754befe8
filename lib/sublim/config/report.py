"""Schema of the `report` section (placeholder until the experiment lands)."""

from __future__ import annotations

from sublim.params import Section


class ReportParams(Section):
    pass
