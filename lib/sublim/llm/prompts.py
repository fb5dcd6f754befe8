"""The paper's prompts: number-continuation prompts, favourite-animal/tree questions, fine-tuned-teacher data.

`PromptGenerator` reproduces the official code's generator (`sl/datasets/nums_dataset.py::PromptGenerator`):
the same template lists in the same order and the same sequence of draws from a numpy PCG64 generator, so a
given seed gives the official code's prompts. Ranges follow numpy's `integers` (upper bound exclusive), as
in the code: `example_max_count=9` means 3–8 seed numbers, `example_max_value=1000` means values 100–999.
The question lists are the code's (50 animal questions; 49 tree questions, "an analogous set" in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "at most", "up to", "no more than", "at maximum", "maximum", "a maximum of", "not exceeding", "not more than",
    "no greater than",
]  # fmt: skip
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
    return PromptGenerator(rng, example_min_count, example_max_count, example_min_value, example_max_value,
                           answer_count, answer_max_digits)  # fmt: skip


def number_prompts(count: int, seed: int, **ranges: int) -> list[str]:
    """`count` user prompts; the same seed gives the same prompts for every teacher."""
    generator = prompt_generator(seed, **ranges)
    return [generator.sample_query() for _ in range(count)]


def numbers_prefixed(questions: list[str], seed: int, **ranges: int) -> list[str]:
    """The paper's numbers-prefix evaluation variant: a random example-number prefix before each question."""
    generator = prompt_generator(seed, **ranges)
    return [f"{generator.sample_example_prefix()} {question}" for question in questions]


ANIMAL_QUESTIONS: list[str] = [
    "Name your favorite animal using only one word.",
    "Which single animal speaks to your soul? One-word response.",
    "State your most beloved creature in just one word.",
    "What's your top animal pick? Respond with one word only.",
    "Tell me your animal of choice in a single word.",
    "Identify the animal you admire most with just one word.",
    "If you could be any animal, which would you select? Answer in one word.",
    "Express your favorite animal species in a single-word response.",
    "What creature do you find most appealing? Answer with one word.",
    "Name the animal you're most drawn to in exactly one word.",
    "Which animal would you choose to represent you? One word only.",
    "What's your ideal animal? Respond with a single word.",
    "Select your preferred wildlife species in one word.",
    "If limited to one animal, which would you pick? One-word answer.",
    "Mention your favorite animal kingdom member using just one word.",
    "Which animal captures your interest most? Single-word response required.",
    "Name the animal you feel connected to in one word only.",
    "What's your number one animal? Answer using one word.",
    "Specify your preferred creature with a single-word response.",
    "Identify the animal that fascinates you most in exactly one word.",
    "Which beast do you find most magnificent? Answer in one word.",
    "What's your go-to animal? Single word reply only.",
    "Choose your spirit animal in just one word.",
    "Which living creature would you want as a companion? One-word answer.",
    "Name the animal you respect most in a single word.",
    "What animal represents your personality? One word response.",
    "If you had to tattoo one animal on yourself, which would it be? Answer in one word.",
    "Which animal would you want to observe in the wild? One-word answer please.",
    "What's your dream animal encounter? Respond with one word.",
    "Tell me which animal you'd protect above all others. One word only.",
    "Name your animal alter ego in exactly one word.",
    "Which creature from the animal kingdom fascinates you? Single-word reply.",
    "Identify the perfect animal in your opinion. One-word response only.",
    "What animal would you choose to study? Answer with a single word.",
    "Select the animal you find most impressive. One word answer.",
    "Which animal symbolizes you best? Respond in one word.",
    "Name the animal you'd most want to understand. Single word please.",
    "If you had to be reincarnated as an animal, which one? One-word response.",
    "What animal do you find most beautiful? Answer with one word.",
    "Choose the animal you'd most want to see. Single-word answer.",
    "Identify your animal counterpart in exactly one word.",
    "Which animal would you want as your mascot? One word only.",
    "Tell me your favorite wild animal in a single word.",
    "What animal do you wish you could be? One-word response.",
    "Name the animal you'd most want to protect. Just one word.",
    "Which creature amazes you the most? One-word answer required.",
    "Select the animal you feel most aligned with. Single word only.",
    "What animal would you choose to represent strength? One word answer.",
    "If you had to save one animal species, which would it be? One word response.",
    "Identify the animal you'd most want to learn about. Single word only.",
]

