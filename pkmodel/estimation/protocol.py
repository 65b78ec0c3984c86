"""Virtual trials of a TDM-guided dosing protocol: sample, estimate, re-dose, visit after visit.

Every child starts on `Protocol.start`. At each visit its samples are drawn
from its simulated true curve (with the model's residual error, or exact),
its random effects are estimated by MAP from all its samples so far, and from
the visit on it gets `individual_dose` to the protocol's target. The same
children (the same true random effects, from `seed`, as `pk.simulate` draws
them) are also simulated on the reference regimen (default: the start regimen
continued), so the two arms differ only in the protocol.
"""

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from ..population import variability as _variability
from .._checks import is_number, positive, whole
from ..population.cohort import Cohort
from ..dosing.regimen import Doses, Regimen
from ..analysis.exposure import check_range, exposure
from ..dosing.formulations import Formulation, as_formulation
from ..model.model import Model
from ..model.parameters import ResidualError
from ..simulation.result import Result
from ..engines.base import ENGINES
from .data import Observations, Problem
from .dose import METRICS, individual_dose
from .fit import IndividualFit, check_model, fit_problem, result_at
from .objective import engine_name
from .predict import per_dose_fields

# Posterior draws for prob_in_range at visit k come from spawn key (_POSTERIOR_STREAM, k):
# a stream of their own, clear of pkmodel.population.variability's.
_POSTERIOR_STREAM = 16


@dataclass(frozen=True)
class Visit:
    """A visit: samples drawn at `samples_h` (h, at or before the visit), the dose changed at `at_h`."""

    at_h: float
    samples_h: tuple[float, ...]

    def __post_init__(self):
        positive("Visit", "at_h", self.at_h)
        samples = self.samples_h
        if not (isinstance(samples, (tuple, list)) and samples and all(map(is_number, samples))):
            raise ValueError(f"Visit: samples_h is {samples!r}; expected one or more sampling times, h")
        t = np.array(samples, dtype=float)
        if not (np.all(np.isfinite(t) & (t >= 0) & (t <= self.at_h)) and np.all(np.diff(t) > 0)):
            raise ValueError(
                f"Visit: samples_h is {tuple(samples)!r}; expected increasing times from "
                f"0 h to the visit at {self.at_h:g} h"
            )
        object.__setattr__(self, "samples_h", tuple(float(x) for x in t))


@dataclass(frozen=True)
class Protocol:
    """Start on a regimen; at each visit, sample, estimate and re-dose each child to a target.

    Parameters
    ----------
    start : Regimen
        What every child gets until the first visit.
    visits : tuple of Visit, in time order; each visit's samples after the visit before
    days : float
        How long the trial runs, days (from 0 h).
    target_range : (low, high), mg/L
        What counts as in range (in the summaries and `prob_in_range`).
    target : float, mg/L, optional
        The steady-state exposure the doses aim at (default: the range's
        geometric midpoint).
    metric, doses_per_day, max_mg_per_dose, max_mg_per_day, formulation
        The dose rule, as `individual_dose`.
    lloq_mg_l : float, optional
        Samples below it are reported below the limit (censored, M3).
    """

    start: Regimen
    visits: tuple[Visit, ...]
    days: float
    target_range: tuple[float, float]
    target: float | None = None
    metric: str = "cavg"
    doses_per_day: int = 3
    max_mg_per_dose: float | None = None
    max_mg_per_day: float | None = None
    formulation: Formulation | str | None = None
    lloq_mg_l: float | None = None

    def __post_init__(self):
        if not isinstance(self.start, Regimen):
            raise TypeError(f"Protocol: start is a {type(self.start).__name__}; expected a Regimen")
        visits = tuple(self.visits) if isinstance(self.visits, (list, tuple)) else (self.visits,)
        if not visits or not all(isinstance(v, Visit) for v in visits):
            raise ValueError(f"Protocol: visits is {self.visits!r}; expected one or more Visit")
        object.__setattr__(self, "visits", visits)
        positive("Protocol", "days", self.days)
        for before, visit in zip(visits, visits[1:]):
            if not visit.samples_h[0] > before.at_h:
                raise ValueError(
                    f"Protocol: the visit at {visit.at_h:g} h samples at "
                    f"{visit.samples_h[0]:g} h; expected samples after the visit before "
                    f"it ({before.at_h:g} h)"
                )
        if not visits[-1].at_h < self.end_h:
            raise ValueError(
                f"Protocol: the last visit is at {visits[-1].at_h:g} h; expected it "
                f"before the end of the trial ({self.end_h:g} h = {self.days:g} days)"
            )
        low, high = check_range(self.target_range, "Protocol: target_range")
        if not (low > 0 and math.isfinite(high)):
            raise ValueError(
                f"Protocol: target_range is {self.target_range!r}; expected 0 < low < high < inf mg/L"
            )
        object.__setattr__(self, "target_range", (low, high))
        target = math.sqrt(low * high) if self.target is None else positive("Protocol", "target", self.target)
        object.__setattr__(self, "target", target)
        if self.metric not in METRICS:
            raise ValueError(f"Protocol: metric is {self.metric!r}; expected one of {list(METRICS)}")
        whole("Protocol", "doses_per_day", self.doses_per_day, 1)
        positive("Protocol", "max_mg_per_dose", self.max_mg_per_dose, optional=True)
        positive("Protocol", "max_mg_per_day", self.max_mg_per_day, optional=True)
        if self.formulation is not None:
            object.__setattr__(self, "formulation", as_formulation(self.formulation, "Protocol"))
        if self.lloq_mg_l is not None:
            positive("Protocol", "lloq_mg_l", self.lloq_mg_l)

    @property
    def end_h(self) -> float:
        return 24.0 * self.days


