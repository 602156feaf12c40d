"""Is bf16 really fast on this CPU? Measured once per machine and torch version, kept on disk.

``profiles.py`` decides a CPU's float type by a rule: bf16 only where the CPU has native bf16
instructions (AVX-512 BF16 or AMX), fp32 everywhere else. The flags say the instructions
exist, not that torch's kernels use them, so on such a CPU the rule is confirmed once: the
matrix-vector products of one decoder layer of the CPU profile's model, at their real
shapes (full width, not a miniature model), are timed in bf16 and in fp32, interleaved, best
of several rounds, and the speed ratio is written to a JSON file keyed by the CPU model, its
flags and the torch version. Every later start reads the file, so the same
machine gets the same answer at every start and ``doctor`` answers at once.

Why matrix-vector products: decoding one token reads every weight once, which is exactly
this work; the prefill of a video prompt runs the same kernels on more rows.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import os
import time
from pathlib import Path

from captioner import catalog
from captioner.hardware import Hardware

log = logging.getLogger(__name__)

CACHE_FILE = "cpu-bf16.json"
ROUNDS = 10


def layer_shapes(spec: catalog.ModelSpec) -> tuple[tuple[int, int], ...]:
    """(out, in) of one decoder layer's linear weights: q, k, v, o, gate, up, down."""
    t = spec.text
    q, kv = t.num_heads * t.head_dim, t.num_kv_heads * t.head_dim
    h, inter = t.hidden_size, t.intermediate_size
    return ((q, h), (kv, h), (kv, h), (h, q), (inter, h), (inter, h), (h, inter))


def measure_bf16_speedup(shapes: tuple[tuple[int, int], ...], rounds: int = ROUNDS) -> float:
    """fp32 time / bf16 time of one vector through every weight of ``shapes`` (> 1: bf16
    is faster), on one thread, each product's best time over ``rounds`` interleaved rounds.

    One thread, because this asks about the kernels, not the machine's load: with two
    threads on a busy 2-core machine a bf16 product waits for its descheduled sibling thread
    a whole scheduler slice (~8 ms instead of 0.24 ms for 2048×2048, seen here) and the
    answer flips with whatever else runs; one thread gives the same ratio idle or busy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _measure(shapes, rounds)
    finally:
        torch.set_num_threads(threads)


def _measure(shapes: tuple[tuple[int, int], ...], rounds: int) -> float:
    import torch

    generator = torch.Generator().manual_seed(0)
    dtypes = (torch.float32, torch.bfloat16)
    best = {(dtype, shape): float("inf") for dtype in dtypes for shape in shapes}
    with torch.inference_mode():
        for shape in shapes:
            weights = {d: torch.randn(shape, generator=generator).to(d) for d in dtypes}
            vectors = {d: torch.randn(1, shape[1], generator=generator).to(d) for d in dtypes}
            for _ in range(rounds + 1):  # the first round warms the kernels up
                for dtype in dtypes:
                    start = time.perf_counter()
                    torch.nn.functional.linear(vectors[dtype], weights[dtype])
                    elapsed = time.perf_counter() - start
                    best[dtype, shape] = min(best[dtype, shape], elapsed)
    total = {d: sum(best[d, shape] for shape in shapes) for d in dtypes}
    return total[torch.float32] / total[torch.bfloat16]


def cache_key(hw: Hardware, shapes: tuple[tuple[int, int], ...]) -> str:
    # the installed torch's version without importing torch (seconds that doctor saves)
    flags = ",".join(sorted(hw.cpu_flags))
    return f"{hw.cpu_name}|{flags}|torch={importlib.metadata.version('torch')}|{shapes}"


def with_bf16_measurement(
    hw: Hardware, spec: catalog.ModelSpec, cache_dir: Path | None
) -> Hardware:
    """``hw`` with ``cpu_bf16_speedup`` filled in where the rule needs confirming: a real
    CPU-only machine with native bf16. Read from ``cache_dir`` when measured before."""
    if hw.simulated or hw.kind != "cpu" or not hw.cpu_bf16:
        return hw
    shapes = layer_shapes(spec)
    key = cache_key(hw, shapes)
    path = cache_dir / CACHE_FILE if cache_dir is not None else None
    known = _read(path)
    if key in known:
        return dataclasses.replace(hw, cpu_bf16_speedup=float(known[key]["speedup"]))
    speedup = round(measure_bf16_speedup(shapes), 3)
    log.info("bf16/fp32 speed on %s: ×%.2f (written to %s)", hw.cpu_name, speedup, path)
    if path is not None:
        known[key] = {"speedup": speedup, "model": spec.id, "measured_at": time.time()}
        _write(path, known)
    return dataclasses.replace(hw, cpu_bf16_speedup=speedup)


def _read(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict) -> None:
    """Atomically (two processes may start at once); a cache that cannot be written only
    means measuring again next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)
