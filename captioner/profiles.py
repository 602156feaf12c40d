"""Hardware profiles and the one decision: which checkpoints, in which precision, on which
device, with how many frames, and why.

``PROFILES`` is the ordered table (most specific first): a GPU-name hint, the memory the
profile assumes, its Qwen3-VL / Qwen3 checkpoints and frame budget. A row's precision is
``NATIVE`` (the device's float type) or a quantization ("nf4"); which float type a device
uses is decided by one rule, :func:`runtime`:

- CUDA: bf16 where every GPU has compute capability >= 8.0, else fp16. Not
  ``torch.cuda.is_bf16_supported()``: it answers True on a T4 (sm75), which only emulates
  bf16, slowly. So "T4 → NF4 with fp16 compute" is the ``t4`` row plus this rule.
- Apple MPS: fp16 (bitsandbytes has no MPS backend; bf16 on MPS is slower than fp16).
- CPU: bf16 only where the CPU has native bf16 instructions (AVX-512 BF16 or AMX) and the
  measurement in ``cpu.py`` (the CPU model's real matrix shapes, once per machine and torch
  version, cached on disk) did not find it slower; fp32 everywhere else. An AVX2-only CPU
  (e.g. AMD EPYC Zen 2) does bf16 matmuls in slow emulation: 0.3 GB/s against 22 GB/s in
  fp32 for one 2048×2048 matrix-vector product, measured on such a machine.
- Device map "auto" on CUDA (spreads a large model over every visible GPU), the one device
  elsewhere; attention is PyTorch SDPA everywhere (flash-attn is not installed: it needs a
  CUDA build matching torch, which the Space image and most laptops lack, and SDPA already
  runs the fused kernels torch ships). On a CPU a one-token decoding step runs in fp32
  (``cpu_attention.py``): torch's bf16 kernel is 10-25× slower for one query row.

:func:`decide` matches the GPU name and memory against the table as a hint, then lets the
memory planner (``memory.py``) confirm that the profile's models fit with room for frames
and KV cache; when they do not, or the GPU is unknown, it picks the largest catalog model
that fits. A forced profile ("this is my GPU", or a preview of one) is planned for the
memory it assumes. Every decision carries a reason in English and Korean.

    python -m captioner doctor --simulate-gpu "Tesla T4:15:7.5"
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

from captioner import catalog, cpuspeed, errors, memory
from captioner import precision as precision_
from captioner.cpu_attention import CPU_SDPA  # SDPA, one-token decoding steps in fp32
from captioner.hardware import GPU, Hardware
from captioner.precision import GiB, gb

NATIVE = "native"  # a profile row's precision: the device's float type (see runtime())
ATTENTION = "sdpa"
PLAN_NEW_TOKENS = 2048  # KV reserved for the answer: a detailed Korean description
TEXT_PROMPT_TOKENS = 8192  # what a text-only model must hold (a long transcript or captions)
MIN_FRAMES = 16  # fewer than this and a caption misses too much of a clip
MIN_FRAMES_FLOOR = 4  # the processor's own minimum; below it we prefer a smaller model
CPU_MEMORY_SHARE = 0.75  # leave RAM to the OS, the browser and video decoding
MPS_MEMORY_SHARE = 0.65  # macOS lets the GPU wire about two thirds of unified memory


@dataclass(frozen=True)
class Profile:
    name: str
    label_ko: str
    label_en: str
    gpu_patterns: tuple[str, ...]  # regexes on the GPU name (a hint, checked against memory)
    min_memory_gb: float  # per-GPU memory this profile assumes (GiB, as torch reports it)
    video_model: str  # catalog ids
    text_model: str
    max_frames: int  # frame budget (the planner may lower it)
    max_pixels: int  # per-frame pixel budget (multiples of 32x32 keep the processor exact)
    video_precision: str = NATIVE  # NATIVE or "nf4"
    text_precision: str = NATIVE
    kind: str = "cuda"  # "cuda" | "mps" | "cpu"
    min_gpus: int = 1
    capability: tuple[int, int] = (8, 0)  # of the GPU a CUDA profile assumes (for previews)
    why: str = ""


VL = "Qwen/Qwen3-VL-{}-Instruct".format
PX_448 = 448 * 448  # 98 video tokens per frame
PX_640 = 640 * 640  # 200 video tokens per frame
PX_320 = 320 * 320  # 50 video tokens per frame

PROFILES: tuple[Profile, ...] = (
    Profile("multi-gpu", "다중 GPU (80 GB급 여러 장)", "Several 80 GB GPUs", (), 78,
            VL("235B-A22B"), "Qwen/Qwen3-235B-A22B", 256, PX_640, min_gpus=2,
            why="235B-A22B needs ~440 GB in bf16; NF4 cannot shrink its experts (see memory.py)"),
    Profile("h200", "H200 (141 GB)", "H200 (141 GB)", (r"\bH200\b", r"\bGH200\b"), 135,
            VL("32B"), "Qwen/Qwen3-32B", 256, PX_640,
            why="dense 32B in bf16 with room for twice the H100 frame budget"),
    Profile("h100", "H100 (80 GB)", "H100 (80 GB)", (r"\bH100\b", r"\bH800\b"), 78,
            VL("32B"), "Qwen/Qwen3-32B", 128, PX_640,
            why="the strongest Qwen3-VL that fits one 80 GB GPU in bf16"),
    Profile("a100-80", "A100 (80 GB)", "A100 (80 GB)", (r"\bA100\b.*80", r"\bA100\b"), 78,
            VL("32B"), "Qwen/Qwen3-32B", 128, PX_640, why="as H100; A100 has native bf16 (sm80)"),
    Profile("a100-40", "A100 (40 GB)", "A100 (40 GB)", (r"\bA100\b.*40", r"\bA100\b"), 39,
            VL("8B"), "Qwen/Qwen3-14B", 64, PX_640,
            why="8B in bf16 leaves ~20 GB for frames; 32B would need NF4"),
    Profile("l4", "L4 / A10G (24 GB)", "L4 / A10G (24 GB)",
            (r"\bL4\b", r"\bA10G\b", r"\bA10\b", r"RTX (A5000|3090|4090)"), 22,
            VL("8B"), "Qwen/Qwen3-8B", 64, PX_448,
            why="8B in bf16 (16.3 GB) still leaves ~5 GB for 64 frames, so no NF4 needed"),
    Profile("t4", "T4 (16 GB)", "T4 (16 GB)", (r"\bT4\b",), 14.5,
            VL("8B"), "Qwen/Qwen3-4B", 32, PX_448, video_precision="nf4", capability=(7, 5),
            why="8B in fp16 (16.3 GB) cannot fit 15 GB; in NF4 it is ~6 GB, better than 4B fp16"),
    Profile("gpu", "GPU (메모리에 맞춰 자동 결정)", "GPU (sized by the memory planner)", (), 0,
            VL("2B"), "Qwen/Qwen3-0.6B", 32, PX_448,
            why="unknown GPU: the planner picks the largest model that fits"),
    Profile("mps", "Apple Silicon (MPS)", "Apple Silicon (MPS)", (), 0,
            VL("2B"), "Qwen/Qwen3-1.7B", 16, PX_448, kind="mps",
            why="bitsandbytes has no MPS backend"),
    Profile("cpu", "CPU 전용", "CPU only", (), 0,
            VL("2B"), "Qwen/Qwen3-0.6B", 8, PX_320, kind="cpu",
            why="the smallest models; dtype chosen by the CPU's bf16 support"),
)  # fmt: skip

_BY_NAME = {p.name: p for p in PROFILES}


def get(name: str) -> Profile:
    """A profile by name; errors.InvalidRequest listing the names otherwise."""
    profile = _BY_NAME.get((name or "").strip().lower())
    if profile is None:
        names = ", ".join(_BY_NAME)
        raise errors.InvalidRequest(
            f"알 수 없는 GPU 프로필입니다: '{name}' (가능: {names})",
            f"Unknown GPU profile '{name}' (choose from {names})",
        )
    return profile


def is_auto(name: str | None) -> bool:
    return (name or "").strip().lower() in ("", "auto")


# --- the runtime rule ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Runtime:
    """Where and how models run: decided once per (device kind, machine) by :func:`runtime`."""

    device: str  # "cuda" | "mps" | "cpu"
    device_map: str | dict  # "auto" on CUDA; {"": device} elsewhere
    float_precision: str  # "bf16" | "fp16" | "fp32": weights and compute when not quantized
    attn_implementation: str
    reason: str
    reason_ko: str
    threads: int | None = None  # torch threads for generation (CPU); None: torch's default

    def precision(self, wanted: str) -> str:
        """A profile row's precision on this runtime: NATIVE becomes the float type."""
        return self.float_precision if wanted == NATIVE else wanted

    def compute_dtype(self, precision: str) -> str:
        """The torch dtype of the matmuls for a model in ``precision`` here."""
        return precision_.compute_dtype(precision, self.float_precision)


