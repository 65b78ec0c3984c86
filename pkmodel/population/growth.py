"""CDC 2000 growth charts (2-20 years): LMS transforms, z-scores, growing weights.

The LMS tables (`data/cdc2000_lms_2to20y.csv`, public-domain CDC data, see
`data/README.md`) give, by sex and age in months, the Box-Cox power L, the
median M and the coefficient of variation S of weight-for-age (kg) and
stature-for-age (cm) (the file's BMI-for-age rows are not used: BMI is
weight / height^2). A measurement at z-score z is M (1 + L S z)^(1/L), or
M exp(S z) when L = 0.

Between tabulated ages, L, M and S are interpolated linearly in age.

The upper tail of weight. With L < 0 the LMS weight curve runs to infinity at
z = 1/(|L| S), as low as z = 3.34 for girls of 17.5 y (L = -1.87, S = 0.160),
and is already 190 kg at z = 3 there: the WHO 2006 "restricted application of
the LMS method" (above z = 3, go on linearly with the step between z = 2 and
z = 3) would start from that. The CDC 2000 curves are published from the 3rd
to the 97th percentile (z = +/-1.88), and L, M, S were fitted to smoothed
percentiles in that range only (Ogden CL et al., "The 2000 CDC growth charts:
several insights after 8 years", Karger 2010; Flegal KM et al., Am J Clin
Nutr 2009, on extreme BMI): beyond it the LMS formula is extrapolation. So
above z = +2 (TAIL_FROM_Z) weight continues linearly in z with the step
between z = 1 and z = 2: the WHO construction applied one SD lower, from the
last point the published curves support. The heaviest weight this gives at
any age of the charts is below MAX_WEIGHT_KG (200 kg) for every z below 6.6,
a value a standard normal exceeds once in 6 x 10^10 draws
(tests/test_growth.py draws 10^6 children). Everywhere else, including weight
below z = -3 (where the curve stays positive and CP weight deficits lie) and
stature, the plain CDC LMS formulas apply.
"""

from functools import cache
from importlib.resources import files

import numpy as np
import pandas as pd

from .._checks import refuse_first

CHART_AGE_YEARS = (2.0, 20.0)  # the range every measure covers
HOURS_PER_YEAR = 24 * 365.25
MEASURES = ("weight_kg", "stature_cm")
TAIL_FROM_Z = 2.0  # weight goes on linearly above this z-score (module docstring)
MAX_WEIGHT_KG = 200.0  # the stated bound on chart weights: reached only beyond z = 6.6
_SEXES = ("male", "female")  # rows of the (2, n_ages) tables, as spelled in the CSV


def lms(measure: str, sex, age_years):
    """L, M, S of `measure` at each child's sex and age.

    Parameters
    ----------
    sex : array_like of "M"/"F"
    age_years : array_like, broadcastable with `sex`
        Within the chart (2 to 20 years).

    Returns
    -------
    L, M, S : ndarray, the broadcast shape of sex and age_years
        Linear interpolation in age between the tabulated ages.
    """
    months, table = _table(measure)
    female = _female(sex)
    age = np.asarray(age_years, dtype=float)
    lo, hi = months[0] / 12, months[-1] / 12
    refuse_first(
        np.ravel(~((age >= lo) & (age <= hi))),
        "age_years",
        np.ravel(age),
        f"an age within the CDC 2000 {measure} chart, {lo:g} to {hi:g} years",
    )
    female, age = np.broadcast_arrays(female, age)
    at = age * 12.0
    i = np.clip(np.searchsorted(months, at, side="right"), 1, months.size - 1)
    w = (at - months[i - 1]) / (months[i] - months[i - 1])
    upper = i + female * months.size  # flat index into a (2, n_ages) table
    lower = upper - 1
    return tuple(np.take(t, lower) + w * (np.take(t, upper) - np.take(t, lower)) for t in table)


def lms_value(z, L, M, S) -> np.ndarray:
    """Measurement at z-score `z`: M (1 + L S z)^(1/L), M exp(S z) when L = 0.

    Written as M exp(log1p(L S z) / L) so that it stays exact as L -> 0.
    NaN where 1 + L S z <= 0 (no measurement on the curve). All arguments
    broadcast together.
    """
    z, L, M, S = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (z, L, M, S)))
    zero = L == 0
    safe_l = np.where(zero, 1.0, L)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.where(zero, S * z, np.log1p(safe_l * S * z) / safe_l)
    return M * np.exp(log_ratio)


def lms_z(x, L, M, S) -> np.ndarray:
    """z-score of measurement `x`: ((x/M)^L - 1) / (L S), ln(x/M) / S when L = 0.

    Written as expm1(L ln(x/M)) / (L S), exact as L -> 0. The inverse of
    `lms_value`. All arguments broadcast together.
    """
    x, L, M, S = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (x, L, M, S)))
    zero = L == 0
    safe_l = np.where(zero, 1.0, L)
    log_ratio = np.log(x / M)
    return np.where(zero, log_ratio / S, np.expm1(safe_l * log_ratio) / (safe_l * S))


