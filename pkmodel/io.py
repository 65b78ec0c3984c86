"""Files pkmodel writes: atomically, never over an existing file unless asked; results with
their provenance, checked when read back.

Every file goes to a temporary name in its own folder, is flushed to disk and then renamed
into place (`os.replace`, atomic on POSIX and Windows): an interrupted run leaves either the
whole file or nothing under the final name, never a half-written one that looks whole.
"""

import hashlib
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

# A saved result's provenance record (`pkmodel.provenance`, in the Parquet schema metadata):
# the fields every record has, and those a saved result adds to check its arrays against.
RESULT_FORMAT = "pkmodel.result/1"
_CONCENTRATION_COLUMN = "concentration_mg_per_L"
_RECORD_FIELDS = ("format", "pkmodel_version", "created_utc", "model", "model_file",
                  "model_sha256", "seed", "regimen", "engine", "variability", "n_rows", "times_h",
                  "concentrations_sha256")


class ResultFileError(ValueError):
    """A file that is not a whole pkmodel result: its provenance is missing or does not match."""


@contextmanager
def atomic_write(path, *, overwrite: bool = False, text: bool = False):
    """Open a temporary file next to `path`; on success it becomes `path`, on failure nothing does.

    Yields a binary file (text=True: text, UTF-8, newline as written). On leaving the block
    the file is flushed, fsync'ed and renamed to `path`; an exception inside the block removes
    the temporary file and leaves `path` as it was.

    Raises FileExistsError if `path` exists and `overwrite` is False (checked on entry, and
    again when the file is put in place: a file that appeared meanwhile is not replaced), and
    FileNotFoundError if its folder does not exist.
    """
    path = Path(path)
    _refuse_existing(path, overwrite)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {str(path.parent)!r} of {str(path)!r} does not exist")
    fd, temporary = _create_temporary(path)
    try:
        with (open(fd, "w", encoding="utf-8", newline="") if text else open(fd, "wb")) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _put_in_place(temporary, path, overwrite)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new hidden file next to `path`, created with mode 0o666 less the umask, as any file
    would be (tempfile.mkstemp's 0o600 would make every result private)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = str(path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial"))
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:  # 48 random bits taken: draw again
            continue


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if not isinstance(overwrite, (bool, np.bool_)):
        raise TypeError(f"overwrite is {overwrite!r}; expected True or False")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")


def _put_in_place(temporary: str, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temporary, path)
        return
    try:  # a hard link fails if the name is taken: no file written meanwhile is replaced
        os.link(temporary, path)
    except FileExistsError:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it") from None
    except OSError:  # no hard links on this file system: check, then rename
        _refuse_existing(path, overwrite)
        os.replace(temporary, path)
        return
    os.unlink(temporary)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; folders cannot be opened on Windows)."""
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- results -------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class SavedResult:
    """A result read back by `load_result`: its arrays, parameters and provenance.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        h.
    concentrations : ndarray, shape (n_rows, n_times)
        mg/L, read-only.
    parameters : DataFrame
        One row per subject, as `Result.parameters` was when saved.
    provenance : mapping
        The record written with the file (`pkmodel.provenance`): pkmodel_version,
        created_utc, model, model_file, model_sha256, seed, regimen, python,
        numpy, and format, engine, variability, n_rows, times_h,
        concentrations_sha256.
    """

    times: np.ndarray
    concentrations: np.ndarray
    parameters: pd.DataFrame
    provenance: Mapping[str, object]

    def __len__(self) -> int:
        return self.concentrations.shape[0]


def save_result(result, path, overwrite: bool = False) -> Path:
    """Write a Result's concentrations and parameters as Parquet, with its provenance.

    One row per subject: the columns of `result.parameters`, then
    `concentration_mg_per_L`, a fixed-size list of the n_times concentrations.
    The provenance record (`pkmodel.provenance`, with the engine, the times
    and the SHA-256 of the concentrations added) sits in the schema metadata.
    Written atomically (`atomic_write`); returns the path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from . import provenance as _provenance  # here: it needs pkmodel.__version__

    conc = np.ascontiguousarray(result.concentrations, dtype="<f8")
    record = _provenance.provenance(
        result.model, result.seed, result.regimen, format=RESULT_FORMAT, engine=result.engine,
        variability=bool(result.variability), n_rows=int(conc.shape[0]),
        times_h=[float(t) for t in result.times],   # repr round-trips each double exactly
        concentrations_sha256=hashlib.sha256(conc.tobytes()).hexdigest())
    table = pa.Table.from_pandas(result.parameters, preserve_index=False)
    values = pa.array(conc.ravel(), type=pa.float64())
    table = table.append_column(_CONCENTRATION_COLUMN,
                                pa.FixedSizeListArray.from_arrays(values, conc.shape[1]))
    metadata = dict(table.schema.metadata or {})
    metadata[_provenance.PARQUET_KEY] = _provenance.to_json(record).encode()
    table = table.replace_schema_metadata(metadata)
    with atomic_write(path, overwrite=overwrite) as f:
        pq.write_table(table, f)
    return Path(path)


