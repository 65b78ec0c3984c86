"""Virtual cohorts: the children simulated and their covariates."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

import numpy as np
import pandas as pd

from . import growth
from .._checks import ID_PROBLEMS, integer_ids, is_number, numbers, plain, readonly, refuse_first, refuse_masked
from .variability import seed_entropy

_SEXES = ("M", "F")
# SeedSequence spawn key of the cohort's draws, apart from variability's streams (0, 1, ...)
_COHORT_STREAM = 101
# from_frame: each field, the column names it may go by, and the factor to the field's unit
_SPELLINGS = {
    "id": {"id": None},
    "age_years": {"age_years": 1.0, "age_months": 1 / 12},
    "sex": {"sex": None},
    "weight_kg": {"weight_kg": 1.0, "weight_g": 1e-3, "weight_lb": 0.45359237},
    "height_cm": {"height_cm": 1.0, "height_m": 100.0, "height_mm": 0.1, "height_in": 2.54},
    "gmfcs": {"gmfcs": None},
}
_REQUIRED = ("age_years", "weight_kg")
# Bounds no person passes, so that a number in another unit (g for kg, m or mm for cm) is
# refused rather than simulated: heaviest recorded ~635 kg, oldest 122 y, an extremely
# preterm newborn ~25 cm, the tallest 272 cm; the lightest newborns who survive weigh
# about 0.2 kg (a weight in tonnes is 1000 times smaller).
MAX_WEIGHT_KG = 650.0
MIN_WEIGHT_KG = 0.2
MAX_AGE_YEARS = 125.0
HEIGHT_RANGE_CM = (20.0, 300.0)
# GMFCS levels I-V of children with CP: the mean proportions over nine population CP
# registries, 34.2, 25.6, 11.5, 13.7 and 15.6 % (Reid SM, Carlin JB, Reddihough DS. Dev Med
# Child Neurol 2011;53:1007-12); as published they sum to 100.6 %, so they are normalised.
# Registries count every child with CP, not only those given baclofen. gmfcs="registry".
REGISTRY_GMFCS_PERCENT = (34.2, 25.6, 11.5, 13.7, 15.6)
GMFCS_MIX = MappingProxyType({level: p / sum(REGISTRY_GMFCS_PERCENT)
                              for level, p in enumerate(REGISTRY_GMFCS_PERCENT, 1)})
# GMFCS proportions are normalised when they sum to 1 within this (published percentages are
# rounded, or means over registries: Reid 2011's sum to 1.006); further off is refused.
GMFCS_SUM_TOLERANCE = 0.01
# A weight-for-age z shift beyond this moves the cohort's median child outside -6 to +5, the
# z-scores the WHO growth standards flag as biologically implausible (Ruiz Brunner 2022's
# offsets are -0.571 and -1.751, Krick 1996's -2.4).
MAX_WEIGHT_Z_SHIFT = 5.0


@dataclass(frozen=True, eq=False)
class Cohort:
    """Children to simulate: one entry per child in every array.

    Parameters
    ----------
    weight_kg : array_like, shape (n_subjects,)
        Body weight, kg.
    age_years : array_like, shape (n_subjects,)
        Age, years.
    sex : array_like of "M"/"F", shape (n_subjects,), optional
    ids : array_like of int, shape (n_subjects,), optional
        Subject IDs, what event tables join on; default 1..n (NONMEM convention).
    height_cm : array_like, shape (n_subjects,), optional
        Height (stature), cm.
    weight_z : array_like, shape (n_subjects,), optional
        CDC 2000 weight-for-age z-score of each child's weight (needs sex and
        ages of 2-20 years; checked against `growth.z_score` to 1e-8).
    gmfcs : array_like of int 1-5, shape (n_subjects,), optional
        Gross Motor Function Classification System level.
    covariates : mapping {name: array_like, shape (n_subjects,)}, optional
        Further covariates a model may use, e.g. a genotype
        ({"abcc9_rs11046232": ["AT", "TT", ...]}); add with `with_covariates`.

    `to_frame()` has the columns id, age_years, sex, weight_kg, height_cm,
    bmi_kg_m2, weight_z, gmfcs in that order, each only when the cohort knows
    it (bmi_kg_m2 comes with height_cm), then the further covariates.
    """

    weight_kg: np.ndarray
    age_years: np.ndarray
    sex: np.ndarray | None = None
    ids: np.ndarray | None = None
    height_cm: np.ndarray | None = None
    weight_z: np.ndarray | None = None
    gmfcs: np.ndarray | None = None
    covariates: Mapping[str, np.ndarray] | None = None

    def __post_init__(self):
        for f in fields(self):
            refuse_masked(f"Cohort.{f.name}", getattr(self, f.name))
        for name, values in (self.covariates or {}).items():
            refuse_masked(f"Cohort.covariates[{name!r}]", values)
        weight = _finite_vector("weight_kg", self.weight_kg)
        age = _finite_vector("age_years", self.age_years)
        n = weight.shape[0]
        if n == 0:
            raise ValueError("Cohort.weight_kg is empty; expected at least one child")
        _same_length("age_years", age, n)
        refuse_first(~(weight > 0), "Cohort.weight_kg", weight, "a weight > 0 kg")
        refuse_first(weight < MIN_WEIGHT_KG, "Cohort.weight_kg", weight,
                     f"a weight in kg, at least {MIN_WEIGHT_KG:g} (the lightest newborns who "
                     "survive; a weight in tonnes is 1000 times smaller)")
        refuse_first(weight > MAX_WEIGHT_KG, "Cohort.weight_kg", weight,
                     f"a weight in kg, at most {MAX_WEIGHT_KG:g} (a weight in g is 1000 times larger)")
        refuse_first(~(age >= 0), "Cohort.age_years", age, "an age >= 0 years")
        refuse_first(age > MAX_AGE_YEARS, "Cohort.age_years", age,
                     f"an age in years, at most {MAX_AGE_YEARS:g}")
        object.__setattr__(self, "weight_kg", readonly(weight))
        object.__setattr__(self, "age_years", readonly(age))
        if self.sex is not None:
            sex = np.array(self.sex, dtype=object, ndmin=1)
            _same_length("sex", sex, n)
            refuse_first(~np.isin(sex, _SEXES), "Cohort.sex", sex, "'M' or 'F'")
            object.__setattr__(self, "sex", readonly(sex, dtype=object))
        ids = self._checked_ids(n)
        if self.ids is not None and np.unique(ids).size != n:  # 1..n are unique
            values, counts = np.unique(ids, return_counts=True)
            raise ValueError(f"Cohort.ids repeats {plain(values[counts > 1][0])}; expected unique IDs")
        object.__setattr__(self, "ids", readonly(ids, dtype=np.int64))
        if self.height_cm is not None:
            height = _finite_vector("height_cm", self.height_cm)
            _same_length("height_cm", height, n)
            refuse_first(~(height > 0), "Cohort.height_cm", height, "a height > 0 cm")
            low, high = HEIGHT_RANGE_CM
            refuse_first((height < low) | (height > high), "Cohort.height_cm", height,
                         f"a height in cm, {low:g} to {high:g} (in m it is 100 times smaller)")
            object.__setattr__(self, "height_cm", readonly(height))
        if self.gmfcs is not None:
            numbers("Cohort.gmfcs", self.gmfcs, "a GMFCS level 1, 2, 3, 4 or 5")  # no True
            gmfcs = np.array(self.gmfcs, ndmin=1)
            _same_length("gmfcs", gmfcs, n)
            refuse_first(~np.isin(gmfcs, growth.GMFCS_LEVELS), "Cohort.gmfcs", gmfcs,
                         "a GMFCS level 1, 2, 3, 4 or 5")
            object.__setattr__(self, "gmfcs", readonly(gmfcs, dtype=np.int64))
        if self.weight_z is not None:
            object.__setattr__(self, "weight_z", readonly(self._checked_weight_z(n)))
        extra = {}
        for name, values in (self.covariates or {}).items():
            if name in _FIELDS:
                raise ValueError(f"Cohort.covariates has {name!r}; expected a name other than the "
                                 f"cohort's own fields {sorted(_FIELDS)} (give it as {name}=...)")
            arr = np.array(values, ndmin=1)
            _same_length(f"covariates[{name!r}]", arr, n)
            extra[name] = readonly(arr, dtype=arr.dtype)
        object.__setattr__(self, "covariates", MappingProxyType(extra))

    def _checked_ids(self, n: int) -> np.ndarray:
        """IDs as int64, exactly (1..n by default): never rounded, wrapped or read from True/False."""
        if self.ids is None:
            return np.arange(1, n + 1)
        given = np.array(self.ids, ndmin=1)
        _same_length("ids", given, n)
        ids, problem = integer_ids(self.ids)
        if problem.any():
            i = int(np.flatnonzero(problem)[0])
            if problem[i] == 1:
                raise ValueError(f"Cohort.ids has dtype {given.dtype}; expected integers")
            value = np.array(self.ids, dtype=object, ndmin=1).ravel()[i]
            raise ValueError(f"Cohort.ids[{i}] is {plain(value)!r}; expected "
                             f"{ID_PROBLEMS[problem[i]]}")
        return ids

    def with_covariates(self, **values) -> "Cohort":
        """The same children with further covariates (one value per child each)."""
        return replace(self, covariates={**self.covariates, **values})

    def _checked_weight_z(self, n: int) -> np.ndarray:
        z = _finite_vector("weight_z", self.weight_z)
        _same_length("weight_z", z, n)
        if self.sex is None:
            raise ValueError("Cohort.weight_z is given without sex; expected sex too (the CDC 2000 "
                             "weight-for-age z-score depends on it)")
        expected = growth.z_score("weight_kg", self.weight_kg, self.sex, self.age_years)
        bad = np.flatnonzero(~(np.abs(z - expected) <= 1e-8))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"Cohort.weight_z[{i}] is {plain(z[i])!r}; expected {plain(expected[i])!r}, "
                             f"the CDC 2000 weight-for-age z-score of weight_kg[{i}] (pass "
                             "weight_z=None when changing weights)")
        return z

    def __len__(self) -> int:
        return self.weight_kg.shape[0]

    @property
    def bmi_kg_m2(self) -> np.ndarray | None:
        """Body mass index, weight / height^2, kg/m2, shape (n_subjects,); None without height."""
        return None if self.height_cm is None else self.weight_kg / (self.height_cm / 100.0) ** 2

    def to_frame(self) -> pd.DataFrame:
        """One row per child: id, age_years, sex, weight_kg, height_cm, bmi_kg_m2, weight_z, gmfcs.

        A column is left out when the cohort does not know it.
        """
        columns = {"id": self.ids, "age_years": self.age_years}
        if self.sex is not None:
            columns["sex"] = self.sex
        columns["weight_kg"] = self.weight_kg
        if self.height_cm is not None:
            columns["height_cm"] = self.height_cm
            columns["bmi_kg_m2"] = self.bmi_kg_m2
        if self.weight_z is not None:
            columns["weight_z"] = self.weight_z
        if self.gmfcs is not None:
            columns["gmfcs"] = self.gmfcs
        columns.update(self.covariates)
        return pd.DataFrame(columns)

    @classmethod
    def from_growth_charts(cls, n: int, age_years=(2, 17), sex_ratio: float = 0.5, seed: int | None = None,
                           gmfcs=None, weight_z_shift=None, height_weight_corr: float = 0.7) -> "Cohort":
        """Children drawn from the CDC 2000 growth charts, optionally with cerebral palsy.

        Each child: age uniform in `age_years` (or drawn from a distribution),
        sex "M" with probability `sex_ratio`, and a height-for-age and a
        weight-for-age z-score, standard normal with correlation
        `height_weight_corr`; the weight z-score is then shifted by
        `weight_z_shift`. Height and weight are the chart's values at those
        z-scores (`pkmodel.population.growth`).

        Parameters
        ----------
        n : int
            Children, >= 1.
        age_years : (youngest, oldest) or a scipy.stats frozen distribution
            Years, within the charts (2 to 20 years). A distribution is drawn
            with its `rvs(size=n, random_state=...)`.
        sex_ratio : float
            Probability of a boy, 0 to 1.
        seed : int, optional
            Same seed, same cohort; age, sex, z-scores and GMFCS level each come
            from their own stream, so changing `gmfcs` or `weight_z_shift` keeps
            the same children (ages, sexes, heights).
        gmfcs : int 1-5, "registry", or proportions over levels, optional
            One level for every child; "registry", the mean mix of nine CP
            registries (Reid 2011, `GMFCS_MIX`); {level: proportion} (absent
            levels 0) or five proportions for levels 1-5, summing to 1 within
            GMFCS_SUM_TOLERANCE (0.01) and then normalised, so published
            rounded percentages (Reid's 0.342 ... summing to 1.006) are taken
            as they are printed.
        weight_z_shift : float or mapping, optional
            Added to the weight-for-age z-score: a number for every child,
            {GMFCS level: shift}, or {"M": shift, "F": shift}. Default: with
            `gmfcs`, the published offsets by level (Ruiz Brunner et al., Sci
            Rep 2022: -0.571 for GMFCS I-II, -1.751 for III-V;
            `data/gmfcs_weight_z.toml`), else 0. These are regression offsets,
            not validated GMFCS growth charts; Krick et al. 1996 (quadriplegic
            CP) is the alternative {"M": -2.4, "F": -2.1}. At most
            MAX_WEIGHT_Z_SHIFT (5) either way.
        height_weight_corr : float
            Correlation of the height and weight z-scores (within a GMFCS
            level), -1 to 1.
        """
        where = "Cohort.from_growth_charts"
        if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1):
            raise ValueError(f"{where}: n is {n!r}; expected a whole number of children >= 1")
        _number_between(where, "sex_ratio", sex_ratio, 0, 1)
        _number_between(where, "height_weight_corr", height_weight_corr, -1, 1)
        root = np.random.SeedSequence(seed_entropy(seed), spawn_key=(_COHORT_STREAM,))
        age_rng, sex_rng, z_rng, gmfcs_rng = (np.random.default_rng(s) for s in root.spawn(4))
        age = _draw_ages(where, age_years, n, age_rng)
        sex = np.where(sex_rng.random(n) < sex_ratio, "M", "F").astype(object)
        levels = _draw_gmfcs(where, gmfcs, n, gmfcs_rng)
        shift = _weight_z_shift(where, weight_z_shift, levels, sex)
        z_height, independent = z_rng.standard_normal((2, n))
        rho = float(height_weight_corr)
        z_weight = rho * z_height + math.sqrt(1.0 - rho * rho) * independent + shift
        weight = growth.measurement_at_z("weight_kg", z_weight, sex, age)
        return cls(weight_kg=weight, age_years=age,
                   sex=sex, height_cm=growth.measurement_at_z("stature_cm", z_height, sex, age),
                   weight_z=z_weight, gmfcs=levels)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, columns: Mapping[str, str] | None = None) -> "Cohort":
        """A cohort from a covariate table, one row per child.

        Reads id, age_years, sex ("M"/"F"), weight_kg, height_cm and gmfcs
        (age and weight required); other columns are ignored, and weight_z is
        computed from the CDC 2000 chart when sex is given and every age is
        2-20 years. A column may also be named with another unit, converted:
        weight_g, weight_lb (0.45359237 kg), height_m, height_mm, height_in
        (2.54 cm), age_months; other units are refused.

        Parameters
        ----------
        frame : DataFrame
        columns : {field: column name}, optional
            Where each field is, when the table names it otherwise; the field
            may carry a unit, e.g. {"weight_lb": "WT", "age_years": "AGE"}.
        """
        where = "Cohort.from_frame"
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{where}: frame is a {type(frame).__name__}; expected a pandas DataFrame")
        columns = dict(columns or {})
        accepted = [spelling for spellings in _SPELLINGS.values() for spelling in spellings]
        unknown = [key for key in columns if key not in accepted]
        if unknown:
            raise ValueError(f"{where}: columns has key {unknown[0]!r}; expected some of {accepted}")
        values = {}
        for field, spellings in _SPELLINGS.items():
            found = _find_column(where, frame, columns, field, spellings)
            if found is not None:
                spelling, name = found
                repeats = int(np.count_nonzero(frame.columns == name))
                if repeats > 1:
                    raise ValueError(f"{where}: the table has {repeats} columns named {name!r}; "
                                     f"expected one ({field})")
                factor = spellings[spelling]
                values[field] = frame[name].to_numpy() if factor is None else \
                    _numbers(where, name, frame[name]) * factor
        cohort = cls(weight_kg=values["weight_kg"], age_years=values["age_years"], sex=values.get("sex"),
                     ids=values.get("id"), height_cm=values.get("height_cm"), gmfcs=values.get("gmfcs"))
        lo, hi = growth.CHART_AGE_YEARS
        if cohort.sex is None or not np.all((cohort.age_years >= lo) & (cohort.age_years <= hi)):
            return cohort
        return replace(cohort, weight_z=growth.z_score("weight_kg", cohort.weight_kg, cohort.sex,
                                                       cohort.age_years))


def _finite_vector(name: str, values) -> np.ndarray:
    arr = numbers(f"Cohort.{name}", values)
    if arr.ndim != 1:
        raise ValueError(f"Cohort.{name} has shape {arr.shape}; expected one value per child")
    refuse_first(~np.isfinite(arr), f"Cohort.{name}", arr, "a finite number")
    return arr


def _same_length(name: str, arr: np.ndarray, n: int) -> None:
    if arr.shape != (n,):
        raise ValueError(f"Cohort.{name} has {arr.shape[0] if arr.ndim else 1} values; expected "
                         f"{n}, one per child (as weight_kg)")


def _number_between(where: str, name: str, value, lo: float, hi: float) -> None:
    if not (is_number(value) and lo <= value <= hi):
        raise ValueError(f"{where}: {name} is {value!r}; expected a number from {lo:g} to {hi:g}")


def _draw_ages(where: str, age_years, n: int, rng: np.random.Generator) -> np.ndarray:
    """Ages, years, shape (n,): uniform in (youngest, oldest), or from a scipy.stats distribution."""
    lo, hi = growth.CHART_AGE_YEARS
    chart = f"the CDC 2000 growth charts' range, {lo:g} to {hi:g} years"
    if hasattr(age_years, "rvs"):
        ages = np.asarray(age_years.rvs(size=n, random_state=rng), dtype=float).reshape(n)
        refuse_first(~((ages >= lo) & (ages <= hi)), f"{where}: drawn age_years", ages,
                     f"an age within {chart}")
        return ages
    if not (isinstance(age_years, (tuple, list)) and len(age_years) == 2 and all(map(is_number, age_years))
            and lo <= age_years[0] <= age_years[1] <= hi):
        raise ValueError(f"{where}: age_years is {age_years!r}; expected (youngest, oldest) within "
                         f"{chart}, or a scipy.stats distribution")
    return rng.uniform(float(age_years[0]), float(age_years[1]), n)


def _draw_gmfcs(where: str, gmfcs, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """GMFCS level per child, shape (n,) of int: one level, or drawn from proportions."""
    levels = growth.GMFCS_LEVELS
    if gmfcs is None:
        return None
    if isinstance(gmfcs, str):
        if gmfcs != "registry":
            raise ValueError(f"{where}: gmfcs is {gmfcs!r}; expected 'registry' (Reid 2011's mix), "
                             "a level 1-5, {level: proportion} or five proportions for levels 1-5")
        gmfcs = GMFCS_MIX
    if is_number(gmfcs):
        if gmfcs not in levels:
            raise ValueError(f"{where}: gmfcs is {gmfcs!r}; expected a GMFCS level 1, 2, 3, 4 or 5, "
                             "or proportions over levels")
        return np.full(n, int(gmfcs), dtype=np.int64)
    if isinstance(gmfcs, Mapping):
        outside = [level for level in gmfcs if level not in levels]
        if outside:
            raise ValueError(f"{where}: gmfcs has level {outside[0]!r}; expected GMFCS levels 1 to 5")
        shares = [gmfcs.get(level, 0.0) for level in levels]
    elif isinstance(gmfcs, (list, tuple, np.ndarray)) and len(gmfcs) == len(levels):
        shares = list(gmfcs)
    else:
        raise ValueError(f"{where}: gmfcs is {gmfcs!r}; expected a level 1-5, 'registry', "
                         "{level: proportion} or five proportions for levels 1-5")
    refuse_first([not (is_number(p) and p >= 0) for p in shares], f"{where}: gmfcs proportion of level",
                 shares, "a number >= 0 (index 0 is level 1)")
    total = float(np.sum(shares))
    if not abs(total - 1.0) <= GMFCS_SUM_TOLERANCE:
        hint = " (percentages? divide them by 100)" if 99 <= total <= 101 else ""
        raise ValueError(f"{where}: gmfcs proportions sum to {total:g}; expected 1, within "
                         f"{GMFCS_SUM_TOLERANCE:g} (then normalised){hint}")
    return rng.choice(np.array(levels, dtype=np.int64), size=n, p=np.asarray(shares, dtype=float) / total)


def _weight_z_shift(where: str, weight_z_shift, levels: np.ndarray | None, sex: np.ndarray):
    """The weight-for-age z shift of each child: a number, or ndarray shape (n,)."""
    if weight_z_shift is None:
        if levels is None:
            return 0.0
        weight_z_shift = growth.gmfcs_weight_z_shifts()
    elif is_number(weight_z_shift):
        _z_shift(where, "weight_z_shift", weight_z_shift)
        return float(weight_z_shift)
    elif not isinstance(weight_z_shift, Mapping):
        raise ValueError(f"{where}: weight_z_shift is {weight_z_shift!r}; expected a number, "
                         "{GMFCS level: shift} or {'M': shift, 'F': shift}")
    for key, value in weight_z_shift.items():
        _z_shift(where, f"weight_z_shift[{key!r}]", value)
    if set(weight_z_shift) == set(_SEXES):
        return np.where(sex == "M", float(weight_z_shift["M"]), float(weight_z_shift["F"]))
    if not set(weight_z_shift) <= set(growth.GMFCS_LEVELS):
        raise ValueError(f"{where}: weight_z_shift has keys {list(weight_z_shift)}; expected GMFCS "
                         "levels 1-5, or both sexes 'M' and 'F'")
    if levels is None:
        raise ValueError(f"{where}: weight_z_shift is given by GMFCS level but gmfcs is None; "
                         "expected gmfcs too")
    by_level = np.full(max(growth.GMFCS_LEVELS) + 1, np.nan)
    for level, value in weight_z_shift.items():
        by_level[level] = value
    missing = np.unique(levels[np.isnan(by_level[levels])])
    if missing.size:
        raise ValueError(f"{where}: weight_z_shift has no shift for GMFCS level {plain(missing[0])}; "
                         "expected one for every level drawn")
    return by_level[levels]


def _z_shift(where: str, name: str, value) -> None:
    if not (is_number(value) and abs(value) <= MAX_WEIGHT_Z_SHIFT):
        raise ValueError(f"{where}: {name} is {value!r}; expected a shift of the weight-for-age "
                         f"z-score from -{MAX_WEIGHT_Z_SHIFT:g} to +{MAX_WEIGHT_Z_SHIFT:g} (a difference "
                         "in z, not a weight; the WHO flags weight-for-age z-scores below -6 or "
                         "above +5 as implausible)")


def _find_column(where: str, frame: pd.DataFrame, columns: dict, field: str, spellings: dict):
    """(spelling, column name) of `field` in `frame`, or None if the table has none."""
    mapped = [spelling for spelling in spellings if spelling in columns]
    if len(mapped) > 1:
        raise ValueError(f"{where}: columns names both {mapped[0]!r} and {mapped[1]!r}; expected "
                         f"one spelling of {field}")
    if mapped:
        name = columns[mapped[0]]
        if name not in frame.columns:
            raise ValueError(f"{where}: columns maps {mapped[0]!r} to {name!r}, which the table does "
                             f"not have; its columns are {list(frame.columns)}")
        return mapped[0], name
    present = [spelling for spelling in spellings if spelling in frame.columns]
    if len(present) > 1:
        raise ValueError(f"{where}: the table has both {present[0]!r} and {present[1]!r}; expected "
                         "one (or choose with columns=)")
    if present:
        return present[0], present[0]
    if field not in _REQUIRED:
        return None
    stem = field.split("_")[0] + "_"
    units = ", ".join(spelling.removeprefix(stem) for spelling in spellings)
    found = [c for c in frame.columns if isinstance(c, str) and c.startswith(stem)]
    hint = f" (found {found[0]!r}: pkmodel converts {stem}{{{units}}} only)" if found else ""
    raise ValueError(f"{where}: the table has no {field} column{hint}; its columns are "
                     f"{list(frame.columns)}; name yours with columns={{{field!r}: ...}}")


def _numbers(where: str, name: str, column: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    refuse_first(np.isnan(numbers) & column.notna().to_numpy(), f"{where}: column {name!r}",
                 column.to_numpy(), "a number")
    return numbers


_FIELDS = frozenset(f.name for f in fields(Cohort)) | {"bmi_kg_m2"}
