"""The Google Forms reader (SPEC §6.2) on the example export and messy variants of it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from fixtures.sources.golden import WHOLE_UNIT, expected_section, index_of, ipak_of
from skm_etl import pipeline
from skm_etl.load import warehouse
from skm_etl.reference import load_reference
from skm_etl.settings import load_settings
from skm_etl.sources import ReadResult, SourceFileError, read_google_forms
from skm_etl.sources.result import ISSUE_SCHEMA, PERSONAL_SCHEMA, RESPONSE_SCHEMA
from tests.frames import assert_same_read

CSV = Path(__file__).parent / "fixtures" / "google_forms_example.csv"
ROWS = list(csv.reader(io.StringIO(CSV.read_text(encoding="utf-8"))))
UNIT, YEAR = "Balai POM di Kota Contoh", 2025
SCORE_COLUMNS = [f"q{n}" for n in range(1, 15)] + [f"ak{n}" for n in range(1, 6)]
# column positions in the example
TIMESTAMP, NAME, AGE, SEX, PHONE, EDUCATION, OCCUPATION, INSTITUTION, LAYANAN, PERCENT = range(10)
Q1, Q3, Q12, AK1, SARAN = 10, 12, 21, 24, 29


@pytest.fixture(scope="module")
def ref():
    return load_reference()


@pytest.fixture(scope="module")
def example(ref) -> ReadResult:
    return read_google_forms(CSV, ref, unit_name=UNIT, survey_year=YEAR)


def rows_with(changes: dict[tuple[int, int], str]) -> list[list[str]]:
    """The example's records with some cells replaced, keyed by (0-based record, column)."""
    rows = [list(row) for row in ROWS]
    for (record, column), value in changes.items():
        rows[record][column] = value
    return rows


