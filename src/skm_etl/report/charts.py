"""Charts as SVG text, made here so a report renders offline with nothing to fetch.

Each function takes values already read from the marts and returns one `<svg>` element
with a viewBox (it scales to the page) and a <title> for screen readers. Numbers on the
charts go through `fmt`, so they read as in the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from skm_etl.report import fmt

FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
GRADE_COLORS = {"A": "#1b7f3b", "B": "#1f6fb2", "C": "#c77c00", "D": "#b3261e"}
GRADE_TINTS = {"A": "#e3f2e7", "B": "#e2edf8", "C": "#fbf0dc", "D": "#f8e1df"}
NO_GRADE_COLOR = "#8a8f98"
# Lower edges of the PermenPANRB 14/2017 bands on the 0–100 value (SPEC §3), for shading only.
BANDS = (("A", 88.31, 100.0), ("B", 76.61, 88.31), ("C", 65.0, 76.61), ("D", 0.0, 65.0))
INK = "#1d2733"
MUTED = "#5b6673"
GRID = "#d5dae0"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str
    dashed: bool = False


def _t(text: object) -> str:
    return escape(str(text), {'"': "&quot;"})


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" font-family="{FONT}" '
        f'class="chart"><title>{_t(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(
    x: float,
    y: float,
    text: object,
    *,
    size: float = 12,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
    halo: bool = False,
) -> str:
    # A white outline behind a value label keeps it legible where it crosses a gridline.
    outline = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"' if halo else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}"{outline}>{_t(text)}</text>'
    )


def wrap(text: str, max_chars: int) -> list[str]:
    """Break text into lines of at most `max_chars` characters, at spaces."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if len(candidate) <= max_chars or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines or [""]


def _y_floor(values: Sequence[float]) -> float:
    """Lowest gridline: 10 below the lowest value, in tens, never above 60 nor below 0."""
    low = min(values, default=60.0)
    return max(0.0, min(60.0, (int(low) // 10) * 10 - 10.0))


def line_chart(
    years: Sequence[int], series: Sequence[Series], *, title: str, width: int = 720
) -> str:
    """A line per series over `years`; a None value leaves a gap in its line (no survey).

    The grade bands shade the background so a reader sees the mutu of each point.
    """
    height = 300
    left, right, top, bottom = 48, 70, 18, 62
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values if v is not None]
    y_min, y_max = _y_floor(values), 100.0

    def x_of(i: int) -> float:
        if len(years) == 1:
            return left + plot_w / 2
        return left + 24 + i * (plot_w - 48) / (len(years) - 1)

    def y_of(v: float) -> float:
        return top + (y_max - v) / (y_max - y_min) * plot_h

    body: list[str] = []
    for grade, low, high in BANDS:
        lo, hi = max(low, y_min), min(high, y_max)
        if hi <= lo:
            continue
        body.append(
            f'<rect x="{left}" y="{y_of(hi):.1f}" width="{plot_w}" '
            f'height="{y_of(lo) - y_of(hi):.1f}" fill="{GRADE_TINTS[grade]}"/>'
        )
        body.append(
            _text(
                left + plot_w + 8,
                (y_of(hi) + y_of(lo)) / 2 + 4,
                f"Mutu {grade}",
                size=11,
                fill=GRADE_COLORS[grade],
                weight="bold",
            )
        )
    tick = 10 if y_max - y_min <= 50 else 20
    v = y_min
    while v <= y_max + 0.001:
        y = y_of(v)
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y + 4, fmt.number(v, 0), size=11, anchor="end", fill=MUTED))
        v += tick
    for i, year in enumerate(years):
        gap = all(s.values[i] is None for s in series)
        body.append(_text(x_of(i), top + plot_h + 18, year, size=12, anchor="middle"))
        if gap:
            body.append(
                f'<line x1="{x_of(i):.1f}" x2="{x_of(i):.1f}" y1="{top}" y2="{top + plot_h}" '
                f'stroke="{MUTED}" stroke-width="1" stroke-dasharray="3 4"/>'
            )
            body.append(
                _text(
                    x_of(i),
                    top + plot_h + 32,
                    "tidak ada survei",
                    size=10,
                    anchor="middle",
                    fill=MUTED,
                )
            )
    for s_index, s in enumerate(series):
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, value in enumerate(s.values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x_of(i):.1f},{y_of(value):.1f}")
        if segment:
            segments.append(segment)
        dash = ' stroke-dasharray="7 4"' if s.dashed else ""
        for points in segments:
            if len(points) > 1:
                body.append(
                    f'<polyline points="{" ".join(points)}" fill="none" stroke="{s.color}" '
                    f'stroke-width="2.5"{dash}/>'
                )
        for i, value in enumerate(s.values):
            if value is None:
                continue
            body.append(
                f'<circle cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="4.5" fill="{s.color}" '
                f'stroke="#fff" stroke-width="1.5"/>'
            )
            # With two series, the first labels above its point and the second below.
            dy = -10 if s_index == 0 else 20
            body.append(
                _text(
                    x_of(i),
                    y_of(value) + dy,
                    fmt.number(value),
                    size=11,
                    anchor="middle",
                    fill=s.color,
                    weight="bold",
                    halo=True,
                )
            )
    legend_y = height - 10
    x = left
    for s in series:
        dash = ' stroke-dasharray="7 4"' if s.dashed else ""
        body.append(
            f'<line x1="{x}" x2="{x + 26}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{s.color}" stroke-width="2.5"{dash}/>'
        )
        body.append(_text(x + 32, legend_y, s.name, size=11))
        x += 40 + int(len(s.name) * 6.6)
    return _svg(width, height, title, body)


