"""Loading into the store: response keys, idempotency, lineage, personal data kept apart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from skm_etl.load import warehouse
from tests.frames import responses
from tests.storage import append_partly_filled_row_groups, row_groups

UNIT = "loka-pom-di-kota-contoh"


def keyed(frame: pl.DataFrame) -> pl.DataFrame:
    return warehouse.add_response_keys(frame, source_kind="sapaapip", unit_code=UNIT)


def load(con, frame: pl.DataFrame, *, name: str = "a.xlsx", sha: str = "sha-a") -> int:
    """Load one file's rows in its own transaction; the number of new responses."""
    return warehouse.load_batches(con, [_item(frame, sha, name=name)])[0]


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
    assert "abc" in warehouse.loaded_file_hashes(store)


def _defined_key(row: dict, *, source_kind: str, unit_code: str, occurrence: int) -> str:
    """The key as docs/ARCHITECTURE.md defines it, written out in plain Python."""

    def text(value) -> str:
        if value is None:
            return "\u2205"
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        return str(value)

    fields = [source_kind, unit_code, text(row["survey_year"])]
    fields += [text(row[c]) for c in warehouse.KEY_CONTENT_COLUMNS]
    content = "|".join(fields)
    return hashlib.sha256(f"{content}|{occurrence}".encode()).hexdigest()


def test_keys_follow_the_documented_definition() -> None:
    # stored keys must never change: check them against the definition, not the code
    frame = pl.concat(
        [responses(3), responses(2, timed=False), responses(1, timed=False)]
    ).with_columns(pl.Series("source_row", range(2, 8), dtype=pl.Int64))
    frame = frame.with_columns(
        pl.Series("saran", ["ok", None, "a|b", None, "ramah", None]),
        pl.Series("completion_pct", [100.0, 80.0, 66.5, 100.0, 100.0, 100.0]),
    )
    got = keyed(frame)["response_key"].to_list()
    seen: dict[str, int] = {}
    expected = []
    for row in frame.iter_rows(named=True):
        occurrence = 0
        if row["submitted_at"] is None:
            content = _defined_key(row, source_kind="sapaapip", unit_code=UNIT, occurrence=0)
            seen[content] = occurrence = seen.get(content, 0) + 1
        expected.append(
            _defined_key(row, source_kind="sapaapip", unit_code=UNIT, occurrence=occurrence)
        )
    assert got == expected
    # rows 5 and 7 have the same content and no time: only their occurrence tells them apart
    assert frame.row(3)[1:] == frame.row(5)[1:]
    assert len(set(got)) == 6


def test_keys_of_several_files_at_once_equal_those_file_by_file() -> None:
    files = [
        responses(4, timed=False),  # the same untimed rows in two files of one unit
        responses(4, timed=False),
        responses(3).with_columns(pl.col("source_row") + 10),
    ]
    units = [UNIT, UNIT, "other"]
    one_by_one = [
        warehouse.add_response_keys(f, source_kind="sapaapip", unit_code=u)["response_key"]
        for f, u in zip(files, units, strict=True)
    ]
    together = warehouse.add_response_keys(
        pl.concat(
            [
                f.with_columns(
                    pl.lit(part, dtype=pl.Int32).alias("load_part"),
                    pl.lit("sapaapip").alias("source_kind"),
                    pl.lit(u).alias("unit_code"),
                )
                for part, (f, u) in enumerate(zip(files, units, strict=True))
            ]
        )
    )
    assert together["response_key"].to_list() == pl.concat(one_by_one).to_list()


def _item(
    frame: pl.DataFrame,
    sha: str,
    *,
    name: str | None = None,
    rejected_rows: list[int] = (),
    run_id: str = "run",
) -> warehouse.LoadItem:
    frame = keyed(frame)
    record = warehouse.BatchRecord(
        batch_id=warehouse.new_id(),
        run_id=run_id,
        source_file=name or f"{sha}.csv",
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
        pl.format("Nama {}", pl.lit(sha)).alias("respondent_name"),
        pl.lit("0812").alias("respondent_phone"),
    )
    rejected = pl.DataFrame(
        {
            "source_row": list(rejected_rows),
            "column": ["q1"] * len(rejected_rows),
            "value": ["9"] * len(rejected_rows),
            "reason": ["di luar skala / out of scale"] * len(rejected_rows),
        },
        schema={"source_row": pl.Int64, "column": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8},
    )
    return warehouse.LoadItem(record, frame, personal, rejected)