def runtime(kind: str, hw: Hardware) -> Runtime:
    """Device, device map, float precision and attention for a profile of ``kind`` on ``hw``.

    A GPU profile on a machine without that device (a preview, or a forced profile) runs on
    this machine's device; the memory plan still uses the profile's assumed memory."""
    device = kind if kind in (hw.kind, "cpu") else hw.kind
    if device == "cuda":
        gpu = hw.gpus[0]
        who = gpu.name if hw.gpu_count == 1 else f"{hw.gpu_count}× {gpu.name}"
        sm = f"sm{gpu.capability[0]}{gpu.capability[1]}"
        if hw.bf16:
            reason = (f"{who}: {sm} has native bf16 → bf16", f"{who}: {sm}은 bf16 지원 → bf16")
            return Runtime(device, "auto", "bf16", ATTENTION, *reason)
        reason = (
            f"{who}: {sm} has no native bf16 → fp16 compute",
            f"{who}: {sm}은 bf16 미지원 → fp16 연산",
        )
        return Runtime(device, "auto", "fp16", ATTENTION, *reason)
    if device == "mps":
        reason = (
            "Apple MPS: fp16 (no bitsandbytes on MPS)",
            "Apple MPS: fp16 (MPS에는 bitsandbytes 없음)",
        )
        return Runtime(device, {"": "mps"}, "fp16", ATTENTION, *reason)  # fmt: skip
    float_precision, reason, reason_ko = _cpu_float(hw)
    return Runtime(
        device, {"": "cpu"}, float_precision, CPU_SDPA, reason, reason_ko, threads=cpu_threads(hw)
    )


