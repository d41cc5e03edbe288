# The two commands of the README: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rmds-installed

.PHONY: setup demo test lint docs clean

$(STAMP): pyproject.toml setup.py $(wildcard rmds/_native/*.c)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,spark]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/rmds demo

test: setup
	@bash scripts/ensure-postgres.sh
	@bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check rmds tests benchmarks
	$(BIN)/mypy

lint: setup
	$(BIN)/ruff check rmds tests benchmarks
	$(BIN)/mypy

docs: setup
	$(BIN)/python -m rmds.docgen

clean:
	rm -rf $(VENV) build *.egg-info