def load_result(path) -> SavedResult:
    """Read a result written by `Result.save`, checking it against its provenance record.

    Raises FileNotFoundError for a missing file, and ResultFileError (a ValueError) for a
    file that is not Parquet, has no provenance record or one with fields missing, or whose
    concentrations do not match the record (rows, times, SHA-256 of the values).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from . import provenance as _provenance

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"result file {str(path)!r} does not exist")
    where = str(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:  # pyarrow's words stay in the traceback
        raise ResultFileError(f"{where}: not a pkmodel result (not readable as Parquet)") from err
    try:
        record = _provenance.from_parquet(path)
    except json.JSONDecodeError:
        raise ResultFileError(f"{where}: the provenance record is not JSON") from None
    except ValueError as err:  # there is none
        raise ResultFileError(str(err)) from None
    _check_record(record, where)
    if _CONCENTRATION_COLUMN not in table.column_names:
        raise ResultFileError(f"{where}: column {_CONCENTRATION_COLUMN!r} is missing; expected "
                              "the concentrations of every subject")
    column = table.column(_CONCENTRATION_COLUMN).combine_chunks()
    times = np.array(record["times_h"], dtype=float)
    per_row = column.type.list_size if pa.types.is_fixed_size_list(column.type) else -1
    shape = (table.num_rows, per_row)
    if shape != (record["n_rows"], times.size):
        raise ResultFileError(f"{where}: concentrations have shape {shape}; the provenance record "
                              f"says ({record['n_rows']}, {times.size}) (n_rows, len(times_h))")
    conc = np.ascontiguousarray(column.flatten().to_numpy(zero_copy_only=False), dtype="<f8")
    if hashlib.sha256(conc.tobytes()).hexdigest() != record["concentrations_sha256"]:
        raise ResultFileError(f"{where}: concentrations do not match the provenance record "
                              "(SHA-256 differs); the file was changed after it was written")
    conc = conc.reshape(shape)
    conc.flags.writeable = False
    times.flags.writeable = False
    parameters = table.drop_columns([_CONCENTRATION_COLUMN]).to_pandas()
    return SavedResult(times=times, concentrations=conc, parameters=parameters, provenance=record)


def _check_record(record, where: str) -> None:
    kind = record.get("format") if isinstance(record, dict) else None
    if kind != RESULT_FORMAT:
        raise ResultFileError(f"{where}: provenance format is {kind!r}; expected "
                              f"{RESULT_FORMAT!r} (a file written by Result.save)")
    missing = [name for name in _RECORD_FIELDS if name not in record]
    if missing:
        raise ResultFileError(f"{where}: provenance record has no {missing[0]!r}; expected the "
                              f"fields {list(_RECORD_FIELDS)}")
