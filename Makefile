# Two commands: `make run` (the demo) and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench fuzz fault audit audit-offline clean install

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip setuptools
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

# The same check without network: ADVISORIES=path to a copy of github.com/pypa/advisory-database
# (add GIT_REV=HEAD for a bare git copy). Exit 1 on any known vulnerability.
audit-offline: $(STAMP)
	$(PY) -m pip install --quiet pyyaml
	$(PY) .ci/audit_offline.py $(ADVISORIES) $(if $(GIT_REV),--git-rev $(GIT_REV))

clean:
	rm -rf $(VENV) *.egg-info
