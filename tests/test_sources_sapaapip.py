"""The sapaapip tabulation reader (SPEC §6.1) on the example export and messy variants of it."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fixtures.sources.golden import WHOLE_UNIT, expected_section, index_of, ipak_of
from skm_etl.reference import load_reference
from skm_etl.sources import ReadResult, SourceFileError, read_sapaapip, tabular
from skm_etl.sources.result import ISSUE_SCHEMA, PERSONAL_SCHEMA, RESPONSE_SCHEMA
from tests.frames import assert_same_read

FIXTURES = Path(__file__).parent / "fixtures"
XLSX = FIXTURES / "sapaapip_tabulasi_example.xlsx"
CSV = FIXTURES / "sapaapip_tabulasi_example.csv"
LINES = CSV.read_text(encoding="utf-8").splitlines()
SCORE_COLUMNS = [f"q{n}" for n in range(1, 15)] + [f"ak{n}" for n in range(1, 6)]
# cell positions in the example's CSV lines
HEADER_LINE, NUMBERS_LINE, FIRST_DATA_LINE = 6, 7, 8
TIME, LAYANAN, AGE, SEX, EDUCATION, OCCUPATION, PERCENT = 1, 2, 3, 4, 5, 6, 7
Q1, Q3, Q12, AK1, SARAN = 8, 10, 19, 22, 27


@pytest.fixture(scope="module")
def ref():
    return load_reference()


@pytest.fixture(scope="module")
def from_xlsx(ref) -> ReadResult:
    return read_sapaapip(XLSX, ref)


@pytest.fixture(scope="module")
def from_csv(ref) -> ReadResult:
    return read_sapaapip(CSV, ref)


def lines_with(changes: dict[tuple[int, int], str]) -> list[str]:
    """The example's CSV lines with some cells replaced, keyed by (1-based line, column)."""
    lines = list(LINES)
    for (line, column), value in changes.items():
        cells = lines[line - 1].split(",")
        cells[column] = value
        lines[line - 1] = ",".join(cells)
    return lines


def write_csv(
    tmp_path: Path,
    lines: list[str],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newline: str = "\n",
    name: str = "tabulasi.csv",
) -> Path:
    """Write lines (comma-separated, unquoted) as a CSV file in the given dialect."""
    path = tmp_path / name
    text = newline.join(line.replace(",", delimiter) for line in lines) + newline
    path.write_bytes(text.encode(encoding))
    return path


def read_lines(tmp_path: Path, lines: list[str], ref, **dialect: str) -> ReadResult:
    """Read lines written as a CSV file."""
    return read_sapaapip(write_csv(tmp_path, lines, **dialect), ref)


# --- the example export ------------------------------------------------------------------


def test_the_xlsx_and_its_csv_twin_give_the_same_responses(from_xlsx, from_csv) -> None:
    assert_frame_equal(
        from_xlsx.responses.drop("source_row"), from_csv.responses.drop("source_row")
    )


@pytest.mark.parametrize("twin", ["from_xlsx", "from_csv"])
def test_each_twin_holds_fourteen_responses_without_issues(request, twin: str) -> None:
    result = request.getfixturevalue(twin)
    assert (result.rows_read, result.responses.height) == (14, 14)
    assert result.issues.is_empty()
    assert result.warnings == []


def test_page_break_header_repeats_in_the_xlsx_are_not_data(from_xlsx) -> None:
    # rows 18-22 of the sheet are a blank row, the metadata and the two header rows again
    assert from_xlsx.responses["source_row"].to_list() == [*range(8, 18), *range(23, 27)]


def test_csv_source_rows_are_the_line_numbers(from_csv) -> None:
    assert from_csv.responses["source_row"].to_list() == list(range(8, 22))


@pytest.mark.parametrize("twin", ["from_xlsx", "from_csv"])
def test_unit_and_year_come_from_the_metadata_rows(request, twin: str) -> None:
    result = request.getfixturevalue(twin)
    assert (result.unit_name, result.survey_year) == ("Loka POM di Kota Contoh", 2025)
    assert result.responses["unit_name"].unique().to_list() == ["Loka POM di Kota Contoh"]
    assert result.responses["survey_year"].unique().to_list() == [2025]


