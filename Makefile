# The two commands: `make run` (the main job on defaults) and `make test`.
# Each creates .venv with python3, installs pkmodel into it, then runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# the main job: TID vs QID at 2 mg/kg/day with caps, 1,000 children with CP, report in out/
# (--overwrite: out/ is this job's own output, made again on every run)
run: $(STAMP)
	$(VENV)/bin/pkmodel compare --out out --n 1000 --ages 2-17 --seed 1 --overwrite \
	    --regimen "TID=2 mg/kg/day TID for 14 days, max 20 mg/dose, max 80 mg/day" \
	    --regimen "QID=2 mg/kg/day QID for 14 days, max 20 mg/dose, max 80 mg/day"

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
