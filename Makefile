# Two commands: `make run` (the demo) and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench fuzz fault audit clean install

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/lukuang run

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q tests/feeds -k fuzz

fault: $(STAMP)
	$(PY) -m pytest -q -m fault

# Known-vulnerability check of the installed packages (pip-audit is installed into the venv
# on demand; it needs to reach PyPI's JSON API or OSV).
audit: $(STAMP)
	$(PY) -m pip install --quiet pip-audit
	$(VENV)/bin/pip-audit --progress-spinner off --skip-editable --strict

clean:
	rm -rf $(VENV) *.egg-info
