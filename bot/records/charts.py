"""Simple bar charts for the reports, as PNG data: URIs, so an HTML report is one self-contained file.

matplotlib's object API (Figure, not pyplot) renders with the Agg canvas: no display, no global
state shared between threads. A hidden (suppressed) count gets no bar, only its mark, so a chart
cannot reveal what the table hides.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from bot.records.suppression import Count

BAR = "#005eb8"  # NHS blue
TEXT = "#212b32"


def bar_chart(labels: Sequence[str], counts: Sequence[Count], title: str, *, horizontal: bool = True) -> str:
    """A bar per label with its count printed on it; a data: URI of the PNG."""
    # Imported here, not at the top: matplotlib and numpy would add ~50 MiB to every web process
    # that never draws a chart (bench/ measures the resident memory of `pmccg serve`).
    from matplotlib.figure import Figure

    height = max(1.6, 0.36 * len(labels) + 0.7) if horizontal else 3.2
    figure = Figure(figsize=(5.0, height), dpi=150)
    axes = figure.subplots()
    values = [c.value or 0 for c in counts]
    top = max(values, default=0) or 1
    positions = range(len(labels))
    if horizontal:
        axes.barh(positions, values, color=BAR, height=0.6)
        axes.set_yticks(list(positions), labels=list(labels), fontsize=10, color=TEXT)
        axes.invert_yaxis()
        axes.set_xlim(0, top * 1.18)
        axes.xaxis.set_visible(False)
        for y, count in zip(positions, counts, strict=True):
            axes.text((count.value or 0) + top * 0.02, y, count.shown, va="center", fontsize=10, color=TEXT)
    else:
        axes.bar(positions, values, color=BAR, width=0.6)
        axes.set_xticks(list(positions), labels=list(labels), fontsize=10, color=TEXT)
        axes.set_ylim(0, top * 1.18)
        axes.yaxis.set_visible(False)
        for x, count in zip(positions, counts, strict=True):
            axes.text(x, (count.value or 0) + top * 0.02, count.shown, ha="center", fontsize=10, color=TEXT)
    for side in ("top", "right", "left" if not horizontal else "bottom"):
        axes.spines[side].set_visible(False)
    axes.set_title(title, fontsize=10, color=TEXT, loc="left")
    figure.tight_layout()
    buffer = io.BytesIO()
    # No software/date metadata: the same figures give the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
