"""KernelFamily / Param: the declared contract and every validation error."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
import sympy as sp

from aclcore import AclError, FamilyError, KernelFamily, Param, ParseError
from aclcore.symbolic.constraints import Positive

x, y, z = sp.symbols("x y z", real=True)
sigma, lam, theta, psi = sp.symbols("sigma lambda theta psi", real=True)


def gabor() -> KernelFamily:
    u = x * sp.cos(theta) + y * sp.sin(theta)
    return KernelFamily(
        name="gabor",
        expr=sp.exp(-(x**2 + y**2) / (2 * sigma**2)) * sp.cos(2 * sp.pi * u / lam + psi),
        coords=(x, y),
        params=[
            Param(sigma, init=(0.8, 2.5), constraint="positive"),
            Param(lam, init=(2.0, 8.0), constraint="positive"),
            Param(theta, init=(0.0, 3.14159), constraint="angle"),
            Param(psi, init=(-3.14159, 3.14159)),
        ],
        description="Gaussian envelope times an oriented cosine carrier.",
    )


def test_design_contract_example_builds() -> None:
    fam = gabor()
    assert fam.ndim == 2
    assert fam.coord_names == ("x", "y")
    assert fam.param_names == ("sigma", "lambda", "theta", "psi")
    assert isinstance(fam.param("sigma").constraint, Positive)
    assert fam.param("sigma").init == (0.8, 2.5)


def test_string_formula_and_names_give_the_same_family() -> None:
    text = "exp(-(x**2 + y**2)/(2*sigma**2)) * cos(2*pi*(x*cos(theta) + y*sin(theta))/lambda + psi)"
    fam = KernelFamily(
        "gabor",
        text,
        coords=("x", "y"),
        params=[
            Param("sigma", (0.8, 2.5), "positive"),
            Param("lambda", (2.0, 8.0), "positive"),
            Param("theta", (0.0, 3.14159), "angle"),
            Param("psi", (-3.14159, 3.14159)),
        ],
        description="Gaussian envelope times an oriented cosine carrier.",
    )
    assert sp.srepr(fam.expr) == sp.srepr(gabor().expr)
    assert fam == gabor()
    assert hash(fam) == hash(gabor())


def test_symbols_without_assumptions_are_canonicalised_by_name() -> None:
    X, S = sp.Symbol("x"), sp.Symbol("s", positive=True)
    fam = KernelFamily("g1", sp.exp(-(X**2) / S), coords=[X], params=[Param("s", 1.0, "positive")])
    assert {str(s) for s in fam.expr.free_symbols} == {"x", "s"}
    assert all(s.is_real for s in fam.expr.free_symbols)
    assert fam.coords == (sp.Symbol("x", real=True),)


def test_family_is_frozen_and_pickles() -> None:
    fam = gabor()
    with pytest.raises(dataclasses.FrozenInstanceError):
        fam.name = "other"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(fam)) == fam


def _problems(**kwargs: object) -> list[str]:
    base: dict[str, object] = dict(name="fam", expr=sp.exp(-x**2 / sigma), coords=(x,),
                                   params=[Param(sigma, 1.0, "positive")])
    base.update(kwargs)
    with pytest.raises(FamilyError) as info:
        KernelFamily(**base)  # type: ignore[arg-type]
    assert isinstance(info.value, AclError)
    return info.value.problems


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"expr": sp.exp(-x**2 / sigma) * lam}, "symbol 'lambda' is neither"),
        ({"params": [Param(sigma, 1.0, "positive"), Param(psi)]}, "parameter 'psi' does not occur"),
        ({"coords": (x, y)}, "coordinate 'y' does not occur"),
        ({"coords": (y, x), "expr": sp.exp(-(x**2 + y**2) / sigma)}, "out of order"),
        ({"coords": (x, y, z, sp.Symbol("w"))}, "1, 2 or 3 coordinates"),
        ({"params": [Param(sigma, 1.0, "positive"), Param("x")]}, "duplicate name 'x'"),
        ({"name": "Gabor"}, "lowercase identifier"),
        ({"name": "free"}, "reserved"),
        ({"name": "a-b"}, "lowercase identifier"),
        ({"expr": sp.gamma(x) * sigma}, "gamma"),
        ({"expr": sp.Function("mystery")(x) * sigma}, "mystery"),
        ({"expr": sp.I * x * sigma}, "imaginary"),
        ({"normalize": "unit"}, "normalize='unit'"),
        ({"symmetries": ("even:q",)}, "symmetry 'even:q'"),
        ({"constant_along": ("q",)}, "not a coordinate"),
        ({"constant_along": ("x",)}, "depends on 'x'"),
    ],
)
def test_each_validation_error_names_the_offender(kwargs: dict[str, object], needle: str) -> None:
    problems = _problems(**kwargs)
    assert any(needle in p for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        name="Bad Name",
        expr=sp.exp(-x**2 / sigma) * lam + sp.Function("nope")(x),
        coords=(x, y),
        params=[Param(sigma, 1.0, "positive"), Param(psi)],
    )
    joined = "\n".join(problems)
    for needle in ("Bad Name", "lambda", "psi", "'y'", "nope"):
        assert needle in joined
    assert len(problems) >= 5


def test_constant_along_allows_a_missing_coordinate() -> None:
    fam = KernelFamily("ridge", sp.exp(-x**2 / sigma), (x, y), [Param(sigma, 1.0, "positive")],
                       constant_along=("y",))
    assert fam.constant_along == ("y",)


@pytest.mark.parametrize(
    ("param", "needle"),
    [
        (lambda: Param("sigma", 0.0, "positive"), "outside its constraint"),
        (lambda: Param("sigma", (-1.0, 2.0), "positive"), "outside its constraint"),
        (lambda: Param("t", 1.0, (0.0, 1.0)), "outside its constraint"),
        (lambda: Param("t", (2.0, 1.0)), "lo <= hi"),
        (lambda: Param("t", "big"), "must be a number"),
        (lambda: Param("_t"), "parameter name '_t' is invalid"),
        (lambda: Param("t", constraint="positiv"), "unknown constraint"),
        (lambda: Param(3), "Param symbol must be"),  # type: ignore[arg-type]
    ],
)
def test_param_errors(param: object, needle: str) -> None:
    with pytest.raises(FamilyError, match=needle):
        param()  # type: ignore[operator]


def test_param_defaults_follow_the_constraint() -> None:
    assert Param("a").init == 0.0
    assert Param("a", constraint="positive").init == 1.0
    assert Param("a", constraint=(2.0, 4.0)).init == 3.0


def test_param_sample_is_inside_init_range() -> None:
    import torch

    p = Param("s", (0.5, 2.0), "positive")
    values = p.sample((100,), generator=torch.Generator().manual_seed(0))
    assert values.min() >= 0.5 and values.max() <= 2.0 and values.std() > 0.1
    assert Param("s", 1.5).sample((3,)).tolist() == [1.5, 1.5, 1.5]


def test_unparsable_string_is_both_family_and_parse_error() -> None:
    with pytest.raises(FamilyError) as info:
        KernelFamily("bad", "exp(x", ("x",), [])
    assert isinstance(info.value, ParseError)
    assert "bad" in str(info.value)


def test_non_expression_inputs_are_rejected() -> None:
    with pytest.raises(FamilyError, match="expr must be"):
        KernelFamily("bad", [x], ("x",), [])  # type: ignore[arg-type]
    with pytest.raises(FamilyError, match="scalar expression"):
        KernelFamily("bad", x > 0, ("x",), [])  # type: ignore[arg-type]


def test_substitute_by_name() -> None:
    fam = gabor()
    e = fam.substitute({"sigma": 1.0, "lambda": 4.0, "theta": 0, "psi": 0.0})
    assert e.free_symbols == {x, y}
    with pytest.raises(KeyError, match="no parameters"):
        fam.substitute({"nope": 1.0})


def test_string_formula_may_use_a_registered_plugin_function() -> None:
    import torch

    from aclcore import compile_family, register_function

    softclip = sp.Function("softclip")
    register_function(softclip, lambda t: torch.tanh(t) * 2.0)
    fam = KernelFamily("clipped", "softclip(x/sigma)", ("x",), [Param("sigma", 1.0, "positive")])
    assert fam.expr == softclip(x / sigma)
    out = compile_family(fam)((torch.tensor([0.5]),), {"sigma": torch.tensor(1.0)})
    assert out.item() == pytest.approx(2 * float(sp.tanh(0.5)))
    with pytest.raises(FamilyError, match="unknown"):
        KernelFamily("nope", "notregistered(x)", ("x",), [])


def test_numeric_forms_no_formula_string_expresses_are_stored_evaluated() -> None:
    # a power of a product can leave Mul(3, 15**(3/4), sqrt(3)) unevaluated; its formula text
    # would read back as 9*3**(1/4)*5**(3/4), so the family stores the evaluated form and its
    # formula survives the text round trip (export, fingerprints) exactly
    from aclcore.symbolic.parse import formula_to_string, parse_formula

    xs, s = sp.symbols("x s", real=True)
    odd = sp.Mul(3, sp.Integer(15) ** sp.Rational(3, 4), sp.sqrt(3), evaluate=False)
    fam = KernelFamily("odd_number", odd**s * sp.exp(-xs**2), ("x",), [Param("s", 1.0)])
    assert sp.srepr(fam.sympy_expr) == sp.srepr(
        (9 * sp.Integer(3) ** sp.Rational(1, 4) * sp.Integer(5) ** sp.Rational(3, 4)) ** s
        * sp.exp(-xs**2))
    back = parse_formula(formula_to_string(fam.sympy_expr))
    assert sp.srepr(back) == sp.srepr(fam.sympy_expr)
