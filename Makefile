# fastreg: the two commands are `make serve` and `make test`.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FASTREG_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export FASTREG_TEST_POSTGRES_URL

.PHONY: serve test install install-dev browser axe lint typecheck migration lock clean wrk conformance

$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "fastreg needs Python 3.11+ (set PYTHON=python3.x)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --require-hashes -r requirements.lock
	@# A venv made before the distribution was renamed wechat-fastreg still holds "fastreg" (same package),
	@# and its metadata may be left in src/ (on sys.path): either would register the pytest plugin twice.
	@$(PIP) uninstall -q -y fastreg >/dev/null 2>&1 || true
	@rm -rf src/fastreg.egg-info
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(PIP) install -q --require-hashes -r requirements-dev.lock
	$(PIP) install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## Start the console + API on SQLite (var/fastreg.db) with demo data (prints URL, demo logins, sandbox key).
serve: install
	$(VENV)/bin/fastreg serve --host $(HOST) --port $(PORT)

## Debian's chromium and CJK fonts for the browser tests (no browser download).
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then \
		echo "installing chromium and fonts-noto-cjk with apt-get"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

## axe-core for the console's accessibility test, from its committed lock file (test-only node_modules).
axe: tests/console/node_modules/.package-lock.json
tests/console/node_modules/.package-lock.json: tests/console/package.json tests/console/package-lock.json
	cd tests/console && npm ci --no-audit --no-fund

## Install the test dependencies and run every test, on SQLite and PostgreSQL. PostgreSQL: the server at
## FASTREG_TEST_POSTGRES_URL when it answers, else a cluster of the run's own (Debian's postgresql installed if missing).
test: install-dev browser axe
	$(VENV)/bin/ruff check src tests scripts conformance examples $(wildcard bench)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) scripts/with_postgres.py $(VENV)/bin/pytest -p no:cacheprovider $(PYTEST_ARGS)

## The SDK conformance suite (conformance/README.md): wechatpy, WxJava and silenceper/wechat, unmodified, against a
## live fastreg; prints SDK | version | calls | passed. Needs Java 17 + Maven and Go (dependencies from Maven Central
## and the Go module proxy on the first run, then from ~/.m2 and the Go module cache). `make test` runs it too.
conformance: install-dev
	$(PY) conformance/run.py $(CONFORMANCE_ARGS)

## One benchmark from a clean clone: make bench-throughput (or bench-contention, bench-scale, bench-crash,
## bench-startup); BENCH_ARGS="--db sqlite" passes arguments. Prints figures; see bench/README.md.
bench-%: install-dev wrk
	$(PY) bench/$*.py $(BENCH_ARGS)

## Debian's wrk load generator for bench/throughput.py (optional: the script falls back to its own client).
wrk:
	@command -v wrk >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -qq wrk >/dev/null 2>&1 || echo "wrk not installed; using the asyncio client"; }

lint: install-dev
	$(VENV)/bin/ruff check src tests scripts conformance examples $(wildcard bench)
	$(VENV)/bin/ruff format --check src tests scripts conformance $(wildcard bench)
	$(VENV)/bin/lint-imports

typecheck: install-dev
	$(VENV)/bin/mypy

## Regenerate the initial migration from the models (before the first release only).
migration: install-dev
	rm -f src/fastreg/adapters/db/migrations/versions/0001_initial.py
	rm -f /tmp/fastreg-autogen.db
	$(PY) -c "from alembic import command; from fastreg.adapters.db.migrate import alembic_config as c; command.revision(c('sqlite:////tmp/fastreg-autogen.db'), message='initial schema', autogenerate=True, rev_id='0001')"
	mv src/fastreg/adapters/db/migrations/versions/0001_initial_schema.py src/fastreg/adapters/db/migrations/versions/0001_initial.py
	$(VENV)/bin/ruff check --fix -q src/fastreg/adapters/db/migrations || true
	$(VENV)/bin/ruff format -q src/fastreg/adapters/db/migrations

## Re-pin the lock files after changing pyproject.toml.
lock:
	$(PIP) install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml --generate-hashes -o requirements.lock -q
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --generate-hashes -o requirements-dev.lock -q

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
