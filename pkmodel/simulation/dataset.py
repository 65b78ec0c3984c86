"""Simulate a NONMEM data set as written: `pk.simulate_dataset`.

Every record is an event in NONMEM's order. Per subject the records and what
they set going (ADDL doses, lagged arrivals, ends of infusions, the pending
doses of a steady state) are sorted by (segment, time, kind, record): a
segment starts at each reset (EVID 3 or 4); at one time the doses and ends set
going earlier come first, then the records in file order, each record's reset,
steady state and own dose before its report. So an observation record after
a dose record at the same time sees the dose, one before it does not, and a
dose record reports the state after its dose (NONMEM's tables). A reset cancels
whatever earlier records set going after it (ADDL doses, infusions running).

The state is z = (amounts x, infusion rates r), dz/dt = (K x + r, 0): linear,
so each event is z <- s * Phi(dt) z + d (s 0 for a reset or SS=1, d what the
event adds), stepped for the k-th event of every subject at once. Phi is the
exact exp(M dt) (engine "analytic") or the model's equations integrated
(engine "ode", scipy's DOP853 on the stacked subjects).

Steady states (`pkmodel.engines.linalg.dataset_steady_state`) are those of the
record's dose given every II forever, at TIME: with a lag the past lagged
doses have arrived, the record's own arrives at TIME + lag, and for infusions
longer than II the earlier ones still running end as they would.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from .._checks import plain
from ..dosing.dataset import ALIASES, Dataset, read_dataset
from ..dosing.modifiers import dose_modifiers
from ..engines.linalg import dataset_steady_state
from ..model.model import Model
from ..population import variability as _variability
from ._steps import _ode_step, _transitions

COVARIATE_RULES = ("nocb", "locf")
ENGINES = ("auto", "analytic", "ode")


def simulate_dataset(
    model: Model,
    data,
    *,
    engine: str = "auto",
    variability: bool = False,
    seed: int | None = None,
    covariates: str = "nocb",
    dosing=None,
    default_cmt: int = 1,
) -> pd.DataFrame:
    """The records of a NONMEM data set (comments dropped), in order, with IPRED, mg/L.

    Parameters
    ----------
    data : DataFrame or path to a CSV file (`pkmodel.dosing.dataset`)
    engine : "auto" (analytic for linear models), "analytic" or "ode"
    variability : True: random effects drawn from `seed`, PRED (typical values)
        and DV_SIM (IPRED with the model's residual error, on EVID 0 records) added
    covariates : "nocb" (NONMEM: a record's values hold over the interval that
        ends at it) or "locf" (from it onwards, as mrgsolve's option)
    dosing : {compartment: {"F"|"lag"|"rate"|"duration": number or column}},
        NONMEM's F/ALAG/R/D per compartment (`pkmodel.dosing.modifiers`)
    default_cmt : the compartment (1-based) of a dose record without CMT

    Returns
    -------
    DataFrame, one row per record: the input columns, then IPRED (and PRED, DV_SIM).
    """
    if not isinstance(model, Model):
        raise TypeError(f"model is a {type(model).__name__}; expected a pkmodel Model (pk.load_model)")
    if covariates not in COVARIATE_RULES:
        raise ValueError(
            f"simulate_dataset: covariates is {covariates!r}; expected one of {list(COVARIATE_RULES)}"
        )
    if engine not in ENGINES:
        raise ValueError(f"simulate_dataset: engine is {engine!r}; expected one of {list(ENGINES)}")
    if not getattr(model, "is_linear", True):
        raise NotImplementedError(
            f"simulate_dataset: model {model.name!r} is nonlinear; data sets "
            "are simulated for linear models (steady states by the exact "
            "linear solution)"
        )
    structure = model.structure
    if structure is None:  # the language's models reach the engines through model.system
        raise NotImplementedError(
            f"simulate_dataset: model {model.name!r} is written in the model "
            "language; data sets are simulated for the named structures "
            "(structure = ...) for now"
        )
    if engine == "auto":
        engine = "analytic"
    ds = read_dataset(data)
    n_cmt = len(structure.compartments)
    if not (isinstance(default_cmt, (int, np.integer)) and 1 <= default_cmt <= n_cmt):
        raise ValueError(
            f"simulate_dataset: default_cmt is {default_cmt!r}; expected a compartment "
            f"1..{n_cmt} of {structure.name}"
        )
    cmt = np.where(ds.cmt == 0, np.where(ds.is_dose, default_cmt, structure.central_index + 1), ds.cmt)
    listed = ", ".join(f"{i} ({c})" for i, c in enumerate(structure.compartments, start=1))
    ds.refuse(cmt > n_cmt, "CMT", f"a compartment of {structure.name}: {listed}")
    ds.refuse(
        (ds.evid == 0) & (cmt != structure.central_index + 1),
        "CMT",
        f"the observed compartment on an observation record: {structure.central_index + 1} "
        "(central; the model's concentration is central / V)",
    )
    cohort = _record_covariates(model, ds)
    n_etas = len(model.etas)
    runs = {}
    entropy: int | None
    if variability and n_etas:
        entropy = _variability.seed_entropy(seed)
        etas = _variability.sample_etas(model.omega, ds.n_subjects, entropy)[ds.subject]
        runs["IPRED"] = model.individual_parameters(cohort, etas)
        runs["PRED"] = model.typical_values(cohort)
    else:
        entropy = _variability.seed_entropy(seed) if variability else None
        runs["IPRED"] = model.typical_values(cohort)
        if variability:
            runs["PRED"] = runs["IPRED"]
    out = ds.table.copy()
    for name, params in runs.items():
        _refuse_bad_parameters(ds, params)
        out[name] = _simulate(model, ds, params, cmt.astype(np.int64) - 1, engine, covariates, dosing)
    if variability:
        error = model.residual_error
        if error is None:
            raise ValueError(
                f"simulate_dataset: model {model.name!r} has no residual_error; "
                "variability=True draws DV_SIM with it"
            )
        assert entropy is not None  # drawn above whenever variability is on
        z = _variability.standard_normals(entropy, _variability.STREAM_RESIDUAL, 0, 1, 2 * len(ds.evid))
        n = len(ds.evid)
        sim = error.apply(out["IPRED"].to_numpy(), z[0, :n], z[0, n:])
        out["DV_SIM"] = np.where(ds.evid == 0, sim, np.nan)
    return out


def _record_covariates(model: Model, ds: Dataset) -> SimpleNamespace:
    """What `Model.typical_values` reads, one entry per record: weight_kg and the covariates used."""
    wanted = {e.covariate: e for p in model.parameters.values() for e in p.covariates}
    per_kg = any(p.per_kg for p in model.parameters.values())
    n = len(ds.evid)
    found = {}
    for name in set(wanted) | ({"weight_kg"} if per_kg else set()):
        column = ds.column(name) or next(
            (ds.column(a) for a, to in ALIASES.items() if to == name and ds.column(a)), None
        )
        if column is None:
            if name in wanted and wanted[name].missing == "typical":
                continue
            names = [name] + [a for a, to in ALIASES.items() if to == name]
            raise ValueError(
                f"{ds.source}: no column {' or '.join(names)}; model {model.name!r} "
                f"uses covariate {name!r}" + (" (a per-kg unit)" if name == "weight_kg" and per_kg else "")
            )
        if name in wanted and wanted[name].kind == "categorical":
            raw = ds.table[column]
            ds.refuse(raw.isna().to_numpy(), column, "a level on every record (the model uses it)")
            numbers = pd.to_numeric(raw, errors="coerce")
            whole = numbers.notna() & (numbers == numbers.round())
            found[name] = np.where(whole, numbers.fillna(0).astype(np.int64).astype(str), raw.astype(str))
        else:
            found[name] = ds.covariate(column)
    weight = found.pop("weight_kg", np.full(n, np.nan))
    return SimpleNamespace(weight_kg=weight, covariates=found)


def _refuse_bad_parameters(ds: Dataset, params) -> None:
    for name, values in params.items():
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{ds.source} row {i} (ID {plain(ds.id_of(i))!r}): parameter {name} is "
                f"{plain(values[i])!r}; expected a finite number >= 0 (from the "
                "record's covariates)"
            )


def _simulate(model, ds, params, cmt, engine, rule, dosing) -> np.ndarray:
    """IPRED at every record, shape (n_records,), mg/L."""
    structure = model.structure
    m = len(structure.compartments)
    K = structure.rate_matrix(params)  # (n_records, m, m)
    mods = dose_modifiers(model, params, ds, dosing)
    ev = _events(ds, params, mods, cmt, K, m)
    n_records = len(ds.evid)
    # the parameters of the interval that ends at each event: NOCB the next record, LOCF the last
    pos = np.arange(ev.time.size)
    is_rec = ev.report >= 0
    if rule == "nocb":
        nxt = np.where(is_rec, pos, ev.time.size)
        nxt = np.minimum.accumulate(nxt[::-1])[::-1]
        p = ev.report_safe[np.minimum(nxt, ev.time.size - 1)]
    else:
        last = np.maximum.accumulate(np.where(is_rec, pos, -1))
        p = ev.report_safe[np.r_[0, np.maximum(last[:-1], 0)]]
    p = np.where(ev.first, ev.source, p)
    dt = np.where(ev.first, 0.0, ev.time - np.r_[ev.time[:1], ev.time[:-1]])
    conc = np.zeros(n_records)
    volume = params[structure.volume]
    central = structure.central_index
    # subjects' k-th events together: subjects ordered by number of events, most first
    counts = np.diff(ev.offsets)
    rank = np.argsort(-counts, kind="stable")
    start, counts = ev.offsets[:-1][rank], counts[rank]
    active = np.searchsorted(-counts, -np.arange(counts[0] if counts.size else 0), side="left")
    z = np.zeros((counts.size, 2 * m))
    phi_of = _transitions(K, p, dt, m) if engine == "analytic" else None
    for k, a in enumerate(active):  # over each subject's k-th event, vectorised over subjects
        e = start[:a] + k
        if phi_of is not None:  # the analytic engine
            z[:a] = np.einsum("nij,nj->ni", phi_of(e), z[:a])
        else:
            z[:a] = _ode_step(K[p[e]], dt[e], z[:a], m)
        z[:a] = ev.scale[e, None] * z[:a] + ev.add[e]
        rep = ev.report[e]
        seen = rep >= 0
        conc[rep[seen]] = z[:a][seen, central] / volume[rep[seen]]
    return conc


class _Events(SimpleNamespace):
    """Events sorted per subject: time, source record, report (record or -1), scale, add, first."""


def _events(ds: Dataset, params, mods, cmt, K, m) -> _Events:
    """Every event of every subject, sorted (module docstring), with its affine action."""
    n = len(ds.evid)
    rec = np.arange(n)
    t, ss, ii = ds.time_h, ds.ss.astype(np.int64), ds.ii_h
    F, lag, model_rate, model_dur = (mods[k][rec, cmt] for k in ("F", "lag", "rate", "duration"))
    dose = ds.is_dose & ((ds.amt_mg > 0) | (ds.rate > 0))
    amount = F * ds.amt_mg
    rate = np.where(ds.rate > 0, ds.rate, np.where(ds.rate == -1, model_rate, 0.0))
    ds.refuse(
        dose & (ds.rate == -1) & ~(rate > 0),
        "RATE",
        "a model that gives a rate for this compartment (RATE -1: dosing.<compartment>.rate, NONMEM's R<n>)",
    )
    ds.refuse(
        dose & (ds.rate == -2) & ~(model_dur > 0),
        "RATE",
        "a model that gives a duration for "
        "this compartment (RATE -2: dosing.<compartment>.duration, NONMEM's D<n>)",
    )
    constant = dose & (ss == 1) & (ds.amt_mg == 0) & (ii == 0)
    rate = np.where(ds.rate == -2, amount / np.where(model_dur > 0, model_dur, 1.0), rate)
    duration = np.where(rate > 0, amount / np.where(rate > 0, rate, 1.0), 0.0)
    duration = np.where(ds.rate == -2, model_dur, duration)
    reset = np.isin(ds.evid, (3, 4)) | (dose & (ss == 1))
    seg = np.cumsum(reset)
    # generated events: (source record, time, rate change or bolus), from ADDL, lags, infusions, SS
    src, when, kind, j, n_running = _arrivals(ds, dose, ss, ii, lag, duration)
    bolus = rate[src] == 0
    g_src = np.r_[src[bolus], src[~bolus], src[~bolus]]
    g_time = np.r_[when[bolus], when[~bolus], when[~bolus] + duration[src[~bolus]]]
    g_kind = np.r_[np.zeros(bolus.sum(), int), np.ones((~bolus).sum(), int), np.full((~bolus).sum(), 2)]
    g_keep = np.r_[kind[bolus] == 0, kind[~bolus] == 0, kind[~bolus] <= 1]  # 1: already running at SS
    # own dose at the record (no lag, not SS): class 1 with the record
    own = dose & (ss == 0) & (lag == 0) & ~constant
    g_own = np.r_[
        np.zeros(bolus.sum(), bool) | (j[bolus] == 0) & own[src[bolus]],
        (j[~bolus] == 0) & own[src[~bolus]],
        np.zeros((~bolus).sum(), bool),
    ]
    g_src, g_time, g_kind, g_own = g_src[g_keep], g_time[g_keep], g_kind[g_keep], g_own[g_keep]
    # cancelled by a later reset (EVID 3/4, SS=1) or after the subject's last record
    resets = np.flatnonzero(reset)
    nxt = np.searchsorted(resets, g_src, side="right")
    has = nxt < resets.size
    nr = resets[np.minimum(nxt, max(resets.size - 1, 0))] if resets.size else np.zeros_like(g_src)
    same = has & (ds.subject[nr] == ds.subject[g_src])
    last_rec = np.r_[np.flatnonzero(np.diff(ds.subject)), n - 1][ds.subject[g_src]]
    limit = np.where(same, t[nr], t[last_rec])
    keep = g_own | (g_time <= limit)
    g_src, g_time, g_kind, g_own = g_src[keep], g_time[keep], g_kind[keep], g_own[keep]
    # record events: [reset][SS][own dose] report, at the record
    c_rec, c_sub = (
        np.r_[rec[reset], rec[dose & (ss > 0)], g_src[g_own], rec],
        np.r_[
            np.zeros(reset.sum(), int),
            np.ones((dose & (ss > 0)).sum(), int),
            np.full(g_own.sum(), 2),
            np.full(n, 3),
        ],
    )
    c_kind = np.r_[np.full(reset.sum(), 3), np.full((dose & (ss > 0)).sum(), 4), g_kind[g_own], np.full(n, 5)]
    o_src, o_time, o_kind = g_src[~g_own], g_time[~g_own], g_kind[~g_own]
    srcs = np.r_[o_src, c_rec]
    times = np.r_[o_time, t[c_rec]]
    kinds = np.r_[o_kind, c_kind]
    klass = np.r_[np.zeros(o_src.size, int), np.ones(c_rec.size, int)]
    sub = np.r_[np.zeros(o_src.size, int), c_sub]
    order = np.lexsort((sub, np.where(klass == 1, srcs, 0), klass, times, seg[srcs], ds.subject[srcs]))
    srcs, times, kinds = srcs[order], times[order], kinds[order]
    subj = ds.subject[srcs]
    nev = srcs.size
    scale = np.ones(nev)
    add = np.zeros((nev, 2 * m))
    c = cmt[srcs]
    idx = np.arange(nev)
    b = kinds == 0
    add[idx[b], c[b]] = amount[srcs[b]]
    on, off = kinds == 1, kinds == 2
    add[idx[on], m + c[on]] = rate[srcs[on]]
    add[idx[off], m + c[off]] = -rate[srcs[off]]
    scale[kinds == 3] = 0.0
    s_ev = np.flatnonzero(kinds == 4)
    if s_ev.size:
        r = srcs[s_ev]
        add[s_ev] = dataset_steady_state(
            K[r], amount[r], cmt[r], ii[r], lag[r], rate[r], duration[r], constant[r], running=n_running[r]
        )
        scale[s_ev] = (ss[r] == 2).astype(float)
    report = np.where(kinds == 5, srcs, -1)
    offsets = np.r_[0, np.cumsum(np.bincount(subj, minlength=ds.n_subjects))]
    first = np.zeros(nev, bool)
    first[offsets[:-1][offsets[:-1] < nev]] = True
    first[1:] |= seg[srcs][1:] != seg[srcs][:-1]
    return _Events(
        time=times,
        source=srcs,
        report=report,
        report_safe=np.where(report >= 0, report, srcs),
        scale=scale,
        add=add,
        first=first,
        offsets=offsets,
    )


def _arrivals(ds, dose, ss, ii, lag, duration):
    """Dose arrivals: source record, arrival time, kind (0 new, 1 arrived before TIME at SS), j.

    A plain dose record and its ADDL: TIME + k II + lag. A steady-state record: its
    ADDL doses, and of the doses given every II up to TIME those that arrive after
    TIME (kind 0; the record's own, and earlier ones when lag > II) or arrived and
    are still running at TIME (kind 1: only their ends are events).
    """
    rows = np.flatnonzero(dose)
    plain_ = rows[ss[rows] == 0]
    steady = rows[(ss[rows] > 0) & (ii[rows] > 0)]
    count = ds.addl[plain_].astype(np.int64) + 1
    src1 = np.repeat(plain_, count)
    k1 = np.arange(src1.size) - np.repeat(np.cumsum(count) - count, count)
    when1 = ds.time_h[src1] + k1 * ii[src1] + lag[src1]
    # steady state: ADDL k = 1.., and j = 0.. past doses (arrival TIME + lag - j II)
    ca = ds.addl[steady].astype(np.int64)
    src2 = np.repeat(steady, ca)
    k2 = np.arange(src2.size) - np.repeat(np.cumsum(ca) - ca, ca) + 1
    when2 = ds.time_h[src2] + k2 * ii[src2] + lag[src2]
    span = np.ceil((lag[steady] + duration[steady]) / ii[steady]).astype(np.int64) + 1
    src3 = np.repeat(steady, span)
    j3 = np.arange(src3.size) - np.repeat(np.cumsum(span) - span, span)
    ahead = lag[src3] - j3 * ii[src3]  # arrival - TIME
    pending = (j3 == 0) & (lag[src3] > 0)  # NONMEM: only the record's own dose
    running = ~pending & (ahead + duration[src3] > 0)
    # lag > II: NONMEM's state at TIME is the steady state II - lag (< 0) after an arrival at
    # TIME + lag - II, with the ceil(D / II) infusions of the last arrivals j = 1, 2, ... running
    # (nlmixr2/nmtests IDs 409-1009, where NONMEM 7.4.3 even gives negative amounts)
    beyond = lag[src3] > ii[src3]
    running = np.where(beyond, ~pending & (j3 <= np.ceil(duration[src3] / ii[src3])), running)
    keep = pending | running
    src3, j3, ahead, pending, running = src3[keep], j3[keep], ahead[keep], pending[keep], running[keep]
    n_running = np.bincount(src3[running & (duration[src3] > 0)], minlength=ds.time_h.size)
    when3 = ds.time_h[src3] + ahead
    src = np.r_[src1, src2, src3]
    when = np.r_[when1, when2, when3]
    kind = np.r_[np.zeros(src1.size + src2.size, int), np.where(pending, 0, 1)]
    j = np.r_[k1, k2, np.full(src3.size, -1)]
    return src, when, kind, j, n_running
