"""`skm-etl report`: every figure comes from the marts, the pages render, no personal data.

The served file is built once per module by the real pipeline functions (prepare,
discover, process_files, build_marts, publish_served; no Prefect) from a small two-year
deployment: Loka POM di Kota Contoh surveyed in 2023 and 2025 (2024 has no survey, a
gap), with populations and RTL plans, and Balai POM di Kota Contoh from the Google Forms
example in 2025. dbt makes this module slow (about 40 s with Chromium).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import shutil
import struct
import subprocess
import textwrap
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from skm_etl import pipeline
from skm_etl.load.warehouse import new_id
from skm_etl.report import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, browser, fmt, report_command
from skm_etl.settings import load_settings
from tests.conftest import GOOGLE_FORMS_CSV, SAPAAPIP_CSV

UNIT = "Loka POM di Kota Contoh"
UNIT_CODE = "loka-pom-di-kota-contoh"
FORMS_UNIT = "Balai POM di Kota Contoh"
FORMS_UNIT_CODE = "balai-pom-di-kota-contoh"
YEAR, EARLIER = 2025, 2023

slow = pytest.mark.slow

# ---------------------------------------------------------------- the deployment


def _earlier_year_export(target: Path) -> None:
    """The sapaapip example as a 2023 export: U1 one point lower, U4 all 6, one late response.

    The late response (a 15th, after the window) is received but not counted, so the
    other unsur keep their 2025 values and show as `tetap`.
    """
    with SAPAAPIP_CSV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    late = None
    for row in rows:
        if row[:1] == ["Tahun"]:
            row[2] = str(EARLIER)
        elif row and row[0].isdigit():
            row[1] = row[1].replace(f"/{YEAR} ", f"/{EARLIER} ")
            row[8] = str(max(1, int(row[8]) - 1))  # question 1 = U1
            row[13] = "6"  # question 6 = U4
            late = [str(int(row[0]) + 1), f"15/07/{EARLIER} 10:00:00", *row[2:]]
    rows.insert(rows.index(next(r for r in rows if r and r[0] == "14")) + 1, late)
    with target.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows(rows)


CONFIG = f"""\
warehouse: warehouse/skm.duckdb
inbox: inbox/
method: {{counting: all, scale: 6}}
surveys:
  - {{year: {EARLIER}, start: {EARLIER}-04-01, end: {EARLIER}-06-30}}
  - {{year: {YEAR}, start: {YEAR}-04-01, end: {YEAR}-06-30}}
populations: populasi.csv
rtl: rtl.csv
sources:
  - {{name: forms-balai, kind: google_forms, unit: "{FORMS_UNIT}", year: {YEAR},
     path: forms/google_forms_example.csv}}
"""

POPULATIONS = f"""\
tahun,unit_kerja,jenis_layanan,populasi
{YEAR},{UNIT},Pengaduan masyarakat dan informasi Obat dan Makanan,40
{YEAR},{UNIT},CPPOB,100
"""

RTL = f"""\
tahun,unit_kerja,jenis_layanan,unsur,penyebab,rencana_tindak_lanjut,batas_waktu,penanggung_jawab,status,tanggal_realisasi
{EARLIER},{UNIT},,U1,Persyaratan belum dipublikasikan,Publikasi persyaratan di laman dan ruang tunggu,{EARLIER}-12-31,Kepala Loka,sudah,{EARLIER}-11-15
{EARLIER},{UNIT},,U6,Pelatihan petugas belum merata,Pelatihan pelayanan prima bagi petugas,2024-06-30,Kepala Subbagian Tata Usaha,belum,
{YEAR},{UNIT},Sertifikasi CDOB,U2,Alur pengajuan belum jelas,Infografis alur pelayanan CDOB,{YEAR}-12-31,Koordinator Pemeriksaan,belum,
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the pipeline's phases on the two-year deployment; return its config path."""
    base = tmp_path_factory.mktemp("report-deployment")
    (base / "inbox").mkdir()
    (base / "forms").mkdir()
    shutil.copy(SAPAAPIP_CSV, base / "inbox" / f"sapaapip_{YEAR}.csv")
    _earlier_year_export(base / "inbox" / f"sapaapip_{EARLIER}.csv")
    shutil.copy(GOOGLE_FORMS_CSV, base / "forms" / GOOGLE_FORMS_CSV.name)
    (base / "populasi.csv").write_text(POPULATIONS, encoding="utf-8")
    (base / "rtl.csv").write_text(RTL, encoding="utf-8")
    config = base / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")

    settings = load_settings(config)
    summary = pipeline.RunSummary(run_id=new_id(), started_at=dt.datetime.now())
    pipeline.record_run(settings, summary, status="running")
    prepared = pipeline.prepare(settings, summary.run_id)
    for outcome in pipeline.process_files(
        settings, prepared, pipeline.discover(settings), summary.run_id
    ):
        assert outcome.status == "loaded" and outcome.rows_rejected == 0, outcome
        summary.files.append(outcome)
    pipeline.build_marts(settings)
    summary.published = True
    pipeline.record_run(settings, summary, status="published")
    pipeline.publish_served(settings, summary.run_id)
    return config


