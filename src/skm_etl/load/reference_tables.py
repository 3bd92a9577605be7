"""Write the configuration the dbt models read (schema `ref`), fresh at every run."""

from __future__ import annotations

import duckdb
import polars as pl

from skm_etl.load.units import Unit
from skm_etl.reference.model import Questionnaire, Reference
from skm_etl.settings import SurveyWindow


def write_reference_tables(
    con: duckdb.DuckDBPyConnection,
    *,
    reference: Reference,
    windows: tuple[SurveyWindow, ...],
    units: tuple[Unit, ...],
    populations: pl.DataFrame | None = None,
    rtl: pl.DataFrame | None = None,
) -> None:
    """Replace every ref.* table in one transaction, so dbt never sees half a config."""
    tables = {
        "questionnaire_items": _items(reference.questionnaire),
        "layanan": pl.DataFrame(
            {
                "layanan_code": [x.code for x in reference.layanan],
                "layanan_name": [x.name for x in reference.layanan],
            },
            schema={"layanan_code": pl.Utf8, "layanan_name": pl.Utf8},
        ),
        "units": pl.DataFrame(
            {
                "unit_code": [u.code for u in units],
                "unit_name": [u.name for u in units],
                "unit_type": [u.unit_type for u in units],
                "province": [u.province for u in units],
            },
            schema={
                "unit_code": pl.Utf8,
                "unit_name": pl.Utf8,
                "unit_type": pl.Utf8,
                "province": pl.Utf8,
            },
        ),
        "survey_windows": pl.DataFrame(
            {
                "survey_year": [w.year for w in windows],
                "window_start": [w.start for w in windows],
                "window_end": [w.end for w in windows],
            },
            schema={"survey_year": pl.Int32, "window_start": pl.Date, "window_end": pl.Date},
        ),
    }
    if populations is not None:
        tables["populations"] = populations
    if rtl is not None:
        tables["rtl"] = rtl
    con.execute("begin transaction")
    try:
        for name in (
            "questionnaire_items",
            "layanan",
            "units",
            "survey_windows",
            "populations",
            "rtl",
        ):
            con.execute(f"delete from ref.{name}")  # noqa: S608 - fixed table names
            if name in tables:
                con.register("incoming_ref", tables[name].to_arrow())
                con.execute(f"insert into ref.{name} by name select * from incoming_ref")  # noqa: S608 - fixed table names
                con.unregister("incoming_ref")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _items(questionnaire: Questionnaire) -> pl.DataFrame:
    order = {code: i for i, (code, _) in enumerate(questionnaire.unsur, start=1)}
    return pl.DataFrame(
        {
            "item_code": [i.code for i in questionnaire.items],
            "block": [i.block for i in questionnaire.items],
            "question_number": [i.number for i in questionnaire.items],
            "unsur_code": [i.unsur_code for i in questionnaire.items],
            "unsur_name": [i.unsur_name for i in questionnaire.items],
            "unsur_order": [order.get(i.unsur_code) for i in questionnaire.items],
            "scale": [questionnaire.scale for _ in questionnaire.items],
        },
        schema={
            "item_code": pl.Utf8,
            "block": pl.Utf8,
            "question_number": pl.Int32,
            "unsur_code": pl.Utf8,
            "unsur_name": pl.Utf8,
            "unsur_order": pl.Int32,
            "scale": pl.Int32,
        },
    )
