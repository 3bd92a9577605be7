"""Read a sapaapip tabulation (.xlsx, or the same sheet saved as .csv) — SPEC §6.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from skm_etl.reference.model import (
    BLOCK_ANTI_KORUPSI,
    BLOCK_EXTRA,
    BLOCK_UNSUR,
    Item,
    Reference,
    text_key_expr,
)
from skm_etl.sources import normalize as nz
from skm_etl.sources.batch import Located
from skm_etl.sources.constants import BLANK_IS_ISSUE_BLOCKS, INTEGER_PATTERN
from skm_etl.sources.result import PERSONAL_SCHEMA, ReadResult, SourceFileError, file_error
from skm_etl.sources.sapaapip.constants import (
    ACTION_REEXPORT,
    ANTI_KORUPSI_WORDS,
    CELL_BREAK,
    CELL_ENDING_LABELS,
    COLUMN_PREFIXES,
    COLUMN_TITLES,
    COLUMN_VARIANTS,
    HEADER_MIN_MATCHES,
    HEADER_SCAN_ROWS,
    NON_DATA_PREFIXES,
    REQUIRED_COLUMNS,
    SKIPPED_ROW_EXAMPLES,
    UNIT_LABELS,
    UNSUR_GROUP,
    YEAR_LABELS,
)
from skm_etl.sources.tabular import (
    ROW,
    Sheet,
    any_cell,
    first_cells,
    read_sheets,
    row_values,
)

DEMOGRAPHIC_COLUMNS = (
    "respondent_age",
    "respondent_sex",
    "respondent_education",
    "respondent_occupation",
    "completion_pct",
)


@dataclass
class Layout:
    """Where things are: the header's row number and the cell column of each field."""

    header_row: int  # 1-based row of the first header row; question numbers are below it
    columns: dict[str, str]  # normalised column -> cell column (c0, c1, …)
    items: dict[str, str]  # item code -> cell column
    numbers: dict[str, int]  # cell column -> question number printed in the header
    width: int  # cell columns up to the last header cell
    warnings: list[str] = field(default_factory=list)


def read_sapaapip(path: Path, ref: Reference) -> ReadResult:
    """Read a sapaapip tabulation into the normalised frames.

    Columns are found by header text, never by position, because units add, drop and
    reorder optional columns. Unit and year come from the metadata rows above the header.
    Raises SourceFileError when the file cannot be used at all.
    """
    return locate_sapaapip(path, ref).read_alone()


def locate_sapaapip(path: Path, ref: Reference) -> Located:
    """Read a tabulation up to its data rows (see `read_sapaapip`); fields come later.

    Raises SourceFileError when the file cannot be used at all.
    """
    name = path.name
    sheet, layout = _tabulation(read_sheets(path), ref, name)
    unit_name, survey_year = _metadata(sheet, name)
    data, skipped = _split_rows(sheet, layout)
    if data.is_empty():
        raise file_error(
            f"tidak ada baris jawaban di bawah header (baris {layout.header_row}) file {name}",
            f"no response rows below the header (row {layout.header_row}) of {name}",
            *ACTION_REEXPORT,
        )
    extra = (
        [] if sheet.is_excel else [nz.extra_field_issues(data, sheet.cell_columns[layout.width :])]
    )
    # the columns `_fields` reads besides the score items: every required one, and the
    # submission time when the tabulation has it
    columns = [c for c in (*REQUIRED_COLUMNS, "submitted_at") if c in layout.columns]
    cells = data.select(
        ROW,
        *(pl.col(layout.columns[c]).alias(c) for c in columns),
        *(pl.col(cell).alias(code) for code, cell in layout.items.items()),
    )
    codes = tuple(layout.items)
    excel_serial = sheet.is_excel

    def parse(rows: pl.DataFrame) -> dict[str, nz.Parsed]:
        return _fields(rows, ref, codes, excel_serial=excel_serial)

    def complete(responses: pl.DataFrame, issues: pl.DataFrame) -> ReadResult:
        warnings = [*layout.warnings, *nz.unrecognised_warnings(cells, ref, COLUMN_TITLES)]
        if skipped:
            rows = ", ".join(str(r) for r in skipped[:SKIPPED_ROW_EXAMPLES])
            more = " …" if len(skipped) > SKIPPED_ROW_EXAMPLES else ""
            warnings.append(
                f"{len(skipped)} baris tanpa jawaban diabaikan (baris {rows}{more}) / "
                f"{len(skipped)} rows without answers skipped (rows {rows}{more})"
            )
        return ReadResult(
            responses=responses,
            personal=pl.DataFrame(schema=PERSONAL_SCHEMA),
            issues=issues,
            unit_name=unit_name,
            survey_year=survey_year,
            rows_read=responses.height,
            warnings=warnings,
        )

    shape = ("sapaapip", excel_serial, tuple(columns), codes)
    return Located(
        cells=cells,
        shape=shape,
        parse=parse,
        complete=complete,
        unit_name=unit_name,
        survey_year=survey_year,
        extra_issues=extra,
    )


