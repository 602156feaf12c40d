"""PyTorch SDPA for a CPU, with the one-token decoding step computed in fp32.

PyTorch 2.14's CPU flash-attention kernel is slow for a single bf16 query row: one decoding
step of Qwen3-VL-2B's attention (16 query heads, 8 KV heads, head 128, 550 cached tokens)
took 1.9 ms on one thread and 5.1 ms on two, against 0.2-0.3 ms for the same call with q, k
and v cast to fp32 (AMD EPYC Zen 4; 28 layers make it 50-140 ms per token, more than the
int4 weights take to read). The prefill (many query rows) stays in the model's float type,
where the kernel is fast. Registered with transformers as ``CPU_SDPA``; ``profiles.runtime``
names it for the CPU and ``loader`` imports this module before loading such a model.
"""

from __future__ import annotations

CPU_SDPA = "captioner_cpu_sdpa"


def attention(module, query, key, value, attention_mask, **kwargs):
    """transformers' SDPA attention; a single bf16/fp16 query row runs in fp32."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if query.shape[2] != 1 or query.dtype == torch.float32:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    if attention_mask is not None and attention_mask.is_floating_point():
        attention_mask = attention_mask.float()
    out, weights = sdpa_attention_forward(
        module, query.float(), key.float(), value.float(), attention_mask, **kwargs
    )
    return out.to(query.dtype), weights


def register() -> str:
    """Make ``CPU_SDPA`` a name transformers' ``attn_implementation`` accepts; returns it."""
    from transformers import AttentionInterface

    AttentionInterface.register(CPU_SDPA, attention)
    return CPU_SDPA
