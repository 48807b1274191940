"""The dashboard's charts as server-side SVG: no script, no external resource, readable by screen readers
(each chart has a title and a description, and the page puts the same numbers in a table next to it)."""

from __future__ import annotations

from markupsafe import Markup, escape

from bot.money import format_brl
from bot.reports.results import Series

# Colour-blind-safe palette (Okabe-Ito), one colour per series in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH, ROW, LABEL = 640, 34, 150


def funnel_svg(steps: list[tuple[str, int]], title: str = "Funil") -> Markup:
    """Horizontal bars, one per step of the funnel, as long as its count (the first is the longest)."""
    top = max((count for _, count in steps), default=0) or 1
    height = ROW * len(steps) + 10
    bars = []
    for i, (name, count) in enumerate(steps):
        y = 5 + i * ROW
        width = round((WIDTH - LABEL - 90) * count / top)
        share = f"{count * 100 / steps[0][1]:.1f}".replace(".", ",") + " %" if steps[0][1] else ""
        bars.append(
            f'<text x="{LABEL - 8}" y="{y + 20}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{LABEL}" y="{y + 4}" width="{width}" height="{ROW - 10}" fill="{PALETTE[0]}"></rect>'
            f'<text x="{LABEL + width + 6}" y="{y + 20}">{count} {escape(share)}</text>'
        )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="funnel-title">'
        f'<title id="funnel-title">{escape(title)}</title>{"".join(bars)}</svg>'
    )


def series_svg(series: Series, chart_id: str, title: str) -> Markup:
    """Stacked bars of the amount recovered per day, one colour per series, with a legend beneath."""
    plot_h, left, bottom = 180, 70, 30
    labels = list(series.values)
    totals = [sum(series.values[label].get(day, 0) for label in labels) for day in series.days]
    top = max(totals, default=0) or 1
    step = (WIDTH - left - 10) / max(len(series.days), 1)
    bar_w = max(step * 0.8, 1)
    parts = [
        f'<line x1="{left}" y1="{plot_h}" x2="{WIDTH - 10}" y2="{plot_h}" stroke="#888"></line>',
        f'<text x="{left - 6}" y="14" text-anchor="end">{escape(format_brl(top))}</text>',
        f'<text x="{left - 6}" y="{plot_h}" text-anchor="end">R$ 0</text>',
    ]
    for i, day in enumerate(series.days):
        x, y = left + i * step, plot_h
        for n, label in enumerate(labels):
            cents = series.values[label].get(day, 0)
            h = (plot_h - 10) * cents / top
            if h > 0:
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(day.strftime("%d/%m"))} '
                    f"{escape(label)}: {escape(format_brl(cents))}</title></rect>"
                )
    if series.days:
        first, last = series.days[0].strftime("%d/%m"), series.days[-1].strftime("%d/%m")
        parts.append(f'<text x="{left}" y="{plot_h + 18}">{first}</text>')
        parts.append(f'<text x="{WIDTH - 10}" y="{plot_h + 18}" text-anchor="end">{last}</text>')
    legend_y = plot_h + bottom
    for n, label in enumerate(labels):
        x = left + (n % 4) * 140
        y = legend_y + (n // 4) * 20
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{PALETTE[n % len(PALETTE)]}"></rect>'
            f'<text x="{x + 16}" y="{y + 11}">{escape(label)}</text>'
        )
    height = legend_y + 20 * ((len(labels) + 3) // 4) + 10
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-title">'
        f'<title id="{chart_id}-title">{escape(title)}</title>{"".join(parts)}</svg>'
    )