def test_the_frames_have_exactly_the_contract_columns_and_dtypes(from_xlsx) -> None:
    assert from_xlsx.responses.schema == pl.Schema(RESPONSE_SCHEMA)
    assert from_xlsx.issues.schema == pl.Schema(ISSUE_SCHEMA)
    assert from_xlsx.personal.schema == pl.Schema(PERSONAL_SCHEMA)


def test_a_sapaapip_export_carries_no_personal_data(from_xlsx) -> None:
    assert from_xlsx.personal.is_empty()


@pytest.mark.parametrize(
    ("source_row", "scores"),
    [
        (8, [4, 4, 6, 4, 5, 6, 4, 6, 5, 4, 4, 4, 6, 4, 5, 6, 6, 6, 5]),
        (14, [5, 4, 5, 4, 5, 5, 5, 4, 5, 6, 4, 4, 4, 4, 6, 6, 5, 6, 6]),
        (21, [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 6, 5, 6, 5]),
    ],
    ids=["no-1", "no-7-cdob", "no-14"],
)
def test_scores_are_what_the_csv_line_says(from_csv, source_row: int, scores: list[int]) -> None:
    row = from_csv.responses.filter(pl.col("source_row") == source_row)
    assert row.select(SCORE_COLUMNS).row(0) == tuple(scores)


def test_the_first_response_reads_as_written(from_csv) -> None:
    row = from_csv.responses.row(0, named=True)
    assert row["submitted_at"] == dt.datetime(2025, 4, 2, 7, 9)
    assert row["layanan_code"] == "PENGADUAN"
    assert row["layanan_name"] == "Pengaduan masyarakat dan informasi Obat dan Makanan"
    assert (row["respondent_age"], row["respondent_sex"]) == (23, "Laki-laki")
    assert (row["respondent_education"], row["respondent_occupation"]) == (
        "≤ SMA/Sederajat",
        "Lainnya",
    )
    assert row["completion_pct"] == 100.0


@pytest.mark.parametrize(
    ("column", "source_row", "expected"),
    [
        ("respondent_education", 10, "D4/S1"),  # written "S1"
        ("respondent_occupation", 12, "Pelajar/Mahasiswa"),  # "Pelajar / mahasiswa"
        ("respondent_occupation", 15, "Pegawai Swasta"),  # "Pegawai swasta"
        ("saran", 10, None),  # "-"
        ("saran", 8, None),  # blank
        ("saran", 13, "Informasi biaya perlu diperjelas"),
    ],
)
def test_answers_are_normalised_to_the_spec_categories(
    from_csv, column: str, source_row: int, expected: str | None
) -> None:
    row = from_csv.responses.filter(pl.col("source_row") == source_row)
    assert row[column].item() == expected


EXPECTED, EXPECTED_IPAK = expected_section("sapaapip_tabulasi_example")


@pytest.mark.parametrize("scope", list(EXPECTED))
@pytest.mark.parametrize("twin", ["from_xlsx", "from_csv"])
def test_the_index_per_layanan_reproduces_expected_md(request, twin: str, scope: str, ref) -> None:
    responses = request.getfixturevalue(twin).responses
    if scope != WHOLE_UNIT:
        responses = responses.filter(pl.col("layanan_name") == scope)
    expected = EXPECTED[scope]
    computed = index_of(responses, ref.questionnaire)
    assert computed == {key: expected[key] for key in computed}


def test_the_anti_corruption_index_reproduces_expected_md(from_xlsx, ref) -> None:
    assert ipak_of(from_xlsx.responses, ref.questionnaire) == EXPECTED_IPAK


# --- encodings, delimiters and header spellings ---------------------------------------------

# "≤" has no cp1252 byte, and one é shows the decoding is right
PORTABLE = lines_with({(FIRST_DATA_LINE, SARAN): "Pelayanan café ramah"})
PORTABLE = [line.replace("≤ SMA/Sederajat", "SMA") for line in PORTABLE]


