#!/usr/bin/env bash
# A Slurm array over the LLM grid: array task i is worker i of N, on one GPU (docs/gpu_fanout.md). From the
# repository root, on a filesystem the nodes share (the workers' worktrees use this workspace's DVC cache):
#   dvc repro validate_params assets_llm                       # once, here
#   python -m sublim.fanout prepare --workers 8 --dir ../sublim-fanout
#   PHASE=teachers sbatch --array=0-7 scripts/fanout_slurm.sh  # wait for the array to finish, then
#   python -m sublim.fanout gather ../sublim-fanout/worker*
#   python -m sublim.fanout prepare --workers 8 --dir ../sublim-fanout   # again: the workers get the new dvc.lock
#   PHASE=students sbatch --array=0-7 scripts/fanout_slurm.sh  # then gather again, and `dvc repro` here
# Written for this project; not yet run on a Slurm cluster. Adapt the resources to your cluster.
#SBATCH --job-name=sublim-fanout
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=96G
#SBATCH --time=24:00:00
#SBATCH --output=sublim-fanout-%A_%a.log
set -euo pipefail
: "${PHASE:?set PHASE=teachers or PHASE=students}"
: "${SLURM_ARRAY_TASK_ID:?submit it as an array: sbatch --array=0-N scripts/fanout_slurm.sh}"
ROOT=${SLURM_SUBMIT_DIR:-$PWD}
FANOUT_DIR=${FANOUT_DIR:-$ROOT/../sublim-fanout}
cd "$ROOT"
source "${VENV:-.venv}/bin/activate"
# Slurm sets CUDA_VISIBLE_DEVICES to the GPU it gave this task
exec python -m sublim.fanout worker --phase "$PHASE" --worker "$SLURM_ARRAY_TASK_ID" \
    --workers "$SLURM_ARRAY_TASK_COUNT" --dir "$FANOUT_DIR/worker$SLURM_ARRAY_TASK_ID"
