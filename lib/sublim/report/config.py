"""Schema of the `report` section: where the paper's numbers and the claim wiring live, and the status rule's knobs."""

from __future__ import annotations

from pydantic import Field

from sublim.core.params import Section


class ReportParams(Section):
    paper_values: str = Field(
        min_length=1, description="CSV of the paper's headline numbers (value_id, figure, value, approx flag, ...)"
    )
    claims: str = Field(
        min_length=1, description="CSV wiring each claim to a paper value and to a JSON path in a metrics file"
    )
    figures: str = Field(
        min_length=1, description="CSV of the report's figures: one row per bar (metrics path, paper value beside it)"
    )
    tolerance: float = Field(
        ge=0.0,
        le=1.0,
        description="absolute difference from the paper's value that still counts as the same number "
        "(probability/accuracy scale; the paper's read-off-figure values carry ±0.01–0.02)",
    )
    records_dir: str = Field(
        min_length=1,
        description="folder of the stages' run records, one JSON per stage run (results/records; provenance table)",
    )
    decimals: int = Field(ge=1, le=6, description="decimals shown in the headline table and the README")