@pytest.mark.parametrize(
    "dialect",
    [
        {"delimiter": ";"},
        {"encoding": "utf-8-sig"},
        {"encoding": "cp1252", "delimiter": ";"},
        {"encoding": "latin-1"},
        {"encoding": "utf-16", "delimiter": "\t"},
        {"newline": "\r\n"},
        {"newline": "\r\r\n"},
        {"newline": "\r\r\n", "encoding": "utf-16"},
    ],
    ids=[
        "semicolon",
        "utf8-bom",
        "cp1252-semicolon",
        "latin1",
        "utf16-tab",
        "crlf",
        "cr-crlf",
        "cr-crlf-utf16",
    ],
)
def test_encodings_and_delimiters_give_the_same_responses(tmp_path: Path, ref, dialect) -> None:
    baseline = read_lines(tmp_path, PORTABLE, ref, name="baseline.csv")
    variant = read_lines(tmp_path, PORTABLE, ref, **dialect)
    assert_frame_equal(variant.responses, baseline.responses)
    assert variant.responses["saran"][0] == "Pelayanan café ramah"
    assert variant.responses["respondent_education"][0] == "≤ SMA/Sederajat"


def test_a_copy_resaved_by_excel_in_an_indonesian_locale_gives_the_same_responses(
    tmp_path: Path, ref
) -> None:
    """Excel (id-ID) opens the tabulation and saves it as "CSV": semicolons, CR LF, the
    Windows code page ("≤" has no byte there and becomes "?"), and times as d/m/yyyy h:mm,
    the hour without its zero. sapaapip's times have no seconds, so nothing of a response
    is lost: the copy gives the same responses, and so the same keys (adds nothing)."""
    excel_time = re.compile(r"^(\d\d/\d\d/\d{4}) 0?(\d+):(\d\d):00$")
    resaved = [
        ",".join(excel_time.sub(r"\1 \2:\3", cell) for cell in line.split(",")).replace("≤", "?")
        for line in LINES
    ]
    assert resaved[FIRST_DATA_LINE - 1].split(",")[TIME] == "02/04/2025 7:09"
    copy = read_lines(tmp_path, resaved, ref, encoding="cp1252", delimiter=";", newline="\r\n")
    assert_frame_equal(
        copy.responses, read_lines(tmp_path, LINES, ref, name="original.csv").responses
    )


HEADER_VARIANTS = {
    (3, 0): "Tahun: 2025",
    (3, 1): "",
    (3, 2): "",
    (4, 0): "UNIT KERJA :Loka POM di Kota Contoh",
    (4, 1): "",
    (4, 2): "",
    (HEADER_LINE, 0): "NO.",
    (HEADER_LINE, TIME): "waktu  pengisian",
    (HEADER_LINE, LAYANAN): "LAYANAN",
    (HEADER_LINE, AGE): "Umur",
    (HEADER_LINE, SEX): "jenis kelamin",
    (HEADER_LINE, EDUCATION): "Pendidikan Terakhir",
    (HEADER_LINE, PERCENT): "Persentase Tahapan Penyelesaian (%)",
    (HEADER_LINE, Q1): "u1",
    (HEADER_LINE, SARAN): "Saran dan Masukan",
    (NUMBERS_LINE, Q1): "1.0",
}


def test_header_and_metadata_spellings_are_recognised(tmp_path: Path, ref, from_csv) -> None:
    result = read_lines(tmp_path, lines_with(HEADER_VARIANTS), ref)
    assert_frame_equal(result.responses, from_csv.responses)
    assert (result.unit_name, result.survey_year) == ("Loka POM di Kota Contoh", 2025)


def test_a_response_whose_first_filled_cell_starts_with_unit_is_data_not_metadata(
    tmp_path: Path, ref, from_csv
) -> None:
    # an added row without number or time, its layanan written as the catalogue's alias
    row = LINES[FIRST_DATA_LINE - 1].split(",")
    row[0] = row[TIME] = ""
    row[LAYANAN] = "Unit Layanan Pengaduan Konsumen"
    result = read_lines(tmp_path, [*LINES, ",".join(row)], ref)
    assert (result.unit_name, result.survey_year) == ("Loka POM di Kota Contoh", 2025)
    added = result.responses.filter(pl.col("source_row") == len(LINES) + 1)
    assert added["layanan_code"].to_list() == ["PENGADUAN"]
    assert added.select(SCORE_COLUMNS).row(0) == from_csv.responses.select(SCORE_COLUMNS).row(0)


