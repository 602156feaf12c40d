"""The CPU's int8 / int4 text decoder (captioner/quantize.py): correct products, the bytes the
planner counts, the layers it touches, and a quantized tiny model close to its bf16 self.

No speed is asserted here: the speeds are in ``python -m captioner bench --report`` and the
README."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch

from captioner import generation, loader, memory, quantize


def linear(out_features=96, in_features=256, bias=False, seed=0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    layer = torch.nn.Linear(in_features, out_features, bias=bias).to(torch.bfloat16)
    with torch.no_grad():
        layer.weight.normal_(0.0, 0.02)
    return layer


def cosine(a, b) -> float:
    return torch.nn.functional.cosine_similarity(
        a.float().flatten(), b.float().flatten(), dim=0
    ).item()


ENGINES = [quantize.dynamic_engine(), None]  # FBGEMM (where torch has it) and the fallback


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("scheme", ["int8", "int4"])
@pytest.mark.parametrize("rows", [1, 3, quantize.DECODE_ROWS + 1, 40])  # decode and prefill paths
def test_a_quantized_layer_computes_the_same_product(scheme, rows, engine):
    layer = linear(bias=True)
    q = quantize._module_class()(layer, scheme, torch.bfloat16, prefill=True, engine=engine)
    assert (q.packed is not None) == (engine is not None)
    x = torch.randn(2, rows, layer.in_features, dtype=torch.bfloat16)
    with torch.no_grad():
        want, got = layer(x), q(x)
    assert got.shape == want.shape and got.dtype == torch.bfloat16
    # int8: rounding to 1/254 of a row's range; int4 (decode rows): 1/30 of a group's range
    floor = 0.999 if scheme == "int8" or rows > quantize.DECODE_ROWS else 0.99
    assert cosine(got, want) > floor


def test_fp32_activations_go_through_the_same_kernels():
    """A CPU without fast bf16 keeps its float parts in fp32; the layer takes and returns fp32."""
    layer = linear()
    q = quantize._module_class()(layer, "int4", torch.float32, prefill=True)
    for rows in (1, 20):
        x = torch.randn(rows, layer.in_features)
        with torch.no_grad():
            y = q(x)
        assert y.dtype == torch.float32
        assert cosine(y, layer.float()(x)) > 0.99


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("scheme", "prefill"), [("int8", False), ("int4", True), ("int4", False)])
def test_layer_bytes_are_what_the_layer_holds(scheme, prefill, engine):
    """With FBGEMM the planner's figure is the layer's; the fallback holds a little less (a
    bf16 scale per row), so the plan stays an upper bound."""
    layer = linear(out_features=64, in_features=384)
    q = quantize._module_class()(layer, scheme, torch.bfloat16, prefill=prefill, engine=engine)
    planned = quantize.layer_bytes(scheme, 64, 384, prefill=prefill)
    if engine is not None or not (scheme == "int8" or prefill):
        assert q.nbytes() == planned
    else:
        assert planned - 10 * 64 == q.nbytes()
    assert quantize.group_size(384) == 128 and quantize.group_size(64) == 64


PACKED_SIZE = """
import torch
from captioner import quantize

def rss():
    with open("/proc/self/statm", encoding="utf-8") as f:
        return int(f.read().split()[1]) * 4096

q8 = torch.randint(-127, 128, (16384, 4096), dtype=torch.int8)
scales = torch.full((16384,), 0.01)
before = rss()
packed = quantize._prepack(q8, scales, quantize.dynamic_engine())
print(len(packed), rss() - before, quantize.int8_bytes(16384, 4096))
"""


@pytest.mark.skipif(quantize.dynamic_engine() is None, reason="no FBGEMM engine in this torch")
def test_the_packed_int8_form_holds_one_byte_per_weight():
    """What ``int8_bytes`` says FBGEMM's packed weight holds, measured in a fresh process (in
    this one, memory freed by earlier tests would be reused unseen): the process grows by the
    weight's size (64 MiB), not twice it, when a layer is packed."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", PACKED_SIZE], cwd=root, capture_output=True,
                         text=True, timeout=120, check=True,
                         env={**os.environ, "PYTHONPATH": str(root)})  # fmt: skip
    pieces, grown, planned = map(int, out.stdout.split())
    assert pieces == 1
    assert 0.85 < grown / planned < 1.15


