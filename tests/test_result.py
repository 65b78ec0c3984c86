import numpy as np
import pytest

import pkmodel as pk


def test_to_frame_is_tidy_long_with_covariates(card):
    cohort = pk.Cohort(weight_kg=[10.0, 20.0], age_years=[3.0, 6.0], ids=[7, 8])
    times = [0.0, 1.0, 2.0]
    res = pk.simulate(card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), times, seed=1)
    frame = res.to_frame()
    assert list(frame.columns) == ["id", "time_h", "conc_mg_L", "age_years", "weight_kg"]
    assert len(frame) == 6
    assert frame["id"].tolist() == [7, 7, 7, 8, 8, 8]
    assert frame["weight_kg"].tolist() == [10.0] * 3 + [20.0] * 3
    np.testing.assert_array_equal(frame["conc_mg_L"].to_numpy().reshape(2, 3), res.concentrations)


def test_result_arrays_are_read_only(card):
    res = pk.simulate(
        card,
        pk.Cohort(weight_kg=[10.0], age_years=[3.0]),
        pk.Regimen.fixed(mg=5, every_h=8, n_doses=1),
        [0.0, 1.0],
        seed=1,
    )
    assert res.concentrations.shape == (1, 2) and len(res) == 1
    with pytest.raises(ValueError):
        res.concentrations[0, 0] = 1.0
    with pytest.raises(ValueError):
        res.times[0] = 1.0
