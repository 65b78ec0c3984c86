"""The model language in sympy: translation, exact derivatives and the linearity analysis.

`to_sympy` turns a checked expression's tree (pkmodel.model.language) into sympy;
`nonlinearity` decides linearity as pharmpy's `has_linear_odes` does: linear when the
right-hand side is affine in the amounts with coefficients free of the amounts and t, and
says why not. sympy is imported inside the functions: `import pkmodel` never loads it.
"""

import ast
from typing import Any, Iterable

from .expressions import TIME, System

_LANGUAGE = {"Abs": "abs", "Max": "max", "Min": "min", "Piecewise": "where"}  # sympy's names


def used_names(exprs: Iterable[Any], system: System) -> frozenset[str]:
    """The parameters and covariates that sympy expressions `exprs` use."""
    names: set[str] = set()
    for e in exprs:
        names |= {s.name for s in e.free_symbols}
    return frozenset(names & {*system.parameters, *system.covariates})


def derivative(f: Any, x: Any) -> Any:
    """df/dx, term by term, each quotient-rule sum over one denominator: d/dx VM*x/(KM + x)
    is KM*VM/(KM + x)**2, not VM/(KM + x) - VM*x/(KM + x)**2 (which cancels when x >> KM)."""
    import sympy as sp

    parts = [sp.diff(term, x) for term in sp.Add.make_args(f)]
    return sp.Add(*(sp.together(d) if d.is_Add else d for d in parts))


def terms(node: ast.AST) -> list[ast.AST]:
    """The top-level terms of a sum (signs dropped)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return terms(node.left) + terms(node.right)
    if isinstance(node, ast.UnaryOp):
        return terms(node.operand)
    return [node]


def nonlinearity(f: Any, amounts: list[Any], t: Any, zero_offset: bool) -> tuple[str, str, str] | None:
    """Why f is not affine in the amounts with coefficients free of t (not linear, where
    zero_offset): (what, detail, the name to blame), or None."""
    import sympy as sp

    # a condition on an amount is a step: its derivative is zero where it exists
    for condition in f.atoms(sp.core.relational.Relational):
        bad = sorted(condition.free_symbols & set(amounts), key=str)
        if bad:
            return "is not affine in the amounts", f"{bad[0]} appears in a where() condition", bad[0].name
    for x in amounts:
        d = sp.diff(f, x)
        bad = sorted(d.free_symbols & set(amounts), key=str)
        if bad:
            return "is not affine in the amounts", _why(f, bad[0], amounts), bad[0].name
        if t in d.free_symbols:
            return "depends on t", f"the coefficient of {x} changes with time", TIME
    offset = f.subs({x: 0 for x in amounts})
    if t in offset.free_symbols:
        return "depends on t", "a time-varying input", TIME
    if zero_offset and offset != 0:
        return "is free of the amounts", "a linear read-out is a row times the amounts", ""
    return None


def _why(f: Any, y: Any, amounts: list[Any]) -> str:
    import sympy as sp

    parts = [p for p in sp.preorder_traversal(f) if p.has(y)]
    for p in parts:
        if p.is_Pow and p.base.has(y) and p.exp.is_negative:
            return f"{y} appears in a denominator"
    for p in parts:
        if isinstance(p, (sp.Function, sp.Piecewise, sp.Max, sp.Min)):
            return f"{y} appears inside {_LANGUAGE.get(type(p).__name__, type(p).__name__)}()"
        if p.is_Pow and p.exp.has(y):
            return f"{y} appears in an exponent"
    for p in parts:
        if p.is_Pow:
            return f"{y} is raised to the power {p.exp}"
        factors = [a for a in p.args if a.free_symbols & set(amounts)] if p.is_Mul else []
        if len(factors) > 1:
            return f"a product of amounts ({' * '.join(map(str, factors))})"
    return f"the coefficient of {y} depends on the amounts"


def to_sympy(node: ast.AST, env: dict[str, Any]) -> Any:
    """A checked expression's tree as a sympy expression (names from `env`)."""
    import sympy as sp

    if isinstance(node, ast.Constant):
        return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = to_sympy(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = to_sympy(node.left, env), to_sympy(node.right, env)
        return {
            ast.Add: sp.Add,
            ast.Sub: lambda x, y: x - y,
            ast.Mult: sp.Mul,
            ast.Div: lambda x, y: x / y,
            ast.Pow: sp.Pow,
        }[type(node.op)](a, b)
    if isinstance(node, ast.Compare):
        values = [to_sympy(n, env) for n in (node.left, *node.comparators)]
        ops = {ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge, ast.Eq: sp.Eq, ast.NotEq: sp.Ne}
        return sp.And(*(ops[type(op)](a, b) for op, a, b in zip(node.ops, values, values[1:])))
    # a call of a function by name: the only node left after checking (pkmodel.model.language)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), ast.dump(node)
    args = [to_sympy(a, env) for a in node.args]
    name = node.func.id
    if name == "where":
        return sp.Piecewise((args[1], args[0]), (args[2], True))
    return {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "min": sp.Min, "max": sp.Max}[name](
        *args
    )
