"""NONMEM-style event tables: read, check, expand ADDL/II, write, turn into Doses.

Columns: ID, TIME (h), AMT (mg), EVID, CMT, and optionally II (h), ADDL, SS,
RATE (mg/h), DV, MDV; other columns (covariates, comments) are kept and
written back unchanged. Missing values ('.' in a CSV) are allowed in DV and
MDV, and on rows that are not doses in AMT, CMT, II, ADDL, SS and RATE (read
as 0). Error messages name the row, its 0-based position among the data
rows (in a CSV with a header and no blank lines: line = row + 2), and the
column. TIME may be negative (as in NONMEM 7.4 and later). IDs are kept
exactly as int64 (never through a float).

An event table is bounded before anything is allocated for it: ADDL expands
to at most MAX_TABLE_DOSES doses in all. A dose costs about 400 bytes from reading
to simulating (measured: 1e6 doses of 20,000 children at their own times peak
at 0.6 GB with the interpreter), so the limit keeps a table near 2 GB.
"""

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._checks import ID_PROBLEMS, integer_ids, plain, readonly
from ..io.files import atomic_write
from ..model.structures import Structure
from ..population.cohort import Cohort
from ._csv_events import _among, _bools, _nonmem_numbers, _read_csv, _whole
from .doses import Doses, SubjectDoses, order_by

REQUIRED = ("ID", "TIME", "AMT", "EVID", "CMT")
OPTIONAL = ("II", "ADDL", "SS", "RATE", "DV", "MDV")
_DOSE_EVIDS = (1, 4)  # dose; reset and dose
_DOSE_FIELDS = ("AMT", "II", "ADDL", "SS", "RATE")  # 0 or missing on rows that are not doses
MAX_TABLE_DOSES = 5_000_000  # doses in one event table, ADDL expanded
# pandas 3 copies a frame's data before changing it wherever another frame shares it
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


@dataclass(frozen=True, eq=False)
class DoseRecords:
    """Every dose of an event table, ADDL expanded, sorted by ID then TIME.

    All arrays shape (n_records,). The k-th additional dose of a row comes at
    TIME + k * II with the row's AMT, CMT and RATE, SS 0 and no reset (NONMEM).

    Attributes
    ----------
    id : int subject IDs
    time_h : h
    amount_mg : mg, >= 0
    cmt : int compartment numbers, 1-based (NONMEM CMT)
    rate_mg_per_h : mg/h; 0 for a bolus, > 0 for zero-order input over amount / rate h
    ss : int 0, 1 or 2 (NONMEM SS); only on a row's own dose
    ii_h : h, the row's dosing interval (for SS and ADDL; 0 if none)
    reset : bool, EVID 4 (the system is reset before this dose)
    row : int, the table row the dose comes from
    """

    id: np.ndarray
    time_h: np.ndarray
    amount_mg: np.ndarray
    cmt: np.ndarray
    rate_mg_per_h: np.ndarray
    ss: np.ndarray
    ii_h: np.ndarray
    reset: np.ndarray
    row: np.ndarray


