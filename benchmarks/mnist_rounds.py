"""Paired rounds of the official MNIST script and ours on one machine (a script, not a test).

    python benchmarks/mnist_rounds.py benchmarks/results/amx

A folder holds official_roundK.json (bench_mnist_official.py --out) and ours_roundK.json (bench_mnist.py --fresh
--out) for K = 1, 2, ...: each round ran the two one after the other, so a round's ratio compares runs made under the
same load (on a shared virtual machine the speed drifts between rounds). Prints and writes summary.json: per round
the official seconds, ours in each precision (seconds, official/ours, peak memory), and the range over rounds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def rounds(folder: Path) -> list[dict[str, Any]]:
    rows = []
    for official_file in sorted(folder.glob("official_round*.json")):
        k = official_file.stem.removeprefix("official_round")
        official = json.loads(official_file.read_text())
        ours = json.loads((folder / f"ours_round{k}.json").read_text())
        row: dict[str, Any] = {"round": int(k), "official_s": official["seconds"], "device": ours["device"]}
        for precision in ("bf16", "fp32"):
            run = ours["fresh"].get(precision)
            if run:
                row[precision] = {
                    "seconds": run["seconds"],
                    "official_over_ours": official["seconds"] / run["seconds"],
                    "peak_rss_gib": run["peak_rss_gib"],
                }
        rows.append(row)
    return sorted(rows, key=lambda r: r["round"])


def ranges(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"official_s": [min(r["official_s"] for r in rows), max(r["official_s"] for r in rows)]}
    for precision in ("bf16", "fp32"):
        runs = [r[precision] for r in rows if precision in r]
        out[precision] = {key: [min(x[key] for x in runs), max(x[key] for x in runs)] for key in runs[0]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    folder = parser.parse_args().folder
    rows = rounds(folder)
    summary = {"rounds": rows, "range": ranges(rows)}
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for r in rows:
        cells = [
            f"{p} {r[p]['seconds']:.1f} s ({r[p]['official_over_ours']:.2f}x, {r[p]['peak_rss_gib']:.2f} GiB)"
            for p in ("bf16", "fp32")
            if p in r
        ]
        print(f"round {r['round']}: official {r['official_s']:.1f} s; " + "; ".join(cells))
    print(json.dumps(summary["range"]))


if __name__ == "__main__":
    main()
