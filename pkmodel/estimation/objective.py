"""−2 log posterior of every subject's random effects, its gradient and its curvature.

O_i(η) = Σ_obs t(f) + ηᵀ Ω⁻¹ η (`likelihood`), with f the model's concentration
at subject i's observation times (`predict`). Derivatives in η come from the
prediction's sensitivities by finite differences on η (any engine, any
model): forward differences for the Gauss–Newton steps, central ones and
mixed second differences for the Hessian at the mode.
"""

import numpy as np

from ..engines.base import ENGINES, get_engine
from .likelihood import Terms, observed_scale, terms
from .predict import layout, predict

# Step in eta for forward-difference sensitivities: a relative change of 1e-6 in a
# parameter; the truncation error (h/2 f''/f' ~ 5e-7 relative) is far below what moves a mode.
STEP_JACOBIAN = 1e-6
# Step for the Hessian at the mode: central second differences err by ~h²/12 (1e-9) and by
# rounding ~eps/h² (2e-8); the mixed ones (forward corner) by ~h (1e-4 relative).
STEP_HESSIAN = 1e-4


def engine_name(engine: str, where: str, model=None) -> str:
    """The name of the registered engine `engine` stands for ("auto": the first that supports
    `model`, the analytic one for a linear model)."""
    return get_engine(engine, model, where).name


class Objective:
    """The objective of one problem (cohort, doses, observations) under one model.

    Per-subject arrays are shape (n_subjects, ...), observation arrays (n_obs, ...).
    Only the subjects in `active` are simulated and summed; the others' values are NaN.
    """

    def __init__(self, model, problem, engine: str):
        error = model.residual_error
        self.model, self.cohort, self.obs = model, problem.cohort, problem.obs
        self.engine = ENGINES[engine]
        self.kind, self.sd = error.kind, (error.proportional_sd, error.additive_sd)
        self.n, self.p = len(problem.cohort), len(model.eta_names)
        self.y = observed_scale(self.kind, self.obs.dv)
        self.blocks = layout(self.obs.subject, self.obs.time_h, self.n, problem.doses)
        self.omega_inv = np.linalg.inv(model.omega)

    def predictions(self, eta: np.ndarray, active: np.ndarray) -> np.ndarray:
        """f, shape (n_obs,), mg/L, at random effects eta (n_subjects, n_etas)."""
        params = self.model.individual_parameters(self.cohort, eta)
        return predict(self.engine, self.model, params, self.blocks, active, len(self.obs))

    def terms(self, f: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, Terms]:
        """The active subjects' observations (indices) and their terms."""
        rows = np.flatnonzero(active[self.obs.subject])
        return rows, terms(self.kind, *self.sd, self.y[rows], self.obs.censored[rows], f[rows])

    def value(self, f: np.ndarray, eta: np.ndarray, active: np.ndarray) -> np.ndarray:
        """O per subject, shape (n_subjects,); +inf where not finite (a step into overflow)."""
        rows, t = self.terms(f, active)
        total = self._per_subject(rows, t.t) + self.prior(eta)
        return np.where(active, np.where(np.isfinite(total), total, np.inf), np.nan)

    def prior(self, eta: np.ndarray) -> np.ndarray:
        return np.sum((eta @ self.omega_inv) * eta, axis=1)

    def jacobian(self, eta: np.ndarray, f: np.ndarray, active: np.ndarray) -> np.ndarray:
        """df/deta by forward differences, shape (n_obs, n_etas)."""
        columns = []
        for k in range(self.p):  # over random effects, vectorised over subjects
            moved = eta.copy()
            moved[:, k] += STEP_JACOBIAN
            columns.append((self.predictions(moved, active) - f) / STEP_JACOBIAN)
        return np.stack(columns, axis=1)

    def gauss_newton(self, f: np.ndarray, jac: np.ndarray, eta: np.ndarray, active: np.ndarray):
        """Gradient of O (n_subjects, n_etas) and its expected (Fisher) Hessian (n, n_etas, n_etas)."""
        rows, t = self.terms(f, active)
        j = jac[rows]
        gradient = self._per_subject(rows, t.d1[:, None] * j) + 2 * eta @ self.omega_inv
        outer = (t.fisher[:, None, None] * j[:, :, None] * j[:, None, :]).reshape(rows.size, -1)
        fisher = self._per_subject(rows, outer).reshape(self.n, self.p, self.p)
        return gradient, fisher + 2 * self.omega_inv

    def hessian(self, eta: np.ndarray, f: np.ndarray, active: np.ndarray):
        """Central gradient (n, n_etas), exact and expected (Fisher) Hessians (n, n_etas, n_etas) of O."""
        h, p = STEP_HESSIAN, self.p
        up: list[np.ndarray] = []
        down: list[np.ndarray] = []
        for k in range(p):  # over random effects
            for sign, out in ((1, up), (-1, down)):
                moved = eta.copy()
                moved[:, k] += sign * h
                out.append(self.predictions(moved, active))
        jac = np.stack([(u - d) / (2 * h) for u, d in zip(up, down)], axis=1)
        second = np.empty((len(f), p, p))
        for k in range(p):
            second[:, k, k] = (up[k] - 2 * f + down[k]) / h**2
            for j in range(k):
                moved = eta.copy()
                moved[:, [k, j]] += h
                second[:, k, j] = second[:, j, k] = (
                    self.predictions(moved, active) - up[k] - up[j] + f
                ) / h**2
        gradient, fisher = self.gauss_newton(f, jac, eta, active)
        rows, t = self.terms(f, active)
        j = jac[rows]
        exact = t.d2[:, None, None] * j[:, :, None] * j[:, None, :] + t.d1[:, None, None] * second[rows]
        hessian = self._per_subject(rows, exact.reshape(rows.size, -1)).reshape(self.n, p, p)
        return gradient, hessian + 2 * self.omega_inv, fisher

    def _per_subject(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Sums over each subject's observations `rows`: (n_rows,) or (n_rows, k) -> (n_subjects, ...)."""
        subject = self.obs.subject[rows]
        if values.ndim == 1:
            return np.bincount(subject, weights=values, minlength=self.n)
        return np.stack(
            [np.bincount(subject, weights=values[:, c], minlength=self.n) for c in range(values.shape[1])],
            axis=1,
        )  # over columns (<= 16)
