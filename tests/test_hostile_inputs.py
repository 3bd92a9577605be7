"""Hostile inputs: one nightly run over a corpus of broken, odd and malicious files.

Every file is built here from the example exports (tests/hostile.py) and dropped into one
inbox, or declared as a Google Forms source, and the real flow runs once over all of
them (Prefect, the readers, Great Expectations, DuckDB, dbt, publish). Each case then
checks its own outcome: the file's status, the reason an admin reads in `ops`, and that
no valid response of a partly bad file was lost. The run as a whole must complete, exit
2 (published with rejections), and print or log no traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from markupsafe import escape

import hostile as h
from runs import run_flow
from skm_etl.pipeline import EXIT_REJECTIONS, FileOutcome, RunSummary
from skm_etl.report import data as report_data
from skm_etl.report import render

pytestmark = pytest.mark.usefixtures("prefect_harness")

WINDOW = "  - {year: 2025, start: 2025-01-01, end: 2025-06-30}"
BIG_ROWS = 100_000
INDONESIAN_SARAN = "Petugas ramah, ruang tunggu nyaman — terima kasih banyak atas bantuannya"
CP1252_SARAN = "Pelayanan \u2018cepat\u2019 \u2013 café, mohon dipertahankan"
MULTILINE_SARAN = "Baris pertama\r\nbaris kedua, dengan koma"
OUTSIDE_TIMES = ("15/08/2025 10:00:00", "31/12/2024 23:59:59", "01/07/2025 00:00:00")
HTML_PAYLOAD = "<script>alert('skm')</script>"
SHARED_UNIT = h.unit_name(99)  # an export, its copy and its re-export
FORGING_NAME = "laporan\nexit 0\n.csv"  # printed raw, it would add a line "exit 0"
# A formula is inert when no spreadsheet would evaluate it: published with a leading
# apostrophe, or starting with none of = + - @ tab CR LF (OWASP "CSV injection").
FORMULA_START = re.compile(r"^[=+\-@\t\r\n＝＋－＠]")
TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Case:
    """One hostile file and what the run must make of it."""

    id: str
    file_name: str
    build: Callable[[Path, str], object]  # (path, unit name) -> writes the file
    status: str = "loaded"  # loaded | rejected | skipped
    accepted: int = h.EXAMPLE_ROWS
    rejected_rows: int = 0
    reason: str | None = None  # part of the reason in ops.rejected_files / ops.rejected_rows
    in_raw: int | None = None  # rows in raw.responses from this file (default: accepted)
    outside_window: int = 0
    warning: str | None = None
    kind: str = "sapaapip"

    @property
    def is_valid(self) -> bool:
        return self.status != "rejected" and self.rejected_rows == 0


def _bytes(content: bytes) -> Callable[[Path, str], object]:
    return lambda path, unit: path.write_bytes(content)


def _edited(changes: Callable[[list[list[str]]], None], **dialect) -> Callable[[Path, str], object]:
    return lambda path, unit: h.tabulation(path, unit, edit=changes, **dialect)


def _cells(changes: dict[tuple[int, int], str], **dialect) -> Callable[[Path, str], object]:
    return _edited(lambda rows: h.set_cells(rows, changes), **dialect)


def _valid(**dialect) -> Callable[[Path, str], object]:
    return lambda path, unit: h.tabulation(path, unit, **dialect)


def _header_only(path: Path, unit: str) -> None:
    h.write_records(path, h.header(h.example_records(unit)))


def _two_tabulations(path: Path, unit: str) -> None:
    records = h.example_records(unit)
    h.write_records(path, records + [["Tahun", ":", "2024"]])


def _login_page(path: Path, unit: str) -> None:
    path.write_text(
        "<!DOCTYPE html><html><head><title>Sign in - Google Accounts</title></head>"
        "<body><form>Email or phone</form></body></html>\n",
        encoding="utf-8",
    )


def _truncated_xlsx(path: Path, unit: str) -> None:
    path.write_bytes(h.SAPAAPIP_XLSX.read_bytes()[:3000])


def _xlsx(path: Path, unit: str, *, shape=None) -> None:
    book = h.workbook(path, h.example_records(unit))
    if shape is not None:
        shape(book)
    book.save(path)


def _merged_header_and_formulas(book) -> None:
    sheet = book.active
    sheet.merge_cells("A1:F1")  # the title across the sheet
    sheet.merge_cells(start_row=6, start_column=11, end_row=6, end_column=13)  # U3 over 3, 4, 5
    sheet.cell(row=8, column=h.Q1 + 1).value = "=2+3"  # no cached value: Excel never saved it
    sheet.cell(row=9, column=h.Q1 + 1).value = "=SUM(I10:I11)"
    sheet.cell(row=10, column=h.SARAN + 1).value = '=HYPERLINK("http://x","y")'


def _merged_header_only(book) -> None:
    sheet = book.active
    sheet.merge_cells("A1:F1")
    sheet.merge_cells(start_row=6, start_column=11, end_row=6, end_column=13)
    sheet.merge_cells(start_row=6, start_column=23, end_row=6, end_column=27)  # anti-korupsi


def _impossible_date(book) -> None:
    # a time cell keeps its date format: Excel shows ####, calamine cannot convert it
    book.active.cell(row=h.HEADER_LINES + 1, column=h.TIME + 1).value = -1e15


def _behind_a_cover_sheet(book) -> None:
    cover = book.create_sheet("Petunjuk", 0)
    cover["A1"] = "Petunjuk pengisian: jangan ubah susunan kolom"


def _text_formulas_in_saran(book) -> None:
    sheet = book.active
    for i, payload in enumerate(h.FORMULA_PAYLOADS):
        cell = sheet.cell(row=h.HEADER_LINES + 1 + i, column=h.SARAN + 1)
        cell.value = payload
        cell.data_type = "s"  # typed as text, the way a respondent's words arrive


def _double_submission(rows: list[list[str]]) -> None:
    rows.append(list(rows[0]))


def _unquoted_delimiter(rows: list[list[str]]) -> None:
    rows[0] = rows[0][: h.SARAN] + ["Bagus", " tapi lambat"]


def _bom_crlf_multiline(path: Path, unit: str) -> None:
    h.tabulation(
        path,
        unit,
        edit=lambda rows: h.set_cells(rows, {(0, h.SARAN): MULTILINE_SARAN}),
        encoding="utf-8-sig",
        newline="\r\n",
    )


def _outside_window(rows: list[list[str]]) -> None:
    h.set_cells(rows, {(i, h.TIME): stamp for i, stamp in enumerate(OUTSIDE_TIMES)})


def _reexport(rows: list[list[str]]) -> None:
    later = [list(rows[0]), list(rows[1])]
    later[0][h.TIME], later[1][h.TIME] = "20/05/2025 10:00:00", "21/05/2025 11:00:00"
    rows.extend(later)


def _forms_times(times: list[str]) -> Callable[[Path, str], object]:
    return lambda path, unit: h.forms_with_times(path, times)


CASES: tuple[Case, ...] = (
    # files that cannot be used at all: rejected whole, with a sentence for the admin
    Case("empty-file", "kosong.csv", _bytes(b""), "rejected", 0, reason="is empty"),
    Case("blank-lines-only", "spasi.csv", _bytes(b" \r\n\t\r\n"), "rejected", 0, reason="empty"),
    Case(
        "header-only",
        "header.csv",
        _header_only,
        "rejected",
        0,
        reason="no response rows below the header",
    ),
    Case(
        "binary-named-csv",
        "biner.csv",
        _bytes(bytes(range(256)) * 16),
        "rejected",
        0,
        reason="binary data",
    ),
    Case(
        "binary-named-xlsx",
        "biner.xlsx",
        _bytes(bytes(range(256)) * 16),
        "rejected",
        0,
        reason="is not an Excel workbook",
    ),
    Case(
        "truncated-xlsx",
        "terpotong.xlsx",
        _truncated_xlsx,
        "rejected",
        0,
        reason="cannot be read as an Excel workbook",
    ),
    Case(
        "legacy-xls-extension",
        "tabulasi.xls",
        lambda path, unit: path.write_bytes(h.SAPAAPIP_XLSX.read_bytes()),
        "rejected",
        0,
        reason="unsupported file type .xls",
    ),
    Case(
        "txt-extension",
        "tabulasi.txt",
        _valid(),
        "rejected",
        0,
        reason="unsupported file type .txt",
    ),
    Case(
        "pdf-extension",
        "laporan.pdf",
        _bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n"),
        "rejected",
        0,
        reason="unsupported file type .pdf",
    ),
    Case(
        "no-extension", "tabulasi", _valid(), "rejected", 0, reason="unsupported file type (none)"
    ),
    Case(
        "login-page-saved-as-csv",
        "export_gagal.csv",
        _login_page,
        "rejected",
        0,
        reason="tabulation header row",
    ),
    Case(
        "unit-not-in-registry",
        "unit_salah.csv",
        lambda path, unit: h.tabulation(path, "Loka POM di Kota Ujji 12"),
        "rejected",
        0,
        reason="did you mean: 'Loka POM di Kota Uji 12'",
    ),
    Case(
        "two-tabulations-in-one-file",
        "dua_tahun.csv",
        _two_tabulations,
        "rejected",
        0,
        reason="holds more than one tabulation",
    ),
    Case(
        "xlsx-date-outside-any-calendar",
        "tanggal_mustahil.xlsx",
        lambda path, unit: _xlsx(path, unit, shape=_impossible_date),
        "rejected",
        0,
        reason="holds a cell that cannot be read",
    ),
    # partly bad files: the bad rows are rejected with a reason, the rest is loaded
    Case(
        "scores-out-of-range",
        "skor_rentang.csv",
        _cells({(0, h.Q1): "7", (1, h.Q1 + 3): "0", (2, h.Q1 + 10): "66"}),
        accepted=11,
        rejected_rows=3,
        reason="outside the range 1–6",
    ),
    Case(
        "scores-blank",
        "skor_kosong.csv",
        _cells({(3, h.Q1): "", (4, h.Q1 + 8): ""}),
        accepted=12,
        rejected_rows=2,
        reason="answer is blank",
    ),
    Case(
        "scores-as-text",
        "skor_teks.csv",
        _cells({(0, h.Q1): "lima", (1, h.Q1 + 1): "5a", (2, h.Q1 + 2): "Sangat Baik"}),
        accepted=11,
        rejected_rows=3,
        reason="not a whole number from 1 to 6",
    ),
    Case(
        "impossible-ages",
        "usia.csv",
        _cells(
            {(0, h.AGE): "0", (1, h.AGE): "150", (2, h.AGE): "-3", (3, h.AGE): "200 tahun"}
            | {(4, h.AGE): "dua puluh"}
        ),
        accepted=9,
        rejected_rows=5,
        reason="implausible age",
    ),
    Case(
        "unknown-layanan",
        "layanan_asing.csv",
        _cells({(0, h.LAYANAN): "Layanan Fiktif Antariksa"}),
        accepted=13,
        rejected_rows=1,
        reason="unknown layanan",
    ),
    Case(
        "html-in-layanan",
        "layanan_html.csv",
        _cells({(0, h.LAYANAN): HTML_PAYLOAD}),
        accepted=13,
        rejected_rows=1,
        reason="unknown layanan",
    ),
    Case(
        "double-submission",
        "ganda.csv",
        _edited(_double_submission),
        accepted=14,
        rejected_rows=1,
        reason="double submission",
    ),
    Case(
        "unquoted-delimiter-in-saran",
        "koma.csv",
        _edited(_unquoted_delimiter),
        accepted=13,
        rejected_rows=1,
        reason="more fields than the header",
    ),
    Case(
        "submitted-in-the-future",
        "masa_depan.csv",
        _cells({(0, h.TIME): "01/01/2099 10:00:00"}),
        accepted=13,
        rejected_rows=1,
        reason="in the future",
    ),
    Case(
        "percentage-over-100",
        "persen.csv",
        _cells({(0, h.PERCENT): "150"}),
        accepted=13,
        rejected_rows=1,
        reason="completion percentage outside 0–100",
    ),
    Case(
        "xlsx-merged-cells-and-formulas",
        "rumus.xlsx",
        lambda path, unit: _xlsx(path, unit, shape=_merged_header_and_formulas),
        accepted=12,
        rejected_rows=2,
        reason="answer is blank",
    ),
    # odd but valid files: every response is loaded
    Case(
        "utf16-indonesian",
        "utf16.csv",
        _cells({(0, h.SARAN): INDONESIAN_SARAN}, encoding="utf-16"),
    ),
    Case(
        "cp1252-indonesian",
        "cp1252.csv",
        _cells({(0, h.SARAN): CP1252_SARAN}, encoding="cp1252"),
    ),
    Case(
        "semicolons-and-decimal-comma",
        "titik_koma.csv",
        _cells({(0, h.PERCENT): "90,5"}, delimiter=";"),
    ),
    Case("utf8-bom-crlf-multiline-saran", "bom_crlf.csv", _bom_crlf_multiline),
    Case(
        "xlsx-merged-header-cells",
        "gabung.xlsx",
        lambda path, unit: _xlsx(path, unit, shape=_merged_header_only),
    ),
    Case(
        "xlsx-behind-a-cover-sheet",
        "sampul.xlsx",
        lambda path, unit: _xlsx(path, unit, shape=_behind_a_cover_sheet),
    ),
    Case(
        "100k-rows",
        "besar.csv",
        lambda path, unit: h.large_tabulation(path, unit, BIG_ROWS),
        accepted=BIG_ROWS,
    ),
    Case(
        "formula-payloads-in-saran-csv",
        "rumus_saran.csv",
        _cells({(i, h.SARAN): payload for i, payload in enumerate(h.FORMULA_PAYLOADS)}),
    ),
    Case(
        "formula-payloads-in-saran-xlsx",
        "rumus_saran.xlsx",
        lambda path, unit: _xlsx(path, unit, shape=_text_formulas_in_saran),
    ),
    Case("sql-in-file-name", "x'; drop table raw.responses; --.csv", _valid()),
    Case(
        "quotes-in-file-name",
        '"quoted".xlsx',
        lambda path, unit: _xlsx(path, unit),
    ),
    Case("unicode-file-name", "tabulasi_Ñusantara_日本語_🙂.csv", _valid()),
    Case("line-breaks-in-file-name", FORGING_NAME, _valid()),
    # the same responses again, and responses the window leaves out
    Case("original-export", "a_asli.csv", lambda path, unit: h.tabulation(path, SHARED_UNIT)),
    Case(
        "same-bytes-under-another-name",
        "b_salinan.csv",
        lambda path, unit: h.tabulation(path, SHARED_UNIT),
        "skipped",
        0,
    ),
    Case(
        "re-export-with-two-more-rows",
        "c_ekspor_ulang.csv",
        lambda path, unit: h.tabulation(path, SHARED_UNIT, edit=_reexport),
        accepted=16,
        in_raw=2,
    ),
    Case(
        "responses-outside-the-window",
        "luar_periode.csv",
        _edited(_outside_window),
        outside_window=3,
        warning="3 response(s) submitted outside the survey window",
    ),
    Case(
        "ambiguous-day-month-times",
        "forms_ambigu.csv",
        _forms_times(
            [
                "05/04/2025 08:00:00",
                "03/04/2025 09:00:00",
                "04/05/2025 10:00:00",
                "02/04/2025 11:00:00",
                "06/04/2025 12:00:00",
                "01/04/2025 13:00:00",
                "07/04/2025 14:00:00",
                "08/04/2025 15:00:00",
                "09/04/2025 16:00:00",
            ]
        ),
        accepted=9,
        warning="could be day/month or month/day; read as day/month",
        kind="google_forms",
    ),
    Case(
        "day-month-and-month-day-mixed",
        "forms_campur.csv",
        _forms_times(
            [
                "13/04/2025 08:00:00",
                "04/14/2025 09:00:00",
                "05/04/2025 10:00:00",
                "06/04/2025 11:00:00",
                "07/04/2025 12:00:00",
                "08/04/2025 13:00:00",
                "09/04/2025 14:00:00",
                "10/04/2025 15:00:00",
                "11/04/2025 16:00:00",
            ]
        ),
        accepted=8,
        rejected_rows=1,
        reason="unreadable time",
        warning="mix day/month and month/day",
        kind="google_forms",
    ),
)
# case -> its unit: the n-th case is "Loka POM di Kota Uji n"
UNITS = {case.id: h.unit_name(n) for n, case in enumerate(CASES, 1)}


@dataclass
class Run:
    config: Path
    summary: RunSummary
    output: str  # what the command prints, plus dbt's and the loggers' output
    api_logs: str  # the flow run's logs as Prefect stored them
    outcomes: dict[str, FileOutcome] = field(default_factory=dict)

    @property
    def store(self) -> Path:
        return self.config.parent / "warehouse" / ".skm-etl" / "store.duckdb"

    @property
    def served(self) -> Path:
        return self.config.parent / "warehouse" / "skm.duckdb"

    def query(self, sql: str, params: list | None = None, *, served: bool = False) -> list[tuple]:
        path = self.served if served else self.store
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


def _deployment(base: Path) -> Path:
    (base / "inbox").mkdir(parents=True)
    (base / "forms").mkdir()
    sources = []
    for case in CASES:
        unit = UNITS[case.id]
        if case.kind == "google_forms":
            case.build(base / "forms" / case.file_name, unit)
            sources.append(
                f'  - {{name: {case.id}, kind: google_forms, unit: "{unit}", year: 2025, '
                f"path: forms/{case.file_name}}}"
            )
        else:
            case.build(base / "inbox" / case.file_name, unit)
    registry = "unit_code,unit_name,unit_type,province\n" + "".join(
        f"UJI{n:02d},{h.unit_name(n)},Loka POM,Jawa Barat\n"
        for n in [*range(1, len(CASES) + 1), 99]
    )
    (base / "units.csv").write_text(registry, encoding="utf-8")
    config = base / "config.yaml"
    config.write_text(
        "warehouse: warehouse/skm.duckdb\ninbox: inbox/\nunits: units.csv\n"
        f"method: {{counting: all, scale: 6}}\nsurveys:\n{WINDOW}\n"
        "sources:\n" + "\n".join(sources) + "\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    config = _deployment(tmp_path_factory.mktemp("hostile"))
    flow = run_flow(config)
    result = Run(config, flow.summary, flow.output, flow.api_logs)
    for outcome in flow.summary.files:
        assert outcome.source_file not in result.outcomes, f"{outcome.source_file} seen twice"
        result.outcomes[outcome.source_file] = outcome
    return result


# --- each case ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_hostile_file_ends_with_the_expected_status_and_counts(run: Run, case: Case) -> None:
    outcome = run.outcomes[case.file_name]
    assert outcome.status == case.status, outcome
    assert (outcome.rows_accepted, outcome.rows_rejected) == (case.accepted, case.rejected_rows)


@pytest.mark.parametrize(
    "case", [c for c in CASES if not c.is_valid], ids=[c.id for c in CASES if not c.is_valid]
)
def test_each_rejection_has_its_reason_in_ops(run: Run, case: Case) -> None:
    if case.status == "rejected":
        reasons = run.query(
            "select reason from ops.rejected_files where source_file = ?", [case.file_name]
        )
        assert len(reasons) == 1
        assert case.reason in reasons[0][0]
        assert TRACEBACK not in reasons[0][0]
    else:
        rows = run.query(
            "select source_row, column_name, reason from ops.rejected_rows where source_file = ?",
            [case.file_name],
        )
        assert len({row for row, _, _ in rows}) == case.rejected_rows
        assert all(reason and " / " in reason for _, _, reason in rows), "bilingual reasons"
        assert any(case.reason in reason for _, _, reason in rows), rows
        cells = [(row, column) for row, column, _ in rows]
        assert len(cells) == len(set(cells)), f"a cell is rejected twice: {rows}"


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.status == "loaded"],
    ids=[c.id for c in CASES if c.status == "loaded"],
)
def test_no_accepted_response_is_lost_or_doubled(run: Run, case: Case) -> None:
    expected = case.accepted if case.in_raw is None else case.in_raw
    ((rows, keys),) = run.query(
        "select count(*), count(distinct response_key) from raw.responses where source_file = ?",
        [case.file_name],
    )
    assert rows == keys == expected
    rejected = run.query(
        "select distinct source_row from ops.rejected_rows where source_file = ?",
        [case.file_name],
    )
    kept = run.query("select source_row from raw.responses where source_file = ?", [case.file_name])
    assert not {r for (r,) in rejected} & {r for (r,) in kept}, "a rejected row was loaded"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.is_valid], ids=[c.id for c in CASES if c.is_valid]
)
def test_a_valid_file_adds_no_rejection_so_alone_it_would_exit_0(run: Run, case: Case) -> None:
    assert run.outcomes[case.file_name].rows_rejected == 0
    for table in ("ops.rejected_files", "ops.rejected_rows"):
        found = run.query(f"select count(*) from {table} where source_file = ?", [case.file_name])
        assert found == [(0,)], table


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.warning], ids=[c.id for c in CASES if c.warning]
)
def test_a_file_read_with_an_assumption_says_so_in_the_output(run: Run, case: Case) -> None:
    assert case.warning in run.output


# --- the run as a whole ---------------------------------------------------------------------


def test_the_run_completes_publishes_and_exits_2_for_the_hostile_rejections(run: Run) -> None:
    assert run.summary.error is None, run.summary.error
    assert run.summary.published
    assert run.summary.exit_code == EXIT_REJECTIONS
    assert set(run.outcomes) == {c.file_name for c in CASES}
    with_rejections = {
        name for name, o in run.outcomes.items() if o.status == "rejected" or o.rows_rejected
    }
    assert with_rejections == {c.file_name for c in CASES if not c.is_valid}
    ((runs,),) = run.query(
        "select count(*) from ops.runs where status = 'published' and exit_code = 2", served=True
    )
    assert runs == 1


def test_no_traceback_is_printed_or_logged(run: Run) -> None:
    assert TRACEBACK not in run.output
    assert TRACEBACK not in run.api_logs


def test_a_line_break_in_a_file_name_cannot_forge_a_line_of_the_summary(run: Run) -> None:
    printed = run.summary.render().splitlines()
    assert [line for line in printed if line.startswith("exit")] == ["exit 2"]


def test_sql_in_a_file_name_is_kept_as_text_and_executes_nothing(run: Run) -> None:
    name = "x'; drop table raw.responses; --.csv"
    assert run.query("select count(*) from raw.responses where source_file = ?", [name]) == [
        (h.EXAMPLE_ROWS,)
    ]
    assert run.query("select count(*) from ops.load_batches where source_file = ?", [name]) == [
        (1,)
    ]
    for odd in ('"quoted".xlsx', "tabulasi_Ñusantara_日本語_🙂.csv", FORGING_NAME):
        assert run.query("select count(*) from ops.load_batches where source_file = ?", [odd]) == [
            (1,)
        ]


def test_the_responses_outside_the_window_are_in_raw_and_listed_in_ops(run: Run) -> None:
    rows = run.query(
        """
        select r.submitted_at from ops.responses_outside_window as o
        join raw.responses as r using (response_key)
        where r.source_file = 'luar_periode.csv' order by 1
        """
    )
    assert [r for (r,) in rows] == sorted(
        dt.datetime.strptime(t, "%d/%m/%Y %H:%M:%S") for t in OUTSIDE_TIMES
    )
    ((counted,),) = run.query(
        "select respondents_counted from marts.skm_unit where unit_name = ?",
        [UNITS["responses-outside-the-window"]],
        served=True,
    )
    assert counted == h.EXAMPLE_ROWS - len(OUTSIDE_TIMES)


def test_a_re_export_adds_only_its_new_responses(run: Run) -> None:
    ((rows, keys),) = run.query(
        "select count(*), count(distinct response_key) from raw.responses where unit_name = ?",
        [SHARED_UNIT],
    )
    assert rows == keys == h.EXAMPLE_ROWS + 2
    assert run.outcomes["c_ekspor_ulang.csv"].rows_new == 2


def test_text_in_other_encodings_reaches_raw_exactly(run: Run) -> None:
    for file_name, text in [
        ("utf16.csv", INDONESIAN_SARAN),
        ("cp1252.csv", CP1252_SARAN),
        ("bom_crlf.csv", MULTILINE_SARAN.replace("\r\n", "\n")),
    ]:
        found = run.query(
            "select saran from raw.responses where source_file = ? and source_row = 8",
            [file_name],
        )
        assert [s.replace("\r\n", "\n") for (s,) in found] == [text], file_name
    assert run.query(
        "select completion_pct from raw.responses where source_file = 'titik_koma.csv' "
        "and source_row = 8"
    ) == [(90.5,)]


def test_ambiguous_google_forms_times_are_read_day_first(run: Run) -> None:
    times = run.query(
        "select submitted_at from raw.responses where source_file = 'forms_ambigu.csv' "
        "and source_row = 4"
    )
    assert times == [(dt.datetime(2025, 5, 4, 10, 0),)]


def _saran_exports(run: Run) -> dict[str, list[str]]:
    """Every published copy of the saran column: the served file and the Parquet export."""
    parquet = run.config.parent / "warehouse" / "parquet" / "saran"
    with duckdb.connect() as con:
        from_parquet = con.execute(
            "select saran from read_parquet(?, hive_partitioning = true)",
            [str(parquet / "**" / "*.parquet")],
        ).fetchall()
    return {
        "served marts.saran": [
            s for (s,) in run.query("select saran from marts.saran", served=True)
        ],
        "parquet saran": [s for (s,) in from_parquet],
    }


@pytest.mark.parametrize("payload", h.FORMULA_PAYLOADS)
def test_a_formula_in_saran_comes_out_inert_in_every_export(run: Run, payload: str) -> None:
    for export, values in _saran_exports(run).items():
        assert values.count("'" + payload) == 2, f"{export}: csv and xlsx copies, quoted"
        assert payload not in values, export
    original = run.query("select count(*) from raw.responses where saran = ?", [payload])
    assert original == [(2,)], "raw keeps what the respondent wrote"


def test_a_formula_in_saran_is_inert_in_the_html_report(run: Run) -> None:
    # the Laporan SKM of the unit whose tabulation carried the payloads, as HTML
    con = report_data.connect(run.served)
    try:
        unit = report_data.find_unit(con, UNITS["formula-payloads-in-saran-csv"], run.served)
        report = report_data.load_unit_report(
            con,
            unit,
            2025,
            warehouse=run.served,
            window=(dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
            scale=6,
        )
    finally:
        con.close()
    page = render.render_unit(report, generated_at=dt.datetime(2025, 7, 1))
    for payload in h.FORMULA_PAYLOADS:
        assert str(escape("'" + payload)) in page, "shown as text, quoted for spreadsheets"
    assert '=HYPERLINK("' not in page, "no payload reaches the page unescaped"


def test_no_published_suggestion_can_start_a_formula(run: Run) -> None:
    for export, values in _saran_exports(run).items():
        live = [v for v in values if FORMULA_START.match(v)]
        assert live == [], export


def test_html_in_a_rejected_value_is_escaped_in_the_data_docs(run: Run) -> None:
    site = run.config.parent / "warehouse" / "data_docs"
    pages = [p.read_text(encoding="utf-8") for p in site.rglob("*.html")]
    assert any("layanan_html" in page for page in pages), "the batch has its page"
    assert not [p for p in pages if HTML_PAYLOAD in p]
