"""The ode engine through pk.simulate: each child's own dose times and its own error scale.

References: the Bateman function (superposition of one-compartment oral doses)
and the analytic engine (exact for linear models, tests/test_engines.py).
"""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from conftest import card_document, relative_error_where_visible, write_toml

JITTERED = "2 mg/kg/day at 08:00, 14:00, 20:00 for 14 days, 10 % of doses missed, ± 30 min"


def bateman(t, dose_times, doses, cl, v, ka):
    """Concentration after oral doses, one compartment, mg/L; t (r,), dose_times (d,)."""
    k = cl / v
    tau = t[:, None] - dose_times[None, :]
    c = doses * ka / (v * (ka - k)) * (np.exp(-k * np.clip(tau, 0, None)) - np.exp(-ka * np.clip(tau, 0, None)))
    return np.where(tau > 0, c, 0.0).sum(axis=1)


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")  # 1e-3 mg and 1e3 mg doses
def test_each_child_is_held_to_1e_6_on_its_own_scale(tmp_path):
    # issue 14: a child absorbing at 50 /h given 1e-3 mg next to one at 0.1 /h given 1e3 mg;
    # one error norm over the stacked cohort would let the small child's error through
    doc = card_document()
    # sex stands for any child-level category: it sets each child's ka here
    doc["parameters"]["ka"]["covariates"] = {"sex": {"type": "categorical",
                                                     "values": {"F": 50.0, "M": 0.1}}}
    model = pk.load_model(write_toml(tmp_path / "two_speeds.toml", doc))
    cohort = pk.Cohort(weight_kg=[20.0, 20.0], age_years=[8.0, 8.0], sex=["F", "M"])
    dose_times = np.arange(0, 48, 8.0)
    table = pd.DataFrame({"ID": np.repeat([1, 2], 6), "TIME": np.tile(dose_times, 2),
                          "AMT": np.repeat([1e-3, 1e3], 6), "EVID": 1, "CMT": 1})
    times = np.arange(0, 72.25, 0.25)
    res = pk.simulate(model, cohort, pk.read_events(table), times, engine="ode", variability=False)
    p = res.parameters
    np.testing.assert_allclose(p["ka"], [50.0, 0.1], rtol=1e-15)
    for i, dose in enumerate([1e-3, 1e3]):
        exact = bateman(times, dose_times, np.full(6, dose), p["CL"][i], p["V"][i], p["ka"][i])
        visible = exact > 1e-6 * exact.max()
        error = np.max(np.abs(res.concentrations[i, visible] / exact[visible] - 1))
        assert error < 1e-6, (i, error)


def test_jittered_children_agree_with_the_analytic_engine_within_1e_6(card):
    rng = np.random.default_rng(4)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 50, 60), age_years=rng.uniform(2, 17, 60))
    reg = pk.Regimen.parse(JITTERED)
    times = np.arange(0, 336.5, 0.5)
    with pytest.warns(pk.ValidityWarning):   # a light child outside the weight-for-age range
        exact = pk.simulate(card, cohort, reg, times, engine="analytic", seed=5).concentrations
        ode = pk.simulate(card, cohort, reg, times, engine="ode", seed=5).concentrations
    assert_agree(ode, exact)


def assert_agree(ode, exact):
    """Within 1e-6 relative where C > 1e-3 of the child's Cmax (the suite's "visible"), and
    within 1e-9 of Cmax below it (1e-6 relative at the edge), where each child's atol
    (1e-10 of its largest dose) rules."""
    assert relative_error_where_visible(ode, exact) < 1e-6
    cmax = exact.max(axis=1, keepdims=True)
    low = exact <= 1e-3 * cmax
    assert np.max(np.where(low, np.abs(ode - exact) / cmax, 0.0)) < 1e-9


_TEN_THOUSAND = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    import pkmodel as pk
    warnings.simplefilter("ignore", pk.ValidityWarning)
    cohort = pk.Cohort.from_growth_charts(10_000, age_years=(2, 17), seed=1)
    res = pk.simulate(pk.load_model("baclofen_cp_card"), cohort, pk.Regimen.parse(sys.argv[1]),
                      np.arange(0, 336.5, 0.5), engine="ode", seed=1)
    np.save(sys.argv[2], res.concentrations)
    print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])   # peak RSS, kB
