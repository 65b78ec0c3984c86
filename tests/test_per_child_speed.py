"""The mechanisms that make per-child schedules fast (issue 17), each against an independent
reference: the textbook closed form, scipy's matrix exponential, each child alone, the dense
product they replace."""

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import expm as scipy_expm

import pkmodel as pk
from conftest import CL_PER_KG, KA, V_PER_KG, typical_cohort
from pkmodel.dosing.doses import SubjectDoses, union_columns
from pkmodel.engines import linalg
from pkmodel.engines.solutions import MatrixExponential, _distinct_rates

TIMES = np.arange(0, 96.5, 0.5)


def bateman(t, dose_mg, cl, v, ka):
    """Textbook one-compartment oral curve after one dose at t = 0, mg/L (0 before it)."""
    k = cl / v
    tau = np.maximum(t, 0.0)
    return np.where(t > 0, dose_mg * ka / (v * (ka - k)) * (np.exp(-k * tau) - np.exp(-ka * tau)), 0.0)


def transit_rates(n: int, seed: int = 0) -> np.ndarray:
    """Rate matrices of depot -> 3 transits -> central <-> peripheral, shape (6, 6, n), 1/h."""
    rng = np.random.default_rng(seed)
    k = np.zeros((6, 6, n))
    ktr = rng.lognormal(2.0, 0.8, n)
    for i in range(4):
        k[i, i], k[i + 1, i] = -ktr, ktr
    k12, k21, k10 = rng.uniform(0.1, 0.5, n), rng.uniform(0.1, 0.3, n), rng.uniform(0.1, 0.5, n)
    k[4, 4], k[5, 4], k[4, 5], k[5, 5] = -(k10 + k12), k12, k21, -k21
    return k


def test_jittered_doses_follow_the_bateman_superposition_of_each_childs_own_times(card):
    # timing jitter (SD 0.5 h) and 10 % missed doses: every child its own dose times, on the
    # per-child path (outputs marched, each dose superposed from its own time)
    weights = np.array([12.0, 25.0, 40.0, 58.0])
    cohort = typical_cohort(*weights)
    reg = pk.Regimen.weight_based(
        2.0, 3, 4, times_of_day=("08:00", "14:00", "20:00"), missed_dose_probability=0.1, timing_sd_h=0.5
    )
    res = pk.simulate(card, cohort, reg, TIMES, variability=False, seed=3)
    own = res.doses.per_subject()
    assert isinstance(own, SubjectDoses) and len(set(np.round(own.time_h, 9))) > 12 * 4 * 0.9 * 3 / 4
    for i, w in enumerate(weights):
        a, b = own.offsets[i], own.offsets[i + 1]
        expected = sum(
            bateman(TIMES - t, d, CL_PER_KG * w, V_PER_KG * w, KA)
            for t, d in zip(own.time_h[a:b], own.amount_mg[a:b])
        )
        # rtol 1e-12: both exact; the difference is rounding (measured 1.1e-15 relative)
        visible = expected > 1e-3 * expected.max()
        np.testing.assert_allclose(res.concentrations[i, visible], expected[visible], rtol=1e-12)
        np.testing.assert_array_equal(res.concentrations[i, TIMES <= own.time_h[a]], 0.0)


def test_jittered_children_are_each_as_if_alone(card):
    # the cohort on the per-child path; each child alone (its own doses as an event table, a
    # cohort of one: the shared path, read per offset)
    weights = np.linspace(10, 60, 12)
    cohort = typical_cohort(*weights)
    reg = pk.Regimen.weight_based(2.0, 3, 4, missed_dose_probability=0.2, timing_sd_h=0.5)
    together = pk.simulate(card, cohort, reg, TIMES, variability=False, seed=11)
    own = together.doses.per_subject()
    for i in range(weights.size):
        a, b = own.offsets[i], own.offsets[i + 1]
        rows = pd.DataFrame(dict(ID=1, TIME=own.time_h[a:b], AMT=own.amount_mg[a:b], EVID=1, CMT=1))
        alone = pk.simulate(card, typical_cohort(weights[i]), pk.read_events(rows), TIMES, variability=False)
        # rtol 1e-12: the same exact solution by two routes (measured 1.8e-15)
        np.testing.assert_allclose(together.concentrations[i], alone.concentrations[0], rtol=1e-12, atol=0)


