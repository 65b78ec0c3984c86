"""The ode engine's compiled kernel (engines/_kernel.py, numba) against the numpy path and closed forms.

The kernel is `_stepping`'s algorithm child by child, so it must give the numpy path's numbers
(to rounding: numpy's float32 exp and log of the step factor, and np.exp against libm's exp,
may round otherwise) and the same steps; the references beside it are the Bateman function and
the analytic engine (exact for linear models). Skipped without numba (the `fast` extra).
"""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("numba")

import pkmodel as pk  # noqa: E402
from pkmodel.engines import _cohort, ode  # noqa: E402
from test_ode_engine import bateman  # noqa: E402

TID = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=14)
W1_TIMES = np.arange(0, 336.5, 0.5)


def cohort(n, seed=1):
    rng = np.random.default_rng(seed)
    return pk.Cohort(weight_kg=rng.uniform(10, 60, n), age_years=np.full(n, 8.0))


def both(model, kids, regimen, times, **options):
    """The ode engine's concentrations (every output) on the kernel and on numpy."""
    out = []
    for kernel in ("numba", "numpy"):
        res = pk.simulate(
            model, kids, regimen, times, engine="ode", variability=True, seed=3, kernel=kernel, **options
        )
        out.append(res)
    return out


def per_peak(a, b):
    """Each child's largest |a - b| over its peak (of b), shape (n,)."""
    return np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)


def assert_same_as_numpy(model, kids, regimen, times, **options):
    fast, slow = both(model, kids, regimen, times, **options)
    # 1e-9 of each child's peak: the same algorithm; measured 8.7e-14 (W1-like) and 1.1e-13
    # (Michaelis-Menten), from the rounding of the step factor and of exp
    assert per_peak(fast.concentrations, slow.concentrations).max() < 1e-9
    return fast, slow


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_the_card_model_on_w1s_regimen_matches_the_numpy_path_and_bateman():
    card = pk.load_model("baclofen_cp_card")
    fast, _ = assert_same_as_numpy(card, cohort(40), TID, W1_TIMES)
    p = fast.parameters
    exact = pk.simulate(card, cohort(40), TID, W1_TIMES, engine="analytic", variability=True, seed=3)
    # 1e-6 of the peak: the issues' bound per child (measured 2e-9)
    assert per_peak(fast.concentrations, exact.concentrations).max() < 1e-6
    # and one child by the closed form itself: the Bateman function over its 42 doses
    dose_mg = 2.0 / 3 * np.asarray(cohort(40).weight_kg)[0]
    c = bateman(W1_TIMES, np.arange(0, 336, 8.0), np.full(42, dose_mg), p["CL"][0], p["V"][0], p["ka"][0])
    np.testing.assert_allclose(fast.concentrations[0], c, rtol=0, atol=1e-6 * c.max())


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_michaelis_menten_matches_the_numpy_path():
    model = pk.load_model("phenytoin_mm_oral")
    reg = pk.Regimen.weight_based(mg_per_kg_day=5.0, doses_per_day=2, days=7)
    assert_same_as_numpy(model, cohort(30), reg, np.arange(0, 168.5, 0.5))


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_three_compartments_with_iv_and_oral_doses_match_numpy_and_the_analytic_engine():
    model = pk.load_model("three_compartment_iv_oral")
    table = pd.DataFrame(
        {
            "ID": np.repeat(np.arange(1, 7), 4),
            "TIME": np.tile([0.0, 6.0, 12.0, 30.5], 6),
            "AMT": np.tile([50.0, 20.0, 50.0, 35.0], 6),
            "EVID": 1,
            "CMT": np.tile([1, 2, 1, 2], 6),  # oral into the depot, IV boluses into central
        }
    )
    kids = cohort(6, seed=2)
    times = np.arange(0, 72.25, 0.25)
    fast, _ = assert_same_as_numpy(model, kids, pk.read_events(table), times)
    exact = pk.simulate(
        model, kids, pk.read_events(table), times, engine="analytic", variability=True, seed=3
    )
    assert per_peak(fast.concentrations, exact.concentrations).max() < 1e-8  # issue 14's bound


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_infusions_and_occasions_match_the_numpy_path():
    # RATE events (the infusion compartment's rate) and EPOCH events (each occasion's
    # parameters, here the weight moving every 24 h) on the kernel
    model = pk.load_model("three_compartment_iv_oral")
    table = pd.DataFrame(
        {
            "ID": np.repeat(np.arange(1, 5), 3),
            "TIME": np.tile([0.0, 10.0, 30.0], 4),
            "AMT": np.tile([40.0, 30.0, 40.0], 4),
            "RATE": np.tile([20.0, 0.0, 10.0], 4),
            "EVID": 1,
            "CMT": np.tile([2, 1, 2], 4),
        }
    )
    kids = pk.Cohort.from_growth_charts(4, age_years=(4, 12), seed=3)
    times = np.arange(0, 60.25, 0.25)
    assert_same_as_numpy(model, kids, pk.read_events(table), times, weight_update_h=24)