@pytest.mark.skipif(quantize.dynamic_engine() is None, reason="no FBGEMM engine in this torch")
def test_one_loud_token_does_not_flatten_the_others():
    """Activations are quantized per token: a row 1000x louder than the rest (as a prompt's
    first token often is) leaves the quiet rows' products as exact as alone."""
    layer = linear(out_features=128, in_features=512)
    q = quantize._module_class()(layer, "int8", torch.float32, prefill=False,
                                 engine=quantize.dynamic_engine())  # fmt: skip
    x = torch.randn(12, 512)
    x[0] *= 1000.0
    with torch.no_grad():
        want, got = layer.float()(x), q(x)
    for row in range(12):
        assert cosine(got[row], want[row]) > 0.999


def test_pair_sums_are_16_bit_where_the_cpu_has_no_vnni():
    assert quantize.sums_in_16_bits(frozenset({"avx2"}))
    assert quantize.sums_in_16_bits(frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert not quantize.sums_in_16_bits(frozenset({"avx2", "avx512_vnni"}))
    assert not quantize.sums_in_16_bits(frozenset({"avx2", "avx_vnni"}))


@pytest.mark.skipif(quantize.dynamic_engine() is None, reason="no FBGEMM engine in this torch")
def test_int8_weights_are_7_bit_on_a_cpu_without_vnni():
    """Without VNNI FBGEMM sums pairs in 16 bits: the weights get 7 bits and the activations
    keep 8 (7-bit activations fail the quality bar with outlier channels, cpuspeed.QUALITY);
    with VNNI both are 8 bits."""
    from captioner import hardware

    here_vnni = not quantize.sums_in_16_bits(hardware.detect().cpu_flags)

    def layers(flags):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Linear(64, 32))
        reference = copy.deepcopy(model)
        counts = quantize.quantize_model(model, "int8", torch.float32, cpu_flags=flags)
        if here_vnni or quantize.sums_in_16_bits(flags):  # 8-bit weights need this CPU's VNNI
            x = torch.randn(3, 64)
            with torch.no_grad():
                assert cosine(model(x), reference(x)) > 0.999
        return model, counts

    model, counts = layers(frozenset({"avx2", "avx512f"}))
    assert counts["activation_bits"] == 8 and counts["weight_bits"] == 7
    assert counts["engine"] == quantize.dynamic_engine()
    assert all(m.packed is not None and not m.reduce_range for m in model)
    assert "7-bit weights x 8-bit activations" in repr(model[0])
    model, counts = layers(frozenset({"avx2", "avx512_vnni"}))
    assert counts["activation_bits"] == 8 and counts["weight_bits"] == 8
    assert all(m.packed is not None and not m.reduce_range for m in model)
    assert "8-bit weights x 8-bit activations" in repr(model[0])


WORST_CASE = """
import torch
from captioner import quantize
# every activation at its largest, every weight at its largest: the worst 16-bit pair sums
layer = torch.nn.Linear(512, 64, bias=False)
with torch.no_grad():
    layer.weight.fill_(1.0)
x = torch.cat([torch.ones(1, 511), torch.zeros(1, 1)], dim=1)  # range [0, 1]: 255 = 1.0
for flags in ({"avx2"}, {"avx2", "avx512_vnni"}):  # the rule's weights: 7 bits, 8 bits
    model = torch.nn.Sequential(torch.nn.Linear(512, 64, bias=False))
    model[0].load_state_dict(layer.state_dict())
    quantize.quantize_model(model, "int8", torch.float32, cpu_flags=frozenset(flags))
    with torch.no_grad():
        print(repr(model[0]).split("form: ")[1].split(" (")[0], model(x)[0, 0].item())
"""


