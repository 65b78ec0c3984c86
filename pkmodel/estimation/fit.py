"""estimate_individual: measured levels -> each subject's random effects, parameters and uncertainty."""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from .. import _display
from ..population import variability as _variability
from ..population.cohort import Cohort
from ..dosing.doses import Doses, SubjectDoses
from ..dosing.regimen import Regimen
from ..dosing.events import EventTable
from ..model.model import Model
from ..simulation.result import Result
from ..engines.base import ENGINES
from ..simulation.simulate import check_times
from .data import Problem, read_problem
from .map import find_modes
from .objective import Objective, engine_name
from .posterior import draw, tiled_cohort, tiled_doses


def estimate_individual(
    model: Model, data, *, cohort: Cohort | None = None, engine: str = "auto"
) -> "IndividualFit":
    """Each subject's MAP random effects from its measured concentrations (NONMEM's POSTHOC).

    Minimises, per subject, −2 log posterior = Σ_obs [(DV − f)²/var(f) + log var(f)]
    + ηᵀ Ω⁻¹ η with f the model's concentration and var from its residual error
    (on the log scale for exponential error); a censored observation (BLQ)
    adds −2 log P(below its limit) (NONMEM's M3). All subjects are solved
    together (`pkmodel.estimation.map`).

    Parameters
    ----------
    data : DataFrame or path to a CSV file
        ID, TIME (h), DV (mg/L) and the dose records (AMT mg, EVID, CMT, II,
        ADDL, SS, RATE); optional MDV, BLQ, LLOQ (mg/L), WT (kg), AGE (years).
        See `pkmodel.estimation.data` for how rows are read.
    cohort : Cohort, optional
        The subjects' covariates, by ID (default: WT and AGE from the data).
    engine : "auto" (the analytic engine), "analytic" or "ode"

    Returns
    -------
    IndividualFit

    Examples
    --------
    >>> import numpy as np, pandas as pd, pkmodel as pk
    >>> model = pk.load_model("baclofen_cp_card")
    >>> data = pd.DataFrame({"ID": 1, "TIME": [0.0, 8.0, 15.5, 23.5], "AMT": [10.0, 10.0, np.nan, np.nan],
    ...                      "EVID": [1, 1, 0, 0], "CMT": [1, 1, 2, 2], "DV": [np.nan, np.nan, 0.41, 0.22],
    ...                      "WT": 20.0, "AGE": 7.0})
    >>> fit = pk.estimate_individual(model, data)  # two levels after two 10 mg doses
    >>> fit.parameters.loc[1, ["CL", "V"]].round(1).tolist()  # L/h, L (typical: 5.5, 35.4)
    [2.1, 30.4]
    """
    check_model(model)
    name = engine_name(engine, "estimate_individual", model)
    return fit_problem(model, read_problem(model, data, cohort), name)


def fit_problem(model: Model, problem: Problem, engine: str) -> "IndividualFit":
    """The fit of an already split problem (what `simulate_protocol` gives at each visit)."""
    objective = Objective(model, problem, engine)
    found = find_modes(model, problem, objective)
    return IndividualFit(
        model=model,
        problem=problem,
        engine=engine,
        eta=found["eta"],
        cov=found["covariance"],
        cov_laplace=found["laplace"],
        obj=found["objective"],
        ok=found["converged"],
        why=found["reason"],
        note=found["note"],
        iterations=found["iterations"],
    )


def check_model(model) -> None:
    if not isinstance(model, Model):
        raise TypeError(f"model is a {type(model).__name__}; expected a Model (pk.load_model)")
    if model.residual_error is None:
        raise ValueError(
            f"estimate_individual: model {model.name!r} has no residual_error; "
            "expected one (the likelihood of an observation needs it)"
        )
    if not model.etas:
        raise ValueError(
            f"estimate_individual: model {model.name!r} has no random effects; "
            "expected at least one parameter with iiv_sd > 0"
        )
    if model.iov_names:
        raise ValueError(
            f"estimate_individual: model {model.name!r} has inter-occasion "
            f"variability on {list(model.iov_names)}; MAP of occasion effects is not "
            "supported (expected a model without iov_sd)"
        )
    smallest = float(np.linalg.eigvalsh(model.omega).min())
    if not smallest > 0:
        raise ValueError(
            f"estimate_individual: omega of model {model.name!r} is singular "
            f"(smallest eigenvalue {smallest:.3g}); expected random effects that "
            "are not perfectly correlated (the prior needs Ω⁻¹)"
        )


