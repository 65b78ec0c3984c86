"""The batched per-subject integrator (engines/_integrator.py) against closed forms.

References: the Bateman function (one compartment, first-order absorption), the
matrix exponential (scipy.linalg.expm) for linear systems, the Lambert W closed
form of Michaelis-Menten elimination after an IV bolus (Beal 1983).
"""

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.special import lambertw

from pkmodel.engines._integrator import METHODS, integrate


def oral_1cmt(ka, ke):
    """rhs and jac of depot -> central -> out, amounts (k, 2); ka, ke (n,), 1/h."""

    def rhs(t, y, s):
        return np.stack([-ka[s] * y[:, 0], ka[s] * y[:, 0] - ke[s] * y[:, 1]], axis=1)

    def jac(t, y, s):
        j = np.zeros((s.size, 2, 2))
        j[:, 0, 0], j[:, 1, 0], j[:, 1, 1] = -ka[s], ka[s], -ke[s]
        return j

    return rhs, jac


def add_to_depot(amounts):
    def on_event(t, y, s, e):
        y = y.copy()
        y[:, 0] += amounts[e]
        return y

    return on_event


def csr(per_subject):
    """Offsets and flat values from a list of per-subject arrays."""
    counts = [len(p) for p in per_subject]
    return np.concatenate([[0], np.cumsum(counts)]).astype(int), np.concatenate(
        [np.asarray(p, dtype=float) for p in per_subject]
    )


def bateman(t, dose_times, doses, ka, ke):
    """Central amount after oral doses, by superposition, mg; t (r,)."""
    total = np.zeros_like(t)
    for td, d in zip(dose_times, doses):
        tau = np.clip(t - td, 0.0, None)
        total += np.where(t > td, d * ka / (ka - ke) * (np.exp(-ke * tau) - np.exp(-ka * tau)), 0.0)
    return total


def relative_error(value, exact, visible=1e-6):
    """Max |value - exact| / exact over points where exact > visible * its max."""
    big = exact > visible * exact.max()
    return np.max(np.abs(value[big] - exact[big]) / exact[big])


@pytest.mark.parametrize("method", METHODS)
def test_oral_doses_at_each_childs_own_times_match_bateman_within_1e_6(method):
    rng = np.random.default_rng(3)
    n = 30
    ka, ke = rng.uniform(0.3, 20, n), rng.uniform(0.05, 0.3, n)
    dose_times = [np.sort(rng.uniform(0, 48, rng.integers(1, 8))) for _ in range(n)]
    doses = [rng.uniform(1, 100, d.size) for d in dose_times]
    out_times = [np.sort(rng.uniform(0, 72, 40)) for _ in range(n)]
    ev_off, ev_t = csr(dose_times)
    out_off, out_t = csr(out_times)
    rhs, jac = oral_1cmt(ka, ke)
    res = integrate(
        rhs,
        jac,
        np.zeros((n, 2)),
        event_offsets=ev_off,
        event_times=ev_t,
        on_event=add_to_depot(np.concatenate(doses)),
        output_offsets=out_off,
        output_times=out_t,
        rtol=1e-9,
        atol=1e-9 * np.array([d.max() for d in doses]),
        autonomous=True,
        method=method,
    )
    for i in range(n):
        got = res.outputs[out_off[i] : out_off[i + 1], 1]
        exact = bateman(out_times[i], dose_times[i], doses[i], ka[i], ke[i])
        # outputs between step ends come from the order-4 dense output, which errs by about
        # the step tolerance (1e-9); measured 2.2e-7 at the worst point above 1e-3 of Cmax.
        # Below that the absolute tolerance (1e-9 of the largest dose) rules
        assert relative_error(got, exact, visible=1e-3) < 1e-6, i
        assert np.max(np.abs(got - exact)) < 1e-8 * doses[i].max(), i


