"""Bar charts as inline SVG, made on the server: no script, nothing fetched, styled by the page's
stylesheet (class names), readable as text by screen readers (``<title>`` on every bar).

Every bar is a ``rect.bar`` with ``data-series`` and ``data-value``; the browser test counts
them and checks their drawn sizes against the values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .markup import Html, join, render


@dataclass(frozen=True)
class Series:
    #: names the CSS class ``s-<key>`` (the colour) and ``data-series``
    key: str
    label: str


@dataclass(frozen=True)
class Row:
    """One member in a row chart."""

    label: str
    #: the tooltip's name (the label may be shortened)
    hint: str
    values: Sequence[int]
    #: text at the end of the row (e.g. ``12 / 31 days``)
    note: str = ""
    #: an extra class on the row's bars (e.g. ``met``)
    state: str = ""
    #: the value of this row's full-length bar, when not the chart's ``scale_to`` (a member
    #: judged on fewer days than the period's reaches the goal with all of its own)
    scale_to: int | None = None


def nice_scale(top: int, ticks: int = 4) -> tuple[int, int]:
    """An axis end ≥ ``top`` and a step of 1, 2 or 5 × 10ⁿ, at most ``ticks`` steps."""
    if top <= 0:
        return ticks, 1
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude * ticks >= top)
    step = max(1, math.ceil(step))
    return step * math.ceil(top / step), step


def _n(x: float) -> str:
    return f"{x:.1f}".removesuffix(".0")


def _legend(series: Sequence[Series], x: float, y: float) -> Html:
    parts = []
    for s in series:
        parts.append(
            render(
                '<rect class="key s-{key}" x="{x}" y="{y}" width="10" height="10"/>'
                '<text class="legend" x="{tx}" y="{ty}">{label}</text>',
                key=s.key,
                x=_n(x),
                y=_n(y),
                tx=_n(x + 14),
                ty=_n(y + 9),
                label=s.label,
            )
        )
        x += 24 + 6.5 * len(s.label)
    return join(parts)


def short_name(text: str, limit: int = 30) -> str:
    """A long name shortened in the middle, by whole words, so that names that begin alike
    stay apart: ``Radiodiffusion … Sénégalaise``, ``Radiodiffusion … Ivoirienne``."""
    if len(text) <= limit:
        return text
    words = text.split()
    head = [words[0]]
    while len(head) < len(words) and len(" ".join([*head, words[len(head)]])) <= limit * 0.55:
        head.append(words[len(head)])
    start = " ".join(head)
    if len(start) > limit - 1:
        return start[: limit - 1].rstrip() + "…"
    tail: list[str] = []
    while len(head) + len(tail) < len(words):
        candidate = [words[len(words) - len(tail) - 1], *tail]
        if len(start) + 3 + len(" ".join(candidate)) > limit:
            break
        tail = candidate
    return f"{start} … {' '.join(tail)}" if tail else start + " …"


def column_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[int]],
    *,
    highlight: int | None = None,
    width: int = 760,
    height: int = 280,
) -> Html:
    """Grouped columns: ``values[s][c]`` is series ``s`` in category ``c``."""
    left, right, top, bottom = 52, 12, 34, 30
    pw, ph = width - left - right, height - top - bottom
    ymax, step = nice_scale(max((v for vs in values for v in vs), default=0))
    group = pw / max(1, len(categories))
    bar = group * 0.78 / max(1, len(series))
    parts = [
        render(
            '<svg class="chart" id="{cid}" data-chart="{cid}" viewBox="0 0 {w} {h}" role="img" '
            'aria-labelledby="{cid}-title"><title id="{cid}-title">{title}</title>',
            cid=chart_id,
            w=width,
            h=height,
            title=title,
        )
    ]
    if highlight is not None:
        parts.append(
            render(
                '<rect class="sel" x="{x}" y="{y}" width="{w}" height="{h}"/>',
                x=_n(left + highlight * group),
                y=top,
                w=_n(group),
                h=ph,
            )
        )
    for t in range(0, ymax + 1, step):
        y = top + ph - t / ymax * ph
        parts.append(
            render(
                '<line class="grid" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}"/>'
                '<text class="tick" x="{tx}" y="{ty}" text-anchor="end">{t}</text>',
                x1=left,
                x2=left + pw,
                y=_n(y),
                tx=left - 6,
                ty=_n(y + 4),
                t=f"{t:,}",
            )
        )
    for c, category in enumerate(categories):
        x0 = left + c * group + (group - bar * len(series)) / 2
        for s, ser in enumerate(series):
            v = values[s][c]
            h = v / ymax * ph
            parts.append(
                render(
                    '<rect class="bar s-{key}" data-series="{key}" data-value="{v}" x="{x}" '
                    'y="{y}" width="{w}" height="{h}"><title>{cat}: {vt} {label}</title></rect>',
                    key=ser.key,
                    v=v,
                    x=_n(x0 + s * bar),
                    y=_n(top + ph - h),
                    w=_n(bar),
                    h=_n(h),
                    cat=category,
                    vt=f"{v:,}",
                    label=ser.label.lower(),
                )
            )
        parts.append(
            render(
                '<text class="cat" x="{x}" y="{y}" text-anchor="middle">{cat}</text>',
                x=_n(left + (c + 0.5) * group),
                y=height - 10,
                cat=category,
            )
        )
    parts.append(_legend(series, left, 8))
    parts.append(Html("</svg>"))
    return join(parts)


def row_chart(
    chart_id: str,
    title: str,
    rows: Sequence[Row],
    series: Sequence[Series],
    *,
    scale_to: int | None = None,
    goal: tuple[int, str] | None = None,
    value_labels: bool = True,
    width: int = 560,
) -> Html:
    """Horizontal bars, one row per member, one bar per series in each row. ``scale_to`` is the
    value of a full-length bar (default: the largest); ``goal`` draws a line at a value."""
    label_w, note_w, top = 206, 92, 34
    bar_h, gap = 11, 3
    row_h = len(series) * (bar_h + gap) + 9
    height = top + max(1, len(rows)) * row_h + 6
    pw = width - label_w - note_w - 8
    vmax = scale_to if scale_to else max((v for r in rows for v in r.values), default=0)
    vmax = max(1, vmax)
    parts = [
        render(
            '<svg class="chart" id="{cid}" data-chart="{cid}" viewBox="0 0 {w} {h}" role="img" '
            'aria-labelledby="{cid}-title"><title id="{cid}-title">{title}</title>',
            cid=chart_id,
            w=width,
            h=height,
            title=title,
        )
    ]
    if not rows:
        parts.append(
            render('<text class="note" x="{x}" y="{y}">No members yet.</text>', x=label_w, y=50)
        )
    for i, row in enumerate(rows):
        y0 = top + i * row_h
        if i % 2:
            parts.append(
                render(
                    '<rect class="band" x="0" y="{y}" width="{w}" height="{h}"/>',
                    y=_n(y0 - 2),
                    w=width,
                    h=row_h,
                )
            )
        parts.append(
            render(
                '<text class="name" x="{x}" y="{y}" text-anchor="end">{label}<title>{hint}'
                "</title></text>",
                x=label_w - 8,
                y=_n(y0 + row_h / 2 + 1),
                label=short_name(row.label),
                hint=row.hint,
            )
        )
        rmax = vmax if row.scale_to is None else max(1, row.scale_to)
        for s, ser in enumerate(series):
            v = row.values[s]
            w = min(v, rmax) / rmax * pw
            y = y0 + 2 + s * (bar_h + gap)
            parts.append(
                render(
                    '<rect class="bar s-{key}{state}" data-series="{key}" data-value="{v}" '
                    'x="{x}" y="{y}" width="{w}" height="{h}"><title>{hint}: {vt} {label}'
                    "</title></rect>{value}",
                    key=ser.key,
                    state=f" {row.state}" if row.state else "",
                    v=v,
                    x=label_w,
                    y=_n(y),
                    w=_n(w),
                    h=bar_h,
                    hint=row.hint,
                    vt=f"{v:,}",
                    label=ser.label.lower(),
                    value=render(
                        '<text class="value" x="{x}" y="{y}">{v}</text>',
                        x=_n(label_w + w + 4),
                        y=_n(y + bar_h - 2),
                        v=f"{v:,}",
                    )
                    if value_labels
                    else Html(""),
                )
            )
        if row.note:
            parts.append(
                render(
                    '<text class="note{state}" x="{x}" y="{y}" text-anchor="end">{note}</text>',
                    state=f" {row.state}" if row.state else "",
                    x=width - 4,
                    y=_n(y0 + row_h / 2 + 1),
                    note=row.note,
                )
            )
    if goal is not None:
        gx = label_w + min(goal[0], vmax) / vmax * pw
        parts.append(
            render(
                '<line class="goal" x1="{x}" x2="{x}" y1="{y1}" y2="{y2}"/>'
                '<text class="goal-label" x="{x}" y="{ty}" text-anchor="end">{label}</text>',
                x=_n(gx),
                y1=top - 6,
                y2=height - 4,
                ty=top - 10,
                label=goal[1],
            )
        )
    parts.append(_legend(series, label_w, 8))
    parts.append(Html("</svg>"))
    return join(parts)