def cpu_threads(hw: Hardware) -> int:
    """Torch threads for generation on a CPU: one per core this process may use.

    Set explicitly in the thread that runs generate() (torch's count is per OS thread: a
    worker thread otherwise runs with whatever it inherited). Both cores help on a free
    2-vCPU Space: the prefill is compute-bound and the int4 kernel unpacks as it reads. On
    a 2-core machine that other processes keep busy, two OpenMP threads can wait a whole
    scheduler slice for each other at every barrier (a bf16 2048×2048 product: 0.24 ms
    idle, ~8 ms then); one thread is steadier there, and ``bench`` reports both."""
    return max(1, hw.cpu_count)


def _cpu_float(hw: Hardware) -> tuple[str, str, str]:
    """(fp32 | bf16, reason, reason_ko) for a CPU: the rule from its features, with the
    confirming measurement where ``cpu.py`` made one (hw.cpu_bf16_speedup)."""
    if not hw.cpu_bf16:
        return (
            "fp32",
            "no GPU; CPU has no native bf16 (AVX-512 BF16 / AMX) → fp32",
            "GPU 없음; CPU에 bf16 명령(AVX-512 BF16 / AMX)이 없어 fp32",
        )
    speedup = hw.cpu_bf16_speedup
    if speedup is None:
        return (
            "bf16",
            "no GPU; CPU has native bf16 (AVX-512 BF16 / AMX) → bf16",
            "GPU 없음; CPU에 bf16 명령(AVX-512 BF16 / AMX)이 있어 bf16",
        )
    if speedup < 1.0:
        return (
            "fp32",
            f"no GPU; CPU has native bf16 but bf16 measured ×{speedup:.2f} of fp32 here → fp32",
            f"GPU 없음; bf16 명령은 있지만 측정 결과 fp32의 ×{speedup:.2f} → fp32",
        )
    return (
        "bf16",
        f"no GPU; CPU has native bf16, measured ×{speedup:.2f} faster than fp32 → bf16",
        f"GPU 없음; CPU bf16 명령 있음, 측정 결과 fp32보다 ×{speedup:.2f} 빠름 → bf16",
    )


