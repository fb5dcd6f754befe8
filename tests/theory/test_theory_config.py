"""The `theory` section's schema (sublim.theory.config): params.yaml validates, impossible values do not."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sublim.core.params import read_yaml
from sublim.sections import validate_section
from sublim.theory.config import TheoryParams


def test_params_yaml_theory_section_validates(repo_root):
    section = validate_section("theory", read_yaml(repo_root / "params.yaml")["theory"])
    assert isinstance(section, TheoryParams)


def test_schema_rejects_impossible_values(mlp_config, tiny_config):
    with pytest.raises(ValidationError, match="must be one of epsilons"):
        mlp_config(epsilon=1.0e-2)
    with pytest.raises(ValidationError, match="vocab_size"):
        tiny_config(trait_token=40)
    with pytest.raises(ValidationError, match="aux logits"):
        mlp_config(layer_sizes=[784, 32, 10])
