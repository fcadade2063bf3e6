"""Export trained analytic layers as exact formulas: SymPy, LaTeX, JSON, Python, Markdown.

Every function takes an analytic layer, a model containing analytic layers (found with
``named_modules()``), the result of :func:`from_json` or a
:class:`~aclcore.export.checkpoint.Checkpoint`.

* :func:`formulas` -- per layer, each family's symbolic form, its AKP table and one SymPy
  formula per analytic kernel (learned constrained AKPs, gain and normalisation substituted).
* :func:`to_latex` -- a table of learned AKPs per layer, with each family's formula.
* :func:`to_json` / :func:`from_json` / :func:`load_json_into` -- a self-contained, versioned
  document; reading it back rebuilds layers with identical outputs, without the plugins that
  provided the families, and never evaluates anything from the document.
* :func:`to_python` -- a standalone module (torch, numpy, math) regenerating the kernel banks.
* :func:`to_markdown` -- a formula card: formulas, AKP tables and kernel pictures (PNG).
* :func:`to_png` -- the kernel pictures alone: one PNG panel per analytic layer.

The format and the decisions behind it are described in ``docs/export.md``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from aclcore.errors import ConfigError
from aclcore.export.collect import FamilyInfo, KernelFormula, LayerFormulas, collect
from aclcore.export.containers import LayerDict
from aclcore.export.json_read import read_document
from aclcore.export.json_write import to_json as _to_json
from aclcore.export.latex import to_latex as _to_latex
from aclcore.export.markdown import to_markdown as _to_markdown
from aclcore.export.panels import to_png as _to_png
from aclcore.export.python import to_python as _to_python
from aclcore.export.schema import FORMAT, VERSION, ExportLimits
from aclcore.nn.layers import AnalyticConvNd
from aclcore.nn.state import check_extra_state

__all__ = [
    "FORMAT",
    "VERSION",
    "ExportLimits",
    "FamilyInfo",
    "KernelFormula",
    "LayerDict",
    "LayerFormulas",
    "formulas",
    "from_json",
    "load_json_into",
    "to_json",
    "to_latex",
    "to_markdown",
    "to_png",
    "to_python",
]


def formulas(model_or_layer: object) -> list[LayerFormulas]:
    """The formulas of every analytic layer, one :class:`LayerFormulas` per layer.

    Each holds the layer's configuration, its families (:class:`FamilyInfo`: symbolic form,
    provenance, fingerprint) and one :class:`KernelFormula` per analytic kernel: the learned
    constrained AKPs (angles as learned, plus wrapped into ``[0, 2 pi)``), gain, scale and
    offset, and ``formula``, a SymPy expression of the coordinates only which, evaluated on
    the grid (or averaged over each tap's cell for ``"integrate"``, see ``statement``),
    reproduces ``layer.weight``. Removable singularities whose limit the compiler substitutes
    are explicit ``Piecewise`` branches.

    Raises:
        ExportError: nothing analytic to export.
    """
    return collect(model_or_layer)[1]


def to_json(model_or_layer: object, *, indent: int | None = 1, kernels: bool = True) -> str:
    """The model's analytic layers as a self-contained JSON document (format version 1).

    Args:
        model_or_layer: a layer, a model, a :class:`LayerDict` or a Checkpoint.
        indent: indentation of the structure (tensor data and per-kernel entries stay on one
            line each); ``None`` writes compact JSON.
        kernels: include the informational per-kernel AKP values and formula strings.

    Raises:
        ExportError: nothing to export, a tensor with NaN/inf, or a formula the grammar
            cannot write.
    """
    return _to_json(model_or_layer, indent=indent, kernels=kernels)


def from_json(text: str | bytes, *, limits: ExportLimits | None = None
              ) -> AnalyticConvNd | LayerDict:
    """Rebuild the analytic layers of a JSON document (untrusted input; nothing evaluated).

    Returns the layer when the document holds a single layer exported as a layer, otherwise a
    :class:`LayerDict` (module path -> layer). The layers use the document's embedded family
    definitions, so they give outputs identical to the exported ones even where the providing
    plugin is not installed; where a plugin provides a family of the same name with another
    definition, a ``UserWarning`` names both. The layers are built on the CPU, in train mode.

    Raises:
        ExportError: anything malformed, unsafe or too large (naming the JSON path, e.g.
            ``layers[0].families[1].params[2].constraint``), an unknown format or version, or
            a formula using a plugin function that is not installed.
    """
    root, layers = read_document(text, limits)
    return layers[0][1] if root == "layer" else LayerDict(layers)


def load_json_into(model: nn.Module, text: str | bytes, *, strict: bool = True,
                   limits: ExportLimits | None = None) -> nn.Module:
    """Load a JSON export's layers into an existing model with the same architecture.

    Each document layer goes to the module at its path (the model itself for a single-layer
    document); its class, mosaic, options and convolution settings must match (like
    ``load_state_dict``; a family whose formula differs warns). With ``strict``, every
    analytic layer of the model must be in the document. Returns ``model``.

    Raises:
        ExportError: the document is malformed (see :func:`from_json`).
        ConfigError: a path is missing or the configurations differ (naming the layer).
    """
    _, layers = read_document(text, limits)
    targets: dict[str, AnalyticConvNd] = {}
    for path, rebuilt in layers:
        try:
            target = model if path == "" else model.get_submodule(path)
        except AttributeError:
            raise ConfigError(f"the model has no submodule {path!r} for the document's layer "
                              f"{path!r}") from None
        if type(target) is not type(rebuilt):
            raise ConfigError(f"{path or 'the model'}: the document holds a "
                              f"{type(rebuilt).__name__}, the model has "
                              f"{type(target).__name__} here")
        for key in ("stride", "padding", "padding_mode"):
            if getattr(target, key) != getattr(rebuilt, key):
                raise ConfigError(f"{path or 'layer'}: the document's layer has {key}="
                                  f"{getattr(rebuilt, key)!r}, the model's "
                                  f"{getattr(target, key)!r}")
        if (target.bias is None) != (rebuilt.bias is None):
            raise ConfigError(f"{path or 'layer'}: bias={rebuilt.bias is not None} in the "
                              f"document, bias={target.bias is not None} in the model")
        assert isinstance(target, AnalyticConvNd)
        with warnings.catch_warnings():  # checked again (and warned about) while loading
            warnings.simplefilter("ignore")
            try:
                check_extra_state(target._config(), rebuilt._config())
            except ConfigError as err:
                raise ConfigError(f"{path or 'layer'}: {err}") from err
        targets[path] = target
    if strict:
        have = {n for n, m in model.named_modules() if isinstance(m, AnalyticConvNd)}
        missing = sorted(have - set(targets))
        if missing:
            raise ConfigError(f"the document has no layer for the model's analytic layers "
                              f"{missing}; pass strict=False to load the others")
    for path, rebuilt in layers:
        try:
            targets[path].load_state_dict(rebuilt.state_dict())
        except (ConfigError, RuntimeError) as err:
            raise ConfigError(f"{path or 'layer'}: {err}") from err
    return model


def to_latex(model_or_layer: object, *, precision: int = 4, document: bool = False,
             kernels: int = 0) -> str:
    """LaTeX: per layer a heading, each family's formula and one table of learned AKPs.

    Args:
        precision: significant digits of the numbers (1 to 17).
        document: a complete ``article`` (with ``amsmath`` and ``longtable``) instead of a
            fragment to ``\\input`` (which needs ``amsmath``).
        kernels: also write the full formula of the first ``kernels`` kernels of each layer.
    """
    return _to_latex(model_or_layer, precision=precision, document=document, kernels=kernels)


def to_python(model_or_layer: object) -> str:
    """Source of a standalone module (torch, numpy, math only) regenerating the kernel banks.

    The module defines ``kernel_bank(name_or_index=0)`` (a layer's bank, by module path or
    position, equal to ``layer.weight``), ``kernel_banks()``, ``bias(...)`` and
    ``conv_options(...)``. It contains the compiler's generated kernel functions and the
    helpers they call, copied from aclcore's source.

    Raises:
        ExportError: a family uses a plugin function whose implementation is not a torch
            function (it cannot be inlined; naming it), or a tensor holds NaN/inf.
    """
    return _to_python(model_or_layer)


def to_markdown(model_or_layer: object, out_dir: str | os.PathLike[str], *,
                precision: int = 4, title: str | None = None,
                compare: Mapping[str, torch.Tensor] | None = None,
                compare_names: tuple[str, str] = ("layer", "target"), formulas: int = 1,
                max_out: int = 16, max_in: int = 4) -> Path:
    """Write a formula card ``out_dir/card.md`` with PNG kernel grids; returns its path.

    Per layer: its configuration, how formulas give weights, a picture of its kernels
    (family-labelled, at most ``max_out`` output x ``max_in`` input channels), and per family
    its provenance, LaTeX formula, a table of learned AKPs and the full formula of its first
    ``formulas`` kernels.

    Args:
        compare: layer path (``""`` for a single layer) -> target bank shaped like its
            ``weight`` (e.g. the kernels a fit approximates): adds a panel of layer, target
            and difference per kernel.
        compare_names: the row labels of the comparison panel.

    Raises:
        AclError: matplotlib is missing. ConfigError: a ``compare`` entry does not fit.
        ExportError: ``out_dir`` (or one of its parents) is an existing file, or it cannot
            be written.
    """
    return _to_markdown(model_or_layer, out_dir, precision=precision, title=title,
                        compare=compare, compare_names=compare_names, formulas=formulas,
                        max_out=max_out, max_in=max_in)


def to_png(model_or_layer: object, out_dir: str | os.PathLike[str], *, max_out: int = 16,
           max_in: int = 4) -> list[Path]:
    """Write one PNG kernel panel per analytic layer into ``out_dir``; returns the files.

    Each file is named after the layer's module path (``features.0`` ->
    ``features_0_kernels.png``; ``layer_kernels.png`` for a layer exported on its own) and
    shows at most ``max_out`` output x ``max_in`` input channels of ``layer.weight``, each
    kernel titled with its family (``free`` for a free kernel) and ``[out, in]`` index, on a
    diverging colour map centred on 0 (red positive, blue negative; the grid convention: ``x``
    to the right, ``y`` upwards; 3-D kernels show their central ``z`` slice). These are the
    pictures of the Markdown card (:func:`to_markdown`). ``out_dir`` is created when missing.

    Raises:
        AclError: matplotlib is missing (``pip install matplotlib``), or a file cannot be
            written.
        ExportError: nothing analytic to export, ``max_out``/``max_in`` not a positive int,
            or ``out_dir`` (or one of its parents) is an existing file.
    """
    return _to_png(model_or_layer, out_dir, max_out=max_out, max_in=max_in)
