"""Korean prompts: the system prompt, the presets and the chat messages.

Style (합니다체 / 해요체) and length (짧게 / 보통 / 자세히) are instructions added to the
user message (so they hold also with a custom system prompt).

Messages are plain ``[{"role": ..., "content": [...]}]`` lists in the format every Qwen
chat template understands; rendering them into a prompt string is always left to the
checkpoint's own template (``apply_chat_template``), never done by hand here.
"""

from __future__ import annotations

from dataclasses import dataclass

from captioner import errors
from captioner.errors import InvalidRequest
from captioner.subtitles import clock_text

SYSTEM_PROMPT = (
    "당신은 영상을 한국어로 정확하고 자세하게 설명하는 전문 캡셔너입니다. "
    "영상에 실제로 보이는 것만 설명하고, 보이지 않는 것은 추측하지 마세요. "
    "반드시 자연스러운 한국어로만 답하고, 한자나 중국어, 영어 문장을 섞지 마세요."
)
TEXT_SYSTEM_PROMPT = (
    "당신은 친절하고 정확한 한국어 어시스턴트입니다. "
    "반드시 자연스러운 한국어로만 답하고, 한자나 중국어를 섞지 마세요."
)


@dataclass(frozen=True)
class Preset:
    key: str
    label_ko: str
    label_en: str
    prompt: str
    timeline: bool = False  # asks for timestamped lines (subtitles can be made from them)


PRESETS: tuple[Preset, ...] = (
    Preset(
        "detail",
        "상세 묘사",
        "Detailed description",
        "이 영상을 자세히 설명해 주세요. 배경과 장소, 등장하는 인물이나 사물, 그들의 움직임과 행동, "
        "분위기, 그리고 시간에 따라 일어나는 변화를 순서대로 빠짐없이 묘사해 주세요.",
    ),
    Preset(
        "summary",
        "한 줄 요약",
        "One-line summary",
        "이 영상의 핵심 내용을 한 문장으로 요약해 주세요.",
    ),
    Preset(
        "timeline",
        "장면별 타임라인",
        "Scene timeline",
        "이 영상을 장면별로 나누어 시간 순서대로 설명해 주세요. 각 줄은 "
        "'MM:SS-MM:SS 설명' 형식으로, 영상에 표시된 시각(초)을 기준으로 시작과 끝 시각을 적어 주세요.",
        timeline=True,
    ),
    Preset(
        "people",
        "인물과 행동",
        "People and actions",
        "영상에 등장하는 인물(또는 동물, 캐릭터)을 각각 설명하고, 외모와 옷차림, 표정, "
        "그리고 각자가 하는 행동과 서로의 상호작용을 시간 순서대로 설명해 주세요.",
    ),
)
DEFAULT_PRESET = "detail"


def preset(key: str) -> Preset:
    for item in PRESETS:
        if key in (item.key, item.label_ko):
            return item
    names = ", ".join(p.key for p in PRESETS)
    raise InvalidRequest(
        f"알 수 없는 프리셋 '{key}' 입니다 (가능: {names}).",
        f"Unknown preset '{key}' (choose from {names}).",
    )


@dataclass(frozen=True)
class Instruction:
    """One value of a style or length control and the sentence it adds to the prompt."""

    key: str
    label_ko: str
    label_en: str
    text: str  # added to the user message; "" adds nothing


STYLES: tuple[Instruction, ...] = (
    Instruction(
        "hamnida",
        "합니다체",
        "Formal (-seumnida)",
        "문장은 '~합니다', '~입니다'로 끝나는 합니다체로 써 주세요.",
    ),
    Instruction(
        "haeyo",
        "해요체",
        "Polite (-haeyo)",
        "문장은 '~해요', '~이에요/예요'로 끝나는 부드러운 해요체로 써 주세요.",
    ),
)
LENGTHS: tuple[Instruction, ...] = (
    Instruction("short", "짧게", "Short", "답변은 두세 문장 이내로 짧게 핵심만 써 주세요."),
    # "normal" leaves the length to the prompt or preset (a summary stays one sentence).
    Instruction("normal", "보통", "Normal", ""),
    Instruction(
        "long",
        "자세히",
        "Long",
        "답변은 빠뜨리는 내용 없이 여러 문단으로 최대한 자세하고 길게 써 주세요.",
    ),
)
DEFAULT_STYLE = "hamnida"
DEFAULT_LENGTH = "normal"


def _choose(table: tuple[Instruction, ...], key: str, what_ko: str, what_en: str) -> Instruction:
    for item in table:
        if key in (item.key, item.label_ko):
            return item
    names = ", ".join(f"{c.key} ({c.label_ko})" for c in table)
    raise InvalidRequest(
        f"알 수 없는 {what_ko} '{key}' 입니다 (가능: {names}).",
        f"Unknown {what_en} '{key}' (choose from {names}).",
    )


def style(key: str) -> Instruction:
    """A STYLES entry by key or Korean label; InvalidRequest otherwise."""
    return _choose(STYLES, key, "문체", "style")


def length(key: str) -> Instruction:
    """A LENGTHS entry by key or Korean label; InvalidRequest otherwise."""
    return _choose(LENGTHS, key, "길이", "length")


