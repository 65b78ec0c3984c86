"""The model language compiled: vectorised numpy, exact Jacobians, linearity.

`compile_system(system)` turns a checked `System` (pkmodel.model.expressions) into
numpy functions over a cohort. sympy (imported here, on the first compile:
`import pkmodel` never loads it) takes each expression, with the derived
names substituted, differentiates it exactly and decides linearity as
pharmpy's `has_linear_odes` does (`pkmodel.model.symbolic`): linear when the right-hand
side is affine in the amounts with coefficients free of the amounts and t. The generated code
splits every expression into what depends only on parameters and covariates
(computed once per `bind`) and the rest (a few numpy operations per term on
each call); it is written from sympy's tree with names of its own, never from
the user's text.
"""

import ast
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from .._checks import numbers, refuse_first
from ._codegen import _Program
from .expressions import TIME, Expression, System
from .symbolic import derivative, nonlinearity, terms, to_sympy, used_names

# dose modifier: (bad values, expectation)
_MODIFIER_CHECKS = {
    "F": (lambda v: ~(np.isfinite(v) & (v >= 0)), "a finite fraction >= 0"),
    "lag": (lambda v: ~(np.isfinite(v) & (v >= 0)), "a finite number >= 0 (h)"),
    "rate": (lambda v: ~(np.isfinite(v) & (v > 0)), "a finite number > 0 (mg/h)"),
    "duration": (lambda v: ~(np.isfinite(v) & (v > 0)), "a finite number > 0 (h)"),
}
_DEFAULTS = {"F": 1.0, "lag": 0.0}


def compile_system(system: System) -> "CompiledSystem":
    """The system's right-hand side, Jacobian, outputs and dose modifiers as numpy functions."""
    if not isinstance(system, System):
        raise TypeError(f"compile_system takes a System; got {type(system).__name__}")
    return CompiledSystem(system)


