"""A hostile corpus for from_json and load_checkpoint: every entry is refused with an
ExportError (naming the field) and nothing is ever executed (a canary file is never created).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
import torch
from helpers.families import gabor, x, y

from aclcore import AnalyticConv2d, KernelFamily, Param
from aclcore.errors import AclError, ExportError
from aclcore.export import ExportLimits, from_json, to_json
from aclcore.export.checkpoint import load_checkpoint, save_checkpoint

DELETE = object()


@pytest.fixture(scope="module")
def base_doc() -> dict[str, Any]:
    torch.manual_seed(0)
    layer = AnalyticConv2d(1, 3, 3, families={gabor(): 2, "free": 1})
    return json.loads(to_json(layer))  # type: ignore[no-any-return]


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "CANARY"
    yield path
    assert not path.exists(), "hostile input executed code"


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split("/")]
    target: Any = doc
    for key in keys[:-1]:
        target = target[key]
    if value is DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return doc


def _code(canary: Path) -> str:
    return f"__import__('os').system('touch {canary}')"


F = "layers/0/families/0"
C = "layers/0/config"
T = "layers/0/tensors"
CASES: list[tuple[str, Any, str]] = [
    # code in formula strings, in every disguise
    (f"{F}/expr", "CODE", r"layers\[0\].families\[0\].expr: attribute access"),
    (f"{F}/expr", "exp(x).__class__", r"families\[0\].expr: attribute access"),
    (f"{F}/expr", "().__class__.__bases__[0].__subclasses__()", r"families\[0\].expr"),
    (f"{F}/expr", "(lambda: 0)()", r"families\[0\].expr"),
    (f"{F}/expr", "eval('1')", r"families\[0\].expr: unknown function 'eval'"),
    (f"{F}/expr", "x" * 30_000, r"families\[0\].expr: string of 30000 characters"),
    (f"{F}/expr", 42, r"families\[0\].expr: expected a string, got an integer"),
    (f"{F}/params/0/name", "__class__", r"families\[0\].params\[0\]: parameter name '__cl"),
    (f"{F}/params/2/constraint", "evil", r"families\[0\].params\[2\].constraint: 'evil' is not"),
    (f"{F}/params/2/constraint", [2.0, 1.0], r"families\[0\].params\[2\]: interval .*lo < hi"),
    (f"{F}/params/2/constraint", ["a", "b"], r"params\[2\].constraint\[0\]: expected a number"),
    (f"{F}/params/0/init", -5.0, r"params\[0\]: .*outside its constraint"),
    (f"{F}/params/0/init", [1, 2, 3], r"params\[0\].init: array of 3 items"),
    (f"{F}/params", {"a": 1}, r"families\[0\].params: expected an array, got an object"),
    (f"{F}/name", "free", r"(?s)families\[0\]: invalid kernel family free.*reserved"),
    (f"{F}/name", "Gabor!", r"families\[0\].name: 'Gabor!' is not a valid name"),
    (f"{F}/coords", ["x", "y", "z"], r"families\[0\].coords: 3 coordinates for a 2-D layer"),
    (f"{F}/symmetries", ["evil:x"], r"families\[0\].symmetries\[0\]: unknown symmetry"),
    (f"{F}/provenance", {"provider": 1, "distribution": None, "version": None},
     r"provenance.provider: expected a string"),
    (f"{F}/fingerprint", None, r"families\[0\].fingerprint: expected a string"),
    (f"{F}/functions", [{"name": "os.system", "provider": "x"}], r"functions\[0\].name"),
    (f"{F}/extra", 1, r"families\[0\]: unknown key 'extra'"),
    (f"{F}/expr", DELETE, r"families\[0\]: missing key 'expr'"),
    # absurd or wrong sizes, before anything is allocated
    (f"{C}/kernel_size", [10**9, 10**9], r"config.kernel_size\[0\]: 1000000000 is out of range"),
    (f"{C}/kernel_size", [4000, 4000], r"free_weight: shape \(1, 1, 3, 3\) .* does not match"),
    (f"{C}/out_channels", 10**12, r"config.out_channels: 1000000000000 is out of range"),
    (f"{C}/in_channels", -1, r"config.in_channels: -1 is out of range"),
    (f"{C}/in_channels", True, r"config.in_channels: expected an integer, got a boolean"),
    (f"{C}/in_channels", 3.0, r"config.in_channels: expected an integer, got a number"),
    (f"{C}/in_channels", "3", r"config.in_channels: expected an integer, got a string"),
    (f"{C}/kernel_size", [3], r"config.kernel_size: array of 1 items"),
    (f"{C}/padding", "evil", r"config.padding: 'evil' is not one of"),
    (f"{C}/dtype", "int64", r"config.dtype: 'int64' is not one of"),
    (f"{C}/quadrature", 1000, r"config.quadrature: 1000 is out of range"),
    (f"{C}/mosaic/0/count", 5, r"layers\[0\]: AnalyticConv2d: channel counts"),
    (f"{C}/mosaic/0/family", "other", r"config.normalize: unknown key 'gabor'"),
    (f"{C}/mosaic/1/family", "gabor", r"mosaic\[1\].family: 'gabor' is given twice"),
    (f"{C}/normalize", {"gabor": "evil"}, r"normalize.gabor: 'evil' is not one of"),
    (f"{C}/normalize", {"nope": "sum"}, r"config.normalize: unknown key 'nope'"),
    (f"{T}/bias/shape", [5], r"tensors.bias.data: array of 3 items \(expected 5 to 5\)"),
    (f"{T}/bias/shape", [10**9, 10**9], r"tensors.bias.shape\[0\]: 1000000000 is out of range"),
    (f"{T}/bias/shape", [10**4, 10**5], r"tensors.bias.shape: 1000000000 elements"),
    (f"{T}/bias/data", [1.0, "2", 3.0], r"tensors.bias.data\[1\]: expected a number"),
    (f"{T}/bias/data", [1.0, True, 3.0], r"tensors.bias.data\[1\]: expected a number, got a"),
    (f"{T}/bias/data", [1.0, [2.0], 3.0], r"tensors.bias.data\[1\]: expected a number"),
    (f"{T}/bias/dtype", "torch.float32", r"tensors.bias.dtype"),
    (f"{T}/bias/dtype", "float64", r"bias: shape \(3,\) torch.float64 does not match"),
    (f"{T}/bias", DELETE, r"missing \['bias'\]"),
    (f"{T}/evil", {"dtype": "float32", "shape": [1], "data": [1.0]}, r"unexpected \['evil'\]"),
    (f"{T}/analytic.gabor.gain/data", [[1e39], [1.0]], r"gain: a value overflows float32"),
    ("layers/0/class", "os.system", r"layers\[0\].class: 'os.system' is not one of"),
    ("layers/0/path", "a..b", r"layers\[0\].path: 'a..b' is not a module path"),
    ("layers/0/path", "x", r"layers\[0\].path: the path is ''"),
    ("layers/0/kernels/0/akps", {"sigma": "big"}, r"kernels\[0\].akps.sigma: expected a number"),
    ("layers/0/kernels/0/formula", None, r"kernels\[0\].formula: expected a string"),
    ("layers/0/kernels/0/wrapped", 5, r"kernels\[0\].wrapped: expected an object"),
    ("layers/0/kernels/0/akps", ["sigma"], r"kernels\[0\].akps: expected an object"),
    ("layers", [], r"layers: array of 0 items"),
    ("version", 2, r"version: unsupported format version 2:"),
    ("version", "1", r"version: unsupported format version '1'"),
    ("format", "pickle", r"format: 'pickle' is not an aclcore export"),
    ("root", "evil", r"root: 'evil' is not one of"),
    ("extra", 1, r"document: unknown key 'extra'"),
]


@pytest.mark.parametrize(("path", "value", "match"), CASES,
                         ids=[f"{i}-{c[0].split('/')[-1]}" for i, c in enumerate(CASES)])
def test_hostile_documents_are_refused(base_doc: dict[str, Any], canary: Path, path: str,
                                       value: Any, match: str) -> None:
    if value == "CODE":
        value = _code(canary)
    text = json.dumps(_set(base_doc, path, value))
    with pytest.raises(ExportError, match=match):
        from_json(text)


@pytest.mark.parametrize(("text", "match"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a": ' * 40 + "1" + "}" * 40, "nested too deeply"),
    ("[]", "expected an object at the top"),
    ("null", "expected an object at the top"),
    ('{"format": NaN}', "NaN is not allowed"),
    ('{"format": Infinity}', "Infinity is not allowed"),
    ('{"format": 1e999}', "out of range"),
    ('{"format": ' + "9" * 5000 + "}", "integer literal with 5000 digits"),
    ('{"format": 1, "format": 2}', "duplicate key 'format'"),
    ("{'format': 1}", "not valid JSON"),
    ("", "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (12, "JSON string, not int"),
])
def test_malformed_json_is_refused(canary: Path, text: Any, match: str) -> None:
    with pytest.raises(ExportError, match=match):
        from_json(text)


def test_non_finite_kernels_are_refused() -> None:
    a = sp.Symbol("a", real=True)
    fam = KernelFamily("steep", 1e30 * x / a + y, (x, y), [Param(a, 1.0)])
    doc = json.loads(to_json(AnalyticConv2d(1, 1, 3, families=fam)))
    raw = f"{T}/analytic.steep.raw_a/data"
    with pytest.raises(ExportError, match=r"layers\[0\]: the stored AKPs give a non-finite"):
        from_json(json.dumps(_set(doc, raw, [[0.0]])))
    with pytest.raises(ExportError, match=r"layers\[0\]: the kernel bank is not finite"):
        from_json(json.dumps(_set(doc, f"{T}/analytic.steep.gain/data", [[1e20]])))


def test_size_limits_are_checked_before_parsing(base_doc: dict[str, Any]) -> None:
    text = json.dumps(base_doc)
    small = ExportLimits(max_chars=len(text) - 1)
    with pytest.raises(ExportError, match="document: too large"):
        from_json(text, limits=small)
    with pytest.raises(ExportError, match="document: too large"):
        from_json(text.encode(), limits=small)
    from_json(text, limits=ExportLimits(max_chars=len(text)))
    with pytest.raises(ExportError, match=r"layers\[0\].config: the kernel bank would have 27 "):
        from_json(text, limits=ExportLimits(max_bank_elements=20))
    with pytest.raises(ExportError, match="nested too deeply"):
        from_json(text, limits=ExportLimits(max_depth=5))


def test_a_pickle_with_code_is_refused_by_weights_only(tmp_path: Path, canary: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {canary}",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"state": Evil()}, protocol=2))
    with pytest.raises(ExportError, match="refused: the file is not a weights-only checkpoint"):
        load_checkpoint(path)
    zipped = tmp_path / "evil_zip.pt"
    torch.save({"format": "aclcore.checkpoint", "payload": Evil()}, zipped)
    with pytest.raises(AclError, match="refused"):
        load_checkpoint(zipped)


@pytest.mark.parametrize(("edit", "match"), [
    ({"version": 7}, r"checkpoint.version: unsupported checkpoint version 7"),
    ({"format": "other"}, r"checkpoint.format: 'other' is not an aclcore checkpoint"),
    ({"json": 5}, r"checkpoint.json: expected a string"),
    ({"metadata": [1]}, r"checkpoint.metadata: expected a dict"),
    ({"state_dict": [1]}, r"checkpoint.state_dict: expected a mapping"),
    ({"extra": 1}, r"checkpoint: unknown key 'extra'"),
    ({"json": '{"format": "aclcore.export", "version": 1, "layers": "CODE"}'},
     r"missing key 'aclcore_version'"),
])
def test_hostile_checkpoints_are_refused(tmp_path: Path, canary: Path, edit: dict[str, Any],
                                         match: str) -> None:
    torch.manual_seed(0)
    path = save_checkpoint(AnalyticConv2d(1, 2, 3, families=gabor()), tmp_path / "c.pt")
    data = torch.load(path, weights_only=True)
    data.update(edit)
    torch.save(data, path)
    with pytest.raises(ExportError, match=match):
        load_checkpoint(path)


@pytest.mark.parametrize(("edit", "match"), [
    ({"kernel_size": [10**9, 10**9]}, r"_extra_state'\].kernel_size\[0\]: 1000000000 is out"),
    ({"out_channels": 10**12}, r"out_channels: 1000000000000 is out of range"),
    ({"families": "gabor"}, r"families: expected an array"),
    ({"layer": "os.system"}, r"layer: 'os.system' is not one of"),
    ({"aclcore_format": 99}, r"aclcore_format: layer-state format 99 is newer"),
    ({"families": [{"name": "free", "count": 2, "evil": 1}]}, r"families\[0\]: unknown key"),
])
def test_hostile_extra_states_are_refused(tmp_path: Path, edit: dict[str, Any],
                                          match: str) -> None:
    torch.manual_seed(0)
    state = AnalyticConv2d(1, 2, 3, families="free").state_dict()
    state["_extra_state"] = dict(state["_extra_state"], **edit)
    path = tmp_path / "plain.pt"
    torch.save(state, path)
    with pytest.raises(ExportError, match=match):
        load_checkpoint(path)


@pytest.mark.parametrize(("key", "make", "match"), [
    ("free_weight", lambda t: t.to_sparse(), r"\['free_weight'\]: expected a dense tensor, "
                                             r"got layout torch.sparse_coo"),
    ("bias", lambda t: torch.empty_like(t, device="meta"),
     r"\['bias'\]: expected a tensor with data, got one on the 'meta' device"),
    ("bias", lambda t: torch.zeros_like(t, dtype=torch.int64), r"\['bias'\]: expected a float"),
])
def test_tensors_without_dense_cpu_data_are_refused(tmp_path: Path, key: str, make: Any,
                                                    match: str) -> None:
    state = AnalyticConv2d(1, 2, 3, families="free").state_dict()
    state[key] = make(state[key])
    path = tmp_path / "plain.pt"
    torch.save(state, path)
    with pytest.raises(ExportError, match=match):
        load_checkpoint(path)


def test_unreadable_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ExportError, match="not a readable torch checkpoint"):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(ExportError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(ExportError, match=r"without checkpoint\.pt"):
        load_checkpoint(tmp_path)
    with pytest.raises(ExportError, match="/dev/null is not a regular file"):
        load_checkpoint("/dev/null")  # a device would otherwise be read (or block) forever
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ExportError, match="no aclcore analytic layer"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ExportError, match="expected a state dict"):
        load_checkpoint(tmp_path / "list.pt")
    with pytest.raises(ExportError, match="larger than the limit"):
        load_checkpoint(tmp_path / "list.pt", limits=ExportLimits(max_file_bytes=10))


def test_code_in_informational_text_is_kept_as_text(base_doc: dict[str, Any],
                                                    canary: Path) -> None:
    code = _code(canary)
    doc = base_doc
    for path in (f"{F}/description", f"{F}/latex", "layers/0/statement",
                 "layers/0/kernels/0/formula", f"{F}/params/0/description"):
        doc = _set(doc, path, code)
    layer = from_json(json.dumps(doc))
    assert isinstance(layer, AnalyticConv2d)
    assert layer.kernel_families["gabor"].description == code


def test_random_mutations_give_export_errors_only(base_doc: dict[str, Any],
                                                  canary: Path) -> None:
    def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        yield prefix
        items = node.items() if isinstance(node, dict) else (
            enumerate(node) if isinstance(node, list) else ())
        for key, value in items:
            yield from paths(value, (*prefix, key))

    every = [p for p in paths(base_doc) if p]
    values: list[Any] = [None, True, 0, -1, 2**40, 1.5, -1e300, "", "free", _code(canary), [],
                         [1], {}, {"a": 1}, [[1.0]], "float64", "integrate", "same"]
    rng = random.Random(0)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(300):
        doc = copy.deepcopy(base_doc)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(every)
            target: Any = doc
            try:
                for key in path[:-1]:
                    target = target[key]
                if isinstance(target, dict) and rng.random() < 0.15:
                    del target[path[-1]]
                else:
                    target[path[-1]] = copy.deepcopy(rng.choice(values))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed the path
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. an edited fingerprint
                from_json(json.dumps(doc))
            outcomes["ok"] += 1
        except ExportError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 200


# -- bounded work and memory for a whole document ------------------------------------------------
def _bessel_doc(orders: range) -> str:
    """A small document whose 3-D families each need ~2 million calls of limit search."""
    z, a = sp.symbols("z a", real=True)
    r2 = x**2 + y**2 + z**2
    families = {KernelFamily(f"bessel{n}", sp.besselj(n, a * sp.sqrt(r2)) / r2, ("x", "y", "z"),
                             [Param(a, (0.5, 1.0), "positive")]): 1 for n in orders}
    from aclcore import AnalyticConv3d

    torch.manual_seed(0)
    return to_json(AnalyticConv3d(1, len(families), 3, families=families))


def test_a_document_as_a_whole_has_a_work_budget() -> None:
    from aclcore.compile import clear_cache

    text = _bessel_doc(range(2, 4))
    clear_cache()  # a fresh process would have to find the limits again
    sp.core.cache.clear_cache()
    # each family alone is within the compiler's own per-expression bound; together they
    # exceed the document's budget, which is a count of calls: the same answer everywhere
    with pytest.raises(ExportError, match=r"the document needs more than 1000000 calls"):
        from_json(text, limits=ExportLimits(max_work=1_000_000))
    layer = from_json(text)  # within the default budget
    assert isinstance(layer, torch.nn.Module)


def test_a_tiny_document_cannot_ask_for_huge_banks(base_doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(base_doc)
    second = copy.deepcopy(doc["layers"][0])
    doc["root"], doc["layers"][0]["path"], second["path"] = "model", "a", "b"
    doc["layers"].append(second)
    text = json.dumps(doc)
    assert len(from_json(text)) == 2  # 27 + 27 elements
    with pytest.raises(ExportError, match=r"layers\[1\].config: the kernel banks of the layers "
                                          r"so far would have 54 elements together"):
        from_json(text, limits=ExportLimits(max_total_bank_elements=40))
    assert ExportLimits().max_bank_elements <= 2**26  # was 2**28: a 10 kB document got 1 GB
