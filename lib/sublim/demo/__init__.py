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