# --- the decision -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelChoice:
    model: str  # catalog id
    precision: str  # "bf16" | "fp16" | "fp32" | "nf4"
    plan: memory.Plan


@dataclass(frozen=True)
class Decision:
    """What runs on this machine (or on the profile previewed), decided before loading."""

    profile: Profile
    hardware: Hardware
    runtime: Runtime
    video: ModelChoice
    text: ModelChoice
    max_frames: int
    max_pixels: int
    fits: bool  # False only when a forced profile does not fit
    forced: bool
    reason: str  # English
    reason_ko: str

    @property
    def available_bytes(self) -> int:
        """The memory every plan of this decision is made for (all GPUs, or usable RAM)."""
        return self.video.plan.available_bytes

    @property
    def devices(self) -> int:
        return self.video.plan.devices

    def default(self, video: bool) -> ModelChoice:
        return self.video if video else self.text

    def fits_model(self, spec: catalog.ModelSpec) -> bool:
        """Whether a catalog model fits this decision's memory in its default precision,
        with this decision's frame budget (the page's model list)."""
        default = self.default(spec.supports_video)
        return plan_model(self, spec, default.precision, self.max_frames, self.max_pixels).fits


@functools.lru_cache(maxsize=64)
def decide(hw: Hardware, profile: str | None = None) -> Decision:
    """The profile and models for ``hw``; a profile name other than "auto" forces that one.

    Pure arithmetic on the hardware facts, cached: the page's previews, its runs, the CLI and
    doctor all get the same answer for the same machine."""
    if not is_auto(profile):
        forced = get(profile or "")
        if forced.kind == "cpu":  # the CPU rule, on this machine's CPU and RAM
            decision = _cpu(hw)
            return dataclasses.replace(
                decision,
                forced=True,
                reason=f"profile 'cpu' chosen by the user; {decision.reason}",
                reason_ko=f"사용자가 프로필 'cpu' 선택; {decision.reason_ko}",
            )
        return _forced(hw, forced)
    if hw.kind == "cpu":
        return _cpu(hw)
    if hw.kind == "mps":
        return _mps(hw)
    return _cuda(hw)


def plan_model(
    decision: Decision,
    spec: catalog.ModelSpec,
    precision: str,
    frames: int,
    pixels: int,
    max_new_tokens: int = PLAN_NEW_TOKENS,
) -> memory.Plan:
    """The memory plan of ``spec`` in the memory this decision was made for."""
    workload = memory.Workload(
        frames=frames if spec.supports_video else 0,
        frame_pixels=pixels,
        max_new_tokens=max_new_tokens,
        prompt_tokens=memory.DEFAULT_PROMPT_TOKENS if spec.supports_video else TEXT_PROMPT_TOKENS,
        devices=decision.devices,
        **_host(decision.runtime),
    )
    return memory.plan(spec, precision, decision.available_bytes, workload)


