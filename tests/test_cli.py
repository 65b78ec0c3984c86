"""The command line: the main job, files and provenance end to end, one-line errors."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pkmodel as pk
from pkmodel import cli, study
from pkmodel.population import cerebral_palsy

PARAMS = Path(__file__).resolve().parents[1] / "params"
ENTRY_POINT = Path(sys.executable).with_name("pkmodel")  # the installed console script
BANDS = ("2-6 y", "7-11 y", "12-17 y")
METRICS = ("weight (kg)", "dose (mg/kg/day)", "cmax (ng/mL)", "cmin (ng/mL)", "cavg (ng/mL)")
JOB = [
    "--regimen",
    "TID=2 mg/kg/day TID for 14 days, max 20 mg/dose, max 80 mg/day",
    "--regimen",
    "QID=2 mg/kg/day QID for 14 days, max 20 mg/dose, max 80 mg/day",
]
TID_TEXT = "2 mg/kg/day TID for 14 days, max 20 mg/dose"


def run(*args, cwd=None):
    return subprocess.run([str(ENTRY_POINT), *args], capture_output=True, text=True, cwd=cwd)


# Runs the installed console script once per command line given (a JSON list of argument lists),
# all in one fresh interpreter: sys.argv set, stdout and stderr captured, the exit code taken
# from SystemExit, an uncaught exception's traceback printed as the interpreter prints it, and
# the warnings' "shown once" state reset before each run (catch_warnings). One interpreter's
# start-up (~3 s of imports) instead of one per command line.
SCRIPT_RUNS = """
import contextlib, io, json, runpy, sys, traceback, warnings
script, runs = sys.argv[1], json.loads(sys.argv[2])
done = []
for args in runs:
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [script, *args]
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            code = 1
    done.append({"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(done))
"""


def run_each(runs: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess]:
    """{name: args} -> {name: what running the console script with args gave}, one interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT_RUNS, str(ENTRY_POINT), json.dumps(list(runs.values()))],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    return {
        name: subprocess.CompletedProcess(args, r["returncode"], r["stdout"], r["stderr"])
        for (name, args), r in zip(runs.items(), results)
    }


BAD_OPTION_VALUES = (["--dt", "0.7"], ["--ages", "17-2"], ["--seed", "-1"])


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """The command lines the entry point refuses, each run by the console script (run_each)."""
    folder = tmp_path_factory.mktemp("refused")
    (folder / "a_file").write_text("")
    runs = {
        "regimen": ["simulate", "--regimen", "2 mg/kg/day TIDD for 14 days", "--out", str(folder / "o")],
        "unwritable": [
            "simulate",
            "--regimen",
            TID_TEXT,
            "--n",
            "5",
            "--out",
            str(folder / "a_file" / "results"),
        ],
        "ages": ["compare", "--regimen", TID_TEXT, "--ages", "2_17"],
        "debug": [
            "simulate",
            "--regimen",
            TID_TEXT,
            "--n",
            "5",
            "--debug",
            "--out",
            str(folder / "a_file" / "o"),
        ],
        "missing": [
            "simulate",
            "--model",
            str(folder / "nowhere" / "model.toml"),
            "--regimen",
            TID_TEXT,
            "--out",
            str(folder / "o"),
        ],
        **{
            f"option{option[0]}": ["simulate", "--regimen", TID_TEXT, "--out", str(folder / "o"), *option]
            for option in BAD_OPTION_VALUES
        },
    }
    return folder, run_each(runs)


def test_main_job_compares_tid_and_qid_by_age_band_in_a_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["compare", *JOB, "--out", str(out), "--n", "200", "--seed", "3", "--quiet"]) == 0
    table = pd.read_csv(out / "summary.csv")
    for stem in study.FIGURES:  # PNG and SVG by default
        assert (out / f"{stem}.png").stat().st_size > 10_000
        assert b"<svg" in (out / f"{stem}.svg").read_bytes()[:2000]
    assert table[["regimen", "age_band", "metric"]].values.tolist() == [
        [r, b, m] for r in ("TID", "QID") for b in BANDS for m in METRICS
    ]
    assert (table["p5"] <= table["median"]).all() and (table["median"] <= table["p95"]).all()
    n = table[table["metric"] == "cavg (ng/mL)"].set_index(["regimen", "age_band"])["n"]
    assert n["TID"].sum() == 200 and n["TID"].tolist() == n["QID"].tolist() and n.min() > 40
    median = table.set_index(["regimen", "age_band", "metric"])["median"]
    weight = [median["TID", b, "weight (kg)"] for b in BANDS]
    assert weight[0] < weight[1] < weight[2]
    # the median child of 2-6 y weighs < 30 kg: no cap reaches it, it gets 2 mg/kg/day exactly
    assert weight[0] < 30
    np.testing.assert_allclose(
        [median[r, "2-6 y", "dose (mg/kg/day)"] for r in ("TID", "QID")], 2.0, rtol=1e-12
    )
    # 12-17 y: the caps (TID 60 mg/day above 30 kg, QID 80 mg/day above 40 kg) cut the
    # dose per kg, TID more than QID, and Cavg with it
    old_tid, old_qid = (median[r, "12-17 y", "dose (mg/kg/day)"] for r in ("TID", "QID"))
    assert old_tid < old_qid < 2.0
    cavg_young = [median[r, "2-6 y", "cavg (ng/mL)"] for r in ("TID", "QID")]
    # uncapped, Cavg = (2/24 mg/kg/h) / CL/F: 305 ng/mL at the median random effect, whatever
    # the frequency (same children, same random effects); 2 % for the 0.5 h trapezoid, 20 % for
    # the median of e^-eta over ~65 children (omega 0.334, standard error ~5 %)
    np.testing.assert_allclose(cavg_young[0], cavg_young[1], rtol=0.02)
    np.testing.assert_allclose(cavg_young, 305.3, rtol=0.2)
    assert median["TID", "12-17 y", "cavg (ng/mL)"] < median["QID", "12-17 y", "cavg (ng/mL)"]
    assert median["TID", "12-17 y", "cavg (ng/mL)"] < 0.85 * cavg_young[0]
    printed = capsys.readouterr().out
    assert "12-17 y" in printed and "QID" in printed
    report = (out / "report.md").read_text()
    # the report holds the age-band table, the regimen texts and embeds every figure
    assert "| TID | 12-17 y |" in report and "`2 mg/kg/day QID for 14 days, max 20 mg/dose" in report
    assert all(f"]({stem}.png)" in report for stem in study.FIGURES)
    assert "not clinical dosing advice" in report


