"""The report beside the paper: every claim wired (as data) to a metrics file, with a status that can fail."""