def write_csv(
    tmp_path: Path,
    rows: list[list[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    name: str = "forms.csv",
) -> Path:
    """Write records as a CSV file in the given dialect, quoting where needed."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path = tmp_path / name
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def read_rows(tmp_path: Path, rows: list[list[str]], ref, **dialect: str) -> ReadResult:
    """Read records written as a CSV file."""
    path = write_csv(tmp_path, rows, **dialect)
    return read_google_forms(path, ref, unit_name=UNIT, survey_year=YEAR)


# --- the example export ------------------------------------------------------------------


def test_the_example_gives_nine_responses_without_issues(example) -> None:
    assert (example.rows_read, example.responses.height) == (9, 9)
    assert example.issues.is_empty()
    assert example.responses["source_row"].to_list() == list(range(2, 11))


def test_unit_and_year_come_from_the_source_configuration(example) -> None:
    assert (example.unit_name, example.survey_year) == (UNIT, YEAR)
    assert example.responses["unit_name"].unique().to_list() == [UNIT]
    assert example.responses["survey_year"].unique().to_list() == [YEAR]


def test_the_frames_have_exactly_the_contract_columns_and_dtypes(example) -> None:
    assert example.responses.schema == pl.Schema(RESPONSE_SCHEMA)
    assert example.issues.schema == pl.Schema(ISSUE_SCHEMA)
    assert example.personal.schema == pl.Schema(PERSONAL_SCHEMA)


def test_names_and_phone_numbers_travel_only_in_personal(example) -> None:
    assert example.personal.row(0) == (2, "Responden 1", "081255362865")
    assert example.personal.height == 9
    texts = example.responses.select(pl.col(pl.Utf8)).unpivot()["value"].drop_nulls()
    assert not texts.str.contains(r"Responden|0812").any()


def test_the_institution_column_is_not_read_and_not_warned_about(example) -> None:
    assert example.warnings == []


def test_an_unknown_column_is_reported_as_ignored(tmp_path: Path, ref) -> None:
    rows = [[*row, "Kolom tambahan" if i == 0 else "x"] for i, row in enumerate(ROWS)]
    result = read_rows(tmp_path, rows, ref)
    assert result.warnings == ["kolom diabaikan / columns ignored: 'Kolom tambahan'"]


@pytest.mark.parametrize(
    ("source_row", "scores"),
    [
        # Cukup Mudah ×2, Cukup Sesuai ×2, Cukup Cepat, Cukup Jelas, Cukup Sesuai, Kurang
        # Memadai, Cukup Setuju, Cukup Baik, Cukup Lengkap | Cukup Sesuai, Cukup Setuju,
        # Kurang Sesuai | Sangat Setuju, Sangat Setuju, Setuju, Sangat Setuju, Sangat Setuju
        (2, [4, 4, 4, 4, 4, 4, 4, 3, 4, 4, 4, 4, 4, 3, 6, 6, 5, 6, 6]),
        # Sangat Mudah, Sangat Mudah, Sesuai, Sangat Sesuai, Sangat Cepat, Jelas, Sesuai,
        # Memadai, Sangat Setuju, Sangat Baik, Lengkap | Sesuai, Sangat Setuju, Sangat Sesuai
        # | Setuju, Sangat Setuju, Setuju, Sangat Setuju, Sangat Setuju
        (9, [6, 6, 5, 6, 6, 5, 5, 5, 6, 6, 5, 5, 6, 6, 5, 6, 5, 6, 6]),
    ],
    ids=["responden-1", "responden-8"],
)
def test_scores_are_the_labels_written_in_the_file(
    example, source_row: int, scores: list[int]
) -> None:
    row = example.responses.filter(pl.col("source_row") == source_row)
    assert row.select(SCORE_COLUMNS).row(0) == tuple(scores)


def test_the_first_response_reads_as_written(example) -> None:
    row = example.responses.row(0, named=True)
    assert row["submitted_at"] == dt.datetime(2025, 4, 3, 7, 50)
    assert (row["layanan_code"], row["respondent_age"], row["respondent_sex"]) == (
        "PENGADUAN",
        33,
        "Laki-laki",
    )
    assert (row["respondent_education"], row["respondent_occupation"]) == (
        "S2/Profesi/S3",
        "Lainnya",
    )
    assert (row["completion_pct"], row["saran"]) == (100.0, None)


EXPECTED, EXPECTED_IPAK = expected_section("google_forms_example.csv")


@pytest.mark.parametrize("scope", list(EXPECTED))
def test_the_index_per_layanan_reproduces_expected_md(example, ref, scope: str) -> None:
    responses = example.responses
    if scope != WHOLE_UNIT:
        responses = responses.filter(pl.col("layanan_name") == scope)
    computed = index_of(responses, ref.questionnaire)
    assert computed == {key: EXPECTED[scope][key] for key in computed}


def test_the_anti_corruption_index_reproduces_expected_md(example, ref) -> None:
    assert ipak_of(example.responses, ref.questionnaire) == EXPECTED_IPAK


# --- encodings, delimiters and title spellings ---------------------------------------------

PORTABLE = [
    [cell.replace("≤ SMA/Sederajat", "SMA") for cell in row]
    for row in rows_with({(2, SARAN): "Pelayanan café ramah"})
]


@pytest.mark.parametrize(
    "dialect",
    [
        {"delimiter": ";"},
        {"encoding": "utf-8-sig"},
        {"encoding": "cp1252"},
        {"encoding": "utf-16", "delimiter": "\t"},
    ],
    ids=["semicolon", "utf8-bom", "cp1252", "utf16-tab"],
)
def test_encodings_and_delimiters_give_the_same_responses(tmp_path: Path, ref, dialect) -> None:
    baseline = read_rows(tmp_path, PORTABLE, ref, name="baseline.csv")
    variant = read_rows(tmp_path, PORTABLE, ref, **dialect)
    assert_frame_equal(variant.responses, baseline.responses)
    assert_frame_equal(variant.personal, baseline.personal)
    assert variant.responses["saran"][1] == "Pelayanan café ramah"


TITLE_VARIANTS = {
    (0, TIMESTAMP): "Stempel waktu",
    (0, NAME): "Nama",
    (0, AGE): "Usia (tahun)",
    (0, SEX): "JENIS KELAMIN",
    (0, PHONE): "No. WhatsApp",
    (0, EDUCATION): "Pendidikan",
    (0, OCCUPATION): "pekerjaan",
    (0, LAYANAN): "Jenis Layanan",
    (0, PERCENT): "Persentase tahapan penyelesaian (%)",
    (0, Q1): "1) BAGAIMANA penilaian Saudara mengenai kemudahan   PERSYARATAN pelayanan?",
    (0, AK1): "Pernyataan anti korupsi [Petugas  memberikan layanan tanpa DISKRIMINASI]",
    (0, SARAN): "Kritik dan saran",
}


def test_title_spellings_are_recognised(tmp_path: Path, ref, example) -> None:
    result = read_rows(tmp_path, rows_with(TITLE_VARIANTS), ref)
    assert_frame_equal(result.responses, example.responses)
    assert_frame_equal(result.personal, example.personal)


def test_titles_without_numbers_are_matched_by_their_words(tmp_path: Path, ref, example) -> None:
    rows = rows_with({})
    rows[0] = [re.sub(r"^\d+\.\s*", "", title) for title in rows[0]]
    result = read_rows(tmp_path, rows, ref)
    assert_frame_equal(result.responses, example.responses)


def test_columns_are_found_by_title_not_position(tmp_path: Path, ref, example) -> None:
    order = [SARAN, *range(SARAN)]
    rows = [[row[i] for i in order] for row in ROWS]
    assert_frame_equal(read_rows(tmp_path, rows, ref).responses, example.responses)


# --- answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["  sangat   MUDAH ", "Sangat-Mudah", "SANGAT MUDAH"])
def test_labels_match_ignoring_case_spaces_and_punctuation(
    tmp_path: Path, ref, written: str
) -> None:
    result = read_rows(tmp_path, rows_with({(1, Q1): written}), ref)
    assert result.responses["q1"][0] == 6
    assert result.issues.is_empty()


def test_an_unknown_label_is_null_and_an_issue_naming_the_allowed_labels(
    tmp_path: Path, ref
) -> None:
    result = read_rows(tmp_path, rows_with({(1, Q3): "Lumayan"}), ref)
    assert result.responses["q3"][0] is None
    (issue,) = result.issues.rows(named=True)
    assert (issue["source_row"], issue["column"], issue["value"]) == (2, "q3", "Lumayan")
    assert issue["reason"].startswith("jawaban tidak dikenal / unknown answer")
    assert "Sangat Tidak Sesuai, Tidak Sesuai, Kurang Sesuai" in issue["reason"]


def test_a_label_of_another_question_is_not_accepted(tmp_path: Path, ref) -> None:
    result = read_rows(tmp_path, rows_with({(1, Q1): "Sangat Sesuai"}), ref)
    assert result.issues.select("column", "value").rows() == [("q1", "Sangat Sesuai")]


def test_a_blank_unsur_answer_is_an_issue_but_a_blank_grid_answer_is_not(
    tmp_path: Path, ref
) -> None:
    result = read_rows(tmp_path, rows_with({(1, Q3): "", (1, AK1): ""}), ref)
    assert result.issues.select("column", "reason").rows() == [
        ("q3", "jawaban kosong / answer is blank")
    ]
    assert result.responses.select("q3", "ak1").row(0) == (None, None)


def test_blank_lines_between_responses_are_skipped(tmp_path: Path, ref) -> None:
    rows = [*ROWS[:4], [], [""] * len(ROWS[0]), *ROWS[4:]]
    result = read_rows(tmp_path, rows, ref)
    assert result.rows_read == 9
    assert result.responses["source_row"].to_list() == [2, 3, 4, 7, 8, 9, 10, 11, 12]


# --- timestamps --------------------------------------------------------------------------


def us_stamp(text: str) -> str:
    """Rewrite "dd/mm/yyyy HH:MM:SS" as a US-locale sheet writes it: "m/d/yyyy H:MM:SS"."""
    stamp = dt.datetime.strptime(text, "%d/%m/%Y %H:%M:%S")
    return (
        f"{stamp.month}/{stamp.day}/{stamp.year} {stamp.hour}:{stamp.minute:02}:{stamp.second:02}"
    )


def test_a_us_locale_sheet_is_read_month_first(tmp_path: Path, ref, example) -> None:
    rows = rows_with({(i, TIMESTAMP): us_stamp(ROWS[i][TIMESTAMP]) for i in range(1, 10)})
    result = read_rows(tmp_path, rows, ref)
    assert_frame_equal(result.responses, example.responses)
    assert not any("hari/bulan" in w for w in result.warnings)


def _with_stamps(stamps: list[str]) -> list[list[str]]:
    return rows_with({(i, TIMESTAMP): s for i, s in enumerate(stamps, start=1)})


def test_ambiguous_timestamps_are_read_day_first_with_a_warning(tmp_path: Path, ref) -> None:
    stamps = ["01/02/2025 10:00:00", "02/01/2025 10:00:00", "01/02/2025 11:00:00"] * 3
    result = read_rows(tmp_path, _with_stamps(stamps), ref)
    assert result.responses["submitted_at"][1] == dt.datetime(2025, 1, 2, 10)
    assert any("could be day/month or month/day; read as day/month" in w for w in result.warnings)


def test_the_order_of_the_rows_settles_otherwise_ambiguous_timestamps(tmp_path: Path, ref) -> None:
    stamps = [f"{month}/{day}/2025 9:00:00" for month, day in [(3, 4), (4, 3), (5, 2)] * 3]
    stamps = sorted(stamps, key=lambda s: dt.datetime.strptime(s, "%m/%d/%Y %H:%M:%S"))
    result = read_rows(tmp_path, _with_stamps(stamps), ref)
    assert result.responses["submitted_at"][0] == dt.datetime(2025, 3, 4, 9)
    assert any("read as month/day/year" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2025/04/03 7:50:00 PM GMT+7", dt.datetime(2025, 4, 3, 19, 50)),
        ("3/4/2025 7:50:00", dt.datetime(2025, 4, 3, 7, 50)),
        ("2025-04-03 07:50:00", dt.datetime(2025, 4, 3, 7, 50)),
    ],
)
def test_other_timestamp_forms_are_read(
    tmp_path: Path, ref, written: str, expected: dt.datetime
) -> None:
    result = read_rows(tmp_path, rows_with({(1, TIMESTAMP): written}), ref)
    assert result.responses["submitted_at"][0] == expected
    assert result.issues.is_empty()


def test_an_unreadable_timestamp_is_an_issue(tmp_path: Path, ref) -> None:
    result = read_rows(tmp_path, rows_with({(1, TIMESTAMP): "tadi pagi"}), ref)
    assert result.issues.select("source_row", "column", "value").rows() == [
        (2, "submitted_at", "tadi pagi")
    ]


# --- files that cannot be used --------------------------------------------------------------


def without(*columns: int) -> Callable[[list[list[str]]], list[list[str]]]:
    """Drop columns from every record."""
    return lambda rows: [[c for i, c in enumerate(row) if i not in columns] for row in rows]


@pytest.mark.parametrize(
    ("transform", "parts"),
    [
        (
            without(Q3),
            [
                "column '3. … (U3: waktu pelayanan)' not found in row 1 of forms.csv",
                "columns found: 'Timestamp'; 'Nama Lengkap'",
                "Google Sheet",
            ],
        ),
        (without(TIMESTAMP), ["column 'Timestamp' not found in row 1"]),
        (without(LAYANAN), ["column 'Jenis pelayanan yang diterima' not found"]),
        (
            lambda rows: [[*row, row[AGE]] for row in rows],
            ["two columns mean 'Umur' in forms.csv: 'Umur' and 'Umur'"],
        ),
        (
            lambda rows: [[*row, row[Q3]] for row in rows],
            ["question q3 matches several columns"],
        ),
        (lambda rows: [], ["forms.csv is empty"]),
    ],
    ids=[
        "no-question-3",
        "no-timestamp",
        "no-layanan",
        "two-age-columns",
        "two-question-3-columns",
        "empty",
    ],
)
def test_an_unusable_file_raises_a_bilingual_error(
    tmp_path: Path, ref, transform: Callable[[list[list[str]]], list[list[str]]], parts: list[str]
) -> None:
    with pytest.raises(SourceFileError) as raised:
        read_rows(tmp_path, transform(ROWS), ref)
    message = str(raised.value)
    assert " / " in message and " — " in message
    for part in parts:
        assert part in message


def test_a_source_without_unit_or_year_is_rejected(ref) -> None:
    with pytest.raises(SourceFileError, match="no unit and year are configured"):
        read_google_forms(CSV, ref, unit_name="", survey_year=YEAR)


def test_an_xlsx_download_of_the_sheet_is_read_too(tmp_path: Path, ref, example) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in ROWS:
        values: list[object] = list(row)
        if row is not ROWS[0]:
            values[TIMESTAMP] = dt.datetime.strptime(row[TIMESTAMP], "%d/%m/%Y %H:%M:%S")
        sheet.append([v if v != "" else None for v in values])
    path = tmp_path / "forms.xlsx"
    workbook.save(path)
    result = read_google_forms(path, ref, unit_name=UNIT, survey_year=YEAR)
    assert_frame_equal(result.responses, example.responses)
    assert_frame_equal(result.personal, example.personal)


def test_label_columns_read_together_match_reading_each_column(ref) -> None:
    from skm_etl.sources import normalize as nz

    items = {code: ref.questionnaire.item(code) for code in ("q1", "q12", "ak1")}
    labels = [label for item in items.values() for label in item.labels]
    cells = pl.DataFrame(
        {
            "q1": [labels[0], None, "  " + labels[1].upper(), "tidak tahu", labels[-1]],
            "q12": [None, None, labels[2], "-", labels[0].lower()],
            "ak1": [None] * 5,
        },
        schema={code: pl.Utf8 for code in items},
    )
    blank = {"q1": True, "q12": False, "ak1": False}
    together = nz.scores_from_labels(cells, items, blank_is_issue=blank)
    for code, item in items.items():
        alone = nz.score_from_label(cells[code], item, blank_is_issue=blank[code])
        assert together[code].value.to_list() == alone.value.to_list()
        assert together[code].value.dtype == alone.value.dtype == pl.Int16
        assert together[code].reason.to_list() == alone.reason.to_list()


# --- short files take a faster path to the same result -------------------------------------


def test_a_short_file_reads_as_it_would_by_distinct_value(
    tmp_path: Path, ref, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Short files key every cell in one query; forcing the long-file path changes nothing."""
    from skm_etl.sources import normalize, tabular

    changes = {
        (1, Q3): "Entah",
        (2, Q1): "",
        (3, AK1): "",
        (2, SEX): "Bukan",
        (3, EDUCATION): "??",
        (4, AGE): "abc",
        (5, PERCENT): "x%",
        (5, LAYANAN): "Layanan Tak Dikenal",
        (6, LAYANAN): "",
        (7, TIMESTAMP): "kemarin",
    }
    path = write_csv(tmp_path, rows_with(changes))
    short = read_google_forms(path, ref, unit_name=UNIT, survey_year=YEAR)
    assert not short.issues.is_empty()
    monkeypatch.setattr(normalize, "DIRECT_ROWS", 0)
    monkeypatch.setattr(tabular, "SHORT_SHEET_ROWS", 0)
    assert_same_read(short, read_google_forms(path, ref, unit_name=UNIT, survey_year=YEAR))


# --- a sheet in US locale, export after export -------------------------------------------


def _us_export(rows: int) -> list[list[str]]:
    """The example's header and first `rows` responses with times as a US sheet writes them."""
    return [
        ROWS[0],
        *(rows_with({(i, TIMESTAMP): us_stamp(ROWS[i][TIMESTAMP])})[i] for i in range(1, rows + 1)),
    ]


def _night(config: Path) -> tuple[pipeline.RunSummary, int]:
    """One run's file phases; the run's summary (as if published) and the responses stored."""
    settings = load_settings(config)
    summary = pipeline.RunSummary(run_id=warehouse.new_id(), started_at=dt.datetime.now())
    prepared = pipeline.prepare(settings, summary.run_id)
    sources = pipeline.discover(settings)
    summary.files.extend(pipeline.process_files(settings, prepared, sources, summary.run_id))
    summary.published = True
    with duckdb.connect(str(settings.store), read_only=True) as con:
        stored = con.execute("select count(*) from raw.responses").fetchone()[0]
    return summary, stored


def test_a_us_sheet_read_day_first_at_first_is_not_loaded_twice_once_proven_month_first(
    make_deployment, tmp_path: Path
) -> None:
    # the first export's days are all 12 or less and both orders keep the rows sorted:
    # read day-first (the Indonesian order) with a warning, as the file alone cannot tell
    first = write_csv(tmp_path, _us_export(8), name="first.csv")
    config = make_deployment(forms=[(first, UNIT, YEAR)])
    export = config.parent / "forms" / f"1_{first.name}"
    summary, stored = _night(config)
    assert stored == 8 and summary.exit_code == 0
    assert any("read as day/month" in w for f in summary.files for w in f.warnings)

    # the next export holds 13 April: month-first, so its first eight rows would be stored
    # again under their true dates
    export.write_bytes(write_csv(tmp_path, _us_export(9), name="second.csv").read_bytes())
    summary, stored = _night(config)
    [outcome] = summary.files
    assert (outcome.status, stored, summary.exit_code) == ("rejected", 8, 2)
    # seven: 4/4 reads the same either way, so its stored key is right
    assert "are month/day, but 7 of its responses are already stored" in outcome.message
    assert f"date_order: month_first on the google_forms source of {UNIT} {YEAR}" in outcome.message

    # as the message says: the source's order set, the year replayed, the export loaded
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "path: forms/", "date_order: month_first, path: forms/"
        ),
        encoding="utf-8",
    )
    settings = load_settings(config)
    replayed = pipeline.replay_sources(settings, year=YEAR, unit=UNIT)
    run_id = warehouse.new_id()
    prepared = pipeline.prepare(settings, run_id)
    assert [o.status for o in pipeline.process_files(settings, prepared, replayed, run_id)] == [
        "loaded"
    ]
    summary, stored = _night(config)
    assert ([f.status for f in summary.files], stored, summary.exit_code) == (["loaded"], 9, 0)
    with duckdb.connect(str(settings.store), read_only=True) as con:
        times = [
            t
            for (t,) in con.execute("select submitted_at from raw.responses order by 1").fetchall()
        ]
    expected = sorted(
        dt.datetime.strptime(row[TIMESTAMP], "%d/%m/%Y %H:%M:%S") for row in ROWS[1:10]
    )
    assert times == expected


