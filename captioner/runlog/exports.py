"""Exports of recorded runs: CSV (for spreadsheets), JSONL (every field, as ``review list
--json`` prints it), a self-contained HTML report, and ``dataset``: JSON Lines that Hugging
Face ``datasets`` loads as is (the format is documented in dataset.py).

Model output is untrusted: the HTML report escapes every value and has a CSP that allows no
script at all; CSV cells that a spreadsheet would run as a formula are neutralised. The
report's style is ``report.css`` next to this file, read when a report is written.

A file is written whole or not at all: the text is built first, written to a hidden
temporary file next to the target and renamed over it; a failure removes the temporary
file, so no ``.part`` file is ever left behind.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from captioner import __version__
from captioner.errors import InvalidRequest
from captioner.runlog.dataset import to_dataset_jsonl
from captioner.runlog.records import Run
from captioner.runlog.times import utc_now

EXPORT_FORMATS = ("csv", "jsonl", "html", "dataset")
SUFFIXES = {"csv": ".csv", "jsonl": ".jsonl", "html": ".html", "dataset": ".dataset.jsonl"}
CSS_PATH = Path(__file__).with_name("report.css")


def report_css() -> str:
    """Read at every export, so a restyled report needs no restart."""
    return CSS_PATH.read_text(encoding="utf-8")


# --- CSV ------------------------------------------------------------------------------------------
CSV_COLUMNS = (
    "id",
    "created_at",
    "finished_at",
    "source",
    "status",
    "video_name",
    "video_sha256",
    "video_duration_s",
    "video_size",
    "video_fps",
    "frames",
    "frame_times",
    "model",
    "model_revision",
    "adapter",
    "profile",
    "precision",
    "device",
    "preset",
    "prompt",
    "system_prompt",
    "options",
    "seed",
    "sampling",
    "answer",
    "thinking",
    "error_code",
    "error_ko",
    "error_en",
    "new_tokens",
    "ttft_s",
    "tokens_per_s",
    "total_s",
    "finish_reason",
    "metrics",
    "rating_avg",
    "rating_count",
    "ratings",
    "app_version",
    "request",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # a spreadsheet must not run model output as a formula
    return value


def _flat(run: Run) -> dict:
    metrics = run.metrics or {}
    values = {name: getattr(run, name, None) for name in CSV_COLUMNS if hasattr(run, name)}
    values.update(
        new_tokens=metrics.get("new_tokens"),
        ttft_s=metrics.get("ttft_s"),
        tokens_per_s=metrics.get("tokens_per_s"),
        total_s=metrics.get("total_s"),
        finish_reason=metrics.get("finish_reason"),
        rating_avg=round(run.rating_avg, 3) if run.rating_avg is not None else None,
        rating_count=run.rating_count,
        ratings=[
            {
                "score": r.score,
                "tags": r.tags,
                "note": r.note,
                "reviewer": r.reviewer,
                "at": r.updated_at,
            }
            for r in run.ratings
        ],
    )
    return values


def to_csv(runs: Iterable[Run]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for run in runs:
        writer.writerow({k: _csv_cell(v) for k, v in _flat(run).items()})
    return buffer.getvalue()


def to_jsonl(runs: Iterable[Run]) -> str:
    return "".join(
        json.dumps(run.to_dict(), ensure_ascii=False, default=str) + "\n" for run in runs
    )


def _e(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        value = f"{value:.3f}".rstrip("0").rstrip(".")
    return html.escape(str(value), quote=True)


def _stars(score: float | None) -> str:
    if score is None:
        return ""
    full = int(round(score))
    return "★" * full + "☆" * (5 - full)


def _run_html(run: Run) -> str:
    metrics = run.metrics or {}
    rows = [
        ("영상 / video", f"{run.video_name or '-'}"),
        ("sha256", (run.video_sha256 or "")[:16]),
        (
            "길이·크기 / duration·size",
            " · ".join(
                x
                for x in (
                    f"{run.video_duration_s:.2f}s" if run.video_duration_s is not None else "",
                    run.video_size or "",
                    f"{run.video_fps:.2f} fps" if run.video_fps else "",
                )
                if x
            ),
        ),
        (
            "프레임 / frames",
            f"{run.frames} @ {', '.join(f'{t:.2f}' for t in run.frame_times)}s"
            if run.frame_times
            else (run.frames or ""),
        ),
        ("모델 / model", " @ ".join(x for x in (run.model, run.model_revision) if x)),
        ("어댑터 / adapter", run.adapter),
        (
            "프로필 / profile",
            " · ".join(x for x in (run.profile, run.precision, run.device) if x),
        ),
        ("프리셋 / preset", run.preset),
        ("옵션 / options", json.dumps(run.options or {}, ensure_ascii=False, default=str)),
        (
            "측정 / metrics",
            " · ".join(
                f"{k} {metrics[k]:.2f}"
                if isinstance(metrics.get(k), float)
                else f"{k} {metrics[k]}"
                for k in ("new_tokens", "ttft_s", "tokens_per_s", "total_s", "finish_reason")
                if metrics.get(k) is not None
            ),
        ),
        ("출처 / source", f"{run.source} · {run.created_at} · v{run.app_version or '?'}"),
    ]
    config = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows if v not in (None, ""))
    parts = [
        f'<article id="run-{run.id}">',
        f"<h2>#{run.id} · {_e(run.video_name or '(텍스트)')} "
        f'<span class="badge {_e(run.status)}">{_e(run.status)}</span> '
        f'<span class="stars">{_stars(run.rating_avg)}</span></h2>',
        f"<dl>{config}</dl>",
        f'<h3>프롬프트 / prompt</h3><pre class="text">{_e(run.prompt)}</pre>',
    ]
    if run.system_prompt:
        parts.append(
            "<details><summary>시스템 프롬프트 / system prompt</summary>"
            f'<pre class="text">{_e(run.system_prompt)}</pre></details>'
        )
    parts.append(f'<h3>답변 / answer</h3><pre class="text">{_e(run.answer)}</pre>')
    if run.thinking:
        parts.append(
            "<details><summary>생각 / thinking</summary>"
            f'<pre class="text">{_e(run.thinking)}</pre></details>'
        )
    if run.error:
        parts.append(
            f'<h3>오류 / error</h3><p class="error">[{_e(run.error_code)}] {_e(run.error_ko)}'
            f"<br>{_e(run.error_en)}</p>"
        )
    if run.ratings:
        items = "".join(
            f'<tr><td class="stars">{_stars(r.score)} {r.score}</td><td>{_e(r.reviewer or "-")}</td>'
            f"<td>{''.join(f'<span class=tag>{_e(t)}</span>' for t in r.tags)}</td>"
            f"<td>{_e(r.note)}</td><td class=meta>{_e(r.updated_at)}</td></tr>"
            for r in run.ratings
        )
        parts.append(
            "<h3>평가 / ratings</h3><table><tr><th>점수</th><th>리뷰어</th><th>태그</th>"
            f"<th>메모</th><th>시각</th></tr>{items}</table>"
        )
    parts.append("</article>")
    return "".join(parts)


def to_html(runs: Sequence[Run], title: str = "캡션 리뷰 보고서 · Caption review report") -> str:
    """A self-contained report: inline CSS, no scripts, no external assets; every value escaped."""
    summary = "".join(
        f'<tr><td><a href="#run-{run.id}">#{run.id}</a></td><td>{_e(run.video_name)}</td>'
        f"<td>{_e(run.model)}</td><td>{_e(run.preset or (run.prompt or '')[:40])}</td>"
        f'<td><span class="badge {_e(run.status)}">{_e(run.status)}</span></td>'
        f'<td class="stars">{_stars(run.rating_avg)}</td>'
        f"<td>{_e((run.metrics or {}).get('tokens_per_s'))}</td></tr>"
        for run in runs
    )
    body = "".join(_run_html(run) for run in runs)
    return (
        '<!doctype html>\n<html lang="ko">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{_e(title)}</title>\n<style>{report_css()}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1>"
        f'<p class="meta">{len(runs)}개 실행 / runs · {_e(utc_now())} · v{_e(__version__)}</p>'
        "</header>\n"
        "<table><tr><th>#</th><th>영상</th><th>모델</th><th>프롬프트</th><th>상태</th>"
        f"<th>평점</th><th>tok/s</th></tr>{summary}</table>\n{body}\n</body>\n</html>\n"
    )


def file_name(stem: str, format: str) -> str:
    """``stem`` with the format's suffix, e.g. ``captioner-runs.dataset.jsonl``."""
    return stem + SUFFIXES[_format(format)]


