"""Read an expectation suite file and the reporting rules kept in each expectation's meta.

The suite is a plain GX 1.x suite JSON (`expectations/responses.json`). Besides GX's own
fields, every expectation carries in `meta`:

- `reason`: the bilingual message for a failing row; `{scale}` and `{survey_year}` are
  filled in at run time;
- `value_column` (optional): the column whose value is reported, when it is not the
  checked one (an unknown layanan reports `layanan_raw`, what the unit wrote);
- `report_column` (optional): the column named in the failure, when it is not the
  checked one (the duplicate check runs on a helper column but reports `response_key`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skm_etl.validate.outcome import ValidationError

TABLE_COLUMNS_EXPECTATION = "expect_table_columns_to_match_set"


@dataclass(frozen=True)
class Rule:
    """How failures of one expectation are reported."""

    position: int  # order in the suite file, used to order failures
    type: str
    column: str | None  # None for table-level expectations
    reason: str
    report_column: str | None
    value_column: str | None

    def reason_for(self, parameters: dict[str, Any]) -> str:
        return self.reason.format_map(parameters)


@dataclass(frozen=True)
class SuiteFile:
    path: Path
    name: str
    document: dict[str, Any]  # the JSON as read, handed to GX
    rules: tuple[Rule, ...]

    @property
    def required_columns(self) -> tuple[str, ...]:
        for expectation in self.document["expectations"]:
            if expectation["type"] == TABLE_COLUMNS_EXPECTATION:
                return tuple(expectation["kwargs"]["column_set"])
        return ()

    def rule_for(self, type_: str, column: str | None) -> Rule:
        for rule in self.rules:
            if rule.type == type_ and rule.column == column:
                return rule
        raise KeyError((type_, column))


def load_suite(path: Path) -> SuiteFile:
    """Read a suite file and check that every expectation says how to report its failures."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValidationError(
            f"berkas aturan validasi {path} tidak dapat dibaca / validation suite {path} "
            f"cannot be read: {error}; pulihkan berkas dari repositori / restore it from the "
            "repository"
        ) from error
    rules = []
    seen: set[tuple[str, str | None]] = set()
    for position, expectation in enumerate(document.get("expectations", [])):
        meta = expectation.get("meta") or {}
        column = expectation.get("kwargs", {}).get("column")
        key = (expectation["type"], column)
        if not meta.get("reason") or key in seen:
            raise ValidationError(
                f"aturan validasi {expectation['type']} ({column}) di {path} tanpa meta.reason "
                f"atau tercantum dua kali / expectation {expectation['type']} ({column}) in "
                f"{path} has no meta.reason or is listed twice: perbaiki berkas aturan / fix "
                "the suite file"
            )
        seen.add(key)
        rules.append(
            Rule(
                position=position,
                type=expectation["type"],
                column=column,
                reason=meta["reason"],
                report_column=meta.get("report_column"),
                value_column=meta.get("value_column"),
            )
        )
    return SuiteFile(path=path, name=document["name"], document=document, rules=tuple(rules))