def _timed_to_the_second(rows: int) -> list[list[str]]:
    """The example's header and first `rows` responses, each time given its seconds, as
    Google Forms writes them (the example's times fall on whole minutes)."""
    seconds = {(i, TIMESTAMP): ROWS[i][TIMESTAMP][:-2] + f"{10 + i}" for i in range(1, rows + 1)}
    return rows_with(seconds)[: rows + 1]


def _resaved_by_excel(rows: list[list[str]]) -> list[list[str]]:
    """What Excel (id-ID) writes back when a Forms export is opened and saved as CSV: times
    as dd/mm/yyyy h:mm (the seconds gone), phone numbers as numbers in E notation, "≤" as
    "?" (the Windows code page has no such character)."""

    def cell(column: int, value: str) -> str:
        if column == TIMESTAMP:
            stamp = dt.datetime.strptime(value, "%d/%m/%Y %H:%M:%S")
            return f"{stamp:%d/%m/%Y} {stamp.hour}:{stamp.minute:02}"
        if column == PHONE:
            return f"{float(value):.5E}"
        return value.replace("≤", "?")

    return [rows[0], *([cell(c, v) for c, v in enumerate(row)] for row in rows[1:])]


def test_a_forms_export_saved_again_by_excel_is_not_loaded_twice(
    make_deployment, tmp_path: Path
) -> None:
    first = write_csv(tmp_path, _timed_to_the_second(8), name="first.csv")
    config = make_deployment(forms=[(first, UNIT, YEAR)])
    export = config.parent / "forms" / f"1_{first.name}"
    summary, stored = _night(config)
    assert (stored, summary.exit_code) == (8, 0)

    # someone opens the export in Excel and saves it: other bytes, the same responses,
    # but every time without its seconds, so every key would be new
    copy = write_csv(
        tmp_path, _resaved_by_excel(_timed_to_the_second(8)), delimiter=";", encoding="cp1252"
    )
    assert "7:50;" in copy.read_text(encoding="cp1252")
    export.write_bytes(copy.read_bytes())
    summary, stored = _night(config)
    [outcome] = summary.files
    assert (outcome.status, stored, summary.exit_code) == ("rejected", 8, 2)
    assert "8 of its responses are already stored, with seconds" in outcome.message
    assert "without opening it in Excel" in outcome.message

    # the export downloaded again, with a new response: loaded, each response once
    export.write_bytes(write_csv(tmp_path, _timed_to_the_second(9), name="again.csv").read_bytes())
    summary, stored = _night(config)
    assert ([f.status for f in summary.files], stored, summary.exit_code) == (["loaded"], 9, 0)
    assert summary.files[0].rows_new == 1


