"""PyTorch SDPA for a CPU, with the one-token decoding step as two plain matrix products.

PyTorch 2.14's CPU flash-attention kernel is slow for a single query row: one decoding step
of Qwen3-VL-2B's attention (16 query heads, 8 KV heads, head 128, 550 cached tokens) took
1.9 ms on one thread in bf16 (0.39 ms in fp32), and 8-18 ms on two threads while other jobs
shared the 2 cores (its parallel loop over 16 small tasks waits at every barrier), against
0.19 ms (one thread) and 0.44 ms (two) for the same step as scores = q·Kᵀ and out = p·V in
the cache's own type with the softmax in fp32 (AMD EPYC Zen 4; 28 layers a token). The
query heads that share a KV head are stacked as rows of one product, so K and V are read
once and never copied or converted; with ``kvcache``'s cache they are read as its whole
contiguous buffer, the rows not yet filled masked. The prefill (many query rows) stays on SDPA, where the
kernel is fast. Registered with transformers as ``CPU_SDPA``; ``profiles.runtime`` names it
for the CPU and ``loader`` registers it before loading such a model.
"""

from __future__ import annotations

from captioner.kvcache import slab_of

CPU_SDPA = "captioner_cpu_sdpa"


def attention(module, query, key, value, attention_mask, **kwargs):
    """transformers' SDPA attention; a single query row as two matrix products."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plain = (
        query.shape[2] != 1
        or kwargs.get("dropout", 0.0)
        or kwargs.get("position_bias") is not None
        or kwargs.get("cache") is not None
        or kwargs.get("softcap") is not None
        or query.shape[1] % key.shape[1]
    )
    if plain:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    return one_row(query, key, value, attention_mask, kwargs.get("scaling")), None


def one_row(query, key, value, attention_mask=None, scaling=None):
    """Attention of one query row per head over the whole cache: (batch, heads, 1, dim) q
    against (batch, kv_heads, n, dim) k / v; returns (batch, 1, heads, dim) as SDPA's
    transformers wrapper does. Keys and values that are the first rows of a ``kvcache`` buffer
    are read as that whole buffer, its unfilled rows masked (a view would be copied)."""
    import torch

    batch, heads, _, dim = query.shape
    kv_heads, length = key.shape[1], key.shape[2]
    group = heads // kv_heads
    key_slab, value_slab = slab_of(key), slab_of(value)
    if key_slab is not None and value_slab is not None:
        key, value = key_slab, value_slab
    q = query.reshape(batch, kv_heads, group, dim).to(key.dtype)
    scores = torch.matmul(q, key.transpose(-1, -2)).float()  # (batch, kv_heads, group, rows)
    scores *= dim**-0.5 if scaling is None else scaling
    if attention_mask is not None:
        filled = scores[..., :length]  # a view: the mask is applied in place
        mask = attention_mask[..., :length]
        if mask.shape[1] == heads and heads != 1:  # one row per query head
            mask = mask.reshape(batch, kv_heads, group, length)
        if mask.dtype == torch.bool:
            filled.masked_fill_(~mask, float("-inf"))
        else:
            filled += mask.float()
    if scores.shape[-1] > length:  # a buffer's unfilled rows
        scores[..., length:] = float("-inf")
    weights = torch.softmax(scores, dim=-1).to(value.dtype)
    out = torch.matmul(weights, value)  # (batch, kv_heads, group, dim)
    return out.reshape(batch, 1, heads, dim).to(query.dtype)


def register() -> str:
    """Make ``CPU_SDPA`` a name transformers' ``attn_implementation`` accepts; returns it."""
    from transformers import AttentionInterface

    AttentionInterface.register(CPU_SDPA, attention)
    return CPU_SDPA
