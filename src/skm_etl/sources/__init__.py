"""Readers that turn a source file into the normalised response frame (docs/ARCHITECTURE.md)."""

from skm_etl.sources.batch import Located, finish_many
from skm_etl.sources.google_forms import locate_google_forms, read_google_forms
from skm_etl.sources.result import ReadResult, SourceFileError
from skm_etl.sources.sapaapip import locate_sapaapip, read_sapaapip

__all__ = [
    "Located",
    "ReadResult",
    "SourceFileError",
    "finish_many",
    "locate_google_forms",
    "locate_sapaapip",
    "read_google_forms",
    "read_sapaapip",
]
