"""Every installed family over each AKP's whole declared domain (its constraint's edges
included) and kernel sizes 1..15: values and gradients finite; and long training runs with a
large learning rate on a small problem never produce NaN AKPs.
"""

from __future__ import annotations

import pytest
import torch

from aclcore.nn import AnalyticConv1d, AnalyticConv2d, AnalyticConv3d
from aclcore.testing import check_finite_over_domain, installed_families, plugin_registry

FAMILIES = sorted(installed_families()) if installed_families() else []
pytestmark = [pytest.mark.real_registry,
              pytest.mark.skipif(not FAMILIES, reason="no plugin installed (pip install -e "
                                 "plugins/acl-classic -e plugins/acl-example)")]
SIZES = {1: range(1, 16), 2: range(1, 16), 3: range(1, 8)}
LAYERS = {1: AnalyticConv1d, 2: AnalyticConv2d, 3: AnalyticConv3d}


@pytest.mark.parametrize("name", FAMILIES)
def test_finite_over_the_whole_declared_domain(name: str) -> None:
    with plugin_registry(installed=True) as registry:
        family = registry.get_family(name)
        check_finite_over_domain(family, max_examples=25, declared=True,
                                 sizes=SIZES[family.ndim])


@pytest.mark.parametrize("name", FAMILIES)
def test_a_long_run_with_a_large_learning_rate_keeps_akps_finite(name: str) -> None:
    with plugin_registry(installed=True) as registry:
        family = registry.get_family(name)
        torch.manual_seed(0)
        size = {1: 9, 2: 5, 3: 3}[family.ndim]
        layer = LAYERS[family.ndim](2, 3, size, families=family)
        data = torch.randn(4, 2, *(size + 4,) * family.ndim)
        target = torch.randn(4, 3, *(5,) * family.ndim)
        optimiser = torch.optim.Adam(layer.parameters(), lr=0.5)
        for _ in range(150):  # far beyond what is sensible: AKPs run to their domain's edges
            optimiser.zero_grad()
            loss = (layer(data) - target).square().mean()
            loss.backward()
            optimiser.step()
            for p in layer.parameters():
                assert bool(torch.isfinite(p).all()), (name, p)
        assert bool(torch.isfinite(layer.weight).all())
        for values in layer.akp_values().values():
            for akp, value in values.items():
                assert family.param(akp).constraint_obj.contains(float(value.detach().min()))
                assert family.param(akp).constraint_obj.contains(float(value.detach().max()))
