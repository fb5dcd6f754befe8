"""What the tiny-LM notebooks show (sublim.tinylm.views): tables whose HTML is the same on every run."""

from __future__ import annotations

import pandas as pd

from sublim.tinylm.views import captioned, grid_seed_table


def test_a_captioned_table_renders_the_same_html_every_time_and_its_ids_follow_the_caption():
    """pandas gives each styled table a random id: captioned ones take it from the caption, so an executed notebook
    has the same bytes on every run."""
    table = pd.DataFrame({"gap": [0.1, 0.2]}, index=["owl", "cat"])
    first, again = captioned(table, "seed 0"), captioned(table, "seed 0")
    assert first.data == again.data and "seed 0" in first.data
    assert repr(first) == repr(again), "the plain-text repr (an executed notebook's text/plain) holds no address"
    assert captioned(table, "seed 1").data != first.data


def test_the_grid_table_shows_list_counts_as_integers_and_the_gap_beside_the_probabilities():
    cell = {"student": 0.30, "control": 0.20, "n_student_lists": 9728, "n_control_lists": 9801}
    table = grid_seed_table({"cells": {"same init": cell}})
    assert list(table.columns) == ["student", "control", "gap", "n_student_lists", "n_control_lists"]
    assert table.loc["same init", "n_student_lists"] == 9728 and table["n_control_lists"].dtype.kind == "i"
    assert abs(table.loc["same init", "gap"] - 0.10) < 1e-12
