"""Builders of hostile source files, made from the example exports at run time.

Each builder writes one file into a directory and returns its path. They start from the
example tabulation (tests/fixtures/sapaapip_tabulasi_example.csv, 14 responses) or the
Google Forms example and break one thing, so a test can say exactly what must come out.
Every tabulation gets its own unit (`unit_name(n)`), so its responses are its own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

import openpyxl

FIXTURES = Path(__file__).parent / "fixtures"
SAPAAPIP_CSV = FIXTURES / "sapaapip_tabulasi_example.csv"
SAPAAPIP_XLSX = FIXTURES / "sapaapip_tabulasi_example.xlsx"
GOOGLE_FORMS_CSV = FIXTURES / "google_forms_example.csv"

EXAMPLE_UNIT = "Loka POM di Kota Contoh"
EXAMPLE_ROWS = 14
# cell positions in the example tabulation's CSV records (0-based)
NO, TIME, LAYANAN, AGE, SEX, EDUCATION, OCCUPATION, PERCENT = range(8)
Q1, SARAN = 8, 27
HEADER_LINES = 7  # title, blank, Tahun, Unit Kerja, blank, header, question numbers

FORMULA_PAYLOADS = (
    '=HYPERLINK("http://x","y")',
    "=cmd|' /C calc'!A0",
    "+SUM(1)",
    "@x",
    "-1+1",
)


def unit_name(n: int) -> str:
    """The registered unit a hostile tabulation belongs to."""
    return f"Loka POM di Kota Uji {n:02d}"


def example_records(unit: str = EXAMPLE_UNIT) -> list[list[str]]:
    """The example tabulation as CSV records, with the unit renamed.

    "≤ SMA/Sederajat" is written "SMA", a variant of the same category that every code
    page can encode.
    """
    with SAPAAPIP_CSV.open(encoding="utf-8", newline="") as handle:
        records = list(csv.reader(handle))
    for record in records:
        if record and record[0] == "Unit Kerja":
            record[2] = unit
        for i, cell in enumerate(record):
            if cell == "≤ SMA/Sederajat":
                record[i] = "SMA"
    return records


def header(records: list[list[str]]) -> list[list[str]]:
    return records[:HEADER_LINES]


def data(records: list[list[str]]) -> list[list[str]]:
    return [r for r in records[HEADER_LINES:] if any(r)]


def write_records(
    path: Path,
    records: list[list[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
) -> Path:
    """Write records as a CSV file in the given dialect (quoted only where needed)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(records)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def tabulation(
    path: Path, unit: str, *, edit=None, extra_rows: list[list[str]] | None = None, **dialect
) -> Path:
    """The example tabulation for `unit`, with `edit(rows)` applied to its data rows."""
    records = example_records(unit)
    rows = data(records)
    if edit is not None:
        edit(rows)
    return write_records(path, header(records) + rows + (extra_rows or []), **dialect)


def set_cells(rows: list[list[str]], changes: dict[tuple[int, int], str]) -> None:
    """Replace cells, keyed by (0-based data row, 0-based column)."""
    for (row, column), value in changes.items():
        rows[row][column] = value


def workbook(path: Path, records: list[list[str]], *, typed: bool = True) -> openpyxl.Workbook:
    """The records as a sheet; numbers and times typed like sapaapip's own export."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Tabulasi"
    for i, record in enumerate(records, 1):
        for j, text in enumerate(record, 1):
            if text == "":
                continue
            cell = sheet.cell(row=i, column=j)
            cell.value = _typed(text) if typed else text
            if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                cell.data_type = "s"  # text that merely looks like a formula stays text
    return book


def _typed(text: str) -> object:
    # a number as Excel keeps it: "00", "０" or 20 digits would not come back as written
    if text.isascii() and text.isdigit() and len(text) <= 15 and str(int(text)) == text:
        return int(text)
    try:
        return dt.datetime.strptime(text, "%d/%m/%Y %H:%M:%S")
    except ValueError:
        return text


def large_tabulation(path: Path, unit: str, rows: int, *, seed: int = 7) -> Path:
    """A tabulation of `rows` valid responses with distinct submission times."""
    records = example_records(unit)
    template = data(records)
    rng = random.Random(seed)
    start = dt.datetime(2025, 4, 1)
    body = []
    for i in range(rows):
        record = list(template[i % len(template)])
        record[NO] = str(i + 1)
        record[TIME] = (start + dt.timedelta(seconds=37 * i)).strftime("%d/%m/%Y %H:%M:%S")
        for column in range(Q1, Q1 + 19):
            record[column] = str(rng.randint(1, 6))
        body.append(record)
    return write_records(path, header(records) + body)


def forms_records() -> list[list[str]]:
    with GOOGLE_FORMS_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def forms_with_times(path: Path, times: list[str]) -> Path:
    """The Google Forms example with its Timestamp column rewritten, one time per row."""
    records = forms_records()
    body = [r for r in records[1:] if any(r)]
    for record, stamp in zip(body, times, strict=False):
        record[0] = stamp
    return write_records(path, [records[0], *body[: len(times)]])
