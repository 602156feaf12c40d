"""The cached model loader: one resident Qwen3 / Qwen3-VL model per process.

``load(ModelRequest(...))`` returns a ``LoadedModel`` (model, processor, tokenizer and the
facts the rest of the app needs). It keeps the last model resident; asking for the same
model again returns it at once, asking for another one unloads the old model first and
frees its memory (gc + ``empty_cache``) so two models never sit in memory together. A lock
makes it safe to call from the web server's threads.

It accepts a Hub id (``Qwen/Qwen3-VL-8B-Instruct``) or a local folder and a revision;
huggingface_hub reads ``HF_TOKEN`` (never logged here) and honours ``HF_HUB_OFFLINE=1``
itself. The loader decides nothing: precision, compute dtype, device map and attention come
in the ``ModelRequest``, as ``profiles.py`` and ``engine.py`` decided them. Precision is one of
``precision.NAMES`` (``nf4``: bitsandbytes 4-bit NF4 with double quantization, matmuls in the
request's compute dtype). An optional LoRA adapter is attached with peft after checking that
its target modules exist in the model (with the CPU's int8 / int4, merged into the float weights
before they are quantized: peft cannot wrap those layers). Progress goes to a callback so the UI
can show it.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from captioner import catalog
from captioner import precision as precision_
from captioner.errors import CaptionerError, MissingDependency, ModelLoadError, OutOfMemory
from captioner.memory import NF4_SKIP_MODULES

log = logging.getLogger(__name__)

Progress = Callable[[float | None, str], None]
"""progress(fraction or None, message): fraction in [0, 1] when known."""

WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]


@dataclass(frozen=True)
class ModelRequest:
    """What to load. Everything that changes the weights in memory is part of the cache key."""

    model: str  # Hub id or local folder
    precision: str = "bf16"  # a precision.NAMES entry
    compute_dtype: str = "bfloat16"  # the matmul dtype (for nf4: float16 on a T4)
    device: str = "cpu"  # "cuda" | "mps" | "cpu": where the model's inputs go
    device_map: Any = None  # passed to from_pretrained: "auto" on CUDA, {"": device} elsewhere
    attn_implementation: str = "sdpa"
    revision: str | None = None
    adapter: str | None = None  # LoRA adapter folder or Hub id
    cache_dir: str | None = None  # the Hub cache (None: huggingface_hub's default)
    threads: int | None = None  # torch threads generation runs with (None: torch's default)

    def __hash__(self) -> int:  # device_map may be a dict
        return hash(json.dumps(dataclasses.asdict(self), sort_keys=True, default=str))


@dataclass
class LoadedModel:
    request: ModelRequest
    model: Any
    processor: Any  # AutoProcessor for Qwen3-VL, the tokenizer for text-only Qwen3
    tokenizer: Any
    model_type: str  # config.model_type, e.g. "qwen3_vl", "qwen3"
    accepts_video: bool
    thinking: str  # "hybrid" | "always" | "never"
    device: str
    dtype: str
    path: str  # local snapshot folder
    revision: str | None  # commit hash where the Hub told us
    load_seconds: float
    weight_bytes: int
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model_id(self) -> str:
        return self.request.model


# --- resolving and downloading --------------------------------------------------------------
def _progress_tqdm(progress: Progress):
    """A tqdm subclass that forwards huggingface_hub's download progress to ``progress``."""
    from tqdm.auto import tqdm

    class _Forward(tqdm):
        def update(self, n=1):
            out = super().update(n)
            if self.total:
                progress(
                    min(self.n / self.total, 1.0) * 0.8,
                    f"다운로드 중 / downloading {self.desc or ''}",
                )
            return out

    return _Forward