SWITCHING = """
[model]
name = "switching"
compartments = ["depot", "central"]
dose_compartment = "depot"

[parameters.CL]
value = 0.273
unit = "L/h/kg"
iiv_sd = 0.3

[parameters.V]
value = 1.77
unit = "L/kg"

[parameters.ka]
value = 2.57
unit = "1/h"
iiv_sd = 0.5

[derived]
C = "central / V"
K = "where(t < 1000, CL / V, 0.5 * CL / V) + max(0.0, -0.001 * C) + 0.01 * sqrt(exp(-0.01 * t))"

[odes]
depot = "-ka * depot"
central = "ka * depot - K * central"

[outputs]
conc = "C"
"""


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_where_max_and_time_in_the_equations_match_the_numpy_path(tmp_path):
    # the lane writer's where (a select), max (numpy's NaN rule), sqrt, exp, and a
    # right-hand side that depends on t (df/dt by central differences, as on the numpy path).
    # No switch inside the run: where a child crosses a kink (where(C < 0.35, ...)) the two
    # paths' steps part at the rounding of the step factor and differ at the tolerance's
    # level (measured 2e-7 of the peak), both then as right as the error control makes them
    path = tmp_path / "switching.toml"
    path.write_text(SWITCHING)
    model = pk.load_model(path)
    rhs, _ = model.system.lane_sources(8)
    assert " if " in rhs and "math.exp" in rhs and "np.maximum" in rhs
    assert_same_as_numpy(model, cohort(8), TID, np.arange(0, 200.5, 0.5))


