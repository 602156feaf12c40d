"""Every string the page shows, in Korean and English: one table for both tabs.

The page looks labels up here (``t(key, lang)``); Korean is the default language and the
한국어 / English switch changes every one of them. Texts with ``{name}`` fields are
formatted with ``t(key, lang, name=...)``. Data, not logic.
"""

from __future__ import annotations

LANGUAGES = (("한국어", "ko"), ("English", "en"))  # the switch: (label, code)
DEFAULT_LANGUAGE = "ko"

# key: (Korean, English)
TEXTS: dict[str, tuple[str, str]] = {
    # --- header --------------------------------------------------------------------------
    "title": ("# 🎬 Qwen3 한국어 비디오 캡셔너", "# 🎬 Qwen3 Korean Video Captioner"),
    "intro": (
        "영상을 올리고 프롬프트를 고르면 **Qwen3-VL** 이 한국어 설명을 실시간으로 써 줍니다. "
        "하드웨어에 맞는 모델과 정밀도를 자동으로 고르고 그 이유를 보여 줍니다.",
        "Upload a video, pick a prompt, and **Qwen3-VL** streams a Korean description. "
        "The model and precision are chosen for your hardware, with the reason shown.",
    ),
    "language": ("언어", "Language"),
    "active": ("사용 중", "Active"),
    "tab_caption": ("캡션", "Caption"),
    "tab_review": ("리뷰", "Review"),
    # --- caption tab ---------------------------------------------------------------------
    "video": ("영상", "Video"),
    "video_info": (
        "mp4 · webm · mov · mkv · avi, 최대 {mb} MB, {minutes}분 이하",
        "mp4 · webm · mov · mkv · avi, up to {mb} MB and {minutes} min",
    ),
    "preset": ("프롬프트 프리셋", "Prompt preset"),
    "prompt": (
        "직접 쓰는 프롬프트 (비우면 프리셋 사용)",
        "Your own prompt (empty: use the preset)",
    ),
    "prompt_placeholder": (
        "예: 영상 속 인물의 감정 변화를 설명해 주세요.",
        "e.g. Describe how the people's feelings change (Korean prompts work best)",
    ),
    "profile": ("GPU 프로필", "GPU profile"),
    "model": ("모델", "Model"),
    "plan": ("불러올 모델", "What will be loaded"),
    "think": ("생각 모드 (하이브리드 Qwen3 전용)", "Thinking (hybrid Qwen3 models only)"),
    "advanced": ("고급 설정", "Advanced settings"),
    "style": ("말투", "Speech style"),
    "length": ("길이", "Length"),
    "allow_hanja": ("한자 허용 (한자 병기)", "Allow Hanja (Chinese characters)"),
    "subtitles": ("자막 파일 (SRT · WebVTT)", "Subtitles (SRT · WebVTT)"),
    "system": ("시스템 프롬프트", "System prompt"),
    "fps": ("초당 프레임 (fps)", "Frames per second (fps)"),
    "max_frames": ("최대 프레임 수 (0 = 프로필 기본값)", "Max frames (0 = profile default)"),
    "max_pixels": ("프레임당 픽셀 (0 = 프로필 기본값)", "Pixels per frame (0 = profile default)"),
    "max_new_tokens": ("최대 생성 토큰", "Max new tokens"),
    "temperature": ("temperature", "temperature"),
    "top_p": ("top-p", "top-p"),
    "top_k": ("top-k", "top-k"),
    "repetition_penalty": ("반복 페널티 (repetition penalty)", "Repetition penalty"),
    "presence_penalty": ("등장 페널티 (presence penalty)", "Presence penalty"),
    "seed": ("시드 (-1 = 무작위)", "Seed (-1 = random)"),
    "generate": ("생성", "Generate"),
    "stop": ("중지", "Stop"),
    "answer": ("설명", "Description"),
    "thinking": ("생각 과정", "Reasoning"),
    "metrics": ("측정값", "Metrics"),
    "examples": (
        "예시 (Big Buck Bunny, © Blender Foundation, CC-BY 3.0)",
        "Examples (Big Buck Bunny, © Blender Foundation, CC-BY 3.0)",
    ),
    "auto": ("자동 (감지됨: {hw})", "Auto (detected: {hw})"),
    "status": ("상태", "Status"),
    "status_idle": ("대기 중", "Idle"),
    "status_plan": ("모델과 프레임 예산 결정 중…", "Choosing model and frame budget…"),
    "status_decode": ("영상 디코딩 중…", "Decoding the video…"),
    "status_load": ("모델 준비 중…", "Preparing the model…"),
    "status_generate": ("생성 중…", "Generating…"),
    "status_done": ("완료", "Done"),
    "status_stopped": ("중지됨", "Stopped"),
    "status_error": ("오류", "Error"),
    "no_video": (
        "영상을 올려 주세요 (또는 텍스트 모델을 고르세요).",
        "Upload a video (or pick a text model).",
    ),
    # --- long videos (ui/longrun.py) ----------------------------------------------------
    "long": (
        "긴 영상 (구간별로 보고 하나의 타임라인으로 합치기)",
        "Long video (caption in windows, merged into one timeline)",
    ),
    "long_info": (
        "이 영상({minutes}분)을 한 번에 보면 {spacing:.0f}초에 1프레임뿐입니다. 켜면 {count}개 "
        "구간으로 나눠 구간마다 {frames}프레임을 보고 하나의 타임라인으로 합칩니다.",
        "In one pass this {minutes}-minute video is seen one frame every {spacing:.0f} s. On: "
        "{count} windows of {frames} frames each, merged into one timeline.",
    ),
    "status_window": (
        "구간 {k}/{n} ({start}-{end}) 생성 중…{eta}",
        "Window {k} of {n} ({start}-{end})…{eta}",
    ),
    "eta": (" · 남은 시간 약 {time}", " · about {time} left"),
    "status_merge": (
        "구간 {n}개를 하나의 타임라인으로 합치는 중…",
        "Merging {n} windows into one timeline…",
    ),
    "window_heading": ("구간 {k}/{n} · {start}-{end}", "Window {k} of {n} · {start}-{end}"),
    "window_failed": (
        "⚠️ 이 구간은 실패해 건너뜁니다: {error}",
        "⚠️ This window failed and is skipped: {error}",
    ),
    "window_reused": ("(이전 실행에서 완료된 구간)", "(finished by the earlier run)"),
    "merge_heading": ("전체 요약과 타임라인", "Overall description and timeline"),
    "long_resumed": (
        "이전 실행의 완료된 구간 {n}개를 이어서 씁니다.",
        "Resuming: {n} windows finished by the earlier run are reused.",
    ),
    "long_done": (
        "구간 {done}/{n}개 완료 · 실패 {failed}",
        "{done} of {n} windows done · {failed} failed",
    ),
    "video_model": ("🎬 영상", "🎬 video"),
    "text_model": ("📝 텍스트 전용", "📝 text only"),
    "local_model": ("📁 로컬", "📁 local"),
    "recommended": ("추천", "recommended"),
    "served_model": ("서버 모델", "served"),
    "plan_remote": (
        "추론 서버가 생성합니다: {servers}. 프레임 최대 {frames}개.",
        "Generated by the inference server: {servers}. Up to {frames} frames.",
    ),
    "korean_bias_off": (
        "이 서버에서는 한자 차단이 꺼져 있습니다 (logit_bias 를 받지 않거나 토크나이저가 없음). "
        "한글 비율 검사만 합니다.",
        "Chinese-character blocking is off on this server (no logit_bias or no tokenizer); "
        "only the Hangul-share check runs.",
    ),
    "plan_local": (
        "로컬/외부 체크포인트: 카탈로그에 없어 메모리 계획 없이 불러옵니다.",
        "Local or non-catalog checkpoint: loaded without a memory plan.",
    ),
    "plan_memory": (
        "가중치 {weights:.1f} GB, 합계 {total:.1f} / {available:.1f} GB · 프레임 ≤ {frames}",
        "weights {weights:.1f} GB, total {total:.1f} of {available:.1f} GB · frames ≤ {frames}",
    ),
    # --- review tab ----------------------------------------------------------------------
    "filter_model": ("모델", "Model"),
    "filter_preset": ("프리셋", "Preset"),
    "filter_video": ("영상", "Video"),
    "filter_since": ("부터 (YYYY-MM-DD)", "Since (YYYY-MM-DD)"),
    "filter_rating": ("최소 평점", "Min rating"),
    "all": ("전체", "all"),
    "any": ("전체", "any"),
    "refresh": ("새로고침", "Refresh"),
    "run_id": ("실행 ID", "Run id"),
    "open": ("열기", "Open"),
    "run_video": ("영상", "Video"),
    "score": ("평점", "Score"),
    "tags": ("태그 (쉼표로 구분)", "Tags (comma-separated)"),
    "note": ("메모", "Note"),
    "signed_in": ("평가자: **{name}** · {scope}", "Reviewer: **{name}** · {scope}"),
    "scope_all": ("모든 실행", "all runs"),
    "scope_mine": ("이 브라우저 세션의 실행만", "only this browser session's runs"),
    "save_rating": ("평가 저장", "Save rating"),
    "export_format": ("형식", "Format"),
    "export": ("내보내기", "Export"),
    "exported_file": ("내보낸 파일", "Exported file"),
    "compare": ("비교", "Compare"),
    "blind": (
        "블라인드: 둘 다 평가할 때까지 설정을 숨김",
        "Blind: hide the configurations until both are rated",
    ),
    "side_model": ("{side} 모델", "{side} model"),
    "side_preset": ("{side} 프리셋", "{side} preset"),
    "side_prompt": ("{side} 프롬프트 (비우면 프리셋)", "{side} prompt (empty: the preset)"),
    "side_precision": ("{side} 정밀도", "{side} precision"),
    "side_adapter": ("{side} LoRA 어댑터 (선택)", "{side} LoRA adapter (optional)"),
    "run_both": ("위 영상으로 두 설정 실행", "Run both on the uploaded video"),
    "left_run": ("왼쪽 실행 ID", "Left run id"),
    "right_run": ("오른쪽 실행 ID", "Right run id"),
    "load_two": ("두 실행 불러오기", "Load two runs"),
    "side_score": ("{side} 평점", "{side} score"),
    "rate_both": ("둘 다 평가", "Rate both"),
    "revealed": ("✅ 공개됨", "✅ revealed"),
    "runs_found": ("실행 {n}개", "{n} runs"),
    "saved": ("✅ #{run} ★{score} 저장됨", "✅ #{run} ★{score} saved"),
    "no_output": ("(출력 없음)", "(no output)"),
    "no_text_video": ("(텍스트)", "(text)"),
    "pick_run_and_score": ("평가할 실행과 점수를 고르세요.", "Pick a run and a score to rate."),
    "bad_filter": (
        "필터 값이 올바르지 않습니다 (날짜는 YYYY-MM-DD).",
        "Bad filter (dates are YYYY-MM-DD).",
    ),
    "log_off": ("실행 기록이 꺼져 있습니다.", "The run log is off."),
    "different_videos": (
        "두 실행의 영상이 다릅니다. 같은 영상의 실행을 고르세요.",
        "The two runs are of different videos. Pick two runs of the same video.",
    ),
    "summary": ("평가 요약", "Rating summary"),
    "summary_by": ("묶음 기준", "Group by"),
    "by_model": ("모델별", "by model"),
    "by_preset": ("프리셋별", "by preset"),
    "chart_title_model": ("모델별 평균 평점", "Mean rating by model"),
    "chart_title_preset": ("프리셋별 평균 평점", "Mean rating by preset"),
    "chart_count": ("평가 {ratings}개 · 실행 {runs}개", "{ratings} ratings · {runs} runs"),
    "chart_note": (
        "막대: 평균 평점(1~5) · 선: 95% 신뢰구간(Wilson) · 표의 필터가 그대로 적용됩니다.",
        "Bars: mean rating (1–5) · lines: 95% interval (Wilson) · the table's filters apply.",
    ),
    "chart_empty": ("아직 평가가 없습니다.", "No ratings yet."),
    "chart_free_prompt": ("직접 쓴 프롬프트", "free prompt"),
    "chart_no_model": ("(모델 없음)", "(no model)"),
    "frames_seen": ("모델이 본 프레임", "Frames the model saw"),
    "library_usage": (
        "리뷰 라이브러리: 영상 {files}개 · {size} / {budget}",
        "Review library: {files} videos · {size} of {budget}",
    ),
    "ratings_table": ("| 평가자 | 점수 | 태그 | 메모 |", "| Reviewer | Score | Tags | Note |"),
    "detail_video": ("영상", "Video"),
    "busy": (
        "이 브라우저 세션의 요청이 이미 실행 중이거나 대기 중입니다. 끝나거나 중지한 뒤 다시 시도하세요.",
        "A request from this browser session is already running or waiting. Wait for it or stop it, then try again.",
    ),
    "model_not_offered": (
        "이 페이지가 제공하는 모델이 아닙니다. 목록에서 고르세요.",
        "This page does not offer that model. Pick one from the list.",
    ),
    "adapter_not_offered": (
        "이 페이지가 제공하는 어댑터가 아닙니다. 목록에서 고르세요.",
        "This page does not offer that adapter. Pick one from the list.",
    ),
    "col_id": ("ID", "ID"),
    "col_time": ("시각 (UTC)", "Time (UTC)"),
    "col_video": ("영상", "Video"),
    "col_model": ("모델", "Model"),
    "col_prompt": ("프롬프트", "Prompt"),
    "col_status": ("상태", "Status"),
    "col_rating": ("평점", "Rating"),
    "col_answer": ("답변", "Answer"),
    "run_status_done": ("완료", "done"),
    "run_status_stopped": ("중지됨", "stopped"),
    "run_status_error": ("오류", "error"),
    "run_status_running": ("실행 중", "running"),
    "run_status_interrupted": ("중단됨", "interrupted"),
    "detail_model": ("모델", "Model"),
    "detail_precision": ("정밀도", "Precision"),
    "detail_prompt": ("프롬프트", "Prompt"),
    "detail_frames": ("프레임", "Frames"),
}


def t(key: str, lang: str, **values) -> str:
    """The text for ``key`` in ``lang`` ("ko" or "en"), formatted with ``values``."""
    text = TEXTS[key][0 if lang == "ko" else 1]
    return text.format(**values) if values else text


def lang_of(value: str | None) -> str:
    """The language code for the switch's value ("English" or "en" → "en"; else Korean)."""
    for label, code in LANGUAGES:
        if value in (label, code):
            return code
    return DEFAULT_LANGUAGE


def pick(ko: str, en: str, lang: str) -> str:
    """One of a bilingual pair (errors, warnings and presets carry both)."""
    return ko if lang == "ko" else en