@pytest.fixture(scope="module")
def served(deployment: Path) -> Path:
    return load_settings(deployment).warehouse


@pytest.fixture(scope="module")
def marts(served: Path):
    con = duckdb.connect(str(served), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def chromium() -> str:
    found = browser.find_chromium()
    assert found, (
        "Chromium is needed by these tests: run scripts/ensure_chromium.sh (make test does)"
    )
    return found


@dataclass
class Outputs:
    status: int
    dir: Path
    html: Path
    pdf: Path
    svg: Path | None = None
    png: Path | None = None


@pytest.fixture(scope="module")
def unit_report(deployment: Path, tmp_path_factory: pytest.TempPathFactory, chromium) -> Outputs:
    out = tmp_path_factory.mktemp("unit-report")
    status = report_command(str(deployment), UNIT, YEAR, str(out), False)
    stem = f"{UNIT_CODE}-{YEAR}"
    return Outputs(
        status,
        out,
        out / f"laporan-skm-{stem}.html",
        out / f"laporan-skm-{stem}.pdf",
        out / f"kartu-skm-{stem}.svg",
        out / f"kartu-skm-{stem}.png",
    )


@pytest.fixture(scope="module")
def forms_unit_report(deployment: Path, tmp_path_factory, chromium) -> Outputs:
    out = tmp_path_factory.mktemp("forms-unit-report")
    status = report_command(str(deployment), FORMS_UNIT_CODE.upper(), YEAR, str(out), False)
    stem = f"{FORMS_UNIT_CODE}-{YEAR}"
    return Outputs(
        status,
        out,
        out / f"laporan-skm-{stem}.html",
        out / f"laporan-skm-{stem}.pdf",
        out / f"kartu-skm-{stem}.svg",
        out / f"kartu-skm-{stem}.png",
    )


@pytest.fixture(scope="module")
def national_report(deployment: Path, tmp_path_factory, chromium) -> Outputs:
    out = tmp_path_factory.mktemp("national-report")
    status = report_command(str(deployment), None, YEAR, str(out), True)
    return Outputs(
        status,
        out,
        out / f"laporan-skm-nasional-{YEAR}.html",
        out / f"laporan-skm-nasional-{YEAR}.pdf",
    )


# ---------------------------------------------------------------- reading a report back


class _Figures(HTMLParser):
    """Collect the `data-key` spans (key, kind, value, text) and the embedded JSON."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[tuple[str, str, str, str]] = []
        self.json_text = ""
        self._open: list[str] | None = None
        self._in_json = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-key" in a:
            self._open = [a["data-key"] or "", a["data-kind"] or "", a["data-value"] or "", ""]
        if tag == "script" and a.get("id") == "skm-report-data":
            self._in_json = True

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[3] += data
        if self._in_json:
            self.json_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open is not None:
            self.figures.append(tuple(self._open))
            self._open = None
        if tag == "script":
            self._in_json = False


def read_report(html: Path) -> tuple[dict[str, tuple[str, str, str]], dict]:
    parser = _Figures()
    parser.feed(html.read_text(encoding="utf-8"))
    figures: dict[str, tuple[str, str, str]] = {}
    for key, kind, value, text in parser.figures:
        assert figures.get(key, (kind, value, text)) == (kind, value, text), key
        figures[key] = (kind, value, text)
    return figures, json.loads(parser.json_text)


def shown(figures: dict[str, tuple[str, str, str]], key: str) -> float | None:
    """The mart value a figure on the page carries (None when the page shows a dash)."""
    _, value, _ = figures[key]
    return None if value == "" else float(value)


def one(con, sql: str, params: list | None = None) -> dict:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1, (sql, rows)
    return dict(zip(names, rows[0], strict=True))


def every(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# ---------------------------------------------------------------- PNG without Pillow


def png_pixels(path: Path) -> tuple[int, int, list[bytearray]]:
    """Decode an 8-bit non-interlaced PNG into rows of bytes (greyscale, RGB or RGBA)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (0, 2, 6), header
    bpp = {0: 1, 2: 3, 6: 4}[color]
    raw = zlib.decompress(bytes(idat))
    stride = width * bpp
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = previous[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(line)
        previous = line
    return width, height, rows


def ink_share_and_variance(path: Path) -> tuple[float, float]:
    """Share of pixels that are not near-white, and the variance of the first channel."""
    width, height, rows = png_pixels(path)
    bpp = len(rows[0]) // width
    values = [row[i] for row in rows for i in range(0, len(row), bpp)]
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    ink = sum(v < 230 for v in values) / len(values)
    return ink, variance


def assert_not_blank(path: Path) -> None:
    ink, variance = ink_share_and_variance(path)
    assert ink > 0.005 and variance > 50, (
        f"{path.name} looks blank: ink {ink:.4f}, var {variance:.1f}"
    )


# ---------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (93.7, 2, "93,70"),
        (88.447972, 2, "88,45"),
        (88.305, 2, "88,31"),  # stored as 88.30499999…, rounds half up as it reads
        (76.605, 2, "76,61"),
        (1234.5, 2, "1.234,50"),
        (-0.004, 2, "0,00"),
        (-1.255, 2, "-1,26"),
        (100.0, 0, "100"),
    ],
    ids=["two-places", "rounds", "half-up-88.305", "half-up-76.605", "thousands", "no-minus-zero",
         "negative-half-up", "no-decimals"],
)  # fmt: skip
def test_numbers_are_written_the_indonesian_way(value: float, places: int, expected: str) -> None:
    assert fmt.number(value, places) == expected


