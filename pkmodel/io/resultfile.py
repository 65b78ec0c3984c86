"""Saved results: a Result as one Parquet file whose provenance record covers everything in it.

`save_result` writes one row per subject (the columns of `Result.parameters`, then the
concentrations as a fixed-size list), the arrays a result needs besides (its doses, the
occasion starts, the model file's bytes) in the schema metadata, and the provenance record
(`pkmodel.io.provenance`) with `sha256`: the SHA-256 of a canonical serialisation of
everything stored (the record itself with its other fields, every column, every array).
`load_result` recomputes it from what it read and refuses any difference, so a changed value
anywhere (a parameter, a time in the record, the seed, the regimen text, one bit of the
file) raises `ResultFileError` naming the file. It detects change, not forgery: anyone can
compute a SHA-256.
"""

import base64
import binascii
import dataclasses
import hashlib
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..dosing.doses import Doses, SubjectDoses
from ..model.structures import OPTIONAL
from . import provenance as _provenance
from .files import checked_path
from .provenance import canonical_json, from_metadata
from .tables import write_parquet

RESULT_FORMAT = "pkmodel.result/2"
_CONCENTRATIONS = "concentration_mg_per_L"
_ARRAY_KEY = "pkmodel.array."
_KINDS = ("float64", "int64", "uint64", "bool", "string")
_ARRAY_DTYPES = ("<f8", "<i8", "|b1", "|u1")
# what a record holds, and of which type (None: may be null)
_FIELDS = {"format": (str,), "pkmodel_version": (str,), "created_utc": (str,), "model": (str,),
           "model_file": (str, None), "model_sha256": (str, None), "seed": (int, None),
           "regimen": (str, dict), "engine": (str,), "variability": (bool,), "n_rows": (int,),
           "times_h": (list,), "concentrations_sha256": (str,), "columns": (list,),
           "arrays": (dict,), "individual": (list,), "doses": (list,), "sha256": (str,)}


class ResultFileError(ValueError):
    """A file that is not a whole, unchanged pkmodel result."""


@dataclass(frozen=True, eq=False)
class SavedResult:
    """A result read back by `load_result`: what `pk.exposure` needs, and the provenance.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        h.
    concentrations : ndarray, shape (n_rows, n_times)
        mg/L, read-only.
    parameters : DataFrame
        One row per subject, as `Result.parameters` was when saved.
    doses : Doses or SubjectDoses
        What each child was given, as `Result.doses`.
    occasions : ndarray, shape (n_occasions,)
        Start of each occasion, h.
    provenance : mapping
        The record written with the file: pkmodel_version, created_utc, model,
        model_file, model_sha256, seed, regimen, python, numpy, format, engine,
        variability, n_rows, times_h, concentrations_sha256, and what the file
        holds (columns, arrays, individual, doses) with its sha256.
    """

    times: np.ndarray
    concentrations: np.ndarray
    parameters: pd.DataFrame
    doses: Doses | SubjectDoses
    occasions: np.ndarray
    provenance: Mapping[str, object]
    model_bytes: bytes | None = dataclasses.field(default=None, repr=False)

    def __len__(self) -> int:
        return self.concentrations.shape[0]

    @property
    def ids(self) -> np.ndarray:
        """Subject ID of each row, shape (n_rows,)."""
        return self.parameters["id"].to_numpy()

    @property
    def replicate(self) -> np.ndarray | None:
        """Uncertainty replicate of each row, shape (n_rows,), or None."""
        return self.parameters["replicate"].to_numpy() if "replicate" in self.parameters else None

    @cached_property
    def individual(self) -> dict[str, np.ndarray]:
        """Each subject's parameters (the model's own), shape (n_rows,) each, read-only."""
        out = {}
        for name in self.provenance["individual"]:
            values = self.parameters[name].to_numpy(copy=True)
            values.flags.writeable = False
            out[name] = values
        for name, (_, default) in OPTIONAL.items():  # F = 1, tlag = 0 where the model has none
            if name not in out:
                values = np.full(len(self.parameters), default)
                values.flags.writeable = False
                out[name] = values
        return out

    @property
    def engine(self) -> str:
        return self.provenance["engine"]

    @property
    def seed(self) -> int | None:
        return self.provenance["seed"]

    @property
    def regimen(self) -> str:
        return self.provenance["regimen"]

    @property
    def variability(self) -> bool:
        return self.provenance["variability"]

    @cached_property
    def model(self):
        """The Model, loaded from the model file's bytes stored in the result (path None)."""
        import tempfile

        from ..model.model import load_model

        if self.model_bytes is None:
            raise ValueError(f"the result's model {self.provenance['model']!r} was built in memory "
                             "(no model file): it is not stored in the result")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / self.provenance["model_file"]
            path.write_bytes(self.model_bytes)
            return dataclasses.replace(load_model(path), path=None)