def test_jittered_chunks_of_1_7_and_all_give_identical_bits(card):
    rng = np.random.default_rng(8)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 30), age_years=rng.uniform(2, 17, 30))
    reg = pk.Regimen.weight_based(2.0, 3, 3, missed_dose_probability=0.1, timing_sd_h=0.5)
    whole = pk.simulate(card, cohort, reg, TIMES, seed=4).concentrations
    for size in (1, 7, 30):
        parts = pk.simulate(card, cohort, reg, TIMES, seed=4, chunk_size=size).concentrations
        np.testing.assert_array_equal(parts, whole)


def test_the_transit_model_at_own_times_is_the_superposition_of_scipys_expm():
    # 2 compartments and 3 transits, children at their own dose times (an event table):
    # against sum over doses of e_central' expm(K (t - t_d)) e_depot F AMT / V1, scipy's
    # exponential child by child
    model = pk.load_model("baclofen_cp_he2014_fast_absorption")
    cohort = typical_cohort(15.0, 30.0, 45.0)
    rng = np.random.default_rng(2)
    table = pd.DataFrame(
        [
            dict(ID=child, TIME=t, AMT=5.0 * child, EVID=1, CMT=1)
            for child in (1, 2, 3)
            for t in np.sort(rng.uniform(0, 60, 6))
        ]
    )
    times = np.linspace(0.0, 96.0, 97)
    res = pk.simulate(model, cohort, pk.read_events(table), times, variability=False)
    params = {name: res.parameters[name].to_numpy() for name in ("CL", "V1", "V2", "Q", "MTT")}
    rates = model.structure.rate_matrix(params)
    assert "F" not in model.parameters and "tlag" not in model.parameters  # F 1, no lag
    f, lag = np.ones(3), np.zeros(3)
    central = model.structure.central_index
    for i, child in enumerate((1, 2, 3)):
        mine = table[table["ID"] == child]
        expected = np.zeros(times.size)
        for t_d, amount in zip(mine["TIME"] + lag[i], mine["AMT"] * f[i]):
            for j in np.flatnonzero(times > t_d):
                expected[j] += scipy_expm(rates[i] * (times[j] - t_d))[central, 0] * amount / params["V1"][i]
        # rtol 1e-11 where visible (measured 3.2e-12): scipy's Pade against the degree-18
        # Taylor, and the march's rounding (up to 190 steps of 0.5 h, each ~1e-16)
        visible = expected > 1e-3 * expected.max()
        np.testing.assert_allclose(res.concentrations[i, visible], expected[visible], rtol=1e-11)


def test_reachable_is_the_closure_of_the_transit_chain():
    pattern = linalg.reachable(transit_rates(5))
    expected = np.tril(np.ones((6, 6), dtype=bool))
    expected[4, 5] = True  # the peripheral compartment flows back into central
    np.testing.assert_array_equal(pattern, expected)


def test_expm_of_a_chain_skips_its_zeros_and_matches_scipy():
    a = transit_rates(300) * 0.5
    got = linalg.expm(a)
    for i in range(0, 300, 7):
        # rtol 1e-12 of the largest entry: degree-18 Taylor after scaling, truncation < 1e-17
        want = scipy_expm(a[:, :, i])
        np.testing.assert_allclose(got[:, :, i], want, rtol=0, atol=1e-12 * np.abs(want).max())
    np.testing.assert_array_equal(got[~linalg.reachable(a)], 0.0)


def test_a_product_with_a_pattern_is_the_full_product_to_the_bit():
    a, b = linalg.expm(transit_rates(50, seed=1) * 0.3), linalg.expm(transit_rates(50, seed=1) * 0.7)
    pattern = linalg.reachable(transit_rates(50, seed=1))
    np.testing.assert_array_equal(linalg.matmul(a, b, pattern), linalg.matmul(a, b))


def test_children_with_equal_rate_matrices_share_one_exponential_with_the_same_bits():
    rates = np.moveaxis(transit_rates(3), -1, 0)  # (3, 6, 6)
    cohort_of = rates[[0, 1, 0, 2, 1, 0, 0, 1]]  # 8 children, 3 distinct rate matrices
    first, which = _distinct_rates(cohort_of)
    np.testing.assert_array_equal(cohort_of[first[which]], cohort_of)  # each child's own matrix
    assert first.size == 3
    model = pk.load_model("baclofen_cp_he2014_fast_absorption")
    shared = MatrixExponential(model.structure, {"V1": np.ones(8)}, rates=cohort_of)
    alone = [
        MatrixExponential(model.structure, {"V1": np.ones(1)}, rates=cohort_of[i : i + 1]) for i in range(8)
    ]
    dt = np.array([0.5, 6.0])
    phi = shared.transition(dt)
    for i in range(8):
        np.testing.assert_array_equal(phi[..., i], alone[i].transition(dt)[..., 0])
    assert _distinct_rates(np.moveaxis(transit_rates(8), -1, 0)) is None  # all differ: nothing shared


