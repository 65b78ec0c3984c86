"""Independent references for the estimation tests: closed forms and scipy, not pkmodel's code.

The card model (one compartment, first-order absorption) by superposition of its
textbook single-dose curve, and −2 log posterior written with scipy.stats; a
brute-force grid posterior over the random effects.
"""

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import pkmodel as pk

SHARED = Path(__file__).resolve().parents[2] / "shared" / "validation" / "nonmem" / "data"


def conc_oral_1cmt(t_h, dose_times_h, doses_mg, cl, v, ka):
    """C(t), mg/L, shape broadcast of (..., n_times): Σ D ka/(V (ka − k)) (e^{−k s} − e^{−ka s}).

    cl, v, ka : arrays of any leading shape (...,), broadcast with the times on the last axis.
    A dose at t itself is not yet in (the engines report the pre-dose value at a dose time).
    """
    cl, v, ka = (np.asarray(x, dtype=float)[..., None, None] for x in (cl, v, ka))
    k = cl / v
    s = np.asarray(t_h, dtype=float)[:, None] - np.asarray(dose_times_h, dtype=float)[None, :]
    after = s > 0
    s = np.where(after, s, 0.0)
    single = ka / (v * (ka - k)) * (np.exp(-k * s) - np.exp(-ka * s))
    return np.sum(np.where(after, np.asarray(doses_mg)[None, :] * single, 0.0), axis=-1)


def neg2_log_posterior(eta, typical, omega, child, sd):
    """−2 log posterior (without constants) of the card model's (CL, V, ka) effects, shape (...,).

    eta : (..., 3); typical : (CL L/h, V L, ka 1/h); child : dict with times, dv, censored,
    lloq, dose_times, doses; sd : proportional error SD.
    """
    eta = np.asarray(eta, dtype=float)
    cl, v, ka = (typical[i] * np.exp(eta[..., i]) for i in range(3))
    f = conc_oral_1cmt(child["times"], child["dose_times"], child["doses"], cl, v, ka)
    scale = sd * f
    observed = ~child["censored"]
    logpdf = stats.norm.logpdf(child["dv"], f, scale) + 0.5 * math.log(2 * math.pi)
    logcdf = stats.norm.logcdf(child["lloq"], f, scale)
    total = -2 * np.sum(np.where(observed, logpdf, logcdf), axis=-1)
    return total + np.einsum("...i,ij,...j->...", eta, np.linalg.inv(omega), eta)


def grid_posterior(objective, centre, half_width, points):
    """Posterior on a regular grid from objective(eta (..., 3)) = −2 log posterior + const.

    centre, half_width : (3,), the box; points per axis.
    Returns mode, mean, covariance, step (3,) and the marginals' skewness and excess kurtosis (3,).
    """
    axes = [np.linspace(c - h, c + h, points) for c, h in zip(centre, half_width)]
    flat = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    value = objective(flat)
    mode = flat[np.argmin(value)]
    weight = np.exp(-0.5 * (value - value.min()))
    weight /= weight.sum()
    mean = weight @ flat
    centred = flat - mean
    covariance = (centred * weight[:, None]).T @ centred
    sd = np.sqrt(np.diag(covariance))
    skew = weight @ centred**3 / sd**3
    kurtosis = weight @ centred**4 / sd**4 - 3
    return mode, mean, covariance, np.array([a[1] - a[0] for a in axes]), skew, kurtosis


def frame(cohort, regimen, times, dv, *, censored=None, lloq=None):
    """A NONMEM-style frame: the regimen's dose records, observations (ID-major), WT and AGE."""
    n, k = len(cohort), len(times)
    obs = pd.DataFrame(
        {"ID": np.repeat(cohort.ids, k), "TIME": np.tile(times, n), "DV": np.ravel(dv), "EVID": 0}
    )
    if censored is not None:
        obs["BLQ"] = np.ravel(censored).astype(int)
        obs["LLOQ"] = lloq
    data = pd.concat([regimen.events(cohort), obs], ignore_index=True)
    data = data.sort_values(["ID", "TIME", "EVID"], ascending=[True, True, False], kind="stable")
    covariates = pd.DataFrame({"ID": cohort.ids, "WT": cohort.weight_kg, "AGE": cohort.age_years})
    return data.merge(covariates, on="ID").reset_index(drop=True)


def nonmem_table(path: Path) -> pd.DataFrame:
    """A NONMEM .ext/.phi table (TABLE NO. line, then a header; names may hold commas)."""
    text = path.read_text().splitlines()
    header = [name.lstrip(",") for name in text[1].split()]
    rows = [
        line.replace(",", " ").split()
        for line in text[2:]
        if line.strip() and not line.lstrip().startswith("TABLE")
    ]
    return pd.DataFrame([[float(x) for x in r] for r in rows], columns=header)


def typical_card(model, cohort):
    """(CL, V, ka) typical values of each child, from the file's numbers (not the model code)."""
    p = model.parameters
    w = np.asarray(cohort.weight_kg)
    return np.stack([p["CL"].value * w, p["V"].value * w, np.full(w.shape, p["ka"].value)], axis=1)


def card(proportional_sd=None):
    model = pk.load_model("baclofen_cp_card")
    if proportional_sd is None:
        return model
    import dataclasses

    return dataclasses.replace(
        model, residual_error=dataclasses.replace(model.residual_error, proportional_sd=proportional_sd)
    )
