# kithost: `make serve` runs it, `make test` runs the whole suite. Both set up everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_DIR := tests/node
NODE_INSTALLED := $(NODE_DIR)/node_modules/.installed

.PHONY: serve test lint typecheck pytest lock clean

$(INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(NODE_INSTALLED): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --silent --no-audit --no-fund
	touch $@

serve: $(INSTALLED)
	$(BIN)/kithost serve

test: $(INSTALLED) $(NODE_INSTALLED) lint typecheck pytest

lint: $(INSTALLED)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(INSTALLED)
	$(BIN)/mypy

pytest: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/pytest

# Refresh requirements.lock from pyproject.toml (run after changing dependencies).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet ".[dev]"
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^kithost' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules .mypy_cache .pytest_cache .ruff_cache
