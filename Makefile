# The two commands: `make run` (the main job on defaults) and `make test`.
# Each creates .venv with python3 and installs pkmodel into it: `run` only what
# running needs, `test` the test extras too (Jupyter, hypothesis, Dask).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint chromium bench clean

# no pip upgrade (venv's own pip installs editable pyproject packages, pip >= 21.3), and the run
# install without byte-compiling every module of numpy, scipy, pandas, matplotlib and sympy
# (those imported are compiled on first import): a fresh clone's `make run` is mostly install
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --no-compile -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP) $(RUN_STAMP)

# the main job: TID vs QID at 2 mg/kg/day with caps, 1,000 children with CP, report in out/
# (--overwrite: out/ is this job's own output, made again on every run)
run: $(RUN_STAMP)
	$(VENV)/bin/pkmodel compare --out out --n 1000 --ages 2-17 --seed 1 --overwrite \
	    --regimen "TID=2 mg/kg/day TID for 14 days, max 20 mg/dose, max 80 mg/day" \
	    --regimen "QID=2 mg/kg/day QID for 14 days, max 20 mg/dose, max 80 mg/day"

# on two worker processes (pytest-xdist), the machine's two cores; tests of a module that share a
# module-scoped set-up stay on one worker (tests/conftest.py)
test: $(TEST_STAMP) chromium
	$(PY) -m pytest -n 2 --dist loadgroup

# the edit-test loop: everything but the tests marked slow (property tests, notebooks,
# subprocess and memory tests), on two workers as `make test`; `make test` and CI run them all
test-fast: $(TEST_STAMP)
	$(PY) -m pytest -q -m "not slow" -n 2 --dist loadgroup

# lint and format (ruff) and types (mypy), as configured in pyproject.toml; .ci/run runs it
# before the tests
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check pkmodel tests bench
	$(VENV)/bin/ruff format --check pkmodel tests bench
	$(VENV)/bin/mypy

# the browser test of report.html drives Debian's chromium (playwright, a test extra): installed
# here when missing, as root with apt-get; where that cannot be, the test skips and says why
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	    && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends chromium fonts-liberation >/dev/null; } \
	    || echo "make: chromium is not installed and could not be (needs root, apt-get and Debian's package chromium): the browser test of report.html will skip"

bench: $(TEST_STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