@pytest.mark.parametrize("method", METHODS)
def test_linear_systems_match_the_matrix_exponential_within_1e_8(method):
    rng = np.random.default_rng(5)
    n, m = 20, 4
    # compartmental matrices: nonnegative transfers, columns losing what they give plus elimination
    k = rng.uniform(0, 2, (n, m, m)) * (rng.uniform(size=(n, m, m)) < 0.6)
    k[:, np.arange(m), np.arange(m)] = 0
    k[:, np.arange(m), np.arange(m)] = -k.sum(axis=1) - rng.uniform(0.01, 0.5, (n, m))
    y0 = rng.uniform(0, 10, (n, m))
    times = np.array([0.0, 0.1, 0.7, 1.5, 3.0, 8.0, 20.0])

    res = integrate(
        lambda t, y, s: np.einsum("kij,kj->ki", k[s], y),
        lambda t, y, s: k[s].copy(),
        y0,
        event_offsets=np.zeros(n + 1, dtype=int),
        event_times=np.empty(0),
        on_event=None,
        output_offsets=np.arange(n + 1) * times.size,
        output_times=np.tile(times, n),
        rtol=1e-10,
        atol=1e-12,
        autonomous=True,
        method=method,
    )
    got = res.outputs.reshape(n, times.size, m)
    exact = np.stack([[expm(k[i] * t) @ y0[i] for t in times] for i in range(n)])
    scale = y0.max(axis=1)[:, None, None]
    np.testing.assert_array_less(np.abs(got - exact) / scale, 1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_michaelis_menten_iv_bolus_matches_lambert_w_within_1e_7(method):
    # dC/dt = -Vm C / (Km + C), C(0) = C0: C = Km W(C0/Km exp((C0 - Vm t)/Km))
    n = 12
    rng = np.random.default_rng(11)
    vm, km, c0 = rng.uniform(0.1, 2, n), rng.uniform(0.05, 5, n), rng.uniform(0.5, 50, n)
    times = np.linspace(0, 30, 61)

    def rhs(t, y, s):
        return -vm[s, None] * y / (km[s, None] + y)

    def jac(t, y, s):
        return (-vm[s] * km[s] / (km[s] + y[:, 0]) ** 2)[:, None, None]

    res = integrate(
        rhs,
        jac,
        c0[:, None],
        event_offsets=np.zeros(n + 1, dtype=int),
        event_times=np.empty(0),
        on_event=None,
        output_offsets=np.arange(n + 1) * times.size,
        output_times=np.tile(times, n),
        rtol=1e-10,
        atol=1e-12 * c0,
        autonomous=True,
        method=method,
    )
    got = res.outputs[:, 0].reshape(n, times.size)
    exact = (
        km[:, None]
        * lambertw(c0[:, None] / km[:, None] * np.exp((c0[:, None] - vm[:, None] * times) / km[:, None])).real
    )
    # relative where C > 1e-3 C0; below that the absolute tolerance rules: within 1e-9 C0
    assert relative_error(got.ravel(), exact.ravel(), visible=1e-3) < 1e-7
    assert np.max(np.abs(got - exact) / c0[:, None]) < 1e-9


def test_events_at_one_time_apply_in_their_given_order():
    # event A doubles the depot, event B adds 1 mg: A then B gives 2*2+1 = 5, B then A gives 6
    ops = np.array([0, 1, 1, 0])  # subject 0: A, B; subject 1: B, A (all at t = 1 h)

    def on_event(t, y, s, e):
        y = y.copy()
        y[:, 0] = np.where(ops[e] == 0, 2 * y[:, 0], y[:, 0] + 1)
        return y

    zero = lambda t, y, s: np.zeros_like(y)  # noqa: E731
    res = integrate(
        zero,
        lambda t, y, s: np.zeros((s.size, 1, 1)),
        np.full((2, 1), 2.0),
        event_offsets=np.array([0, 2, 4]),
        event_times=np.ones(4),
        on_event=on_event,
        output_offsets=np.array([0, 1, 2]),
        output_times=np.array([2.0, 2.0]),
        autonomous=True,
    )
    np.testing.assert_array_equal(res.outputs[:, 0], [5.0, 6.0])


def two_doses_of_10_mg(ka, ke, second_h, times, **options):
    """One subject, oral doses of 10 mg at 0 and second_h, integrated to its outputs at times."""
    rhs, jac = oral_1cmt(np.array([ka]), np.array([ke]))
    return integrate(
        rhs,
        jac,
        np.zeros((1, 2)),
        event_offsets=np.array([0, 2]),
        event_times=np.array([0.0, second_h]),
        on_event=add_to_depot(np.array([10.0, 10.0])),
        output_offsets=np.array([0, times.size]),
        output_times=times,
        autonomous=True,
        **options,
    )


def two_subjects_dosed_every_8_h(ka, ke, dose, times, **options):
    """Two subjects (ka, ke, dose (2,): 1/h, 1/h, mg) dosed orally every 8 h for 2 days,
    integrated to outputs at times: (Integration, central amounts (2, r), Bateman's (2, r))."""
    dose_times = np.arange(0, 48, 8.0)
    rhs, jac = oral_1cmt(ka, ke)
    res = integrate(
        rhs,
        jac,
        np.zeros((2, 2)),
        event_offsets=np.array([0, 6, 12]),
        event_times=np.tile(dose_times, 2),
        on_event=add_to_depot(np.repeat(dose, 6)),
        output_offsets=np.array([0, 1, 2]) * times.size,
        output_times=np.tile(times, 2),
        autonomous=True,
        **options,
    )
    exact = np.stack([bateman(times, dose_times, np.full(6, dose[i]), ka[i], ke[i]) for i in range(2)])
    return res, res.outputs[:, 1].reshape(2, times.size), exact


def test_an_output_at_a_dose_time_reports_before_or_after_the_dose_as_flagged():
    # NONMEM's record order: an observation record before the dose record at the same time
    # sees the amount before the dose; after it, the amount with the dose
    res = two_doses_of_10_mg(
        1.0,
        0.1,
        5.0,
        np.array([0.0, 0.0, 5.0, 5.0]),
        output_after=np.array([False, True, False, True]),
        rtol=1e-10,
        atol=1e-12,
    )
    depot = res.outputs[:, 0]
    before_second = 10.0 * np.exp(-5.0)
    np.testing.assert_allclose(depot, [0.0, 10.0, before_second, before_second + 10.0], rtol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_each_subject_is_held_to_the_tolerance_on_its_own_scale(method):
    # issue 14: ka = 50 /h with 1e-3 mg doses next to ka = 0.1 /h with 1e3 mg doses; with atol
    # scaled to each subject's dose both are within 1e-6 relative of the exact curve
    ka, ke = np.array([50.0, 0.1]), np.array([0.2, 0.05])
    dose = np.array([1e-3, 1e3])
    times = np.arange(0, 72.25, 0.25)
    res, central, exact = two_subjects_dosed_every_8_h(
        ka, ke, dose, times, rtol=1e-8, atol=1e-9 * dose, method=method
    )
    for i in range(2):
        assert relative_error(central[i], exact[i]) < 1e-6, i
    # and each subject's steps are its own: the fast absorber needs many more after each dose
    assert res.n_steps[0] > res.n_steps[1]


@pytest.mark.parametrize("method", METHODS)
def test_a_subjects_answer_does_not_depend_on_the_batch(method):
    rng = np.random.default_rng(2)
    n = 8
    ka, ke = rng.uniform(0.5, 30, n), rng.uniform(0.05, 0.3, n)
    rhs, jac = oral_1cmt(ka, ke)
    dose_times = [np.sort(rng.uniform(0, 24, 3)) for _ in range(n)]
    ev_off, ev_t = csr(dose_times)
    amounts = rng.uniform(1, 10, ev_t.size)
    times = np.linspace(0, 36, 37)
    kwargs = dict(
        output_times=np.tile(times, n),
        output_offsets=np.arange(n + 1) * times.size,
        event_offsets=ev_off,
        event_times=ev_t,
        on_event=add_to_depot(amounts),
        autonomous=True,
        method=method,
    )
    together = integrate(rhs, jac, np.zeros((n, 2)), **kwargs).outputs.reshape(n, -1, 2)
    # subject 3 alone: the others given no outputs leave the batch at once
    alone_offsets = np.zeros(n + 1, dtype=int)
    alone_offsets[4:] = times.size
    alone = integrate(
        rhs, jac, np.zeros((n, 2)), **{**kwargs, "output_offsets": alone_offsets, "output_times": times}
    ).outputs
    np.testing.assert_array_equal(alone, together[3])  # every operation is per subject


@pytest.mark.parametrize("method", METHODS)
def test_dense_output_agrees_with_landing_on_every_output_within_1e_8(method):
    ka, ke = np.array([3.0, 0.7]), np.array([0.15, 0.1])
    rhs, jac = oral_1cmt(ka, ke)
    times = np.linspace(0, 24, 97)
    kwargs = dict(
        event_offsets=np.array([0, 2, 3]),
        event_times=np.array([0.0, 12.0, 0.0]),
        on_event=add_to_depot(np.array([5.0, 5.0, 8.0])),
        output_offsets=np.array([0, 97, 194]),
        output_times=np.tile(times, 2),
        rtol=1e-10,
        atol=1e-10,
        autonomous=True,
        method=method,
    )
    dense = integrate(rhs, jac, np.zeros((2, 2)), **kwargs).outputs
    landing = integrate(rhs, jac, np.zeros((2, 2)), dense=False, **kwargs).outputs
    # the dense output is of order 4: its error stays within the step's tolerance
    np.testing.assert_allclose(dense, landing, rtol=0, atol=1e-8 * 8.0)


@pytest.mark.parametrize("method", METHODS)
def test_time_dependent_rhs_matches_its_closed_form(method):
    # dy/dt = cos(t) - 0.3 y from t0 = 1 h (each subject its own start): non-autonomous,
    # df/dt by central differences
    t0 = np.array([1.0, 2.5])
    times = np.array([3.0, 6.0, 10.0])

    def exact(t, s):
        # y = c e^{-0.3 t} + (0.3 cos t + sin t) / 1.09, y(t0) = 0
        part = lambda u: (0.3 * np.cos(u) + np.sin(u)) / 1.09  # noqa: E731
        return part(t) - part(t0[s]) * np.exp(-0.3 * (t - t0[s]))

    res = integrate(
        lambda t, y, s: np.cos(t)[:, None] - 0.3 * y,
        lambda t, y, s: np.full((s.size, 1, 1), -0.3),
        np.zeros((2, 1)),
        event_offsets=np.zeros(3, dtype=int),
        event_times=np.empty(0),
        on_event=None,
        output_offsets=np.array([0, 3, 6]),
        output_times=np.tile(times, 2),
        t0=t0,
        rtol=1e-10,
        atol=1e-12,
        method=method,
    )
    np.testing.assert_allclose(
        res.outputs[:, 0], np.concatenate([exact(times, 0), exact(times, 1)]), rtol=1e-8
    )


def test_a_step_that_cannot_succeed_raises_naming_the_subject_and_time():
    def rhs(t, y, s):
        return np.where(t[:, None] > 1.0, np.nan, -y)

    with pytest.raises(
        RuntimeError, match=r"integrate: subject 0's step fell to .* h at t = (1\.0|0\.9+\d*) h"
    ):
        integrate(
            rhs,
            lambda t, y, s: -np.ones((s.size, 1, 1)),
            np.ones((1, 1)),
            event_offsets=np.zeros(2, dtype=int),
            event_times=np.empty(0),
            on_event=None,
            output_offsets=np.array([0, 1]),
            output_times=np.array([5.0]),
            autonomous=True,
        )


def test_a_repeated_dose_starts_from_the_step_its_predecessor_settled_on(monkeypatch):
    # the step after each dose is carried from the one before (not restarted by the initial-step
    # heuristic, which starts 1-2 orders of magnitude shorter): the first step tried after the
    # second dose is the step proposed after the first dose's first accepted step, and the
    # answer still matches Bateman
    from pkmodel.engines import _rodas

    tried = []
    step = _rodas.step

    def spy(rhs, t, y, h, *args):
        tried.append((float(t[0]), float(h[0])))
        return step(rhs, t, y, h, *args)

    monkeypatch.setattr(_rodas, "step", spy)
    times = np.linspace(0, 16, 33)
    res = two_doses_of_10_mg(2.5, 0.15, 8.0, times, atol=1e-9)
    assert res.n_rejected[0] == 0
    t, h = np.array(tried).T
    first, second = np.flatnonzero(t == 0.0)[0], np.flatnonzero(t == 8.0)[0]
    assert h[second] == h[first + 1]
    assert h[second] > 5 * h[first]  # what a restart would have tried instead
    exact = bateman(times, [0.0, 8.0], [10.0, 10.0], 2.5, 0.15)
    assert relative_error(res.outputs[:, 1], exact, visible=1e-3) < 1e-6  # as the Bateman test