def measurement_at_z(measure: str, z, sex, age_years) -> np.ndarray:
    """`measure` (kg or cm) of children of `sex` and `age_years` at z-score `z`.

    Weight continues linearly above z = TAIL_FROM_Z (module docstring). All
    arguments broadcast together (scalars too); the result has their
    broadcast shape (a numpy scalar when all are scalars).
    """
    L, M, S, z = np.broadcast_arrays(*lms(measure, sex, age_years), np.asarray(z, dtype=float))
    refuse_first(np.ravel(~np.isfinite(z)), "z", np.ravel(z), "a finite z-score")
    x = np.array(lms_value(z, L, M, S), dtype=float, ndmin=0)
    high = _linear_tail(measure, z)
    if high.any():
        start, step = _tail_start_and_step(L[high], M[high], S[high])
        x[high] = start + (z[high] - TAIL_FROM_Z) * step
    refuse_first(
        np.ravel(~(x > 0)),
        "z",
        np.ravel(z),
        f"a z-score the CDC 2000 {measure} curve reaches (1 + L S z > 0)",
    )
    return x[()]


def z_score(measure: str, x, sex, age_years) -> np.ndarray:
    """CDC 2000 z-score of `measure` values `x` (kg or cm); inverse of `measurement_at_z`."""
    L, M, S, x = np.broadcast_arrays(*lms(measure, sex, age_years), np.asarray(x, dtype=float))
    refuse_first(np.ravel(~(np.isfinite(x) & (x > 0))), measure, np.ravel(x), "a finite value > 0")
    z = np.array(lms_z(x, L, M, S), dtype=float, ndmin=0)
    high = _linear_tail(measure, z)
    if high.any():
        start, step = _tail_start_and_step(L[high], M[high], S[high])
        z[high] = TAIL_FROM_Z + (x[high] - start) / step
    return z[()]


def _linear_tail(measure: str, z: np.ndarray) -> np.ndarray:
    """Where `measure` leaves the LMS curve: weight above TAIL_FROM_Z (module docstring)."""
    return z > TAIL_FROM_Z if measure == "weight_kg" else np.zeros(z.shape, dtype=bool)


def _tail_start_and_step(L, M, S):
    """The measurement at z = 2 and its rise from z = 1: the line weight goes on along above z = 2."""
    start = lms_value(TAIL_FROM_Z, L, M, S)
    return start, start - lms_value(TAIL_FROM_Z - 1.0, L, M, S)


def weight_trajectory(cohort, times_h) -> np.ndarray:
    """Each child's weight over time when it keeps its own weight-for-age z-score.

    Child i at time t is `cohort.age_years[i] + t / 8766` years old (365.25-day
    years) and weighs `measurement_at_z("weight_kg", cohort.weight_z[i], ...)`.
    At t = 0 this is `cohort.weight_kg`.

    Parameters
    ----------
    cohort : Cohort
        With sex and weight_z (e.g. from `Cohort.from_growth_charts`).
    times_h : array_like, shape (n_times,)
        Finite times >= 0, h.

    Returns
    -------
    ndarray, shape (n_subjects, n_times)
        Weight, kg.
    """
    if cohort.weight_z is None or cohort.sex is None:
        raise ValueError(
            "weight_trajectory needs a cohort with sex and weight_z (from "
            "Cohort.from_growth_charts, or Cohort.from_frame with a sex column)"
        )
    t = np.array(times_h, dtype=float, ndmin=1)
    if t.ndim != 1:
        raise ValueError(f"times_h has shape {t.shape}; expected a 1-D array of hours")
    refuse_first(~(np.isfinite(t) & (t >= 0)), "times_h", t, "a finite time >= 0 h")
    ages = cohort.age_years[:, None] + t[None, :] / HOURS_PER_YEAR
    return measurement_at_z("weight_kg", cohort.weight_z[:, None], cohort.sex[:, None], ages)


def _female(sex) -> np.ndarray:
    """Boolean array: True for "F", False for "M"; anything else refused."""
    sex = np.asarray(sex, dtype=object)
    female = sex == "F"
    refuse_first(np.ravel(~(female | (sex == "M"))), "sex", np.ravel(sex), "'M' or 'F'")
    return female


@cache
def _table(measure: str):
    """Tabulated ages (months) and L, M, S tables, each shape (2, n_ages): row 0 male, 1 female."""
    if measure not in MEASURES:
        raise ValueError(f"measure is {measure!r}; expected one of {MEASURES}")
    frame = _lms_frame()
    rows = {
        sex: frame[(frame["measure"] == measure) & (frame["sex"] == sex)].sort_values("age_months")
        for sex in _SEXES
    }
    months = rows["male"]["age_months"].to_numpy()
    if not np.array_equal(months, rows["female"]["age_months"].to_numpy()):
        raise ValueError(
            f"cdc2000_lms_2to20y.csv: {measure} is tabulated at different ages "
            "for the two sexes; expected the same ages"
        )
    tables = []
    for column in "LMS":
        table = np.stack([rows[sex][column].to_numpy() for sex in _SEXES])
        table.flags.writeable = False
        tables.append(table)
    months.flags.writeable = False
    return months, tuple(tables)


@cache
def _lms_frame() -> pd.DataFrame:
    with files("pkmodel").joinpath("data", "cdc2000_lms_2to20y.csv").open() as f:
        return pd.read_csv(f)
