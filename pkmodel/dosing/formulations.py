"""Formulations: the amounts a parent can actually give (tablet halves, measured volumes).

The products are data, in `pkmodel/data/formulations.toml`. A deliverable
dose is any sum of a formulation's pieces (e.g. 2.5, 5 and 10 mg for scored
5/10/20 mg tablets; 0.5 mg for 1 mg/mL solution measured to 0.5 mL).

Rounding: `rounding="nearest"` (default; ties down), `"down"` or `"up"`, never
above the cap. A rounded dose that differs from the one intended (the
wanted amount, capped) by more than `max_change` (relative, default 25 %) is
refused: 1 mg as tablets is 2.5 mg, +150 %; a finer formulation or an explicit
`max_change` says what the caller wants.

Work is bounded: pieces are read as the decimals they print as (0.3 is 3/10),
the amounts are whole multiples of their common step, and above Schur's bound
(a_1 - 1)(a_k - 1) (pieces a_1 < ... < a_k in steps) every multiple is
deliverable; pieces whose bound exceeds MAX_TABLE_STEPS (1.0 and 1.000001 mg:
10^12 steps) are refused.
"""

import math
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Callable, Literal, Mapping

import numpy as np

from .._checks import is_number, positive, whole

ROUNDING = ("down", "nearest", "up")
# Largest relative change rounding may make unless the caller allows more: 2.5 mg tablet
# steps stay within it from 4 mg on (and from 2 to 3.33 mg); 1 mg -> 2.5 mg (+150 %) and
# 3.75 mg -> 2.5 mg (a tie, down: -33 %) are refused.
DEFAULT_MAX_CHANGE = 0.25
# Amounts are compared in units of the formulation's step; amount / step in
# floating point can miss an exact tie (13.75 / 2.5) or a cap by an ulp.
_TOLERANCE_STEPS = 1e-9
# Pieces are read as fractions with denominators up to this (5/3 mg, a third of a 5 mg
# tablet) when that fraction is the double given, else as the decimal they print as (1e-7).
_MAX_DENOMINATOR = 1_000_000
# Below Schur's bound not every step is deliverable: a table of that many steps is built.
MAX_TABLE_STEPS = 1_000_000
# deliverable_mg lists at most this many amounts
MAX_LISTED = 1_000_000


