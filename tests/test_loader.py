"""The cached loader, on tiny real checkpoints loaded by path (the same calls as Hub ids)."""

from __future__ import annotations

import gc
import json
import threading
import weakref

import pytest

from captioner import loader
from captioner.errors import ModelLoadError


@pytest.fixture(autouse=True)
def _fresh_cache():
    loader.unload()
    yield
    loader.unload()


def _request(path, **kw):
    precision = kw.pop("precision", "fp32")
    compute = kw.pop("compute_dtype", "float32" if precision == "fp32" else "bfloat16")
    return loader.ModelRequest(path, precision=precision, compute_dtype=compute, device="cpu",
                               device_map={"": "cpu"}, **kw)  # fmt: skip


def test_loads_vl_checkpoint_with_processor(tiny_vl):
    steps = []
    loaded = loader.load(_request(tiny_vl), progress=lambda f, m: steps.append(f))
    assert loaded.accepts_video and loaded.model_type == "qwen3_vl"
    assert type(loaded.model).__name__ == "Qwen3VLForConditionalGeneration"
    assert type(loaded.processor).__name__ == "Qwen3VLProcessor"
    assert loaded.thinking == "never" and loaded.dtype == "float32" and loaded.device == "cpu"
    assert loaded.weight_bytes > 0 and steps[-1] == 1.0


def test_text_checkpoint_is_hybrid_thinking(tiny_text):
    loaded = loader.load(_request(tiny_text))
    assert not loaded.accepts_video and loaded.thinking == "hybrid"
    assert type(loaded.model).__name__ == "Qwen3ForCausalLM"


def test_same_request_is_cached_and_switching_frees_the_old_model(tiny_vl, tiny_text):
    first = loader.load(_request(tiny_vl))
    assert loader.load(_request(tiny_vl)) is first
    old = weakref.ref(first.model)
    del first
    second = loader.load(_request(tiny_text))
    gc.collect()
    assert old() is None, "the previous model must be gone before/after switching"
    assert loader.current() is second


def test_bf16_is_a_different_cache_entry(tiny_text):
    a = loader.load(_request(tiny_text))
    b = loader.load(_request(tiny_text, precision="bf16"))
    assert a is not b and b.dtype == "bfloat16"


def test_concurrent_loads_load_once(tiny_text):
    results, messages = [], []
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        results.append(loader.load(_request(tiny_text), progress=lambda f, m: messages.append(m)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in results}) == 1
    assert sum("loading weights" in m for m in messages) == 1


def test_offline_unknown_hub_id_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        loader.load(_request("Qwen/Qwen3-VL-2B-Instruct"))
    assert "오프라인" in info.value.ko and "offline" in info.value.en


@pytest.mark.parametrize("kind", ["missing folder", "file"])
def test_a_mistyped_local_path_is_a_clear_error(tmp_path, kind):
    # a path that is no folder is not a Hub id either: it was a typo, not a download
    path = tmp_path / "model"
    if kind == "file":
        path.write_text("x", encoding="utf-8")
    with pytest.raises(ModelLoadError) as info:
        loader.load(_request(str(path)))
    assert str(path) in info.value.en and str(path) in info.value.ko
    assert ("file" if kind == "file" else "folder") in info.value.en


def test_unknown_precision(tiny_text):
    with pytest.raises(ModelLoadError):
        loader.load(_request(tiny_text, precision="int3"))


def test_broken_folder_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError) as info:
        loader.load(_request(str(tmp_path)))
    assert "config.json" in info.value.en


def test_nf4_config_uses_double_quant_and_keeps_vision_16bit():
    import torch

    config = loader.quantization_config(
        loader.ModelRequest("x", precision="nf4", compute_dtype="float16")
    )
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant and config.bnb_4bit_compute_dtype == torch.float16
    assert "model.visual" in config.llm_int8_skip_modules
    assert loader.quantization_config(loader.ModelRequest("x", precision="bf16")) is None


def test_nf4_loads_on_this_cpu(tiny_text):
    """bitsandbytes 0.50 has CPU 4-bit kernels: the real quantized path runs here too."""
    import bitsandbytes as bnb

    loaded = loader.load(_request(tiny_text, precision="nf4", compute_dtype="bfloat16"))
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in loaded.model.modules())


def _make_adapter(base: str, folder, targets):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=targets))
    peft_model.save_pretrained(folder)
    return folder