# --- the three kinds of machine ---------------------------------------------------------------
def _cuda(hw: Hardware) -> Decision:
    rt = runtime("cuda", hw)
    head_en, head_ko = rt.reason, rt.reason_ko
    available, devices = hw.gpu_memory_bytes, hw.gpu_count
    hint = _match(hw)
    if hint is not None:
        video = _plan_video(hint.video_model, rt.precision(hint.video_precision), available, hint, devices)  # fmt: skip
        if video.max_frames >= MIN_FRAMES:
            text = _fit_text(hint.text_model, rt.precision(hint.text_precision), rt, available, devices)  # fmt: skip
            return _decision(hint, rt, video, text, head_en, head_ko, hw)
        short = _short(hint.video_model)
        head_en += f"; profile '{hint.name}' default {short} does not fit"
        head_ko += f"; 프로필 '{hint.name}'의 기본 모델 {short}은(는) 들어가지 않음"
    profile = hint or _generic(hw)
    video = _largest_video(rt.float_precision, available, profile, devices)
    if video is None:
        fallback = _cpu(hw)
        return dataclasses.replace(
            fallback,
            reason=f"{head_en}; not even Qwen3-VL-2B in NF4 fits → CPU. {fallback.reason}",
            reason_ko=f"{head_ko}; Qwen3-VL-2B NF4도 들어가지 않아 CPU 사용. {fallback.reason_ko}",
        )
    # An unknown GPU gets the largest text model that fits, like its video model.
    wanted_text = profile.text_model if hint is not None else None
    text = _fit_text(wanted_text, rt.precision(profile.text_precision), rt, available, devices)
    profile = dataclasses.replace(
        profile, video_model=video.model_id, video_precision=video.precision
    )
    return _decision(profile, rt, video, text, head_en, head_ko, hw)


def _cpu(hw: Hardware) -> Decision:
    profile = get("cpu")
    rt = runtime("cpu", hw)
    available = int(hw.ram_bytes * CPU_MEMORY_SHARE)
    head_en, head_ko = rt.reason, rt.reason_ko
    picked = _cpu_pick(hw, rt, available, profile)
    if picked is not None:
        video, row, why_en, why_ko = picked
        profile = dataclasses.replace(profile, video_model=row.model, video_precision=row.precision)
        head_en += f"; {why_en}"
        head_ko += f"; {why_ko}"
    else:  # no measured rows for this CPU (e.g. ARM): the float type, as before
        video = _plan_video(profile.video_model, rt.float_precision, available, profile, 1, rt)
        if video.max_frames < MIN_FRAMES_FLOOR and rt.float_precision == "fp32":
            # Not enough RAM for fp32 weights: half the bytes beats not running at all.
            rt = dataclasses.replace(rt, float_precision="bf16")
            video = _plan_video(profile.video_model, "bf16", available, profile, 1, rt)
            head_en += f"; {gb(available)} usable RAM is too little for fp32 → bf16"
            head_ko += f"; 사용 가능 RAM {gb(available)}은 fp32에 부족 → bf16"
    text = _fit_text(profile.text_model, rt.float_precision, rt, available, 1)
    return _decision(profile, rt, video, text, head_en, head_ko, hw)