def test_job_cohort_is_a_cp_mix_from_the_growth_charts():
    # Reid 2011 registry means, normalised: level I 34.2 / 100.6
    assert abs(sum(cerebral_palsy.GMFCS_MIX.values()) - 1) < 1e-12
    np.testing.assert_allclose(cerebral_palsy.GMFCS_MIX[1], 34.2 / 100.6, rtol=1e-12)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """`pkmodel simulate` run once in a subprocess through the installed entry point."""
    out = tmp_path_factory.mktemp("cli") / "results"
    done = run(
        "simulate",
        "--model",
        "baclofen_cp_card",
        "--regimen",
        TID_TEXT,
        "--n",
        "40",
        "--ages",
        "2-17",
        "--seed",
        "7",
        "--out",
        str(out),
        "--quiet",
    )
    return out, done


def api_result(n=40, seed=7, gmfcs=cerebral_palsy.GMFCS_MIX):
    cohort = pk.Cohort.from_growth_charts(n, age_years=(2, 17), seed=seed, gmfcs=gmfcs)
    times = np.arange(0, 14 * 24 + 0.25, 0.5)  # 0.5 h to the end of day 14
    return pk.simulate(
        pk.load_model("baclofen_cp_card"), cohort, pk.Regimen.parse(TID_TEXT), times, seed=seed
    )


def test_simulate_exits_0_quietly_and_writes_every_file(simulated):
    out, done = simulated
    assert done.returncode == 0 and done.stderr == ""  # --quiet: no progress bar
    names = {
        "concentrations.parquet",
        "parameters.csv",
        "exposures.csv",
        "summary.csv",
        "exposure_summary.csv",
        "pta.csv",
        "caps.csv",
        "report.md",
        "report.html",
        "provenance.json",
        *(f"{stem}.{fmt}" for stem in study.FIGURES for fmt in ("png", "svg")),
    }
    assert {p.name for p in out.iterdir()} == names
    assert "12-17 y" in done.stdout and f"wrote {len(names)} files" in done.stdout


def test_simulate_parquet_reads_back_to_the_python_api_array(simulated):
    out, _ = simulated
    res = api_result()
    frame = pd.read_parquet(out / "concentrations.parquet")
    n, t = res.concentrations.shape
    assert list(frame.columns) == ["regimen", "id", "time_h", "conc_mg_L"] and len(frame) == n * t
    # the same computation on the same seed: equal to the last bit (Parquet stores float64)
    np.testing.assert_array_equal(frame["conc_mg_L"].to_numpy().reshape(n, t), res.concentrations)
    np.testing.assert_array_equal(frame["time_h"].to_numpy()[:t], res.times)
    np.testing.assert_array_equal(frame["id"].to_numpy()[::t], res.cohort.ids)
    parameters = pd.read_csv(out / "parameters.csv")
    np.testing.assert_array_equal(parameters["CL_L_h"], res.parameters["CL"])  # CSV floats round-trip
    exposures = pd.read_csv(out / "exposures.csv")
    np.testing.assert_array_equal(exposures["cavg_mg_L"], pk.exposure(res, start=312, end=336)["cavg"])


