# Relais — the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BOT_VENV := .venv-bot
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test lint typecheck audit pytest model train evaluate bench cluster services clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml requirements-dev.lock
	python3.11 -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -c requirements-dev.lock --upgrade pip setuptools
	$(VENV)/bin/pip install -q -c requirements-dev.lock -e '.[dev]'
	touch $@

$(BOT_VENV)/.installed: bot/requirements.lock bot/requirements-py311.lock scripts/setup_bot_env.sh
	scripts/setup_bot_env.sh

env: $(VENV)/.installed $(BOT_VENV)/.installed  ## create both environments if missing

# Models are bot/models/relais-<sha12>.tar.gz, named by the hash of their data and config;
# bot/models/relais.tar.gz points to the current one (docs/bot.md).
model: $(VENV)/.installed $(BOT_VENV)/.installed  ## train the bot's model if none was trained from this data and config
	$(VENV)/bin/relais bot train

train: $(VENV)/.installed $(BOT_VENV)/.installed  ## retrain the bot's model from scratch (progress and time shown)
	$(VENV)/bin/relais bot train --force

evaluate: $(BOT_VENV)/.installed model  ## 5-fold cross-validation of the NLU, compared with the previous run (reports/nlu/)
	scripts/evaluate.sh

.PHONY: bot-test
BOT_ENV := SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=$(CURDIR)
bot-test: $(BOT_VENV)/.installed model  ## the bot's checks: data validation, action unit tests, test stories
	$(BOT_ENV) $(BOT_VENV)/bin/rasa data validate --fail-on-warnings \
		--config config.yml --domain bot/domain.yml --data bot/data --quiet
	$(BOT_ENV) $(BOT_VENV)/bin/python -m pytest -q -c tests/bot/actions/pytest.ini tests/bot/actions
	$(BOT_ENV) $(BOT_VENV)/bin/rasa test core --model bot/models/relais.tar.gz \
		--stories bot/tests --e2e --fail-on-prediction-errors --no-plot --out reports/bot-test-stories --quiet

services:  ## make sure chromium, PostgreSQL and Redis are there (tests need them)
	scripts/ensure_services.sh

run: $(VENV)/.installed model  ## start Rasa, the action server and the handoff service
	$(VENV)/bin/relais run --with-bot

# Offline audit of both environments against the dated PyPA advisory snapshot in ../shared/
# (pip-audit cannot reach advisory data from here). Each ignored ID is explained in docs/security.md.
AUDIT_TOOL := $(firstword $(wildcard ../shared/tools/audit_deps.py /work/shared/tools/audit_deps.py))
AUDIT_IGNORED := PYSEC-2022-43059 PYSEC-2023-73
audit: $(VENV)/.installed $(BOT_VENV)/.installed  ## known vulnerabilities in both environments' packages
	@test -n "$(AUDIT_TOOL)" || { echo "audit: ../shared/tools/audit_deps.py not found"; exit 1; }
	$(PY) $(AUDIT_TOOL) --python $(PY) --python $(BOT_VENV)/bin/python $(addprefix --ignore ,$(AUDIT_IGNORED))

lint: $(VENV)/.installed  ## ruff
	$(VENV)/bin/ruff check handoff tests bot/actions scripts

typecheck: $(VENV)/.installed  ## mypy on handoff/
	$(VENV)/bin/mypy handoff

# axe-core for the browser tests' accessibility audits (version pinned in tests/browser/package-lock.json).
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

pytest: $(VENV)/.installed model services $(AXE)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} \
	TEST_REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test: lint typecheck audit bot-test pytest  ## everything: lint, types, dependency audit, the whole test suite

bench: $(VENV)/.installed model  ## latency and throughput figures (see docs/performance.md, docs/benchmarks.md)
	scripts/bench.sh

cluster: $(VENV)/.installed services  ## two service instances on the local PostgreSQL and Redis behind one port (docs/scaling.md)
	$(PY) scripts/cluster.py $(CLUSTER_ARGS)

clean:  ## remove runtime state (not the environments)
	rm -rf var reports/screenshots