def unsur_bars(
    rows: Sequence[tuple[str, str, float | None, float | None]],
    *,
    year: int,
    previous_year: int | None,
    title: str,
    width: int = 720,
) -> str:
    """Horizontal bars of each unsur's index (code, name, this year, previous survey year).

    The axis runs 0–100 so bar lengths compare honestly; the grade edges are dashed.
    """
    has_previous = previous_year is not None and any(r[3] is not None for r in rows)
    bar_h = 13
    row_h = 2 * bar_h + 12 if has_previous else bar_h + 14
    left, right, top = 250, 64, 12
    plot_w = width - left - right
    height = top + row_h * len(rows) + 52

    def x_of(v: float) -> float:
        return left + v / 100 * plot_w

    body: list[str] = []
    for v in range(0, 101, 20):
        body.append(
            f'<line x1="{x_of(v):.1f}" x2="{x_of(v):.1f}" y1="{top}" '
            f'y2="{top + row_h * len(rows)}" stroke="{GRID}"/>'
        )
        body.append(
            _text(x_of(v), top + row_h * len(rows) + 14, v, size=10, anchor="middle", fill=MUTED)
        )
    for grade, low, _ in BANDS[:-1]:
        body.append(
            f'<line x1="{x_of(low):.1f}" x2="{x_of(low):.1f}" y1="{top}" '
            f'y2="{top + row_h * len(rows)}" stroke="{GRADE_COLORS[grade]}" '
            f'stroke-dasharray="4 3"/>'
        )
    for i, (code, name, current, previous) in enumerate(rows):
        y = top + i * row_h + 4
        label = wrap(f"{code} {name}", 36)
        for j, line in enumerate(label[:2]):
            body.append(
                _text(
                    left - 8,
                    y + 11 + j * 13 - (len(label[:2]) - 1) * 3,
                    line,
                    size=11,
                    anchor="end",
                )
            )
        bars = [(current, "#1f4e79", str(year))]
        if has_previous:
            bars.append((previous, "#9fb4c8", str(previous_year)))
        for k, (value, color, _label) in enumerate(bars):
            by = y + k * (bar_h + 2)
            if value is None:
                body.append(_text(left + 4, by + 10, fmt.MISSING, size=10, fill=MUTED))
                continue
            body.append(
                f'<rect x="{left}" y="{by}" width="{x_of(value) - left:.1f}" height="{bar_h}" '
                f'fill="{color}"/>'
            )
            body.append(
                _text(
                    x_of(value) + 4,
                    by + 10.5,
                    fmt.number(value),
                    size=10,
                    fill=INK if k == 0 else MUTED,
                    weight="bold" if k == 0 else "normal",
                    halo=True,
                )
            )
    legend_y = height - 12
    body.append(f'<rect x="{left}" y="{legend_y - 10}" width="14" height="10" fill="#1f4e79"/>')
    body.append(_text(left + 20, legend_y, f"Tahun {year}", size=11))
    x = left + 110
    if has_previous:
        body.append(f'<rect x="{x}" y="{legend_y - 10}" width="14" height="10" fill="#9fb4c8"/>')
        body.append(_text(x + 20, legend_y, f"Tahun {previous_year}", size=11))
        x += 110
    body.append(
        f'<line x1="{x}" x2="{x + 18}" y1="{legend_y - 5}" y2="{legend_y - 5}" '
        f'stroke="{MUTED}" stroke-dasharray="4 3"/>'
    )
    body.append(_text(x + 24, legend_y, "batas mutu (65,00 · 76,61 · 88,31)", size=11))
    return _svg(width, height, title, body)