def _cpu_pick(hw: Hardware, rt: Runtime, available: int, profile: Profile):
    """The CPU rule: of the measured rows for this kind of CPU (``cpuspeed.TABLE``) whose
    precision clears the quality bar (``cpuspeed.accepted``) and that fit the RAM with the
    profile's frame budget, the largest model that decodes at least ``TARGET_TOKENS_PER_S``,
    in its precision with the most bytes per weight that still does (the closest to the
    trained weights); when none is that fast, the fastest that fits.
    Returns (plan, row, reason, reason_ko) or None when the table has no row for this CPU."""
    kind = cpuspeed.kind_of(hw, rt.float_precision)
    rows = tuple(r for r in cpuspeed.rows(kind) if cpuspeed.accepted(r.precision))
    refused = [r for r in cpuspeed.rows(kind) if not cpuspeed.accepted(r.precision)]
    if not rows:
        return None
    fitting = []
    for row in rows:
        plan = _plan_video(row.model, row.precision, available, profile, 1, rt)
        if plan.max_frames >= min(profile.max_frames, MIN_FRAMES):
            fitting.append((row, plan))
    if not fitting:
        return None
    target = cpuspeed.TARGET_TOKENS_PER_S
    fast = [(r, p) for r, p in fitting if r.decode_tokens_per_s >= target]
    if fast:
        row, plan = max(fast, key=lambda rp: (_size(rp[0].model), _bits(rp[0].precision)))
        verdict_en, verdict_ko = f"the largest ≥ {target:g} tok/s", f"{target:g} tok/s 이상 중 최대"
    else:
        row, plan = max(fitting, key=lambda rp: rp[0].decode_tokens_per_s)
        verdict_en = f"none reaches {target:g} tok/s: the fastest"
        verdict_ko = f"{target:g} tok/s에 이르는 것이 없어 가장 빠른 것"
    figures = figures_ko = f"{row.decode_tokens_per_s:.1f} tok/s"
    if row.ttft_8_frames_s is not None:
        figures += f", first token {row.ttft_8_frames_s:.1f} s at 8 frames"
        figures_ko += f", 프레임 8장일 때 첫 토큰 {row.ttft_8_frames_s:.1f}초"
    others = ", ".join(
        f"{precision_.label(r.precision)} {r.decode_tokens_per_s:.1f}"
        for r, _ in fitting
        if r.model == row.model and r is not row
    )
    name = f"{_short(row.model)} {precision_.label(row.precision)}"
    why_en = f"{name} decodes {figures} ({row.source}; {verdict_en}"
    why_ko = f"{name}: 디코딩 {figures_ko} ({row.source}; {verdict_ko}"
    if others:
        why_en += f"; vs {others} tok/s"
        why_ko += f"; 비교: {others} tok/s"
    refused_text = ", ".join(
        f"{precision_.label(r.precision)} {r.decode_tokens_per_s:.1f} tok/s"
        for r in refused
        if r.model == row.model
    )
    if refused_text:
        why_en += f"; not taken, its quality against bf16 not shown: {refused_text}"
        why_ko += f"; bf16 대비 품질이 확인되지 않아 제외: {refused_text}"
    return plan, row, why_en + ")", why_ko + ")"


def _size(model_id: str) -> int:
    return memory.param_counts(catalog.get(model_id)).total


def _bits(precision: str) -> float:
    """Bytes per weight a token reads: more is closer to the trained weights."""
    return precision_.get(precision).weight_bytes


def _mps(hw: Hardware) -> Decision:
    profile = get("mps")
    rt = runtime("mps", hw)
    available = int(hw.ram_bytes * MPS_MEMORY_SHARE)
    video = _plan_video(profile.video_model, rt.float_precision, available, profile, 1)
    if video.max_frames < MIN_FRAMES_FLOOR:
        fallback = _cpu(hw)
        return dataclasses.replace(
            fallback,
            reason=f"Apple MPS with {gb(available)} for the GPU is too small → CPU. {fallback.reason}",
            reason_ko=f"Apple MPS 메모리 {gb(available)} 부족 → CPU. {fallback.reason_ko}",
        )
    text = _fit_text(profile.text_model, rt.float_precision, rt, available, 1)
    return _decision(profile, rt, video, text, rt.reason, rt.reason_ko, hw)


