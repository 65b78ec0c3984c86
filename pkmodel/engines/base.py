"""The Engine contract and the one registry of engines.

An engine turns a model, each subject's parameters and their doses into
concentrations. What an engine must give (scipy's `integrate/_ivp/base.py` lists its
solvers' duties the same way):

1. `name`: the text `pk.simulate(..., engine=name)` selects it by.
2. `options(**given)`: its options with the defaults applied, checked by the engine
   itself; an option it does not have is refused with a ValueError naming it.
3. `supports(model, doses)`: None when it can simulate `model` on `doses`, else the
   reason in words; `doses` is None before they are drawn (a question about the model).
4. `simulate(model, params, doses, times_h, **options)`: concentrations, mg/L, any
   array-like of shape (n_subjects, n_times) (`Result` takes its own float64 copy).
   An output at a dose time is the pre-dose value (a sample record placed before the
   dose record, as in NONMEM). `params` is {name: ndarray (n_subjects,)}, or `Epochs`
   when parameters change over time (`pkmodel.engines.common`).

An engine whose options depend on the doses (the ode engine's atol floor) may also
give `for_doses(options, largest_dose_mg)`, returning the options to run with;
`simulate` then draws every child's doses first and asks it once for the whole cohort,
so that chunks run with the same options.

`register_engine(engine)` adds an engine (or replaces one of the same name);
`ENGINES` is a read-only view of the registry, by name. engine="auto" picks the
first registered engine that supports the model: analytic for linear models, then ode.
"""

from types import MappingProxyType
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

AUTO = "auto"


@runtime_checkable
class Engine(Protocol):
    """What `pk.simulate` needs of an engine (module docstring)."""

    name: str

    def options(self, **given: Any) -> Mapping[str, Any]:
        """The options to run with: `given`, checked, with the defaults for the rest."""
        ...

    def supports(self, model: Any, doses: Any) -> str | None:
        """None, or why this engine cannot simulate `model` on `doses` (None: not drawn yet)."""
        ...

    def simulate(self, model: Any, params: Any, doses: Any, times_h: np.ndarray, **options: Any) -> Any:
        """Concentrations, shape (n_subjects, n_times), mg/L."""
        ...


_REGISTRY: dict[str, Engine] = {}
ENGINES: Mapping[str, Engine] = MappingProxyType(_REGISTRY)
"""The registered engines by name, read-only: add one with `register_engine`."""


def register_engine(engine: Engine) -> Engine:
    """Add `engine` to the registry under `engine.name` (replacing one of that name); returns it.

    Raises TypeError when it does not have what the contract asks (module docstring).

    Examples
    --------
    >>> import numpy as np, pkmodel as pk
    >>> class Scaled:  # the analytic engine's answer times `scale`: an engine of one's own
    ...     name = "scaled"
    ...     def options(self, **given):
    ...         unknown = sorted(set(given) - {"scale"})
    ...         if unknown:
    ...             raise ValueError(f"engine 'scaled' has no option {unknown[0]!r}")
    ...         return {"scale": 1.0, **given}
    ...     def supports(self, model, doses):
    ...         return pk.ENGINES["analytic"].supports(model, doses)
    ...     def simulate(self, model, params, doses, times_h, *, scale):
    ...         return scale * pk.ENGINES["analytic"].simulate(model, params, doses, times_h)
    >>> _ = pk.register_engine(Scaled())
    >>> model, cohort = pk.load_model("baclofen_cp_card"), pk.Cohort(weight_kg=[20], age_years=[7])
    >>> res = pk.simulate(model, cohort, pk.Regimen.fixed(10, 8, 3), [1.0, 4.0], engine="scaled",
    ...                   scale=2.0, variability=False)
    >>> res.engine, res.concentrations.round(4).tolist()
    ('scaled', [[0.4686, 0.3241]])
    >>> pk.simulate(model, cohort, pk.Regimen.fixed(10, 8, 3), [1.0], engine="scaled", rtol=1e-8)
    Traceback (most recent call last):
    ValueError: engine 'scaled' has no option 'rtol'
    """
    missing = [part for part in ("name", "options", "supports", "simulate") if not hasattr(engine, part)]
    if missing:
        raise TypeError(
            f"register_engine: {type(engine).__name__} has no {missing[0]!r}; "
            "expected an Engine (name, options, supports, simulate)"
        )
    name = engine.name
    if not (isinstance(name, str) and name) or name == AUTO:
        raise ValueError(
            f"register_engine: engine name is {name!r}; expected a non-empty name other than {AUTO!r}"
        )
    _REGISTRY[name] = engine
    return engine


def get_engine(name: str, model: Any = None, where: str = "") -> Engine:
    """The registered engine `name`; for "auto", the first that supports `model`.

    Raises ValueError naming `where` (the caller) and the registered names otherwise.
    """
    prefix = f"{where}: " if where else ""
    if isinstance(name, str) and name == AUTO:
        reasons = {}
        for engine in _REGISTRY.values():
            reason = engine.supports(model, None)
            if reason is None:
                return engine
            reasons[engine.name] = reason
        raise ValueError(
            f"{prefix}engine 'auto': no registered engine supports model "
            f"{getattr(model, 'name', model)!r}: {reasons}"
        )
    if not (isinstance(name, str) and name in _REGISTRY):
        raise ValueError(
            f"{prefix}engine is {name!r}; expected {AUTO!r} or one of {sorted(_REGISTRY)} (a name)"
        )
    return _REGISTRY[name]


def refuse_unknown(engine_name: str, given: Mapping[str, Any], known: Mapping[str, Any]) -> None:
    """Refuse options an engine does not have, naming the first (for `Engine.options`)."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(
            f"engine {engine_name!r} has no option {unknown[0]!r}; expected {sorted(known) or 'none'}"
        )
