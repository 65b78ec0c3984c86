"""Result: what a simulation returns, with its metadata."""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..population import variability as _variability
from ..population.cohort import Cohort
from ..dosing.doses import Doses, SubjectDoses
from ..io.resultfile import save_result
from ..model.model import Model


@dataclass(frozen=True, eq=False)
class Result:
    """Concentration-time curves of a cohort and how they were made.

    One row per simulated subject: the cohort's children, repeated once per
    replicate when parameter uncertainty was simulated (replicate-major).

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        h.
    concentrations : ndarray, shape (n_rows, n_times)
        True concentrations, mg/L, read-only (may be Fortran-ordered: the
        engines build them time-major).
    individual : dict of ndarray, shape (n_rows,)
        Each subject's parameters (covariates and IIV; occasions apply
        exp(kappa) on top), L/h, L, 1/h, h, F.
    etas : ndarray, shape (n_rows, n_etas)
        Random effects, in the order of `model.eta_names`.
    kappas : ndarray, shape (n_rows, n_occasions, n_iov)
        Inter-occasion effects, in the order of `model.iov_names`.
    occasions : ndarray, shape (n_occasions,)
        Start of each occasion, h.
    seed : int or None
        Entropy the randomness was drawn from (random effects, residual error,
        missed doses); None when nothing was random.
    variability : bool
        False: typical children, no random effects and no residual error.
    replicate : ndarray of int, shape (n_rows,), or None
        Uncertainty replicate of each row.
    """

    times: np.ndarray
    concentrations: np.ndarray
    individual: Mapping[str, np.ndarray]
    etas: np.ndarray
    kappas: np.ndarray
    occasions: np.ndarray
    cohort: Cohort
    doses: Doses | SubjectDoses    # per_subject(): each child's doses, either way
    model: Model
    engine: str
    seed: int | None
    regimen: str = ""
    replicate: np.ndarray | None = None
    variability: bool = True

    def __post_init__(self):
        for array in (self.times, self.concentrations, self.etas, self.kappas,
                      *self.individual.values()):
            array.flags.writeable = False

    def __len__(self) -> int:
        return self.concentrations.shape[0]

    @property
    def ids(self) -> np.ndarray:
        """Subject ID of each row, shape (n_rows,)."""
        return np.tile(self.cohort.ids, len(self) // len(self.cohort))

    @cached_property
    def observations(self) -> np.ndarray:
        """Concentrations with the model's residual error, shape (n_rows, n_times), mg/L.

        Drawn from the run's seed on a stream of their own (the random effects
        do not change when observations are asked for). Without variability
        they equal the concentrations.
        """
        if not self.variability:
            return self.concentrations
        error = self.model.residual_error
        if error is None:
            raise ValueError(f"model {self.model.name!r} has no residual_error; observations "
                             "need one")
        n, t = self.concentrations.shape
        z = _variability.standard_normals(self.seed, _variability.STREAM_RESIDUAL, 0, n, 2 * t)
        obs = error.apply(self.concentrations, z[:, :t], z[:, t:])
        obs.flags.writeable = False
        return obs

    def _covariates(self) -> pd.DataFrame:
        frame = self.cohort.to_frame()
        return frame if len(self) == len(frame) else pd.concat(
            [frame] * (len(self) // len(frame)), ignore_index=True)

    @cached_property
    def parameters(self) -> pd.DataFrame:
        """One row per subject: id, [replicate], parameters, eta_*, kappa_*_occN, covariates.

        Only the model's own parameters (F and tlag appear when the model gives them).
        """
        return _parameters(self.ids, self.replicate, self.individual, self.etas, self.kappas,
                           self.model, self._covariates())

    def save(self, path, overwrite: bool = False):
        """Write the concentrations, parameters and doses, with their provenance, as Parquet.

        The record holds the pkmodel version, the model's name, file and SHA-256,
        the engine, seed, regimen and times, and the SHA-256 of everything in the
        file (`pkmodel.io.resultfile`); `pk.load_result` checks it when reading back.
        Written to a temporary name and renamed into place; an existing file is
        kept (FileExistsError) unless overwrite=True. Returns the path.
        """
        return save_result(self, path, overwrite=overwrite)

    def to_frame(self) -> pd.DataFrame:
        """Tidy long table: id, [replicate], time (h), conc (mg/L), then the covariates."""
        n, t = self.concentrations.shape
        frame = pd.DataFrame({"id": np.repeat(self.ids, t)})
        if self.replicate is not None:
            frame["replicate"] = np.repeat(self.replicate, t)
        frame["time"] = np.tile(self.times, n)
        frame["conc"] = self.concentrations.ravel(order="C")
        for name, values in self._covariates().drop(columns="id").items():
            frame[name] = np.repeat(values.to_numpy(), t)
        return frame


@dataclass(frozen=True, eq=False)
class ExposureResult:
    """What `simulate(..., keep="exposure")` returns: each child's exposure, not its curve.

    One row per child of the cohort, in its order. The concentrations were
    simulated chunk by chunk and dropped (or written to the Parquet dataset
    `out`); what is kept is a few numbers per child, so memory does not grow
    with the number of output times.

    Attributes
    ----------
    exposure : DataFrame, one row per subject
        `pkmodel.analysis.exposure` of each child over `window`: id, start_h, end_h
        (the child's window, h), auc (mg*h/L), cmax (mg/L), tmax (h), cmin,
        cavg, trough (mg/L), fluctuation_pct, swing, for the
        steady-state window auc_ss, cavg_ss, and method ("exact" or "grid").
    window : "steady_state" or (start, end), h
        The window asked for. "steady_state" is each child's own (its last
        full dosing interval, or day for an uneven daily schedule, as
        `pk.exposure(result, window="steady_state")`): see the exposure's
        start_h and end_h; (start, end) is the same for every child.
    times : ndarray, shape (n_times,)
        The simulated output times, h.
    individual : dict of ndarray, shape (n_subjects,)
        Each child's parameters (the model's own: L/h, L, 1/h, ...).
    etas, kappas, occasions, cohort, model, engine, seed, regimen
        As in `Result`.
    out : Path or None
        The Parquet dataset the concentrations were written to.
    """

    exposure: pd.DataFrame
    window: str | tuple[float, float]
    times: np.ndarray
    individual: Mapping[str, np.ndarray]
    etas: np.ndarray
    kappas: np.ndarray
    occasions: np.ndarray
    cohort: Cohort
    model: Model
    engine: str
    seed: int | None
    regimen: str = ""
    out: Path | None = None

    def __post_init__(self):
        for array in (self.times, self.etas, self.kappas, *self.individual.values()):
            array.flags.writeable = False

    def __len__(self) -> int:
        return len(self.exposure)

    @cached_property
    def parameters(self) -> pd.DataFrame:
        """One row per subject: id, parameters, eta_*, kappa_*_occN, covariates (as `Result`)."""
        return _parameters(self.cohort.ids, None, self.individual, self.etas, self.kappas,
                           self.model, self.cohort.to_frame())


def _parameters(ids, replicate, individual, etas, kappas, model, covariates) -> pd.DataFrame:
    columns = {"id": ids}
    if replicate is not None:
        columns["replicate"] = replicate
    columns.update({k: v for k, v in individual.items() if k in model.parameters})
    for i, name in enumerate(model.eta_names):
        columns[f"eta_{name}"] = etas[:, i]
    for o in range(kappas.shape[1] if kappas.size else 0):
        for i, name in enumerate(model.iov_names):
            columns[f"kappa_{name}_occ{o + 1}"] = kappas[:, o, i]
    frame = pd.DataFrame(columns)
    for name, values in covariates.drop(columns="id").items():
        frame[name] = values.to_numpy()
    return frame
