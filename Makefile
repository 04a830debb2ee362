# Two entry points: `make run` (set up and serve the bundled site) and `make test`.
# Both create .venv on first use and reinstall only when the lock file changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install index check lint translations lock audit clean

# Every package from requirements.lock, pinned and hash-checked (torch is the CPU
# build: an unpinned torch drags in gigabytes of CUDA wheels); then kb itself.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
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
# Needs only pybabel: with BIN pointing at another checkout's venv it installs nothing here.
$(BIN)/pybabel:
	$(MAKE) $(STAMP)

translations: | $(BIN)/pybabel
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ --ignore-dirs='.* _* .venv articles tests benchmarks' \
	  --no-location --sort-output --omit-header -o kb/translations/messages.pot .
	$(BIN)/pybabel update -i kb/translations/messages.pot -d kb/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d kb/translations --statistics

# Re-resolve requirements.lock from pyproject.toml (run after changing dependencies).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --allow-unsafe --constraint=constraints.txt --extra=test --generate-hashes \
	  --no-emit-index-url --no-emit-find-links --strip-extras --output-file=requirements.lock pyproject.toml

# Known vulnerabilities in the locked packages (needs to reach PyPI's or OSV's advisory service).
audit: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-audit
	$(BIN)/pip-audit --requirement requirements.lock --require-hashes --no-deps --disable-pip

clean:
	rm -rf $(VENV) .pytest_cache
