"""A NONMEM data set as written: every record, checked, in file order.

`read_dataset(frame_or_path)` keeps every record of a NONMEM-style data set
(NONMEM's own reading, as far as pkmodel simulates it):

- comments: CSV lines whose first field starts with C or # (NONMEM's IGNORE=C
  and its default IGNORE=#), and frame rows whose column C holds text starting
  with C, are dropped (`Dataset.n_comments` says how many). In a CSV the
  header is the first line, or, when that is a comment, the last comment line
  before the first record (NONMEM data sets often start "C,ID,TIME,...").
- columns are case-insensitive; '.' (or an empty field) is missing.
- ID: numbers or text, kept as given; subjects in order of first appearance.
  An ID's records must be one block (NONMEM starts a new individual whenever
  ID changes, so an ID seen again later would be two individuals: refused).
- EVID 0 observation, 1 dose, 2 other, 3 reset, 4 reset and dose. Without an
  EVID column: a dose where AMT > 0 (or RATE != 0), else an observation (EVID
  2 where MDV = 1), as NONMEM infers it.
- MDV: 1 on records that are not observations when missing.
- TIME must not decrease within an ID except at a reset (EVID 3 or 4).
- every other column is kept as given: covariates, read by `covariates()`.

Errors name the row (0-based among the records, comments dropped), the
column, the value and what was expected.
"""

import io
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import plain, readonly
from ._csv_events import read_bytes_of

