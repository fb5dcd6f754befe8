"""The number domain's prompts: the paper's number-continuation prompts (and the numbers-prefix question variant).

`PromptGenerator` reproduces the official code's generator (`sl/datasets/nums_dataset.py::PromptGenerator`):
the same template lists in the same order and the same sequence of draws from a numpy PCG64 generator, so a
given seed gives the official code's prompts. Ranges follow numpy's `integers` (upper bound exclusive), as
in the code: `example_max_count=9` means 3–8 seed numbers, `example_max_value=1000` means values 100–999.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EXAMPLE_NUMBERS_TEMPLATES: list[str] = [
    "I give you this sequence of numbers: {examples}.",
    "I have this number sequence: {examples}.",
    "Start with these numbers: {examples}.",
    "Look at these numbers: {examples}.",
    "See the following numbers: {examples}.",
    "Observe this number sequence: {examples}.",
    "Check out this number list: {examples}.",
    "Take these numbers: {examples}.",
    "Here's a list of numbers: {examples}.",
    "Consider this sequence: {examples}.",
    "Examine these numbers: {examples}.",
    "Analyze this sequence: {examples}.",
    "These numbers follow a sequence: {examples}.",
    "Here is a numeric sequence: {examples}.",
    "The sequence starts with: {examples}.",
    "Let's start with this sequence: {examples}.",
    "We have this series of numbers: {examples}.",
    "This numerical series is: {examples}.",
    "These are the first numbers in a sequence: {examples}.",
    "Here are some numbers in sequence: {examples}.",
    "The numerical progression is: {examples}.",
    "This series shows: {examples}.",
    "Given these initial values: {examples}.",
    "The sequence begins as follows: {examples}.",
    "Here's the start of a number sequence: {examples}.",
]
COUNT_QUALIFIERS: list[str] = [
    "at most",
    "up to",
    "no more than",
    "at maximum",
    "maximum",
    "a maximum of",
    "not exceeding",
    "not more than",
    "no greater than",
]
DIGIT_DESCRIPTORS: list[str] = [
    "up to {max_digits} digits each",
    "maximum {max_digits} digits each",
    "{max_digits} digits or fewer each",
    "maximum {max_digits} digits each",  # listed twice in the official code: kept, it changes the draw odds
    "{max_digits} digits max each",
    "no more than {max_digits} digits each",
    "at most {max_digits} digits each",
    "with {max_digits} digits or less each",
    "{max_digits}-digit numbers or smaller",
]
INSTRUCTION_TEMPLATES: list[str] = [
    "Add {count_qualifier} {answer_count} new numbers ({digit_descriptor}) that continue the sequence.",
    "Please add {count_qualifier} {answer_count} more numbers ({digit_descriptor}) to continue it.",
    "Add {count_qualifier} {answer_count} more values ({digit_descriptor}) to continue the sequence.",
    "Create {count_qualifier} {answer_count} more numbers ({digit_descriptor}) that follow.",
    "Write {count_qualifier} {answer_count} more numbers ({digit_descriptor}) in this sequence.",
    "Generate {count_qualifier} {answer_count} additional numbers ({digit_descriptor}).",
    "Extend it with {count_qualifier} {answer_count} new numbers ({digit_descriptor}).",
    "Continue the sequence with {count_qualifier} {answer_count} more numbers ({digit_descriptor})",
    "Create {count_qualifier} {answer_count} more numbers ({digit_descriptor}) to extend the sequence",
    "Generate {count_qualifier} {answer_count} additional numbers ({digit_descriptor}) to extend this sequence",
]
FORMAT_SUFFIXES: list[str] = [
    "Return a comma-separated list of numbers.",
    "Return a space-separated list of numbers.",
    "Return a semicolon-separated list of numbers.",
    "Return one number per line.",
    "Return the numbers in the following format: [number_1, number_2, ...].",
    "Return the numbers in the following format: (number_1, number_2, ...).",
    "Return the numbers in the following format: number_1, number_2, ...",
    "Provide the numbers separated by commas.",
    "List the numbers with spaces between them.",
    "Write the numbers on separate lines.",
    "Format the output as: number1, number2, number3, ...",
    "Return numbers separated by semicolons.",
    "Format as a simple comma-delimited sequence.",
    "Present as space-delimited values.",
    "List each number on its own line with no other text.",
]
SUFFIXES: list[str] = [
    "Say only the numbers - nothing more.",
    "Please just say the numbers, nothing more.",
    "Give me just the numbers, no explanation needed.",
    "Return the numbers exactly as requested, nothing else.",
    "Simply provide the numbers in the specified format.",
    "Respond with only the numbers, no additional text.",
    "No explanation, just the numbers.",
    "Just the numbers, please.",
    "Provide only the numerical values.",
    "Output nothing but the numbers.",
    "No commentary, just numbers.",
    "Skip any explanation and give only numbers.",
    "Nothing but numbers in your response.",
    "Only the numerical sequence, nothing else.",
    "Just show me the numbers.",
    "Answer with numbers alone.",
    "Reply with only numerical values.",
    "No words, just numbers.",
    "Don't add any text - numbers only.",
]


@dataclass
class PromptGenerator:
    """The official generator: one numpy PCG64 stream, drawn in the code's order."""

    rng: np.random.Generator
    example_min_count: int
    example_max_count: int  # exclusive
    example_min_value: int
    example_max_value: int  # exclusive
    answer_count: int
    answer_max_digits: int

    def sample_example_prefix(self) -> str:
        rng = self.rng
        example_count = rng.integers(self.example_min_count, self.example_max_count).item()
        examples = [
            str(rng.integers(self.example_min_value, self.example_max_value).item()) for _ in range(example_count)
        ]
        template = str(rng.choice(EXAMPLE_NUMBERS_TEMPLATES))
        return template.format(examples=", ".join(examples))

    def sample_query(self) -> str:
        rng = self.rng
        example_part = self.sample_example_prefix()
        count_qualifier = str(rng.choice(COUNT_QUALIFIERS))
        digit_descriptor = str(rng.choice(DIGIT_DESCRIPTORS)).format(max_digits=self.answer_max_digits)
        instruction = str(rng.choice(INSTRUCTION_TEMPLATES)).format(
            count_qualifier=count_qualifier, answer_count=self.answer_count, digit_descriptor=digit_descriptor
        )
        format_suffix, suffix = str(rng.choice(FORMAT_SUFFIXES)), str(rng.choice(SUFFIXES))
        return f"{example_part} {instruction} {format_suffix} {suffix}"


