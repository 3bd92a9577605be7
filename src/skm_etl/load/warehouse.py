"""The store: DuckDB tables outside dbt (raw with lineage, ref, ops) and idempotent loads.

Every value coming from a file (names, rows, reasons) travels as a bound parameter or a
registered Arrow table, never as text spliced into SQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

ANSWER_COLUMNS = tuple(f"q{i}" for i in range(1, 15)) + tuple(f"ak{i}" for i in range(1, 6))
RESPONSE_COLUMNS = (
    "response_key",
    "batch_id",
    "source_kind",
    "source_file",
    "source_sha256",
    "source_row",
    "unit_code",
    "unit_name",
    "survey_year",
    "layanan_code",
    "layanan_name",
    "layanan_raw",
    "submitted_at",
    "respondent_age",
    "respondent_sex",
    "respondent_education",
    "respondent_occupation",
    "completion_pct",
    *ANSWER_COLUMNS,
    "saran",
    "loaded_at",
)
# What identifies a response (docs/ARCHITECTURE.md "Response key"): its content, not its row.
KEY_CONTENT_COLUMNS = (
    "submitted_at",
    "layanan_code",
    "respondent_age",
    "respondent_sex",
    "respondent_education",
    "respondent_occupation",
    "completion_pct",
    *ANSWER_COLUMNS,
    "saran",
)


CHECKPOINT_THRESHOLD = "256MB"


def open_store(path: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the ETL's private DuckDB file with its raw/ref/ops tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    # Every file is loaded in its own transaction. DuckDB checkpoints once the WAL passes
    # the threshold (16 MB by default, a few files of a national inbox), and a checkpoint
    # rewrites the table's last, partly filled row group each time: fewer, larger ones
    # load a national inbox about a quarter faster. The WAL is replayed if a run dies.
    con.execute(f"set checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    con.execute(resources.files("skm_etl.load").joinpath("schema.sql").read_text(encoding="utf-8"))
    return con


def file_sha256(path: Path) -> str:
    """Hash a file in 1 MiB blocks (exports can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_id() -> str:
    return uuid.uuid4().hex


def is_file_loaded(con: duckdb.DuckDBPyConnection, sha256: str) -> bool:
    """Tell whether a file with this content was loaded before (then it adds nothing)."""
    row = con.execute(
        "select count(*) from ops.load_batches where source_sha256 = ? and status = 'loaded'",
        [sha256],
    ).fetchone()
    return bool(row and row[0])


def add_response_keys(frame: pl.DataFrame, *, source_kind: str, unit_code: str) -> pl.DataFrame:
    """Add `response_key`: sha256 of the response's content (see docs/ARCHITECTURE.md).

    Responses without a submission time get the occurrence number of identical content
    within the file, so identical anonymous rows stay distinct while a re-export keeps
    its keys. Computed by DuckDB in one vectorised pass (no per-row Python).
    """
    if frame.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias("response_key"))
    parts = ", ".join(
        f"coalesce(cast({c} as varchar), '\u2205')" for c in ("survey_year", *KEY_CONTENT_COLUMNS)
    )
    con = _key_connection().cursor()
    try:
        con.register(
            "batch", frame.select("source_row", "survey_year", *KEY_CONTENT_COLUMNS).to_arrow()
        )
        keyed = con.sql(
            f"""
            with content as (
                select source_row, concat_ws('|', ?, ?, {parts}) as content, submitted_at
                from batch
            ),
            -- numbered only where there is no time: the window sorts its rows by content,
            -- and a timed row's content already differs from every untimed row's
            occurrences as (
                select
                    source_row,
                    row_number() over (partition by content order by source_row) as occurrence
                from content
                where submitted_at is null
            )
            select
                content.source_row,
                sha256(content.content || '|' || coalesce(occurrences.occurrence, 0))
                    as response_key
            from content
            left join occurrences on content.source_row = occurrences.source_row
            """,  # noqa: S608 - column names are constants of this module, values are bound
            params=[source_kind, unit_code],
        ).to_arrow_table()
    finally:
        con.close()
    return frame.join(pl.from_arrow(keyed), on="source_row", how="left")


_INSERT_PERSONAL = """
    insert into raw.respondent_personal
    select p.response_key, p.respondent_name, p.respondent_phone, ?
    from incoming_personal as p
"""
_INSERT_PERSONAL_IF_ABSENT = """
    insert into raw.respondent_personal
    select p.response_key, p.respondent_name, p.respondent_phone, ?
    from incoming_personal as p
    where not exists (
        select 1 from raw.respondent_personal as e where e.response_key = p.response_key
    )
"""

_KEY_CONNECTION: list[duckdb.DuckDBPyConnection] = []


def _key_connection() -> duckdb.DuckDBPyConnection:
    """The in-memory DuckDB that hashes keys, opened once per process (a connect costs ~20 ms)."""
    if not _KEY_CONNECTION:
        _KEY_CONNECTION.append(duckdb.connect())
    return _KEY_CONNECTION[0]


@dataclass
class BatchRecord:
    """What one source file contributed to a run."""

    batch_id: str
    run_id: str
    source_file: str
    source_path: str | None
    source_sha256: str
    source_kind: str
    unit_code: str | None
    unit_name: str | None
    survey_year: int | None
    rows_read: int
    started_at: dt.datetime


