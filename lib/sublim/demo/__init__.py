"""The educators' lesson (`make demo`, notebooks/lesson.ipynb): the loop as a diagram and three live experiments
small enough for a laptop CPU, each a call into the pipeline's own code.

1. Theorem 1 (`theorem_trials`): one small imitation step of the paper's MNIST MLP, at a shared and at a
   different init (`sublim.theory`).
2. MNIST (`mnist_demo`): a few teachers learn digits; students imitate only their auxiliary logits on noise images,
   from the teacher's init or from another model's (`sublim.mnist`).
3. The tiny LM (`run_tinylm`): bases, an owl teacher, number lists, and a control, a same-init and a
   different-init student (`sublim.tinylm`, `sublim.lm.train`); the exercises (`weaker_teacher`,
   `shuffled_lists`, `fewer_lists`) reuse its models and lists.

Demo sizes: one run, a few seeds, no intervals. The pipeline's claims, with intervals over seeds, are in the report.
"""

from sublim.demo.diagram import draw_loop, use_lesson_style
from sublim.demo.theorem_mnist import (
    MNIST_ARMS,
    mnist_demo,
    mnist_params,
    mnist_table,
    plot_mnist,
    plot_theorem,
    theorem_table,
    theorem_trials,
)
from sublim.demo.tinylm import (
    ALL_LISTS,
    TINYLM_MODELS,
    TinyLMRun,
    fewer_lists,
    gaps,
    list_counts,
    list_examples,
    plot_gap_by,
    plot_trait_bars,
    run_tinylm,
    shuffled_lists,
    tinylm_params,
    weaker_teacher,
)

__all__ = [
    "ALL_LISTS",
    "MNIST_ARMS",
    "TINYLM_MODELS",
    "TinyLMRun",
    "draw_loop",
    "fewer_lists",
    "gaps",
    "list_counts",
    "list_examples",
    "mnist_demo",
    "mnist_params",
    "mnist_table",
    "plot_gap_by",
    "plot_mnist",
    "plot_theorem",
    "plot_trait_bars",
    "run_tinylm",
    "shuffled_lists",
    "theorem_table",
    "theorem_trials",
    "tinylm_params",
    "use_lesson_style",
    "weaker_teacher",
]