def test_several_files_in_one_transaction_store_what_one_by_one_would(tmp_path: Path) -> None:
    base = responses(12)
    files = [
        (base.head(6), "f1", [3]),
        (base.slice(4, 6), "f2", []),  # a re-export overlapping f1 by two rows
        (base.tail(4), "f3", [13]),  # overlaps f2 by two rows
    ]
    many = warehouse.open_store(tmp_path / "many.duckdb")
    added = warehouse.load_batches(many, [_item(f, s, rejected_rows=r) for f, s, r in files])
    assert added == [6, 4, 2]
    # file by file on a third store, for comparison
    seq = warehouse.open_store(tmp_path / "seq.duckdb")
    assert [
        warehouse.load_batches(seq, [_item(f, s, rejected_rows=r)])[0] for f, s, r in files
    ] == [
        6,
        4,
        2,
    ]
    for query in (
        "select response_key, source_file, source_row from raw.responses order by all",
        "select response_key, respondent_name from raw.respondent_personal order by all",
        "select source_file, source_row, column_name, reason from ops.rejected_rows order by all",
        "select source_file, rows_accepted, rows_rejected, rows_new from ops.load_batches order by all",
    ):
        assert many.execute(query).fetchall() == seq.execute(query).fetchall(), query
    assert many.execute("select count(*) from raw.responses").fetchone()[0] == 12
    for con in (many, seq):
        con.close()


