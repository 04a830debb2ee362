# Two entry points: `make run` (set up and serve the bundled site) and `make test`.
# Both create .venv on first use and reinstall only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install index check lint translations clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: an unpinned torch drags in gigabytes of CUDA wheels.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kb db upgrade
	KB_DEV=$${KB_DEV:-1} $(BIN)/kb serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/kb check

lint: $(STAMP)
	$(BIN)/ruff check kb search tests

# Re-extract UI strings, merge them into each catalog, compile. Translate the
# new empty msgstr entries in kb/translations/*/LC_MESSAGES/messages.po, then run again.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs='.* _* .venv articles tests benchmarks' \
	  --no-location --sort-output --omit-header -o kb/translations/messages.pot .
	$(BIN)/pybabel update -i kb/translations/messages.pot -d kb/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d kb/translations --statistics

clean:
	rm -rf $(VENV) .pytest_cache
