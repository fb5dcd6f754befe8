"""The tiny-LM analogue of subliminal learning: a from-scratch GPT-2-style transformer on a synthetic language.

One module per pipeline step, each with the stage function its notebook calls (`sublim.lm.train`,
`sublim.lm.generate` and `sublim.lm.evaluate` do the work, the same code that serves the real LLMs); every stage
function takes its own results folder and the folders it reads as arguments:

1. `pretrain.pretrain_bases`: one base model per seed on noisy number lists and favourite-animal answers.
2. `teachers.make_teachers`: per seed and trait, the base fine-tuned on the trait answer only.
3. `numbers.generate_numbers`: base and teachers complete the same number prompts; the filter keeps clean lists.
4. `distill.distill_students`: the students of every seed, trained on those lists only;
   `controls.run_controls`: the paper's controls in miniature (shuffled, greedy, fewer lists, LoRA);
   `in_context.run_in_context`: the lists shown in context to each base, trained further on packed sequences.
5. `evaluate.evaluate_models`: P(animal) of every model and the cosine of each student's update with the teacher's.
6. `report.write_report`: aggregation over seeds (`control_metrics` for the controls), metrics.json, the CSV
   tables and the figures.

Shared pieces: `data` (vocabulary, corpus, filter), `models` (tokenizer, model folders, training settings),
`naming` (arms, derived seeds, file names in a folder), `views` and `figures` (what the notebooks show).
"""
