"""Read a Google Forms responses export (.csv from the linked sheet) — SPEC §6.2."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from skm_etl.reference.model import (
    BLOCK_ANTI_KORUPSI,
    BLOCK_UNSUR,
    Item,
    Reference,
)
from skm_etl.sources import normalize as nz
from skm_etl.sources.batch import Located
from skm_etl.sources.constants import BLANK_IS_ISSUE_BLOCKS
from skm_etl.sources.google_forms.constants import (
    ACTION_FORM,
    COLUMN_TITLES,
    EXPECTED_ROLES,
    GRID_STATEMENT,
    NAME_EXCLUDED_WORDS,
    PERSONAL_UNREAD_PREFIXES,
    QUESTION_NUMBER,
    REQUIRED_ROLES,
    ROLE_PREFIXES,
    TIMESTAMP_TITLES,
    TITLE_SHOWN_CHARS,
    UNREAD_PREFIXES,
)
from skm_etl.sources.result import PERSONAL_SCHEMA, ReadResult, file_error
from skm_etl.sources.tabular import ROW, Sheet, any_cell, read_sheets, row_values

PERSONAL_ROLES = ("respondent_name", "respondent_phone")


@dataclass(frozen=True)
class Column:
    """A titled column of the export."""

    cell: str  # c0, c1, …
    title: str
    key: str  # text key of the title without its leading number
    number: int | None  # leading "3." of a question title
    statement: str | None  # text key of the [statement] of a grid row


@dataclass
class Mapping:
    """Which cell column feeds each normalised column."""

    roles: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_google_forms(
    path: Path,
    ref: Reference,
    *,
    unit_name: str,
    survey_year: int,
    day_first: bool | None = None,
) -> ReadResult:
    """Read a Google Forms responses file into the normalised frames.

    The form carries no unit or year, so both come from the source's configuration, as
    may the order of day and month in its times (`day_first`; None: decided from the file,
    `normalize.day_first_for`). Answers are labels, turned into scores through each item's
    label set. Names and phone numbers go only to `personal`. Raises SourceFileError when
    the file cannot be used.
    """
    return locate_google_forms(
        path, ref, unit_name=unit_name, survey_year=survey_year, day_first=day_first
    ).read_alone()


# the roles `_fields` reads when the form has them
_FIELD_ROLES = (*REQUIRED_ROLES, *nz.RESPONDENT_FIELDS)


def locate_google_forms(
    path: Path,
    ref: Reference,
    *,
    unit_name: str,
    survey_year: int,
    day_first: bool | None = None,
) -> Located:
    """Read a responses file up to its data rows (see `read_google_forms`); fields come later.

    Raises SourceFileError when the file cannot be used at all.
    """
    name = path.name
    if not (unit_name or "").strip() or survey_year is None:
        raise file_error(
            f"unit kerja dan tahun untuk {name} belum dikonfigurasi",
            f"no unit and year are configured for {name}",
            "isi unit dan year pada sumber google_forms di file konfigurasi",
            "set unit and year on the google_forms source in the config file",
        )
    sheet = read_sheets(path)[0]
    header_index = _header_index(sheet, name)
    mapping = _map_columns(sheet, header_index, ref, name)
    rows = sheet.frame.slice(header_index + 1)
    data = rows.filter(any_cell(sheet.cell_columns, rows.height))
    # A form nobody has answered yet exports its title row alone: that is no fault of the
    # file, so it reads as no responses (the run says so) rather than a rejection that
    # would fail every night until the first answer comes in.
    if data.is_empty():
        day_first, order_warning, unsettled = True, None, False
    elif day_first is None:
        day_first, order_warning = nz.day_first_for(data[mapping.roles["submitted_at"]])
        # month-first, or day-first for want of any sign: the store is checked before loading
        unsettled = not day_first or order_warning is not None
    else:
        order_warning, unsettled = None, False
    width = 1 + max(i for i, title in enumerate(row_values(sheet, header_index)) if title)
    extra = [] if sheet.is_excel else [nz.extra_field_issues(data, sheet.cell_columns[width:])]
    personal = _personal(data, mapping)
    roles = [role for role in _FIELD_ROLES if role in mapping.roles]
    cells = data.select(
        ROW,
        *(pl.col(mapping.roles[role]).alias(role) for role in roles),
        *(pl.col(cell).alias(code) for code, cell in mapping.items.items()),
    )
    codes = tuple(mapping.items)
    excel_serial = sheet.is_excel
    unit = unit_name.strip()

    def parse(rows: pl.DataFrame) -> dict[str, nz.Parsed]:
        return _fields(rows, ref, codes, day_first=day_first, excel_serial=excel_serial)

    def complete(responses: pl.DataFrame, issues: pl.DataFrame) -> ReadResult:
        warnings = list(mapping.warnings)
        if order_warning:
            warnings.append(order_warning)
        if cells.is_empty():
            warnings.append(
                f"belum ada jawaban: {name} hanya berisi baris judul / no responses yet: {name} "
                "holds its title row only"
            )
        warnings += nz.unrecognised_warnings(cells, ref, COLUMN_TITLES)
        return ReadResult(
            responses=responses,
            personal=personal,
            issues=issues,
            unit_name=unit,
            survey_year=int(survey_year),
            rows_read=responses.height,
            warnings=warnings,
            day_first=day_first,
            day_month_unsettled=unsettled,
        )

    shape = ("google_forms", day_first, excel_serial, tuple(roles), codes)
    return Located(
        cells=cells,
        shape=shape,
        parse=parse,
        complete=complete,
        unit_name=unit,
        survey_year=survey_year,
        extra_issues=extra,
    )


@dataclass(frozen=True)
class PersonalCells:
    """Where an export keeps personal data: its sheet, title row and columns (0-based)."""

    sheet_name: str
    is_excel: bool
    header_index: int
    columns: tuple[int, ...]


def personal_cells(path: Path) -> PersonalCells:
    """Locate the columns of a Google Forms export that hold personal data.

    Names and phone numbers (every phone column, not only the one that is read) and the
    e-mail and address columns the reader skips. Used to blank a respondent's cells when
    their data is erased (skm_etl.privacy). Raises SourceFileError like the reader.
    """
    sheet = read_sheets(path)[0]
    header_index = _header_index(sheet, path.name)
    columns = tuple(
        int(column.cell[1:])
        for column in _columns(sheet, header_index)
        if _role(column) in PERSONAL_ROLES
        or nz.starts_with_phrase(column.key, PERSONAL_UNREAD_PREFIXES)
    )
    return PersonalCells(sheet.name, sheet.is_excel, header_index, columns)


def _header_index(sheet: Sheet, name: str) -> int:
    """Return the 0-based index of the first non-blank row (the titles)."""
    cells = sheet.cell_columns
    non_blank = sheet.frame.with_row_index("__index").filter(any_cell(cells, sheet.frame.height))
    if non_blank.is_empty():
        raise file_error(
            f"file {name} kosong",
            f"{name} is empty",
            *ACTION_FORM,
        )
    return int(non_blank["__index"][0])


def _columns(sheet: Sheet, header_index: int) -> list[Column]:
    """Describe every titled column."""
    columns = []
    for cell, title in zip(sheet.cell_columns, row_values(sheet, header_index), strict=True):
        if not title:
            continue
        number_match = re.match(QUESTION_NUMBER, title)
        statement = re.search(GRID_STATEMENT, title)
        columns.append(
            Column(
                cell=cell,
                title=title,
                key=nz.header_key(title[number_match.end() :] if number_match else title),
                number=int(number_match.group(1)) if number_match else None,
                statement=nz.header_key(statement.group(1)) if statement else None,
            )
        )
    return columns


def _role(column: Column) -> str | None:
    """Name the normalised column a non-question title stands for, if any."""
    if column.number is not None or column.statement is not None:
        return None
    if column.key in TIMESTAMP_TITLES or nz.starts_with_phrase(column.key, ("timestamp",)):
        return "submitted_at"
    for role, prefixes in ROLE_PREFIXES.items():
        if not nz.starts_with_phrase(column.key, prefixes):
            continue
        if role == "respondent_name" and nz.contains_phrase(column.key, NAME_EXCLUDED_WORDS):
            continue
        return role
    return None


def _map_columns(sheet: Sheet, header_index: int, ref: Reference, name: str) -> Mapping:
    """Assign each title to a role or a questionnaire item; reject what is missing or ambiguous."""
    columns = _columns(sheet, header_index)
    roles = [_role(column) for column in columns]
    if "submitted_at" not in roles:
        # Without a Timestamp title the row may be a response (the title row deleted, say):
        # no message quotes its cells, a respondent's name or suggestion among them.
        raise file_error(
            f"kolom 'Timestamp' tidak ditemukan di baris {header_index + 1} file {name} "
            f"({len(columns)} sel baris itu tidak dikutip, sebab baris ini mungkin berisi "
            "jawaban responden: baris judul terhapus?)",
            f"column 'Timestamp' not found in row {header_index + 1} of {name} (its "
            f"{len(columns)} cell(s) are not quoted, as this row may hold a respondent's "
            "answers: was the title row deleted?)",
            *ACTION_FORM,
        )
    mapping = Mapping()
    questions: list[Column] = []
    for column, role in zip(columns, roles, strict=True):
        if role is None:
            questions.append(column)
        elif role in mapping.roles:
            if role not in PERSONAL_ROLES:  # a second phone column is simply not read
                raise file_error(
                    f"dua kolom berarti '{COLUMN_TITLES[role]}' di file {name}: "
                    f"{_shown(columns, mapping.roles[role])} dan '{_short(column.title)}'",
                    f"two columns mean '{COLUMN_TITLES[role]}' in {name}: "
                    f"{_shown(columns, mapping.roles[role])} and '{_short(column.title)}'",
                    "hapus atau ganti judul salah satunya",
                    "delete or rename one of them",
                )
        else:
            mapping.roles[role] = column.cell

    missing: list[str] = [COLUMN_TITLES[r] for r in REQUIRED_ROLES if r not in mapping.roles]
    candidates = {item.code: _candidates(item, questions) for item in ref.questionnaire.items}
    mapping.items = _assign(candidates)
    for item in ref.questionnaire.items:
        if item.code in mapping.items:
            continue
        left = [c for c in candidates[item.code] if c.cell not in mapping.items.values()]
        if len(left) > 1:
            titles = "; ".join(f"'{_short(c.title)}'" for c in left)
            raise file_error(
                f"pertanyaan {item.code} cocok dengan beberapa kolom di file {name}: {titles}",
                f"question {item.code} matches several columns in {name}: {titles}",
                'gabungkan atau hapus kolom ganda, dan beri nomor judul pertanyaan ("1. …")',
                'merge or delete duplicate columns, and number the question titles ("1. …")',
            )
        if item.block == BLOCK_UNSUR:
            missing.append(f"{item.number}. … ({item.unsur_code}: {', '.join(item.forms_match)})")
    if missing:  # a title row (it has the Timestamp title): its titles are quoted
        found_titles = "; ".join(f"'{_short(c.title)}'" for c in columns)
        listed = ", ".join(f"'{m}'" for m in missing)
        raise file_error(
            f"kolom {listed} tidak ditemukan di baris {header_index + 1} file {name} "
            f"(kolom yang ada: {found_titles})",
            f"column {listed} not found in row {header_index + 1} of {name} "
            f"(columns found: {found_titles})",
            *ACTION_FORM,
        )

    used = set(mapping.roles.values()) | set(mapping.items.values())
    ignored = [
        f"'{_short(c.title)}'"
        for c in columns
        if c.cell not in used and not nz.starts_with_phrase(c.key, UNREAD_PREFIXES)
    ]
    absent = [COLUMN_TITLES[r] for r in EXPECTED_ROLES if r not in mapping.roles]
    if absent:
        mapping.warnings.append(
            f"kolom {', '.join(absent)} tidak ada, dibiarkan kosong / "
            f"column(s) {', '.join(absent)} absent, left blank"
        )
    if ignored:
        mapping.warnings.append(f"kolom diabaikan / columns ignored: {', '.join(ignored)}")
    return mapping


def _candidates(item: Item, questions: list[Column]) -> list[Column]:
    """List the columns that may hold an item: number and keyword, or grid statement."""
    if item.block == BLOCK_ANTI_KORUPSI:
        return [
            c
            for c in questions
            if c.statement is not None and nz.contains_phrase(c.statement, item.forms_match)
        ]
    plain = [c for c in questions if c.statement is None]
    numbered = [
        c
        for c in plain
        if c.number == item.number
        and (not item.forms_match or nz.contains_phrase(c.key, item.forms_match))
    ]
    if numbered or any(c.number is not None for c in plain) or not item.forms_match:
        return numbered
    # a form without numbered titles: keywords alone, resolved by elimination in _assign
    return [c for c in plain if nz.contains_phrase(c.key, item.forms_match)]


def _assign(candidates: dict[str, list[Column]]) -> dict[str, str]:
    """Give each item the one column left for it, repeating until nothing changes.

    Elimination settles titles that share a word: q6 (biaya) and q14 (tarif/biaya) both
    match the q14 title, but once q14 takes it, q6 has one column left.
    """
    assigned: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for code, columns in candidates.items():
            if code in assigned:
                continue
            left = [c for c in columns if c.cell not in assigned.values()]
            if len(left) == 1:
                assigned[code] = left[0].cell
                changed = True
    return assigned


def _fields(
    data: pl.DataFrame,
    ref: Reference,
    codes: tuple[str, ...],
    *,
    day_first: bool,
    excel_serial: bool,
) -> dict[str, nz.Parsed]:
    """Parse the mapped cells (columns named by role, score items by code)."""
    fields: dict[str, nz.Parsed] = {
        **nz.layanan(data["layanan"], ref),
        "submitted_at": nz.submitted_at(
            data["submitted_at"], day_first=day_first, excel_serial=excel_serial
        ),
        **nz.respondent_fields(data, ref),
    }
    items = {code: ref.questionnaire.item(code) for code in codes}
    fields.update(
        nz.scores_from_labels(
            data.select(codes),
            items,
            blank_is_issue={c: i.block in BLANK_IS_ISSUE_BLOCKS for c, i in items.items()},
        )
    )
    return fields


def _personal(data: pl.DataFrame, mapping: Mapping) -> pl.DataFrame:
    """Collect the name and phone of each response that has them, by source_row."""
    values = [
        (pl.col(mapping.roles[role]) if role in mapping.roles else pl.lit(None, pl.Utf8)).alias(
            role
        )
        for role in PERSONAL_ROLES
    ]
    return (
        data.lazy()
        .select(pl.col(ROW).alias("source_row"), *values)
        .filter(pl.any_horizontal(pl.col(r).is_not_null() for r in PERSONAL_ROLES))
        .cast(PERSONAL_SCHEMA)
        .collect()
    )


def _short(title: str) -> str:
    """Cut a long question title for a message."""
    return title if len(title) <= TITLE_SHOWN_CHARS else title[: TITLE_SHOWN_CHARS - 1] + "…"


def _shown(columns: list[Column], cell: str) -> str:
    """Quote the short title of the column in a cell."""
    return next(f"'{_short(c.title)}'" for c in columns if c.cell == cell)
