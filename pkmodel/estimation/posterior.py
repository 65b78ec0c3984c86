"""Draws from each subject's posterior of its random effects.

"laplace": η ~ N(η̂, laplace_covariance). "sir": sampling-importance-resampling
(Dosne et al., J Pharmacokinet Pharmacodyn 2016;43:583): `SIR_PROPOSALS` × K
proposals per subject from a multivariate t (ν = `SIR_DF`) around the mode
with the Laplace covariance (`laplace_covariance`) as its scale (heavier tails than the posterior,
so a skewed one is covered), importance weights exp(−O/2) / q, and K of them
resampled without replacement (Gumbel top-K, vectorised over subjects).
"""

import dataclasses

import numpy as np

from .._checks import whole
from ..population.cohort import Cohort
from ..dosing.doses import Doses, SubjectDoses
from .data import Observations, Problem
from .objective import Objective
from .predict import PER_DOSE, per_dose_fields

SIR_PROPOSALS = 10
SIR_DF = 5
_ROWS_PER_CALL = 100_000  # subjects x proposals evaluated in one objective
METHODS = ("laplace", "sir")


def draw(fit, samples: int, method: str, seed) -> np.ndarray:
    """Random effects, shape (samples, n_subjects, n_etas), from `fit`'s posteriors."""
    whole("sample", "samples", samples, 1)
    if method not in METHODS:
        raise ValueError(f"sample: method is {method!r}; expected one of {list(METHODS)}")
    factor = _cholesky(fit)
    rng = np.random.default_rng(seed)
    n, p = fit.eta.shape
    if method == "laplace":
        z = rng.standard_normal((samples, n, p))
        return fit.eta + np.einsum("ijk,sik->sij", factor, z)
    m = SIR_PROPOSALS * samples
    z = rng.standard_normal((m, n, p))
    scale = np.sqrt(SIR_DF / rng.chisquare(SIR_DF, (m, n)))
    proposals = fit.eta + np.einsum("ijk,sik->sij", factor, z) * scale[:, :, None]
    log_q = -(SIR_DF + p) / 2 * np.log1p(np.sum(z**2, axis=2) * scale**2 / SIR_DF)
    log_weight = -0.5 * _objective(fit, proposals) - log_q  # (m, n)
    keys = log_weight + rng.gumbel(size=log_weight.shape)
    top = np.argpartition(-keys, samples - 1, axis=0)[:samples]  # (samples, n)
    return np.take_along_axis(proposals, top[:, :, None], axis=0)


def _cholesky(fit) -> np.ndarray:
    bad = np.flatnonzero(~np.all(np.isfinite(fit.cov_laplace), axis=(1, 2)))
    if bad.size:
        raise ValueError(
            f"sample: ID {fit.cohort.ids[bad[0]]} has no Laplace covariance "
            f"({fit.why[bad[0]]}); expected subjects with a posterior to draw from"
        )
    return np.linalg.cholesky(fit.cov_laplace)


def _objective(fit, eta: np.ndarray) -> np.ndarray:
    """O of every proposal, shape (m, n_subjects), evaluated in blocks of copies of the cohort."""
    m, n, p = eta.shape
    copies = max(1, _ROWS_PER_CALL // n)
    out = np.empty((m, n))
    for first in range(0, m, copies):  # over blocks of proposals, each vectorised
        c = min(copies, m - first)
        problem = tiled_problem(fit.problem, c)
        objective = Objective(fit.model, problem, fit.engine)
        flat = eta[first : first + c].reshape(c * n, p)
        active = np.ones(c * n, dtype=bool)
        out[first : first + c] = objective.value(objective.predictions(flat, active), flat, active).reshape(
            c, n
        )
    return out


def tiled_cohort(cohort: Cohort, copies: int) -> Cohort:
    """`copies` copies of the cohort one after the other (IDs 1.. so that they stay unique)."""
    if copies == 1:
        return cohort
    arrays = {
        f.name: np.tile(value, copies)
        for f in dataclasses.fields(cohort)
        if isinstance(value := getattr(cohort, f.name), np.ndarray)
    }
    arrays["ids"] = np.arange(1, len(cohort) * copies + 1)
    return dataclasses.replace(
        cohort, covariates={k: np.tile(v, copies) for k, v in (cohort.covariates or {}).items()}, **arrays
    )


def tiled_doses(doses: Doses | SubjectDoses, copies: int) -> Doses | SubjectDoses:
    """`copies` copies of the subjects' doses one after the other (rows, or each one's records)."""
    if copies == 1:
        return doses
    if isinstance(doses, SubjectDoses):
        return SubjectDoses.from_records(
            doses.n_subjects * copies,
            (doses.subject + doses.n_subjects * np.arange(copies)[:, None]).ravel(),
            *(np.tile(x, copies) for x in (doses.time_h, doses.amount_mg)),
            **{k: np.tile(x, copies) for k, x in zip(PER_DOSE, per_dose_fields(doses))},
        )
    return dataclasses.replace(
        doses,
        **{
            name: np.tile(value, (copies, 1))
            for name in ("amount_mg", "offset_h", "missed_mg")
            if (value := getattr(doses, name)) is not None
        },
    )


def tiled_problem(problem: Problem, copies: int) -> Problem:
    n, obs = len(problem.cohort), problem.obs
    shift = np.repeat(np.arange(copies) * n, len(obs))
    tiled = Observations(
        subject=np.tile(obs.subject, copies) + shift,
        time_h=np.tile(obs.time_h, copies),
        dv=np.tile(obs.dv, copies),
        censored=np.tile(obs.censored, copies),
        row=np.tile(obs.row, copies),
    )
    return dataclasses.replace(
        problem,
        cohort=tiled_cohort(problem.cohort, copies),
        doses=tiled_doses(problem.doses, copies),
        obs=tiled,
    )