@dataclass(frozen=True, eq=False)
class EventTable:
    """A checked NONMEM-style event table; build with `read_events`.

    Parameters
    ----------
    table : DataFrame
        The table as given (kept as a copy; `to_frame()` returns another).
    source : str
        Where it came from, for messages (a file path, or "events").
    """

    table: pd.DataFrame
    source: str = "events"
    doses_given: DoseRecords = field(init=False, repr=False)
    row_ids: np.ndarray = field(init=False, repr=False)  # ID of every row, int64
    # the largest EVID and CMT of any row (nan: none): `doses` and `check_compartments` look at
    # a column again only when it holds what they refuse
    _largest: dict = field(init=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.table, pd.DataFrame):
            raise TypeError(f"events is a {type(self.table).__name__}; expected a pandas DataFrame")
        table = self.table.reset_index(drop=True)
        if not _COPY_ON_WRITE:  # the caller's later changes do not reach it (pandas 3: by itself)
            table = table.copy()
        object.__setattr__(self, "table", table)
        repeated = table.columns[table.columns.duplicated()]
        if len(repeated):
            raise ValueError(
                f"{self.source}: column {repeated[0]} appears "
                f"{int((table.columns == repeated[0]).sum())} times; expected each "
                "column once"
            )
        missing = [c for c in REQUIRED if c not in table.columns]
        if missing:
            raise ValueError(
                f"{self.source}: column {missing[0]} is missing; expected columns "
                f"{', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
            )
        if len(table) == 0:
            raise ValueError(f"{self.source}: the table has no rows; expected one or more events")
        ids = self._ids()
        col = {c: self._numbers(c) for c in REQUIRED[1:] + OPTIONAL if c in table.columns}
        inexact = {c for c in col if table[c].dtype.kind not in "iu"}  # an integer dtype: whole numbers
        blank = np.broadcast_to(np.nan, (len(table),))  # a column not given: no memory of its own
        for name in OPTIONAL:
            col.setdefault(name, blank)

        self._refuse(~np.isfinite(col["TIME"]), "TIME", "a finite time (h)")
        whole = {c: _whole(col[c], 0) if c in inexact else col[c] >= 0 for c in ("EVID", "CMT")}
        self._refuse(~(whole["EVID"] & (col["EVID"] <= 4)), "EVID", "0, 1, 2, 3 or 4")
        dose = _among(col["EVID"], _DOSE_EVIDS)
        for name in _DOSE_FIELDS:
            if col[name] is blank or dose.all():
                continue  # a column not given, or every row a dose: nothing to refuse
            self._refuse(
                ~dose & ~np.isnan(col[name]) & (col[name] != 0),
                name,
                "0 or missing on a row that is not a dose (EVID 0, 2 or 3)",
            )
        self._refuse(dose & ~((col["AMT"] >= 0) & np.isfinite(col["AMT"])), "AMT", "an amount >= 0 mg")
        self._refuse(
            ~(whole["CMT"] & (col["CMT"] >= 1)) & (dose | ~np.isnan(col["CMT"])),
            "CMT",
            "a compartment number 1, 2, ...",
        )
        # missing is 0; an infinite value stays what it is (and is refused below)
        zeros = np.broadcast_to(0.0, (len(table),))
        ii, addl, ss, rate = (
            zeros if col[c] is blank else np.where(np.isnan(col[c]), 0.0, col[c])
            for c in ("II", "ADDL", "SS", "RATE")
        )
        self._refuse(~((ii >= 0) & np.isfinite(ii)), "II", "an interval >= 0 h")
        self._refuse(
            ~(_whole(addl, 0) if "ADDL" in inexact else addl >= 0),
            "ADDL",
            "a whole number >= 0 of additional doses",
        )
        self._refuse(~_among(ss, (0, 1, 2)), "SS", "0, 1 or 2")
        self._refuse(
            ~((rate >= 0) & np.isfinite(rate)),
            "RATE",
            "a rate >= 0 mg/h (modelled rates -1 and -2 are not supported)",
        )
        self._refuse((addl > 0) & ~(ii > 0), "II", "an interval > 0 h where ADDL is above 0", also="ADDL")
        self._refuse(
            (ss != 0) & ~(ii > 0),
            "II",
            "an interval > 0 h where SS is 1 or 2 (steady state needs the dosing interval)",
            also="SS",
        )
        self._refuse(~np.isnan(col["MDV"]) & ~_among(col["MDV"], (0, 1)), "MDV", "0, 1 or missing")
        self._refuse_decreasing_time(ids, col["TIME"])
        self._refuse_too_many_doses(np.where(dose, addl, -1.0))

        rows = np.flatnonzero(dose)
        count = (addl if rows.size == dose.size else addl[rows]).astype(np.int64) + 1
        source_row: np.ndarray | slice
        if not addl.any():  # no ADDL: each dose row is one dose
            source_row, k = rows, np.zeros(rows.size, dtype=np.int64)
            if rows.size == dose.size:
                source_row = slice(None)  # every row a dose: views, not gathers
        else:
            source_row = np.repeat(rows, count)
            k = np.arange(source_row.size) - np.repeat(np.cumsum(count) - count, count)
        time = col["TIME"][source_row]
        if not isinstance(source_row, slice):
            time = time + k * ii[source_row]  # ADDL: every II after the row's TIME
        # by ID, then time; ties keep table order (no sort where the table is in that order)
        order = order_by(ids[source_row], time)
        take = np.arange(dose.size)[order] if isinstance(source_row, slice) else source_row[order]
        first = k[order] == 0
        pick = order if isinstance(source_row, slice) else take  # a slice where it can be
        # copied: what may be a view of the table's own data; the rest is this call's alone
        in_table = {
            name: isinstance(pick, slice) and np.may_share_memory(values, table[name].to_numpy())
            for name, values in (("ID", ids), ("TIME", col["TIME"]), ("AMT", col["AMT"]))
        }
        records = DoseRecords(
            id=_owned(ids[pick], np.int64, in_table["ID"]),
            time_h=_owned(time[order], float, in_table["TIME"] and isinstance(source_row, slice)),
            amount_mg=_owned(col["AMT"][pick], float, in_table["AMT"]),
            cmt=_owned(col["CMT"][pick], np.int64),
            rate_mg_per_h=_owned(rate[pick], float),
            ss=_owned(np.where(first, ss[pick], 0), np.int64),
            ii_h=_owned(ii[pick], float),
            reset=_owned(first & (col["EVID"][pick] == 4), bool),
            row=_owned(take, np.int64),
        )
        object.__setattr__(self, "doses_given", records)
        object.__setattr__(self, "row_ids", readonly(ids, dtype=np.int64))
        object.__setattr__(self, "_largest", {c: float(np.fmax.reduce(col[c])) for c in ("EVID", "CMT")})

    @property
    def label(self) -> str:
        return f"event table ({self.source})"

    def to_frame(self) -> pd.DataFrame:
        """A copy of the table as given."""
        return self.table.copy()

    def check_compartments(self, structure: Structure) -> None:
        """Refuse CMT numbers the model's structure does not have (ValueError naming the row)."""
        names = structure.compartments
        if not self._largest["CMT"] > len(names):  # (nan: every CMT missing)
            return
        cmt = self._numbers("CMT")
        self._refuse(
            cmt > len(names),
            "CMT",
            f"a compartment of {structure.name}: "
            + ", ".join(f"{i} ({name})" for i, name in enumerate(names, start=1)),
        )

    def doses(self, cohort: Cohort) -> Doses | SubjectDoses:
        """The engines' input: each child of `cohort` (by ID) given the doses of its rows.

        Every dose record stays a dose of its own, in record order at one time
        (a dose after an SS=1 dose at the same time is given after it; two
        infusions at one time run side by side). CMT n is compartment n of the
        structure (1-based: 1 the depot); RATE > 0 is a zero-order input of AMT
        over AMT / RATE h. Refused (NotImplementedError, naming the row) until
        the engines support them: EVID 3 and 4 (resets).

        Returns
        -------
        Doses
            When the children share most dose times: time_h shape (n_columns,),
            one column per distinct dose time (and compartment, rate, SS, II);
            amount_mg shape (n_subjects, n_columns), rows in the order of
            cohort.ids, 0 where a child has no dose in a column.
        SubjectDoses
            When children dose at their own times: each child's doses, stored
            per child (never children x all dose times).
        """
        given = self.doses_given
        if self._largest["EVID"] >= 3:  # resets: the EVID column read again only then
            row = int(np.flatnonzero(self._numbers("EVID") >= 3).min())
            raise NotImplementedError(
                f"{self._found(row, 'EVID')}: resets (EVID 3 and 4) are not supported yet by the engines"
            )
        ids, cohort_ids = self.row_ids, np.asarray(cohort.ids)
        # each run of rows of one ID looked up once (a table grouped by ID: one per child)
        runs = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        known = np.isin(ids[runs], cohort_ids)
        if not known.all():
            self._refuse(np.isin(np.arange(ids.size), runs[~known]), "ID", "an ID of the cohort (cohort_ids)")
        absent = ~np.isin(cohort_ids, ids[runs])
        if absent.any():
            raise ValueError(
                f"{self.source}: no rows for cohort ID {plain(cohort_ids[absent][0])}; "
                "expected rows for every child of the cohort (an EVID 2 row names a "
                "child given no dose)"
            )
        by_id = np.argsort(cohort_ids)
        # the records are by ID: look up each run of one ID once
        starts = np.flatnonzero(np.r_[True, given.id[1:] != given.id[:-1]]) if given.id.size else given.id
        position = by_id[np.searchsorted(cohort_ids, given.id[starts], sorter=by_id)]
        subject = np.repeat(position, np.diff(np.r_[starts, given.id.size]))
        own = SubjectDoses.from_records(
            len(cohort),
            subject,
            given.time_h,
            given.amount_mg,
            compartment=_owned(given.cmt - 1, np.int64),
            ss=given.ss,
            ii_h=_owned(np.where(given.ss > 0, given.ii_h, 0.0), float),
            rate_mg_per_h=given.rate_mg_per_h,
        )
        shared = own.union()
        return own if shared is None else shared

    def _numbers(self, column: str) -> np.ndarray:
        """Column as floats (missing: nan); refuses text that is not a number, and True/False."""
        raw = self.table[column]
        if raw.dtype == bool or raw.dtype == object:
            self._refuse(_bools(raw), column, "a number, not True/False")
        if isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "iuf":  # numbers: nothing to coerce
            return raw.to_numpy(dtype=float)
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        self._refuse(np.isnan(values) & raw.notna().to_numpy(), column, "a number")
        return values

    def _ids(self) -> np.ndarray:
        """The ID column as int64, exactly (an ID that is not one is refused, naming its row)."""
        ids, problem = integer_ids(self.table["ID"].to_numpy())
        bad = np.flatnonzero(problem)
        if bad.size:
            raise ValueError(f"{self._found(int(bad[0]), 'ID')}; expected {ID_PROBLEMS[problem[bad[0]]]}")
        return ids

    def _refuse_too_many_doses(self, addl: np.ndarray) -> None:
        """Refuse, before expanding it, a table whose ADDL would give more than MAX_TABLE_DOSES doses.

        addl : ADDL of each dose row, -1 on rows that are not doses (float: any size).
        """
        total = float(np.sum(addl + 1.0))
        if total > MAX_TABLE_DOSES:
            row = int(np.argmax(addl))
            raise ValueError(
                f"{self._found(row, 'ADDL')}; expected at most {MAX_TABLE_DOSES:,} doses in "
                f"one event table (pkmodel.dosing.events.MAX_TABLE_DOSES), ADDL expanded: this "
                f"table would give {total:,.0f}"
            )

    def _refuse(self, bad: np.ndarray, column: str, expected: str, also: str | None = None) -> None:
        """Raise ValueError for the first row where `bad`, naming row, column and value."""
        where = np.flatnonzero(bad)
        if where.size:
            raise ValueError(f"{self._found(int(where[0]), column, also)}; expected {expected}")

    def _found(self, row: int, column: str, also: str | None = None) -> str:
        """'<source> row 3, column II is 0 (ADDL is 2)': what an error message starts with."""
        context = f" ({also} is {self._value(row, also)!r})" if also else ""
        return f"{self.source} row {row}, column {column} is {self._value(row, column)!r}{context}"

    def _refuse_decreasing_time(self, ids: np.ndarray, times: np.ndarray) -> None:
        # ids: int64, exact; grouped by ID as most tables are, they need no sort
        grouped = bool(np.all(ids[1:] >= ids[:-1]))
        order = np.arange(ids.size) if grouped else np.argsort(ids, kind="stable")
        by_id, t = (ids, times) if grouped else (ids[order], times[order])
        back = np.flatnonzero((by_id[1:] == by_id[:-1]) & (t[1:] < t[:-1]))
        if back.size:
            rows = order[back + 1]
            i = int(rows.min())
            before = int(order[back[np.argmin(rows)]])
            raise ValueError(
                f"{self._found(i, 'TIME')}; expected a time >= "
                f"{self._value(before, 'TIME')!r}, the TIME of row {before} of the same ID "
                f"{self._value(i, 'ID')!r} (TIME must not decrease within an ID)"
            )

    def _value(self, row: int, column: str):
        if column not in self.table.columns:
            return "missing"
        value = plain(self.table[column].iloc[row])
        return "missing" if pd.isna(value) else value


