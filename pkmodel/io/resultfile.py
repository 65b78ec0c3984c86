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
import dataclasses
import hashlib
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..dosing.doses import Doses, SubjectDoses
from ..model.structures import OPTIONAL
from . import provenance as _provenance
from .files import checked_path
from .provenance import canonical_json
from ._resultformat import (
    _ARRAY_KEY,
    _CONCENTRATIONS,
    RESULT_FORMAT,
    ResultFileError,
    _arrays,
    _arrow_type,
    _columns,
    _concentrations,
    _read,
    _record,
)
from .tables import write_parquet


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
    provenance: Mapping[str, Any]  # JSON: the record as written
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

        from ..model.files import load_model

        if self.model_bytes is None:
            raise ValueError(
                f"the result's model {self.provenance['model']!r} was built in memory "
                "(no model file): it is not stored in the result"
            )
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
        result.model,
        result.seed,
        result.regimen,
        format=RESULT_FORMAT,
        engine=result.engine,
        variability=bool(result.variability),
        n_rows=int(conc.shape[0]),
        times_h=[float(t) for t in result.times],  # repr round-trips each double exactly
        concentrations_sha256=hashlib.sha256(conc.data.cast("B")).hexdigest(),
        columns=[[name, kind] for name, kind, _ in columns],
        arrays={name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()},
        individual=[name for name in result.individual if name in result.parameters.columns],
        doses=doses,
    )
    if model_bytes is not None:  # the bytes stored, whatever the file holds by now
        record["model_sha256"] = hashlib.sha256(model_bytes).hexdigest()
    record["sha256"] = _digest(record, [(name, values) for name, _, values in columns], conc, arrays)
    table = pa.table(
        {name: pa.array(values, type=_arrow_type(kind)) for name, kind, values in columns}
        | {
            _CONCENTRATIONS: pa.FixedSizeListArray.from_arrays(
                pa.array(conc.ravel(), type=pa.float64()), conc.shape[1]
            )
        }
    )
    arrays_metadata = {
        (_ARRAY_KEY + name).encode(): base64.b64encode(zlib.compress(_bytes(a))) for name, a in arrays.items()
    }
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
        raise ResultFileError(
            f"{where}: not a pkmodel result (not readable as Parquet: {type(err).__name__})"
        ) from err
    record = _record(metadata, where)
    columns = _columns(stored, record, where)
    conc = _concentrations(stored, record, where)
    arrays = _arrays(metadata, record, where)
    if hashlib.sha256(conc.data.cast("B")).hexdigest() != record["concentrations_sha256"]:
        raise ResultFileError(
            f"{where}: concentrations do not match the provenance record "
            "(SHA-256 differs); the file was changed after it was written"
        )
    try:
        digest = _digest(record, columns, conc, arrays)
    except (ValueError, TypeError) as err:  # a record that cannot be serialised again
        raise ResultFileError(f"{where}: the provenance record is malformed ({err})") from None
    if digest != record["sha256"]:
        raise ResultFileError(
            f"{where}: its contents do not match the provenance record's "
            "sha256 (a parameter, dose, time or record field differs from what "
            "was written); the file was changed after it was written"
        )
    try:
        layout = SubjectDoses if "offsets" in record["doses"] else Doses  # each child's own, or shared
        doses = layout(**{name: arrays["doses." + name] for name in record["doses"]})
    except Exception as err:  # a record of another pkmodel's Doses
        raise ResultFileError(f"{where}: its doses cannot be read back ({err})") from None
    times = np.array(record["times_h"], dtype=float)
    for array in (conc, times, arrays["occasions"]):
        array.flags.writeable = False
    parameters = pd.DataFrame({name: values for name, values in columns}, copy=False)
    model_bytes = arrays["model_file"].tobytes() if "model_file" in arrays else None
    return SavedResult(
        times=times,
        concentrations=conc,
        parameters=parameters,
        doses=doses,
        occasions=arrays["occasions"],
        provenance=record,
        model_bytes=model_bytes,
    )


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
            raise TypeError(
                f"Result.save: parameters column {name!r} holds {values.dtype} values; "
                "expected numbers, True/False or text"
            )
        out.append(
            (
                name,
                kind,
                values
                if kind == "string"
                else np.ascontiguousarray(values, dtype=np.dtype(kind).newbyteorder("<")),
            )
        )
    return out


def _doses_arrays(doses: Doses | SubjectDoses) -> tuple[dict[str, np.ndarray], list[str]]:
    """The arrays of `doses` by name ("doses.<field>"), and the names of the fields given."""
    arrays, given = {}, []
    for field in dataclasses.fields(doses):
        value = getattr(doses, field.name)
        if value is None:
            continue
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiub":
            raise TypeError(
                f"Result.save: Doses.{field.name} is {type(value).__name__}; expected "
                "an array of numbers (the result file stores arrays)"
            )
        kind = {"f": "<f8", "i": "<i8", "u": "<i8", "b": "|b1"}[value.dtype.kind]
        arrays["doses." + field.name] = np.ascontiguousarray(value, dtype=kind)
        given.append(field.name)
    return arrays, given


def _bytes(array: np.ndarray) -> memoryview:
    return np.ascontiguousarray(array).data.cast("B")


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
