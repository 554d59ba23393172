# Two commands for a newcomer: `make lab` (install and open the course) and `make test` (install and test).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= smoke
TEST_JOBS ?= 2
# make test-oldest: requirements-oldest.txt, every package at its floor
REQUIREMENTS ?= requirements.txt
export COURSE_PROFILE ?= $(PROFILE)

.PHONY: install lab test test-oldest test-browser run bench clean strip

$(VENV)/.installed: $(REQUIREMENTS) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(REQUIREMENTS)
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

lab: install  ## install everything and open the course in JupyterLab
	$(VENV)/bin/jupyter lab notebooks/00_start_here.ipynb

# The smoke stand-in weights are built (first run only) beside the workers, which start with work that needs none;
# a notebook that needs a file still being built waits for it (helpers/smoke_weights.py).
test: install  ## unit tests and every notebook under nbval in smoke, each followed by its saved models' check, on TEST_JOBS workers (default 2)
	@start=$$(date +%s); \
	rm -rf $(CURDIR)/build/test-work && \
	{ $(PY) -m helpers.smoke_weights & builder=$$!; } && \
	COURSE_PROFILE=smoke COURSE_SOLUTIONS=1 COURSE_WORK_DIR=$(CURDIR)/build/test-work $(PY) -m pytest -q tests notebooks -n $(TEST_JOBS) \
	  --ignore=tests/test_browser.py --nbval-lax --nbval-current-env --nbval-cell-timeout=600 -p no:randomly; \
	status=$$?; wait $$builder || status=1; \
	echo "make test: $$(( $$(date +%s) - start )) s on $$(nproc) CPU cores"; exit $$status

test-oldest:  ## make test in .venv-oldest, on the oldest versions requirements.txt allows (requirements-oldest.txt)
	$(MAKE) test VENV=.venv-oldest REQUIREMENTS=requirements-oldest.txt

test-browser: install  ## 00 and the widget notebooks run in JupyterLab in headless Chromium (needs Debian's chromium and chromium-driver)
	@start=$$(date +%s); \
	$(PY) -m helpers.smoke_weights && \
	$(PY) -m pytest -q tests/test_browser.py -p no:randomly; \
	status=$$?; \
	echo "make test-browser: $$(( $$(date +%s) - start )) s on $$(nproc) CPU cores"; exit $$status

run: install  ## execute every notebook headless in PROFILE (default smoke); RUN_ARGS="--only 03 04 --random-weights"
	$(PY) tools/run_notebooks.py --profile $(PROFILE) $(RUN_ARGS)

strip:  ## strip outputs (keeping NBVAL_CHECK_OUTPUT cells) from every notebook
	$(PY) tools/nbtool.py strip notebooks/*.ipynb

clean:
	rm -rf build results

bench: install  ## the source's VGG16 recipe against the course's, side by side (BENCH_ARGS=--random-weights ...)
	$(PY) benchmarks/vgg16_feature_extraction.py $(BENCH_ARGS)
