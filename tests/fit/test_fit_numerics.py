"""The numerical pieces of aclcore.fit against independent references.

Batched minimisers (known minima), the projected objective (least squares), scores and
ranking (hand-computed), the Pareto front (brute force), the composed families (direct
evaluation) and the spelling parser.
"""

from __future__ import annotations

import itertools
import math

import pytest
import sympy as sp
import torch
from helpers.families import gauss, gauss1d

from aclcore import ConfigError, KernelFamily, Param
from aclcore.fit import FamilyFit, FitResult, pareto_front, select, shifted, summarize, summed
from aclcore.fit.compose import parse_candidate
from aclcore.fit.objective import Objective
from aclcore.fit.optimize import adam, lbfgs
from aclcore.fit.result import FitOptions
from aclcore.fit.scoring import bic_parsimony, parameter_count, rank, scores
from aclcore.fit.selection import best_within
from aclcore.nn.functional import sample_kernels


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (1 - x[:, 0]) ** 2 + 100 * (x[:, 1] - x[:, 0] ** 2) ** 2


def test_lbfgs_minimises_every_row_independently() -> None:
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(32, 2, generator=gen, dtype=torch.float64) * 1.5
    result = lbfgs(rosenbrock, x0, steps=300)
    assert torch.allclose(result.x, torch.ones_like(x0), atol=1e-5)
    assert float(result.loss.max()) < 1e-10