def test_counts_percentages_and_changes_read_as_in_a_published_report() -> None:
    assert fmt.integer(1234567) == "1.234.567"
    assert fmt.percent(41.935) == "41,94%"
    assert fmt.signed(1.5) == "+1,50"
    assert fmt.signed(-0.4) == "-0,40"
    assert fmt.signed(0.0) == "0,00"
    assert fmt.number(None) == fmt.MISSING
    assert fmt.date(dt.date(2025, 4, 1)) == "1 April 2025"


# ---------------------------------------------------------------- the unit report


@slow
def test_the_unit_report_writes_html_pdf_and_the_card(unit_report: Outputs) -> None:
    assert unit_report.status == EXIT_OK
    for path in (unit_report.html, unit_report.pdf, unit_report.svg, unit_report.png):
        assert path.is_file() and path.stat().st_size > 0, path


@slow
def test_every_figure_on_the_page_is_its_mart_value_formatted(unit_report: Outputs) -> None:
    figures, _ = read_report(unit_report.html)
    assert len(figures) > 100
    formatters = {"number": fmt.number, "percent": fmt.percent, "signed": fmt.signed}
    for key, (kind, value, text) in figures.items():
        if value == "":
            assert text == fmt.MISSING, key
        elif kind == "integer":
            assert text == fmt.integer(int(value)), key
        else:
            assert text == formatters[kind](float(value)), key