def resolve(
    model: str, revision: str | None, progress: Progress, cache_dir: str | None = None
) -> tuple[Path, str | None]:
    """Local folder for ``model`` (downloading it from the Hub if needed) and its revision."""
    local = Path(model).expanduser()
    if local.is_dir():
        return local, revision
    if local.exists():
        raise ModelLoadError(
            f"'{model}' 은(는) 파일입니다. 모델 폴더나 Hub 모델 ID 를 주세요.",
            f"'{model}' is a file: give a model folder or a Hub model id.",
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    progress(0.0, f"모델 파일 확인 / checking files for {model}")
    try:
        path = snapshot_download(
            model,
            revision=revision,
            allow_patterns=WEIGHT_PATTERNS,
            cache_dir=cache_dir,
            tqdm_class=_progress_tqdm(progress),
        )
    except HFValidationError as exc:  # "/tmp/typo", "./model": a folder that is not there
        raise ModelLoadError(
            f"'{model}' 은(는) 없는 폴더이고 Hub 모델 ID(owner/name)도 아닙니다.",
            f"'{model}' is neither an existing folder nor a Hub model id (owner/name).",
            detail=type(exc).__name__,
        ) from exc
    except GatedRepoError as exc:
        raise ModelLoadError(
            f"'{model}' 은(는) 접근 승인이 필요한 모델입니다. HF_TOKEN 을 설정하세요.",
            f"'{model}' is gated: set HF_TOKEN to a token that has access.",
            detail=type(exc).__name__,
        ) from exc
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise ModelLoadError(
            f"모델 '{model}' (revision {revision or 'main'}) 을(를) 찾을 수 없습니다.",
            f"Model '{model}' (revision {revision or 'main'}) was not found on the Hub.",
            detail=type(exc).__name__,
        ) from exc
    except LocalEntryNotFoundError as exc:
        raise ModelLoadError(
            f"'{model}' 이(가) 로컬 캐시에 없고 Hub 에 연결할 수 없습니다 (오프라인).",
            f"'{model}' is not in the local cache and the Hub cannot be reached (offline).",
            detail=str(exc)[:200],
        ) from exc
    except OSError as exc:  # network errors surface as OSError subclasses
        raise ModelLoadError(
            f"'{model}' 을(를) 내려받지 못했습니다. 네트워크를 확인하세요.",
            f"Could not download '{model}'. Check the network.",
            detail=str(exc)[:200],
        ) from exc
    resolved = Path(path).name if Path(path).parent.name == "snapshots" else revision
    return Path(path), resolved


# --- facts about a checkpoint ---------------------------------------------------------------
def read_config(path: Path) -> dict:
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"'{path.name}' 에 올바른 config.json 이 없습니다.",
            f"'{path.name}' has no valid config.json.",
            detail=str(exc)[:200],
        ) from exc


def is_vision_config(config: dict) -> bool:
    return "vision_config" in config


