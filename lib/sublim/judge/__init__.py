"""LLM judges (paper §3.2, App. D.2; Betley et al., *Emergent Misalignment*): one interface, three backends.

- `config`: `JudgeParams`, the params block of a judge (backend, model, scoring), validated like every section.
- `prompts`: the paper's alignment and coherence judge prompts, verbatim, and how a question and answer fill them.
- `scores`: a judge's answer as a `JudgeScore`, from a probability distribution (the probability-weighted mean over
  the integers 0–100, as Betley et al. score) or from text (the parsed integer); CODE and REFUSAL recognised.
- `cache`: every judgement on disk, keyed by a hash of (judge, prompt): a rerun or a killed run pays nothing twice.
- `api`: an OpenAI-compatible chat-completions client (the paper's GPT-4o), the key read from the environment only.
- `local`: a transformers model by hub id or folder, scored exactly over the candidate answers; with the embedded
  SmolLM2 it is the offline stand-in, labelled a weak judge.
- `run`: `judge_prompts`, the front door: cached, resumable, in order.
"""
