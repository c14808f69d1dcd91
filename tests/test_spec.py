from __future__ import annotations

import numpy as np
import pytest

from bench.model import spec


def test_param_count_matches_design() -> None:
    assert spec.param_count() == 4_412_810


def test_forward_macs_from_table() -> None:
    macs = spec.forward_macs_per_image()
    assert sum(macs.values()) == 75_860_992
    assert sum(v for k, v in macs.items() if k.startswith("conv")) == 72_705_024
    assert spec.forward_flops_per_image() == 2 * 75_860_992
    # issue #30: forward F plus backward 2F, less conv1's input gradient (its forward, 2 * 451,584)
    assert spec.flops_per_step("train", 128) == (3 * 2 * 75_860_992 - 2 * 451_584) * 128


def test_shapes_follow_same_pooling() -> None:
    acts = spec.shapes().activations
    assert acts["pool1"] == (14, 14, 64)
    assert acts["pool3"] == (4, 4, 128)  # SAME on 7x7: 4x4, not torch's default 3x3
    assert spec.WEIGHT_SHAPES["fc1.w"] == (2048, 1024)
    assert spec.WEIGHT_SHAPES["conv2.w"] == (3, 3, 64, 128)


@pytest.mark.parametrize("scheme", ["he", "book"])
def test_init_is_seeded_and_truncated(scheme: str) -> None:
    a, b = spec.init_weights(3, scheme), spec.init_weights(3, scheme)
    c = spec.init_weights(4, scheme)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["conv1.w"], c["conv1.w"])
    assert all(a[k].dtype == np.float32 for k in a)
    assert all(not a[k].any() for k in a if k.endswith(".b"))
    std = np.sqrt(2 / (3 * 3 * 64)) if scheme == "he" else 0.1
    assert np.abs(a["conv2.w"]).max() <= 2 * std + 1e-7  # truncated at two standard deviations
    # a truncated normal at 2 sigma has std 0.88 * sigma
    assert a["conv2.w"].std() == pytest.approx(0.88 * std, rel=0.02)


def test_unknown_init_scheme() -> None:
    with pytest.raises(ValueError, match="he, book"):
        spec.init_weights(0, "xavier")


def test_check_weights_names_the_problem() -> None:
    w = spec.init_weights(0)
    w["fc1.w"] = w["fc1.w"].T
    with pytest.raises(ValueError, match=r"fc1.w.*\(1024, 2048\).*\(2048, 1024\)"):
        spec.check_weights(w)
    del w["fc1.w"]
    with pytest.raises(ValueError, match="missing"):
        spec.check_weights(w)