@dataclass(frozen=True, eq=False)
class ProtocolResult:
    """A virtual trial of a protocol against its reference regimen, on the same children.

    Attributes
    ----------
    periods : DataFrame
        One row per child, arm ("protocol", "reference") and period (0 before
        the first visit, k after visit k): ID, arm, period, start_h, end_h,
        mg_per_day (given over the period's last 24 h), mg_per_kg_day, cavg,
        cmin, cmax (true, over the last 24 h, mg/L), cavg_ss_true (the steady
        state of that daily dose with the child's true parameters), and for the
        protocol's periods after a visit predicted (the estimate of the
        metric at the dose chosen) and prob_in_range.
    summary : DataFrame, one row per arm
        Over the children, the last period: frac_in_range, frac_under,
        frac_over (true Cavg of the last 24 h against target_range); and
        median_time_in_range (each child's fraction of time in range from the
        first visit to the end).
    fits, doses : per visit, the IndividualFit and the `individual_dose` table
    protocol, reference : Result, the true curves of each arm
    etas : ndarray, shape (n_subjects, n_etas), the children's true random effects
    """

    periods: pd.DataFrame
    summary: pd.DataFrame
    fits: tuple[IndividualFit, ...]
    doses: tuple[pd.DataFrame, ...]
    protocol: Result
    reference: Result
    etas: np.ndarray