@dataclass(frozen=True)
class Formulation:
    """A product a dose is measured from.

    Parameters
    ----------
    name : str
    pieces_mg : tuple of float
        Amounts a dose is made of, mg (> 0): tablet halves, one measured volume.
    description : str
        Words only; two formulations with the same name and pieces are equal.
    """

    name: str
    pieces_mg: tuple[float, ...]
    description: str = field(default="", compare=False)

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name.strip()):
            raise ValueError(f"Formulation: name is {self.name!r}; expected a non-empty name")
        if "'" in self.name and '"' in self.name:
            raise ValueError(
                f"Formulation: name is {self.name!r}; expected a name without both "
                "kinds of quote (a regimen's label quotes it)"
            )
        where = f"Formulation {self.name!r}"
        pieces = self.pieces_mg if isinstance(self.pieces_mg, (list, tuple)) else (self.pieces_mg,)
        if not pieces:
            raise ValueError(f"{where}: pieces_mg is empty; expected one or more amounts in mg")
        for p in pieces:
            positive(where, "pieces_mg", p)
        pieces = tuple(sorted({float(p) for p in pieces}))
        object.__setattr__(self, "pieces_mg", pieces)
        _, units = _lattice(pieces)
        bound = (units[0] - 1) * (units[-1] - 1)
        if bound > MAX_TABLE_STEPS:
            step = _step_of(pieces)
            raise ValueError(
                f"{where}: pieces_mg {pieces!r} share a step of {float(step):g} mg, "
                f"and sums of them leave gaps up to {bound:,} steps; expected pieces "
                f"whose gaps end within {MAX_TABLE_STEPS:,} steps (e.g. tablet halves "
                "2.5, 5, 10 mg)"
            )

    @classmethod
    def from_units(
        cls, name: str, strengths_mg, pieces_per_unit: int = 1, description: str = ""
    ) -> "Formulation":
        """Tablets or sachets of `strengths_mg`, each given whole or in `pieces_per_unit` equal parts."""
        where = f"Formulation {name!r}"
        if not isinstance(strengths_mg, (list, tuple)) or not strengths_mg:
            raise ValueError(f"{where}: strengths_mg is {strengths_mg!r}; expected a list of mg amounts")
        strengths = [positive(where, "strengths_mg", s) for s in strengths_mg]
        parts = whole(where, "pieces_per_unit", pieces_per_unit, 1)
        return cls(name, tuple(s / parts for s in strengths), description)

    @classmethod
    def from_liquid(
        cls, name: str, mg_per_ml: float, measure_ml: float, description: str = ""
    ) -> "Formulation":
        """A solution of `mg_per_ml` measured in steps of `measure_ml`."""
        where = f"Formulation {name!r}"
        piece = positive(where, "mg_per_ml", mg_per_ml) * positive(where, "measure_ml", measure_ml)
        return cls(name, (piece,), description)

    @property
    def step_mg(self) -> float:
        """The largest amount every deliverable dose is a whole multiple of (gcd of the pieces), mg."""
        return float(_step_of(self.pieces_mg))

    def deliverable_mg(self, up_to_mg: float) -> np.ndarray:
        """Every deliverable amount in (0, up_to_mg], increasing, mg (at most MAX_LISTED of them)."""
        step, units = _lattice(self.pieces_mg)
        top = math.floor(
            positive(f"Formulation {self.name!r}", "up_to_mg", up_to_mg) / float(step) + _TOLERANCE_STEPS
        )
        if top > MAX_LISTED:
            raise ValueError(
                f"Formulation {self.name!r}: deliverable_mg up to {up_to_mg:g} mg spans "
                f"{top:,} steps of {float(step):g} mg; expected at most {MAX_LISTED:,}"
            )
        n = np.arange(1.0, top + 1.0)
        n = n[_floor_deliverable(units, n) == n]
        return _mg(n, step)

    def round(
        self,
        amount_mg,
        cap_mg=math.inf,
        rounding: str = "nearest",
        max_change: float | None = DEFAULT_MAX_CHANGE,
    ) -> np.ndarray:
        """Each amount rounded to a deliverable one, never above its cap.

        Parameters
        ----------
        amount_mg : ndarray, any shape
            Wanted amounts, mg, > 0.
        cap_mg : ndarray, broadcastable to amount_mg
            Largest allowed amounts, mg (inf: none).
        rounding : "nearest" (ties down), "down" or "up"
        max_change : float or None
            Largest relative change from the intended amount, min(amount, cap);
            None allows any. Larger changes are refused.

        Returns
        -------
        ndarray, shape of amount_mg
            mg.
        """
        amount = np.asarray(amount_mg, dtype=float)
        rounded = self.round_unchecked(amount, cap_mg, rounding)
        intended = np.minimum(amount, np.broadcast_to(np.asarray(cap_mg, dtype=float), amount.shape))
        check_change(
            intended, rounded, max_change, self.name, lambda i: f"{float(intended[i])!r} mg", "max_change"
        )
        return rounded

    def round_unchecked(self, amount_mg, cap_mg, rounding: str = "nearest") -> np.ndarray:
        """`round` without the check of the change (the caller checks, naming its doses)."""
        check_rounding(rounding, f"Formulation {self.name!r}")
        step, units = _lattice(self.pieces_mg)
        per_step = float(step)
        x = np.asarray(amount_mg, dtype=float) / per_step
        cap = np.broadcast_to(np.asarray(cap_mg, dtype=float) / per_step, x.shape)
        low = cap < units[0] - _TOLERANCE_STEPS
        if low.any():
            raise ValueError(
                f"formulation {self.name!r} cannot give a dose within a cap of "
                f"{cap[low].flat[0] * per_step:g} mg; expected caps >= its smallest dose, "
                f"{self.pieces_mg[0]:g} mg"
            )
        x = np.minimum(x, cap)  # the intended amount, in steps
        below = _floor_deliverable(units, np.floor(x + _TOLERANCE_STEPS))  # 0: nothing
        above = _ceil_deliverable(units, np.ceil(x - _TOLERANCE_STEPS))
        if rounding == "down":
            none = below == 0
            if none.any():
                wanted = x[none].flat[0] * per_step
                raise ValueError(
                    f"formulation {self.name!r} rounding down {wanted:g} mg gives no "
                    f"dose (its smallest is {self.pieces_mg[0]:g} mg); expected "
                    "rounding='nearest' or 'up', or a formulation with smaller pieces"
                )
            n = below
        elif rounding == "up":
            n = above
        else:
            n = np.where((below > 0) & (x - below <= above - x + _TOLERANCE_STEPS), below, above)
        over = n > cap + _TOLERANCE_STEPS
        if over.any():
            n = np.where(over, _floor_deliverable(units, np.floor(cap + _TOLERANCE_STEPS)), n)
        return _mg(n, step)


def check_rounding(rounding, where: str) -> str:
    """`rounding` if it is one of ROUNDING, else a ValueError."""
    if not (isinstance(rounding, str) and rounding in ROUNDING):
        raise ValueError(f"{where}: rounding is {rounding!r}; expected one of {list(ROUNDING)}")
    return rounding