def test_lbfgs_solves_quadratics_exactly() -> None:
    gen = torch.Generator().manual_seed(1)
    m = torch.randn(8, 4, 4, generator=gen, dtype=torch.float64)
    a = m @ m.transpose(1, 2) + 0.5 * torch.eye(4, dtype=torch.float64)
    b = torch.randn(8, 4, generator=gen, dtype=torch.float64)

    def quad(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.einsum("bi,bij,bj->b", x, a, x) - (b * x).sum(-1)

    result = lbfgs(quad, torch.zeros(8, 4, dtype=torch.float64), steps=100)
    expected = torch.linalg.solve(a, b)
    assert torch.allclose(result.x, expected, atol=1e-6)


def test_a_diverging_row_does_not_disturb_the_others() -> None:
    def loss(x: torch.Tensor) -> torch.Tensor:
        out = (x - 3.0).pow(2).sum(-1)
        # row 0 is NaN away from its start: it must stay at its best point
        bad = torch.zeros_like(out, dtype=torch.bool)
        bad[0] = True
        return torch.where(bad & (x.abs().sum(-1) > 0.5), torch.nan, out)

    x0 = torch.zeros(3, 2, dtype=torch.float64)
    for minimum in (adam(loss, x0, steps=400, lr=0.05), lbfgs(loss, x0, steps=50)):
        assert torch.allclose(minimum.x[1:], torch.full((2, 2), 3.0, dtype=torch.float64),
                              atol=1e-2)
        assert float(minimum.x[0].abs().sum()) <= 0.5 and math.isfinite(float(minimum.loss[0]))


def test_adam_returns_the_best_point_and_is_deterministic() -> None:
    centres = torch.tensor([[1.0, -2.0], [0.5, 3.0], [-4.0, 0.0]], dtype=torch.float64)

    def bowl(x: torch.Tensor) -> torch.Tensor:
        return ((x - centres) ** 2 * torch.tensor([1.0, 10.0], dtype=torch.float64)).sum(-1)

    x0 = torch.zeros(3, 2, dtype=torch.float64)
    one = adam(bowl, x0, steps=1500, lr=0.05)
    two = adam(bowl, x0, steps=1500, lr=0.05)
    assert torch.equal(one.x, two.x)
    assert torch.allclose(one.loss, bowl(one.x))
    assert torch.allclose(one.x, centres, atol=1e-3)
    # the best point seen, not the last: a huge learning rate oscillates, the best stays
    wild = adam(bowl, x0, steps=20, lr=50.0)
    assert float(wild.loss.max()) <= float(bowl(x0).max())


def test_no_unknowns() -> None:
    x0 = torch.zeros(3, 0, dtype=torch.float64)
    for minimum in (adam(lambda x: torch.ones(3, dtype=torch.float64), x0, steps=5),
                    lbfgs(lambda x: torch.ones(3, dtype=torch.float64), x0, steps=5)):
        assert minimum.x.shape == (3, 0) and torch.equal(minimum.loss, torch.ones(3).double())


def test_projected_objective_is_least_squares() -> None:
    fam = gauss()
    gen = torch.Generator().manual_seed(2)
    units = torch.randn(3, 2, 5, 5, generator=gen, dtype=torch.float64)
    obj = Objective(fam, units, dilation=(1, 1))
    raw = torch.tensor([[0.3], [1.0], [2.0]], dtype=torch.float64)
    ev = obj.evaluate(raw, torch.arange(3))
    sigma = torch.nn.functional.softplus(raw) + 1e-6
    for u in range(3):
        basis = sample_kernels(fam, {"sigma": sigma[u:u + 1]}, 5).reshape(-1, 1)
        for c in range(2):
            sol = torch.linalg.lstsq(basis, units[u, c].reshape(-1, 1))
            assert math.isclose(float(sol.solution), float(ev.gains[u, c]), rel_tol=1e-10)
        resid = units[u].reshape(2, -1) - ev.gains[u][:, None] * basis.reshape(1, -1)
        assert math.isclose(float((resid**2).sum()), float(ev.residual[u]), rel_tol=1e-10)
        assert math.isclose(float(ev.loss[u]), float(ev.residual[u] / (units[u]**2).sum()),
                            rel_tol=1e-12)
    # the gradient with detached gains is the gradient of the projected loss (envelope)
    raw_g = raw.clone().requires_grad_(True)
    obj.evaluate(raw_g, torch.arange(3)).loss.sum().backward()
    eps = 1e-6
    for u in range(3):
        up, down = raw.clone(), raw.clone()
        up[u] += eps
        down[u] -= eps
        fd = (obj.evaluate(up, torch.arange(3)).loss[u]
              - obj.evaluate(down, torch.arange(3)).loss[u]) / (2 * eps)
        assert raw_g.grad is not None
        assert math.isclose(float(fd), float(raw_g.grad[u, 0]), rel_tol=1e-5, abs_tol=1e-9)


def test_scores_and_ranking_by_hand() -> None:
    errors = torch.tensor([[0.10, 0.09, 1e-6, 1e-5], [0.5, 0.2, 0.3, 0.3]])
    params = torch.tensor([2, 5, 4, 3])
    s = scores(errors, params, parsimony=0.05, error_floor=1e-3)
    expected = [[math.log(0.10) + 0.1, math.log(0.09) + 0.25, math.log(1e-3) + 0.2,
                 math.log(1e-3) + 0.15],
                [math.log(0.5) + 0.1, math.log(0.2) + 0.25, math.log(0.3) + 0.2,
                 math.log(0.3) + 0.15]]
    assert torch.allclose(s, torch.tensor(expected, dtype=torch.float64))
    order = rank(s, params)
    assert order[0].tolist() == [3, 2, 0, 1]  # exact fits tie at the floor: fewer params
    assert order[1].tolist() == [1, 3, 2, 0]
    tie = rank(torch.zeros(1, 3, dtype=torch.float64), torch.tensor([4, 4, 4]))
    assert tie[0].tolist() == [0, 1, 2]  # then the order given
    assert bic_parsimony(363) == pytest.approx(math.log(363) / 726)
    assert parameter_count(5, 3, share_akps=True) == 8
    assert parameter_count(5, 3, share_akps=False) == 18
    with pytest.raises(ConfigError, match="parsimony"):
        scores(errors, params, parsimony=math.nan)


def _result(residuals: list[list[float]], params: list[int], numel: int = 10) -> FitResult:
    """A FitResult of made-up residuals ``[kernel][family]`` (target norm^2 = 100/kernel)."""
    n, f = len(residuals), len(params)
    target = torch.zeros(n, 1, numel, dtype=torch.float64)
    target[:, 0, 0] = 10.0
    fits = {}
    for j in range(f):
        res = torch.tensor([residuals[k][j] for k in range(n)], dtype=torch.float64)
        fam = KernelFamily(f"f{j}", sp.Symbol("x") * sp.Symbol("a", real=True), ("x",),
                           [Param("a")])
        fits[fam.name] = FamilyFit(fam, {}, {}, torch.zeros(n, 1), target.clone(),
                                   (res / 100).sqrt(), res, params[j])
    errors = torch.stack([f.errors for f in fits.values()], 1)
    s = scores(errors, torch.tensor(params), parsimony=0.01)
    return FitResult(target, fits, s, rank(s, torch.tensor(params)), 0.01,
                     FitOptions(True, (1,), "sample", 4, None, 0))


def test_pareto_front_matches_brute_force() -> None:
    residuals = [[40.0, 10.0, 1.0], [5.0, 4.0, 3.5], [90.0, 30.0, 29.0], [20.0, 2.0, 0.0]]
    params = [1, 3, 6]
    result = _result(residuals, params)
    front = pareto_front(result, free=True)
    options = [[(params[j], residuals[k][j]) for j in range(3)] + [(10, 0.0)]
               for k in range(4)]
    brute: dict[int, float] = {}
    for combo in itertools.product(range(4), repeat=4):
        p = sum(options[k][c][0] for k, c in enumerate(combo))
        r = sum(options[k][c][1] for k, c in enumerate(combo))
        brute[p] = min(brute.get(p, math.inf), r)
    total = 400.0
    for point in front:
        best = min(r for p, r in brute.items() if p <= point.n_params)
        # every hull point is optimal for its own budget
        assert point.error == pytest.approx(math.sqrt(best / total))
        column = {"f0": 0, "f1": 1, "f2": 2, None: 3}
        res = sum(options[k][column[c]][1] for k, c in enumerate(point.choice))
        assert point.error == pytest.approx(math.sqrt(res / total))
        assert point.compression == pytest.approx(40 / point.n_params)
    assert [p.n_params for p in front] == sorted(p.n_params for p in front)
    assert front[0].choice == ("f0",) * 4 and front[-1].error == 0.0
    assert best_within(front, 40 / front[0].n_params) == front[0]
    assert best_within(front, 1000.0) is None
    no_free = pareto_front(result, free=False)
    assert all(c is not None for p in no_free for c in p.choice)


def test_select_and_summarize() -> None:
    result = _result([[1.0, 0.25, 0.0], [64.0, 49.0, 36.0]], [1, 3, 6])
    # errors: kernel 0: 0.1, 0.05, 0; kernel 1: 0.8, 0.7, 0.6
    assert result.best() == ["f2", "f2"]
    assert select(result, 0.07) == ["f2", None]
    assert select(result, 0.65) == ["f2", "f2"]
    assert select(result, 0.0) == ["f2", None]
    assert result.bank_error(["f0", None]) == pytest.approx(math.sqrt(1 / 200))
    rows = summarize(result, tol=0.07)
    assert [r.within_tol for r in rows] == [0, 1, 1]
    assert [r.ranked_first for r in rows] == [0, 0, 2]
    assert rows[1].compression == pytest.approx(10 / 3)
    with pytest.raises(ConfigError, match="tol"):
        select(result, -1.0)


def test_shifted_and_summed_families_evaluate_as_written() -> None:
    moved = shifted(gauss(), 2.5)
    assert moved.name == "gauss_shifted" and moved.param_names == ("sigma", "x0", "y0")
    assert moved.param("x0").init == (-2.5, 2.5)
    values = {"sigma": torch.tensor([[1.3]]), "x0": torch.tensor([[0.7]]),
              "y0": torch.tensor([[-1.2]])}
    bank = sample_kernels(moved, values, 5)[0, 0]
    for row in range(5):
        for col in range(5):
            xv, yv = col - 2, 2 - row  # the grid convention: y grows upwards
            ref = math.exp(-((xv - 0.7) ** 2 + (yv + 1.2) ** 2) / (2 * 1.3**2))
            assert float(bank[row, col]) == pytest.approx(ref, rel=1e-6)
    both = summed(gauss(), moved)
    assert both.param_names == ("sigma_1", "sigma_2", "x0_2", "y0_2", "a")
    assert both.normalize == "none"
    vals = {"sigma_1": torch.tensor([[0.9]]), "sigma_2": values["sigma"],
            "x0_2": values["x0"], "y0_2": values["y0"], "a": torch.tensor([[-0.4]])}
    total = sample_kernels(both, vals, 5)[0, 0]
    first = sample_kernels(gauss(), {"sigma": torch.tensor([[0.9]])}, 5)[0, 0]
    assert torch.allclose(total, first - 0.4 * bank, atol=1e-6)
    with pytest.raises(ConfigError, match="different coordinates"):
        summed(gauss(), gauss1d())
    with pytest.raises(ConfigError, match="already has parameter"):
        shifted(moved)
    with pytest.raises(ConfigError, match="extent"):
        shifted(gauss(), 0.0)


def test_spellings() -> None:
    table = {"gauss": gauss(), "gauss1d": gauss1d()}

    def look_up(name: str) -> KernelFamily:
        return table[name]

    assert parse_candidate("gauss", look_up) == gauss()
    assert parse_candidate(" shifted( gauss ) ", look_up).name == "gauss_shifted"
    assert parse_candidate("gauss+shifted(gauss)", look_up).name == "gauss_plus_gauss_shifted"
    for bad in ("gauss+gauss+gauss", "shifted(gauss", "+gauss", "gauss)", "Gauss", "g-h"):
        with pytest.raises(ConfigError, match="spelling"):
            parse_candidate(bad, look_up)