@pytest.mark.parametrize(
    ("year_line", "unit_line"),
    [
        ("Tahun,:,2025", "Unit,:,Loka POM di Kota Contoh"),
        ("Tahun,:,2025", "Unit,Loka POM di Kota Contoh"),
        ("Tahun,:,2025", "Unit: Loka POM di Kota Contoh"),
        ("Tahun,:,2025", "Unit Kerja Loka POM di Kota Contoh"),
        ("Tahun 2025", "Satker Loka POM di Kota Contoh"),
    ],
    ids=["three-cells", "label-cell", "one-cell-colon", "long-label-one-cell", "one-cell-no-colon"],
)
def test_metadata_labels_are_read_in_every_layout_but_unit_needs_a_cell_or_colon(
    tmp_path: Path, ref, year_line: str, unit_line: str
) -> None:
    replaced = {"Tahun": year_line, "Unit Kerja": unit_line}
    lines = [next((v for k, v in replaced.items() if line.startswith(k)), line) for line in LINES]
    result = read_lines(tmp_path, lines, ref)
    assert (result.unit_name, result.survey_year) == ("Loka POM di Kota Contoh", 2025)
    assert result.responses.height == 14


def test_columns_are_found_by_header_text_not_position(tmp_path: Path, ref, from_csv) -> None:
    def reorder(line: str) -> str:
        cells = line.split(",")
        if len(cells) < SARAN:
            return line
        cells[AGE], cells[SEX] = cells[SEX], cells[AGE]
        del cells[TIME]
        return ",".join(cells)

    result = read_lines(tmp_path, [reorder(line) for line in LINES], ref)
    expected = from_csv.responses.with_columns(
        pl.lit(None, pl.Datetime("us")).alias("submitted_at")
    )
    assert_frame_equal(result.responses, expected)


def test_a_group_header_missing_above_questions_twelve_to_fourteen_is_tolerated(
    tmp_path: Path, ref, from_csv
) -> None:
    result = read_lines(tmp_path, lines_with({(HEADER_LINE, Q12): ""}), ref)
    assert_frame_equal(result.responses, from_csv.responses)


# --- row-level problems become issues -------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("7", "di luar rentang 1–6 / outside the range 1–6"),
        ("0", "di luar rentang 1–6 / outside the range 1–6"),
        ("4.5", "bukan bilangan bulat 1–6 / not a whole number from 1 to 6"),
        ("empat", "bukan bilangan bulat 1–6 / not a whole number from 1 to 6"),
        ("", "jawaban kosong / answer is blank"),
    ],
    ids=["above-scale", "zero", "decimal", "text", "blank"],
)
def test_an_unreadable_unsur_score_is_null_and_an_issue(
    tmp_path: Path, ref, written: str, reason: str
) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, Q3): written}), ref)
    assert result.responses["q3"][0] is None
    assert result.issues.rows() == [(FIRST_DATA_LINE, "q3", written or None, reason)]
    assert result.rows_read == 14


@pytest.mark.parametrize("column", [Q12, AK1], ids=["q12", "ak1"])
def test_a_blank_answer_outside_the_unsur_is_null_without_an_issue(
    tmp_path: Path, ref, column: int
) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, column): ""}), ref)
    assert result.issues.is_empty()
    assert result.responses.row(0, named=True)["q12" if column == Q12 else "ak1"] is None


def test_a_whole_number_written_as_a_decimal_is_a_score(tmp_path: Path, ref) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, Q3): "5.0"}), ref)
    assert result.responses["q3"][0] == 5
    assert result.issues.is_empty()


@pytest.mark.parametrize(
    ("written", "age", "has_issue"),
    [("41", 41, False), ("41 tahun", 41, False), ("", None, False), ("abc", None, True)],
)
def test_age_is_a_number_or_null(
    tmp_path: Path, ref, written: str, age: int | None, has_issue: bool
) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, AGE): written}), ref)
    assert result.responses["respondent_age"][0] == age
    assert result.issues["column"].to_list() == (["respondent_age"] if has_issue else [])


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("02/04/2025 07:09:00", dt.datetime(2025, 4, 2, 7, 9)),
        ("02/04/2025 07:09", dt.datetime(2025, 4, 2, 7, 9)),
        ("2/4/2025 7:09:05", dt.datetime(2025, 4, 2, 7, 9, 5)),
        ("02-04-2025", dt.datetime(2025, 4, 2)),
        ("02.04.2025 19.09", dt.datetime(2025, 4, 2, 19, 9)),
        ("2025-04-02T07:09:00", dt.datetime(2025, 4, 2, 7, 9)),
        ("2025-04-02 07:08:59.9999", dt.datetime(2025, 4, 2, 7, 9)),
        ("02/04/2025 07:09:00 PM", dt.datetime(2025, 4, 2, 19, 9)),
        ("", None),
    ],
)
def test_submission_times_in_the_usual_formats_are_read_day_first(
    tmp_path: Path, ref, written: str, expected: dt.datetime | None
) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, TIME): written}), ref)
    assert result.responses["submitted_at"][0] == expected
    assert result.issues.is_empty()


