import numpy as np
import pytest

import pkmodel as pk
from pkmodel.engines import base as engine_base


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


def test_engine_output_kept_without_copy_yet_never_writable(card):
    # the analytic engine hands its fresh output over (no second 538 MB copy at 100,000 x 673):
    # the Result holds it, and neither it nor the array it views can be written through
    cohort = pk.Cohort(weight_kg=[10.0, 30.0], age_years=[3.0, 9.0])
    regimen = pk.Regimen.parse("2 mg/kg/day at 08:00, 14:00, 20:00 for 2 days, ± 30 min")
    res = pk.simulate(card, cohort, regimen, np.arange(0, 48.5, 0.5), seed=1)
    arr = res.concentrations
    while arr is not None:
        with pytest.raises(ValueError, match="read-only"):
            arr[0, 0] = 1.0
        arr = arr.base if isinstance(arr.base, np.ndarray) else None


def test_output_of_an_engine_of_ones_own_is_copied(card, monkeypatch):
    # an engine that keeps (and later changes) the array it returned: the Result keeps a copy
    kept = {}

    class Keeping:
        name = "keeping"

        def options(self, **given):
            return {}

        def supports(self, model, doses):
            return None

        def simulate(self, model, params, doses, times_h):
            kept["out"] = pk.ENGINES["analytic"].simulate(model, params, doses, times_h).copy()
            return kept["out"]

    # registered for this test only (the registry's names appear in other tests' messages)
    monkeypatch.setitem(engine_base._REGISTRY, "keeping", Keeping())
    cohort = pk.Cohort(weight_kg=[10.0], age_years=[3.0])
    res = pk.simulate(
        card, cohort, pk.Regimen.fixed(mg=5, every_h=8, n_doses=1), [1.0, 2.0], engine="keeping"
    )
    before = res.concentrations.copy()
    kept["out"][...] = -1.0
    np.testing.assert_array_equal(res.concentrations, before)
    assert before[0, 0] > 0
