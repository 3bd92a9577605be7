"""Validate the normalised response frame against the Great Expectations suite.

Importing this package is cheap: Great Expectations (a six-second import) is loaded only
when `validate_responses` runs.
"""

from skm_etl.validate.gx_runner import (
    DEFAULT_SUITE_PATH,
    FAILURE_SCHEMA,
    OCCURRENCE_COLUMN,
    BatchReport,
    ValidationError,
    ValidationOutcome,
    validate_parts,
    validate_responses,
    write_data_docs,
)

__all__ = [
    "DEFAULT_SUITE_PATH",
    "BatchReport",
    "FAILURE_SCHEMA",
    "OCCURRENCE_COLUMN",
    "ValidationError",
    "ValidationOutcome",
    "validate_parts",
    "validate_responses",
    "write_data_docs",
]
