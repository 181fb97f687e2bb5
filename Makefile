# The two commands of the README's quick start are `make run` and `make test`;
# both install what they need first (a virtualenv in .venv, the Kafka broker's jars).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

RUNTIME_LOCK := requirements/runtime.txt
DEV_LOCK := requirements/lock.txt
# Both locks are resolved for the image's interpreter and platform, whatever runs `make lock`.
COMPILE := $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes \
	--python-version 3.11 --python-platform x86_64-unknown-linux-gnu $(LOCK_ARGS)

.PHONY: install lock run demo test unit check lint imports typecheck security clean

install: $(VENV)/.installed

$(VENV)/.installed: $(DEV_LOCK) pyproject.toml ops/pom.xml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -c "from ops.local_kafka import ensure_jars; print('kafka jars:', ensure_jars())"
	touch $@

# Re-resolves both locks after a change to pyproject.toml, keeping every pin that still fits
# (the next `make install` installs the result);
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest release instead.
lock: install
	$(COMPILE) --extra dev --extra plot -o $(DEV_LOCK)
	$(COMPILE) --constraint $(DEV_LOCK) -o $(RUNTIME_LOCK)

run: install
	$(BIN)/payments run

# Against the stack `make run` started (in another terminal); it starts nothing itself.
demo: install
	$(BIN)/payments demo

test: install
	$(BIN)/coverage erase
	$(BIN)/pytest -v --cov --cov-report=term --durations=15 $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

check: lint imports typecheck security

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The layers of .importlinter: common and schemas, then the components, then ops.
imports: install
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy admin common ops ingress streams sinks schemas tests

security: install
	$(BIN)/bandit -q -c pyproject.toml -r admin common ops ingress streams sinks schemas

clean:
	rm -rf $(VENV) .payments .coverage .coverage.* .pytest_cache .mypy_cache .ruff_cache
