"""Reader for sapaapip tabulation exports (SPEC §6.1)."""

from skm_etl.sources.sapaapip.reader import read_sapaapip

__all__ = ["read_sapaapip"]
