"""Where one CPU decoding step's time goes, and how near the memory's speed its int8 products run.

    flock /tmp/captioner-heavy.lock python -m captioner.dev.step_split \\
        --model Qwen/Qwen3-VL-2B-Instruct --rounds 20

The model is loaded in int8 (the CPU default) through the real loader and a prompt of
``--prompt-tokens`` random ids is prefilled into the CPU runtime's KV cache (``kvcache``);
one decoding step's quantized layer calls are recorded with their inputs. Then, round after
round in one process (so the machine's other load falls on every part alike), medians kept:

- ``step``: one whole decoding step, ``model(...)`` on the cache as ``generate()`` calls it;
- ``without_products``: the same step with every ``QuantizedLinear`` returning zeros: what a
  step costs besides its weight products (the attention over the cache, norms, rotary
  embeddings, the cache's writes, Python and dispatch);
- ``products``: the recorded layer calls replayed alone through ``QuantizedLinear``
  (FBGEMM's one-row product, as the app runs it);
- ``c_kernel``: the same products by a C kernel written only for this comparison, never used
  by the app: u8 · s8 dot products (AVX-512 VNNI, or AVX2 with the 7-bit weights such a CPU
  gets), the weights unpacked from FBGEMM's and stored in the order the kernel reads them,
  the activations quantized per token as FBGEMM's are. It is what "a faster int8 kernel of
  our own" would buy. Compiled with the system's C compiler in a temporary folder; without
  a compiler, or on a CPU without AVX2, it is left out (None);
- ``read``: a plain fp32 sum over as many bytes as the products read: the memory's speed
  with no arithmetic at all.

The two kinds of step each add a token to the cache, so the context grows by two a round
(reported).

``--compile`` measures instead whether a compiled decoding step would take the rest away: the
same int8 step eager and through ``torch.compile`` (inductor), interleaved round by round, with
transformers' ``StaticCache`` (the slab cache's Python bookkeeping would break the graph),
every layer alone (a fused layer's parts share one product through Python state) and
FBGEMM's product wrapped as an opaque custom op (its packed weights are objects, not
tensors; ``graph_breaks`` counts what was left eager anyway); the compile time, and the two
steps' logits compared at one position.

``--emulate avx2`` runs it with every library capped at AVX2 (``cpu_bench``'s
switches): the path of a CPU without AVX-512 (fp32 floats, 7-bit weights, the AVX2 kernel).
No figure here is asserted by a test: they go to the README with the CPU named.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from captioner.dev import cpu_bench

BLOCK_ROWS = 8  # the C kernel's rows per block (one accumulator each): its R
CHUNK = 64  # bytes of a row the kernel reads at once (one AVX-512 register): its C

# The comparison kernel. Weights are packed in blocks of BLOCK_ROWS rows; within a block, for
# each CHUNK-byte piece of the rows, the rows' pieces follow one another, so each thread reads
# one sequential stream (rows read side by side from their own places were 21 against
# FBGEMM's 36 GB/s here: the prefetcher restarts at every 2 KB row).
_C_SOURCE = r"""
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#define R 8
#define C 64