@slow
def test_the_unit_summary_is_read_from_skm_unit_and_the_trend(unit_report: Outputs, marts) -> None:
    figures, data = read_report(unit_report.html)
    row = one(
        marts,
        """
        select u.ikm, u.mutu, u.kinerja, u.respondents_received, u.respondents_in_window,
            u.respondents_counted, t.previous_year, t.previous_ikm, t.delta, t.direction
        from marts.skm_unit u join marts.skm_trend_unit t using (unit_code, survey_year)
        where u.unit_code = ? and u.survey_year = ?
        """,
        [UNIT_CODE, YEAR],
    )
    assert shown(figures, "unit.ikm") == row["ikm"]
    assert figures["unit.ikm"][2] == "88,45"  # tests/fixtures/expected.md, whole unit
    assert shown(figures, "unit.respondents_counted") == row["respondents_counted"] == 14
    assert shown(figures, "method.respondents_in_window") == row["respondents_in_window"]
    assert shown(figures, "unit.previous_ikm") == row["previous_ikm"]
    assert shown(figures, "unit.delta") == float(row["delta"])
    summary = data["summary"]
    assert (summary["mutu"], summary["kinerja"], summary["direction"]) == (
        row["mutu"],
        row["kinerja"],
        row["direction"],
    )
    assert summary["previous_year"] == row["previous_year"] == EARLIER


@slow
def test_unsur_values_compare_with_the_previous_survey_year(unit_report: Outputs, marts) -> None:
    figures, data = read_report(unit_report.html)
    rows = every(
        marts,
        """
        select u.unsur_code, u.nrr, u.ikm, u.mutu, t.previous_ikm, t.delta, t.direction
        from marts.skm_unit_unsur u
        join marts.skm_trend_unit_unsur t using (unit_code, unsur_code, survey_year)
        where u.unit_code = ? and u.survey_year = ?
        order by u.unsur_order
        """,
        [UNIT_CODE, YEAR],
    )
    assert [u["unsur_code"] for u in data["unsur"]] == [r["unsur_code"] for r in rows]
    for r, u in zip(rows, data["unsur"], strict=True):
        code = r["unsur_code"]
        assert shown(figures, f"unsur.{code}.ikm") == r["ikm"]
        assert shown(figures, f"unsur.{code}.nrr") == r["nrr"]
        assert shown(figures, f"unsur.{code}.previous_ikm") == r["previous_ikm"]
        assert shown(figures, f"unsur.{code}.delta") == float(r["delta"])
        assert (u["mutu"], u["direction"]) == (r["mutu"], r["direction"])
    directions = {r["unsur_code"]: r["direction"] for r in rows}
    # The 2023 export had U1 one point lower and U4 at 6: U1 rose, U4 fell, U2 held.
    assert (directions["U1"], directions["U4"], directions["U2"]) == ("naik", "turun", "tetap")
    page = unit_report.html.read_text(encoding="utf-8")
    assert ">Naik<" in page and ">Turun<" in page and ">Tetap<" in page