def _forced(hw: Hardware, profile: Profile) -> Decision:
    """A profile the user chose: its models as written, planned for the memory the profile
    assumes (GPU profiles) or for this machine's RAM (cpu, mps), with a WARNING when this
    machine's GPU memory is smaller than that."""
    rt = runtime(profile.kind, hw)
    if profile.kind == "cuda":
        # The float type by the same rule on the GPU the profile assumes, where that one is
        # the weaker (a T4 profile on an H100) or this machine has no GPU (a preview); it
        # runs on this machine's device.
        gpu = runtime("cuda", _assumed_hardware(profile, hw))
        if hw.kind != "cuda" or gpu.float_precision == "fp16":
            rt = dataclasses.replace(rt, float_precision=gpu.float_precision, reason=gpu.reason,
                                     reason_ko=gpu.reason_ko)  # fmt: skip
    if profile.min_memory_gb > 0:
        devices = profile.min_gpus
        available = int(profile.min_memory_gb * GiB * devices)
    else:  # cpu and mps size themselves from this machine's RAM
        share = CPU_MEMORY_SHARE if profile.kind == "cpu" else MPS_MEMORY_SHARE
        available, devices = int(hw.ram_bytes * share), 1
    video = _plan_video(profile.video_model, rt.precision(profile.video_precision), available, profile, devices, rt)  # fmt: skip
    text = memory.plan(
        catalog.get(profile.text_model),
        rt.precision(profile.text_precision),
        available,
        memory.Workload(
            max_new_tokens=PLAN_NEW_TOKENS,
            prompt_tokens=TEXT_PROMPT_TOKENS,
            devices=devices,
            **_host(rt),
        ),
    )
    head_en = f"profile '{profile.name}' chosen by the user; {rt.reason}"
    head_ko = f"사용자가 프로필 '{profile.name}' 선택; {rt.reason_ko}"
    if rt.device != profile.kind:
        head_en += f"; this machine has no {profile.kind} device → runs on {rt.device}"
        head_ko += f"; 이 컴퓨터에는 {profile.kind} 장치가 없어 {rt.device}에서 실행"
    decision = _decision(profile, rt, video, text, head_en, head_ko, hw, forced=True)
    if video.max_frames < MIN_FRAMES_FLOOR:
        problem = (f"does not fit {gb(available)}", f"{gb(available)}에 들어가지 않아")
    elif profile.kind == hw.kind == "cuda" and hw.gpu_memory_bytes < available:
        have = gb(hw.gpu_memory_bytes)
        problem = (f"this machine has {have}, the profile assumes {gb(available)}",
                   f"이 컴퓨터는 {have}, 프로필은 {gb(available)} 가정")  # fmt: skip
    else:
        return decision
    return dataclasses.replace(
        decision,
        fits=False,
        max_frames=min(decision.max_frames, profile.max_frames) or profile.max_frames,
        reason=decision.reason + f" — WARNING: {problem[0]}; loading will likely run out of memory",
        reason_ko=decision.reason_ko + f" — 경고: {problem[1]}; 메모리 부족이 예상됩니다",
    )


# --- helpers ---------------------------------------------------------------------------------
def _host(rt: Runtime | None) -> dict:
    """Workload fields for a plan on this runtime: the CPU's float type, and on a CPU the
    process's peak RSS (what the planner predicts there) instead of a device's memory."""
    if rt is None or rt.device != "cpu":
        return {}
    return {"float_precision": rt.float_precision, "host": True}


def _assumed_hardware(profile: Profile, hw: Hardware) -> Hardware:
    """The GPUs a CUDA profile assumes, on this machine's CPU facts."""
    gpu = GPU(0, profile.label_en, int(profile.min_memory_gb * GiB), profile.capability)
    gpus = tuple(dataclasses.replace(gpu, index=i) for i in range(profile.min_gpus))
    return dataclasses.replace(hw, gpus=gpus, mps=False, simulated=True)


def _match(hw: Hardware) -> Profile | None:
    """The first CUDA profile whose name pattern and per-GPU memory match (or multi-gpu)."""
    per_gpu_gb = hw.smallest_gpu_memory_bytes / GiB
    for profile in PROFILES:
        if profile.kind != "cuda" or hw.gpu_count < profile.min_gpus:
            continue
        if profile.min_gpus > 1:
            if per_gpu_gb >= profile.min_memory_gb:
                return profile
            continue
        names_match = any(re.search(p, g.name, re.I) for g in hw.gpus for p in profile.gpu_patterns)
        if names_match and per_gpu_gb >= profile.min_memory_gb:
            return profile
    return None


