# spotray: `make demo` sets up and runs the main job, `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# checkov reviews the rendered files in the tests. It lives in a venv of its own: it pins an old
# `packaging` (Ray needs a newer one) and ships a different `hcl2` under the same module name.
CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_VERSION := 3.3.30

.PHONY: demo test lint format bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[local,plot,test]"
	touch $(STAMP)

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "checkov==$(CHECKOV_VERSION)"
	touch $(CHECKOV_STAMP)

demo: $(STAMP)
	$(BIN)/spotray render examples/seed.yaml -o out/seed
	$(BIN)/spotray explain examples/seed.yaml
	$(BIN)/spotray check --spec examples/seed.yaml
	@echo "--- the article's own files, as written (their known faults; exit 1 expected):"
	-$(BIN)/spotray check ../shared/seed/ray-cluster.yaml ../shared/seed/nodepool.tf
	@echo "--- the example job on a local Ray cluster shaped like the seed, with Spot preemptions:"
	$(BIN)/spotray run examples/seed.yaml --local --preempt-rate 30 --seed 1 --time-scale 3 \
		--report out/report.json -- $(BIN)/python examples/batch_job.py --tasks 40 --task-seconds 2
	@echo "--- the same kind of job with long tasks, plain Ray against spotray.resumable, same preemptions:"
	$(BIN)/python bench/goodput.py --tasks 8 --steps 20 --rate 15

test: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/gen_docs.py --check
	SPOTRAY_CHECKOV=$(CHECKOV_VENV)/bin/checkov $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/render.py
	$(BIN)/python bench/check.py
	$(BIN)/python bench/local_up.py
	$(BIN)/python bench/preemption_detect.py
	$(BIN)/python bench/vs_commit.py HEAD~1
	$(BIN)/python bench/goodput.py
	$(BIN)/python bench/fallback.py
	$(BIN)/python bench/sim.py
	$(BIN)/python bench/calibrate.py

docs: $(STAMP)
	$(BIN)/python tools/gen_docs.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build dist out src/*.egg-info .pytest_cache .ruff_cache .hypothesis
