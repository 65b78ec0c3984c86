"""Exposure: per-child windows (issue 12 items 1, 2), exact metrics of linear models (item 9), grid NCA."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

import pkmodel as pk
from pkmodel.dosing.doses import SubjectDoses
from pkmodel.engines import exact
from pkmodel.analysis.exposure import auc_linear, auc_linear_up_log_down, time_in_range

from conftest import CAVG_2_MG_KG_DAY, CL_PER_KG, KA, V_PER_KG

K = CL_PER_KG / V_PER_KG  # 1/h, ln 2 / 4.5 h
TMAX_SINGLE_DOSE_H = math.log(KA / K) / (KA - K)  # one compartment, first-order absorption


def superposed_auc(res: pk.Result, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """AUC over [start, end] (per child) of the one-compartment oral closed form, by superposition
    of every dose given (F, lag, jitter, missed doses), independently of pkmodel's engines:
    C = F D ka / (V (ka - k)) (e^{-k s} - e^{-ka s}), s the time since the dose arrived."""
    p = res.individual
    f, v, ka, tlag = p["F"][:, None], p["V"][:, None], p["ka"][:, None], p["tlag"][:, None]
    k = (p["CL"] / p["V"])[:, None]
    doses = res.doses
    if isinstance(doses, SubjectDoses):  # each child's own doses, as rows padded with 0 mg
        slot = np.arange(doses.time_h.size) - np.repeat(doses.offsets[:-1], doses.counts)
        given = np.zeros((doses.n_subjects, doses.counts.max()))
        taken = np.zeros(given.shape)
        given[doses.subject, slot], taken[doses.subject, slot] = doses.amount_mg, doses.time_h
    else:
        given, taken = doses.amount_mg, np.broadcast_to(doses.actual_time_h, doses.amount_mg.shape)
    repeats = (len(res) // given.shape[0], 1)  # replicates share the doses
    amount = np.tile(given, repeats)
    arrived = np.tile(taken, repeats) + tlag
    lo = np.maximum(start[:, None] - arrived, 0.0)
    hi = np.maximum(end[:, None] - arrived, 0.0)
    part = (np.exp(-k * lo) - np.exp(-k * hi)) / k - (np.exp(-ka * lo) - np.exp(-ka * hi)) / ka
    return (f * amount * ka / (v * (ka - k)) * part).sum(axis=1)


def event_table(rows: dict[int, list[tuple[float, float]]]) -> pk.EventTable:
    """{ID: [(TIME, AMT), ...]} as a NONMEM-style table of oral doses."""
    ids, times, amounts = zip(*((i, t, a) for i, doses in rows.items() for t, a in doses))
    return pk.read_events(pd.DataFrame({"ID": ids, "TIME": times, "AMT": amounts, "EVID": 1, "CMT": 1}))


def steady_state_profile(dose_mg_per_kg: float, tau_h: float):
    """One-compartment oral model at steady state (typical child, per kg), t in [0, tau] after a dose.

    C(t) = D ka / (V (ka - k)) [exp(-k t) / (1 - exp(-k tau)) - exp(-ka t) / (1 - exp(-ka tau))],
    peak where the derivative is 0: t* = ln(ka (1 - exp(-k tau)) / (k (1 - exp(-ka tau)))) / (ka - k).
    Returns (C as a function of t, t*), mg/L and h.
    """
    a = dose_mg_per_kg * KA / (V_PER_KG * (KA - K))

    def conc(t):
        return a * (
            math.exp(-K * t) / (1 - math.exp(-K * tau_h)) - math.exp(-KA * t) / (1 - math.exp(-KA * tau_h))
        )

    t_peak = math.log(KA * (1 - math.exp(-K * tau_h)) / (K * (1 - math.exp(-KA * tau_h)))) / (KA - K)
    return conc, t_peak


def typical_child(card, doses_per_day: int, grid_h: float = 0.05, weight_kg: float = 20.0, days: int = 14):
    cohort = pk.Cohort(weight_kg=[weight_kg], age_years=[6.0])
    regimen = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=doses_per_day, days=days)
    times = np.round(np.arange(0, 24 * days + grid_h / 2, grid_h), 10)
    return pk.simulate(card, cohort, regimen, times, variability=False)


def test_log_down_trapezoid_is_exact_on_an_exponential_decline():
    t = np.linspace(0, 10, 11)
    c = 2.0 * np.exp(-0.3 * t)[None, :]
    exact = 2.0 / 0.3 * (1 - math.exp(-3.0))
    np.testing.assert_allclose(auc_linear_up_log_down(t, c), [exact], rtol=1e-13)
    # the linear trapezoid overestimates a convex decline: by ~0.75 % at dt * k = 0.3
    assert auc_linear(t, c)[0] > exact * 1.005


def test_linear_trapezoid_where_the_curve_rises_or_touches_zero():
    t = np.array([0.0, 1.0, 3.0, 4.0])
    c = np.array([[0.0, 2.0, 4.0, 0.0]])  # up, up, down to zero (log undefined: linear)
    np.testing.assert_allclose(auc_linear_up_log_down(t, c), [1.0 + 6.0 + 2.0])


def test_grid_metrics_over_a_window_read_the_output_times(card):
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    times = np.arange(0, 48.25, 0.25)
    res = pk.simulate(card, cohort, pk.Regimen.fixed(mg=10, every_h=12, n_doses=4), times, variability=False)
    e = pk.exposure(res, start=24, end=36, method="grid")
    assert e["method"].tolist() == ["grid"] and e.attrs["method"] == "grid"
    assert list(e["method"].cat.categories) == ["exact", "grid"]
    window = (times >= 24) & (times <= 36)
    c = res.concentrations[0, window]
    assert e["cmax"].iloc[0] == c.max() and e["cmin"].iloc[0] == c.min()
    assert e["tmax_h"].iloc[0] == times[window][np.argmax(c)]
    np.testing.assert_allclose(e["cavg"], e["auc"] / 12, rtol=1e-15)
    # one dose peaks ln(ka/k)/(ka-k) = 1.17 h after it is given; on top of the
    # declining earlier doses a little sooner: the 24 h dose peaks within (24, 25.25]
    assert 24 < e["tmax_h"].iloc[0] <= 25.25
    # the trough is the pre-dose value of the 36 h dose (the window's end)
    assert e["trough"].iloc[0] == res.concentrations[0, times == 36][0]
    assert (e["start_h"].iloc[0], e["end_h"].iloc[0]) == (24.0, 36.0)


def test_log_down_auc_on_a_0_05_h_grid_matches_the_analytic_steady_state_auc(card):
    res = typical_child(card, doses_per_day=3)
    e = pk.exposure(res, window="steady_state", method="grid")
    dose_mg = 20.0 * 2.0 / 3
    exact = dose_mg / (CL_PER_KG * 20.0)  # AUC_tau at steady state = F * dose / CL, F = 1: 2.442 mg*h/L
    # the last full dosing interval: the 328 h dose to where the next would fall
    np.testing.assert_allclose(e["auc_ss"], exact, rtol=1e-12)
    # rtol 0.5 % (the issue's bound); measured: 0.009 % low (the linear-up part on the
    # concave rise), so a tighter 2e-4 also holds
    np.testing.assert_allclose(e["auc"], exact, rtol=5e-3)
    np.testing.assert_allclose(e["auc"], exact, rtol=2e-4)
    linear = pk.exposure(res, window="steady_state", method="grid", auc_method="linear")
    # the linear trapezoid reads high on the decline (log-down is exact there), within 0.01 % here
    assert linear["auc"].iloc[0] > e["auc"].iloc[0]
    np.testing.assert_allclose(linear["auc"], exact, rtol=1e-4)


def test_steady_state_window_is_the_last_full_dosing_interval(card):
    tid = pk.exposure(typical_child(card, 3, grid_h=0.5), window="steady_state")
    qid = pk.exposure(typical_child(card, 4, grid_h=0.5), window="steady_state")
    # tau = 8 h and 6 h: AUC over the interval is dose/CL = (40/n mg) / (5.46 L/h)
    np.testing.assert_allclose(
        [tid["auc_ss"].iloc[0], qid["auc_ss"].iloc[0]], [40 / 3 / 5.46, 10 / 5.46], rtol=1e-12
    )


def test_cavg_tid_equals_cavg_qid_for_the_same_daily_dose(card):
    tid = pk.exposure(typical_child(card, 3), window="steady_state")["cavg"].iloc[0]
    qid = pk.exposure(typical_child(card, 4), window="steady_state")["cavg"].iloc[0]
    # rtol 0.5 % (the issue's bound); measured: they differ by 2e-7 relative, and both are
    # (2/24)/0.273 = 0.3053 mg/L to 0.009 % (the grid's AUC error)
    np.testing.assert_allclose(tid, qid, rtol=5e-3)
    np.testing.assert_allclose([tid, qid], CAVG_2_MG_KG_DAY, rtol=2e-4)


def test_qid_fluctuates_less_than_tid_at_steady_state(card):
    measured = {}
    for n, tau in ((3, 8.0), (4, 6.0)):
        conc, t_peak = steady_state_profile(2.0 / n, tau)
        cmax, cmin, cavg = conc(t_peak), conc(tau), (2.0 / n) / (CL_PER_KG * tau)
        e = pk.exposure(typical_child(card, n), window="steady_state").iloc[0]
        measured[n] = e["fluctuation_pct"]
        # rtol 1 % (the issue's bound): the 0.05 h grid misses the peak by < 0.001 %
        np.testing.assert_allclose([e["cmax"], e["cmin"], e["cavg"]], [cmax, cmin, cavg], rtol=1e-2)
        np.testing.assert_allclose(e["fluctuation_pct"], 100 * (cmax - cmin) / cavg, rtol=1e-2)
        np.testing.assert_allclose(e["swing"], (cmax - cmin) / cmin, rtol=1e-2)
        # the trough (pre-dose, at the interval's end) is the steady-state minimum C(tau) = C(0)
        np.testing.assert_allclose(e["trough"], cmin, rtol=1e-9)
    # analytic: TID Cmax 0.4537, Cmin 0.1647 mg/L -> 94.65 %; QID 0.4037, 0.1974 -> 67.57 %
    np.testing.assert_allclose([measured[3], measured[4]], [94.65, 67.57], rtol=1e-2)
    assert measured[4] < measured[3]


def test_metrics_per_dosing_interval(card):
    res = typical_child(card, 3, grid_h=0.25, days=2)
    per = pk.exposure_by_interval(res)
    # 6 doses over 48 h, every interval inside the simulated times (the last ends at 48 h)
    assert per["interval"].tolist() == [1, 2, 3, 4, 5, 6]
    assert per["start_h"].tolist() == [0, 8, 16, 24, 32, 40]
    assert per["end_h"].tolist() == [8, 16, 24, 32, 40, 48]
    # AUC adds over intervals (exact: to rounding; on the grid: the same trapezoids, cut at
    # the dose times)
    for method in ("exact", "grid"):
        whole = pk.exposure(res, start=0, end=48, method=method)
        np.testing.assert_allclose(
            pk.exposure_by_interval(res, method=method)["auc"].sum(), whole["auc"].iloc[0], rtol=1e-12
        )
    # trough = the pre-dose value at the interval's end (the engine's output there, to rounding)
    np.testing.assert_allclose(
        per["trough"], res.concentrations[0, np.isin(res.times, per["end_h"])], rtol=1e-12
    )
    # accumulation: troughs rise towards steady state, C_min,n = C_min,ss (1 - r^n), r = exp(-k tau)
    conc, _ = steady_state_profile(2.0 / 3, 8.0)
    r = math.exp(-K * 8.0)  # the absorption term (exp(-ka 8 h) = 1e-9) is negligible
    expected = conc(8.0) * (1 - r ** np.arange(1, 7))
    np.testing.assert_allclose(per["trough"], expected, rtol=1e-6)


def test_time_in_range_is_exact_for_a_linear_ramp():
    t = np.array([0.0, 10.0])
    c = np.array([[0.0, 1.0], [0.3, 0.3]])  # a ramp; a flat line inside the range
    below, inside, above = time_in_range(t, c, 0.2, 0.5)
    np.testing.assert_allclose(below, [2.0, 0.0])
    np.testing.assert_allclose(inside, [3.0, 10.0])
    np.testing.assert_allclose(above, [5.0, 0.0])


def test_time_in_range_matches_the_analytic_crossings(card):
    low, high = 0.2, 0.4  # mg/L: the steady-state TID curve (0.165 to 0.454) crosses each twice
    conc, t_peak = steady_state_profile(2.0 / 3, 8.0)
    up_low, up_high = (brentq(lambda t: conc(t) - c, 0, t_peak) for c in (low, high))  # noqa: B023
    down_high, down_low = (brentq(lambda t: conc(t) - c, t_peak, 8.0) for c in (high, low))  # noqa: B023
    e = pk.exposure(typical_child(card, 3), window="steady_state", target_range=(low, high)).iloc[0]
    # atol 0.002 h: reading the curve as linear between 0.05 h samples misplaces a crossing by
    # about C'' dt^2 / (8 C'), under 1e-3 h here
    np.testing.assert_allclose(
        [e["time_below_h"], e["time_in_range_h"], e["time_above_h"]],
        [8.0 - (down_low - up_low), (up_high - up_low) + (down_low - down_high), down_high - up_high],
        atol=2e-3,
    )
    np.testing.assert_allclose(e["frac_in_range"], e["time_in_range_h"] / 8.0, rtol=1e-15)


def test_window_outside_the_simulated_times_is_refused(card):
    res = typical_child(card, 3, grid_h=0.5, days=2)
    with pytest.raises(
        ValueError,
        match=r"exposure window: end is 400 h; outside the simulated "
        r"times \(0 to 48 h\)",
    ):
        pk.exposure(res, start=24, end=400)


def test_grid_window_not_on_the_time_grid_is_refused_and_exact_needs_no_grid(card):
    res = pk.simulate(
        card,
        pk.Cohort(weight_kg=[20.0], age_years=[6.0]),
        pk.Regimen.fixed(mg=10, every_h=12, n_doses=1),
        [0.0, 1.0, 2.0],
        variability=False,
    )
    with pytest.raises(
        ValueError,
        match=r"exposure window: end is 1.5 h; expected one of the "
        r"simulated times \(0 to 2 h\) \(method='grid'\)",
    ):
        pk.exposure(res, start=0, end=1.5, method="grid")
    # exact: AUC over 0-1.5 h of 10 mg (20 kg) by the closed form, to rounding
    e = pk.exposure(res, start=0, end=1.5)
    np.testing.assert_allclose(e["auc"], superposed_auc(res, np.zeros(1), np.full(1, 1.5)), rtol=1e-12)
    with pytest.raises(
        ValueError,
        match=r"exposure window: end is 1.5 h; expected one of the "
        r"simulated times \(0 to 2 h\) \(the time in target_range",
    ):
        pk.exposure(res, start=0, end=1.5, target_range=(0.1, 0.2))


def test_window_ending_before_it_starts_is_refused(card):
    res = typical_child(card, 3, grid_h=0.5, days=1)
    with pytest.raises(ValueError, match=r"exposure window: end is 1 h, start is 2 h; expected end > start"):
        pk.exposure(res, start=2, end=1)


def test_target_range_with_low_not_below_high_is_refused(card):
    res = typical_child(card, 3, grid_h=0.5, days=1)
    with pytest.raises(ValueError, match=r"target_range is \(0.4, 0.08\); expected low < high \(mg/L\)"):
        pk.exposure(res, start=0, end=24, target_range=(0.4, 0.08))


def test_window_and_start_end_together_are_refused(card):
    res = typical_child(card, 3, grid_h=0.5, days=1)
    with pytest.raises(
        ValueError,
        match=r"window is 'steady_state' and start/end are 0/24; expected "
        r"either a window or start and end",
    ):
        pk.exposure(res, 0, 24, window="steady_state")


def test_steady_state_needs_a_full_dosing_interval(card):
    res = pk.simulate(
        card,
        pk.Cohort(weight_kg=[20.0], age_years=[6.0]),
        pk.Regimen.fixed(mg=10, every_h=12, n_doses=1),
        [0.0, 1.0, 2.0],
        seed=1,
    )
    with pytest.raises(
        ValueError,
        match=r"exposure: window 'steady_state': child ID 1 has no full "
        r"dosing interval that repeats inside the simulated times "
        r"\(0 to 2 h\); its scheduled dose times up to 2 h are \[0\] h",
    ):
        pk.exposure(res, window="steady_state")


def test_dose_time_off_the_output_grid_is_refused_for_grid_intervals_only(card):
    res = pk.simulate(
        card,
        pk.Cohort(weight_kg=[20.0], age_years=[6.0]),
        pk.Regimen.fixed(mg=10, every_h=7.5, n_doses=3),
        np.arange(0, 24.5, 1.0),
        seed=1,
    )
    with pytest.raises(
        ValueError,
        match=r"exposure_by_interval: child ID 1's window 0 to 7.5 h does not "
        r"start and end on output times; expected output times at "
        r"its dose times \(method='grid'\), or method='exact'",
    ):
        pk.exposure_by_interval(res, method="grid")
    # exact: the intervals 0-7.5, 7.5-15, 15-22.5 h, their AUCs by the closed form, to rounding
    per = pk.exposure_by_interval(res)
    assert per["end_h"].tolist() == [7.5, 15.0, 22.5]
    expected = [
        superposed_auc(res, np.array([a]), np.array([b]))[0] for a, b in zip(per["start_h"], per["end_h"])
    ]
    np.testing.assert_allclose(per["auc"], expected, rtol=1e-12)


def test_unknown_auc_method_is_refused(card):
    res = typical_child(card, 3, grid_h=0.5, days=1)
    with pytest.raises(
        ValueError,
        match=r"auc_method is 'log'; expected one of "
        r"\['linear-up/log-down', 'linear'\]",
    ):
        pk.exposure(res, start=0, end=24, auc_method="log")


def test_exposure_of_uncertainty_replicates_has_a_row_per_replicate_and_child(tmp_path):
    from conftest import write_model

    model = pk.load_model(write_model(tmp_path, CL={"rse": 0.2}))
    cohort = pk.Cohort(weight_kg=[15.0, 30.0], age_years=[5.0, 10.0])
    res = pk.simulate(
        model, cohort, pk.Regimen.weight_based(2.0, 3, 3), np.arange(0, 72.5, 0.5), seed=1, replicates=3
    )
    e = pk.exposure(res, window="steady_state")
    assert e["id"].tolist() == [1, 2] * 3 and e["replicate"].tolist() == [0, 0, 1, 1, 2, 2]
    # exact steady-state AUC uses each row's own CL: F dose / CL
    np.testing.assert_allclose(e["auc_ss"], (2.0 / 3 * np.tile([15.0, 30.0], 3)) / res.individual["CL"])
    # and the exact AUC each row's own parameters (the superposed closed form, to rounding)
    np.testing.assert_allclose(
        e["auc"], superposed_auc(res, e["start_h"].to_numpy(), e["end_h"].to_numpy()), rtol=1e-10
    )


def test_replicates_of_children_with_their_own_dose_times_share_their_doses(tmp_path):
    # doses kept per child (40 children at their own times) are repeated for every replicate:
    # each row's window is its child's, and its exact Cavg at steady state F dose / (CL tau)
    from conftest import write_model

    model = pk.load_model(write_model(tmp_path, CL={"rse": 0.2}))
    starts = 0.01 * np.arange(40)
    doses = event_table({i + 1: [(s + 8.0 * k, 10.0) for k in range(9)] for i, s in enumerate(starts)})
    cohort = pk.Cohort(weight_kg=np.full(40, 20.0), age_years=np.full(40, 8.0))
    res = pk.simulate(model, cohort, doses, np.round(np.arange(0, 80.005, 0.01), 10), seed=1, replicates=2)
    assert isinstance(res.doses, SubjectDoses)
    e = pk.exposure(res, window="steady_state")
    np.testing.assert_allclose(e["start_h"], np.tile(starts + 64.0, 2), rtol=1e-12)
    np.testing.assert_allclose(e["cavg_ss"], 10 / (np.asarray(res.individual["CL"]) * 8), rtol=1e-12)
    np.testing.assert_allclose(
        e["auc"], superposed_auc(res, e["start_h"].to_numpy(), e["end_h"].to_numpy()), rtol=1e-10
    )


# --- issue 12 item 1: each child's own steady-state window ------------------------------------


def test_a_child_dosing_an_hour_after_another_gets_its_own_window(card):
    # the issue's event table: 10 mg every 8 h, six doses, child 2 one hour after child 1.
    # One window for both was (41, 42) h with cavg_ss [0.0, 1.83]; exact for both is
    # F dose / (CL tau) = 10 / (0.273 * 20 * 8) = 0.2289 mg/L
    events = event_table({1: [(8.0 * i, 10.0) for i in range(6)], 2: [(8.0 * i + 1, 10.0) for i in range(6)]})
    cohort = pk.Cohort(weight_kg=[20.0, 20.0], age_years=[6.0, 6.0])
    res = pk.simulate(card, cohort, events, np.arange(0, 50.5, 0.5), variability=False)
    e = pk.exposure(res, window="steady_state")
    assert e["start_h"].tolist() == [40.0, 41.0] and e["end_h"].tolist() == [48.0, 49.0]
    np.testing.assert_allclose(e["cavg_ss"], 10 / (CL_PER_KG * 20 * 8), rtol=1e-12)
    # the same child, the same numbers: an hour's shift changes nothing (exact, to rounding)
    np.testing.assert_allclose(
        e.iloc[1][["auc", "cmax", "cmin", "cavg", "trough"]].astype(float),
        e.iloc[0][["auc", "cmax", "cmin", "cavg", "trough"]].astype(float),
        rtol=1e-12,
    )
    np.testing.assert_allclose(e["tmax_h"] - e["start_h"], e["tmax_h"].iloc[0] - 40.0, rtol=1e-12)
    # six doses from 0 h: 1 - e^{-k 48 h} = 99.94 % of steady state, the AUC by superposition
    np.testing.assert_allclose(
        e["auc"], superposed_auc(res, e["start_h"].to_numpy(), e["end_h"].to_numpy()), rtol=1e-12
    )


def test_q8h_and_q6h_children_each_get_their_own_interval(card):
    # the issue: one window (330, 332) h gave cavg_ss 0 for the q8h children
    events = event_table({1: [(8.0 * i, 10.0) for i in range(42)], 2: [(6.0 * i, 7.5) for i in range(56)]})
    cohort = pk.Cohort(weight_kg=[20.0, 30.0], age_years=[6.0, 9.0])
    res = pk.simulate(card, cohort, events, np.arange(0, 336.5, 0.5), variability=False)
    e = pk.exposure(res, window="steady_state")
    assert e["start_h"].tolist() == [328.0, 330.0] and e["end_h"].tolist() == [336.0, 336.0]
    cl = CL_PER_KG * np.array([20.0, 30.0])
    expected = np.array([10 / (cl[0] * 8), 7.5 / (cl[1] * 6)])
    np.testing.assert_allclose(e["cavg_ss"], expected, rtol=1e-12)
    # 14 days in: steady state to e^{-k 328 h} = 1e-22, so the exact Cavg is F dose / (CL tau) too
    np.testing.assert_allclose(e["cavg"], expected, rtol=1e-9)


def test_readme_titration_switching_to_qid_windows_each_child_on_its_own_schedule(card):
    # README: "2.5 mg TID, +2.5 mg/dose weekly to 2 mg/kg/day for 12 weeks, QID above 60 mg/day,
    # as tablets". One window (2010, 2012) h for all gave cavg_ss [0.0, 0.733] (issue: 0.303 and
    # 0.242 expected). The 15 kg child stays on TID (30 mg/day), the 40 kg child is on QID.
    reg = pk.Regimen.parse(
        "2.5 mg TID, +2.5 mg/dose weekly to 2 mg/kg/day for 12 weeks, QID above 60 mg/day, as tablets"
    )
    cohort = pk.Cohort(weight_kg=[15.0, 40.0], age_years=[5.0, 12.0])
    res = pk.simulate(card, cohort, reg, np.arange(0, 2016.5, 0.5), variability=False)
    e = pk.exposure(res, window="steady_state")
    final = reg.describe(cohort)
    assert final["final_doses_per_day"].tolist() == [3, 4]
    assert e["start_h"].tolist() == [2008.0, 2010.0] and e["end_h"].tolist() == [2016.0, 2016.0]
    # F daily dose / (CL 24 h): the same whichever interval of the last day
    expected = final["final_mg_per_day"].to_numpy() / (CL_PER_KG * cohort.weight_kg * 24)
    np.testing.assert_allclose(e["cavg_ss"], expected, rtol=1e-12)
    np.testing.assert_allclose(e["cavg"], expected, rtol=1e-9)  # at steady state by day 84


def test_a_missed_dose_does_not_move_the_window_and_shows_as_lower_exposure(card):
    reg = pk.Regimen.weight_based(2.0, 3, 14, missed_dose_probability=0.3, timing_sd_h=0.25)
    rng = np.random.default_rng(5)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 40), age_years=np.full(40, 8.0))
    res = pk.simulate(card, cohort, reg, np.arange(0, 336.5, 0.5), seed=3)
    e = pk.exposure(res, window="steady_state")
    # every child is scheduled every 8 h to 328 h, whatever it missed or when it took its doses
    assert set(e["start_h"]) == {328.0} and set(e["end_h"]) == {336.0}
    missed_last = res.doses.amount_mg[:, -1] == 0
    assert 3 < missed_last.sum() < 37
    # the exact AUC is that of the doses taken (superposed closed form, to rounding) ...
    np.testing.assert_allclose(
        e["auc"], superposed_auc(res, e["start_h"].to_numpy(), e["end_h"].to_numpy()), rtol=1e-10
    )
    # ... and cavg_ss that of the schedule: F (20 / 3 mg/kg) w / CL / 8 h, missed or not
    dose_mg = cohort.weight_kg * 2.0 / 3
    np.testing.assert_allclose(e["cavg_ss"], dose_mg / res.individual["CL"] / 8, rtol=1e-12)
    assert np.all(e["cavg"][missed_last] < 0.8 * e["cavg_ss"][missed_last])


def test_a_schedule_that_does_not_repeat_is_refused_naming_the_child(card):
    events = event_table(
        {1: [(0.0, 5.0), (8.0, 5.0), (16.0, 5.0)], 7: [(0.0, 5.0), (5.0, 5.0), (13.0, 5.0), (14.5, 5.0)]}
    )
    cohort = pk.Cohort(weight_kg=[20.0, 20.0], age_years=[6.0, 6.0], ids=[1, 7])
    res = pk.simulate(card, cohort, events, np.arange(0, 48.5, 0.5), variability=False)
    with pytest.raises(
        ValueError,
        match=r"exposure: window 'steady_state': child ID 7 has no full "
        r"dosing interval that repeats inside the simulated times "
        r"\(0 to 48 h\); its scheduled dose times up to 48 h are "
        r"\[0, 5, 13, 14.5\] h; expected doses at a repeating "
        r"interval or daily pattern, or window=\(start, end\)",
    ):
        pk.exposure(res, window="steady_state")
    # a given window still applies to both
    assert len(pk.exposure(res, start=24, end=48)) == 2


# --- issue 12 item 2: a schedule repeating daily at uneven intervals --------------------------


def test_uneven_daily_clock_times_are_windowed_over_the_day(card):
    # 08:00/14:00/20:00: F dose / (CL tau) over one 6 h interval read 0.407; over the day the
    # steady state is F daily dose / (CL 24 h) = (2/24) / 0.273 = 0.3053 mg/L (He 2014)
    reg = pk.Regimen.weight_based(2.0, 3, 14, times_of_day=("08:00", "14:00", "20:00"))
    cohort = pk.Cohort(weight_kg=[12.0, 45.0], age_years=[3.0, 14.0])
    res = pk.simulate(card, cohort, reg, np.arange(0, 336.5, 0.5), variability=False)
    e = pk.exposure(res, window="steady_state")
    # the last full day from a morning dose (the dose after the night's 12 h gap) inside 336 h:
    # day 13's (320-344 h) reaches past the simulation, so day 12's
    assert e["start_h"].tolist() == [296.0, 296.0] and e["end_h"].tolist() == [320.0, 320.0]
    np.testing.assert_allclose(e["cavg_ss"], CAVG_2_MG_KG_DAY, rtol=1e-12)
    np.testing.assert_allclose(e["cavg"], CAVG_2_MG_KG_DAY, rtol=1e-9)  # steady state by 296 h
    # the trough is before the 08:00 dose, after the 12 h night: the day's lowest value
    np.testing.assert_allclose(e["trough"], e["cmin"], rtol=1e-12)


def test_a_daily_pattern_of_two_days_is_recognised_and_one_day_is_not(card):
    # two days of 08/14/20 (six doses) show the 24 h pattern once: windowed (simulated to 56 h);
    # one day and a dose (four) cannot tell a pattern from an accident: refused
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    times = np.arange(0, 56.5, 0.5)
    two_days = pk.Regimen.weight_based(2.0, 3, 2, times_of_day=("08:00", "14:00", "20:00"))
    e = pk.exposure(pk.simulate(card, cohort, two_days, times, variability=False), window="steady_state")
    assert (e["start_h"].iloc[0], e["end_h"].iloc[0]) == (32.0, 56.0)
    np.testing.assert_allclose(e["cavg_ss"], CAVG_2_MG_KG_DAY, rtol=1e-12)
    events = event_table({1: [(8.0, 5.0), (14.0, 5.0), (20.0, 5.0), (32.0, 5.0)]})
    with pytest.raises(ValueError, match=r"child ID 1 has no full dosing interval that repeats"):
        pk.exposure(pk.simulate(card, cohort, events, times, variability=False), window="steady_state")


def test_alternating_amounts_are_a_period_of_two_doses(card):
    # 10 mg and 20 mg in turn every 12 h: the steady state repeats every 24 h (F 30 mg / (CL 24 h))
    events = event_table({1: [(12.0 * i, 10.0 if i % 2 == 0 else 20.0) for i in range(28)]})
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    res = pk.simulate(card, cohort, events, np.arange(0, 336.5, 0.5), variability=False)
    e = pk.exposure(res, window="steady_state")
    assert (e["start_h"].iloc[0], e["end_h"].iloc[0]) == (312.0, 336.0)
    np.testing.assert_allclose(e["cavg_ss"], 30 / (CL_PER_KG * 20 * 24), rtol=1e-12)


# --- issue 12 item 9: exact exposure of linear models -----------------------------------------


def test_exact_peak_of_a_single_dose_is_the_closed_form(card):
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    res = pk.simulate(
        card,
        cohort,
        pk.Regimen.fixed(mg=10, every_h=24, n_doses=1),
        np.arange(0, 24.5, 0.5),
        variability=False,
    )
    e = pk.exposure(res, start=0, end=24).iloc[0]
    assert e["method"] == "exact"
    # tmax = ln(ka/k) / (ka - k) = 1.1716 h, between the 1.0 and 1.5 h outputs; Cmax there
    v = V_PER_KG * 20
    cmax = 10 * KA / (v * (KA - K)) * (math.exp(-K * TMAX_SINGLE_DOSE_H) - math.exp(-KA * TMAX_SINGLE_DOSE_H))
    np.testing.assert_allclose([e["tmax_h"], e["cmax"]], [TMAX_SINGLE_DOSE_H, cmax], rtol=1e-9)
    # AUC(0-24 h) = (F dose / CL) (1 - (ka e^{-k 24} - k e^{-ka 24}) / (ka - k))
    auc = 10 / (CL_PER_KG * 20) * (1 - (KA * math.exp(-K * 24) - K * math.exp(-KA * 24)) / (KA - K))
    np.testing.assert_allclose(e["auc"], auc, rtol=1e-9)
    # before the dose arrives C is 0: the minimum is at the window's start
    assert e["cmin"] == 0.0


@pytest.mark.parametrize("doses_per_day, tau", [(3, 8.0), (4, 6.0)])
def test_exact_steady_state_metrics_are_the_closed_forms(card, doses_per_day, tau):
    conc, t_peak = steady_state_profile(2.0 / doses_per_day, tau)
    for grid_h in (0.5, 2.0):  # the output grid does not matter
        e = pk.exposure(typical_child(card, doses_per_day, grid_h=grid_h), window="steady_state").iloc[0]
        np.testing.assert_allclose(e["cavg"], (2.0 / doses_per_day) / (CL_PER_KG * tau), rtol=1e-9)
        np.testing.assert_allclose([e["tmax_h"] - e["start_h"], e["cmax"]], [t_peak, conc(t_peak)], rtol=1e-9)
        # the minimum is the pre-dose value at the interval's start (= its end at steady state)
        np.testing.assert_allclose([e["cmin"], e["trough"]], [conc(tau), conc(tau)], rtol=1e-9)


@pytest.mark.parametrize("name", ["baclofen_cp_he2014_fast_absorption", "baclofen_cp_he2014"])
def test_exact_two_compartment_transit_peak_and_trough_against_a_0_001_h_grid(name):
    # He 2014 structure (3 transits): on the first reconstruction the 0.5 h grid reads Cmax 6 %
    # low (the issue); exact is at least the largest of 0.001 h samples and within
    # C'' dt^2 / 8 ~ 1e-7 of it. Its Cmin comes after the dose (0.019 h: the transits delay
    # absorption; 0.57 h with the calibrated model's 0.5 h lag), which the 0.5 h grid misses.
    model = pk.load_model(name)
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    reg = pk.Regimen.weight_based(2.0, 3, 14)
    fine = pk.simulate(model, cohort, reg, np.round(np.arange(0, 336.0005, 0.001), 10), variability=False)
    coarse = pk.simulate(model, cohort, reg, np.arange(0, 336.5, 0.5), variability=False)
    grid = pk.exposure(fine, window="steady_state", method="grid").iloc[0]
    for res in (fine, coarse):
        e = pk.exposure(res, window="steady_state").iloc[0]
        assert e["cmax"] >= grid["cmax"] and e["cmin"] <= grid["cmin"]
        np.testing.assert_allclose([e["cmax"], e["cmin"]], [grid["cmax"], grid["cmin"]], rtol=1e-7)
        np.testing.assert_allclose(e["tmax_h"], grid["tmax_h"], atol=1e-3)
        # the exact module also says when the minimum is: 0.019 h after the dose, as on 0.001 h
        m = exact.window_exposure(
            model.structure,
            res.individual,
            res.doses,
            np.array([[e["start_h"]]]),
            np.array([[e["end_h"]]]),
            np.array([[e["end_h"]]]),
        )
        np.testing.assert_allclose(
            m["tmin"],
            fine.times[np.argmin(np.where(fine.times >= 328, fine.concentrations[0], np.inf))],
            atol=1e-3,
        )
        # F dose / (CL tau) at steady state
        np.testing.assert_allclose(e["cavg"], CAVG_2_MG_KG_DAY, rtol=1e-9)
    if name.endswith("fast_absorption"):
        assert pk.exposure(coarse, window="steady_state", method="grid")["cmax"].iloc[0] < 0.95 * grid["cmax"]


def test_the_issues_grid_bias_is_gone_exact_cavg_is_the_closed_form_on_any_grid(card):
    # issue 12: on the default 0.5 h grid, grid Cavg / exact Cavg had median 0.992 and minimum
    # 0.829 (fast absorbers: ka IIV 83.7 %). Exact: within 1e-9 of the superposed closed form,
    # on a 0.5 h grid and on a 4 h grid alike.
    cohort = pk.Cohort.from_growth_charts(1000, age_years=(2, 17), seed=1)
    reg = pk.Regimen.weight_based(2.0, 3, 14, max_mg_per_dose=20)
    fine = pk.simulate(card, cohort, reg, np.arange(0, 336.5, 0.5), seed=1)
    coarse = pk.simulate(card, cohort, reg, np.arange(0, 337, 4.0), seed=1)
    start, end = np.full(1000, 328.0), np.full(1000, 336.0)
    closed = superposed_auc(fine, start, end) / 8
    grid = pk.exposure(fine, window="steady_state", method="grid")["cavg"].to_numpy()
    ratio = grid / closed
    assert 0.985 < np.median(ratio) < 0.995 and ratio.min() < 0.9  # the bias the issue saw
    for res in (fine, coarse):
        np.testing.assert_allclose(pk.exposure(res, window="steady_state")["cavg"], closed, rtol=1e-9)


def test_infusions_and_iv_doses_are_exact_too(card):
    # RATE > 0: 10 mg over 2 h into the depot at 0 and 12 h; an IV bolus of 20 mg (CMT 2) at 24 h
    events = pk.read_events(
        pd.DataFrame(
            {
                "ID": 1,
                "TIME": [0.0, 12.0, 24.0],
                "AMT": [10.0, 10.0, 20.0],
                "RATE": [5.0, 5.0, 0.0],
                "EVID": 1,
                "CMT": [1, 1, 2],
            }
        )
    )
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    res = pk.simulate(card, cohort, events, np.arange(0, 600.5, 0.5), variability=False)
    e = pk.exposure(res, start=0, end=600).iloc[0]
    # all of it is eliminated by 600 h (e^{-k 576 h} = 1e-39): AUC = (F 20 mg + 20 mg) / CL
    np.testing.assert_allclose(e["auc"], 40 / (CL_PER_KG * 20), rtol=1e-9)
    # the IV bolus peaks at its own time, just after the dose: the output there (pre-dose) + 20 mg / V
    assert e["tmax_h"] == 24.0
    np.testing.assert_allclose(
        e["cmax"], res.concentrations[0, res.times == 24.0][0] + 20 / (V_PER_KG * 20), rtol=1e-12
    )
    # the infusions' own peaks (0-24 h), continuous there: against a 0.001 h grid
    fine = pk.simulate(card, cohort, events, np.round(np.arange(0, 24.0005, 0.001), 10), variability=False)
    grid = pk.exposure(fine, start=0, end=24, method="grid").iloc[0]
    day = pk.exposure(fine, start=0, end=24).iloc[0]
    assert day["cmax"] >= grid["cmax"]
    np.testing.assert_allclose(
        [day["cmax"], day["tmax_h"]], [grid["cmax"], grid["tmax_h"]], rtol=1e-6, atol=1e-3
    )
    np.testing.assert_allclose(day["auc"], grid["auc"], rtol=1e-6)  # trapezoids on 0.001 h


def test_an_ode_result_falls_back_to_the_grid_saying_so_and_exact_refuses(card):
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    res = pk.simulate(
        card,
        cohort,
        pk.Regimen.weight_based(2.0, 3, 2),
        np.arange(0, 48.5, 0.5),
        engine="ode",
        variability=False,
    )
    with pytest.warns(
        UserWarning,
        match=r"exposure: read on the output grid \(method='grid'\), "
        r"not exact: the result is from the 'ode' engine",
    ):
        e = pk.exposure(res, window="steady_state")
    assert e["method"].tolist() == ["grid"] and e.attrs["method"] == "grid"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(pk.exposure(res, window="steady_state", method="grid"), e)
    with pytest.raises(
        ValueError,
        match=r"exposure: method is 'exact' but the result is from the "
        r"'ode' engine \(exact exposure uses the analytic engine's "
        r"solution\); expected method='grid'",
    ):
        pk.exposure(res, window="steady_state", method="exact")


def test_auc_method_without_the_grid_is_refused(card):
    res = typical_child(card, 3, grid_h=0.5, days=1)
    with pytest.raises(
        ValueError,
        match=r"exposure: auc_method is 'linear' with method='auto'; "
        r"expected method='grid'",
    ):
        pk.exposure(res, start=0, end=24, auc_method="linear")


def test_exact_peak_of_a_single_dose_through_transits_long_before_the_first_equal_scan_step():
    # one dose, window 0-24 h: the peak (0.64 h) comes before the first of the 16 equal scan
    # steps (1.5 h), and just after the dose dC/dt is 0 (the dose must pass the transits), so
    # only the halving scan steps bracket it; exact is at least the 0.001 h grid's largest
    # value and within C'' dt^2 / 8 of it (C'' ~ 8 mg/L/h^2 at this sharp peak: ~1e-6)
    model = pk.load_model("baclofen_cp_he2014_fast_absorption")
    child = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    single = pk.Regimen.fixed(mg=10, every_h=24, n_doses=1)
    fine = pk.simulate(model, child, single, np.round(np.arange(0, 24.0005, 0.001), 10), variability=False)
    grid = pk.exposure(fine, start=0, end=24, method="grid").iloc[0]
    coarse = pk.simulate(model, child, single, np.arange(0, 24.5, 0.5), variability=False)
    e = pk.exposure(coarse, start=0, end=24).iloc[0]
    assert e["cmax"] >= grid["cmax"]
    np.testing.assert_allclose(e["cmax"], grid["cmax"], rtol=2e-6)
    np.testing.assert_allclose(e["tmax_h"], grid["tmax_h"], atol=1e-3)


def test_children_with_their_own_dose_times_get_their_own_windows_and_exact_metrics(card):
    # 40 children, each starting 10 mg q8h at its own time (0.01 h apart): too many distinct
    # times to share columns, so the doses are kept per child (SubjectDoses). Each child's
    # window and exact metrics are those of the same child simulated alone (no variability:
    # the same weight gives the same parameters).
    starts = 0.01 * np.arange(40)
    weights = np.linspace(12.0, 40.0, 40)
    doses = {i + 1: [(s + 8.0 * k, 10.0) for k in range(12)] for i, s in enumerate(starts)}
    times = np.round(np.arange(0, 100.005, 0.01), 10)
    cohort = pk.Cohort(weight_kg=weights, age_years=np.full(40, 8.0))
    res = pk.simulate(card, cohort, event_table(doses), times, variability=False)
    assert isinstance(res.doses, SubjectDoses)
    together = pk.exposure(res, window="steady_state")
    np.testing.assert_allclose(together["start_h"], starts + 88.0, rtol=1e-12)  # the last dose's interval
    metrics = [
        "start_h",
        "end_h",
        "auc",
        "cmax",
        "tmax_h",
        "cmin",
        "cavg",
        "trough",
        "cavg_ss",
        "tmax_h_after_dose",
    ]
    for i in (0, 17, 39):
        child = pk.Cohort(weight_kg=[weights[i]], age_years=[8.0], ids=[i + 1])
        alone = pk.simulate(card, child, event_table({i + 1: doses[i + 1]}), times, variability=False)
        own = pk.exposure(alone, window="steady_state").iloc[0]
        np.testing.assert_allclose(
            together.iloc[i][metrics].astype(float), own[metrics].astype(float), rtol=1e-12
        )
    # F dose / (CL tau) for every child
    np.testing.assert_allclose(together["cavg_ss"], 10 / (CL_PER_KG * weights * 8), rtol=1e-12)