def _generic(hw: Hardware) -> Profile:
    """The 'gpu' profile sized to this memory: more frames and pixels on bigger GPUs."""
    per_gpu_gb = hw.smallest_gpu_memory_bytes / GiB
    if hw.gpu_count > 1:
        base = dataclasses.replace(
            get("multi-gpu"), video_model=VL("2B"), text_model="Qwen/Qwen3-0.6B"
        )
    else:
        base = get("gpu")
    if per_gpu_gb >= 60:
        return dataclasses.replace(base, max_frames=128, max_pixels=PX_640)
    if per_gpu_gb >= 30:
        return dataclasses.replace(base, max_frames=64, max_pixels=PX_640)
    if per_gpu_gb >= 12:
        return dataclasses.replace(base, max_frames=32, max_pixels=PX_448)
    return dataclasses.replace(base, max_frames=16, max_pixels=PX_448)


def _plan_video(
    model_id: str,
    precision: str,
    available: int,
    profile: Profile,
    devices: int,
    rt: Runtime | None = None,
):
    workload = memory.Workload(
        frame_pixels=profile.max_pixels,
        max_new_tokens=PLAN_NEW_TOKENS,
        devices=devices,
        **_host(rt),
    )
    return memory.plan(
        catalog.get(model_id), precision, available, workload, frame_cap=profile.max_frames
    )


def _largest_video(float_precision: str, available: int, profile: Profile, devices: int):
    """The best (model, precision) with at least MIN_FRAMES frames (or the floor) of room."""
    for need in (MIN_FRAMES, MIN_FRAMES_FLOOR):
        for spec, precision in memory.candidates(True, float_precision):
            video = _plan_video(spec.id, precision, available, profile, devices)
            if video.max_frames >= min(need, profile.max_frames):
                return video
    return None


def _fit_text(model_id: str | None, precision: str, rt: Runtime, available: int, devices: int):
    """The profile's text model if it fits with a long prompt, else the largest that does."""
    workload = memory.Workload(
        max_new_tokens=PLAN_NEW_TOKENS,
        prompt_tokens=TEXT_PROMPT_TOKENS,
        devices=devices,
        **_host(rt),
    )
    wanted = catalog.get(model_id or "Qwen/Qwen3-0.6B")
    planned = memory.plan(wanted, precision, available, workload)
    if planned.fits and model_id:
        return planned
    found = memory.largest_fitting(False, rt.float_precision, available, workload)
    if found is None:
        return planned  # reported as not fitting; the video model is what matters here
    spec, found_precision = found
    return memory.plan(spec, found_precision, available, workload)


def _decision(profile, rt, video, text, head_en, head_ko, hw, *, forced=False) -> Decision:
    frames = min(profile.max_frames, video.max_frames)
    # the video plan at the frame budget it allows, which is what a default request runs
    video = memory.plan(
        catalog.get(video.model_id),
        video.precision,
        video.available_bytes,
        dataclasses.replace(video.workload, frames=frames),
        frame_cap=profile.max_frames,
    )
    vname = f"{_short(video.model_id)} in {precision_.label(video.precision)}"
    tname = f"{_short(text.model_id)} {precision_.label(text.precision)}"
    reason = (
        f"{head_en}; {gb(video.available_bytes)} → {vname} ({gb(video.weight_bytes)} weights, "
        f"{frames} frames of {profile.max_pixels:,} px fit); text: {tname}"
    )
    reason_ko = (
        f"{head_ko}; {gb(video.available_bytes)} → {vname} (가중치 {gb(video.weight_bytes)}, "
        f"{profile.max_pixels:,}픽셀 프레임 {frames}장); 텍스트: {tname}"
    )
    return Decision(
        profile=profile,
        hardware=hw,
        runtime=rt,
        video=ModelChoice(video.model_id, video.precision, video),
        text=ModelChoice(text.model_id, text.precision, text),
        max_frames=frames,
        max_pixels=profile.max_pixels,
        fits=frames >= MIN_FRAMES_FLOOR and text.fits,
        forced=forced,
        reason=reason,
        reason_ko=reason_ko,
    )


def _short(model_id: str) -> str:
    return model_id.split("/", 1)[-1].removesuffix("-Instruct")
