# Two commands: `make run` (the demo) and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench fuzz fault audit audit-offline clean install

# pip's and setuptools' output (build warnings, ~130 lines on a first install) goes to this
# file; the terminal gets one line, or the end of the log and its path when the install fails
PIP_LOG := $(VENV)/pip-install.log
PIP_ENV := PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PIP_NO_INPUT=1

$(PY):
	@$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@echo "lukuang: installing into $(VENV) (a minute or so the first time) ..."
	@start=$$(date +%s); \
	if { $(PIP_ENV) $(PY) -m pip install --upgrade pip setuptools \
	     && $(PIP_ENV) $(PY) -m pip install -e '.[test]'; } > $(PIP_LOG) 2>&1; then \
	  echo "lukuang: installed in $$(( $$(date +%s) - start )) s (pip's output: $(PIP_LOG))"; \
	else \
	  tail -n 30 $(PIP_LOG); \
	  echo "lukuang: the install failed; pip's whole output is in $(PIP_LOG)"; exit 1; \
	fi
	@touch $(STAMP)

install: $(STAMP)

# `make run` prints the pages, the accounts to create and where the logs go once the web
# answers; RUN_ARGS=--verbose (or LUKUANG_VERBOSE=1) shows every log line, each feed poll too
run: $(STAMP)
	@$(VENV)/bin/lukuang run $(RUN_ARGS)

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
