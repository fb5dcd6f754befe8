"""What is transmitted and how it is scored (preferences today; misalignment later)."""
