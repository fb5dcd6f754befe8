"""Schema of the `mnist` section: the paper's MLP experiment (§6.2, Fig. 10) and its extension sweeps."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sublim.core.params import Section, UniqueList

DistillLoss = Literal["kl", "mse"]
PositiveInt = Annotated[int, Field(ge=1)]


class MnistSweeps(Section):
    """One-factor sweeps around the main setting; an empty list switches a sweep off."""

    n_models: int = Field(ge=2, description="models per sweep point (the first n of the main run's inits)")
    losses: UniqueList[DistillLoss] = Field(
        description="distinct distillation losses compared (student_aux and xmodel_aux arms)"
    )
    n_aux_logits: UniqueList[PositiveInt] = Field(
        description="distinct numbers >= 1 of auxiliary logits m (student_aux and xmodel_aux arms)"
    )
    sigmas: UniqueList[Annotated[float, Field(ge=0.0)]] = Field(
        description="distinct sds >= 0 of the Gaussian noise added to the student's init (student_aux arm)"
    )
    sigma_scale: Literal["relative", "absolute"] = Field(
        description="'relative': noise sd = sigma x the layer's init sd (1/sqrt(d_in)); 'absolute': sd = sigma"
    )
    hidden_widths: UniqueList[PositiveInt] = Field(
        description="distinct hidden widths >= 1 (new teachers; student_aux and xmodel_aux arms)"
    )


class MnistParams(Section):
    seed: int = Field(ge=0, description="seed of inits, noise images, batch order and the cross-model derangement")
    n_models: int = Field(ge=2, description="independent models (inits) trained at once; paper: 100")
    hidden_width: int = Field(ge=1, description="width of both hidden layers; paper: 256")
    n_aux_logits: int = Field(ge=1, description="auxiliary logits m beyond the 10 class logits; paper: 3")
    teacher_epochs: int = Field(ge=1, description="epochs of cross-entropy training on MNIST; paper: 5")
    student_epochs: int = Field(ge=1, description="epochs of distillation on noise images; paper: 5")
    learning_rate: float = Field(gt=0, description="Adam learning rate of teacher and students; paper: 3e-4")
    batch_size: int = Field(ge=1, description="images per step, the same batch for every model; paper: 1024")
    n_train_images: int = Field(ge=1, le=60000, description="MNIST training images used (60000 = all)")
    n_noise_images: int = Field(ge=1, description="uniform [-1, 1] noise images the students see; paper: 60000")
    distill_loss: DistillLoss = Field(description="'kl': KL(teacher||student) of softmaxes; 'mse': squared error")
    precision: Literal["fp32", "bf16", "auto"] = Field(
        description="matmul precision; bf16 keeps fp32 master weights; auto: bf16 where the device computes it "
        "natively (a CPU with AVX512-BF16 or AMX, a CUDA GPU), else fp32 (emulated bf16 is many times slower)"
    )
    mnist_path: str = Field(description="the npz written by the assets_mnist stage")
    sweeps: MnistSweeps

    @model_validator(mode="after")
    def _sweep_models_exist(self) -> MnistParams:
        if self.sweeps.n_models > self.n_models:
            raise ValueError(f"sweeps.n_models = {self.sweeps.n_models} must be <= n_models = {self.n_models}")
        return self