def test_file_hashes_are_remembered_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "tabulasi.csv"
    export.write_text("a,b\n1,2\n", encoding="utf-8")
    hashed: list[Path] = []
    real = warehouse.file_sha256
    monkeypatch.setattr(warehouse, "file_sha256", lambda path: hashed.append(path) or real(path))
    cache = tmp_path / "work" / "file_hashes.json"

    first = warehouse.FileHashes(cache)
    assert first.sha256(export) == hashlib.sha256(export.read_bytes()).hexdigest()
    first.save()
    again = warehouse.FileHashes(cache)  # the next run
    assert again.sha256(export) == first.sha256(export)
    assert hashed == [export], "an unchanged file is not read again"

    # rewritten in place with the same size and its old mtime put back: ctime still moves
    stat = export.stat()
    time.sleep(0.05)  # past the file system's timestamp tick
    export.write_text("a,b\n1,3\n", encoding="utf-8")
    os.utime(export, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert again.sha256(export) == hashlib.sha256(b"a,b\n1,3\n").hexdigest()
    assert hashed == [export, export]


def test_an_unreadable_hash_cache_means_hashing_again(tmp_path: Path) -> None:
    export = tmp_path / "tabulasi.csv"
    export.write_text("x\n", encoding="utf-8")
    cache = tmp_path / "file_hashes.json"
    cache.write_text("{not json", encoding="utf-8")
    assert warehouse.FileHashes(cache).sha256(export) == hashlib.sha256(b"x\n").hexdigest()


def test_a_run_left_running_is_marked_abandoned_when_the_next_one_starts(store) -> None:
    warehouse.start_run(store, "killed")  # SIGKILLed: never finished
    warehouse.start_run(store, "next")
    rows = store.execute("select run_id, status, message from ops.runs order by run_id").fetchall()
    assert [(run, status) for run, status, _ in rows] == [
        ("killed", "abandoned"),
        ("next", "running"),
    ]
    assert " / the run stopped without finishing" in rows[0][2]


def test_interrupted_loads_are_the_batches_of_runs_killed_or_failed_since_the_last_published_one(
    store,
) -> None:
    rows = responses(16)

    def killed_run(run_id: str, sha: str, rejected_rows: list[int], part: int) -> None:
        warehouse.start_run(store, run_id)
        frame = rows.slice(4 * part, 4)
        warehouse.load_batches(
            store, [_item(frame, sha, rejected_rows=rejected_rows, run_id=run_id)]
        )

    killed_run("reported", "sha-1", [2], 0)
    warehouse.start_run(store, "published")
    warehouse.finish_run(
        store,
        "published",
        status="published",
        exit_code=2,
        files_seen=0,
        files_loaded=0,
        files_rejected=0,
        rows_accepted=0,
        rows_rejected=0,
        message=None,
    )
    killed_run("killed", "sha-2", [7, 7, 9], 1)
    killed_run("replayed", "sha-3", [11], 2)
    store.execute("update ops.load_batches set status = 'replayed' where run_id = 'replayed'")
    # a run that failed after loading (its build, say) printed its rejections, but exit 1
    # published nothing: the run that publishes its rows reports them too
    killed_run("failed", "sha-4", [14], 3)
    store.execute("update ops.runs set status = 'failed', exit_code = 1 where run_id = 'failed'")
    warehouse.start_run(store, "now")
    load, failed = warehouse.interrupted_loads(store)
    assert (failed.run_id, failed.source_file, failed.rows_rejected) == ("failed", "sha-4.csv", 1)
    assert (load.run_id, load.source_file, load.rows_rejected) == ("killed", "sha-2.csv", 2)
    assert (load.rows_read, load.rows_accepted, load.rows_new) == (4, 4, 4)
    assert load.reasons == [("q1", "di luar skala / out of scale", 3)]


def test_the_loaded_file_hashes_are_those_of_loaded_batches(store) -> None:
    load(store, responses(2), sha="sha-1")
    load(store, responses(3), sha="sha-2")
    assert warehouse.loaded_file_hashes(store) == {"sha-1", "sha-2"}


def test_repeated_keys_are_told_from_distinct_ones_by_their_hashes() -> None:
    keys = keyed(responses(50))["response_key"]
    assert keys.n_unique() == 50
    assert not warehouse._may_repeat(keys)
    assert warehouse._may_repeat(pl.concat([keys, keys.slice(7, 1)]))


@pytest.mark.parametrize("vacuum", [False, True])
def test_the_store_closes_without_rewriting_what_was_appended(tmp_path: Path, vacuum: bool) -> None:
    """Two appends of 130,000 rows leave a partly filled row group after each. Closing
    the store must keep the row groups as written (after a national load, the vacuum
    would rewrite nearly all of it); a connection opened to delete still vacuums."""
    path = tmp_path / "store.duckdb"
    con = warehouse.open_store(path, vacuum=vacuum)
    written = append_partly_filled_row_groups(con, "scratch")
    assert [count for _, count, _ in written] == [122_880, 7_120, 122_880, 7_120]
    con.close()
    con = warehouse.open_store(path)
    try:
        after_close = row_groups(con, "scratch")
        assert con.execute("select count(*), sum(n) from scratch").fetchone() == (
            260_000,
            sum(range(260_000)),
        )
    finally:
        con.close()
    if vacuum:
        assert [count for _, count, _ in after_close] == [122_880, 122_880, 14_240]
    else:
        assert after_close == written


def test_stored_scopes_look_up_keys_only_where_the_store_holds_the_unit_and_year(store) -> None:
    load(store, responses(8, year=2024).head(6), sha="sha-2024")
    scopes = warehouse.StoredScopes(store)
    assert scopes.pairs == {(UNIT, 2024)}
    mixed = pl.concat([keyed(responses(8, year=2024)), keyed(responses(3, year=2025))])
    assert scopes.held(mixed)["survey_year"].to_list() == [2024] * 8
    assert scopes.held(keyed(responses(3, year=2025))).is_empty()
    # a re-export of 2024 with two more rows, and a first export of 2025
    added = warehouse.load_batches(
        store,
        [_item(responses(8, year=2024), "sha-2024b"), _item(responses(3, year=2025), "sha-2025")],
        scopes=scopes,
    )
    assert added == [2, 3]
    assert scopes.pairs == {(UNIT, 2024), (UNIT, 2025)}
    # 2025 again under another name: the pair is known now, so its keys are looked up
    assert warehouse.load_batches(
        store, [_item(responses(3, year=2025), "sha-2025b")], scopes=scopes
    ) == [0]
    assert store.execute(
        "select survey_year, count(*), count(distinct response_key) from raw.responses group by all order by all"
    ).fetchall() == [(2024, 8, 8), (2025, 3, 3)]


def test_a_failed_load_leaves_the_stored_scopes_as_they_were(store) -> None:
    scopes = warehouse.StoredScopes(store)

    def fail() -> None:
        raise RuntimeError("mid-load")

    with pytest.raises(RuntimeError, match="mid-load"):
        warehouse.load_batches(store, [_item(responses(3), "sha-a")], midway=fail, scopes=scopes)
    assert scopes.pairs == set()
    assert store.execute("select count(*) from raw.responses").fetchone()[0] == 0


def test_a_failed_insert_raises_its_own_error_and_leaves_no_setting_behind(store) -> None:
    """The insert runs without insertion order; when it fails, the caller sees why (not an
    aborted transaction) and the setting is back to DuckDB's default."""
    item = _item(responses(3), "sha-a")
    item.record = dataclasses.replace(item.record, unit_code=None)  # raw.responses: not null
    with pytest.raises(duckdb.ConstraintException, match="unit_code"):
        warehouse.load_batches(store, [item])
    assert store.execute("select current_setting('preserve_insertion_order')").fetchone() == (True,)
    assert load(store, responses(3)) == 3  # the connection goes on


def test_a_store_made_before_age_groups_gets_the_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    con = warehouse.open_store(path)
    con.execute("alter table raw.responses drop column respondent_age_group")  # as it was
    con.execute(
        "insert into raw.responses by name select 'k' as response_key, 'b' as batch_id, "
        "'sapaapip' as source_kind, 'a.csv' as source_file, 'sha' as source_sha256, "
        "2 as source_row, 'U' as unit_code, 'Unit' as unit_name, 2025 as survey_year, "
        "'CDOB' as layanan_code, 'CDOB' as layanan_name, 33 as respondent_age, "
        "now() as loaded_at"
    )
    con.close()
    con = warehouse.open_store(path)
    try:
        assert con.execute(
            "select response_key, respondent_age, respondent_age_group from raw.responses"
        ).fetchall() == [("k", 33, None)]
        assert (
            load(con, responses(2).with_columns(pl.lit("26–30").alias("respondent_age_group"))) == 2
        )
    finally:
        con.close()