@slow
def test_layanan_profile_sample_and_ipak_tables_are_the_marts(unit_report: Outputs, marts) -> None:
    figures, _ = read_report(unit_report.html)
    key = [YEAR, UNIT_CODE]
    for r in every(
        marts,
        "select * from marts.skm_layanan_unsur where survey_year = ? and unit_code = ?",
        key,
    ):
        assert shown(figures, f"layanan.{r['layanan_code']}.{r['unsur_code']}") == r["ikm"]
    for r in every(
        marts, "select * from marts.skm_layanan where survey_year = ? and unit_code = ?", key
    ):
        assert shown(figures, f"layanan.{r['layanan_code']}.ikm") == r["ikm"]
    profile = every(
        marts, "select * from marts.respondent_profile where survey_year = ? and unit_code = ?", key
    )
    assert len(profile) == 21  # every category of SPEC §5, with Tidak diisi, zeros included
    for r in profile:
        base = f"profile.{r['characteristic']}.{r['category']}"
        assert shown(figures, f"{base}.respondents") == r["respondents"]
        assert shown(figures, f"{base}.pct") == r["pct"]
    for r in every(
        marts, "select * from marts.sample_adequacy where survey_year = ? and unit_code = ?", key
    ):
        for column in ("populasi", "population_window", "target_sample", "respondents_counted"):
            value = shown(figures, f"sample.{r['layanan_code']}.{column}")
            assert value == (None if r[column] is None else float(r[column])), column
    ipak = one(
        marts,
        "select ikm from marts.ipak where survey_year = ? and unit_code = ? and layanan_code is null",
        key,
    )
    assert shown(figures, "ipak.unit.ikm") == ipak["ikm"]
    assert figures["ipak.unit.ikm"][2] == "94,52"  # tests/fixtures/expected.md
    # populasi 40 over a 3-month window → 10 → target 10, met; CPPOB 100 → 25 → 24, not met
    assert shown(figures, "sample.PENGADUAN.target_sample") == 10
    assert shown(figures, "sample.CPPOB.target_sample") == 24


@slow
def test_priorities_rtl_and_last_years_realisation_come_from_the_marts(
    unit_report: Outputs, marts
) -> None:
    figures, data = read_report(unit_report.html)
    lowest = every(
        marts,
        """
        select unsur_code, ikm from marts.skm_priority
        where survey_year = ? and unit_code = ? and layanan_code is null and kind = 'lowest'
        order by position
        """,
        [YEAR, UNIT_CODE],
    )
    assert [p["unsur_code"] for p in data["lowest"]] == [r["unsur_code"] for r in lowest]
    assert [shown(figures, f"lowest.{i}.ikm") for i in (1, 2, 3)] == [r["ikm"] for r in lowest]
    realisation = one(
        marts,
        "select * from marts.rtl_realization where unit_code = ? and survey_year = ?",
        [UNIT_CODE, EARLIER],
    )
    assert data["rtl_previous"]["plan_year"] == EARLIER
    assert shown(figures, "rtl_previous.pct") == realisation["pct"]
    assert figures["rtl_previous.pct"][2] == "50,00%"
    assert [p["rencana_tindak_lanjut"] for p in data["rtl_plans"]] == [
        "Infografis alur pelayanan CDOB"
    ]


@slow
def test_the_trend_leaves_a_year_without_survey_as_a_gap(unit_report: Outputs) -> None:
    _, data = read_report(unit_report.html)
    trend = {p["survey_year"]: p["ikm"] for p in data["trend"]}
    assert list(trend) == [EARLIER, 2024, YEAR]
    assert trend[2024] is None and trend[EARLIER] is not None
    page = unit_report.html.read_text(encoding="utf-8")
    assert "tidak ada survei" in page
    # two points, no line through the gap year
    chart = page[page.index("Tren IKM Loka") :]
    chart = chart[: chart.index("</svg>")]
    assert chart.count("<circle") == 2 and "<polyline" not in chart


@slow
def test_the_card_svg_shows_the_index_the_indonesian_way(unit_report: Outputs, marts) -> None:
    svg = unit_report.svg.read_text(encoding="utf-8")
    ikm = one(
        marts,
        "select ikm, mutu, kinerja from marts.skm_unit where unit_code = ? and survey_year = ?",
        [UNIT_CODE, YEAR],
    )
    assert f">{fmt.number(ikm['ikm'])}<" in svg and ">88,45<" in svg
    assert f">{ikm['mutu']}<" in svg and ikm["kinerja"] in svg
    assert UNIT in svg and str(YEAR) in svg and "14 responden" in svg
    width, height, _ = png_pixels(unit_report.png)
    assert (width, height) == (1080, 1080)
    assert_not_blank(unit_report.png)


