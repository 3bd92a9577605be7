"""Turn the report data into HTML (Jinja2 templates with their CSS) and the SVG card.

Every number a report shows is written through `figure()`, which wraps it in
`<span data-key=… data-value=…>` holding the mart value at full precision next to its
Indonesian display; the same values are embedded as JSON (`#skm-report-data`). A
reader, a test or an auditor can check any figure on the page against the marts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from skm_etl.report import charts, fmt
from skm_etl.report.data import NationalReport, UnitReport

TEMPLATES = Path(__file__).parent / "templates"

# PermenPANRB 14/2017 (SPEC §3): the legend printed under every table of grades.
GRADE_LEGEND = (
    ("A", "88,31 – 100,00", "Sangat Baik"),
    ("B", "76,61 – 88,30", "Baik"),
    ("C", "65,00 – 76,60", "Kurang Baik"),
    ("D", "di bawah 65,00", "Tidak Baik"),
)
KINERJA = {grade: label for grade, _, label in GRADE_LEGEND}

FORMATTERS: dict[str, Callable[[Any], str]] = {
    "number": fmt.number,
    "integer": fmt.integer,
    "percent": fmt.percent,
    "signed": fmt.signed,
}


def figure(key: str, value: Any, kind: str = "number") -> Markup:
    """A displayed number with its mart value and key attached as data attributes."""
    raw = "" if value is None else repr(float(value)) if kind != "integer" else str(int(value))
    return Markup(
        f'<span class="fig" data-key="{escape(key)}" data-kind="{kind}" '
        f'data-value="{raw}">{escape(FORMATTERS[kind](value))}</span>'
    )


def css_text(text: str) -> Markup:
    """Text for a CSS string in the <style> element (a page's running head)."""
    cleaned = "".join(c for c in text if c.isprintable() and c not in "<>")
    return Markup(cleaned.replace("\\", "\\\\").replace('"', '\\"'))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot put {type(value).__name__} in the report data")


def report_json(report: UnitReport | NationalReport) -> Markup:
    """The report's data as JSON, safe inside a <script> element."""
    text = json.dumps(dataclasses.asdict(report), default=_json_default, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c"))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=fmt.number,
        int=fmt.integer,
        pct=fmt.percent,
        signed=fmt.signed,
        date=fmt.date,
        datetime=fmt.datetime,
        direction=fmt.direction,
    )
    env.globals.update(
        figure=figure,
        css_text=css_text,
        grade_legend=GRADE_LEGEND,
        kinerja=KINERJA,
        grade_colors=charts.GRADE_COLORS,
        characteristic_labels=fmt.CHARACTERISTIC_LABELS,
        counting_labels=fmt.COUNTING_LABELS,
    )
    return env


def period(start: dt.date, end: dt.date) -> str:
    """`1 April – 30 Juni 2025`, or both years when they differ."""
    if start.year == end.year:
        head = f"{start.day} {fmt.MONTHS[start.month - 1]}"
        return f"{head} – {fmt.date(end)}"
    return f"{fmt.date(start)} – {fmt.date(end)}"


def render_unit(report: UnitReport, *, generated_at: dt.datetime) -> str:
    """The Laporan SKM of one unit and year as one self-contained HTML page."""
    unsur_chart = charts.unsur_bars(
        [(u.unsur_code, u.unsur_name or "", u.ikm, u.previous_ikm) for u in report.unsur],
        year=report.year,
        previous_year=report.summary.previous_year,
        title=f"Nilai per unsur {report.unit.name} {report.year}",
    )
    trend_chart = charts.line_chart(
        [p.survey_year for p in report.trend],
        [charts.Series("IKM unit", [p.ikm for p in report.trend], "#1f4e79")],
        title=f"Tren IKM {report.unit.name}",
    )
    planned_unsur = {p.unsur_code for p in report.rtl_plans}
    return (
        _environment()
        .get_template("unit.html.j2")
        .render(
            r=report,
            period=period(report.window_start, report.window_end),
            unsur_chart=Markup(unsur_chart),
            trend_chart=Markup(trend_chart),
            planned_unsur=planned_unsur,
            data_json=report_json(report),
            generated_at=generated_at,
            source_file=Path(report.source.warehouse).name,
        )
    )


def render_card(report: UnitReport) -> str:
    """The square infographic card of one unit and year, as standalone SVG."""
    return charts.card(
        unit_name=report.unit.name,
        year=report.year,
        ikm=report.summary.ikm,
        mutu=report.summary.mutu,
        kinerja=report.summary.kinerja,
        respondents=report.summary.respondents_counted,
        period=period(report.window_start, report.window_end),
        ipak=report.ipak_unit.ikm if report.ipak_unit else None,
    )


def render_national(report: NationalReport, *, generated_at: dt.datetime) -> str:
    """The central office's national summary of one year as one self-contained HTML page."""
    # A chart taller than a page would be cut off in the PDF: 40 units per chart fit on A4.
    ranked = [(u.unit_name, u.ikm, u.mutu) for u in report.ranking]
    ranking_charts = [
        Markup(charts.ranking_bars(ranked[i : i + 40], title=f"Peringkat IKM unit {report.year}"))
        for i in range(0, max(len(ranked), 1), 40)
    ]
    grade_chart = charts.grade_bars(
        [(g.mutu, KINERJA[g.mutu], g.units) for g in report.grades],
        title=f"Sebaran mutu unit {report.year}",
    )
    trend_chart = charts.line_chart(
        [p.survey_year for p in report.trend],
        [
            charts.Series("IKM gabungan (pooled)", [p.ikm_pooled for p in report.trend], "#1f4e79"),
            charts.Series(
                "Rata-rata IKM unit",
                [p.ikm_unit_mean for p in report.trend],
                "#b35c00",
                dashed=True,
            ),
        ],
        title="Tren IKM nasional BPOM",
    )
    return (
        _environment()
        .get_template("national.html.j2")
        .render(
            r=report,
            ranking_charts=ranking_charts,
            grade_chart=Markup(grade_chart),
            trend_chart=Markup(trend_chart),
            data_json=report_json(report),
            generated_at=generated_at,
            source_file=Path(report.source.warehouse).name,
        )
    )


def slug(text: str) -> str:
    """A file-name-safe form of a unit code."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower() or "unit"