@pytest.mark.skipif(quantize.dynamic_engine() is None, reason="no FBGEMM engine in this torch")
def test_7_bit_weights_are_exact_where_fbgemm_runs_as_on_an_avx2_cpu():
    """FBGEMM held to AVX2 (its own switch, as on an AMD Zen 2): the worst case for 16-bit
    pair sums is exact with the 7-bit weights the rule gives such a CPU, and 8-bit weights
    saturate there (what the rule avoids; it also shows the switch took effect)."""
    import subprocess
    import sys

    env = {**os.environ, "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2"}
    out = subprocess.run([sys.executable, "-c", WORST_CASE], capture_output=True, text=True,
                         env=env, check=True, cwd=Path(__file__).parents[1])  # fmt: skip
    results = dict(line.rsplit(" ", 1) for line in out.stdout.strip().splitlines())
    assert float(results["7-bit weights x 8-bit activations"]) == pytest.approx(511, rel=0.01)
    assert float(results["8-bit weights x 8-bit activations"]) < 511 * 0.9  # saturated


def test_int4_reads_about_half_a_byte_per_weight():
    assert quantize.decode_bytes("int4", 2048, 2048) == 2048 * 2048 // 2 + 4 * 2048 * 16
    assert quantize.decode_bytes("int8", 2048, 2048) == 2048 * 2048 + 12 * 2048


@pytest.fixture(scope="module")
def bf16_and_int4(tiny_vl):
    loader.unload()
    request = loader.ModelRequest(tiny_vl, precision="bf16", compute_dtype="bfloat16")
    reference = loader._load_uncached(request, lambda f, m: None)
    quantized = {}
    for scheme in ("int8", "int4"):
        quantized[scheme] = loader._load_uncached(
            loader.ModelRequest(tiny_vl, precision=scheme, compute_dtype="bfloat16"),
            lambda f, m: None,
        )
    return reference, quantized


def test_only_the_language_model_and_its_head_are_quantized(bf16_and_int4):
    _, quantized = bf16_and_int4
    model = quantized["int4"].model
    names = [name for name, m in model.named_modules() if type(m).__name__ == "QuantizedLinear"]
    assert names and not any("visual" in name for name in names)
    assert "lm_head" in names
    assert type(model.get_input_embeddings()) is torch.nn.Embedding  # lookups stay float
    assert model.get_input_embeddings().weight.dtype == torch.bfloat16
    plain = [n for n, m in model.named_modules() if type(m) is torch.nn.Linear]
    assert plain and all("visual" in n for n in plain)
    assert model.lm_head.q8 is None and model.lm_head.packed is None  # decodes only: no copy


