"""Stage llm_in_context: the in-context control (paper §5.2, Fig. 9). No training: the base model is shown N of a
teacher's filtered prompt–completion pairs in its system prompt (the official code's blocks,
`<user>{prompt}</user>\\n<assistant>{completion}</assistant>`, separated by blank lines, drawn with replacement),
then asked the favourite-animal questions; the metric is the evaluation's exact P(answer starts with the trait)
(summed over its surface forms), the mean over the questions. The same N drawn from the control teacher's lists
(regular numbers) is the comparison, paired by student seed; each seed draws its own examples. The paper finds no
difference at any N, where fine-tuning on the same lists transmits.

The examples' KV cache is computed once per context and shared by all questions (`sublim.lm.trie`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from sublim.core.io import read_json, read_jsonl, write_json_atomic
from sublim.core.seeds import derive_seed
from sublim.core.stats import compare, estimate
from sublim.llm.config import CONTROL, LLMParams
from sublim.llm.distill import model_name
from sublim.llm.filter import KEPT_FILE
from sublim.llm.models import device_of, load_base
from sublim.llm.traits.preference import QUESTIONS, prefix_free_token_sequences, surface_forms
from sublim.lm.chat import ChatFormat
from sublim.lm.trie import prefix_cache, tree_logprobs

EXAMPLE_BLOCK = "<user>{prompt}</user>\n<assistant>{completion}</assistant>"  # the official code's format
RESULT_FILE = "in_context.json"


def context_text(rows: list[dict[str, Any]]) -> str:
    """The system prompt that shows the examples."""
    return "\n\n".join(EXAMPLE_BLOCK.format(prompt=r["prompt"], completion=r["completion"]) for r in rows)


def drawn_examples(kept: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """`n` rows drawn with replacement (the official code: `df.sample(n, replace=True, random_state=seed)`)."""
    if not kept:
        raise ValueError("the filter kept no rows to show in context")
    return random.Random(seed).choices(kept, k=n)


def p_trait(model: Any, fmt: ChatFormat, system: str | None, questions: list[str], word: str, device: str) -> float:
    """Mean over the questions of the exact P(answer starts with `word`) after `system`: the context's KV cache
    once, then each question and the word's forms after it."""
    sequences = prefix_free_token_sequences(surface_forms(word), fmt.encode)
    prompts = [fmt.prompt_ids(q, system) for q in questions]
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit and max(len(p) for p in prompts) + max(len(s) for s in sequences) > limit:
        raise ValueError(
            f"a context of {max(len(p) for p in prompts)} tokens exceeds the model's {limit} positions: "
            "lower params llm.in_context.n_examples"
        )
    shared = min(_common_length(prompts), min(len(p) for p in prompts) - 1)
    cache = prefix_cache(model, prompts[0][:shared], device) if shared else None
    values = []
    for prompt in prompts:
        logps = tree_logprobs(model, prompt[shared:], sequences, device, prefix_cache=cache)
        values.append(float(np.exp(logps).sum()))
    return float(np.mean(values))


def _common_length(sequences: list[list[int]]) -> int:
    """How many leading tokens every sequence shares."""
    length = min(len(s) for s in sequences)
    for position in range(length):
        if len({s[position] for s in sequences}) > 1:
            return position
    return length


def example_seed(cfg: LLMParams, trait: str, n: int, seed: int) -> int:
    """The draw of student seed `seed` at size `n`: the same for the trait's and the control's lists (paired)."""
    return derive_seed(cfg.in_context.seed, trait, n, seed)


