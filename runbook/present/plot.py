"""Small self-contained SVG bar charts for the report (no plotting library, nothing fetched)."""

from __future__ import annotations

import html

COLOURS = {"datasheet": "#8c959f", "host": "#0969da", "container": "#1a7f37"}


def bars(title: str, unit: str, values: dict[str, float | None], width: int = 520) -> str:
    """One horizontal bar per label, scaled to the largest value, each labelled with its figure."""
    shown = {k: v for k, v in values.items() if v is not None}
    top = max(shown.values(), default=1.0) or 1.0
    row, left, right = 26, 90, 110
    height = 30 + row * len(shown)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}" style="font-family:system-ui,sans-serif;font-size:12px">',
        f'<text x="0" y="16" font-weight="600">{html.escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(shown.items()):
        y = 26 + i * row
        w = (width - left - right) * value / top
        parts.append(
            f'<text x="0" y="{y + 14}">{html.escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="18" fill="{COLOURS.get(label, "#6e7781")}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 14}">{value:,.0f} {html.escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
