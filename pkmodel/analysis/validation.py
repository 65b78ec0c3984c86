"""Validation: the bundled models against published observations of oral baclofen.

Each observation (`data/baclofen_observations.toml`, with its citation and what its
abstract leaves out) is simulated under its own design, with each model, on virtual
subjects like the study's, and the same quantity is computed per subject:

- a study mean or median over n subjects is compared with the spread of that statistic
  over `studies` virtual studies of n subjects (median and 90 % interval); verdict
  "inside" when the observed value lies in the 90 % interval. Without n, with the spread
  of individual subjects (weaker, and said so);
- an observed range (lowest to highest subject) is compared with the simulated subjects:
  verdict "inside" when the median subject lies in the observed range.

The verdict is "edge" when the observed value is within the Monte-Carlo uncertainty of
the simulated quantile it is compared with (the 95 % distribution-free confidence band
of that quantile, from the binomial ranks N p +/- 1.96 sqrt(N p (1 - p))): more virtual
subjects would be needed to say inside or outside.

Quantities come from each subject's parameters where they are parameters (CL/F, lambda_z
is the slowest eigenvalue of the subject's rate matrix: what a terminal slope measures)
and from its simulated curve where they are read off one (Tmax, fluctuation), on a
0.01 h grid. This is validation (models against data); verification (code against
independent code) is in tests/test_reference.py and the NONMEM tests.
"""

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import numpy as np
import pandas as pd

from ..population.cohort import Cohort
from ..dosing.regimen import Regimen
from .exposure import exposure
from ..model.files import load_model
from ..model.model import Model
from ..simulation.simulate import simulate

QUANTITIES = {  # name: (unit, meaning)
    "cl_per_kg": ("L/h/kg", "apparent clearance CL/F per kg"),
    "vz_per_kg": ("L/kg", "volume of the terminal phase Vz/F = (CL/F) / lambda_z, per kg"),
    "t_half": ("h", "terminal half-life ln 2 / lambda_z"),
    "tmax": ("h", "time of the peak after a dose"),
    "fluctuation_pct": ("%", "peak-trough fluctuation 100 (Cmax - Cmin) / Cavg at steady state"),
}
STATISTICS = ("mean", "median", "range")
VALIDATED_MODELS = ("baclofen_cp_card", "baclofen_cp_he2014", "baclofen_cp_he2014_fast_absorption")
STUDIES = 400  # virtual studies per observation with a known n
INDIVIDUALS = 4000  # virtual subjects when a range or an unknown n is compared
ADULT_WEIGHT_KG = 70.0
GRID_H = 0.01
_FIELDS = {
    "study",
    "citation",
    "url",
    "population",
    "ages",
    "design",
    "mg",
    "mg_per_kg_day",
    "mg_per_day",
    "doses_per_day",
    "quantity",
    "statistic",
    "value",
    "low",
    "high",
    "sd",
    "n",
    "genotype",
    "independent",
    "note",
    "assumed",
}


