"""The input audit: every way input can be wrong, the exception it raises and its message.

ROWS is the audit. `test_bad_input_is_refused` runs each row and pins its exception type (exactly)
and message; docs/input_audit.md is generated from ROWS with the messages the calls really give,
and `test_the_audit_document_lists_every_row` fails when the document and ROWS differ.
Regenerate the document with `python tests/test_input_audit.py`.
"""

import math
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
import pytest

import pkmodel as pk
from pkmodel.population import renal
from pkmodel import plots as pkplots
from pkmodel.dosing.doses import SubjectDoses
from pkmodel.io.files import atomic_write
from pkmodel.analysis.sensitivity import variant as sensitivity_variant
from pkmodel.analysis.validation import Observation
from conftest import card_document, typical_cohort, write_model, write_toml

DOC = Path(__file__).resolve().parents[1] / "docs" / "input_audit.md"


@dataclass(frozen=True)
class Row:
    id: str
    area: str
    wrong: str  # what is wrong, in words
    call: Callable[[Path], object]  # takes a scratch folder
    error: type
    message: str  # regular expression the message must match
    cut: str = ""  # the doc shows the message up to this (another library's
    # words follow, which may change with its version)


# --- building bad input -------------------------------------------------------------------

CARD = pk.load_model("baclofen_cp_card")
CHILD = typical_cohort(20)
REG = pk.Regimen.fixed(mg=10, every_h=8, n_doses=3)
TIMES = np.arange(0.0, 24.5, 0.5)


def model_with(tmp: Path, **changes):
    return pk.load_model(write_model(tmp, **changes))


def model_doc(tmp: Path, change: Callable[[dict], None]):
    doc = card_document()
    change(doc)
    return pk.load_model(write_toml(tmp / "model.toml", doc))


def model_plus(tmp: Path, toml: str, **changes):
    """The card model file (with changes) and more TOML after it (e.g. [[correlations]])."""
    path = write_model(tmp, **changes)
    path.write_text(path.read_text() + "\n" + toml)
    return pk.load_model(path)


def run(model=CARD, cohort=CHILD, regimen=REG, times=TIMES, **options):
    return pk.simulate(model, cohort, regimen, times, **options)


def cohort(**fields):
    return pk.Cohort(**{"weight_kg": [20.0], "age_years": [8.0], **fields})


def events(**columns):
    base = {"ID": [1, 1], "TIME": [0.0, 8.0], "AMT": [5.0, 5.0], "EVID": [1, 1], "CMT": [1, 1]}
    base.update(columns)
    return pk.read_events(pd.DataFrame(base))


def saved(tmp: Path) -> Path:
    return run(times=[0.0, 1.0, 2.0], seed=1).save(tmp / "run.parquet")


def unsaved_table(tmp: Path) -> Path:
    path = tmp / "run.parquet"
    run(times=[0.0, 1.0, 2.0], seed=1).parameters.to_parquet(path)
    return path


