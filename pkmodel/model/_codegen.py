"""numpy code from sympy expressions, for pkmodel.model.compiler.

A `_Program` is a list of (output index, sympy expression). Each expression is
split into its static parts (free of the amounts and t: hoisted into
`setup(P, C)`, computed once per set of subjects) and the rest (`run(t, A, H,
out)`, which writes into `out[..., index]`); common subexpressions are shared
(sympy.cse). The code is written from sympy's tree: every name in it is the
generator's own (p0, a1, h2, ...) and every number a float literal, so no text
of the user's reaches `exec`.

`_Program.scalar_source` writes the same dynamic part for one subject, scalars
throughout (`math.exp`, `np.maximum` of two floats, `a if c else b` for
`np.where`), or for several at once, a loop over lane-major lanes, for the ode engine's
compiled kernel (`engines._kernel`, numba): the same expressions, the same common
subexpressions, the same static parts `setup` gives.
"""

import math
from typing import Any

import numpy as np

_FUNCTIONS = {"exp": "np.exp", "log": "np.log", "Abs": "np.abs", "sign": "np.sign"}
_REDUCE = {"Max": "np.maximum", "Min": "np.minimum", "And": "np.logical_and", "Or": "np.logical_or"}
# the scalar dialect's names where they differ (np.maximum, np.minimum, np.sign of floats
# compile in numba with numpy's NaN rules; np.where and np.heaviside are written out)
_SCALAR = {"np.exp": "math.exp", "np.log": "math.log", "np.abs": "abs", "np.sqrt": "math.sqrt"}


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

        self.n_static = len(table)
        self._run_exprs, self._names = run_exprs, dict(names)
        self._read_amounts = [
            j for j, c in enumerate(system.compartments) if any(e.has(sym[c]) for e in run_exprs)
        ]
        self._reads = [f"    a{j} = A[{j}]" for j in self._read_amounts]
        lines, codes = _cse(run_exprs, dict(names), "x", sp)
        run = ["def run(t, A, H, out):", *(f"    h{k} = H[{k}]" for k in range(len(table))), *self._reads]
        run += lines + [f"    out[{', '.join(map(str, i))}] = {code}" for i, code in zip(self.indices, codes)]
        run.append("    return out")
        self.source = "\n".join(setup + run)
        namespace: dict[str, Any] = {"np": np}
        exec(compile(self.source, "<pkmodel system>", "exec"), namespace)
        self.setup, self.run = namespace["setup"], namespace["run"]

    def scalar_source(self, shape: tuple[int, ...], lanes: int = 0) -> str:
        """Source of `run(t, A, H, out)` for one subject: t a float (h), A (m,) its amounts,
        H (n_static,) its static parts (`setup`'s, in order), out (prod(shape),) the slots
        of `shape` flattened (row-major), every slot written (0.0 where the program has none).

        lanes > 0: `run(T, A, H, out)` for that many subjects at once, lane-major: T (lanes,)
        their times, A[j * lanes + l] lane l's amount j, H and out likewise; each lane's
        numbers are the one-subject function's, operation for operation."""
        import sympy as sp

        flat = [int(np.ravel_multi_index(i, shape)) for i in self.indices]
        lines, codes = _cse(self._run_exprs, dict(self._names), "x", sp, scalar=True)
        if not lanes:
            index, head, indent = (lambda k: str(k)), ["def run(t, A, H, out):"], "    "  # noqa: E731
        else:
            index = lambda k: f"{k * lanes} + l"  # noqa: E731
            head, indent = (
                ["def run(T, A, H, out):", f"    for l in range({lanes}):", "        t = T[l]"],
                "        ",
            )
        reads = [f"a{j} = A[{index(j)}]" for j in self._read_amounts]
        body = [*(f"h{k} = H[{index(k)}]" for k in range(self.n_static)), *reads, *(x.strip() for x in lines)]
        body += [f"out[{index(k)}] = 0.0" for k in range(int(np.prod(shape))) if k not in flat]
        body += [f"out[{index(k)}] = {code}" for k, code in zip(flat, codes)]
        return "\n".join([*head, *(indent + x for x in body)])


def _cse(exprs, names, prefix, sp, scalar=False):
    """Assignments of the common subexpressions (named prefix0, ...) and the reduced codes
    (numpy's, or the scalar dialect's)."""
    replacements, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(cls=sp.Dummy)) if exprs else ([], [])
    # a reciprocal of one name goes back in place: x / y is one rounding, x * (1 / y) two
    inline = {d: e for d, e in replacements if e.is_Pow and e.exp == -1 and e.base.is_Atom}
    lines: list[str] = []
    for d, e in replacements:
        if d not in inline:
            names[d] = f"{prefix}{len(lines)}"
            lines.append(f"    {names[d]} = {_code(e.xreplace(inline), names, scalar)}")
    return lines, [_code(e.xreplace(inline), names, scalar) for e in reduced]


def _hoist(e, dynamic, table, sp):
    """e with its static parts (free of `dynamic`, with symbols) replaced by dummies in `table`."""
    if type(e).__name__ == "ExprCondPair":  # a pair stays a pair (where(t < 100, CL / V, ...))
        value, cond = e.args
        if cond.free_symbols & dynamic:
            cond = _hoist(cond, dynamic, table, sp)
        elif cond.free_symbols:  # a static condition (where(V < 1, ...)): a static 1 or 0, tested
            flag = sp.Piecewise((1, cond), (0, True))
            if flag not in table:
                table[flag] = sp.Dummy(real=True)
            cond = sp.Ne(table[flag], 0)
        return e.func(_hoist(value, dynamic, table, sp), cond)
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


def _code(e, names, scalar=False) -> str:
    """Python source computing e with numpy (on arrays, or on floats: `scalar`), names from `names`."""
    import sympy as sp

    f = (lambda name: _SCALAR.get(name, name)) if scalar else (lambda name: name)  # noqa: E731
    if e in names:
        return names[e]
    if e is sp.true or e is sp.false:
        return str(bool(e))
    if e.is_Number or isinstance(e, sp.NumberSymbol):
        return _number(e)
    c = lambda x: _code(x, names, scalar)  # noqa: E731
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
            return f"{f('np.sqrt')}({base})"
        if exp == -1:
            return f"(1.0 / {base})"
        if exp == sp.Rational(-1, 2):
            return f"(1.0 / {f('np.sqrt')}({base}))"
        return f"({base} ** {c(exp)})"
    if isinstance(e, sp.Piecewise):
        code = "np.nan"
        for value, cond in reversed(e.args):
            if cond is sp.true:
                code = c(value)
            elif scalar:
                code = f"({c(value)} if {c(cond)} else {code})"
            else:
                code = f"np.where({c(cond)}, {c(value)}, {code})"
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
        return f"{f(_FUNCTIONS[name])}({c(e.args[0])})"
    if name == "Heaviside":
        x, at_zero = c(e.args[0]), _number(e.args[1]) if len(e.args) > 1 else "0.5"
        if scalar:  # np.heaviside's values, NaN for NaN
            return f"(0.0 if {x} < 0 else (1.0 if {x} > 0 else ({at_zero} if {x} == 0 else {x})))"
        return f"np.heaviside({x}, {at_zero})"
    raise NotImplementedError(f"cannot write {name} ({e}) as numpy code")