def read_events(path_or_df) -> EventTable:
    """A NONMEM-style event table from a CSV file ('.' = missing) or a DataFrame, checked.

    ADDL/II are expanded into `EventTable.doses_given`; `pk.simulate` takes
    the table in place of a Regimen, joining covariates from the cohort by ID.
    A CSV file is refused, naming it, when it is empty, repeats a column name
    or has a line with more or fewer fields than its header.

    Examples
    --------
    >>> import pandas as pd, pkmodel as pk
    >>> data = pd.DataFrame({"ID": [1, 1], "TIME": [0.0, 8.0], "AMT": [10.0, 10.0], "EVID": [1, 1],
    ...                      "CMT": [1, 1], "II": [0.0, 8.0], "ADDL": [0, 2]})
    >>> pk.read_events(data).doses_given.time_h  # ADDL 2 adds two doses, II 8 h apart
    array([ 0.,  8., 16., 24.])
    """
    if isinstance(path_or_df, pd.DataFrame):
        return EventTable(path_or_df)
    if isinstance(path_or_df, (str, os.PathLike)):
        return EventTable(_read_csv(os.fspath(path_or_df)), source=os.fspath(path_or_df))
    raise TypeError(
        f"events is a {type(path_or_df).__name__}; expected a path to a CSV file or a pandas DataFrame"
    )


def write_events(events, path, overwrite: bool = False) -> None:
    """Write an event table (EventTable or DataFrame, checked first) as a NONMEM-style CSV.

    Missing values are written '.', whole numbers without a decimal point
    (8, not 8.0), other numbers in the shortest form that reads back exactly.
    Written atomically; an existing file is kept unless overwrite=True.
    """
    table = events if isinstance(events, EventTable) else read_events(events)
    out = table.table.copy()
    for name in out.columns:
        values = out[name].to_numpy()
        if values.dtype.kind == "f":
            out[name] = _nonmem_numbers(values)
    with atomic_write(path, overwrite=overwrite, text=True) as f:
        out.to_csv(f, index=False, na_rep=".")


def _owned(values: np.ndarray, dtype, in_table: bool = False) -> np.ndarray:
    """`values` as `dtype`, read-only: copied where it may be a view of the table's data (or
    its dtype differs); else the array itself (made by the caller, held by nobody else)."""
    values = values.astype(dtype, copy=in_table)
    values.flags.writeable = False
    return values