@dataclass(frozen=True, eq=False)
class CompiledSystem:
    """A `System` in numpy. Arrays are per subject: parameters and covariates (n,),
    amounts (n, m) in mg for the m compartments in order, t in h.

    is_linear : dx/dt = K x + b with K (1/h) and b (mg/h) free of the amounts and t.
    nonlinear_reason : None when linear; else the first equation and term that is not.
    output_reasons : per output, None when it is a row times the amounts, else why not.
    """

    system: System
    is_linear: bool = field(init=False)
    nonlinear_reason: str | None = field(init=False)
    output_reasons: Mapping[str, str | None] = field(init=False, repr=False)
    # sympy's view, set once in __post_init__: symbols by name, names (derived ones substituted),
    # the amounts' symbols in order, each equation by key, the parameters and covariates used
    _sym: dict[str, Any] = field(init=False, repr=False)
    _env: dict[str, Any] = field(init=False, repr=False)
    _amounts: list[Any] = field(init=False, repr=False)
    _exprs: dict[str, Any] = field(init=False, repr=False)
    _uses: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self):
        import sympy as sp

        s = self.system
        sym = {n: sp.Symbol(n, real=True) for n in (*s.compartments, *s.parameters, *s.covariates, TIME)}
        env, exprs = dict(sym), {}
        for key, e in s.expressions.items():  # derived first, in order: each sees those above
            value = to_sympy(e.tree, env)
            if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
                raise ValueError(
                    f"{e.where}: {e.text!r} is {value} (a division by zero); "
                    "expected an expression with a finite value"
                )
            if key.startswith("derived."):
                env[key.split(".", 1)[1]] = value
            else:
                exprs[key] = value
        amounts = [sym[c] for c in s.compartments]
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        put("_sym", sym)
        put("_env", env)
        put("_amounts", amounts)
        put("_exprs", exprs)
        put("_uses", used_names(exprs.values(), s))
        odes = [exprs[f"odes.{c}"] for c in s.compartments]
        bad = [c for c, f in zip(s.compartments, odes) if nonlinearity(f, amounts, sym[TIME], False)]
        put("is_linear", not bad)
        put("nonlinear_reason", self._explain(f"odes.{bad[0]}", False) if bad else None)
        put(
            "output_reasons",
            MappingProxyType(
                {
                    name: self._explain(f"outputs.{name}", True)
                    if nonlinearity(exprs[f"outputs.{name}"], amounts, sym[TIME], True)
                    else None
                    for name in s.outputs
                }
            ),
        )

    @property
    def linear_outputs(self) -> tuple[str, ...]:
        """Outputs that are a row times the amounts (see `output_row`)."""
        return tuple(n for n, r in self.output_reasons.items() if r is None)

    def _explain(self, key: str, zero_offset: bool) -> str:
        """The first top-level term of an equation that is not linear, and why."""
        expr: Expression = self.system.expressions[key]
        for node in terms(expr.tree):
            problem = nonlinearity(to_sympy(node, self._env), self._amounts, self._sym[TIME], zero_offset)
            if problem:
                head, detail, culprit = problem
                used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                via = sorted(
                    n for n in used if n in self.system.derived and culprit in self.system.dynamic[n]
                )
                detail += f", through {', '.join(via)}" if via else ""
                return f"{expr.where}: {expr.segment(node)} {head} ({detail})"
        return f"{expr.where}: {expr.text} is not linear in the amounts"

    # --- programs, compiled on first use ---------------------------------------------

    def _program(self, slots) -> "_Program":
        return _Program(slots, self.system, self._sym)

    @cached_property
    def _rhs(self):
        import sympy as sp

        # terms in one amount together: ka*depot - CL/V*central - Q/V*central is two products
        return self._program(
            [
                ((j,), sp.collect(self._exprs[f"odes.{c}"], self._amounts))
                for j, c in enumerate(self.system.compartments)
            ]
        )

    @cached_property
    def _jac(self):
        odes = [self._exprs[f"odes.{c}"] for c in self.system.compartments]
        return self._program(
            [((i, j), derivative(f, x)) for i, f in enumerate(odes) for j, x in enumerate(self._amounts)]
        )

    @cached_property
    def _out(self):
        return self._program([((k,), self._exprs[f"outputs.{n}"]) for k, n in enumerate(self.system.outputs)])

    @cached_property
    def _dosing(self):
        keys = [(c, m) for c, table in self.system.dosing.items() for m in table]
        return keys, self._program([((k,), self._exprs[f"dosing.{c}.{m}"]) for k, (c, m) in enumerate(keys)])

    @cached_property
    def _input(self):
        zero = {x: 0 for x in self._amounts}
        return self._program(
            [((j,), self._exprs[f"odes.{c}"].subs(zero)) for j, c in enumerate(self.system.compartments)]
        )

    @cached_property
    def _rows(self):
        import sympy as sp

        names = self.linear_outputs
        return names, self._program(
            [
                ((k, j), sp.diff(self._exprs[f"outputs.{n}"], x))
                for k, n in enumerate(names)
                for j, x in enumerate(self._amounts)
            ]
        )

    def lane_sources(self, lanes: int) -> tuple[str, str]:
        """The right-hand side and the Jacobian for `lanes` subjects at once, lane-major
        (`_Program.scalar_source`): out (m, lanes) and (m * m, lanes), row-major; their static
        parts are `BoundSystem.static_parts`'."""
        m = len(self.system.compartments)
        return self._rhs.scalar_source((m,), lanes), self._jac.scalar_source((m, m), lanes)

    # --- evaluation ---------------------------------------------------------------

    def bind(self, params, covariates=None) -> "BoundSystem":
        """The system for these subjects: rhs, jacobian and outputs of (t, amounts) only.

        params, covariates : {name: ndarray (n,)}; the names the expressions use are required.
        """
        return BoundSystem(self, params, covariates)

    def rhs(self, t, amounts, params, covariates=None) -> np.ndarray:
        """d(amounts)/dt, shape (n, m), mg/h."""
        return self.bind(params, covariates).rhs(t, amounts)

    def jacobian(self, t, amounts, params, covariates=None) -> np.ndarray:
        """d rhs_i / d amount_j, shape (n, m, m), 1/h; exact (symbolic)."""
        return self.bind(params, covariates).jacobian(t, amounts)

    def outputs(self, t, amounts, params, covariates=None) -> dict[str, np.ndarray]:
        """Every output, shape (n,) for amounts (n, m), or (n, k) for amounts (n, k, m) at times t (k,)."""
        return self.bind(params, covariates).outputs(t, amounts)

    def dose_modifiers(self, params, covariates=None) -> dict[str, dict[str, np.ndarray]]:
        """Per compartment: F (fraction) and lag (h), 1 and 0 where not written, and rate
        (mg/h), duration (h) where written; each shape (n,). Values out of range are refused."""
        b = self.bind(params, covariates)
        keys, program = self._dosing
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # refused just below
            values = b._run(program, None, None, (len(keys),))
        n = values.shape[0]
        out = {c: {m: np.full(n, v) for m, v in _DEFAULTS.items()} for c in self.system.compartments}
        for k, (c, m) in enumerate(keys):
            bad, expected = _MODIFIER_CHECKS[m]
            refuse_first(bad(values[:, k]), f"{self.system.where}: dosing.{c}.{m}", values[:, k], expected)
            out[c][m] = values[:, k].copy()
        return out

    def _linear(self, what: str) -> None:
        if not self.is_linear:
            raise ValueError(
                f"{what}: the system is nonlinear ({self.nonlinear_reason}); a rate "
                "matrix and input exist only for a linear system"
            )

    def rate_matrix(self, params, covariates=None) -> np.ndarray:
        """K, shape (n, m, m), 1/h: dx/dt = K x + b. Refused for a nonlinear system."""
        self._linear("rate_matrix")
        b = self.bind(params, covariates)
        return b.jacobian(0.0, np.zeros((b.n or 1, b.m)))

    def input_rate(self, params, covariates=None) -> np.ndarray:
        """b, shape (n, m), mg/h: the part of the rhs free of the amounts (zero where none)."""
        self._linear("input_rate")
        b = self.bind(params, covariates)
        return b._run(self._input, None, None, (len(self._amounts),))

    def output_row(self, name: str, params, covariates=None) -> np.ndarray:
        """c, shape (n, m): output = sum_j c_j amount_j. Refused for an output that is not."""
        if name not in self.output_reasons:
            raise ValueError(
                f"output_row: {name!r} is not an output; expected one of {list(self.output_reasons)}"
            )
        if self.output_reasons[name]:
            raise ValueError(
                f"output_row: output {name!r} is not linear in the amounts ({self.output_reasons[name]})"
            )
        names, program = self._rows
        b = self.bind(params, covariates)
        return b._run(program, None, None, (len(names), len(self._amounts)))[:, names.index(name)]


