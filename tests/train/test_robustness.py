"""Noise and rotation perturbations of the test set, and the accuracy curves."""

from __future__ import annotations

import pytest
import torch

from aclcore.data import load_dataset
from aclcore.models import PLAIN, build_model
from aclcore.train import evaluate
from aclcore.train.robustness import add_noise, noise_curve, rotate, rotation_curve


def test_rotation_is_counter_clockwise_about_the_centre() -> None:
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(rotate(image, 0.0), image)
    # torch.rot90 over (rows, columns) turns the displayed image counter-clockwise
    torch.testing.assert_close(rotate(image, 90.0), torch.rot90(image, 1, dims=(2, 3)))
    torch.testing.assert_close(rotate(image, -90.0), torch.rot90(image, -1, dims=(2, 3)))
    ring = rotate(torch.ones(1, 1, 9, 9), 45.0)
    assert ring[0, 0, 4, 4] == pytest.approx(1.0) and ring[0, 0, 0, 0] == 0.0  # zero fill


def test_noise_is_seeded_and_additive() -> None:
    raw = torch.zeros(2, 1, 8, 8)
    assert torch.equal(add_noise(raw, 0.3, seed=1), add_noise(raw, 0.3, seed=1))
    assert not torch.equal(add_noise(raw, 0.3, seed=1), add_noise(raw, 0.3, seed=2))
    assert torch.equal(add_noise(raw, 0.0), raw)
    assert add_noise(raw, 0.5).std().item() == pytest.approx(0.5, rel=0.2)


def test_curves_start_at_the_clean_accuracy() -> None:
    data = load_dataset("digits", subset=64)
    model = build_model("lenet", PLAIN, image_shape=(1, 8, 8), num_classes=10, seed=0)
    _, clean = evaluate(model, data.test)
    noise = noise_curve(model, data, levels=(0.0, 0.5))
    rotation = rotation_curve(model, data, angles=(0.0, 30.0))
    assert noise.levels == [0.0, 0.5] and rotation.kind == "rotation"
    assert noise.accuracy[0] == pytest.approx(clean) == rotation.accuracy[0]
    assert model.training  # the mode is restored
