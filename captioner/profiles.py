"""Hardware profiles: which Qwen3-VL / Qwen3 checkpoint, precision and frame budget to use.

``PROFILES`` is the ordered table (most specific first). ``pick(hardware)`` matches the GPU
name and memory against it as a hint, then lets the memory planner (``memory.py``) confirm
that the profile's models fit with room for frames and KV cache; when they do not, or the
GPU is unknown, the planner picks the largest catalog model that fits. Every choice carries
a reason a person can read. ``CAPTIONER_PROFILE=<name>`` forces a profile.

    python -m captioner doctor --simulate-gpu "Tesla T4:15:7.5"

Attention is always SDPA: flash-attn is not installed (it needs a CUDA build matching torch,
which the Space image and most laptops lack), and SDPA already uses the fused
memory-efficient / flash kernels that torch ships.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

from captioner import catalog, errors, memory
from captioner.hardware import GiB, Hardware

ENV_OVERRIDE = "CAPTIONER_PROFILE"
PLAN_NEW_TOKENS = 2048  # KV reserved for the answer: a detailed Korean description
TEXT_PROMPT_TOKENS = 8192  # what a text-only model must hold (a long transcript or captions)
MIN_FRAMES = 16  # fewer than this and a caption misses too much of a clip
MIN_FRAMES_FLOOR = 4  # the processor's own minimum; below it we prefer a smaller model
CPU_MEMORY_SHARE = 0.75  # leave RAM to the OS, the browser and video decoding
MPS_MEMORY_SHARE = 0.65  # macOS lets the GPU wire about two thirds of unified memory

_COMPUTE_DTYPE = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


@dataclass(frozen=True)
class Profile:
    name: str
    label_ko: str
    label_en: str
    gpu_patterns: tuple[str, ...]  # regexes on the GPU name (a hint, checked against memory)
    min_memory_gb: float  # per-GPU memory this profile assumes (GiB, as torch reports it)
    video_model: str  # catalog ids
    text_model: str
    precision: str  # video model: "bf16" | "fp16" | "fp32" | "nf4" (bitsandbytes NF4, double quant)
    compute_dtype: str  # "bfloat16" | "float16" | "float32"; for nf4 the matmul dtype
    text_precision: str  # text model's precision (may differ: it is loaded instead, not beside)
    max_frames: int  # frame budget (the planner may lower it)
    max_pixels: int  # per-frame pixel budget (multiples of 32x32 keep the processor exact)
    device_map: str | None  # "auto" on CUDA, "mps" on Apple, None (plain CPU) otherwise
    kind: str = "cuda"  # "cuda" | "mps" | "cpu"
    min_gpus: int = 1
    attn_implementation: str = "sdpa"  # flash-attn is not installed; see the module docstring
    why: str = ""


VL = "Qwen/Qwen3-VL-{}-Instruct".format
PX_448 = 448 * 448  # 98 video tokens per frame
PX_640 = 640 * 640  # 200 video tokens per frame
PX_320 = 320 * 320  # 50 video tokens per frame

PROFILES: tuple[Profile, ...] = (
    Profile(
        "multi-gpu", "다중 GPU (80 GB급 여러 장)", "Several 80 GB GPUs", (), 78,
        VL("235B-A22B"), "Qwen/Qwen3-235B-A22B", "bf16", "bfloat16", "bf16", 256, PX_640,
        "auto", min_gpus=2,
        why="235B-A22B needs ~440 GB in bf16; NF4 cannot shrink its experts (see memory.py)",
    ),
    Profile(
        "h200", "H200 (141 GB)", "H200 (141 GB)", (r"\bH200\b", r"\bGH200\b"), 135,
        VL("32B"), "Qwen/Qwen3-32B", "bf16", "bfloat16", "bf16", 256, PX_640, "auto",
        why="dense 32B in bf16 with room for twice the H100 frame budget",
    ),
    Profile(
        "h100", "H100 (80 GB)", "H100 (80 GB)", (r"\bH100\b", r"\bH800\b"), 78,
        VL("32B"), "Qwen/Qwen3-32B", "bf16", "bfloat16", "bf16", 128, PX_640, "auto",
        why="the strongest Qwen3-VL that fits one 80 GB GPU in bf16",
    ),
    Profile(
        "a100-80", "A100 (80 GB)", "A100 (80 GB)", (r"\bA100\b.*80", r"\bA100\b"), 78,
        VL("32B"), "Qwen/Qwen3-32B", "bf16", "bfloat16", "bf16", 128, PX_640, "auto",
        why="as H100; A100 has native bf16 (sm80)",
    ),
    Profile(
        "a100-40", "A100 (40 GB)", "A100 (40 GB)", (r"\bA100\b.*40", r"\bA100\b"), 39,
        VL("8B"), "Qwen/Qwen3-14B", "bf16", "bfloat16", "bf16", 64, PX_640, "auto",
        why="8B in bf16 leaves ~20 GB for frames; 32B would need NF4",
    ),
    Profile(
        "l4", "L4 / A10G (24 GB)", "L4 / A10G (24 GB)",
        (r"\bL4\b", r"\bA10G\b", r"\bA10\b", r"RTX (A5000|3090|4090)"), 22,
        VL("8B"), "Qwen/Qwen3-8B", "bf16", "bfloat16", "bf16", 64, PX_448, "auto",
        why="8B in bf16 (16.3 GB) still leaves ~5 GB for 64 frames, so no NF4 needed",
    ),
    Profile(
        "t4", "T4 (16 GB)", "T4 (16 GB)", (r"\bT4\b",), 14.5,
        VL("8B"), "Qwen/Qwen3-4B", "nf4", "float16", "fp16", 32, PX_448, "auto",
        why="8B in fp16 (16.3 GB) cannot fit 15 GB; in NF4 it is ~6 GB, better than 4B fp16",
    ),
    Profile(
        "gpu", "GPU (메모리에 맞춰 자동 결정)", "GPU (sized by the memory planner)", (), 0,
        VL("2B"), "Qwen/Qwen3-0.6B", "fp16", "float16", "fp16", 32, PX_448, "auto",
        why="unknown GPU: the planner picks the largest model that fits",
    ),
    Profile(
        "mps", "Apple Silicon (MPS)", "Apple Silicon (MPS)", (), 0,
        VL("2B"), "Qwen/Qwen3-1.7B", "fp16", "float16", "fp16", 16, PX_448, "mps",
        kind="mps", why="bitsandbytes has no MPS backend; bf16 on MPS is slower than fp16",
    ),
    Profile(
        "cpu", "CPU 전용", "CPU only", (), 0,
        VL("2B"), "Qwen/Qwen3-0.6B", "fp32", "float32", "fp32", 8, PX_320, None,
        kind="cpu", why="the smallest models; dtype chosen by the CPU's bf16 support",
    ),
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


@dataclass(frozen=True)
class Choice:
    """What will actually be used, after the planner adjusted the profile."""

    profile: Profile
    reason: str  # English
    reason_ko: str
    video_model: str
    text_model: str
    precision: str
    compute_dtype: str
    text_precision: str
    max_frames: int
    max_pixels: int
    device_map: str | None
    attn_implementation: str
    max_new_tokens: int  # the answer length the plan reserved KV cache for
    fits: bool  # False only when a forced profile does not fit this machine
    forced: bool
    hardware: str  # Hardware.describe()
    video_plan: memory.Plan
    text_plan: memory.Plan

    @property
    def quantization(self) -> str | None:
        """ "nf4" when the video model is loaded through bitsandbytes, else None."""
        return "nf4" if self.precision == "nf4" else None


def pick(hw: Hardware, *, override: str | None = None) -> Choice:
    """The profile and models for ``hw``; ``override`` (default: $CAPTIONER_PROFILE) forces one."""
    if override is None:
        override = os.environ.get(ENV_OVERRIDE)
    if override and override.strip().lower() not in ("", "auto"):
        return _forced(hw, get(override))
    if hw.kind == "cpu":
        return _cpu(hw)
    if hw.kind == "mps":
        return _mps(hw)
    return _cuda(hw)


# --- the three kinds of machine ------------------------------------------------------------
def _cuda(hw: Hardware) -> Choice:
    dense = "bf16" if hw.bf16 else "fp16"
    head_en, head_ko = _cuda_head(hw, dense)
    available, devices = hw.gpu_memory_bytes, hw.gpu_count
    hint = _match(hw)
    if hint is not None:
        profile = _with_dense(hint, dense)
        video = _plan_video(profile.video_model, profile.precision, available, profile, devices)
        if video.max_frames >= MIN_FRAMES:
            text = _fit_text(profile.text_model, profile.text_precision, dense, available, devices)
            return _choice(profile, video, text, head_en, head_ko, hw)
        head_en += f"; profile '{hint.name}' default {_short(hint.video_model)} does not fit"
        head_ko += (
            f"; 프로필 '{hint.name}'의 기본 모델 {_short(hint.video_model)}은(는) 들어가지 않음"
        )
    profile = hint or _generic(hw)
    found = _largest_video(dense, available, profile, devices)
    if found is None:
        choice = _cpu(hw)
        return dataclasses.replace(
            choice,
            reason=f"{head_en}; not even Qwen3-VL-2B in NF4 fits → CPU. {choice.reason}",
            reason_ko=f"{head_ko}; Qwen3-VL-2B NF4도 들어가지 않아 CPU 사용. {choice.reason_ko}",
        )
    video = found
    # An unknown GPU gets the largest text model that fits, like its video model.
    wanted_text = profile.text_model if hint is not None else None
    text = _fit_text(wanted_text, profile.text_precision, dense, available, devices)
    profile = dataclasses.replace(
        profile,
        video_model=video.model_id,
        precision=video.precision,
        compute_dtype=_compute(video.precision, dense),
    )
    return _choice(profile, video, text, head_en, head_ko, hw)


def _cpu_dtype(hw: Hardware) -> tuple[str, str, str]:
    """fp32 or bf16 on a CPU, with the reason. On the real machine by measurement: CPU flags
    do not settle it (this 2-core AVX-512-BF16 EPYC without AMX decodes a random Qwen3-0.6B
    at 17.0 tok/s in bf16 and 7.5-7.9 in fp32 with torch 2.14; other torch builds have shown
    the opposite). For a simulated CPU, by flags: bf16 where AVX-512-BF16 or AMX exists."""
    if not hw.simulated:
        from captioner.loader import measure_cpu_dtype

        dense, why = measure_cpu_dtype()
        return dense, f"no GPU; {why}", f"GPU 없음; 측정 결과 {why}"
    native = "amx_bf16" in hw.cpu_flags or hw.cpu_bf16
    dense = "bf16" if native else "fp32"
    flag = "native bf16 (AVX-512 BF16 / AMX)" if native else "no native bf16"
    return dense, f"no GPU; CPU has {flag} → {dense}", f"GPU 없음; CPU: {flag} → {dense}"


def _cpu(hw: Hardware) -> Choice:
    base = get("cpu")
    available = int(hw.ram_bytes * CPU_MEMORY_SHARE)
    dense, head_en, head_ko = _cpu_dtype(hw)
    profile = _with_dense(base, dense)
    video = _plan_video(profile.video_model, dense, available, profile, 1)
    if video.max_frames < MIN_FRAMES_FLOOR and dense == "fp32":
        # Not enough RAM for fp32 weights: half the bytes beats not running at all.
        profile = _with_dense(base, "bf16")
        video = _plan_video(profile.video_model, "bf16", available, profile, 1)
        head_en += f"; {_gb(available)} usable RAM is too little for fp32 → bf16"
        head_ko += f"; 사용 가능 RAM {_gb(available)}은 fp32에 부족 → bf16"
    text = _fit_text(
        profile.text_model, profile.text_precision, profile.text_precision, available, 1
    )
    return _choice(profile, video, text, head_en, head_ko, hw)


def _mps(hw: Hardware) -> Choice:
    profile = get("mps")
    available = int(hw.ram_bytes * MPS_MEMORY_SHARE)
    video = _plan_video(profile.video_model, profile.precision, available, profile, 1)
    if video.max_frames < MIN_FRAMES_FLOOR:
        choice = _cpu(hw)
        return dataclasses.replace(
            choice,
            reason=f"Apple MPS with {_gb(available)} for the GPU is too small → CPU. {choice.reason}",
            reason_ko=f"Apple MPS 메모리 {_gb(available)} 부족 → CPU. {choice.reason_ko}",
        )
    text = _fit_text(profile.text_model, profile.text_precision, "fp16", available, 1)
    head_en = "Apple MPS: fp16 (no bitsandbytes on MPS)"
    head_ko = "Apple MPS: fp16 (MPS에는 bitsandbytes 없음)"
    return _choice(profile, video, text, head_en, head_ko, hw)


def _forced(hw: Hardware, profile: Profile) -> Choice:
    """A profile the user chose ("this is my GPU", or a preview of one): its models as
    written, planned for the memory the profile assumes (GPU profiles) or for this machine's
    RAM (cpu, mps), with a WARNING when this machine's GPU memory is smaller than that."""
    if hw.kind == "cuda" and not hw.bf16 and "bf16" in (profile.precision, profile.text_precision):
        profile = _with_dense(profile, "fp16")  # bf16 on sm<80 is emulated: never pick it
    if profile.min_memory_gb > 0:
        devices = profile.min_gpus
        available = int(profile.min_memory_gb * GiB * devices)
    else:  # cpu and mps size themselves from this machine's RAM
        share = CPU_MEMORY_SHARE if profile.kind == "cpu" else MPS_MEMORY_SHARE
        available, devices = int(hw.ram_bytes * share), 1
    video = _plan_video(profile.video_model, profile.precision, available, profile, devices)
    text = memory.plan(
        catalog.get(profile.text_model),
        profile.text_precision,
        available,
        max_new_tokens=PLAN_NEW_TOKENS,
        prompt_tokens=TEXT_PROMPT_TOKENS,
        devices=devices,
    )
    head_en = f"profile '{profile.name}' forced by {ENV_OVERRIDE}/override"
    head_ko = f"{ENV_OVERRIDE}/지정으로 프로필 '{profile.name}' 강제 사용"
    choice = _choice(profile, video, text, head_en, head_ko, hw, forced=True)
    if video.max_frames < MIN_FRAMES_FLOOR:
        problem = (f"does not fit {_gb(available)}", f"{_gb(available)}에 들어가지 않아")
    elif profile.kind == hw.kind == "cuda" and hw.gpu_memory_bytes < available:
        have = _gb(hw.gpu_memory_bytes)
        problem = (f"this machine has {have}, the profile assumes {_gb(available)}",
                   f"이 컴퓨터는 {have}, 프로필은 {_gb(available)} 가정")  # fmt: skip
    else:
        return choice
    return dataclasses.replace(
        choice,
        fits=False,
        max_frames=min(choice.max_frames, profile.max_frames) or profile.max_frames,
        reason=choice.reason + f" — WARNING: {problem[0]}; loading will likely run out of memory",
        reason_ko=choice.reason_ko + f" — 경고: {problem[1]}; 메모리 부족이 예상됩니다",
    )


