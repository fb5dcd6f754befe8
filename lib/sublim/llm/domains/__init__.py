"""What a teacher writes: its prompts, decoding constraints and filter (numbers today; code and GSM8K later)."""