def _format(format: str) -> str:
    fmt = (format or "").lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise InvalidRequest(
            f"알 수 없는 내보내기 형식 '{format}' (가능: {', '.join(EXPORT_FORMATS)})",
            f"Unknown export format '{format}' (choose from {', '.join(EXPORT_FORMATS)})",
        )
    return fmt


def export(
    runs: Iterable[Run], format: str, out_path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write ``runs`` as csv (UTF-8 with BOM, so spreadsheet apps read Korean), jsonl, html
    or dataset; returns the file. InvalidRequest (Korean and English) when it cannot."""
    fmt = _format(format)
    runs = list(runs)
    if fmt == "csv":
        text, encoding = to_csv(runs), "utf-8-sig"
    elif fmt == "jsonl":
        text, encoding = to_jsonl(runs), "utf-8"
    elif fmt == "dataset":
        text, encoding = to_dataset_jsonl(runs), "utf-8"
    else:
        text, encoding = (to_html(runs, title) if title else to_html(runs)), "utf-8"
    out = Path(out_path)
    write_whole(out, text, encoding)
    return out


def write_whole(out: Path, text: str, encoding: str = "utf-8") -> None:
    """``text`` into ``out`` all at once, or not at all (no partial file is ever left)."""
    if out.is_dir():
        raise InvalidRequest(
            f"내보낼 경로가 폴더입니다: {out.name}. 파일 이름까지 적어 주세요.",
            f"The export path is a folder: {out.name}. Give a file name.",
        )
    partial: str | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
        os.replace(partial, out)
        partial = None
    except OSError as exc:
        raise InvalidRequest(
            f"내보내기 파일을 쓸 수 없습니다: {out.name}",
            f"Cannot write the export file: {out.name}",
            detail=f"{type(exc).__name__}: {exc}",
        ) from None
    finally:
        if partial is not None:
            try:
                os.unlink(partial)
            except OSError:
                pass