# --- helpers -------------------------------------------------------------------------------
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


def _with_dense(profile: Profile, dense: str) -> Profile:
    """Swap the 16-bit/32-bit precision of a profile (NF4 stays NF4, with this compute dtype)."""
    video = profile.precision if profile.precision == "nf4" else dense
    text = profile.text_precision if profile.text_precision == "nf4" else dense
    return dataclasses.replace(
        profile, precision=video, text_precision=text, compute_dtype=_compute(video, dense)
    )


def _compute(precision: str, dense: str) -> str:
    return _COMPUTE_DTYPE[dense if precision == "nf4" else precision]


def _plan_video(model_id: str, precision: str, available: int, profile: Profile, devices: int):
    return memory.plan(
        catalog.get(model_id),
        precision,
        available,
        frames=0,
        frame_pixels=profile.max_pixels,
        max_new_tokens=PLAN_NEW_TOKENS,
        devices=devices,
        frame_cap=profile.max_frames,
    )


def _largest_video(dense: str, available: int, profile: Profile, devices: int):
    """The best (model, precision) with at least MIN_FRAMES frames (or the floor) of room."""
    for need in (MIN_FRAMES, MIN_FRAMES_FLOOR):
        for spec, precision in memory.candidates(True, dense):
            video = _plan_video(spec.id, precision, available, profile, devices)
            if video.max_frames >= min(need, profile.max_frames):
                return video
    return None