/* x (fp32, K) to u8 = round(x / s) + 128 with s = max|x| / 127; the tail up to Kp 128 (0). */
static float quantize_row(const float *x, int K, int Kp, uint8_t *q) {
    float peak = 0.f;
    for (int k = 0; k < K; k++) { float a = fabsf(x[k]); if (a > peak) peak = a; }
    float s = peak > 0.f ? peak / 127.f : 1.f, inv = 1.f / s;
    for (int k = 0; k < K; k++) q[k] = (uint8_t)(lrintf(x[k] * inv) + 128);
    memset(q + K, 128, Kp - K);
    return s;
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void blocks_vnni(const uint8_t *q, int Kp, const int8_t *w, int b0, int b1, int32_t *acc) {
    for (int b = b0; b < b1; b++) {
        const int8_t *p = w + (int64_t)b * R * Kp;
        __m512i a[R];
        for (int r = 0; r < R; r++) a[r] = _mm512_setzero_si512();
        for (int k = 0; k < Kp; k += C, p += R * C) {
            __m512i x = _mm512_loadu_si512(q + k);
            for (int r = 0; r < R; r++)
                a[r] = _mm512_dpbusd_epi32(a[r], x, _mm512_load_si512(p + C * r));
        }
        for (int r = 0; r < R; r++) acc[b * R + r] = _mm512_reduce_add_epi32(a[r]);
    }
}

/* Pairs of u8 * s8 products are added in 16 bits (maddubs): exact only for |w| <= 63. */
__attribute__((target("avx2")))
static void blocks_avx2(const uint8_t *q, int Kp, const int8_t *w, int b0, int b1, int32_t *acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int b = b0; b < b1; b++) {
        const int8_t *p = w + (int64_t)b * R * Kp;
        __m256i a[R];
        for (int r = 0; r < R; r++) a[r] = _mm256_setzero_si256();
        for (int k = 0; k < Kp; k += C, p += R * C) {
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(q + k));
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(q + k + 32));
            for (int r = 0; r < R; r++) {
                __m256i w0 = _mm256_load_si256((const __m256i *)(p + C * r));
                __m256i w1 = _mm256_load_si256((const __m256i *)(p + C * r + 32));
                __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(x0, w0), ones);
                __m256i s1 = _mm256_madd_epi16(_mm256_maddubs_epi16(x1, w1), ones);
                a[r] = _mm256_add_epi32(a[r], _mm256_add_epi32(s0, s1));
            }
        }
        for (int r = 0; r < R; r++) {
            __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a[r]), _mm256_extracti128_si256(a[r], 1));
            s = _mm_hadd_epi32(s, s);
            s = _mm_hadd_epi32(s, s);
            acc[b * R + r] = _mm_cvtsi128_si32(s);
        }
    }
}

/* w (N x K, row-major) into blocks (N rounded up to R, K to C; 64-byte aligned out). */
void pack(const int8_t *w, int N, int K, int Kp, int8_t *out) {
    int blocks = (N + R - 1) / R;
    for (int b = 0; b < blocks; b++)
        for (int k = 0; k < Kp; k += C)
            for (int r = 0; r < R; r++) {
                int n = b * R + r;
                int8_t *dst = out + (int64_t)b * R * Kp + (int64_t)(k / C) * R * C + C * r;
                memset(dst, 0, C);
                if (n < N && k < K) memcpy(dst, w + (int64_t)n * K + k, K - k < C ? K - k : C);
            }
}

