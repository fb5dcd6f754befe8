"""Training checkpoints (sublim.lm.checkpoint): safe formats only, resumed only by the run that wrote them, one
writer per checkpoint folder."""

from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest
import torch
from lm_helpers import PAD, Killed, examples, kill_at, settings, tiny_llama, weights

from sublim.core.io import FolderLockedError, writer_lock
from sublim.lm import checkpoint
from sublim.lm.checkpoint import rng_state, set_rng_state
from sublim.lm.train import Example, examples_digest, train_sft


def assert_same_run(a, b) -> None:
    assert a.losses == pytest.approx(b.losses, rel=1e-5)
    wa, wb = weights(a.model), weights(b.model)
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], rtol=1e-5, atol=1e-6)


def killed_run(ckpt, rows=None, model=None, **overrides) -> None:
    """A run with checkpoints every step, killed in step 3 (its checkpoint holds 2 steps)."""
    s = settings(checkpoint_every=1, **overrides)
    with pytest.raises(Killed):
        train_sft(
            model or tiny_llama(), rows or examples(10), s, pad_token_id=PAD, checkpoint_dir=ckpt, on_step=kill_at(3)
        )
    assert (ckpt / checkpoint.CHECKPOINT_META).exists()


def test_a_checkpoint_is_safetensors_and_json_only(tmp_path):
    killed_run(tmp_path / "ckpt")
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["checkpoint.json", "optimizer.safetensors", "trainable.safetensors"]
    meta = json.loads((tmp_path / "ckpt" / "checkpoint.json").read_text())
    assert meta["step"] == 2 and set(meta["run"]) >= {"settings", "data", "model", "code"}


def test_a_crafted_pickle_in_a_checkpoint_is_never_executed(tmp_path, monkeypatch):
    ckpt, marker = tmp_path / "ckpt", tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))  # runs when unpickled

    killed_run(ckpt)
    torch.save(Payload(), ckpt / "state.pt")  # where the old pickled optimizer/RNG state lived
    (ckpt / "optimizer.pt").write_bytes(pickle.dumps(Payload()))
    assert not marker.exists()

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint was unpickled")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    resumed = train_sft(tiny_llama(), examples(10), settings(checkpoint_every=1), pad_token_id=PAD, checkpoint_dir=ckpt)
    assert not marker.exists()
    monkeypatch.undo()
    assert_same_run(resumed, train_sft(tiny_llama(), examples(10), settings(checkpoint_every=1), pad_token_id=PAD))


def test_a_checkpoint_of_other_data_is_discarded_and_training_starts_over(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    killed_run(ckpt, rows=examples(10, seed=0))
    new_data = examples(10, seed=1)  # same count, other token ids: the filter's output changed
    resumed = train_sft(tiny_llama(), new_data, settings(checkpoint_every=1), pad_token_id=PAD, checkpoint_dir=ckpt)
    assert "belongs to another run (data differ); discarding it and starting over" in capsys.readouterr().out
    assert_same_run(resumed, train_sft(tiny_llama(), new_data, settings(checkpoint_every=1), pad_token_id=PAD))


def test_a_checkpoint_of_another_model_is_discarded(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    killed_run(ckpt, model=tiny_llama(seed=0))
    resumed = train_sft(
        tiny_llama(seed=1), examples(10), settings(checkpoint_every=1), pad_token_id=PAD, checkpoint_dir=ckpt
    )
    assert "(model differ)" in capsys.readouterr().out
    assert_same_run(
        resumed, train_sft(tiny_llama(seed=1), examples(10), settings(checkpoint_every=1), pad_token_id=PAD)
    )


def test_a_checkpoint_of_other_settings_is_discarded(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    killed_run(ckpt)
    s = settings(checkpoint_every=1, seed=9)
    resumed = train_sft(tiny_llama(), examples(10), s, pad_token_id=PAD, checkpoint_dir=ckpt)
    assert "(settings differ)" in capsys.readouterr().out
    assert_same_run(resumed, train_sft(tiny_llama(), examples(10), s, pad_token_id=PAD))


def test_a_checkpoint_written_by_other_training_code_is_discarded(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "edited_trainer.py").write_text("STEP = 1\n")
    monkeypatch.setattr(checkpoint, "TRAIN_CODE", (*checkpoint.TRAIN_CODE, "edited_trainer"))
    assert {"sublim.lm.train", "sublim.lm.checkpoint"} <= set(checkpoint.TRAIN_CODE)
    ckpt = tmp_path / "ckpt"
    killed_run(ckpt)
    (tmp_path / "edited_trainer.py").write_text("STEP = 2\n")
    train_sft(tiny_llama(), examples(10), settings(checkpoint_every=1), pad_token_id=PAD, checkpoint_dir=ckpt)
    assert "(code differ)" in capsys.readouterr().out


def test_a_second_trainer_on_the_same_checkpoint_folder_fails_at_once(tmp_path):
    ckpt = tmp_path / "ckpt"
    with writer_lock(ckpt), pytest.raises(FolderLockedError, match="ckpt is being written by process"):
        train_sft(tiny_llama(), examples(4), settings(checkpoint_every=1), pad_token_id=PAD, checkpoint_dir=ckpt)


def test_rng_states_survive_json():
    torch.manual_seed(1)
    random.seed(2)
    np.random.seed(3)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's legacy state
    saved = json.loads(json.dumps(rng_state()))
    expected = (torch.rand(3), random.random(), np.random.standard_normal(2))
    set_rng_state(saved)
    again = (torch.rand(3), random.random(), np.random.standard_normal(2))
    assert torch.equal(expected[0], again[0]) and expected[1] == again[1]
    np.testing.assert_array_equal(expected[2], again[2])


def test_example_digest_covers_prompt_and_completion_boundaries():
    assert examples_digest([Example([1, 2], [3])]) != examples_digest([Example([1], [2, 3])])
