"""Reader for sapaapip tabulation exports (SPEC §6.1)."""

from skm_etl.sources.sapaapip.reader import locate_sapaapip, read_sapaapip

__all__ = ["locate_sapaapip", "read_sapaapip"]
