"""Observations and doses from a NONMEM-style frame: the estimation's one input adapter.

The data set is read by the one NONMEM reader, `pkmodel.dosing.dataset.read_dataset`
(comments, case-insensitive columns, EVID inferred from AMT without an EVID column;
records taken in any order, put in order of ID and TIME first), and split here:

- observation rows: EVID 0; MDV = 1 rows are skipped;
- censored observations (M3): BLQ = 1 (the limit is LLOQ, or DV where there
  is no LLOQ column, as NONMEM data sets often hold it), or, with an LLOQ
  column and no BLQ column, DV < LLOQ;
- dose rows (EVID 1, 3, 4) go to an event table, CMT 1 (the depot) where not
  given; EVID 2 rows (other events) are dropped;
- covariates per ID from columns WT (kg) and AGE (years), or pass `cohort=`.

An observation at a dose time sees the concentration before that dose (the
engines' convention; `pk.simulate_dataset` follows NONMEM's record order).
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import plain
from .predict import PER_DOSE, per_dose_fields
from ..population.cohort import Cohort
from ..dosing.doses import Doses, SubjectDoses
from ..dosing.dataset import read_dataset
from ..dosing.events import EventTable
from ..model.model import Model

_DOSE_COLUMNS = ("ID", "TIME", "AMT", "EVID", "CMT", "II", "ADDL", "SS", "RATE")
_COVARIATE_COLUMNS = {"weight_kg": ("WT", "WEIGHT_KG"), "age_years": ("AGE", "AGE_YEARS")}
# Covariates a model that uses none still needs to build a Cohort: never read by it.
_PLACEHOLDER = {"weight_kg": 70.0, "age_years": 40.0}


@dataclass(frozen=True, eq=False)
class Observations:
    """Measured concentrations, flat, sorted by subject then time; all shape (n_obs,).

    subject : positions in the cohort; time_h : h; dv : mg/L (the limit where
    censored); censored : bool, below the limit dv (M3); row : the data row.
    """

    subject: np.ndarray
    time_h: np.ndarray
    dv: np.ndarray
    censored: np.ndarray
    row: np.ndarray

    def __len__(self) -> int:
        return self.subject.size

    def count(self, n_subjects: int) -> np.ndarray:
        """Observations per subject, shape (n_subjects,)."""
        return np.bincount(self.subject, minlength=n_subjects)


@dataclass(frozen=True, eq=False)
class Problem:
    """What MAP estimation needs: the subjects, what each was given, what was measured.

    covariates_known : False when the model uses no covariate and the data gave
    none (the cohort's weight and age are then placeholders, never read).
    """

    cohort: Cohort
    doses: Doses | SubjectDoses
    obs: Observations
    covariates_known: bool = True
    source: str = "data"


def read_problem(model: Model, data, cohort: Cohort | None = None) -> Problem:
    """Split `data` (DataFrame, CSV path or Dataset) into the cohort, its doses and its observations."""
    ds = read_dataset(
        data.table if isinstance(data, EventTable) else data,
        source=data.source if isinstance(data, EventTable) else None,
        sort=True,
    )
    frame, source = ds.table, ds.source
    col = {name.upper(): name for name in frame.columns}
    if "DV" not in col:
        raise ValueError(
            f"{source}: column DV is missing; expected ID, TIME, DV and the "
            "dose records (AMT, EVID, CMT, ...)"
        )
    number = {"TIME": ds.time_h, "DV": ds.dv}
    number.update({name: _numbers(frame, col[name], source) for name in ("BLQ", "LLOQ") if name in col})
    observation = ds.evid == 0
    dose = ds.is_dose | (ds.evid == 3)
    used = observation & (ds.mdv == 0)
    raw_ids = ds.ids[ds.subject]
    ids = pd.to_numeric(pd.Series(raw_ids), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(ids) & (ids == np.round(ids))))
    if bad.size:
        raise ValueError(
            f"{source} row {int(bad[0])}: ID is {plain(raw_ids[bad[0]])!r}; expected "
            "a whole-number subject ID"
        )
    ids = ids.astype(np.int64)
    number["ID"] = ids
    order = pd.unique(ids)  # order of first appearance
    cohort, known = _cohort(model, frame, col, ids, order, cohort, source)
    dosed = np.unique(ids[dose])
    undosed = np.setdiff1d(ids[used], dosed)
    if undosed.size:
        raise ValueError(
            f"{source}: ID {plain(undosed[0])} has observations but no dose record; "
            "expected doses (AMT > 0) before its observations"
        )
    events = _events(ds, ids, dose, source)
    doses = _all_doses(events, cohort, dosed)
    obs = _observations(model, number, used, cohort, source)
    return Problem(cohort=cohort, doses=doses, obs=obs, covariates_known=known, source=source)


def _numbers(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    text = np.flatnonzero(np.isnan(values) & raw.notna().to_numpy())
    if text.size:
        raise ValueError(
            f"{source} row {int(text[0])}, column {column} is {raw.iloc[text[0]]!r}; expected a number"
        )
    return values


def _cohort(model, frame, col, ids, order, cohort, source) -> tuple[Cohort, bool]:
    if cohort is not None:
        if not isinstance(cohort, Cohort):
            raise TypeError(
                f"cohort is a {type(cohort).__name__}; expected a Cohort (or None: "
                "covariates WT, AGE from the data)"
            )
        missing = np.setdiff1d(order, np.asarray(cohort.ids))
        extra = np.setdiff1d(np.asarray(cohort.ids), order)
        if missing.size or extra.size:
            which = (
                f"ID {plain(missing[0])} of the data is not in the cohort"
                if missing.size
                else f"cohort ID {plain(extra[0])} has no rows in the data"
            )
            raise ValueError(f"{source}: {which}; expected the same IDs in both")
        return cohort, True
    values = {}
    for field, names in _COVARIATE_COLUMNS.items():
        name = next((col[n] for n in names if n in col), None)
        if name is not None:
            values[field] = _per_id(frame, name, ids, order, source)
    if len(values) == len(_COVARIATE_COLUMNS):
        return Cohort(ids=order, weight_kg=values["weight_kg"], age_years=values["age_years"]), True
    if any(p.per_kg or p.covariates for p in model.parameters.values()):
        lacking = [names[0] for field, names in _COVARIATE_COLUMNS.items() if field not in values]
        raise ValueError(
            f"{source}: column {lacking[0]} is missing, and model {model.name!r} uses "
            "covariates (a per-kg unit or a covariate effect); expected columns WT "
            "(kg) and AGE (years), or cohort="
        )
    n = order.size
    return Cohort(
        ids=order,
        weight_kg=np.full(n, _PLACEHOLDER["weight_kg"]),
        age_years=np.full(n, _PLACEHOLDER["age_years"]),
    ), False


def _per_id(frame, name, ids, order, source) -> np.ndarray:
    """One value per ID (in `order`) of a covariate column that must not change within an ID."""
    values = _numbers(frame, name, source)
    table = pd.DataFrame({"ID": ids, "x": values}).dropna()
    spread = table.groupby("ID")["x"].agg(["min", "max"])
    varying = spread.index[spread["min"] != spread["max"]]
    if varying.size:
        raise ValueError(
            f"{source}: column {name} changes within ID {plain(varying[0])}; expected "
            "one value per ID (time-varying covariates come with the NONMEM data-set "
            "reader)"
        )
    absent = np.setdiff1d(order, spread.index.to_numpy())
    if absent.size:
        raise ValueError(
            f"{source}: column {name} has no value for ID {plain(absent[0])}; expected one per ID"
        )
    return spread["min"].reindex(order).to_numpy()


def _events(ds, ids, dose, source) -> EventTable | None:
    """The dose records (EVID 1, 3, 4) as an event table; CMT 1 (the depot) where not given."""
    if not dose.any():
        return None
    rows = pd.DataFrame(
        {
            "ID": ids[dose],
            "TIME": ds.time_h[dose],
            "AMT": ds.amt_mg[dose],
            "EVID": ds.evid[dose].astype(np.int64),
            "CMT": np.where(ds.cmt[dose] == 0, 1, ds.cmt[dose]).astype(np.int64),
            "II": ds.ii_h[dose],
            "ADDL": ds.addl[dose].astype(np.int64),
            "SS": ds.ss[dose].astype(np.int64),
            "RATE": ds.rate[dose],
        }
    )
    return EventTable(rows, source=f"{source} (dose records)")


def _all_doses(events: EventTable | None, cohort: Cohort, dosed: np.ndarray) -> Doses | SubjectDoses:
    """The cohort's doses (in cohort order; SubjectDoses where children dose at their own
    times); subjects without dose records get none."""
    n = len(cohort)
    if events is None:
        return Doses(time_h=np.zeros(1), amount_mg=np.zeros((n, 1)))
    if dosed.size == n:
        return events.doses(cohort)
    ids = np.asarray(cohort.ids)
    given = np.isin(ids, dosed)
    part = events.doses(
        Cohort(ids=ids[given], weight_kg=cohort.weight_kg[given], age_years=cohort.age_years[given])
    )
    if isinstance(part, SubjectDoses):
        return SubjectDoses.from_records(
            n,
            np.flatnonzero(given)[part.subject],
            part.time_h,
            part.amount_mg,
            **dict(zip(PER_DOSE, per_dose_fields(part))),
        )
    amount = np.zeros((n, part.time_h.size))
    amount[given] = part.amount_mg
    return Doses(
        time_h=part.time_h,
        amount_mg=amount,
        compartment=part.compartment,
        ss=part.ss,
        ii_h=part.ii_h,
        rate_mg_per_h=part.rate_mg_per_h,
    )


def _observations(model, number, used, cohort, source) -> Observations:
    rows = np.flatnonzero(used)
    ids, time, dv = number["ID"][rows], number["TIME"][rows], number["DV"][rows]
    blq = number["BLQ"][rows] == 1 if "BLQ" in number else np.zeros(rows.size, dtype=bool)
    lloq = number["LLOQ"][rows] if "LLOQ" in number else np.full(rows.size, np.nan)
    if "BLQ" not in number and "LLOQ" in number:
        blq = dv < lloq
    limit = np.where(blq & np.isfinite(lloq), lloq, dv)

    def refuse(bad, column, values, expected):
        where = np.flatnonzero(bad)
        if where.size:
            i = int(where[0])
            raise ValueError(
                f"{source} row {int(rows[i])}, ID {plain(ids[i])}: "
                f"{column} is {plain(values[i])!r}; expected {expected}"
            )

    refuse(~(np.isfinite(time) & (time >= 0)), "TIME", time, "a finite time >= 0 h")
    refuse(
        blq & ~(limit > 0),
        "LLOQ" if "LLOQ" in number else "DV",
        limit,
        "a limit of quantification > 0 mg/L on a BLQ record",
    )
    refuse(
        ~blq & np.isnan(dv),
        "DV",
        dv,
        "a concentration in mg/L on an observation record (or "
        "MDV = 1 to skip it, BLQ = 1 for a value below the limit)",
    )
    kind = None if model.residual_error is None else model.residual_error.kind
    if kind == "exponential":
        refuse(
            ~blq & (dv <= 0),
            "DV",
            dv,
            "a concentration > 0 mg/L with exponential error "
            "(its log is taken; BLQ = 1 for a value below the limit)",
        )
    if kind == "proportional":
        refuse(
            ~blq & (dv == 0),
            "DV",
            dv,
            "a concentration other than 0 with proportional error "
            "(a 0 is infinitely likely where the prediction is 0; BLQ = 1 for a value below the "
            "limit)",
        )
    negative = np.flatnonzero(~blq & (dv < 0))
    if negative.size:  # possible under normal error (an assay's noise), never a concentration
        shown = ", ".join(
            f"row {int(rows[i])} (ID {plain(ids[i])}, DV {plain(dv[i])!r})" for i in negative[:5]
        )
        more = f" and {negative.size - 5} more" if negative.size > 5 else ""
        warnings.warn(
            f"{source}: negative DV at {shown}{more}; kept in the likelihood (the model's "
            "normal residual error allows it); expected concentrations >= 0 mg/L (BLQ = 1 "
            "with LLOQ marks a value below the limit)",
            UserWarning,
            stacklevel=4,
        )
    subject = np.searchsorted(cohort.ids, ids, sorter=np.argsort(cohort.ids))
    subject = np.argsort(cohort.ids)[subject]
    order = np.lexsort((time, subject))
    return Observations(
        subject=subject[order], time_h=time[order], dv=limit[order], censored=blq[order], row=rows[order]
    )
