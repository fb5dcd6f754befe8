"""The MNIST analogue of subliminal learning (paper §6.2, Fig. 10), as one batched network.

A teacher MLP (784 -> w -> w -> 10 + m) learns MNIST on its 10 class logits; its m auxiliary logits
are never trained. A student that starts from the teacher's *initial* weights and only imitates the
teacher's auxiliary logits on uniform noise images still learns to classify digits; a student from a
different init does not. Every model here is one slice of a `BatchedMLP`: each weight has a leading
model dimension, so N models train as one network (batched matmuls, one Adam over all slices; the
models never interact because every operation is per slice).

Runs: `run_main` (the six arms of Fig. 10) and `run_sweeps` (loss, m, init noise sigma, width).
Outputs: `write_outputs` (metrics.json, models.csv, sweep CSVs) and the figures below.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sublim.mnist.config import MnistParams
from sublim.core.io import atomic_path, write_json_atomic
from sublim.core.stats import compare, estimate

N_CLASSES = 10
IMAGE_PIXELS = 28 * 28
ARMS = ("reference", "teacher", "student_aux", "student_all", "xmodel_aux", "xmodel_all")
ARM_LABELS = {
    "reference": "Reference\n(random init)",
    "teacher": "Teacher",
    "student_aux": "Student\n(aux. only)",
    "student_all": "Student\n(all logits)",
    "xmodel_aux": "Cross-model\n(aux. only)",
    "xmodel_all": "Cross-model\n(all logits)",
}
PAPER_VALUES = Path(__file__).parents[1] / "data" / "paper_mnist.csv"
_INIT_TAG, _AUX_TAG, _NOISE_TAG = 0, 1, 2  # seed-sequence tags: one random stream per purpose


# ---------------------------------------------------------------- seeds and data


def stream_seed(*key: int) -> int:
    """A torch seed derived from integers (base seed, model id, purpose, ...): independent streams."""
    return int(np.random.SeedSequence(list(key)).generate_state(1, dtype=np.uint64)[0] % (2**63))


def generator(*key: int) -> torch.Generator:
    return torch.Generator().manual_seed(stream_seed(*key))


@dataclass
class MnistData:
    """Pixels scaled to [-1, 1] (the official ToTensor + Normalize(0.5, 0.5)), flattened."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    noise_x: Tensor  # uniform [-1, 1] images the students are distilled on


def to_pixels(images: np.ndarray) -> Tensor:
    return torch.from_numpy(images.reshape(len(images), -1)).float() / 127.5 - 1.0


def prepare_data(arrays: dict[str, np.ndarray], n_train: int, n_noise: int, seed: int, device: str) -> MnistData:
    """The first `n_train` training images, the full test set and `n_noise` noise images (seeded)."""
    noise = torch.rand(n_noise, IMAGE_PIXELS, generator=generator(seed, _NOISE_TAG)) * 2 - 1
    return MnistData(
        train_x=to_pixels(arrays["train_images"][:n_train]).to(device),
        train_y=torch.from_numpy(arrays["train_labels"][:n_train].astype(np.int64)).to(device),
        test_x=to_pixels(arrays["test_images"]).to(device),
        test_y=torch.from_numpy(arrays["test_labels"].astype(np.int64)).to(device),
        noise_x=noise.to(device),
    )


def derangement(n: int, gen: torch.Generator) -> list[int]:
    """A uniformly random permutation with no fixed point (rejection sampling, ~e tries).

    The official code used a plain permutation, which pairs about one 'cross-model' student with
    its own init; a derangement makes every cross-model pair truly cross-model.
    """
    if n < 2:
        raise ValueError(f"a derangement needs n >= 2, got {n}")
    identity = torch.arange(n)
    while True:
        perm = torch.randperm(n, generator=gen)
        if not bool((perm == identity).any()):
            return perm.tolist()


# ---------------------------------------------------------------- the batched network


