"""The CSV side of event tables (`events`): a file's shape checked before pandas reads it
(every line as many fields as the header, each column once), the column values' checks, and
numbers written as NONMEM reads them."""

import csv
import io

import numpy as np
import pandas as pd

_EXACT_INTEGER = 2.0**53  # floats below this that equal an integer are written as one


def read_bytes_of(path: str, rows: str = "rows") -> bytes:
    """The bytes of a NONMEM-style CSV; refused when there is nothing in it but blanks."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        raise ValueError(
            f"{path}: the file is empty; expected a header line (ID,TIME,AMT,EVID,CMT, "
            f"...) and one or more {rows}"
        )
    return raw


def _read_csv(path: str) -> pd.DataFrame:
    """The CSV as a DataFrame, after checking its shape (every line as many fields as the header)."""
    raw = read_bytes_of(path)
    _check_fields(path, raw)
    return pd.read_csv(io.BytesIO(raw), na_values=["."], skipinitialspace=True)


def _check_fields(path: str, raw: bytes) -> None:
    """Refuse repeated header names and lines whose number of fields is not the header's.

    Vectorised over the bytes: commas and newlines inside double quotes do not count;
    empty lines are skipped (as pandas does).
    """
    b = np.frombuffer(raw, dtype=np.uint8)
    newline, comma = b == ord("\n"), b == ord(",")
    if b'"' in raw:  # inside quotes after an odd number of them (uint8 wraps: parity stays)
        outside = (np.cumsum(b == ord('"'), dtype=np.uint8) & 1) == 0
        newline &= outside
        comma &= outside
    ends = np.flatnonzero(newline)
    if ends.size == 0 or ends[-1] != b.size - 1:
        ends = np.append(ends, b.size)
    starts = np.r_[0, ends[:-1] + 1]
    commas = np.flatnonzero(comma)
    blank = ends - starts - (b[np.maximum(ends - 1, 0)] == ord("\r")) <= 0
    lines = np.flatnonzero(~blank)
    header_line = lines[0]
    header = next(
        csv.reader(
            [raw[starts[header_line] : ends[header_line]].decode("utf-8-sig", "replace")],
            skipinitialspace=True,
        )
    )
    names = [name.strip() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"{path}: column {repeated[0]} appears {names.count(repeated[0])} times in "
            "the header; expected each column once"
        )
    fields = np.searchsorted(commas, ends[lines]) - np.searchsorted(commas, starts[lines]) + 1
    wrong = np.flatnonzero(fields[1:] != fields[0])
    if wrong.size:
        row = int(wrong[0])
        raise ValueError(
            f"{path} line {int(lines[row + 1]) + 1} (row {row}) has {int(fields[row + 1])} "
            f"fields; expected {int(fields[0])}, as many as the header"
        )


def _nonmem_numbers(values: np.ndarray) -> np.ndarray:
    """Floats as text: '.' for missing, '8' for 8.0, else Python's shortest repr."""
    whole = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < _EXACT_INTEGER)
    text = values.astype(str).astype(object)
    text[whole] = values[whole].astype(np.int64).astype(str)
    text[np.isnan(values)] = "."
    return text


def _bools(column: pd.Series) -> np.ndarray:
    """Where a column holds True or False (read as 1 and 0 otherwise)."""
    if column.dtype == bool:
        return np.ones(len(column), dtype=bool)
    if column.dtype == object:  # one at a time, only for columns of mixed values
        return np.fromiter((isinstance(v, (bool, np.bool_)) for v in column), dtype=bool, count=len(column))
    return np.zeros(len(column), dtype=bool)


def _among(values: np.ndarray, allowed: tuple[int, ...]) -> np.ndarray:
    """Where values equal one of a few allowed numbers (np.isin sorts; this compares)."""
    found = values == allowed[0]
    for value in allowed[1:]:
        found |= values == value
    return found


def _whole(values: np.ndarray, minimum: int) -> np.ndarray:
    return np.isfinite(values) & (values == np.round(values)) & (values >= minimum)
