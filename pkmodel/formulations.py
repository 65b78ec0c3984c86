"""Formulations: the amounts a parent can actually give (tablet halves, measured volumes).

The products are data, in `pkmodel/data/formulations.toml`. A deliverable
dose is any sum of a formulation's pieces (e.g. 2.5, 5 and 10 mg for scored
5/10/20 mg tablets; 0.5 mg for 1 mg/mL solution measured to 0.5 mL).
Rounding rule (issue 4): the nearest deliverable amount, ties down, never
above the cap.
"""

import math
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ._checks import positive, whole

# Amounts are compared in units of the formulation's step; amount / step in
# floating point can miss an exact tie (13.75 / 2.5) or a cap by an ulp.
_TOLERANCE_STEPS = 1e-9
# Pieces are read as fractions with denominators up to this (0.03 mg is 3/100).
_MAX_DENOMINATOR = 1_000_000


@dataclass(frozen=True)
class Formulation:
    """A product a dose is measured from.

    Parameters
    ----------
    name : str
    pieces_mg : tuple of float
        Amounts a dose is made of, mg (> 0): tablet halves, one measured volume.
    description : str
    """

    name: str
    pieces_mg: tuple[float, ...]
    description: str = ""

    def __post_init__(self):
        where = f"Formulation {self.name!r}"
        pieces = self.pieces_mg if isinstance(self.pieces_mg, (list, tuple)) else (self.pieces_mg,)
        if not pieces:
            raise ValueError(f"{where}: pieces_mg is empty; expected one or more amounts in mg")
        for p in pieces:
            positive(where, "pieces_mg", p)
        object.__setattr__(self, "pieces_mg", tuple(sorted({float(p) for p in pieces})))

    @classmethod
    def from_units(cls, name: str, strengths_mg, pieces_per_unit: int = 1,
                   description: str = "") -> "Formulation":
        """Tablets or sachets of `strengths_mg`, each given whole or in `pieces_per_unit` equal parts."""
        where = f"Formulation {name!r}"
        if not isinstance(strengths_mg, (list, tuple)) or not strengths_mg:
            raise ValueError(f"{where}: strengths_mg is {strengths_mg!r}; expected a list of mg amounts")
        strengths = [positive(where, "strengths_mg", s) for s in strengths_mg]
        parts = whole(where, "pieces_per_unit", pieces_per_unit, 1)
        return cls(name, tuple(s / parts for s in strengths), description)

    @classmethod
    def from_liquid(cls, name: str, mg_per_ml: float, measure_ml: float,
                    description: str = "") -> "Formulation":
        """A solution of `mg_per_ml` measured in steps of `measure_ml`."""
        where = f"Formulation {name!r}"
        piece = positive(where, "mg_per_ml", mg_per_ml) * positive(where, "measure_ml", measure_ml)
        return cls(name, (piece,), description)

    @property
    def step_mg(self) -> float:
        """The largest amount every deliverable dose is a whole multiple of (gcd of the pieces), mg."""
        return float(_step(self.pieces_mg))

    def deliverable_mg(self, up_to_mg: float) -> np.ndarray:
        """Every deliverable amount in (0, up_to_mg], increasing, mg."""
        return self._levels(math.floor(up_to_mg / self.step_mg + _TOLERANCE_STEPS)) * self.step_mg

    def round(self, amount_mg, cap_mg) -> np.ndarray:
        """Each amount rounded to the nearest deliverable one, ties down, never above its cap.

        Parameters
        ----------
        amount_mg : ndarray, any shape
            Wanted amounts, mg, > 0.
        cap_mg : ndarray, broadcastable to amount_mg
            Largest allowed amounts, mg (inf: none).

        Returns
        -------
        ndarray, shape of amount_mg
            mg.
        """
        step = self.step_mg
        x = np.asarray(amount_mg, dtype=float) / step
        cap = np.broadcast_to(np.asarray(cap_mg, dtype=float) / step, x.shape)
        smallest = self.pieces_mg[0] / step
        low = cap < smallest - _TOLERANCE_STEPS
        if low.any():
            raise ValueError(f"formulation {self.name!r} cannot give a dose within a cap of "
                             f"{cap[low].flat[0] * step:g} mg; expected caps >= its smallest dose, "
                             f"{self.pieces_mg[0]:g} mg")
        # after any deliverable n, n + smallest is deliverable: the next level above x is
        # at most x + smallest
        levels = self._levels(math.ceil(float(x.max(initial=0.0))) + round(smallest))
        above = np.searchsorted(levels, x - _TOLERANCE_STEPS)  # first level >= x
        below = np.maximum(above - 1, 0)
        take_below = (above > 0) & (x - levels[below] <= levels[above] - x + _TOLERANCE_STEPS)
        rounded = levels[np.where(take_below, below, above)]
        over = rounded > cap + _TOLERANCE_STEPS
        if over.any():
            rounded[over] = levels[np.searchsorted(levels, cap[over] + _TOLERANCE_STEPS, side="right") - 1]
        return rounded * step

    def _levels(self, top: int) -> np.ndarray:
        """Deliverable amounts in (0, top] steps, increasing, in steps (float)."""
        step = _step(self.pieces_mg)
        pieces = sorted({round(Fraction(p).limit_denominator(_MAX_DENOMINATOR) / step)
                         for p in self.pieces_mg})
        reachable = np.zeros(top + 1, dtype=bool)
        reachable[0] = True
        for n in range(pieces[0], top + 1):  # over amounts (a few hundred), not subjects
            reachable[n] = any(reachable[n - p] for p in pieces if p <= n)
        return np.flatnonzero(reachable[1:]).astype(float) + 1.0


def _step(pieces_mg: tuple[float, ...]) -> Fraction:
    fractions = [Fraction(p).limit_denominator(_MAX_DENOMINATOR) for p in pieces_mg]
    denominator = math.lcm(*(f.denominator for f in fractions))
    return Fraction(math.gcd(*(int(f * denominator) for f in fractions)), denominator)


@cache
def bundled_formulations() -> Mapping[str, Formulation]:
    """The formulations in `pkmodel/data/formulations.toml`, by name."""
    text = resources.files("pkmodel").joinpath("data", "formulations.toml").read_text(encoding="utf-8")
    entries = tomllib.loads(text)
    return MappingProxyType({
        name: (Formulation.from_units if "strengths_mg" in entry else Formulation.from_liquid)(name, **entry)
        for name, entry in entries.items()
    })


def as_formulation(value, where: str) -> Formulation:
    """A Formulation, or the bundled one named `value`."""
    if isinstance(value, Formulation):
        return value
    names = bundled_formulations()
    if isinstance(value, str) and value in names:
        return names[value]
    raise ValueError(f"{where}: formulation is {value!r}; expected a Formulation or one of {sorted(names)}")