def save_result(result, path, overwrite: bool = False) -> Path:
    """Write a Result as Parquet with a provenance record that covers all of it (module docstring).

    Written atomically (`pkmodel.io.tables.write_parquet`); returns the path.
    """
    import pyarrow as pa

    path = checked_path(path, "path")
    conc = np.ascontiguousarray(result.concentrations, dtype="<f8")
    columns = _parameter_columns(result.parameters)
    arrays, doses = _doses_arrays(result.doses)
    arrays["occasions"] = np.asarray(result.occasions, dtype="<f8")
    model_bytes = Path(result.model.path).read_bytes() if result.model.path else None
    if model_bytes is not None:
        arrays["model_file"] = np.frombuffer(model_bytes, dtype="|u1")
    record = _provenance.provenance(
        result.model, result.seed, result.regimen, format=RESULT_FORMAT, engine=result.engine,
        variability=bool(result.variability), n_rows=int(conc.shape[0]),
        times_h=[float(t) for t in result.times],   # repr round-trips each double exactly
        concentrations_sha256=hashlib.sha256(memoryview(conc).cast("B")).hexdigest(),
        columns=[[name, kind] for name, kind, _ in columns],
        arrays={name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()},
        individual=[name for name in result.individual if name in result.parameters.columns],
        doses=doses)
    if model_bytes is not None:  # the bytes stored, whatever the file holds by now
        record["model_sha256"] = hashlib.sha256(model_bytes).hexdigest()
    record["sha256"] = _digest(record, [(name, values) for name, _, values in columns], conc, arrays)
    table = pa.table({name: pa.array(values, type=_arrow_type(kind)) for name, kind, values in columns}
                     | {_CONCENTRATIONS: pa.FixedSizeListArray.from_arrays(
                         pa.array(conc.ravel(), type=pa.float64()), conc.shape[1])})
    arrays_metadata = {(_ARRAY_KEY + name).encode(): base64.b64encode(zlib.compress(_bytes(a)))
                       for name, a in arrays.items()}
    write_parquet(path, table, record, metadata=arrays_metadata, overwrite=overwrite)
    return path


def load_result(path) -> SavedResult:
    """Read a result written by `Result.save`, checking it against its provenance record.

    Raises FileNotFoundError for a missing file, and ResultFileError (a ValueError) naming
    the file for anything else: not Parquet, no record or a malformed one, or contents that
    differ from what was written (module docstring).
    """
    path = checked_path(path, "path")
    if not path.is_file():
        raise FileNotFoundError(f"result file {str(path)!r} does not exist")
    where = str(path)
    try:
        metadata, stored = _read(path)
    except Exception as err:  # any failure to decode is a malformed file; pyarrow's words chained
        raise ResultFileError(f"{where}: not a pkmodel result (not readable as Parquet: "
                              f"{type(err).__name__})") from err
    record = _record(metadata, where)
    columns = _columns(stored, record, where)
    conc = _concentrations(stored, record, where)
    arrays = _arrays(metadata, record, where)
    if hashlib.sha256(memoryview(conc).cast("B")).hexdigest() != record["concentrations_sha256"]:
        raise ResultFileError(f"{where}: concentrations do not match the provenance record "
                              "(SHA-256 differs); the file was changed after it was written")
    try:
        digest = _digest(record, columns, conc, arrays)
    except (ValueError, TypeError) as err:  # a record that cannot be serialised again
        raise ResultFileError(f"{where}: the provenance record is malformed ({err})") from None
    if digest != record["sha256"]:
        raise ResultFileError(f"{where}: its contents do not match the provenance record's "
                              "sha256 (a parameter, dose, time or record field differs from what "
                              "was written); the file was changed after it was written")
    try:
        layout = SubjectDoses if "offsets" in record["doses"] else Doses   # each child's own, or shared
        doses = layout(**{name: arrays["doses." + name] for name in record["doses"]})
    except Exception as err:  # a record of another pkmodel's Doses
        raise ResultFileError(f"{where}: its doses cannot be read back ({err})") from None
    times = np.array(record["times_h"], dtype=float)
    for array in (conc, times, arrays["occasions"]):
        array.flags.writeable = False
    parameters = pd.DataFrame({name: values for name, values in columns}, copy=False)
    model_bytes = arrays["model_file"].tobytes() if "model_file" in arrays else None
    return SavedResult(times=times, concentrations=conc, parameters=parameters, doses=doses,
                       occasions=arrays["occasions"], provenance=record, model_bytes=model_bytes)


