"""The lesson's helpers (`sublim.demo`) on tiny settings: the diagram, the three experiments and the exercises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.patches import FancyBboxPatch

from sublim.demo import diagram, theorem_mnist
from sublim.demo import tinylm as lesson_lm

REPO = Path(__file__).resolve().parents[1]
PARAMS = REPO / "params.yaml"
MNIST_NPZ = REPO / "results/assets/mnist/mnist.npz"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def from_repository_root(monkeypatch) -> None:
    """params.yaml's asset paths are relative to the repository root."""
    if not MNIST_NPZ.exists():
        pytest.fail(f"{MNIST_NPZ} is missing: run `make assets` (or `make test`)")
    monkeypatch.chdir(REPO)


def test_the_diagram_draws_every_box_and_arrow():
    fig = diagram.draw_loop("cat")
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    texts = " ".join(t.get_text() for t in ax.texts)
    assert len(boxes) == 7 and len(ax.texts) > len(boxes)
    assert "P(cat)" in texts and "same init" in texts and "different init" in texts


@pytest.fixture(scope="module")
def tiny_run() -> Iterator[lesson_lm.TinyLMRun]:
    """Two seeds of a 1-layer model pretrained for a few steps (enough to write well-formed lists)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = lesson_lm.tinylm_params([0, 1], "owl", pretrain_steps=120, n_lists=300, params_file=PARAMS)
    cfg = cfg.model_copy(
        update={
            "model": cfg.model.model_copy(update={"n_layer": 1, "d_model": 32, "n_head": 2}),
            "pretrain": cfg.pretrain.model_copy(update={"batch_size": 64, "learning_rate": 1.0e-2, "warmup_steps": 10}),
            "teacher": cfg.teacher.model_copy(update={"steps": 10}),
            "student": cfg.student.model_copy(update={"batch_size": 32}),
        }
    )
    yield lesson_lm.run_tinylm(cfg, "owl")
    torch.set_num_threads(threads)


def test_the_tiny_lm_demo_measures_every_model_of_every_seed(tiny_run):
    p = tiny_run.p_trait
    assert list(p.index) == [0, 1] and list(p.columns) == list(lesson_lm.TINYLM_MODELS)
    assert ((p >= 0) & (p <= 1)).all().all()
    assert (p["teacher"] > p["base"]).all(), "the teacher is the base fine-tuned on the owl answer"
    assert list(lesson_lm.gaps(tiny_run).index) == [0, 1, "mean"]
    counts = lesson_lm.list_counts(tiny_run)
    assert (counts["kept, teacher"] > 0).all() and (counts["prompts"] == 300).all()
    examples = lesson_lm.list_examples(tiny_run, 0, n=3)
    assert len(examples) <= 3 and all(len(text.split()) == 8 for text in examples["teacher writes"])
    assert len(lesson_lm.plot_trait_bars(tiny_run).axes) == 2


def test_the_demo_params_are_validated():
    with pytest.raises(ValueError, match=r"not in corpus\.animals"):
        lesson_lm.tinylm_params([0, 1], "unicorn", pretrain_steps=10, n_lists=10, params_file=PARAMS)
    cfg = lesson_lm.tinylm_params([3, 4], "cat", pretrain_steps=10, n_lists=10, params_file=PARAMS)
    assert (cfg.seeds, cfg.traits, cfg.pretrain.steps, cfg.numbers.n_samples) == ([3, 4], ["cat"], 10, 10)
    faster = lesson_lm.tinylm_params([3, 4], "cat", 10, 10, pretrain_learning_rate=0.5, params_file=PARAMS)
    assert faster.pretrain.learning_rate == 0.5 and faster.pretrain.warmup_steps == cfg.pretrain.warmup_steps


def test_the_exercises_add_rows_beside_the_main_run(tiny_run):
    weak = lesson_lm.weaker_teacher(tiny_run, 2, [0])
    assert list(weak.index) == [(0, tiny_run.cfg.teacher.steps), (0, 2)]
    shuffled = lesson_lm.shuffled_lists(tiny_run, [1])
    assert list(shuffled.index.get_level_values("lists")) == ["as written", "shuffled within each list"]
    volume = lesson_lm.fewer_lists(tiny_run, [50, 20], [0])
    assert list(volume.index.get_level_values("lists")) == ["20", "50", lesson_lm.ALL_LISTS]
    for table in (weak, shuffled, volume):
        assert np.allclose(table["student − control"], table["student"] - table["control"], atol=2e-3)
    assert lesson_lm.plot_gap_by(volume, "lists", "t").axes
    with pytest.raises(ValueError, match="lower the size"):
        lesson_lm.fewer_lists(tiny_run, [10**6], [0])


def test_theorem_trials_give_a_row_per_trial_init_and_target(from_repository_root):
    trials = theorem_mnist.theorem_trials(2, 1e-3)
    assert len(trials) == 2 * 2 * 2  # trials x inits x (aux, all logits)
    table = theorem_mnist.theorem_table(trials)
    assert set(table.index) == {(i, t) for i in ("shared", "different") for t in ("aux", "all")}
    shared = trials[trials["init"] == "shared"]
    assert (shared["inner_product"] >= 0).all(), "Theorem 1: a shared-init step never points away from the teacher"
    assert theorem_mnist.plot_theorem(trials).axes


def test_the_mnist_demo_gives_each_arm_an_accuracy_per_model(from_repository_root):
    cfg = theorem_mnist.mnist_params(2, 1, 1, 1024, seed=0)
    assert cfg.sweeps.n_models <= cfg.n_models
    accuracies = theorem_mnist.mnist_demo(cfg)
    assert set(accuracies) == set(theorem_mnist.MNIST_ARMS)
    assert all(len(a) == 2 and ((a >= 0) & (a <= 1)).all() for a in accuracies.values())
    assert accuracies["teacher"].mean() > 0.5, "one epoch on MNIST teaches digits"
    assert theorem_mnist.mnist_table(accuracies).shape == (4, 3)
    assert theorem_mnist.plot_mnist(accuracies).axes
