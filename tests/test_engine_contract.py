"""The Engine contract and its one registry (pkmodel/engines/base.py): an engine of one's own,
registered with `pk.register_engine`, runs through `pk.simulate`; its options are its own."""

import numpy as np
import pytest

import pkmodel as pk
from pkmodel.engines import base
from pkmodel.engines.analytic import AnalyticEngine

TIMES = np.arange(0.0, 48.5, 0.5)


class Scaled:
    """The analytic engine's answer times `scale` (default 1), as a list of lists: an engine that
    gives no ndarray at all (as a CuPy or JAX engine would not)."""

    name = "toy_scaled"

    def options(self, **given):
        base.refuse_unknown(self.name, given, {"scale": 1.0})
        return {"scale": 1.0, **given}

    def supports(self, model, doses):
        return AnalyticEngine().supports(model, doses)

    def simulate(self, model, params, doses, times_h, *, scale):
        conc = AnalyticEngine().simulate(model, params, doses, times_h)
        return (conc * scale).tolist()


@pytest.fixture
def toy():
    engine = pk.register_engine(Scaled())
    yield engine
    base._REGISTRY.pop(engine.name)  # the registry is the session's: leave it as found


def run(engine, **options):
    return pk.simulate(
        pk.load_model("baclofen_cp_card"),
        pk.Cohort(weight_kg=[10, 20, 30], age_years=[3, 7, 11]),
        pk.Regimen.weight_based(2.0, 3, 2),
        TIMES,
        seed=3,
        engine=engine,
        **options,
    )


def test_a_registered_engine_runs_through_simulate(toy):
    reference = run("analytic")
    mine = run("toy_scaled")
    # x 1 through a list of Python floats: the same doubles, bit for bit
    np.testing.assert_array_equal(mine.concentrations, reference.concentrations)
    assert mine.engine == "toy_scaled"
    assert mine.concentrations.dtype == np.float64 and not mine.concentrations.flags.writeable
    # its own option reaches it: exactly twice (x 2 is exact in binary floating point)
    np.testing.assert_array_equal(run("toy_scaled", scale=2.0).concentrations, 2 * reference.concentrations)


def test_an_unknown_option_is_refused_by_the_engine(toy):
    with pytest.raises(ValueError, match=r"engine 'toy_scaled' has no option 'rtol'; expected \['scale'\]"):
        run("toy_scaled", rtol=1e-8)


def test_the_registry_is_one_read_only_view(toy):
    assert pk.ENGINES["toy_scaled"] is toy
    with pytest.raises(TypeError):
        pk.ENGINES["mine"] = toy  # type: ignore[index]


def test_what_is_not_an_engine_is_refused_naming_what_it_lacks():
    with pytest.raises(TypeError, match=r"register_engine: object has no 'name'"):
        pk.register_engine(object())
