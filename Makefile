# Brightcart support assistant. The two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
PY310 ?= $(shell command -v /root/.pyenv/versions/3.10.13/bin/python || command -v python3.10)
PY311 ?= $(shell command -v /root/.pyenv/versions/3.11.7/bin/python || command -v python3.11)
RASA_VENV := .venv-rasa
APP_VENV := .venv
# Rasa through the project's entry point: the patch layer (rasa_addons/patches.py) applied first;
# RASA_PATCHES=none runs Rasa's own code, "-name" leaves one patch out (docs/performance.md)
RASA := PYTHONPATH=. $(RASA_VENV)/bin/python -m rasa_addons.launch
APP_PY := $(APP_VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
# Rasa reports errors and usage to its servers unless told not to; nothing leaves the machine
export RASA_TELEMETRY_ENABLED := false
# endpoints.yml reads these; defaults for Rasa commands run outside `make run` (shell, test, ...)
export ACTION_SERVER_URL ?= http://127.0.0.1:5055/webhook
export RASA_TRACKER_DB ?= var/rasa_tracker.db
export RASA_EVENTS_DB ?= var/rasa_events.db
# endpoints.yml sends it to the action server; empty for commands that never call actions
export ACTION_SERVER_TOKEN ?=

.PHONY: run test envs train ingest locks bench bench-patches validate shell clean nlu-eval kb-eval pii-eval chromium widget retention

## make run: install what is missing, train if needed, start all three processes (Ctrl-C stops)
run: envs train ingest
	@PYTHONPATH=. $(APP_PY) -m scripts.stack run

## make test: every test (pytest: backend, actions, knowledge, channels, NLU, Rasa stories, e2e)
test: envs train ingest chromium
	PYTHONPATH=. $(APP_PY) -m pytest tests $(PYTEST_ARGS)

# The model is named after a hash of its inputs, so an unchanged project never retrains and a
# changed one always does (file times would not survive a fresh clone).
train: envs
	@fp=$$($(APP_PY) -m scripts.fingerprint model); \
	if [ -f models/$$fp.tar.gz ]; then echo ">>> model models/$$fp.tar.gz is current"; \
	else echo ">>> training models/$$fp.tar.gz (data, config or domain changed)"; \
	  $(RASA) train --fixed-model-name $$fp --out models && \
	  find models -name '*.tar.gz' ! -name "$$fp.tar.gz" -delete; fi

# An index from before sentence_vectors.npz existed is brought up to date (incrementally) as well.
ingest: envs
	@fp=$$($(APP_PY) -m scripts.fingerprint knowledge); \
	if [ "$$(cat var/chroma/.fingerprint 2>/dev/null)" = "$$fp" ] && [ -f var/chroma/sentence_vectors.npz ]; then echo ">>> knowledge index is current"; \
	else echo ">>> ingesting knowledge/ into var/chroma"; \
	  PYTHONPATH=. $(APP_PY) -m actions.knowledge.ingest knowledge && echo $$fp > var/chroma/.fingerprint; fi

## make bench: this bot against stock `rasa init` over REST (table, reports/bench.json, reports/bench_latency.png);
## BENCH_ARGS="--rasa-workers 2" for the multi-process figures, "--quick" for a smoke run (docs/performance.md)
bench: envs train ingest
	PYTHONPATH=. $(APP_PY) -m bench $(BENCH_ARGS)

## make bench-patches: each patch's own gain: the 10-concurrent level with all patches on, each one off, and none,
## interleaved over rounds (reports/bench_patches.json); BENCH_PATCHES_ARGS="--rounds 1 --conversations 12" for a quick look
bench-patches: envs train ingest
	PYTHONPATH=. $(APP_PY) -m bench.patches $(BENCH_PATCHES_ARGS)

## make validate: Rasa's validator, plus checks that name the file a problem is in
validate: envs
	$(RASA) data validate
	PYTHONPATH=. $(APP_PY) -m pytest -q tests/rasa/test_data_consistency.py

## make nlu-eval / kb-eval: held-out NLU report (reports/nlu/) and retrieval report (reports/knowledge_eval.json)
nlu-eval: train
	PYTHONPATH=. $(RASA_VENV)/bin/python scripts/nlu_eval.py

kb-eval: ingest
	PYTHONPATH=. $(APP_PY) -m actions.knowledge.evaluate --report reports/knowledge_eval.json

## make retention: delete conversations, audit rows, handoff cases, outbox rows and SMS state older than
## RETENTION_DAYS / config/retention.yml (default 90); RETENTION_ARGS="--days 30" etc. (docs/privacy.md)
retention: envs
	@set -a; if [ -f var/secrets.env ]; then . var/secrets.env; fi; set +a; \
	  PYTHONPATH=. $(APP_PY) -m actions.privacy.retention $(RETENTION_ARGS)

## make pii-eval: personal-data detection per type on tests/security/pii_labelled.yml (docs/privacy.md)
pii-eval:
	PYTHONPATH=. $(APP_PY) -m scripts.pii_eval

## make shell: chat in the terminal with the running stack's model and action server
# (the action server answers Rasa only with its token: read from var/secrets.env, written by make run)
shell: envs
	@test -f var/secrets.env || { echo "start the assistant with 'make run' first (it creates var/secrets.env)"; exit 1; }
	set -a && . var/secrets.env && set +a && \
	ACTION_SERVER_URL=http://127.0.0.1:5055/webhook RASA_TRACKER_DB=var/shell_tracker.db RASA_EVENTS_DB=var/rasa_events.db \
	  $(RASA) shell --model models --endpoints endpoints.yml

# Browser tests (tests/browser) drive Debian's Chromium; nothing downloads a browser of its own.
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo ">>> installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## make widget: re-vendor socket.io-client (package.json) into demo_backend/static/chat/vendor/
## (the vendored file is committed, so make run / make test need no npm)
widget:
	npm ci --no-audit --no-fund && npm run vendor

clean:
	rm -rf var models/*.tar.gz reports

envs: $(RASA_VENV)/.installed $(APP_VENV)/.installed

# Environments are rebuilt only when their lock file changes (the stamp is newer otherwise).
$(RASA_VENV)/.installed: requirements/rasa.lock requirements/rasa-nodeps.txt
	@test -n "$(PY310)" || { echo "Python 3.10 not found: install it (pyenv install 3.10.13) or set PY310=/path/to/python3.10"; exit 1; }
	@echo ">>> building $(RASA_VENV) (Python 3.10, rasa 3.6) from requirements/rasa.lock"
	test -x $(RASA_VENV)/bin/python || $(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --progress-bar on -q --upgrade pip==24.3.1
	$(RASA_VENV)/bin/pip install --progress-bar on --no-deps -r requirements/rasa.lock
	$(RASA_VENV)/bin/pip install --progress-bar on --no-deps -r requirements/rasa-nodeps.txt
	touch $@

$(APP_VENV)/.installed: requirements/app.lock
	@test -n "$(PY311)" || { echo "Python 3.11 not found: set PY311=/path/to/python3.11"; exit 1; }
	@echo ">>> building $(APP_VENV) (Python 3.11, action server + demo backend) from requirements/app.lock"
	test -x $(APP_VENV)/bin/python || $(PY311) -m venv $(APP_VENV)
	$(APP_VENV)/bin/pip install --progress-bar on -q --upgrade pip==24.3.1
	$(APP_VENV)/bin/pip install --progress-bar on --no-deps -r requirements/app.lock
	touch $@

# Re-pin both lock files (needs `uv`; pip's resolver backtracks for many minutes on these sets).
locks:
	uv pip compile requirements/app.in --python-version 3.11 --find-links /opt/wheels -o requirements/app.lock
	uv pip compile requirements/rasa.in --python-version 3.10 -o requirements/rasa.lock
