"""A model file's tables read checked: each table's fields, choices and names, and one
parameter's table (its unit, its value or the formula it is derived from, its covariates).
Every refusal names the file and the field (ModelFileError); `pkmodel.model.files` reads
the rest of the file with these.
"""

import ast
import math
import operator
from typing import Callable

from .._checks import is_number
from .parameters import _COVARIATE_KINDS, CovariateEffect, ModelFileError, Parameter

_PARAMETER_KEYS = {
    "value",
    "unit",
    "derived",
    "iiv_sd",
    "iov_sd",
    "rse",
    "covariates",
    "source",
    "iiv_source",
    "iov_source",
    "rse_source",
    "note",
    "assumed",
}
_COVARIATE_KEYS = {"type", "reference", "exponent", "slope", "values", "missing", "iiv_sd", "source", "note"}
# Fields that hold text (sources, notes), wherever they appear
_TEXT_KEYS = {
    "description",
    "concentration",
    "source",
    "note",
    "assumed",
    "iiv_source",
    "iov_source",
    "rse_source",
}
# A derived value must equal its expression to this relative precision: the
# file stores full precision, and a rounded copy (e.g. 1.7723508577) is refused.
_DERIVED_RTOL = 1e-13
# A derived value is a short formula (the bundled ones are under 25 characters); a longer
# text is refused before it is parsed (a 100,000-term sum exhausts the parser's recursion).
_MAX_DERIVED_CHARS = 1000


def _parameter(name: str, table: dict, where: str) -> Parameter:
    field_ = f"parameters.{name}"
    _only_keys(table, _PARAMETER_KEYS, field_ + ".", where)
    if "unit" not in table:
        raise ModelFileError(f"{where}: {field_}.unit is missing; every number names its unit")
    if not isinstance(table["unit"], str):
        raise ModelFileError(
            f"{where}: {field_}.unit is {table['unit']!r}; expected the unit as text (e.g. 'L/h/kg')"
        )
    if "value" not in table and "derived" not in table:
        raise ModelFileError(
            f"{where}: {field_}.value is missing (give value, or derived with the expression it comes from)"
        )
    value = table.get("value")
    if "derived" in table:
        exact = _evaluate(table["derived"], f"{field_}.derived", where)
        if value is None:
            value = exact
        elif not (is_number(value) and abs(value - exact) <= _DERIVED_RTOL * abs(exact)):
            raise ModelFileError(
                f"{where}: {field_}.value is {value!r} but {field_}.derived "
                f"{table['derived']!r} is {exact!r}; store the full-precision value"
            )
    covariates = []
    for covariate, spec in _tables(
        table, "covariates", where, "with type and its numbers", prefix=field_ + "."
    ).items():
        _only_keys(spec, _COVARIATE_KEYS, f"{field_}.covariates.{covariate}.", where)
        kind = _choice(
            spec.get("type"), list(_COVARIATE_KINDS), f"{field_}.covariates.{covariate}.type", where
        )
        coefficient = spec.get(_COVARIATE_KINDS[kind] or "", None)
        covariates.append(
            CovariateEffect(
                covariate=covariate,
                kind=kind,
                reference=spec.get("reference"),
                coefficient=coefficient,
                values=spec.get("values"),
                missing=spec.get("missing", "error"),
                iiv_sd=spec.get("iiv_sd"),
            )
        )
    assert value is not None  # table has value or derived (refused above otherwise)
    return Parameter(
        name=name,
        value=value,
        unit=table["unit"],
        iiv_sd=table.get("iiv_sd", 0.0),
        iov_sd=table.get("iov_sd", 0.0),
        rse=table.get("rse", 0.0),
        covariates=tuple(covariates),
        source=table.get("source", ""),
    )


def _table(doc: dict, key: str, where: str, required: bool = True, prefix: str = "") -> dict:
    """doc[key], refused unless a table; {} when absent and not required."""
    if key not in doc:
        if required:
            raise ModelFileError(f"{where}: table [{prefix}{key}] is missing")
        return {}
    if not isinstance(doc[key], dict):
        raise ModelFileError(f"{where}: {prefix}{key} is {doc[key]!r}; expected a table ([{prefix}{key}])")
    return doc[key]


def _tables(doc: dict, key: str, where: str, holding: str, prefix: str = "") -> dict:
    """doc[key] as {name: table}: a table whose every entry is a table `holding` its fields.

    [parameters] is required, any other optional."""
    tables = _table(doc, key, where, required=key == "parameters", prefix=prefix)
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ModelFileError(
                f"{where}: {prefix}{key}.{name} is {table!r}; expected a table "
                f"([{prefix}{key}.{name}] {holding})"
            )
    return tables


def _choice(value, options: list, field_: str, where: str):
    """`value` if it is one of `options` (text), else ModelFileError naming the field."""
    if not (isinstance(value, str) and value in options):
        raise ModelFileError(f"{where}: {field_} is {value!r}; expected one of {options}")
    return value


def _names(values, field_: str, what: str, where: str) -> None:
    if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
        raise ModelFileError(f"{where}: {field_} is {values!r}; expected a list of {what}")


def _only_keys(table: dict, allowed: set, prefix: str, where: str) -> None:
    """Refuse a field not in `allowed`, and a source or note that is not text."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ModelFileError(
            f"{where}: unknown field {prefix}{unknown[0]}; expected one of {sorted(allowed)}"
        )
    for key in sorted(_TEXT_KEYS & set(table)):
        if not isinstance(table[key], str):
            raise ModelFileError(f"{where}: {prefix}{key} is {table[key]!r}; expected text")


_OPERATORS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
}
_FUNCTIONS = {"ln": math.log, "log": math.log, "exp": math.exp, "sqrt": math.sqrt}


def _evaluate(expression, field_: str, where: str) -> float:
    """Value of an arithmetic expression: numbers, + - * / **, ln, exp, sqrt."""
    text = str(expression)
    if len(text) > _MAX_DERIVED_CHARS:
        raise ModelFileError(
            f"{where}: {field_} is {len(text):,} characters long; expected a "
            f"formula of at most {_MAX_DERIVED_CHARS:,} characters"
        )

    def ev(node):
        if isinstance(node, ast.Constant) and is_number(node.value):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](ev(node.operand))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and len(node.args) == 1
            and not node.keywords
        ):
            return _FUNCTIONS[node.func.id](ev(node.args[0]))
        raise ValueError

    try:
        return ev(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError, MemoryError):
        raise ModelFileError(
            f"{where}: {field_} is {expression!r}; expected arithmetic on numbers with "
            "+ - * / ** and ln, exp, sqrt"
        ) from None
