# Two commands for a fresh machine (see README):
#   make reproduce   set up .venv and run the whole pipeline (`dvc repro`) on the embedded CPU default
#   make test        set up .venv and run the test suite
# For educators (see README):
#   make demo        a lesson with small live experiments (2-3 min on 2 CPU cores): results/demo/lesson.html
#   make screenshots PNGs of the report, the executed notebooks and the lesson: results/screenshots/index.html
# On a CUDA machine (see README, Running on GPUs):
#   make gpu-check   the GPU check (about 8 min, no hub): benchmarks/results/gpu_check.json
VENV ?= .venv
PYTHON ?= python3
TORCH_DEFAULT ?= torch==2.13.0
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONUNBUFFERED := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
PY := $(VENV)/bin/python
# bash for `pipefail`: a recipe that pipes `dvc repro` through a filter fails when dvc fails
SHELL := bash
.SHELLFLAGS := -o pipefail -c
# `dvc repro` ends with "Use `dvc push` to send your updates to remote storage." whether or not a remote exists (no
# DVC option turns it off): while none is configured, the line is dropped (append to a `dvc repro` command)
NO_PUSH_ADVICE = $(if $(shell $(VENV)/bin/dvc remote list 2>/dev/null),,| sed -u '/^Use `dvc push` to send/d')
# JupyterLab refuses to start as root (usual in a container) without --allow-root
ALLOW_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup assets reproduce test demo screenshots lint format lab clean-results gpu-check

setup: $(VENV)/.setup-done

# Torch first, and only where none is installed: this machine serves the CPU build locally; a CUDA
# machine whose venv already has its own torch keeps it.
$(VENV)/.setup-done: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_DEFAULT)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name sublim --display-name "sublim (.venv)" >/dev/null
	@touch $@

# Fetch and verify the offline files, then build the model folder and MNIST arrays the tests also use.
assets: setup
	$(PY) -m sublim.assets
	dvc repro assets_llm assets_mnist $(NO_PUSH_ADVICE)

# The README's results section is regenerated from the report's table after every run.
reproduce: setup assets
	dvc repro $(NO_PUSH_ADVICE)
	$(PY) -m sublim.readme
	@echo "Done. Results: README.md (section Results), results/report/html/report.html, \`dvc metrics show\`."

# pytest exits 5 when it collects no test: that is a failure of the suite, said plainly.
test: setup assets
	@HF_HUB_OFFLINE=1 $(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

# The educators' lesson: notebooks/lesson.ipynb executed at its small settings (its parameters cell) into
# results/demo/, and as a page without the code (lesson.html). It reads only the MNIST arrays of `assets` (made when
# missing). The kernel warns once that its sockets to papermill, on this machine, are unencrypted TCP: line dropped.
MNIST_NPZ := results/assets/mnist/mnist.npz
demo: setup $(MNIST_NPZ)
	@mkdir -p results/demo
	HF_HUB_OFFLINE=1 $(VENV)/bin/papermill notebooks/lesson.ipynb results/demo/lesson.ipynb -k sublim \
		--cwd "$(CURDIR)" --no-progress-bar --no-log-output 2>&1 | sed -u '/running over TCP without encryption/d'
	$(VENV)/bin/jupyter nbconvert --to html --no-input --log-level ERROR results/demo/lesson.ipynb
	@echo "Done. Open results/demo/lesson.html (or results/demo/lesson.ipynb in \`make lab\`)."

$(MNIST_NPZ): | setup
	$(MAKE) assets

# Headless Chromium's screenshots of what users see (the report, every executed notebook under results/, the
# lesson) into results/screenshots/, listed in its index.html.
screenshots: setup
	$(PY) -m sublim.screenshots

# No setup first: a GPU machine may have no network; the .venv's python when there is one (with its CUDA torch)
gpu-check:
	PYTHON=$(if $(wildcard $(PY)),$(PY),python3) bash benchmarks/gpu_check.sh

lint: setup
	$(VENV)/bin/ruff check lib tests notebooks
	$(VENV)/bin/ruff format --check lib tests

format: setup
	$(VENV)/bin/ruff check --fix lib tests notebooks
	$(VENV)/bin/ruff format lib tests

# Served from the repository root: notebooks/ (the sources) and results/ (the executed copies, which rerun as they are)
lab: setup
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(ALLOW_ROOT)
