"""``python -m captioner bench --report DIR``: every benchmark figure in one JSON, with plots.

    flock /tmp/captioner-heavy.lock python -m captioner bench --report docs/bench

writes ``DIR/report.json`` (the machine, then one key per section) and PNG plots:

- ``decode.png``: decode tokens/s per model and precision, with each precision's bandwidth
  ceiling (measured read bandwidth ÷ the weight bytes a token reads) drawn in, and the AVX2
  path (``AVX2_PRECISIONS``: what an AMD Zen 2 runs, emulated here with every library capped
  at AVX2, ``cpu_bench.EMULATE``);
- ``frames.png``: time to the first token and peak RSS against frames (4, 8, 16, 32), the
  planner's predicted peak beside the measured one;
- ``streaming.png``: our streaming generator against raw ``generate`` (with our processors,
  and with transformers' own sampling), tokens/s and the per-token cost of each step;
- ``readers.png``: our frame sampler against raw decord, PyAV and transformers' ``load_video``
  on the same clip.

Each section is kept in ``DIR/sections/NAME.json`` once measured, so a long report can be
resumed or one section redone (delete its file). Real-size sections need the random-weight
checkpoints of ``realsize.py`` (built on first use, minutes) and several GB of RAM: run them
under the heavy-job lock. ``quick=True`` (tests) measures the tiny checkpoint only.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import statistics
import time
from pathlib import Path

import captioner.dev.bench as bench
import captioner.dev.cpu_bench as cpu_bench

MODELS = ("Qwen/Qwen3-VL-2B-Instruct", "Qwen/Qwen3-VL-4B-Instruct")
PRECISIONS = {
    # int8-unfused: int8 with q / k / v and gate / up as separate layers (quantize.FUSED)
    "Qwen/Qwen3-VL-2B-Instruct": ("int4", "int8", "int8-unfused", "bf16", "fp32"),
    "Qwen/Qwen3-VL-4B-Instruct": ("int4", "int8", "bf16"),  # fp32 (17 GB) does not fit 24 GB
}
# the AVX2 path (an AMD Zen 2's) on this machine: every library capped at AVX2 (cpu_bench.EMULATE)
AVX2_PRECISIONS = ("int8", "int4", "fp32")
FRAME_SWEEP = (4, 8, 16, 32)
GB = 1e9


def measure_bandwidth(threads: int, size_bytes: int = 1 << 30, repeats: int = 7) -> float:
    """Read bandwidth in GB/s: the best of ``repeats`` sums over a 1 GiB float32 tensor (far
    larger than any cache) with ``threads`` torch threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        data = torch.ones(size_bytes // 4)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            data.sum()
            best = min(best, time.perf_counter() - start)
        return round(size_bytes / best / GB, 2)
    finally:
        torch.set_num_threads(before)


def machine() -> dict:
    from captioner import cpuspeed, hardware, profiles

    hw = hardware.detect()
    rt = profiles.runtime("cpu", hw)
    return {
        "cpu": hw.cpu_name,
        "cores": hw.cpu_count,
        "memory_gb": round(hw.ram_bytes / 2**30, 1),
        "cpu_flags": sorted(hw.cpu_flags),
        "cpu_kind": cpuspeed.kind_of(hw, rt.float_precision),
        "float_precision": rt.float_precision,
        "bandwidth_gb_s": {
            "1_thread": measure_bandwidth(1),
            "all_threads": measure_bandwidth(hw.cpu_count),
        },
        "python": platform.python_version(),
        "torch": importlib.metadata.version("torch"),
        "transformers": importlib.metadata.version("transformers"),
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
    }


def _section(folder: Path, name: str, make) -> dict:
    path = folder / "sections" / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    result = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


def build(
    folder: str | Path,
    *,
    quick: bool = False,
    tiny: str | None = None,
    repeats: int = 3,
    models: tuple[str, ...] = MODELS,
) -> dict:
    """Every section (measured, or read from ``folder/sections``), the JSON and the plots."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report: dict = {"machine": _section(folder, "machine", machine)}
    if quick:
        if tiny is None:
            raise ValueError("quick reports measure the tiny checkpoint: pass tiny=FOLDER")
        models, precisions, repeats = (tiny,), {tiny: ("int4", "int8-unfused", "bf16")}, 1
        avx2_precisions: tuple[str, ...] = ("int8",)
        sweep, new_tokens, steps = (4, 8), 4, 4
    else:
        precisions, sweep, new_tokens, steps = PRECISIONS, FRAME_SWEEP, 32, 64
        avx2_precisions = AVX2_PRECISIONS

    def suite(model: str) -> dict:
        key = Path(model).name if quick else model.split("/")[-1]
        frames = (4,) if quick else (8, 16)
        return _section(folder, f"precisions-{key}", lambda: cpu_bench.suite(
            model, precisions[model], frames=frames, repeats=repeats, new_tokens=new_tokens))  # fmt: skip

    first = models[0]
    report["precisions"] = {first: suite(first)}
    report["frames"] = _with_plan(_section(folder, "frames", lambda: _frames(first, sweep, new_tokens)))  # fmt: skip
    report["quality"] = _section(folder, "quality", lambda: cpu_bench.quality(first, steps=steps))
    report["quality_outliers"] = _section(folder, "quality-outliers", lambda: cpu_bench.quality(
        first, steps=steps, outliers=True))  # fmt: skip
    # the KV cache over a long answer (256 tokens): kvcache's against transformers' own
    report["kvcache"] = _section(folder, "kvcache", lambda: cpu_bench.suite(
        first, ("int8", "int8-catcache"), frames=(4,) if quick else (8, 16), repeats=repeats,
        new_tokens=new_tokens if quick else 256))  # fmt: skip
    report["avx2"] = _section(folder, "precisions-avx2", lambda: cpu_bench.suite(
        first, avx2_precisions, frames=(4,) if quick else (8, 16), repeats=repeats,
        new_tokens=new_tokens, emulate="avx2"))  # fmt: skip
    # int8 on an AVX2 CPU: FBGEMM with 7-bit weights against the weight-only kernel
    report["avx2_int8"] = _section(folder, "avx2-int8", lambda: cpu_bench.suite(
        first, ("int8", "int8-weight-only"), frames=(4,) if quick else (8,), repeats=repeats,
        new_tokens=new_tokens, emulate="avx2"))  # fmt: skip
    report["streaming"] = _section(folder, "streaming", lambda: _streaming(tiny, quick))
    report["readers"] = _section(folder, "readers", lambda: readers(repeats=1 if quick else 5))
    for model in models[1:]:  # the larger models last: the longest runs
        report["precisions"][model] = suite(model)
    (folder / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    report["plots"] = plots(report, folder)
    (folder / "tables.md").write_text(
        markdown(report) + "\n```python\n" + cpuspeed_rows(report) + "```\n", encoding="utf-8"
    )
    return report


def _frames(model: str, sweep: tuple[int, ...], new_tokens: int) -> dict:
    """The CPU default's time to the first token and peak RSS against frames (measured)."""
    from captioner import hardware, profiles

    precision = profiles.decide(hardware.detect()).video.precision
    run = cpu_bench.suite(model, (precision,), frames=sweep, repeats=1, new_tokens=new_tokens)
    summary = run["precisions"][precision]
    rows = []
    for frames, figures in summary["per_frames"].items():
        rows.append({
            "frames": int(frames), "ttft_s": figures["ttft_s"],
            "peak_rss_gb": max(summary["peak_rss_load_gb"], figures["peak_rss_generation_gb"]),
            "prompt_tokens": figures["prompt_tokens"], "video_tokens": figures["video_tokens"],
        })  # fmt: skip
    return {"model": model, "precision": precision, "new_tokens": new_tokens,
            "peak_rss_load_gb": summary["peak_rss_load_gb"], "rows": rows}  # fmt: skip


def _with_plan(frames: dict) -> dict:
    """The memory planner's predicted peak RSS beside each measured one (computed now, from
    the planner as it is, so a changed planner is checked against the same measurements)."""
    from captioner import catalog, hardware, memory, profiles

    spec = catalog.find(frames["model"])
    if spec is None:
        return frames
    rt = profiles.runtime("cpu", hardware.detect())
    for row in frames["rows"]:
        workload = memory.Workload(
            frames=row["frames"], frame_pixels=profiles.PX_320,
            max_new_tokens=frames["new_tokens"],
            prompt_tokens=row["prompt_tokens"] - row["video_tokens"],
            float_precision=rt.float_precision, host=True,
        )  # fmt: skip
        planned = memory.plan(spec, frames["precision"], 1 << 50, workload).total_bytes / 2**30
        row["planned_peak_rss_gb"] = round(planned, 3)
        row["planner_error_pct"] = round(
            (planned - row["peak_rss_gb"]) / row["peak_rss_gb"] * 100, 1
        )
    return frames


def _streaming(tiny: str | None, quick: bool) -> dict:
    """Streaming overhead on the tiny checkpoint (151,936 rows, so the per-token steps cost
    what they cost on the real vocabulary), and each step's cost."""
    import captioner.dev.tiny as tiny_
    from captioner import loader, profiles, video

    path = tiny
    if path is None:
        import tempfile

        path = str(tiny_.write_tiny_vl(Path(tempfile.mkdtemp(prefix="captioner-tiny-")) / "vl"))
    loader.unload()
    loaded = loader.load(loader.ModelRequest(path, precision="fp32", compute_dtype="float32",
                                             device="cpu"))  # fmt: skip
    clip = video.load_clip(str(bench.ASSET_CLIP), video.SamplingSpec(max_frames=8, max_pixels=profiles.PX_320))  # fmt: skip
    out = {}
    for threads in (1, 2):
        out[f"threads_{threads}"] = bench.throughput(
            loaded, clip, 8 if quick else 64, rounds=1 if quick else 5, threads=threads
        )
    out["steps"] = bench.processor_costs(repeats=20 if quick else 200)
    loader.unload()
    return out


def readers(path: str | None = None, repeats: int = 5) -> dict:
    """Our sampler (``video.load_clip``: probe, sample, decode at size in the worker, no
    cache) against raw decord, PyAV and transformers' ``load_video`` on the same clip and
    frame count, medians of interleaved rounds."""
    from transformers.video_utils import load_video

    from captioner import profiles, video

    path = str(path or bench.ASSET_CLIP)
    spec = video.SamplingSpec(fps=2.0, max_frames=8, max_pixels=profiles.PX_320)
    figures = bench.reader_figures(path, spec, repeats=repeats)
    n = figures["frames"]

    def ours():
        video.clear_cache()
        video.load_clip(path, spec)

    jobs = {"ours_load_clip": ours,
            "transformers_load_video_pyav": lambda: load_video(path, num_frames=n, backend="pyav")}  # fmt: skip
    runs: dict[str, list[float]] = {k: [] for k in jobs}
    for round_ in range(repeats + 1):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            if round_:
                runs[name].append(time.perf_counter() - start)
    figures["median_s"].update({k: round(statistics.median(v), 4) for k, v in runs.items()})
    return figures


def plots(report: dict, folder: Path) -> list[str]:
    """The PNG plots of ``report`` in ``folder`` (matplotlib, Agg: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, draw in (("decode", _plot_decode), ("frames", _plot_frames),
                       ("streaming", _plot_streaming), ("readers", _plot_readers)):  # fmt: skip
        fig = draw(plt, report)
        if fig is None:
            continue
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(str(path))
    return written


def _title(report: dict) -> str:
    m = report["machine"]
    return f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}"


def _plot_decode(plt, report: dict):
    from captioner import catalog, memory

    bandwidth = report["machine"]["bandwidth_gb_s"]["all_threads"]
    labels, values, ceilings, colors = [], [], [], []
    for model, suite, label in _suites(report):
        spec = catalog.find(model)
        for precision, summary in suite["precisions"].items():
            rates = [v["decode_tokens_per_s"] for v in summary["per_frames"].values()]
            name = model.split("/")[-1].removesuffix("-Instruct").removeprefix("Qwen3-VL-")
            labels.append(f"{name}\n{precision}" + ("\nAVX2" if label else ""))
            colors.append("#8172b2" if label else "#4c72b0")
            values.append(statistics.median(rates))
            floats = "fp32" if summary["compute_dtype"] == "float32" else "bf16"
            per_token = (
                memory.decode_bytes_per_token(spec, cpu_bench.base_precision(precision), floats)
                if spec
                else None
            )
            ceilings.append(bandwidth * GB / per_token if per_token else None)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.75 * len(labels)), 4.2))
    x = range(len(labels))
    ax.bar(x, values, color=colors, label="measured decode tok/s")
    if "#8172b2" in colors:
        ax.bar([0], [0], color="#8172b2", label="AVX2 path, emulated (every library capped)")
    for i, ceiling in enumerate(ceilings):
        if ceiling:
            ax.hlines(ceiling, i - 0.4, i + 0.4, colors="#c44e52", linestyles="--",
                      label="bandwidth ceiling" if i == 0 else None)  # fmt: skip
    ax.axhline(10, color="gray", lw=0.8, ls=":", label="10 tok/s target")
    ax.set_xticks(list(x), labels, fontsize=8)
    ax.set_ylabel("tokens / s after the first")
    ax.set_title(f"Decode speed per precision — {_title(report)}", fontsize=9)
    ax.set_ylim(0, max([*values, *(c for c in ceilings if c)]) * 1.45)  # room for the legend
    ax.legend(fontsize=8, ncols=2, loc="upper right")
    return fig


def _plot_frames(plt, report: dict):
    rows = report["frames"]["rows"]
    frames = [r["frames"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.plot(frames, [r["ttft_s"] for r in rows], "o-")
    a.set_xlabel("frames")
    a.set_ylabel("time to first token (s)")
    b.plot(frames, [r["peak_rss_gb"] for r in rows], "o-", label="measured peak RSS")
    if all("planned_peak_rss_gb" in r for r in rows):
        b.plot(frames, [r["planned_peak_rss_gb"] for r in rows], "s--", label="planner")
    b.set_xlabel("frames")
    b.set_ylabel("GiB")
    b.legend(fontsize=8)
    fig.suptitle(f"{report['frames']['model'].split('/')[-1]} {report['frames']['precision']} — "
                 f"{_title(report)}", fontsize=9)  # fmt: skip
    return fig


def _plot_streaming(plt, report: dict):
    streaming = report["streaming"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    kinds = ("ours", "same_processors", "raw")
    for offset, key in enumerate(k for k in streaming if k.startswith("threads_")):
        figures = streaming[key]
        values = [figures[f"{k}_decode_tokens_per_s"] for k in kinds]
        a.bar([i + offset * 0.4 for i in range(3)], values, width=0.4, label=key.replace("_", " "))
    a.set_xticks([0.2, 1.2, 2.2], ["ours (streaming)", "generate +\nour processors", "raw generate"],
                 fontsize=8)  # fmt: skip
    a.set_ylabel("decode tok/s (tiny model, 151,936 rows)")
    a.legend(fontsize=8)
    steps = streaming["steps"]["ms_per_token"]
    b.barh(list(steps), list(steps.values()), color="#55a868")
    b.set_xlabel("ms per token (one thread)")
    b.tick_params(axis="y", labelsize=8)
    fig.suptitle(f"Streaming — {_title(report)}", fontsize=9)
    return fig


def _plot_readers(plt, report: dict):
    median = report["readers"]["median_s"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh(list(median), [v * 1000 for v in median.values()], color="#8172b2")
    ax.set_xlabel(f"ms for {report['readers']['frames']} frames of {report['readers']['video']}")
    ax.set_title(f"Frame readers — {_title(report)}", fontsize=9)
    return fig


def markdown(report: dict) -> str:
    """The report's figures as the README's Markdown tables."""
    from captioner import catalog, memory

    bandwidth = report["machine"]["bandwidth_gb_s"]["all_threads"]
    lines = [
        "| model · precision | decode tok/s (range) | of the ceiling | first token 8 / 16 frames | "
        "peak RSS | load |",
        "|---|---|---|---|---|---|",
    ]
    for model, suite, label in _suites(report):
        spec = catalog.find(model)
        for precision, s in suite["precisions"].items():
            per = list(s["per_frames"].values())
            rates = [v["decode_tokens_per_s"] for v in per]
            rate = statistics.median(rates)
            low = min(v["decode_range"][0] for v in per)
            high = max(v["decode_range"][1] for v in per)
            floats = "fp32" if s["compute_dtype"] == "float32" else "bf16"
            ceiling = ""
            if spec is not None:
                per_token = memory.decode_bytes_per_token(
                    spec, cpu_bench.base_precision(precision), floats
                )
                top = bandwidth * GB / per_token
                ceiling = f"{rate / top:.0%} of {top:.1f}"
            ttft = " / ".join(f"{v['ttft_s']:.1f} s" for v in per)
            name = model.split("/")[-1].removesuffix("-Instruct")
            lines.append(
                f"| {name} · {precision}{label} | {rate:.2f} ({low:.2f}-{high:.2f}) | {ceiling} | {ttft} "
                f"| {s['peak_rss_gb']:.2f} GiB | {s['load_s']:.0f} s |"
            )
    lines += [
        "",
        "| frames | first token | peak RSS | planned | planner error |",
        "|---|---|---|---|---|",
    ]
    for row in report["frames"]["rows"]:
        lines.append(
            f"| {row['frames']} | {row['ttft_s']:.1f} s | {row['peak_rss_gb']:.2f} GiB | "
            f"{row.get('planned_peak_rss_gb', float('nan')):.2f} GiB | "
            f"{row.get('planner_error_pct', float('nan')):+.1f}% |"
        )
    for key, title in (("quality", "vs bf16"), ("quality_outliers", "with outliers, vs bf16")):
        if key in report:
            lines += ["", *quality_table(report[key], title)]
    if "kvcache" in report:
        lines += ["", *kvcache_table(report["kvcache"])]
    if "avx2_int8" in report:
        lines += ["", *paired_table(report["avx2_int8"], ("int8", "AVX2 int8, 7-bit weights"),
                                    ("int8-weight-only", "weight-only"))]  # fmt: skip
    lines += ["", streaming_table(report["streaming"])]
    return "\n".join(lines) + "\n"


def _suites(report: dict) -> list[tuple[str, dict, str]]:
    """(model, precision suite, label) for the decode table: this CPU's, then the AVX2 path."""
    suites = [(model, suite, "") for model, suite in report["precisions"].items()]
    if "avx2" in report:
        suites.append((report["avx2"]["model"], report["avx2"], " (AVX2, emulated)"))
    return suites


def kvcache_table(suite: dict) -> list[str]:
    """Decode tok/s of int8 with the slab-grown cache and with transformers' ``torch.cat``
    one, per frame count, and the round-by-round ratio (both runs of a round back to back)."""
    return paired_table(suite, ("int8", "kvcache"), ("int8-catcache", "transformers' cache"))


def paired_table(suite: dict, ours: tuple[str, str], theirs: tuple[str, str]) -> list[str]:
    """Decode tok/s of two precisions of one interleaved suite, (name, column title) each,
    per frame count, and the round-by-round ratios (both runs of a round back to back)."""
    (name, title), (other_name, other_title) = ours, theirs
    ours, theirs = suite["precisions"][name], suite["precisions"][other_name]
    new_tokens = ours["raw"][0]["runs"][0]["new_tokens"]
    lines = [f"| frames (prompt tokens), {new_tokens} new tokens | {title} tok/s (range) | "
             f"{other_title} | paired ratios |", "|---|---|---|---|"]  # fmt: skip
    for i, (frames, a) in enumerate(ours["per_frames"].items()):
        b = theirs["per_frames"][frames]
        ratios = sorted(
            x["runs"][i]["decode_tokens_per_s"] / y["runs"][i]["decode_tokens_per_s"]
            for x, y in zip(ours["raw"], theirs["raw"], strict=True)
        )
        lines.append(
            f"| {frames} ({a['prompt_tokens']}) | {a['decode_tokens_per_s']:.2f} "
            f"({a['decode_range'][0]:.2f}-{a['decode_range'][1]:.2f}) | "
            f"{b['decode_tokens_per_s']:.2f} ({b['decode_range'][0]:.2f}-{b['decode_range'][1]:.2f}) "
            f"| {', '.join(f'{r:.2f}×' for r in ratios)} |"
        )
    return lines


def quality_table(quality: dict, title: str) -> list[str]:
    """One row per precision: its logits against bf16's over the teacher-forced steps."""
    lines = [f"| {title} ({quality['steps']} teacher-forced steps) | cosine mean / min | "
             "relative error | KL mean / max | top-1, all steps | top-1, decided steps |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for precision, q in quality["precisions"].items():
        decided = q.get("top1_decided")
        decided_text = "—" if decided is None else f"{decided:.0%} of {q['decided_steps']}"
        rel = q.get("rel_error_mean")
        lines.append(
            f"| {precision} | {q['cosine_mean']:.4f} / {q['cosine_min']:.4f} | "
            f"{'—' if rel is None else f'{rel:.1%}'} | "
            f"{q['kl_mean']:.2g} / {q['kl_max']:.2g} | {q['top1_agreement']:.0%} | "
            f"{decided_text} |"
        )
    return lines


def streaming_table(streaming: dict) -> str:
    """Ours against generate() with the same processors and raw generate(), per thread count:
    decode tok/s (medians) and the per-token differences, paired round by round."""
    lines = [
        "| torch threads | ours (streaming) | generate() + our processors | raw generate() | "
        "streaming overhead, ms/token: median (range) |",
        "|---|---|---|---|---|",
    ]
    for key, f in streaming.items():
        if not key.startswith("threads_"):
            continue
        paired = f.get("streaming_overhead_paired_ms") or {}
        if paired.get("median") is not None:
            low, high = paired["range"]
            overhead = f"{paired['median']:+.3f} ({low:+.3f} to {high:+.3f})"
        else:
            overhead = f"{f['streaming_overhead_ms_per_token']:+.3f}"
        lines.append(
            f"| {key.removeprefix('threads_')} | {f['ours_decode_tokens_per_s']:.1f} tok/s | "
            f"{f['same_processors_decode_tokens_per_s']:.1f} tok/s | "
            f"{f['raw_decode_tokens_per_s']:.1f} tok/s | {overhead} |"
        )
    return "\n".join(lines) + "\n"


def cpuspeed_rows(report: dict) -> str:
    """The measured rows of ``captioner/cpuspeed.py``'s table, as Python, from this report."""
    lines = []
    for model, suite, label in _suites(report):
        for precision, s in suite["precisions"].items():
            if precision in cpu_bench.VARIANTS:
                continue  # a comparison, not a precision the rule can pick
            kind = s.get("cpu_kind") or report["machine"]["cpu_kind"]
            eight = s["per_frames"].get("8") or next(iter(s["per_frames"].values()))
            lines.append(
                f'    CpuSpeed("{kind}", "{model}", "{precision}", '
                f"{eight['decode_tokens_per_s']:.2f}, {eight['ttft_s']:.1f}, "
                f"{s['peak_rss_gb']:.2f}, {'_AVX2_EMULATED' if label else '_EPYC'}),"
            )
    for key, suffix in (("quality", ""), ("quality_outliers", "@outliers")):
        quality = report.get(key)
        for precision, q in (quality or {}).get("precisions", {}).items():
            if q.get("top1_decided") is None:
                continue
            name = precision + suffix
            lines.append(
                f'    "{name}": Quality("{name}", {q["cosine_mean"]}, {q["rel_error_mean"]}, '
                f"{q['top1_agreement']}, {q['top1_decided']}, {q['decided_steps']}, "
                f"{quality['steps']}),"
            )
    return "\n".join(lines) + "\n"
