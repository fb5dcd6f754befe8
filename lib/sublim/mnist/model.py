"""N independent MLPs as one batched network, and the ways the experiment makes and changes them.

Every weight has a leading model dimension, so N models train as one network (batched matmuls, one Adam
over all slices); the models never interact because every operation is per slice. A network's output is
the 10 class logits followed by the m auxiliary logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sublim.core.runtime import native_bf16
from sublim.core.seeds import torch_generator
from sublim.mnist.data import IMAGE_PIXELS, N_CLASSES
from sublim.mnist.seeds import AUX_TAG, INIT_TAG, NOISE_TAG


class BatchedMLP(nn.Module):
    """N independent MLPs with ReLU between layers; per model, weight i is (d_in, d_out) and bias i (1, d_out).

    Storage: biases (N, 1, d_out); weights (N, d_in, d_out), except the first layer's, which is stored input-major
    as (d_in, N, d_out): an input that all models share then meets every model's weights in one GEMM with no
    per-step reordering (`shared_input_layer`). `model_major_weights` gives every weight as (N, d_in, d_out).
    `compute_dtype` bfloat16 runs the matmuls in bf16 while the parameters (and Adam) stay fp32.
    """

    def __init__(self, weights: Sequence[Tensor], biases: Sequence[Tensor], compute_dtype: torch.dtype = torch.float32):
        """`weights` model-major, each (N, d_in, d_out)."""
        super().__init__()
        first, *rest = weights
        self.weights = nn.ParameterList([nn.Parameter(w) for w in [first.transpose(0, 1).contiguous(), *rest]])
        self.biases = nn.ParameterList([nn.Parameter(b) for b in biases])
        self.compute_dtype = compute_dtype

    @property
    def n_models(self) -> int:
        return self.biases[0].shape[0]

    def model_major_weights(self) -> list[Tensor]:
        """Every weight as (N, d_in, d_out) (the first a transposed view of its storage: writes reach the model)."""
        return [self.weights[0].transpose(0, 1), *self.weights[1:]]

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, 784) shared by every model, or (N, B, 784) one batch per model -> logits (N, B, d_out), fp32."""
        dtype = self.compute_dtype
        h = x.to(dtype)
        weights = self.model_major_weights()
        for i, (w, b) in enumerate(zip(weights, self.biases, strict=True)):
            if i == 0 and h.dim() == 2:
                h = shared_input_layer(h, self.weights[0], b)
            else:
                h = torch.baddbmm(b.to(dtype), h, w.to(dtype))
            if i < len(weights) - 1:
                h = F.relu(h)
        return h.float()

    def select(self, index: Sequence[int]) -> BatchedMLP:
        """A new network holding copies of the given models (in that order)."""
        idx = torch.as_tensor(list(index), dtype=torch.long, device=self.biases[0].device)
        return BatchedMLP(
            [w.detach()[idx].clone() for w in self.model_major_weights()],
            [b.detach()[idx].clone() for b in self.biases],
            self.compute_dtype,
        )


def shared_input_layer(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """x (B, d) seen by all N models, weights stored input-major (d, N, e) -> (N, B, e), as one GEMM.

    A broadcast matmul would copy x once per model forward and again, transposed, for the weight gradient: two
    (N, B, d) tensors a step, 128 MB each for the 40 students in fp32, and the largest non-matmul cost of a
    student step here. The one GEMM reads x as it is and computes the same products.
    """
    d, n, e = w.shape
    h = torch.addmm(b.reshape(1, n * e).to(x.dtype), x, w.to(x.dtype).view(d, n * e))
    return h.view(len(x), n, e).transpose(0, 1).contiguous()


def concat(models: Sequence[BatchedMLP]) -> BatchedMLP:
    """One network holding the models of several networks, in order."""
    n_layers = len(models[0].weights)
    return BatchedMLP(
        [torch.cat([m.model_major_weights()[i].detach() for m in models]) for i in range(n_layers)],
        [torch.cat([m.biases[i].detach() for m in models]).clone() for i in range(n_layers)],
        models[0].compute_dtype,
    )


def resolve_precision(precision: str, device: str) -> str:
    """'bf16' or 'fp32': `precision` itself, or for 'auto' bf16 where `device` computes it natively, else fp32."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def compute_dtype(precision: str) -> torch.dtype:
    """The matmul dtype of a resolved precision ('bf16' or 'fp32')."""
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision {precision!r}: resolve 'auto' first (resolve_precision)")
    return torch.bfloat16 if precision == "bf16" else torch.float32


def aux_logits(n_aux: int) -> list[int]:
    """Output columns of the m auxiliary logits."""
    return list(range(N_CLASSES, N_CLASSES + n_aux))


def all_logits(n_aux: int) -> list[int]:
    """Output columns of every logit: the 10 class logits, then the m auxiliary ones."""
    return list(range(N_CLASSES + n_aux))


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
        gen = torch_generator(seed, model_id, INIT_TAG)
        for layer in range(2):
            weights[layer].append(torch.randn(sizes[layer], sizes[layer + 1], generator=gen) / sizes[layer] ** 0.5)
        class_cols = torch.randn(width, N_CLASSES, generator=gen) / width**0.5
        aux_cols = [
            torch.randn(width, 1, generator=torch_generator(seed, model_id, AUX_TAG, j)) / width**0.5
            for j in range(n_aux)
        ]
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
        for layer, w in enumerate(out.model_major_weights()):
            sd = sigma / w.shape[1] ** 0.5 if scale == "relative" else sigma
            for row, model_id in enumerate(model_ids):
                noise = torch.randn(w.shape[1:], generator=torch_generator(seed, model_id, NOISE_TAG, layer))
                w[row] += sd * noise.to(w.device)
    return out
