# The two commands of the README's quick start are `make run` and `make test`;
# both install what they need first (a virtualenv in .venv, the Kafka broker's jars).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run demo test check lint typecheck security clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml ops/pom.xml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -c "from ops.local_kafka import ensure_jars; print('kafka jars:', ensure_jars())"
	touch $@

run: install
	$(BIN)/payments run

# Against the stack `make run` started (in another terminal); it starts nothing itself.
demo: install
	$(BIN)/payments demo

test: install
	$(BIN)/coverage erase
	$(BIN)/pytest -v --cov --cov-report=term --durations=15 $(PYTEST_ARGS)

check: lint typecheck security

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy admin common ops ingress streams sinks schemas tests

security: install
	$(BIN)/bandit -q -c pyproject.toml -r admin common ops ingress streams sinks schemas

clean:
	rm -rf $(VENV) .payments .coverage .coverage.* .pytest_cache .mypy_cache .ruff_cache
