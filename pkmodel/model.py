"""Model: a structure plus its parameters; loading and validating model files."""

import ast
import math
import operator
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ._checks import is_number
from .structures import STRUCTURES, UNITS, Structure


class ModelFileError(ValueError):
    """A model (file) that cannot be used as written; the message names the field."""


_MODEL_KEYS = {"name", "structure", "description", "concentration", "source"}
_PARAMETER_KEYS = {"value", "unit", "derived", "iiv_sd", "source", "iiv_source", "note"}
# A derived value must equal its expression to this relative precision: the
# file stores full precision, and a rounded copy (e.g. 1.7723508577) is refused.
_DERIVED_RTOL = 1e-13


@dataclass(frozen=True)
class Parameter:
    """One typical value with its unit and log-normal IIV (omega, as an SD)."""

    name: str
    value: float
    unit: str
    iiv_sd: float = 0.0
    source: str = ""

    @property
    def per_kg(self) -> bool:
        return self.unit.endswith("/kg")


@dataclass(frozen=True)
class Model:
    """A structure and its parameters, checked on construction.

    `where` prefixes error messages: the file a model came from, or its name.
    """

    name: str
    structure: Structure
    parameters: Mapping[str, Parameter]
    description: str = ""
    concentration: str = ""
    source: str = ""
    path: str | None = field(default=None, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        where = self.path or self.name
        expected = self.structure.parameters
        missing = [n for n in expected if n not in self.parameters]
        if missing:
            raise ModelFileError(
                f"{where}: parameters {missing} missing; structure {self.structure.name!r} "
                f"needs {list(expected)}")
        unknown = [n for n in self.parameters if n not in expected]
        if unknown:
            raise ModelFileError(
                f"{where}: unknown parameters {unknown}; structure {self.structure.name!r} "
                f"takes {list(expected)}")
        for name, p in self.parameters.items():
            units = UNITS[expected[name]]
            if p.unit not in units:
                raise ModelFileError(
                    f"{where}: parameters.{name}.unit is {p.unit!r}; expected one of "
                    + ", ".join(repr(u) for u in units))
            if not (is_number(p.value) and math.isfinite(p.value) and p.value > 0):
                raise ModelFileError(
                    f"{where}: parameters.{name}.value is {p.value!r}; expected a finite "
                    f"number > 0 in {p.unit}")
            if not (is_number(p.iiv_sd) and math.isfinite(p.iiv_sd) and p.iiv_sd >= 0):
                raise ModelFileError(
                    f"{where}: parameters.{name}.iiv_sd is {p.iiv_sd!r}; expected a finite "
                    "number >= 0 (SD of the log-normal random effect)")

    @property
    def iiv_names(self) -> tuple[str, ...]:
        """Parameters that carry a random effect, in file order."""
        return tuple(n for n, p in self.parameters.items() if p.iiv_sd > 0)

    @property
    def omega_sd(self) -> np.ndarray:
        """SD of each random effect, shape (n_random_effects,), order of `iiv_names`."""
        return np.array([self.parameters[n].iiv_sd for n in self.iiv_names])

    def individual_parameters(self, weight_kg: np.ndarray, etas: np.ndarray) -> dict[str, np.ndarray]:
        """Each subject's parameters, P_i = P_typical(weight_i) * exp(eta_i).

        Parameters
        ----------
        weight_kg : ndarray, shape (n_subjects,)
        etas : ndarray, shape (n_subjects, n_random_effects)
            Columns in the order of `iiv_names`.

        Returns
        -------
        dict of ndarray, shape (n_subjects,)
            In L/h, L, 1/h (per-kg values multiplied by weight).
        """
        column = {n: i for i, n in enumerate(self.iiv_names)}
        out = {}
        for name, p in self.parameters.items():
            typical = p.value * weight_kg if p.per_kg else np.full(weight_kg.shape, p.value)
            out[name] = typical * np.exp(etas[:, column[name]]) if name in column else typical
        return out


def load_model(name_or_path: str | Path) -> Model:
    """Load a bundled model by name (e.g. "baclofen_cp_card") or a .toml file by path."""
    path = _resolve(name_or_path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ModelFileError(f"{path}: not valid TOML: {err}") from None
    return _model_from_dict(doc, str(path))


def bundled_models() -> dict[str, Path]:
    """Names of the bundled model files, with their paths."""
    folder = resources.files("pkmodel.params")
    return {Path(e.name).stem: Path(str(e)) for e in sorted(folder.iterdir(), key=lambda e: e.name)
            if e.name.endswith(".toml")}


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"model file {text!r} does not exist")
        return path
    bundled = bundled_models()
    if text not in bundled:
        raise ValueError(f"model {text!r} is not a bundled model; expected one of "
                         f"{sorted(bundled)} or a path to a .toml file")
    return bundled[text]


def _model_from_dict(doc: dict, where: str) -> Model:
    _only_keys(doc, {"model", "parameters"}, "", where)
    meta = _table(doc, "model", where)
    _only_keys(meta, _MODEL_KEYS, "model.", where)
    for key in ("name", "structure"):
        if key not in meta:
            raise ModelFileError(f"{where}: model.{key} is missing")
    structure_name = meta["structure"]
    if structure_name not in STRUCTURES:
        raise ModelFileError(f"{where}: model.structure is {structure_name!r}; expected one of "
                             f"{sorted(STRUCTURES)}")
    params = {}
    for name, table in _table(doc, "parameters", where).items():
        if not isinstance(table, dict):
            raise ModelFileError(f"{where}: parameters.{name} is {table!r}; expected a table "
                                 "with value and unit")
        params[name] = _parameter(name, table, where)
    return Model(name=meta["name"], structure=STRUCTURES[structure_name], parameters=params,
                 description=meta.get("description", ""),
                 concentration=meta.get("concentration", ""),
                 source=meta.get("source", ""), path=where)


def _parameter(name: str, table: dict, where: str) -> Parameter:
    field_ = f"parameters.{name}"
    _only_keys(table, _PARAMETER_KEYS, field_ + ".", where)
    if "unit" not in table:
        raise ModelFileError(f"{where}: {field_}.unit is missing; every number names its unit")
    if "value" not in table and "derived" not in table:
        raise ModelFileError(f"{where}: {field_}.value is missing (give value, or derived "
                             "with the expression it comes from)")
    value = table.get("value")
    if "derived" in table:
        exact = _evaluate(table["derived"], f"{field_}.derived", where)
        if value is None:
            value = exact
        elif not (is_number(value) and abs(value - exact) <= _DERIVED_RTOL * abs(exact)):
            raise ModelFileError(
                f"{where}: {field_}.value is {value!r} but {field_}.derived "
                f"{table['derived']!r} is {exact!r}; store the full-precision value")
    return Parameter(name=name, value=value, unit=table["unit"],
                     iiv_sd=table.get("iiv_sd", 0.0), source=table.get("source", ""))


def _table(doc: dict, key: str, where: str) -> dict:
    if key not in doc:
        raise ModelFileError(f"{where}: table [{key}] is missing")
    if not isinstance(doc[key], dict):
        raise ModelFileError(f"{where}: {key} is {doc[key]!r}; expected a table")
    return doc[key]


def _only_keys(table: dict, allowed: set, prefix: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ModelFileError(f"{where}: unknown field {prefix}{unknown[0]}; expected one of "
                             f"{sorted(allowed)}")


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.Pow: operator.pow, ast.USub: operator.neg}
_FUNCTIONS = {"ln": math.log, "log": math.log, "exp": math.exp, "sqrt": math.sqrt}


def _evaluate(expression, field_: str, where: str) -> float:
    """Value of an arithmetic expression: numbers, + - * / **, ln, exp, sqrt."""
    def ev(node):
        if isinstance(node, ast.Constant) and is_number(node.value):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](ev(node.operand))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _FUNCTIONS and len(node.args) == 1 and not node.keywords):
            return _FUNCTIONS[node.func.id](ev(node.args[0]))
        raise ValueError
    try:
        return ev(ast.parse(str(expression), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        raise ModelFileError(
            f"{where}: {field_} is {expression!r}; expected arithmetic on numbers with "
            "+ - * / ** and ln, exp, sqrt") from None
