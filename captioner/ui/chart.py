"""The review summary as a bar chart: mean rating per model (or preset) with its 95% interval
and the number of ratings, drawn as inline SVG.

SVG, not a plotting library: it is a few rectangles and lines, it renders crisply in the
page at any width, follows the page's light or dark theme through CSS variables, and every
label is escaped text (model names come from whoever ran the app).
"""

from __future__ import annotations

import html

from captioner.ui.texts import t

BAR_HEIGHT = 26
GAP = 10
LABEL_WIDTH = 260
PLOT_WIDTH = 360
MAX_SCORE = 5


def rating_chart(summaries, lang: str, by: str = "model") -> str:
    """HTML with one bar per group (``runlog.RatingSummary``: group, runs, ratings, mean, low,
    high); a sentence instead when nothing is rated yet."""
    rows = [s for s in summaries if s.ratings]
    if not rows:
        return f'<p class="captioner-chart-empty">{html.escape(t("chart_empty", lang))}</p>'
    height = len(rows) * (BAR_HEIGHT + GAP) + 40
    width = LABEL_WIDTH + PLOT_WIDTH + 140
    parts = [
        f'<svg class="captioner-chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{html.escape(t('chart_title_' + by, lang))}</title>",
    ]
    for score in range(1, MAX_SCORE + 1):  # the scale: 1..5
        x = LABEL_WIDTH + PLOT_WIDTH * score / MAX_SCORE
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 24}" '
            'stroke="currentColor" stroke-opacity="0.15"/>'
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" font-size="12" '
            f'fill="currentColor">{score}</text>'
        )
    for i, row in enumerate(rows):
        y = i * (BAR_HEIGHT + GAP) + 4
        bar = PLOT_WIDTH * row.mean / MAX_SCORE
        low = LABEL_WIDTH + PLOT_WIDTH * row.low / MAX_SCORE
        high = LABEL_WIDTH + PLOT_WIDTH * row.high / MAX_SCORE
        mid = y + BAR_HEIGHT / 2
        label = _short(group_label(row.group, by, lang))
        count = t("chart_count", lang, ratings=row.ratings, runs=row.runs)
        parts.append(
            f'<g class="captioner-bar" data-group="{html.escape(str(row.group), quote=True)}" '
            f'data-mean="{row.mean:.3f}" data-ratings="{row.ratings}">'
            f"<title>{html.escape(str(row.group))}: {row.mean:.2f} "
            f"[{row.low:.2f}, {row.high:.2f}] · {html.escape(count)}</title>"
            f'<text x="{LABEL_WIDTH - 8}" y="{mid + 4:.1f}" text-anchor="end" font-size="13" '
            f'fill="currentColor">{html.escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{bar:.1f}" height="{BAR_HEIGHT}" rx="4" '
            'fill="#6366f1" fill-opacity="0.75"/>'
            f'<line x1="{low:.1f}" y1="{mid:.1f}" x2="{high:.1f}" y2="{mid:.1f}" '
            'stroke="currentColor" stroke-width="2"/>'
            f'<line x1="{low:.1f}" y1="{mid - 6:.1f}" x2="{low:.1f}" y2="{mid + 6:.1f}" '
            'stroke="currentColor" stroke-width="2"/>'
            f'<line x1="{high:.1f}" y1="{mid - 6:.1f}" x2="{high:.1f}" y2="{mid + 6:.1f}" '
            'stroke="currentColor" stroke-width="2"/>'
            f'<text x="{LABEL_WIDTH + PLOT_WIDTH + 10}" y="{mid + 4:.1f}" font-size="13" '
            f'fill="currentColor">{row.mean:.2f} · {html.escape(count)}</text></g>'
        )
    parts.append("</svg>")
    note = f'<p class="captioner-chart-note">{html.escape(t("chart_note", lang))}</p>'
    return "".join(parts) + note


def group_label(group: str | None, by: str, lang: str) -> str:
    """A model id as it is; a preset key by its name in ``lang``; None as "free prompt"."""
    if group is None:
        return t("chart_free_prompt" if by == "preset" else "chart_no_model", lang)
    if by == "preset":
        from captioner.ui.caption import preset_choices

        return dict((key, label) for label, key in preset_choices(lang)).get(group, group)
    return group


def _short(text: str, limit: int = 36) -> str:
    """Long model ids and folders keep their end, which is the part that differs."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]
