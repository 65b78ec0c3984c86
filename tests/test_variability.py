import numpy as np
import pytest

import pkmodel as pk
from pkmodel.population import variability
from conftest import CL_PER_KG


@pytest.fixture(scope="module")
def big(card):
    rng = np.random.default_rng(0)
    cohort = pk.Cohort(weight_kg=rng.uniform(10, 60, 20_000), age_years=rng.uniform(2, 17, 20_000))
    return cohort, pk.simulate(
        card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), [0.0, 1.0], seed=11
    )


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
    res = pk.simulate(
        card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), [1.0], variability=False, seed=99
    )
    np.testing.assert_array_equal(res.parameters["CL"], CL_PER_KG * cohort.weight_kg)
    assert res.seed is None and (res.parameters[["eta_CL", "eta_V", "eta_ka"]] == 0).all().all()


def test_a_subjects_draws_do_not_depend_on_how_the_cohort_is_cut():
    whole = variability.standard_normals(entropy=5, stream=0, first=0, n=10_000, k=3)
    for first, n in [(0, 1), (4095, 2), (4096, 5000), (9_000, 1_000)]:
        part = variability.standard_normals(entropy=5, stream=0, first=first, n=n, k=3)
        np.testing.assert_array_equal(part, whole[first : first + n])


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match=r"seed is .*; expected a whole number >= 0 or None"):
        variability.seed_entropy(seed)


# --- correlated random effects, occasions, residual error, uncertainty (issue 3) ------


def _model_with(tmp_path, extra_toml: str = "", **parameters):
    from conftest import write_model

    path = write_model(tmp_path, **parameters)
    path.write_text(path.read_text() + extra_toml)
    return pk.load_model(path)


def test_correlated_omega_is_reproduced_by_50000_subjects(tmp_path):
    model = _model_with(
        tmp_path,
        '\n[[correlations]]\nbetween = ["CL", "V"]\nvalue = 0.6\n'
        '\n[[correlations]]\nbetween = ["V", "ka"]\nvalue = -0.3\n',
    )
    etas = variability.sample_etas(model.omega, 50_000, entropy=9)
    sample = np.cov(etas.T)
    scale = np.sqrt(np.outer(np.diag(model.omega), np.diag(model.omega)))
    # SE of a (co)variance from 50,000 draws is <= sqrt(2/50000) = 0.6 % of the scale; 3 % is ~5 SE
    assert np.max(np.abs(sample - model.omega) / scale) < 0.03


def test_proportional_residual_error_has_the_models_cv(card):
    cohort = pk.Cohort(weight_kg=np.full(50_000, 20.0), age_years=np.full(50_000, 6.0))
    res = pk.simulate(card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), [2.0], seed=3)
    ratio = res.observations[:, 0] / res.concentrations[:, 0]
    # CV 24 % (Simon 2018, assumed for children); SE of an SD from 50,000 draws 0.3 %
    np.testing.assert_allclose(np.std(ratio, ddof=1), 0.24, rtol=0.02)
    np.testing.assert_allclose(np.mean(ratio), 1.0, atol=0.005)
    # the random effects are untouched by asking for observations
    again = pk.simulate(card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), [2.0], seed=3)
    np.testing.assert_array_equal(again.concentrations, res.concentrations)


def test_exponential_residual_error_is_never_negative_and_off_without_variability(tmp_path):
    from dataclasses import replace

    model = replace(
        _model_with(tmp_path), residual_error=pk.ResidualError("exponential", proportional_sd=1.5)
    )
    cohort = pk.Cohort(weight_kg=np.full(2000, 20.0), age_years=np.full(2000, 6.0))
    res = pk.simulate(model, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), [1.0, 4.0], seed=5)
    assert res.observations.min() > 0
    np.testing.assert_allclose(np.std(np.log(res.observations / res.concentrations)), 1.5, rtol=0.05)
    typical = pk.simulate(
        model,
        pk.Cohort(weight_kg=[20.0], age_years=[6.0]),
        pk.Regimen.fixed(mg=5, every_h=8, n_doses=1),
        [1.0],
        variability=False,
    )
    np.testing.assert_array_equal(typical.observations, typical.concentrations)


def test_inter_occasion_variability_changes_parameters_at_each_occasion(tmp_path):
    model = _model_with(tmp_path, CL={"iov_sd": 0.3})
    cohort = pk.Cohort(weight_kg=np.full(4000, 20.0), age_years=np.full(4000, 6.0))
    reg = pk.Regimen.weight_based(2.0, 3, 4)
    times = np.arange(0, 96.5, 0.5)
    res = pk.simulate(model, cohort, reg, times, seed=2, occasions=[0, 48])
    assert res.kappas.shape == (4000, 2, 1)
    np.testing.assert_allclose(np.std(res.kappas[:, :, 0], axis=0, ddof=1), 0.3, rtol=0.05)
    assert abs(np.corrcoef(res.kappas[:, 0, 0], res.kappas[:, 1, 0])[0, 1]) < 0.05
    # exact engine across an occasion boundary == ode engine (state carried, rates switched)
    few = pk.Cohort(weight_kg=[15.0, 35.0], age_years=[4.0, 11.0])
    a = pk.simulate(model, few, reg, times, seed=2, occasions=[0, 30, 48.25])
    o = pk.simulate(model, few, reg, times, seed=2, occasions=[0, 30, 48.25], engine="ode")
    from conftest import relative_error_where_visible

    assert relative_error_where_visible(o.concentrations, a.concentrations) < 1e-6


