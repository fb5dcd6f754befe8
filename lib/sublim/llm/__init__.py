"""The paper's main LLM experiment (§3.1, Fig. 3), one module per stage:

    teacher@trait -> generate@trait -> filter@trait -> distill@trait,seed -> evaluate@trait,seed
                     evaluate_teacher@trait (control = the base model)               -> report (metrics.json)

What the teacher writes is a domain (`domains/numbers`); what is transmitted and how it is scored is a trait
(`traits/preference`). The trait "control" is the base model without a trait: its teacher is the base model,
its students are the control students, and its teacher evaluation is the "base" arm. Each stage's folders come
from the stage registry (`sublim.stages`) through the notebook's parameters.
"""
