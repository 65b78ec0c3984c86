"""Saved results: read back exactly, usable by pk.exposure, and refused (ResultFileError naming
the file) after any change: a byte flipped, a record field or a stored value edited."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pkmodel as pk
from pkmodel.io import provenance
from pkmodel.io import resultfile
from conftest import write_model

# the same 200 examples on every run (no example database, derandomized), as test_properties
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TIMES = np.arange(0.0, 48.25, 0.25)


class Interrupted(Exception):
    """Stands for anything that stops a run half-way (a full disk, a crash, Ctrl-C)."""


@pytest.fixture(scope="module")
def result():
    model = pk.load_model("baclofen_cp_he2014")
    cohort = pk.Cohort(
        weight_kg=[12.0, 25.0, 41.0], age_years=[3.0, 7.0, 12.0], sex=["F", "M", "F"]
    ).with_covariates(abcc9_rs11046232=["AT", "TT", "TT"])
    reg = pk.Regimen.weight_based(2.0, 3, 2, max_mg_per_dose=20, missed_dose_probability=0.3)
    return pk.simulate(model, cohort, reg, TIMES, seed=11)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small saved result (2 children, 1 day) and what it reads back as."""
    model = pk.load_model("baclofen_cp_card")
    cohort = pk.Cohort(weight_kg=[12.0, 25.0], age_years=[3.0, 7.0], sex=["F", "M"])
    res = pk.simulate(model, cohort, pk.Regimen.weight_based(2.0, 3, 1), np.arange(0.0, 24.5, 0.5), seed=11)
    path = res.save(tmp_path_factory.mktemp("saved") / "run.parquet")
    return path.read_bytes(), pk.load_result(path)


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def same(a, b) -> bool:
    """Whether two SavedResults hold the same data, bit for bit."""
    return (
        np.array_equal(a.concentrations, b.concentrations)
        and np.array_equal(a.times, b.times)
        and a.parameters.equals(b.parameters)
        and a.provenance == b.provenance
        and all(
            np.array_equal(getattr(a.doses, f), getattr(b.doses, f))
            for f in ("time_h", "amount_mg", "compartment", "ss", "ii_h", "rate_mg_per_h")
        )
        and np.array_equal(a.occasions, b.occasions)
        and a.model_bytes == b.model_bytes
    )


def refused(path: Path, match: str | None = None) -> pk.ResultFileError:
    with pytest.raises(pk.ResultFileError, match=match) as caught:
        pk.load_result(path)
    assert type(caught.value) is pk.ResultFileError and str(caught.value).startswith(f"{path}: ")
    return caught.value


# --- read back -----------------------------------------------------------------------------


