"""The system of equations a model file writes, every expression parsed and every name resolved.

A `System` is the model file's ``[model] compartments``, ``[derived]``, ``[odes]``,
``[outputs]`` and ``[dosing.<compartment>]`` sections; its expressions are the model language
of `pkmodel.model.language` (whose names are re-exported here); `pkmodel.model.compiler` turns
it into numpy. Errors name where (file and section), the expression and the column.
"""

import difflib
import keyword
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from .language import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MODIFIERS,
    RESERVED,
    TIME,
    Expression,
    ExpressionError,
    parse_expression,
)
from .structures import OPTIONAL, Structure

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MODIFIERS",
    "RESERVED",
    "TIME",
    "Expression",
    "ExpressionError",
    "System",
    "parse_expression",
]


@dataclass(frozen=True, kw_only=True)
class System:
    """The equations of a model, every expression parsed and every name resolved.

    compartments : names in order (NONMEM's CMT 1, 2, ...).
    odes : one expression per compartment, d(amount)/dt in mg/h.
    derived : named intermediates, evaluated in order; usable after their definition.
    outputs : named read-outs; `conc` (mg/L) is required.
    dosing : per compartment, expressions for F (fraction), lag (h), rate (mg/h),
        duration (h) of doses into it; these may use parameters and covariates only.
    parameters, covariates : names the expressions may use, with the amounts and `t` (h).
    dose_compartment : where a plain dose goes; the first compartment when None.
    where : the file, for messages.
    expressions : every expression parsed, keyed "derived.C", "odes.central", "outputs.conc",
        "dosing.central.F", in that order of sections.
    dynamic : per name, the compartments and t it depends on (derived names: through others).
    """

    compartments: tuple[str, ...]
    odes: Mapping[str, str]
    outputs: Mapping[str, str]
    parameters: tuple[str, ...]
    derived: Mapping[str, str] = field(default_factory=dict)
    dosing: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    covariates: tuple[str, ...] = ()
    dose_compartment: str | None = None
    where: str = "model"
    expressions: Mapping[str, Expression] = field(init=False, repr=False, compare=False)
    dynamic: Mapping[str, frozenset] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        w = self.where
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        for name in ("compartments", "parameters", "covariates"):
            put(name, _names(w, f"model.{name}" if name == "compartments" else name, getattr(self, name)))
        if not self.compartments:
            raise ValueError(f"{w}: model.compartments is empty; expected at least one name")
        _disjoint(
            w,
            {
                "model.compartments": self.compartments,
                "parameters": self.parameters,
                "covariates": self.covariates,
            },
        )
        for name in ("odes", "outputs", "derived", "dosing"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise ValueError(f"{w}: {name} is {value!r}; expected a table of expressions")
            put(name, MappingProxyType(dict(value)))
        if self.dose_compartment is None:
            put("dose_compartment", self.compartments[0])
        elif self.dose_compartment not in self.compartments:
            raise ValueError(
                f"{w}: model.dose_compartment is {self.dose_compartment!r}; "
                f"expected one of {list(self.compartments)}"
            )
        # what each name depends on among the amounts and t (derived names: transitively)
        dynamic = {c: frozenset({c}) for c in self.compartments}
        dynamic.update({n: frozenset() for n in (*self.parameters, *self.covariates)})
        dynamic[TIME] = frozenset({TIME})
        parsed = {}
        for name, text in self.derived.items():
            key = f"derived.{name}"
            _names(w, key, [name])
            if name in dynamic:
                raise ValueError(f"{w}: {key} shadows the {_kind(self, name)} {name!r}; expected a new name")
            parsed[key] = self._resolve(key, text, dynamic)
            dynamic[name] = frozenset().union(*(dynamic[n] for n, _ in parsed[key].names))
        for name in self.odes:
            if name not in self.compartments:
                raise ValueError(
                    f"{w}: odes.{name}: {name!r} is not a compartment; expected one "
                    f"of model.compartments {list(self.compartments)}"
                )
        for c in self.compartments:
            if c not in self.odes:
                raise ValueError(
                    f"{w}: odes: compartment {c!r} has no equation; expected one "
                    "expression per compartment of model.compartments"
                )
            parsed[f"odes.{c}"] = self._resolve(f"odes.{c}", self.odes[c], dynamic)
        if "conc" not in self.outputs:
            raise ValueError(
                f"{w}: outputs has no 'conc'; expected conc = the concentration "
                '(mg/L) that exposure reads, e.g. conc = "central / V"'
            )
        for name, text in self.outputs.items():
            _names(w, "outputs", [name])
            parsed[f"outputs.{name}"] = self._resolve(f"outputs.{name}", text, dynamic)
        for c, table in self.dosing.items():
            if c not in self.compartments:
                raise ValueError(
                    f"{w}: dosing.{c}: {c!r} is not a compartment; expected one "
                    f"of model.compartments {list(self.compartments)}"
                )
            if not isinstance(table, Mapping):
                raise ValueError(f"{w}: dosing.{c} is {table!r}; expected a table of {', '.join(MODIFIERS)}")
            for key, text in table.items():
                if key not in MODIFIERS:
                    raise ValueError(
                        f"{w}: dosing.{c}.{key} is not a dose modifier; expected one of {list(MODIFIERS)}"
                    )
                expr = self._resolve(f"dosing.{c}.{key}", text, dynamic)
                for n, at in expr.names:
                    if dynamic[n]:
                        via = "" if n in dynamic[n] else f" (which depends on {sorted(dynamic[n])})"
                        expr.fail(
                            at,
                            f"{n!r}{via} in a dose modifier",
                            "parameters, covariates and derived names of those only "
                            "(a dose modifier is fixed per subject)",
                        )
                parsed[f"dosing.{c}.{key}"] = expr
        put("dosing", MappingProxyType({c: MappingProxyType(dict(t)) for c, t in self.dosing.items()}))
        put("expressions", MappingProxyType(parsed))
        put("dynamic", MappingProxyType(dynamic))

    def _resolve(self, key: str, text, known: Mapping[str, frozenset]) -> Expression:
        expr = parse_expression(text, f"{self.where}: {key}")
        later = list(self.derived)
        for name, at in expr.names:
            if name in known:
                continue
            if key == f"derived.{name}":
                expr.fail(at, f"{name!r} refers to itself", "names defined above it")
            if name in later:
                expr.fail(
                    at,
                    f"{name!r} is used before [derived] defines it",
                    "derived names in the order they are defined",
                )
            close = difflib.get_close_matches(name, known, n=1)
            expr.fail(
                at,
                f"unknown name {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                "a parameter, covariate, compartment, t, or a derived name defined above "
                "(a covariate is declared as [covariates.NAME] with its unit)",
            )
        return expr

    @classmethod
    def from_structure(cls, structure: Structure, where: str = "model") -> "System":
        """The equations of a named structure (pkmodel.model.structures), written out.

        Parameters are the structure's and its optional ones (F, tlag: the depot's F and lag).
        """
        cmts = structure.compartments
        c = structure.central_index
        derived = {}
        # the rate each compartment before central empties at (Structure.absorption_rates):
        # ka; or ktr = (n + 1) / MTT for the depot and the transits, then ka ("transit_first_order")
        rates = ["ka"] * c
        if structure.absorption != "first_order":
            derived["ktr"] = f"{structure.n_transit + 1} / MTT"
            rates[: structure.n_transit + 1] = ["ktr"] * (structure.n_transit + 1)
        odes = {cmts[0]: f"-{rates[0]} * {cmts[0]}"}
        for i in range(1, c):
            odes[cmts[i]] = f"{rates[i - 1]} * {cmts[i - 1]} - {rates[i]} * {cmts[i]}"
        v = structure.volume
        if structure.disposition == "one_compartment":
            odes["central"] = f"{rates[c - 1]} * {cmts[c - 1]} - CL / V * central"
        else:
            odes["central"] = (
                f"{rates[c - 1]} * {cmts[c - 1]} - CL / V1 * central - Q / V1 * central + Q / V2 * peripheral"
            )
            odes["peripheral"] = "Q / V1 * central - Q / V2 * peripheral"
        return cls(
            compartments=cmts,
            odes=odes,
            derived=derived,
            outputs={"conc": f"central / {v}"},
            dosing={cmts[0]: {"F": "F", "lag": "tlag"}},
            parameters=(*structure.parameters, *OPTIONAL),
            dose_compartment=cmts[0],
            where=where,
        )


def _kind(system: System, name: str) -> str:
    if name == TIME:
        return "time"
    if name in system.compartments:
        return "compartment"
    return "parameter" if name in system.parameters else "covariate"


def _names(where: str, field_name: str, values) -> tuple[str, ...]:
    """Names as a tuple, refused unless distinct identifiers that are not reserved."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{where}: {field_name} is {values!r}; expected a list of names")
    values = tuple(values)
    for v in values:
        if not (isinstance(v, str) and v.isascii() and v.isidentifier() and not keyword.iskeyword(v)):
            raise ValueError(
                f"{where}: {field_name} has {v!r}; expected a name (letters, digits, "
                "_; not starting with a digit; not a Python keyword)"
            )
        if v in RESERVED:
            raise ValueError(
                f"{where}: {field_name} has {v!r}, which the language reserves "
                f"({'time, h' if v == TIME else 'a function'}); expected another name"
            )
    dup = sorted({v for v in values if values.count(v) > 1})
    if dup:
        raise ValueError(f"{where}: {field_name} repeats {dup}; expected each name once")
    return values


def _disjoint(where: str, groups: Mapping[str, tuple[str, ...]]) -> None:
    seen: dict[str, str] = {}
    for group, values in groups.items():
        for v in values:
            if v in seen:
                raise ValueError(
                    f"{where}: {v!r} is in both {seen[v]} and {group}; expected each name in one"
                )
            seen[v] = group
