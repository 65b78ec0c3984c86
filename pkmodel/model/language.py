"""The model language's expressions: parsed with Python's `ast` under a whitelist, never evaluated.

Numbers, names, ``+ - * / **``, unary minus, the functions ``exp log sqrt abs min max``,
comparisons and ``where(cond, a, b)``; constant parts are folded and refused unless finite.
Names are not resolved here (`pkmodel.model.expressions.System` does that). Errors name where
(file and section), the expression and the column.
"""

import ast
import difflib
import math
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, NoReturn

MAX_LENGTH = 2000  # characters in one expression
MAX_DEPTH = 100  # nesting of its syntax tree (bounds every recursion after parsing)
MAX_EXPONENT = 1000  # |a constant exponent|: 10 ** 10 ** 10 is refused, not computed
TIME = "t"  # time since the start, h
# name: (fewest, most) arguments; None = any number
FUNCTIONS = MappingProxyType(
    {
        "exp": (1, 1),
        "log": (1, 1),
        "sqrt": (1, 1),
        "abs": (1, 1),
        "min": (2, None),
        "max": (2, None),
        "where": (3, 3),
    }
)
MODIFIERS = ("F", "lag", "rate", "duration")  # NONMEM's F1, ALAG1, R1, D1
RESERVED = frozenset(FUNCTIONS) | {TIME}

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}
_CONSTANT_FUNCTIONS: dict[str, Callable[..., float]] = {
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
    "min": min,
    "max": max,
    "where": lambda c, a, b: a if c else b,
}
_REFUSED = {  # syntax Python has and the language does not: what to write instead
    ast.IfExp: ("a conditional 'a if c else b'", "where(c, a, b)"),
    ast.BoolOp: ("'and'/'or'", "a chained comparison (0 < t < 24) or nested where()"),
    ast.Attribute: ("attribute access", "a plain name"),
    ast.Subscript: ("a subscript", "a plain name"),
    ast.Lambda: ("a lambda", "an expression"),
    ast.NamedExpr: ("an assignment ':='", "an expression (name it in [derived])"),
    ast.Starred: ("a starred argument", "the arguments written out"),
}
_OP_NAMES = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Not: "not",
    ast.Invert: "~",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