def with_instructions(prompt: str, style_key: str, length_key: str) -> str:
    """The user's text followed by the style and length instructions (one line each)."""
    extra = [c.text for c in (style(style_key), length(length_key)) if c.text]
    return "\n\n".join([prompt, "\n".join(extra)]) if extra else prompt


def resolve_prompt(preset_key: str | None, prompt: str | None) -> tuple[str, str | None]:
    """(the text the model is asked, the preset key it came from; None for free text).

    Free text wins over a preset; with neither, the default preset. The engine sends the
    text, the run log records both."""
    if prompt is not None and prompt.strip():
        return prompt.strip(), None
    if prompt is not None and not preset_key:
        raise InvalidRequest("프롬프트가 비어 있습니다.", "The prompt is empty.")
    item = preset(preset_key or DEFAULT_PRESET)
    return item.prompt, item.key


def build_messages(
    prompt: str,
    *,
    with_video: bool,
    accepts_video: bool,
    system: str | None = None,
    style: str = DEFAULT_STYLE,
    length: str = DEFAULT_LENGTH,
) -> list[dict]:
    """Chat messages for one request; a video goes before the question, as Qwen's examples do.

    ``style`` / ``length`` (STYLES / LENGTHS keys or Korean labels) add their instructions
    after the question. A text-only Qwen3 cannot see a video: giving it one is refused,
    never silently dropped."""
    if with_video and not accepts_video:
        raise errors.text_only_model()
    if not prompt.strip():
        raise InvalidRequest("프롬프트가 비어 있습니다.", "The prompt is empty.")
    prompt = with_instructions(prompt, style, length)
    if system is None:
        system = SYSTEM_PROMPT if with_video else TEXT_SYSTEM_PROMPT
    messages: list[dict] = []
    if not accepts_video:
        # Qwen3 text templates read string contents only (a content list would render empty).
        if system.strip():
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        return messages
    user: list[dict] = [{"type": "video"}] if with_video else []
    user.append({"type": "text", "text": prompt})
    if system.strip():
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append({"role": "user", "content": user})
    return messages


def template_kwargs(thinking_style: str, think: bool | None) -> dict:
    """Extra ``apply_chat_template`` arguments for the thinking switch.

    Only hybrid Qwen3 templates read ``enable_thinking``; "always" (-Thinking) and "never"
    (-Instruct, -2507) models have no switch, so nothing is passed to them."""
    if thinking_style == "hybrid":
        return {"enable_thinking": bool(think)}
    return {}


def render(processor, messages: list[dict], thinking_style: str, think: bool | None) -> str:
    """The prompt string, rendered by the checkpoint's own chat template."""
    return processor.apply_chat_template(
        messages,
        tokenize=False,
        add_generation_prompt=True,
        **template_kwargs(thinking_style, think),
    )


# --- long videos (captioner/longvideo): one timeline prompt per window, then one merge -----
WINDOW_NOTE = (
    "이 영상은 전체 길이 {total}인 긴 영상 중 {start}부터 {end}까지의 구간입니다. 프레임 앞의 "
    "시각 표시는 전체 영상 기준이니, 타임라인의 시각도 전체 영상 기준으로 {start}~{end} "
    "사이에서 적어 주세요."
)
MERGE_INTRO = (
    "아래는 길이 {total}인 영상을 {count}개 구간으로 나누어 구간마다 쓴 장면별 설명입니다. "
    "시각은 모두 전체 영상 기준입니다."
)
MERGE_TASK = (
    "이 설명들을 바탕으로 두 부분으로 답해 주세요.\n"
    "1. 영상 전체를 요약하는 한 문단.\n"
    "2. 겹치거나 반복되는 장면을 하나로 합친 전체 타임라인. 각 줄은 'MM:SS-MM:SS 설명' 형식으로 "
    "시간 순서대로 쓰고, 시각은 00:00부터 {total} 사이만 써 주세요."
)
MERGE_MISSING = "(이 구간은 처리하지 못해 설명이 없습니다.)"
MERGE_SECTION_CHARS = 1500  # per window: 20 windows stay within a few thousand tokens


def window_prompt(base: str, start_s: float, end_s: float, duration_s: float) -> str:
    """The timeline prompt for one window, told where the window sits in the whole video."""
    note = WINDOW_NOTE.format(
        total=clock_text(duration_s), start=clock_text(start_s), end=clock_text(end_s)
    )
    return f"{note}\n\n{base}"


def merge_prompt(
    sections: list[tuple[float, float, str | None]], duration_s: float, request: str | None = None
) -> str:
    """The text-only prompt that merges window captions ``(start, end, text or None)`` into
    an overall description and one timeline; ``request``: the user's own prompt, if any."""
    total = clock_text(duration_s)
    parts = [MERGE_INTRO.format(total=total, count=len(sections))]
    for k, (start, end, text) in enumerate(sections, 1):
        body = (text or "").strip()[:MERGE_SECTION_CHARS] or MERGE_MISSING
        parts.append(f"[구간 {k} · {clock_text(start)}-{clock_text(end)}]\n{body}")
    task = MERGE_TASK.format(total=total)
    if request and request.strip():
        task += f"\n사용자 요청도 반영해 주세요: {request.strip()}"
    parts.append(task)
    return "\n\n".join(parts)
