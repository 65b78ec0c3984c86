"""Shared fixtures: the bundled card model, and model files written for a test."""

import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

import pkmodel as pk

PARAMS = Path(__file__).resolve().parents[1] / "params"

# He 2014 numbers the card model is built from
CL_PER_KG = 0.273  # L/h/kg
HALF_LIFE_H = 4.5
V_PER_KG = CL_PER_KG * HALF_LIFE_H / math.log(2)  # L/kg
KA = 1 / 0.389  # 1/h
CAVG_2_MG_KG_DAY = (2 / 24) / CL_PER_KG  # mg/L, 0.3053


@pytest.fixture(scope="session")
def card():
    return pk.load_model("baclofen_cp_card")


def card_document() -> dict:
    with open(PARAMS / "baclofen_cp_card.toml", "rb") as f:
        return tomllib.load(f)


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def write_toml(path: Path, doc: dict) -> Path:
    """Write a two-level document ([table] and [table.sub]) as TOML."""
    lines = []

    def table(prefix, body):
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict)}
        lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        lines.append("")
        for k, v in body.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}", v)

    for key, body in doc.items():
        if isinstance(body, dict):
            table(key, body)
        else:
            lines.insert(0, f"{key} = {_toml_value(body)}")
    path.write_text("\n".join(lines))
    return path


def write_model(tmp_path: Path, model=None, drop=(), **parameters) -> Path:
    """The card model file with some fields changed.

    model : dict updating [model]; drop : ("CL.unit", "V", ...) fields removed;
    parameters : NAME={field: value} updating [parameters.NAME] (None removes it).
    """
    doc = card_document()
    doc["model"].update(model or {})
    for name, fields in parameters.items():
        if fields is None:
            doc["parameters"].pop(name)
        else:
            doc["parameters"].setdefault(name, {}).update(fields)
    for item in drop:
        name, _, field = item.partition(".")
        if field:
            doc["parameters"][name].pop(field)
        else:
            doc["parameters"].pop(name)
    return write_toml(tmp_path / "model.toml", doc)


def typical_cohort(*weights_kg) -> pk.Cohort:
    return pk.Cohort(weight_kg=list(weights_kg), age_years=[8.0] * len(weights_kg))


def relative_error_where_visible(actual: np.ndarray, expected: np.ndarray, floor: float = 1e-3) -> float:
    """Largest |actual - expected| / expected where expected > floor * its subject's Cmax."""
    visible = expected > floor * expected.max(axis=1, keepdims=True)
    return float(np.max(np.abs(actual - expected)[visible] / expected[visible]))


def terminal_half_life(model, engine: str) -> float:
    """t1/2 (h) of a typical 20 kg child from log-linear regression 24-48 h after one 10 mg dose."""
    times = np.linspace(0, 48, 961)
    res = pk.simulate(
        model,
        typical_cohort(20),
        pk.Regimen.fixed(mg=10, every_h=24, n_doses=1),
        times,
        engine=engine,
        variability=False,
    )
    late = times >= 24
    slope = np.polyfit(times[late], np.log(res.concentrations[0, late]), 1)[0]
    return math.log(2) / -slope


def pytest_collection_modifyitems(items):
    """Property tests (hypothesis: many examples each) are slow by nature: `make test-fast`
    (-m 'not slow') skips them, `make test` runs them."""
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.slow)


# Under pytest-xdist (`make test`: -n 2 --dist loadgroup) the tests of a module that sets up a
# fixture once per module or class (a simulated study, a Dask cluster, a browser) run on one
# worker, so that set-up runs once; every other test goes to whichever worker is free. The
# grouping is done here, on the controller, from the test files: xdist's own (an xdist_group mark
# carried in the node id) is lost with pytest >= 9.2 (pytest-xdist issue 1386).
_SHARED_SETUP = {
    path.name
    for path in Path(__file__).parent.glob("test_*.py")
    if re.search(r"scope=[\"'](module|class|package)[\"']", path.read_text(encoding="utf-8"))
}


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, absent without it
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByModuleWhereSetUpIsShared(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if Path(module).name in _SHARED_SETUP else nodeid

    return ByModuleWhereSetUpIsShared(config, log)