@dataclass(frozen=True)
class Observation:
    """One published number and the design it was measured under (see the data file)."""

    id: str
    study: str
    citation: str
    url: str
    population: str
    design: str
    quantity: str
    statistic: str
    independent: bool
    value: float | None = None
    low: float | None = None
    high: float | None = None
    sd: float | None = None
    n: int | None = None
    ages: tuple[float, float] = (2.0, 17.0)
    mg: float | None = None
    mg_per_kg_day: float | None = None
    mg_per_day: float | None = None
    doses_per_day: int | None = None
    genotype: str | None = None
    note: str = ""
    assumed: str = ""

    def __post_init__(self):
        where = f"baclofen_observations.toml: [{self.id}]"
        for field_, allowed in (
            ("population", ("children", "adults")),
            ("design", ("single_dose", "steady_state")),
            ("quantity", tuple(QUANTITIES)),
            ("statistic", STATISTICS),
        ):
            if getattr(self, field_) not in allowed:
                raise ValueError(
                    f"{where}.{field_} is {getattr(self, field_)!r}; expected one of {list(allowed)}"
                )
        given = ("low", "high") if self.statistic == "range" else ("value",)
        if any(getattr(self, f) is None for f in given):
            raise ValueError(f"{where}: statistic {self.statistic!r} needs {' and '.join(given)}")
        dose = ("mg",) if self.design == "single_dose" else ("doses_per_day",)
        if any(getattr(self, f) is None for f in dose):
            raise ValueError(f"{where}: design {self.design!r} needs {dose[0]}")
        if self.design == "steady_state" and (self.mg_per_day is None) == (self.mg_per_kg_day is None):
            raise ValueError(
                f"{where}: design 'steady_state' has "
                f"{'both' if self.mg_per_day is not None else 'neither'} of mg_per_day and "
                "mg_per_kg_day; expected one (the daily dose)"
            )

    @property
    def observed_text(self) -> str:
        unit = QUANTITIES[self.quantity][0]
        if self.statistic == "range":
            return f"{self.low:g}-{self.high:g} {unit} (range)"
        sd = f" ± {self.sd:g}" if self.sd is not None else ""
        n = f", n = {self.n}" if self.n else ""
        return f"{self.value:g}{sd} {unit} ({self.statistic}{n})"


@cache
def observations() -> tuple[Observation, ...]:
    """The published observations (`data/baclofen_observations.toml`), in file order."""
    doc = tomllib.loads(files("pkmodel").joinpath("data", "baclofen_observations.toml").read_text())
    out = []
    for key, table in doc.items():
        unknown = sorted(set(table) - _FIELDS)
        if unknown:
            raise ValueError(
                f"baclofen_observations.toml: unknown field {key}.{unknown[0]}; "
                f"expected one of {sorted(_FIELDS)}"
            )
        if "ages" in table:
            table = {**table, "ages": tuple(table["ages"])}
        out.append(Observation(id=key, **table))
    return tuple(out)


def subject_values(model: Model, obs: Observation, n_subjects: int, seed: int) -> np.ndarray:
    """The observation's quantity for each of `n_subjects` virtual subjects, shape (n_subjects,).

    Subjects like the study's (`obs.population`, `obs.ages`, `obs.genotype`), with the
    model's random effects drawn from `seed`, on the study's design.
    """
    cohort = _cohort(obs, n_subjects, seed)
    regimen, times, window = _design(obs)
    from_parameters = obs.quantity in ("cl_per_kg", "vz_per_kg", "t_half")
    res = simulate(model, cohort, regimen, times[:1] if from_parameters else times, seed=seed)
    p = res.individual
    weight = cohort.weight_kg
    if from_parameters:
        lambda_z = terminal_rate(model, p)
        return {
            "cl_per_kg": p["CL"] / weight,
            "vz_per_kg": p["CL"] / lambda_z / weight,
            "t_half": math.log(2) / lambda_z,
        }[obs.quantity]
    table = exposure(res, start=window[0], end=window[1])
    if obs.quantity == "tmax":
        return table["tmax_h"].to_numpy() - window[0]
    return table["fluctuation_pct"].to_numpy()


def terminal_rate(model: Model, individual) -> np.ndarray:
    """lambda_z of each subject, 1/h, shape (n_subjects,): its rate matrix's slowest eigenvalue.

    The slope a log-linear fit of the late concentrations measures (the disposition's
    slow phase, or absorption when that is slower: flip-flop).
    """
    if not model.is_linear:
        raise ValueError(
            f"terminal_rate: model {model.name!r} is nonlinear "
            f"({model.nonlinear_reason}); its terminal rate depends on the dose"
        )
    rates = model.compartment_model.rate_matrix(individual)
    return np.min(-np.linalg.eigvals(rates).real, axis=1)