@pytest.mark.parametrize("written", ["31/02/2025 07:09:00", "kemarin", "02/04/2025 25:00"])
def test_an_unreadable_submission_time_is_an_issue(tmp_path: Path, ref, written: str) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, TIME): written}), ref)
    assert result.responses["submitted_at"][0] is None
    assert result.issues.select("column", "value").rows() == [("submitted_at", written)]


def test_an_unknown_layanan_keeps_its_text_and_gets_no_code(tmp_path: Path, ref) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, LAYANAN): "Layanan Baru"}), ref)
    row = result.responses.row(0, named=True)
    assert (row["layanan_raw"], row["layanan_code"], row["layanan_name"]) == (
        "Layanan Baru",
        None,
        None,
    )
    assert result.issues.is_empty()


def test_an_unknown_sex_is_null_with_a_warning_not_an_issue(tmp_path: Path, ref) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, SEX): "X"}), ref)
    assert result.responses["respondent_sex"][0] is None
    assert result.issues.is_empty()
    assert any("'Jenis Kelamin'" in w and "'X'" in w for w in result.warnings)


def test_an_unknown_occupation_becomes_lainnya(tmp_path: Path, ref) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, OCCUPATION): "Petani"}), ref)
    assert result.responses["respondent_occupation"][0] == "Lainnya"


def test_a_row_with_an_unquoted_comma_is_an_issue(tmp_path: Path, ref) -> None:
    result = read_lines(tmp_path, lines_with({(FIRST_DATA_LINE, SARAN): "cepat, ramah"}), ref)
    assert result.issues.select("source_row", "column", "value").rows() == [
        (FIRST_DATA_LINE, "(baris / row)", "ramah")
    ]


def test_a_totals_row_below_the_data_is_skipped_with_a_warning(tmp_path: Path, ref) -> None:
    totals = "Jumlah,,,,,,,," + ",".join(["70"] * 19) + ","
    result = read_lines(tmp_path, [*LINES, totals], ref)
    assert result.rows_read == 14
    assert result.issues.is_empty()
    assert any("(baris 22)" in w for w in result.warnings)


def test_blank_lines_inside_the_data_are_skipped_silently(tmp_path: Path, ref) -> None:
    lines = [*LINES[:12], "", ",,,,", *LINES[12:]]
    result = read_lines(tmp_path, lines, ref)
    assert result.rows_read == 14
    assert result.warnings == []
    assert result.responses["source_row"][5] == 15


# --- files that cannot be used --------------------------------------------------------------


def assert_bilingual(message: str, *parts: str) -> None:
    """The message reads "problem / problem — action / action" and holds the parts."""
    assert " / " in message and " — " in message
    assert "Traceback" not in message
    for part in parts:
        assert part in message


@pytest.mark.parametrize(
    ("transform", "parts"),
    [
        (
            lambda lines: [
                line.replace("Layanan,", "Service,") if i == HEADER_LINE - 1 else line
                for i, line in enumerate(lines)
            ],
            [
                "kolom 'Layanan' tidak ditemukan di baris 6 file tabulasi.csv",
                "column 'Layanan' not found in row 6 of tabulasi.csv",
                "sapaapip",
            ],
        ),
        (
            lambda lines: lines_with({(HEADER_LINE, SARAN): "Catatan"}),
            ["kolom 'Saran' tidak ditemukan", "column 'Saran' not found"],
        ),
        (
            lambda lines: lines_with({(NUMBERS_LINE, Q3): ""}),
            ["question column(s) 3 (U3) not found in row 7"],
        ),
        (
            lambda lines: lines_with({(HEADER_LINE, Q3): "U4", (HEADER_LINE, Q3 + 3): "U3"}),
            ["question 3 stands under U4", "questionnaire puts it in U3"],
        ),
        (
            lambda lines: [line for line in lines if not line.startswith("Tahun")],
            ["'Tahun : <tahun>'", "'Tahun : <year>' row is missing"],
        ),
        (
            lambda lines: [line for line in lines if not line.startswith("Unit Kerja")],
            ["'Unit Kerja : <unit name>' row was not found"],
        ),
        (
            lambda lines: [*lines, "Tahun,:,2024"],
            ["holds more than one tabulation (2025, 2024)", "satu file per unit kerja dan tahun"],
        ),
        (
            lambda lines: lines[:NUMBERS_LINE],
            ["no response rows below the header (row 6) of tabulasi.csv"],
        ),
        (
            lambda lines: lines[:4],
            ["the tabulation header row (No, Layanan", "not found in the first 60 rows"],
        ),
        (lambda lines: ["", "  "], ["tabulasi.csv is empty"]),
    ],
    ids=[
        "no-layanan-column",
        "no-saran-column",
        "no-question-3",
        "question-under-wrong-unsur",
        "no-year",
        "no-unit",
        "two-years",
        "header-only",
        "no-header",
        "empty",
    ],
)
def test_an_unusable_csv_raises_a_bilingual_error(
    tmp_path: Path, ref, transform: Callable[[list[str]], list[str]], parts: list[str]
) -> None:
    with pytest.raises(SourceFileError) as raised:
        read_lines(tmp_path, transform(LINES), ref)
    assert_bilingual(str(raised.value), *parts)


