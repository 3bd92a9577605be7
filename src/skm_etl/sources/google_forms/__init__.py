"""Reader for Google Forms responses exports (SPEC §6.2)."""

from skm_etl.sources.google_forms.reader import read_google_forms

__all__ = ["read_google_forms"]
