# Two commands on a fresh machine with Python 3.11 and make: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
FAKE_WECHAT_PORT ?= 8081
# The WeChat API of `make run`: the fake server it starts, unless WECHAT_API_BASE is set.
WECHAT_API_BASE := $(or $(WECHAT_API_BASE),http://127.0.0.1:$(FAKE_WECHAT_PORT))

.PHONY: run test test-quick screenshots install lint format migrate messages stop-db clean

$(STAMP): requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "Python 3.11 is required, found $$($(PYTHON) --version)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## Run the service on $(HOST):$(PORT) with demo data (embedded PostgreSQL without DATABASE_URL),
## the background worker, and a fake WeChat server on 127.0.0.1:$(FAKE_WECHAT_PORT), so that the
## demo works offline. The demo's admin login and API key are kept across runs (ROTATE=1 makes
## new ones); WECHAT_API_BASE goes to .local/run.env for manage.py in another shell. Ctrl-C
## stops all three: the worker (which ignores the terminal's SIGINT, as background processes
## do) gets one SIGTERM, finishes its running jobs and exits. The server and the worker share
## one metrics directory (config/metrics_files.py), so /metrics shows the worker's counters too.
run: install
	$(PY) manage.py migrate --no-input
	$(PY) -m demo --host '$(HOST)' --port '$(PORT)' --wechat-api-base '$(WECHAT_API_BASE)'$(if $(ROTATE), --rotate)
	@export WECHAT_API_BASE='$(WECHAT_API_BASE)'; \
	$(PY) manage.py fake_wechat --port $(FAKE_WECHAT_PORT) & fake=$$!; \
	export PROMETHEUS_MULTIPROC_DIR="$$($(PY) -m config.metrics_files)"; \
	$(PY) manage.py run_worker & worker=$$!; \
	stop() { trap - EXIT INT TERM; kill $$fake 2>/dev/null; kill -TERM $$worker 2>/dev/null; \
		wait $$worker 2>/dev/null; }; \
	trap stop EXIT INT TERM; \
	DEBUG=$${DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

## Run the whole test suite.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

## Run the suite without the slow tests (faults, browser, fuzzing): a minute or two, for edits.
test-quick: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

## Retake the screenshots in docs/screenshots, in English and Chinese (the browser tests take
## them): the Reports area and dashboard, the condition builder, the person list and page, the
## manual merge and the WeChat tag sync.
BROWSER_TESTS := tests/analytics/test_reports_browser.py tests/profiles/test_condition_builder_browser.py \
	tests/profiles/test_rule_tag_browser.py tests/identity/test_person_pages_browser.py \
	tests/identity/test_merge_browser.py tests/platforms/wechat/test_tag_sync_browser.py
screenshots: install
	REPORT_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q $(BROWSER_TESTS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: install
	$(PY) manage.py migrate --no-input

## Gather the translatable strings into the zh-hans catalogs (locale/ for the project, jobs/locale/
## for the jobs app) and compile them. Translate what came in new or fuzzy, then run it again.
messages: install
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=.local \
		--ignore=bench --ignore=demo --ignore=tests --ignore=staticfiles --ignore=jobs
	cd jobs && ../$(PY) ../manage.py makemessages -l zh_Hans --no-obsolete
	msgfmt --check -o locale/zh_Hans/LC_MESSAGES/django.mo locale/zh_Hans/LC_MESSAGES/django.po
	msgfmt --check -o jobs/locale/zh_Hans/LC_MESSAGES/django.mo jobs/locale/zh_Hans/LC_MESSAGES/django.po

## Stop the embedded PostgreSQL server (it keeps running between commands).
stop-db: install
	$(PY) -c 'from config.local_state import stop_embedded_database; stop_embedded_database()'

clean: stop-db
	rm -rf .local $(VENV)