def ranking_bars(
    rows: Sequence[tuple[str, float | None, str | None]], *, title: str, width: int = 720
) -> str:
    """One horizontal bar per unit (label, IKM, mutu), coloured by grade, in the given order."""
    bar_h, gap = 14, 6
    left, right, top = 270, 60, 8
    plot_w = width - left - right
    height = top + (bar_h + gap) * len(rows) + 30

    def x_of(v: float) -> float:
        return left + v / 100 * plot_w

    body: list[str] = []
    for v in range(0, 101, 20):
        body.append(
            f'<line x1="{x_of(v):.1f}" x2="{x_of(v):.1f}" y1="{top}" '
            f'y2="{height - 26}" stroke="{GRID}"/>'
        )
        body.append(_text(x_of(v), height - 12, v, size=10, anchor="middle", fill=MUTED))
    for i, (label, value, mutu) in enumerate(rows):
        y = top + i * (bar_h + gap)
        short = label if len(label) <= 42 else label[:41] + "…"
        body.append(_text(left - 8, y + 11, short, size=11, anchor="end"))
        if value is None:
            body.append(_text(left + 4, y + 11, "belum ada respons dihitung", size=10, fill=MUTED))
            continue
        color = GRADE_COLORS.get(mutu or "", NO_GRADE_COLOR)
        body.append(
            f'<rect x="{left}" y="{y}" width="{x_of(value) - left:.1f}" height="{bar_h}" '
            f'fill="{color}"/>'
        )
        body.append(
            _text(
                x_of(value) + 4,
                y + 11,
                f"{fmt.number(value)} ({mutu or fmt.MISSING})",
                size=10,
                weight="bold",
                halo=True,
            )
        )
    return _svg(width, height, title, body)


