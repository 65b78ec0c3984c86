"""The model language compiled: rhs, exact Jacobian, linearity, rate matrix, outputs, dosing.

References: Structure.rate_matrix (the code every engine uses today), numpy
formulas written out by hand, central finite differences, and sympy's own
Jacobian of the same equations typed in directly (not through our parser).
"""

import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from pkmodel.model.compiler import compile_system
from pkmodel.model.expressions import System
from pkmodel.model.structures import Structure

STRUCTURES = [
    Structure("one_compartment_oral"),
    Structure("two_compartment_oral"),
    Structure("one_compartment_oral", "transit", 0),
    Structure("one_compartment_oral", "transit", 2),
    Structure("two_compartment_oral", "transit", 3),
]


def random_params(names, n=50, seed=0):
    rng = np.random.default_rng(seed)
    # log-uniform over three decades: rate constants from 0.03 to 30 /h
    return {k: np.exp(rng.uniform(np.log(0.1), np.log(100.0), n)) for k in names}


@pytest.mark.parametrize("structure", STRUCTURES, ids=lambda s: s.label)
def test_expanded_short_form_has_the_structures_rate_matrix_and_is_linear(structure):
    compiled = compile_system(System.from_structure(structure))
    p = random_params([*structure.parameters, "F", "tlag"])
    assert compiled.is_linear and compiled.nonlinear_reason is None
    # 1e-15 relative: the same quotients, at most a rounding apart
    np.testing.assert_allclose(compiled.rate_matrix(p), structure.rate_matrix(p), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(compiled.input_rate(p), 0.0)  # oral doses only: no input term
    row = np.zeros((50, len(structure.compartments)))
    row[:, structure.central_index] = 1 / p[structure.volume]
    np.testing.assert_allclose(compiled.output_row("conc", p), row, rtol=1e-15, atol=0)
    doses = compiled.dose_modifiers(p)["depot"]
    np.testing.assert_array_equal(doses["F"], p["F"])
    np.testing.assert_array_equal(doses["lag"], p["tlag"])


@pytest.mark.parametrize("structure", STRUCTURES, ids=lambda s: s.label)
def test_rhs_and_jacobian_of_a_linear_system_are_K_x_and_K(structure):
    compiled = compile_system(System.from_structure(structure))
    p = random_params([*structure.parameters, "F", "tlag"], n=20, seed=1)
    x = np.random.default_rng(2).uniform(0, 100, (20, len(structure.compartments)))
    k = structure.rate_matrix(p)
    # 1e-13: the sum of up to three products in another order
    np.testing.assert_allclose(
        compiled.rhs(3.0, x, p),
        np.einsum("nij,nj->ni", k, x),
        rtol=1e-13,
        atol=1e-13 * np.abs(x).max() * np.abs(k).max(),
    )
    np.testing.assert_allclose(compiled.jacobian(3.0, x, p), k, rtol=1e-15, atol=0)


MM = System(
    compartments=["depot", "central"],
    odes={"depot": "-ka * depot", "central": "ka * depot - VM * C / (KM + C)"},
    derived={"C": "central / V"},
    outputs={"conc": "C", "effect": "EMAX * C / (EC50 + C)"},
    parameters=["ka", "VM", "KM", "V", "EMAX", "EC50"],
    where="mm.toml",
)


def test_michaelis_menten_is_nonlinear_and_says_which_term_and_why():
    compiled = compile_system(MM)
    assert not compiled.is_linear
    assert compiled.nonlinear_reason == (
        "mm.toml: odes.central: VM * C / (KM + C) is not affine in "
        "the amounts (central appears in a denominator, through C)"
    )
    with pytest.raises(ValueError, match=r"rate_matrix: the system is nonlinear \(mm\.toml: odes\.central"):
        compiled.rate_matrix(random_params(MM.parameters))
    assert compiled.linear_outputs == ("conc",)
    assert "outputs.effect: EMAX * C / (EC50 + C) is not affine" in compiled.output_reasons["effect"]


def mm_point(n=40, seed=3):
    p = random_params(MM.parameters, n=n, seed=seed)
    x = np.random.default_rng(seed + 1).uniform(0.1, 200.0, (n, 2))
    return p, x


def test_michaelis_menten_rhs_and_outputs_equal_the_formula():
    compiled = compile_system(MM)
    p, x = mm_point()
    c = x[:, 1] / p["V"]
    expected = np.column_stack([-p["ka"] * x[:, 0], p["ka"] * x[:, 0] - p["VM"] * c / (p["KM"] + c)])
    np.testing.assert_allclose(compiled.rhs(0.0, x, p), expected, rtol=1e-14)  # roundings only
    out = compiled.outputs(0.0, x, p)
    np.testing.assert_allclose(out["conc"], c, rtol=1e-15)
    np.testing.assert_allclose(out["effect"], p["EMAX"] * c / (p["EC50"] + c), rtol=1e-14)


def test_michaelis_menten_jacobian_equals_central_differences():
    compiled = compile_system(MM)
    p, x = mm_point()
    jac = compiled.jacobian(0.0, x, p)
    for j in range(2):
        h = 1e-5 * np.maximum(np.abs(x[:, j]), 1.0)
        step = np.zeros_like(x)
        step[:, j] = h
        fd = (compiled.rhs(0.0, x + step, p) - compiled.rhs(0.0, x - step, p)) / (2 * h)[:, None]
        # central differences: truncation ~h^2 f''' and rounding ~eps f / h, both < 1e-8 here
        np.testing.assert_allclose(jac[:, :, j], fd, rtol=1e-7, atol=1e-9)


def test_michaelis_menten_jacobian_equals_sympys_own():
    ka, vm, km, v, a0, a1 = sp.symbols("ka VM KM V a0 a1", positive=True)
    f = sp.Matrix([-ka * a0, ka * a0 - vm * (a1 / v) / (km + a1 / v)])
    # simplified: the raw quotient rule cancels digits where C >> KM (up to 1e4 here)
    reference = sp.lambdify((ka, vm, km, v, a0, a1), sp.simplify(f.jacobian([a0, a1])), "numpy")
    p, x = mm_point(seed=7)
    jac = compile_system(MM).jacobian(0.0, x, p)
    for i in range(len(x)):
        expected = np.array(reference(p["ka"][i], p["VM"][i], p["KM"][i], p["V"][i], *x[i]), dtype=float)
        np.testing.assert_allclose(jac[i], expected, rtol=1e-13, atol=0)  # two ways to round


def test_compartment_major_forms_are_the_transposes():
    compiled = compile_system(MM)
    p, x = mm_point()
    b = compiled.bind(p)
    np.testing.assert_array_equal(b.rhs_by_compartment(1.0, np.ascontiguousarray(x.T)), b.rhs(1.0, x).T)
    np.testing.assert_array_equal(
        b.jacobian_by_compartment(1.0, np.ascontiguousarray(x.T)), np.moveaxis(b.jacobian(1.0, x), 0, -1)
    )


def test_outputs_over_times_take_amounts_n_by_k_by_m():
    compiled = compile_system(
        System(
            compartments=["central"],
            odes={"central": "-CL / V * central"},
            outputs={"conc": "central / V", "ct": "t * central / V"},
            parameters=["CL", "V"],
        )
    )
    p = {"CL": np.array([1.0, 2.0]), "V": np.array([10.0, 20.0])}
    t = np.array([0.0, 1.0, 2.0])
    x = np.arange(6.0).reshape(2, 3, 1)
    out = compiled.outputs(t, x, p)
    # 1e-15: 1/V is computed once per subject (hoisted), then multiplied: one more rounding
    np.testing.assert_allclose(out["conc"], x[..., 0] / p["V"][:, None], rtol=1e-15)
    np.testing.assert_allclose(out["ct"], t * x[..., 0] / p["V"][:, None], rtol=1e-15)


THREE = System(  # IV into central and oral into depot, three compartments, a zero-order input
    compartments=["depot", "central", "p1", "p2"],
    odes={
        "depot": "-ka * depot",
        "central": "F1 * ka * depot + R0 - (CL + Q2 + Q3) / V1 * central + Q2 / V2 * p1 + Q3 / V3 * p2",
        "p1": "Q2 * (central / V1 - p1 / V2)",
        "p2": "Q3 * (central / V1 - p2 / V3)",
    },
    outputs={"conc": "central / V1", "total": "central + p1 + p2"},
    parameters=["ka", "F1", "R0", "CL", "V1", "Q2", "V2", "Q3", "V3"],
    dose_compartment="central",
)


def test_a_linear_system_written_out_gives_its_rate_matrix_and_input():
    compiled = compile_system(THREE)
    assert compiled.is_linear and set(compiled.linear_outputs) == {"conc", "total"}
    p = random_params(THREE.parameters, n=10, seed=4)
    k = np.zeros((10, 4, 4))
    k[:, 0, 0] = -p["ka"]
    k[:, 1, 0] = p["F1"] * p["ka"]
    k[:, 1, 1] = -(p["CL"] + p["Q2"] + p["Q3"]) / p["V1"]
    k[:, 1, 2], k[:, 1, 3] = p["Q2"] / p["V2"], p["Q3"] / p["V3"]
    k[:, 2, 1], k[:, 2, 2] = p["Q2"] / p["V1"], -p["Q2"] / p["V2"]
    k[:, 3, 1], k[:, 3, 3] = p["Q3"] / p["V1"], -p["Q3"] / p["V3"]
    np.testing.assert_allclose(compiled.rate_matrix(p), k, rtol=1e-15, atol=0)
    b = np.zeros((10, 4))
    b[:, 1] = p["R0"]
    np.testing.assert_array_equal(compiled.input_rate(p), b)
    np.testing.assert_array_equal(compiled.output_row("total", p), np.tile([0.0, 1, 1, 1], (10, 1)))


@pytest.mark.parametrize(
    "central, reason",
    [
        ("ka * depot - CL / V * central * central", "central is raised to the power 2"),
        ("ka * depot - CL * exp(central / V)", "central appears inside exp()"),
        ("ka * depot - sqrt(central)", "central is raised to the power 1/2"),
        ("ka * depot - max(CL / V * central, KM)", "central appears inside max()"),
        ("ka * depot - abs(central)", "central appears inside abs()"),
        ("ka * depot - where(central > KM, CL, 0)", "central appears in a where() condition"),
        ("ka * depot - CL * ka ** central", "central appears in an exponent"),
        ("ka * depot * central", "a product of amounts"),
    ],
)
def test_nonlinear_terms_are_named_with_the_reason(central, reason):
    compiled = compile_system(
        System(
            compartments=["depot", "central"],
            odes={"depot": "-ka * depot", "central": central},
            outputs={"conc": "central / V"},
            parameters=["ka", "CL", "V", "KM"],
        )
    )
    assert not compiled.is_linear
    assert reason in compiled.nonlinear_reason and compiled.nonlinear_reason.startswith(
        "model: odes.central: "
    )


@pytest.mark.parametrize(
    "odes, reason",
    [
        (
            {"depot": "-ka * depot", "central": "ka * depot - CL / V * central + where(t < 2, 5, 0)"},
            "model: odes.central: where(t < 2, 5, 0) depends on t (a time-varying input)",
        ),
        (
            {"depot": "-where(t < 2, ka, 0) * depot", "central": "ka * depot - CL / V * central"},
            "model: odes.depot: -where(t < 2, ka, 0) * depot depends on t (the coefficient of depot changes",
        ),
    ],
)
def test_time_varying_coefficients_or_inputs_are_not_linear(odes, reason):
    compiled = compile_system(
        System(
            compartments=["depot", "central"],
            odes=odes,
            outputs={"conc": "central / V"},
            parameters=["ka", "CL", "V"],
        )
    )
    assert not compiled.is_linear and compiled.nonlinear_reason.startswith(reason)


@pytest.mark.parametrize(
    "central",
    [
        "ka * (depot - central)",  # not distributed
        "ka * depot - CL * (WT / 70) ** 0.75 / V * central",  # a covariate in a coefficient
        "ka * depot - where(WT > 20, CL, 2 * CL) / V * central",  # a step in a covariate only
        "ka * depot - central ** 2 / V + central ** 2 / V - CL / V * central",  # cancels exactly
        "ka * depot - max(CL, 0.1) / V * central + R0",  # constant input
    ],
)
def test_linear_systems_written_unusually_are_detected_linear(central):
    compiled = compile_system(
        System(
            compartments=["depot", "central"],
            odes={"depot": "-ka * depot", "central": central},
            outputs={"conc": "central / V"},
            parameters=["ka", "CL", "V", "R0"],
            covariates=["WT"],
        )
    )
    assert compiled.is_linear, compiled.nonlinear_reason


@pytest.mark.parametrize("seed", range(4))
def test_random_linear_systems_give_back_their_coefficients(seed):
    # m compartments, each rate k_i_j present with probability 1/2, a constant input in some
    rng = np.random.default_rng(seed)
    m = 5
    present = rng.random((m, m)) < 0.5
    cmts = [f"c{j}" for j in range(m)]
    odes, names = {}, []
    for i in range(m):
        terms = [f"k_{i}_{j} * c{j}" for j in range(m) if present[i, j]]
        names += [f"k_{i}_{j}" for j in range(m) if present[i, j]]
        if i % 2:
            terms.append(f"b_{i}")
            names.append(f"b_{i}")
        odes[cmts[i]] = " + ".join(terms) or "0"
    compiled = compile_system(System(compartments=cmts, odes=odes, outputs={"conc": "c0"}, parameters=names))
    p = {k: rng.normal(size=7) for k in names}
    k = np.zeros((7, m, m))
    b = np.zeros((7, m))
    for name, v in p.items():
        kind, *ij = name.split("_")
        if kind == "k":
            k[:, int(ij[0]), int(ij[1])] = v
        else:
            b[:, int(ij[0])] = v
    assert compiled.is_linear
    np.testing.assert_array_equal(compiled.rate_matrix(p), k)  # each entry is one parameter
    np.testing.assert_array_equal(compiled.input_rate(p), b)
    x = rng.normal(size=(7, m))
    # 1e-14 of the largest product: the same sums, maybe in another order
    np.testing.assert_allclose(
        compiled.rhs(0.0, x, p),
        np.einsum("nij,nj->ni", k, x) + b,
        rtol=0,
        atol=1e-14 * m * np.abs(k).max() * np.abs(x).max() + 1e-15,
    )


def test_covariates_and_piecewise_functions_evaluate_like_numpy():
    compiled = compile_system(
        System(
            compartments=["central"],
            odes={"central": "-CLi / V * central"},
            derived={"CLi": "CL * (WT / 70) ** 0.75 * where(AGE < 2, 0.5, 1)"},
            outputs={
                "conc": "central / V",
                "capped": "min(central / V, CAP)",
                "floor": "max(central, 1, CAP)",
                "mag": "abs(central - 5)",
                "lg": "log(central) + sqrt(V) + exp(-t)",
            },
            parameters=["CL", "V", "CAP"],
            covariates=["WT", "AGE"],
        )
    )
    p = {"CL": np.array([1.0, 2.0, 3.0]), "V": np.array([4.0, 9.0, 16.0]), "CAP": np.array([0.5, 2.0, 3.0])}
    cov = {"WT": np.array([10.0, 70.0, 35.0]), "AGE": np.array([1.0, 5.0, 2.0])}
    x = np.array([[3.0], [6.0], [12.0]])
    cl = p["CL"] * (cov["WT"] / 70) ** 0.75 * np.array([0.5, 1.0, 1.0])
    np.testing.assert_allclose(compiled.rate_matrix(p, cov)[:, 0, 0], -cl / p["V"], rtol=1e-15)
    out = compiled.outputs(0.5, x, p, cov)
    c = x[:, 0] / p["V"]
    np.testing.assert_allclose(out["capped"], np.minimum(c, p["CAP"]), rtol=1e-15)
    np.testing.assert_allclose(out["floor"], np.maximum(np.maximum(x[:, 0], 1), p["CAP"]), rtol=1e-15)
    np.testing.assert_allclose(out["mag"], np.abs(x[:, 0] - 5), rtol=1e-15)
    np.testing.assert_allclose(out["lg"], np.log(x[:, 0]) + np.sqrt(p["V"]) + np.exp(-0.5), rtol=1e-15)


def test_dose_modifiers_default_to_f_1_and_no_lag_and_are_checked():
    s = System(
        compartments=["depot", "central"],
        odes={"depot": "-ka * depot", "central": "ka * depot - CL / V * central"},
        outputs={"conc": "central / V"},
        parameters=["ka", "CL", "V", "FR", "LAG", "D"],
        dosing={
            "depot": {"F": "FR * where(WT < 20, 0.8, 1)", "lag": "LAG"},
            "central": {"duration": "D", "rate": "100 / D"},
        },
        covariates=["WT"],
        where="dose.toml",
    )
    compiled = compile_system(s)
    p = {k: np.array([0.5, 1.0]) for k in s.parameters}
    cov = {"WT": np.array([10.0, 30.0])}
    d = compiled.dose_modifiers(p, cov)
    np.testing.assert_array_equal(d["depot"]["F"], [0.4, 1.0])
    np.testing.assert_array_equal(d["depot"]["lag"], p["LAG"])
    np.testing.assert_array_equal(d["central"]["F"], [1.0, 1.0])  # not written: F = 1
    np.testing.assert_array_equal(d["central"]["lag"], [0.0, 0.0])  # and no lag
    np.testing.assert_array_equal(d["central"]["rate"], [200.0, 100.0])
    bad = {**p, "LAG": np.array([0.5, -0.25])}
    with pytest.raises(
        ValueError,
        match=r"dose\.toml: dosing\.depot\.lag\[1\] is -0\.25; expected a "
        r"finite number >= 0 \(h\)",
    ):
        compiled.dose_modifiers(bad, cov)
    with pytest.raises(
        ValueError, match=r"dosing\.central\.duration\[0\] is 0\.0; expected a finite number > 0"
    ):
        compiled.dose_modifiers({**p, "D": np.array([0.0, 1.0])}, cov)


def test_missing_or_misshapen_inputs_are_refused():
    compiled = compile_system(MM)
    p, x = mm_point(n=3)
    with pytest.raises(ValueError, match=r"params: \['KM'\] missing; the system uses \['ka', 'VM', 'KM'"):
        compiled.rhs(0.0, x, {k: v for k, v in p.items() if k != "KM"})
    with pytest.raises(
        ValueError, match=r"params\['V'\] has shape \(2,\); expected \(n_subjects,\) = \(3,\)"
    ):
        compiled.rhs(0.0, x, {**p, "V": np.ones(2)})
    with pytest.raises(ValueError, match=r"params\['V'\]\[0\] is 'a'; expected a number"):
        compiled.rhs(0.0, x, {**p, "V": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"amounts has shape \(3, 3\); expected \(3, 2\)"):
        compiled.rhs(0.0, np.ones((3, 3)), p)
    with pytest.raises(
        ValueError, match=r"output_row: 'auc' is not an output; expected one of \['conc', 'effect'\]"
    ):
        compiled.output_row("auc", p)
    with pytest.raises(ValueError, match=r"output_row: output 'effect' is not linear in the amounts"):
        compiled.output_row("effect", p)


def test_an_expression_that_simplifies_to_a_division_by_zero_is_refused():
    s = System(
        compartments=["central"],
        odes={"central": "-central / (V - V)"},
        outputs={"conc": "central / V"},
        parameters=["V"],
        where="z.toml",
    )
    with pytest.raises(
        ValueError,
        match=r"z\.toml: odes\.central: '-central / \(V - V\)' is .*zoo.* "
        r"\(a division by zero\)",
    ):
        compile_system(s)


def test_user_names_cannot_collide_with_the_generated_code():
    # names the generated code itself uses (np, P, C, A, H, out, p0, a0, h0, x0, s0) as the user's
    s = System(
        compartments=["out", "A"],
        odes={"out": "-np * out", "A": "np * out - h0 / x0 * A"},
        derived={"a0": "A / x0"},
        outputs={"conc": "a0", "H": "s0 * out"},
        parameters=["np", "h0", "x0", "s0"],
        covariates=["P", "C"],
    )
    compiled = compile_system(s)
    p = {"np": np.array([2.0]), "h0": np.array([3.0]), "x0": np.array([4.0]), "s0": np.array([5.0])}
    cov = {"P": np.array([1.0]), "C": np.array([1.0])}
    x = np.array([[10.0, 8.0]])
    np.testing.assert_allclose(compiled.rhs(0.0, x, p, cov), [[-20.0, 20.0 - 3.0 / 4.0 * 8.0]], rtol=1e-15)
    out = compiled.outputs(0.0, x, p, cov)
    assert out["conc"][0] == 2.0 and out["H"][0] == 50.0


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_import_pkmodel_and_the_compiler_do_not_load_sympy():
    code = (
        "import sys, pkmodel, pkmodel.model.expressions, pkmodel.model.compiler; "
        "print('sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