def test_saved_result_reads_back_exactly_with_its_provenance(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    back = pk.load_result(path)
    np.testing.assert_array_equal(back.concentrations, result.concentrations)  # bit for bit
    np.testing.assert_array_equal(back.times, result.times)
    pd.testing.assert_frame_equal(back.parameters, result.parameters, check_dtype=False)
    np.testing.assert_array_equal(back.doses.amount_mg, result.doses.amount_mg)
    assert (back.doses.amount_mg == 0).sum() == (result.doses.amount_mg == 0).sum() > 0  # missed
    record = back.provenance
    model_file = pk.bundled_models()["baclofen_cp_he2014"]
    assert record["model_sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert (
        record["pkmodel_version"],
        record["model"],
        record["model_file"],
        record["engine"],
        record["seed"],
        record["regimen"],
        record["variability"],
    ) == (
        pk.__version__,
        "baclofen_cp_he2014",
        "baclofen_cp_he2014.toml",
        "analytic",
        result.seed,
        result.regimen,
        True,
    )
    assert record["format"] == "pkmodel.result/2" and len(back) == 3
    assert back.parameters["abcc9_rs11046232"].tolist() == ["AT", "TT", "TT"]
    assert back.model == result.model  # rebuilt from the model file's bytes stored
    assert listing(tmp_path) == ["run.parquet"]


def test_exposure_of_a_loaded_result_is_that_of_the_result(tmp_path, result):
    back = pk.load_result(result.save(tmp_path / "run.parquet"))
    # the same arrays and doses in, the same function: equal to the last bit
    pd.testing.assert_frame_equal(
        pk.exposure(back, window="steady_state"), pk.exposure(result, window="steady_state")
    )
    pd.testing.assert_frame_equal(
        pk.exposure(back, start=24, end=48, target_range=pk.BACLOFEN_TARGET_MG_L),
        pk.exposure(result, start=24, end=48, target_range=pk.BACLOFEN_TARGET_MG_L),
    )
    pd.testing.assert_frame_equal(pk.exposure_by_interval(back), pk.exposure_by_interval(result))


def test_replicates_read_back_with_their_rows(tmp_path, card):
    model = pk.load_model(write_model(tmp_path, CL={"rse": 0.1}))
    cohort = pk.Cohort(weight_kg=[12.0, 25.0], age_years=[3.0, 7.0])
    res = pk.simulate(model, cohort, pk.Regimen.weight_based(2.0, 3, 2), TIMES, seed=3, replicates=3)
    back = pk.load_result(res.save(tmp_path / "run.parquet"))
    assert back.replicate.tolist() == [0, 0, 1, 1, 2, 2] and back.ids.tolist() == [1, 2] * 3
    np.testing.assert_array_equal(back.individual["CL"], res.individual["CL"])
    pd.testing.assert_frame_equal(
        pk.exposure(back, window="steady_state"), pk.exposure(res, window="steady_state")
    )


def test_a_model_built_in_memory_is_named_not_stored(tmp_path, result):
    import dataclasses

    res = dataclasses.replace(result, model=dataclasses.replace(result.model, path=None))
    back = pk.load_result(res.save(tmp_path / "run.parquet"))
    assert back.provenance["model_file"] is None and back.model_bytes is None
    with pytest.raises(ValueError, match=r"model 'baclofen_cp_he2014' was built in memory"):
        back.model


def test_an_interrupted_save_leaves_no_result_file(tmp_path, result, monkeypatch):
    def half_then_fail(table, where, **kwargs):
        where.write(b"PAR1" + b"\0" * 4096)  # the first bytes of a Parquet file
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


# --- refused -------------------------------------------------------------------------------


def rewrite(path, table=None, record=None, drop_record=False):
    """The Parquet file at path rewritten with another table and/or provenance record."""
    old = pq.read_table(path)
    table = old if table is None else table
    metadata = dict(old.schema.metadata)
    if drop_record:
        metadata.pop(provenance.PARQUET_KEY)
    elif record is not None:
        metadata[provenance.PARQUET_KEY] = json.dumps(record).encode()
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return path


def edited_column(path, name, change):
    """The table at path with column `name` changed by change(values) (numpy, a copy)."""
    table = pq.read_table(path)
    i = table.column_names.index(name)
    column = table.column(i).combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        values = column.flatten().to_numpy().copy()
        change(values)
        new = pa.FixedSizeListArray.from_arrays(pa.array(values), column.type.list_size)
    else:
        values = column.to_numpy(zero_copy_only=False).copy()
        change(values)
        new = pa.array(values, type=column.type)
    return table.set_column(i, name, new)


def test_a_result_without_provenance_is_refused(tmp_path, result):
    refused(
        rewrite(result.save(tmp_path / "run.parquet"), drop_record=True),
        r"no 'pkmodel\.provenance' in the Parquet schema metadata; expected a file written by "
        r"pkmodel",
    )


def test_a_result_whose_record_lacks_a_field_is_refused(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    record = pk.load_result(path).provenance
    rewrite(path, record={k: v for k, v in record.items() if k != "model_sha256"})
    refused(path, r"provenance record has no 'model_sha256'")


def test_a_result_whose_concentrations_were_changed_is_refused(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")

    def one_in_ten_million(values):
        values[1 * TIMES.size + 40] *= 1.0000001

    rewrite(path, table=edited_column(path, "concentration_mg_per_L", one_in_ten_million))
    refused(path, r"concentrations do not match the provenance record \(SHA-256 differs\)")


# the edits the outside trial made (issue 12, item 14), each accepted before
def doubled_cl(path):
    def double(values):
        values[0] *= 2

    return rewrite(path, table=edited_column(path, "CL", double))


def record_edit(field, change):
    def edit(path):
        record = dict(pk.load_result(path).provenance)
        record[field] = change(record[field])
        return rewrite(path, record=record)

    return edit


@pytest.mark.parametrize(
    "tamper",
    [
        doubled_cl,
        record_edit("times_h", lambda times: [2 * t for t in times]),
        record_edit("seed", lambda seed: seed + 1),
        record_edit("regimen", lambda text: text.replace("2 mg/kg/day", "3 mg/kg/day")),
        record_edit("created_utc", lambda when: when.replace("20", "19", 1)),
        record_edit("pkmodel_version", lambda version: version + ".1"),
    ],
    ids=["CL doubled", "times doubled", "seed", "regimen text", "date", "version"],
)
def test_a_result_edited_anywhere_is_refused(tmp_path, result, tamper):
    path = tamper(result.save(tmp_path / "run.parquet"))
    refused(path, r"contents do not match the provenance record's sha256|concentrations have shape")


def test_a_result_with_rows_missing_is_refused(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    rewrite(path, table=pq.read_table(path).slice(0, 2))
    refused(path, r"concentrations have shape \(2, 193\); the provenance record says \(3, 193\)")


def test_a_result_of_the_earlier_format_is_refused_by_name(tmp_path, result):
    path = result.save(tmp_path / "run.parquet")
    record = dict(pk.load_result(path).provenance, format="pkmodel.result/1")
    refused(
        rewrite(path, record=record),
        r"provenance format is 'pkmodel\.result/1'; expected 'pkmodel\.result/2'",
    )


def test_a_file_that_is_not_parquet_is_refused(tmp_path):
    (tmp_path / "run.parquet").write_text("id,time,conc\n1,0,0\n")
    refused(tmp_path / "run.parquet", r"not a pkmodel result \(not readable as Parquet")


def test_a_missing_result_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"result file '.*nothing\.parquet' does not exist"):
        pk.load_result(tmp_path / "nothing.parquet")


# --- any change, as a property -------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_any_byte_flip_is_refused_or_changes_nothing(tmp_path, small, data):
    # Flips in bytes no reader looks at (Parquet statistics, padding) change no value read;
    # every other flip must raise ResultFileError (and nothing else).
    original, expected = small
    flipped = bytearray(original)
    for _ in range(data.draw(st.integers(1, 3), label="flips")):
        at = data.draw(st.integers(0, len(flipped) - 1), label="byte")
        flipped[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    path = tmp_path / "flipped.parquet"
    path.write_bytes(bytes(flipped))
    try:
        back = pk.load_result(path)
    except pk.ResultFileError as err:
        assert type(err) is pk.ResultFileError and str(err).startswith(f"{path}: ")
    else:
        assert same(back, expected)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@PROPERTY
@given(data=st.data())
def test_any_edit_of_a_field_or_a_stored_value_is_refused(tmp_path, small, data):
    original, expected = small
    path = tmp_path / "edited.parquet"
    path.write_bytes(original)
    record = dict(expected.provenance)
    where = data.draw(st.sampled_from(["record", "new field", "column", "array"]), label="where")
    if where in ("record", "new field"):
        key = data.draw(
            st.sampled_from(sorted(record))
            if where == "record"
            else st.text(min_size=1, max_size=8).filter(lambda k: k not in record),
            label="key",
        )
        value = data.draw(JSON_VALUES.filter(lambda v: v != record.get(key, object())), label="value")
        rewrite(path, record=dict(record, **{key: value}))
    elif where == "column":
        name = data.draw(st.sampled_from(pq.read_table(path).column_names), label="column")
        table = pq.read_table(path)
        size = (
            len(table.column(name).combine_chunks().flatten())
            if name.startswith("concentration")
            else table.num_rows
        )
        at = data.draw(st.integers(0, size - 1), label="row")

        def change(values):
            values[at] = (
                (values[at] + "x")
                if isinstance(values[at], str)
                else (not values[at] if values.dtype == bool else values[at] + 1)
            )

        rewrite(path, table=edited_column(path, name, change))
    else:
        table = pq.read_table(path)
        metadata = dict(table.schema.metadata)
        names = sorted(expected.provenance["arrays"])
        name = data.draw(st.sampled_from(names), label="array")
        key = (resultfile._ARRAY_KEY + name).encode()
        import base64
        import zlib

        raw = bytearray(zlib.decompress(base64.b64decode(metadata[key])))
        raw[data.draw(st.integers(0, len(raw) - 1), label="byte")] ^= 1
        metadata[key] = base64.b64encode(zlib.compress(bytes(raw)))
        pq.write_table(table.replace_schema_metadata(metadata), path)
    refused(path)


def test_a_result_of_children_dosing_at_their_own_times_reads_back_with_its_doses(tmp_path, card):
    # 40 children starting q8h 0.01 h apart: doses kept per child (SubjectDoses); saved and
    # read back, the same layout and the same exposure to the last bit
    from pkmodel.dosing.doses import SubjectDoses

    rows = [(i + 1, 0.01 * i + 8.0 * k) for i in range(40) for k in range(6)]
    table = pk.read_events(
        pd.DataFrame(
            {"ID": [r[0] for r in rows], "TIME": [r[1] for r in rows], "AMT": 10.0, "EVID": 1, "CMT": 1}
        )
    )
    cohort = pk.Cohort(weight_kg=np.linspace(12.0, 40.0, 40), age_years=np.full(40, 8.0))
    res = pk.simulate(card, cohort, table, np.round(np.arange(0, 48.005, 0.01), 10), seed=2)
    back = pk.load_result(res.save(tmp_path / "run.parquet"))
    assert isinstance(res.doses, SubjectDoses) and isinstance(back.doses, SubjectDoses)
    np.testing.assert_array_equal(back.doses.offsets, res.doses.offsets)
    pd.testing.assert_frame_equal(
        pk.exposure(back, window="steady_state"), pk.exposure(res, window="steady_state")
    )
