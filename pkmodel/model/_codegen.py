"""numpy code from sympy expressions, for pkmodel.model.compiler.

A `_Program` is a list of (output index, sympy expression). Each expression is
split into its static parts (free of the amounts and t: hoisted into
`setup(P, C)`, computed once per set of subjects) and the rest (`run(t, A, H,
out)`, which writes into `out[..., index]`); common subexpressions are shared
(sympy.cse). The code is written from sympy's tree: every name in it is the
generator's own (p0, a1, h2, ...) and every number a float literal, so no text
of the user's reaches `exec`.
"""

import math
from typing import Any

import numpy as np

_FUNCTIONS = {"exp": "np.exp", "log": "np.log", "Abs": "np.abs", "sign": "np.sign"}
_REDUCE = {"Max": "np.maximum", "Min": "np.minimum", "And": "np.logical_and", "Or": "np.logical_or"}


class _Program:
    """setup(P, C) -> H (static parts, each (n,)); run(t, A, H, out) fills out[index]."""

    def __init__(self, slots, system, sym):
        import sympy as sp

        self.indices = [index for index, e in slots if e != 0]
        exprs = [e for _, e in slots if e != 0]
        dynamic = {sym[c] for c in system.compartments} | {sym["t"]}
        table: dict = {}
        run_exprs = [_hoist(e, dynamic, table, sp) for e in exprs]
        names = {sym[p]: f"p{k}" for k, p in enumerate(system.parameters)}
        names.update({sym[c]: f"c{k}" for k, c in enumerate(system.covariates)})
        names.update({sym[c]: f"a{j}" for j, c in enumerate(system.compartments)})
        names[sym["t"]] = "t"
        names.update({d: f"h{k}" for k, d in enumerate(table.values())})

        setup = ["def setup(P, C):"]
        setup += [f"    p{k} = P[{k}]" for k in range(len(system.parameters))]
        setup += [f"    c{k} = C[{k}]" for k in range(len(system.covariates))]
        lines, codes = _cse(list(table), names, "s", sp)
        setup += lines + [f"    h{k} = {code}" for k, code in enumerate(codes)]
        setup.append(f"    return ({''.join(f'h{k}, ' for k in range(len(table)))})")

        run = ["def run(t, A, H, out):"]
        run += [f"    h{k} = H[{k}]" for k in range(len(table))]
        run += [
            f"    a{j} = A[{j}]"
            for j, c in enumerate(system.compartments)
            if any(e.has(sym[c]) for e in run_exprs)
        ]
        lines, codes = _cse(run_exprs, names, "x", sp)
        run += lines + [f"    out[{', '.join(map(str, i))}] = {code}" for i, code in zip(self.indices, codes)]
        run.append("    return out")
        self.source = "\n".join(setup + run)
        namespace: dict[str, Any] = {"np": np}
        exec(compile(self.source, "<pkmodel system>", "exec"), namespace)
        self.setup, self.run = namespace["setup"], namespace["run"]


def _cse(exprs, names, prefix, sp):
    """Assignments of the common subexpressions (named prefix0, ...) and the reduced codes."""
    replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(cls=sp.Dummy)) if exprs else ([], [])
    # a reciprocal of one name goes back in place: x / y is one rounding, x * (1 / y) two
    inline = {d: e for d, e in replacements if e.is_Pow and e.exp == -1 and e.base.is_Atom}
    lines: list[str] = []
    for d, e in replacements:
        if d not in inline:
            names[d] = f"{prefix}{len(lines)}"
            lines.append(f"    {names[d]} = {_code(e.xreplace(inline), names)}")
    return lines, [_code(e.xreplace(inline), names) for e in reduced]


def _hoist(e, dynamic, table, sp):
    """e with its static parts (free of `dynamic`, with symbols) replaced by dummies in `table`."""
    free = e.free_symbols
    if not free & dynamic:
        if not free:
            return e
        if e not in table:
            table[e] = sp.Dummy(real=True)
        return table[e]
    if not e.args:
        return e
    if e.is_Add or e.is_Mul:
        static = [a for a in e.args if not a.free_symbols & dynamic]
        parts = [_hoist(a, dynamic, table, sp) for a in e.args if a.free_symbols & dynamic]
        if static:
            parts.append(_hoist(e.func(*static), dynamic, table, sp))
        return e.func(*parts)
    return e.func(*(_hoist(a, dynamic, table, sp) for a in e.args))


def _number(e) -> str:
    v = float(e)
    if not math.isfinite(v):
        raise ValueError(
            f"an expression evaluates to {e} (a division by zero or an overflow); expected finite numbers"
        )
    return repr(v) if v >= 0 else f"({v!r})"


def _code(e, names) -> str:
    """Python source computing e with numpy, names from `names`."""
    import sympy as sp

    if e in names:
        return names[e]
    if e is sp.true or e is sp.false:
        return str(bool(e))
    if e.is_Number or isinstance(e, sp.NumberSymbol):
        return _number(e)
    c = lambda x: _code(x, names)  # noqa: E731
    if e.is_Add:
        return "(" + " + ".join(map(c, e.args)) + ")"
    if e.is_Mul:
        num = [a for a in e.args if not (a.is_Pow and a.exp.is_Number and a.exp < 0)]
        den = [a.base if a.exp == -1 else a.base**-a.exp for a in e.args if a not in num]
        sign = ""
        if num and num[0] == -1:
            sign, num = "-", num[1:]
        top = " * ".join(map(c, num)) or "1.0"
        bottom = "" if not den else " / " + (c(den[0]) if len(den) == 1 else f"({' * '.join(map(c, den))})")
        return f"({sign}{top}{bottom})"
    if e.is_Pow:
        base, exp = c(e.base), e.exp
        if exp == sp.Rational(1, 2):
            return f"np.sqrt({base})"
        if exp == -1:
            return f"(1.0 / {base})"
        if exp == sp.Rational(-1, 2):
            return f"(1.0 / np.sqrt({base}))"
        return f"({base} ** {c(exp)})"
    if isinstance(e, sp.Piecewise):
        code = "np.nan"
        for value, cond in reversed(e.args):
            code = c(value) if cond is sp.true else f"np.where({c(cond)}, {c(value)}, {code})"
        return code
    if e.is_Relational:
        return f"({c(e.lhs)} {e.rel_op} {c(e.rhs)})"
    name = type(e).__name__
    if name in _REDUCE:
        code = c(e.args[0])
        for a in e.args[1:]:
            code = f"{_REDUCE[name]}({code}, {c(a)})"
        return code
    if name == "Not":
        return f"np.logical_not({c(e.args[0])})"
    if name in _FUNCTIONS:
        return f"{_FUNCTIONS[name]}({c(e.args[0])})"
    if name == "Heaviside":
        return f"np.heaviside({c(e.args[0])}, {_number(e.args[1]) if len(e.args) > 1 else '0.5'})"
    raise NotImplementedError(f"cannot write {name} ({e}) as numpy code")
