"""A model written in the language, seen by the engines as they see a named Structure.

The engines step doses through `compartments`, `dose_index` and `dose_modifiers` (F and lag of
the dose compartment) and, for a linear system, solve dx/dt = K x exactly from `rate_matrix`
and read the concentration as `inv_volume * x[central_index]`. `SystemStructure` gives those
from a CompiledSystem (`pkmodel.model.compiler`) for any linear system; the parameters the
engines pass are the model's individual parameters with the covariates its equations use
(`Model.covariate_values`), in one dict.
"""

from typing import Mapping

import numpy as np

from .compiler import CompiledSystem


class SystemStructure:
    """The engines' view of a compiled system (module docstring).

    analytic_reason : None when the analytic engine solves it exactly, else why not.
    dosing_reason : None when doses can be stepped (F and lag on the dose compartment
        only, no rate or duration modifiers), else why not.
    central_index : the compartment the concentration reads (None when `conc` is not one
        compartment times a factor, or the model has other outputs: then every amount is
        solved and the outputs evaluated on them, `observe`).
    """

    def __init__(self, compiled: CompiledSystem, name: str, observe: int | None = None):
        s = compiled.system
        self.compiled, self.name, self.absorption = compiled, name, None
        self.compartments = tuple(s.compartments)
        self.dose_index = self.compartments.index(s.dose_compartment)
        self.label = f"{name} (model language, {len(self.compartments)} compartments)"
        self.dosing_reason = _dosing_reason(compiled)
        self.analytic_reason = self.dosing_reason or _analytic_reason(compiled)
        self._observe = observe
        self.central_index = observe if observe is not None else _read_compartment(compiled)

    def observe(self, j: int) -> "SystemStructure":
        """The same system read as the amount in compartment j (mg)."""
        return SystemStructure(self.compiled, self.name, observe=j)

    def split(self, p: Mapping[str, np.ndarray]) -> tuple[dict, dict]:
        """(parameters, covariates) the equations use, from the engines' one dict."""
        s = self.compiled.system
        return ({n: p[n] for n in s.parameters if n in p}, {n: p[n] for n in s.covariates if n in p})

    def bind(self, p: Mapping[str, np.ndarray]):
        return self.compiled.bind(*self.split(p))

    def rate_matrix(
        self, p: Mapping[str, np.ndarray], eliminated: bool = False, infusion_into: int | None = None
    ) -> np.ndarray:
        """K, shape (n_subjects, M, M), 1/h, as `Structure.rate_matrix` (the same extra
        compartments: an infusion's rate, what is eliminated)."""
        k = self.compiled.rate_matrix(*self.split(p))
        n, m = _n(p, k.shape[0]), k.shape[1]
        size = m + (infusion_into is not None) + eliminated
        rates = np.zeros((n, size, size))
        rates[:, :m, :m] = k
        if infusion_into is not None:
            rates[:, infusion_into, m] = 1.0
        if eliminated:
            rates[:, -1, :m] = -k.sum(axis=1)  # what leaves the system: minus each column's sum
        return rates

    def inv_volume(self, p: Mapping[str, np.ndarray]) -> np.ndarray:
        """The factor conc = factor * x[central_index], 1/L, shape (n_subjects,)."""
        n = _n(p, 1)
        if self._observe is not None:
            return np.ones(n)
        row = self.compiled.output_row("conc", *self.split(p))
        return np.broadcast_to(row[:, self.central_index], (n,)).copy()

    def dose_modifiers(self, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """F (fraction) and lag (h) of doses into the dose compartment, shape (n_subjects,)."""
        n = _n(p, 1)
        table = self.compiled.dose_modifiers(*self.split(p))[self.compartments[self.dose_index]]
        return (np.broadcast_to(table["F"], (n,)).copy(), np.broadcast_to(table["lag"], (n,)).copy())


def _n(p: Mapping[str, np.ndarray], default: int) -> int:
    for v in p.values():
        return np.shape(v)[0]
    return default


def _dosing_reason(compiled: CompiledSystem) -> str | None:
    s = compiled.system
    for c, table in s.dosing.items():
        for key in table:
            if key in ("rate", "duration"):
                return (
                    f"{s.where}: dosing.{c}.{key} (NONMEM's RATE = -1/-2 records) is not "
                    "supported by the engines yet"
                )
            if c != s.dose_compartment:
                return (
                    f"{s.where}: dosing.{c}.{key}: dose modifiers of a compartment other "
                    f"than the dose compartment ({s.dose_compartment!r}) are not supported "
                    "by the engines yet"
                )
    return None


def _analytic_reason(compiled: CompiledSystem) -> str | None:
    if not compiled.is_linear:
        return f"the model is nonlinear ({compiled.nonlinear_reason})"
    s = compiled.system
    zero = {x: 0 for x in compiled._amounts}
    for c in s.compartments:
        if compiled._exprs[f"odes.{c}"].subs(zero) != 0:
            return (
                f"{s.where}: odes.{c} has an input free of the amounts (a zero-order term); "
                "the analytic engine solves dx/dt = K x between doses"
            )
    return None


def _read_compartment(compiled: CompiledSystem) -> int | None:
    """The one compartment `conc` is a multiple of, when it is the only output; else None."""
    s = compiled.system
    if tuple(s.outputs) != ("conc",) or compiled.output_reasons["conc"] is not None:
        return None
    used = [j for j, x in enumerate(compiled._amounts) if compiled._exprs["outputs.conc"].has(x)]
    return used[0] if len(used) == 1 else None
