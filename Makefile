# agora-token: the library and the token service.
#
#   make run     set up .venv, build, start the service (.env if present, else --demo)
#   make test    everyday: ruff, mypy --strict, the test suite on both cores (slow tests skipped)
#   make check   what CI runs: make test, the slow tests (real processes, floods, Redis,
#                browser), the extension built without libz/libcrypto, the wheel
#                repaired and installed in a fresh venv (with the service), AddressSanitizer
#                over a corpus, the CI configuration checked against its schemas
#   make bench / bench-server   benchmarks (docs/benchmarks.md)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: FORCE all install run lint test test-slow check check-fallback-build check-wheel check-asan \
	check-ci-config packaging-report bench bench-server soak clean vectors docker docker-run cleanup

all: test

# The first run sets up .venv in four named steps, each with a "still ..." line every 10 s while
# it runs (scripts/step.sh). The build runs in .venv (--no-build-isolation) with the build tools
# of pyproject.toml's [build-system], installed in step 2; step 4 installs the extras of the
# agora-token that step 3 installed (pip keeps it: no second compile). --no-compile: Python
# writes the .pyc files of what is imported, when it is first imported.
STEP := bash scripts/step.sh
BUILD_REQUIRES := $(shell sed -n 's/^requires = \[\(.*\)\]/\1/p' pyproject.toml | tr -d ',')
# the editable install's link to server/ (setup.py's EditableWheel): set up again when missing
EDITABLE_LINK := $(if $(wildcard build/editable/agora_token_server/__init__.py),,FORCE)

$(STAMP): pyproject.toml setup.py src/agora_token/_pack.pyx src/agora_token/_c/at_core.h $(EDITABLE_LINK)
	@echo "==> setting up $(VENV): agora-token in editable mode with the [server,test] extras"
	@if [ -x $(PY) ]; then echo "==> [1/4] $(VENV) exists"; \
		else $(STEP) "[1/4]" "creating the venv $(VENV)" $(PYTHON) -m venv $(VENV); fi
	@$(STEP) "[2/4]" "upgrading pip, installing the build tools (setuptools, Cython)" $(PY) -m pip install -q --no-compile --upgrade pip $(BUILD_REQUIRES)
	@$(STEP) "[3/4]" "compiling agora_token._pack (Cython, then the C compiler)" $(PY) -m pip install -q --no-build-isolation --no-deps -e .
	@$(STEP) "[4/4]" "installing the dependencies (the [server,test] extras)" $(PY) -m pip install -q --no-compile 'agora-token[server,test]'
	@$(PY) -c "import agora_token, agora_token_server; print('==> ready: agora_token', agora_token.__version__, 'backend', agora_token.BACKEND)"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@if [ -f .env ] || [ -n "$$APP_ID" ]; then \
		exec $(VENV)/bin/agora-token-server; \
	else \
		echo "No .env and no APP_ID in the environment: starting in DEMO mode (tokens will NOT work with Agora)"; \
		exec $(VENV)/bin/agora-token-server --demo; \
	fi

lint: $(STAMP)
	@$(STEP) "" "checking with ruff" $(VENV)/bin/ruff check src server tests benchmarks scripts
	@$(STEP) "" "type-checking src/ and server/ with mypy --strict (the first run takes longest)" $(PY) -m mypy

# the library tests run on both cores in this one run; the service tests once
test: lint
	@echo "==> pytest (slow tests skipped; make check runs them)"
	@AGORA_TOKEN_EXPECT_BACKEND=cython $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	@echo "==> pytest: slow tests (real processes, floods, SIGTERM, bursts, Redis, browser)"
	@AGORA_TOKEN_EXPECT_BACKEND=cython $(PY) -m pytest -q -m slow $(PYTEST_ARGS)

# the extension built without libz/libcrypto (the Windows-wheel code path)
check-fallback-build: $(STAMP)
	@echo "==> the compiled core without libz/libcrypto, and its library tests"
	@PYTHON=$(abspath $(PY)) scripts/check_fallback_build.sh

check-wheel:
	@echo "==> wheel: build, auditwheel repair, install in a fresh venv"
	@PYTHON=$(PYTHON) bash scripts/check_wheel.sh

check-asan: $(STAMP)
	@echo "==> the compiled core under AddressSanitizer over a seeded corpus"
	@PYTHON=$(abspath $(PY)) bash scripts/asan_check.sh

# .github/workflows/wheels.yml runs on GitHub only: checked here statically
check-ci-config:
	@echo "==> CI configuration: workflow schema, cibuildwheel config, builds per job"
	@PYTHON=$(PYTHON) bash scripts/check_ci_config.sh

check: test test-slow check-fallback-build check-wheel check-asan check-ci-config
	@echo "==> make check: all passed"

bench: $(STAMP)
	$(PY) -m benchmarks.bench_tokens

bench-server: $(STAMP)
	$(PY) -m benchmarks.bench_server

soak: $(STAMP)
	$(PY) -m benchmarks.soak

# on demand (about 2 minutes): wheel sizes and build times into docs/packaging.md
packaging-report: $(STAMP)
	$(PY) scripts/packaging_report.py --write docs/packaging.md

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f src/agora_token/_pack.c src/agora_token/_pack*.so src/agora_token/_pack*.pyd

# --- packaging and container (docs/packaging.md) -------------------------------------
#   make vectors      copy ../shared/vectors into tests/vectors (for checkouts without ../shared)
#   make docker       build the image (only when the Dockerfile or the sources changed)
#   make docker-run   build if needed, then run it: --env-file .env if present,
#                     else APP_ID/APP_CERTIFICATE from the environment, else --demo
#   make cleanup      forget the build marker and remove the image
IMAGE ?= agora-token-service
DOCKER ?= docker
DOCKER_PORT ?= 8080
DOCKER_MARKER := build/.docker-build-marker
DOCKER_INPUTS := Dockerfile .dockerignore pyproject.toml setup.py \
	$(shell find src server -type f -not -path '*/__pycache__/*' -not -name '*.so' \
	  -not -name '*.pyd' -not -name '_pack.c' 2>/dev/null)

vectors:
	bash scripts/sync_vectors.sh

$(DOCKER_MARKER): $(DOCKER_INPUTS)
	$(DOCKER) build -t $(IMAGE) .
	@mkdir -p $(dir $@) && touch $@

docker: $(DOCKER_MARKER)

# Credentials are passed at run time only: --env-file, or `-e NAME` (value
# taken from this shell, never written on the command line). The container
# always listens on 8080; DOCKER_PORT picks the host port.
docker-run: $(DOCKER_MARKER)
	@if [ -f .env ]; then \
		set -x; exec $(DOCKER) run --rm -p $(DOCKER_PORT):8080 --env-file .env \
			-e SERVER_PORT=8080 $(IMAGE); \
	elif [ -n "$$APP_ID" ]; then \
		set -x; exec $(DOCKER) run --rm -p $(DOCKER_PORT):8080 -e APP_ID -e APP_CERTIFICATE \
			-e CORS_ALLOW_ORIGIN -e SERVER_PORT=8080 $(IMAGE); \
	else \
		echo "No .env and no APP_ID in the environment: starting in DEMO mode (tokens will NOT work with Agora)"; \
		set -x; exec $(DOCKER) run --rm -p $(DOCKER_PORT):8080 -e SERVER_PORT=8080 $(IMAGE) \
			agora-token-server --host 0.0.0.0 --demo; \
	fi

cleanup:
	rm -f $(DOCKER_MARKER)
	-$(DOCKER) image rm $(IMAGE) 2>/dev/null
