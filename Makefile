# Two commands on a fresh machine: `make docs` builds the site, `make test` runs the tests.
# Both bootstrap a small venv holding nox and uv, then hand over to the nox sessions.

PYTHON ?= python3
VENV   := .venv
NOX    := $(VENV)/bin/nox

.PHONY: docs test lint html live notebooks bench canary linkcheck kernels system-deps browser-deps clean

docs: system-deps $(NOX)  ## build the site from scratch into _build/html
	$(NOX) -s docs

test: system-deps browser-deps $(NOX)  ## lint, then run the whole test suite
	$(NOX) -s lint tests

lint: $(NOX)  ## ruff: lint and format check
	$(NOX) -s lint

html: system-deps $(NOX)  ## rebuild only what changed
	$(NOX) -s html

live: system-deps $(NOX)  ## serve on 127.0.0.1:8000, rebuilding on every save
	$(NOX) -s docs-live

notebooks: $(NOX)  ## run every tutorial on its own, as a reader would
	$(NOX) -s notebooks

bench: system-deps $(NOX)  ## print build and graph timings
	$(NOX) -s bench

canary: system-deps $(NOX)  ## build the site against the newest Prefect 3 release (pins unchanged)
	$(NOX) -s canary

linkcheck: $(NOX)
	$(NOX) -s linkcheck

kernels: $(NOX)  ## create the legacy Prefect 1 kernel
	$(NOX) -s kernels

$(NOX): requirements/bootstrap.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements/bootstrap.txt
	touch $(NOX)

# Graphviz's `dot` draws every flow picture; no Python wheel ships it.
system-deps:
	@command -v dot >/dev/null || $(MAKE) --no-print-directory apt-install PKG=graphviz WHAT="Graphviz (dot)"

# the browser tests drive Debian's Chromium
browser-deps:
	@command -v chromium >/dev/null || $(MAKE) --no-print-directory apt-install PKG=chromium WHAT="Chromium"

apt-install:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(WHAT) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PKG) >/dev/null; \
	else \
		echo "$(WHAT) is missing. Install it with: sudo apt-get install $(PKG)  (macOS: brew install $(PKG))"; \
		exit 1; \
	fi

clean:  ## remove what builds wrote (_build); keeps the environments
	rm -rf _build
