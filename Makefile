# kithost: `make serve` runs it, `make test` runs the whole suite. Both set up everything first.
# kithost needs Python >= 3.12 (Agent Builder exports use PEP 701 f-strings). PYTHON=... overrides;
# otherwise the first 3.12+ interpreter found: python3.13/python3.12/python3 on PATH, then pyenv's.
PYTHON ?= $(shell sh scripts/find-python.sh)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
NODE_DIR := tests/node
NODE_INSTALLED := $(NODE_DIR)/node_modules/.installed
# The console's browser tests drive Debian's Chromium (Playwright cannot download its own here).
CHROMIUM := /usr/bin/chromium
# Two kithost processes behind a real load balancer (tests/test_runs_cluster.py): Debian's HAProxy.
HAPROXY := /usr/sbin/haproxy
# The container image's test (tests/test_container_image.py): Debian's podman with the runc
# runtime, and debootstrap for the local base image it builds on.
CONTAINER_TOOLS := /usr/bin/podman /usr/sbin/runc /usr/sbin/debootstrap

.PHONY: serve test lint typecheck pytest fuzz screenshots bench lock clean docs-cli

$(INSTALLED): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "kithost needs Python 3.12 or newer: install python3.12 (or pyenv install 3.12), or run make PYTHON=/path/to/python3.12" >&2; exit 1; }
	@if test -x $(BIN)/python && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then echo "Recreating $(VENV): it was built with Python < 3.12"; rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(NODE_INSTALLED): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --silent --no-audit --no-fund
	touch $@

$(CHROMIUM):
	test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)

$(HAPROXY):
	test -x $(HAPROXY) || (apt-get update && apt-get install -y haproxy)

$(CONTAINER_TOOLS):
	test -x $@ || (apt-get update && apt-get install -y podman runc debootstrap)

# The chat at http://127.0.0.1:8000 signs in with the demo sign-in (off unless this is set).
# make serve PORT=8080 HOST=0.0.0.0 WORKFLOWS=./workflows: where to listen, which folder (read
# from this command line only: shells often export HOST or PORT for other purposes). Any other
# setting passes through, on this line or from the environment, e.g. the model provider:
# make serve OPENAI_BASE_URL=http://127.0.0.1:11434/v1 KITHOST_MODEL_API=chat_completions
given = $(if $(filter command line,$(origin $(1))),$(2))
serve: $(INSTALLED)
	KITHOST_DEMO_SIGNIN=true $(call given,WORKFLOWS,KITHOST_WORKFLOWS_DIR=$(WORKFLOWS)) \
	  $(BIN)/kithost serve $(call given,HOST,--host $(HOST)) $(call given,PORT,--port $(PORT))

test: $(INSTALLED) $(NODE_INSTALLED) $(CHROMIUM) $(HAPROXY) $(CONTAINER_TOOLS) lint typecheck pytest

lint: $(INSTALLED)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(INSTALLED)
	$(BIN)/mypy

# Test files run in parallel, each whole on one worker (its module fixtures start its servers):
# the work is mostly waiting on processes, so PYTEST_WORKERS beats the core count. 0 runs serially.
# --durations: the log names the slowest tests (and module setups), where the suite's time goes.
PYTEST_WORKERS ?= 4
pytest: $(INSTALLED) $(NODE_INSTALLED) $(CHROMIUM) $(HAPROXY) $(CONTAINER_TOOLS)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=30

# The fuzzers of `make test` (Schemathesis on /v1/openapi.json, the ChatKit protocol fuzzer) for
# longer, before a release: FUZZ_EXAMPLES per operation and request type (make test: 20), new
# inputs each run; prints each fuzzer's requests, statuses and failures. Not part of `make test`.
FUZZ_EXAMPLES ?= 100
fuzz: $(INSTALLED)
	KITHOST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -s tests/test_fuzz_openapi.py tests/test_fuzz_protocol.py

# Benchmarks B1-B6 (B1-B4 against their anchors), one table (not part of `make test`; BENCHMARKS.md).
bench: $(INSTALLED)
	$(BIN)/python -m bench

# Refresh docs/screenshot-chat.png, screenshot-admin.png, screenshot-webhooks.png and
# screenshot-overview.png from the browser tests.
screenshots: $(INSTALLED) $(CHROMIUM)
	KITHOST_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/pytest tests/test_console_browser.py -k "admin_console and sqlite"
	KITHOST_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/pytest tests/test_console_webhooks.py -k "added_in_the_console and sqlite"
	KITHOST_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/pytest tests/test_console_overview.py -k sqlite

# Refresh docs/cli.md from `kithost --help` (tests/test_docs_honest.py fails when it is stale).
docs-cli: $(INSTALLED)
	$(BIN)/python scripts/cli_docs.py

# Refresh requirements.lock from pyproject.toml (run after changing dependencies).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet ".[dev]"
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^kithost' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules .mypy_cache .pytest_cache .ruff_cache
