"""The one long table of concentrations, and the one Parquet writer (provenance in its schema).

The long format, wherever concentrations are written or returned as a table (`Result.to_frame`,
the chunked Parquet part files, the command line's concentrations file): one row per subject
and output time, subject-major (a subject's times in order, then the next subject),

    [regimen]  id  [replicate]  time_h  conc_mg_L

`regimen` (text) where a file holds several regimens, `replicate` (int) where parameter
uncertainty was simulated; `id` int64; `time_h` h and `conc_mg_L` mg/L, float64. The units
are in the names and, in Parquet, in each field's metadata (key "unit").

Every Parquet file pkmodel writes goes through `write_parquet`: the provenance record in the
schema metadata under `PARQUET_KEY` (`pkmodel.io.provenance`), written atomically
(`pkmodel.io.files.atomic_write`) unless an open file is given. pyarrow is imported here only
when a table is built or written, so `import pkmodel` does not load it.
"""

from typing import Any, Mapping

import numpy as np

from .files import atomic_write
from .provenance import PARQUET_KEY, to_json

UNITS = {"time_h": "h", "conc_mg_L": "mg/L"}


def long_columns(
    ids: np.ndarray, times_h: np.ndarray, conc: np.ndarray, replicate: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The long format's columns (module docstring) of concentrations `conc`.

    ids : shape (n_subjects,); times_h : shape (n_times,), h; conc : shape (n_subjects,
    n_times), mg/L; replicate : shape (n_subjects,), optional. Each column has shape
    (n_subjects * n_times,).
    """
    n, t = conc.shape
    columns = {"id": np.repeat(ids, t)}
    if replicate is not None:
        columns["replicate"] = np.repeat(replicate, t)
    columns["time_h"] = np.tile(times_h, n)
    columns["conc_mg_L"] = np.ravel(conc, order="C")
    return columns


def long_schema(record: Mapping | None, *, regimen: bool = False, replicate: bool = False):
    """The Arrow schema of the long format, units in the fields' metadata, `record` in the schema's."""
    import pyarrow as pa

    fields = [pa.field("regimen", pa.dictionary(pa.int32(), pa.string()))] if regimen else []
    fields.append(pa.field("id", pa.int64()))
    if replicate:
        fields.append(pa.field("replicate", pa.int64()))
    fields += [pa.field(name, pa.float64(), metadata={"unit": unit}) for name, unit in UNITS.items()]
    return pa.schema(fields, metadata=None if record is None else _metadata(record, None))


def long_table(columns: Mapping[str, Any], schema):
    """`columns` (from `long_columns`, with "regimen" as an Arrow array if the schema has it) as
    an Arrow table of `schema`."""
    import pyarrow as pa

    return pa.table({field.name: columns[field.name] for field in schema}, schema=schema)


def write_parquet(
    target, tables, record: Mapping, *, metadata: Mapping[bytes, bytes] | None = None, overwrite: bool = False
) -> str | None:
    """Write one Arrow table, or several of one schema in turn, as a Parquet file with provenance.

    target : a path (written atomically, refused if it exists unless `overwrite`) or an open
        binary file (e.g. an `atomic_write` the caller hashes).
    tables : a pyarrow Table, or an iterable of Tables of one schema (written as they come:
        memory holds one at a time).
    record : the provenance record, stored under PARQUET_KEY in the schema metadata, with any
        further `metadata` entries.

    Returns the file's SHA-256 (hex, of the bytes as written) when `target` is a path.
    """
    import pyarrow as pa

    if isinstance(target, (str, bytes)) or hasattr(target, "__fspath__"):
        with atomic_write(target, overwrite=overwrite) as f:
            _write(f, tables, _metadata(record, metadata), pa)
        return f.sha256
    _write(target, tables, _metadata(record, metadata), pa)
    return None


def _write(f, tables, metadata: dict, pa) -> None:
    import pyarrow.parquet as pq

    if isinstance(tables, pa.Table):
        pq.write_table(tables.replace_schema_metadata(metadata), f)
        return
    writer = None
    for table in tables:
        if writer is None:
            writer = pq.ParquetWriter(f, table.schema.with_metadata(metadata))
        writer.write_table(table.replace_schema_metadata(metadata))
    if writer is None:
        raise ValueError("write_parquet: no table to write; expected one or more")
    writer.close()


def _metadata(record: Mapping, more: Mapping[bytes, bytes] | None) -> dict:
    metadata = {PARQUET_KEY: to_json(record).encode()}
    metadata.update(more or {})
    return metadata
