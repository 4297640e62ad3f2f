# The zoo's front door. `make bench MODEL=srcnn` and `make test` set everything up on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
MODEL  ?=

.PHONY: help setup test bench data figures clean-data

help:
	@echo "make setup              create $(VENV) and install the pinned requirements"
	@echo "make test [ARGS=...]    run the whole test suite, one pytest process per model (ARGS go to pytest)"
	@echo "make bench [MODEL=name] train+evaluate a model's bench preset (all models without MODEL)"
	@echo "make data               build the embedded sample datasets under datasets/sample"
	@echo "make figures            render docs/figures/*.png from the benches' checkpoints in outputs/ (python -m tools.figures; ONLY=lptn.png: that figure only)"

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m tools.run_tests $(ARGS)

bench: $(STAMP)
	$(PY) -m tools.bench $(if $(MODEL),--model $(MODEL))

data: $(STAMP)
	$(PY) -m common.sample_data --out datasets/sample

figures: $(STAMP)
	$(PY) -m tools.figures $(if $(ONLY),--only $(ONLY))

clean-data:
	rm -rf datasets/sample