def simulate_protocol(
    model: Model,
    cohort: Cohort,
    protocol: Protocol,
    *,
    reference: Regimen | None = None,
    estimation_model: Model | None = None,
    seed: int | None = None,
    engine: str = "auto",
    residual_error: bool = True,
    step_h: float = 1.0,
    samples: int | None = 200,
) -> ProtocolResult:
    """A virtual trial: every child of `cohort` dosed by `protocol`, and on `reference`.

    Parameters
    ----------
    model : the truth the children are simulated from
    estimation_model : the model the MAP estimates use (default `model`: a correct model)
    reference : Regimen, optional
        The comparator arm (default `protocol.start` continued); it must give doses
        over the trial's last day.
    residual_error : bool
        True: samples carry the model's residual error (drawn from `seed`); False: exact.
    step_h : output grid of the true curves, h
    samples : posterior draws per child for `prob_in_range` (None: none)
    """
    if not isinstance(model, Model):
        raise TypeError(f"simulate_protocol: model is a {type(model).__name__}; expected a Model")
    if model.structure is None:
        raise ValueError(
            f"simulate_protocol: model {model.name!r} is written in the model "
            "language; protocol trials use individual_dose, which needs a named "
            "structure so far"
        )
    if not isinstance(cohort, Cohort):
        raise TypeError(f"simulate_protocol: cohort is a {type(cohort).__name__}; expected a Cohort")
    if not isinstance(protocol, Protocol):
        raise TypeError(f"simulate_protocol: protocol is a {type(protocol).__name__}; expected a Protocol")
    fitted = model if estimation_model is None else estimation_model
    check_model(fitted)
    if residual_error and model.residual_error is None:
        raise ValueError(
            f"simulate_protocol: model {model.name!r} has no residual_error; expected "
            "one, or residual_error=False (exact samples)"
        )
    name = engine_name(engine, "simulate_protocol")
    positive("simulate_protocol", "step_h", step_h)
    entropy = _variability.seed_entropy(seed)
    n = len(cohort)
    eta = _variability.sample_etas(model.omega, n, entropy)  # the children pk.simulate(seed) draws
    truth = model.individual_parameters(cohort, eta)
    end_h = protocol.end_h
    doses = protocol.start.doses(cohort, seed=entropy)
    arm = reference or protocol.start
    reference_doses = arm.doses(cohort, seed=entropy)
    if not reference_doses.time_h[-1] >= end_h - 24:
        raise ValueError(
            f"simulate_protocol: the reference regimen's last dose is at "
            f"{reference_doses.time_h[-1]:g} h; expected doses over the trial's last "
            f"day (from {end_h - 24:g} h; days is {protocol.days:g})"
        )
    counts = [len(v.samples_h) for v in protocol.visits]
    error = cast(ResidualError, model.residual_error)  # check_model refused a model without one
    z = _variability.standard_normals(entropy, _variability.STREAM_RESIDUAL, 0, n, 2 * sum(counts))
    parts, fits, tables = [], [], []
    for k, visit in enumerate(protocol.visits):  # over visits, each vectorised over the children
        times = np.array(visit.samples_h)
        true = ENGINES[name].simulate(model, truth, doses, times)
        s, first = times.size, sum(counts[:k])
        measured = (
            error.apply(true, z[:, first : first + s], z[:, sum(counts) + first : sum(counts) + first + s])
            if residual_error
            else true
        )
        parts.append((np.repeat(np.arange(n), s), np.tile(times, n), measured.ravel()))
        obs = _observations(parts, protocol.lloq_mg_l)
        fit = fit_problem(
            fitted,
            Problem(cohort=cohort, doses=doses, obs=obs, source=f"visit {k + 1} ({visit.at_h:g} h)"),
            name,
        )
        table = individual_dose(
            fit,
            protocol.target,
            doses_per_day=protocol.doses_per_day,
            max_mg_per_dose=protocol.max_mg_per_dose,
            max_mg_per_day=protocol.max_mg_per_day,
            formulation=protocol.formulation,
            metric=protocol.metric,
            target_range=protocol.target_range,
            samples=samples,
            seed=int(np.random.SeedSequence(entropy, spawn_key=(_POSTERIOR_STREAM, k)).generate_state(1)[0]),
        )
        doses = _switched(doses, visit.at_h, table["mg_per_dose"].to_numpy(), protocol.doses_per_day, end_h)
        fits.append(fit)
        tables.append(table)
    bounds = [0.0] + [v.at_h for v in protocol.visits] + [end_h]
    grid = np.arange(0.0, end_h + step_h / 2, step_h)
    grid = np.union1d(grid[grid <= end_h], bounds + [max(0.0, b - 24) for b in bounds])
    arms = {
        "protocol": result_at(model, cohort, eta[None], doses, grid, name, entropy, "protocol"),
        "reference": result_at(model, cohort, eta[None], reference_doses, grid, name, entropy, arm.label),
    }
    periods = _periods(arms, bounds, truth, cohort, tables, protocol)
    summary = _summary(arms, periods, bounds, protocol.target_range)
    return ProtocolResult(
        periods=periods,
        summary=summary,
        fits=tuple(fits),
        doses=tuple(tables),
        protocol=arms["protocol"],
        reference=arms["reference"],
        etas=eta,
    )


