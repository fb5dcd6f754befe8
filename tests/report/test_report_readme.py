"""README.md's results section from the headline table of a fake project, and back in sync."""

from __future__ import annotations

import json

from sublim import readme
from sublim.core.stats import estimate
from sublim.report import claims


def test_readme_section_round_trip(fake_project, tmp_path):
    root, cfg = fake_project
    headline = claims.write_headline(claims.headline_table(cfg, root), tmp_path / "out")
    readme_path = tmp_path / "README.md"
    readme_path.write_text(f"# Title\n\n## Results\n\n{readme.START}\nold\n{readme.END}\n\n## After\n")
    assert readme.out_of_sync(readme_path, headline, cfg, root) == [
        f"{readme_path}'s results section differs from {headline}: run `python -m sublim.readme`"
    ]
    assert readme.main(["--readme", str(readme_path), "--headline", str(headline)]) == 0
    text = readme_path.read_text()
    assert text.startswith("# Title\n\n## Results\n\n") and text.endswith(f"{readme.END}\n\n## After\n")
    assert "| **Fig. 3** owl student above control | *effect: vs our own control*<br>student − control | ≈+0.49" in text
    assert "old" not in text and "⚠️ confounded" in text
    assert "every trial" not in text and "Detailed rows in the report only: 1." in text  # readme: false
    summary = readme.summary_line(readme.read_headline(headline))
    assert summary.startswith("9 experimental claims (3 level, 5 effect, 1 null): 2 reproduced, 2 direction")
    assert "1 null at this scale, 1 confounded, 2 not run." in summary
    assert summary.endswith("2 checks of a proof (Theorem 1), not results: 2 passed.")
    assert readme.out_of_sync(readme_path, headline, cfg, root) == []
    # new metrics make the committed table stale even though README still matches it
    (root / "results/toy/metrics.json").write_text(json.dumps({"arms": {"teacher": estimate([0.5, 0.6])}}))
    assert "differs from the metrics files" in readme.out_of_sync(readme_path, headline, cfg, root)[0]