def test_union_columns_with_alike_doses_are_those_of_every_field_compared():
    # the 1-D path (only the times differ) against np.unique over every field (the general one)
    rng = np.random.default_rng(4)
    counts = rng.integers(0, 6, 50)
    offsets = np.r_[0, np.cumsum(counts)]
    times = np.concatenate(
        [np.sort(rng.choice([0.0, 8.0, 16.0, 24.0, 32.0], c, replace=False)) for c in counts]
    )
    keys = (np.zeros(times.size), np.full(times.size, 2.0))
    slot, columns = union_columns(offsets, times, keys)
    rank = np.zeros(times.size)
    want, inverse = np.unique(np.column_stack([times, rank, *keys]), axis=0, return_inverse=True)
    np.testing.assert_array_equal(columns, want)
    np.testing.assert_array_equal(slot, inverse.ravel())


def test_an_event_table_in_any_row_order_reads_as_sorted():
    rows = pd.DataFrame(
        dict(ID=[2, 1, 2, 1], TIME=[0.0, 0.0, 8.0, 8.0], AMT=[1.0, 2.0, 3.0, 4.0], EVID=1, CMT=1)
    )
    given = pk.read_events(rows).doses_given
    np.testing.assert_array_equal(given.id, [1, 1, 2, 2])
    np.testing.assert_array_equal(given.amount_mg, [2.0, 4.0, 1.0, 3.0])
    np.testing.assert_array_equal(given.row, [1, 3, 0, 2])
    np.testing.assert_array_equal(pk.read_events(rows.iloc[[1, 3, 0, 2]]).doses_given.amount_mg, [2, 4, 1, 3])


@pytest.mark.parametrize("addl", [0, 2])
def test_addl_expands_every_ii_after_the_row(addl):
    rows = pd.DataFrame(
        dict(ID=[1, 1], TIME=[0.0, 30.0], AMT=[1.0, 2.0], EVID=1, CMT=1, II=[8.0, 0.0], ADDL=[addl, 0])
    )
    given = pk.read_events(rows).doses_given
    np.testing.assert_array_equal(given.time_h, [0.0, 8.0, 16.0][: addl + 1] + [30.0])
    assert not given.time_h.flags.writeable


def test_subject_doses_copy_what_the_caller_can_change_and_share_what_nobody_can():
    times, amounts = np.array([0.0, 8.0, 4.0]), np.array([1.0, 2.0, 3.0])
    doses = SubjectDoses(offsets=[0, 2, 3], time_h=times, amount_mg=amounts)
    times[0] = 99.0  # the caller's array: the doses kept their own copy
    assert doses.time_h[0] == 0.0 and not doses.time_h.flags.writeable
    again = SubjectDoses(offsets=[0, 2, 3], time_h=doses.time_h, amount_mg=doses.amount_mg)
    assert np.shares_memory(again.time_h, doses.time_h)  # read-only all the way down: shared
    view = np.array([0.0, 8.0, 4.0])[:]  # a view of memory someone can still write
    view.flags.writeable = False
    assert not np.shares_memory(SubjectDoses(offsets=[0, 2, 3], time_h=view, amount_mg=amounts).time_h, view)


def test_the_transit_model_skipping_phis_zeros_gives_the_full_sums_bits(monkeypatch):
    # W2's march between doses and its read-out rows skip the 14 of 36 entries of Phi a
    # transit chain cannot fill; the full sums (pattern unknown) add exact zeros instead
    model = pk.load_model("baclofen_cp_he2014_fast_absorption")
    rng = np.random.default_rng(3)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 50), age_years=np.full(50, 8.0))
    reg = pk.Regimen.weight_based(2.0, 3, 3)
    skipped = pk.simulate(model, cohort, reg, TIMES, seed=2).concentrations
    monkeypatch.setattr(MatrixExponential, "nonzero", lambda self: None)
    full = pk.simulate(model, cohort, reg, TIMES, seed=2).concentrations
    np.testing.assert_array_equal(skipped, full)
    assert skipped.max() > 0.1