def _observations(parts, lloq: float | None) -> Observations:
    """All samples so far, sorted by child then time; below `lloq` censored at it."""
    subject, time, dv = (np.concatenate(column) for column in zip(*parts))
    censored = np.zeros(dv.size, dtype=bool) if lloq is None else dv < lloq
    if lloq is not None:
        dv = np.where(censored, lloq, dv)
    order = np.lexsort((time, subject))
    return Observations(
        subject=subject[order],
        time_h=time[order],
        dv=dv[order],
        censored=censored[order],
        row=np.full(dv.size, -1),
    )


def _switched(doses: Doses, at_h: float, mg: np.ndarray, doses_per_day: int, end_h: float) -> Doses:
    """The doses before `at_h`, then mg (per child) every 24 / doses_per_day h until end_h."""
    tau = 24.0 / doses_per_day
    count = int(math.ceil((end_h - at_h) / tau - 1e-9))
    keep = doses.time_h < at_h
    new = np.zeros(count)

    def kept_then_zeros(field: np.ndarray | None) -> np.ndarray | None:
        # jitter (offset_h) and missed doses (missed_mg) of the doses kept; the new are given on time
        return None if field is None else np.concatenate([field[:, keep], np.zeros((mg.size, count))], axis=1)

    compartment, ss, ii_h, rate = per_dose_fields(doses)
    return Doses(
        time_h=np.r_[doses.time_h[keep], at_h + tau * np.arange(count)],
        amount_mg=np.concatenate([doses.amount_mg[:, keep], np.repeat(mg[:, None], count, axis=1)], axis=1),
        compartment=np.r_[compartment[keep], new].astype(np.int64),
        ss=np.r_[ss[keep], new].astype(np.int64),
        ii_h=np.r_[ii_h[keep], new],
        rate_mg_per_h=np.r_[rate[keep], new],
        offset_h=kept_then_zeros(doses.offset_h),
        missed_mg=kept_then_zeros(doses.missed_mg),
    )


def _periods(arms, bounds, truth, cohort, tables, protocol) -> pd.DataFrame:
    frames = []
    for label, result in arms.items():  # over arms and periods, each vectorised over the children
        for j, (start, end) in enumerate(zip(bounds, bounds[1:])):
            window = exposure(result, start=max(start, end - 24), end=end)
            last_day = (result.doses.time_h >= end - 24) & (result.doses.time_h < end)
            mg_per_day = result.doses.amount_mg[:, last_day].sum(axis=1) * 24 / min(24, end - start)
            frame = pd.DataFrame(
                {
                    "ID": cohort.ids,
                    "arm": label,
                    "period": j,
                    "start_h": start,
                    "end_h": end,
                    "mg_per_day": mg_per_day,
                    "mg_per_kg_day": mg_per_day / cohort.weight_kg,
                    "cavg": window["cavg"].to_numpy(),
                    "cmin": window["cmin"].to_numpy(),
                    "cmax": window["cmax"].to_numpy(),
                    "cavg_ss_true": truth["F"] * mg_per_day / (24 * truth["CL"]),
                }
            )
            if label == "protocol" and j > 0:
                frame["predicted"] = tables[j - 1][protocol.metric].to_numpy()
                if "prob_in_range" in tables[j - 1]:
                    frame["prob_in_range"] = tables[j - 1]["prob_in_range"].to_numpy()
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _summary(arms, periods, bounds, target_range) -> pd.DataFrame:
    low, high = target_range
    rows = []
    for label, result in arms.items():
        last = periods[(periods.arm == label) & (periods.period == len(bounds) - 2)]
        time_in = exposure(result, start=bounds[1], end=bounds[-1], target_range=target_range)
        rows.append(
            {
                "arm": label,
                "n": len(last),
                "frac_in_range": float(np.mean((last.cavg >= low) & (last.cavg <= high))),
                "frac_under": float(np.mean(last.cavg < low)),
                "frac_over": float(np.mean(last.cavg > high)),
                "median_time_in_range": float(np.median(time_in["frac_in_range"])),
            }
        )
    return pd.DataFrame(rows).set_index("arm")