# --- what is stored ------------------------------------------------------------------------

def _parameter_columns(frame: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(name, kind, values) of each column of `Result.parameters`, kinds from _KINDS."""
    out = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        kind = {"f": "float64", "i": "int64", "u": "uint64", "b": "bool"}.get(values.dtype.kind)
        if kind is None and values.dtype.kind in "OUT" and all(isinstance(v, str) for v in values):
            kind, values = "string", values.astype(object)
        if kind is None or not isinstance(name, str):
            raise TypeError(f"Result.save: parameters column {name!r} holds {values.dtype} values; "
                            "expected numbers, True/False or text")
        out.append((name, kind, values if kind == "string" else
                    np.ascontiguousarray(values, dtype=np.dtype(kind).newbyteorder("<"))))
    return out


def _doses_arrays(doses: Doses | SubjectDoses) -> tuple[dict[str, np.ndarray], list[str]]:
    """The arrays of `doses` by name ("doses.<field>"), and the names of the fields given."""
    arrays, given = {}, []
    for field in dataclasses.fields(doses):
        value = getattr(doses, field.name)
        if value is None:
            continue
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            raise TypeError(f"Result.save: Doses.{field.name} is {type(value).__name__}; expected "
                            "an array of numbers (the result file stores arrays)")
        kind = {"f": "<f8", "i": "<i8", "u": "<i8", "b": "|b1"}[value.dtype.kind]
        arrays["doses." + field.name] = np.ascontiguousarray(value, dtype=kind)
        given.append(field.name)
    return arrays, given


def _bytes(array: np.ndarray) -> memoryview:
    return memoryview(np.ascontiguousarray(array)).cast("B")


def _arrow_type(kind: str):
    import pyarrow as pa

    return {"float64": pa.float64(), "int64": pa.int64(), "uint64": pa.uint64(),
            "bool": pa.bool_(), "string": pa.string()}[kind]


def _digest(record: Mapping, columns, conc: np.ndarray, arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of everything a result file stores, canonically: the record (sorted keys, without
    sha256), then each column, the concentrations and each array, each with its name."""
    import pyarrow as pa

    digest = hashlib.sha256(RESULT_FORMAT.encode())

    def chunk(data) -> None:  # length-prefixed: no two different contents hash alike
        data = memoryview(data).cast("B")
        digest.update(data.nbytes.to_bytes(8, "little"))
        digest.update(data)

    def values(array: np.ndarray) -> None:
        if array.dtype == object:  # text: UTF-8 bytes and int64 offsets, as Arrow holds them
            text = pa.array(array, type=pa.large_string())
            chunk(b"string")
            for buffer in text.buffers()[1:]:
                chunk(buffer)
        else:
            chunk(array.dtype.str.encode())
            chunk(np.asarray(array.shape, dtype="<i8"))
            chunk(np.ascontiguousarray(array))

    chunk(canonical_json({k: v for k, v in record.items() if k != "sha256"}).encode())
    for name, array in [*columns, (_CONCENTRATIONS, conc), *sorted(arrays.items())]:
        chunk(name.encode())
        values(array)
    return digest.hexdigest()


# --- reading it back -----------------------------------------------------------------------

def _record(metadata: dict, where: str) -> dict:
    """The provenance record, its fields checked for presence and type."""
    try:
        record = from_metadata(metadata, where)
    except ValueError as err:
        raise ResultFileError(str(err)) from None
    kind = record.get("format")
    if kind != RESULT_FORMAT:
        raise ResultFileError(f"{where}: provenance format is {kind!r}; expected "
                              f"{RESULT_FORMAT!r} (a file written by Result.save)")
    for name, types in _FIELDS.items():
        if name not in record:
            raise ResultFileError(f"{where}: provenance record has no {name!r}; expected the "
                                  f"fields {list(_FIELDS)}")
        value = record[name]
        ok = any(value is None if t is None else isinstance(value, t) and
                 not (t is int and isinstance(value, bool)) for t in types)
        if not ok:
            raise ResultFileError(f"{where}: provenance record field {name!r} is {value!r}; "
                                  f"expected {' or '.join('null' if t is None else t.__name__ for t in types)}")
    if not all(isinstance(t, float) for t in record["times_h"]) or record["n_rows"] < 0:
        raise ResultFileError(f"{where}: provenance record fields times_h/n_rows are malformed; "
                              "expected a list of times in h and a count of rows")
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
    if not all(isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and c[1] in _KINDS
               for c in expected):
        raise ResultFileError(f"{where}: provenance record field 'columns' is malformed; "
                              "expected [name, kind] pairs")
    names = [name for name, _ in expected] + [_CONCENTRATIONS]
    found = [name for name in stored if name]
    if found != names:
        raise ResultFileError(f"{where}: columns are {found}; the provenance record says {names}")
    out = []
    for name, kind in expected:
        arrow_type, nulls, values, size = stored[name]
        if arrow_type != str(_arrow_type(kind)) or nulls or size is not None:
            raise ResultFileError(f"{where}: column {name!r} is {arrow_type} with {nulls} missing; "
                                  f"the provenance record says {kind}")
        out.append((name, values.astype(object) if kind == "string" else values))
    individual = record["individual"]
    floats = {name for name, kind in expected if kind == "float64"}
    if not all(isinstance(name, str) and name in floats for name in individual):
        raise ResultFileError(f"{where}: provenance record field 'individual' is {individual!r}; "
                              "expected names of float columns (the model's parameters)")
    return out


def _concentrations(stored: dict, record: dict, where: str) -> np.ndarray:
    """The concentrations, shape (n_rows, n_times), checked against the record's shape."""
    arrow_type, nulls, values, size = stored[_CONCENTRATIONS]
    shape, expected = (stored[""], size), (record["n_rows"], len(record["times_h"]))
    if shape != expected:
        raise ResultFileError(f"{where}: concentrations have shape {shape}; the provenance record "
                              f"says {expected} (n_rows, len(times_h))")
    if nulls or values is None or values.dtype != np.float64 or values.size != shape[0] * shape[1]:
        raise ResultFileError(f"{where}: concentrations are {arrow_type} with {nulls} missing; "
                              "expected a fixed-size list of float64 per row, none missing")
    return np.ascontiguousarray(values, dtype="<f8").reshape(shape)


def _arrays(metadata: dict, record: dict, where: str) -> dict[str, np.ndarray]:
    """The arrays in the schema metadata, as the record describes them."""
    out = {}
    for name, spec in record["arrays"].items():
        shape = spec.get("shape") if isinstance(spec, dict) else None
        dtype = spec.get("dtype") if isinstance(spec, dict) else None
        if dtype not in _ARRAY_DTYPES or not isinstance(shape, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise ResultFileError(f"{where}: provenance record describes array {name!r} as "
                                  f"{spec!r}; expected a dtype of {list(_ARRAY_DTYPES)} and a shape")
        key = (_ARRAY_KEY + name).encode()
        size = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
        try:
            packed = base64.b64decode(metadata[key], validate=True)
            inflate = zlib.decompressobj()
            data = inflate.decompress(packed, size + 1)   # never more than the record says
            complete = inflate.eof and not inflate.unconsumed_tail and not inflate.unused_data
        except (KeyError, binascii.Error, zlib.error):
            raise ResultFileError(f"{where}: array {name!r} is missing or unreadable in the "
                                  "Parquet schema metadata") from None
        if len(data) != size or not complete:
            raise ResultFileError(f"{where}: array {name!r} holds {len(data)} bytes; the "
                                  f"provenance record says {size} ({dtype}, shape {shape})")
        out[name] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    fields = record["doses"]
    missing = sorted({"occasions", *(f"doses.{name}" for name in fields)} - set(out))
    if missing or ("model_file" in out) != (record["model_file"] is not None):
        raise ResultFileError(f"{where}: provenance record lists the arrays {sorted(out)}; "
                              "expected the occasions, the doses given in its field 'doses' "
                              f"({fields!r}) and the model file when it names one")
    return out