@slow
def test_every_pdf_page_has_content(unit_report: Outputs, tmp_path: Path) -> None:
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(unit_report.pdf), str(tmp_path / "page")], check=True
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 6
    for page in pages:
        assert_not_blank(page)


@slow
def test_the_html_renders_in_chromium_without_network(
    unit_report: Outputs, chromium: str, tmp_path: Path
) -> None:
    page = unit_report.html.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the report fetches a URL"
    shot = tmp_path / "report.png"
    browser.screenshot(unit_report.html, shot, width=900, height=1200, chromium=chromium)
    assert_not_blank(shot)


@slow
def test_no_name_or_phone_number_of_a_respondent_reaches_a_report(
    forms_unit_report: Outputs, national_report: Outputs
) -> None:
    with GOOGLE_FORMS_CSV.open(encoding="utf-8") as f:
        people = [(row["Nama Lengkap"], row["No. HP"]) for row in csv.DictReader(f)]
    assert people and forms_unit_report.status == EXIT_OK
    texts = {
        path.name: path.read_text(encoding="utf-8")
        for path in (forms_unit_report.html, forms_unit_report.svg, national_report.html)
    }
    for pdf in (forms_unit_report.pdf, national_report.pdf):
        texts[pdf.name] = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
    assert "Informasi biaya perlu diperjelas" in texts[forms_unit_report.html.name]
    for name, phone in people:
        for file, text in texts.items():
            assert phone not in text and phone.lstrip("0") not in text, (file, phone)
            if file.endswith((".html", ".svg")):
                assert f">{name}<" not in text and f"{name}\n" not in text, (file, name)


@slow
def test_the_report_never_writes_the_served_file(deployment: Path, served: Path, tmp_path) -> None:
    before = hashlib.sha256(served.read_bytes()).hexdigest(), served.stat().st_mtime_ns
    assert report_command(str(deployment), UNIT, YEAR, str(tmp_path), False) == EXIT_OK
    assert (hashlib.sha256(served.read_bytes()).hexdigest(), served.stat().st_mtime_ns) == before


# ---------------------------------------------------------------- finding the unit and year