def sees_video(model: str) -> bool | None:
    """Whether a checkpoint takes video, before loading it: the catalog knows real ids, a
    local folder's config.json tells; None for a Hub id outside the catalog."""
    spec = catalog.find(model)
    if spec is not None:
        return spec.supports_video
    config = Path(model).expanduser() / "config.json"
    if not config.is_file():
        return None
    try:
        return is_vision_config(json.loads(config.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def thinking_style(chat_template: str | None, model_id: str) -> str:
    """hybrid (enable_thinking switch), always (template opens <think>) or never.

    The catalog knows the answer for real ids; for local folders the template tells."""
    spec = catalog.find(model_id)
    if spec is not None:
        return spec.thinking
    template = chat_template or ""
    if "enable_thinking" in template:
        return "hybrid"
    tail = (
        template[template.rfind("add_generation_prompt") :]
        if "add_generation_prompt" in template
        else ""
    )
    return "always" if "<think>" in tail else "never"


# --- quantization ----------------------------------------------------------------------------
def quantization_config(request: ModelRequest):
    if precision_.get(request.precision).quantizer != "bitsandbytes":
        return None
    try:
        import bitsandbytes  # noqa: F401
        import torch
        from transformers import BitsAndBytesConfig
    except ImportError as exc:
        raise MissingDependency(
            "bitsandbytes", "4비트 NF4 양자화 / 4-bit NF4 quantization"
        ) from exc
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,  # quantizes the absmax constants too: ~0.4 bit/param saved
        bnb_4bit_compute_dtype=getattr(torch, request.compute_dtype),
        # the vision tower stays 16-bit (see memory.NF4_SKIP_MODULES); the planner counts the same
        llm_int8_skip_modules=list(NF4_SKIP_MODULES),
    )


def _from_pretrained_kwargs(request: ModelRequest) -> dict:
    import torch

    from captioner import cpu_attention

    if request.attn_implementation == cpu_attention.CPU_SDPA:
        cpu_attention.register()

    dtype = request.compute_dtype
    if precision_.get(request.precision).quantizer == "torch-cpu":
        # Loaded as the checkpoint stores it (bf16) and quantized layer by layer: loading
        # into fp32 first would hold twice the bytes (quantize.py casts the rest afterwards).
        dtype = "bfloat16"
    return {
        "attn_implementation": request.attn_implementation,
        "quantization_config": quantization_config(request),
        # unquantized weights load in the compute dtype; 4-bit ones keep it for the rest
        "dtype": getattr(torch, dtype),
        "device_map": request.device_map,
    }


def _quantize_on_cpu(model, request: ModelRequest, progress: Progress) -> None:
    """int8 / int4 on the CPU (``quantize.py``): the language model's linear layers and head,
    then everything else in the compute dtype."""
    import torch

    from captioner import quantize

    progress(0.9, f"양자화 중 / quantizing ({request.precision})")
    dtype = getattr(torch, request.compute_dtype)
    try:
        counts = quantize.quantize_model(model, request.precision, dtype)
        quantize.cast_floats(model, dtype)
    except (RuntimeError, NotImplementedError) as exc:  # a torch build without the CPU kernels
        raise ModelLoadError(
            f"{request.precision} 양자화를 이 컴퓨터의 torch 에서 쓸 수 없습니다. bf16/fp32 를 쓰세요.",
            f"This torch build cannot quantize to {request.precision} here; use bf16 or fp32.",
            detail=f"{type(exc).__name__}: {str(exc)[:300]}",
        ) from exc
    log.info(
        "quantized %d layers to %s (int8 engine: %s, activations: %s bits)",
        counts["layers"], request.precision, counts["engine"], counts["activation_bits"],
    )  # fmt: skip


# --- LoRA --------------------------------------------------------------------------------------
def check_adapter_targets(model, adapter_path: Path) -> list[str]:
    """Target modules of a LoRA adapter that the model really has; refuse if any is missing.

    An adapter trained for another architecture (e.g. Vicuna's names) would otherwise load
    with no effect or fail deep inside peft."""
    try:
        config = json.loads((adapter_path / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"어댑터 '{adapter_path.name}' 에 adapter_config.json 이 없습니다.",
            f"Adapter '{adapter_path.name}' has no adapter_config.json.",
        ) from exc
    targets = config.get("target_modules") or []
    if isinstance(targets, str):  # a regex in peft's format: trust peft to match it
        return [targets]
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = sorted(set(targets) - names)
    if missing:
        raise ModelLoadError(
            f"어댑터의 대상 모듈 {missing} 이(가) 모델에 없습니다. 다른 모델용 어댑터입니다.",
            f"Adapter target modules {missing} do not exist in this model: it was made for another model.",
        )
    return sorted(targets)


def attach_adapter(model, adapter: str, progress: Progress, cache_dir: str | None = None):
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise MissingDependency("peft", "LoRA 어댑터 / LoRA adapters") from exc
    path, _ = resolve(adapter, None, progress, cache_dir)
    check_adapter_targets(model, path)
    progress(0.95, "LoRA 어댑터 적용 / attaching LoRA adapter")
    try:
        return PeftModel.from_pretrained(model, str(path)).eval()
    except (ValueError, RuntimeError, KeyError) as exc:  # peft: a layer type or shape it refuses
        raise ModelLoadError(
            f"LoRA 어댑터 '{path.name}' 를 이 모델에 붙일 수 없습니다.",
            f"The LoRA adapter '{path.name}' cannot be attached to this model.",
            detail=f"{type(exc).__name__}: {str(exc)[:300]}",
        ) from exc


# --- the cache ---------------------------------------------------------------------------------
_lock = threading.RLock()
_resident: LoadedModel | None = None


def current() -> LoadedModel | None:
    return _resident


def unload() -> None:
    """Drop the resident model and give its memory back (to the GPU allocator and the OS)."""
    global _resident
    with _lock:
        if _resident is None:
            return
        _resident = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
                torch.mps.empty_cache()
        except ImportError:  # pragma: no cover
            pass


def load(request: ModelRequest, progress: Progress | None = None) -> LoadedModel:
    """The resident model for ``request``: cached, or loaded after unloading the old one.
    Loaded on the compute thread, where it will run (``compute.py`` says why)."""
    from captioner import compute

    return compute.call(_load, request, progress)


def _load(request: ModelRequest, progress: Progress | None) -> LoadedModel:
    global _resident
    progress = progress or (lambda fraction, message: None)
    with _lock:
        if _resident is not None and _resident.request == request:
            progress(1.0, "모델 준비됨 (캐시) / model ready (cached)")
            return _resident
        unload()
        _resident = _load_uncached(request, progress)
        return _resident


def _load_uncached(request: ModelRequest, progress: Progress) -> LoadedModel:
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
    )

    try:
        precision_.get(request.precision)
    except CaptionerError as exc:
        raise ModelLoadError(exc.ko, exc.en) from None
    start = time.perf_counter()
    path, revision = resolve(request.model, request.revision, progress, request.cache_dir)
    config = read_config(path)
    vision = is_vision_config(config)
    device = request.device
    progress(0.8, f"가중치 불러오는 중 / loading weights ({request.precision}, {device})")
    auto_model = AutoModelForImageTextToText if vision else AutoModelForCausalLM
    kwargs = _from_pretrained_kwargs(request)
    try:
        model = auto_model.from_pretrained(path, **kwargs)
        processor = (
            AutoProcessor.from_pretrained(path) if vision else AutoTokenizer.from_pretrained(path)
        )
    except torch.OutOfMemoryError as exc:
        gc.collect()
        raise OutOfMemory(
            "모델을 올릴 메모리가 부족합니다. 더 작은 모델이나 NF4 를 선택하세요.",
            "Not enough memory to load the model. Pick a smaller model or NF4.",
        ) from exc
    except (OSError, ValueError, ImportError, RuntimeError) as exc:
        raise ModelLoadError(
            f"모델 '{request.model}' 을(를) 불러오지 못했습니다.",
            f"Could not load model '{request.model}'.",
            detail=f"{type(exc).__name__}: {str(exc)[:300]}",
        ) from exc
    model.eval()
    cpu_quantized = precision_.get(request.precision).quantizer == "torch-cpu"
    if request.adapter and cpu_quantized:
        # peft cannot wrap the CPU's int8 / int4 layers: the adapter goes into the float
        # weights first, and the merged model is quantized
        adapted = attach_adapter(model, request.adapter, progress, request.cache_dir)
        model = adapted.merge_and_unload()
    if cpu_quantized:
        _quantize_on_cpu(model, request, progress)
    if request.adapter and not cpu_quantized:
        model = attach_adapter(model, request.adapter, progress, request.cache_dir)
    tokenizer = getattr(processor, "tokenizer", processor)
    loaded = LoadedModel(
        request=request,
        model=model,
        processor=processor,
        tokenizer=tokenizer,
        model_type=config.get("model_type", "?"),
        accepts_video=vision,
        thinking=thinking_style(getattr(processor, "chat_template", None), request.model),
        device=device,
        dtype=str(next(model.parameters()).dtype).removeprefix("torch."),
        path=str(path),
        revision=revision,
        load_seconds=time.perf_counter() - start,
        weight_bytes=int(model.get_memory_footprint()),
    )
    log.info(
        "loaded %s (%s, %s) in %.1fs", request.model, request.precision, device, loaded.load_seconds
    )
    progress(1.0, "모델 준비됨 / model ready")
    return loaded
