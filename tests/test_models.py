"""The models as values (bench/model/spec.py): both tables' parameter and multiply-add counts, imagenet's
shapes and its parity traps (TensorFlow's uneven SAME padding at stride 4, overlapping VALID pools), the one
FLOP convention, a bad model name's one-line refusal, and every installed adapter against the float64
reference on imagenet, LRN off and on."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from bench.analysis import equivalence
from bench.core import contract, data
from bench.core.config import ModelConfig, RunConfig
from bench.core.errors import UsageError
from bench.model import reference, spec
from tests.conftest import framework_params, require_framework

MNIST, IMAGENET = spec.MNIST, spec.IMAGENET


def test_mnist_counts_are_unchanged() -> None:
    # weights (HWIO + bias, [in, out] + bias); 28 -> 14 -> 7 -> 4 (SAME 2x2/2 pools), flatten 4*4*128 = 2048
    #   conv1 3*3*1*64 + 64 = 640          conv2 3*3*64*128 + 128 = 73,856
    #   conv3 3*3*128*256 + 256 = 295,168  conv4 3*3*256*256 + 256 = 590,080   conv5 3*3*256*128 + 128 = 295,040
    #   fc1 2048*1024 + 1024 = 2,098,176   fc2 1024*1024 + 1024 = 1,049,600    fc3 1024*10 + 10 = 10,250
    #   sum 4,412,810
    assert MNIST.param_count() == 4_412_810
    # multiply-adds: output positions x kernel size
    #   conv1 28*28 * 576 = 451,584        conv2 14*14 * 73,728 = 14,450,688
    #   conv3 7*7 * 294,912 = 14,450,688   conv4 7*7 * 589,824 = 28,901,376   conv5 7*7 * 294,912 = 14,450,688
    #   fc1 2,097,152   fc2 1,048,576   fc3 10,240;   sum 75,860,992
    macs = MNIST.forward_macs_per_image()
    assert macs["conv1"] == 451_584 and macs["conv4"] == 28_901_376 and macs["fc1"] == 2_097_152
    assert sum(macs.values()) == 75_860_992
    assert MNIST.shapes().activations["pool3"] == (4, 4, 128)
    assert spec.param_count() == MNIST.param_count()  # the module-level names are mnist's


def test_imagenet_counts() -> None:
    # weights:
    #   conv1 11*11*3*96 + 96 = 34,944         conv2 5*5*96*256 + 256 = 614,656
    #   conv3 3*3*256*384 + 384 = 885,120      conv4 3*3*384*384 + 384 = 1,327,488
    #   conv5 3*3*384*256 + 256 = 884,992      fc1 9216*4096 + 4096 = 37,752,832
    #   fc2 4096*4096 + 4096 = 16,781,312      fc3 4096*1000 + 1000 = 4,097,000
    #   sum 62,378,344
    assert IMAGENET.param_count() == 62_378_344
    # multiply-adds per image:
    #   conv1 56*56 * 34,848 = 109,283,328     conv2 27*27 * 614,400 = 447,897,600
    #   conv3 13*13 * 884,736 = 149,520,384    conv4 13*13 * 1,327,104 = 224,280,576
    #   conv5 13*13 * 884,736 = 149,520,384    fc1 9216*4096 = 37,748,736
    #   fc2 4096*4096 = 16,777,216             fc3 4096*1000 = 4,096,000
    #   sum 1,139,124,224
    macs = IMAGENET.forward_macs_per_image()
    assert macs == {"conv1": 109_283_328, "conv2": 447_897_600, "conv3": 149_520_384, "conv4": 224_280_576,
                    "conv5": 149_520_384, "fc1": 37_748_736, "fc2": 16_777_216, "fc3": 4_096_000}
    assert sum(macs.values()) == 1_139_124_224
    assert IMAGENET.weight_names[0] == "conv1.w" and IMAGENET.weight_names[-1] == "fc3.b"
    assert IMAGENET.weight_shapes["conv1.w"] == (11, 11, 3, 96)  # HWIO
    assert IMAGENET.weight_shapes["fc1.w"] == (9216, 4096)  # [in, out]


def test_imagenet_shapes_after_each_layer() -> None:
    acts = IMAGENET.shapes().activations
    # conv1 SAME /4: ceil(224 / 4) = 56; pools VALID 3/2: (56 - 3) // 2 + 1 = 27, (27 - 3) // 2 + 1 = 13,
    # (13 - 3) // 2 + 1 = 6; flatten 6 * 6 * 256 = 9216
    assert acts["conv1"] == (56, 56, 96) and acts["lrn1"] == (56, 56, 96)
    assert acts["pool1"] == (27, 27, 96)
    assert acts["conv2"] == (27, 27, 256)
    assert acts["pool2"] == (13, 13, 256)
    assert acts["conv3"] == acts["conv4"] == (13, 13, 384)
    assert acts["conv5"] == (13, 13, 256)
    assert acts["pool3"] == (6, 6, 256)
    assert IMAGENET.flatten_shape == (6, 6, 256) and IMAGENET.input_of("fc1") == (9216,)
    assert acts["fc3"] == (1000,)
    names = IMAGENET.scope_names(lrn=True)
    assert names.index("flatten") == names.index("fc1") - 1 and "fc2.dropout" in names
    assert IMAGENET.scope_names(lrn=False) == tuple(n for n in names if not n.startswith("lrn"))


def test_same_padding_at_stride_4_is_3_before_and_4_after() -> None:
    # TensorFlow's SAME: out = ceil(224 / 4) = 56; total = (56 - 1) * 4 + 11 - 224 = 7; before 7 // 2 = 3, after 4
    assert spec.window_padding(224, 11, 4, "SAME") == (3, 4)
    assert IMAGENET.padding_of("conv1") == ((3, 4), (3, 4))
    assert IMAGENET.padding_of("pool1") == ((0, 0), (0, 0))  # VALID
    assert MNIST.padding_of("conv1") == ((1, 1), (1, 1))  # 3x3 SAME at stride 1: even
    assert MNIST.padding_of("pool3") == ((0, 1), (0, 1))  # 7 -> 4: total 3 * 2 + 2 - 7 = 1, all of it after


def test_reference_pads_unevenly_after_the_input() -> None:
    """The float64 reference puts the larger half of SAME's padding after: on 5x5 ones, a 2x2/2 SAME conv
    has out ceil(5 / 2) = 3 and total padding 2 * 2 + 2 - 5 = 1, all after. So output (0, 0) sees the
    four taps w00 + w01 + w10 + w11 = 1 + 2 + 3 + 4 = 10, output (2, 2) sees input (4, 4) under w00 only = 1,
    and output (0, 2) sees row 0-1, column 4 under w00 and w10 = 1 + 3 = 4. Padding before would shift all."""
    x = np.ones((1, 5, 5, 1))
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)
    pads = (spec.window_padding(5, 2, 2, "SAME"), spec.window_padding(5, 2, 2, "SAME"))
    assert pads == ((0, 1), (0, 1))
    y = reference.conv_forward(x, w, np.zeros(1), 2, pads)[0, :, :, 0]
    assert y[0, 0] == 10.0 and y[2, 2] == 1.0 and y[0, 2] == 4.0 and y[2, 0] == 1.0 + 2.0


def test_near_ties_in_max_pools_are_found_and_left_out() -> None:
    """A window whose top two values differ by 1 part in 1e8 (below float32's 6e-8 resolution) is a near-tie,
    and so is a ReLU input that near zero; tie_free_images keeps only images without either."""
    tape = reference.Tape()
    reference.forward(MNIST.init_weights(0), np.zeros((1, 28, 28, 1)), False, tape)
    # 1..16 row by row: the 2x2 windows' top two are (5, 6), (7, 8), (13, 14), (15, 16); the smallest
    # relative gap is (16 - 15) / 16. Image 0's 5 becomes 6 * (1 - 1e-8): a gap of 1e-8 in the first window.
    x = np.stack([np.arange(1.0, 17.0).reshape(4, 4, 1)] * 2)
    x[0, 1, 0, 0] = 6.0 * (1 - 1e-8)
    tape.inputs, tape.pool_arg = {"pool1": x}, {"pool1": np.zeros(1)}
    margins = reference.pool_margins(tape, spec.ModelSpec("t", (4, 4, 1), 2, (
        spec.Layer("pool1", "pool", kernel=2, stride=2), spec.Layer("fc1", "dense", 2)), data=None))
    assert margins[0] == pytest.approx(1e-8, rel=1e-6) and margins[1] == pytest.approx(1 / 16)
    assert margins[0] < equivalence.POOL_TIE_MARGIN < margins[1]
    # ReLU inputs: image 0's smallest |pre-activation| is 1e-9 of its largest (2.0), image 1's 0.5 / 2.0
    tape.pre_relu = {"conv1": np.array([[2.0, -1.0, 2e-9], [2.0, -0.5, 1.0]])}
    relu = reference.relu_margins(tape)
    assert relu[0] == pytest.approx(1e-9) and relu[1] == pytest.approx(0.25)
    assert relu[0] < equivalence.RELU_TIE_MARGIN < relu[1]


def _numeric_grad(f: Any, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def test_strided_conv_and_overlapping_pool_gradients_match_finite_differences() -> None:
    """The reference's backward for imagenet's kinds of window: a conv at stride 3 with uneven SAME padding
    (9 wide, kernel 4: out 3, total 2 * 3 + 4 - 9 = 1, after) and a 3x3/2 VALID pool, whose windows overlap."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 9, 9, 2))
    w = rng.normal(size=(4, 4, 2, 3))
    pads = ((0, 1), (0, 1))
    assert (spec.window_padding(9, 4, 3, "SAME"),) * 2 == pads
    cot = rng.normal(size=(1, 3, 3, 3))
    gx, gw, _ = reference.conv_backward(x, w, cot, 3, pads)
    b = np.zeros(3)
    assert np.allclose(gx, _numeric_grad(lambda t: float((reference.conv_forward(t, w, b, 3, pads) * cot).sum()), x))
    assert np.allclose(gw, _numeric_grad(lambda t: float((reference.conv_forward(x, t, b, 3, pads) * cot).sum()), w))

    p = rng.normal(size=(1, 7, 7, 2))  # (7 - 3) // 2 + 1 = 3 outputs per axis; windows share rows 2 and 4
    out, arg = reference.pool_forward(p, 3, 2, ((0, 0), (0, 0)))
    assert out.shape == (1, 3, 3, 2)
    assert out[0, 1, 1, 0] == p[0, 2:5, 2:5, 0].max()
    pcot = rng.normal(size=out.shape)
    gp = reference.pool_backward(p.shape, arg, pcot, 3, 2, ((0, 0), (0, 0)))
    numeric = _numeric_grad(lambda t: float((reference.pool_forward(t, 3, 2, ((0, 0), (0, 0)))[0] * pcot).sum()), p)
    assert np.allclose(gp, numeric)


def test_one_flop_convention_for_peak_and_profile() -> None:
    # forward F = 2 * MACs; backward = 2F per conv/dense layer (input and weight gradients) except conv1,
    # whose input needs no gradient: F. So train = F + 2F - F_conv1 = 3F - F_conv1.
    # mnist: F = 2 * 75,860,992 = 151,721,984; F_conv1 = 2 * 451,584 = 903,168
    #        train = 455,165,952 - 903,168 = 454,262,784 per image
    assert MNIST.forward_flops_per_image() == 151_721_984
    assert MNIST.train_flops_per_image() == 454_262_784
    assert MNIST.flops_per_step("train", 32) == 32 * 454_262_784 == 14_536_409_088
    # imagenet: F = 2 * 1,139,124,224 = 2,278,248,448; F_conv1 = 2 * 109,283,328 = 218,566,656
    #           train = 6,834,745,344 - 218,566,656 = 6,616,178,688 per image
    assert IMAGENET.train_flops_per_image() == 6_616_178_688
    for model in (MNIST, IMAGENET):  # the profile's per-scope FLOPs add up to the same step
        for batch in (1, 7):
            total = sum(model.scope_flops(s, batch, p) or 0 for s in model.scopes(True)
                        for p in ("forward", "backward"))
            assert total == model.flops_per_step("train", batch)
            fwd = sum(model.scope_flops(s, batch, "forward") or 0 for s in model.scopes(False))
            assert fwd == model.flops_per_step("forward", batch)


def test_a_bad_model_name_is_refused_naming_the_choices() -> None:
    with pytest.raises(spec.UnknownModel, match=r"unknown model 'resnet'; choices: mnist, imagenet$"):
        spec.get_model("resnet")
    with pytest.raises(UsageError, match=r"unknown model 'resnet'; choices: mnist, imagenet$"):
        ModelConfig("torch", model="resnet")
    out = subprocess.run([sys.executable, "-m", "bench", "verify", "--model", "resnet"], capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown model 'resnet'; choices: mnist, imagenet" in lines[0], out.stderr


def test_imagenet_runs_on_synthetic_data_of_its_shape_and_refuses_mnist() -> None:
    model = ModelConfig("torch", model="imagenet")
    assert model.model_spec is IMAGENET
    with pytest.raises(UsageError, match="model imagenet has no MNIST here"):
        RunConfig(model, data="mnist")
    ds = data.synthetic(n_train=3, n_test=1, image_shape=IMAGENET.input_shape, classes=IMAGENET.num_classes)
    assert ds.train_images.shape == (3, 224, 224, 3) and "224x224x3 images, 1000 classes" in ds.location
    assert data.synthetic(n_train=3, n_test=1).train_images.shape == (3, 28, 28, 1)  # mnist's as before


def test_parity_refuses_imagenet_in_one_line() -> None:
    out = subprocess.run([sys.executable, "-m", "bench", "parity", "--model", "imagenet"], capture_output=True,
                         text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "there is no ImageNet here" in lines[0] and "ILSVRC-2012" in lines[0], out.stderr


def test_the_model_joins_the_record_key() -> None:
    from bench.core.records import JobKey

    base = JobKey("torch", "train", 8, False, "eager", "module", "cpu", None, "h", None)
    assert base.model == "mnist" and "model" in JobKey.names()
    stored = {**base.to_dict()}
    del stored["model"]  # a record from before models: mnist's
    assert JobKey.from_dict(stored) == base
    other = JobKey.from_dict({**base.to_dict(), "model": "imagenet"})
    assert other != base and other.label().startswith("imagenet torch train")
    assert base.label() == "torch train batch 8 LRN off"


# --- every installed adapter against the float64 reference on imagenet, batch 2 ----------------------------
BATCH = 2


@pytest.fixture(scope="module")
def imagenet_case() -> Iterator[dict[str, Any]]:
    weights = IMAGENET.init_weights(0)
    # images without a float32 near-tie in any max-pool window or ReLU (seed 0's second image, LRN on, has a
    # top-two gap of 8e-8 in pool3: float32 frameworks route its gradient to the other element, every conv
    # gradient moves by 1-2%)
    images, labels, _ = equivalence.tie_free_images(IMAGENET, BATCH, weights, [False, True])
    yield {"images": images, "labels": labels, "weights": weights, "refs": {}}


def _reference(case: dict[str, Any], lrn: bool) -> dict[str, np.ndarray]:
    if lrn not in case["refs"]:  # each LRN variant's float64 reference once for every framework
        case["refs"][lrn] = equivalence.reference_outputs(case["images"], case["labels"], case["weights"], lrn,
                                                          IMAGENET)
    return dict(case["refs"][lrn])


@pytest.mark.slow
@pytest.mark.parametrize("lrn", [False, True], ids=["lrn-off", "lrn-on"])
@pytest.mark.parametrize("fw", framework_params())
def test_adapter_matches_the_reference_on_imagenet(fw: str, lrn: bool, imagenet_case: dict[str, Any]) -> None:
    """Logits, loss, every gradient, one Adam step (62M parameters of state) and the LRN op, at the strict
    tolerances of ``bench verify``: the uneven SAME padding, the overlapping VALID pools and the NHWC
    flatten order are each wrong by far more than these if an adapter gets them wrong."""
    require_framework(fw)
    adapter = contract.adapter_class(fw)(ModelConfig(fw, lrn=lrn, dropout=0.0, model="imagenet"))
    assert adapter.param_count() == 62_378_344
    got = equivalence.collect(adapter, imagenet_case["images"], imagenet_case["labels"], imagenet_case["weights"])
    del adapter
    assert got["logits"].shape == (BATCH, 1000)
    checks = equivalence.compare(got, _reference(imagenet_case, lrn), imagenet_case["weights"], equivalence.STRICT,
                                 IMAGENET)
    assert [c.quantity for c in checks][2:10] == [f"grad {n}" for n in IMAGENET.param_layers]
    failed = [f"{c.quantity}: {c.difference:.2e} > {c.tolerance:.0e}" for c in checks if not c.passed]
    assert not failed, failed