def _tabulation(sheets: list[Sheet], ref: Reference, name: str) -> tuple[Sheet, Layout]:
    """The first sheet whose header row maps to a complete tabulation, and its layout.

    A workbook may open with a summary sheet ("Rekap": No, Layanan, U1 … U9, IKM) that
    looks like a header: a sheet whose header lacks columns gives way to the next one, and
    is named in the message when no sheet will do.
    """
    failures: list[tuple[Sheet, SourceFileError]] = []
    headers = _header_rows(sheets)
    for sheet, index in headers:
        try:
            layout = _layout(sheet, index, ref, name)
        except SourceFileError as exc:
            failures.append((sheet, exc))
            continue
        skipped = ", ".join(f"'{s.name}'" for s, _ in failures)
        if skipped:  # say which sheet was read, should the one passed over be the wanted one
            layout.warnings.append(
                f"lembar {skipped} bukan tabulasi lengkap; dibaca lembar '{sheet.name}' / "
                f"sheet {skipped} is not a complete tabulation; read sheet '{sheet.name}'"
            )
        if unread := ", ".join(f"'{s.name}'" for s, i in headers if _complete(s, i, ref, name)):
            # one file, one tabulation: the responses of a second one must not pass unseen
            layout.warnings.append(
                f"lembar {unread} juga tabulasi lengkap tetapi tidak dibaca (hanya lembar "
                f"'{sheet.name}'); simpan tiap tabulasi sebagai file tersendiri / sheet "
                f"{unread} is a complete tabulation too but was not read (only sheet "
                f"'{sheet.name}' is): save each tabulation as a file of its own"
            )
        return sheet, layout
    if len(sheets) == 1 and failures:
        raise failures[0][1]
    if failures:  # each sheet's reason: the one meant as the tabulation is among them
        raise SourceFileError(
            " | ".join(f"lembar / sheet '{sheet.name}': {exc}" for sheet, exc in failures)
        ) from failures[0][1]
    raise file_error(
        f"baris header tabulasi (No, Layanan, Usia, Jenis Kelamin, …, U1 … U9) tidak ditemukan "
        f"di {HEADER_SCAN_ROWS} baris pertama file {name}",
        f"the tabulation header row (No, Layanan, Usia, Jenis Kelamin, …, U1 … U9) was not "
        f"found in the first {HEADER_SCAN_ROWS} rows of {name}",
        *ACTION_REEXPORT,
    )


def _complete(sheet: Sheet, index: int, ref: Reference, name: str) -> bool:
    try:
        _layout(sheet, index, ref, name)
    except SourceFileError:
        return False
    return True


def _header_rows(sheets: list[Sheet]) -> Iterator[tuple[Sheet, int]]:
    """Each sheet's first row that looks like the tabulation header, in sheet order."""
    known = {v for variants in COLUMN_VARIANTS.values() for v in variants}
    unsur = re.compile(UNSUR_GROUP)
    for sheet in sheets:
        # key each distinct text of the scanned rows once (one pattern for every column)
        rows = sheet.frame.head(HEADER_SCAN_ROWS).select(sheet.cell_columns).rows()
        distinct = sorted({text for row in rows for text in row if text is not None})
        keyed = dict(zip(distinct, nz.text_keys(distinct), strict=True))
        for index, texts in enumerate(rows):
            row = [None if text is None else keyed[text] for text in texts]
            hits = sum(1 for key in row if key and (key in known or unsur.match(key)))
            if hits >= HEADER_MIN_MATCHES:
                yield sheet, index
                break


