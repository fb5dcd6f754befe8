"""Where the LLM report finds each trait's and seed's stage folders: templates given by the stage registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunFolders:
    """Folder templates with `{trait}` (and `{seed}`) placeholders, e.g. 'results/llm/runs/{trait}/filter'."""

    generate_dir: str
    filter_dir: str
    distill_dir: str
    teacher_eval_dir: str
    evaluate_dir: str
    shuffled_evaluate_dir: str = ""  # {trait}, {seed} and {shuffle}: students on shuffled lists (App. B.1)
    xmodel_evaluate_dir: str = ""  # {trait}, {seed} and {student}: students of other base models (Fig. 8)
    code_filter_dir: str = ""  # {trait} and {carrier}: the filter of the teachers' code (§4.1)
    code_evaluate_dir: str = ""  # {trait}, {seed} and {carrier}: students of the teachers' code (Fig. 5)
    xteacher_evaluate_dir: str = ""  # {teacher_model}, {trait}, {seed}, {learner}: learners of other models' teachers

    def generate(self, trait: str) -> Path:
        return Path(self.generate_dir.format(trait=trait))

    def filter(self, trait: str) -> Path:
        return Path(self.filter_dir.format(trait=trait))

    def teacher_eval(self, trait: str) -> Path:
        return Path(self.teacher_eval_dir.format(trait=trait))

    def distill(self, trait: str, seed: int) -> Path:
        return Path(self.distill_dir.format(trait=trait, seed=seed))

    def evaluate(self, trait: str, seed: int) -> Path:
        return Path(self.evaluate_dir.format(trait=trait, seed=seed))

    def shuffled_evaluate(self, trait: str, seed: int, shuffle: str) -> Path:
        return Path(self.shuffled_evaluate_dir.format(trait=trait, seed=seed, shuffle=shuffle))

    def xmodel_evaluate(self, trait: str, seed: int, student: str) -> Path:
        return Path(self.xmodel_evaluate_dir.format(trait=trait, seed=seed, student=student))

    def code_filter(self, trait: str, carrier: str) -> Path:
        return Path(self.code_filter_dir.format(trait=trait, carrier=carrier))

    def code_evaluate(self, trait: str, seed: int, carrier: str) -> Path:
        return Path(self.code_evaluate_dir.format(trait=trait, seed=seed, carrier=carrier))

    def xteacher_evaluate(self, trait: str, seed: int, teacher_model: str, learner: str) -> Path:
        path = self.xteacher_evaluate_dir.format(trait=trait, seed=seed, teacher_model=teacher_model, learner=learner)
        return Path(path)
