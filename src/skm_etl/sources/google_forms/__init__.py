"""Reader for Google Forms responses exports (SPEC §6.2)."""

from skm_etl.sources.google_forms.reader import locate_google_forms, read_google_forms

__all__ = ["locate_google_forms", "read_google_forms"]