def changed_result(tmp: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = saved(tmp)
    table = pq.read_table(path)
    i = table.column_names.index("concentration_mg_per_L")
    column = table.column(i).combine_chunks()
    values = column.flatten().to_numpy().copy()
    values[-1] *= 2
    changed = pa.FixedSizeListArray.from_arrays(pa.array(values), column.type.list_size)
    pq.write_table(
        table.set_column(i, "concentration_mg_per_L", changed).replace_schema_metadata(table.schema.metadata),
        path,
    )
    return path


def study_file(tmp: Path) -> Path:
    from pkmodel import cli

    cli.main(
        ["simulate", "--regimen", "2 mg/kg/day TID for 1 day", "--n", "20", "--quiet", "--out", str(tmp)]
    )
    return tmp / "concentrations.parquet"


def into_missing_folder(tmp: Path):
    with atomic_write(tmp / "no" / "such" / "folder" / "x.csv", text=True) as f:
        f.write("x\n")


def existing(tmp: Path) -> Path:
    (tmp / "run.parquet").write_bytes(b"an earlier result")
    return tmp / "run.parquet"


class ExitCode(Exception):
    """What the command line printed on stderr and the code it exited with (its audit rows)."""


def command(*args: str):
    """Run `pkmodel ARGS` in this process; raise ExitCode with its exit code and message."""
    import contextlib
    from io import StringIO

    from pkmodel import cli

    err = StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(StringIO()):
        try:
            code = cli.main(list(args))
        except SystemExit as stop:
            code = stop.code
    raise ExitCode(f"exit {code}: {err.getvalue().strip()}")


def study(tmp: Path, *args: str):
    """`pkmodel compare` of one short regimen on 5 children into tmp/o, with more options."""
    return command(
        "compare",
        "--regimen",
        "2 mg/kg/day TID for 1 day",
        "--n",
        "5",
        "--quiet",
        "--out",
        str(tmp / "o"),
        *args,
    )


def edited_record(tmp: Path, **changes) -> Path:
    import json

    import pyarrow.parquet as pq

    path = saved(tmp)
    table = pq.read_table(path)
    metadata = dict(table.schema.metadata)
    record = json.loads(metadata[b"pkmodel.provenance"])
    metadata[b"pkmodel.provenance"] = json.dumps(dict(record, **changes)).encode()
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def edited_cl(tmp: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = saved(tmp)
    table = pq.read_table(path)
    i = table.column_names.index("CL")
    values = table.column(i).to_numpy().copy()
    values[0] *= 2
    pq.write_table(
        table.set_column(i, "CL", pa.array(values)).replace_schema_metadata(table.schema.metadata), path
    )
    return path


def record_not_json(tmp: Path) -> Path:
    import pyarrow.parquet as pq

    path = saved(tmp)
    table = pq.read_table(path)
    metadata = {**table.schema.metadata, b"pkmodel.provenance": b'{"format": "pkmodel.res'}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def foreign_file_in(tmp: Path) -> Path:
    (tmp / "o").mkdir()
    write_text(tmp / "o" / "notes.txt", "someone's notes\n")
    return tmp


# --- NONMEM data sets (simulate_dataset): one child, a dose and an observation ---


def ds_frame(**changes) -> pd.DataFrame:
    base = {
        "ID": [1, 1],
        "TIME": [0.0, 1.0],
        "AMT": [10.0, 0.0],
        "EVID": [1, 0],
        "CMT": [1, 2],
        "WT": [20.0, 20.0],
    }
    return pd.DataFrame({**base, **changes})


def ds_run(tmp=None, model=CARD, **changes):
    return pk.simulate_dataset(model, ds_frame(**changes))


# --- the audit ----------------------------------------------------------------------------

MODEL, COHORT, REGIMEN, EVENTS, TIMES_, OPTIONS, FILES, OTHER = (
    "model file",
    "cohort",
    "regimen",
    "event table",
    "times",
    "options",
    "files",
    "units, exposure",
)
ESTIMATION = "estimation"
ModelFileError = pk.ModelFileError

ROWS = [
    # model files
    Row(
        "model-missing",
        MODEL,
        "file does not exist",
        lambda t: pk.load_model(t / "nothing.toml"),
        FileNotFoundError,
        r"model file '.*nothing\.toml' does not exist",
    ),
    Row(
        "model-unknown-name",
        MODEL,
        "not a bundled model's name",
        lambda t: pk.load_model("baclofen"),
        ValueError,
        r"model 'baclofen' is not a bundled model; expected one of \['baclofen_cp_card', "
        r"'baclofen_cp_he2014', 'baclofen_cp_he2014_fast_absorption', 'effect_compartment_emax', "
        r"'maturation_renal_cl', 'phenytoin_mm_oral', 'three_compartment_iv_oral'\] or a path",
    ),
    Row(
        "model-not-a-name",
        MODEL,
        "a number for the name or path",
        lambda t: pk.load_model(5),
        TypeError,
        r"load_model: name_or_path is 5 \(int\); expected a bundled model's name or a path",
    ),
    Row(
        "model-not-toml",
        MODEL,
        "not TOML",
        lambda t: pk.load_model(write_text(t / "m.toml", "[model\nname = 'x'")),
        ModelFileError,
        r"m\.toml: not valid TOML: Expected ']'",
        cut="not valid TOML:",
    ),
    Row(
        "model-table-missing",
        MODEL,
        "no [model] table",
        lambda t: model_doc(t, lambda d: d.pop("model")),
        ModelFileError,
        r"table \[model\] is missing",
    ),
    Row(
        "model-name-missing",
        MODEL,
        "model.name missing",
        lambda t: model_doc(t, lambda d: d["model"].pop("name")),
        ModelFileError,
        r"model\.name is missing",
    ),
    Row(
        "model-name-not-text",
        MODEL,
        "model.name a number",
        lambda t: model_with(t, model={"name": 5}),
        ModelFileError,
        r"model\.name is 5; expected the model's name as text",
    ),
    Row(
        "model-unknown-table",
        MODEL,
        "a table pkmodel does not know",
        lambda t: model_doc(t, lambda d: d.update(extras={"a": 1})),
        ModelFileError,
        r"unknown field extras; expected one of \['correlations', 'covariates', 'derived', "
        r"'dosing', 'model', 'odes', 'outputs', 'parameters'",
    ),
    Row(
        "model-misspelt-field",
        MODEL,
        "a misspelt field (vlaue)",
        lambda t: model_with(t, CL={"vlaue": 0.3}),
        ModelFileError,
        r"unknown field parameters\.CL\.vlaue; expected one of \['assumed', 'covariates'",
    ),
    Row(
        "model-unknown-structure",
        MODEL,
        "unknown structure",
        lambda t: model_with(t, model={"structure": "three_compartment_oral"}),
        ModelFileError,
        r"model\.structure is 'three_compartment_oral'; expected one of \['one_compartment_oral', "
        r"'two_compartment_oral'\]",
    ),
    Row(
        "model-unknown-absorption",
        MODEL,
        "unknown absorption",
        lambda t: model_with(t, model={"absorption": "zero_order"}),
        ModelFileError,
        r"model\.absorption is 'zero_order'; expected one of \['first_order', 'transit', "
        r"'transit_first_order'\]",
    ),
    Row(
        "model-transit-count-missing",
        MODEL,
        "transit absorption without n_transit",
        lambda t: model_with(t, model={"absorption": "transit"}),
        ModelFileError,
        r"model\.n_transit is missing; transit absorption needs the number of transit",
    ),
    Row(
        "model-transit-count-fraction",
        MODEL,
        "n_transit not a whole number",
        lambda t: model_with(t, model={"absorption": "transit", "n_transit": 2.5}),
        ModelFileError,
        r"model\.n_transit is 2\.5; expected a whole number >= 0",
    ),
    Row(
        "model-transit-count-first-order",
        MODEL,
        "n_transit with first-order absorption",
        lambda t: model_with(t, model={"n_transit": 2}),
        ModelFileError,
        r"model\.n_transit is 2 with first-order absorption; expected absorption = 'transit'",
    ),
    Row(
        "model-parameter-missing",
        MODEL,
        "a parameter the structure needs is missing",
        lambda t: model_with(t, drop=["V"]),
        ModelFileError,
        r"parameters \['V'\] missing; structure 'one_compartment_oral' needs \['CL', 'V', 'ka'\]",
    ),
    Row(
        "model-parameter-unknown",
        MODEL,
        "a parameter the structure does not take",
        lambda t: model_with(t, Vd={"value": 1.0, "unit": "L"}),
        ModelFileError,
        r"unknown parameters \['Vd'\]; structure 'one_compartment_oral' takes \['CL', 'V', 'ka'\]",
    ),
    Row(
        "model-unit-missing",
        MODEL,
        "a number without its unit",
        lambda t: model_with(t, drop=["CL.unit"]),
        ModelFileError,
        r"parameters\.CL\.unit is missing; every number names its unit",
    ),
    Row(
        "model-unit-unknown",
        MODEL,
        "a unit pkmodel does not convert (mL/min)",
        lambda t: model_with(t, CL={"unit": "mL/min"}),
        ModelFileError,
        r"parameters\.CL\.unit is 'mL/min'; expected one of 'L/h/kg', 'L/h'",
    ),
    Row(
        "model-unit-dimension",
        MODEL,
        "a unit of another dimension (V in L/h/kg)",
        lambda t: model_with(t, V={"unit": "L/h/kg"}),
        ModelFileError,
        r"parameters\.V\.unit is 'L/h/kg'; expected one of 'L/kg', 'L'",
    ),
    Row(
        "model-unit-percent",
        MODEL,
        "bioavailability in %",
        lambda t: model_with(t, F={"value": 80.0, "unit": "%"}),
        ModelFileError,
        r"parameters\.F\.unit is '%'; expected one of '1'",
    ),
    Row(
        "model-value-missing",
        MODEL,
        "a parameter without value",
        lambda t: model_with(t, drop=["CL.value"]),
        ModelFileError,
        r"parameters\.CL\.value is missing \(give value, or derived",
    ),
    Row(
        "model-value-negative",
        MODEL,
        "a negative value",
        lambda t: model_with(t, CL={"value": -0.273}),
        ModelFileError,
        r"parameters\.CL\.value is -0\.273; expected a finite number > 0 in L/h/kg",
    ),
    Row(
        "model-value-zero",
        MODEL,
        "a zero value",
        lambda t: model_with(t, CL={"value": 0.0}),
        ModelFileError,
        r"parameters\.CL\.value is 0\.0; expected a finite number > 0 in L/h/kg",
    ),
    Row(
        "model-value-nan",
        MODEL,
        "a NaN value",
        lambda t: model_with(t, CL={"value": math.nan}),
        ModelFileError,
        r"parameters\.CL\.value is nan; expected a finite number > 0 in L/h/kg",
    ),
    Row(
        "model-value-infinite",
        MODEL,
        "an infinite value",
        lambda t: model_with(t, CL={"value": math.inf}),
        ModelFileError,
        r"parameters\.CL\.value is inf; expected a finite number > 0 in L/h/kg",
    ),
    Row(
        "model-value-text",
        MODEL,
        "a value written as text",
        lambda t: model_with(t, CL={"value": "0.273"}),
        ModelFileError,
        r"parameters\.CL\.value is '0\.273'; expected a finite number > 0 in L/h/kg",
    ),
    Row(
        "model-lag-negative",
        MODEL,
        "a negative lag time",
        lambda t: model_with(t, tlag={"value": -1.0, "unit": "h"}),
        ModelFileError,
        r"parameters\.tlag\.value is -1\.0; expected a finite number >= 0 in h",
    ),
    Row(
        "model-derived-rounded",
        MODEL,
        "a derived value stored rounded",
        lambda t: model_with(t, V={"value": 1.7723508577}),
        ModelFileError,
        r"parameters\.V\.value is 1\.7723508577 but parameters\.V\.derived '0\.273 \* 4\.5 / "
        r"ln\(2\)' is 1\.7723508577320919; store the full-precision value",
    ),
    Row(
        "model-derived-not-arithmetic",
        MODEL,
        "a derived expression that is not arithmetic",
        lambda t: model_with(t, V={"derived": "__import__('os')"}),
        ModelFileError,
        r"parameters\.V\.derived is \"__import__\('os'\)\"; expected arithmetic on numbers",
    ),
    Row(
        "model-iiv-negative",
        MODEL,
        "a negative IIV SD",
        lambda t: model_with(t, CL={"iiv_sd": -0.1}),
        ModelFileError,
        r"parameters\.CL\.iiv_sd is -0\.1; expected a finite number >= 0 \(an SD on the log scale\)",
    ),
    Row(
        "model-iiv-nan",
        MODEL,
        "a NaN IIV SD",
        lambda t: model_with(t, CL={"iiv_sd": math.nan}),
        ModelFileError,
        r"parameters\.CL\.iiv_sd is nan; expected a finite number >= 0",
    ),
    Row(
        "model-iiv-percent",
        MODEL,
        "an IIV SD written as a percentage (33.4)",
        lambda t: model_with(t, CL={"iiv_sd": 33.4}),
        ModelFileError,
        r"parameters\.CL\.iiv_sd is 33\.4; expected an SD on the log scale of at most 3 "
        r"\(a fraction: 0\.334 for 33\.4 %\)",
    ),
    Row(
        "model-rse-negative",
        MODEL,
        "a negative relative standard error",
        lambda t: model_with(t, CL={"rse": -0.1}),
        ModelFileError,
        r"parameters\.CL\.rse is -0\.1; expected a finite number >= 0 \(a relative standard error\)",
    ),
    Row(
        "model-effect-sd-negative",
        MODEL,
        "a shared random effect with a negative SD",
        lambda t: model_plus(t, '[random_effects.Vss]\nsd = -0.1\nparameters = ["V"]\n', V={"iiv_sd": 0.0}),
        ModelFileError,
        r"random_effects\.Vss\.sd is -0\.1; expected a finite number >= 0",
    ),
    Row(
        "model-effect-unknown-parameter",
        MODEL,
        "a random effect on a parameter not in the model",
        lambda t: model_plus(t, '[random_effects.Vss]\nsd = 0.4\nparameters = ["Q"]\n'),
        ModelFileError,
        r"random_effects\.Vss\.parameters names 'Q'; expected one of "
        r"\['CL', 'V', 'ka'\]",
    ),
    Row(
        "model-effect-twice",
        MODEL,
        "a parameter with two random effects",
        lambda t: model_plus(t, '[random_effects.Vss]\nsd = 0.4\nparameters = ["V"]\n'),
        ModelFileError,
        r"parameters\.V has two random effects \('V' and 'Vss'\); expected one",
    ),
    Row(
        "model-correlation-range",
        MODEL,
        "a correlation outside [-1, 1]",
        lambda t: model_plus(t, '[[correlations]]\nbetween = ["CL", "V"]\nvalue = 1.5\n'),
        ModelFileError,
        r"correlation between 'CL' and 'V' is 1\.5; expected a number in \[-1, 1\]",
    ),
    Row(
        "model-correlation-unknown",
        MODEL,
        "a correlation with an effect the model lacks",
        lambda t: model_plus(t, '[[correlations]]\nbetween = ["CL", "Q"]\nvalue = 0.3\n'),
        ModelFileError,
        r"correlation between 'CL' and 'Q': 'Q' is not a random effect",
    ),
    Row(
        "model-omega-not-psd",
        MODEL,
        "correlations that cannot occur together (omega not PSD)",
        lambda t: model_plus(
            t,
            "".join(
                f'[[correlations]]\nbetween = ["{a}", "{b}"]\nvalue = {r}\n'
                for a, b, r in (("CL", "V", 0.9), ("CL", "ka", 0.9), ("V", "ka", -0.9))
            ),
        ),
        ModelFileError,
        r"omega \(random effects \['CL', 'V', 'ka'\]\) is not positive "
        r"semi-definite: smallest eigenvalue",
    ),
    Row(
        "model-residual-type",
        MODEL,
        "an unknown residual error model",
        lambda t: model_doc(t, lambda d: d["residual_error"].update(type="log")),
        ModelFileError,
        r"residual_error\.type is 'log'; expected one of \['proportional', 'additive'",
    ),
    Row(
        "model-residual-percent",
        MODEL,
        "a proportional error written as a percentage (24)",
        lambda t: model_doc(t, lambda d: d["residual_error"].update(proportional_sd=24.0)),
        ModelFileError,
        r"residual_error\.proportional_sd is 24\.0; expected a fraction of at "
        r"most 3",
    ),
    Row(
        "model-covariate-unknown",
        MODEL,
        "a covariate pkmodel does not know",
        lambda t: model_with(
            t, CL={"covariates": {"eye_colour": {"type": "categorical", "values": {"blue": 0.3}}}}
        ),
        ModelFileError,
        r"unknown covariate 'eye_colour' in parameters\.CL\.covariates\.eye_colour",
    ),
    Row(
        "model-covariate-reference",
        MODEL,
        "a power covariate with reference 0",
        lambda t: model_with(
            t, CL={"covariates": {"age_years": {"type": "power", "reference": 0.0, "exponent": 0.5}}}
        ),
        ModelFileError,
        r"parameters\.CL\.covariates\.age_years\.reference is 0\.0; expected a "
        r"number > 0",
    ),
    # cohorts
    Row(
        "cohort-weight-negative",
        COHORT,
        "a weight <= 0",
        lambda t: cohort(weight_kg=[20.0, -3.0], age_years=[8.0, 9.0]),
        ValueError,
        r"Cohort\.weight_kg\[1\] is -3\.0; expected a weight > 0 kg",
    ),
    Row(
        "cohort-weight-nan",
        COHORT,
        "a NaN weight",
        lambda t: cohort(weight_kg=[math.nan]),
        ValueError,
        r"Cohort\.weight_kg\[0\] is nan; expected a finite number",
    ),
    Row(
        "cohort-weight-grams",
        COHORT,
        "a weight in g for kg",
        lambda t: cohort(weight_kg=[20000.0]),
        ValueError,
        r"Cohort\.weight_kg\[0\] is 20000\.0; expected a weight in kg, at most 650 \(a weight in g "
        r"is 1000 times larger\)",
    ),
    Row(
        "cohort-weight-text",
        COHORT,
        "weights as text",
        lambda t: cohort(weight_kg=["20"]),
        ValueError,
        r"Cohort\.weight_kg\[0\] is '20'; expected a number",
    ),
    Row(
        "cohort-weight-bool",
        COHORT,
        "a weight True",
        lambda t: cohort(weight_kg=[True]),
        ValueError,
        r"Cohort\.weight_kg\[0\] is True; expected a number",
    ),
    Row(
        "cohort-empty",
        COHORT,
        "no children",
        lambda t: cohort(weight_kg=[], age_years=[]),
        ValueError,
        r"Cohort\.weight_kg is empty; expected at least one child",
    ),
    Row(
        "cohort-weight-2d",
        COHORT,
        "weights as a table",
        lambda t: cohort(weight_kg=[[20.0, 30.0]]),
        ValueError,
        r"Cohort\.weight_kg has shape \(1, 2\); expected one value per child",
    ),
    Row(
        "cohort-lengths",
        COHORT,
        "ages and weights of different lengths",
        lambda t: cohort(weight_kg=[20.0, 30.0], age_years=[8.0]),
        ValueError,
        r"Cohort\.age_years has 1 values; expected 2",
    ),
    Row(
        "cohort-age-negative",
        COHORT,
        "a negative age",
        lambda t: cohort(age_years=[-1.0]),
        ValueError,
        r"Cohort\.age_years\[0\] is -1\.0; expected an age >= 0 years",
    ),
    Row(
        "cohort-age-months",
        COHORT,
        "an age beyond any person's (months for years)",
        lambda t: cohort(age_years=[150.0]),
        ValueError,
        r"Cohort\.age_years\[0\] is 150\.0; expected an age in years, at most 125",
    ),
    Row(
        "cohort-sex",
        COHORT,
        "sex other than 'M' or 'F'",
        lambda t: cohort(sex=["male"]),
        ValueError,
        r"Cohort\.sex\[0\] is 'male'; expected 'M' or 'F'",
    ),
    Row(
        "cohort-ids-repeated",
        COHORT,
        "an ID twice",
        lambda t: cohort(weight_kg=[20.0, 30.0], age_years=[8.0, 9.0], ids=[4, 4]),
        ValueError,
        r"Cohort\.ids repeats 4; expected unique IDs",
    ),
    Row(
        "cohort-ids-fraction",
        COHORT,
        "an ID that is not a whole number",
        lambda t: cohort(ids=[1.5]),
        ValueError,
        r"Cohort\.ids has dtype float64; expected integers",
    ),
    Row(
        "cohort-height-metres",
        COHORT,
        "a height in m for cm",
        lambda t: cohort(height_cm=[1.2]),
        ValueError,
        r"Cohort\.height_cm\[0\] is 1\.2; expected a height in cm, 20 to 300",
    ),
    Row(
        "cohort-gmfcs",
        COHORT,
        "a GMFCS level outside 1-5",
        lambda t: cohort(covariates={"gmfcs": [6]}),
        ValueError,
        r"Cohort\.covariates\['gmfcs'\]\[0\] is 6; expected a GMFCS level 1, 2, 3, 4 or 5",
    ),
    Row(
        "cohort-weight-z-wrong",
        COHORT,
        "a weight z-score that is not the weight's",
        lambda t: cohort(sex=["M"], weight_z=[2.0]),
        ValueError,
        r"Cohort\.weight_z\[0\] is 2\.0; expected -?\d\.\d+, the CDC 2000 weight-for-age z-score",
    ),
    Row(
        "cohort-weight-z-no-sex",
        COHORT,
        "a weight z-score without sex",
        lambda t: cohort(weight_z=[0.0]),
        ValueError,
        r"Cohort\.weight_z is given without sex; expected sex too",
    ),
    Row(
        "charts-n",
        COHORT,
        "from_growth_charts with no children",
        lambda t: pk.Cohort.from_growth_charts(0, seed=1),
        ValueError,
        r"Cohort\.from_growth_charts: n is 0; expected a whole number of children >= 1",
    ),
    Row(
        "charts-ages",
        COHORT,
        "ages outside the charts (2-20 y)",
        lambda t: pk.Cohort.from_growth_charts(10, age_years=(1, 17), seed=1),
        ValueError,
        r"Cohort\.from_growth_charts: age_years is \(1, 17\); expected \(youngest, oldest\) within "
        r"the CDC 2000 growth charts' range, 2 to 20 years",
    ),
    Row(
        "charts-gmfcs-sum",
        COHORT,
        "GMFCS proportions that do not sum to 1",
        lambda t: pk.Cohort.from_growth_charts(10, seed=1, gmfcs={1: 0.5, 3: 0.2}),
        ValueError,
        r"Cohort\.from_growth_charts: gmfcs proportions sum to 0\.7; expected 1",
    ),
    Row(
        "charts-seed",
        COHORT,
        "a negative seed",
        lambda t: pk.Cohort.from_growth_charts(10, seed=-1),
        ValueError,
        r"seed is -1; expected a whole number >= 0 or None",
    ),
    Row(
        "frame-weight-missing",
        COHORT,
        "a patient table without weights",
        lambda t: pk.Cohort.from_frame(pd.DataFrame({"age_years": [3.0]})),
        ValueError,
        r"Cohort\.from_frame: the table has no weight_kg column; its columns are \['age_years'\]",
    ),
    Row(
        "frame-weight-unit",
        COHORT,
        "a patient table with weights in a unit pkmodel does not convert",
        lambda t: pk.Cohort.from_frame(pd.DataFrame({"age_years": [3.0], "weight_st": [2.5]})),
        ValueError,
        r"the table has no weight_kg column \(found 'weight_st': pkmodel converts "
        r"weight_\{kg, g, lb\} only\)",
    ),
    # regimens
    Row(
        "weight-based-zero",
        REGIMEN,
        "mg_per_kg_day 0",
        lambda t: pk.Regimen.weight_based(0, 3, 14),
        ValueError,
        r"Regimen\.weight_based: mg_per_kg_day is 0; expected a finite number > 0",
    ),
    Row(
        "weight-based-nan",
        REGIMEN,
        "mg_per_kg_day NaN",
        lambda t: pk.Regimen.weight_based(math.nan, 3, 14),
        ValueError,
        r"Regimen\.weight_based: mg_per_kg_day is nan; expected a finite number > 0",
    ),
    Row(
        "weight-based-per-dose",
        REGIMEN,
        "mg/kg where mg/kg/day is needed",
        lambda t: pk.Regimen.weight_based("2 mg/kg", 3, 14),
        ValueError,
        r"Regimen\.weight_based: mg_per_kg_day is '2 mg/kg': 'mg/kg' is an amount per kg per dose; "
        r"expected mg/kg/day \(an amount per kg per day\)",
    ),
    Row(
        "weight-based-no-unit",
        REGIMEN,
        "text without a unit",
        lambda t: pk.Regimen.weight_based("2", 3, 14),
        ValueError,
        r"Regimen\.weight_based: mg_per_kg_day is '2'; expected a number and a unit, e\.g\. "
        r"'2\.5 mg' or '2 mg/kg/day'",
    ),
    Row(
        "cap-per-day-per-dose",
        REGIMEN,
        "a daily cap given per dose (mg)",
        lambda t: pk.Regimen.weight_based(2, 3, 14, max_mg_per_day="80 mg"),
        ValueError,
        r"max_mg_per_day is '80 mg': 'mg' is an amount per dose; expected mg/day",
    ),
    Row(
        "cap-per-dose-per-day",
        REGIMEN,
        "a dose cap given per day",
        lambda t: pk.Regimen.weight_based(2, 3, 14, max_mg_per_dose="20 mg/day"),
        ValueError,
        r"max_mg_per_dose is '20 mg/day': 'mg/day' is an amount per day; expected mg \(an amount "
        r"per dose\)",
    ),
    Row(
        "cap-zero",
        REGIMEN,
        "a cap of 0 mg/day",
        lambda t: pk.Regimen.weight_based(2, 3, 14, max_mg_per_day=0),
        ValueError,
        r"Regimen\.weight_based: max_mg_per_day is 0; expected a finite number > 0",
    ),
    Row(
        "fixed-volume",
        REGIMEN,
        "a dose in mL",
        lambda t: pk.Regimen.fixed("2 mL", every_h=8, n_doses=3),
        ValueError,
        r"Regimen\.fixed: mg is '2 mL': 'mL' is not a dose unit; expected mg \(an amount per dose; "
        r"mass in g, mg, ug",
    ),
    Row(
        "fixed-negative-text",
        REGIMEN,
        "a negative dose as text",
        lambda t: pk.Regimen.fixed("-2 mg", every_h=8, n_doses=3),
        ValueError,
        r"Regimen\.fixed: mg is '-2 mg'; expected a finite number > 0 of mg",
    ),
    Row(
        "fixed-decimal-comma",
        REGIMEN,
        "a decimal comma",
        lambda t: pk.Regimen.fixed("2,5 mg", every_h=8, n_doses=3),
        ValueError,
        r"Regimen\.fixed: mg is '2,5 mg'; expected a number and a unit",
    ),
    Row(
        "fixed-interval-zero",
        REGIMEN,
        "doses 0 h apart",
        lambda t: pk.Regimen.fixed(10, every_h=0, n_doses=3),
        ValueError,
        r"Regimen\.fixed: every_h is 0; expected a finite number > 0",
    ),
    Row(
        "fixed-no-doses",
        REGIMEN,
        "no doses",
        lambda t: pk.Regimen.fixed(10, every_h=8, n_doses=0),
        ValueError,
        r"Regimen\.fixed: n_doses is 0; expected a whole number >= 1",
    ),
    Row(
        "doses-per-day-fraction",
        REGIMEN,
        "2.5 doses a day",
        lambda t: pk.Regimen.weight_based(2, 2.5, 14),
        ValueError,
        r"Regimen\.weight_based: doses_per_day is 2\.5; expected a whole number >= 1",
    ),
    Row(
        "days-partial",
        REGIMEN,
        "days that are not whole dosing intervals",
        lambda t: pk.Regimen.weight_based(2, 3, 1.1),
        ValueError,
        r"Regimen\.weight_based: days is 1\.1; expected a whole number of dosing intervals",
    ),
    Row(
        "start-negative",
        REGIMEN,
        "a negative start",
        lambda t: pk.Regimen.weight_based(2, 3, 14, start_h=-1),
        ValueError,
        r"Regimen\.weight_based: start_h is -1; expected a finite number >= 0",
    ),
    Row(
        "clock-time",
        REGIMEN,
        "a clock time that does not exist",
        lambda t: pk.Regimen.weight_based(2, 3, 14, times_of_day=("08:00", "14:00", "25:00")),
        ValueError,
        r"times_of_day\[2\] is '25:00'; expected a clock time 'HH:MM' from '00:00' "
        r"to '23:59'",
    ),
    Row(
        "age-bands-overlap",
        REGIMEN,
        "overlapping age bands of a cap",
        lambda t: pk.Regimen.weight_based(2, 3, 14, max_mg_per_day={(2, 10): 40, (8, 18): 60}),
        ValueError,
        r"max_mg_per_day age bands \(2, 10\) and \(8, 18\) overlap; expected disjoint",
    ),
    Row(
        "missed-probability",
        REGIMEN,
        "a probability of missing a dose above 1",
        lambda t: pk.Regimen.weight_based(2, 3, 14, missed_dose_probability=1.5),
        ValueError,
        r"missed_dose_probability is 1\.5; expected a probability from 0 to 1",
    ),
    Row(
        "formulation-unknown",
        REGIMEN,
        "a formulation pkmodel does not know",
        lambda t: pk.Regimen.weight_based(2, 3, 14, formulation="pill"),
        ValueError,
        r"formulation is 'pill'; expected a Formulation or one of \['granules'",
    ),
    Row(
        "titration-step",
        REGIMEN,
        "a titration step every 0 days",
        lambda t: pk.Regimen.titration(2.5, 3, 2.5, 0, 2.0, 14),
        ValueError,
        r"Regimen\.titration: step_every_days is 0; expected a whole number >= 1",
    ),
    Row(
        "regimen-times-unsorted",
        REGIMEN,
        "dose times out of order",
        lambda t: pk.Regimen(time_h=[8.0, 0.0], mg=5.0, mg_per_kg=np.inf, max_mg=np.inf),
        ValueError,
        r"Regimen\.time_h\[1\] is 0\.0; expected non-decreasing dose times",
    ),
    Row(
        "regimen-times-negative",
        REGIMEN,
        "a negative dose time",
        lambda t: pk.Regimen(time_h=[-1.0, 8.0], mg=5.0, mg_per_kg=np.inf, max_mg=np.inf),
        ValueError,
        r"Regimen\.time_h\[0\] is -1\.0; expected a finite time >= 0 h",
    ),
    Row(
        "regimen-no-doses",
        REGIMEN,
        "no dose times",
        lambda t: pk.Regimen(time_h=[], mg=5.0, mg_per_kg=np.inf, max_mg=np.inf),
        ValueError,
        r"Regimen\.time_h has shape \(0,\); expected one or more dose times",
    ),
    Row(
        "regimen-amount-zero",
        REGIMEN,
        "a dose of 0 mg",
        lambda t: pk.Regimen(time_h=[0.0], mg=0.0, mg_per_kg=np.inf, max_mg=np.inf),
        ValueError,
        r"Regimen\.mg\[0\] is 0\.0; expected a number > 0 \(inf for no limit\)",
    ),
    Row(
        "regimen-amounts-length",
        REGIMEN,
        "amounts that are not one per dose",
        lambda t: pk.Regimen(time_h=[0.0, 8.0], mg=[1.0, 2.0, 3.0], mg_per_kg=np.inf, max_mg=np.inf),
        ValueError,
        r"Regimen\.mg has 3 values; expected 1 or 2 \(one per dose\)",
    ),
    Row(
        "regimen-amount-text",
        REGIMEN,
        "an amount as text in a Regimen",
        lambda t: pk.Regimen(time_h=[0.0], mg="2 mg", mg_per_kg=np.inf, max_mg=np.inf),
        ValueError,
        r"Regimen\.mg\[0\] is '2 mg'; expected a number",
    ),
    Row(
        "regimen-no-amount",
        REGIMEN,
        "neither a fixed nor a weight-based amount",
        lambda t: pk.Regimen(time_h=[0.0], mg=np.inf, mg_per_kg=np.inf, max_mg=np.inf),
        ValueError,
        r"Regimen dose 0 has mg and mg_per_kg both inf; expected a fixed amount",
    ),
    # event tables (issue 4)
    Row(
        "events-amount-negative",
        EVENTS,
        "a negative amount",
        lambda t: events(AMT=[5.0, -7.5]),
        ValueError,
        r"events row 1, column AMT is -7\.5; expected an amount >= 0 mg",
    ),
    Row(
        "events-time-decreasing",
        EVENTS,
        "a subject's times going back",
        lambda t: events(TIME=[8.0, 0.0]),
        ValueError,
        r"events row 1, column TIME is 0\.0; expected a time >= 8\.0",
    ),
    Row(
        "events-time-text",
        EVENTS,
        "a time that is not a number",
        lambda t: events(TIME=[0.0, "eight"]),
        ValueError,
        r"events row 1, column TIME is 'eight'; expected a number",
    ),
    Row(
        "events-compartment",
        EVENTS,
        "compartment 0",
        lambda t: events(CMT=[0, 1]),
        ValueError,
        r"events row 0, column CMT is 0; expected a compartment number 1, 2",
    ),
    Row(
        "events-column-missing",
        EVENTS,
        "no EVID column",
        lambda t: pk.read_events(pd.DataFrame({"ID": [1], "TIME": [0.0], "AMT": [5.0], "CMT": [1]})),
        ValueError,
        r"events: column EVID is missing; expected columns ID, TIME, AMT",
    ),
    Row(
        "events-id-unknown",
        EVENTS,
        "an ID the cohort lacks",
        lambda t: run(regimen=events(ID=[1, 7])),
        ValueError,
        r"events row 1, column ID is 7; expected an ID of the cohort",
    ),
    # times
    Row(
        "times-unsorted",
        TIMES_,
        "output times out of order",
        lambda t: run(times=[2.0, 1.0]),
        ValueError,
        r"times\[1\] is 1\.0; expected strictly increasing times",
    ),
    Row(
        "times-repeated",
        TIMES_,
        "an output time twice",
        lambda t: run(times=[1.0, 1.0]),
        ValueError,
        r"times\[1\] is 1\.0; expected strictly increasing times",
    ),
    Row(
        "times-negative",
        TIMES_,
        "a negative output time",
        lambda t: run(times=[-1.0, 1.0]),
        ValueError,
        r"times\[0\] is -1\.0; expected a finite time >= 0 h",
    ),
    Row(
        "times-nan",
        TIMES_,
        "a NaN output time",
        lambda t: run(times=[0.0, math.nan]),
        ValueError,
        r"times\[1\] is nan; expected a finite time >= 0 h",
    ),
    Row(
        "times-infinite",
        TIMES_,
        "an infinite output time",
        lambda t: run(times=[0.0, math.inf]),
        ValueError,
        r"times\[1\] is inf; expected a finite time >= 0 h",
    ),
    Row(
        "times-empty",
        TIMES_,
        "no output times",
        lambda t: run(times=[]),
        ValueError,
        r"times has shape \(0,\); expected a non-empty 1-D array of hours",
    ),
    Row(
        "times-2d",
        TIMES_,
        "output times as a table",
        lambda t: run(times=[[0.0, 1.0]]),
        ValueError,
        r"times has shape \(1, 2\); expected a non-empty 1-D array of hours",
    ),
    Row(
        "times-text",
        TIMES_,
        "output times as text",
        lambda t: run(times=["0", "1"]),
        ValueError,
        r"times\[0\] is '0'; expected a number of hours",
    ),
    # options
    Row(
        "engine-unknown",
        OPTIONS,
        "an engine pkmodel does not have",
        lambda t: run(engine="lsoda"),
        ValueError,
        r"engine is 'lsoda'; expected 'auto' or one of \['analytic', 'ode'\]",
    ),
    Row(
        "engine-option-analytic",
        OPTIONS,
        "a solver option for the analytic engine",
        lambda t: run(rtol=1e-6),
        ValueError,
        r"engine 'analytic' has no option 'rtol'; expected none",
    ),
    Row(
        "engine-option-misspelt",
        OPTIONS,
        "a misspelt ode option",
        lambda t: run(engine="ode", rtoll=1e-6),
        ValueError,
        r"engine 'ode' has no option 'rtoll'; expected \['atol', 'kernel', 'method', 'rtol', 'threads'\]",
    ),
    Row(
        "ode-rtol-zero",
        OPTIONS,
        "rtol 0 (solve_ivp would raise it silently)",
        lambda t: run(engine="ode", rtol=0.0),
        ValueError,
        r"engine option rtol is 0\.0; expected a finite number >= 2\.22e-14 \(solve_ivp's smallest\)",
    ),
    Row(
        "ode-rtol-text",
        OPTIONS,
        "rtol as text",
        lambda t: run(engine="ode", rtol="1e-6"),
        ValueError,
        r"engine option rtol is '1e-6'; expected a finite number >= 2\.22e-14",
    ),
    Row(
        "ode-atol-nan",
        OPTIONS,
        "atol NaN (solve_ivp would never finish)",
        lambda t: run(engine="ode", atol=math.nan),
        ValueError,
        r"engine option atol is nan; expected a finite number > 0 mg",
    ),
    Row(
        "ode-method",
        OPTIONS,
        "a method solve_ivp does not have",
        lambda t: run(engine="ode", method="RK99"),
        ValueError,
        r"engine option method is 'RK99'; expected one of \['rodas5p', 'dop853_rodas5p', 'RK23', 'RK45', "
        r"'DOP853', 'Radau', 'BDF', 'LSODA'\]",
    ),
    Row(
        "seed-negative",
        OPTIONS,
        "a negative seed",
        lambda t: run(seed=-1),
        ValueError,
        r"seed is -1; expected a whole number >= 0 or None",
    ),
    Row(
        "seed-fraction",
        OPTIONS,
        "a seed that is not a whole number",
        lambda t: run(seed=1.5),
        ValueError,
        r"seed is 1\.5; expected a whole number >= 0 or None",
    ),
    Row(
        "variability-text",
        OPTIONS,
        "variability not True/False",
        lambda t: run(variability="yes"),
        ValueError,
        r"variability is 'yes'; expected True or False",
    ),
    Row(
        "occasions-no-iov",
        OPTIONS,
        "occasions for a model without IOV",
        lambda t: run(occasions=[0.0, 12.0]),
        ValueError,
        r"occasions given, but model 'baclofen_cp_card' has no inter-occasion variability",
    ),
    Row(
        "occasions-start",
        OPTIONS,
        "occasions that do not start at 0",
        lambda t: run(model=model_with(t, CL={"iov_sd": 0.1}), occasions=[6.0, 12.0]),
        ValueError,
        r"occasions is \[6\.0, 12\.0\]; expected start times \(h\) beginning with 0",
    ),
    Row(
        "replicates-zero",
        OPTIONS,
        "0 replicates",
        lambda t: run(replicates=0),
        ValueError,
        r"replicates is 0; expected a whole number >= 1",
    ),
    Row(
        "replicates-no-variability",
        OPTIONS,
        "replicates without variability",
        lambda t: run(model=model_with(t, CL={"rse": 0.1}), replicates=2, variability=False),
        ValueError,
        r"replicates needs variability=True",
    ),
    Row(
        "replicates-no-rse",
        OPTIONS,
        "replicates for a model without uncertainty",
        lambda t: run(replicates=2),
        ValueError,
        r"replicates given, but model 'baclofen_cp_card' states no uncertainty",
    ),
    Row(
        "weight-update-zero",
        OPTIONS,
        "weight_update_h 0",
        lambda t: run(weight_update_h=0),
        ValueError,
        r"weight_update_h is 0; expected a finite number of hours > 0",
    ),
    Row(
        "weight-update-cohort",
        OPTIONS,
        "weight_update_h for a cohort without sex",
        lambda t: run(weight_update_h=24),
        ValueError,
        r"weight_update_h is 24 but the cohort has no sex; expected a cohort that can grow",
    ),
    Row(
        "model-kind",
        OPTIONS,
        "a model name where a Model belongs",
        lambda t: run(model="baclofen_cp_card"),
        TypeError,
        r"model is a str; expected a Model \(pk\.load_model\)",
    ),
    Row(
        "cohort-kind",
        OPTIONS,
        "a dict where a Cohort belongs",
        lambda t: run(cohort={"weight_kg": [20.0]}),
        TypeError,
        r"cohort is a dict; expected a Cohort",
    ),
    Row(
        "regimen-kind",
        OPTIONS,
        "a dict where a Regimen belongs",
        lambda t: run(regimen={"mg": 10}),
        TypeError,
        r"regimen is a dict; expected a Regimen or an event table",
    ),
    Row(
        "chunk-size-zero",
        OPTIONS,
        "chunk_size 0",
        lambda t: run(chunk_size=0),
        ValueError,
        r"chunk_size is 0; expected a whole number of children >= 1",
    ),
    Row(
        "chunk-size-negative",
        OPTIONS,
        "a negative chunk_size",
        lambda t: run(chunk_size=-5),
        ValueError,
        r"chunk_size is -5; expected a whole number of children >= 1",
    ),
    Row(
        "chunk-size-fraction",
        OPTIONS,
        "a chunk_size that is not a whole number",
        lambda t: run(chunk_size=2.5),
        ValueError,
        r"chunk_size is 2\.5; expected a whole number of children >= 1",
    ),
    Row(
        "chunk-size-inf",
        OPTIONS,
        "an infinite chunk_size",
        lambda t: run(chunk_size=math.inf),
        ValueError,
        r"chunk_size is inf; expected a whole number of children >= 1",
    ),
    Row(
        "chunk-size-text",
        OPTIONS,
        "chunk_size as text",
        lambda t: run(chunk_size="1000"),
        TypeError,
        r"chunk_size is a str \('1000'\); expected a whole number of children >= 1",
    ),
    Row(
        "chunk-size-bool",
        OPTIONS,
        "chunk_size True",
        lambda t: run(chunk_size=True),
        TypeError,
        r"chunk_size is a bool \(True\); expected a whole number of children >= 1",
    ),
    Row(
        "keep-unknown",
        OPTIONS,
        "a keep= pkmodel does not have",
        lambda t: run(keep="exposures"),
        ValueError,
        r"keep is 'exposures'; expected one of \['concentrations', 'exposure'\]",
    ),
    Row(
        "keep-none",
        OPTIONS,
        "keep=None",
        lambda t: run(keep=None),
        ValueError,
        r"keep is None; expected one of \['concentrations', 'exposure'\]",
    ),
    Row(
        "window-without-exposure",
        OPTIONS,
        "an exposure window while keeping concentrations",
        lambda t: run(window=(16, 24)),
        ValueError,
        r"window is \(16, 24\) with keep='concentrations'; a window is for keep='exposure'",
    ),
    Row(
        "window-unknown",
        OPTIONS,
        "a window by a name pkmodel does not have",
        lambda t: run(keep="exposure", window="last"),
        ValueError,
        r"window is 'last'; expected 'steady_state' or \(start, end\) in h",
    ),
    Row(
        "window-one-time",
        OPTIONS,
        "a window of one time",
        lambda t: run(keep="exposure", window=(16,)),
        ValueError,
        r"window is \(16,\); expected 'steady_state' or \(start, end\) in h",
    ),
    Row(
        "replicates-in-chunks",
        OPTIONS,
        "replicates in chunks",
        lambda t: run(model=model_with(t, CL={"rse": 0.1}), replicates=2, chunk_size=1),
        ValueError,
        r"replicates is 2; replicates are not simulated in chunks",
    ),
    Row(
        "backend-unknown",
        OPTIONS,
        "a backend pkmodel does not have",
        lambda t: run(backend="spark"),
        ValueError,
        r"backend is 'spark'; expected 'dask' or None \(this process\)",
    ),
    Row(
        "client-kind",
        OPTIONS,
        "a scheduler address where a Dask Client belongs",
        lambda t: run(client="tcp://127.0.0.1:8786"),
        TypeError,
        r"client is a str; expected a dask\.distributed\.Client",
    ),
    Row(
        "out-kind",
        OPTIONS,
        "a number where the Parquet directory belongs",
        lambda t: run(out=3),
        TypeError,
        r"out is a int; expected a directory path \(str or Path\)",
    ),
    Row(
        "out-file",
        OPTIONS,
        "a file where the Parquet directory belongs",
        lambda t: run(out=write_text(t / "run", "not a directory")),
        ValueError,
        r"out is '.*run', a file; expected a directory for the Parquet dataset",
    ),
    Row(
        "out-not-empty",
        OPTIONS,
        "a Parquet directory that already holds files",
        lambda t: run(out=write_text(t / "part-000000.parquet", "old").parent),
        ValueError,
        r"out is '.*', a directory that is not empty; expected a new or empty directory",
    ),
    # files
    Row(
        "save-existing",
        FILES,
        "saving over an existing file",
        lambda t: run(seed=1).save(existing(t)),
        FileExistsError,
        r"'.*run\.parquet' exists; pass overwrite=True to replace it",
    ),
    Row(
        "save-overwrite-text",
        FILES,
        "overwrite not True/False",
        lambda t: run(seed=1).save(t / "run.parquet", overwrite="yes"),
        TypeError,
        r"overwrite is 'yes'; expected True or False",
    ),
    Row(
        "save-missing-folder",
        FILES,
        "a folder that does not exist",
        into_missing_folder,
        FileNotFoundError,
        r"folder '.*no/such/folder' of '.*x\.csv' does not exist",
    ),
    Row(
        "load-missing",
        FILES,
        "a result file that does not exist",
        lambda t: pk.load_result(t / "nothing.parquet"),
        FileNotFoundError,
        r"result file '.*nothing\.parquet' does not exist",
    ),
    Row(
        "load-no-provenance",
        FILES,
        "a Parquet file without pkmodel's provenance record",
        lambda t: pk.load_result(unsaved_table(t)),
        pk.ResultFileError,
        r"no 'pkmodel\.provenance' in the Parquet schema metadata; expected a file written by "
        r"pkmodel",
    ),
    Row(
        "load-changed",
        FILES,
        "a result changed after it was written",
        lambda t: pk.load_result(changed_result(t)),
        pk.ResultFileError,
        r"run\.parquet: concentrations do not match the provenance record \(SHA-256 differs\)",
    ),
    Row(
        "load-study-file",
        FILES,
        "a study's concentrations (pkmodel compare) given as a result",
        lambda t: pk.load_result(study_file(t)),
        pk.ResultFileError,
        r"concentrations\.parquet: provenance format is None; expected 'pkmodel\.result/2' \(a "
        r"file written by Result\.save\)",
    ),
    Row(
        "load-not-parquet",
        FILES,
        "a file that is not Parquet",
        lambda t: pk.load_result(write_text(t / "run.parquet", "id,conc\n1,0\n")),
        pk.ResultFileError,
        r"run\.parquet: not a pkmodel result \(not readable as Parquet",
        cut="not readable as Parquet",
    ),
    # units, exposure
    Row(
        "concentration-unit",
        OTHER,
        "a concentration unit pkmodel does not show",
        lambda t: pk.units.concentration_in(1.0, "ng/L"),
        ValueError,
        r"concentration unit is 'ng/L'; expected one of \['mg/L', 'ng/mL', 'ug/mL'\]",
    ),
    Row(
        "exposure-window-grid",
        OTHER,
        "a grid exposure window off the simulated times",
        lambda t: pk.exposure(run(seed=1), start=0.25, end=24.0, method="grid"),
        ValueError,
        r"exposure window: start is 0\.25 h; expected one of the simulated times \(0 to 24 h\)",
    ),
    Row(
        "exposure-window-order",
        OTHER,
        "an exposure window that ends where it starts",
        lambda t: pk.exposure(run(seed=1), start=12.0, end=12.0),
        ValueError,
        r"exposure window: end is 12\.0 h, start is 12\.0 h; expected end > start",
    ),
    # --- issue 12 C: regimens ---
    Row(
        "rounding-change",
        REGIMEN,
        "a formulation rounding a dose by more than 25 % (1 mg of tablets)",
        lambda t: pk.bundled_formulations()["tablet"].round(np.array([1.0])),
        ValueError,
        r"1\.0 mg rounds to 2\.5 mg as 'tablet' \(\+150 %\); expected a change of at most 25 % "
        r"\(max_change\)",
    ),
    Row(
        "rounding-change-child",
        REGIMEN,
        "a regimen whose rounding multiplies a child's dose",
        lambda t: pk.Regimen.weight_based(0.1, 3, 1, formulation="tablet").doses(CHILD),
        ValueError,
        r"Regimen: child ID 1 \(20 kg\), dose 0 at 0 h: 0\.6666666666666666 mg rounds to 2\.5 mg as "
        r"'tablet' \(\+275 %\); expected a change of at most 25 % \(max_rounding_change\)",
    ),
    Row(
        "rounding-unknown",
        REGIMEN,
        "a rounding that is not down, nearest or up",
        lambda t: pk.Regimen.weight_based(2, 3, 1, formulation="tablet", rounding="sideways"),
        ValueError,
        r"Regimen: rounding is 'sideways'; expected one of \['down', 'nearest', 'up'\]",
    ),
    Row(
        "rounding-change-negative",
        REGIMEN,
        "a negative largest rounding change",
        lambda t: pk.Regimen.weight_based(2, 3, 1, formulation="tablet", max_rounding_change=-0.1),
        ValueError,
        r"Regimen: max_rounding_change is -0\.1; expected a relative change >= 0",
    ),
    Row(
        "rounding-without-formulation",
        REGIMEN,
        "rounding options without a formulation",
        lambda t: pk.Regimen.weight_based(2, 3, 1, rounding="up"),
        ValueError,
        r"Regimen: rounding is 'up', max_rounding_change is 0\.25, without a formulation",
    ),
    Row(
        "rounding-down-to-nothing",
        REGIMEN,
        "rounding down below the smallest piece",
        lambda t: pk.bundled_formulations()["tablet"].round(
            np.array([1.0]), rounding="down", max_change=None
        ),
        ValueError,
        r"formulation 'tablet' rounding down 1 mg gives no dose \(its smallest is 2\.5 mg\)",
    ),
    Row(
        "formulation-pieces-gaps",
        REGIMEN,
        "pieces whose sums leave endless gaps (1 and 1.000001 mg)",
        lambda t: pk.Formulation("close", (1.0, 1.000001)),
        ValueError,
        r"Formulation 'close': pieces_mg \(1\.0, 1\.000001\) share a step of 1e-06 mg, and sums of "
        r"them leave gaps up to 999,999,000,000 steps",
    ),
    Row(
        "formulation-name-empty",
        REGIMEN,
        "a formulation without a name",
        lambda t: pk.Formulation(" ", (2.5,)),
        ValueError,
        r"Formulation: name is ' '; expected a non-empty name",
    ),
    Row(
        "formulation-name-quotes",
        REGIMEN,
        "a formulation name with both kinds of quote",
        lambda t: pk.Formulation("""it's "x\"""", (2.5,)),
        ValueError,
        r"Formulation: name is .*; expected a name without both kinds of quote",
    ),
    Row(
        "formulation-listing-too-long",
        REGIMEN,
        "listing more than a million deliverable amounts",
        lambda t: pk.Formulation("tiny", (1e-7,)).deliverable_mg(20.0),
        ValueError,
        r"Formulation 'tiny': deliverable_mg up to 20 mg spans 200,000,000 steps of 1e-07 mg; "
        r"expected at most 1,000,000",
    ),
    Row(
        "regimen-too-many-doses",
        REGIMEN,
        "a weight-based regimen of 4e8 doses",
        lambda t: pk.Regimen.weight_based(2, 4, 100_000_000),
        ValueError,
        r"Regimen\.weight_based: days is 100000000, 4e\+08 doses at 4 a day; expected at most "
        r"100,000 doses per regimen",
    ),
    Row(
        "regimen-fixed-too-many-doses",
        REGIMEN,
        "a fixed regimen of 3e8 doses",
        lambda t: pk.Regimen.fixed(2, 8, 300_000_000),
        ValueError,
        r"Regimen\.fixed: n_doses is 300000000; expected at most 100,000 doses per regimen",
    ),
    Row(
        "parse-too-many-doses",
        REGIMEN,
        "a regimen in words of 3e8 doses",
        lambda t: pk.Regimen.parse("2 mg TID for 100000000 days"),
        ValueError,
        r"'for' at column 10 of '2 mg TID for 100000000 days'; expected a duration of at most "
        r"100,000 doses \(pkmodel\.dosing\.MAX_DOSES\), not 3e\+08",
    ),
    Row(
        "parse-too-long",
        REGIMEN,
        "a regimen text of more than 100,000 characters",
        lambda t: pk.Regimen.parse("2 mg TID for 1 day" + " " * 100_000),
        ValueError,
        r"Regimen\.parse: text is 100,018 characters long; expected at most 100,000",
    ),
    Row(
        "parse-rounding-without-formulation",
        REGIMEN,
        "'rounded' in words without a formulation",
        lambda t: pk.Regimen.parse("2 mg/kg/day TID for 14 days, rounded up"),
        ValueError,
        r"'rounded' at column 30 .*; expected 'rounded' with a formulation",
    ),
    Row(
        "parse-interval-weight-based",
        REGIMEN,
        "a weight-based dose every 36 h",
        lambda t: pk.Regimen.parse("2 mg/kg/day every 36 h for 3 days"),
        ValueError,
        r"'every' at column 13 .*: an interval that divides 24 h",
    ),
    Row(
        "find-dose-rounding-change",
        REGIMEN,
        "a band dose find_dose would round by more than 25 %",
        lambda t: pk.find_dose(
            CARD,
            typical_cohort(8),
            target=0.05,
            by="weight_band",
            formulation="granules",
            max_mg_per_dose=None,
            max_mg_per_day=None,
            variability=False,
        ),
        ValueError,
        r"find_dose: band '<15 kg': .* mg rounds to 5\.0 mg as 'granules'",
    ),
    # --- issue 18 ---
    Row(
        "covariate-iiv-above-own",
        MODEL,
        "a covariate keeps more IIV than its parameter has",
        lambda t: model_with(
            t,
            CL={
                "covariates": {"sex": {"type": "categorical", "values": {"M": 0.3, "F": 0.25}, "iiv_sd": 0.5}}
            },
        ),
        ModelFileError,
        r"parameters\.CL\.covariates\.sex\.iiv_sd is 0\.5; expected the SD of parameters\.CL's "
        r"own random effect left when the covariate is known, a number from 0 to its iiv_sd "
        r"\(0\.334\)",
    ),
    Row(
        "transit-first-order-count-missing",
        MODEL,
        "transit then first-order absorption without n_transit",
        lambda t: model_with(
            t, model={"absorption": "transit_first_order"}, MTT={"value": 0.389, "unit": "h"}
        ),
        ModelFileError,
        r"model\.n_transit is missing; transit absorption needs the number of "
        r"transit compartments",
    ),
    Row(
        "sensitivity-unknown-name",
        OPTIONS,
        "sensitivity of a number the model does not have",
        lambda t: pk.sensitivity(CARD, CHILD, REG, {"Vmax": [1.0]}, target_range=pk.BACLOFEN_TARGET_MG_L),
        ValueError,
        r"sensitivity: parameters names 'Vmax'; expected one of 'baclofen_cp_card''s parameters "
        r"\['CL', 'V', 'ka'\] or \['n_transit', 'V1_split', 'omega'\]",
    ),
    Row(
        "sensitivity-bad-value",
        OPTIONS,
        "a negative setting for a rate",
        lambda t: pk.sensitivity(CARD, CHILD, REG, {"ka": [2.0, -1.0]}, target_range=pk.BACLOFEN_TARGET_MG_L),
        ValueError,
        r"sensitivity: parameters\['ka'\] has -1\.0; expected finite numbers > 0 in 1/h",
    ),
    Row(
        "sensitivity-not-a-list",
        OPTIONS,
        "one setting where a list of settings belongs",
        lambda t: pk.sensitivity(CARD, CHILD, REG, {"ka": 2.0}, target_range=pk.BACLOFEN_TARGET_MG_L),
        ValueError,
        r"sensitivity: parameters\['ka'\] is 2\.0; expected a list of settings",
    ),
    Row(
        "sensitivity-empty",
        OPTIONS,
        "nothing to vary",
        lambda t: pk.sensitivity(CARD, CHILD, REG, {}, target_range=pk.BACLOFEN_TARGET_MG_L),
        ValueError,
        r"sensitivity: parameters is \{\}; expected \{name: \[settings\]\}",
    ),
    Row(
        "sensitivity-split-one-compartment",
        OPTIONS,
        "a V1/V2 split of a one-compartment model",
        lambda t: pk.sensitivity(CARD, CHILD, REG, {"V1_split": [0.3]}, target_range=pk.BACLOFEN_TARGET_MG_L),
        ValueError,
        r"sensitivity: parameters\['V1_split'\]: model 'baclofen_cp_card' has one compartment; "
        r"expected two to split V1 and V2",
    ),
    Row(
        "sensitivity-split-too-large",
        OPTIONS,
        "a central volume above Vss",
        lambda t: pk.sensitivity(
            pk.load_model("baclofen_cp_he2014"),
            CHILD,
            REG,
            {"V1_split": [1.5]},
            target_range=pk.BACLOFEN_TARGET_MG_L,
        ),
        ValueError,
        r"sensitivity: parameters\['V1_split'\] has 1\.5; expected V1 between 0 and Vss = "
        r"1\.16 L/kg",
    ),
    Row(
        "sensitivity-transit-first-order",
        OPTIONS,
        "transit compartments of a first-order model",
        lambda t: pk.sensitivity(CARD, CHILD, REG, {"n_transit": [3]}, target_range=pk.BACLOFEN_TARGET_MG_L),
        ValueError,
        r"sensitivity: parameters\['n_transit'\]: model 'baclofen_cp_card' has first-order "
        r"absorption; expected a transit model to vary n_transit",
    ),
    Row(
        "sensitivity-transit-count",
        OPTIONS,
        "a fractional number of transit compartments",
        lambda t: pk.sensitivity(
            pk.load_model("baclofen_cp_he2014"),
            CHILD,
            REG,
            {"n_transit": [2.5]},
            target_range=pk.BACLOFEN_TARGET_MG_L,
        ),
        ValueError,
        r"sensitivity: parameters\['n_transit'\] has 2\.5; expected whole numbers >= 0",
    ),
    Row(
        "sensitivity-omega",
        OPTIONS,
        "an omega convention other than sd or cv",
        lambda t: pk.sensitivity(
            CARD, CHILD, REG, {"omega": ["percent"]}, target_range=pk.BACLOFEN_TARGET_MG_L
        ),
        ValueError,
        r"sensitivity: parameters\['omega'\] has 'percent'; expected one of \['sd', 'cv'\]",
    ),
    Row(
        "sensitivity-metric",
        OPTIONS,
        "an exposure metric sensitivity does not give",
        lambda t: pk.sensitivity(
            CARD, CHILD, REG, {"ka": [1.0]}, metrics=["auc"], target_range=pk.BACLOFEN_TARGET_MG_L
        ),
        ValueError,
        r"sensitivity: metrics has 'auc'; expected some of \['cmax', 'cmin', 'cavg', 'pta'\]",
    ),
    Row(
        "sensitivity-grid",
        OPTIONS,
        "a grid step of 0 h",
        lambda t: pk.sensitivity(
            CARD, CHILD, REG, {"ka": [1.0]}, dt_h=0.0, target_range=pk.BACLOFEN_TARGET_MG_L
        ),
        ValueError,
        r"sensitivity: dt_h is 0\.0; expected a grid step in h, 0 < dt_h <= 1",
    ),
    Row(
        "sensitivity-one-dose",
        OPTIONS,
        "a single dose (no steady state to read)",
        lambda t: pk.sensitivity(
            CARD,
            CHILD,
            pk.Regimen.fixed(mg=10, every_h=24, n_doses=1),
            {"ka": [1.0]},
            target_range=pk.BACLOFEN_TARGET_MG_L,
        ),
        ValueError,
        r"sensitivity: the regimen has fewer than two dose times; expected repeated doses",
    ),
    Row(
        "sensitivity-not-a-model",
        OPTIONS,
        "a model's name where the Model belongs",
        lambda t: pk.sensitivity(
            "baclofen_cp_card", CHILD, REG, {"ka": [1.0]}, target_range=pk.BACLOFEN_TARGET_MG_L
        ),
        TypeError,
        r"sensitivity: model is str; expected a Model \(pk\.load_model\)",
    ),
    Row(
        "tornado-not-sensitivity",
        OTHER,
        "a tornado of a table that is not pk.sensitivity's",
        lambda t: pkplots.tornado(
            pd.DataFrame({"metric": [], "statistic": [], "parameter": [], "value": []})
        ),
        ValueError,
        r"tornado: the table has no 'cmax' 'median' rows with a baseline; expected a "
        r"pk\.sensitivity table",
    ),
    # --- issue 12 E: inputs and science checks ---
    Row(
        "model-random-effects-not-table",
        MODEL,
        "[random_effects] Vss = 5 (a number for a table)",
        lambda t: model_plus(t, "[random_effects]\nVss = 5\n"),
        ModelFileError,
        r"random_effects\.Vss is 5; expected a table \(\[random_effects\.Vss\] with sd and",
    ),
    Row(
        "model-correlations-not-array",
        MODEL,
        "correlations = 5",
        lambda t: model_doc(t, lambda d: d.update(correlations=5)),
        ModelFileError,
        r"correlations is 5; expected an array of tables \(\[\[correlations\]\] with between",
    ),
    Row(
        "model-residual-not-table",
        MODEL,
        "residual_error = 5",
        lambda t: model_doc(t, lambda d: d.update(residual_error=5)),
        ModelFileError,
        r"residual_error is 5; expected a table \(\[residual_error\]\)",
    ),
    Row(
        "model-covariates-not-table",
        MODEL,
        "covariates = 5 in a parameter",
        lambda t: model_with(t, CL={"covariates": 5}),
        ModelFileError,
        r"parameters\.CL\.covariates is 5; expected a table",
    ),
    Row(
        "model-structure-list",
        MODEL,
        "structure = [] (a list for a name)",
        lambda t: model_with(t, model={"structure": []}),
        ModelFileError,
        r"model\.structure is \[\]; expected one of \['one_compartment_oral', "
        r"'two_compartment_oral'\]",
    ),
    Row(
        "model-unit-not-text",
        MODEL,
        "a unit that is a number",
        lambda t: model_with(t, CL={"unit": 5}),
        ModelFileError,
        r"parameters\.CL\.unit is 5; expected the unit as text \(e\.g\. 'L/h/kg'\)",
    ),
    Row(
        "model-source-not-text",
        MODEL,
        "a source that is a number",
        lambda t: model_with(t, CL={"source": 2014}),
        ModelFileError,
        r"parameters\.CL\.source is 2014; expected text",
    ),
    Row(
        "model-effect-parameters-not-names",
        MODEL,
        "a shared random effect's parameters nested",
        lambda t: model_plus(t, '[random_effects.Vss]\nsd = 0.1\nparameters = [["V"]]\n'),
        ModelFileError,
        r"random_effects\.Vss\.parameters is \[\['V'\]\]; expected a list of "
        r"parameter names",
    ),
    Row(
        "model-derived-too-long",
        MODEL,
        "a 100,000-term derived formula",
        lambda t: model_with(t, ka={"derived": "+".join(["0.0"] * 100_000) + " + 1 / 0.389"}),
        ModelFileError,
        r"parameters\.ka\.derived is 400,011 characters long; expected a formula "
        r"of at most 1,000 characters",
    ),
    Row(
        "model-toml-too-deep",
        MODEL,
        "arrays nested 100,000 deep",
        lambda t: pk.load_model(write_text(t / "m.toml", "x = " + "[" * 100_000 + "]" * 100_000)),
        ModelFileError,
        r"m\.toml: not readable as TOML: its arrays or tables are nested too "
        r"deeply",
    ),
    Row(
        "model-file-too-large",
        MODEL,
        "a file of more than 1,000,000 bytes",
        lambda t: pk.load_model(write_text(t / "m.toml", "# " + "x" * 1_000_000)),
        ModelFileError,
        r"m\.toml: is 1,000,002 bytes; expected a model file of at most 1,000,000 bytes",
    ),
    Row(
        "model-not-utf8",
        MODEL,
        "a file in Latin-1",
        lambda t: pk.load_model(write_bytes(t / "m.toml", b"# H\xe9 2014\n")),
        ModelFileError,
        r"m\.toml: not UTF-8 text \(byte 3\); expected a TOML file in UTF-8",
    ),
    Row(
        "model-correlation-twice",
        MODEL,
        "a correlation given twice, contradicting itself",
        lambda t: model_plus(
            t,
            '[[correlations]]\nbetween = ["CL", "V"]\nvalue = 0.3\n'
            '[[correlations]]\nbetween = ["V", "CL"]\nvalue = -0.5\n',
        ),
        ModelFileError,
        r"correlations\[0\] and correlations\[1\] both give the correlation "
        r"between 'V' and 'CL' \(0\.3 and then -0\.5\); expected each pair once",
    ),
    Row(
        "model-transit-too-many",
        MODEL,
        "n_transit = 1000",
        lambda t: model_with(
            t,
            model={"absorption": "transit", "n_transit": 1000},
            drop=["ka"],
            MTT={"value": 0.389, "unit": "h"},
        ),
        ModelFileError,
        r"model\.n_transit is 1000; expected at most 50 transit compartments",
    ),
    Row(
        "model-validity-order",
        MODEL,
        "a validity range given high to low",
        lambda t: model_doc(t, lambda d: d["validity"]["age_years"].update(range=[17.0, 2.0])),
        ModelFileError,
        r"validity\.age_years\.range is \[17\.0, 2\.0\]; expected \[low, high\], "
        r"finite numbers with low <= high",
    ),
    Row(
        "model-validity-unknown",
        MODEL,
        "a validity range of a quantity pkmodel does not check",
        lambda t: model_plus(t, "[validity.age_months]\nrange = [24, 204]\n"),
        ModelFileError,
        r"validity has 'age_months'; expected some of \['age_years', 'weight_kg', "
        r"'weight_for_age_z', 'dose_mg_per_kg'\]",
    ),
    Row(
        "cohort-weight-tonnes",
        COHORT,
        "a weight of 1e-300 kg (or in tonnes)",
        lambda t: cohort(weight_kg=[1e-300]),
        ValueError,
        r"Cohort\.weight_kg\[0\] is 1e-300; expected a weight in kg, at least 0\.2",
    ),
    Row(
        "cohort-gmfcs-true",
        COHORT,
        "gmfcs=[True] (was level 1)",
        lambda t: cohort(covariates={"gmfcs": [True]}),
        ValueError,
        r"Cohort\.covariates\['gmfcs'\]\[0\] is True; expected a GMFCS level 1, 2, 3, 4 or 5",
    ),
    Row(
        "cohort-true-among-numbers",
        COHORT,
        "True among weights (numpy reads 1.0)",
        lambda t: pk.Cohort(weight_kg=[20.0, True], age_years=[8.0, 9.0]),
        ValueError,
        r"Cohort\.weight_kg\[1\] is True; expected a number",
    ),
    Row(
        "cohort-masked",
        COHORT,
        "a masked array (its masked values would be used)",
        lambda t: pk.Cohort(
            weight_kg=np.ma.masked_array([20.0, -1.0], mask=[False, True]), age_years=[8.0, 9.0]
        ),
        ValueError,
        r"Cohort\.weight_kg is a masked array; expected plain values \(fill or drop the masked",
    ),
    Row(
        "frame-repeated-column",
        COHORT,
        "a patient table with two weight_kg columns",
        lambda t: pk.Cohort.from_frame(
            pd.DataFrame([[20.0, 8.0, 21.0]], columns=["weight_kg", "age_years", "weight_kg"])
        ),
        ValueError,
        r"Cohort\.from_frame: the table has 2 columns named 'weight_kg'; expected one",
    ),
    Row(
        "charts-shift-fifty",
        COHORT,
        "weight_z_shift=+50 (was blamed on grams)",
        lambda t: pk.Cohort.from_growth_charts(10, seed=1, weight_z_shift=50),
        ValueError,
        r"weight_z_shift is 50; expected a shift of the weight-for-age z-score from -5 to \+5 "
        r"\(a difference in z, not a weight",
    ),
    Row(
        "charts-gmfcs-percent",
        COHORT,
        "GMFCS percentages where proportions belong",
        lambda t: pk.Cohort.from_growth_charts(10, seed=1, gmfcs=[34.2, 25.6, 11.5, 13.7, 15.6]),
        ValueError,
        r"gmfcs proportions sum to 100\.6; expected 1, within 0\.01 \(then "
        r"normalised\) \(percentages\? divide them by 100\)",
    ),
    Row(
        "charts-gmfcs-name",
        COHORT,
        "a GMFCS mix by a name pkmodel does not have",
        lambda t: pk.Cohort.from_growth_charts(10, seed=1, gmfcs="cp"),
        ValueError,
        r"gmfcs is 'cp'; expected 'registry' \(Reid 2011's mix\), a level 1-5",
    ),
    Row(
        "engine-not-a-name",
        OPTIONS,
        "engine=['ode'] (a list)",
        lambda t: run(engine=["ode"]),
        ValueError,
        r"engine is \['ode'\]; expected 'auto' or one of \['analytic', 'ode'\] \(a name\)",
    ),
    Row(
        "ode-atol-below-floor",
        OPTIONS,
        "atol=1e-300 (the solver failed after accepting it)",
        lambda t: run(engine="ode", atol=1e-300),
        ValueError,
        r"engine option atol is 1e-300 mg; expected >= 2\.22e-13 mg, 100 eps x the largest dose "
        r"\(10 mg\)",
    ),
    Row(
        "parameter-not-finite",
        OPTIONS,
        "CL of 1e308 L/h/kg (inf for a 20 kg child)",
        lambda t: run(model=model_with(t, CL={"value": 1e308})),
        ValueError,
        r"model 'baclofen_cp_card': child ID 1 \(position 0\) has CL = inf L/h; expected a "
        r"finite number > 0",
    ),
    Row(
        "strict-text",
        OPTIONS,
        "strict='yes'",
        lambda t: run(strict="yes"),
        ValueError,
        r"strict is 'yes'; expected True or False",
    ),
    Row(
        "validity-age",
        OPTIONS,
        "strict=True and a child of 0.5 y",
        lambda t: run(cohort=cohort(weight_kg=[7.5], age_years=[0.5]), strict=True),
        pk.ValidityError,
        r"child ID 1 \(position 0\) has an age of 0\.5 y, outside "
        r"validity\.age_years 2 to 18 y",
    ),
    Row(
        "validity-months",
        OPTIONS,
        "strict=True and an age in months (36)",
        lambda t: run(cohort=cohort(weight_kg=[14.0], age_years=[36.0]), strict=True),
        pk.ValidityError,
        r"has an age of 36 y \(an age in months\? 36 months is 3 years\)",
    ),
    Row(
        "validity-weight-for-age",
        OPTIONS,
        "strict=True and a boy of 4 at 60 kg",
        lambda t: run(cohort=cohort(weight_kg=[60.0], age_years=[4.0], sex=["M"]), strict=True),
        pk.ValidityError,
        r"has a weight-for-age z-score of \d+\.?\d* \(4 y, 60 kg\), outside "
        r"validity\.weight_for_age_z -6 to 5",
    ),
    Row(
        "validity-dose",
        OPTIONS,
        "strict=True and 5000 mg for a 20 kg child",
        lambda t: run(regimen=pk.Regimen.fixed(mg=5000, every_h=24, n_doses=1), strict=True),
        pk.ValidityError,
        r"has a largest single dose of 250 mg/kg, outside "
        r"validity\.dose_mg_per_kg 0 to 2 mg/kg",
    ),
    # --- issue 12 A: exposure ---
    Row(
        "steady-state-no-repeat",
        OTHER,
        "a steady-state window for a schedule that does not repeat",
        lambda t: pk.exposure(
            run(regimen=events(TIME=[0.0, 5.0, 13.0], AMT=[5.0] * 3, EVID=[1] * 3, CMT=[1] * 3, ID=[1] * 3)),
            window="steady_state",
        ),
        ValueError,
        r"exposure: window 'steady_state': child ID 1 has no full dosing interval that repeats "
        r"inside the simulated times \(0 to 24 h\); its scheduled dose times up to 24 h are "
        r"\[0, 5, 13\] h",
    ),
    Row(
        "exposure-method",
        OTHER,
        "an exposure method pkmodel does not have",
        lambda t: pk.exposure(run(seed=1), start=0.0, end=24.0, method="nca"),
        ValueError,
        r"exposure: method is 'nca'; expected one of \['auto', 'exact', 'grid'\]",
    ),
    Row(
        "exposure-exact-ode",
        OTHER,
        "exact exposure of an ode engine result",
        lambda t: pk.exposure(run(engine="ode", seed=1), start=0.0, end=24.0, method="exact"),
        ValueError,
        r"exposure: method is 'exact' but the result is from the 'ode' engine \(exact "
        r"exposure uses the analytic engine's solution\); expected method='grid'",
    ),
    Row(
        "exposure-auc-method-exact",
        OTHER,
        "a trapezoid rule without method='grid'",
        lambda t: pk.exposure(run(seed=1), start=0.0, end=24.0, auc_method="linear"),
        ValueError,
        r"exposure: auc_method is 'linear' with method='auto'; expected method='grid'",
    ),
    Row(
        "interval-grid-off-output",
        OTHER,
        "grid exposure of dosing intervals off the output times",
        lambda t: pk.exposure_by_interval(run(times=np.arange(0.0, 25.0, 5.0), seed=1), method="grid"),
        ValueError,
        r"exposure_by_interval: child ID 1's window 0 to 8 h does not start and end on output "
        r"times; expected output times at its dose times \(method='grid'\), or method='exact'",
    ),
    Row(
        "time-in-range-off-grid",
        OTHER,
        "a target range over an exact window off the output times",
        lambda t: pk.exposure(run(seed=1), start=0.25, end=24.0, target_range=(0.08, 0.4)),
        ValueError,
        r"exposure window: start is 0\.25 h; expected one of the simulated times "
        r"\(0 to 24 h\) \(the time in target_range is read on the output grid\)",
    ),
    Row(
        "window-reversed-in-chunks",
        OPTIONS,
        "an exposure window in chunks that ends before it starts",
        lambda t: run(keep="exposure", window=(24, 16)),
        ValueError,
        r"exposure window: end is 16 h, start is 24 h; expected end > start",
    ),
    Row(
        "window-text-in-compare",
        OPTIONS,
        "an exposure window of text in compare",
        lambda t: pk.compare(CARD, CHILD, {"A": REG}, TIMES, window=(0, "24")),
        ValueError,
        r"exposure window: end is '24'; expected a number of hours",
    ),
    # --- issue 12 B: events and engines ---
    Row(
        "cohort-ids-uint64-2-63",
        COHORT,
        "an ID of 2**63 (uint64), beyond int64",
        lambda t: cohort(ids=np.array([2**63], dtype=np.uint64)),
        ValueError,
        r"Cohort\.ids\[0\] is 9223372036854775808; expected a subject ID from -2\*\*63 to 2\*\*63 - 1",
    ),
    Row(
        "cohort-ids-float-1e19",
        COHORT,
        "an ID of 1e19 as a float (not exact)",
        lambda t: cohort(ids=[1e19]),
        ValueError,
        r"Cohort\.ids\[0\] is 1e\+19; expected a whole-number subject ID below 2\*\*53 when given as a "
        r"float",
    ),
    Row(
        "cohort-ids-bool",
        COHORT,
        "an ID True among integers",
        lambda t: cohort(weight_kg=[20.0, 30.0], age_years=[8.0, 9.0], ids=[True, 2]),
        ValueError,
        r"Cohort\.ids\[0\] is True; expected a whole-number subject ID, not True/False",
    ),
    Row(
        "events-id-float-2-53",
        EVENTS,
        "an ID of 2**53 as a float (2**53 + 1 would read the same)",
        lambda t: events(ID=[2.0**53, 1.0]),
        ValueError,
        r"events row 0, column ID is 9007199254740992\.0; expected a whole-number subject ID below 2\*\*53",
    ),
    Row(
        "events-id-uint64",
        EVENTS,
        "an ID beyond int64",
        lambda t: events(ID=np.array([2**63, 1], dtype=np.uint64)),
        ValueError,
        r"events row 0, column ID is 9223372036854775808; expected a subject ID from -2\*\*63",
    ),
    Row(
        "events-id-bool",
        EVENTS,
        "IDs True and False",
        lambda t: events(ID=[True, False]),
        ValueError,
        r"events row 0, column ID is True; expected a whole-number subject ID, not True/False",
    ),
    Row(
        "events-bool",
        EVENTS,
        "True/False in a number column",
        lambda t: events(EVID=[True, True]),
        ValueError,
        r"events row 0, column EVID is True; expected a number, not True/False",
    ),
    Row(
        "events-time-infinite",
        EVENTS,
        "an infinite TIME (negative TIME is taken, as NONMEM 7.4)",
        lambda t: events(TIME=[-np.inf, 8.0]),
        ValueError,
        r"events row 0, column TIME is -inf; expected a finite time \(h\)",
    ),
    Row(
        "events-addl-limit",
        EVENTS,
        "ADDL of 1e8, beyond the stated limit of doses",
        lambda t: events(ADDL=[100_000_000, 0], II=[8.0, 0.0]),
        ValueError,
        r"events row 0, column ADDL is 100000000; expected at most 5,000,000 doses in one event table",
    ),
    Row(
        "events-column-repeated",
        EVENTS,
        "a column twice in a table",
        lambda t: pk.read_events(pd.concat([events().to_frame(), events().to_frame()[["AMT"]]], axis=1)),
        ValueError,
        r"events: column AMT appears 2 times; expected each column once",
    ),
    Row(
        "events-csv-header-repeated",
        EVENTS,
        "a column twice in a CSV header",
        lambda t: pk.read_events(write_text(t / "ev.csv", "ID,TIME,AMT,EVID,CMT,TIME\n1,0,5,1,1,0\n")),
        ValueError,
        r"ev\.csv: column TIME appears 2 times in the header; expected each column once",
    ),
    Row(
        "events-csv-ragged",
        EVENTS,
        "a CSV line with a field too many (its first row)",
        lambda t: pk.read_events(write_text(t / "ev.csv", "ID,TIME,AMT,EVID,CMT\n1,0,5,1,1,9\n")),
        ValueError,
        r"ev\.csv line 2 \(row 0\) has 6 fields; expected 5, as many as the header",
    ),
    Row(
        "events-csv-empty",
        EVENTS,
        "an empty CSV file",
        lambda t: pk.read_events(write_text(t / "ev.csv", "")),
        ValueError,
        r"ev\.csv: the file is empty; expected a header line",
    ),
    Row(
        "events-ss-with-infusions",
        EVENTS,
        "an SS dose in a table with an infusion",
        lambda t: run(regimen=events(SS=[1, 0], II=[8.0, 0.0], RATE=[0.0, 5.0], CMT=[1, 2])),
        NotImplementedError,
        r"steady-state doses \(SS\) in a simulation with zero-order inputs \(RATE\) "
        r"are not supported",
    ),
    Row(
        "ode-union-limit",
        OPTIONS,
        "engine='ode', method='DOP853' on 12,000 children each dosed "
        "at its own time (the default method keeps each child's own)",
        lambda t: run(
            cohort=pk.Cohort(weight_kg=np.full(12_000, 20.0), age_years=np.full(12_000, 8.0)),
            regimen=pk.read_events(
                pd.DataFrame(
                    {
                        "ID": np.arange(1, 12_001),
                        "TIME": np.arange(12_000) / 1000,
                        "AMT": 5.0,
                        "EVID": 1,
                        "CMT": 1,
                    }
                )
            ),
            engine="ode",
            method="DOP853",
            variability=False,
        ),
        ValueError,
        r"engine 'ode': children at their own dose times are stepped on the union of everyone's times, "
        r"12,000 children x 12,000 times = 144,000,000 amounts; expected at most 134,217,728",
    ),
    Row(
        "doses-ss",
        OTHER,
        "SS 3 in Doses",
        lambda t: pk.Doses(time_h=np.zeros(1), amount_mg=np.ones((1, 1)), ss=[3], ii_h=[8.0]),
        ValueError,
        r"Doses\.ss\[0\] is 3; expected 0, 1 or 2 \(NONMEM SS\)",
    ),
    Row(
        "subject-doses-order",
        OTHER,
        "a child's doses out of time order in SubjectDoses",
        lambda t: SubjectDoses(offsets=[0, 2], time_h=[8.0, 0.0], amount_mg=[5.0, 5.0]),
        ValueError,
        r"SubjectDoses\.time_h\[1\] is 0\.0; expected times that do not decrease within a "
        r"subject",
    ),
    # --- issue 12 D: files and CLI ---
    Row(
        "load-edited-field",
        FILES,
        "a saved result's seed edited in its record",
        lambda t: pk.load_result(edited_record(t, seed=2)),
        pk.ResultFileError,
        r"run\.parquet: its contents do not match the provenance record's sha256 \(a parameter, "
        r"dose, time or record field differs from what was written\)",
    ),
    Row(
        "load-edited-times",
        FILES,
        "a saved result's times doubled in its record",
        lambda t: pk.load_result(edited_record(t, times_h=[0.0, 2.0, 4.0])),
        pk.ResultFileError,
        r"run\.parquet: its contents do not match the provenance record's sha256",
    ),
    Row(
        "load-edited-parameter",
        FILES,
        "a saved result's CL doubled",
        lambda t: pk.load_result(edited_cl(t)),
        pk.ResultFileError,
        r"run\.parquet: its contents do not match the provenance record's sha256",
    ),
    Row(
        "load-record-not-json",
        FILES,
        "a saved result's record cut short",
        lambda t: pk.load_result(record_not_json(t)),
        pk.ResultFileError,
        r"run\.parquet: the provenance record is not a JSON object",
    ),
    Row(
        "save-empty-path",
        FILES,
        "an empty path to save a result to",
        lambda t: run(seed=1).save(""),
        ValueError,
        r"path is ''; expected a path \(an empty path would mean the working directory\)",
    ),
    Row(
        "out-empty",
        OPTIONS,
        "an empty path for the Parquet dataset",
        lambda t: run(out=""),
        ValueError,
        r"out is ''; expected a directory path \(an empty path would mean the working directory\)",
    ),
    Row(
        "target-range-concentrations",
        OPTIONS,
        "a target range while keeping concentrations",
        lambda t: run(target_range=(0.08, 0.4)),
        ValueError,
        r"target_range is \(0\.08, 0\.4\) with keep='concentrations'; a target range is for "
        r"keep='exposure'",
    ),
    Row(
        "target-range-reversed",
        OPTIONS,
        "a target range from high to low",
        lambda t: run(keep="exposure", target_range=(0.4, 0.08)),
        ValueError,
        r"target_range is \(0\.4, 0\.08\); expected low < high \(mg/L\)",
    ),
    Row(
        "cli-dt",
        OPTIONS,
        "pkmodel --dt that does not divide a day",
        lambda t: study(t, "--dt", "0.7"),
        ExitCode,
        r"exit 2: pkmodel: error: argument --dt: '0\.7' is not a time step in h that divides 24 h",
    ),
    Row(
        "cli-ages-reversed",
        OPTIONS,
        "pkmodel --ages from old to young",
        lambda t: study(t, "--ages", "17-2"),
        ExitCode,
        r"exit 2: pkmodel: error: argument --ages: '17-2' is outside the ages a study covers; "
        r"expected FROM-TO in years with 2 <= FROM < TO <= 18",
    ),
    Row(
        "cli-ages-beyond-bands",
        OPTIONS,
        "pkmodel --ages beyond the report's age bands",
        lambda t: study(t, "--ages", "2-20"),
        ExitCode,
        r"exit 2: pkmodel: error: argument --ages: '2-20' is outside the ages a study covers",
    ),
    Row(
        "cli-seed",
        OPTIONS,
        "pkmodel --seed below 0",
        lambda t: study(t, "--seed", "-1"),
        ExitCode,
        r"exit 2: pkmodel: error: argument --seed: '-1' is not a seed; expected a whole number >= 0",
    ),
    Row(
        "cli-out-empty",
        OPTIONS,
        "pkmodel --out ''",
        lambda t: study(t, "--out", ""),
        ExitCode,
        r"exit 2: pkmodel: error: argument --out: '' is not a folder; expected a folder path",
    ),
    Row(
        "cli-out-here",
        OPTIONS,
        "pkmodel --out . (the working directory)",
        lambda t: study(t, "--out", "."),
        ExitCode,
        r"exit 2: pkmodel: error: argument --out: '\.' is the working directory or holds it",
    ),
    Row(
        "cli-curves",
        OPTIONS,
        "pkmodel --curves 0",
        lambda t: study(t, "--curves", "0"),
        ExitCode,
        r"exit 2: pkmodel: error: argument --curves: '0' is not a number of children",
    ),
    Row(
        "cli-curves-too-many",
        OPTIONS,
        "pkmodel --curves all beyond what memory holds",
        lambda t: study(t, "--n", "3000000", "--curves", "all"),
        ExitCode,
        r"exit 2: pkmodel: error: --curves all: the curves of 3,000,000 children at 49 output "
        r"times on 1 regimen\(s\) would take 1\.1 GiB; expected at most 2,739,137 children",
    ),
    Row(
        "cli-label-twice",
        OPTIONS,
        "pkmodel compare with one label for two regimens",
        lambda t: study(t, "--regimen", "2 mg/kg/day TID for 1 day"),
        ExitCode,
        r"exit 2: pkmodel: error: --regimen label '2 mg/kg/day TID for 1 day' is given twice",
    ),
    Row(
        "cli-out-foreign",
        FILES,
        "pkmodel --out holding files of its own",
        lambda t: study(foreign_file_in(t)),
        ExitCode,
        r"exit 1: pkmodel: error: --out '.*o' holds 'notes\.txt', which is not a file of a pkmodel "
        r"run; expected a new or empty folder, or the folder of an earlier run",
    ),
    Row(
        "cli-out-earlier-run",
        FILES,
        "pkmodel --out of an earlier run, without --overwrite",
        lambda t: study(write_text((t / "o").mkdir() or t / "o" / "report.md", "old").parents[1]),
        ExitCode,
        r"exit 1: pkmodel: error: '.*o/report\.md' exists \(1 of this study's files are "
        r"there from an earlier run\); pass --overwrite to replace them",
    ),
    # --- issue 16 ---
    Row(
        "est-data-kind",
        ESTIMATION,
        "data that is neither a frame nor a path",
        lambda t: pk.estimate_individual(CARD, 3),
        TypeError,
        r"data is a int; expected a pandas DataFrame or a path to a CSV file \(a NONMEM data set\)",
    ),
    Row(
        "est-column-missing",
        ESTIMATION,
        "a frame without DV",
        lambda t: pk.estimate_individual(CARD, est_data().drop(columns="DV")),
        ValueError,
        r"data: column DV is missing; expected ID, TIME, DV and the dose records",
    ),
    Row(
        "est-text",
        ESTIMATION,
        "text in DV",
        lambda t: pk.estimate_individual(CARD, est_data(DV=[None, 0.3, "high"])),
        ValueError,
        r"data row 2 \(ID 1\), column DV is 'high'; expected a number",
    ),
    Row(
        "est-id-not-whole",
        ESTIMATION,
        "an ID that is not a whole number",
        lambda t: pk.estimate_individual(CARD, est_data(ID=[1.5, 1.5, 1.5])),
        ValueError,
        r"data row 0: ID is 1\.5; expected a whole-number subject ID",
    ),
    Row(
        "est-obs-without-dose",
        ESTIMATION,
        "a subject with observations and no dose",
        lambda t: pk.estimate_individual(CARD, est_data(ID=[1, 1, 2])),
        ValueError,
        r"data: ID 2 has observations but no dose record; expected doses \(AMT > 0\)",
    ),
    Row(
        "est-dv-nan",
        ESTIMATION,
        "an observation record without DV",
        lambda t: pk.estimate_individual(CARD, est_data(DV=[None, 0.3, None])),
        ValueError,
        r"data row 2, ID 1: DV is nan; expected a concentration in mg/L on an observation record",
    ),
    Row(
        "est-time-negative",
        ESTIMATION,
        "an observation at a negative time",
        lambda t: pk.estimate_individual(CARD, est_data(TIME=[-2.0, -1.0, 4.0])),
        ValueError,
        r"data row 1, ID 1: TIME is -1\.0; expected a finite time >= 0 h",
    ),
    Row(
        "est-blq-no-limit",
        ESTIMATION,
        "a BLQ record with no limit",
        lambda t: pk.estimate_individual(CARD, est_data(DV=[None, 0.3, None], BLQ=[0, 0, 1])),
        ValueError,
        r"data row 2, ID 1: DV is nan; expected a limit of quantification > 0 mg/L on "
        r"a BLQ record",
    ),
    Row(
        "est-exponential-zero",
        ESTIMATION,
        "a DV of 0 under exponential error",
        lambda t: pk.estimate_individual(exponential(t), est_data(DV=[None, 0.3, 0.0])),
        ValueError,
        r"data row 2, ID 1: DV is 0\.0; expected a concentration > 0 mg/L with "
        r"exponential error",
    ),
    Row(
        "est-proportional-zero",
        ESTIMATION,
        "a DV of 0 under proportional error",
        lambda t: pk.estimate_individual(CARD, est_data(DV=[None, 0.3, 0.0])),
        ValueError,
        r"data row 2, ID 1: DV is 0\.0; expected a concentration other than 0 with proportional "
        r"error",
    ),
    Row(
        "est-no-weight",
        ESTIMATION,
        "no WT column for a per-kg model",
        lambda t: pk.estimate_individual(CARD, est_data().drop(columns="WT")),
        ValueError,
        r"data: column WT is missing, and model 'baclofen_cp_card' uses covariates",
    ),
    Row(
        "est-weight-varies",
        ESTIMATION,
        "a weight that changes within an ID",
        lambda t: pk.estimate_individual(CARD, est_data(WT=[20.0, 20.0, 21.0])),
        ValueError,
        r"data: column WT changes within ID 1; expected one value per ID",
    ),
    Row(
        "est-cohort-ids",
        ESTIMATION,
        "a cohort of other children",
        lambda t: pk.estimate_individual(CARD, est_data(), cohort=cohort(ids=[7])),
        ValueError,
        r"data: ID 1 of the data is not in the cohort; expected the same IDs in both",
    ),
    Row(
        "est-cohort-kind",
        ESTIMATION,
        "a frame where the cohort belongs",
        lambda t: pk.estimate_individual(CARD, est_data(), cohort=est_data()),
        TypeError,
        r"cohort is a DataFrame; expected a Cohort \(or None: covariates WT, AGE from the data\)",
    ),
    Row(
        "est-model-kind",
        ESTIMATION,
        "a model name where the model belongs",
        lambda t: pk.estimate_individual("baclofen_cp_card", est_data()),
        TypeError,
        r"model is a str; expected a Model \(pk\.load_model\)",
    ),
    Row(
        "est-no-residual",
        ESTIMATION,
        "a model without residual error",
        lambda t: pk.estimate_individual(model_doc(t, lambda d: d.pop("residual_error")), est_data()),
        ValueError,
        r"estimate_individual: model 'baclofen_cp_card' has no residual_error",
    ),
    Row(
        "est-no-etas",
        ESTIMATION,
        "a model without random effects",
        lambda t: pk.estimate_individual(
            model_with(t, CL={"iiv_sd": 0.0}, V={"iiv_sd": 0.0}, ka={"iiv_sd": 0.0}), est_data()
        ),
        ValueError,
        r"model 'baclofen_cp_card' has no random effects; expected at least one",
    ),
    Row(
        "est-iov",
        ESTIMATION,
        "a model with inter-occasion variability",
        lambda t: pk.estimate_individual(model_with(t, CL={"iov_sd": 0.2}), est_data()),
        ValueError,
        r"model 'baclofen_cp_card' has inter-occasion variability on \['CL'\]; MAP "
        r"of occasion effects is not supported",
    ),
    Row(
        "est-omega-singular",
        ESTIMATION,
        "random effects correlated 1 (no prior density)",
        lambda t: pk.estimate_individual(
            model_plus(t, "[[correlations]]\nbetween = ['CL', 'V']\nvalue = 1.0"), est_data()
        ),
        ValueError,
        r"omega of model 'baclofen_cp_card' is singular \(smallest eigenvalue",
    ),
    Row(
        "est-engine",
        ESTIMATION,
        "an engine pkmodel does not have",
        lambda t: pk.estimate_individual(CARD, est_data(), engine="fast"),
        ValueError,
        r"estimate_individual: engine is 'fast'; expected 'auto' or one of \['analytic', 'ode'\]",
    ),
    Row(
        "est-before-dose",
        ESTIMATION,
        "an observation before the first dose",
        lambda t: pk.estimate_individual(CARD, est_data(TIME=[1.0, 0.5, 4.0]).iloc[[1, 0, 2]]),
        ValueError,
        r"data row 0, ID 1: the prediction at TIME 0\.5 h is 0 for every eta \(before its first "
        r"dose\?\)",
    ),
    Row(
        "fit-predict-regimen",
        ESTIMATION,
        "text where a regimen belongs (predict)",
        lambda t: est_fit().predict("2 mg/kg/day TID", [1.0]),
        TypeError,
        r"predict: regimen is a str; expected a Regimen or an event table",
    ),
    Row(
        "fit-sample-method",
        ESTIMATION,
        "a posterior sampler pkmodel does not have",
        lambda t: est_fit().sample(10, method="mcmc"),
        ValueError,
        r"sample: method is 'mcmc'; expected one of \['laplace', 'sir'\]",
    ),
    Row(
        "fit-sample-count",
        ESTIMATION,
        "zero posterior draws",
        lambda t: est_fit().sample(0),
        ValueError,
        r"sample: samples is 0; expected a whole number >= 1",
    ),
    Row(
        "dose-fit-kind",
        ESTIMATION,
        "a Result where a fit belongs (individual_dose)",
        lambda t: pk.individual_dose(run(seed=1), 0.3),
        TypeError,
        r"individual_dose: fit is a Result; expected an IndividualFit",
    ),
    Row(
        "dose-target-zero",
        ESTIMATION,
        "a target of 0 mg/L",
        lambda t: pk.individual_dose(est_fit(), 0.0),
        ValueError,
        r"individual_dose: target is 0\.0; expected a concentration > 0 mg/L or a range",
    ),
    Row(
        "dose-target-range-zero",
        ESTIMATION,
        "a target range from 0",
        lambda t: pk.individual_dose(est_fit(), (0.0, 0.4)),
        ValueError,
        r"individual_dose: target is \(0\.0, 0\.4\); expected 0 < low < high < inf mg/L",
    ),
    Row(
        "dose-two-ranges",
        ESTIMATION,
        "a range as target and a target_range",
        lambda t: pk.individual_dose(est_fit(), (0.1, 0.4), target_range=(0.1, 0.4)),
        ValueError,
        r"individual_dose: target is \(0\.1, 0\.4\) and target_range is \(0\.1, 0\.4\); "
        r"expected a range in one of them only",
    ),
    Row(
        "dose-metric",
        ESTIMATION,
        "an exposure metric individual_dose does not aim at",
        lambda t: pk.individual_dose(est_fit(), 0.3, metric="auc"),
        ValueError,
        r"individual_dose: metric is 'auc'; expected one of \['cavg', 'cmin'\]",
    ),
    Row(
        "dose-per-day",
        ESTIMATION,
        "no doses a day",
        lambda t: pk.individual_dose(est_fit(), 0.3, doses_per_day=0),
        ValueError,
        r"individual_dose: doses_per_day is 0; expected a whole number >= 1",
    ),
    Row(
        "dose-cap",
        ESTIMATION,
        "a negative cap",
        lambda t: pk.individual_dose(est_fit(), 0.3, max_mg_per_dose=-5),
        ValueError,
        r"individual_dose: max_mg_per_dose is -5; expected a finite number > 0",
    ),
    Row(
        "dose-cmin-lag",
        ESTIMATION,
        "a trough target with a lag time",
        lambda t: pk.individual_dose(
            est_fit(model_with(t, tlag={"value": 0.5, "unit": "h"})), 0.1, metric="cmin", samples=None
        ),
        NotImplementedError,
        r"individual_dose: metric 'cmin' with a lag time \(tlag\) is not supported yet",
    ),
    Row(
        "visit-time",
        ESTIMATION,
        "a visit at 0 h",
        lambda t: pk.Visit(0.0, (0.0,)),
        ValueError,
        r"Visit: at_h is 0\.0; expected a finite number > 0",
    ),
    Row(
        "visit-samples-after",
        ESTIMATION,
        "a sample after its visit",
        lambda t: pk.Visit(10.0, (5.0, 12.0)),
        ValueError,
        r"Visit: samples_h is \(5\.0, 12\.0\); expected increasing times from 0 h to the visit "
        r"at 10 h",
    ),
    Row(
        "protocol-start-kind",
        ESTIMATION,
        "text where the start regimen belongs",
        lambda t: protocol(start="2 mg/kg/day TID"),
        TypeError,
        r"Protocol: start is a str; expected a Regimen",
    ),
    Row(
        "protocol-no-visits",
        ESTIMATION,
        "a protocol without visits",
        lambda t: protocol(visits=()),
        ValueError,
        r"Protocol: visits is \(\); expected one or more Visit",
    ),
    Row(
        "protocol-visit-order",
        ESTIMATION,
        "a visit sampling before the visit before it",
        lambda t: protocol(visits=(pk.Visit(48.0, (40.0,)), pk.Visit(96.0, (44.0,)))),
        ValueError,
        r"Protocol: the visit at 96 h samples at 44 h; expected samples after the "
        r"visit before it \(48 h\)",
    ),
    Row(
        "protocol-visit-late",
        ESTIMATION,
        "a visit after the end of the trial",
        lambda t: protocol(days=1),
        ValueError,
        r"Protocol: the last visit is at 48 h; expected it before the end of the trial \(24 h",
    ),
    Row(
        "protocol-range",
        ESTIMATION,
        "a target range from 0",
        lambda t: protocol(target_range=(0.0, 0.4)),
        ValueError,
        r"Protocol: target_range is \(0\.0, 0\.4\); expected 0 < low < high < inf mg/L",
    ),
    Row(
        "protocol-metric",
        ESTIMATION,
        "a protocol metric pkmodel does not aim at",
        lambda t: protocol(metric="auc"),
        ValueError,
        r"Protocol: metric is 'auc'; expected one of \['cavg', 'cmin'\]",
    ),
    Row(
        "protocol-formulation",
        ESTIMATION,
        "a formulation pkmodel does not have",
        lambda t: protocol(formulation="capsules"),
        ValueError,
        r"Protocol: formulation is 'capsules'; expected a Formulation or one of \['granules'",
    ),
    Row(
        "protocol-cap",
        ESTIMATION,
        "a cap of 0 mg per dose",
        lambda t: protocol(max_mg_per_dose=0),
        ValueError,
        r"Protocol: max_mg_per_dose is 0; expected a finite number > 0",
    ),
    Row(
        "trial-protocol-kind",
        ESTIMATION,
        "a regimen where the protocol belongs",
        lambda t: pk.simulate_protocol(CARD, CHILD, REG),
        TypeError,
        r"simulate_protocol: protocol is a Regimen; expected a Protocol",
    ),
    Row(
        "trial-reference-short",
        ESTIMATION,
        "a reference regimen that ends before the trial",
        lambda t: pk.simulate_protocol(CARD, CHILD, protocol(), reference=REG, seed=1),
        ValueError,
        r"simulate_protocol: the reference regimen's last dose is at 16 h; expected doses over the "
        r"trial's last day \(from 144 h; days is 7\)",
    ),
    Row(
        "trial-no-residual",
        ESTIMATION,
        "samples with error from a model without one",
        lambda t: pk.simulate_protocol(
            model_doc(t, lambda d: d.pop("residual_error")), CHILD, protocol(), estimation_model=CARD, seed=1
        ),
        ValueError,
        r"simulate_protocol: model 'baclofen_cp_card' has no residual_error; expected one, or "
        r"residual_error=False",
    ),
    # --- renal function (issue 18 part 4) ---
    Row(
        "cohort-egfr-negative",
        COHORT,
        "an eGFR below 0",
        lambda t: pk.Cohort(weight_kg=[30.0], age_years=[10.0], covariates={"egfr_ml_min_1_73m2": [-5.0]}),
        ValueError,
        r"Cohort\.covariates\['egfr_ml_min_1_73m2'\]\[0\] is -5\.0; expected an eGFR in "
        r"mL/min/1\.73 m\^2, > 0 and <= 300",
    ),
    Row(
        "cohort-egfr-unit",
        COHORT,
        "an eGFR in mL/s (or per 1.73 m^2 mistaken) of 1200",
        lambda t: pk.Cohort(weight_kg=[30.0], age_years=[10.0], covariates={"egfr_ml_min_1_73m2": [1200.0]}),
        ValueError,
        r"Cohort\.covariates\['egfr_ml_min_1_73m2'\]\[0\] is 1200\.0; expected an eGFR",
    ),
    Row(
        "egfr-creatinine-umol",
        COHORT,
        "serum creatinine in umol/L (53) where mg/dL is asked",
        lambda t: renal.with_egfr(pk.Cohort(weight_kg=[30.0], age_years=[10.0], height_cm=[138.0]), [53.0]),
        ValueError,
        r"creatinine_mg_dl\[0\] is 53\.0; expected a serum creatinine in mg/dL, 0\.05 to 25 "
        r"\(umol/L is 88\.4 times mg/dL\)",
    ),
    Row(
        "egfr-no-height",
        COHORT,
        "an eGFR from creatinine for children without heights",
        lambda t: renal.with_egfr(pk.Cohort(weight_kg=[30.0], age_years=[10.0]), [0.6]),
        ValueError,
        r"with_egfr: the cohort has no height_cm; expected heights",
    ),
    # --- issue 13: engines of one's own, sensitivity's regimen ---
    Row(
        "register-not-an-engine",
        OPTIONS,
        "register_engine given something that is no engine",
        lambda t: pk.register_engine(object()),
        TypeError,
        r"register_engine: object has no 'name'; expected an Engine \(name, options, supports, "
        r"simulate\)",
    ),
    Row(
        "register-engine-auto",
        OPTIONS,
        "an engine named 'auto' (the name that picks one)",
        lambda t: pk.register_engine(named_engine("auto")),
        ValueError,
        r"register_engine: engine name is 'auto'; expected a non-empty name other than 'auto'",
    ),
    Row(
        "sensitivity-jitter",
        OPTIONS,
        "sensitivity of a regimen with timing jitter",
        lambda t: pk.sensitivity(
            CARD,
            CHILD,
            pk.Regimen.parse("10 mg q8h x 3, timing sd 0.5 h"),
            {"CL": [0.2]},
            target_range=pk.BACLOFEN_TARGET_MG_L,
        ),
        ValueError,
        r"sensitivity: regimen has timing_sd_h 0\.5 h; expected doses on time \(0\), the same "
        r"times for every child",
    ),
    Row(
        "sensitivity-regimen-kind",
        OPTIONS,
        "sensitivity of an event table",
        lambda t: pk.sensitivity(CARD, CHILD, events(), {"CL": [0.2]}, target_range=pk.BACLOFEN_TARGET_MG_L),
        TypeError,
        r"sensitivity: regimen is a EventTable; expected a Regimen",
    ),
    # --- issue 13: the model-file refusals tests/test_model.py pinned besides the rows above ---
    Row(
        "model-transit-count-negative",
        MODEL,
        "n_transit = -2",
        lambda t: model_with(
            t,
            model={"absorption": "transit", "n_transit": -2},
            MTT={"value": 0.389, "unit": "h"},
            drop=["ka"],
        ),
        ModelFileError,
        r"model\.toml: model\.n_transit is -2; expected a whole number >= 0",
    ),
    Row(
        "model-covariate-weight-per-kg",
        MODEL,
        "a weight covariate on a per-kg parameter",
        lambda t: model_with(
            t, CL={"covariates": {"weight_kg": {"type": "power", "reference": 20, "exponent": 0.75}}}
        ),
        ModelFileError,
        r"unit 'L/h/kg' already scales with weight",
    ),
    Row(
        "model-correlation-twice-same",
        MODEL,
        "a correlation given twice with the same value",
        lambda t: card_file(
            t,
            after='\n[[correlations]]\nbetween = ["CL", "V"]\nvalue = 0.3\n'
            '\n[[correlations]]\nbetween = ["V", "CL"]\nvalue = 0.3\n',
        ),
        ModelFileError,
        r"m\.toml: correlations\[0\] and correlations\[1\] both give the correlation "
        r"between 'V' and 'CL' \(the same value\); expected each pair once",
    ),
    Row(
        "model-toml-tables-too-deep",
        MODEL,
        "inline tables nested 50,000 deep",
        lambda t: card_file(t, before="x = " + "{a = " * 50_000 + "1" + "}" * 50_000 + "\n"),
        ModelFileError,
        r"m\.toml: not readable as TOML: its arrays or tables are nested too deeply",
    ),
    Row(
        "model-derived-nested",
        MODEL,
        "999 unary minuses (nested past Python's parser)",
        lambda t: card_file(t, replace=('derived = "1 / 0.389"', 'derived = "' + "-" * 999 + '1"')),
        ModelFileError,
        r"m\.toml: parameters\.ka\.derived is '----.*'; expected arithmetic on numbers",
    ),
    Row(
        "model-random-effects-number",
        MODEL,
        "random_effects = 5",
        lambda t: card_file(t, before="random_effects = 5\n"),
        ModelFileError,
        r"m\.toml: random_effects is 5; expected a table",
    ),
    Row(
        "model-correlations-of-numbers",
        MODEL,
        "correlations = [5]",
        lambda t: card_file(t, before="correlations = [5]\n"),
        ModelFileError,
        r"m\.toml: correlations is \[5\]; expected an array of tables",
    ),
    Row(
        "model-correlation-between-nested",
        MODEL,
        "a correlation between a list and a name",
        lambda t: card_file(t, after='\n[[correlations]]\nbetween = [["CL"], "V"]\nvalue = 0.1\n'),
        ModelFileError,
        r"m\.toml: correlations\[0\]\.between is \[\['CL'\], 'V'\]; expected two "
        r"random-effect names",
    ),
    Row(
        "model-residual-type-list",
        MODEL,
        "residual_error.type = []",
        lambda t: card_file(t, replace=('type = "proportional"', "type = []")),
        ModelFileError,
        r"m\.toml: residual_error\.type is \[\]; expected one of \['proportional', 'additive'",
    ),
    Row(
        "model-covariate-type-list",
        MODEL,
        "a covariate's type = []",
        lambda t: card_file(
            t, replace=("[parameters.V]", "[parameters.CL.covariates.weight_kg]\ntype = []\n\n[parameters.V]")
        ),
        ModelFileError,
        r"m\.toml: parameters\.CL\.covariates\.weight_kg\.type is \[\]; expected one of \['power'",
    ),
    Row(
        "model-covariate-values-number",
        MODEL,
        "a categorical covariate's values = 5",
        lambda t: card_file(
            t,
            replace=(
                "[parameters.V]",
                '[parameters.CL.covariates.sex]\ntype = "categorical"\nvalues = 5\n\n[parameters.V]',
            ),
        ),
        ModelFileError,
        r"m\.toml: parameters\.CL\.covariates\.sex\.values is 5; expected a table of "
        r"levels",
    ),
    Row(
        "model-validity-number",
        MODEL,
        "a validity range that is one number",
        lambda t: validity_file(t, "[validity.age_years]\nrange = 2\n"),
        ModelFileError,
        r"m\.toml: validity\.age_years\.range is 2; expected \[low, high\]",
    ),
    Row(
        "model-validity-text",
        MODEL,
        "a validity range with a bound as text",
        lambda t: validity_file(t, '[validity.age_years]\nrange = [2, "17"]\n'),
        ModelFileError,
        r"m\.toml: validity\.age_years\.range is \[2, '17'\]",
    ),
    Row(
        "model-validity-field",
        MODEL,
        "a validity range with a field pkmodel does not know",
        lambda t: validity_file(t, '[validity.age_years]\nrange = [2, 17]\nunit = "y"\n'),
        ModelFileError,
        r"m\.toml: unknown field validity\.age_years\.unit; expected one of "
        r"\['assumed', 'note', 'range'",
    ),
    Row(
        "model-validity-not-table",
        MODEL,
        "a validity range given as a bare list",
        lambda t: validity_file(t, "[validity]\nage_years = [2, 17]\n"),
        ModelFileError,
        r"m\.toml: validity\.age_years is \[2, 17\]; expected a table \(\[validity\.age_years\] "
        r"with range",
    ),
    # --- model language ---
    Row(
        "lang-syntax",
        MODEL,
        "an expression that does not parse",
        lambda t: lang(t, odes='central = "-CL / V * * central"'),
        ModelFileError,
        r"m\.toml: odes\.central: syntax error \(invalid syntax\) at column 11 of "
        r"'-CL / V \* \* central'",
    ),
    Row(
        "lang-unknown-name",
        MODEL,
        "a name that is nothing (a typo)",
        lambda t: lang(t, odes='central = "-CL / V * centrl"'),
        ModelFileError,
        r"odes\.central: unknown name 'centrl' \(did you mean 'central'\?\) at column 11 of "
        r"'-CL / V \* centrl'; expected a parameter, covariate, compartment, t, or a derived name",
    ),
    Row(
        "lang-unknown-function",
        MODEL,
        "a function the language does not have",
        lambda t: lang(t, outputs='conc = "ln(central) / V"'),
        ModelFileError,
        r"outputs\.conc: unknown function 'ln' .*at column 1 of 'ln\(central\) / V'; expected one "
        r"of \['exp', 'log', 'sqrt', 'abs', 'min', 'max', 'where'\]",
    ),
    Row(
        "lang-python-call",
        MODEL,
        "Python smuggled into an expression",
        lambda t: lang(t, outputs="conc = \"__import__('os').system('ls')\""),
        ModelFileError,
        r"outputs\.conc: attribute access is not in the language at column 1",
    ),
    Row(
        "lang-operator",
        MODEL,
        "an operator the language does not have (//)",
        lambda t: lang(t, outputs='conc = "central // V"'),
        ModelFileError,
        r"outputs\.conc: operator '//' at column 1 of 'central // V'; expected one of "
        r"\+ - \* / \*\* and unary -",
    ),
    Row(
        "lang-text-literal",
        MODEL,
        "a quoted word where a number belongs",
        lambda t: lang(t, odes="central = \"-'CL' * central\""),
        ModelFileError,
        r"odes\.central: text \(a string\) is not a number at column 2",
    ),
    Row(
        "lang-comparison-as-number",
        MODEL,
        "a comparison used as a number",
        lambda t: lang(t, outputs='conc = "central > 1"'),
        ModelFileError,
        r"outputs\.conc: a comparison used as a number at column 1 of 'central > 1'; expected a "
        r"number \(comparisons go in where\(cond, a, b\)\)",
    ),
    Row(
        "lang-where-condition",
        MODEL,
        "where() whose condition is not a comparison",
        lambda t: lang(t, outputs='conc = "where(central, 1, 0)"'),
        ModelFileError,
        r"outputs\.conc: where\(\) condition is not a comparison at column 7",
    ),
    Row(
        "lang-not-text",
        MODEL,
        "an equation written as a number",
        lambda t: lang(t, odes="central = 0"),
        ModelFileError,
        r"odes\.central is 0 \(int\); expected an expression as text, e\.g\. \"0\"",
    ),
    Row(
        "lang-non-ascii",
        MODEL,
        "a character outside ASCII (a minus sign)",
        lambda t: lang(t, odes='central = "\u2212CL / V * central"'),
        ModelFileError,
        r"odes\.central: character '\u2212' at column 1",
    ),
    Row(
        "lang-exponent",
        MODEL,
        "a constant power too large to compute",
        lambda t: lang(t, outputs='conc = "central / V * 10 ** 10 ** 10"'),
        ModelFileError,
        r"outputs\.conc: exponent 1e\+10 at column 21 of .*; expected \|exponent\| <= 1000",
    ),
    Row(
        "lang-divide-by-zero",
        MODEL,
        "a constant part that divides by zero",
        lambda t: lang(t, outputs='conc = "central / V / (1 - 1)"'),
        ModelFileError,
        r"outputs\.conc: the constant '1 / \(1 - 1\)'|outputs\.conc: .*division by zero",
    ),
    Row(
        "lang-no-equation",
        MODEL,
        "a compartment without an equation",
        lambda t: lang(t, compartments='["central", "peripheral"]'),
        ModelFileError,
        r"odes: compartment 'peripheral' has no equation; expected one expression per "
        r"compartment of model\.compartments",
    ),
    Row(
        "lang-equation-not-compartment",
        MODEL,
        "an equation for a compartment not listed",
        lambda t: lang(t, odes='central = "-CL / V * central"\nperiph = "0"'),
        ModelFileError,
        r"odes\.periph: 'periph' is not a compartment; expected one of model\.compartments "
        r"\['central'\]",
    ),
    Row(
        "lang-compartments-text",
        MODEL,
        "compartments as one text, not a list",
        lambda t: lang(t, compartments='"central"'),
        ModelFileError,
        r"model\.compartments is 'central'; expected a list of compartment names in order",
    ),
    Row(
        "lang-compartment-twice",
        MODEL,
        "a compartment named twice",
        lambda t: lang(t, compartments='["central", "central"]'),
        ModelFileError,
        r"model\.compartments repeats \['central'\]; expected each name once",
    ),
    Row(
        "lang-compartment-reserved",
        MODEL,
        "a compartment named like time (t)",
        lambda t: lang(t, compartments='["central", "t"]', odes='central = "0"\nt = "0"'),
        ModelFileError,
        r"model\.compartments has 't', which the language reserves \(time, h\)",
    ),
    Row(
        "lang-name-clash",
        MODEL,
        "a compartment named like a parameter",
        lambda t: lang(t, compartments='["central", "V"]', odes='central = "0"\nV = "0"'),
        ModelFileError,
        r"'V' is in both model\.compartments and parameters; expected each name "
        r"in one",
    ),
    Row(
        "lang-dose-compartment",
        MODEL,
        "a dose compartment that is not a compartment",
        lambda t: lang(t, extra_model='dose_compartment = "depot"'),
        ModelFileError,
        r"model\.dose_compartment is 'depot'; expected one of \['central'\]",
    ),
    Row(
        "lang-no-conc",
        MODEL,
        "no conc among the outputs",
        lambda t: lang(t, outputs='level = "central / V"'),
        ModelFileError,
        r"outputs has no 'conc'; expected conc = the concentration \(mg/L\) that exposure reads",
    ),
    Row(
        "lang-no-odes",
        MODEL,
        "compartments without [odes]",
        lambda t: lang(t, odes=None),
        ModelFileError,
        r"table \[odes\] is missing; expected d\(amount\)/dt \(mg/h\) of every compartment",
    ),
    Row(
        "lang-no-outputs",
        MODEL,
        "equations without [outputs]",
        lambda t: lang(t, outputs=None),
        ModelFileError,
        r"table \[outputs\] is missing; expected conc = the concentration \(mg/L\)",
    ),
    Row(
        "lang-both-forms",
        MODEL,
        "a named structure and compartments together",
        lambda t: lang(t, extra_model='structure = "one_compartment_oral"'),
        ModelFileError,
        r"model\.structure given with model\.compartments; expected one form",
    ),
    Row(
        "lang-odes-with-structure",
        MODEL,
        "[odes] in a file that names a structure",
        lambda t: model_doc(t, lambda d: d.update(odes={"depot": "-ka * depot"})),
        ModelFileError,
        r"\[odes\] given with model\.structure; the language's sections need "
        r"model\.compartments instead",
    ),
    Row(
        "lang-unit-missing",
        MODEL,
        "a parameter without a unit",
        lambda t: lang(t, cl_unit=None),
        ModelFileError,
        r"parameters\.CL\.unit is missing; every number names its unit",
    ),
    Row(
        "lang-unit-unknown",
        MODEL,
        "a unit outside mg, L, h, kg, years",
        lambda t: lang(t, cl_unit='"ml/min"'),
        ModelFileError,
        r"parameters\.CL\.unit is 'ml/min'; expected a unit made of mg, L, h, kg, years, cm, m2, "
        r"1 joined by \* and /",
    ),
    Row(
        "lang-unused-parameter",
        MODEL,
        "a parameter no expression uses (a typo elsewhere)",
        lambda t: lang(t, extra='[parameters.KA]\nvalue = 1.0\nunit = "1/h"'),
        ModelFileError,
        r"parameters\.KA is not used by any expression; expected every parameter in \[derived\], "
        r"\[odes\], \[outputs\] or \[dosing\]",
    ),
    Row(
        "lang-derived-itself",
        MODEL,
        "a derived name defined by itself",
        lambda t: lang(t, extra='[derived]\nK = "K * CL / V"'),
        ModelFileError,
        r"derived\.K: 'K' refers to itself at column 1 of 'K \* CL / V'; expected names defined "
        r"above it",
    ),
    Row(
        "lang-derived-order",
        MODEL,
        "a derived name used before it is defined",
        lambda t: lang(t, extra='[derived]\nA = "B * 2"\nB = "CL / V"'),
        ModelFileError,
        r"derived\.A: 'B' is used before \[derived\] defines it at column 1 of 'B \* 2'",
    ),
    Row(
        "lang-derived-shadows",
        MODEL,
        "a derived name that shadows a parameter",
        lambda t: lang(t, extra='[derived]\nCL = "2 * V"'),
        ModelFileError,
        r"derived\.CL shadows the parameter 'CL'; expected a new name",
    ),
    Row(
        "lang-modifier-unknown",
        MODEL,
        "a dose modifier NONMEM does not have",
        lambda t: lang(t, extra='[dosing.central]\nbioav = "1"'),
        ModelFileError,
        r"dosing\.central\.bioav is not a dose modifier; expected one of \['F', 'lag', 'rate', "
        r"'duration'\]",
    ),
    Row(
        "lang-modifier-amount",
        MODEL,
        "a dose modifier that depends on an amount",
        lambda t: lang(t, extra='[dosing.central]\nF = "central / 100"'),
        ModelFileError,
        r"dosing\.central\.F: 'central' in a dose modifier at column 1 of 'central / 100'; "
        r"expected parameters, covariates and derived names of those only",
    ),
    Row(
        "lang-modifier-compartment",
        MODEL,
        "dose modifiers of a compartment not listed",
        lambda t: lang(t, extra='[dosing.depot]\nF = "0.5"'),
        ModelFileError,
        r"dosing\.depot: 'depot' is not a compartment; expected one of model\.compartments",
    ),
    Row(
        "lang-covariate-undeclared",
        MODEL,
        "a covariate used but not declared",
        lambda t: lang(t, odes='central = "-CL * CRCL / V * central"'),
        ModelFileError,
        r"odes\.central: unknown name 'CRCL' \(did you mean 'CL'\?\) at column 7 .*a covariate "
        r"is declared as \[covariates\.NAME\] with its unit",
    ),
    Row(
        "lang-covariate-unit",
        MODEL,
        "a covariate declared without a unit",
        lambda t: lang(t, extra='[covariates.CRCL]\nsource = "creatinine clearance"'),
        ModelFileError,
        r"covariates\.CRCL\.unit is missing; every covariate names its unit",
    ),
    Row(
        "lang-covariate-cohort-unit",
        MODEL,
        "a cohort covariate declared in another unit",
        lambda t: lang(t, extra='[covariates.weight_kg]\nunit = "mg"'),
        ModelFileError,
        r"covariates\.weight_kg is declared as 'mg'; the cohort gives weight_kg as 'kg'",
    ),
    Row(
        "lang-covariate-absent",
        MODEL,
        "a declared covariate the cohort does not carry",
        lambda t: run(
            lang(
                t, odes='central = "-CL * CRCL / 100 / V * central"', extra='[covariates.CRCL]\nunit = "L/h"'
            )
        ),
        ValueError,
        r"model 'lang' uses covariate 'CRCL' \(L/h\), which the cohort does not have; expected "
        r"cohort\.with_covariates\(CRCL=\.\.\.\)",
    ),
    Row(
        "lang-analytic-nonlinear",
        OPTIONS,
        "engine='analytic' on a nonlinear model",
        lambda t: run(lang(t, odes='central = "-CL * central / (1 + central)"'), engine="analytic"),
        ValueError,
        r"engine 'analytic' cannot simulate model 'lang': the model is nonlinear \("
        r".*odes\.central: -CL \* central / \(1 \+ central\) is not affine in the amounts \(central "
        r"appears in a denominator\)\)",
    ),
    Row(
        "lang-find-dose-nonlinear",
        OTHER,
        "find_dose on a nonlinear model",
        lambda t: pk.find_dose(
            lang(t, odes='central = "-CL * central / (1 + central)"'),
            CHILD,
            0.3,
            max_mg_per_dose=None,
            max_mg_per_day=None,
        ),
        ValueError,
        r"find_dose: model 'lang' is nonlinear \(.*\); the exact dose finding needs a linear "
        r"model",
    ),
    Row(
        "lang-chunked-outputs",
        OPTIONS,
        "a chunked run of a model with outputs besides conc",
        lambda t: run(lang(t, outputs='conc = "central / V"\namount = "central"'), chunk_size=1),
        ValueError,
        r"model 'lang' has outputs \['conc', 'amount'\]; a chunked run .* carries conc "
        r"only",
    ),
    Row(
        "lang-ss-time-varying",
        EVENTS,
        "a steady-state dose on a nonlinear model that uses t",
        lambda t: run(
            lang(t, odes='central = "-CL * central / (1 + central) * (1 + t / 100)"'),
            regimen=pk.read_events(
                pd.DataFrame(
                    {
                        "ID": [1],
                        "TIME": [0.0],
                        "AMT": [10.0],
                        "EVID": [1],
                        "CMT": [1],
                        "SS": [1],
                        "II": [12.0],
                    }
                )
            ),
        ),
        ValueError,
        r"model 'lang': a steady-state dose \(SS\) needs equations free of t",
    ),
    # --- NONMEM data sets ---
    Row(
        "ds-evid",
        EVENTS,
        "a data-set EVID outside 0-4",
        lambda t: ds_run(EVID=[5, 0]),
        ValueError,
        r"data row 0 \(ID 1\), column EVID is 5; expected 0, 1, 2, 3 or 4",
    ),
    Row(
        "ds-ss-no-ii",
        EVENTS,
        "a data-set SS=1 dose without II (not a constant infusion)",
        lambda t: ds_run(SS=[1, 0], II=[0.0, 0.0]),
        ValueError,
        r"data row 0 \(ID 1\), column II is 0.0 \(SS is 1\); expected an interval > 0 h where SS is 1 or 2",
    ),
    Row(
        "ds-rate-model",
        EVENTS,
        "RATE -1 where the model gives no rate for the compartment",
        lambda t: ds_run(RATE=[-1, 0]),
        ValueError,
        r"data row 0 \(ID 1\), column RATE is -1; expected a model that gives a rate for this "
        r"compartment",
    ),
    Row(
        "ds-duration-model",
        EVENTS,
        "RATE -2 where the model gives no duration for the compartment",
        lambda t: ds_run(RATE=[-2, 0]),
        ValueError,
        r"data row 0 \(ID 1\), column RATE is -2; expected a model that gives a duration",
    ),
    Row(
        "ds-rate-negative",
        EVENTS,
        "a data-set RATE below 0 other than -1 and -2",
        lambda t: ds_run(RATE=[-3, 0]),
        ValueError,
        r"data row 0 \(ID 1\), column RATE is -3; expected a rate >= 0 mg/h, -1 \(rate from the "
        r"model\) or -2",
    ),
    Row(
        "ds-cmt",
        EVENTS,
        "a data-set CMT the model does not have",
        lambda t: ds_run(CMT=[3, 2]),
        ValueError,
        r"data row 0 \(ID 1\), column CMT is 3; expected a compartment of "
        r"one_compartment_oral: 1 \(depot\), 2 \(central\)",
    ),
    Row(
        "ds-obs-cmt",
        EVENTS,
        "an observation of a compartment the model cannot observe",
        lambda t: ds_run(CMT=[1, 1]),
        ValueError,
        r"data row 1 \(ID 1\), column CMT is 1; expected the observed compartment on an observation "
        r"record: 2",
    ),
    Row(
        "ds-time-back",
        EVENTS,
        "data-set TIME decreasing within an ID without a reset",
        lambda t: ds_run(TIME=[1.0, 0.0]),
        ValueError,
        r"data row 1 \(ID 1\), column TIME is 0.0; expected a time >= 1.0, the TIME of row 0 "
        r"\(TIME decreases within an ID only at a reset",
    ),
    Row(
        "ds-id-blocks",
        EVENTS,
        "an ID whose records are split by another ID's",
        lambda t: pk.simulate_dataset(
            CARD,
            pd.DataFrame(
                {
                    "ID": [1, 2, 1],
                    "TIME": [0.0, 0.0, 1.0],
                    "AMT": [1.0, 1.0, 0.0],
                    "EVID": [1, 1, 0],
                    "CMT": [1, 1, 2],
                    "WT": 20.0,
                }
            ),
        ),
        ValueError,
        r"data row 2 \(ID 1\), column ID is 1; expected each ID's records together",
    ),
    Row(
        "ds-id-missing",
        EVENTS,
        "a data-set record without an ID",
        lambda t: ds_run(ID=[1, None]),
        ValueError,
        r"data row 1, column ID is missing; expected an ID on every record",
    ),
    Row(
        "ds-column-twice",
        EVENTS,
        "a data-set column twice in different case",
        lambda t: ds_run(time=[0.0, 1.0]),
        ValueError,
        r"data: column TIME appears 2 times \(column names are case-insensitive\)",
    ),
    Row(
        "ds-no-time",
        EVENTS,
        "a data set without TIME",
        lambda t: pk.simulate_dataset(CARD, pd.DataFrame({"ID": [1], "AMT": [1.0]})),
        ValueError,
        r"data: column TIME is missing; expected ID, TIME and the NONMEM items used",
    ),
    Row(
        "ds-no-records",
        EVENTS,
        "a data set with a header and no records",
        lambda t: pk.simulate_dataset(CARD, pd.DataFrame({"ID": [], "TIME": []})),
        ValueError,
        r"data: the data set has no records; expected one or more",
    ),
    Row(
        "ds-dose-field-on-obs",
        EVENTS,
        "an amount on an observation record",
        lambda t: ds_run(AMT=[10.0, 5.0]),
        ValueError,
        r"data row 1 \(ID 1\), column AMT is 5.0; expected 0 or missing on a record that is not a dose",
    ),
    Row(
        "ds-text",
        EVENTS,
        "text in a numeric data-set column",
        lambda t: ds_run(TIME=[0.0, "one"]),
        ValueError,
        r"data row 1 \(ID 1\), column TIME is 'one'; expected a number \('\.' for missing\)",
    ),
    Row(
        "ds-no-weight",
        EVENTS,
        "a per-kg model and a data set without WT",
        lambda t: pk.simulate_dataset(CARD, ds_frame().drop(columns="WT")),
        ValueError,
        r"data: no column weight_kg or WT; model 'baclofen_cp_card' uses covariate 'weight_kg' "
        r"\(a per-kg unit\)",
    ),
    Row(
        "ds-covariate-missing",
        EVENTS,
        "a covariate the model uses missing on a record",
        lambda t: ds_run(WT=[20.0, None]),
        ValueError,
        r"data row 1 \(ID 1\), column WT is 'missing'; expected a number on every record",
    ),
    Row(
        "ds-covariate-rule",
        OPTIONS,
        "a covariate rule other than NOCB and LOCF",
        lambda t: pk.simulate_dataset(CARD, ds_frame(), covariates="linear"),
        ValueError,
        r"simulate_dataset: covariates is 'linear'; expected one of \['nocb', 'locf'\]",
    ),
    Row(
        "ds-engine",
        OPTIONS,
        "a data-set engine pkmodel does not have",
        lambda t: pk.simulate_dataset(CARD, ds_frame(), engine="fast"),
        ValueError,
        r"simulate_dataset: engine is 'fast'; expected one of \['auto', 'analytic', 'ode'\]",
    ),
    Row(
        "ds-default-cmt",
        OPTIONS,
        "a default dose compartment the model does not have",
        lambda t: pk.simulate_dataset(CARD, ds_frame(), default_cmt=3),
        ValueError,
        r"simulate_dataset: default_cmt is 3; expected a compartment 1..2 of one_compartment_oral",
    ),
    Row(
        "ds-dosing-compartment",
        OPTIONS,
        "dosing= for a compartment the model does not have",
        lambda t: pk.simulate_dataset(CARD, ds_frame(), dosing={"gut": {"F": 0.5}}),
        ValueError,
        r"dosing: compartment 'gut' is not one of model 'baclofen_cp_card': 1 \(depot\), 2 \(central\)",
    ),
    Row(
        "ds-dosing-key",
        OPTIONS,
        "dosing= with a key other than F, lag, rate, duration",
        lambda t: pk.simulate_dataset(CARD, ds_frame(), dosing={"central": {"ka": 1.0}}),
        ValueError,
        r"dosing\['central'\] has key 'ka'; expected one of \['F', 'lag', 'rate', 'duration'\]",
    ),
    Row(
        "ds-dosing-negative",
        OPTIONS,
        "a negative lag from a data-set column",
        lambda t: pk.simulate_dataset(CARD, ds_frame(LAG=[-1.0, 0.0]), dosing={"depot": {"lag": "LAG"}}),
        ValueError,
        r"data row 0: dosing\['depot'\].lag is -1.0 \('LAG'\); expected a finite h >= 0",
    ),
    Row(
        "ds-kind",
        EVENTS,
        "a data set that is neither a frame nor a path",
        lambda t: pk.simulate_dataset(CARD, [1, 2]),
        TypeError,
        r"data is a list; expected a pandas DataFrame or a path to a CSV file",
    ),
    Row(
        "ds-csv-fields",
        FILES,
        "a data-set CSV line with more fields than the first line",
        lambda t: pk.simulate_dataset(
            CARD, write_text(t / "d.csv", "ID,TIME,AMT,WT\n1,0,10,20\n1,1,,20,5\n")
        ),
        ValueError,
        r"d\.csv: non-blank line 3 has 5 fields; expected 4, as many as the first line",
    ),
    Row(
        "ds-language-model",
        MODEL,
        "a data set for a model written in the model language",
        lambda t: pk.simulate_dataset(pk.load_model("three_compartment_iv_oral"), ds_frame()),
        NotImplementedError,
        r"simulate_dataset: model 'three_compartment_iv_oral' is written in "
        r"the model language; data sets are simulated for the named structures",
    ),
    # --- issue 19: figures, reports, compare ---
    Row(
        "figure-format",
        OPTIONS,
        "a figure format matplotlib is not asked for",
        lambda t: study(t, "--figure-format", "png,gif"),
        ExitCode,
        r"exit 2: .*argument --figure-format: 'gif' is not a figure format; expected one or more "
        r"of png, svg, pdf \(e\.g\. png,svg\)",
    ),
    Row(
        "figure-dpi",
        OPTIONS,
        "a PNG resolution of 20 dpi",
        lambda t: study(t, "--dpi", "20"),
        ExitCode,
        r"exit 2: .*argument --dpi: '20' is not a resolution; expected a number of dots per inch "
        r"from 50 to 1200 \(e\.g\. 300\)",
    ),
    Row(
        "plots-save-format",
        OPTIONS,
        "a figure saved as GIF",
        lambda t: pkplots.save(
            pkplots.nomogram(
                pd.DataFrame({"weight_band": ["<15 kg"], "mg_per_dose": [5.0], "doses_per_day": [3]})
            ),
            t / "f",
            formats=("gif",),
        ),
        ValueError,
        r"formats is \['gif'\]; expected one or more of \['png', 'svg', 'pdf'\]",
    ),
    Row(
        "plots-band-past-dosing",
        OTHER,
        "a shorter regimen's washout shown as its steady state",
        lambda t: pkplots.percentile_band(
            {"1 day": run(regimen=pk.Regimen.weight_based(2.0, 3, 1), times=np.arange(0, 48.5, 0.5))},
            start=24,
            end=48,
        ),
        ValueError,
        r"percentile_band: the range shown for '1 day' ends at 48 h, after its dosing ends "
        r"\(24 h: last dose at 16 h plus one interval\); expected a range within each regimen's "
        r"dosing",
    ),
    Row(
        "plots-band-windows",
        OTHER,
        "windows for regimens that are not the results'",
        lambda t: pkplots.percentile_band({"TID": run()}, windows={"QID": (0, 24)}),
        ValueError,
        r"percentile_band: windows has labels \['QID'\]; expected the labels of results \['TID'\]",
    ),
    Row(
        "plots-band-both",
        OTHER,
        "start/end and windows together",
        lambda t: pkplots.percentile_band({"TID": run()}, start=0, windows={"TID": (0, 24)}),
        ValueError,
        r"percentile_band: start/end and windows are both given; expected one",
    ),
    Row(
        "plots-time-axis",
        OTHER,
        "a time axis in weeks",
        lambda t: pkplots.spaghetti(run(), time="weeks"),
        ValueError,
        r"time is 'weeks'; expected one of \['auto', 'days', 'h'\]",
    ),
    Row(
        "plots-vpc-columns",
        OTHER,
        "observed levels without a concentration column",
        lambda t: pkplots.vpc(run(), pd.DataFrame({"time_h": [1.0], "DV": [0.2]})),
        ValueError,
        r"vpc: observed has no column 'conc_mg_L'; expected time_h \(h\) and conc_mg_L \(mg/L\)",
    ),
    Row(
        "plots-pta-counts",
        OTHER,
        "a PTA table without its counts (no interval possible)",
        lambda t: pkplots.pta_by_band(
            pd.DataFrame({"regimen": ["TID"], "weight_band": ["<15 kg"], "pta": [0.5]})
        ),
        ValueError,
        r"pta_by_band: the table has no column 'n'; expected a pk\.target_attainment table",
    ),
    Row(
        "plots-axes-count",
        OTHER,
        "three Axes for two regimens' panels",
        lambda t: pkplots.percentile_band({"a": run(), "b": run()}, ax=list(Figure().subplots(1, 3))),
        ValueError,
        r"ax is 3 Axes; expected one Axes or 2 \(one per panel\)",
    ),
    Row(
        "compare-keep",
        OPTIONS,
        "compare asked to keep the curves by a wrong word",
        lambda t: pk.compare(CARD, CHILD, {"TID": REG}, TIMES, keep="curves"),
        ValueError,
        r"compare: keep is 'curves'; expected one of \['exposure', 'both'\]",
    ),
    Row(
        "compare-keep-chunks",
        OPTIONS,
        "every curve kept and chunks asked for",
        lambda t: pk.compare(CARD, CHILD, {"TID": REG}, TIMES, keep="both", chunk_size=10),
        ValueError,
        r"compare: keep is 'both' with chunk_size 10; expected chunk_size=None",
    ),
    # --- ode engine and its integrator (issues 14 part 4, 20 part 2) ---
    Row(
        "integrator-y0-shape",
        OPTIONS,
        "one subject's states as a flat vector",
        lambda t: integrate_one(y0=np.ones(1)),
        ValueError,
        r"integrate: y0 has shape \(1,\); expected \(n_subjects, n_states\)",
    ),
    Row(
        "integrator-offsets-end",
        OPTIONS,
        "event offsets that stop short of the events",
        lambda t: integrate_one(event_offsets=np.array([0, 1])),
        ValueError,
        r"integrate: event_offsets must rise from 0 to 2 \(the number of event times\)",
    ),
    Row(
        "integrator-offsets-float",
        OPTIONS,
        "output offsets as floats",
        lambda t: integrate_one(output_offsets=np.array([0.0, 2.0])),
        ValueError,
        r"integrate: output_offsets has shape \(2,\) and dtype float64; expected integers, "
        r"shape \(2,\)",
    ),
    Row(
        "integrator-unsorted",
        OPTIONS,
        "a subject's event times out of order",
        lambda t: integrate_one(event_times=np.array([5.0, 1.0])),
        ValueError,
        r"integrate: subject 0's event times are not sorted \(5\.0 then 1\.0\)",
    ),
    Row(
        "integrator-nan-time",
        OPTIONS,
        "an output time NaN",
        lambda t: integrate_one(output_times=np.array([2.0, math.nan])),
        ValueError,
        r"integrate: output_times has a value that is not finite",
    ),
    Row(
        "integrator-before-start",
        OPTIONS,
        "an event before the subject's start",
        lambda t: integrate_one(t0=2.0),
        ValueError,
        r"integrate: subject 0's event time 1\.0 is before its start t0 = 2\.0",
    ),
    Row(
        "integrator-flags",
        OPTIONS,
        "record-order flags for one of two outputs",
        lambda t: integrate_one(output_after=np.array([True])),
        ValueError,
        r"integrate: output_after has shape \(1,\); expected \(2,\), one flag per output time",
    ),
    Row(
        "integrator-atol-zero",
        OPTIONS,
        "an absolute tolerance of 0",
        lambda t: integrate_one(atol=0.0),
        ValueError,
        r"integrate: rtol is 1e-08 and the smallest atol 0\.0; expected both > 0",
    ),
    Row(
        "integrator-step-fails",
        OPTIONS,
        "a right-hand side that turns NaN after 3 h",
        lambda t: integrate_one(rhs=lambda t_, y, s: np.where(t_[:, None] > 3.0, np.nan, -y)),
        RuntimeError,
        r"integrate: subject 0's step fell to .* h at t = [0-9.]+ h \(below the "
        r"spacing of floating-point numbers there\)",
    ),
    # --- issue 13: refusals mypy found (w13c) ---
    Row(
        "sensitivity-variant-language-n-transit",
        OPTIONS,
        "a transit chain varied on a model of the language (no named structure)",
        lambda t: sensitivity_variant(pk.load_model("phenytoin_mm_oral"), "n_transit", 2),
        ValueError,
        r"sensitivity: parameters\['n_transit'\]: model 'phenytoin_mm_oral' is written in the model "
        r"language; expected a named structure \(its transit chain to vary\)",
    ),
    Row(
        "sensitivity-variant-language-v1-split",
        OPTIONS,
        "the V1/V2 split varied on a model of the language (no named structure)",
        lambda t: sensitivity_variant(pk.load_model("phenytoin_mm_oral"), "V1_split", 0.3),
        ValueError,
        r"sensitivity: parameters\['V1_split'\]: model 'phenytoin_mm_oral' is written in the model "
        r"language; expected a named structure \(its V1 and V2 to vary\)",
    ),
    Row(
        "validation-observation-daily-dose",
        OTHER,
        "a published steady-state observation with both mg_per_day and mg_per_kg_day",
        lambda t: Observation(
            id="x",
            study="s",
            citation="c",
            url="u",
            population="children",
            design="steady_state",
            quantity="t_half",
            statistic="mean",
            independent=True,
            value=0.1,
            doses_per_day=3,
            mg_per_day=30.0,
            mg_per_kg_day=1.0,
        ),
        ValueError,
        r"baclofen_observations\.toml: \[x\]: design 'steady_state' has both of mg_per_day and "
        r"mg_per_kg_day; expected one \(the daily dose\)",
    ),
    # --- issue 17: event tables read without per-row Python ---
    Row(
        "events-ii-infinite",
        EVENTS,
        "an infinite II (it was read as 1.8e308, a finite interval)",
        lambda t: events(II=[np.inf, 0.0], ADDL=[1, 0]),
        ValueError,
        r"events row 0, column II is inf; expected an interval >= 0 h",
    ),
    Row(
        "events-rate-infinite",
        EVENTS,
        "an infinite RATE (it was read as 1.8e308 mg/h)",
        lambda t: events(RATE=[np.inf, 0.0]),
        ValueError,
        r"events row 0, column RATE is inf; expected a rate >= 0 mg/h",
    ),
    # --- the ode engine's compiled kernel (issue 14 part 4: engine option kernel) ---
    Row(
        "ode-kernel-unknown",
        OPTIONS,
        "an ode kernel that does not exist",
        lambda t: run(engine="ode", kernel="fast"),
        ValueError,
        r"engine option kernel is 'fast'; expected one of \['auto', 'numba', 'numpy'\]",
    ),
    Row(
        "ode-kernel-numba-method",
        OPTIONS,
        "the compiled kernel with a method it does not step",
        lambda t: run(engine="ode", kernel="numba", method="dop853_rodas5p"),
        ValueError,
        r"engine option kernel is 'numba', but method is 'dop853_rodas5p': the compiled kernel "
        r"steps by 'rodas5p' only; use kernel='auto' or 'numpy'",
    ),
    Row(
        "ode-kernel-numba-steady-state",
        EVENTS,
        "the compiled kernel asked for steady-state doses (SS = 1), which it does not set",
        lambda t: pk.simulate(
            CARD,
            CHILD,
            pk.read_events(
                pd.DataFrame(
                    {"ID": [1], "TIME": [0.0], "AMT": [10.0], "EVID": [1], "CMT": [1], "SS": [1], "II": [8.0]}
                )
            ),
            np.arange(0, 24.5, 0.5),
            engine="ode",
            kernel="numba",
        ),
        ValueError,
        r"engine option kernel is 'numba', but steady-state doses \(SS = 1, 2\) are set by the matrix "
        r"exponential on the numpy path; use kernel='auto' or 'numpy'",
    ),
    Row(
        "ode-threads-not-whole",
        OPTIONS,
        "the kernel's threads as a fraction",
        lambda t: run(engine="ode", threads=1.5),
        ValueError,
        r"engine option threads is 1.5; expected a whole number >= 1",
    ),
    Row(
        "ode-threads-zero",
        OPTIONS,
        "no thread at all",
        lambda t: run(engine="ode", threads=0),
        ValueError,
        r"engine option threads is 0; expected a whole number >= 1",
    ),
    Row(
        "ode-threads-numpy",
        OPTIONS,
        "threads for the numpy path, which steps the cohort in lockstep on one thread",
        lambda t: run(engine="ode", threads=2, kernel="numpy"),
        ValueError,
        r"engine option threads is 2, but kernel is 'numpy': threads are the compiled Rodas5P "
        r"kernel's; use threads=1",
    ),
    Row(
        "ode-threads-method",
        OPTIONS,
        "threads with a method the compiled kernel does not step",
        lambda t: run(engine="ode", threads=2, method="dop853_rodas5p"),
        ValueError,
        r"engine option threads is 2, but method is 'dop853_rodas5p': threads are the compiled "
        r"Rodas5P kernel's; use threads=1",
    ),
]


CARD_TEXT = (Path(__file__).resolve().parents[1] / "params" / "baclofen_cp_card.toml").read_text()


def validity_file(tmp: Path, toml: str):
    """The bundled card file as m.toml with its validity ranges (its last tables) replaced by `toml`."""
    return card_file(tmp, replace=(CARD_TEXT[CARD_TEXT.index("[validity") :], "\n" + toml))


def card_file(tmp: Path, before: str = "", after: str = "", replace: tuple = ()):
    """The bundled card file as m.toml, with TOML before it, after it or in place of a line."""
    text = CARD_TEXT
    if replace:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    path = tmp / "m.toml"
    path.write_text(before + text + after)
    return pk.load_model(path)


def named_engine(name: str):
    """An object with the Engine contract's four parts, called `name` (never simulated)."""
    return type("Named", (), {"name": name, "options": None, "supports": None, "simulate": None})()


# --- issue 16: inputs of the estimation rows ------------------------------------------------


def est_data(**columns):
    """One child: a 10 mg dose at 0 h, samples at 1 and 4 h (columns as given replace these)."""
    base = {
        "ID": [1, 1, 1],
        "TIME": [0.0, 1.0, 4.0],
        "AMT": [10.0, None, None],
        "EVID": [1, 0, 0],
        "CMT": [1, None, None],
        "DV": [None, 0.3, 0.2],
        "WT": [20.0] * 3,
        "AGE": [8.0] * 3,
    }
    base.update(columns)
    return pd.DataFrame(base)


def est_fit(model=CARD):
    return pk.estimate_individual(model, est_data())


def exponential(tmp: Path):
    def change(doc):
        doc["residual_error"]["type"] = "exponential"

    return model_doc(tmp, change)


def protocol(**fields):
    base = {
        "start": pk.Regimen.weight_based(2.0, 3, 7),
        "visits": (pk.Visit(48.0, (40.0, 48.0)),),
        "days": 7,
        "target_range": (0.08, 0.4),
    }
    return pk.Protocol(**{**base, **fields})


# --- model language: inputs of its rows -------------------------------------------------------


def lang(
    tmp: Path,
    compartments='["central"]',
    odes='central = "-CL / V * central"',
    outputs='conc = "central / V"',
    cl_unit='"L/h"',
    extra_model="",
    extra="",
) -> pk.Model:
    """A one-compartment model written in the language, with one part changed (None: left out)."""
    parts = [
        f'[model]\nname = "lang"\ncompartments = {compartments}\n{extra_model}',
        "[parameters.CL]\nvalue = 1.0" + ("" if cl_unit is None else f"\nunit = {cl_unit}"),
        '[parameters.V]\nvalue = 10.0\nunit = "L"',
    ]
    parts += [f"[odes]\n{odes}"] if odes is not None else []
    parts += [f"[outputs]\n{outputs}"] if outputs is not None else []
    parts += [extra] if extra else []
    return pk.load_model(write_text(tmp / "m.toml", "\n\n".join(parts) + "\n"))


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_refused(row, tmp_path):
    with pytest.raises(row.error, match=row.message) as caught:
        row.call(tmp_path)
    assert type(caught.value) is row.error  # the type the audit states, not a subclass


def test_the_audit_covers_every_area_and_ids_are_unique():
    assert len({row.id for row in ROWS}) == len(ROWS) >= 40
    assert {row.area for row in ROWS} == {
        MODEL,
        COHORT,
        REGIMEN,
        EVENTS,
        TIMES_,
        OPTIONS,
        FILES,
        OTHER,
        ESTIMATION,
    }


# --- issues 14 and 20: inputs of the ode engine's rows --------------------------------------


def integrate_one(**changes):
    """One subject, one state decaying at 1 /h, events at 1 and 5 h, outputs at 2 and 6 h."""
    from pkmodel.engines._integrator import integrate

    args = dict(
        rhs=lambda t, y, s: -y,
        jac=lambda t, y, s: -np.ones((s.size, 1, 1)),
        y0=np.ones((1, 1)),
        event_offsets=np.array([0, 2]),
        event_times=np.array([1.0, 5.0]),
        on_event=lambda t, y, s, e: y + 1,
        output_offsets=np.array([0, 2]),
        output_times=np.array([2.0, 6.0]),
        autonomous=True,
    )
    return integrate(**{**args, **changes})


# --- the document -------------------------------------------------------------------------

HEADER = """\
# Input audit

Every way input to pkmodel can be wrong that we know of, the exception it raises and its
message. Each row is a test (`tests/test_input_audit.py`, one test per row, pinning the
exception type and the message); this page is generated from those rows with the messages
the calls really give (`python tests/test_input_audit.py`), and a test fails if it falls
behind. `<dir>` stands for the folder of the file in question. `ModelFileError` and
`ResultFileError` are ValueErrors; `ExitCode` stands for what the command line does (its
exit code and the one line it prints on stderr).

Accepted on purpose: bioavailability F above 1 (relative bioavailability), negative or
zero subject IDs (any integer names a subject), a seed with `variability=False` (nothing is
drawn; `Result.seed` is None), output times beyond the last dose.

| # | id | input | what is wrong | exception | message |
|---|---|---|---|---|---|
"""


def render() -> str:
    """The audit page: one table row per audit row, with the message its call raises."""
    lines = []
    with tempfile.TemporaryDirectory() as scratch:
        for i, row in enumerate(ROWS, 1):
            folder = Path(scratch) / row.id
            folder.mkdir()
            try:
                row.call(folder)
            except row.error as err:
                message = str(err).replace(str(folder), "<dir>")
            else:
                raise AssertionError(f"audit row {row.id} raised nothing")
            if row.cut:
                message = message[: message.index(row.cut) + len(row.cut)] + " …"
            cell = message.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {i} | `{row.id}` | {row.area} | {row.wrong} | {row.error.__name__} | {cell} |")
    return HEADER + "\n".join(lines) + "\n"


def rounded(text: str) -> str:
    """Numbers of more than 10 digits rounded to 10 (their last digits follow the platform's
    exp and log: a z-score computed from the growth charts)."""
    return re.sub(r"-?\d+\.\d{11,}", lambda m: f"{float(m.group()):.10g}", text)


def test_the_audit_document_lists_every_row():
    # python tests/test_input_audit.py writes the page again
    assert rounded(DOC.read_text()) == rounded(render()), "docs/input_audit.md is stale"


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render())
    print(f"wrote {DOC} ({len(ROWS)} rows)", file=sys.stderr)
