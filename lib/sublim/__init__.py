"""Helper library of the subliminal-learning companion."""
