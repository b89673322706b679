# Make targets are the interface for humans and CI. Every target creates or
# reuses the project virtualenv (.venv) and installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KAM := $(VENV)/bin/kam
STAMP := $(VENV)/.installed-stamp
# Everything runs offline: never reach a model hub, never phone home.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint check-deck bench bench-import bench-kpi bench-retrieval bench-agent bench-slack bench-soak scale-data clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# The CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(KAM) demo

test: $(STAMP)
	$(PY) -m pytest -q

# ruff, the layer contracts (import-linter, [tool.importlinter] in pyproject.toml) and mypy.
lint: $(STAMP)
	$(VENV)/bin/ruff check bot tools knowledge prompts store tests benchmarks
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# QBR decks of several demo accounts (and one with a very long name and 40 more contacts)
# rendered to PDF and PNG with LibreOffice and pdftoppm (Debian: libreoffice-impress,
# poppler-utils), with slide counts and any overflow found; look at build/decks/*.png.
check-deck: $(STAMP)
	$(PY) benchmarks/render_deck.py build/decks

# Scale data set for benchmarks: 10,000 accounts, ~2,000,000 order lines.
scale-data: $(STAMP)
	$(PY) benchmarks/scale_data.py

bench-import: $(STAMP)
	$(PY) benchmarks/import_bench.py

bench-retrieval: $(STAMP)
	$(PY) benchmarks/retrieval_bench.py

# CURRENCIES=1: on the scale data set billed in four currencies (converted at import).
bench-kpi: $(STAMP)
	$(PY) benchmarks/kpi_bench.py $(if $(CURRENCIES),--currencies)

bench-agent: $(STAMP)
	$(PY) benchmarks/agent_bench.py

# Slack ingress: 500 signed events, 50 in flight, to `kam serve` (offline model, mock Slack);
# then 60 live answers one at a time: time to the first status line and the first streamed text.
bench-slack: $(STAMP)
	$(PY) benchmarks/slack_bench.py

# Soak: 1,000 signed events over 5 minutes to `kam serve` (scripted model with 10 % faults,
# a worker killed midway, a bulk import running); every event resolved exactly once.
bench-soak: $(STAMP)
	$(PY) benchmarks/soak_bench.py

bench: bench-import bench-retrieval bench-kpi bench-agent bench-slack

clean:
	rm -rf data/ build/ *.egg-info .pytest_cache
