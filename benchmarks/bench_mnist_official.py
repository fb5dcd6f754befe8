"""The paper's official MNIST script, timed on this machine beside ours (a script, not a test).

    python benchmarks/bench_mnist_official.py --repo PATH/TO/subliminal-learning --models 10

Runs `scripts/run_mnist_experiment.py` from a checkout of the official repository (github.com/MinhxLe/
subliminal-learning) as it is, with two substitutions made in memory: `N_MODELS` (100 in the script) and
torchvision's MNIST download, replaced by this project's offline MNIST asset (the same ToTensor + Normalize(0.5,
0.5) pixels); its final `plt.show()` draws nothing (Agg backend). Nothing of the official code is copied here.
Writes the wall time (the script's body: data, training, evaluation), peak memory and the six arms' mean
accuracies to benchmarks/results/bench_mnist_official.json; compare with `bench_mnist.py --accuracy`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import resource
import sys
import time
import types
from pathlib import Path

import matplotlib
import numpy as np
import torch

OUT = Path(__file__).parent / "results" / "bench_mnist_official.json"
SCRIPT = "scripts/run_mnist_experiment.py"


def offline_torchvision(mnist_npz: Path) -> types.ModuleType:
    """A stand-in `torchvision` whose `datasets.MNIST` serves the offline asset as (image, label) pairs."""
    arrays = np.load(mnist_npz)

    class MNIST(list):
        def __init__(self, root, download=True, train=True, transform=None):
            split = "train" if train else "test"
            pixels = torch.from_numpy(arrays[f"{split}_images"].astype(np.float32) / 255.0).unsqueeze(1)
            labels = arrays[f"{split}_labels"].astype(np.int64).tolist()
            super().__init__(zip((pixels - 0.5) / 0.5, labels, strict=True))

    module = types.ModuleType("torchvision")
    module.datasets = types.SimpleNamespace(MNIST=MNIST)
    unused = lambda *args: None  # noqa: E731 (the transforms are applied above)
    module.transforms = types.SimpleNamespace(Compose=unused, ToTensor=unused, Normalize=unused)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="a checkout of the official repository")
    parser.add_argument("--models", type=int, default=10, help="N_MODELS (the script's default: 100)")
    parser.add_argument("--mnist", type=Path, default=Path("results/assets/mnist/mnist.npz"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    source = (args.repo / SCRIPT).read_text()
    if source.count("N_MODELS = 100") != 1:
        raise SystemExit(f"{args.repo / SCRIPT}: no single `N_MODELS = 100` line to set; is it the paper's script?")
    matplotlib.use("Agg")
    sys.modules["torchvision"] = offline_torchvision(args.mnist)
    printed = io.StringIO()
    started = time.perf_counter()
    code = compile(source.replace("N_MODELS = 100", f"N_MODELS = {args.models}"), SCRIPT, "exec")
    with contextlib.redirect_stdout(printed):
        exec(code, {"__name__": "__main__"})
    seconds = time.perf_counter() - started
    means = dict(re.findall(r"^(\S.*?)\s{2,}([0-9.]+)\s+[0-9.]+$", printed.getvalue(), flags=re.MULTILINE))
    result = {
        "script": SCRIPT,
        "n_models": args.models,
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "mean_accuracy": {arm: float(value) for arm, value in means.items()},
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