@pytest.mark.parametrize(
    ("content", "part"),
    [
        (b"", "is empty"),
        (bytes(range(256)) * 4, "is not an Excel workbook"),
        (b"PK\x03\x04 not really a workbook", "cannot be read as an Excel workbook"),
    ],
    ids=["zero-bytes", "binary", "broken-xlsx"],
)
def test_an_unreadable_file_raises_a_bilingual_error(
    tmp_path: Path, ref, content: bytes, part: str
) -> None:
    path = tmp_path / "tabulasi.xlsx"
    path.write_bytes(content)
    with pytest.raises(SourceFileError) as raised:
        read_sapaapip(path, ref)
    assert_bilingual(str(raised.value), part, "tabulasi.xlsx")


def test_a_workbook_without_a_tabulation_raises_a_bilingual_error(tmp_path: Path, ref) -> None:
    path = tmp_path / "kosong.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(SourceFileError) as raised:
        read_sapaapip(path, ref)
    assert_bilingual(str(raised.value), "header row", "not found", "kosong.xlsx")


# --- workbooks laid out differently ---------------------------------------------------------


def _cell(text: str) -> object:
    """The example's CSV text as an Excel cell value (numbers and times typed)."""
    if text.isdigit():
        return int(text)
    try:
        return dt.datetime.strptime(text, "%d/%m/%Y %H:%M:%S")
    except ValueError:
        return text or None


def write_workbook(
    path: Path, lines: list[str], *, first_row: int = 1, first_column: int = 1, before=None
) -> Path:
    """Write the example's lines as a typed sheet starting at the given cell."""
    workbook = openpyxl.Workbook()
    if before is not None:
        notes = workbook.active
        notes.title = "Petunjuk"
        notes["A1"] = before
        sheet = workbook.create_sheet("Tabulasi")
    else:
        sheet = workbook.active
    for i, line in enumerate(lines):
        for j, text in enumerate(line.split(",")):
            value = _cell(text)
            if value is not None:
                sheet.cell(row=first_row + i, column=first_column + j, value=value)
    workbook.save(path)
    return path


def _with_summary_sheet(path: Path) -> Path:
    """Put a "Rekap" sheet first: a header much like the tabulation's, without its columns."""
    book = openpyxl.load_workbook(path)
    rekap = book.create_sheet("Rekap", 0)
    rekap.append(["No", "Layanan", *[f"U{i}" for i in range(1, 10)], "IKM"])
    rekap.append([1, "Pengaduan masyarakat", *[3.5] * 9, 88.45])
    book.save(path)
    return path


def test_a_summary_sheet_before_the_tabulation_gives_way_to_it(
    tmp_path: Path, ref, from_csv
) -> None:
    path = _with_summary_sheet(write_workbook(tmp_path / "rekap.xlsx", LINES))
    result = read_sapaapip(path, ref)
    assert_frame_equal(result.responses.drop("source_row"), from_csv.responses.drop("source_row"))
    assert "sheet 'Rekap' is not a complete tabulation; read sheet 'Sheet'" in " ".join(
        result.warnings
    )


