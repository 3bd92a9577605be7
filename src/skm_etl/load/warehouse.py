"""The store: DuckDB tables outside dbt (raw with lineage, ref, ops) and idempotent loads.

Every value coming from a file (names, rows, reasons) travels as a bound parameter or a
registered Arrow table, never as text spliced into SQL.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from skm_etl.masking import masked, masked_columns

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
    "respondent_age_group",
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
STORE_MEMORY_LIMIT = "1GB"


def open_store(path: Path, *, vacuum: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the ETL's private DuckDB file with its raw/ref/ops tables.

    The store is not vacuumed unless `vacuum` (a connection that deletes responses: a
    replay). Rows are only ever appended to it, and each load group's parallel insert
    leaves a partly filled row group or two; DuckDB's vacuum merges these with their
    neighbours at the next checkpoint, which rewrites nearly every row appended after the
    first of them: after a national load that cost 1.0 s per 770k responses, mostly on
    one core, in whichever connection closed next. Partly filled row groups cost nothing
    else here. dbt's connection (dbt_project/profiles.yml) does the same.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    # a global setting of the database instance, which a second connection to the same
    # file in this process would share: set both ways
    con.execute("reset max_vacuum_tasks" if vacuum else "set max_vacuum_tasks = 0")
    # Small loads (a nightly increment, a single file) commit through the WAL; DuckDB
    # checkpoints once it passes the threshold (16 MB by default), and each checkpoint
    # rewrites the table's last, partly filled row group: fewer, larger ones are cheaper.
    # The WAL is replayed if a run dies.
    con.execute(f"set checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
    # DuckDB keeps every block it wrote or read cached up to 80% of RAM by default; a
    # national load would grow the process by the size of the store. Past this it
    # evicts (and spills, which loading does not need).
    con.execute(f"set memory_limit = '{STORE_MEMORY_LIMIT}'")
    con.execute(resources.files("skm_etl.load").joinpath("schema.sql").read_text(encoding="utf-8"))
    return con


def file_sha256(path: Path) -> str:
    """Hash a file in 1 MiB blocks (exports can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FileHashes:
    """sha256 of inbox files, remembered by (size, mtime, ctime, inode) between runs.

    A national inbox keeps every export it ever received (2 GB for 10M responses);
    hashing them all again each night costs seconds for files that did not change. Any
    write to a file changes its ctime (which no tool can set back), so a changed file is
    always hashed again. Kept as JSON in the work dir; a missing or unreadable cache just
    means hashing everything.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, list] = {}
        self._changed = False
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._entries = loaded
        except (OSError, ValueError):
            pass

    def cached(self, file: Path) -> str | None:
        """The remembered sha256 of an unchanged file, without reading it; else None."""
        try:
            key, stamp = self._stamp(file)
        except OSError:
            return None
        return self._remembered(key, stamp)

    def sha256(self, file: Path) -> str:
        key, stamp = self._stamp(file)
        sha = self._remembered(key, stamp)
        if sha is None:
            sha = file_sha256(file)
            self._entries[key] = [*stamp, sha]
            self._changed = True
        return sha

    @staticmethod
    def _stamp(file: Path) -> tuple[str, list[int]]:
        stat = file.stat()
        return str(file.resolve()), [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]

    def _remembered(self, key: str, stamp: list[int]) -> str | None:
        entry = self._entries.get(key)
        if isinstance(entry, list) and len(entry) == 5 and entry[:4] == stamp:
            return str(entry[4])
        return None

    def save(self) -> None:
        """Write the cache (atomically), forgetting files that are gone."""
        if not self._changed:
            return
        entries = {k: v for k, v in self._entries.items() if Path(k).exists()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries), encoding="utf-8")
        tmp.replace(self.path)


def new_id() -> str:
    return uuid.uuid4().hex


def add_response_keys(
    frame: pl.DataFrame, *, source_kind: str | None = None, unit_code: str | None = None
) -> pl.DataFrame:
    """Add `response_key`: sha256 of the response's content (see docs/ARCHITECTURE.md).

    Responses without a submission time get the occurrence number of identical content
    within their file, so identical anonymous rows stay distinct while a re-export keeps
    its keys. Computed by DuckDB in one vectorised pass (no per-row Python).

    One file: pass `source_kind` and `unit_code`. Several files at once (one pass is far
    cheaper than one per file): the frame carries `source_kind`, `unit_code` and
    `load_part` (which file a row comes from; `source_row` is unique within a part).
    """
    if source_kind is not None or unit_code is not None:
        frame = frame.with_columns(
            pl.lit(source_kind, dtype=pl.Utf8).alias("source_kind"),
            pl.lit(unit_code, dtype=pl.Utf8).alias("unit_code"),
        )
    if frame.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias("response_key"))
    # an age answered as a group (no age in years) is written as the group's label, which
    # no age in years can be: keys of responses with an age in years, or none, are those of
    # the stores before groups were read
    parts = ", ".join(
        "coalesce(cast(respondent_age as varchar), respondent_age_group, '\u2205')"
        if c == "respondent_age"
        else f"coalesce(cast({c} as varchar), '\u2205')"
        for c in ("survey_year", *KEY_CONTENT_COLUMNS)
    )
    batch = frame.select(
        pl.col("load_part") if "load_part" in frame.columns else pl.lit(0).alias("load_part"),
        "source_row",
        "source_kind",
        "unit_code",
        "survey_year",
        *KEY_CONTENT_COLUMNS,
        "respondent_age_group",
    )
    content = f"concat_ws('|', source_kind, unit_code, {parts})"
    con = _key_connection().cursor()
    try:
        con.register("batch", batch.to_arrow())
        # Timed rows (nearly all): one pass, results in the frame's row order.
        timed = con.sql(
            f"""
            select
                load_part,
                source_row,
                case when submitted_at is not null then sha256({content} || '|0') end
                    as response_key
            from batch
            """  # noqa: S608 - column names are constants of this module
        ).to_arrow_table()
        # Untimed rows: numbered among identical content of their file; the window sorts
        # only these rows. Asked only when there are some: scanning the batch for them
        # converts every content column, a quarter of the timed pass's cost.
        untimed = None
        if batch["submitted_at"].null_count():
            untimed = con.sql(
                f"""
                select
                    load_part,
                    source_row,
                    sha256(
                        content || '|'
                        || row_number() over (partition by load_part, content order by source_row)
                    ) as response_key
                from (select load_part, source_row, {content} as content from batch
                      where submitted_at is null)
                """  # noqa: S608 - column names are constants of this module
            ).to_arrow_table()
    finally:
        con.close()
    keys = pl.from_arrow(timed)
    if not (
        keys["load_part"].equals(batch["load_part"])
        and keys["source_row"].equals(batch["source_row"])
    ):  # DuckDB keeps insertion order here; should it ever not, match rows by key
        keys = batch.select("load_part", "source_row").join(
            keys, on=["load_part", "source_row"], how="left"
        )
    key = keys["response_key"]
    if untimed is not None and untimed.num_rows:
        key = (
            batch.select("load_part", "source_row")
            .with_columns(key)
            .join(
                pl.from_arrow(untimed).rename({"response_key": "untimed_key"}),
                on=["load_part", "source_row"],
                how="left",
            )
            .select(pl.coalesce("response_key", "untimed_key"))
            .to_series()
        )
    return frame.with_columns(key.alias("response_key"))


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
_KEY_CONNECTION_LOCK = threading.Lock()


def _key_connection() -> duckdb.DuckDBPyConnection:
    """The in-memory DuckDB that hashes keys, opened once per process (a connect costs ~20 ms)."""
    with _KEY_CONNECTION_LOCK:  # the pipeline's read threads key their batches
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


@dataclass
class LoadItem:
    """One file's part of a load: its record, accepted rows (keyed), personal data, rejections."""

    record: BatchRecord
    accepted: pl.DataFrame
    personal: pl.DataFrame
    rejected: pl.DataFrame


def load_batches(
    con: duckdb.DuckDBPyConnection,
    items: list[LoadItem],
    *,
    midway: Callable[[], None] | None = None,
    scopes: StoredScopes | None = None,
) -> list[int]:
    """Load several files in one transaction, as loading them one after the other would.

    A response already in the store, or in an earlier file of `items`, is not added
    again; its personal row is kept only if the store has none. Returns, per item, the
    number of responses it added. One transaction for many files lets DuckDB write full
    row groups straight to the database file instead of the WAL first, and scan the
    stored keys once instead of once per file; a failure rolls back every item.

    `scopes`: what this connection knows the store holds (see StoredScopes); the stored
    keys are then looked up only for responses of a unit and year the store has rows of.
    """
    if not items:
        return []
    now = dt.datetime.now()
    lineage = pl.concat(
        [
            item.accepted.with_columns(
                pl.lit(item.record.batch_id).alias("batch_id"),
                pl.lit(item.record.source_kind).alias("source_kind"),
                pl.lit(item.record.source_file).alias("source_file"),
                pl.lit(item.record.source_sha256).alias("source_sha256"),
                pl.lit(item.record.unit_code, dtype=pl.Utf8).alias("unit_code"),
                pl.lit(now).alias("loaded_at"),
            ).select(RESPONSE_COLUMNS)
            for item in items
        ]
    )
    if len(items) > 1 and _may_repeat(lineage["response_key"]):
        # a response in two files of the group comes from the first, as file by file (a
        # key is a hash of unit and year among the rest: distinct keys, distinct responses)
        lineage = lineage.unique(
            subset=["unit_code", "survey_year", "response_key"], keep="first", maintain_order=True
        )
    personal_rows = pl.concat(
        [
            item.personal.join(
                item.accepted.select("source_row", "response_key"), on="source_row", how="inner"
            ).select("response_key", "respondent_name", "respondent_phone")
            for item in items
        ]
    ).unique(subset=["response_key"], keep="first", maintain_order=True)
    rejected_rows = pl.concat(
        [
            item.rejected.select(
                pl.lit(item.record.batch_id).alias("batch_id"),
                pl.lit(item.record.source_file).alias("source_file"),
                pl.col("source_row").cast(pl.Int64),
                pl.col("column").cast(pl.Utf8).alias("column_name"),
                pl.col("value").cast(pl.Utf8),
                pl.col("reason").cast(pl.Utf8),
            )
            for item in items
        ]
    )
    identity = ["unit_code", "survey_year", "response_key"]
    cols = ", ".join(RESPONSE_COLUMNS)
    con.execute("begin transaction")
    try:
        # Nothing here needs the rows in the order they come (every reader of the store
        # orders by its own columns): without it, the insert's two threads append without
        # waiting on each other, a tenth less CPU. A setting outlives the transaction, so
        # it is reset after the commit or the rollback.
        con.execute("set preserve_insertion_order = false")
        # Only new rows are inserted, without RETURNING, so DuckDB writes its row groups
        # straight to the file; an INSERT … WHERE NOT EXISTS … RETURNING cannot.
        new_rows = lineage
        maybe_stored = lineage if scopes is None else scopes.held(lineage)
        if maybe_stored.height:
            stored = stored_keys(con, maybe_stored.select(identity))
            if stored.height:
                new_rows = lineage.join(stored, on=identity, how="anti")
        con.register("incoming", new_rows.to_arrow())
        con.register("incoming_rejected", rejected_rows.to_arrow())
        con.execute(
            f"insert into raw.responses ({cols}) select {cols} from incoming"  # noqa: S608 - constant column list
        )
        inserted = new_rows.select("batch_id", "response_key")
        new_per_batch = dict(inserted.group_by("batch_id").len().iter_rows())
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
            select batch_id, ?, source_file, source_row, column_name, value, reason, ?
            from incoming_rejected
            """,
            [items[0].record.run_id, now],
        )
        _insert_batches(
            con,
            [
                (
                    item.record,
                    item.accepted.height,
                    item.rejected["source_row"].n_unique(),
                    new_per_batch.get(item.record.batch_id, 0),
                )
                for item in items
            ],
            now,
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("reset preserve_insertion_order")
        for name in ("incoming", "incoming_rejected"):
            con.unregister(name)
    if scopes is not None:
        scopes.add(lineage)
    return [int(new_per_batch.get(item.record.batch_id, 0)) for item in items]


def stored_keys(con: duckdb.DuckDBPyConnection, incoming: pl.DataFrame) -> pl.DataFrame:
    """The (unit_code, survey_year, response_key) of `incoming` that the store holds.

    DuckDB hashes the incoming keys and scans the store's, pruned by the incoming units'
    range.
    """
    con.register("incoming_keys", incoming.to_arrow())
    try:
        return pl.from_arrow(
            con.sql(
                """
                select r.unit_code, r.survey_year, r.response_key
                from raw.responses as r
                semi join incoming_keys as i
                    on r.unit_code = i.unit_code
                    and r.survey_year = i.survey_year
                    and r.response_key = i.response_key
                """
            ).to_arrow_table()
        )
    finally:
        con.unregister("incoming_keys")


def keys_to_the_minute(
    con: duckdb.DuckDBPyConnection, source_kind: str, unit_code: str, survey_year: int
) -> pl.Series:
    """The keys the stored responses of a unit and year, from exports of one kind, would have
    with their submission times cut to the minute; only responses whose time has seconds.

    A copy of an export re-saved by a spreadsheet (Excel writes times as h:mm) gives its
    responses these keys: `pipeline` asks for them when a file's times have no seconds.
    """
    stored = pl.from_arrow(
        con.sql(
            f"""
            select
                source_row,
                survey_year,
                date_trunc('minute', submitted_at) as submitted_at,
                {", ".join(c for c in KEY_CONTENT_COLUMNS if c != "submitted_at")},
                respondent_age_group
            from raw.responses
            where source_kind = ? and unit_code = ? and survey_year = ?
                and submitted_at <> date_trunc('minute', submitted_at)
            """,  # noqa: S608 - column names are constants of this module
            params=[source_kind, unit_code, survey_year],
        ).to_arrow_table()
    )
    return add_response_keys(stored, source_kind=source_kind, unit_code=unit_code)["response_key"]


class StoredScopes:
    """The (unit_code, survey_year) pairs that raw.responses holds rows of.

    Read once from the store, then kept up to date by `load_batches` on the same
    connection (the run lock keeps other writers out). A response of a pair the store
    holds no row of cannot be stored already, so its key needs no lookup: a national
    build's files are nearly all of new pairs, and looking their keys up in a growing
    store cost 8 s of a 10M build. Deleting rows (a replay) leaves the set a superset,
    which only means looking up more than needed.
    """

    _COLUMNS = ("unit_code", "survey_year")

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    @functools.cached_property
    def pairs(self) -> set[tuple[str, int]]:
        """Read on first use: a run with nothing to load does not scan the store for it."""
        return set(
            self._con.execute(
                "select distinct unit_code, survey_year from raw.responses"
            ).fetchall()
        )

    def held(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of `frame` whose unit and year the store holds rows of."""
        incoming = frame.select(self._COLUMNS).unique()
        known = [pair for pair in incoming.iter_rows() if pair in self.pairs]
        if len(known) == incoming.height:
            return frame
        if not known:
            return frame.clear()
        return frame.join(
            pl.DataFrame(known, schema=incoming.schema, orient="row"),
            on=list(self._COLUMNS),
            how="semi",
        )

    def add(self, frame: pl.DataFrame) -> None:
        """Count the unit and year pairs of `frame`, just committed, as held."""
        self.pairs.update(frame.select(self._COLUMNS).unique().iter_rows())


def _may_repeat(keys: pl.Series) -> bool:
    """Tell whether some key may occur twice: as many distinct 64-bit hashes as keys prove
    that none does (hashing and counting integers costs far less than counting strings)."""
    return keys.hash().n_unique() < keys.len()


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
    """Write a file that could not be used at all, with the message for its admin.

    A phone number or e-mail address the message quotes from the file is masked.
    """
    con.execute(
        "insert into ops.rejected_files values (?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            source_file,
            source_path,
            source_sha256,
            source_kind,
            masked(reason),
            dt.datetime.now(),
        ],
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
    rows = masked_columns(
        rows.select("source_row", pl.col("column").alias("column_name"), "value", "reason"),
        "value",
        "reason",
    )
    con.register("incoming_rejected", rows.to_arrow())
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


# ops.load_batches' columns (load/schema.sql), as `_insert_batches` builds its rows
_LOAD_BATCH_SCHEMA = {
    "batch_id": pl.Utf8,
    "run_id": pl.Utf8,
    "source_file": pl.Utf8,
    "source_path": pl.Utf8,
    "source_sha256": pl.Utf8,
    "source_kind": pl.Utf8,
    "unit_code": pl.Utf8,
    "unit_name": pl.Utf8,
    "survey_year": pl.Int32,
    "rows_read": pl.Int64,
    "rows_accepted": pl.Int64,
    "rows_rejected": pl.Int64,
    "rows_new": pl.Int64,
    "status": pl.Utf8,
    "started_at": pl.Datetime("us"),
    "finished_at": pl.Datetime("us"),
}


def _insert_batches(
    con: duckdb.DuckDBPyConnection,
    rows: list[tuple[BatchRecord, int, int, int]],
    finished_at: dt.datetime,
) -> None:
    """Add loaded files' ops.load_batches rows: (record, accepted, rejected, new rows) each."""
    frame = pl.DataFrame(
        [
            (
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
                "loaded",
                record.started_at,
                finished_at,
            )
            for record, accepted, rejected, new_rows in rows
        ],
        schema=_LOAD_BATCH_SCHEMA,
        orient="row",
    )
    con.register("incoming_batches", frame.to_arrow())
    try:
        con.execute(
            f"insert into ops.load_batches ({', '.join(_LOAD_BATCH_SCHEMA)}) "  # noqa: S608 - constant columns
            f"select {', '.join(_LOAD_BATCH_SCHEMA)} from incoming_batches"
        )
    finally:
        con.unregister("incoming_batches")


ABANDONED_MESSAGE = (
    "run berhenti tanpa selesai (dihentikan atau mesin mati); file yang sudah dimuat tetap "
    "tersimpan dan sisanya dimuat oleh run berikutnya / the run stopped without finishing "
    "(killed or the machine went down); what it had loaded is kept, the rest was loaded by "
    "a later run"
)


UNPUBLISHED_MESSAGE = (
    "run berhenti saat menerbitkan (dihentikan atau mesin mati); file yang disajikan tetap "
    "milik run sebelumnya, dan yang sudah dimuat diterbitkan oleh run berikutnya / the run "
    "stopped while it published (killed or the machine went down): the served file stayed "
    "the previous run's, and what it had loaded was published by a later run"
)


def start_run(
    con: duckdb.DuckDBPyConnection, run_id: str, *, served_run: str | None = None
) -> None:
    """Record a run's start; earlier runs still 'running' died, since runs take a lock.

    `served_run` is the last run the served file shows published. A run records itself
    published just before it swaps its file in (so that file shows it so); one recorded
    published after the served file's run died before its swap: it is abandoned too.
    """
    now = dt.datetime.now()
    con.execute(
        "update ops.runs set status = 'abandoned', message = ? where status = 'running'",
        [ABANDONED_MESSAGE],
    )
    if served_run is not None:
        con.execute(
            """
            update ops.runs set status = 'abandoned', message = ?
            where status = 'published' and run_id <> ?
                and started_at > (select started_at from ops.runs where run_id = ?)
            """,
            [UNPUBLISHED_MESSAGE, served_run, served_run],
        )
    con.execute(
        "insert into ops.runs (run_id, started_at, status) values (?, ?, 'running')",
        [run_id, now],
    )


@dataclass(frozen=True)
class InterruptedLoad:
    """A file loaded by a run that ended before it published (killed, stopped or failed): no
    published run's exit code reported it."""

    run_id: str
    source_file: str
    unit_name: str | None
    survey_year: int | None
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rows_new: int
    # (column, reason, rejected cells), the commonest first
    reasons: list[tuple[str | None, str, int]]


def interrupted_loads(con: duckdb.DuckDBPyConnection) -> list[InterruptedLoad]:
    """The files loaded by runs abandoned, stopped or failed since the last published run,
    still in the store.

    A run killed (or stopped by a signal) after loading some files leaves them loaded (the
    next run skips them as unchanged), but it printed no summary and exited with no code of
    its own, so their rejected rows were reported nowhere. A run that failed after loading
    printed them, but exited 1, publishing nothing. Either way the run that publishes those
    files' rows reports them (SPEC §8: exit 2). Runs take a lock, so a run that ended before
    the last published one started was reported by it; a replayed batch has been read again,
    and reported, by its replay.
    """
    rows = con.execute(
        """
        select b.batch_id, b.run_id, b.source_file, b.unit_name, b.survey_year,
            b.rows_read, b.rows_accepted, b.rows_rejected, b.rows_new
        from ops.load_batches as b
        join ops.runs as r on r.run_id = b.run_id
        where r.status in ('abandoned', 'stopped', 'failed') and b.status = 'loaded'
            and r.started_at > coalesce(
                (select max(started_at) from ops.runs where status = 'published'),
                timestamp '-infinity'
            )
        order by r.started_at, b.started_at, b.source_file
        """
    ).fetchall()
    if not rows:
        return []
    reasons: dict[str, list[tuple[str | None, str, int]]] = {}
    for batch_id, column, reason, count in con.execute(
        """
        select batch_id, column_name, reason, count(*) as cells
        from ops.rejected_rows
        where batch_id in (select unnest(?::varchar[]))
        group by all
        order by batch_id, cells desc, column_name nulls last, reason
        """,
        [[row[0] for row in rows]],
    ).fetchall():
        reasons.setdefault(batch_id, []).append((column, reason, int(count)))
    return [
        InterruptedLoad(
            run_id=run_id,
            source_file=source_file,
            unit_name=unit_name,
            survey_year=survey_year,
            rows_read=int(rows_read),
            rows_accepted=int(rows_accepted),
            rows_rejected=int(rows_rejected),
            rows_new=int(rows_new),
            reasons=reasons.get(batch_id, []),
        )
        for batch_id, run_id, source_file, unit_name, survey_year, rows_read, rows_accepted, rows_rejected, rows_new in rows
    ]


def loaded_file_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The sha256 of every file loaded so far (one query for a whole inbox)."""
    return set(loaded_file_scopes(con))


def loaded_file_scopes(
    con: duckdb.DuckDBPyConnection,
) -> dict[str, tuple[str | None, str | None, int | None]]:
    """Each loaded file's sha256, with the unit code, unit name and survey year its
    responses are stored under (one query for a whole inbox)."""
    rows = con.execute(
        """
        select source_sha256, any_value(unit_code), any_value(unit_name), any_value(survey_year)
        from ops.load_batches where status = 'loaded'
        group by source_sha256
        """
    ).fetchall()
    return {sha: (code, name, year) for sha, code, name, year in rows}


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