def amounts_and_steps(model, kids, regimen, times, kernel):
    """integrate_amounts' (amounts, steps, rejected) for the typical children of `kids`."""
    captured = {}
    original = ode.integrate_cohort

    def spy(
        compiled, epochs, inputs, times_h, observe, rtol, atol_mg, method="rodas5p", kernel="auto", threads=1
    ):
        captured["args"] = (compiled, epochs, inputs, times_h, rtol, atol_mg)
        return original(compiled, epochs, inputs, times_h, observe, rtol, atol_mg, method, kernel, threads)

    ode.integrate_cohort = spy
    try:
        pk.simulate(model, kids, regimen, times, engine="ode", variability=True, seed=3, kernel="numpy")
    finally:
        ode.integrate_cohort = original
    return _cohort.integrate_amounts(*captured["args"], kernel=kernel)


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_each_child_takes_the_numpy_paths_steps():
    card = pk.load_model("baclofen_cp_card")
    _, fast_steps, fast_rejected = amounts_and_steps(card, cohort(25), TID, W1_TIMES, "numba")
    _, slow_steps, slow_rejected = amounts_and_steps(card, cohort(25), TID, W1_TIMES, "numpy")
    # the same rules in the same order: equal counts (a step factor rounded otherwise by
    # numpy's float32 exp could move one child by a step; measured: none)
    assert np.all(np.abs(fast_steps - slow_steps) <= 2), np.abs(fast_steps - slow_steps).max()
    assert np.all(fast_rejected == slow_rejected)
    assert fast_steps.min() > 1000  # ~2,660 steps a child over 14 days


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_a_childs_numbers_do_not_depend_on_the_batch():
    card = pk.load_model("baclofen_cp_card")
    kids = cohort(15)
    whole = pk.simulate(card, kids, TID, W1_TIMES, engine="ode", seed=4, kernel="numba").concentrations
    for chunk in (1, 7):
        part = pk.simulate(card, kids, TID, W1_TIMES, engine="ode", seed=4, kernel="numba", chunk_size=chunk)
        assert np.array_equal(part.concentrations, whole)  # bit for bit


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_output_times_per_child_give_each_childs_own_numbers(monkeypatch):
    # the engine hands the kernel every child's one grid (shared=True); the kernel also takes
    # output times per child in CSR layout, as `_integrator` does. Child i on its own grid
    # (W1's shifted by 0.01 i h) in one CSR run must give, bit for bit, what it gives alone
    # on that grid
    from pkmodel.engines import _kernel

    card = pk.load_model("baclofen_cp_card")
    kids = cohort(5)
    grid = lambda i: W1_TIMES + 0.01 * i  # noqa: E731
    child = lambda i: pk.Cohort(weight_kg=kids.weight_kg[i : i + 1], age_years=[8.0])  # noqa: E731
    alone = [
        pk.simulate(card, child(i), TID, grid(i), engine="ode", variability=False, kernel="numba")
        for i in range(5)
    ]
    original = _kernel.integrate

    def per_child(*args, shared=False):
        args = list(args)
        args[7] = np.concatenate([grid(i) for i in range(args[6].size - 1)])  # CSR by output_offsets
        return original(*args, shared=False)

    monkeypatch.setattr(_kernel, "integrate", per_child)
    csr = pk.simulate(card, kids, TID, W1_TIMES, engine="ode", variability=False, kernel="numba")
    for i in range(5):
        assert np.array_equal(csr.concentrations[i], alone[i].concentrations[0]), i


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_threads_change_no_bit_and_each_lane_is_its_own_child():
    # the kernel steps LANES children at once, a lane taking the next child when its own is
    # done, and splits the children over `threads`: 21 children (not a multiple of the lanes;
    # three runs of 7 on three threads) with each child its own dose times (timing jitter and
    # missed doses), against each child integrated alone (chunks of 1), bit for bit
    from pkmodel.engines import _kernel

    card = pk.load_model("baclofen_cp_card")
    kids = cohort(21 if _kernel.LANES < 21 else 3 * _kernel.LANES)
    reg = pk.Regimen.parse(
        "2 mg/kg/day at 08:00, 14:00, 20:00 for 3 days, 10 % of doses missed, timing sd 0.5 h"
    )
    times = np.arange(0, 72.5, 0.5)
    run = lambda **o: pk.simulate(card, kids, reg, times, engine="ode", seed=4, kernel="numba", **o)  # noqa: E731
    alone = run(chunk_size=1).concentrations
    for threads in (1, 2, 3):
        assert np.array_equal(run(threads=threads).concentrations, alone), threads
    exact = pk.simulate(card, kids, reg, times, engine="analytic", seed=4).concentrations
    assert per_peak(alone, exact).max() < 1e-6  # and right: issue 20's bound per child


def test_an_unknown_kernel_is_refused_naming_the_value():
    with pytest.raises(
        ValueError, match=r"engine option kernel is 'fast'; expected one of \['auto', 'numba', 'numpy'\]"
    ):
        ode.OdeEngine().options(kernel="fast")


def test_numba_with_another_method_is_refused_saying_why():
    with pytest.raises(
        ValueError, match=r"kernel is 'numba', but method is 'dop853_rodas5p'.*'rodas5p' only"
    ):
        ode.OdeEngine().options(kernel="numba", method="dop853_rodas5p")