@pytest.mark.parametrize("clash", ["resaved-by-excel", "proven-month-first"])
def test_two_exports_of_one_sheet_in_one_run_are_checked_against_each_other(
    make_deployment, tmp_path: Path, clash: str
) -> None:
    """Both guards compare a file with stored responses; an earlier file of the same run,
    unit and year is stored before the later one is checked, not held back in its group."""
    if clash == "resaved-by-excel":
        first = write_csv(tmp_path, _timed_to_the_second(8), name="first.csv")
        later = write_csv(
            tmp_path, _resaved_by_excel(_timed_to_the_second(8)), delimiter=";", name="copy.csv"
        )
        said = "8 of its responses are already stored, with seconds"
    else:
        first = write_csv(tmp_path, _us_export(8), name="first.csv")
        later = write_csv(tmp_path, _us_export(9), name="later.csv")
        said = "are month/day, but 7 of its responses are already stored"
    config = make_deployment(forms=[(first, UNIT, YEAR), (later, UNIT, YEAR)])
    summary, stored = _night(config)
    assert [f.status for f in summary.files] == ["loaded", "rejected"]
    assert (stored, summary.exit_code) == (8, 2)
    assert said in summary.files[1].message


def test_a_corrected_unit_is_named_at_the_next_run_and_a_rebuild_moves_the_responses(
    make_deployment, tmp_path: Path
) -> None:
    # the source declared under the wrong unit: the export's responses are stored there
    wrong, right = "Loka POM di Kota Salah", UNIT
    config = make_deployment(forms=[(CSV, wrong, YEAR)])
    summary, stored = _night(config)
    assert (stored, summary.files[0].unit_name) == (9, wrong)

    # corrected in the config: the unchanged export is skipped, and the run says what to do
    config.write_text(
        config.read_text(encoding="utf-8").replace(f'unit: "{wrong}"', f'unit: "{right}"'),
        encoding="utf-8",
    )
    summary, stored = _night(config)
    [outcome] = summary.files
    assert outcome.status == "skipped" and stored == 9
    [warning] = outcome.warnings
    assert f"loaded as {wrong} {YEAR}, but the config now declares {right} {YEAR}" in warning
    assert f'skm-etl rebuild --config FILE --unit "{wrong}" --year {YEAR}' in warning
    assert warning in summary.render()

    # the rebuild it names reads the archived export again under the declared unit
    settings = load_settings(config)
    replayed = pipeline.replay_sources(settings, year=YEAR, unit=wrong)
    run_id = warehouse.new_id()
    prepared = pipeline.prepare(settings, run_id)
    [reloaded] = pipeline.process_files(settings, prepared, replayed, run_id)
    assert (reloaded.status, reloaded.unit_name, reloaded.rows_new) == ("loaded", right, 9)
    with duckdb.connect(str(settings.store), read_only=True) as con:
        units = con.execute("select unit_name, count(*) from raw.responses group by 1").fetchall()
    assert units == [(right, 9)]
    summary, stored = _night(config)  # and nothing more to say
    assert (summary.files[0].status, summary.files[0].warnings, stored) == ("skipped", [], 9)


