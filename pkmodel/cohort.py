"""Virtual cohorts: the children simulated and their covariates."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._checks import plain, readonly, refuse_first

_SEXES = ("M", "F")


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
    """

    weight_kg: np.ndarray
    age_years: np.ndarray
    sex: np.ndarray | None = None
    ids: np.ndarray | None = None

    def __post_init__(self):
        weight = _finite_vector("weight_kg", self.weight_kg)
        age = _finite_vector("age_years", self.age_years)
        n = weight.shape[0]
        if n == 0:
            raise ValueError("Cohort.weight_kg is empty; expected at least one child")
        _same_length("age_years", age, n)
        refuse_first(~(weight > 0), "Cohort.weight_kg", weight, "a weight > 0 kg")
        refuse_first(~(age >= 0), "Cohort.age_years", age, "an age >= 0 years")
        object.__setattr__(self, "weight_kg", readonly(weight))
        object.__setattr__(self, "age_years", readonly(age))
        if self.sex is not None:
            sex = np.array(self.sex, dtype=object, ndmin=1)
            _same_length("sex", sex, n)
            refuse_first(~np.isin(sex, _SEXES), "Cohort.sex", sex, "'M' or 'F'")
            object.__setattr__(self, "sex", readonly(sex, dtype=object))
        ids = np.arange(1, n + 1) if self.ids is None else np.array(self.ids, ndmin=1)
        _same_length("ids", ids, n)
        if ids.dtype.kind not in "iu":
            if not (ids.dtype.kind == "f" and np.all(np.isfinite(ids)) and np.all(ids == np.round(ids))):
                raise ValueError(f"Cohort.ids has dtype {ids.dtype}; expected integers")
        ids = ids.astype(np.int64)
        if np.unique(ids).size != n:
            values, counts = np.unique(ids, return_counts=True)
            raise ValueError(f"Cohort.ids repeats {plain(values[counts > 1][0])}; expected unique IDs")
        object.__setattr__(self, "ids", readonly(ids, dtype=np.int64))

    def __len__(self) -> int:
        return self.weight_kg.shape[0]

    def to_frame(self) -> pd.DataFrame:
        """One row per child: id, age_years, sex (if known), weight_kg."""
        columns = {"id": self.ids, "age_years": self.age_years}
        if self.sex is not None:
            columns["sex"] = self.sex
        columns["weight_kg"] = self.weight_kg
        return pd.DataFrame(columns)


def _finite_vector(name: str, values) -> np.ndarray:
    try:
        arr = np.array(values, dtype=float, ndmin=1)
    except (TypeError, ValueError):
        raise ValueError(f"Cohort.{name} is {values!r}; expected numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"Cohort.{name} has shape {arr.shape}; expected one value per child")
    refuse_first(~np.isfinite(arr), f"Cohort.{name}", arr, "a finite number")
    return arr


def _same_length(name: str, arr: np.ndarray, n: int) -> None:
    if arr.shape != (n,):
        raise ValueError(f"Cohort.{name} has {arr.shape[0] if arr.ndim else 1} values; expected "
                         f"{n}, one per child (as weight_kg)")
