"""Observations and doses from a NONMEM-style frame: the estimation's one input adapter.

Until the NONMEM data-set reader lands (issue 15), `pk.read_events` reads dose
records only, so this module splits a frame (or CSV, '.' = missing) itself:

- observation rows: EVID 0, or with no EVID column the rows without an
  amount (AMT missing or 0); MDV = 1 rows are skipped;
- censored observations (M3): BLQ = 1 (the limit is LLOQ, or DV where there
  is no LLOQ column, as NONMEM data sets often hold it), or, with an LLOQ
  column and no BLQ column, DV < LLOQ;
- every other row (EVID 1, 3, 4; AMT > 0 without EVID) goes to `read_events`
  with EVID 1 and CMT 1 (the depot) where the frame has no such column;
  EVID 2 rows (other events) are dropped;
- covariates per ID from columns WT (kg) and AGE (years), or pass `cohort=`.

An observation at a dose time sees the concentration before that dose (the
engines' convention); issue 15 brings NONMEM's record order.
"""

import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import plain
from ..population.cohort import Cohort
from ..dosing.regimen import Doses
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
    doses: Doses
    obs: Observations
    covariates_known: bool = True
    source: str = "data"


def read_problem(model: Model, data, cohort: Cohort | None = None) -> Problem:
    """Split `data` (DataFrame or CSV path) into the cohort, its doses and its observations."""
    frame, source = _frame(data)
    col = {name.upper(): name for name in frame.columns}
    for name in ("ID", "TIME", "DV"):
        if name not in col:
            raise ValueError(f"{source}: column {name} is missing; expected ID, TIME, DV and the "
                             "dose records (AMT, EVID, CMT, ...)")
    number = {name: _numbers(frame, col[name], source) for name in
              ("ID", "TIME", "DV", "AMT", "EVID", "MDV", "BLQ", "LLOQ") if name in col}
    ids, amt = number["ID"], number.get("AMT", np.full(len(frame), np.nan))
    if "EVID" in number:
        observation = number["EVID"] == 0
        dose = np.isin(number["EVID"], (1, 3, 4))
    else:
        observation = ~(amt > 0)
        dose = ~observation
    used = observation & ~(number.get("MDV", np.zeros(len(frame))) == 1)
    if not np.all(np.isfinite(ids) & (ids == np.round(ids))):
        bad = int(np.flatnonzero(~(np.isfinite(ids) & (ids == np.round(ids))))[0])
        raise ValueError(f"{source} row {bad}: ID is {plain(frame[col['ID']].iloc[bad])!r}; expected "
                         "a whole-number subject ID")
    ids = ids.astype(np.int64)
    number["ID"] = ids
    order = pd.unique(ids)  # order of first appearance
    cohort, known = _cohort(model, frame, col, ids, order, cohort, source)
    dosed = np.unique(ids[dose])
    undosed = np.setdiff1d(ids[used], dosed)
    if undosed.size:
        raise ValueError(f"{source}: ID {plain(undosed[0])} has observations but no dose record; "
                         "expected doses (AMT > 0) before its observations")
    events = _events(frame, col, dose, source)
    doses = _all_doses(events, cohort, dosed)
    obs = _observations(model, number, used, cohort, source)
    return Problem(cohort=cohort, doses=doses, obs=obs, covariates_known=known, source=source)


def _frame(data) -> tuple[pd.DataFrame, str]:
    if isinstance(data, EventTable):
        return data.table, data.source
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True), "data"
    if isinstance(data, (str, os.PathLike)):
        return pd.read_csv(data, na_values=["."], skipinitialspace=True), os.fspath(data)
    raise TypeError(f"data is a {type(data).__name__}; expected a DataFrame or a path to a CSV file "
                    "with ID, TIME, DV and dose records")