def _role(key: str) -> str | None:
    """Name the normalised column a header cell stands for, if any."""
    for column, variants in COLUMN_VARIANTS.items():
        if key in variants:
            return column
    for column, prefixes in COLUMN_PREFIXES.items():
        if nz.starts_with_phrase(key, prefixes):
            return column
    return None


def _layout(sheet: Sheet, index: int, ref: Reference, name: str) -> Layout:
    """Map header cells to normalised columns and question numbers to items."""
    header_row = int(sheet.frame[ROW][index])
    cells = sheet.cell_columns
    top = row_values(sheet, index)
    below = row_values(sheet, index + 1) if index + 1 < sheet.frame.height else [None] * len(cells)

    columns: dict[str, str] = {}
    for cell, title in zip(cells, top, strict=True):
        column = _role(nz.header_key(title))
        if column is None:
            continue
        if column in columns:
            raise file_error(
                f"kolom '{COLUMN_TITLES[column]}' muncul dua kali di baris {header_row} file {name}",
                f"column '{COLUMN_TITLES[column]}' appears twice in row {header_row} of {name}",
                "hapus kolom yang ganda lalu unggah lagi",
                "remove the duplicate column and upload again",
            )
        columns[column] = cell
    missing = [COLUMN_TITLES[c] for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        listed = ", ".join(f"'{m}'" for m in missing)
        raise file_error(
            f"kolom {listed} tidak ditemukan di baris {header_row} file {name}",
            f"column {listed} not found in row {header_row} of {name}",
            *ACTION_REEXPORT,
        )

    layout = Layout(header_row=header_row, columns=columns, items={}, numbers={}, width=0)
    layout.width = 1 + max(
        (i for i, (t, b) in enumerate(zip(top, below, strict=True)) if t or b), default=0
    )
    _map_questions(layout, cells, top, below, ref, name)
    return layout


def _map_questions(
    layout: Layout,
    cells: list[str],
    top: list[str | None],
    below: list[str | None],
    ref: Reference,
    name: str,
) -> None:
    """Fill layout.items from the numbers row, each read under its group (U1…, Lainnya, …)."""
    questionnaire = ref.questionnaire
    by_number = {
        (item.block == BLOCK_ANTI_KORUPSI, item.number): item for item in questionnaire.items
    }
    numbers_row = layout.header_row + 1
    group = ""
    mapped_columns = set(layout.columns.values())
    for cell, title, number_text in zip(cells, top, below, strict=True):
        if title:
            group = nz.header_key(title)
        number = _whole_number(number_text)
        if number is None or cell in mapped_columns:
            continue
        is_ak = any(word in group for word in ANTI_KORUPSI_WORDS)
        item = by_number.get((is_ak, number))
        if item is None:
            layout.warnings.append(
                f"kolom nomor {number} di bawah '{group}' (baris {numbers_row}) tidak ada di "
                f"kuesioner dan diabaikan / column numbered {number} under '{group}' "
                f"(row {numbers_row}) is not in the questionnaire and was ignored"
            )
            continue
        _check_group(item, group, number, numbers_row, name)
        if item.code in layout.items:
            raise file_error(
                f"pertanyaan {number} ('{group}') muncul dua kali di baris {numbers_row} file {name}",
                f"question {number} ('{group}') appears twice in row {numbers_row} of {name}",
                *ACTION_REEXPORT,
            )
        layout.items[item.code] = cell
        layout.numbers[cell] = number

    missing = [i for i in questionnaire.items_in(BLOCK_UNSUR) if i.code not in layout.items]
    if missing:
        listed = ", ".join(f"{i.number} ({i.unsur_code})" for i in missing)
        raise file_error(
            f"kolom pertanyaan {listed} tidak ditemukan di baris {numbers_row} file {name}",
            f"question column(s) {listed} not found in row {numbers_row} of {name}",
            *ACTION_REEXPORT,
        )
    for block, title in ((BLOCK_EXTRA, "12–14"), (BLOCK_ANTI_KORUPSI, "Persepsi Anti Korupsi")):
        items = questionnaire.items_in(block)
        found = [i for i in items if i.code in layout.items]
        if found and len(found) < len(items):
            absent = ", ".join(str(i.number) for i in items if i.code not in layout.items)
            layout.warnings.append(
                f"blok {title}: pertanyaan {absent} tidak ada, dibiarkan kosong / "
                f"block {title}: question(s) {absent} missing, left blank"
            )


def _check_group(item: Item, group: str, number: int, row: int, name: str) -> None:
    """Reject an unsur question standing under another unsur than the questionnaire's.

    Questions outside the unsur block are taken wherever they stand: a blank group cell
    above 12-14 makes them look as if they were under U9.
    """
    match = re.match(UNSUR_GROUP, group)
    if match is None or item.block != BLOCK_UNSUR:
        return
    if nz.header_key(item.unsur_code).replace(" ", "") == group.replace(" ", ""):
        return
    raise file_error(
        f"pertanyaan {number} ada di bawah {group.upper()} di baris {row} file {name}, "
        f"padahal kuesioner menempatkannya di {item.unsur_code}",
        f"question {number} stands under {group.upper()} in row {row} of {name}, but the "
        f"questionnaire puts it in {item.unsur_code}",
        "pastikan file memakai kuesioner yang dikonfigurasi, atau ekspor ulang dari sapaapip",
        "check that the file uses the configured questionnaire, or re-export it from sapaapip",
    )


def _whole_number(value: str | None) -> int | None:
    """Parse a header cell such as "3" or "3.0"; None otherwise."""
    match = re.match(INTEGER_PATTERN, value or "")
    return int(match.group(1)) if match else None


def _metadata(sheet: Sheet, name: str) -> tuple[str, int]:
    """Read unit and year from the "Tahun : 2025" / "Unit Kerja : …" rows.

    Every occurrence is read (page breaks repeat them); two different values mean two
    tabulations pasted into one file, which is rejected rather than guessed.
    """
    cells = sheet.cell_columns
    # cells joined by a separator no cell holds, so a label can be told to end its cell
    line = pl.concat_str(cells, separator=CELL_BREAK, ignore_nulls=True)
    # a line whose first cell starts with a digit (a data row) cannot start with a label;
    # most rows are data rows with a number in the first column, so those go first
    frame = sheet.frame
    if cells:
        frame = frame.filter(~_starts_with_digit(pl.col(cells[0])))
        frame = frame.filter(~_starts_with_digit(pl.coalesce(cells)))
    lines = frame.lazy().select(pl.col(ROW), line.alias("line"))
    # both label searches share the lines: one run of the engine for the two
    years, units = pl.collect_all(
        [
            _labelled_values(lines, YEAR_LABELS).with_columns(
                pl.col("value").str.extract(r"\b((?:19|20|21)\d{2})\b", 1).cast(pl.Int32)
            ),
            _labelled_values(lines, UNIT_LABELS),
        ]
    )
    if years.is_empty() or years["value"].has_nulls():
        raise file_error(
            f"baris 'Tahun : <tahun>' tidak ditemukan atau tidak terbaca di file {name}",
            f"the 'Tahun : <year>' row is missing or unreadable in {name}",
            *ACTION_REEXPORT,
        )
    if units.is_empty():
        raise file_error(
            f"baris 'Unit Kerja : <nama unit>' tidak ditemukan di file {name}",
            f"the 'Unit Kerja : <unit name>' row was not found in {name}",
            *ACTION_REEXPORT,
        )
    distinct_years = list(dict.fromkeys(years["value"].to_list()))
    # the first unit written under each text key, in order
    unit_texts = units["value"].to_list()
    by_key: dict[str, str] = {}
    for text, key in zip(unit_texts, nz.text_keys(unit_texts), strict=True):
        by_key.setdefault(key, text)
    distinct_units = list(by_key.values())
    if len(distinct_years) > 1 or len(distinct_units) > 1:
        differing = [*map(str, distinct_years)] if len(distinct_years) > 1 else []
        differing += distinct_units if len(distinct_units) > 1 else []
        both = ", ".join(differing)
        raise file_error(
            f"file {name} berisi lebih dari satu tabulasi ({both})",
            f"{name} holds more than one tabulation ({both})",
            "unggah satu file per unit kerja dan tahun",
            "upload one file per unit and year",
        )
    return distinct_units[0], int(distinct_years[0])


def _labelled_values(lines: pl.LazyFrame, labels: tuple[str, ...]) -> pl.LazyFrame:
    """Select rows starting with one of the labels, with the non-blank rest as `value`.

    A label may be followed by its value in the same cell ("Tahun 2025", "Unit Kerja Loka
    POM di …"), except one of CELL_ENDING_LABELS, which must end its cell or be followed
    by a colon: a data row whose first filled cell is a layanan such as "Unit Layanan
    Pengaduan Konsumen" is not a "Unit : …" row.
    """
    cell_break = f"\\x{ord(CELL_BREAK):02x}"  # as the pattern spells it
    gap = rf"[\s{cell_break}]*"
    forms = []
    for strict, ending in ((False, rf"\b{gap}:?"), (True, rf"\s*(?:{cell_break}{gap}:?|:)")):
        chosen = sorted((x for x in labels if (x in CELL_ENDING_LABELS) == strict), key=len)
        if chosen:  # longest first, the others before these: "Unit Kerja" before "Unit"
            words = "|".join(r"\s+".join(map(re.escape, x.split())) for x in reversed(chosen))
            forms.append(rf"(?:{words}){ending}")
    pattern = rf"(?i)^(?:{'|'.join(forms)}){gap}(.*?){gap}$"
    value = pl.col("line").str.extract(pattern, 1).str.replace_all(CELL_BREAK, " ", literal=True)
    return lines.select(pl.col(ROW), value.alias("value")).filter(
        pl.col("value").is_not_null() & (pl.col("value") != "")
    )


def _split_rows(sheet: Sheet, layout: Layout) -> tuple[pl.DataFrame, list[int]]:
    """Keep response rows; drop blanks, page-break header repeats and metadata silently.

    Return the data rows and the numbers of other rows without answers (titles, totals),
    which are skipped with a warning.
    """
    cells = sheet.cell_columns
    score_cells = list(layout.items.values())
    answer_cells = score_cells + [layout.columns[c] for c in DEMOGRAPHIC_COLUMNS]
    prefixes = "|".join(re.escape(p) for p in NON_DATA_PREFIXES)
    if sheet.frame.height <= nz.DIRECT_ROWS:
        # a short sheet: key every cell in one query (the same keys as by distinct value)
        body = _row_keys_direct(sheet.frame, layout)
    else:
        body = _row_keys(sheet.frame.filter(pl.col(ROW) > layout.header_row + 1), layout)

    blank = ~any_cell(cells, body.height)
    header_repeat = (
        pl.col("__layanan").is_in(list(COLUMN_VARIANTS["layanan"])).fill_null(False)
        | pl.col("__first_score").str.contains(UNSUR_GROUP).fill_null(False)
        | pl.col("__number_row")
    )
    metadata = pl.col("__first_cell").str.contains(rf"^(?:{prefixes})\b").fill_null(False)
    answered = any_cell(answer_cells, body.height)
    is_footer = pl.col("__footer")
    silent = blank | header_repeat | metadata
    keep = ~silent & answered & ~is_footer
    flagged = body.with_columns(silent.alias("__silent"), keep.alias("__keep"))
    skipped = flagged.filter(~pl.col("__silent") & ~pl.col("__keep"))[ROW].to_list()
    data = flagged.filter(pl.col("__keep")).select(ROW, *cells)
    return data, skipped


def _row_keys(body: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Add the text keys and flags `_split_rows` judges rows by, keyed by distinct value."""
    cells = [c for c in body.columns if c != ROW]
    score_cells = list(layout.items.values())
    layanan_cell = layout.columns["layanan"]
    first = first_cells(body, cells).rename("first")
    word_first_cell = first.to_frame().select(_word_first(pl.col("first"))).to_series()
    keys = body.select(
        nz.by_distinct(body[layanan_cell], text_key_expr, pl.Utf8()).alias("__layanan"),
        nz.by_distinct(body[score_cells[0]], text_key_expr, pl.Utf8()).alias("__first_score"),
        nz.by_distinct(word_first_cell, text_key_expr, pl.Utf8()).alias("__first_cell"),
        *_rows_without_layanan(body, layout),
    )
    return pl.concat([body, keys], how="horizontal")


def _word_first_cell(cells: list[str]) -> pl.Expr:
    """A row's first cell, or null when it starts with a digit: a data row's number or
    time, all distinct, which cannot begin a metadata or title line."""
    return _word_first(pl.coalesce(cells))


def _word_first(first_cell: pl.Expr) -> pl.Expr:
    """`_word_first_cell` of a row's first cell."""
    return pl.when(~_starts_with_digit(first_cell)).then(first_cell)


def _starts_with_digit(cell: pl.Expr) -> pl.Expr:
    return cell.str.contains(r"^[0-9]").fill_null(False)


def _row_keys_direct(frame: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """The body rows with the columns of `_row_keys`, keyed cell by cell (a short sheet)."""
    cells = [c for c in frame.columns if c != ROW]
    layanan_cell, first_score = layout.columns["layanan"], next(iter(layout.items.values()))
    body = (
        frame.lazy()
        .filter(pl.col(ROW) > layout.header_row + 1)
        .with_columns(
            text_key_expr(pl.col(layanan_cell)).cast(pl.Utf8).alias("__layanan"),
            text_key_expr(pl.col(first_score)).cast(pl.Utf8).alias("__first_score"),
            text_key_expr(_word_first_cell(cells)).cast(pl.Utf8).alias("__first_cell"),
        )
        .collect()
    )
    return body.with_columns(*_rows_without_layanan(body, layout))


def _rows_without_layanan(body: pl.DataFrame, layout: Layout) -> tuple[pl.Series, pl.Series]:
    """Flag repeated question-number rows and footers, which have no layanan.

    Both checks read every score cell with a pattern, so they run only on the few rows
    without a layanan; every other row gets False.
    """
    missing = body[layout.columns["layanan"]].is_null()
    positions = missing.arg_true()
    flags = [
        nz.constant(False, body.height, pl.Boolean()).alias(n) for n in ("__number_row", "__footer")
    ]
    if not positions.len():
        return flags[0], flags[1]
    number_row, footer = _no_layanan_flags(layout)
    found = body.filter(missing).select(number_row.alias("number_row"), footer.alias("footer"))
    return (
        flags[0].scatter(positions, found["number_row"]),
        flags[1].scatter(positions, found["footer"]),
    )


def _no_layanan_flags(layout: Layout) -> tuple[pl.Expr, pl.Expr]:
    """A repeated question-number row (every score cell holds its question's number) and a
    footer (a "No" cell that is not a number): what a row without a layanan may be."""
    number_row = pl.all_horizontal(
        (pl.col(c).str.extract(INTEGER_PATTERN, 1) == str(layout.numbers[c])).fill_null(False)
        for c in layout.items.values()
    )
    footer = pl.lit(False)
    if "no" in layout.columns:
        no = pl.col(layout.columns["no"])
        footer = no.is_not_null() & ~no.str.contains(INTEGER_PATTERN).fill_null(False)
    return number_row, footer


def _fields(
    data: pl.DataFrame, ref: Reference, codes: tuple[str, ...], *, excel_serial: bool
) -> dict[str, nz.Parsed]:
    """Parse the located cells (columns named by field, score items by code)."""
    fields: dict[str, nz.Parsed] = {
        **nz.layanan(data["layanan"], ref),
        **nz.respondent_fields(data, ref),
    }
    if "submitted_at" in data.columns:
        fields["submitted_at"] = nz.submitted_at(
            data["submitted_at"], day_first=True, excel_serial=excel_serial
        )
    fields.update(
        nz.scores_from_numbers(
            data.select(codes),
            ref.questionnaire.scale,
            blank_is_issue={
                code: ref.questionnaire.item(code).block in BLANK_IS_ISSUE_BLOCKS for code in codes
            },
        )
    )
    return fields