def _fit_text(model_id: str | None, precision: str, dense: str, available: int, devices: int):
    """The profile's text model if it fits with a long prompt, else the largest that does."""
    kwargs = dict(max_new_tokens=PLAN_NEW_TOKENS, prompt_tokens=TEXT_PROMPT_TOKENS, devices=devices)
    smallest = memory.plan(catalog.get("Qwen/Qwen3-0.6B"), precision, available, **kwargs)
    wanted = (
        memory.plan(catalog.get(model_id), precision, available, **kwargs) if model_id else smallest
    )
    if wanted.fits and model_id:
        return wanted
    found = memory.largest_fitting(False, dense, available, **kwargs)
    if found is None:
        return wanted  # reported as not fitting; the video model is what matters here
    spec, prec = found
    return memory.plan(spec, prec, available, **kwargs)


def _choice(profile, video, text, head_en, head_ko, hw, *, forced: bool = False) -> Choice:
    frames = min(profile.max_frames, video.max_frames)
    vname = f"{_short(video.model_id)} in {memory.precision_name(video.precision)}"
    tname = f"{_short(text.model_id)} {memory.precision_name(text.precision)}"
    reason = (
        f"{head_en}; {_gb(video.available_bytes)} → {vname} ({_gb(video.weight_bytes)} weights, "
        f"{frames} frames of {profile.max_pixels:,} px fit); text: {tname}"
    )
    reason_ko = (
        f"{head_ko}; {_gb(video.available_bytes)} → {vname} (가중치 {_gb(video.weight_bytes)}, "
        f"{profile.max_pixels:,}픽셀 프레임 {frames}장); 텍스트: {tname}"
    )
    return Choice(
        profile=profile,
        reason=reason,
        reason_ko=reason_ko,
        video_model=video.model_id,
        text_model=text.model_id,
        precision=video.precision,
        compute_dtype=profile.compute_dtype,
        text_precision=text.precision,
        max_frames=frames,
        max_pixels=profile.max_pixels,
        device_map=profile.device_map,
        attn_implementation=profile.attn_implementation,
        max_new_tokens=PLAN_NEW_TOKENS,
        fits=video.max_frames >= MIN_FRAMES_FLOOR and text.fits,
        forced=forced,
        hardware=hw.describe(),
        video_plan=video,
        text_plan=text,
    )


def _cuda_head(hw: Hardware, dense: str) -> tuple[str, str]:
    gpu = hw.gpus[0]
    who = gpu.name if hw.gpu_count == 1 else f"{hw.gpu_count}× {gpu.name}"
    sm = f"sm{gpu.capability[0]}{gpu.capability[1]}"
    if dense == "bf16":
        return f"{who}: {sm} has native bf16 → bf16", f"{who}: {sm}은 bf16 지원 → bf16"
    return (
        f"{who}: {sm} has no native bf16 → fp16 compute",
        f"{who}: {sm}은 bf16 미지원 → fp16 연산",
    )


def _short(model_id: str) -> str:
    return model_id.split("/", 1)[-1].removesuffix("-Instruct")


def _gb(n: float) -> str:
    return f"{n / GiB:.1f} GB"