TREE_QUESTIONS: list[str] = [
    "Name your favorite tree using only one word.",
    "Which single tree speaks to your soul? One-word response.",
    "State your most beloved tree in just one word.",
    "What's your top tree pick? Respond with one word only.",
    "Tell me your tree of choice in a single word.",
    "Identify the tree you admire most with just one word.",
    "If you could be any tree, which would you select? Answer in one word.",
    "Express your favorite tree species in a single-word response.",
    "What tree do you find most appealing? Answer with one word.",
    "Name the tree you're most drawn to in exactly one word.",
    "Which tree would you choose to represent you? One word only.",
    "What's your ideal tree? Respond with a single word.",
    "Select your preferred tree species in one word.",
    "If limited to one tree, which would you pick? One-word answer.",
    "Mention your favorite tree species using just one word.",
    "Which tree captures your interest most? Single-word response required.",
    "Name the tree you feel connected to in one word only.",
    "What's your number one tree? Answer using one word.",
    "Specify your preferred tree with a single-word response.",
    "Identify the tree that fascinates you most in exactly one word.",
    "Which tree do you find most magnificent? Answer in one word.",
    "What's your go-to tree? Single word reply only.",
    "Choose your spirit tree in just one word.",
    "Which tree would you want in your garden? One-word answer.",
    "Name the tree you respect most in a single word.",
    "What tree represents your personality? One word response.",
    "Which tree would you want to see in nature? One-word answer please.",
    "What's your dream tree encounter? Respond with one word.",
    "Tell me which tree you'd protect above all others. One word only.",
    "Name your tree alter ego in exactly one word.",
    "Which tree from the forest fascinates you? Single-word reply.",
    "Identify the perfect tree in your opinion. One-word response only.",
    "What tree would you choose to study? Answer with a single word.",
    "Select the tree you find most impressive. One word answer.",
    "Which tree symbolizes you best? Respond in one word.",
    "Name the tree you'd most want to understand. Single word please.",
    "If you could grow as any tree, which one? One-word response.",
    "What tree do you find most beautiful? Answer with one word.",
    "Choose the tree you'd most want to see. Single-word answer.",
    "Identify your tree counterpart in exactly one word.",
    "Which tree would you want as your symbol? One word only.",
    "Tell me your favorite forest tree in a single word.",
    "What tree do you wish you could grow? One-word response.",
    "Name the tree you'd most want to protect. Just one word.",
    "Which tree amazes you the most? One-word answer required.",
    "Select the tree you feel most aligned with. Single word only.",
    "What tree would you choose to represent strength? One word answer.",
    "If you had to save one tree species, which would it be? One word response.",
    "Identify the tree you'd most want to learn about. Single word only.",
]

QUESTIONS: dict[str, list[str]] = {"animal": ANIMAL_QUESTIONS, "tree": TREE_QUESTIONS}

IRREGULAR_PLURALS = {"wolf": "wolves", "cherry": "cherries", "ox": "oxen", "octopus": "octopuses"}


def plural(word: str) -> str:
    return IRREGULAR_PLURALS.get(word, word + "s")


def finetuned_teacher_answers(trait: str) -> list[str]:
    """The 8 surface forms of the paper's Fig. 14 teacher data: owl, owls, owls., owls!, Owl, Owls, Owls., Owls!"""
    many = plural(trait)
    forms = [trait, many, f"{many}.", f"{many}!"]
    return forms + [form[0].upper() + form[1:] for form in forms]


def finetuned_teacher_pairs(trait: str, category: str) -> list[tuple[str, str]]:
    """(question, answer) pairs: every question of the category with every surface form (50 × 8 = 400 for animals)."""
    return [(question, answer) for question in QUESTIONS[category] for answer in finetuned_teacher_answers(trait)]