def test_a_configured_date_order_is_read_without_guessing(tmp_path: Path, ref) -> None:
    path = write_csv(tmp_path, _us_export(8))
    guessed = read_google_forms(path, ref, unit_name=UNIT, survey_year=YEAR)
    told = read_google_forms(path, ref, unit_name=UNIT, survey_year=YEAR, day_first=False)
    assert (guessed.day_first, guessed.day_month_unsettled) == (True, True)
    assert (told.day_first, told.day_month_unsettled, told.warnings) == (False, False, [])
    assert told.responses["submitted_at"][0] == dt.datetime(2025, 4, 3, 7, 50)
    settled = read_google_forms(CSV, ref, unit_name=UNIT, survey_year=YEAR)  # 13/04 proves it
    assert (settled.day_first, settled.day_month_unsettled) == (True, False)


def test_an_export_read_day_first_for_want_of_a_sign_waits_when_the_store_proved_month_first(
    make_deployment, tmp_path: Path
) -> None:
    full = write_csv(tmp_path, _us_export(9), name="full.csv")  # 13 April: month-first
    config = make_deployment(forms=[(full, UNIT, YEAR)])
    summary, stored = _night(config)
    assert (stored, summary.exit_code) == (9, 0)
    # the sheet without its 13 April response: the file alone could be either order
    export = config.parent / "forms" / f"1_{full.name}"
    export.write_bytes(write_csv(tmp_path, _us_export(8), name="fewer.csv").read_bytes())
    summary, stored = _night(config)
    [outcome] = summary.files
    assert (outcome.status, stored) == ("rejected", 9)
    assert (
        "could be day/month or month/day, and 7 of its responses are already stored from an "
        "earlier export that proved month/day" in outcome.message
    )
    assert "set date_order: month_first" in outcome.message
    assert "rebuild" not in outcome.message  # what is stored is right: nothing to read again
    assert outcome.message.endswith("this file is then loaded by the next run")