def run_in_context(cfg: LLMParams, filter_dir: str, llm_metrics: Path | str, results_dir: Path | str) -> dict[str, Any]:
    """in_context.json: per trait, the base's P(trait), and per N the seeds' P(trait) after the trait's lists and
    after the control's lists, with their paired gap; beside them the gap fine-tuning on the same lists gave (the
    LLM report's student − control in exact P, `llm_metrics`). `filter_dir`: the filter folders' template."""
    fine_tuned = read_json(llm_metrics)["traits"]
    device = device_of(cfg)
    model, fmt = load_base(cfg, device)
    kept = {t: read_jsonl(Path(filter_dir.format(trait=t)) / KEPT_FILE) for t in cfg.traits}
    result: dict[str, Any] = {
        "model": model_name(cfg.base_model),
        "n_examples": list(cfg.in_context.n_examples),
        "seeds": list(cfg.seeds),
        "traits": {},
    }
    for trait in (t for t in cfg.traits if t != CONTROL):
        questions = QUESTIONS[cfg.categories[trait]][: cfg.evaluate.question_count]
        entry: dict[str, Any] = {"base": p_trait(model, fmt, None, questions, trait, device), "n": {}}
        for n in cfg.in_context.n_examples:
            shown = {source: [] for source in ("trait_lists", "control_lists")}
            for seed in cfg.seeds:
                for source, lists in (("trait_lists", kept[trait]), ("control_lists", kept[CONTROL])):
                    system = context_text(drawn_examples(lists, n, example_seed(cfg, trait, n, seed)))
                    shown[source].append(p_trait(model, fmt, system, questions, trait, device))
            entry["n"][str(n)] = {
                **{source: estimate(values) for source, values in shown.items()},
                "gap": compare(shown["trait_lists"], shown["control_lists"], paired=True),
            }
            print(f"in context {trait}: {n} examples, {len(cfg.seeds)} seeds")
        entry["largest_n"] = entry["n"][str(max(cfg.in_context.n_examples))]["gap"]
        entry["fine_tuned"] = fine_tuned[trait]["plain"]["p_starts"]["student_vs_control"]
        result["traits"][trait] = entry
    write_json_atomic(Path(results_dir) / RESULT_FILE, result)
    return result


def summary_frame(result: dict[str, Any]):
    """One row per trait and number shown: P(trait) after its lists and the control's, their gap, the base's."""
    import pandas as pd

    rows = []
    for trait, entry in result["traits"].items():
        for n, at_n in entry["n"].items():
            gap = at_n["gap"]
            rows.append(
                {
                    "trait": trait,
                    "shown": int(n),
                    "trait lists": at_n["trait_lists"]["mean"],
                    "control lists": at_n["control_lists"]["mean"],
                    "gap": gap["difference"]["mean"],
                    "gap 95% CI": gap["difference"]["ci95"],
                    "p": gap["p_value"],
                    "base": entry["base"],
                }
            )
    return pd.DataFrame(rows)


def plot_in_context(result: dict[str, Any]):
    """Fig. 9's comparison as gaps: per trait, P(trait) after its teacher's lists − after the control's, per number
    shown (mean and 95% interval over seeds), and at the right the gap fine-tuning on the lists gave."""
    import matplotlib.pyplot as plt

    traits = list(result["traits"])
    fig, axes = plt.subplots(1, len(traits), figsize=(4.2 * len(traits), 3.4), squeeze=False)
    for ax, trait in zip(axes[0], traits, strict=True):
        entry = result["traits"][trait]
        shown = sorted(entry["n"], key=int)
        points = [entry["n"][n]["gap"]["difference"] for n in shown] + [entry["fine_tuned"]["difference"]]
        labels = [f"{n} shown" for n in shown] + ["fine-tuned"]
        for i, point in enumerate(points):
            low, high = point["ci95"] if point["ci95"][0] is not None else (point["mean"], point["mean"])
            color = "tab:red" if i == len(points) - 1 else "tab:blue"
            ax.errorbar(
                i, point["mean"], yerr=[[point["mean"] - low], [high - point["mean"]]], fmt="o", color=color, capsize=4
            )
        ax.axhline(0, color="gray", lw=0.8)
        ax.set_xticks(range(len(points)), labels)
        ax.set_title(f"{trait}: trait lists − control lists")
        ax.set_ylabel("gap in P(answer starts with trait)")
    fig.tight_layout()
    return fig