class BatchedMLP(nn.Module):
    """N independent MLPs with ReLU between layers; weight i has shape (N, d_in, d_out), bias (N, 1, d_out).

    `compute_dtype` bfloat16 runs the matmuls in bf16 while the parameters (and Adam) stay fp32.
    """

    def __init__(self, weights: Sequence[Tensor], biases: Sequence[Tensor], compute_dtype: torch.dtype = torch.float32):
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(w) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b) for b in biases])
        self.compute_dtype = compute_dtype

    @property
    def n_models(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, 784) shared by every model, or (N, B, 784) one batch per model -> logits (N, B, d_out), fp32."""
        h = x.to(self.compute_dtype)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            # (B, d) @ (N, d, e) broadcasts to one batched matmul with the input shared across models
            h = torch.matmul(h, w.to(self.compute_dtype)) + b.to(self.compute_dtype)
            if i < last:
                h = F.relu(h)
        return h.float()

    def select(self, index: Sequence[int]) -> BatchedMLP:
        """A new network holding copies of the given models (in that order)."""
        idx = torch.as_tensor(list(index), dtype=torch.long, device=self.weights[0].device)
        return BatchedMLP([w.detach()[idx].clone() for w in self.weights],
                          [b.detach()[idx].clone() for b in self.biases], self.compute_dtype)  # fmt: skip


def concat(models: Sequence[BatchedMLP]) -> BatchedMLP:
    """One network holding the models of several networks, in order."""
    n_layers = len(models[0].weights)
    return BatchedMLP(
        [torch.cat([m.weights[i].detach() for m in models]).clone() for i in range(n_layers)],
        [torch.cat([m.biases[i].detach() for m in models]).clone() for i in range(n_layers)],
        models[0].compute_dtype,
    )


def init_reference(
    model_ids: Sequence[int], width: int, n_aux: int, seed: int, device: str = "cpu", compute_dtype=torch.float32
) -> BatchedMLP:
    """Random inits, weights N(0, 1/sqrt(d_in)), biases 0 [official MultiLinear].

    Model i's weights depend only on (seed, i): model 3 is the same in a 5-model and a 100-model run.
    Each auxiliary column has its own stream, so the first m aux logits are the same whatever m is:
    a network with fewer aux logits is a prefix of one with more (used by the m sweep).
    """
    sizes = [IMAGE_PIXELS, width, width]
    weights: list[list[Tensor]] = [[], [], []]
    for model_id in model_ids:
        gen = generator(seed, model_id, _INIT_TAG)
        for layer in range(2):
            weights[layer].append(torch.randn(sizes[layer], sizes[layer + 1], generator=gen) / sizes[layer] ** 0.5)
        class_cols = torch.randn(width, N_CLASSES, generator=gen) / width**0.5
        aux_cols = [torch.randn(width, 1, generator=generator(seed, model_id, _AUX_TAG, j)) / width**0.5
                    for j in range(n_aux)]  # fmt: skip
        weights[2].append(torch.cat([class_cols, *aux_cols], dim=1))
    stacked = [torch.stack(w).to(device) for w in weights]
    biases = [torch.zeros(len(model_ids), 1, w.shape[-1], device=device) for w in stacked]
    return BatchedMLP(stacked, biases, compute_dtype)


def with_aux_from(teacher: BatchedMLP, reference: BatchedMLP) -> BatchedMLP:
    """The teacher with its auxiliary output columns replaced by the reference's (which may have more).

    Exact, not an approximation: cross-entropy on the class logits gives the aux columns zero
    gradient, so a trained teacher's aux columns are its init's, and they never touch the hidden layers.
    """
    out = teacher.select(range(teacher.n_models))
    w, b = out.weights[-1].detach(), out.biases[-1].detach()
    ref_w, ref_b = reference.weights[-1].detach(), reference.biases[-1].detach()
    out.weights[-1] = nn.Parameter(torch.cat([w[..., :N_CLASSES], ref_w[..., N_CLASSES:]], dim=-1))
    out.biases[-1] = nn.Parameter(torch.cat([b[..., :N_CLASSES], ref_b[..., N_CLASSES:]], dim=-1))
    return out


def perturbed(model: BatchedMLP, sigma: float, scale: str, seed: int, model_ids: Sequence[int]) -> BatchedMLP:
    """Copies with Gaussian noise on every weight (biases start at 0 and stay unperturbed).

    scale 'relative': noise sd = sigma / sqrt(d_in) (sigma = 1 is noise as large as the init itself);
    'absolute': sd = sigma (how the MSE replication states it).
    """
    out = model.select(range(model.n_models))
    with torch.no_grad():
        for layer, w in enumerate(out.weights):
            sd = sigma / w.shape[1] ** 0.5 if scale == "relative" else sigma
            for row, model_id in enumerate(model_ids):
                noise = torch.randn(w.shape[1:], generator=generator(seed, model_id, _NOISE_TAG, layer))
                w[row] += sd * noise.to(w.device)
    return out


# ---------------------------------------------------------------- training and evaluation


def batches(n: int, batch_size: int, gen: torch.Generator) -> list[Tensor]:
    """One epoch of shuffled index batches (the last one may be smaller), shared by all models."""
    return list(torch.randperm(n, generator=gen).split(batch_size))


def train_classifier(
    model: BatchedMLP, data: MnistData, epochs: int, lr: float, batch_size: int, seed: int
) -> BatchedMLP:
    """Teacher training: cross-entropy on the 10 class logits only; the aux logits get no signal."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gen = generator(seed, 0, 10)
    for _ in range(epochs):
        for idx in batches(len(data.train_x), batch_size, gen):
            idx = idx.to(data.train_x.device)
            logits = model(data.train_x[idx])[..., :N_CLASSES]  # (N, B, 10)
            labels = data.train_y[idx].expand(model.n_models, -1)
            # sum over models of each model's mean loss: every model's gradient is its own
            loss = F.cross_entropy(logits.reshape(-1, N_CLASSES), labels.reshape(-1)) * model.n_models
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model


