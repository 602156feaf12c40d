"""What machine are we on? CUDA GPUs, Apple MPS, CPU, RAM: detected once, described in words.

``detect()`` asks torch (imported lazily, so importing this module stays cheap) and caches
the answer; ``simulate("Tesla T4:15:7.5")`` builds the same facts for a GPU we do not have,
for ``python -m captioner doctor --simulate-gpu ...``, the UI's profile preview and tests.
Which model and precision follow from these facts is decided in ``profiles.py``; whether
bf16 is really fast on this CPU is measured once by ``cpu.py`` and recorded here
(``cpu_bf16_speedup``). Memory sizes are in GiB, as torch reports them (``precision.GiB``).
"""

from __future__ import annotations

import functools
import os
import platform
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from captioner import errors
from captioner.precision import GiB

# CPU features that make bf16 matmuls fast on a CPU (AMX) or at least native (AVX-512 BF16).
CPU_FLAGS_OF_INTEREST = frozenset(
    {
        "avx2",
        "avx512f",
        "avx512_bf16",
        "avx512_fp16",
        "avx512_vnni",
        "avx_vnni",
        "amx_bf16",
        "amx_tile",
        "amx_int8",
    }
)
# PyTorch's own switch for the kernels it may use (``ATEN_CPU_CAPABILITY``): capped below
# AVX-512, the CPU is taken for an AVX2 one without AVX-512, AMX or VNNI (an AMD Zen 2), so
# every choice made from these flags follows what torch is told to run. ``cpu_bench --emulate
# avx2`` sets it to measure the AVX2 path end to end on an AVX-512 machine.
BELOW_AVX512 = frozenset({"default", "avx2"})
ABOVE_AVX2 = ("avx512", "amx", "avx_vnni")


@dataclass(frozen=True)
class GPU:
    index: int
    name: str
    memory_bytes: int
    capability: tuple[int, int]

    @property
    def bf16(self) -> bool:
        # Not torch.cuda.is_bf16_supported(): it answers True on a T4 (sm75), which only
        # emulates bf16, slowly. Native bf16 tensor cores start with Ampere (sm80).
        return self.capability >= (8, 0)

    @property
    def memory_gb(self) -> float:
        return self.memory_bytes / GiB

    def short(self) -> str:
        major, minor = self.capability
        return f"{self.name} ({self.memory_gb:.1f} GB, sm{major}{minor})"


@dataclass(frozen=True)
class Hardware:
    gpus: tuple[GPU, ...]
    mps: bool
    cpu_name: str
    cpu_count: int
    ram_bytes: int
    cpu_flags: frozenset[str] = field(default_factory=frozenset)
    simulated: bool = False
    # bf16 / fp32 speed of the CPU model's matrix-vector products, measured by cpu.py on
    # machines with native bf16; None: not measured (simulated, or no native bf16)
    cpu_bf16_speedup: float | None = None

    @property
    def kind(self) -> str:
        if self.gpus:
            return "cuda"
        return "mps" if self.mps else "cpu"

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    @property
    def gpu_memory_bytes(self) -> int:
        return sum(g.memory_bytes for g in self.gpus)

    @property
    def smallest_gpu_memory_bytes(self) -> int:
        return min((g.memory_bytes for g in self.gpus), default=0)

    @property
    def bf16(self) -> bool:
        """bf16 on every GPU (sm80+). False without GPUs: CPUs are judged in profiles.py."""
        return bool(self.gpus) and all(g.bf16 for g in self.gpus)

    @property
    def cpu_bf16(self) -> bool:
        """The CPU has native bf16 instructions (AVX-512 BF16 or AMX)."""
        return bool(self.cpu_flags & {"avx512_bf16", "amx_bf16"})

    def describe(self) -> str:
        """One line in English and Korean, e.g. "1× Tesla T4 (15.0 GB, sm75)"."""
        sim_en, sim_ko = (" [simulated]", " [시뮬레이션]") if self.simulated else ("", "")
        ram = f"{self.ram_bytes / GiB:.0f} GB RAM"
        if self.gpus:
            names = {g.short() for g in self.gpus}
            gpu = " + ".join(
                f"{self.gpu_count}× {n}" if len(names) == 1 else n for n in sorted(names)
            )
            return f"{gpu}, {ram}{sim_en} / GPU {gpu}, {ram}{sim_ko}"
        cpu = f"{self.cpu_name}, {self.cpu_count} cores, {ram}"
        if self.mps:
            return f"Apple MPS, {cpu}{sim_en} / Apple MPS, {cpu}{sim_ko}"
        return f"CPU only: {cpu}{sim_en} / GPU 없음(CPU): {cpu}{sim_ko}"


