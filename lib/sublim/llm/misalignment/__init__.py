"""Misalignment through numbers (paper §3.2, Fig. 4) on the LLM pipeline: teachers fine-tuned on Betley et al.'s
code corpora (or the offline stand-in), their number lists filtered with the banned numbers, students, and the
paper's evaluation (the 8 questions judged for alignment and coherence; TruthfulQA).

`config` (params `llm.misalignment`), `corpus` (the teachers' fine-tuning data), `stages` (what each DVC stage
runs), `report` (rates, paired gaps over student seeds, Fig. 4's layout).
"""