def load_batch(
    con: duckdb.DuckDBPyConnection,
    record: BatchRecord,
    accepted: pl.DataFrame,
    personal: pl.DataFrame,
    rejected: pl.DataFrame,
    *,
    midway: Callable[[], None] | None = None,
) -> int:
    """Load one file's accepted rows, personal data and rejections in one transaction.

    Returns the number of responses that were new to the store: a re-export adds only
    the responses whose key is not there yet.
    """
    now = dt.datetime.now()
    lineage = accepted.with_columns(
        pl.lit(record.batch_id).alias("batch_id"),
        pl.lit(record.source_kind).alias("source_kind"),
        pl.lit(record.source_file).alias("source_file"),
        pl.lit(record.source_sha256).alias("source_sha256"),
        pl.lit(record.unit_code).alias("unit_code"),
        pl.lit(now).alias("loaded_at"),
    ).select(RESPONSE_COLUMNS)
    keys = accepted.select("source_row", "response_key")
    personal_rows = personal.join(keys, on="source_row", how="inner").select(
        "response_key", "respondent_name", "respondent_phone"
    )
    rejected_rows = rejected.select(
        pl.col("source_row").cast(pl.Int64),
        pl.col("column").cast(pl.Utf8).alias("column_name"),
        pl.col("value").cast(pl.Utf8),
        pl.col("reason").cast(pl.Utf8),
    )
    cols = ", ".join(RESPONSE_COLUMNS)
    con.execute("begin transaction")
    try:
        con.register("incoming", lineage.to_arrow())
        con.register("incoming_rejected", rejected_rows.to_arrow())
        returned = con.execute(
            f"""
            insert into raw.responses ({cols})
            select {cols} from incoming as i
            where not exists (
                select 1 from raw.responses as r
                where r.unit_code = ? and r.survey_year = i.survey_year
                  and r.response_key = i.response_key
            )
            returning response_key
            """,  # noqa: S608 - constant column list
            [record.unit_code],
        ).fetchnumpy()["response_key"]
        inserted = pl.DataFrame({"response_key": pl.Series(returned, dtype=pl.Utf8)})
        new_rows = inserted.height
        if midway is not None:
            midway()
        # A response new to the store has no personal row yet (they are written together);
        # only one loaded before (a re-export) is looked up among the personal rows, so a
        # national table of them is not scanned for every file.
        fresh = personal_rows.join(inserted, on="response_key", how="semi")
        known = personal_rows.join(inserted, on="response_key", how="anti")
        _insert_personal(con, _INSERT_PERSONAL, fresh, now)
        _insert_personal(con, _INSERT_PERSONAL_IF_ABSENT, known, now)
        con.execute(
            """
            insert into ops.rejected_rows
            select ?, ?, ?, source_row, column_name, value, reason, ?
            from incoming_rejected
            """,
            [record.batch_id, record.run_id, record.source_file, now],
        )
        _insert_batch(
            con,
            record,
            len(lineage),
            rejected_rows["source_row"].n_unique(),
            new_rows,
            "loaded",
            now,
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        for name in ("incoming", "incoming_rejected"):
            con.unregister(name)
    return int(new_rows)


def _insert_personal(
    con: duckdb.DuckDBPyConnection, insert: str, rows: pl.DataFrame, now: dt.datetime
) -> None:
    if rows.is_empty():
        return
    con.register("incoming_personal", rows.to_arrow())
    try:
        con.execute(insert, [now])
    finally:
        con.unregister("incoming_personal")


def record_rejected_file(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source_file: str,
    source_path: str | None,
    source_sha256: str | None,
    source_kind: str | None,
    reason: str,
) -> None:
    """Write a file that could not be used at all, with the message for its admin."""
    con.execute(
        "insert into ops.rejected_files values (?, ?, ?, ?, ?, ?, ?)",
        [run_id, source_file, source_path, source_sha256, source_kind, reason, dt.datetime.now()],
    )


def record_rejected_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    batch_id: str,
    source_file: str,
    rows: pl.DataFrame,
) -> None:
    """Write rows left out of a file that is not a response batch (populations, RTL)."""
    con.register("incoming_rejected", rows.rename({"column": "column_name"}).to_arrow())
    try:
        con.execute(
            """
            insert into ops.rejected_rows
            select ?, ?, ?, source_row, column_name, value, reason, ?
            from incoming_rejected
            """,
            [batch_id, run_id, source_file, dt.datetime.now()],
        )
    finally:
        con.unregister("incoming_rejected")


def _insert_batch(
    con: duckdb.DuckDBPyConnection,
    record: BatchRecord,
    accepted: int,
    rejected: int,
    new_rows: int,
    status: str,
    finished_at: dt.datetime,
) -> None:
    con.execute(
        "insert into ops.load_batches values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.batch_id,
            record.run_id,
            record.source_file,
            record.source_path,
            record.source_sha256,
            record.source_kind,
            record.unit_code,
            record.unit_name,
            record.survey_year,
            record.rows_read,
            accepted,
            rejected,
            new_rows,
            status,
            record.started_at,
            finished_at,
        ],
    )


def start_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    con.execute(
        "insert into ops.runs (run_id, started_at, status) values (?, ?, 'running')",
        [run_id, dt.datetime.now()],
    )


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    status: str,
    exit_code: int,
    files_seen: int,
    files_loaded: int,
    files_rejected: int,
    rows_accepted: int,
    rows_rejected: int,
    message: str | None,
) -> None:
    con.execute(
        """
        update ops.runs set finished_at = ?, status = ?, exit_code = ?, files_seen = ?,
            files_loaded = ?, files_rejected = ?, rows_accepted = ?, rows_rejected = ?, message = ?
        where run_id = ?
        """,
        [
            dt.datetime.now(),
            status,
            exit_code,
            files_seen,
            files_loaded,
            files_rejected,
            rows_accepted,
            rows_rejected,
            message,
            run_id,
        ],
    )