NUMERIC = ("TIME", "AMT", "EVID", "CMT", "II", "ADDL", "SS", "RATE", "MDV", "DV")
DOSE_EVIDS = (1, 4)
_DOSE_FIELDS = ("AMT", "II", "ADDL", "SS", "RATE")  # 0 or missing on a record that is not a dose
# Data-set column names for the model's covariates (besides the model's own name, any case)
ALIASES = {"WT": "weight_kg", "AGE": "age_years", "HT": "height_cm", "SEX": "sex", "BMI": "bmi_kg_m2"}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A checked NONMEM data set; build with `read_dataset`. Records shape (n_records,).

    table : the records as given (comments dropped), columns as written
    id : the ID of each record as given; subject : its 0-based subject (first appearance)
    ids : the subjects' IDs, shape (n_subjects,); source : where it came from, for messages
    time_h, amt_mg, evid, cmt (0: not given), ii_h, addl, ss, rate (mg/h, -1/-2 modelled), mdv, dv
    n_comments : comment records dropped
    """

    table: pd.DataFrame
    source: str
    ids: np.ndarray
    subject: np.ndarray
    time_h: np.ndarray
    amt_mg: np.ndarray
    evid: np.ndarray
    cmt: np.ndarray
    ii_h: np.ndarray
    addl: np.ndarray
    ss: np.ndarray
    rate: np.ndarray
    mdv: np.ndarray
    dv: np.ndarray
    n_comments: int = 0

    @property
    def n_subjects(self) -> int:
        return len(self.ids)

    @property
    def is_dose(self) -> np.ndarray:
        return np.isin(self.evid, DOSE_EVIDS)

    def column(self, name: str) -> str | None:
        """The table's column called `name`, in any case, or None."""
        return {c.upper(): c for c in self.table.columns}.get(name.upper())

    def covariate(self, name: str) -> np.ndarray:
        """Column `name` (any case) as numbers on every record, shape (n_records,).

        Refuses a missing value or text, naming the row: a covariate the model
        uses must be on every record (NONMEM would read '.' as 0).
        """
        column = self.column(name)
        if column is None:
            raise ValueError(
                f"{self.source}: column {name} is missing; expected it on every record (the model uses it)"
            )
        raw = self.table[column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        self.refuse(~np.isfinite(values), column, "a number on every record (the model uses it)")
        return values

    def refuse(self, bad: np.ndarray, column: str, expected: str, also: str | None = None) -> None:
        """Raise ValueError for the first record where `bad`, naming row, ID, column and value."""
        where = np.flatnonzero(bad)
        if where.size:
            raise ValueError(f"{self.found(int(where[0]), column, also)}; expected {expected}")

    def found(self, row: int, column: str, also: str | None = None) -> str:
        """'<source> row 3 (ID 1), column II is 0 (ADDL is 2)': what an error message starts with."""
        context = f" ({also} is {self._value(row, also)!r})" if also else ""
        return (
            f"{self.source} row {row} (ID {plain(self.id_of(row))!r}), column {column} is "
            f"{self._value(row, column)!r}{context}"
        )

    def id_of(self, row: int):
        return self.ids[self.subject[row]]

    def _value(self, row: int, column: str):
        name = self.column(column)
        if name is None:
            return "missing"
        value = plain(self.table[name].iloc[row])
        return "missing" if pd.isna(value) else value


def read_dataset(data, source: str | None = None, sort: bool = False) -> Dataset:
    """A NONMEM data set from a CSV file or a DataFrame, checked (module docstring).

    sort : True: the records first put in order of ID (first appearance), then TIME, stably
        (records at one time keep their order), for callers that take them in any order
        (`pk.estimate_individual`); row numbers in messages are then those of that order.
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, pd.DataFrame):
        table, n_comments = _drop_comment_rows(data.reset_index(drop=True))
        source = source or "data"
    elif isinstance(data, (str, os.PathLike)):
        table, n_comments = _read_csv(os.fspath(data))
        source = source or os.fspath(data)
    else:
        raise TypeError(
            f"data is a {type(data).__name__}; expected a pandas DataFrame or a path to a "
            "CSV file (a NONMEM data set)"
        )
    upper = [str(c).strip().upper() for c in table.columns]
    repeated = sorted({c for c in upper if upper.count(c) > 1})
    if repeated:
        raise ValueError(
            f"{source}: column {repeated[0]} appears {upper.count(repeated[0])} times "
            "(column names are case-insensitive); expected each column once"
        )
    table.columns = [str(c).strip() for c in table.columns]
    col = dict(zip(upper, table.columns))
    if sort and "ID" in col and "TIME" in col:
        first = pd.factorize(table[col["ID"]])[0]
        time = pd.to_numeric(table[col["TIME"]], errors="coerce").to_numpy(dtype=float)
        table = table.iloc[np.lexsort((time, first))].reset_index(drop=True)
    for name in ("ID", "TIME"):
        if name not in col:
            raise ValueError(
                f"{source}: column {name} is missing; expected ID, TIME and the NONMEM "
                "items used (AMT, EVID, CMT, II, ADDL, SS, RATE, MDV, DV)"
            )
    if len(table) == 0:
        raise ValueError(f"{source}: the data set has no records; expected one or more")
    raw_ids = table[col["ID"]].to_numpy()
    bad_id = pd.isna(table[col["ID"]]).to_numpy()
    if bad_id.any():
        raise ValueError(
            f"{source} row {int(np.flatnonzero(bad_id)[0])}, column ID is missing; "
            "expected an ID on every record"
        )
    subject, ids = pd.factorize(table[col["ID"]], sort=False)
    subject = subject.astype(np.int64)
    ids = np.asarray(ids, dtype=object if raw_ids.dtype == object else raw_ids.dtype)
    n = len(table)
    number = {}
    for name in NUMERIC:
        if name in col:
            raw = table[col[name]]
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            text = np.flatnonzero(np.isnan(values) & raw.notna().to_numpy())
            text = text[~raw.iloc[text].astype(str).str.strip().isin([".", ""]).to_numpy()]
            if text.size:
                i = int(text[0])
                raise ValueError(
                    f"{source} row {i} (ID {plain(ids[subject[i]])!r}), column "
                    f"{col[name]} is {plain(raw.iloc[i])!r}; expected a number "
                    "('.' for missing)"
                )
            number[name] = values
        else:
            number[name] = np.full(n, np.nan)
    amt, rate = np.nan_to_num(number["AMT"]), np.nan_to_num(number["RATE"])
    if "EVID" not in col:
        number["EVID"] = np.where((amt > 0) | (rate != 0), 1.0, np.where(number["MDV"] == 1, 2.0, 0.0))
    evid = number["EVID"]
    mdv = np.where(np.isnan(number["MDV"]), (evid != 0).astype(float), number["MDV"])
    ds = Dataset(
        table=table,
        source=source,
        ids=ids,
        subject=readonly(subject, dtype=np.int64),
        time_h=readonly(number["TIME"]),
        amt_mg=readonly(amt),
        evid=readonly(np.nan_to_num(evid, nan=-1.0)),
        cmt=readonly(np.nan_to_num(number["CMT"])),
        ii_h=readonly(np.nan_to_num(number["II"])),
        addl=readonly(np.nan_to_num(number["ADDL"])),
        ss=readonly(np.nan_to_num(number["SS"])),
        rate=readonly(rate),
        mdv=readonly(mdv),
        dv=readonly(number["DV"]),
        n_comments=n_comments,
    )
    _check(ds, col)
    return ds


def _check(ds: Dataset, col: dict) -> None:
    """Refuse what NONMEM would refuse (or pkmodel cannot mean), naming the first record."""
    ev = ds.evid
    ds.refuse(~np.isfinite(ds.time_h), "TIME", "a finite time (h)")
    ds.refuse(
        ~np.isin(ev, (0, 1, 2, 3, 4)),
        "EVID",
        "0, 1, 2, 3 or 4 (observation, dose, other, reset, reset and dose)",
    )
    dose = ds.is_dose
    for name in _DOSE_FIELDS:
        values = getattr(
            ds, {"AMT": "amt_mg", "II": "ii_h", "ADDL": "addl", "SS": "ss", "RATE": "rate"}[name]
        )
        ds.refuse(~dose & (values != 0), name, "0 or missing on a record that is not a dose (EVID 0, 2 or 3)")
    ds.refuse(~(np.isfinite(ds.amt_mg) & (ds.amt_mg >= 0)), "AMT", "an amount >= 0 mg")
    cmt = ds.cmt
    ds.refuse(
        ~(np.isfinite(cmt) & (cmt == np.round(cmt)) & (cmt >= 0)),
        "CMT",
        "a compartment number 1, 2, ... (or missing: the default compartment)",
    )
    ds.refuse(~(np.isfinite(ds.ii_h) & (ds.ii_h >= 0)), "II", "an interval >= 0 h")
    ds.refuse(
        ~(np.isfinite(ds.addl) & (ds.addl == np.round(ds.addl)) & (ds.addl >= 0)),
        "ADDL",
        "a whole number >= 0 of additional doses",
    )
    ds.refuse(~np.isin(ds.ss, (0, 1, 2)), "SS", "0, 1 or 2")
    ds.refuse(
        ~(np.isfinite(ds.rate) & ((ds.rate >= 0) | np.isin(ds.rate, (-1, -2)))),
        "RATE",
        "a rate >= 0 mg/h, -1 (rate from the model) or -2 (duration from the model)",
    )
    ds.refuse((ds.addl > 0) & ~(ds.ii_h > 0), "II", "an interval > 0 h where ADDL is above 0", also="ADDL")
    constant = (ds.ss == 1) & (ds.amt_mg == 0) & (ds.ii_h == 0) & (ds.rate > 0)
    ds.refuse(
        (ds.ss > 0) & ~(ds.ii_h > 0) & ~constant,
        "II",
        "an interval > 0 h where SS is 1 or 2 "
        "(only SS=1 with AMT 0, II 0 and RATE > 0, a constant infusion, has none)",
        also="SS",
    )
    ds.refuse(~np.isin(ds.mdv, (0, 1)), "MDV", "0, 1 or missing")
    # an ID's records in one block
    s = ds.subject
    starts = np.r_[True, s[1:] != s[:-1]]
    again = np.flatnonzero(starts & (np.bincount(s[starts], minlength=ds.n_subjects)[s] > 1))
    if again.size:
        seen = np.zeros(ds.n_subjects, dtype=bool)
        for i in np.flatnonzero(starts):  # over blocks of records, not records
            if seen[s[i]]:
                raise ValueError(
                    f"{ds.found(int(i), 'ID')}; expected each ID's records together "
                    "(this ID has records earlier, separated by other IDs: NONMEM "
                    "would take them as two individuals)"
                )
            seen[s[i]] = True
    back = np.r_[False, (s[1:] == s[:-1]) & (np.diff(ds.time_h) < 0)] & ~np.isin(ev, (3, 4))
    if back.any():
        row = int(np.flatnonzero(back)[0])
        raise ValueError(
            f"{ds.found(row, 'TIME')}; expected a time >= {plain(ds.time_h[row - 1])!r}, "
            f"the TIME of row {row - 1} (TIME decreases within an ID only at a reset, "
            "EVID 3 or 4)"
        )


def _drop_comment_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows whose column C (any case) holds text starting with C dropped, and how many."""
    name = next((c for c in frame.columns if str(c).strip().upper() == "C"), None)
    if name is None:
        return frame.copy(), 0
    text = frame[name].astype(str).str.strip().str.upper()
    comment = (frame[name].notna() & text.str.startswith("C")).to_numpy()
    return frame.loc[~comment].reset_index(drop=True), int(comment.sum())


def _read_csv(path: str) -> tuple[pd.DataFrame, int]:
    """The records of a CSV data set, comment lines dropped (module docstring), and their number."""
    raw = read_bytes_of(path, "records")
    counts = [line.count(b",") for line in raw.splitlines() if line.strip()]  # no quotes in NONMEM data
    if len(set(counts)) > 1:
        line = next(i for i, c in enumerate(counts) if c != counts[0])
        raise ValueError(
            f"{path}: non-blank line {line + 1} has {counts[line] + 1} fields; expected "
            f"{counts[0] + 1}, as many as the first line"
        )
    lines = pd.read_csv(
        io.BytesIO(raw),
        header=None,
        dtype=str,
        keep_default_na=False,
        skipinitialspace=True,
        skip_blank_lines=True,
    )
    first = lines[0].str.strip().str.upper()
    comment = (first.str.startswith("C") | first.str.startswith("#")).to_numpy()
    records = np.flatnonzero(~comment)
    if not comment[0]:
        header = 0
    elif records.size:
        header = int(records[0]) - 1
    else:
        header = len(lines) - 1
    names = [str(v).strip() for v in lines.iloc[header]]
    body = lines.iloc[records[records > header]].reset_index(drop=True)
    body.columns = names
    body = body.apply(lambda c: c.str.strip()).replace({".": np.nan, "": np.nan})
    for name in body.columns:  # numbers where a whole column is numbers (IDs "P001" stay text)
        values = pd.to_numeric(body[name], errors="coerce")
        if not (values.isna() & body[name].notna()).any():
            whole = values.dropna()
            body[name] = (
                values.astype("Int64").astype(object).where(values.notna(), np.nan)
                if name.upper() == "ID" and (whole == whole.round()).all()
                else values
            )
    n_comments = int(comment.sum()) - (1 if comment[0] else 0)
    return body, n_comments
