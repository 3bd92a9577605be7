"""Readers that turn a source file into the normalised response frame (docs/ARCHITECTURE.md)."""

from skm_etl.sources.google_forms import read_google_forms
from skm_etl.sources.result import ReadResult, SourceFileError
from skm_etl.sources.sapaapip import read_sapaapip

__all__ = ["ReadResult", "SourceFileError", "read_google_forms", "read_sapaapip"]
