import numpy as np
import pytest

import pkmodel as pk
from pkmodel import variability
from conftest import CL_PER_KG


@pytest.fixture(scope="module")
def big(card):
    rng = np.random.default_rng(0)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 20_000), age_years=rng.uniform(2, 17, 20_000))
    return cohort, pk.simulate(card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1),
                               [0.0, 1.0], seed=11)


def test_clearance_iiv_is_log_normal_with_sd_0_334(big):
    cohort, res = big
    log_ratio = np.log(res.parameters["CL"] / (CL_PER_KG * cohort.weight_kg))
    # SD of an SD estimate from 20,000 normals: 0.334/sqrt(2*20000) = 0.0017; 0.01 is ~6 of those
    assert abs(np.std(log_ratio, ddof=1) - 0.334) < 0.01
    assert abs(np.mean(log_ratio)) < 0.01


def test_every_random_effect_has_the_omega_of_its_parameter(big, card):
    _, res = big
    sds = [np.std(res.parameters[f"eta_{n}"], ddof=1) for n in ("CL", "V", "ka")]
    np.testing.assert_allclose(sds, [0.334, 0.439, 0.837], rtol=0.03)
    # independent effects: |correlation| of 20,000 draws is ~0.007 by chance
    corr = np.corrcoef(res.parameters[["eta_CL", "eta_V", "eta_ka"]].to_numpy().T)
    assert np.max(np.abs(corr - np.eye(3))) < 0.03


def test_same_seed_same_arrays_other_seed_different(card):
    cohort = pk.Cohort(weight_kg=np.linspace(10, 60, 30), age_years=np.full(30, 8.0))
    reg = pk.Regimen.weight_based(2.0, 3, 2)
    times = np.arange(0, 48.5, 0.5)
    a = pk.simulate(card, cohort, reg, times, seed=42)
    b = pk.simulate(card, cohort, reg, times, seed=42)
    c = pk.simulate(card, cohort, reg, times, seed=43)
    np.testing.assert_array_equal(a.concentrations, b.concentrations)
    assert not np.any(a.concentrations[:, 1:] == c.concentrations[:, 1:])
    assert a.seed == 42


def test_without_a_seed_the_entropy_used_is_kept_and_reproduces(card):
    cohort = pk.Cohort(weight_kg=[12.0, 25.0], age_years=[4.0, 8.0])
    reg = pk.Regimen.fixed(mg=5, every_h=8, n_doses=3)
    first = pk.simulate(card, cohort, reg, [1.0, 20.0])
    again = pk.simulate(card, cohort, reg, [1.0, 20.0], seed=first.seed)
    np.testing.assert_array_equal(first.concentrations, again.concentrations)


def test_variability_off_is_the_typical_child(card):
    cohort = pk.Cohort(weight_kg=[10.0, 40.0], age_years=[3.0, 12.0])
    res = pk.simulate(card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), [1.0],
                      variability=False, seed=99)
    np.testing.assert_array_equal(res.parameters["CL"], CL_PER_KG * cohort.weight_kg)
    assert res.seed is None and (res.parameters[["eta_CL", "eta_V", "eta_ka"]] == 0).all().all()


def test_a_subjects_draws_do_not_depend_on_how_the_cohort_is_cut():
    whole = variability.standard_normals(entropy=5, stream=0, first=0, n=10_000, k=3)
    for first, n in [(0, 1), (4095, 2), (4096, 5000), (9_000, 1_000)]:
        part = variability.standard_normals(entropy=5, stream=0, first=first, n=n, k=3)
        np.testing.assert_array_equal(part, whole[first:first + n])


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match=r"seed is .*; expected a whole number >= 0 or None"):
        variability.seed_entropy(seed)
