"""The analytic engine's path for a shared schedule taken at each child's own times (jitter,
missed doses: `pkmodel.engines.jittered`), against the textbook closed forms and the flat
per-child path it replaces for such regimens."""

import numpy as np

import pkmodel as pk
from pkmodel.dosing.doses import Doses, SubjectDoses
from pkmodel.engines import jittered
from pkmodel.engines.common import as_epochs

TIMES = np.arange(0, 48.5, 0.5)


def children(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Card-model parameters, each child its own F and lag (a child with ka == CL / V)."""
    rng = np.random.default_rng(seed)
    p = {
        "CL": rng.uniform(2, 8, n),
        "V": rng.uniform(15, 60, n),
        "ka": rng.uniform(0.5, 5, n),
        "F": rng.uniform(0.5, 1, n),
        "tlag": rng.uniform(0, 0.7, n),
    }
    p["ka"][0] = p["CL"][0] / p["V"][0]  # the ka == k limit of the closed form
    return p


def jittered_doses(n: int, seed: int = 1) -> Doses:
    """Depot doses at 0, 8, 16 and 100 h (after the last output) and an IV dose into central
    at 8 h, each child's taken N(0, 0.5^2) h off (the first may fall before 0); some missed."""
    rng = np.random.default_rng(seed)
    time_h = np.array([0.0, 8.0, 8.0, 16.0, 100.0])
    amount = rng.uniform(5, 20, (n, 5)) * (rng.random((n, 5)) > 0.2)
    return Doses(
        time_h=time_h,
        amount_mg=amount,
        compartment=np.array([0, 0, 1, 0, 0]),
        offset_h=rng.normal(0, 0.5, (n, 5)),
    )


def test_jittered_depot_and_iv_doses_are_the_textbook_superposition(card):
    # F, lag and ka == k included: each child's curve as the sum of Bateman curves of its depot
    # doses (F x AMT at its own time + lag) and exponentials of its IV dose (no F, no lag)
    n = 6
    p, doses = children(n), jittered_doses(n)
    assert jittered.schedule_input(card.structure, as_epochs(p), doses) is not None  # this path
    got = pk.ENGINES["analytic"].simulate(card, p, doses, TIMES)
    for i in range(n):
        k, ka, v = p["CL"][i] / p["V"][i], p["ka"][i], p["V"][i]
        expected = np.zeros(TIMES.size)
        for d in range(5):
            t_d = doses.time_h[d] + doses.offset_h[i, d]
            a = doses.amount_mg[i, d]
            if doses.compartment[d] == 1:
                tau = TIMES - t_d
                expected += np.where(tau > 0, a / v * np.exp(-k * np.maximum(tau, 0)), 0.0)
                continue
            tau = np.maximum(TIMES - (t_d + p["tlag"][i]), 0.0)
            if i == 0:  # ka == k: ka t e^{-kt}
                shape = ka * tau * np.exp(-k * tau)
            else:
                shape = ka / (ka - k) * (np.exp(-k * tau) - np.exp(-ka * tau))
            expected += np.where(TIMES > t_d + p["tlag"][i], p["F"][i] * a / v * shape, 0.0)
        # rtol 1e-12 where visible: both exact, the rest is rounding (measured ~1e-15)
        visible = expected > 1e-6 * expected.max()
        np.testing.assert_allclose(got[i, visible], expected[visible], rtol=1e-12)
        np.testing.assert_array_equal(got[i, expected == 0], 0.0)


def test_jittered_schedule_matches_the_flat_per_child_path(card):
    # the same doses as flat records (SubjectDoses: the path event tables take), on the card
    # model and on the transit model (a matrix exponential per dose and child)
    n = 40
    doses = jittered_doses(n, seed=5)
    flat = doses.per_subject()
    assert isinstance(flat, SubjectDoses)
    p = children(n, seed=3)
    for model, params in (
        (card, p),
        (
            pk.load_model("baclofen_cp_he2014_fast_absorption"),
            {"CL": p["CL"], "V1": p["V"], "V2": 2 * p["V"], "Q": p["CL"], "MTT": 1 / p["ka"]}
            | {"F": p["F"], "tlag": p["tlag"]},
        ),
    ):
        dense = pk.ENGINES["analytic"].simulate(model, params, doses, TIMES)
        records = pk.ENGINES["analytic"].simulate(model, params, flat, TIMES)
        # rtol 1e-12 (atol 1e-15 of ~1 mg/L peaks): one exact solution, summed in another
        # order (measured 4e-16)
        np.testing.assert_allclose(dense, records, rtol=1e-12, atol=1e-15)


def test_a_childs_numbers_do_not_depend_on_its_chunk_to_the_bit(card):
    # the engine on all 40 children, and on slices of 1 and 7: identical bits
    n = 40
    p, doses = children(n, seed=9), jittered_doses(n, seed=9)
    given = doses.offset_h.copy(), doses.amount_mg.copy()
    whole = pk.ENGINES["analytic"].simulate(card, p, doses, TIMES)
    for size in (1, 7):
        for a in range(0, n, size):
            b = min(a + size, n)
            part = pk.ENGINES["analytic"].simulate(
                card, {k: v[a:b] for k, v in p.items()}, doses.subjects(a, b), TIMES
            )
            np.testing.assert_array_equal(part, whole[a:b])
    # the caller's arrays stay as given (a child's (1, n_doses) offsets transpose without a copy)
    np.testing.assert_array_equal(doses.offset_h, given[0])
    np.testing.assert_array_equal(doses.amount_mg, given[1])
