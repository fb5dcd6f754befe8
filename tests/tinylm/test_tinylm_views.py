"""What the tiny-LM notebooks show (sublim.tinylm.views): tables whose HTML is the same on every run."""

from __future__ import annotations

import pandas as pd

from sublim.tinylm.views import captioned


def test_a_captioned_table_renders_the_same_html_every_time_and_its_ids_follow_the_caption():
    """pandas gives each styled table a random id: captioned ones take it from the caption, so an executed notebook
    has the same bytes on every run."""
    table = pd.DataFrame({"gap": [0.1, 0.2]}, index=["owl", "cat"])
    first, again = captioned(table, "seed 0").to_html(), captioned(table, "seed 0").to_html()
    assert first == again and "seed 0" in first
    assert captioned(table, "seed 1").to_html() != first
