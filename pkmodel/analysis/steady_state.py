"""Exact steady-state exposure of a linear model: the AUC of a steady-state interval is the AUC
of its doses over all time (superposition), F dose / CL for the named structures and
row (-K)^-1 e F dose for a linear model of the language. Nonlinear models are refused with
the compiler's reason: their steady state is numerical (the ode engine's SS records).
"""

import numpy as np

from ..engines.linalg import auc_per_dose


def auc_per_mg(model, individual, covariates) -> tuple[np.ndarray, np.ndarray]:
    """AUC of conc over all time per mg into the dose compartment (after F) and per mg into
    the others (one other compartment at most: the first that is not the dose compartment
    of a named structure is central), each shape (n_subjects,), mg*h/L per mg. Exact for a
    linear model (superposition: the AUC over a steady-state interval is the dose's AUC);
    refused with the reason for a nonlinear one.

    individual : the individual parameters, {name: ndarray (n_subjects,)}.
    covariates : the covariates the equations use, the same shapes (`Model.covariate_values`).
    """
    if model.structure is not None:
        return individual["F"] / individual["CL"], 1.0 / individual["CL"]
    view = model.compartment_model
    if view.analytic_reason is not None:
        raise ValueError(f"model {model.name!r}: no exact steady-state AUC: {view.analytic_reason}")
    p = {**individual, **covariates}
    params, covariates = view.split(p)
    k = model.system.rate_matrix(params, covariates)
    row = model.system.output_row("conc", params, covariates)
    n = next(iter(individual.values())).shape[0]
    k, row = np.broadcast_to(k, (n, *k.shape[1:])), np.broadcast_to(row, (n, row.shape[1]))
    f = view.dose_modifiers(p)[0]
    into = view.dose_index
    other = next((j for j in range(len(view.compartments)) if j != into), into)
    return f * auc_per_dose(k, row, into), auc_per_dose(k, row, other)


def auc_ss(result, schedule, a: np.ndarray, b: np.ndarray):
    """(auc_ss, None), or (None, why it cannot be given exactly): each row's AUC at steady
    state of the scheduled doses in its window [a, b) h, shape (n_rows,), mg*h/L."""
    model = result.model
    if not model.is_linear:
        return None, (
            f"model {model.name!r} is nonlinear ({model.nonlinear_reason}): no "
            "exact steady state; read the steady-state window's auc and cavg, or "
            "simulate a steady-state dose (SS=1) for the numerical one"
        )
    if result.occasions.size > 1:
        return None, (
            "the parameters change over time (occasions or weight updates), so no "
            "one CL gives the steady state"
        )
    view = model.compartment_model
    if model.structure is None:
        if view.analytic_reason is not None:
            return None, view.analytic_reason
        elsewhere = np.unique(
            np.asarray(result.doses.compartment)[np.asarray(result.doses.compartment) != view.dose_index]
        )
        if elsewhere.size > 1 or (
            elsewhere.size == 1
            and elsewhere[0] != next(j for j in range(len(view.compartments)) if j != view.dose_index)
        ):
            return None, (
                "doses go into compartments other than the dose compartment and the first other one"
            )
    oral, other = schedule.dose_in(a, b)
    covariates = {}
    if model.structure is None and model.equations.covariates:
        cohort = getattr(result, "cohort", None)
        if cohort is None:
            return None, "the result does not keep the cohort whose covariates the equations use"
        copies = len(result) // len(cohort)  # rows are replicates of the cohort
        covariates = {name: np.tile(v, copies) for name, v in model.covariate_values(cohort).items()}
    per_oral, per_other = auc_per_mg(model, result.individual, covariates)
    return per_oral * oral + per_other * other, None
