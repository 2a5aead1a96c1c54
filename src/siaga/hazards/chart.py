"""Charts drawn on the server as inline SVG: nothing to fetch, nothing to run in the browser (a
warehouse may have no internet). Only numbers and escaped labels go into the markup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Point = tuple[datetime, float | None]


def _scale(points: Sequence[Point], width: float, height: float, pad: float) -> list[list[str]]:
    """Runs of consecutive known values as "x,y" strings (an unknown value breaks the line)."""
    known = [(t, v) for t, v in points if v is not None]
    if not known:
        return []
    t0, t1 = known[0][0].timestamp(), known[-1][0].timestamp()
    low, high = min(v for _t, v in known), max(v for _t, v in known)
    span_t = (t1 - t0) or 1.0
    span_v = (high - low) or 1.0
    runs: list[list[str]] = [[]]
    for at, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        x = pad + (at.timestamp() - t0) / span_t * (width - 2 * pad)
        y = height - pad - (value - low) / span_v * (height - 2 * pad)
        runs[-1].append(f"{x:.1f},{y:.1f}")
    return [run for run in runs if run]


def sparkline(points: Sequence[Point], *, width: int = 120, height: int = 28) -> SafeString:
    runs = _scale(points, width, height, 2)
    lines = "".join(
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{" ".join(run)}"/>'
        for run in runs
    )
    return mark_safe(  # noqa: S308 - numbers only
        f'<svg class="siaga-sparkline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-hidden="true">{lines}</svg>'
    )


def line_chart(
    points: Sequence[Point],
    *,
    unit: str = "",
    label: str = "",
    width: int = 800,
    height: int = 260,
    marks: Sequence[tuple[float, str]] = (),
) -> SafeString:
    """A line chart with its range, first and last time, and horizontal marks (a rule's
    threshold and clearing value)."""
    pad = 36
    known = [v for _t, v in points if v is not None]
    if not known:
        return mark_safe("")
    # The range holds the marks too, so a threshold above every value is still drawn.
    low, high = min(known + [m for m, _ in marks]), max(known + [m for m, _ in marks])
    span = (high - low) or 1.0
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    span_t = (t1 - t0) or 1.0

    def y_of(value: float) -> float:
        return height - pad - (value - low) / span * (height - 2 * pad)

    runs: list[list[str]] = [[]]
    for at, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        x = pad + (at.timestamp() - t0) / span_t * (width - 2 * pad)
        runs[-1].append(f"{x:.1f},{y_of(value):.1f}")
    parts = [
        f'<svg class="siaga-chart w-100" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">',
        f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" '
        'fill="none" stroke="#dee2e6"/>',
    ]
    for value, text in marks:
        y = y_of(value)
        parts.append(
            f'<line x1="{pad}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dc3545" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{width - pad}" y="{y - 3:.1f}" text-anchor="end" font-size="11" '
            f'fill="#dc3545">{escape(text)}</text>'
        )
    for run in runs:
        if run:
            points_text = " ".join(run)
            parts.append(
                f'<polyline fill="none" stroke="#0d6efd" stroke-width="2" points="{points_text}"/>'
            )
    first = timezone.localtime(points[0][0]).strftime("%d %b %H:%M")
    last = timezone.localtime(points[-1][0]).strftime("%d %b %H:%M")
    parts.append(
        f'<text x="{pad}" y="{height - 10}" font-size="11">{escape(first)}</text>'
        f'<text x="{width - pad}" y="{height - 10}" font-size="11" text-anchor="end">'
        f"{escape(last)}</text>"
        f'<text x="4" y="{pad + 4}" font-size="11">{high:.1f} {escape(unit)}</text>'
        f'<text x="4" y="{height - pad}" font-size="11">{low:.1f} {escape(unit)}</text>'
        "</svg>"
    )
    return mark_safe("".join(parts))  # noqa: S308 - numbers and escaped text only
