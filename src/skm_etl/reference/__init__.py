"""Reference data: the questionnaire, the layanan catalogue and demographic variants."""

from skm_etl.reference.catalog import ReferenceDataError, load_reference
from skm_etl.reference.model import Item, Layanan, Questionnaire, Reference

__all__ = ["Item", "Layanan", "Questionnaire", "Reference", "ReferenceDataError", "load_reference"]
