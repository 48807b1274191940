# Régua: `make run` starts the service with demo data, `make test` runs the whole suite.
# Both bootstrap what they need first (system packages when root, both Python environments, database,
# trained Rasa model). See README.md.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
RASA_VENV := .venv-rasa
APP_STAMP := $(VENV)/.installed
RASA_STAMP := $(RASA_VENV)/.installed
REGUA := $(VENV)/bin/regua
export RASA_TELEMETRY_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help system-deps bootstrap setup run test test-unit lint format nlu-train nlu-test bench lock lock-rasa stop clean

help:
	@echo "make run        inicia o serviço com dados de demonstração (prepara tudo na primeira vez)"
	@echo "make test       roda a suíte completa de testes"
	@echo "make lint       ruff (lint e formatação)"
	@echo "make nlu-test   validação cruzada do NLU (relatório em docs/nlu-report.md)"
	@echo "make bench      benchmarks (relatórios em bench/results/)"
	@echo "make stop       para o Redis embutido"

bootstrap: $(APP_STAMP) $(RASA_STAMP)

system-deps:
	@bash scripts/system-deps.sh "$(PYTHON)"

$(APP_STAMP): requirements.txt pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Régua needs Python 3.11"'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

# Rasa 3.6.21 declares Requires-Python <3.11 but runs on 3.11; the full pin makes the install reproducible.
$(RASA_STAMP): rasa_env/requirements.txt rasa_env/mplsetup.cfg
	@$(MAKE) --no-print-directory system-deps
	test -x $(RASA_VENV)/bin/python || $(PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install -q --upgrade pip
	MPLSETUPCFG=$(CURDIR)/rasa_env/mplsetup.cfg $(RASA_VENV)/bin/pip install -q \
		--ignore-requires-python --no-deps -r rasa_env/requirements.txt
	touch $@

setup: bootstrap
	$(REGUA) setup

run: setup
	$(REGUA) up

# The unit and integration tests side by side, each with its own database (scripts/run_tests.py).
test: bootstrap lint
	$(VENV)/bin/python scripts/run_tests.py $(PYTEST_ARGS)

test-unit: $(APP_STAMP)
	$(VENV)/bin/python -m pytest -m "not integration" $(PYTEST_ARGS)

lint: $(APP_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(APP_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

nlu-train: bootstrap
	$(REGUA) nlu train

nlu-test: bootstrap
	$(REGUA) nlu test --folds 5

bench: bootstrap
	$(VENV)/bin/python bench/import_invoices.py

# Re-resolve the app environment from requirements.in into the pinned requirements.txt.
lock:
	rm -rf /tmp/regua-lock && $(PYTHON) -m venv /tmp/regua-lock
	/tmp/regua-lock/bin/pip install -q -r requirements.in
	(echo "# Pinned app environment (.venv). Direct dependencies are in requirements.in; regenerate with: make lock"; \
	 /tmp/regua-lock/bin/pip freeze) > requirements.txt

# Re-resolve the Rasa environment (rasa==3.6.21 with the constraints that make it work on Python 3.11).
# dask is named explicitly: rasa needs it at training time, but its environment marker skips it on 3.11.
lock-rasa:
	rm -rf /tmp/regua-lock-rasa && $(PYTHON) -m venv /tmp/regua-lock-rasa
	MPLSETUPCFG=$(CURDIR)/rasa_env/mplsetup.cfg /tmp/regua-lock-rasa/bin/pip install -q \
		--ignore-requires-python -c rasa_env/constraints.txt rasa==3.6.21 dask==2022.10.2
	(echo "# Full pin of the isolated Rasa environment (.venv-rasa). Regenerate with: make lock-rasa"; \
	 echo "# Installed with --ignore-requires-python --no-deps (rasa 3.6.21 declares Requires-Python <3.11)."; \
	 /tmp/regua-lock-rasa/bin/pip freeze --all | grep -v '^pip==') > rasa_env/requirements.txt

stop:
	-$(VENV)/bin/python -c 'from bot import embedded_redis; from bot.config import get_settings; embedded_redis.stop(get_settings().var_dir)'

clean:
	rm -rf $(VENV) $(RASA_VENV) .pytest_cache .ruff_cache