class BoundSystem:
    """A compiled system for given subjects: the parts free of amounts and t computed once.

    `rhs`, `jacobian` and `outputs` take amounts (n, m); the `*_by_compartment` forms take
    and return compartment-major arrays, amounts (m, n), the layout where every numpy
    operation runs on contiguous memory (2-4x faster; for an ode engine's stacked state).
    """

    def __init__(self, compiled: CompiledSystem, params, covariates):
        s = compiled.system
        self.compiled = compiled
        self._h: dict[int, tuple] = {}  # each program's static parts, by id(program)
        self._p, n = _columns("params", params, s.parameters, compiled._uses, None)
        self._c, n = _columns("covariates", covariates, s.covariates, compiled._uses, n)
        self.n: int | None = n  # None when the system uses no parameter or covariate: any number
        self.m = len(s.compartments)
        self._parent: BoundSystem | None = None  # a subset's: the system it was taken from,
        self._index: np.ndarray | None = None  # at these positions

    def subset(self, index: np.ndarray) -> "BoundSystem":
        """The system for the subjects at positions `index`, shape (k,), without binding again:
        its static parts are this one's, taken at `index` (the same numbers)."""
        out = object.__new__(BoundSystem)
        out.compiled, out.m, out._h = self.compiled, self.m, {}
        out._p = tuple(None if v is None else v[index] for v in self._p)
        out._c = tuple(None if v is None else v[index] for v in self._c)
        out.n = None if self.n is None else int(np.size(index))
        out._parent, out._index = self, index
        return out

    def _static(self, program: "_Program"):
        h = self._h.get(id(program))
        if h is None:
            if self._parent is not None:
                assert self._index is not None  # set with _parent, in subset()
                h = tuple(v[self._index] if np.ndim(v) else v for v in self._parent._static(program))
            else:
                h = program.setup(self._p, self._c)
            self._h[id(program)] = h
        return h

    def static_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """The static parts of the right-hand side and of the Jacobian, each (n, n_static), in
        the order `CompiledSystem.lane_sources` reads them (H[k])."""
        n = self.n or 1
        return tuple(  # type: ignore[return-value]
            np.stack([np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in self._static(p)], axis=1)
            if p.n_static
            else np.zeros((n, 0))
            for p in (self.compiled._rhs, self.compiled._jac)
        )

    def _run(self, program: "_Program", t, amounts, shape) -> np.ndarray:
        """out (n, *shape) from amounts (n, m) or None; through slot-major views."""
        n = amounts.shape[0] if amounts is not None else self.n or 1
        out = np.zeros((n, *shape))
        view = np.moveaxis(out, 0, -1)
        program.run(t, None if amounts is None else amounts.T, self._static(program), view)
        return out

    def _check(self, amounts, by_compartment=False, ndims=(2,)) -> np.ndarray:
        amounts = np.asarray(amounts, dtype=float)
        n = (
            self.n
            if self.n is not None
            else (amounts.shape[1 if by_compartment else 0] if amounts.ndim else None)
        )
        if by_compartment:
            ok, want = amounts.shape == (self.m, n), f"({self.m}, {n})"
        else:
            ok = amounts.ndim in ndims and amounts.shape[0] == n and amounts.shape[-1] == self.m
            want = " or ".join(f"({n}, {self.m})" if d == 2 else f"({n}, n_times, {self.m})" for d in ndims)
        if not ok:
            raise ValueError(f"amounts has shape {amounts.shape}; expected {want}")
        return amounts

    def rhs(self, t, amounts) -> np.ndarray:
        """d(amounts)/dt, shape (n, m), mg/h, for amounts (n, m) in mg at time t (h)."""
        amounts = self._check(amounts)
        return self._run(self.compiled._rhs, t, amounts, (self.m,))

    def jacobian(self, t, amounts) -> np.ndarray:
        """d rhs_i / d amount_j, shape (n, m, m), 1/h."""
        amounts = self._check(amounts)
        return self._run(self.compiled._jac, t, amounts, (self.m, self.m))

    def rhs_by_compartment(self, t, amounts) -> np.ndarray:
        """d(amounts)/dt, shape (m, n), mg/h, for amounts (m, n)."""
        amounts = self._check(amounts, by_compartment=True)
        out = np.zeros(amounts.shape)
        program = self.compiled._rhs
        program.run(t, amounts, self._static(program), out)
        return out

    def jacobian_by_compartment(self, t, amounts) -> np.ndarray:
        """d rhs_i / d amount_j, shape (m, m, n), 1/h, for amounts (m, n)."""
        amounts = self._check(amounts, by_compartment=True)
        out = np.zeros((self.m, *amounts.shape))
        program = self.compiled._jac
        program.run(t, amounts, self._static(program), out)
        return out

    def outputs(self, t, amounts) -> dict[str, np.ndarray]:
        """Every output: shape (n,) for amounts (n, m) at time t (h), or (n, k) for
        amounts (n, k, m) at times t, shape (k,)."""
        names = list(self.compiled.system.outputs)
        amounts = self._check(amounts, ndims=(2, 3))
        program = self.compiled._out
        h = self._static(program)
        if amounts.ndim == 3:  # parameters as (n, 1) against (n, k)
            h = tuple(v[:, None] for v in h)
        out = np.zeros((*amounts.shape[:-1], len(names)))
        program.run(t, np.moveaxis(amounts, -1, 0), h, np.moveaxis(out, -1, 0))
        return {name: out[..., k] for k, name in enumerate(names)}


def _columns(label, given, names, uses, n):
    """The arrays the system uses, as a tuple in `names` order (None where unused)."""
    given = {} if given is None else given
    missing = [k for k in names if k in uses and k not in given]
    if missing:
        raise ValueError(f"{label}: {missing} missing; the system uses {[k for k in names if k in uses]}")
    out: list[np.ndarray | None] = []
    for k in names:
        if k not in uses:
            out.append(None)
            continue
        v = numbers(f"{label}[{k!r}]", given[k])
        if v.ndim != 1 or (n is not None and v.shape[0] != n):
            raise ValueError(
                f"{label}[{k!r}] has shape {np.shape(given[k])}; expected "
                f"(n_subjects,){f' = ({n},)' if n is not None else ''}"
            )
        n = v.shape[0]
        out.append(v)
    return tuple(out), n