""")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")
def test_ten_thousand_jittered_children_on_the_ode_engine_in_under_2_gb(card, tmp_path):
    # issue 20: the union of every child's dose times was (10,000 x 420,000) amounts, 31 GiB;
    # each child's own doses (~378) are 3.8 million records. The concentrations alone are
    # 10,000 x 673 x 8 B = 54 MB
    # Peak resident memory of the child's own address space, VmHWM (kB): getrusage's
    # RUSAGE_CHILDREN ru_maxrss keeps across exec the size of the forked test process
    # (tests/test_chunked.py), ~1.4 GB in the whole suite. Measured: 0.5 GB
    saved = tmp_path / "ode.npy"
    out = subprocess.run([sys.executable, "-c", _TEN_THOUSAND, JITTERED, str(saved)], check=True,
                         capture_output=True, text=True)
    peak_kb = int(out.stdout.split()[-1])
    assert peak_kb < 2 * 1024 ** 2, f"peak RSS {peak_kb / 1024:.0f} MiB"
    cohort = pk.Cohort.from_growth_charts(10_000, age_years=(2, 17), seed=1)
    exact = pk.simulate(card, cohort, pk.Regimen.parse(JITTERED), np.arange(0, 336.5, 0.5),
                        engine="analytic", seed=1).concentrations
    assert_agree(np.load(saved), exact)


def test_a_models_own_nonlinear_system_plugs_in_and_matches_lambert_w_per_child(card):
    # a model with a `system` (the model language's CompiledSystem) is integrated as given:
    # Michaelis-Menten elimination after an IV bolus, C = Km W(C0/Km exp((C0 - Vm/V t)/Km))
    from types import SimpleNamespace
    from pkmodel.dosing.doses import Doses
    from pkmodel.engines.ode import OdeEngine
    from pkmodel.model.compiler import compile_system
    from pkmodel.model.expressions import System
    from scipy.special import lambertw

    system = compile_system(System(
        compartments=("depot", "central"), parameters=("ka", "V", "VM", "KM", "F", "tlag"),
        odes={"depot": "-ka * depot", "central": "ka * depot - VM * (central / V) / (KM + central / V)"},
        outputs={"conc": "central / V"}))
    assert not system.is_linear
    model = SimpleNamespace(name="mm", system=system, structure=card.structure)
    rng = np.random.default_rng(8)
    n = 200
    params = {"ka": np.ones(n), "V": rng.uniform(5, 50, n), "VM": rng.uniform(1, 10, n),
              "KM": rng.uniform(0.1, 2, n), "F": np.ones(n), "tlag": np.zeros(n), "CL": np.ones(n)}
    dose = rng.uniform(10, 100, n)
    doses = Doses(time_h=np.array([0.0]), amount_mg=dose[:, None], compartment=np.array([1]),
                  ss=np.zeros(1, dtype=int), ii_h=np.zeros(1), rate_mg_per_h=np.zeros(1))
    times = np.linspace(0.25, 24, 96)
    conc = OdeEngine().simulate(model, params, doses, times)
    c0, km, k = dose / params["V"], params["KM"], params["VM"] / params["V"]    # mg/L, mg/L, mg/L/h
    exact = km[:, None] * lambertw(c0[:, None] / km[:, None]
                                   * np.exp((c0[:, None] - k[:, None] * times) / km[:, None])).real
    assert_agree(conc, exact)


@pytest.mark.parametrize("name", ["one_compartment_oral", "two_compartment_oral"])
@pytest.mark.parametrize("absorption, n_transit", [("first_order", 0), ("transit", 3),
                                                   ("transit_first_order", 3)])
def test_the_equations_of_each_named_structure_are_its_rate_matrix(name, absorption, n_transit):
    # the ode engine integrates System.from_structure's equations; the analytic engine
    # exponentiates Structure.rate_matrix: the same K, to rounding
    from pkmodel.engines.ode import structure_system
    from pkmodel.model.structures import Structure
    structure = Structure(name, absorption, n_transit)
    rng = np.random.default_rng(6)
    p = {k: rng.uniform(0.2, 5, 4) for k in (*structure.parameters, "F", "tlag")}
    np.testing.assert_allclose(structure_system(structure).rate_matrix(p), structure.rate_matrix(p),
                               rtol=1e-15, atol=0)