def _numbers(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    text = np.flatnonzero(np.isnan(values) & raw.notna().to_numpy())
    if text.size:
        raise ValueError(f"{source} row {int(text[0])}, column {column} is "
                         f"{raw.iloc[text[0]]!r}; expected a number")
    return values


def _cohort(model, frame, col, ids, order, cohort, source) -> tuple[Cohort, bool]:
    if cohort is not None:
        if not isinstance(cohort, Cohort):
            raise TypeError(f"cohort is a {type(cohort).__name__}; expected a Cohort (or None: "
                            "covariates WT, AGE from the data)")
        missing = np.setdiff1d(order, cohort.ids)
        extra = np.setdiff1d(cohort.ids, order)
        if missing.size or extra.size:
            which = (f"ID {plain(missing[0])} of the data is not in the cohort" if missing.size
                     else f"cohort ID {plain(extra[0])} has no rows in the data")
            raise ValueError(f"{source}: {which}; expected the same IDs in both")
        return cohort, True
    values = {}
    for field, names in _COVARIATE_COLUMNS.items():
        name = next((col[n] for n in names if n in col), None)
        if name is not None:
            values[field] = _per_id(frame, name, ids, order, source)
    if len(values) == len(_COVARIATE_COLUMNS):
        return Cohort(ids=order, **values), True
    if any(p.per_kg or p.covariates for p in model.parameters.values()):
        lacking = [names[0] for field, names in _COVARIATE_COLUMNS.items() if field not in values]
        raise ValueError(f"{source}: column {lacking[0]} is missing, and model {model.name!r} uses "
                         "covariates (a per-kg unit or a covariate effect); expected columns WT "
                         "(kg) and AGE (years), or cohort=")
    n = order.size
    return Cohort(ids=order, **{k: np.full(n, v) for k, v in _PLACEHOLDER.items()}), False


def _per_id(frame, name, ids, order, source) -> np.ndarray:
    """One value per ID (in `order`) of a covariate column that must not change within an ID."""
    values = _numbers(frame, name, source)
    table = pd.DataFrame({"ID": ids, "x": values}).dropna()
    spread = table.groupby("ID")["x"].agg(["min", "max"])
    varying = spread.index[spread["min"] != spread["max"]]
    if varying.size:
        raise ValueError(f"{source}: column {name} changes within ID {plain(varying[0])}; expected "
                         "one value per ID (time-varying covariates come with the NONMEM data-set "
                         "reader)")
    absent = np.setdiff1d(order, spread.index.to_numpy())
    if absent.size:
        raise ValueError(f"{source}: column {name} has no value for ID {plain(absent[0])}; expected "
                         "one per ID")
    return spread["min"].reindex(order).to_numpy()


def _events(frame, col, dose, source) -> EventTable | None:
    if not dose.any():
        return None
    rows = frame.loc[dose, [col[c] for c in _DOSE_COLUMNS if c in col]]
    rows.columns = [c.upper() for c in rows.columns]
    if "EVID" not in rows:
        rows["EVID"] = 1
    if "CMT" not in rows:
        rows["CMT"] = 1  # NONMEM's default dose compartment, pkmodel's depot
    return EventTable(rows.reset_index(drop=True), source=f"{source} (dose records)")


def _all_doses(events: EventTable | None, cohort: Cohort, dosed: np.ndarray) -> Doses:
    """The cohort's doses (amount rows in cohort order); subjects without dose records get none."""
    n = len(cohort)
    if events is None:
        return Doses(time_h=np.zeros(1), amount_mg=np.zeros((n, 1)))
    if dosed.size == n:
        return events.doses(cohort)
    given = np.isin(cohort.ids, dosed)
    part = events.doses(Cohort(ids=cohort.ids[given], weight_kg=cohort.weight_kg[given],
                               age_years=cohort.age_years[given]))
    amount = np.zeros((n, part.time_h.size))
    amount[given] = part.amount_mg
    return Doses(time_h=part.time_h, amount_mg=amount, compartment=part.compartment, ss=part.ss,
                 ii_h=part.ii_h, rate_mg_per_h=part.rate_mg_per_h)


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
            raise ValueError(f"{source} row {int(rows[i])}, ID {plain(ids[i])}: "
                             f"{column} is {plain(values[i])!r}; expected {expected}")

    refuse(~(np.isfinite(time) & (time >= 0)), "TIME", time, "a finite time >= 0 h")
    refuse(blq & ~(limit > 0), "LLOQ" if "LLOQ" in number else "DV", limit,
           "a limit of quantification > 0 mg/L on a BLQ record")
    refuse(~blq & np.isnan(dv), "DV", dv, "a concentration in mg/L on an observation record (or "
           "MDV = 1 to skip it, BLQ = 1 for a value below the limit)")
    kind = None if model.residual_error is None else model.residual_error.kind
    if kind == "exponential":
        refuse(~blq & (dv <= 0), "DV", dv, "a concentration > 0 mg/L with exponential error "
               "(its log is taken; BLQ = 1 for a value below the limit)")
    if kind == "proportional":
        refuse(~blq & (dv == 0), "DV", dv, "a concentration other than 0 with proportional error "
               "(a 0 is infinitely likely where the prediction is 0; BLQ = 1 for a value below the "
               "limit)")
    negative = np.flatnonzero(~blq & (dv < 0))
    if negative.size:  # possible under normal error (an assay's noise), never a concentration
        shown = ", ".join(f"row {int(rows[i])} (ID {plain(ids[i])}, DV {plain(dv[i])!r})"
                          for i in negative[:5])
        more = f" and {negative.size - 5} more" if negative.size > 5 else ""
        warnings.warn(f"{source}: negative DV at {shown}{more}; kept in the likelihood (the model's "
                      "normal residual error allows it); expected concentrations >= 0 mg/L (BLQ = 1 "
                      "with LLOQ marks a value below the limit)", UserWarning, stacklevel=4)
    subject = np.searchsorted(cohort.ids, ids, sorter=np.argsort(cohort.ids))
    subject = np.argsort(cohort.ids)[subject]
    order = np.lexsort((time, subject))
    return Observations(subject=subject[order], time_h=time[order], dv=limit[order],
                        censored=blq[order], row=rows[order])