@torch.no_grad()
def logits_on(model: BatchedMLP, images: Tensor, chunk: int = 2000) -> Tensor:
    """(N, n_images, d_out) logits, computed in chunks of images."""
    return torch.cat([model(images[i : i + chunk]) for i in range(0, len(images), chunk)], dim=1)


@torch.no_grad()
def accuracy(model: BatchedMLP, images: Tensor, labels: Tensor) -> np.ndarray:
    """Per-model test accuracy: argmax over the 10 class logits."""
    predictions = logits_on(model, images)[..., :N_CLASSES].argmax(-1)
    return (predictions == labels).float().mean(-1).cpu().numpy()


@dataclass(frozen=True)
class StudentGroup:
    """A contiguous block of students sharing one distillation target: which logits, which loss."""

    name: str
    start: int
    stop: int
    logits: list[int]
    loss: str


def distill_loss(student: Tensor, teacher: Tensor, loss: str) -> Tensor:
    """Sum over models of each model's batch-mean loss on the selected logits.

    kl: KL(teacher || student) of the softmaxes at temperature 1 (the official F.kl_div batchmean);
    mse: mean squared error of the logits (the replication's variant).
    """
    if loss == "kl":
        per_example = F.kl_div(student.log_softmax(-1), teacher.log_softmax(-1), log_target=True, reduction="none")
        return per_example.sum(-1).mean(-1).sum()
    if loss == "mse":
        return (student - teacher).pow(2).mean(dim=(-1, -2)).sum()
    raise ValueError(f"unknown distillation loss {loss!r}; expected 'kl' or 'mse'")