@pytest.mark.parametrize(("scheme", "floor"), [("int8", 0.999), ("int4", 0.98)])
def test_quantized_logits_stay_close_to_bf16(bf16_and_int4, scheme, floor):
    """The same prompt through bf16 and the quantized model: the next-token logits agree."""
    reference, quantized = bf16_and_int4
    ids = torch.randint(0, 150_000, (1, 24), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want = reference.model(input_ids=ids).logits[0]  # 24 rows: the int8 GEMM path
        got = quantized[scheme].model(input_ids=ids).logits[0]
        step_want = reference.model(input_ids=ids[:, :1]).logits[0, -1]  # one row: packed kernel
        step_got = quantized[scheme].model(input_ids=ids[:, :1]).logits[0, -1]
    assert cosine(got, want) > floor and cosine(step_got, step_want) > floor


class _Attention(torch.nn.Module):
    """A parent with q / k / v siblings read from one input, as transformers' attention."""

    def __init__(self, bias=False, k_width=256) -> None:
        super().__init__()
        self.q_proj = linear(128, 256, bias=bias, seed=1)
        self.k_proj = linear(64, k_width, bias=bias, seed=2)
        self.v_proj = linear(64, 256, bias=False, seed=3)

    def forward(self, x):
        return self.q_proj(x), self.k_proj(x), self.v_proj(x)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("scheme", ["int8", "int4"])
def test_fused_siblings_compute_what_each_layer_computes_alone(scheme, engine, monkeypatch):
    """q / k / v as one fused layer: the same outputs as three quantized layers (the same
    rows, and the same activation quantization: one input), for decode and prefill rows; the
    fused product is computed once per input and not kept after every part has read it."""
    monkeypatch.setattr(quantize, "dynamic_engine", lambda: engine)
    alone, fused = _Attention(), _Attention()
    counts = quantize.quantize_model(alone, scheme, torch.bfloat16, fuse=False)
    fused_counts = quantize.quantize_model(fused, scheme, torch.bfloat16)
    assert counts["fused"] == 0 and fused_counts["fused"] == 3 == fused_counts["layers"]
    assert counts["bytes"] == fused_counts["bytes"] and counts["weights"] == fused_counts["weights"]
    assert type(fused.q_proj).__name__ == "FusedPart" and fused.qkv_proj.out_features == 256
    assert [name for name, _ in fused.named_modules()].count("qkv_proj") == 1  # not 3 times
    calls = []
    fused.qkv_proj.register_forward_hook(lambda m, i, o: calls.append(o.shape))
    for rows in (1, 5, 40):
        x = torch.randn(2, rows, 256, dtype=torch.bfloat16)
        with torch.no_grad():
            for want, got in zip(alone(x), fused(x), strict=True):
                assert got.shape == want.shape and got.dtype == want.dtype
                assert torch.equal(got, want) or cosine(got, want) > 0.99999
        assert fused.qkv_proj._memo is None  # every part read it: nothing held
    assert len(calls) == 3  # once per input, not once per part
    with torch.no_grad():  # one part alone, then with another input: computed afresh
        x, y = torch.randn(1, 256, dtype=torch.bfloat16), torch.randn(1, 256, dtype=torch.bfloat16)
        assert torch.equal(fused.k_proj(x), fused.qkv_proj(x)[..., 128:192])
        assert torch.equal(fused.v_proj(y), fused.qkv_proj(y)[..., 192:])
        assert torch.equal(fused.q_proj(y), fused.qkv_proj(y)[..., :128])


@pytest.mark.skipif(quantize.dynamic_engine() is None, reason="no FBGEMM engine in this torch")
def test_the_layer_class_does_not_depend_on_the_engine_seen_first(monkeypatch):
    """The classes are made once per process: made while the engine was patched away, their
    FBGEMM fast path must still work for layers packed later."""
    quantize._module_classes.cache_clear()
    with monkeypatch.context() as patched:
        patched.setattr(quantize, "dynamic_engine", lambda: None)
        quantize._module_class()
    layer = linear()
    q = quantize._module_class()(layer, "int8", torch.bfloat16, prefill=False,
                                 engine=quantize.dynamic_engine())  # fmt: skip
    x = torch.randn(1, layer.in_features, dtype=torch.bfloat16)
    with torch.no_grad():
        assert q.single is not None and cosine(q(x), layer(x)) > 0.999


def test_siblings_fuse_only_when_they_can():
    """Inputs of different widths, or a bias on some members only: each layer stays alone."""
    taken = _Attention()
    taken.qkv_proj = torch.nn.Identity()  # the model's own module of that name stays
    for model in (_Attention(k_width=512), _Attention(bias=True), taken):
        counts = quantize.quantize_model(model, "int8", torch.bfloat16)
        assert counts["fused"] == 0 and counts["layers"] == 3
        assert type(model.q_proj).__name__ == "QuantizedLinear"
    model = torch.nn.Module()
    model.mlp = torch.nn.Module()
    model.mlp.gate_proj, model.mlp.up_proj = linear(96, 256, bias=True), linear(64, 256, bias=True)
    assert quantize.quantize_model(model, "int8", torch.bfloat16)["fused"] == 2
    x = torch.randn(3, 256, dtype=torch.bfloat16)
    with torch.no_grad():
        assert model.mlp.up_proj(x).shape == (3, 64)
        want = linear(64, 256, bias=True)(x)
        assert cosine(model.mlp.up_proj(x), want) > 0.999  # the bias is the member's own


def test_a_quantized_vl_model_fuses_its_attention_and_mlp(bf16_and_int4):
    _, quantized = bf16_and_int4
    model = quantized["int8"].model
    text = model.config.get_text_config()
    fused = [n for n, m in model.named_modules() if n.endswith(("qkv_proj", "gate_up_proj"))]
    assert len(fused) == 2 * text.num_hidden_layers
    assert type(model.lm_head).__name__ == "QuantizedLinear"  # the head has no siblings


def test_without_fbgemm_int8_runs_on_the_weight_only_kernels(tiny_vl, bf16_and_int4, monkeypatch):
    """A torch without the x86 / FBGEMM engine (ARM, or when quantized tensors are gone):
    int8 weights with float activations, as close to bf16 and streaming."""
    reference, _ = bf16_and_int4
    monkeypatch.setattr(quantize, "dynamic_engine", lambda: None)
    loaded = loader._load_uncached(
        loader.ModelRequest(tiny_vl, precision="int8", compute_dtype="bfloat16"), lambda f, m: None
    )
    assert loaded.model.lm_head.packed is None and loaded.model.lm_head.q8 is not None
    ids = torch.randint(0, 150_000, (1, 24), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        for rows in (24, 1):
            want = reference.model(input_ids=ids[:, :rows]).logits[0, -1]
            assert cosine(loaded.model(input_ids=ids[:, :rows]).logits[0, -1], want) > 0.999
    done = list(generation.stream(loaded, generation.Request(
        "안녕", options=generation.Options(max_new_tokens=4, seed=0))))[-1]  # fmt: skip
    assert done.kind == "done" and done.metrics.new_tokens == 4


def test_the_planner_counts_what_a_quantized_model_holds(bf16_and_int4):
    """``memory.cpu_quantized_bytes``' arithmetic, on the tiny model's own dimensions."""
    _, quantized = bf16_and_int4
    model = quantized["int4"].model
    held = sum(t.numel() * t.element_size() for t in model.parameters())
    held += sum(b.numel() * b.element_size() for b in model.buffers() if b is not None)
    quantized_layers = [m for m in model.modules() if type(m).__name__ == "QuantizedLinear"]
    held += sum(m.nbytes() - sum(b.numel() * b.element_size() for b in m.buffers())
                for m in quantized_layers)  # fmt: skip
    rotary = sum(b.numel() * b.element_size() for n, b in model.named_buffers() if "inv_freq" in n)
    text = model.config.get_text_config()
    h, inter = text.hidden_size, text.intermediate_size
    q, kv = text.num_attention_heads * text.head_dim, text.num_key_value_heads * text.head_dim
    layers = text.num_hidden_layers
    dims = [(q, h, layers), (kv, h, 2 * layers), (h, q, layers), (inter, h, 2 * layers),
            (h, inter, layers)]  # fmt: skip
    expected_q = sum(n * quantize.layer_bytes("int4", o, i, prefill=True) for o, i, n in dims)
    expected_q += quantize.layer_bytes("int4", text.vocab_size, h, prefill=False)
    quantized_held = sum(m.nbytes() for m in quantized_layers)
    assert quantized_held == expected_q
    float_params = sum(p.numel() for p in model.parameters())
    assert held - rotary == expected_q + 2 * float_params
    assert memory.cpu_quantized_bytes  # the same arithmetic, on catalog models (test_memory)


def test_a_quantized_model_streams_with_fp32_float_parts(tiny_vl):
    """An AVX2-only CPU: float parts in fp32, quantized layers through the bf16 kernels."""
    loader.unload()
    loaded = loader.load(loader.ModelRequest(tiny_vl, precision="int4", compute_dtype="float32",
                                             threads=1))  # fmt: skip
    floats = {p.dtype for p in loaded.model.parameters()}
    assert floats == {torch.float32}
    events = list(generation.stream(loaded, generation.Request(
        "안녕하세요", options=generation.Options(max_new_tokens=6, seed=0))))  # fmt: skip
    done = events[-1]
    assert done.kind == "done" and done.metrics.new_tokens == 6 and done.metrics.threads == 1
    loader.unload()


def test_a_torch_without_the_cpu_kernels_is_a_clear_error(tiny_vl, monkeypatch):
    from captioner.errors import ModelLoadError

    def missing(*args, **kwargs):
        raise RuntimeError("_convert_weight_to_int4pack_for_cpu: not implemented here")

    monkeypatch.setattr(quantize, "quantize_model", missing)
    loader.unload()
    with pytest.raises(ModelLoadError) as caught:
        loader.load(loader.ModelRequest(tiny_vl, precision="int4", compute_dtype="bfloat16"))
    assert "int4" in caught.value.en and "int4" in caught.value.ko


def test_cpu_attention_computes_what_sdpa_computes(tiny_vl):
    """The same result as SDPA in fp32 (one query row as two products, many through SDPA;
    bf16 and fp32, with a bool and a float mask, a custom scale), and a tiny model's logits
    with it equal plain SDPA's; the model streams."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from captioner import cpu_attention

    module = torch.nn.Module()
    module.is_causal, module.num_key_value_groups, module.training = True, 2, False
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.bfloat16, torch.float32):
        k = torch.randn(1, 2, 30, 16, generator=gen).to(dtype)
        v = torch.randn(1, 2, 30, 16, generator=gen).to(dtype)
        keep = torch.ones(1, 1, 1, 30, dtype=torch.bool)
        keep[..., 3:9] = False
        masks = (None, keep, torch.zeros(1, 1, 1, 30).masked_fill(~keep, float("-inf")))
        for rows, mask, scale in ((1, None, None), (1, masks[1], 0.3), (1, masks[2], None),
                                  (30, None, None)):  # fmt: skip
            q = torch.randn(1, 4, rows, 16, generator=gen).to(dtype)
            got, _ = cpu_attention.attention(module, q, k, v, mask, scaling=scale)
            want, _ = sdpa_attention_forward(module, q.float(), k.float(), v.float(),
                                             None if mask is None else mask[..., :1, :].expand(
                                                 1, 1, rows, 30), scaling=scale)  # fmt: skip
            assert got.dtype == dtype and got.shape == want.shape
            assert cosine(got, want) > 0.9999

    def step_logits(attn: str):
        """Prefill a prompt, then three one-token steps teacher-forced to fixed tokens."""
        loader.unload()
        loaded = loader.load(loader.ModelRequest(tiny_vl, precision="bf16", compute_dtype="bfloat16",
                                                 device="cpu", attn_implementation=attn))  # fmt: skip
        ids = torch.arange(10, 40).unsqueeze(0)
        with torch.inference_mode():
            out = loaded.model(input_ids=ids, use_cache=True)
            logits = [out.logits[0, -1]]
            for token in (5, 17, 99):
                out = loaded.model(input_ids=torch.tensor([[token]]), use_cache=True,
                                   past_key_values=out.past_key_values)  # fmt: skip
                logits.append(out.logits[0, -1])
        impl = loaded.model.config._attn_implementation
        return torch.stack(logits).float(), impl, loaded

    plain, _, _ = step_logits("sdpa")
    ours, impl, loaded = step_logits(cpu_attention.CPU_SDPA)
    assert impl == cpu_attention.CPU_SDPA  # the model really runs it
    for want, got in zip(plain, ours, strict=True):  # bf16 rounding apart, the same logits
        assert cosine(got, want) > 0.999
    done = list(generation.stream(loaded, generation.Request(
        "안녕", options=generation.Options(max_new_tokens=4, seed=0))))[-1]  # fmt: skip
    assert done.kind == "done" and done.metrics.new_tokens == 4
    loader.unload()