class ExpressionError(ValueError):
    """An expression refused: `where` (file and section), `text`, `column` (1-based)."""

    def __init__(
        self, where: str, text: str, position: tuple[int, int], problem: str, expected: str | None = None
    ):
        line, column = position
        self.where, self.text, self.line, self.column = where, text, line, column
        at = f"line {line}, column {column}" if "\n" in text else f"column {column}"
        shown = text if len(text) <= 200 else text[:190] + "..."
        super().__init__(
            f"{where}: {problem} at {at} of {shown!r}" + (f"; expected {expected}" if expected else "")
        )


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression.

    names : every name it uses, in order, with its (line, column), 1-based.
    constant : its value when it uses no names, else None.
    """

    text: str
    where: str
    tree: ast.expr = field(repr=False, compare=False)
    names: tuple[tuple[str, tuple[int, int]], ...] = field(repr=False)
    constant: float | None = None
    offset: int = field(default=0, repr=False)  # leading blanks removed before parsing

    def position(self, node: ast.expr) -> tuple[int, int]:
        """(line, column) of a node, 1-based, in `text`."""
        return node.lineno, node.col_offset + 1 + (self.offset if node.lineno == 1 else 0)

    def segment(self, node: ast.AST) -> str:
        """The source text of a node."""
        return ast.get_source_segment(self.text[self.offset :], node) or self.text

    def fail(self, position: tuple[int, int], problem: str, expected: str | None = None) -> NoReturn:
        raise ExpressionError(self.where, self.text, position, problem, expected)


def parse_expression(text, where: str) -> Expression:
    """Parse and check one expression of the model language (names are not resolved here)."""
    if not isinstance(text, str):
        hint = f', e.g. "{text}"' if isinstance(text, (int, float)) and not isinstance(text, bool) else ""
        raise ValueError(f"{where} is {text!r} ({type(text).__name__}); expected an expression as text{hint}")
    for i, ch in enumerate(text):
        if not ch.isascii():
            raise ExpressionError(where, text, (1, i + 1), f"character {ch!r}", "ASCII text")
    if not text.strip():
        raise ValueError(f"{where} is {text!r}; expected an expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            where,
            text,
            (1, MAX_LENGTH + 1),
            f"expression of {len(text)} characters",
            f"at most {MAX_LENGTH} (name intermediates in [derived])",
        )
    offset = len(text) - len(text.lstrip(" \t"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings about literals
            tree = ast.parse(text[offset:], mode="eval").body
    except SyntaxError as e:
        line = e.lineno or 1
        # offset 0: the text ended where more was expected
        lines = text[offset:].split("\n")
        col = e.offset or len(lines[min(line, len(lines)) - 1]) + 1
        col += offset if line == 1 else 0
        raise ExpressionError(where, text, (line, col), f"syntax error ({e.msg})") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            where, text, (1, 1), "nesting too deep to parse", f"at most {MAX_DEPTH} levels"
        ) from None
    expr = Expression(text, where, tree, (), None, offset)
    names: list = []
    kind, value = _check(expr, tree, names, 0)
    if kind != "number":
        expr.fail(
            expr.position(tree),
            "a comparison used as a number",
            "a number (comparisons go in where(cond, a, b))",
        )
    return Expression(text, where, tree, tuple(names), value, offset)


def _check(expr: Expression, node: ast.expr, names: list, depth: int) -> tuple[str, float | None]:
    """(kind, constant value or None); kind is 'number' or 'condition'. Raises on anything else."""
    at = expr.position(node) if hasattr(node, "lineno") else (1, 1)
    if depth > MAX_DEPTH:
        expr.fail(at, "nesting too deep", f"at most {MAX_DEPTH} levels (name parts in [derived])")
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            what = "text (a string)" if isinstance(v, (str, bytes)) else repr(v)
            expr.fail(at, f"{what} is not a number", "a number or a name")
        number: int | float = v
        return "number", _fold(expr, node, lambda: float(number))
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            expr.fail(at, f"function {node.id!r} used as a value", f"a call {node.id}(...)")
        names.append((node.id, at))
        return "number", None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        value = _number(expr, node.operand, names, depth)
        return "number", None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        a, b = (_number(expr, n, names, depth) for n in (node.left, node.right))
        if isinstance(node.op, ast.Pow) and b is not None and abs(b) > MAX_EXPONENT:
            expr.fail(expr.position(node.right), f"exponent {b:g}", f"|exponent| <= {MAX_EXPONENT}")
        if a is None or b is None:
            return "number", None
        ops = {
            ast.Add: lambda: a + b,
            ast.Sub: lambda: a - b,
            ast.Mult: lambda: a * b,
            ast.Div: lambda: a / b,
            ast.Pow: lambda: math.pow(a, b),
        }
        return "number", _fold(expr, node, ops[type(node.op)])
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                expr.fail(
                    at, f"operator {_OP_NAMES.get(type(op), type(op).__name__)!r}", "one of < <= > >= == !="
                )
        values = [_number(expr, n, names, depth) for n in (node.left, *node.comparators)]
        known = [v for v in values if v is not None]
        if len(known) < len(values):
            return "condition", None
        return "condition", float(all(_compare(op, x, y) for op, x, y in zip(node.ops, known, known[1:])))
    if isinstance(node, ast.Call):
        return "number", _call(expr, node, names, depth)
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        symbol = _OP_NAMES.get(type(node.op), type(node.op).__name__)
        expr.fail(at, f"operator {symbol!r}", "one of + - * / ** and unary -")
    if type(node) in _REFUSED:
        what, instead = _REFUSED[type(node)]
        expr.fail(at, f"{what} is not in the language", instead)
    expr.fail(
        at,
        f"{expr.segment(node)!r} ({type(node).__name__}) is not in the language",
        "numbers, names, + - * / **, exp log sqrt abs min max, comparisons, where()",
    )


def _number(expr: Expression, node: ast.expr, names: list, depth: int) -> float | None:
    kind, value = _check(expr, node, names, depth + 1)
    if kind != "number":
        expr.fail(
            expr.position(node),
            "a comparison used as a number",
            "a number (comparisons go in where(cond, a, b))",
        )
    return value


def _call(expr: Expression, node: ast.Call, names: list, depth: int) -> float | None:
    at = expr.position(node)
    if not isinstance(node.func, ast.Name):
        if isinstance(node.func, ast.Attribute):
            expr.fail(at, "attribute access is not in the language", f"one of {list(FUNCTIONS)}")
        expr.fail(at, f"a call of {expr.segment(node.func)!r}", f"one of {list(FUNCTIONS)}")
    name = node.func.id
    if name not in FUNCTIONS:
        close = difflib.get_close_matches(name, FUNCTIONS, n=1)
        expr.fail(
            at,
            f"unknown function {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
            f"one of {list(FUNCTIONS)}",
        )
    if node.keywords:
        expr.fail(at, f"keyword argument in {name}()", "arguments by position")
    low, high = FUNCTIONS[name]
    n = len(node.args)
    if n < low or (high is not None and n > high):
        want = f"{low}" if low == high else f"at least {low}"
        expr.fail(at, f"{name}() with {n} argument{'s' * (n != 1)}", f"{want}")
    values = []
    for i, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            _check(expr, arg, names, depth + 1)
        if name == "where" and i == 0:
            kind, value = _check(expr, arg, names, depth + 1)
            if kind != "condition":
                expr.fail(
                    expr.position(arg),
                    "where() condition is not a comparison",
                    "where(a < b, then, otherwise)",
                )
            values.append(value)
        else:
            values.append(_number(expr, arg, names, depth))
    known = [v for v in values if v is not None]
    if len(known) < len(values):
        return None
    return _fold(expr, node, lambda: float(_CONSTANT_FUNCTIONS[name](*known)))


def _compare(op: ast.cmpop, x: float, y: float) -> bool:
    return {
        ast.Lt: x < y,
        ast.LtE: x <= y,
        ast.Gt: x > y,
        ast.GtE: x >= y,
        ast.Eq: x == y,
        ast.NotEq: x != y,
    }[type(op)]


def _fold(expr: Expression, node: ast.expr, compute: Callable[[], float]) -> float:
    """A constant part's value, refused unless a finite real number."""
    try:
        value = compute()
    except (ArithmeticError, ValueError) as e:
        value, why = math.nan, str(e)
    else:
        why = "overflow"
    if not (isinstance(value, float) and math.isfinite(value)):
        expr.fail(
            expr.position(node),
            f"the constant {expr.segment(node)!r} is not a finite number ({why})",
            "a finite real number",
        )
    return value