def check_max_change(max_change, where: str, name: str = "max_change") -> float | None:
    """`max_change` (None, or a finite number >= 0) as a float or None."""
    if max_change is None:
        return None
    if not (is_number(max_change) and math.isfinite(max_change) and max_change >= 0):
        raise ValueError(
            f"{where}: {name} is {max_change!r}; expected a relative change >= 0 "
            "(0.25 for 25 %), or None for any"
        )
    return float(max_change)


def check_change(
    intended, rounded, max_change, name: str, what: Callable[[tuple], str], field_name: str
) -> None:
    """Refuse the first rounded amount further than max_change (relative) from its intended one.

    `what(index)` names the dose at that index of the arrays (for the message).
    """
    if max_change is None:
        return
    change = np.abs(rounded - intended) / intended
    bad = change > max_change * (1 + 1e-12)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        sign = "+" if rounded[i] > intended[i] else "-"
        raise ValueError(
            f"{what(i)} rounds to {float(rounded[i])!r} mg as {name!r} ({sign}"
            f"{100 * float(change[i]):.3g} %); expected a change of at most "
            f"{100 * max_change:g} % ({field_name}): a formulation with smaller pieces, "
            f"or {field_name}=None to allow any"
        )


def _exact(p: float) -> Fraction:
    """The fraction a piece means: a simple one if it is the double given, else its decimal."""
    simple = Fraction(p).limit_denominator(_MAX_DENOMINATOR)
    return simple if simple and float(simple) == p else Fraction(repr(p))


def _step_of(pieces_mg: tuple[float, ...]) -> Fraction:
    return _lattice(pieces_mg)[0]


@lru_cache(maxsize=256)
def _lattice(pieces_mg: tuple[float, ...]) -> tuple[Fraction, tuple[int, ...]]:
    """Common step of the pieces (mg, exact) and the pieces in steps (whole, gcd 1, increasing)."""
    fractions = [_exact(p) for p in pieces_mg]
    denominator = math.lcm(*(f.denominator for f in fractions))
    numerators = [int(f * denominator) for f in fractions]
    gcd = math.gcd(*numerators)
    return Fraction(gcd, denominator), tuple(sorted(n // gcd for n in numerators))


@lru_cache(maxsize=64)
def _table(units: tuple[int, ...]) -> np.ndarray:
    """Deliverable amounts in steps from 0 to Schur's bound (a_1 - 1)(a_k - 1), increasing.

    Every amount from the bound on is deliverable (the pieces' gcd is 1).
    """
    bound = (units[0] - 1) * (units[-1] - 1)
    reachable = np.zeros(bound + 1, dtype=bool)
    reachable[0] = True
    for piece in units:  # a few pieces; each doubling pass is vectorised
        shift = piece
        while shift <= bound:  # up to 2**k - 1 more of this piece after k passes
            reachable[shift:] |= reachable[:-shift].copy()
            shift *= 2
    return np.flatnonzero(reachable).astype(float)


def _floor_deliverable(units, n: np.ndarray) -> np.ndarray:
    """Largest deliverable amount <= n (whole steps, float), 0 where none is."""
    return _deliverable(units, np.maximum(n, 0.0), "right", -1)


def _ceil_deliverable(units, n: np.ndarray) -> np.ndarray:
    """Smallest deliverable amount >= max(n, 1) (whole steps, float)."""
    return _deliverable(units, np.maximum(n, 1.0), "left", 0)


def _deliverable(units, n: np.ndarray, side: Literal["left", "right"], shift: int) -> np.ndarray:
    """n itself from Schur's bound on; below it, the table's neighbour of n on `side`."""
    bound = (units[0] - 1) * (units[-1] - 1)
    if bound == 0:
        return n
    table = _table(units)
    out = np.array(n, dtype=float)  # a copy, an array also for one amount
    small = out < bound
    out[small] = table[np.searchsorted(table, out[small], side=side) + shift]
    return out


def _mg(n: np.ndarray, step: Fraction) -> np.ndarray:
    """n steps in mg, each the double nearest n * step (one rounding while n * numerator < 2**53)."""
    return n * float(step.numerator) / float(step.denominator)


@cache
def bundled_formulations() -> Mapping[str, Formulation]:
    """The formulations in `pkmodel/data/formulations.toml`, by name."""
    text = resources.files("pkmodel").joinpath("data", "formulations.toml").read_text(encoding="utf-8")
    entries = tomllib.loads(text)
    return MappingProxyType(
        {
            name: (Formulation.from_units if "strengths_mg" in entry else Formulation.from_liquid)(
                name, **entry
            )
            for name, entry in entries.items()
        }
    )


def as_formulation(value, where: str) -> Formulation:
    """A Formulation, or the bundled one named `value`."""
    if isinstance(value, Formulation):
        return value
    names = bundled_formulations()
    if isinstance(value, str) and value in names:
        return names[value]
    raise ValueError(f"{where}: formulation is {value!r}; expected a Formulation or one of {sorted(names)}")
