"""What the teacher writes in the paper's main experiment: number lists; their prompts, grammar and filter."""