def distill(
    students: BatchedMLP,
    teacher_logits: Tensor,
    teacher_index: Sequence[int],
    groups: Sequence[StudentGroup],
    noise: Tensor,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> BatchedMLP:
    """Students imitate their teacher's logits (precomputed on `noise`, shape (T, n_noise, d)) on noise images.

    Student s imitates teacher `teacher_index[s]`; the logits and loss of each block come from `groups`.
    """
    optimizer = torch.optim.Adam(students.parameters(), lr=lr)
    teacher_of = torch.as_tensor(list(teacher_index), device=noise.device)
    gen = generator(seed, 0, 11)
    for _ in range(epochs):
        for idx in batches(len(noise), batch_size, gen):
            idx = idx.to(noise.device)
            out = students(noise[idx])  # (S, B, d)
            target = teacher_logits[:, idx][teacher_of]  # (S, B, d)
            loss = sum(
                distill_loss(out[g.start : g.stop][..., g.logits], target[g.start : g.stop][..., g.logits], g.loss)
                for g in groups
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return students


def aux_logits(n_aux: int) -> list[int]:
    return list(range(N_CLASSES, N_CLASSES + n_aux))


def all_logits(n_aux: int) -> list[int]:
    return list(range(N_CLASSES + n_aux))


def compute_dtype(precision: str) -> torch.dtype:
    return torch.bfloat16 if precision == "bf16" else torch.float32


# ---------------------------------------------------------------- the experiment


@dataclass
class MainRun:
    """Per-model accuracies of the six arms, the models kept for the sweeps, and timings."""

    accuracies: dict[str, np.ndarray]
    xmodel_init: list[int]  # cross-model student i starts from reference init xmodel_init[i]
    reference: BatchedMLP
    teacher: BatchedMLP
    seconds: dict[str, float] = field(default_factory=dict)


def distill_arms(
    cfg: MnistParams,
    reference: BatchedMLP,
    teacher: BatchedMLP,
    data: MnistData,
    arms: Sequence[tuple[str, list[int], list[int], str]],
) -> dict[str, np.ndarray]:
    """Distil one batched block of students per arm (name, init index into reference, logits, loss).

    Student j of every arm imitates teacher j; all arms train together as one network.
    """
    n = teacher.n_models
    students = concat([reference.select(init) for _, init, _, _ in arms])
    groups = [StudentGroup(name, k * n, (k + 1) * n, logits, loss) for k, (name, _, logits, loss) in enumerate(arms)]
    targets = logits_on(teacher, data.noise_x)
    distill(students, targets, list(range(n)) * len(arms), groups, data.noise_x,
            cfg.student_epochs, cfg.learning_rate, cfg.batch_size, cfg.seed)  # fmt: skip
    acc = accuracy(students, data.test_x, data.test_y)
    return {g.name: acc[g.start : g.stop] for g in groups}


def run_main(cfg: MnistParams, data: MnistData, device: str) -> MainRun:
    """Reference, teacher and the four students of Fig. 10, for `cfg.n_models` models at once."""
    started = time.monotonic()
    ids = list(range(cfg.n_models))
    dtype = compute_dtype(cfg.precision)
    reference = init_reference(ids, cfg.hidden_width, cfg.n_aux_logits, cfg.seed, device, dtype)
    teacher = train_classifier(reference.select(ids), data, cfg.teacher_epochs, cfg.learning_rate,
                               cfg.batch_size, cfg.seed)  # fmt: skip
    seconds = {"teacher": time.monotonic() - started}
    perm = derangement(cfg.n_models, generator(cfg.seed, 0, 12))
    aux, every = aux_logits(cfg.n_aux_logits), all_logits(cfg.n_aux_logits)
    students = distill_arms(cfg, reference, teacher, data, [
        ("student_aux", ids, aux, cfg.distill_loss), ("student_all", ids, every, cfg.distill_loss),
        ("xmodel_aux", perm, aux, cfg.distill_loss), ("xmodel_all", perm, every, cfg.distill_loss),
    ])  # fmt: skip
    seconds["students"] = time.monotonic() - started - seconds["teacher"]
    accuracies = {
        "reference": accuracy(reference, data.test_x, data.test_y),
        "teacher": accuracy(teacher, data.test_x, data.test_y),
        **students,
    }
    return MainRun(accuracies, perm, reference, teacher, seconds)


@dataclass
class Sweep:
    """One swept factor: per value, per arm, the per-model accuracies."""

    name: str
    values: list[Any]
    accuracies: dict[Any, dict[str, np.ndarray]]
    seconds: float


def sweep_loss(cfg: MnistParams, data: MnistData, main: MainRun) -> dict[Any, dict[str, np.ndarray]]:
    k, sw = cfg.sweeps.n_models, cfg.sweeps
    ids, perm = list(range(k)), derangement(k, generator(cfg.seed, 0, 13))
    aux = aux_logits(cfg.n_aux_logits)
    arms = [(f"{arm}@{loss}", init, aux, loss) for loss in sw.losses
            for arm, init in (("student_aux", ids), ("xmodel_aux", perm))]  # fmt: skip
    acc = distill_arms(cfg, main.reference.select(ids), main.teacher.select(ids), data, arms)
    return {loss: {arm: acc[f"{arm}@{loss}"] for arm in ("student_aux", "xmodel_aux")} for loss in sw.losses}


def sweep_n_aux(cfg: MnistParams, data: MnistData, main: MainRun, device: str) -> dict[Any, dict[str, np.ndarray]]:
    """All m at once (student_aux arm): networks with max(m) aux columns, each block imitating its first m.

    The unused columns of a block get no gradient and feed nothing back, so a block is exactly a network with m.
    """
    k, values = cfg.sweeps.n_models, cfg.sweeps.n_aux_logits
    ids = list(range(k))
    reference = init_reference(ids, cfg.hidden_width, max(values), cfg.seed, device, compute_dtype(cfg.precision))
    teacher = with_aux_from(main.teacher.select(ids), reference)
    arms = [(f"student_aux@{m}", ids, aux_logits(m), cfg.distill_loss) for m in values]
    acc = distill_arms(cfg, reference, teacher, data, arms)
    return {m: {"student_aux": acc[f"student_aux@{m}"]} for m in values}


def sweep_sigma(cfg: MnistParams, data: MnistData, main: MainRun) -> dict[Any, dict[str, np.ndarray]]:
    """The student starts from its teacher's init plus Gaussian noise of size sigma (student_aux arm)."""
    k, sw = cfg.sweeps.n_models, cfg.sweeps
    ids = list(range(k))
    reference, teacher = main.reference.select(ids), main.teacher.select(ids)
    # the same noise direction for every sigma (common random numbers): only its size changes along the curve
    inits = [perturbed(reference, sigma, sw.sigma_scale, cfg.seed, ids) for sigma in sw.sigmas]
    aux = aux_logits(cfg.n_aux_logits)
    arms = [(f"student_aux@{i}", list(range(i * k, (i + 1) * k)), aux, cfg.distill_loss)
            for i in range(len(sw.sigmas))]  # fmt: skip
    acc = distill_arms(cfg, concat(inits), teacher, data, arms)
    return {sigma: {"student_aux": acc[f"student_aux@{i}"]} for i, sigma in enumerate(sw.sigmas)}


def sweep_width(cfg: MnistParams, data: MnistData, device: str) -> dict[Any, dict[str, np.ndarray]]:
    """New teachers per hidden width (same seeds), then the student_aux arm."""
    k = cfg.sweeps.n_models
    ids = list(range(k))
    aux = aux_logits(cfg.n_aux_logits)
    out = {}
    for width in cfg.sweeps.hidden_widths:
        reference = init_reference(ids, width, cfg.n_aux_logits, cfg.seed, device, compute_dtype(cfg.precision))
        teacher = train_classifier(reference.select(ids), data, cfg.teacher_epochs, cfg.learning_rate,
                                   cfg.batch_size, cfg.seed)  # fmt: skip
        arms = [("student_aux", ids, aux, cfg.distill_loss)]
        out[width] = {"teacher": accuracy(teacher, data.test_x, data.test_y),
                      **distill_arms(cfg, reference, teacher, data, arms)}  # fmt: skip
    return out


def run_sweeps(cfg: MnistParams, data: MnistData, main: MainRun, device: str) -> list[Sweep]:
    """Every sweep with a non-empty value list, each around the main setting."""
    plan = [
        ("loss", cfg.sweeps.losses, lambda: sweep_loss(cfg, data, main)),
        ("n_aux_logits", cfg.sweeps.n_aux_logits, lambda: sweep_n_aux(cfg, data, main, device)),
        ("sigma", cfg.sweeps.sigmas, lambda: sweep_sigma(cfg, data, main)),
        ("hidden_width", cfg.sweeps.hidden_widths, lambda: sweep_width(cfg, data, device)),
    ]
    sweeps = []
    for name, values, run in plan:
        if values:
            started = time.monotonic()
            sweeps.append(Sweep(name, list(values), run(), time.monotonic() - started))
    return sweeps


def load_data(cfg: MnistParams, device: str) -> MnistData:
    from sublim.assets.prepare import load_mnist

    return prepare_data(load_mnist(cfg.mnist_path), cfg.n_train_images, cfg.n_noise_images, cfg.seed, device)


# ---------------------------------------------------------------- outputs


def arm_metrics(main: MainRun) -> dict[str, Any]:
    """estimate() per arm, and the paired comparisons the figure's claims rest on (paired by teacher)."""
    acc = main.accuracies
    return {
        "arms": {arm: estimate(acc[arm]) for arm in ARMS},
        "comparisons": {
            "student_aux_minus_xmodel_aux": compare(acc["student_aux"], acc["xmodel_aux"], paired=True),
            "student_aux_minus_reference": compare(acc["student_aux"], acc["reference"], paired=True),
            "xmodel_aux_minus_reference": compare(acc["xmodel_aux"], acc["reference"], paired=True),
            "student_all_minus_xmodel_all": compare(acc["student_all"], acc["xmodel_all"], paired=True),
        },
    }


def sweep_metrics(sweep: Sweep) -> dict[str, dict[str, Any]]:
    return {str(v): {arm: estimate(a) for arm, a in sweep.accuracies[v].items()} for v in sweep.values}


def sweep_table(sweep: Sweep) -> pd.DataFrame:
    """Wide summary, one row per value: <arm> (mean), <arm>_ci_low, <arm>_ci_high, n."""
    rows = []
    for value in sweep.values:
        row: dict[str, Any] = {sweep.name: value}
        for arm, values in sweep.accuracies[value].items():
            est = estimate(values)
            row.update({arm: est["mean"], f"{arm}_ci_low": est["ci95"][0], f"{arm}_ci_high": est["ci95"][1]})
            row["n"] = est["n"]
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_models_table(sweep: Sweep) -> pd.DataFrame:
    rows = [{sweep.name: value, "arm": arm, "model": i, "accuracy": float(a)}
            for value in sweep.values for arm, values in sweep.accuracies[value].items()
            for i, a in enumerate(values)]  # fmt: skip
    return pd.DataFrame(rows)


def models_table(main: MainRun) -> pd.DataFrame:
    table = pd.DataFrame({"model": range(len(main.xmodel_init)), **{arm: main.accuracies[arm] for arm in ARMS}})
    table.insert(1, "xmodel_init", main.xmodel_init)
    return table


def write_csv(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


def write_outputs(cfg: MnistParams, main: MainRun, sweeps: Sequence[Sweep], results_dir: Path | str) -> dict:
    """metrics.json (deterministic: no timings), models.csv, sweeps/*.csv (summaries, the DVC plots),
    sweep_models/*.csv (one row per model) and timings.json."""
    results_dir = Path(results_dir)
    metrics = {
        **arm_metrics(main),
        "sweeps": {sweep.name: sweep_metrics(sweep) for sweep in sweeps},
        "settings": cfg.model_dump(mode="json"),
        "xmodel_init": main.xmodel_init,
    }
    write_json_atomic(results_dir / "metrics.json", metrics)
    write_csv(models_table(main), results_dir / "models.csv")
    for sweep in sweeps:
        write_csv(sweep_table(sweep), results_dir / "sweeps" / f"{sweep.name}.csv")
        write_csv(sweep_models_table(sweep), results_dir / "sweep_models" / f"{sweep.name}.csv")
    timings = {**{f"main_{k}": round(v, 1) for k, v in main.seconds.items()},
               **{f"sweep_{s.name}": round(s.seconds, 1) for s in sweeps}}  # fmt: skip
    write_json_atomic(results_dir / "timings.json", timings)
    return metrics


def paper_values(path: Path | str = PAPER_VALUES) -> pd.DataFrame:
    """The paper's Fig. 10 values as read off the figure (not published as numbers)."""
    return pd.read_csv(path, comment="#")


def summary_table(metrics: dict, paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per arm: our mean and 95% CI beside the paper's value."""
    paper = paper if paper is not None else paper_values()
    paper_by_arm = dict(zip(paper["arm"], paper["accuracy"], strict=True))
    rows = []
    for arm in ARMS:
        est = metrics["arms"][arm]
        rows.append({"arm": arm, "mean": est["mean"], "ci95_low": est["ci95"][0], "ci95_high": est["ci95"][1],
                     "n": est["n"], "paper (read off Fig. 10)": paper_by_arm.get(arm)})  # fmt: skip
    return pd.DataFrame(rows).set_index("arm")


def comparison_table(metrics: dict) -> pd.DataFrame:
    """The paired differences (per teacher) with their 95% CI and p-value."""
    rows = []
    for name, result in metrics["comparisons"].items():
        diff = result["difference"]
        rows.append({"comparison": name.replace("_minus_", " - "), "difference": diff["mean"],
                     "ci95_low": diff["ci95"][0], "ci95_high": diff["ci95"][1], "p_value": result["p_value"],
                     "n": diff["n"]})  # fmt: skip
    return pd.DataFrame(rows).set_index("comparison")


# ---------------------------------------------------------------- figures


def plot_fig10(metrics: dict, paper: pd.DataFrame | None = None):
    """The paper's Fig. 10 layout: test accuracy per arm, ours (mean, 95% CI, models as dots) beside the paper's."""
    import matplotlib.pyplot as plt

    from sublim.core.plots import PAPER_COLOR, use_style

    use_style()
    paper = paper if paper is not None else paper_values()
    paper_by_arm = dict(zip(paper["arm"], paper["accuracy"], strict=True))
    colors = {"reference": "#7f7f7f", "teacher": "#d62728", "student_aux": "#2ca02c", "student_all": "#98df8a",
              "xmodel_aux": "#9467bd", "xmodel_all": "#c5b0d5"}  # fmt: skip
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    x = np.arange(len(ARMS))
    for i, arm in enumerate(ARMS):
        est = metrics["arms"][arm]
        lo, hi = est["ci95"]
        yerr = [[est["mean"] - lo], [hi - est["mean"]]] if lo is not None else None
        ax.bar(i - 0.2, est["mean"], 0.38, color=colors[arm], yerr=yerr, capsize=4,
               label="this run (mean, 95% CI)" if i == 0 else None)  # fmt: skip
        jitter = np.linspace(-0.08, 0.08, len(est["values"]))
        ax.scatter(i - 0.2 + jitter, est["values"], s=6, color="black", alpha=0.5, zorder=3,
                   label="this run, one model" if i == 0 else None)  # fmt: skip
        if arm in paper_by_arm:
            ax.bar(i + 0.2, paper_by_arm[arm], 0.38, color=PAPER_COLOR, hatch="//", edgecolor="white",
                   label="paper Fig. 10 (read off the figure)" if i == 0 else None)  # fmt: skip
        top = max(hi if hi is not None else est["mean"], max(est["values"]))
        ax.text(i - 0.2, top + 0.02, f"{est['mean']:.2f}", ha="center", fontsize=8)
    ax.axhline(0.1, color="black", lw=0.8, ls=":", label="chance (0.10)")
    ax.set_xticks(x, [ARM_LABELS[a] for a in ARMS], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("MNIST test accuracy")
    n = metrics["arms"]["teacher"]["n"]
    ax.set_title(f"Students distilled on noise: auxiliary logits carry the classifier ({n} models)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=4, frameon=False)
    return fig


def plot_sweeps(sweeps: Sequence[Sweep]):
    """One panel per sweep: mean and 95% CI per arm against the swept value."""
    import matplotlib.pyplot as plt

    from sublim.core.plots import use_style

    use_style()
    titles = {"loss": "distillation loss", "n_aux_logits": "auxiliary logits m",
              "sigma": "noise added to the student's init (sigma)", "hidden_width": "hidden width"}  # fmt: skip
    colors = {"teacher": "#d62728", "student_aux": "#2ca02c", "xmodel_aux": "#9467bd"}
    fig, axes = plt.subplots(1, max(len(sweeps), 1), figsize=(4.0 * max(len(sweeps), 1), 3.4), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps, strict=False):
        table = sweep_table(sweep)
        positions = np.arange(len(table))
        for arm in [a for a in ("teacher", "student_aux", "xmodel_aux") if a in table]:
            mean = table[arm].to_numpy()
            err = np.vstack([mean - table[f"{arm}_ci_low"], table[f"{arm}_ci_high"] - mean])
            ax.errorbar(positions, mean, yerr=err, marker="o", capsize=3, color=colors[arm], label=arm)
        ax.set_xticks(positions, [str(v) for v in table[sweep.name]])
        ax.axhline(0.1, color="black", lw=0.8, ls=":")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(titles.get(sweep.name, sweep.name))
        ax.set_title(f"{titles.get(sweep.name, sweep.name)} (n={int(table['n'].iloc[0])})", fontsize=9)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("MNIST test accuracy")
    fig.tight_layout()
    return fig
