#!/usr/bin/env bash
# For a GPU machine with no network whose Python lacks some of the project's packages (this workplace's lent GPU
# machine: Python 3.12, torch 2.11, transformers 5.17, no pydantic or ruamel.yaml; see README, Running on GPUs).
#   bash benchmarks/gpu_carry.sh            here, with PyPI: the wheels into benchmarks/carry/ (git-ignored, ~20 MB)
#   bash benchmarks/gpu_carry.sh --install  there: install them without touching its torch (--no-deps, --no-index)
# Carry benchmarks/carry and results/assets/mnist (the MNIST arrays, `make assets`) with the working tree, then run
# `bash benchmarks/gpu_carry.sh --install && bash benchmarks/gpu_check.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=benchmarks/carry/wheels
PY=${PYTHON:-python3}
if [ "${1:-}" = "--install" ]; then
    "$PY" -m pip install -q --no-index --no-deps "$WHEELS"/*.whl
    "$PY" -m pip install -q --no-index --no-deps -e . 2>/dev/null || echo "gpu_carry: sublim not installed; use PYTHONPATH=lib"
    exit 0
fi
# the project's pins (pyproject.toml) of what the GPU check imports beyond torch and the machine's scientific stack
PACKAGES=(pydantic==2.14.3 pydantic-core==2.50.4 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0
          ruamel.yaml==0.19.1 ruamel.yaml.clib==0.2.15 transformers==5.23.0 tokenizers==0.23.3 peft==0.21.2)
TARGET_PYTHON=${TARGET_PYTHON:-3.12}
mkdir -p "$WHEELS"
pip download -q --no-deps --only-binary=:all: --implementation cp --python-version "$TARGET_PYTHON" \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$WHEELS" "${PACKAGES[@]}"
du -sh "$WHEELS"