def test_every_file_records_version_model_hash_seed_and_regimen_text(simulated):
    out, _ = simulated
    model_sha256 = hashlib.sha256((PARAMS / "baclofen_cp_card.toml").read_bytes()).hexdigest()
    sidecar = json.loads((out / "provenance.json").read_text())
    in_parquet = json.loads(pq.read_schema(out / "concentrations.parquet").metadata[b"pkmodel.provenance"])
    for record in (sidecar, in_parquet):
        assert record["pkmodel_version"] == pk.__version__
        assert record["model_file"] == "baclofen_cp_card.toml"
        assert record["model_sha256"] == model_sha256
        assert record["seed"] == 7 and record["regimen"] == TID_TEXT
    # the sidecar covers every other file, with the hash of the bytes written
    assert set(sidecar["files"]) == {p.name for p in out.iterdir()} - {"provenance.json"}
    for name, digest in sidecar["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_format_csv_writes_the_concentrations_as_csv(tmp_path):
    out = tmp_path / "csv"
    done = run(
        "simulate",
        "--regimen",
        TID_TEXT,
        "--n",
        "5",
        "--gmfcs",
        "none",
        "--seed",
        "7",
        "--out",
        str(out),
        "--format",
        "csv",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert not list(out.glob("*.parquet"))
    frame = pd.read_csv(out / "concentrations.csv")
    res = api_result(n=5, gmfcs=None)
    np.testing.assert_array_equal(
        frame["conc_mg_L"].to_numpy().reshape(res.concentrations.shape), res.concentrations
    )
    assert "concentrations.csv" in json.loads((out / "provenance.json").read_text())["files"]


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_models_lists_each_bundled_model_with_its_description():
    done = subprocess.run([sys.executable, "-m", "pkmodel", "models"], capture_output=True, text=True)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(pk.bundled_models())
    for line in lines:
        assert pk.load_model(line.split()[0]).description in line


def one_line_error(done, *fragments):
    assert done.returncode != 0 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("pkmodel: error: ") and "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_unknown_model_is_one_line_naming_it(tmp_path):
    one_line_error(
        run("simulate", "--model", "baclofen_xx", "--regimen", TID_TEXT, "--out", str(tmp_path / "o")),
        "model 'baclofen_xx' is not a bundled model",
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_unparsable_regimen_is_one_line_naming_the_bad_word(refused):
    one_line_error(refused[1]["regimen"], "'TIDD' at column 13")


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_unwritable_output_folder_is_one_line_naming_it(refused):
    folder, done = refused
    target = folder / "a_file" / "results"
    one_line_error(done["unwritable"], f"cannot write to the output folder '{target}'")


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_bad_option_value_is_one_line_naming_it(refused):
    one_line_error(refused[1]["ages"], "argument --ages: '2_17' is not an age range")


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_debug_shows_the_traceback(refused):
    done = refused[1]["debug"]
    assert done.returncode != 0 and "Traceback" in done.stderr and "a_file" in done.stderr


def test_study_times_end_each_regimen_on_its_last_dosing_day_and_hold_every_dose():
    regimens = {
        "qd": pk.Regimen.parse("1 mg/kg/day QD for 3 days"),
        "clock": pk.Regimen.parse("2 mg/kg/day at 08:15, 14:00, 20:00 for 2 days"),
    }
    times, ends = study.study_times(regimens, 0.5)
    # QD doses at 0, 24, 48 h: the last day ends at 72 h; clock times: day 2 ends at 48 h
    assert ends == {"qd": 72.0, "clock": 48.0}
    assert times[-1] == 72.0 and {8.25, 32.25} <= set(times)


def test_a_time_step_that_does_not_divide_a_day_is_refused():
    with pytest.raises(ValueError, match=r"--dt is 0\.7; expected a time step in h that divides 24 h"):
        study.study_times({"a": pk.Regimen.parse(TID_TEXT)}, 0.7)


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_a_model_path_that_does_not_exist_is_one_line_naming_it(refused):
    folder, done = refused
    one_line_error(done["missing"], f"model file '{folder / 'nowhere' / 'model.toml'}' does not exist")
    assert not (folder / "o").exists()  # refused before the output folder was made


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"pkmodel {pk.__version__}"


def test_a_regimen_label_given_twice_is_refused(tmp_path, capsys):
    code = cli.main(
        ["compare", "--regimen", f"A={TID_TEXT}", "--regimen", f"A={TID_TEXT}", "--out", str(tmp_path / "o")]
    )
    assert code == 2  # a bad option value, as argparse's own
    assert capsys.readouterr().err == (
        "pkmodel: error: --regimen label 'A' is given twice; expected "
        "one label per regimen (see pkmodel compare --help)\n"
    )
    assert not (tmp_path / "o").exists()


# --- bad option values: exit 2, naming the option, before any work ---------------------------


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--dt", "0.7", "argument --dt: '0.7' is not a time step in h that divides 24 h"),
        (
            "--ages",
            "17-2",
            "argument --ages: '17-2' is outside the ages a study covers; expected "
            "FROM-TO in years with 2 <= FROM < TO <= 18",
        ),
        ("--ages", "2-20", "argument --ages: '2-20' is outside the ages a study covers"),
        (
            "--ages",
            "1-5",
            "the CDC 2000 growth charts run 2-20 y, the report's age bands 2-6 y, 7-11 y, "
            "12-17 y end at 18 y",
        ),
        ("--seed", "-1", "argument --seed: '-1' is not a seed; expected a whole number >= 0"),
        (
            "--out",
            "",
            "argument --out: '' is not a folder; expected a folder path (an empty path would "
            "mean the working directory)",
        ),
        ("--out", ".", "argument --out: '.' is the working directory or holds it"),
        ("--curves", "0", "argument --curves: '0' is not a number of children"),
        ("--n", "0", "argument --n: '0' is not a whole number >= 1"),
    ],
    ids=["dt", "ages reversed", "ages to 20", "ages from 1", "seed", "out empty", "out here", "curves", "n"],
)
def test_a_bad_option_value_exits_2_naming_the_option(tmp_path, monkeypatch, capsys, option, value, message):
    monkeypatch.chdir(tmp_path)
    given = ["--out", "o"] if option != "--out" else []
    with pytest.raises(SystemExit) as stop:
        cli.main(["compare", "--regimen", TID_TEXT, *given, option, value])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.splitlines()) == 1, err
    assert "scipy" not in err and "overwrite=True" not in err
    assert os.listdir(tmp_path) == []  # refused before anything was made


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_bad_option_values_exit_2_through_the_entry_point(refused):
    for option in BAD_OPTION_VALUES:
        done = refused[1][f"option{option[0]}"]
        one_line_error(done, f"argument {option[0]}: ")
        assert done.returncode == 2


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_the_widest_ages_a_study_covers_run(tmp_path):
    out = tmp_path / "o"
    assert (
        cli.main(
            [
                "simulate",
                "--regimen",
                "2 mg/kg/day TID for 1 day",
                "--n",
                "30",
                "--ages",
                "2-18",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    ages = pd.read_csv(out / "parameters.csv")["age_years"]
    assert ages.min() >= 2 and ages.max() < 18 and ages.max() > 17  # 30 uniform draws


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_too_many_curves_are_refused_before_the_run(tmp_path, capsys):
    code = cli.main(
        ["simulate", "--regimen", TID_TEXT, "--n", "200000", "--curves", "all", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    # 200,000 children x 673 times x 8 bytes = 1.0 GiB, over the 1 GiB the curves may take
    assert code == 2 and "--curves all: the curves of 200,000 children at 673 output times" in err
    assert "expected at most 199," in err and not (tmp_path / "o").exists()


# --- what is written at scale: every child's exposure, the first children's curves -----------


def test_curves_of_the_first_children_and_the_exposure_of_all(tmp_path):
    out = tmp_path / "o"
    assert (
        cli.main(
            [
                "simulate",
                "--regimen",
                TID_TEXT,
                "--n",
                "30",
                "--seed",
                "7",
                "--curves",
                "10",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    res = api_result(n=30)  # all 30 children at once, unchunked: the reference
    frame = pd.read_parquet(out / "concentrations.parquet")
    t = res.times.size
    assert len(frame) == 10 * t and frame["id"].unique().tolist() == res.cohort.ids[:10].tolist()
    np.testing.assert_array_equal(
        frame["conc_mg_L"].to_numpy().reshape(10, t), res.concentrations[:10]
    )  # the same numbers, to the last bit
    exposures = pd.read_csv(out / "exposures.csv")
    np.testing.assert_array_equal(exposures["cavg_mg_L"], pk.exposure(res, start=312, end=336)["cavg"])
    assert len(pd.read_csv(out / "parameters.csv")) == 30
    report = (out / "report.md").read_text()
    assert "the first 10 of 30 children (`--curves`)" in report
    assert (
        "*Concentrations over each regimen's last two days: median, 25th-75th and 5th-95th "
        "percentile of children (the first 10 of 30 children).*"
    ) in report
    assert json.loads((out / "provenance.json").read_text())["cohort"]["curves"] == 10


# --- issue 19: figure formats, units in every CSV, what the printed tables mean -----------

# a CSV column names its unit (the suffix), or is a label or a dimensionless number
CSV_UNIT = re.compile(
    r"_(mg_L|mg_h_L|h|kg|years|cm|kg_m2|pct|L_h|L|1_h|mg_per_kg_day|"
    r"h_after_dose)$"
)
DIMENSIONLESS = {
    "id",
    "n",
    "n_attained",
    "n_capped",
    "pta",
    "swing",
    "frac_in_range",
    "weight_z",
    "gmfcs",
    "median",
    "p5",
    "p25",
    "p75",
    "p95",
    "mean",
    "geo_mean",
}
LABELS = {"regimen", "age_band", "weight_band", "metric", "unit", "sex", "method"}


def test_every_csv_names_the_unit_of_each_column(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        cli.main(
            ["compare", *JOB, "--out", str(out), "--n", "60", "--seed", "2", "--quiet", "--format", "csv"]
        )
        == 0
    )
    for path in sorted(out.glob("*.csv")):
        frame = pd.read_csv(path)
        for column in frame.columns:
            numeric = pd.api.types.is_numeric_dtype(frame[column])
            assert (
                CSV_UNIT.search(column)
                or column in DIMENSIONLESS
                or column.startswith("eta_")
                or (column in LABELS and not numeric)
            ), (path.name, column)
    # long tables carry the unit of each row: in a unit column, or in the metric's name
    assert set(pd.read_csv(out / "exposure_summary.csv")["unit"]) >= {"ng/mL", "ng*h/mL", "h"}
    assert pd.read_csv(out / "summary.csv")["metric"].str.contains(r"\(.+\)$").all()
    exposures = pd.read_csv(out / "exposures.csv")
    assert {"tmax_h", "tmax_h_after_dose"} <= set(exposures.columns)
    # at steady state TID the peak is ~1.1 h after its dose (0.5 h grid: within 0.5 h of it)
    assert exposures["tmax_h_after_dose"].between(0, 8).all()
    printed = capsys.readouterr().out
    assert printed.startswith("median [5th-95th percentile] by regimen and age band")
    caps = pd.read_csv(out / "caps.csv")
    held = caps.groupby("regimen", sort=False)[["n", "n_capped"]].sum()
    line = next(x for x in printed.splitlines() if x.startswith("Caps hold"))
    for label in ("TID", "QID"):
        assert (
            f"{label} from " in line
            and (f"({held.loc[label, 'n_capped']:,} of {held.loc[label, 'n']:,} children)") in line
        )


def test_figure_formats_and_dpi(tmp_path):
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "simulate",
                "--regimen",
                TID_TEXT,
                "--n",
                "20",
                "--out",
                str(out),
                "--quiet",
                "--figure-format",
                "pdf",
                "--figure-format",
                "png,svg",
                "--dpi",
                "150",
            ]
        )
        == 0
    )
    for stem in study.FIGURES:
        assert (out / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
        assert b"<svg" in (out / f"{stem}.svg").read_bytes()[:2000]
        png = (out / f"{stem}.png").read_bytes()
        # 150 dpi: the PNG is half as wide as at 300 dpi (inches x dpi, trimmed to the drawing)
        width = int.from_bytes(png[16:20], "big")
        assert 500 < width < 1500
    record = json.loads((out / "provenance.json").read_text())
    assert {f"{stem}.{fmt}" for stem in study.FIGURES for fmt in ("png", "svg", "pdf")} <= set(
        record["files"]
    )
    assert "report.html" in record["files"]


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--figure-format", "gif", "'gif' is not a figure format; expected one or more of png, svg, pdf"),
        ("--dpi", "20", "'20' is not a resolution; expected a number of dots per inch from 50 to 1200"),
    ],
)
def test_bad_figure_options_exit_2_naming_them(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as done:
        cli.main(["simulate", "--regimen", TID_TEXT, "--out", str(tmp_path / "o"), option, value])
    assert done.value.code == 2 and message in capsys.readouterr().err