def grade_bars(counts: Sequence[tuple[str, str, int]], *, title: str, width: int = 420) -> str:
    """Vertical bars: how many units got each grade (grade, kinerja, units)."""
    height = 220
    left, top, bottom = 20, 24, 48
    plot_h = height - top - bottom
    slot = (width - 2 * left) / max(len(counts), 1)
    most = max((c for _, _, c in counts), default=0) or 1
    body: list[str] = [
        f'<line x1="{left}" x2="{width - left}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{MUTED}"/>'
    ]
    for i, (grade, label, count) in enumerate(counts):
        x = left + i * slot + slot * 0.2
        h = count / most * plot_h
        body.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{h:.1f}" fill="{GRADE_COLORS.get(grade, NO_GRADE_COLOR)}"/>'
        )
        body.append(
            _text(
                x + slot * 0.3,
                top + plot_h - h - 6,
                fmt.integer(count),
                size=13,
                anchor="middle",
                weight="bold",
            )
        )
        body.append(
            _text(
                x + slot * 0.3,
                top + plot_h + 18,
                f"Mutu {grade}",
                size=12,
                anchor="middle",
                weight="bold",
                fill=GRADE_COLORS.get(grade, INK),
            )
        )
        body.append(
            _text(x + slot * 0.3, top + plot_h + 34, label, size=10, anchor="middle", fill=MUTED)
        )
    return _svg(width, height, title, body)


def card(
    *,
    unit_name: str,
    year: int,
    ikm: float | None,
    mutu: str | None,
    kinerja: str | None,
    respondents: int,
    period: str,
    ipak: float | None,
) -> str:
    """The square infographic card a unit posts on its site and social media (1080 × 1080)."""
    size = 1080
    color = GRADE_COLORS.get(mutu or "", NO_GRADE_COLOR)
    body: list[str] = [
        f'<rect width="{size}" height="{size}" fill="#ffffff"/>',
        f'<rect width="{size}" height="236" fill="{INK}"/>',
        _text(72, 92, "SURVEI KEPUASAN MASYARAKAT", size=40, fill="#ffffff", weight="bold"),
        _text(72, 146, f"Tahun {year}", size=34, fill="#cfd8e3"),
        _text(72, 200, "Badan Pengawas Obat dan Makanan", size=28, fill="#cfd8e3"),
    ]
    lines = wrap(unit_name, 30)
    if len(lines) > 3:
        lines = [*lines[:2], lines[2] + "…"]
    for i, line in enumerate(lines):
        body.append(_text(72, 310 + i * 58, line, size=48, weight="bold"))
    y0 = 310 + (len(lines) - 1) * 58 + 40
    cx, cy = 880, y0 + 170
    body.append(_text(72, y0 + 40, "Indeks Kepuasan Masyarakat (IKM)", size=32, fill=MUTED))
    body.append(_text(cx, y0 + 40, "Mutu", size=32, anchor="middle", fill=MUTED))
    index = fmt.number(ikm)
    # "100,00" at the size of "88,45" would run into the grade circle.
    index_size = 200 if len(index) <= 5 else 165
    body.append(_text(72, y0 + 230, index, size=index_size, weight="bold", fill=color))
    body.append(f'<circle cx="{cx}" cy="{cy}" r="105" fill="{color}"/>')
    body.append(
        _text(
            cx,
            cy + 56,
            mutu or fmt.MISSING,
            size=155,
            anchor="middle",
            fill="#ffffff",
            weight="bold",
        )
    )
    body.append(
        f'<rect x="72" y="{y0 + 295}" width="{size - 144}" height="90" rx="14" fill="{color}"/>'
    )
    body.append(
        _text(
            size / 2,
            y0 + 354,
            f"Kinerja unit pelayanan: {kinerja or fmt.MISSING}",
            size=40,
            anchor="middle",
            fill="#ffffff",
            weight="bold",
        )
    )
    facts = [f"{fmt.integer(respondents)} responden · Periode {period}"]
    if ipak is not None:
        facts.append(f"Indeks Persepsi Anti Korupsi (IPAK) {fmt.number(ipak)}")
    for i, fact in enumerate(facts):
        body.append(_text(72, y0 + 445 + i * 44, fact, size=28, fill=INK))
    body.append(
        _text(
            size - 72,
            size - 36,
            "Mutu A 88,31–100 · B 76,61–88,30 · C 65,00–76,60 · D < 65,00",
            size=22,
            anchor="end",
            fill=MUTED,
        )
    )
    return _svg(size, size, f"IKM {unit_name} {year}: {fmt.number(ikm)} ({mutu})", body)
