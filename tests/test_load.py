"""Loading into the store: response keys, idempotency, lineage, personal data kept apart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from skm_etl.load import warehouse
from tests.frames import responses

UNIT = "loka-pom-di-kota-contoh"


def keyed(frame: pl.DataFrame) -> pl.DataFrame:
    return warehouse.add_response_keys(frame, source_kind="sapaapip", unit_code=UNIT)


def load(con, frame: pl.DataFrame, *, name: str = "a.xlsx", sha: str = "sha-a") -> int:
    frame = keyed(frame)
    record = warehouse.BatchRecord(
        batch_id=warehouse.new_id(),
        run_id="run",
        source_file=name,
        source_path=None,
        source_sha256=sha,
        source_kind="sapaapip",
        unit_code=UNIT,
        unit_name="Loka POM di Kota Contoh",
        survey_year=2025,
        rows_read=frame.height,
        started_at=dt.datetime.now(),
    )
    personal = frame.select(
        "source_row",
        pl.lit("Nama").alias("respondent_name"),
        pl.lit("0812").alias("respondent_phone"),
    )
    empty = pl.DataFrame(
        schema={"source_row": pl.Int64, "column": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8}
    )
    return warehouse.load_batch(con, record, frame, personal, empty)


@pytest.fixture
def store(tmp_path: Path):
    con = warehouse.open_store(tmp_path / "store.duckdb")
    yield con
    con.close()


def test_keys_depend_on_content_not_on_row_numbers() -> None:
    frame = responses(5)
    shifted = frame.with_columns(pl.col("source_row") + 100)
    assert keyed(frame)["response_key"].to_list() == keyed(shifted)["response_key"].to_list()


def test_identical_untimed_rows_get_distinct_keys() -> None:
    frame = pl.concat([responses(1, timed=False)] * 3).with_columns(
        pl.Series("source_row", [2, 3, 4], dtype=pl.Int64)
    )
    assert keyed(frame)["response_key"].n_unique() == 3


def test_a_timed_double_submission_gets_the_same_key_twice() -> None:
    frame = pl.concat([responses(1)] * 2).with_columns(
        pl.Series("source_row", [2, 3], dtype=pl.Int64)
    )
    assert keyed(frame)["response_key"].n_unique() == 1


def test_a_different_unit_gives_different_keys() -> None:
    frame = responses(3)
    other = warehouse.add_response_keys(frame, source_kind="sapaapip", unit_code="other")
    assert set(keyed(frame)["response_key"]).isdisjoint(set(other["response_key"]))


def test_loading_the_same_rows_twice_adds_nothing(store) -> None:
    assert load(store, responses(10)) == 10
    assert load(store, responses(10), sha="sha-b") == 0
    assert store.execute("select count(*) from raw.responses").fetchone()[0] == 10


def test_a_reexport_with_more_rows_adds_only_the_new_ones(store) -> None:
    load(store, responses(10).head(6))
    assert load(store, responses(10), sha="sha-b") == 4
    assert store.execute(
        "select count(distinct response_key), count(*) from raw.responses"
    ).fetchone() == (10, 10)


def test_two_halves_give_the_same_rows_as_the_whole(tmp_path: Path) -> None:
    whole = warehouse.open_store(tmp_path / "whole.duckdb")
    halves = warehouse.open_store(tmp_path / "halves.duckdb")
    frame = responses(11, timed=False)
    load(whole, frame)
    load(halves, frame.head(5), sha="h1")
    load(halves, frame.tail(6), sha="h2")
    query = "select response_key from raw.responses order by 1"
    assert whole.execute(query).fetchall() == halves.execute(query).fetchall()


def test_lineage_and_personal_data_are_recorded_apart(store) -> None:
    load(store, responses(3), name="unit.xlsx", sha="abc")
    lineage = store.execute(
        "select distinct source_file, source_sha256, source_kind from raw.responses"
    ).fetchall()
    assert lineage == [("unit.xlsx", "abc", "sapaapip")]
    columns = {
        r[0]
        for r in store.execute(
            "select column_name from information_schema.columns where table_schema='raw' and table_name='responses'"
        ).fetchall()
    }
    assert not columns & {"respondent_name", "respondent_phone"}
    assert store.execute("select count(*) from raw.respondent_personal").fetchone()[0] == 3
    batch = store.execute(
        "select rows_read, rows_accepted, rows_new, status from ops.load_batches"
    ).fetchall()
    assert batch == [(3, 3, 3, "loaded")]
    assert warehouse.is_file_loaded(store, "abc")
