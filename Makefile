# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The compiled message catalogues, rebuilt when their .po changes (installing writes them too: setup.py).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard terugbel/locale/*/LC_MESSAGES/*.po))

.PHONY: demo test lint install messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

%.mo: %.po | $(STAMP)
	$(BIN)/pybabel --quiet compile --input-file $< --output-file $@

install: $(STAMP) $(MO_FILES)

# After adding or changing a sentence in the code: extract, update every .po, compile (README, Development).
messages: $(STAMP)
	$(BIN)/python -m terugbel.catalogues

demo: $(STAMP) $(MO_FILES)
	$(BIN)/terugbel db upgrade
	$(BIN)/terugbel demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: $(STAMP) $(MO_FILES)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