def test_a_second_tabulation_sheet_is_named_as_not_read(tmp_path: Path, ref, from_csv) -> None:
    path = write_workbook(tmp_path / "dua.xlsx", LINES)
    book = openpyxl.load_workbook(path)
    copy = book.copy_worksheet(book["Sheet"])
    copy.title = "Juli"
    book.create_sheet("Catatan").append(["dibuat oleh admin"])
    book.save(path)
    result = read_sapaapip(path, ref)
    assert_frame_equal(result.responses.drop("source_row"), from_csv.responses.drop("source_row"))
    [warning] = result.warnings
    assert "sheet 'Juli' is a complete tabulation too but was not read (only sheet 'Sheet' is)" in (
        warning
    )


def test_a_workbook_with_no_complete_tabulation_names_the_sheet_it_tried(
    tmp_path: Path, ref
) -> None:
    path = _with_summary_sheet(write_workbook(tmp_path / "rekap.xlsx", ["Catatan"]))
    with pytest.raises(SourceFileError, match="lembar / sheet 'Rekap': .*Usia"):
        read_sapaapip(path, ref)


def test_a_sheet_starting_lower_and_further_right_keeps_excel_row_numbers(
    tmp_path: Path, ref, from_csv
) -> None:
    lines = [line for line in LINES[2:] if line]  # no title, no blank lines
    path = write_workbook(tmp_path / "shifted.xlsx", lines, first_row=4, first_column=3)
    result = read_sapaapip(path, ref)
    assert result.responses["source_row"].to_list() == list(range(8, 22))
    assert_frame_equal(result.responses.drop("source_row"), from_csv.responses.drop("source_row"))


def test_the_tabulation_may_sit_on_a_later_sheet(tmp_path: Path, ref, from_csv) -> None:
    path = write_workbook(tmp_path / "two_sheets.xlsx", LINES, before="Baca petunjuk ini dulu")
    assert_frame_equal(read_sapaapip(path, ref).responses, from_csv.responses)


def test_one_cell_metadata_and_merged_group_headers_are_read(tmp_path: Path, ref, from_csv) -> None:
    path = write_workbook(tmp_path / "merged.xlsx", LINES)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    sheet["A3"], sheet["B3"], sheet["C3"] = "Tahun : 2025", None, None
    sheet.merge_cells(
        start_row=HEADER_LINE, start_column=Q3 + 1, end_row=HEADER_LINE, end_column=Q3 + 3
    )
    sheet.merge_cells(start_row=HEADER_LINE, start_column=1, end_row=NUMBERS_LINE, end_column=1)
    workbook.save(path)
    assert_frame_equal(read_sapaapip(path, ref).responses, from_csv.responses)


@pytest.mark.parametrize(
    ("value", "expected_time", "issue"),
    [
        (45749.297916666666, dt.datetime(2025, 4, 2, 7, 9), None),  # a serial left as General
        ("02/04/2025 07:09", dt.datetime(2025, 4, 2, 7, 9), None),  # typed as text
        (dt.date(2025, 4, 2), dt.datetime(2025, 4, 2), None),
        ("minggu lalu", None, "submitted_at"),
    ],
    ids=["excel-serial", "text", "date-only", "unreadable"],
)
def test_time_cells_of_every_excel_type_are_read(
    tmp_path: Path, ref, value: object, expected_time: dt.datetime | None, issue: str | None
) -> None:
    path = write_workbook(tmp_path / "times.xlsx", LINES)
    workbook = openpyxl.load_workbook(path)
    workbook.active.cell(row=FIRST_DATA_LINE, column=TIME + 1, value=value)
    workbook.save(path)
    result = read_sapaapip(path, ref)
    assert result.responses["submitted_at"][0] == expected_time
    assert result.issues["column"].to_list() == ([issue] if issue else [])


def test_a_decimal_score_cell_is_an_issue(tmp_path: Path, ref) -> None:
    path = write_workbook(tmp_path / "decimal.xlsx", LINES)
    workbook = openpyxl.load_workbook(path)
    workbook.active.cell(row=FIRST_DATA_LINE, column=Q3 + 1, value=4.5)
    workbook.save(path)
    result = read_sapaapip(path, ref)
    assert result.issues.select("column", "value").rows() == [("q3", "4.5")]