def test_an_export_without_its_title_row_is_refused_without_quoting_a_response(
    tmp_path: Path, ref
) -> None:
    # the first row is then a response: its name (and phone) must not reach the message,
    # which ops.rejected_files, the summary and the served file keep
    first = list(ROWS[1])
    # a suggestion that reads like question 10's title ("pengaduan") once made the reader
    # quote the candidate cells of that question
    first[-1] = "Pengaduan saya belum dibalas, Budi Santoso"
    with pytest.raises(SourceFileError) as raised:
        read_rows(tmp_path, [first, *ROWS[2:]], ref)
    message = str(raised.value)
    assert "column 'Timestamp' not found in row 1 of forms.csv" in message
    assert "cell(s) are not quoted, as this row may hold a respondent's answers" in message
    assert first[1] and first[1] not in message  # Nama Lengkap
    assert "Budi Santoso" not in message
    assert not any(cell and len(cell) > 3 and cell in message for cell in first)


def test_a_form_nobody_has_answered_yet_reads_as_no_responses(tmp_path: Path, ref) -> None:
    # its export is the title row alone: rejecting it would fail every night until the
    # first answer comes in
    result = read_rows(tmp_path, ROWS[:1], ref)
    assert result.responses.is_empty() and result.issues.is_empty()
    assert result.rows_read == 0 and not result.day_month_unsettled
    assert result.warnings == [
        "belum ada jawaban: forms.csv hanya berisi baris judul / "
        "no responses yet: forms.csv holds its title row only"
    ]


def test_a_replayed_export_finds_its_source_by_file_name_or_fetched_name(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "warehouse: warehouse/skm.duckdb\n"
        "sources:\n"
        f'  - {{name: contoh, kind: google_forms, unit: "{UNIT}", year: {YEAR}, '
        "path: forms/contoh.csv}\n"
        '  - {name: loka-2025, kind: google_forms, unit: "Loka POM di Kota Contoh", '
        f"year: {YEAR}, url: http://127.0.0.1:9/export.csv}}\n"
        f'  - {{name: twin-a, kind: google_forms, unit: "{UNIT}", year: 2024, '
        "path: a/twin.csv}\n"
        f'  - {{name: twin-b, kind: google_forms, unit: "{UNIT}", year: 2023, '
        "path: b/twin.csv}\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert pipeline._source_of(settings, "contoh.csv").name == "contoh"
    assert pipeline._source_of(settings, "loka-2025.csv").name == "loka-2025"
    # two sources of one file name: neither is guessed (the stored unit and year stand)
    assert pipeline._source_of(settings, "twin.csv") is None
    assert pipeline._source_of(settings, "other.csv") is None
