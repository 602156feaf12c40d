"""A KV cache for CPU decoding that grows in place, in slabs, instead of by concatenation.

transformers' ``DynamicLayer`` appends each token with ``torch.cat``: every decoding step
copies the whole cache of every layer into a new tensor. On a CPU that copy is memory traffic
of the same order as the attention itself, and it grows with the context: Qwen3-VL-2B holds
28 × 2 × 2 KiB of bf16 keys and values per token, 183 MB at 1,600 tokens, copied once a token.

``SlabLayer`` keeps each layer's keys and values in one contiguous buffer of ``SLAB`` rows
more than it holds (rounded up), writes a step's rows into it, and returns views of its
filled rows, so transformers' code sees the cache it expects. A buffer that is full is
replaced by one a slab larger (the rows copied once per ``SLAB`` tokens).

A view of the first rows of a buffer is not something the batched matrix products take as it
is: they copy it first (the per-head stride is the buffer's). So each view carries its buffer
(``slab_of``) and ``cpu_attention.one_row`` runs the products over the whole contiguous
buffer, the unfilled rows masked out (zeros, never read into the result): at most a slab
more rows than the cache holds, instead of a copy of all of them.

Anything that replaces a layer's tensors (``crop``, beam reordering, ``reset``) leaves views
that are not the ones this layer handed out; the next ``update`` then copies them into a new
buffer, so every path of transformers' cache API stays correct. Used where the CPU runtime
uses ``cpu_attention.CPU_SDPA`` (``generation.py``); GPUs keep transformers' cache.
"""

from __future__ import annotations

import functools

SLAB = 128  # rows a buffer grows by: the most rows an attention step reads beyond the filled
ENABLED = True  # the benchmark's knob (the ``int8-catcache`` variant turns it off)


def slab_of(view):
    """The contiguous buffer a ``SlabLayer`` view is the first rows of, or None."""
    return getattr(view, "_captioner_slab", None)


@functools.cache
def _classes():
    import torch
    from transformers.cache_utils import DynamicCache, DynamicLayer

    class SlabLayer(DynamicLayer):
        """A ``DynamicLayer`` whose keys and values are views of slab-grown buffers."""

        def lazy_initialization(self, key_states, value_states) -> None:
            super().lazy_initialization(key_states, value_states)
            self._buffers = None
            self._views = None

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            held = 0 if self.keys.numel() == 0 else self.keys.shape[-2]
            needed = held + key_states.shape[-2]
            ours = self._views is not None and self.keys is self._views[0]
            if not ours or needed > self._buffers[0].shape[-2]:
                self._buffers = (
                    _grown(self.keys if held else None, key_states, held, needed),
                    _grown(self.values if held else None, value_states, held, needed),
                )
            keys, values = self._buffers
            keys[..., held:needed, :] = key_states
            values[..., held:needed, :] = value_states
            self.keys, self.values = keys[..., :needed, :], values[..., :needed, :]
            self.keys._captioner_slab, self.values._captioner_slab = keys, values
            self._views = (self.keys, self.values)
            return self.keys, self.values

    def _grown(old, new, held: int, needed: int):
        """A zeroed buffer for ``needed`` rows rounded up to a slab, the ``held`` old rows in
        it. Zeros, not empty memory: masked rows are multiplied by 0, and NaN · 0 is NaN."""
        rows = -(-needed // SLAB) * SLAB
        buffer = torch.zeros(
            (*new.shape[:-2], rows, new.shape[-1]), dtype=new.dtype, device=new.device
        )
        if old is not None:
            buffer[..., :held, :] = old
        return buffer

    class SlabCache(DynamicCache):
        """transformers' ``DynamicCache`` for ``config``, its full-attention layers slab-grown
        (sliding-window layers, which drop rows, stay as they are)."""

        def __init__(self, config) -> None:
            super().__init__(config=config)
            self.layers = [SlabLayer() if type(lay) is DynamicLayer else lay for lay in self.layers]
            if self.layer_class_to_replicate is DynamicLayer:
                self.layer_class_to_replicate = SlabLayer

    return SlabLayer, SlabCache


def new_cache(model):
    """A ``SlabCache`` for one ``generate()`` call of ``model``."""
    return _classes()[1](model.config)
