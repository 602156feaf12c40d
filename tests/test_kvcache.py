"""The slab-grown KV cache: the same cache transformers' would hold, grown in place, read by
the CPU attention as whole buffers; and a CPU model generates the same tokens with it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from captioner import cpu_attention, generation, kvcache, loader  # noqa: E402


def _layers():
    from transformers.cache_utils import DynamicLayer

    return kvcache._classes()[0](), DynamicLayer()


def _rows(n: int, seed: int, batch: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 2, n, 8, generator=gen), torch.randn(batch, 2, n, 8, generator=gen))


def test_a_slab_layer_holds_what_a_dynamic_layer_holds_and_grows_in_place(monkeypatch):
    monkeypatch.setattr(kvcache, "SLAB", 4)
    slab, plain = _layers()
    buffers = []
    for step, n in enumerate((6, 1, 1, 3, 1)):  # a prefill, then steps across slab borders
        k, v = _rows(n, step)
        got, want = slab.update(k, v), plain.update(k, v)
        for g, w in zip(got, want, strict=True):
            assert torch.equal(g, w)
        held = slab.keys.shape[-2]
        buffer = kvcache.slab_of(slab.keys)
        assert buffer.shape[-2] == -(-held // 4) * 4  # rounded up to a slab
        assert slab.keys.data_ptr() == buffer.data_ptr()  # a view of its first rows
        assert torch.count_nonzero(buffer[..., held:, :]) == 0  # unfilled rows are zeros
        buffers.append(buffer.data_ptr())
    assert slab.get_seq_length() == plain.get_seq_length() == 12
    # 6 rows: a buffer of 8 that takes the next two steps in place; 9 rows: a new one of 12
    assert buffers[0] == buffers[1] == buffers[2] != buffers[3]


def test_tensors_replaced_by_transformers_are_copied_into_a_new_buffer(monkeypatch):
    """crop, a batch selection and reset replace a layer's tensors: the next update starts
    from those, not from the stale buffer."""
    monkeypatch.setattr(kvcache, "SLAB", 4)
    slab, plain = _layers()
    for layer in (slab, plain):
        layer.update(*_rows(5, 0, batch=2))
        layer.update(*_rows(1, 1, batch=2))
        layer.crop(-2)  # as assisted decoding rolls back rejected tokens
        layer.update(*_rows(1, 2, batch=2))
        layer.batch_select_indices(torch.tensor([1]))
    got, want = slab.update(*_rows(2, 3)), plain.update(*_rows(2, 3))
    for g, w in zip(got, want, strict=True):
        assert torch.equal(g, w)
    assert kvcache.slab_of(slab.keys).shape[0] == 1  # the buffer follows the new batch
    slab.reset()
    plain.reset()
    got, want = slab.update(*_rows(3, 4)), plain.update(*_rows(3, 4))
    assert torch.equal(got[0], want[0]) and slab.get_seq_length() == 3


def test_one_row_attention_reads_a_buffer_as_its_filled_rows():
    """Through a slab buffer (its spare rows masked) the result equals the same keys and
    values as plain tensors: no mask, a bool mask, a float mask; batch 2, two query heads per
    KV head. A filled buffer whose spare rows held NaN would poison it: they are zeros."""
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        k_buf = torch.zeros(2, 2, 24, 16, dtype=dtype)
        v_buf = torch.zeros(2, 2, 24, 16, dtype=dtype)
        k_buf[..., :19, :] = torch.randn(2, 2, 19, 16, generator=gen).to(dtype)
        v_buf[..., :19, :] = torch.randn(2, 2, 19, 16, generator=gen).to(dtype)
        key, value = k_buf[..., :19, :], v_buf[..., :19, :]
        key._captioner_slab, value._captioner_slab = k_buf, v_buf
        assert kvcache.slab_of(key) is k_buf
        q = torch.randn(2, 4, 1, 16, generator=gen).to(dtype)
        keep = torch.ones(2, 1, 1, 19, dtype=torch.bool)
        keep[0, ..., :5] = False  # the first sequence is left-padded
        floats = torch.zeros(2, 1, 1, 19).masked_fill(~keep, float("-inf"))
        for mask in (None, keep, floats):
            got = cpu_attention.one_row(q, key, value, mask, scaling=0.25)
            want = cpu_attention.one_row(q, key.contiguous(), value.contiguous(), mask, 0.25)
            assert got.shape == (2, 1, 4, 16)
            assert torch.allclose(
                got.float(), want.float(), atol=1e-2 if dtype != torch.float32 else 1e-6
            )


@pytest.fixture
def cpu_sdpa_model(tiny_vl):
    loader.unload()
    request = loader.ModelRequest(tiny_vl, precision="fp32", compute_dtype="float32", device="cpu",
                                  attn_implementation=cpu_attention.CPU_SDPA)  # fmt: skip
    yield loader.load(request)
    loader.unload()


def test_a_cpu_model_generates_the_same_tokens_with_the_slab_cache(cpu_sdpa_model, monkeypatch):
    """Greedy decoding of a tiny Qwen3-VL for 40 tokens, its buffers growing every 8: the
    tokens and each step's logits equal those of transformers' own cache."""
    monkeypatch.setattr(kvcache, "SLAB", 8)
    model = cpu_sdpa_model.model
    ids = torch.arange(10, 31).unsqueeze(0)

    def greedy(cache):
        with torch.inference_mode():
            out = model.generate(input_ids=ids, max_new_tokens=40, min_new_tokens=40,
                                 do_sample=False, past_key_values=cache, output_scores=True,
                                 return_dict_in_generate=True, pad_token_id=0)  # fmt: skip
        return out.sequences, torch.stack(out.scores)

    slab_cache = kvcache.new_cache(model)
    ours, our_scores = greedy(slab_cache)
    theirs, their_scores = greedy(None)
    assert type(slab_cache.layers[0]).__name__ == "SlabLayer"
    assert slab_cache.get_seq_length() == ids.shape[1] + 39  # the last token is not fed back
    assert torch.equal(ours, theirs)
    assert torch.allclose(our_scores, their_scores, atol=1e-5)


def test_the_backend_gives_generate_a_slab_cache_only_with_cpu_attention(cpu_sdpa_model, tiny_vl):
    backend = generation.TransformersBackend(cpu_sdpa_model)
    assert type(backend._new_cache()).__name__ == "SlabCache"
    done = list(backend.stream(generation.Request(
        "안녕", options=generation.Options(max_new_tokens=6, seed=0))))[-1]  # fmt: skip
    assert done.kind == "done" and done.metrics.new_tokens == 6
    loader.unload()
    plain = loader.load(loader.ModelRequest(tiny_vl, precision="fp32", device="cpu"))  # sdpa
    assert generation.TransformersBackend(plain)._new_cache() is None