@slow
@pytest.mark.parametrize(
    "query",
    ["Loka POM di Kota Contoh", "loka pom di kota contoh", "  LOKA  POM di Kota Contoh ",
     UNIT_CODE, UNIT_CODE.upper()],
    ids=["name", "lowercase", "spaces-and-case", "code", "code-uppercase"],
)  # fmt: skip
def test_a_unit_is_found_by_name_or_code_in_any_case(
    query: str, deployment: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(browser, "find_chromium", lambda: None)  # the HTML is enough here
    assert report_command(str(deployment), query, YEAR, str(tmp_path), False) == EXIT_PARTIAL
    assert (tmp_path / f"laporan-skm-{UNIT_CODE}-{YEAR}.html").is_file()


@slow
def test_an_unknown_unit_lists_the_available_ones_and_exits_1(
    deployment: Path, tmp_path: Path, capsys
) -> None:
    assert (
        report_command(str(deployment), "Loka POM di Kota Cnotoh", YEAR, str(tmp_path), False)
        == EXIT_FAILED
    )
    err = capsys.readouterr().err
    assert "tidak ada di / is not in" in err and "available units" in err
    assert f"{UNIT} [{UNIT_CODE}]: {EARLIER}, {YEAR}" in err and FORMS_UNIT in err
    assert f"did you mean: '{UNIT}'" in err
    assert not list(tmp_path.iterdir())


@slow
def test_an_unknown_year_lists_the_units_years_and_exits_1(
    deployment: Path, tmp_path: Path, capsys
) -> None:
    assert report_command(str(deployment), UNIT, 2024, str(tmp_path), False) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "tidak punya data tahun 2024 / has no data for 2024" in err
    assert f"available years: {EARLIER}, {YEAR}" in err
    assert report_command(str(deployment), None, 2019, str(tmp_path), True) == EXIT_FAILED
    assert f"available years: {EARLIER}, {YEAR}" in capsys.readouterr().err


def test_a_missing_served_file_says_to_run_the_pipeline_first(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("warehouse: warehouse/skm.duckdb\n", encoding="utf-8")
    assert report_command(str(config), UNIT, YEAR, str(tmp_path / "out"), False) == EXIT_FAILED
    assert "served file not found" in capsys.readouterr().err


def test_unit_and_national_are_exclusive(tmp_path: Path, capsys) -> None:
    assert report_command("x.yaml", UNIT, YEAR, str(tmp_path), True) == EXIT_FAILED
    assert "--unit NAME or --national" in capsys.readouterr().err


@slow
def test_without_chromium_the_html_and_svg_are_written_and_the_exit_is_2(
    deployment: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(browser, "find_chromium", lambda: None)
    assert report_command(str(deployment), UNIT, YEAR, str(tmp_path), False) == EXIT_PARTIAL
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [f"kartu-skm-{UNIT_CODE}-{YEAR}.svg", f"laporan-skm-{UNIT_CODE}-{YEAR}.html"]
    err = capsys.readouterr().err
    assert "Chromium not found" in err and "apt-get install" in err


# ---------------------------------------------------------------- the national summary


@slow
def test_the_national_summary_ranks_every_unit_from_the_marts(
    national_report: Outputs, marts
) -> None:
    assert national_report.status == EXIT_OK and national_report.pdf.is_file()
    figures, data = read_report(national_report.html)
    units = every(
        marts,
        "select unit_code, ikm, mutu from marts.skm_unit where survey_year = ? order by ikm desc",
        [YEAR],
    )
    assert [u["unit_code"] for u in data["ranking"]] == [u["unit_code"] for u in units]
    assert [u["rank"] for u in data["ranking"]] == [1, 2]
    for u in units:
        assert shown(figures, f"rank.{u['unit_code']}.ikm") == u["ikm"]
    bpom = one(
        marts,
        "select * from marts.skm_national where survey_year = ? and scope = 'BPOM'",
        [YEAR],
    )
    assert shown(figures, "bpom.ikm_pooled") == bpom["ikm_pooled"]
    assert shown(figures, "bpom.ikm_unit_mean") == bpom["ikm_unit_mean"]
    grades = {g["mutu"]: g["units"] for g in data["grades"]}
    assert grades == {"A": 1, "B": 1, "C": 0, "D": 0}


@slow
def test_the_national_trend_shows_pooled_and_unit_mean_with_gaps(
    national_report: Outputs, marts
) -> None:
    figures, data = read_report(national_report.html)
    trend = {p["survey_year"]: p for p in data["trend"]}
    assert list(trend) == [EARLIER, 2024, YEAR]
    assert trend[2024]["ikm_pooled"] is None and trend[2024]["ikm_unit_mean"] is None
    for r in every(
        marts,
        "select * from marts.skm_trend_national where scope = 'BPOM' order by survey_year",
    ):
        year = r["survey_year"]
        assert shown(figures, f"trend.{year}.ikm_pooled") == r["ikm_pooled"]
        assert shown(figures, f"trend.{year}.ikm_unit_mean") == r["ikm_unit_mean"]


@slow
def test_the_national_summary_lists_layanan_below_their_target_sample(
    national_report: Outputs, marts
) -> None:
    _, data = read_report(national_report.html)
    below = every(
        marts,
        "select unit_code, layanan_code from marts.sample_adequacy where survey_year = ? and not is_met",
        [YEAR],
    )
    assert below == [{"unit_code": UNIT_CODE, "layanan_code": "CPPOB"}]
    assert [(r["unit_code"], r["layanan_code"]) for r in data["below_target"]] == [
        (UNIT_CODE, "CPPOB")
    ]
    page = national_report.html.read_text(encoding="utf-8")
    assert textwrap.shorten("Penerbitan izin penerapan Cara Produksi Pangan", 60) in page
