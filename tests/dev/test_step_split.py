"""``step_split``: the C comparison kernel computes exactly what it claims, and the split runs
through the real int8 model (structure only: its times are measurements, in the README)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from captioner import hardware
from captioner.dev import step_split

FLAGS = hardware.detect().cpu_flags
PATHS = [p for p, flag in ((True, "avx512_vnni"), (False, "avx2")) if flag in FLAGS]


@pytest.fixture(scope="module", params=PATHS, ids=lambda vnni: "vnni" if vnni else "avx2")
def kernel(request, tmp_path_factory):
    built = step_split.build(vnni=request.param, folder=tmp_path_factory.mktemp("gemv"))
    assert built is not None, "no C compiler (.ci/run installs gcc)"
    return built


@pytest.mark.parametrize("rows, width", [(37, 100), (8, 64), (300, 2048), (5, 7)])
def test_kernel_is_its_reference(kernel, rows, width):
    """Any shape (rows not a multiple of the block, widths not of the chunk): the integer
    sums are exact, so the result is the reference's to float rounding. Without VNNI the
    weights are 7-bit, as the app's are there, and the worst case (all +63 against all-positive
    activations, every 16-bit pair sum at its largest) is in the test."""
    top = 127 if kernel.vnni else 63
    gen = torch.Generator().manual_seed(rows * width)
    weight = torch.randint(-top, top + 1, (rows, width), dtype=torch.int8, generator=gen)
    weight[0] = top
    scales = torch.rand(rows, generator=gen) * 0.01 + 1e-3
    x = torch.randn(width, generator=gen).abs()
    out = kernel(kernel.pack(weight, scales), x).double()
    ref = step_split.reference(x, weight, scales)
    assert (out - ref).abs().max() <= 1e-5 * ref.abs().max()
    exact = x.double() @ (weight.double() * scales.double()[:, None]).t()
    assert (out - exact).norm() <= 0.02 * exact.norm()  # 8-bit activations: ~0.5% off


def test_avx2_path_needs_the_7_bit_weights():
    """What the reference check above would catch: 8-bit weights saturate the AVX2 path's
    16-bit pair sums (2 * 255 * 127 > 32,767)."""
    if "avx2" not in FLAGS:
        pytest.skip("no AVX2 on this CPU")
    kernel = step_split.build(vnni=False)
    weight = torch.full((8, 64), 127, dtype=torch.int8)
    x, scales = torch.ones(64), torch.ones(8)
    out = kernel(kernel.pack(weight, scales), x).double()
    assert (out - step_split.reference(x, weight, scales)).abs().max() > 1.0


def test_split_runs_the_real_int8_step(tiny_vl, capsys):
    """The command on the tiny checkpoint: one step's quantized calls (fused q / k / v and
    gate / up, o, down, per layer; the head) and their bytes, every part timed."""
    assert step_split.main(["--model", tiny_vl, "--rounds", "2", "--prompt-tokens", "24"]) == 0
    result = json.loads(capsys.readouterr().out)
    config = json.loads((Path(tiny_vl) / "config.json").read_text())
    text = config["text_config"]
    hidden, inter, layers = (
        text["hidden_size"],
        text["intermediate_size"],
        text["num_hidden_layers"],
    )
    head_dim = text.get("head_dim") or hidden // text["num_attention_heads"]
    q, kv = text["num_attention_heads"] * head_dim, text["num_key_value_heads"] * head_dim
    per_layer = (q + 2 * kv) * hidden + hidden * q + 2 * inter * hidden + hidden * inter
    assert result["layer_calls"] == 4 * layers + 1
    assert result["product_bytes"] == layers * per_layer + text["vocab_size"] * hidden
    assert result["context_tokens"] == [24, 24 + 2 * 2]  # two steps a round
    assert result["c_kernel"] == ("AVX-512 VNNI" if "avx512_vnni" in FLAGS else "AVX2")
    assert all(ms > 0 for ms in result["ms"].values())
    assert set(result["gb_s"]) == {"products", "c_kernel", "read"}


def test_emulated_avx2_split_takes_the_avx2_path(tiny_vl, capfd):
    """``--emulate avx2``: a child process whose torch runs its AVX2 kernels and whose app and
    comparison kernel take the CPU for an AVX2 one."""
    argv = ["--model", tiny_vl, "--rounds", "1", "--prompt-tokens", "16", "--emulate", "avx2"]
    assert step_split.main(argv) == 0
    result = json.loads(capfd.readouterr().out)
    assert result["cpu_capability"] == "AVX2" and result["c_kernel"] == "AVX2"
    assert result["layer_calls"] > 0 and all(ms > 0 for ms in result["ms"].values())


def test_compiled_step_is_the_eager_step(tiny_vl, capsys):
    """``--compile``: the int8 step through torch.compile (FBGEMM's product an opaque custom
    op, no graph break left to fall back on) gives the eager step's logits, and both are
    timed; the app's QuantizedLinear is left as it was."""
    from captioner import quantize

    layer_class, _ = quantize._module_classes()
    forward = layer_class.forward
    argv = ["--model", tiny_vl, "--rounds", "2", "--prompt-tokens", "16", "--compile"]
    assert step_split.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["cache"] == "StaticCache" and result["compile_s"] > 0
    assert result["graph_breaks"] == 0
    assert result["logits_cosine"] > 0.99
    assert all(ms > 0 for ms in result["ms"].values())
    assert layer_class.forward is forward and not step_split._PACKED
