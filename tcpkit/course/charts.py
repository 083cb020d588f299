"""Small bar charts for the grading report, drawn by hand: SVG text and PNG bytes, no plotting library.

A :class:`BarChart` holds bars of stacked segments.  :meth:`BarChart.svg`
writes it as inline SVG (crisp in the HTML report); :meth:`BarChart.png`
rasterises the same layout into a PNG with the standard library
(``zlib`` + ``struct``): rectangles, lines and a 5x7 pixel font of capital
letters, digits and punctuation (lower case is drawn as capitals).

Examples
--------
>>> chart = BarChart("Scores", [Bar("0-1", [(3, "#b42318")]), Bar("9-10", [(12, "#1a7f37")])], y_label="students")
>>> chart.svg().startswith("<svg") and "Scores" in chart.svg()
True
>>> chart.png()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import html
import struct
import zlib
from dataclasses import dataclass, field

__all__ = ["Bar", "BarChart"]

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 40, 56

# 5x7 glyphs, one string of 7 rows of 5 pixels each ("#" = ink); drawn for this module.
_FONT = {
    "A": ".###.#...##...#######...##...##...#",
    "B": "####.#...##...#####.#...##...#####.",
    "C": ".###.#...##....#....#....#...#.###.",
    "D": "####.#...##...##...##...##...#####.",
    "E": "######....#....####.#....#....#####",
    "F": "######....#....####.#....#....#....",
    "G": ".###.#...##....#.####...##...#.####",
    "H": "#...##...##...#######...##...##...#",
    "I": ".###...#....#....#....#....#...###.",
    "J": "..###...#....#....#....#.#..#..##..",
    "K": "#...##..#.#.#..##...#.#..#..#.#...#",
    "L": "#....#....#....#....#....#....#####",
    "M": "#...###.###.#.##...##...##...##...#",
    "N": "#...###..##.#.##..###...##...##...#",
    "O": ".###.#...##...##...##...##...#.###.",
    "P": "####.#...##...#####.#....#....#....",
    "Q": ".###.#...##...##...##.#.##..#..##.#",
    "R": "####.#...##...#####.#.#..#..#.#...#",
    "S": ".#####....#.....###.....#....#####.",
    "T": "#####..#....#....#....#....#....#..",
    "U": "#...##...##...##...##...##...#.###.",
    "V": "#...##...##...##...##...#.#.#...#..",
    "W": "#...##...##...##.#.##.#.##.#.#.#.#.",
    "X": "#...##...#.#.#...#...#.#.#...##...#",
    "Y": "#...##...#.#.#...#....#....#....#..",
    "Z": "#####....#...#...#...#...#....#####",
    "0": ".###.#...##..###.#.###..##...#.###.",
    "1": "..#...##....#....#....#....#...###.",
    "2": ".###.#...#....#...#...#...#...#####",
    "3": "#####...#...#.....#.....##...#.###.",
    "4": "...#...##..#.#.#..#.#####...#....#.",
    "5": "######....####.....#....##...#.###.",
    "6": "..##..#...#....####.#...##...#.###.",
    "7": "#####....#...#...#...#....#....#...",
    "8": ".###.#...##...#.###.#...##...#.###.",
    "9": ".###.#...##...#.####....#...#..##..",
    " ": "...................................",
    ".": "...............................##..",
    ",": "..........................##...#...",
    ":": ".....##...##.........##...##.......",
    "-": "...............###.................",
    "_": "..............................#####",
    "/": ".....#...#...#...#...#.............",
    "(": "...#...#...#....#....#.....#.....#.",
    ")": ".#.....#.....#....#....#...#...#...",
    "%": "##...##..#...#...#...#...#..##...##",
    "'": "..#....#...#.......................",
    "#": ".#.#..#.#.#####.#.#.#####.#.#..#.#.",
    "+": ".......#....#..#####..#....#.......",
    "=": "..........#####.....#####..........",
    "<": "...#...#...#...#.....#.....#.....#.",
    ">": ".#.....#.....#.....#...#...#...#...",
    "?": ".###.#...#....#...#...#.........#..",
    "!": "..#....#....#....#....#.........#..",
    "*": ".......#..#.#.#.###.#.#.#..#.......",
}


@dataclass
class Bar:
    """One bar: a label under it and stacked segments ``(value, color)`` from the bottom up."""

    label: str
    segments: list[tuple[float, str]] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(v for v, _ in self.segments)


@dataclass
class BarChart:
    """A vertical bar chart with a title, a legend and a y axis from 0."""

    title: str
    bars: list[Bar]
    y_label: str = ""
    legend: list[tuple[str, str]] = field(default_factory=list)

    def _ymax(self) -> float:
        top = max([b.total for b in self.bars] + [1.0])
        step = _nice_step(top)
        return step * -(-top // step)

    def _layout(self) -> tuple[float, float, float]:
        plot_w = WIDTH - LEFT - RIGHT
        slot = plot_w / max(len(self.bars), 1)
        return plot_w, slot, min(slot * 0.7, 60)

    def svg(self) -> str:
        """The chart as an SVG element (inline in HTML)."""
        ymax = self._ymax()
        plot_w, slot, bw = self._layout()
        plot_h = HEIGHT - TOP - BOTTOM
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img" aria-label="{html.escape(self.title)}" font-family="sans-serif" '
            'font-size="12">',
            f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">'
            f"{html.escape(self.title)}</text>",
        ]
        step = _nice_step(ymax)
        v = 0.0
        while v <= ymax + 1e-9:
            y = TOP + plot_h - v / ymax * plot_h
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e4e7ec"/>')
            out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
            v += step
        for i, bar in enumerate(self.bars):
            x = LEFT + i * slot + (slot - bw) / 2
            base = 0.0
            for value, color in bar.segments:
                if value <= 0:
                    continue
                y0 = TOP + plot_h - (base + value) / ymax * plot_h
                h = value / ymax * plot_h
                out.append(
                    f'<rect x="{x:.1f}" y="{y0:.1f}" width="{bw:.1f}" height="{h:.1f}" fill="{color}">'
                    f"<title>{html.escape(bar.label)}: {_fmt(value)}</title></rect>"
                )
                base += value
            if bar.total:
                out.append(
                    f'<text x="{x + bw / 2:.1f}" y="{TOP + plot_h - bar.total / ymax * plot_h - 4:.1f}" '
                    f'text-anchor="middle" font-size="11">{_fmt(bar.total)}</text>'
                )
            label = html.escape(bar.label)
            out.append(f'<text x="{x + bw / 2:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{label}</text>')
        out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#344054"/>')
        if self.y_label:
            out.append(
                f'<text transform="translate(14 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
                f"{html.escape(self.y_label)}</text>"
            )
        lx = LEFT
        for name, color in self.legend:
            out.append(f'<rect x="{lx}" y="{HEIGHT - 18}" width="10" height="10" fill="{color}"/>')
            out.append(f'<text x="{lx + 14}" y="{HEIGHT - 9}">{html.escape(name)}</text>')
            lx += 14 + 8 * len(name) + 16
        out.append("</svg>")
        return "".join(out)

    def png(self, scale: int = 2) -> bytes:
        """The same chart as PNG bytes (``scale`` pixels per SVG unit)."""
        c = _Canvas(WIDTH * scale, HEIGHT * scale)
        s = scale
        ymax = self._ymax()
        plot_w, slot, bw = self._layout()
        plot_h = HEIGHT - TOP - BOTTOM
        c.text(WIDTH * s // 2, 10 * s, self.title, 2 * s // 1, center=True)
        step = _nice_step(ymax)
        v = 0.0
        while v <= ymax + 1e-9:
            y = int((TOP + plot_h - v / ymax * plot_h) * s)
            c.rect(LEFT * s, y, (WIDTH - RIGHT) * s, y + max(1, s // 2), (0xE4, 0xE7, 0xEC))
            label = _fmt(v)
            c.text((LEFT - 6) * s - len(label) * 6 * s, y - 3 * s, label, s)
            v += step
        for i, bar in enumerate(self.bars):
            x0 = int((LEFT + i * slot + (slot - bw) / 2) * s)
            x1 = int(x0 + bw * s)
            base = 0.0
            for value, color in bar.segments:
                if value <= 0:
                    continue
                y0 = int((TOP + plot_h - (base + value) / ymax * plot_h) * s)
                y1 = int((TOP + plot_h - base / ymax * plot_h) * s)
                c.rect(x0, y0, x1, max(y1, y0 + 1), _rgb(color))
                base += value
            if bar.total:
                t = _fmt(bar.total)
                c.text((x0 + x1) // 2, int((TOP + plot_h - bar.total / ymax * plot_h) * s) - 10 * s, t, s, center=True)
            c.text((x0 + x1) // 2, (TOP + plot_h + 8) * s, bar.label, s, center=True)
        c.rect(LEFT * s, (TOP + plot_h) * s, (WIDTH - RIGHT) * s, (TOP + plot_h) * s + s, (0x34, 0x40, 0x54))
        lx = LEFT * s
        for name, color in self.legend:
            c.rect(lx, (HEIGHT - 18) * s, lx + 10 * s, (HEIGHT - 8) * s, _rgb(color))
            c.text(lx + 14 * s, (HEIGHT - 17) * s, name, s)
            lx += (14 + 6 * len(name) + 16) * s
        if self.y_label:
            c.text(4 * s, (TOP - 14) * s, self.y_label, s)
        return c.encode()


def _nice_step(top: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 8:
            return float(step)
    return float(10 ** len(str(int(top))) / 10)


def _fmt(v: float) -> str:
    return f"{v:g}" if v != int(v) else str(int(v))


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


class _Canvas:
    """An RGB raster with rectangles and the 5x7 font, written as PNG (RFC 2083)."""

    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def rect(self, x0: int, y0: int, x1: int, y1: int, rgb: tuple[int, int, int]) -> None:
        x0, x1 = max(0, min(x0, x1)), min(self.w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.h, max(y0, y1))
        row = bytes(rgb) * (x1 - x0)
        for y in range(y0, y1):
            i = (y * self.w + x0) * 3
            self.px[i : i + len(row)] = row

    def text(self, x: int, y: int, text: str, scale: int, center: bool = False) -> None:
        text = text.upper()
        width = len(text) * 6 * scale
        if center:
            x -= width // 2
        for k, ch in enumerate(text):
            glyph = _FONT.get(ch, _FONT["?"])
            gx = x + k * 6 * scale
            for r in range(7):
                for col in range(5):
                    if glyph[r * 5 + col] == "#":
                        self.rect(
                            gx + col * scale,
                            y + r * scale,
                            gx + (col + 1) * scale,
                            y + (r + 1) * scale,
                            (0x10, 0x18, 0x28),
                        )

    def encode(self) -> bytes:
        raw = bytearray()
        stride = self.w * 3
        for y in range(self.h):
            raw.append(0)  # filter type 0 (None) for every scanline
            raw += self.px[y * stride : (y + 1) * stride]

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + chunk(b"IEND", b"")
        )
