"""Files written atomically and never over an existing file unless asked; results saved with
their provenance and checked when read back."""

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pkmodel as pk
from pkmodel import cli, io, provenance
from conftest import typical_cohort


class Interrupted(Exception):
    """Stands for anything that stops a run half-way (a full disk, a crash, Ctrl-C)."""


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_puts_the_whole_file_in_place(tmp_path):
    with io.atomic_write(tmp_path / "a.csv", text=True) as f:
        f.write("x,y\n1,2\n")
    assert (tmp_path / "a.csv").read_text() == "x,y\n1,2\n"
    assert listing(tmp_path) == ["a.csv"]          # no temporary file left behind


@pytest.mark.parametrize("interruption", [Interrupted, KeyboardInterrupt])
def test_an_interrupted_write_leaves_nothing_under_the_final_name(tmp_path, interruption):
    with pytest.raises(interruption):
        with io.atomic_write(tmp_path / "result.parquet") as f:
            f.write(b"PAR1" + b"\0" * 1000)         # half a file ...
            raise interruption()                     # ... and the run stops
    assert listing(tmp_path) == []


def test_an_interrupted_overwrite_keeps_the_old_file(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old, whole\n")
    with pytest.raises(Interrupted):
        with io.atomic_write(path, overwrite=True, text=True) as f:
            f.write("new, half")
            raise Interrupted()
    assert path.read_text() == "old, whole\n" and listing(tmp_path) == ["table.csv"]


def test_an_existing_file_is_kept_unless_overwrite(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("mine\n")
    with pytest.raises(FileExistsError, match=r"table\.csv' exists; pass overwrite=True to replace it"):
        with io.atomic_write(path, text=True) as f:
            f.write("theirs\n")
    assert path.read_text() == "mine\n"
    with io.atomic_write(path, overwrite=True, text=True) as f:
        f.write("theirs\n")
    assert path.read_text() == "theirs\n" and listing(tmp_path) == ["table.csv"]


def test_a_file_that_appears_during_the_write_is_not_replaced(tmp_path):
    path = tmp_path / "table.csv"
    with pytest.raises(FileExistsError, match=r"table\.csv' exists"):
        with io.atomic_write(path, text=True) as f:
            path.write_text("written meanwhile by someone else\n")
            f.write("ours\n")
    assert path.read_text() == "written meanwhile by someone else\n"
    assert listing(tmp_path) == ["table.csv"]


@pytest.mark.skipif(os.name != "posix", reason="file modes and umask are POSIX")
def test_written_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with io.atomic_write(tmp_path / "a.csv", text=True) as f:
            f.write("x\n")
    finally:
        os.umask(umask)
    # 0o666 less the umask, as open() gives; not the 0o600 of a temporary file
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644


# --- results ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def result():
    model = pk.load_model("baclofen_cp_he2014")
    cohort = pk.Cohort(weight_kg=[12.0, 25.0, 41.0], age_years=[3.0, 7.0, 12.0],
                       sex=["F", "M", "F"])
    reg = pk.Regimen.weight_based(2.0, 3, 2, max_mg_per_dose=20)
    return pk.simulate(model, cohort, reg, np.arange(0.0, 48.25, 0.25), seed=11)


def test_saved_result_reads_back_exactly_with_its_provenance(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    back = pk.load_result(path)
    np.testing.assert_array_equal(back.concentrations, result.concentrations)  # bit for bit
    np.testing.assert_array_equal(back.times, result.times)
    pd.testing.assert_frame_equal(back.parameters, result.parameters, check_dtype=False)
    record = back.provenance
    model_file = pk.bundled_models()["baclofen_cp_he2014"]
    assert record["model_sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert (record["pkmodel_version"], record["model"], record["model_file"], record["engine"],
            record["seed"], record["regimen"], record["variability"]) == (
        pk.__version__, "baclofen_cp_he2014", "baclofen_cp_he2014.toml", "analytic", result.seed,
        result.regimen, True)
    assert record["format"] == "pkmodel.result/1" and len(back) == 3
    assert listing(tmp_path) == ["run.parquet"]


def test_an_interrupted_save_leaves_no_result_file(tmp_path, result, monkeypatch):
    def half_then_fail(table, where, **kwargs):
        where.write(b"PAR1" + b"\0" * 4096)           # the first bytes of a Parquet file
        raise Interrupted()
    monkeypatch.setattr(pq, "write_table", half_then_fail)
    with pytest.raises(Interrupted):
        result.save(tmp_path / "run.parquet")
    assert listing(tmp_path) == []


def test_saving_over_an_existing_result_needs_overwrite(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    with pytest.raises(FileExistsError, match=r"run\.parquet' exists; pass overwrite=True"):
        result.save(path)
    result.save(path, overwrite=True)
    np.testing.assert_array_equal(pk.load_result(path).concentrations, result.concentrations)


def rewrite(path, table=None, record=None):
    """The Parquet file at path rewritten with another table and/or provenance record."""
    old = pq.read_table(path)
    table = old if table is None else table
    metadata = dict(old.schema.metadata)
    if record is None:
        metadata.pop(provenance.PARQUET_KEY)
    else:
        metadata[provenance.PARQUET_KEY] = json.dumps(record).encode()
    pq.write_table(table.replace_schema_metadata(metadata), path)


def test_a_result_without_provenance_is_refused(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    rewrite(path, record=None)
    with pytest.raises(pk.ResultFileError, match=r"no 'pkmodel\.provenance' in the Parquet schema "
                                                 r"metadata; expected a file written by pkmodel"):
        pk.load_result(path)


def test_a_result_whose_record_lacks_a_field_is_refused(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    record = pk.load_result(path).provenance
    rewrite(path, record={k: v for k, v in record.items() if k != "model_sha256"})
    with pytest.raises(pk.ResultFileError, match=r"provenance record has no 'model_sha256'"):
        pk.load_result(path)


def test_a_result_whose_concentrations_were_changed_is_refused(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    table = pq.read_table(path)
    conc = result.concentrations.copy()
    conc[1, 40] *= 1.0000001
    column = pa.FixedSizeListArray.from_arrays(pa.array(conc.ravel()), conc.shape[1])
    i = table.column_names.index("concentration_mg_per_L")
    rewrite(path, table=table.set_column(i, "concentration_mg_per_L", column),
            record=pk.load_result(path).provenance)
    with pytest.raises(pk.ResultFileError, match=r"concentrations do not match the provenance record"):
        pk.load_result(path)


def test_a_result_with_rows_missing_is_refused(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    record = pk.load_result(path).provenance
    rewrite(path, table=pq.read_table(path).slice(0, 2), record=record)
    with pytest.raises(pk.ResultFileError, match=r"concentrations have shape \(2, 193\); the "
                                                 r"provenance record says \(3, 193\)"):
        pk.load_result(path)


def test_a_file_that_is_not_parquet_is_refused(tmp_path):
    (tmp_path / "run.parquet").write_text("id,time,conc\n1,0,0\n")
    with pytest.raises(pk.ResultFileError, match=r"run\.parquet: not a pkmodel result"):
        pk.load_result(tmp_path / "run.parquet")


def test_a_missing_result_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"result file '.*nothing\.parquet' does not exist"):
        pk.load_result(tmp_path / "nothing.parquet")


# --- what pkmodel writes ------------------------------------------------------------------

STUDY = ["simulate", "--regimen", "2 mg/kg/day TID for 2 days", "--n", "20", "--quiet"]


def test_cli_refuses_files_of_an_earlier_run_before_running(tmp_path, capsys):
    (tmp_path / "report.md").write_text("an earlier run's report\n")
    assert cli.main([*STUDY, "--out", str(tmp_path)]) == 1
    assert ("report.md' exists (1 of this study's files are there from an earlier run); pass "
            "--overwrite to replace them") in capsys.readouterr().err
    assert (tmp_path / "report.md").read_text() == "an earlier run's report\n"
    assert listing(tmp_path) == ["report.md"]          # refused before anything was written


def test_cli_overwrite_replaces_the_files_whole(tmp_path):
    (tmp_path / "report.md").write_text("an earlier run's report\n")
    assert cli.main([*STUDY, "--out", str(tmp_path), "--overwrite"]) == 0
    assert (tmp_path / "report.md").read_text().startswith("# pkmodel")
    assert listing(tmp_path) == sorted(cli.study_files("parquet"))   # no temporary file left


def test_write_events_keeps_an_existing_file_unless_overwrite(tmp_path):
    events = pk.Regimen.fixed(mg=5, every_h=12, n_doses=2).events(typical_cohort(20))
    path = tmp_path / "events.csv"
    pk.write_events(events, path)
    with pytest.raises(FileExistsError, match=r"events\.csv' exists; pass overwrite=True"):
        pk.write_events(events, path)
    pk.write_events(events, path, overwrite=True)
    assert pk.read_events(path).table["AMT"].tolist() == [5.0, 5.0]