/* out[n] = s * scale[n] * (sum_k q[k] w[n][k] - 128 * wsum[n]), q the quantized x. */
void gemv(const float *x, int K, int Kp, const int8_t *w, const int32_t *wsum,
          const float *scale, float *out, int N, uint8_t *q, int32_t *acc, int threads,
          int vnni) {
    float s = quantize_row(x, K, Kp, q);
    int blocks = (N + R - 1) / R;
    #pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int per = (blocks + nt - 1) / nt;
        int b0 = t * per, b1 = b0 + per < blocks ? b0 + per : blocks;
        if (b0 < b1) {
            if (vnni) blocks_vnni(q, Kp, w, b0, b1, acc);
            else blocks_avx2(q, Kp, w, b0, b1, acc);
            int n1 = b1 * R < N ? b1 * R : N;
            for (int n = b0 * R; n < n1; n++)
                out[n] = s * scale[n] * (float)(acc[n] - 128 * wsum[n]);
        }
    }
}
"""


@dataclass
class PackedWeight:
    """One layer's int8 weights in the C kernel's order, with what its output needs."""

    blocks: object  # int8 tensor, 64-byte aligned
    row_sums: object  # int32 (N,): the zero point's share, 128 · Σ w
    scales: object  # fp32 (N,)
    out_features: int
    in_features: int
    padded_in: int


class CKernel:
    """The comparison kernel, compiled and loaded (``build``)."""

    def __init__(self, library: ctypes.CDLL, vnni: bool) -> None:
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        self._lib = library
        self.vnni = vnni
        library.pack.restype = library.gemv.restype = None
        library.pack.argtypes = [pointer, integer, integer, integer, pointer]
        library.gemv.argtypes = [pointer, integer, integer, pointer, pointer, pointer, pointer,
                                 integer, pointer, pointer, integer, integer]  # fmt: skip
        self._quantized = self._sums = None  # scratch, grown to the widest layer

    @property
    def name(self) -> str:
        return "AVX-512 VNNI" if self.vnni else "AVX2"

    def pack(self, weight, scales) -> PackedWeight:
        """``weight``: int8 (N, K); ``scales``: one per row."""
        import torch

        n, k = weight.shape
        padded_in = -(-k // CHUNK) * CHUNK
        size = -(-n // BLOCK_ROWS) * BLOCK_ROWS * padded_in
        raw = torch.empty(size + 64, dtype=torch.int8)
        start = -raw.data_ptr() % 64  # the kernel's aligned loads
        blocks = raw[start : start + size]
        weight = weight.contiguous()
        self._lib.pack(weight.data_ptr(), n, k, padded_in, blocks.data_ptr())
        return PackedWeight(blocks, weight.sum(1, dtype=torch.int32),
                            scales.float().contiguous(), n, k, padded_in)  # fmt: skip

    def __call__(self, packed: PackedWeight, x):
        """One row ``x`` (fp32, K) times the layer: fp32 (N,)."""
        import torch

        quantized, accumulators = self._buffers(packed)
        out = torch.empty(packed.out_features)
        self._lib.gemv(x.data_ptr(), packed.in_features, packed.padded_in,
                       packed.blocks.data_ptr(), packed.row_sums.data_ptr(),
                       packed.scales.data_ptr(), out.data_ptr(), packed.out_features,
                       quantized.data_ptr(), accumulators.data_ptr(), torch.get_num_threads(),
                       int(self.vnni))  # fmt: skip
        return out

    def _buffers(self, packed: PackedWeight):
        import torch

        rows = -(-packed.out_features // BLOCK_ROWS) * BLOCK_ROWS
        if self._quantized is None or self._quantized.numel() < packed.padded_in:
            self._quantized = torch.empty(packed.padded_in, dtype=torch.uint8)
        if self._sums is None or self._sums.numel() < rows:
            self._sums = torch.empty(rows, dtype=torch.int32)
        return self._quantized, self._sums


def reference(x, weight, scales):
    """What the kernel computes, in torch: x (fp32) quantized to 8 bits per token as the C
    code does it (s = max|x| / 127, x · (1 / s) rounded half to even like ``lrintf``), the
    integer sums exact, scaled back."""
    import torch

    peak = x.abs().max()
    step = peak / 127 if peak > 0 else torch.tensor(1.0)
    q = torch.round(x * (1 / step)).double()
    return (q @ weight.double().t()) * step.double() * scales.double()


def build(vnni: bool | None = None, folder: Path | None = None) -> CKernel | None:
    """The comparison kernel compiled for this CPU (``vnni``: None asks ``hardware``, which
    also honours ``ATEN_CPU_CAPABILITY`` emulation), or None without a C compiler or AVX2.
    Built in ``folder``, or in a temporary one removed once the library is loaded."""
    from captioner import hardware

    flags = hardware.detect().cpu_flags
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or "avx2" not in flags:
        return None
    if vnni is None:
        vnni = "avx512_vnni" in flags  # every such CPU has AVX-512 BW too
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="captioner-gemv-") as scratch:
            return build(vnni, Path(scratch))  # a loaded library outlives its file
    source, library = Path(folder) / "gemv.c", Path(folder) / "gemv.so"
    source.write_text(_C_SOURCE)
    command = [compiler, "-O3", "-shared", "-fPIC", "-fopenmp", str(source), "-o", str(library)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"the comparison kernel did not compile: {done.stderr[-400:]}", file=sys.stderr)
        return None
    # after torch, so the library's libgomp.so.1 is the one torch loaded: one OpenMP pool
    import torch  # noqa: F401

    return CKernel(ctypes.CDLL(str(library)), vnni)


def _unpacked(layer):
    """A ``QuantizedLinear``'s int8 weights and row scales, from FBGEMM's packed form (a bias,
    where a layer has one, is left out: what is compared is the product)."""
    import torch

    pieces = [torch.ops.quantized.linear_unpack(piece)[0] for piece in layer.packed]
    weight = torch.cat([p.int_repr() for p in pieces])
    scales = torch.cat([p.q_per_channel_scales() for p in pieces])
    return weight, scales


def _median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1e3, 2)


def _int8_model(model: str, variant: str = "int8"):
    """The model (a catalog id or a folder) in int8 through the real loader, as the CPU runtime
    loads it; ``variant``: one of ``cpu_bench.VARIANTS`` of int8 instead."""
    from captioner import loader
    from captioner import precision as precision_

    folder = cpu_bench.checkpoint(model)
    compute = precision_.compute_dtype("int8", cpu_bench.float_precision())
    with cpu_bench.variant(variant) as precision:
        request = loader.ModelRequest(str(folder), precision=precision, compute_dtype=compute,
                                      device="cpu", device_map={"": "cpu"},
                                      attn_implementation=cpu_bench.attention())  # fmt: skip
        return loader.load(request).model


def _random_prompt(net, tokens: int):
    import torch

    vocab = net.config.get_text_config().vocab_size
    return torch.randint(min(1000, vocab // 2), vocab - 1, (1, tokens))


def split(model: str, rounds: int = 20, prompt_tokens: int = 574, kernel: bool = True) -> dict:
    """The measurement described in the module docstring, for a catalog id or a folder."""
    import torch

    from captioner import hardware, kvcache, quantize

    net = _int8_model(model)
    layer_class, _ = quantize._module_classes()
    forward = layer_class.forward
    calls: list[tuple] = []

    def recording(layer, x):
        calls.append((layer, x.clone()))
        return forward(layer, x)

    def zeros(layer, x):
        return x.new_zeros(*x.shape[:-1], layer.out_features)

    ids = _random_prompt(net, prompt_tokens)
    c_kernel = build() if kernel else None
    with torch.inference_mode():
        cache = kvcache.new_cache(net)
        token = net(input_ids=ids, past_key_values=cache, use_cache=True).logits[:, -1:].argmax(-1)
        layer_class.forward = recording
        try:  # on a throwaway cache: the recorded inputs are a real step's
            net(input_ids=token, past_key_values=kvcache.new_cache(net), use_cache=True)
        finally:
            layer_class.forward = forward
        product_bytes = sum(layer.out_features * layer.in_features for layer, _ in calls)
        packed = [(c_kernel.pack(*_unpacked(layer)), x) for layer, x in calls] if c_kernel else []
        floats = torch.ones(product_bytes // 4)
        start = cache.get_seq_length()
        times: dict[str, list[float]] = {"step": [], "without_products": [], "products": [],
                                         "c_kernel": [], "read": []}  # fmt: skip

        def timed(name, work):
            began = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - began)

        def step():
            net(input_ids=token, past_key_values=cache, use_cache=True)

        def without_products():
            layer_class.forward = zeros
            try:
                step()
            finally:
                layer_class.forward = forward

        def products():
            for layer, x in calls:
                layer(x)

        def by_c_kernel():
            for weights, x in packed:
                c_kernel(weights, x.reshape(-1).float()).to(x.dtype)

        for _ in range(rounds):
            timed("step", step)
            timed("without_products", without_products)
            timed("products", products)
            if c_kernel:
                timed("c_kernel", by_c_kernel)
            timed("read", floats.sum)
        end = cache.get_seq_length()
    ms = {name: _median_ms(values) if values else None for name, values in times.items()}
    return {
        "model": model,
        "precision": "int8",
        "cpu": hardware.detect().cpu_name,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "rounds": rounds,
        "context_tokens": [start, end],
        "layer_calls": len(calls),
        "product_bytes": product_bytes,
        "c_kernel": c_kernel.name if c_kernel else None,
        "ms": ms,
        "gb_s": {
            name: round(product_bytes / (ms[name] / 1e3) / 1e9, 1)
            for name in ("products", "c_kernel", "read")
            if ms[name]
        },
    }


@functools.cache
def _opaque_product():
    """FBGEMM's one-row product as a custom op compile can keep whole: the packed weights are
    looked up by number in ``_PACKED`` (objects, not tensors, cannot be its arguments)."""
    import torch

    # the schema spelled out: this module's annotations are strings (``from __future__``)
    @torch.library.custom_op("captioner_dev::fbgemm_row", mutates_args=(),
                             schema="(Tensor x, int index, int out_features) -> Tensor")  # fmt: skip
    def fbgemm_row(x, index, out_features):
        return torch.ops.quantized.linear_dynamic(x, _PACKED[index], False)

    @fbgemm_row.register_fake
    def _(x, index, out_features):
        return x.new_empty(*x.shape[:-1], out_features)

    return fbgemm_row


_PACKED: list = []


@contextlib.contextmanager
def _products_as_custom_ops(net):
    """``QuantizedLinear``'s one-row calls through ``_opaque_product`` while the block runs."""
    import torch

    from captioner import quantize

    layer_class, _ = quantize._module_classes()
    forward, op = layer_class.forward, _opaque_product()
    pieces = {}
    for layer in net.modules():
        if isinstance(layer, layer_class) and layer.packed is not None and layer.bias is None:
            pieces[layer] = []
            for piece in layer.packed:
                rows = torch.ops.quantized.linear_unpack(piece)[0].shape[0]
                pieces[layer].append((len(_PACKED), rows))
                _PACKED.append(piece)

    def one_row(layer, x):
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] != 1 or layer not in pieces:
            return forward(layer, x)
        parts = [op(flat.float(), index, rows) for index, rows in pieces[layer]]
        y = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return y.to(x.dtype).view(*x.shape[:-1], layer.out_features)

    layer_class.forward = one_row
    try:
        yield
    finally:
        layer_class.forward = forward
        _PACKED.clear()


