"""Typed schemas of the params.yaml sections, one module per section (see sublim.params.SECTION_SCHEMAS)."""