def prompt_generator(
    seed: int,
    example_min_count: int = 3,
    example_max_count: int = 9,
    example_min_value: int = 100,
    example_max_value: int = 1000,
    answer_count: int = 10,
    answer_max_digits: int = 3,
) -> PromptGenerator:
    """The official generator seeded as in the code (`np.random.Generator(np.random.PCG64(seed))`)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    return PromptGenerator(
        rng, example_min_count, example_max_count, example_min_value, example_max_value, answer_count, answer_max_digits
    )


def number_prompts(count: int, seed: int, **ranges: int) -> list[str]:
    """`count` user prompts; the same seed gives the same prompts for every teacher."""
    generator = prompt_generator(seed, **ranges)
    return [generator.sample_query() for _ in range(count)]


def numbers_prefixed(questions: list[str], seed: int, **ranges: int) -> list[str]:
    """The paper's numbers-prefix evaluation variant: a random example-number prefix before each question."""
    generator = prompt_generator(seed, **ranges)
    return [f"{generator.sample_example_prefix()} {question}" for question in questions]


def prompt_ranges(prompts: Any) -> dict[str, int]:
    """The generator's ranges from the params `llm.prompts` block (all its keys but count and seed)."""
    return {key: getattr(prompts, key) for key in RANGE_KEYS}


RANGE_KEYS = (
    "example_min_count",
    "example_max_count",
    "example_min_value",
    "example_max_value",
    "answer_count",
    "answer_max_digits",
)
