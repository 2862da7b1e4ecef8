# The two commands a newcomer needs: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PLUGIN_DIRS := $(wildcard plugins/*/pyproject.toml)

.PHONY: run test lint typecheck check bench clean

$(STAMP): pyproject.toml $(PLUGIN_DIRS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(foreach p,$(PLUGIN_DIRS),-e $(dir $(p)))
	touch $(STAMP)

## Run the server on the embedded default: SQLite under ./var, self-signed cert, loopback ports.
run: $(STAMP)
	$(BIN)/mailhost serve

## Run the whole test suite, then ruff and mypy.
test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy

lint: $(STAMP)
	$(BIN)/python -m ruff check .

typecheck: $(STAMP)
	$(BIN)/python -m mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
