"""The model language: parsing under a whitelist, and the checks of a System.

Every malformed text is refused naming where, the expression and the column;
these rows join the input audit when the language is wired into load_model.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkmodel.model.expressions import MAX_DEPTH, MAX_LENGTH, ExpressionError, System, parse_expression
from pkmodel.model.structures import Structure

WHERE = "m.toml: odes.central"


def test_names_are_recorded_in_order_with_their_1_based_columns():
    e = parse_expression("ka * depot - CL / V * central", WHERE)
    assert e.names == (
        ("ka", (1, 1)),
        ("depot", (1, 6)),
        ("CL", (1, 14)),
        ("V", (1, 19)),
        ("central", (1, 23)),
    )
    assert e.constant is None


def test_constant_parts_are_folded_to_their_value():
    # (1 + 2) * 3 ** 2 / 4 = 6.75 exactly; where() with a constant condition picks a branch
    assert parse_expression("(1 + 2) * 3 ** 2 / 4", WHERE).constant == 6.75
    assert parse_expression("where(1 < 2 < 3, 5, 7)", WHERE).constant == 5.0
    assert parse_expression("max(1, exp(0), -2)", WHERE).constant == 1.0
    assert parse_expression("sqrt(2)", WHERE).constant == math.sqrt(2)


def test_leading_blanks_and_line_breaks_inside_parentheses_are_allowed():
    e = parse_expression("  ka * depot", WHERE)
    assert e.names[0] == ("ka", (1, 3))
    e = parse_expression("(ka * depot\n - CL)", WHERE)
    assert e.names[-1] == ("CL", (2, 4))


MALFORMED = [
    # (text, the message's problem, the column it names)
    ("central *", r"syntax error \(invalid syntax\)", 10),
    ("ka * (depot", r"syntax error \('\(' was never closed\)", 6),
    ("2 3", r"syntax error \(invalid syntax", 3),
    ("x = 1", r"syntax error", None),
    ("import os", r"syntax error", None),
    ("ka*depot; CL", r"syntax error", None),
    ("np.exp(x)", r"attribute access is not in the language", 1),
    ("x.real", r"attribute access is not in the language", 1),
    ("foo(x)", r"unknown function 'foo'", 1),
    ("ka * exx(x)", r"unknown function 'exx' \(did you mean 'exp'\?\)", 6),
    ("__import__('os')", r"unknown function '__import__'", 1),
    ("(lambda: 1)()", r"a call of 'lambda: 1'", 1),
    ("lambda: 1", r"a lambda is not in the language", 1),
    ("x[0]", r"a subscript is not in the language", 1),
    ("'text'", r"text \(a string\) is not a number", 1),
    ("1 + b'x'", r"text \(a string\) is not a number", 5),
    ("f'{x}'", r".*\(JoinedStr\) is not in the language", 1),
    ("[1, 2]", r".*\(List\) is not in the language", 1),
    ("{1: 2}", r".*\(Dict\) is not in the language", 1),
    ("(1, 2)", r".*\(Tuple\) is not in the language", 1),
    ("x if t > 1 else y", r"a conditional 'a if c else b' is not in the language.*where\(c, a, b\)", 1),
    ("t > 1 and t < 2", r"'and'/'or' is not in the language", 1),
    ("not t", r"operator 'not'", 1),
    ("~x", r"operator '~'", 1),
    ("a // b", r"operator '//'", 1),
    ("a % b", r"operator '%'", 1),
    ("a @ b", r"operator '@'", 1),
    ("a ^ b", r"operator '\^'", 1),
    ("a is b", r"operator 'is'", 1),
    ("a in b", r"operator 'in'", 1),
    ("(y := 1)", r"an assignment ':=' is not in the language", 2),
    ("max(*x, 1)", r"a starred argument is not in the language", 5),
    ("exp(x, base=2)", r"keyword argument in exp\(\)", 1),
    ("exp(x, y)", r"exp\(\) with 2 arguments.*expected 1", 1),
    ("log()", r"log\(\) with 0 arguments.*expected 1", 1),
    ("min(x)", r"min\(\) with 1 argument.*expected at least 2", 1),
    ("where(t > 1, 1)", r"where\(\) with 2 arguments.*expected 3", 1),
    ("where(t, 1, 2)", r"where\(\) condition is not a comparison", 7),
    ("t > 1", r"a comparison used as a number", 1),
    ("ka * (t > 1)", r"a comparison used as a number", 7),
    ("where(t > 1, t < 2, 0)", r"a comparison used as a number", 14),
    ("exp + 1", r"function 'exp' used as a value.*a call exp\(\.\.\.\)", 1),
    ("True", r"True is not a number", 1),
    ("None", r"None is not a number", 1),
    ("2j", r"2j is not a number", 1),
    ("1 / 0", r"the constant '1 / 0' is not a finite number \(float division by zero\)", 1),
    ("ka * log(0)", r"the constant 'log\(0\)' is not a finite number", 6),
    ("sqrt(-1)", r"the constant 'sqrt\(-1\)' is not a finite number", 1),
    ("(-8) ** (1 / 3)", r"the constant .* is not a finite number", 1),
    ("exp(1000)", r"the constant 'exp\(1000\)' is not a finite number", 1),
    ("1e999", r"the constant '1e999' is not a finite number", 1),
    ("1e308 * 10", r"the constant .* is not a finite number \(overflow\)", 1),
    ("10 ** 10 ** 10", r"exponent 1e\+10.*expected \|exponent\| <= 1000", 7),
    ("C ** 5000", r"exponent 5000", 6),
    ("C ** -2000", r"exponent -2000", 6),
    ("1" * 400, r"the constant .* is not a finite number", 1),
    ("ka * µ", r"character 'µ'.*expected ASCII text", 6),
]


@pytest.mark.parametrize("text, problem, column", MALFORMED)
def test_malformed_text_is_refused_naming_where_problem_column_and_text(text, problem, column):
    with pytest.raises(ExpressionError, match=rf"^m\.toml: odes\.central: {problem}") as info:
        parse_expression(text, WHERE)
    err = info.value
    assert err.where == WHERE and err.text == text
    if column is not None:
        assert err.column == column
        assert f"at column {column} of " in str(err)


def test_a_syntax_error_on_a_second_line_names_the_line():
    with pytest.raises(ExpressionError, match=r"syntax error .* at line 2, column 3 of"):
        parse_expression("(ka\n+ * depot)", WHERE)


@pytest.mark.parametrize("value, shown", [(0.8, "0.8"), (3, "3"), (None, "None"), (["x"], "['x']")])
def test_an_expression_that_is_not_text_is_refused(value, shown):
    with pytest.raises(
        ValueError,
        match=rf"odes\.central is {shown!s}.*; expected an expression as text".replace("[", r"\[").replace(
            "]", r"\]"
        ),
    ):
        parse_expression(value, WHERE)


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_an_empty_expression_is_refused(text):
    with pytest.raises(ValueError, match=r"odes\.central is .*; expected an expression$"):
        parse_expression(text, WHERE)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("-" * (MAX_LENGTH - 1) + "1", "nesting too deep"),  # unary chain
        ("+".join(["x"] * 500), "nesting too deep"),  # a sum is a left-deep tree
        ("exp(" * 150 + "x" + ")" * 150, "nesting too deep"),
        ("(" * 1000 + "x" + ")" * 1000, "syntax error|expression of"),  # parser's own limit or ours
        ("x + " * 600 + "x", f"expression of {4 * 600 + 1} characters"),
    ],
)
def test_huge_or_deep_expressions_are_refused_without_recursion_or_memory_errors(text, problem):
    with pytest.raises(ExpressionError, match=problem) as info:
        parse_expression(text, WHERE)
    assert len(str(info.value)) < 600  # the message shows a cut of the text, not all of it


def test_nesting_up_to_the_limit_is_accepted():
    depth = MAX_DEPTH // 2
    e = parse_expression("exp(" * depth + "x" + ")" * depth, WHERE)
    assert e.names == (("x", (1, 4 * depth + 1)),)


# --- System ---------------------------------------------------------------------------

MM = dict(
    compartments=["depot", "central"],
    odes={"depot": "-ka * depot", "central": "ka * depot - VM * C / (KM + C)"},
    derived={"C": "central / V"},
    outputs={"conc": "C"},
    parameters=["ka", "VM", "KM", "V", "F1"],
    covariates=["WT"],
    where="mm.toml",
)


def system(**changes):
    return System(**{**MM, **changes})


def test_a_valid_system_keeps_its_sections_and_resolves_dependencies():
    s = system(dosing={"depot": {"F": "F1", "lag": "0.25"}})
    assert s.compartments == ("depot", "central") and s.dose_compartment == "depot"
    assert s.dynamic["C"] == {"central"} and s.dynamic["ka"] == set() and s.dynamic["t"] == {"t"}
    assert set(s.expressions) == {
        "derived.C",
        "odes.depot",
        "odes.central",
        "outputs.conc",
        "dosing.depot.F",
        "dosing.depot.lag",
    }
    assert s.expressions["odes.central"].where == "mm.toml: odes.central"
    with pytest.raises(TypeError):
        s.odes["depot"] = "0"  # read-only


def test_derived_names_depend_transitively_on_the_amounts_and_time():
    s = system(derived={"C": "central / V", "R": "KM * C", "G": "where(t < 1, R, 0)", "W": "WT / 70"})
    assert s.dynamic["R"] == {"central"} and s.dynamic["G"] == {"central", "t"}
    assert s.dynamic["W"] == set()


SYSTEM_ERRORS = [
    (
        dict(odes={"depot": "-ka * depot"}),
        r"mm\.toml: odes: compartment 'central' has no equation; expected one expression per compartment",
    ),
    (
        dict(odes={**MM["odes"], "periph": "0"}),
        r"mm\.toml: odes\.periph: 'periph' is not a compartment; expected one of model\.compartments "
        r"\['depot', 'central'\]",
    ),
    (
        dict(odes={"depot": "-ka * depot", "central": "ka * depot - VM * C / (KMM + C)"}),
        r"mm\.toml: odes\.central: unknown name 'KMM' \(did you mean 'KM'\?\) at column 24 of "
        r"'ka \* depot - VM \* C / \(KMM \+ C\)'; expected a parameter, covariate, compartment, t, "
        r"or a derived name defined above",
    ),
    (
        dict(derived={"CL": "VM / (KM + C)", "C": "central / V"}),
        r"mm\.toml: derived\.CL: 'C' is used before \[derived\] defines it at column 12",
    ),
    (dict(derived={"C": "C / V"}), r"mm\.toml: derived\.C: 'C' refers to itself at column 1"),
    (
        dict(derived={"C": "central / V", "V": "2"}),
        r"mm\.toml: derived\.V shadows the parameter 'V'; expected a new name",
    ),
    (dict(derived={"central": "1"}), r"derived\.central shadows the compartment 'central'"),
    (dict(derived={"C": "central / V", "WT": "1"}), r"derived\.WT shadows the covariate 'WT'"),
    (dict(derived={"t": "1"}), r"mm\.toml: derived\.t has 't', which the language reserves \(time, h\)"),
    (dict(derived={"C": "central / V", "2x": "1"}), r"derived\.2x has '2x'; expected a name"),
    (
        dict(outputs={"C": "C"}),
        r"mm\.toml: outputs has no 'conc'; expected conc = the concentration \(mg/L\)",
    ),
    (dict(outputs={"conc": "C", "my out": "central"}), r"mm\.toml: outputs has 'my out'; expected a name"),
    (dict(outputs={"conc": "C + X"}), r"mm\.toml: outputs\.conc: unknown name 'X' at column 5"),
    (
        dict(dosing={"gut": {"F": "1"}}),
        r"mm\.toml: dosing\.gut: 'gut' is not a compartment; expected one of model\.compartments",
    ),
    (
        dict(dosing={"depot": {"bioav": "1"}}),
        r"mm\.toml: dosing\.depot\.bioav is not a dose modifier; expected one of \['F', 'lag', 'rate', "
        r"'duration'\]",
    ),
    (dict(dosing={"depot": "F1"}), r"mm\.toml: dosing\.depot is 'F1'; expected a table of F, lag"),
    (
        dict(dosing={"depot": {"F": "central / 100"}}),
        r"mm\.toml: dosing\.depot\.F: 'central' in a dose modifier at column 1 .*; expected parameters, "
        r"covariates and derived names of those only",
    ),
    (
        dict(dosing={"central": {"lag": "C"}}),
        r"dosing\.central\.lag: 'C' \(which depends on \['central'\]\) in a dose modifier at column 1",
    ),
    (dict(dosing={"central": {"rate": "t * 2"}}), r"dosing\.central\.rate: 't' in a dose modifier"),
    (dict(dosing={"central": {"duration": "D2"}}), r"dosing\.central\.duration: unknown name 'D2'"),
    (
        dict(dose_compartment="gut"),
        r"mm\.toml: model\.dose_compartment is 'gut'; expected one of \['depot', 'central'\]",
    ),
    (
        dict(compartments=["depot", "central", "depot"]),
        r"mm\.toml: model\.compartments repeats \['depot'\]; expected each name once",
    ),
    (dict(compartments="depot"), r"mm\.toml: model\.compartments is 'depot'; expected a list of names"),
    (dict(compartments=[]), r"mm\.toml: model\.compartments is empty"),
    (
        dict(compartments=["depot", "central"], parameters=["ka", "VM", "KM", "V", "central"]),
        r"mm\.toml: 'central' is in both model\.compartments and parameters; expected each name in one",
    ),
    (dict(covariates=["WT", "V"]), r"'V' is in both parameters and covariates"),
    (
        dict(parameters=["ka", "VM", "KM", "V", "exp"]),
        r"mm\.toml: parameters has 'exp', which the language reserves \(a function\)",
    ),
    (dict(parameters=["ka", "VM", "KM", "V", "t"]), r"parameters has 't', which the language reserves"),
    (dict(parameters=["ka", "VM", "KM", "V", "lambda"]), r"parameters has 'lambda'; expected a name"),
    (dict(parameters=["ka", "VM", "KM", "V", 3]), r"parameters has 3; expected a name"),
    (
        dict(odes={"depot": "-ka * depot", "central": 0}),
        r"mm\.toml: odes\.central is 0 \(int\); expected an expression as text",
    ),
    (dict(odes=["-ka * depot"]), r"mm\.toml: odes is \['-ka \* depot'\]; expected a table of expressions"),
]


@pytest.mark.parametrize("changes, message", SYSTEM_ERRORS)
def test_a_malformed_system_is_refused_naming_the_section(changes, message):
    with pytest.raises(ValueError, match=message):
        system(**changes)


def test_dose_compartment_defaults_to_the_first_compartment_as_in_nonmem():
    assert system(compartments=["central", "depot"]).dose_compartment == "central"


@pytest.mark.parametrize(
    "structure",
    [
        Structure("one_compartment_oral"),
        Structure("two_compartment_oral"),
        Structure("one_compartment_oral", "transit", 0),
        Structure("two_compartment_oral", "transit", 3),
    ],
)
def test_short_form_expands_to_one_equation_per_structure_compartment(structure):
    s = System.from_structure(structure, where="card.toml")
    assert s.compartments == structure.compartments
    assert s.dose_compartment == "depot"
    assert dict(s.dosing) == {"depot": {"F": "F", "lag": "tlag"}}
    assert s.outputs["conc"] == f"central / {structure.volume}"
    assert set(s.parameters) == {*structure.parameters, "F", "tlag"}


# --- any text: an Expression or a ValueError, nothing else ------------------------------

TOKENS = [
    "x",
    "t",
    "CL",
    "2",
    "0",
    "1e999",
    "0.5",
    "+",
    "-",
    "*",
    "/",
    "**",
    "(",
    ")",
    ",",
    "<",
    "==",
    "exp(",
    "log(",
    "sqrt(",
    "abs(",
    "min(",
    "max(",
    "where(",
    "foo(",
    ".",
    "[",
    "'",
    " if ",
    " else ",
    " and ",
    "lambda:",
    "=",
    ":",
    "\n",
    " ",
]


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.characters(max_codepoint=127), max_size=60),
        st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    )
)
def test_any_text_parses_or_is_refused_with_a_value_error(text):
    try:
        e = parse_expression(text, WHERE)
    except ValueError as err:
        assert str(err).startswith(WHERE)
    else:
        assert all(name.isidentifier() for name, _ in e.names)
        assert e.constant is None or math.isfinite(e.constant)


@pytest.mark.parametrize("name", ["one_compartment_oral", "two_compartment_oral"])
@pytest.mark.parametrize(
    "absorption, n_transit", [("first_order", 0), ("transit", 3), ("transit_first_order", 3)]
)
def test_the_equations_of_each_named_structure_are_its_rate_matrix(name, absorption, n_transit):
    # System.from_structure writes out what Structure.rate_matrix (the analytic engine's K) is:
    # the same K to rounding; transit_first_order once had ka for the whole chain (70 % off)
    from pkmodel.model.compiler import compile_system
    from pkmodel.model.structures import Structure

    structure = Structure(name, absorption, n_transit)
    rng = np.random.default_rng(6)
    p = {k: rng.uniform(0.2, 5, 4) for k in (*structure.parameters, "F", "tlag")}
    system = compile_system(System.from_structure(structure))
    np.testing.assert_allclose(system.rate_matrix(p), structure.rate_matrix(p), rtol=1e-15, atol=0)