def test_parameter_uncertainty_draws_typical_values_per_replicate(tmp_path):
    model = _model_with(tmp_path, CL={"rse": 0.2})
    cohort = pk.Cohort(weight_kg=np.full(50, 20.0), age_years=np.full(50, 6.0))
    res = pk.simulate(
        model, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), [1.0, 2.0], seed=4, replicates=400
    )
    assert len(res) == 20_000 and res.parameters["replicate"].tolist()[:51] == [0] * 50 + [1]
    # per replicate, the geometric mean CL/kg of its 50 children estimates its typical value
    typical_cl = np.exp(np.log(res.parameters["CL"] / 20).to_numpy().reshape(400, 50).mean(axis=1))
    # the replicate typical values are log-normal with CV 20 %: SD of log = sqrt(ln(1.04)) = 0.198;
    # the geometric mean of 50 children adds 0.334/sqrt(50) = 0.047 of spread
    np.testing.assert_allclose(np.std(np.log(typical_cl)), np.hypot(0.198, 0.334 / np.sqrt(50)), rtol=0.1)
    assert res.to_frame()["replicate"].max() == 399


def test_bad_occasions_and_replicates_are_refused(card, tmp_path):
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    reg = pk.Regimen.fixed(mg=5, every_h=8, n_doses=1)
    with pytest.raises(
        ValueError, match=r"occasions given, but model 'baclofen_cp_card' has no inter-occasion"
    ):
        pk.simulate(card, cohort, reg, [1.0], occasions=[0, 24])
    iov = _model_with(tmp_path, CL={"iov_sd": 0.3})
    with pytest.raises(
        ValueError, match=r"occasions is \[24, 48\]; expected start times \(h\) beginning with 0"
    ):
        pk.simulate(iov, cohort, reg, [1.0], occasions=[24, 48])
    with pytest.raises(
        ValueError, match=r"replicates given, but model 'baclofen_cp_card' states no uncertainty"
    ):
        pk.simulate(card, cohort, reg, [1.0], replicates=10)
    with pytest.raises(ValueError, match=r"replicates is 0; expected a whole number >= 1"):
        pk.simulate(card, cohort, reg, [1.0], replicates=0)


# --- negative observations under normal residual errors (issue 12, item 12) ---------------


def test_proportional_error_gives_negatives_at_the_normal_rate_kept_and_said(card):
    # NONMEM's convention, kept: C (1 + 0.24 e) < 0 when e < -1/0.24, P = Phi(-4.1667) = 1.5454e-5
    from scipy.stats import norm

    p = norm.cdf(-1 / 0.24)
    n_children, n_times = 20_000, 200
    cohort = pk.Cohort(weight_kg=np.full(n_children, 20.0), age_years=np.full(n_children, 6.0))
    res = pk.simulate(
        card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=3), np.linspace(0.5, 24.0, n_times), seed=12
    )
    with pytest.warns(
        pk.NegativeObservationWarning,
        match=r"residual error: (\d+) of 4,000,000 observations are negative \(smallest "
        r"-0\.\d+ mg/L\); the proportional error model is simulated as NONMEM does "
        r"\(expected fraction: ResidualError\.negative_probability, 1\.55e-05 "
        r"here\); kept as drawn",
    ) as caught:
        obs = res.observations
    negative = obs < 0
    count = int(negative.sum())
    # Poisson: 61.8 expected, SD 7.9; 4 SD
    assert abs(count - p * obs.size) < 4 * np.sqrt(p * obs.size)
    assert f"{count:,} of" in str(caught[0].message)
    # kept as drawn, not truncated: each is C (1 + 0.24 e) with the run's residual stream
    z = variability.standard_normals(12, variability.STREAM_RESIDUAL, 0, n_children, 2 * n_times)
    conc = res.concentrations
    np.testing.assert_allclose(obs[negative], (conc * (1 + 0.24 * z[:, :n_times]))[negative], rtol=1e-15)


def test_negative_probability_is_the_normal_cdf_of_each_error_model():
    from scipy.stats import norm

    c = np.array([0.0, 0.05, 0.2, 1.0])
    prop = pk.ResidualError("proportional", proportional_sd=0.24)
    add = pk.ResidualError("additive", additive_sd=0.05)
    combined = pk.ResidualError("combined", proportional_sd=0.24, additive_sd=0.05)
    # closed forms: P(C (1 + sp e1) + sa e2 < 0) = Phi(-C / sqrt(sp^2 C^2 + sa^2))
    np.testing.assert_allclose(prop.negative_probability(c), [0.0] + [norm.cdf(-1 / 0.24)] * 3, rtol=1e-12)
    np.testing.assert_allclose(add.negative_probability(c), norm.cdf(-c / 0.05), rtol=1e-12)
    np.testing.assert_allclose(
        combined.negative_probability(c), norm.cdf(-c / np.sqrt((0.24 * c) ** 2 + 0.05**2)), rtol=1e-12
    )
    assert not pk.ResidualError("exponential", proportional_sd=1.5).negative_probability(c).any()
    # and the draws follow it: combined error at C = 0.2 mg/L, p = Phi(-2.887) = 0.00195
    rng = np.random.default_rng(1)
    e1, e2 = rng.standard_normal((2, 1_000_000))
    with pytest.warns(pk.NegativeObservationWarning, match=r"the combined error model"):
        obs = combined.apply(np.full(1_000_000, 0.2), e1, e2)
    expected = 1_000_000 * combined.negative_probability(0.2)
    assert abs((obs < 0).sum() - expected) < 4 * np.sqrt(expected)  # Poisson SD 44; 4 SD
