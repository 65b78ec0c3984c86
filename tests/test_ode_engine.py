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
    c = (
        doses
        * ka
        / (v * (ka - k))
        * (np.exp(-k * np.clip(tau, 0, None)) - np.exp(-ka * np.clip(tau, 0, None)))
    )
    return np.where(tau > 0, c, 0.0).sum(axis=1)


@pytest.mark.filterwarnings("ignore::pkmodel.ValidityWarning")  # 1e-3 mg and 1e3 mg doses
def test_each_child_is_held_to_1e_6_on_its_own_scale(tmp_path):
    # issue 14: a child absorbing at 50 /h given 1e-3 mg next to one at 0.1 /h given 1e3 mg;
    # one error norm over the stacked cohort would let the small child's error through
    doc = card_document()
    # sex stands for any child-level category: it sets each child's ka here
    doc["parameters"]["ka"]["covariates"] = {"sex": {"type": "categorical", "values": {"F": 50.0, "M": 0.1}}}
    model = pk.load_model(write_toml(tmp_path / "two_speeds.toml", doc))
    cohort = pk.Cohort(weight_kg=[20.0, 20.0], age_years=[8.0, 8.0], sex=["F", "M"])
    dose_times = np.arange(0, 48, 8.0)
    table = pd.DataFrame(
        {
            "ID": np.repeat([1, 2], 6),
            "TIME": np.tile(dose_times, 2),
            "AMT": np.repeat([1e-3, 1e3], 6),
            "EVID": 1,
            "CMT": 1,
        }
    )
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
    with pytest.warns(pk.ValidityWarning):  # a light child outside the weight-for-age range
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
    out = subprocess.run(
        [sys.executable, "-c", _TEN_THOUSAND, JITTERED, str(saved)],
        check=True,
        capture_output=True,
        text=True,
    )
    peak_kb = int(out.stdout.split()[-1])
    assert peak_kb < 2 * 1024**2, f"peak RSS {peak_kb / 1024:.0f} MiB"
    cohort = pk.Cohort.from_growth_charts(10_000, age_years=(2, 17), seed=1)
    exact = pk.simulate(
        card, cohort, pk.Regimen.parse(JITTERED), np.arange(0, 336.5, 0.5), engine="analytic", seed=1
    ).concentrations
    assert_agree(np.load(saved), exact)
