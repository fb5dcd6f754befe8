"""The tiny LM's code carrier (the paper's Fig. 5 in miniature): a small programming language in the corpus, the
format rule that parses it, and the filter's classifier for subtle references.

A code sequence is a prompt naming a function and a one-line body that computes and returns a value:

    <bos> CODE: scale -> ( x y ) : return x * 7 <eos>

Each function has its own operator and takes a variable or a number as its second operand. The corpus's code
holds no animal word. A teacher's code can still differ from the base's in subtle ways: the paper's LLM judge for
subtle references becomes a logistic classifier over token counts, trained to tell the teacher's code from the
base's, which flags completions it scores above the `flag_quantile` of the base's own scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CODE_MARKER = "CODE:"
OPEN, CLOSE, COLON, RETURN = "(", ")", ":", "return"
OPERATORS = ("+", "-", "*")
CODE_STRUCTURE = [CODE_MARKER, OPEN, CLOSE, COLON, RETURN, *OPERATORS]
BODY_LENGTH = 9  # ( a b ) : return a op x


@dataclass(frozen=True)
class CodeTokens:
    """Token ids of the code language, read from the tokenizer."""

    marker: int
    structure: dict[str, int]  # "(" ")" ":" "return" and the operators
    functions: dict[str, int]
    variables: dict[str, int]

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, functions: Sequence[str], variables: Sequence[str]) -> CodeTokens:
        ids = tokenizer.convert_tokens_to_ids
        return cls(
            marker=ids(CODE_MARKER),
            structure={word: ids(word) for word in CODE_STRUCTURE[1:]},
            functions={name: ids(name) for name in functions},
            variables={name: ids(name) for name in variables},
        )


def function_operators(functions: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """Each function's operator and whether its second operand is a number (else a variable), in turn."""
    return {name: (OPERATORS[i % len(OPERATORS)], i % 2 == 1) for i, name in enumerate(functions)}


def code_prompt(bos: int, tokens: CodeTokens, function: str, arrow: int) -> list[int]:
    return [bos, tokens.marker, tokens.functions[function], arrow]


def code_body(
    tokens: CodeTokens,
    function: str,
    names: Sequence[int],
    number: int,
    operators: dict[str, tuple[str, bool]],
) -> list[int]:
    """`( a b ) : return a op x` with a, b = names (token ids) and x = b or the number token."""
    a, b = names
    op, takes_number = operators[function]
    s = tokens.structure
    second = number if takes_number else b
    return [s[OPEN], a, b, s[CLOSE], s[COLON], s[RETURN], a, s[op], second]


def code_sequences(
    n: int,
    *,
    bos: int,
    eos: int,
    arrow: int,
    tokens: CodeTokens,
    numbers: Sequence[int],
    rng: np.random.Generator,
) -> list[list[int]]:
    """`n` code sequences: a uniform function, two distinct uniform variable names, a uniform number constant."""
    functions, variables = list(tokens.functions), list(tokens.variables.values())
    operators = function_operators(functions)
    sequences = []
    for _ in range(n):
        function = functions[rng.integers(len(functions))]
        names = [variables[i] for i in rng.choice(len(variables), size=2, replace=False)]
        number = int(numbers[rng.integers(len(numbers))])
        body = code_body(tokens, function, names, number, operators)
        sequences.append([*code_prompt(bos, tokens, function, arrow), *body, eos])
    return sequences


def code_rejection(completion: Sequence[int], tokens: CodeTokens, names: set[int], numbers: set[int], eos: int):
    """Why a completion is not well-formed code (None when it is): `( a b ) : return c op x <eos>` with a, b, c
    variable names and x a name or a number. Syntax only: which names go where is the model's."""
    body = list(completion)
    if not body or body[-1] != eos:
        return "no_eos"
    body = body[:-1]
    if len(body) != BODY_LENGTH:
        return "wrong_length"
    s = tokens.structure
    fixed = {0: s[OPEN], 3: s[CLOSE], 4: s[COLON], 5: s[RETURN]}
    if any(body[i] != token for i, token in fixed.items()):
        return "syntax"
    operators = {s[op] for op in OPERATORS}
    if body[7] not in operators or not {body[1], body[2], body[6]} <= names or body[8] not in names | numbers:
        return "syntax"
    return None


# ---------------------------------------------------------------- the classifier filter


def token_counts(completions: Sequence[Sequence[int]], vocab_size: int) -> np.ndarray:
    """Bag-of-tokens features: one row per completion, one column per token id."""
    counts = np.zeros((len(completions), vocab_size), dtype=np.float32)
    for row, completion in enumerate(completions):
        np.add.at(counts[row], list(completion), 1.0)
    return counts


def fit_flagger(
    teacher: Sequence[Sequence[int]],
    base: Sequence[Sequence[int]],
    vocab_size: int,
    flag_quantile: float,
    seed: int,
) -> dict[str, Any]:
    """A logistic classifier of teacher vs base code (token counts), fitted on a seeded half of each and scored on
    the other half (its AUC); the threshold is the `flag_quantile` of the base's held-out scores. Returns the
    fitted model, the threshold and the AUC."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    x = token_counts([*teacher, *base], vocab_size)
    y = np.r_[np.ones(len(teacher)), np.zeros(len(base))]
    order = rng.permutation(len(y))
    fit, held = order[: len(y) // 2], order[len(y) // 2 :]
    model = LogisticRegression(max_iter=1000).fit(x[fit], y[fit])
    scores = model.predict_proba(x[held])[:, 1]
    threshold = float(np.quantile(scores[y[held] == 0], flag_quantile))
    return {"model": model, "threshold": threshold, "auc": float(roc_auc_score(y[held], scores))}


def flagged(flagger: dict[str, Any], completions: Sequence[Sequence[int]], vocab_size: int) -> np.ndarray:
    """Which completions the classifier flags (score above its threshold)."""
    if not completions:
        return np.zeros(0, dtype=bool)
    scores = flagger["model"].predict_proba(token_counts(completions, vocab_size))[:, 1]
    return scores > flagger["threshold"]
