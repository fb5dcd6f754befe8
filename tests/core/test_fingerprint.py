"""Digests for resume fingerprints (sublim.core.fingerprint): they change exactly when what they cover changes."""

from __future__ import annotations

import torch

from sublim.core.fingerprint import differing_keys, ids_digest, json_digest, model_digest, source_digest


def test_source_digest_follows_an_edit_of_the_module(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "made_up_stage.py"
    module.write_text("X = 1\n")
    before = source_digest("made_up_stage", "sublim.core.io")
    assert source_digest("made_up_stage", "sublim.core.io") == before
    module.write_text("X = 1  # a comment\n")
    assert source_digest("made_up_stage", "sublim.core.io") != before


def test_model_digest_sees_one_changed_weight_and_counts_tied_weights_once():
    def model(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False))
        net[1].weight = net[0].weight  # tied, as SmolLM2's embeddings
        return net

    a, b = model(0), model(0)
    assert model_digest(a) == model_digest(b) != model_digest(model(1))
    with torch.no_grad():
        b[0].weight[2, 1] += 1e-6
    assert model_digest(a) != model_digest(b)
    assert len(list(a.named_parameters())) == 1


def test_ids_digest_sees_sequence_boundaries_and_json_digest_ignores_key_order():
    assert ids_digest([[1, 2], [3]]) != ids_digest([[1], [2, 3]])
    assert ids_digest([[1, 2], [3]]) == ids_digest(((1, 2), (3,)))
    assert json_digest({"a": 1, "b": [2]}) == json_digest({"b": [2], "a": 1})


def test_differing_keys_compare_as_json():
    saved = {"settings": {"betas": [0.9, 0.99]}, "data": "x", "old": 1}
    current = {"settings": {"betas": (0.9, 0.99)}, "data": "y"}
    assert differing_keys(saved, current) == ["data", "old"]