def test_csv_cells_are_tidied_column_by_column_as_tidying_every_cell_would() -> None:
    # the CSV path strips and blanks only the columns holding a cell that needs it; on
    # random texts of quotes, delimiters, line breaks, empty cells and Unicode spaces it
    # must agree with tidying every cell
    rng = random.Random(7)
    atoms = ["a", "1", " ", "\t", "\u00a0", "\u3000", "\n", '"', '""', ",", ";", "x y"]
    atoms += ["\u2028", "\x85", "\x1f", "\r", "\r\n", "é", ", ", '" "', ',"",']
    untouched = tidied = 0
    for _ in range(1500):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 30)))
        payload = tabular._plain_utf8(text.encode())
        for delimiter in (",", ";"):
            try:
                frame = pl.read_csv(
                    payload,
                    has_header=False,
                    separator=delimiter,
                    schema={f"c{i}": pl.Utf8 for i in range(12)},
                    missing_columns="insert",
                    truncate_ragged_lines=True,
                    raise_if_empty=False,
                )
            except pl.exceptions.PolarsError:
                continue
            expected = tabular._tidy(frame)
            assert_frame_equal(tabular._tidy_columns(frame), expected)
            changed = [c for c in frame.columns if not frame[c].equals(expected[c])]
            tidied += bool(changed)
            untouched += frame.width - len(changed)
    assert tidied > 500 and untouched > 5000


def test_a_csv_with_a_lone_carriage_return_in_a_quoted_cell_reads_like_a_line_feed(
    tmp_path: Path, ref
) -> None:
    lines = list(LINES)
    cells = lines[FIRST_DATA_LINE - 1].split(",")
    cells[SARAN] = '"Mohon\rdipercepat "'
    lines[FIRST_DATA_LINE - 1] = ",".join(cells)
    path = tmp_path / "cr.csv"
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    result = read_sapaapip(path, ref)
    assert result.responses["saran"][0] == "Mohon\ndipercepat"


def test_score_columns_read_together_match_reading_each_column() -> None:
    from skm_etl.sources import normalize as nz

    cells = pl.DataFrame(
        {
            "q1": ["1", "6", None, "4", "2"],
            "q2": ["7", "4.0", "0", "lima", None],
            "q3": ["04", "٤", "3", "", "5,0"],
            "ak1": [None] * 5,
        },
        schema={code: pl.Utf8 for code in ("q1", "q2", "q3", "ak1")},
    )
    blank = {"q1": True, "q2": True, "q3": False, "ak1": False}
    together = nz.scores_from_numbers(cells, 6, blank_is_issue=blank)
    for code in cells.columns:
        alone = nz.score_from_number(cells[code], 6, blank_is_issue=blank[code])
        assert together[code].value.to_list() == alone.value.to_list()
        assert together[code].value.dtype == pl.Int16
        assert together[code].reason.to_list() == alone.reason.to_list()


# --- short files take a faster path to the same result -------------------------------------


@pytest.mark.parametrize("twin", ["xlsx", "csv"])
def test_a_short_file_reads_as_it_would_by_distinct_value(
    tmp_path: Path, ref, monkeypatch: pytest.MonkeyPatch, twin: str
) -> None:
    """Short files key every cell in one query; forcing the long-file path changes nothing."""
    from skm_etl.sources import normalize

    if twin == "xlsx":
        path = XLSX
    else:
        changes = {
            (FIRST_DATA_LINE, Q3): "5.0",
            (FIRST_DATA_LINE + 1, Q3): "lima",
            (FIRST_DATA_LINE + 2, Q1): "",
            (FIRST_DATA_LINE + 3, Q12): "9",
            (FIRST_DATA_LINE + 1, SEX): "Bukan",
            (FIRST_DATA_LINE + 2, EDUCATION): "??",
            (FIRST_DATA_LINE + 3, AGE): "abc",
            (FIRST_DATA_LINE + 4, PERCENT): "x%",
            (FIRST_DATA_LINE + 4, LAYANAN): "Layanan Tak Dikenal",
            (FIRST_DATA_LINE + 5, LAYANAN): "",
        }
        path = write_csv(tmp_path, [*lines_with(changes), "Jumlah,,,,,,,,5"])
    short = read_sapaapip(path, ref)
    assert not short.issues.is_empty() or twin == "xlsx"
    monkeypatch.setattr(normalize, "DIRECT_ROWS", 0)
    monkeypatch.setattr(tabular, "SHORT_SHEET_ROWS", 0)
    assert_same_read(short, read_sapaapip(path, ref))
