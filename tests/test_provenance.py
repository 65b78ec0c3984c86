"""Provenance records: the model file's hash, the seed, the regimen text as given."""

import dataclasses
import hashlib
import json

import pandas as pd
import pytest

import pkmodel as pk
from pkmodel.io.provenance import PARQUET_KEY, from_parquet, provenance, to_json

from conftest import PARAMS


def test_record_names_version_model_file_and_its_hash(card):
    record = provenance(card, 11, {"TID": "2 mg/kg/day TID for 14 days"}, command="pkmodel x")
    expected = hashlib.sha256((PARAMS / "baclofen_cp_card.toml").read_bytes()).hexdigest()
    assert record["model_sha256"] == expected and record["model_file"] == "baclofen_cp_card.toml"
    assert record["pkmodel_version"] == pk.__version__ and record["seed"] == 11
    assert record["regimen"] == {"TID": "2 mg/kg/day TID for 14 days"}
    assert record["command"] == "pkmodel x"
    assert json.loads(to_json(record)) == record


def test_a_model_built_in_memory_has_no_file_to_hash(card):
    record = provenance(dataclasses.replace(card, path=None), None, "10 mg q8h for 1 day")
    assert record["model_file"] is None and record["model_sha256"] is None


def test_a_parquet_file_without_a_record_is_refused(tmp_path):
    path = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1.0]}).to_parquet(path)
    with pytest.raises(
        ValueError,
        match=rf"plain\.parquet: no '{PARQUET_KEY.decode()}' in the "
        r"Parquet schema metadata; expected a file written by pkmodel",
    ):
        from_parquet(path)


def test_a_record_that_is_not_json_or_a_file_that_is_not_parquet_is_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"a": [1.0]}).replace_schema_metadata({PARQUET_KEY: b'{"seed": 1'}), path)
    with pytest.raises(ValueError, match=r"cut\.parquet: the provenance record is not a JSON object"):
        from_parquet(path)
    (tmp_path / "text.parquet").write_text("id,conc\n")
    with pytest.raises(ValueError, match=r"text\.parquet: not readable as Parquet \(ArrowInvalid\)"):
        from_parquet(tmp_path / "text.parquet")
