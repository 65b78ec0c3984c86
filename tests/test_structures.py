import numpy as np
import pytest

from pkmodel.model.structures import Structure


def _params(n=1, **values):
    base = {"CL": 2.0, "V": 10.0, "V1": 4.0, "Q": 3.0, "V2": 6.0, "ka": 1.5, "MTT": 0.8}
    base.update(values)
    return {k: np.full(n, v) for k, v in base.items()}


def test_one_compartment_rate_matrix():
    k = Structure("one_compartment_oral").rate_matrix(_params())[0]
    np.testing.assert_allclose(k, [[-1.5, 0.0], [1.5, -0.2]])


def test_two_compartment_transit_chain_uses_ktr_n_plus_1_over_mtt():
    s = Structure("two_compartment_oral", "transit", 3)
    assert s.compartments == ("depot", "transit_1", "transit_2", "transit_3", "central", "peripheral")
    assert s.volume == "V1" and s.central_index == 4
    k = s.rate_matrix(_params())[0]
    ktr = 4 / 0.8
    np.testing.assert_allclose(np.diag(k)[:4], -ktr)
    np.testing.assert_allclose([k[1, 0], k[2, 1], k[3, 2], k[4, 3]], ktr)
    # central: out by CL/V1 + Q/V1, in from peripheral Q/V2
    np.testing.assert_allclose([k[4, 4], k[5, 4], k[4, 5], k[5, 5]], [-2 / 4 - 3 / 4, 3 / 4, 3 / 6, -3 / 6])
    # nothing is created: every column sums to minus what leaves the body from it
    np.testing.assert_allclose(k.sum(axis=0), [0, 0, 0, 0, -2 / 4, 0], atol=1e-15)


def test_eliminated_compartment_closes_the_mass_balance():
    k = Structure("two_compartment_oral", "transit", 2).rate_matrix(_params(3), eliminated=True)
    assert k.shape == (3, 6, 6)
    np.testing.assert_allclose(k.sum(axis=1), 0.0, atol=1e-15)


def test_zero_transit_compartments_is_first_order_absorption_with_ka_1_over_mtt():
    transit = Structure("one_compartment_oral", "transit", 0).rate_matrix(_params(MTT=0.5))
    first = Structure("one_compartment_oral").rate_matrix(_params(ka=2.0))
    np.testing.assert_array_equal(transit, first)


def test_negative_transit_count_is_refused():
    with pytest.raises(ValueError, match=r"n_transit is -1; expected a whole number >= 0"):
        Structure("two_compartment_oral", "transit", -1)


def test_unknown_absorption_is_refused():
    with pytest.raises(ValueError, match=r"absorption is 'zero_order'; expected one of"):
        Structure("one_compartment_oral", "zero_order")


def test_transit_then_first_order_absorption_empties_the_chain_at_ktr_then_ka():
    s = Structure("two_compartment_oral", "transit_first_order", 3)
    assert s.compartments == (
        "depot",
        "transit_1",
        "transit_2",
        "transit_3",
        "absorption",
        "central",
        "peripheral",
    )
    assert dict(s.parameters) == {
        "CL": "clearance",
        "V1": "volume",
        "Q": "clearance",
        "V2": "volume",
        "MTT": "time",
        "ka": "rate",
    }
    k = s.rate_matrix(_params())[0]
    ktr = 4 / 0.8
    # depot and three transits at ktr = (n + 1) / MTT, each into the next; absorption at ka
    np.testing.assert_allclose(np.diag(k)[:5], [-ktr] * 4 + [-1.5])
    np.testing.assert_allclose([k[1, 0], k[2, 1], k[3, 2], k[4, 3], k[5, 4]], [ktr] * 4 + [1.5])
    np.testing.assert_allclose(k.sum(axis=0), [0, 0, 0, 0, 0, -2 / 4, 0], atol=1e-15)


@pytest.mark.parametrize("n", [0, 3, 6])
def test_mtt_is_the_mean_time_through_the_chain_and_1_over_ka_the_time_in_absorption(n):
    # mean residence time of a unit dose in compartment i: integral of x_i = -(K^-1)[i, 0],
    # K the block of the compartments before central (everything passes through them)
    s = Structure("one_compartment_oral", "transit_first_order", n)
    k = s.rate_matrix(_params(MTT=0.389, ka=2.0))[0]
    c = s.central_index
    residence = -np.linalg.inv(k[:c, :c])[:, 0]
    # 1e-12: a 2-8 state triangular inverse
    np.testing.assert_allclose(residence[:-1].sum(), 0.389, rtol=1e-12)  # depot + transits: MTT
    np.testing.assert_allclose(residence[-1], 1 / 2.0, rtol=1e-12)  # absorption: 1/ka