def test_numba_not_installed_is_refused_saying_how_to_install_it(monkeypatch):
    monkeypatch.setattr(_cohort, "_LOADED", ["No module named 'numba'"])
    with pytest.raises(
        ValueError, match=r"kernel is 'numba', but No module named 'numba'; pip install 'pkmodel\[fast\]'"
    ):
        ode.OdeEngine().options(kernel="numba")
    with pytest.raises(  # threads are the kernel's: refused too, saying how to have them
        ValueError,
        match=r"threads is 2, but No module named 'numba': threads are the compiled Rodas5P kernel's; "
        r"pip install 'pkmodel\[fast\]'",
    ):
        ode.OdeEngine().options(threads=2)
    # "auto" then steps by numpy, silently and with the same numbers
    card = pk.load_model("baclofen_cp_card")
    auto = pk.simulate(card, cohort(3), TID, W1_TIMES, engine="ode", seed=1).concentrations
    monkeypatch.undo()
    fast = pk.simulate(card, cohort(3), TID, W1_TIMES, engine="ode", seed=1, kernel="numba").concentrations
    assert per_peak(fast, auto).max() < 1e-9


STEADY = pd.DataFrame(
    {
        "ID": [1, 2],
        "TIME": [0.0, 0.0],
        "AMT": [10.0, 20.0],
        "EVID": 1,
        "CMT": 1,
        "SS": 1,
        "II": 8.0,
        "ADDL": 3,
    }
)


def test_steady_state_doses_are_refused_on_numba_and_stepped_by_numpy_on_auto():
    card = pk.load_model("baclofen_cp_card")
    kids = cohort(2)
    times = np.arange(0, 24.5, 0.5)
    with pytest.raises(ValueError, match=r"kernel is 'numba', but steady-state doses \(SS = 1, 2\)"):
        pk.simulate(
            card, kids, pk.read_events(STEADY), times, engine="ode", variability=False, kernel="numba"
        )
    auto = pk.simulate(card, kids, pk.read_events(STEADY), times, engine="ode", variability=False)
    numpy = pk.simulate(
        card, kids, pk.read_events(STEADY), times, engine="ode", variability=False, kernel="numpy"
    )
    assert np.array_equal(auto.concentrations, numpy.concentrations)


def test_nonlinear_steady_state_on_numba_is_refused_saying_why():
    model = pk.load_model("phenytoin_mm_oral")
    with pytest.raises(
        ValueError, match=r"kernel is 'numba', but steady-state doses \(SS\) of a nonlinear model"
    ):
        pk.simulate(
            model, cohort(2), pk.read_events(STEADY), np.arange(0, 24.5, 0.5), engine="ode", kernel="numba"
        )


def test_the_lane_writer_writes_every_slot_of_the_jacobian():
    card = pk.load_model("baclofen_cp_card")
    rhs, jac = card.system.lane_sources(8)
    assert "out[8 + l] = 0.0" in jac  # d depot' / d central (slot 1 of lane l): no term, written as zero
    assert "np.where" not in rhs + jac and "math" not in rhs  # a linear model: products only


SEVEN_STATES = """
[model]
name = "seven_states"
compartments = ["depot", "t1", "t2", "t3", "t4", "central", "peripheral"]
dose_compartment = "depot"

[parameters.CL]
value = 0.273
unit = "L/h/kg"
iiv_sd = 0.3

[parameters.V]
value = 1.77
unit = "L/kg"

[parameters.Q]
value = 0.2
unit = "L/h/kg"

[parameters.V2]
value = 2.0
unit = "L/kg"

[parameters.ktr]
value = 6.0
unit = "1/h"
iiv_sd = 0.5

[odes]
depot = "-ktr * depot"
t1 = "ktr * depot - ktr * t1"
t2 = "ktr * t1 - ktr * t2"
t3 = "ktr * t2 - ktr * t3"
t4 = "ktr * t3 - ktr * t4"
central = "ktr * t4 - CL / V * central - Q / V * central + Q / V2 * peripheral"
peripheral = "Q / V * central - Q / V2 * peripheral"

[outputs]
conc = "central / V"
"""


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_auto_steps_a_system_of_more_than_six_states_by_numpy(tmp_path):
    # the lane kernel is measured faster than numpy up to W2's 6 states (32 s against 50 s at
    # N = 10,000, bench/results.md); beyond, its per-lane LU (m^3) is not measured, so "auto"
    # takes numpy there, by the model alone (never by the number of children, which would make
    # a chunk's path depend on the chunking)
    from pkmodel.engines import _cohort as cohort_module

    assert cohort_module.AUTO_MAX_STATES == 6
    path = tmp_path / "seven.toml"
    path.write_text(SEVEN_STATES)
    model = pk.load_model(path)
    times = np.arange(0, 24.5, 0.5)
    reg = pk.Regimen.weight_based(mg_per_kg_day=2.0, doses_per_day=3, days=1)
    auto = pk.simulate(model, cohort(2), reg, times, engine="ode", seed=1).concentrations
    numpy = pk.simulate(model, cohort(2), reg, times, engine="ode", seed=1, kernel="numpy").concentrations
    fast = pk.simulate(model, cohort(2), reg, times, engine="ode", seed=1, kernel="numba").concentrations
    assert np.array_equal(auto, numpy)
    assert per_peak(fast, numpy).max() < 1e-9  # "numba" still steps it, to the same numbers
    # and W2's 6 states go to the kernel under "auto"
    he = pk.load_model("baclofen_cp_he2014_fast_absorption")
    auto6 = pk.simulate(he, cohort(2), reg, times, engine="ode", seed=1).concentrations
    numba6 = pk.simulate(he, cohort(2), reg, times, engine="ode", seed=1, kernel="numba").concentrations
    assert np.array_equal(auto6, numba6)


