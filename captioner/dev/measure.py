"""Measurements that back the README's figures (run them with ``python -m captioner bench``).

- ``korean_mask_overhead``: the Korean logits mask's per-token cost against one decoding
  step of a real-size random-weight Qwen3 on this machine.
"""

from __future__ import annotations

import time

from captioner import korean
from captioner.korean import logits_processor, mask_stats


def korean_mask_overhead(
    model_id: str = "Qwen/Qwen3-0.6B",
    *,
    dtype: str = "bfloat16",
    steps: int = 48,
    prompt_tokens: int = 128,
    tokenizer=None,
) -> dict:
    """Per-token cost of the mask vs one decoding step of a real-size random-weight model.

    The model is built on the meta device from the catalog's architecture, materialised with
    ``to_empty`` and filled with N(0, 0.02) (no slow random init). Each step is one forward
    of one token with the KV cache, then the Korean processor on that step's float32 logits
    (what generate() passes it), timed separately in the same loop, so both see the same
    machine. The answer grows by the tokens of a real Korean sentence (some syllables split
    over two tokens), so the bookkeeping and the pending-prefix path run too. Medians."""
    import statistics

    import torch
    from transformers import AutoModelForCausalLM

    import captioner.dev.tiny as tiny
    from captioner import catalog

    tok = tokenizer or tiny.build_tokenizer()
    config = catalog.hf_config(catalog.get(model_id))
    rows = config.get_text_config().vocab_size
    korean.clear_tables()  # measure a cold build
    started = time.perf_counter()
    stats = mask_stats(tok, rows)
    build_s = time.perf_counter() - started

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.to_empty(device="cpu")
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.02)
        for buffer_name, buffer in model.named_buffers():
            if "inv_freq" in buffer_name:  # rotary frequencies: recompute, not random
                base = getattr(config, "rope_theta", None) or 1e6
                dim = buffer.shape[0] * 2
                buffer.copy_(1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)))
    model.eval()
    sentence = "숲 속의 커다란 토끼가 나비를 바라보며 천천히 걷고 있습니다. "
    answer = tok(sentence, add_special_tokens=False)["input_ids"]
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, 150_000, (1, prompt_tokens), generator=generator)
    processor = logits_processor(tok, rows, prompt_len=prompt_tokens)
    ids = prompt.tolist()[0]
    step_times, mask_times = [], []
    with torch.inference_mode():
        cache = model(input_ids=prompt, use_cache=True).past_key_values
        for i in range(steps + 2):
            ids.append(answer[i % len(answer)])
            t0 = time.perf_counter()
            out = model(input_ids=torch.tensor([ids[-1:]]), past_key_values=cache, use_cache=True)
            logits = out.logits[:, -1].float()
            t1 = time.perf_counter()
            processor(torch.tensor([ids]), logits)
            t2 = time.perf_counter()
            cache = out.past_key_values
            step_times.append(t1 - t0)
            mask_times.append(t2 - t1)
    step_s = statistics.median(step_times[2:])
    mask_s = statistics.median(mask_times[2:])
    return {
        "model": model_id,
        "dtype": dtype,
        "threads": torch.get_num_threads(),
        "vocab_rows": rows,
        "steps": steps,
        "mask_build_s": round(build_s, 3),
        "decode_step_ms": round(step_s * 1000, 3),
        "mask_ms_per_token": round(mask_s * 1000, 4),
        "mask_ms_max": round(max(mask_times[2:]) * 1000, 4),
        "overhead_ratio": round(mask_s / step_s, 5),
        "blocked": stats.to_dict(),
    }
