#!/usr/bin/env bash
# The GPU check of issue 19: one GPU, at most 8 minutes, random-init models of the real shapes (no hub access).
# From the repository root:  bash benchmarks/gpu_check.sh   (or `make gpu-check`; PYTHON=... picks the interpreter)
# benchmarks/gpu_check.py says what each section measures; the results go to benchmarks/results/gpu_check.json.
# Each section runs in a process of its own under a time limit, so that one failing, or vLLM missing, leaves the
# other sections' results. On a machine without a CUDA GPU it stops at once.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA GPU here (torch sees none, or is missing): run it on a GPU machine." \
        "On a CPU, '$PY benchmarks/gpu_check.py --dry-run --out /tmp/gpu_check.json' checks the script." >&2
    exit 2
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PARTS=$(mktemp -d)
trap 'rm -rf "$PARTS"' EXIT
# section:limit in seconds, 480 in all; the cheap sections first, vLLM (the slowest start) last
for entry in peaks:20 decode_transformers:70 lora_training:60 mnist_paper:90 smoke:40 decode_vllm:150 smoke_vllm:50; do
    name=${entry%%:*}
    limit=${entry##*:}
    echo "== gpu_check $name (at most ${limit} s)"
    timeout --kill-after=10 "$limit" "$PY" benchmarks/gpu_check.py --section "$name" --part "$PARTS/$name.json"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" -eq 124 ]; then reason="stopped at its ${limit} s limit"; else reason="failed with exit code $rc"; fi
        printf '{"error": "%s: see the output of gpu_check.sh"}\n' "$reason" >"$PARTS/$name.json"
    fi
done
"$PY" benchmarks/gpu_check.py --merge "$PARTS" --out "${OUT:-benchmarks/results/gpu_check.json}"