@dataclass(frozen=True, eq=False)
class IndividualFit:
    """What `estimate_individual` found: one row per subject, in the cohort's order.

    Attributes
    ----------
    etas : DataFrame, index ID, one column per random effect (`model.eta_names`)
    parameters : DataFrame, index ID: each subject's parameters at its mode
        (L/h, L, 1/h, h; F), then weight_kg and age_years when known
    covariance : ndarray, shape (n_subjects, n_etas, n_etas)
        What NONMEM prints for FOCE-I (ETC, the .phi file): the inverse of the
        expected (Gauss–Newton) Hessian of −log posterior at the mode, Σ f'ᵀ f' / var
        + ½ var'ᵀ var' / var² + Ω⁻¹ (the first-order approximation). Subjects
        without observations: Ω. `standard_errors` are its diagonal's square roots.
    laplace_covariance : ndarray, shape (n_subjects, n_etas, n_etas)
        The Laplace approximation of each posterior (NONMEM's METHOD=COND
        LAPLACIAN): the inverse of the exact Hessian (central differences), which
        keeps the residuals' own curvature. Closer to the exact posterior (in run
        402, where the two differ most, one SD is 3 % below the exact posterior's
        and ETC's 15 %: tests/test_estimation.py), so the posterior draws
        (`sample`, `predict(samples=)`, `individual_dose`) use it. NaN where that
        Hessian is not positive definite (`reason` says so).
    objective : Series, −2 log posterior at the mode, without constants (NONMEM's)
    converged : Series of bool; `reason` says why not
    """

    model: Model
    problem: Problem
    engine: str
    eta: np.ndarray
    cov: np.ndarray
    cov_laplace: np.ndarray
    obj: np.ndarray
    ok: np.ndarray
    why: np.ndarray
    note: np.ndarray
    iterations: np.ndarray

    def __repr__(self) -> str:
        return _display.text(_display.fit(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.fit(self))

    def __post_init__(self):
        for array in (self.eta, self.cov, self.cov_laplace, self.obj, self.ok):
            array.flags.writeable = False

    @property
    def cohort(self) -> Cohort:
        return self.problem.cohort

    def __len__(self) -> int:
        return len(self.cohort)

    @property
    def _index(self) -> pd.Index:
        return pd.Index(self.cohort.ids, name="ID")

    @cached_property
    def etas(self) -> pd.DataFrame:
        return pd.DataFrame(self.eta, index=self._index, columns=list(self.model.eta_names))

    @cached_property
    def parameters(self) -> pd.DataFrame:
        values = self.model.individual_parameters(self.cohort, self.eta)
        frame = pd.DataFrame(
            {k: v for k, v in values.items() if k in self.model.parameters}, index=self._index
        )
        if self.problem.covariates_known:
            frame["weight_kg"], frame["age_years"] = self.cohort.weight_kg, self.cohort.age_years
        return frame

    @property
    def covariance(self) -> np.ndarray:
        return self.cov

    @property
    def laplace_covariance(self) -> np.ndarray:
        return self.cov_laplace

    @cached_property
    def standard_errors(self) -> pd.DataFrame:
        """Square roots of `covariance`'s diagonal (NONMEM's), one column per random effect."""
        return pd.DataFrame(
            np.sqrt(np.einsum("ijj->ij", self.cov)), index=self._index, columns=list(self.model.eta_names)
        )

    @cached_property
    def objective(self) -> pd.Series:
        return pd.Series(self.obj, index=self._index, name="objective")

    @cached_property
    def converged(self) -> pd.Series:
        return pd.Series(self.ok, index=self._index, name="converged")

    @cached_property
    def reason(self) -> pd.Series:
        return pd.Series(self.why.astype(str), index=self._index, name="reason")

    @cached_property
    def summary(self) -> pd.DataFrame:
        """Per subject: n_obs, n_blq, objective, converged, reason, note, iterations."""
        obs, n = self.problem.obs, len(self)
        return pd.DataFrame(
            {
                "n_obs": obs.count(n),
                "n_blq": np.bincount(obs.subject[obs.censored], minlength=n),
                "objective": self.obj,
                "converged": self.ok,
                "reason": self.why.astype(str),
                "note": self.note.astype(str),
                "iterations": self.iterations,
            },
            index=self._index,
        )

    def sample(self, samples: int, *, method: str = "laplace", seed: int | None = None) -> np.ndarray:
        """Random effects drawn from each subject's posterior, shape (samples, n_subjects, n_etas).

        method : "laplace" (normal with `laplace_covariance`), or "sir" (sampling-importance
        resampling from the exact posterior, for skewed ones; `posterior.draw`).
        """
        return draw(self, samples, method, seed)

    def predict(
        self,
        regimen: Regimen | EventTable,
        times,
        *,
        samples: int | None = None,
        method: str = "laplace",
        seed: int | None = None,
    ) -> Result:
        """Each subject on `regimen` at its MAP parameters, or `samples` draws of its posterior.

        Returns a Result: one row per subject, or with samples, samples × n_subjects
        rows, sample-major (`Result.replicate` is the sample), mg/L. Memory:
        rows × len(times) × 8 bytes.
        """
        times_h = check_times(times)
        cohort = self.cohort
        if not isinstance(regimen, (Regimen, EventTable)):
            raise TypeError(
                f"predict: regimen is a {type(regimen).__name__}; expected a Regimen or "
                "an event table (pk.read_events)"
            )
        entropy = _variability.seed_entropy(seed)
        doses = (
            regimen.doses(cohort) if isinstance(regimen, EventTable) else regimen.doses(cohort, seed=entropy)
        )
        eta = self.eta[None] if samples is None else self.sample(samples, method=method, seed=entropy)
        return result_at(
            self.model,
            cohort,
            eta,
            doses,
            times_h,
            self.engine,
            entropy,
            getattr(regimen, "label", ""),
            replicated=samples is not None,
        )


def result_at(
    model: Model,
    cohort: Cohort,
    eta: np.ndarray,
    doses: Doses | SubjectDoses,
    times_h: np.ndarray,
    engine: str,
    seed: int,
    label: str,
    replicated: bool = False,
) -> Result:
    """The Result of the cohort at random effects eta, shape (copies, n_subjects, n_etas).

    Rows copy-major; `Result.replicate` numbers the copies when `replicated`.
    """
    copies = eta.shape[0]
    flat = eta.reshape(-1, eta.shape[-1])
    individual = model.individual_parameters(tiled_cohort(cohort, copies), flat)
    conc = ENGINES[engine].simulate(model, individual, tiled_doses(doses, copies), times_h)
    return Result(
        times=times_h,
        concentrations=conc,
        individual=individual,
        etas=flat,
        kappas=np.zeros((flat.shape[0], 1, 0)),
        occasions=np.zeros(1),
        cohort=cohort,
        doses=doses,
        model=model,
        engine=engine,
        seed=seed,
        regimen=label,
        replicate=np.repeat(np.arange(copies), len(cohort)) if replicated else None,
    )
