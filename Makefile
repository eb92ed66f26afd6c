# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.c2m-installed
WORKSPACE ?= demo-workspace
PYTEST_ARGS ?=

.PHONY: setup demo test bench lint docs browser databases clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/c2m demo $(WORKSPACE) --verbose

# Report tests drive a real headless Chromium (and need a CJK font for Chinese screenshots):
# install Debian's packages when they are missing.
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wenquanyi; } || \
	  { echo "installing Debian's chromium and fonts-wqy-microhei for the report tests"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    ($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	      chromium fonts-wqy-microhei >/dev/null) || \
	    echo "warning: could not install chromium; browser tests will be skipped"; }

# Database tests start throw-away PostgreSQL and MariaDB servers: install Debian's packages when
# the server binaries are missing (the tests skip only where they cannot be installed).
databases:
	@{ { command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; } && \
	   { command -v mariadbd >/dev/null 2>&1 || test -x /usr/sbin/mariadbd; }; } || \
	  { echo "installing Debian's postgresql and mariadb-server for the database tests"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    ($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	      postgresql mariadb-server >/dev/null) || \
	    echo "warning: could not install postgresql/mariadb-server; database tests will be skipped"; }

test: setup browser databases
	$(PY) -m ruff check c2m_cli tests benchmarks examples
	$(PY) -m mypy
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check c2m_cli tests benchmarks examples
	$(PY) -m mypy

docs: setup
	$(PY) -m c2m_cli.docs_gen > docs/cli.md
	$(PY) -m c2m_cli.docs_gen --warnings > docs/warnings.md
	$(PY) -m c2m_cli.docs_gen --golden tests/golden/help

bench: setup
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev,bench]'
	@for script in $$(ls benchmarks/*.py | grep -v /measure.py); do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache .ruff_cache .mypy_cache
