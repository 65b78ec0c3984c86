"""Result: what a simulation returns, with its metadata."""

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from ..population import variability as _variability
from ..population.cohort import Cohort
from ..dosing.doses import Doses, SubjectDoses
from .. import _display
from .._checks import readonly
from ..io.resultfile import save_result
from ..io.tables import long_columns
from ..model.model import Model


@dataclass(frozen=True, eq=False, kw_only=True)
class Simulated:
    """What every simulation's result holds, whether it kept the curves (`Result`) or only
    their exposure (`ExposureResult`). Arrays are stored as read-only float64 copies.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        The simulated output times, h.
    individual : dict of ndarray, shape (n_rows,)
        Each subject's parameters (covariates and IIV; occasions apply
        exp(kappa) on top), L/h, L, 1/h, h, F.
    etas : ndarray, shape (n_rows, n_etas)
        Random effects, in the order of `model.eta_names`.
    kappas : ndarray, shape (n_rows, n_occasions, n_iov)
        Inter-occasion effects, in the order of `model.iov_names`.
    occasions : ndarray, shape (n_occasions,)
        Start of each occasion, h.
    cohort, model : the Cohort and Model simulated
    engine : str
        The name of the engine that ran (`pkmodel.engines.base`).
    seed : int or None
        Entropy the randomness was drawn from (random effects, residual error,
        missed doses); None when nothing was random.
    regimen : str
        The regimen's label.
    """

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

    def __post_init__(self):
        for name in ("times", "etas", "kappas", "occasions"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "individual", {k: _frozen(v) for k, v in self.individual.items()})

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def ids(self) -> np.ndarray:
        """Subject ID of each row, shape (n_rows,)."""
        assert self.cohort.ids is not None  # Cohort.__post_init__ sets it
        return np.tile(self.cohort.ids, len(self) // len(self.cohort))

    def _covariates(self) -> pd.DataFrame:
        frame = self.cohort.to_frame()
        return (
            frame
            if len(self) == len(frame)
            else pd.concat([frame] * (len(self) // len(frame)), ignore_index=True)
        )

    @cached_property
    def parameters(self) -> pd.DataFrame:
        """One row per subject: id, [replicate], parameters, eta_*, kappa_*_occN, covariates.

        Only the model's own parameters (F and tlag appear when the model gives them).
        """
        return _parameters(
            self.ids,
            getattr(self, "replicate", None),
            self.individual,
            self.etas,
            self.kappas,
            self.model,
            self._covariates(),
        )


@dataclass(frozen=True, eq=False, kw_only=True)
class Result(Simulated):
    """Concentration-time curves of a cohort and how they were made.

    One row per simulated subject: the cohort's children, repeated once per
    replicate when parameter uncertainty was simulated (replicate-major).

    Attributes
    ----------
    concentrations : ndarray, shape (n_rows, n_times)
        True concentrations, mg/L: a read-only float64 copy of what the engine returned
        (any array-like; it may be Fortran-ordered: the engines build them time-major).
    doses : Doses or SubjectDoses
        What each child was given (`per_subject()`: each child's doses, either way).
    times, individual, etas, kappas, occasions, cohort, model, engine, seed, regimen
        As in `Simulated`.
    variability : bool
        False: typical children, no random effects and no residual error.
    replicate : ndarray of int, shape (n_rows,), or None
        Uncertainty replicate of each row.
    outputs : {name: ndarray, shape (n_rows, n_times)}, or None
        The model's outputs other than conc (an effect, an amount; `[outputs]` of the
        model language), read-only, in the model's order; None when it has only conc.
    """

    concentrations: np.ndarray
    doses: Doses | SubjectDoses  # per_subject(): each child's doses, either way
    replicate: np.ndarray | None = None
    variability: bool = True
    outputs: Mapping[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        return _display.text(_display.result(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.result(self))

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "concentrations", _frozen(self.concentrations))
        if self.outputs is not None:
            object.__setattr__(
                self, "outputs", MappingProxyType({name: _frozen(v) for name, v in self.outputs.items()})
            )
        if self.replicate is not None:
            object.__setattr__(self, "replicate", readonly(self.replicate, dtype=np.int64))

    def __len__(self) -> int:
        return self.concentrations.shape[0]

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
            raise ValueError(f"model {self.model.name!r} has no residual_error; observations need one")
        n, t = self.concentrations.shape
        assert self.seed is not None  # a run with variability draws its entropy (simulate)
        z = _variability.standard_normals(self.seed, _variability.STREAM_RESIDUAL, 0, n, 2 * t)
        obs = error.apply(self.concentrations, z[:, :t], z[:, t:])
        obs.flags.writeable = False
        return obs

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
        """The long table (`pkmodel.io.tables`): id, [replicate], time_h, conc_mg_L, then the
        covariates; one row per subject and time, subject-major."""
        t = self.times.size
        frame = pd.DataFrame(long_columns(self.ids, self.times, self.concentrations, self.replicate))
        for name, values in self._covariates().drop(columns="id").items():
            frame[name] = np.repeat(values.to_numpy(), t)
        return frame


@dataclass(frozen=True, eq=False, kw_only=True)
class ExposureResult(Simulated):
    """What `simulate(..., keep="exposure")` returns: each child's exposure, not its curve.

    One row per child of the cohort, in its order. The concentrations were
    simulated chunk by chunk and dropped (or written to the Parquet dataset
    `out`); what is kept is a few numbers per child, so memory does not grow
    with the number of output times.

    Attributes
    ----------
    exposure : DataFrame, one row per subject
        `pkmodel.analysis.exposure` of each child over `window`: id, start_h, end_h
        (the child's window, h), auc (mg*h/L), cmax (mg/L), tmax_h, tmax_h_after_dose (h), cmin,
        cavg, trough (mg/L), fluctuation_pct, swing, for the
        steady-state window auc_ss, cavg_ss, and method ("exact" or "grid").
    window : "steady_state" or (start, end), h
        The window asked for. "steady_state" is each child's own (its last
        full dosing interval, or day for an uneven daily schedule, as
        `pk.exposure(result, window="steady_state")`): see the exposure's
        start_h and end_h; (start, end) is the same for every child.
    individual : dict of ndarray, shape (n_subjects,)
        Each child's parameters (the model's own: L/h, L, 1/h, ...).
    times, etas, kappas, occasions, cohort, model, engine, seed, regimen
        As in `Simulated`.
    out : Path or None
        The Parquet dataset the concentrations were written to.
    """

    exposure: pd.DataFrame
    window: str | tuple[float, float]
    out: Path | None = None

    def __repr__(self) -> str:
        return _display.text(_display.exposure_result(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.exposure_result(self))

    def __len__(self) -> int:
        return len(self.exposure)


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


def _frozen(values) -> np.ndarray:
    """A read-only float64 copy of any array-like (an engine's output need not be numpy's);
    an array already handed over (`handed_over`) as it is."""
    if _read_only_throughout(values):
        return values
    arr = np.array(values, dtype=np.float64, order="K", copy=True)
    arr.flags.writeable = False
    return arr


def handed_over(values):
    """An engine's fresh output, frozen in place (with the arrays it views) so that a Result
    keeps it without a copy (~1 floor at 100,000 x 673: fresh pages and a pass over them).
    Only for an array nobody else holds: the built-in engines' (`fresh_output`); a mapping of
    outputs, each of them."""
    if isinstance(values, Mapping):
        return {name: handed_over(v) for name, v in values.items()}
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        arr: np.ndarray | None = values
        while isinstance(arr, np.ndarray):
            arr.flags.writeable = False
            arr = arr.base if isinstance(arr.base, np.ndarray) else None
    return values


def _read_only_throughout(values) -> bool:
    """A float64 ndarray that neither it nor any array it views can be written through."""
    if not (isinstance(values, np.ndarray) and values.dtype == np.float64):
        return False
    arr = values
    while True:
        if arr.flags.writeable:
            return False
        if arr.base is None:
            return True
        if not isinstance(arr.base, np.ndarray):  # memory of another object (a buffer): copy
            return False
        arr = arr.base
