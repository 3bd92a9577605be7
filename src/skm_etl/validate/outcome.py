"""What a validation run hands back to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

# Same shape as the readers' `issues` frame, so the pipeline can concatenate both.
FAILURE_SCHEMA: dict[str, pl.DataType] = {
    "source_row": pl.Int64(),
    "column": pl.Utf8(),
    "value": pl.Utf8(),
    "reason": pl.Utf8(),
}


class ValidationError(Exception):
    """The batch could not be validated at all; reject the whole file with this message.

    The message is bilingual and is meant to be written to `ops.rejected_files` as is.
    """


@dataclass(frozen=True)
class ValidationOutcome:
    """Row-level failures of one batch and a summary of the run.

    `failures` has one row per failing row and expectation (columns of `FAILURE_SCHEMA`),
    ordered by position in the frame, then by the expectation's order in the suite.
    `expectations_evaluated` counts the suite's expectations, once per batch however many
    chunks it took. `success` is true when no expectation failed.
    """

    failures: pl.DataFrame
    expectations_evaluated: int
    success: bool
    data_docs_index: Path | None = None
    # a gx_runner.BatchReport: what `write_data_docs` needs to show this batch later
    report: Any = None
