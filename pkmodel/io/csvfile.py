"""CSV text as pandas writes it (`DataFrame.to_csv(index=False)`), character for character,
formatted by Arrow's compute kernels: pandas formats each float in Python, which takes
minutes for the command line's tables of millions of rows."""

import csv
import io

import numpy as np

_CSV_ROWS = 65_536  # rows formatted at a time


def write_csv(frame, f, header: bool = True) -> None:
    """Write `frame` to the text file `f` as `frame.to_csv(f, index=False, header=header)`
    does, character for character, formatted by Arrow's compute kernels (pandas formats each
    float in Python: minutes for millions of rows).

    Numbers (float64 as Python's shortest repr, missing empty), True/False, and text or
    categories of text (quoted where needed, missing empty); anything else, and frames of
    one column, are left to pandas (the same text, slower).
    """
    import pyarrow.compute as pc

    if frame.shape[1] < 2:
        frame.to_csv(f, index=False, header=header)
        return
    if header:
        f.write(",".join(_csv_quoted([str(c) for c in frame.columns])) + "\n")
    for a in range(0, len(frame), _CSV_ROWS):
        part = frame.iloc[a : a + _CSV_ROWS]
        columns = [_csv_column(part.iloc[:, i]) for i in range(part.shape[1])]
        if any(column is None for column in columns):
            part.to_csv(f, index=False, header=False)
            continue
        rows = pc.binary_join_element_wise(*columns, ",")
        f.write("".join(pc.binary_join_element_wise(rows, "\n", "").to_pylist()))


def _csv_column(column):
    """A column as Arrow strings formatted as pandas writes them, or None if not supported."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = column.to_numpy()
    kind = values.dtype.kind
    if values.dtype == np.float64:
        return _float_text(values)
    if kind in "iu":
        return pc.cast(pa.array(values), pa.string())
    if kind == "b":
        return pa.array(np.where(values, "True", "False"), type=pa.string())
    if kind in "OUT" and all(isinstance(v, str) or v is None or v != v for v in values):
        text = pa.array(values, type=pa.string(), from_pandas=True)
        special = np.asarray(pc.fill_null(pc.match_substring_regex(text, '[,"\r\n]'), False))
        if special.any():  # quoted as Python's csv module (pandas' writer) quotes them
            text = pc.replace_with_mask(
                text,
                pa.array(special),
                pa.array(_csv_quoted(np.asarray(values, dtype=object)[special].tolist()), pa.string()),
            )
        return pc.fill_null(text, "")
    return None


def _float_text(values: np.ndarray):
    """Float64 values as Python's repr writes them ('100.0', '1e-05'), NaN as '' (pandas)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(values, from_pandas=True), pa.string())  # the shortest digits
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        # Python writes an exponent below 1e-4 and from 1e16; Arrow elsewhere: repr those
        rare = np.isfinite(values) & (values != 0) & ((magnitude < 1e-4) | (magnitude >= 1e15))
        rare |= np.asarray(pc.fill_null(pc.match_substring(text, "e"), False)) & np.isfinite(values)
    whole = np.isfinite(values) & ~rare & ~np.asarray(pc.fill_null(pc.match_substring(text, "."), True))
    text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(text, ".0", ""), text)
    if rare.any():
        text = pc.replace_with_mask(
            text, pa.array(rare), pa.array([repr(v) for v in values[rare].tolist()], pa.string())
        )
    return pc.fill_null(text, "")


def _csv_quoted(texts: list[str]) -> list[str]:
    """Each text as one field of a CSV row written by pandas (the csv module, QUOTE_MINIMAL)."""
    out = []
    for text in texts:  # over the few texts with a comma, quote or line break
        line = io.StringIO()
        csv.writer(line, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow([text, ""])
        out.append(line.getvalue()[:-2])  # without the empty second field and the newline
    return out
