"""The result file's format (`pkmodel.io.resultfile`): what its provenance record holds, and
reading each stored part back, checked against the record (any difference: ResultFileError)."""

import base64
import binascii
import zlib
from pathlib import Path

import numpy as np

from .provenance import from_metadata

RESULT_FORMAT = "pkmodel.result/2"
_CONCENTRATIONS = "concentration_mg_per_L"
_ARRAY_KEY = "pkmodel.array."
_KINDS = ("float64", "int64", "uint64", "bool", "string")
_ARRAY_DTYPES = ("<f8", "<i8", "|b1", "|u1")
# what a record holds, and of which type (None: may be null)
_FIELDS = {
    "format": (str,),
    "pkmodel_version": (str,),
    "created_utc": (str,),
    "model": (str,),
    "model_file": (str, None),
    "model_sha256": (str, None),
    "seed": (int, None),
    "regimen": (str, dict),
    "engine": (str,),
    "variability": (bool,),
    "n_rows": (int,),
    "times_h": (list,),
    "concentrations_sha256": (str,),
    "columns": (list,),
    "arrays": (dict,),
    "individual": (list,),
    "doses": (list,),
    "sha256": (str,),
}


class ResultFileError(ValueError):
    """A file that is not a whole, unchanged pkmodel result."""


def _arrow_type(kind: str):
    import pyarrow as pa

    return {
        "float64": pa.float64(),
        "int64": pa.int64(),
        "uint64": pa.uint64(),
        "bool": pa.bool_(),
        "string": pa.string(),
    }[kind]


# --- reading it back -----------------------------------------------------------------------


def _record(metadata: dict, where: str) -> dict:
    """The provenance record, its fields checked for presence and type."""
    try:
        record = from_metadata(metadata, where)
    except ValueError as err:
        raise ResultFileError(str(err)) from None
    kind = record.get("format")
    if kind != RESULT_FORMAT:
        raise ResultFileError(
            f"{where}: provenance format is {kind!r}; expected "
            f"{RESULT_FORMAT!r} (a file written by Result.save)"
        )
    for name, types in _FIELDS.items():
        if name not in record:
            raise ResultFileError(
                f"{where}: provenance record has no {name!r}; expected the fields {list(_FIELDS)}"
            )
        value = record[name]
        ok = any(
            value is None
            if t is None
            else isinstance(value, t) and not (t is int and isinstance(value, bool))
            for t in types
        )
        if not ok:
            raise ResultFileError(
                f"{where}: provenance record field {name!r} is {value!r}; "
                f"expected {' or '.join('null' if t is None else t.__name__ for t in types)}"
            )
    if not all(isinstance(t, float) for t in record["times_h"]) or record["n_rows"] < 0:
        raise ResultFileError(
            f"{where}: provenance record fields times_h/n_rows are malformed; "
            "expected a list of times in h and a count of rows"
        )
    return record


def _read(path: Path) -> tuple[dict, dict]:
    """The file's schema metadata, and each column as (Arrow type text, null count, values,
    list size) by name: everything taken out of pyarrow here, where any failure is caught."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    stored = {}
    for field, column in zip(table.schema, table.columns):
        column = column.combine_chunks()
        size, nulls = None, column.null_count
        if pa.types.is_fixed_size_list(field.type):
            size, nulls = field.type.list_size, nulls + column.values.null_count
            column = column.flatten()
        primitive = pa.types.is_primitive(column.type) or pa.types.is_string(column.type)
        values = column.to_numpy(zero_copy_only=False) if primitive and not nulls else None
        stored[field.name] = (str(field.type), nulls, values, size)
    if len(stored) != table.num_columns:
        raise ValueError("two columns of one name")
    return dict(table.schema.metadata or {}), stored | {"": table.num_rows}


def _columns(stored: dict, record: dict, where: str) -> list[tuple[str, np.ndarray]]:
    """The parameter columns, checked against the record's names and kinds."""
    expected = record["columns"]
    if not all(
        isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and c[1] in _KINDS for c in expected
    ):
        raise ResultFileError(
            f"{where}: provenance record field 'columns' is malformed; expected [name, kind] pairs"
        )
    names = [name for name, _ in expected] + [_CONCENTRATIONS]
    found = [name for name in stored if name]
    if found != names:
        raise ResultFileError(f"{where}: columns are {found}; the provenance record says {names}")
    out = []
    for name, kind in expected:
        arrow_type, nulls, values, size = stored[name]
        if arrow_type != str(_arrow_type(kind)) or nulls or size is not None:
            raise ResultFileError(
                f"{where}: column {name!r} is {arrow_type} with {nulls} missing; "
                f"the provenance record says {kind}"
            )
        out.append((name, values.astype(object) if kind == "string" else values))
    individual = record["individual"]
    floats = {name for name, kind in expected if kind == "float64"}
    if not all(isinstance(name, str) and name in floats for name in individual):
        raise ResultFileError(
            f"{where}: provenance record field 'individual' is {individual!r}; "
            "expected names of float columns (the model's parameters)"
        )
    return out


def _concentrations(stored: dict, record: dict, where: str) -> np.ndarray:
    """The concentrations, shape (n_rows, n_times), checked against the record's shape."""
    arrow_type, nulls, values, size = stored[_CONCENTRATIONS]
    shape, expected = (stored[""], size), (record["n_rows"], len(record["times_h"]))
    if shape != expected:
        raise ResultFileError(
            f"{where}: concentrations have shape {shape}; the provenance record "
            f"says {expected} (n_rows, len(times_h))"
        )
    if nulls or values is None or values.dtype != np.float64 or values.size != shape[0] * shape[1]:
        raise ResultFileError(
            f"{where}: concentrations are {arrow_type} with {nulls} missing; "
            "expected a fixed-size list of float64 per row, none missing"
        )
    return np.ascontiguousarray(values, dtype="<f8").reshape(shape)


def _arrays(metadata: dict, record: dict, where: str) -> dict[str, np.ndarray]:
    """The arrays in the schema metadata, as the record describes them."""
    out = {}
    for name, spec in record["arrays"].items():
        shape = spec.get("shape") if isinstance(spec, dict) else None
        dtype = spec.get("dtype") if isinstance(spec, dict) else None
        if (
            dtype not in _ARRAY_DTYPES
            or not isinstance(shape, list)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
        ):
            raise ResultFileError(
                f"{where}: provenance record describes array {name!r} as "
                f"{spec!r}; expected a dtype of {list(_ARRAY_DTYPES)} and a shape"
            )
        key = (_ARRAY_KEY + name).encode()
        size = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
        try:
            packed = base64.b64decode(metadata[key], validate=True)
            inflate = zlib.decompressobj()
            data = inflate.decompress(packed, size + 1)  # never more than the record says
            complete = inflate.eof and not inflate.unconsumed_tail and not inflate.unused_data
        except (KeyError, binascii.Error, zlib.error):
            raise ResultFileError(
                f"{where}: array {name!r} is missing or unreadable in the Parquet schema metadata"
            ) from None
        if len(data) != size or not complete:
            raise ResultFileError(
                f"{where}: array {name!r} holds {len(data)} bytes; the "
                f"provenance record says {size} ({dtype}, shape {shape})"
            )
        out[name] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    fields = record["doses"]
    missing = sorted({"occasions", *(f"doses.{name}" for name in fields)} - set(out))
    if missing or ("model_file" in out) != (record["model_file"] is not None):
        raise ResultFileError(
            f"{where}: provenance record lists the arrays {sorted(out)}; "
            "expected the occasions, the doses given in its field 'doses' "
            f"({fields!r}) and the model file when it names one"
        )
    return out
