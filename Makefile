# Two commands for a fresh machine (see README):
#   make reproduce   set up .venv and run the whole pipeline (`dvc repro`) on the embedded CPU default
#   make test        set up .venv and run the test suite
VENV ?= .venv
PYTHON ?= python3
TORCH_DEFAULT ?= torch==2.13.0
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONUNBUFFERED := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
PY := $(VENV)/bin/python

.PHONY: setup assets reproduce test lint format lab clean-results

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
	dvc repro assets_llm assets_mnist

# The README's results section is regenerated from the report's table after every run.
reproduce: setup assets
	dvc repro
	$(PY) -m sublim.readme
	@echo "Done. Results: README.md (section Results), results/report/html/report.html, \`dvc metrics show\`."

# pytest exits 5 when it collects no test: that is a failure of the suite, said plainly.
test: setup assets
	@HF_HUB_OFFLINE=1 $(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check lib tests notebooks
	$(VENV)/bin/ruff format --check lib tests

format: setup
	$(VENV)/bin/ruff check --fix lib tests notebooks
	$(VENV)/bin/ruff format lib tests

lab: setup
	$(VENV)/bin/jupyter lab results/ notebooks/
