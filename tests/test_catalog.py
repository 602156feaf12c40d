"""The checkpoint table: real ids only, the reference's numbers, lookups and configs."""

from __future__ import annotations

import pytest

from captioner import catalog, errors

EXPECTED_IDS = {
    *(f"Qwen/Qwen3-VL-{s}-{kind}" for s in ("2B", "4B", "8B", "32B", "30B-A3B", "235B-A22B")
      for kind in ("Instruct", "Thinking")),
    *(f"Qwen/Qwen3-{s}" for s in ("0.6B", "1.7B", "4B", "8B", "14B", "32B", "30B-A3B", "235B-A22B")),
    "Qwen/Qwen3-4B-Instruct-2507",
    "Qwen/Qwen3-30B-A3B-Instruct-2507",
}  # fmt: skip


def test_catalog_holds_exactly_the_real_ids():
    ids = [s.id for s in catalog.CATALOG]
    assert len(ids) == len(set(ids))
    assert set(ids) == EXPECTED_IDS
    # the design note's invented "-Instruct" names for hybrid Qwen3 must not creep back in
    assert catalog.find("Qwen/Qwen3-8B-Instruct") is None


def test_lookup_is_case_insensitive_and_unknown_ids_are_refused_with_hints():
    assert catalog.get("qwen/qwen3-vl-8b-instruct").id == "Qwen/Qwen3-VL-8B-Instruct"
    with pytest.raises(errors.UnknownModel) as info:
        catalog.get("Qwen/Qwen3-8B-Instruct")
    err = info.value
    assert "알 수 없는 모델" in err.ko and "Unknown model" in err.en
    assert "Qwen/Qwen3-8B" in err.en  # a close real id is suggested


def test_modalities_and_thinking_styles():
    assert {s.id for s in catalog.video_models()} == {i for i in EXPECTED_IDS if "-VL-" in i}
    assert all(not s.supports_video for s in catalog.text_models())
    for spec in catalog.CATALOG:
        if spec.family == "qwen3-vl":
            assert spec.thinking == ("always" if spec.id.endswith("-Thinking") else "never")
            assert spec.vision is not None and spec.context_length == 262144
        elif "2507" in spec.id:
            assert spec.thinking == "never" and spec.thinking_sampling is None
        else:
            assert spec.thinking == "hybrid" and spec.context_length == 32768
    assert catalog.get("Qwen/Qwen3-VL-30B-A3B-Instruct").is_moe
    assert not catalog.get("Qwen/Qwen3-VL-32B-Instruct").is_moe
    assert catalog.get("Qwen/Qwen3-VL-8B-Instruct").label == "Qwen3-VL-8B-Instruct"


def test_thinking_twins_share_the_instruct_shapes():
    for spec in catalog.video_models():
        if spec.id.endswith("-Thinking"):
            twin = catalog.get(spec.id.replace("-Thinking", "-Instruct"))
            assert (spec.text, spec.vision) == (twin.text, twin.vision)


def test_recommended_sampling_matches_the_reference():
    vl = catalog.get("Qwen/Qwen3-VL-8B-Instruct").sampling
    assert (vl.temperature, vl.top_p, vl.top_k, vl.repetition_penalty) == (0.7, 0.8, 20, 1.0)
    assert vl.presence_penalty == 1.5
    hybrid = catalog.get("Qwen/Qwen3-8B")
    assert (hybrid.sampling.temperature, hybrid.sampling.top_p, hybrid.sampling.top_k) == (
        0.7,
        0.8,
        20,
    )
    think = hybrid.thinking_sampling
    assert think is not None and (think.temperature, think.top_p, think.top_k) == (0.6, 0.95, 20)


def test_architecture_facts_from_the_reference():
    t = catalog.get("Qwen/Qwen3-8B").text
    assert (t.hidden_size, t.num_layers, t.num_heads, t.num_kv_heads, t.head_dim) == (
        4096,
        36,
        32,
        8,
        128,
    )
    assert (t.intermediate_size, t.vocab_size, t.tie_word_embeddings) == (12288, 151936, False)
    moe = catalog.get("Qwen/Qwen3-235B-A22B").text
    assert (moe.num_experts, moe.experts_per_token, moe.moe_intermediate_size) == (128, 8, 1536)
    v = catalog.get("Qwen/Qwen3-VL-2B-Instruct").vision
    assert v is not None and (v.depth, v.hidden_size, v.deepstack_indexes) == (
        24,
        1024,
        (5, 11, 17),
    )
    assert "unconfirmed" in catalog.get("Qwen/Qwen3-30B-A3B-Instruct-2507").note
    assert "third-party" in catalog.get("Qwen/Qwen3-VL-32B-Instruct").note
    # published exact totals (keras-hub presets, safetensors sums)
    assert catalog.get("Qwen/Qwen3-0.6B").params == 596_049_920
    assert catalog.get("Qwen/Qwen3-VL-8B-Instruct").params == 8_767_123_696


@pytest.mark.parametrize(
    ("model_id", "config_class"),
    [
        ("Qwen/Qwen3-VL-8B-Instruct", "Qwen3VLConfig"),
        ("Qwen/Qwen3-VL-30B-A3B-Thinking", "Qwen3VLMoeConfig"),
        ("Qwen/Qwen3-4B", "Qwen3Config"),
        ("Qwen/Qwen3-30B-A3B", "Qwen3MoeConfig"),
    ],
)
def test_hf_config_builds_the_right_transformers_config(model_id, config_class):
    spec = catalog.get(model_id)
    config = catalog.hf_config(spec)
    assert type(config).__name__ == config_class
    text = config.get_text_config()
    assert text.hidden_size == spec.text.hidden_size
    assert text.num_key_value_heads == spec.text.num_kv_heads
    if spec.vision is not None:
        assert config.vision_config.out_hidden_size == spec.text.hidden_size
        assert config.tie_word_embeddings == spec.text.tie_word_embeddings
