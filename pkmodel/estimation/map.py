"""MAP estimation of individual random effects: NONMEM's POSTHOC (FOCE-I conditional mode).

Every subject's problem is independent; all are solved together, each
iteration one Levenberg–Marquardt step for every subject still running on its
−2 log posterior (`objective`): the step solves (H + λ diag H) δ = −g and is
taken only where it lowers that subject's objective; λ follows Nielsen's rule
(smaller where the quadratic model predicted the decrease, larger where not;
doubling growth after a refused step). Two phases: Gauss–Newton steps (H the expected Hessian, from one
forward-difference Jacobian: p simulations) until every step is below
`GAUSS_NEWTON_TOL`, then Newton steps (H exact, from central and mixed
differences: p(p + 3)/2 simulations; the expected one where it is not
positive definite), which converge quadratically where Gauss–Newton crawls
along a curved valley (the flip-flop ridge of ka and k). A subject stops on its
own: a step below `STEP_TOL` in every η, or no lower point at λ = `MAX_DAMPING`.
At the mode, the inverse of half the expected Hessian is the covariance NONMEM prints
for FOCE-I (ETC), the inverse of half the exact one the Laplace covariance (NONMEM's
METHOD=COND LAPLACIAN).
"""

import warnings

import numpy as np

from .data import Problem
from .objective import Objective

MAX_ITERATIONS = 100  # Newton iterations
GAUSS_NEWTON_ITERATIONS = 10  # then the Newton phase takes over, converged or not
GAUSS_NEWTON_TOL = 1e-3  # eta: the cheap phase hands over to Newton steps here
STEP_TOL = 1e-7  # eta: a Newton step this small is convergence
MAX_STEP = 2.0  # largest change of one eta in one step (a factor e^2 in a parameter)
MAX_DAMPING = 1e10
_FIRST_DAMPING = 1e-3
_SMALLEST_DAMPING = 1e-9  # a multiplier of diag H: Newton's step, to rounding
# A DV this many times its typical prediction at every point of a subject is a unit error
# (ng/mL read as mg/L is 1000x): random effects rarely raise a concentration 10x. Only this
# side: a fast eliminator's trough can be 1/500 of the typical one (seen in a virtual trial).
UNIT_RATIO = 100.0


def find_modes(model, problem: Problem, objective: Objective) -> dict:
    """Modes, covariances and status of every subject.

    Returns dict of arrays: eta (n, p), covariance (first order: ETC) and laplace (n, p, p), objective (n,),
    converged (n,) bool, reason (n,) str (why not converged), note (n,) str (what
    the data look like: a DV unit), iterations (n,) int.
    """
    n, p = objective.n, objective.p
    has_obs = problem.obs.count(n) > 0
    eta = np.zeros((n, p))
    reason = np.where(has_obs, "", "no usable observation: eta = 0 (the prior)").astype(object)
    note = np.full(n, "", dtype=object)
    f = objective.predictions(eta, has_obs)
    _check_predictions(model, problem, objective, f, note)
    value = objective.value(f, eta, has_obs)
    iterations = np.zeros(n, dtype=np.int64)

    def expected(eta, f, active):
        return objective.gauss_newton(f, objective.jacobian(eta, f, active), eta, active)

    def exact(eta, f, active):
        gradient, hessian, fisher = objective.hessian(eta, f, active)
        kept["hessian"][active], kept["fisher"][active] = hessian[active], fisher[active]
        hessian[active] = _made_definite(hessian[active], fisher[active])
        return gradient, hessian

    kept = {"hessian": np.full((n, p, p), np.nan), "fisher": np.full((n, p, p), np.nan)}
    _iterate(
        objective,
        expected,
        eta,
        f,
        value,
        has_obs.copy(),
        iterations,
        GAUSS_NEWTON_TOL,
        _FIRST_DAMPING,
        GAUSS_NEWTON_ITERATIONS,
    )
    running = _iterate(
        objective,
        exact,
        eta,
        f,
        value,
        has_obs.copy(),
        iterations,
        STEP_TOL,
        _SMALLEST_DAMPING,
        MAX_ITERATIONS,
    )
    reason[running] = f"no convergence in {MAX_ITERATIONS} Newton iterations"
    definite = has_obs & _definite(kept["hessian"])
    laplace = np.full((n, p, p), np.nan)
    laplace[definite] = 2 * np.linalg.inv(kept["hessian"][definite])
    reason[has_obs & ~definite & (reason == "")] = (
        "the Hessian at the end is not positive definite (not a minimum)"
    )
    laplace[~has_obs] = model.omega
    covariance = np.broadcast_to(model.omega, (n, p, p)).copy()
    covariance[has_obs] = 2 * np.linalg.inv(kept["fisher"][has_obs])
    return {
        "eta": eta,
        "covariance": covariance,
        "laplace": laplace,
        "objective": np.where(has_obs, value, 0.0),
        "converged": has_obs & (reason == ""),
        "reason": reason,
        "note": note,
        "iterations": iterations,
    }