def compare(model: Model, obs: Observation, seed: int = 1, studies: int = STUDIES) -> dict:
    """Observed vs simulated for one model: median and 90 % interval, basis and verdict."""
    if obs.statistic != "range" and obs.n:
        values = subject_values(model, obs, studies * obs.n, seed).reshape(studies, obs.n)
        simulated = (np.mean if obs.statistic == "mean" else np.median)(values, axis=1)
        basis = f"{obs.statistic} of {obs.n} subjects, over {studies} virtual studies"
    else:
        simulated = subject_values(model, obs, INDIVIDUALS, seed)
        basis = f"{INDIVIDUALS} individual subjects, " + (
            "their median against the observed range"
            if obs.statistic == "range"
            else "as n is not known (not the spread of study means)"
        )
    p5, median, p95 = np.percentile(simulated, [5, 50, 95])
    if obs.statistic == "range":
        assert obs.low is not None and obs.high is not None  # Observation checks them
        inside = obs.low <= median <= obs.high
        edge = any(_near_quantile(simulated, 0.5, x) for x in (obs.low, obs.high))
    else:
        assert obs.value is not None  # Observation checks it
        inside = p5 <= obs.value <= p95
        edge = any(_near_quantile(simulated, q, obs.value) for q in (0.05, 0.95))
    return {
        "observation": obs.id,
        "study": obs.study,
        "quantity": obs.quantity,
        "unit": QUANTITIES[obs.quantity][0],
        "observed": obs.observed_text,
        "model": model.name,
        "median": median,
        "p5": p5,
        "p95": p95,
        "verdict": "edge" if edge else "inside" if inside else "outside",
        "independent": obs.independent,
        "basis": basis,
    }


def _near_quantile(values: np.ndarray, q: float, x: float) -> bool:
    """Whether x lies in the 95 % confidence band of the q-quantile of `values` (binomial ranks)."""
    ordered = np.sort(values)
    n = ordered.size
    half = 1.96 * math.sqrt(n * q * (1 - q))
    lo, hi = (int(np.clip(round(n * q + s * half), 0, n - 1)) for s in (-1, 1))
    return bool(ordered[lo] <= x <= ordered[hi])


def validate(models=VALIDATED_MODELS, seed: int = 1) -> pd.DataFrame:
    """Every observation against every model: one row per (observation, model).

    Columns: observation, study, quantity, unit, observed, model, median, p5, p95
    (the simulated statistic), verdict ("inside"/"outside"), independent, basis.
    """
    loaded = [m if isinstance(m, Model) else load_model(m) for m in models]
    return pd.DataFrame([compare(model, obs, seed) for obs in observations() for model in loaded])


def _cohort(obs: Observation, n: int, seed: int) -> Cohort:
    if obs.population == "adults":
        cohort = Cohort(weight_kg=np.full(n, ADULT_WEIGHT_KG), age_years=np.full(n, 40.0))
    else:
        cohort = Cohort.from_growth_charts(n, age_years=obs.ages, seed=seed)
    if obs.genotype is not None:
        cohort = cohort.with_covariates(abcc9_rs11046232=np.full(n, obs.genotype))
    return cohort


def _design(obs: Observation) -> tuple[Regimen, np.ndarray, tuple[float, float]]:
    """The regimen, output times (h) and the window quantities are read over (h)."""
    if obs.design == "single_dose":
        assert obs.mg is not None  # Observation checks it
        regimen = Regimen.fixed(mg=obs.mg, every_h=24.0, n_doses=1)
        return regimen, np.round(np.arange(0.0, 24.0 + GRID_H / 2, GRID_H), 10), (0.0, 24.0)
    assert obs.doses_per_day is not None  # Observation checks it, and one of the daily doses
    tau = 24.0 / obs.doses_per_day
    days = 5  # 27 half-lives of 4.5 h: steady state
    if obs.mg_per_day is not None:
        regimen = Regimen.fixed(
            mg=obs.mg_per_day / obs.doses_per_day, every_h=tau, n_doses=days * obs.doses_per_day
        )
    else:
        assert obs.mg_per_kg_day is not None
        regimen = Regimen.weight_based(
            mg_per_kg_day=obs.mg_per_kg_day, doses_per_day=obs.doses_per_day, days=days
        )
    start = days * 24.0 - tau
    last = np.round(np.arange(start, days * 24.0 + GRID_H / 2, GRID_H), 10)
    return regimen, np.concatenate([[0.0], last]), (start, days * 24.0)


