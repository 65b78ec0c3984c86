"""Virtual cohorts: the children simulated and their covariates."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

import numpy as np
import pandas as pd

from . import growth
from .._checks import (
    ID_PROBLEMS,
    integer_ids,
    is_number,
    numbers,
    plain,
    readonly,
    refuse_first,
    refuse_masked,
)
from .. import _display
from ._draws import MAX_WEIGHT_Z_SHIFT, _SEXES, _draw_ages, _weight_z_shift  # noqa: F401  (the bound, public here too)
from ._table import _SPELLINGS, _find_column, _numbers
from .covariates import _RULES
from .variability import seed_entropy

# SeedSequence spawn key of the cohort's draws, apart from variability's streams (0, 1, ...)
_COHORT_STREAM = 101
# Bounds no person passes, so that a number in another unit (g for kg, m or mm for cm) is
# refused rather than simulated: heaviest recorded ~635 kg, oldest 122 y, an extremely
# preterm newborn ~25 cm, the tallest 272 cm; the lightest newborns who survive weigh
# about 0.2 kg (a weight in tonnes is 1000 times smaller).
MAX_WEIGHT_KG = 650.0
MIN_WEIGHT_KG = 0.2
MAX_AGE_YEARS = 125.0
HEIGHT_RANGE_CM = (20.0, 300.0)


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
    covariates : mapping {name: array_like, shape (n_subjects,)}, optional
        Further covariates a model may use by name, e.g. the GMFCS level
        ({"gmfcs": [3, 4, ...]}, checked by `pkmodel.population.cerebral_palsy`) or a
        genotype ({"abcc9_rs11046232": ["AT", "TT", ...]}); add with `with_covariates`.

    `to_frame()` has the columns id, age_years, sex, weight_kg, height_cm,
    bmi_kg_m2, weight_z in that order, each only when the cohort knows it
    (bmi_kg_m2 comes with height_cm), then the covariates.
    """

    weight_kg: np.ndarray
    age_years: np.ndarray
    sex: np.ndarray | None = None
    ids: np.ndarray | None = None
    height_cm: np.ndarray | None = None
    weight_z: np.ndarray | None = None
    covariates: Mapping[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        return _display.text(_display.cohort(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.cohort(self))

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
        refuse_first(
            weight < MIN_WEIGHT_KG,
            "Cohort.weight_kg",
            weight,
            f"a weight in kg, at least {MIN_WEIGHT_KG:g} (the lightest newborns who "
            "survive; a weight in tonnes is 1000 times smaller)",
        )
        refuse_first(
            weight > MAX_WEIGHT_KG,
            "Cohort.weight_kg",
            weight,
            f"a weight in kg, at most {MAX_WEIGHT_KG:g} (a weight in g is 1000 times larger)",
        )
        refuse_first(~(age >= 0), "Cohort.age_years", age, "an age >= 0 years")
        refuse_first(
            age > MAX_AGE_YEARS, "Cohort.age_years", age, f"an age in years, at most {MAX_AGE_YEARS:g}"
        )
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
            refuse_first(
                (height < low) | (height > high),
                "Cohort.height_cm",
                height,
                f"a height in cm, {low:g} to {high:g} (in m it is 100 times smaller)",
            )
            object.__setattr__(self, "height_cm", readonly(height))
        if self.weight_z is not None:
            object.__setattr__(self, "weight_z", readonly(self._checked_weight_z(n)))
        extra = {}
        for name, values in (self.covariates or {}).items():
            if name in _FIELDS:
                raise ValueError(
                    f"Cohort.covariates has {name!r}; expected a name other than the "
                    f"cohort's own fields {sorted(_FIELDS)} (give it as {name}=...)"
                )
            if name in _RULES:
                extra[name] = _RULES[name].check(f"Cohort.covariates[{name!r}]", values, n)
                continue
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
            raise ValueError(f"Cohort.ids[{i}] is {plain(value)!r}; expected {ID_PROBLEMS[problem[i]]}")
        return ids

    def with_covariates(self, **values) -> "Cohort":
        """The same children with further covariates (one value per child each)."""
        assert self.covariates is not None  # Cohort.__post_init__ sets it
        return replace(self, covariates={**self.covariates, **values})

    def _checked_weight_z(self, n: int) -> np.ndarray:
        z = _finite_vector("weight_z", self.weight_z)
        _same_length("weight_z", z, n)
        if self.sex is None:
            raise ValueError(
                "Cohort.weight_z is given without sex; expected sex too (the CDC 2000 "
                "weight-for-age z-score depends on it)"
            )
        expected = growth.z_score("weight_kg", self.weight_kg, self.sex, self.age_years)
        bad = np.flatnonzero(~(np.abs(z - expected) <= 1e-8))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"Cohort.weight_z[{i}] is {plain(z[i])!r}; expected {plain(expected[i])!r}, "
                f"the CDC 2000 weight-for-age z-score of weight_kg[{i}] (pass "
                "weight_z=None when changing weights)"
            )
        return z

    def __len__(self) -> int:
        return self.weight_kg.shape[0]

    @property
    def bmi_kg_m2(self) -> np.ndarray | None:
        """Body mass index, weight / height^2, kg/m2, shape (n_subjects,); None without height."""
        return None if self.height_cm is None else self.weight_kg / (self.height_cm / 100.0) ** 2

    def to_frame(self) -> pd.DataFrame:
        """One row per child: id, age_years, sex, weight_kg, height_cm, bmi_kg_m2, weight_z, covariates.

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
        assert self.covariates is not None  # Cohort.__post_init__ sets it
        columns.update(self.covariates)
        return pd.DataFrame(columns)

    @classmethod
    def from_growth_charts(
        cls,
        n: int,
        age_years=(2, 17),
        sex_ratio: float = 0.5,
        seed: int | None = None,
        gmfcs=None,
        weight_z_shift=None,
        height_weight_corr: float = 0.7,
    ) -> "Cohort":
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
            registries (Reid 2011, `cerebral_palsy.GMFCS_MIX`); {level: proportion} (absent
            levels 0) or five proportions for levels 1-5, summing to 1 within
            `cerebral_palsy.GMFCS_SUM_TOLERANCE` (0.01) and then normalised, so published
            rounded percentages (Reid's 0.342 ... summing to 1.006) are taken
            as they are printed. The levels are the covariate "gmfcs".
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

        Examples
        --------
        >>> import pkmodel as pk
        >>> cohort = pk.Cohort.from_growth_charts(1000, age_years=(2, 17), seed=1)
        >>> len(cohort), bool(cohort.age_years.min() >= 2 and cohort.age_years.max() <= 17)
        (1000, True)
        >>> round(float(cohort.weight_kg.mean()), 1)
        34.9
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
        levels = _RULES["gmfcs"].draw(where, gmfcs, n, gmfcs_rng)
        shift = _weight_z_shift(where, weight_z_shift, levels, sex)
        z_height, independent = z_rng.standard_normal((2, n))
        rho = float(height_weight_corr)
        z_weight = rho * z_height + math.sqrt(1.0 - rho * rho) * independent + shift
        weight = growth.measurement_at_z("weight_kg", z_weight, sex, age)
        return cls(
            weight_kg=weight,
            age_years=age,
            sex=sex,
            height_cm=growth.measurement_at_z("stature_cm", z_height, sex, age),
            weight_z=z_weight,
            covariates=None if levels is None else {"gmfcs": levels},
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, columns: Mapping[str, str] | None = None) -> "Cohort":
        """A cohort from a covariate table, one row per child.

        Reads id, age_years, sex ("M"/"F"), weight_kg, height_cm and the covariates
        with rules of their own under their names (gmfcs) (age and weight required);
        other columns are ignored, and weight_z is
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
        known: dict[str, dict[str, float | None]] = {**_SPELLINGS, **{name: {name: None} for name in _RULES}}
        accepted = [spelling for spellings in known.values() for spelling in spellings]
        unknown = [key for key in columns if key not in accepted]
        if unknown:
            raise ValueError(f"{where}: columns has key {unknown[0]!r}; expected some of {accepted}")
        values = {}
        for field, spellings in known.items():
            found = _find_column(where, frame, columns, field, spellings)
            if found is not None:
                spelling, name = found
                repeats = int(np.count_nonzero(frame.columns == name))
                if repeats > 1:
                    raise ValueError(
                        f"{where}: the table has {repeats} columns named {name!r}; expected one ({field})"
                    )
                factor = spellings[spelling]
                values[field] = (
                    frame[name].to_numpy() if factor is None else _numbers(where, name, frame[name]) * factor
                )
        cohort = cls(
            weight_kg=values["weight_kg"],
            age_years=values["age_years"],
            sex=values.get("sex"),
            ids=values.get("id"),
            height_cm=values.get("height_cm"),
            covariates={name: values[name] for name in _RULES if name in values} or None,
        )
        lo, hi = growth.CHART_AGE_YEARS
        if cohort.sex is None or not np.all((cohort.age_years >= lo) & (cohort.age_years <= hi)):
            return cohort
        return replace(
            cohort, weight_z=growth.z_score("weight_kg", cohort.weight_kg, cohort.sex, cohort.age_years)
        )


def _finite_vector(name: str, values) -> np.ndarray:
    arr = numbers(f"Cohort.{name}", values)
    if arr.ndim != 1:
        raise ValueError(f"Cohort.{name} has shape {arr.shape}; expected one value per child")
    refuse_first(~np.isfinite(arr), f"Cohort.{name}", arr, "a finite number")
    return arr


def _same_length(name: str, arr: np.ndarray, n: int) -> None:
    if arr.shape != (n,):
        raise ValueError(
            f"Cohort.{name} has {arr.shape[0] if arr.ndim else 1} values; expected "
            f"{n}, one per child (as weight_kg)"
        )


def _number_between(where: str, name: str, value, lo: float, hi: float) -> None:
    if not (is_number(value) and lo <= value <= hi):
        raise ValueError(f"{where}: {name} is {value!r}; expected a number from {lo:g} to {hi:g}")


def cohort_rows(cohort: Cohort, a: int, b: int) -> Cohort:
    """Children a..b-1 of `cohort` (0-based positions), as a Cohort."""
    if (a, b) == (0, len(cohort)):
        return cohort
    assert cohort.covariates is not None  # Cohort.__post_init__ sets it
    return replace(
        cohort,
        covariates={k: v[a:b] for k, v in cohort.covariates.items()},
        **{
            f.name: value[a:b]
            for f in fields(cohort)
            if isinstance(value := getattr(cohort, f.name), np.ndarray)
        },
    )


_FIELDS = frozenset(f.name for f in fields(Cohort)) | {"bmi_kg_m2"}