def _iterate(
    objective: Objective, curvature, eta, f, value, active, iterations, tol, first_damping, max_iterations
) -> np.ndarray:
    """Damped Newton steps (in place on eta, f, value) until each active subject's step is < tol.

    curvature(eta, f, active) -> gradient (n, p), Hessian to step with (n, p, p).
    Returns the subjects still running after max_iterations.
    """
    n, p = objective.n, objective.p
    subject = objective.obs.subject
    damping = np.full(n, first_damping)
    growth = np.full(n, 2.0)
    for _ in range(max_iterations):  # iterations, each vectorised over the subjects still running
        run = np.flatnonzero(active)
        if run.size == 0:
            break
        gradient, hessian = curvature(eta, f, active)
        while run.size:  # retries with more damping where a step went up
            g, h = gradient[run], hessian[run]
            diag = np.einsum("ijj->ij", h)
            damped = h + damping[run, None, None] * (diag[:, :, None] * np.eye(p))
            step = -np.linalg.solve(damped, g[:, :, None])[:, :, 0]
            step *= np.minimum(1.0, MAX_STEP / np.abs(step).max(axis=1))[:, None]
            trial = eta.copy()
            trial[run] += step
            trying = np.zeros(n, dtype=bool)
            trying[run] = True
            f_trial = objective.predictions(trial, trying)
            value_trial = objective.value(f_trial, trial, trying)
            predicted = -np.sum(step * (g + 0.5 * (h @ step[:, :, None])[:, :, 0]), axis=1)
            ratio = (value[run] - value_trial[run]) / np.where(predicted > 0, predicted, np.inf)
            better = value_trial[run] <= value[run]
            took = run[better]
            eta[took], value[took] = trial[took], value_trial[took]
            moved = np.isin(subject, took)
            f[moved] = f_trial[moved]
            # Nielsen's rule: less damping where the model of O predicted the decrease well,
            # more where it did not (a step that zigzags across a curved valley)
            rho = np.clip(ratio[better], 0.0, 1.0)
            damping[took] = np.maximum(
                damping[took] * np.maximum(1 / 3, 1 - (2 * rho - 1) ** 3), _SMALLEST_DAMPING
            )
            growth[took] = 2.0
            iterations[took] += 1
            active[took[np.abs(step[better]).max(axis=1) < tol]] = False
            refused = run[~better]
            damping[refused] *= growth[refused]
            growth[refused] *= 2
            active[refused[damping[refused] > MAX_DAMPING]] = False  # no lower point near: the mode
            run = refused[damping[refused] <= MAX_DAMPING]
            if took.size:
                break  # new curvature for the subjects that moved (the refused retry with it)
    return active


def _made_definite(hessian: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The Hessian with its eigenvalues made positive (|λ|, at least 1e-6 of the largest): a
    descent direction that keeps the curvature it has where O is not convex; `fallback`
    where the Hessian is not finite."""
    finite = np.all(np.isfinite(hessian), axis=(1, 2))
    out = fallback.copy()
    values, vectors = np.linalg.eigh(hessian[finite])
    size = np.abs(values)
    size = np.maximum(size, 1e-6 * size.max(axis=1, keepdims=True))
    out[finite] = (vectors * size[:, None, :]) @ vectors.transpose(0, 2, 1)
    return out


def _definite(hessian: np.ndarray) -> np.ndarray:
    """Which matrices are finite and positive definite, shape (n,)."""
    finite = np.all(np.isfinite(hessian), axis=(1, 2))
    out = np.zeros(hessian.shape[0], dtype=bool)
    out[finite] = np.linalg.eigvalsh(hessian[finite])[:, 0] > 0
    return out


def _check_predictions(model, problem: Problem, objective: Objective, f, note) -> None:
    """Refuse observations no prediction can explain; warn of DVs in another unit."""
    obs, ids = problem.obs, np.asarray(problem.cohort.ids)
    kind = model.residual_error.kind
    if kind in ("proportional", "exponential"):
        zero = np.flatnonzero((f == 0) & ~obs.censored)
        if zero.size:
            i = zero[0]
            raise ValueError(
                f"{problem.source} row {obs.row[i]}, ID {ids[obs.subject[i]]}: the prediction at TIME "
                f"{obs.time_h[i]:g} h is 0 for every eta (before its first dose?), and {kind} "
                "error gives it no spread; expected observations after a dose (MDV = 1 to skip it)"
            )
    measured = ~obs.censored & (f > 0) & (obs.dv > 0)
    ratio = np.where(measured, obs.dv, 0.0) / np.where(measured, f, 1.0)
    n = objective.n
    count = np.bincount(obs.subject[measured], minlength=n)
    high = np.bincount(obs.subject, weights=ratio > UNIT_RATIO, minlength=n)
    odd = np.flatnonzero((count > 0) & (high == count))
    if odd.size:
        median = [np.median(ratio[(obs.subject == s) & measured]) for s in odd[:5]]  # the message's
        shown = ", ".join(f"ID {ids[s]} ({m:.3g}x)" for s, m in zip(odd[:5], median))
        more = f" and {odd.size - 5} more" if odd.size > 5 else ""
        warnings.warn(
            f"{problem.source}: every DV of {shown}{more} is more than {UNIT_RATIO:g} times its "
            "typical prediction (median DV/prediction in brackets); expected DV in mg/L (ng/mL is "
            "1000x)",
            UserWarning,
            stacklevel=5,
        )
        note[odd] = f"every DV is over {UNIT_RATIO:g}x its typical prediction: DV in mg/L?"
