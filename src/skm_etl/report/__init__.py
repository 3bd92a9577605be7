"""`skm-etl report`: the yearly Laporan SKM of a unit, its infographic card, the national summary.

Everything shown is read from the served file's marts (read-only); this package only
selects, formats and lays out. Outputs, in `--out`:

- unit:     laporan-skm-<unit>-<year>.html / .pdf, kartu-skm-<unit>-<year>.svg / .png
- national: laporan-skm-nasional-<year>.html / .pdf

Exit status: 0 every file written; 1 nothing written (bad arguments, unknown unit or
year, no served file); 2 the HTML and SVG were written but not the PDF/PNG, because
Chromium is missing or failed; the message says how to install it.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

from skm_etl.report import browser, data, render
from skm_etl.settings import ConfigError, load_settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 2
CARD_SIZE = 1080


@dataclass
class Written:
    files: list[Path] = field(default_factory=list)
    pending: list[tuple[Path, Path, str]] = field(default_factory=list)  # source, target, kind


def report_command(config: str, unit: str | None, year: int, out: str, national: bool) -> int:
    """Write the report files for one unit and year (or the national summary) into `out`.

    Returns the exit status (module docstring). Messages for the operator go to stderr,
    the list of files written to stdout.
    """
    if national == (unit is not None):
        print(
            "skm-etl report: pilih salah satu / give exactly one of --unit NAME or --national",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        print(f"skm-etl report: {exc}", file=sys.stderr)
        return EXIT_FAILED
    out_dir = Path(out).expanduser().resolve()
    generated_at = dt.datetime.now().replace(microsecond=0)
    try:
        con = data.connect(settings.warehouse)
        try:
            if national:
                written = _national(con, settings.warehouse, year, out_dir, generated_at)
            else:
                window = settings.window_for(year)
                written = _unit(
                    con,
                    settings.warehouse,
                    unit or "",
                    year,
                    out_dir,
                    generated_at,
                    window=(window.start, window.end),
                    scale=settings.scale,
                )
        finally:
            con.close()
    except data.ReportError as exc:
        print(f"skm-etl report: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(
            f"skm-etl report: tidak dapat menulis / cannot write to {out_dir}: {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return _finish(written)


def _unit(
    con,
    warehouse: Path,
    query: str,
    year: int,
    out_dir: Path,
    generated_at: dt.datetime,
    *,
    window: tuple[dt.date, dt.date],
    scale: int,
) -> Written:
    found = data.find_unit(con, query, warehouse)
    report = data.load_unit_report(
        con, found, year, warehouse=warehouse, window=window, scale=scale
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{render.slug(found.code)}-{year}"
    html = out_dir / f"laporan-skm-{stem}.html"
    svg = out_dir / f"kartu-skm-{stem}.svg"
    html.write_text(render.render_unit(report, generated_at=generated_at), encoding="utf-8")
    svg.write_text(render.render_card(report), encoding="utf-8")
    return Written(
        files=[html, svg],
        pending=[(html, html.with_suffix(".pdf"), "pdf"), (svg, svg.with_suffix(".png"), "png")],
    )


def _national(con, warehouse: Path, year: int, out_dir: Path, generated_at: dt.datetime) -> Written:
    report = data.load_national_report(con, year, warehouse=warehouse)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = out_dir / f"laporan-skm-nasional-{year}.html"
    html.write_text(render.render_national(report, generated_at=generated_at), encoding="utf-8")
    return Written(files=[html], pending=[(html, html.with_suffix(".pdf"), "pdf")])


def _finish(written: Written) -> int:
    chromium = browser.find_chromium()
    status = EXIT_OK
    if chromium is None:
        targets = ", ".join(target.name for _, target, _ in written.pending)
        print(
            f"skm-etl report: Chromium tidak ditemukan / Chromium not found; {targets} "
            f"belum dibuat / not written. HTML dan SVG sudah ditulis / HTML and SVG written. "
            f"{browser.INSTALL_HINT}",
            file=sys.stderr,
        )
        status = EXIT_PARTIAL
    else:
        for source, target, kind in written.pending:
            try:
                if kind == "pdf":
                    browser.print_pdf(source, target, chromium=chromium)
                else:
                    browser.screenshot(
                        source, target, width=CARD_SIZE, height=CARD_SIZE, chromium=chromium
                    )
            except browser.BrowserError as exc:
                print(f"skm-etl report: {exc}", file=sys.stderr)
                status = EXIT_PARTIAL
                continue
            written.files.append(target)
    for path in written.files:
        print(path)
    return status