# --- the report -------------------------------------------------------------------------


def report_markdown(table: pd.DataFrame) -> str:
    """docs/validation.md: the observations with their sources, and observed vs simulated."""
    lines = [
        "# Validation: the bundled models against published observations",
        "",
        "Generated by `tests/test_validation.py` (`python tests/test_validation.py` writes it "
        "again; a test fails when it is stale). Each observation is simulated under its own "
        "design with each bundled model (`pkmodel.analysis.validation`); see the module's docstring for "
        'the verdict rules. *Independent* is "no" where the model was built from the number '
        "(a consistency check, not a validation). Verification (the code against independent "
        "code: mrgsolve, NONMEM) is reported apart, in README's Validation section.",
        "",
        "| observation | quantity | observed | model | simulated median [90 % interval] | "
        "verdict | independent |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        lines.append(
            f"| `{row.observation}` | {row.quantity} ({row.unit}) | {row.observed} | "
            f"`{row.model}` | {row.median:.3g} [{row.p5:.3g}-{row.p95:.3g}] | "
            f"**{row.verdict}** | {'yes' if row.independent else 'no'} |"
        )
    lines += [
        "",
        "![observed vs simulated](validation.png)",
        "",
        "*Observed (black: a value, or a bar for a range) and simulated (median and 90 % "
        "interval) by model, each quantity on its own scale.*",
        "",
        "## The observations and what was assumed",
        "",
    ]
    basis = dict(zip(table["observation"], table["basis"]))
    for obs in observations():
        lines += [
            f"- **`{obs.id}`** ({QUANTITIES[obs.quantity][1]}): {obs.observed_text}. "
            f"{obs.note}. Compared with: {basis[obs.id]}. Assumed: {obs.assumed}. "
            f"Source: {obs.citation} (read at {obs.url})."
        ]
    return "\n".join(lines) + "\n"


def figure(table: pd.DataFrame):
    """Observed vs simulated, one panel per quantity; returns a matplotlib Figure."""
    import matplotlib.pyplot as plt

    quantities = list(dict.fromkeys(table["quantity"]))
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(1, len(quantities), figsize=(3.2 * len(quantities), 4.2), squeeze=False)
    by_id = {obs.id: obs for obs in observations()}
    for ax, quantity in zip(axes[0], quantities):
        rows = table[table["quantity"] == quantity]
        ids = list(dict.fromkeys(rows["observation"]))
        for i, oid in enumerate(ids):
            obs = by_id[oid]
            if obs.statistic == "range":
                ax.plot([i, i], [obs.low, obs.high], color="black", lw=6, alpha=0.3)
            else:
                ax.plot(i, obs.value, marker="s", color="black")
            for j, model in enumerate(models):
                r = rows[(rows["observation"] == oid) & (rows["model"] == model)].iloc[0]
                x = i + 0.15 * (j + 1)
                ax.errorbar(
                    x,
                    r["median"],
                    yerr=[[r["median"] - r["p5"]], [r["p95"] - r["median"]]],
                    fmt="o",
                    color=f"C{j}",
                    label=model if i == 0 else None,
                    capsize=2,
                )
        ax.set_xticks(range(len(ids)), ids, rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{quantity} ({QUANTITIES[quantity][0]})", fontsize=9)
    axes[0][0].legend(fontsize=6, frameon=False, loc="best")
    fig.tight_layout()
    return fig
