"""``dev/realsize.py``'s outlier transform: the model computes the same, its linear layers now
see outlier channels (what the int8 stress measurement of ``cpu_bench.quality`` relies on)."""

from __future__ import annotations

import torch

from captioner.dev import realsize


def test_outliers_change_the_activations_not_the_logits(tiny_vl):
    # imported here: importing transformers at collection would import huggingface_hub before
    # conftest sets HF_HUB_OFFLINE, and every Hub lookup of the other tests would then wait
    # for the network's timeout
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(tiny_vl, dtype=torch.float32).eval()
    ids = torch.randint(0, 150_000, (1, 16), generator=torch.Generator().manual_seed(0))
    seen = {}

    def record(name):
        def hook(module, args):
            seen[name] = args[0].detach().abs().amax(dim=(0, 1))  # per input channel

        return hook

    layer = model.model.language_model.layers[0]
    handles = [layer.self_attn.q_proj.register_forward_pre_hook(record("q")),
               layer.mlp.down_proj.register_forward_pre_hook(record("down"))]  # fmt: skip
    with torch.inference_mode():
        before = model(input_ids=ids).logits
        plain = {k: v.clone() for k, v in seen.items()}
        assert realsize.add_outliers(model) == len(model.model.language_model.layers)
        after = model(input_ids=ids).logits
    for handle in handles:
        handle.remove()
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-5)
    for name in ("q", "down"):  # a few channels now stand out: the loudest ~factor x the median
        ratio_before = (plain[name].max() / plain[name].median()).item()
        ratio_after = (seen[name].max() / seen[name].median()).item()
        assert ratio_after > 8 * ratio_before
