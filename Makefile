# Two commands matter to a newcomer: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint install clean-demo

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test,plot,parquet]'
	touch $(STAMP)

install: $(STAMP)

## Run one whole certification cycle on a fresh SQLite file and write out/demo-report.html.
demo: $(STAMP)
	$(VENV)/bin/itembank demo --out out

## Run the whole test suite (SQLite and PostgreSQL; set ITEMBANK_SKIP_POSTGRES=1 to skip PostgreSQL).
test: $(STAMP)
	$(PY) -m pytest tests -n 2 --dist loadgroup -q

## Heavy benchmarks: ours and the peers side by side (installs the peer packages first).
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m pytest benchmarks -m bench -p no:xdist --benchmark-columns=min,median,max,rounds --benchmark-group-by=group -q

lint: $(STAMP)
	$(VENV)/bin/ruff check itembank assembly calibration api tests benchmarks
	$(VENV)/bin/mypy itembank assembly calibration api