def compiled(model: str, rounds: int = 16, prompt_tokens: int = 574) -> dict:
    """The ``--compile`` measurement (module docstring), for a catalog id or a folder."""
    import torch
    from torch._dynamo.utils import counters
    from transformers.cache_utils import StaticCache

    from captioner import hardware

    net = _int8_model(model, "int8-unfused")
    ids = _random_prompt(net, prompt_tokens)
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    with torch.inference_mode(), _products_as_custom_ops(net):
        cache = StaticCache(config=net.config, max_cache_len=prompt_tokens + 2 * rounds + 4)
        logits = net(input_ids=ids, past_key_values=cache, use_cache=True,
                     cache_position=torch.arange(prompt_tokens)).logits  # fmt: skip
        token = logits[:, -1:].argmax(-1)
        fast = torch.compile(net, dynamic=False)
        position = prompt_tokens

        def step(runner):
            nonlocal position
            at = torch.tensor([position])
            position += 1
            return runner(input_ids=token, past_key_values=cache, use_cache=True, cache_position=at)

        counters.clear()
        began = time.perf_counter()
        step(fast)
        compile_s = time.perf_counter() - began
        breaks = sum(counters["graph_break"].values())  # each one a piece left eager
        for _ in range(rounds):
            for name, runner in (("eager", net), ("compiled", fast)):
                began = time.perf_counter()
                step(runner)
                times[name].append(time.perf_counter() - began)
        position -= 1  # both again at one position: the same cache row rewritten
        eager = step(net).logits.float().flatten()
        position -= 1
        fast_logits = step(fast).logits.float().flatten()
    cosine = torch.nn.functional.cosine_similarity(eager, fast_logits, dim=0).item()
    return {
        "model": model,
        "precision": "int8 (each layer alone)",
        "cache": "StaticCache",
        "cpu": hardware.detect().cpu_name,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "rounds": rounds,
        "compile_s": round(compile_s, 1),
        "graph_breaks": breaks,
        "ms": {name: _median_ms(values) for name, values in times.items()},
        "logits_cosine": round(cosine, 6),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m captioner.dev.step_split",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--model", default="Qwen/Qwen3-VL-2B-Instruct")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--prompt-tokens", type=int, default=574)
    parser.add_argument("--no-kernel", action="store_true", help="leave the C kernel out")
    parser.add_argument("--compile", action="store_true",
                        help="eager against torch.compile'd steps instead (module docstring)")  # fmt: skip
    parser.add_argument("--emulate", choices=sorted(cpu_bench.EMULATE),
                        help="in a child process with every library capped (cpu_bench)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.emulate:  # the switches act before torch is imported: a child process, by env(1)
        switches = (f"{name}={value}" for name, value in cpu_bench.EMULATE[args.emulate].items())
        child = ["env", *switches, sys.executable, "-m", "captioner.dev.step_split",
                 "--model", args.model, "--rounds", str(args.rounds),
                 "--prompt-tokens", str(args.prompt_tokens)]  # fmt: skip
        child += ["--no-kernel"] if args.no_kernel else []
        child += ["--compile"] if args.compile else []
        root = Path(__file__).resolve().parents[2]  # `python -m` there imports this checkout
        return subprocess.run(child, cwd=root, check=False).returncode
    if args.compile:
        result = compiled(args.model, args.rounds, args.prompt_tokens)
    else:
        result = split(args.model, args.rounds, args.prompt_tokens, kernel=not args.no_kernel)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