def test_lora_adapter_with_qwen_targets_attaches(tiny_text, tmp_path):
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    adapter = _make_adapter(tiny_text, tmp_path / "lora", targets)
    loaded = loader.load(_request(tiny_text, adapter=str(adapter)))
    from peft import PeftModel

    from captioner import generation

    assert isinstance(loaded.model, PeftModel)
    assert loader.check_adapter_targets(loaded.model, adapter) == sorted(targets)
    options = generation.Options(max_new_tokens=4, seed=0)
    events = list(generation.stream(loaded, generation.Request("안녕", options=options)))
    assert events[-1].kind == "done" and events[-1].metrics.new_tokens == 4


def test_lora_adapter_for_another_architecture_is_refused(tiny_text, tmp_path):
    adapter = _make_adapter(tiny_text, tmp_path / "lora", ["q_proj"])
    config_path = adapter / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["target_modules"] = ["q_proj", "c_attn"]  # GPT-2 / Vicuna-era names
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelLoadError) as info:
        loader.load(_request(tiny_text, adapter=str(adapter)))
    assert "c_attn" in info.value.en


def test_thinking_style_from_template():
    assert loader.thinking_style("{% if enable_thinking %}", "local") == "hybrid"
    assert loader.thinking_style("{% if add_generation_prompt %}<think>\n", "local") == "always"
    assert loader.thinking_style("{% if add_generation_prompt %}", "local") == "never"
    assert loader.thinking_style(None, "Qwen/Qwen3-VL-8B-Thinking") == "always"


@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_lora_adapter_on_a_quantized_cpu_model_is_merged_first(tiny_text, tmp_path, precision):
    """The CPU's int8 / int4 layers are not peft's: the adapter is merged into the float
    weights, and the merged model quantized. Its logits follow the float model with the
    adapter, not the base model."""
    import torch
    from peft import PeftModel

    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    adapter = _make_adapter(tiny_text, tmp_path / "lora", targets)
    config_path = adapter / "adapter_model.safetensors"
    from safetensors.torch import load_file, save_file

    weights = load_file(config_path)  # peft starts B at zero: make the adapter do something
    torch.manual_seed(0)
    save_file({k: torch.randn_like(v) * 0.1 for k, v in weights.items()}, config_path)
    loader.unload()
    float_lora = loader.load(_request(tiny_text, adapter=str(adapter), compute_dtype="float32"))
    assert isinstance(float_lora.model, PeftModel)
    ids = torch.randint(0, 1000, (1, 12), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = float_lora.model(input_ids=ids).logits[0, -1]
    loader.unload()
    base = loader.load(_request(tiny_text, compute_dtype="float32"))
    with torch.inference_mode():
        plain = base.model(input_ids=ids).logits[0, -1]
    loader.unload()
    quantized = loader.load(_request(tiny_text, precision=precision, compute_dtype="float32",
                                     adapter=str(adapter)))  # fmt: skip
    names = {type(m).__name__ for m in quantized.model.modules()}
    assert "QuantizedLinear" in names and not any("Lora" in n for n in names)
    with torch.inference_mode():
        got = quantized.model(input_ids=ids).logits[0, -1]

    def cos(a, b):
        return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=0).item()

    assert cos(got, want) > 0.99 and cos(got, plain) < cos(got, want) - 0.1
    from captioner import generation

    options = generation.Options(max_new_tokens=3, seed=0)
    done = list(generation.stream(quantized, generation.Request("안녕", options=options)))[-1]
    assert done.kind == "done" and done.metrics.new_tokens == 3
    loader.unload()


def test_an_adapter_peft_refuses_is_a_clear_error(tiny_text, tmp_path):
    """Weights of the wrong shape (an adapter made for another size of the model)."""
    import torch
    from safetensors.torch import load_file, save_file

    adapter = _make_adapter(tiny_text, tmp_path / "lora", ["q_proj"])
    path = adapter / "adapter_model.safetensors"
    save_file(
        {k: torch.zeros(v.shape[0] + 3, v.shape[1]) for k, v in load_file(path).items()}, path
    )
    loader.unload()
    with pytest.raises(ModelLoadError) as info:
        loader.load(_request(tiny_text, adapter=str(adapter)))
    assert "LoRA" in info.value.ko and "cannot be attached" in info.value.en
