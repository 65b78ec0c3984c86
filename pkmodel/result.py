"""Result: what a simulation returns, with its metadata."""

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np
import pandas as pd

from .cohort import Cohort
from .dosing import Doses
from .model import Model


@dataclass(frozen=True, eq=False)
class Result:
    """Concentration-time curves of a cohort and how they were made.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        h.
    concentrations : ndarray, shape (n_subjects, n_times)
        mg/L, read-only (may be Fortran-ordered: the engines build time-major).
    individual : dict of ndarray, shape (n_subjects,)
        Each subject's parameters, L/h, L, 1/h.
    etas : ndarray, shape (n_subjects, n_random_effects)
        Random effects, in the order of `model.iiv_names`.
    seed : int or None
        Entropy the random effects were drawn from (None: typical child).
    """

    times: np.ndarray
    concentrations: np.ndarray
    individual: Mapping[str, np.ndarray]
    etas: np.ndarray
    cohort: Cohort
    doses: Doses
    model: Model
    engine: str
    seed: int | None
    regimen: str = ""

    def __post_init__(self):
        for array in (self.times, self.concentrations, self.etas, *self.individual.values()):
            array.flags.writeable = False

    def __len__(self) -> int:
        return self.concentrations.shape[0]

    @cached_property
    def parameters(self) -> pd.DataFrame:
        """One row per subject: id, parameters (L/h, L, 1/h), random effects eta_*, covariates."""
        columns = {"id": self.cohort.ids, **self.individual}
        for i, name in enumerate(self.model.iiv_names):
            columns[f"eta_{name}"] = self.etas[:, i]
        frame = pd.DataFrame(columns)
        for name, values in self.cohort.to_frame().drop(columns="id").items():
            frame[name] = values.to_numpy()
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Tidy long table: id, time (h), conc (mg/L), then the covariates."""
        n, t = self.concentrations.shape
        frame = pd.DataFrame({
            "id": np.repeat(self.cohort.ids, t),
            "time": np.tile(self.times, n),
            "conc": self.concentrations.ravel(order="C"),
        })
        for name, values in self.cohort.to_frame().drop(columns="id").items():
            frame[name] = np.repeat(values.to_numpy(), t)
        return frame