def test_children_with_and_without_steady_state_doses_keep_their_bits_whatever_the_batch():
    # "auto": a child with SS doses is stepped by numpy, the others by the kernel, each by its
    # own events, so batching them together or apart changes no bit
    card = pk.load_model("baclofen_cp_card")
    table = pd.DataFrame(
        {
            "ID": [1, 2, 2],
            "TIME": [0.0, 0.0, 8.0],
            "AMT": [10.0, 20.0, 20.0],
            "EVID": 1,
            "CMT": 1,
            "SS": [1, 0, 0],
            "II": [8.0, 0.0, 0.0],
            "ADDL": [3, 0, 0],
        }
    )
    kids = cohort(2)
    times = np.arange(0, 24.5, 0.5)
    whole = pk.simulate(card, kids, pk.read_events(table), times, engine="ode", variability=False)
    alone = pk.simulate(
        card, kids, pk.read_events(table), times, engine="ode", variability=False, chunk_size=1
    )
    assert np.array_equal(whole.concentrations, alone.concentrations)
    numpy = pk.simulate(
        card, kids, pk.read_events(table), times, engine="ode", variability=False, kernel="numpy"
    )
    assert np.array_equal(whole.concentrations[0], numpy.concentrations[0])  # the SS child: numpy's
    assert per_peak(whole.concentrations[1:], numpy.concentrations[1:]).max() < 1e-9


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_a_where_on_parameters_alone_takes_each_childs_branch(tmp_path):
    # where(V < 30, ...): a condition free of the amounts and t is static (a 1 or 0 per child,
    # set once); it failed to compile before (the condition's parameter reached the dynamic code)
    path = tmp_path / "static_where.toml"
    path.write_text(
        SWITCHING.replace(
            'central = "ka * depot - K * central"',
            'central = "where(V < 30, ka * depot, 0.5 * ka * depot) - K * central"',
        ).replace('K = "where(t < 1000', 'K = "0 * t + where(t < 1000')
    )
    model = pk.load_model(path)
    assert "!= 0.0" in model.system.lane_sources(8)[0]
    kids = pk.Cohort(weight_kg=[10.0, 20.0], age_years=[8.0, 8.0])  # V 17.7 and 35.4 L
    times = np.arange(0, 48.25, 0.25)
    reg = pk.Regimen.fixed(mg=10, every_h=24, n_doses=1)
    fast, slow = both(model, kids, reg, times)
    assert per_peak(fast.concentrations, slow.concentrations).max() < 1e-9
    # the second child absorbs at half the rate into central: its depot empties slower, so its
    # concentration peaks later than the first child's
    peak_times = times[np.argmax(slow.concentrations, axis=1)]
    assert peak_times[1] > peak_times[0]
