"""Candidate families built from others: shifted copies and sums of two families.

Declared families are usually centred on the kernel; a kernel learned by a network (or by
ICA) may sit off-centre, or look like the sum of two simple parts. These combinators build
ordinary :class:`~aclcore.symbolic.family.KernelFamily` values, so a layer, the exports and
the fitting treat them like any other family:

* :func:`shifted` adds a centre ``(x0, y0, z0)``: ``f(x - x0, y - y0; p)``;
* :func:`summed` adds a second family with a relative amplitude ``a``:
  ``f(p1) + a * g(p2)``, the AKPs of each renamed with a ``_1`` / ``_2`` suffix. A sum has
  no normalisation (the parts' normalisations depend on the grid, which a formula does not
  know); the layer's gain sets the amplitude.

:func:`parse_candidate` reads the spelling the ``acl fit`` command accepts:
``"shifted(gabor)"``, ``"gabor+gaussian"``, ``"shifted(gabor)+log"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy as sp

from aclcore.errors import ConfigError, FamilyError
from aclcore.symbolic.checks import canonical_symbol
from aclcore.symbolic.family import KernelFamily, Param

__all__ = ["parse_candidate", "shifted", "summed"]

_CENTRES = {"x": "x0", "y": "y0", "z": "z0"}


def _renamed(param: Param, name: str, description: str) -> Param:
    return Param(name, init=param.init, constraint=param.constraint_obj,
                 description=description or param.description)


def shifted(family: KernelFamily, extent: float = 2.0, *, name: str | None = None
            ) -> KernelFamily:
    """``family`` with a learnable centre: every coordinate ``c`` becomes ``c - c0``.

    Args:
        family: the family to move.
        extent: the centres start uniformly in ``[-extent, extent]`` pixels (multi-start
            fits draw from there).
        name: the new family's name (default ``"<family>_shifted"``).

    Raises:
        ConfigError: ``extent`` is not a finite number > 0, or the family already has a
            parameter called ``x0``/``y0``/``z0``.
    """
    if not isinstance(extent, (int, float)) or not 0 < extent < float("inf"):
        raise ConfigError(f"shifted: extent must be a finite number > 0, got {extent!r}")
    clash = [c for c in (_CENTRES[n] for n in family.coord_names) if c in family.param_names]
    if clash:
        raise ConfigError(f"shifted: family {family.name!r} already has parameter(s) {clash}; "
                          "rename them before shifting it")
    subs = {}
    params = list(family.params)
    for coord in family.coord_names:
        centre = _CENTRES[coord]
        subs[canonical_symbol(coord)] = canonical_symbol(coord) - canonical_symbol(centre)
        params.append(Param(centre, init=(-float(extent), float(extent)), constraint="real",
                            description=f"centre along {coord} (pixels)"))
    return _family(
        name or f"{family.name}_shifted", family.sympy_expr.xreplace(subs), family, params,
        f"{family.name} with a learnable centre.", family.normalize,
    )


def summed(first: KernelFamily, second: KernelFamily, *, name: str | None = None,
           amplitude: tuple[float, float] = (-1.0, 1.0)) -> KernelFamily:
    """``first(p_1) + a * second(p_2)``: a sum of two families of the same coordinates.

    The AKPs of ``first`` get the suffix ``_1``, those of ``second`` ``_2``; ``a`` (AKP
    ``a``, constraint ``"real"``) starts uniformly in ``amplitude``. The sum has no
    normalisation.

    Raises:
        ConfigError: the families have different coordinates.
    """
    if first.coord_names != second.coord_names:
        raise ConfigError(
            f"summed: families {first.name!r} {first.coord_names} and {second.name!r} "
            f"{second.coord_names} have different coordinates; sum families of one dimension"
        )
    params: list[Param] = []
    exprs = []
    for family, suffix in ((first, "_1"), (second, "_2")):
        subs = {}
        for p in family.params:
            new = f"{p.name}{suffix}"
            subs[canonical_symbol(p.name)] = canonical_symbol(new)
            params.append(_renamed(p, new, f"{family.name}: {p.description}".rstrip(": ")))
        exprs.append(family.sympy_expr.xreplace(subs))
    params.append(Param("a", init=amplitude, constraint="real",
                        description=f"amplitude of {second.name} relative to {first.name}"))
    expr = exprs[0] + canonical_symbol("a") * exprs[1]
    return _family(name or f"{first.name}_plus_{second.name}", expr, first, params,
                   f"{first.name} plus a times {second.name}.", "none")


def _family(name: str, expr: sp.Expr, base: KernelFamily, params: list[Param],
            description: str, normalize: str) -> KernelFamily:
    try:
        return KernelFamily(name=name, expr=expr, coords=base.coord_names, params=params,
                            description=description, normalize=normalize)
    except FamilyError as err:
        raise ConfigError(f"cannot build the candidate family {name!r}: {err}") from err


_TOKEN = re.compile(r"\s*(shifted\(|\)|\+|[a-z][a-z0-9_]*)")


def parse_candidate(spec: str, look_up: Callable[[str], KernelFamily],
                    extent: float = 2.0) -> KernelFamily:
    """A candidate family from its spelling: ``name``, ``shifted(X)``, ``X+Y``.

    ``look_up`` turns a plain name into a family (e.g. :func:`aclcore.get_family`, which
    raises :class:`~aclcore.errors.UnknownFamilyError` for an unknown name); ``shifted``
    centres start in ``[-extent, extent]``. At most one ``+`` (a sum of two families).

    Raises:
        ConfigError: a spelling outside this small grammar.
    """
    text = spec.strip()
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or not m.group(1):
            raise ConfigError(
                f"family spelling {spec!r}: unexpected {text[pos:].strip()[:20]!r}; write a "
                "family name, shifted(NAME), or A+B (e.g. 'shifted(gabor)+gaussian')"
            )
        tokens.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1

    def term(i: int) -> tuple[KernelFamily, int]:
        if i < len(tokens) and tokens[i] == "shifted(":
            inner, j = term(i + 1)
            if j >= len(tokens) or tokens[j] != ")":
                raise ConfigError(f"family spelling {spec!r}: missing ')' after shifted(...")
            return shifted(inner, extent), j + 1
        if i < len(tokens) and tokens[i] not in ("+", ")"):
            return look_up(tokens[i]), i + 1
        raise ConfigError(f"family spelling {spec!r}: expected a family name")

    first, i = term(0)
    if i < len(tokens) and tokens[i] == "+":
        second, i = term(i + 1)
        first = summed(first, second)
    if i != len(tokens):
        raise ConfigError(
            f"family spelling {spec!r}: unexpected {''.join(tokens[i:])!r}; at most one '+' "
            "(a sum of two families)"
        )
    return first
