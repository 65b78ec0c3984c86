"""Regimens compared on the same children with the same random effects."""

from dataclasses import dataclass
from typing import Iterator, Mapping

import pandas as pd

from .. import _display
from .._display import short
from ..dosing.regimen import Regimen
from ..model.model import Model
from ..population.cohort import Cohort
from ..simulation.result import Result, Simulated
from ..simulation.simulate import simulate
from .exposure import exposure
from .windows import STEADY_STATE, window_spec

Window = str | tuple[float, float]
KEEPS = ("exposure", "both")


@dataclass(frozen=True, eq=False)
class Comparison:
    """What `compare(..., keep="both")` returns: the exposure table and each regimen's curves.

    exposure : DataFrame, as `compare` returns it (regimen categorical, one row per child and
        regimen); results : {label: Result}, in the order given.
    """

    exposure: pd.DataFrame
    results: Mapping[str, Result]

    def __repr__(self) -> str:
        return _display.text(_display.comparison(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.comparison(self))


def compare(
    model: Model,
    cohort: Cohort,
    regimens: Mapping[str, Regimen],
    times,
    *,
    seed: int | None = None,
    variability: bool = True,
    window: Window | Mapping[str, Window] = STEADY_STATE,
    target_range: tuple[float, float] | None = None,
    method: str = "auto",
    auc_method: str | None = None,
    engine: str = "auto",
    chunk_size: int | None = None,
    keep: str = "exposure",
    **engine_options,
) -> pd.DataFrame | Comparison:
    """Exposure of every child on each regimen, as one tidy table (and the curves, asked for).

    Each regimen is simulated on the same cohort with the same random effects:
    a child's random effects depend only on the seed and its position in the
    cohort, and every regimen gets the same seed (with seed=None, the entropy
    drawn for the first regimen is reused). One regimen's curves are held in
    memory at a time (with chunk_size, one chunk's: `pk.simulate(..., keep="exposure")`).

    Parameters
    ----------
    regimens : {label: Regimen}, e.g. {"TID": r1, "QID": r2}
    times : array_like, shape (n_times,)
        Output times, h (as `pk.simulate`).
    window : "steady_state" (each child's own last full dosing interval on each
        regimen, `pk.exposure`) or (start, end) in h, the same for every regimen;
        or {label: window}, each regimen's own
    target_range, method, auc_method : as `pk.exposure`
    chunk_size : children simulated at a time, optional (memory bounded whatever the cohort;
        method "auto" only)
    keep : "exposure" (default: the table) or "both": a `Comparison` with the table as
        `.exposure` and every regimen's `Result` as `.results` (all curves held: no
        chunk_size), so the curves need no second simulation

    Returns
    -------
    DataFrame: regimen (categorical, in the order given), then the columns of
    `pk.exposure`, one row per child and regimen; with keep="both", a `Comparison`.

    Examples
    --------
    >>> import numpy as np, pkmodel as pk
    >>> model = pk.load_model("baclofen_cp_card")
    >>> cohort = pk.Cohort(weight_kg=[10, 20, 30], age_years=[3, 7, 11])
    >>> tid, qid = (pk.Regimen.weight_based(2.0, n, 14) for n in (3, 4))
    >>> table = pk.compare(model, cohort, {"TID": tid, "QID": qid}, np.arange(0, 336.5, 0.5),
    ...                    variability=False)
    >>> table.groupby("regimen", observed=True)["cavg_ss"].median().round(4).tolist()
    [0.3053, 0.3053]
    """
    if keep not in KEEPS:
        raise ValueError(f"compare: keep is {short(keep)}; expected one of {list(KEEPS)}")
    if keep == "both" and chunk_size is not None:
        raise ValueError(
            f"compare: keep is 'both' with chunk_size {chunk_size!r}; expected "
            "chunk_size=None (keeping every curve holds them all: chunks would not "
            "bound memory)"
        )
    tables: dict[str, pd.DataFrame] = {}
    results: dict[str, Result] = {}
    for label, table, res in simulations(
        model,
        cohort,
        regimens,
        times,
        seed=seed,
        variability=variability,
        window=window,
        target_range=target_range,
        method=method,
        auc_method=auc_method,
        engine=engine,
        chunk_size=chunk_size,
        **engine_options,
    ):
        tables[label] = table
        if keep == "both":
            assert isinstance(res, Result)  # the curves kept (no chunks: refused above)
            results[label] = res
        del res
    exposure = stacked(tables)
    return Comparison(exposure, results) if keep == "both" else exposure


def simulations(
    model: Model,
    cohort: Cohort,
    regimens: Mapping[str, Regimen],
    times,
    *,
    seed: int | None = None,
    variability: bool = True,
    window: Window | Mapping[str, Window] = STEADY_STATE,
    target_range: tuple[float, float] | None = None,
    method: str = "auto",
    auc_method: str | None = None,
    engine: str = "auto",
    chunk_size: int | None = None,
    **engine_options,
) -> Iterator[tuple[str, pd.DataFrame, Simulated]]:
    """Each regimen's label, exposure table (regimen column first) and simulation, in turn.

    What `compare` stacks; for callers that also need each simulation (its parameters, its
    curves). Arguments as `compare`. One regimen's simulation is held at a time.
    """
    if not isinstance(regimens, Mapping) or not regimens:
        raise ValueError(
            f"regimens is {short(regimens)}; expected {{label: Regimen}} with at least one regimen"
        )
    bad = [label for label in regimens if not isinstance(label, str) or not label]
    if bad:
        raise ValueError(f"regimens has label {bad[0]!r}; expected non-empty strings")
    windows = (
        {label: window_spec(window[label], where="compare") for label in regimens}
        if isinstance(window, Mapping)
        else dict.fromkeys(regimens, window_spec(window, where="compare"))
    )
    if chunk_size is not None and (method, auc_method) != ("auto", None):
        raise ValueError(
            f"compare: method is {method!r}, auc_method is {auc_method!r} with "
            "chunk_size; expected the defaults ('auto', None): chunks keep the "
            "exposure of pk.simulate(..., keep='exposure')"
        )
    for label, regimen in regimens.items():  # over regimens, each vectorised over the cohort
        if chunk_size is None:
            res = simulate(
                model,
                cohort,
                regimen,
                times,
                engine=engine,
                variability=variability,
                seed=seed,
                **engine_options,
            )
            table = exposure(
                res, window=windows[label], target_range=target_range, method=method, auc_method=auc_method
            )
        else:
            res = simulate(
                model,
                cohort,
                regimen,
                times,
                engine=engine,
                variability=variability,
                seed=seed,
                keep="exposure",
                chunk_size=chunk_size,
                window=windows[label],
                target_range=target_range,
                **engine_options,
            )
            table = res.exposure.copy()
        seed = res.seed if variability else seed
        table.insert(0, "regimen", label)
        yield label, table, res


def stacked(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The regimens' tables {label: table} as one, regimen categorical in the order given."""
    out = pd.concat(list(tables.values()), ignore_index=True)
    out["regimen"] = pd.Categorical(out["regimen"], categories=list(tables), ordered=True)
    return out
