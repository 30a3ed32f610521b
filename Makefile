# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint format dashboards bench clean

$(BIN)/jobwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/jobwatch ## run the collector on the bundled examples with SQLite
	$(BIN)/jobwatch run --config examples/jobwatch.yaml

test: $(BIN)/jobwatch ## run the whole test suite
	$(BIN)/pytest -q

lint: $(BIN)/jobwatch
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/jobwatch
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

dashboards: $(BIN)/jobwatch ## regenerate grafana/dashboards/*.json
	$(BIN)/python grafana/generate_dashboards.py

bench: $(BIN)/jobwatch
	for script in bench/*.py; do $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) jobwatch.db jobwatch.db-wal jobwatch.db-shm