@functools.cache
def detect() -> Hardware:
    """The real machine, asked once per process."""
    if not _may_have_accelerator():
        return Hardware((), False, *_cpu_facts())  # no torch import: doctor answers at once
    import torch  # lazy: importing captioner must not pay for torch

    gpus: list[GPU] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append(GPU(i, props.name, int(props.total_memory), (props.major, props.minor)))
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return Hardware(tuple(gpus), mps and not gpus, *_cpu_facts())


def _may_have_accelerator() -> bool:
    """False only where no GPU can exist: Linux without NVIDIA or ROCm device nodes (they
    are there in containers too). Anywhere else torch is asked."""
    if not sys.platform.startswith("linux"):
        return True
    dev = Path("/dev")
    return any(dev.glob("nvidia[0-9]*")) or (dev / "kfd").exists()


def _cpu_facts() -> tuple[str, int, int, frozenset[str]]:
    """(cpu name, logical cores we may use, RAM bytes, interesting cpu flags); no torch."""
    name, flags = platform.processor() or platform.machine(), frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            info = f.read()
        if m := re.search(r"^model name\s*:\s*(.+)$", info, re.M):
            name = m.group(1).strip()
        if m := re.search(r"^flags\s*:\s*(.+)$", info, re.M):
            flags = frozenset(m.group(1).split()) & CPU_FLAGS_OF_INTEREST
    except OSError:
        pass  # not Linux: no flags, which only means "assume no fast bf16"
    if os.environ.get("ATEN_CPU_CAPABILITY", "").strip().lower() in BELOW_AVX512:
        flags = frozenset(f for f in flags if not f.startswith(ABOVE_AVX2))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return name, cores or 1, _ram_bytes(), flags


def _ram_bytes() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * GiB  # unknown: a modest laptop, so we never over-promise


SIMULATE_HELP_KO = (
    "GPU 시뮬레이션 형식은 '이름:메모리GB:컴퓨트능력[:개수]' 입니다 "
    "(예: 'Tesla T4:15:7.5', 'NVIDIA H100 80GB HBM3:80:9.0:8', 'cpu', 'cpu:16', 'mps:16')."
)
SIMULATE_HELP_EN = (
    "GPU simulation strings look like 'NAME:MEMORY_GB:CAPABILITY[:COUNT]' "
    "(e.g. 'Tesla T4:15:7.5', 'NVIDIA H100 80GB HBM3:80:9.0:8', 'cpu', 'cpu:16', 'mps:16')."
)


def simulate(spec: str) -> Hardware:
    """Hardware for a described machine: "NAME:MEMORY_GB:CAPABILITY[:COUNT]", or "cpu[:RAM_GB]"
    / "mps[:RAM_GB]". The CPU facts are this machine's unless a RAM size is given."""
    text = (spec or "").strip()
    parts = [p.strip() for p in text.split(":")]
    name, cores, ram, flags = _cpu_facts()
    if parts[0].lower() in ("cpu", "mps") and len(parts) <= 2:
        if len(parts) == 2:
            ram = int(_number(parts[1], text) * GiB)
        return Hardware((), parts[0].lower() == "mps", name, cores, ram, flags, simulated=True)
    count = 1
    # The name may itself contain ':'; a trailing integer after a dotted capability is a count.
    if len(parts) >= 4 and parts[-1].isdigit() and _is_capability(parts[-2]):
        count = int(parts.pop())
    if len(parts) < 3 or not parts[0] or not all(parts[:-2]):
        raise _bad(text)
    gpu_name = ":".join(parts[:-2])
    memory = _number(parts[-2], text)
    capability = _capability(parts[-1], text)
    if memory <= 0 or not 1 <= count <= 64:
        raise _bad(text)
    gpus = tuple(GPU(i, gpu_name, int(memory * GiB), capability) for i in range(count))
    return Hardware(gpus, False, name, cores, ram, flags, simulated=True)


def _number(value: str, spec: str) -> float:
    try:
        number = float(value.lower().removesuffix("gb").strip())
    except ValueError:
        raise _bad(spec) from None
    if not number > 0 or number != number or number == float("inf"):
        raise _bad(spec)
    return number


_CAPABILITY = re.compile(r"(?:sm_?)?(\d+)\.(\d+)|sm_?(\d)(\d)")


def _is_capability(value: str) -> bool:
    return _CAPABILITY.fullmatch(value.lower()) is not None


def _capability(value: str, spec: str) -> tuple[int, int]:
    m = _CAPABILITY.fullmatch(value.lower())
    if not m:
        raise _bad(spec)
    major, minor = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return int(major), int(minor)


def _bad(spec: str) -> errors.InvalidRequest:
    return errors.InvalidRequest(
        f"GPU 시뮬레이션 문자열을 이해할 수 없습니다: '{spec}'. {SIMULATE_HELP_KO}",
        f"Cannot read the GPU simulation string '{spec}'. {SIMULATE_HELP_EN}",
    )
