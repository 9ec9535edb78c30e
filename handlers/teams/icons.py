"""The Teams app's two icons, drawn in code so `pmccg teams package` needs no image files or tools.

Teams asks for `color.png`, 192x192 in full colour, and `outline.png`, 32x32, white on a transparent
background (the manifest's `icons`; "App icons for Teams", Microsoft Learn). The glyph is a ring with
a tick in it (a group's question, answered), white on NHS blue in colour. Each shape is a signed
distance (pixels from its edge), so the edges are anti-aliased with one sample per pixel; the PNG is
written with zlib and struct (no Pillow), so the same bytes come out on every machine and version.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable, Sequence

COLOR_SIZE = 192
OUTLINE_SIZE = 32
NHS_BLUE = (0x00, 0x5E, 0xB8)
WHITE = (0xFF, 0xFF, 0xFF)

# The glyph in units of the icon's side: ring centre and radius, stroke, and the tick's three points.
_CENTRE = (0.5, 0.5)
_RADIUS = 0.36
_STROKE = 0.075
_TICK = ((0.34, 0.51), (0.45, 0.62), (0.66, 0.39))


def _segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


def _coverage(size: int, stroke: float) -> list[list[float]]:
    """How much of each pixel (0..1) the glyph covers, at `size` pixels a side."""
    half = stroke * size / 2
    centre = (_CENTRE[0] * size, _CENTRE[1] * size)
    radius = _RADIUS * size
    tick = [(x * size, y * size) for x, y in _TICK]
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            p = (x + 0.5, y + 0.5)
            ring = abs(math.hypot(p[0] - centre[0], p[1] - centre[1]) - radius)
            check = min(_segment_distance(p, tick[0], tick[1]), _segment_distance(p, tick[1], tick[2]))
            # Distance outside the stroke's edge, in pixels; half a pixel either side of it is blended.
            edge = min(ring, check) - half
            row.append(max(0.0, min(1.0, 0.5 - edge)))
        rows.append(row)
    return rows


def _png(size: int, channels: int, pixel: Callable[[float], Sequence[int]], coverage: list[list[float]]) -> bytes:
    colour_type = {3: 2, 4: 6}[channels]  # 2: RGB, 6: RGB with alpha
    raw = b"".join(b"\x00" + bytes(v for c in row for v in pixel(c)) for row in coverage)  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _blend(cover: float) -> tuple[int, int, int]:
    return tuple(round(b + (w - b) * cover) for b, w in zip(NHS_BLUE, WHITE, strict=True))  # type: ignore[return-value]


def color_png() -> bytes:
    """192x192, opaque: the white glyph on NHS blue."""
    return _png(COLOR_SIZE, 3, _blend, _coverage(COLOR_SIZE, _STROKE))


def outline_png() -> bytes:
    """32x32: the glyph in white, everything else fully transparent (a slightly bolder stroke, to read small)."""
    return _png(OUTLINE_SIZE, 4, lambda c: (*WHITE, round(255 * c)), _coverage(OUTLINE_SIZE, 0.09))
