"""What every reader returns (docs/ARCHITECTURE.md), and the error for an unusable file."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

SCORE_COLUMNS: tuple[str, ...] = (
    *(f"q{n}" for n in range(1, 15)),
    *(f"ak{n}" for n in range(1, 6)),
)

RESPONSE_SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64(),
    "unit_name": pl.Utf8(),
    "survey_year": pl.Int32(),
    "layanan_raw": pl.Utf8(),
    "layanan_code": pl.Utf8(),
    "layanan_name": pl.Utf8(),
    "submitted_at": pl.Datetime("us"),
    "respondent_age": pl.Int32(),
    "respondent_age_group": pl.Utf8(),
    "respondent_sex": pl.Utf8(),
    "respondent_education": pl.Utf8(),
    "respondent_occupation": pl.Utf8(),
    "completion_pct": pl.Float64(),
    **{column: pl.Int16() for column in SCORE_COLUMNS},
    "saran": pl.Utf8(),
}

PERSONAL_SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64(),
    "respondent_name": pl.Utf8(),
    "respondent_phone": pl.Utf8(),
}

ISSUE_SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64(),
    "column": pl.Utf8(),
    "value": pl.Utf8(),
    "reason": pl.Utf8(),
}


class SourceFileError(Exception):
    """A file that cannot be used at all; the message is shown to the unit's admin as is.

    Messages are bilingual (Indonesian / English) and say what is wrong, where, and what
    to do; see `file_error`.
    """


def file_error(problem_id: str, problem_en: str, action_id: str, action_en: str) -> SourceFileError:
    """Build the bilingual "problem / problem — action / action" message."""
    return SourceFileError(f"{problem_id} / {problem_en} — {action_id} / {action_en}")


@dataclass
class ReadResult:
    """One file read into the normalised frames.

    `responses` holds every data row, including rows with issues: the loader rejects the
    rows named in `issues` and keeps the rest. `personal` (name, phone) is kept apart so it
    can only ever reach raw.respondent_personal. `rows_read` counts the data rows, after
    blank rows and repeated page headers are dropped.
    """

    responses: pl.DataFrame
    personal: pl.DataFrame
    issues: pl.DataFrame
    unit_name: str
    survey_year: int
    rows_read: int
    warnings: list[str] = field(default_factory=list)
    # Google Forms: whether n/n/yyyy times were read day-first; unsettled when the file
    # alone decided month-first, or day-first for want of any sign (no order configured):
    # the pipeline then checks the store for its responses read the other way round
    day_first: bool | None = None
    day_month_unsettled: bool = False
