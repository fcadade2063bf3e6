"""Convert the CNN baseline of an ``acl train`` run with aclcore.fit.convert; test accuracy.

    acl train -o runs/lenet                       # trains the AnaNN and its CNN baseline
    python docs/fitting/convert_cnn.py runs/lenet --layers conv1 \\
        --families gabor,gaussian_d1,gaussian_d2,log,dog,gaussian --tol 0.1 0.2 0.3 0.5

Reads the baseline's weights from ``RUN/cnn/state.pt`` (``torch.load(weights_only=True)``),
rebuilds the plain LeNet with :func:`aclcore.models.build_model`, and for every ``--tol``
converts the ``--layers`` (:func:`aclcore.fit.convert`, the fit itself done once), then
prints per layer the analytic kernels and the compression, the output deviation on 512 test
images and the test accuracy of the original and the converted model (the MNIST test split
of ``aclcore.data``, as ``acl train`` reports it). ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from aclcore.data import load_dataset
from aclcore.fit import convert, fit_kernels
from aclcore.models import PLAIN, build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the acl train run directory")
    parser.add_argument("--layers", default="conv1", help="comma-separated conv layers")
    parser.add_argument("--families", required=True, help="comma-separated families")
    parser.add_argument("--tol", type=float, nargs="+", default=[0.1])
    parser.add_argument("--share-akps", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    config = json.loads((args.run / "run.json").read_text())
    state = torch.load(args.run / "cnn" / "state.pt", map_location="cpu", weights_only=True)
    data = load_dataset(config.get("data", "auto"), data_dir=config.get("data_dir"))
    model = build_model(config.get("model", "lenet"), PLAIN, image_shape=data.image_shape,
                        num_classes=data.num_classes, seed=0)
    model.load_state_dict(state["model"])
    test = data.test
    loader = [(test.images[i:i + 1000], test.labels[i:i + 1000])
              for i in range(0, len(test), 1000)]
    layers = [name.strip() for name in args.layers.split(",")]
    families = [name.strip() for name in args.families.split(",")]
    modules = dict(model.named_modules())
    fits = {name: fit_kernels(modules[name].weight.detach(), families,
                              share_akps=args.share_akps) for name in layers}
    rows = []
    for tol in args.tol:
        conversion = convert(model, families, tol, layers=layers, inputs=test.images[:512],
                             loader=loader, results=fits)  # one fit, several tol
        for rec in conversion.layers:
            print(f"tol {tol:g} {rec.path}: {rec.analytic}/{rec.kernels} kernels analytic "
                  f"{rec.families}, {rec.params_before} -> {rec.params_after} parameters "
                  f"({rec.compression:.2f}x), bank error {rec.bank_error:.3f}")
        print(f"tol {tol:g}: output deviation {conversion.output_deviation:.4f}, test accuracy "
              f"{100 * conversion.accuracy_before:.2f}% -> {100 * conversion.accuracy_after:.2f}%"
              f" (model parameters {conversion.model_params_before} -> "
              f"{conversion.model_params_after})")
        rows.append({"tol": tol if math.isfinite(tol) else "inf",
                     "layers": [{"path": r.path, "analytic": r.analytic, "kernels": r.kernels,
                                 "families": r.families, "params_before": r.params_before,
                                 "params_after": r.params_after,
                                 "compression": r.compression, "bank_error": r.bank_error}
                                for r in conversion.layers],
                     "output_deviation": conversion.output_deviation,
                     "accuracy_before": conversion.accuracy_before,
                     "accuracy_after": conversion.accuracy_after})
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
