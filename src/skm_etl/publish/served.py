"""Publish the marts: a new served DuckDB file swapped in atomically, and Parquet.

BI tools hold the served file open read-only; DuckDB lets one writer or many readers
use a file, so the job never writes the served file in place. It writes a new file next
to it and `os.replace`s it: a reader keeps the old inode until it reconnects, and a
failed run leaves the previous file served.

Both the new served file and the new Parquet folder are written completely before
either is swapped in, so a run that fails while writing (a full disk, say) changes
neither, and the two published copies always come from the same run. What a failed or
killed run left half-written is removed by the next publish (one run at a time holds
the warehouse, so nothing else is writing there).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "ops")
MB = 1024 * 1024


class PublishError(Exception):
    """The new served file or Parquet export could not be written; the previous ones stay."""


@dataclass
class PublishResult:
    served: Path
    tables: dict[str, int] = field(default_factory=dict)
    parquet_dir: Path | None = None


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def published_relations(
    con: duckdb.DuckDBPyConnection, catalog: str | None = None
) -> list[tuple[str, str]]:
    """(schema, name) of every relation in the published schemas of the store, but the
    plan and record of the mart builds (ops.mart_build_*: the ETL's own bookkeeping)."""
    rows = con.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_schema in ('marts', 'ops') and table_catalog = coalesce(?, current_database())
            and not (table_schema = 'ops' and starts_with(table_name, 'mart_build_'))
        order by table_schema, table_name
        """,
        [catalog],
    ).fetchall()
    return [(s, t) for s, t in rows]


def publish(
    store: duckdb.DuckDBPyConnection,
    served: Path,
    *,
    run_id: str,
    parquet_dir: Path | None = None,
    before_swap: Callable[[], None] | None = None,
) -> PublishResult:
    """Copy marts and ops from the open store into a new file and swap it in.

    With `parquet_dir`, the marts are also exported there as Parquet, swapped in right
    after the served file. Raises PublishError, with a message for the operator, when
    either cannot be written; nothing is swapped in then.
    """
    served.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(served, parquet_dir)
    tmp = served.with_name(f".{served.name}.{run_id}.tmp")
    staging = parquet_dir.with_name(f".{parquet_dir.name}.{run_id}.tmp") if parquet_dir else None
    result = PublishResult(served=served)
    relations = published_relations(store)
    try:
        _write_served(store, tmp, relations, result)
        if parquet_dir is not None and staging is not None:
            write_parquet(store, staging, run_id=run_id, relations=relations)
    except (duckdb.Error, OSError) as exc:
        for written in (tmp, tmp.with_name(tmp.name + ".wal")):
            _remove(written)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise PublishError(_could_not_write(served, exc)) from exc
    if before_swap is not None:
        before_swap()
    os.replace(tmp, served)
    _fsync(served.parent)
    if parquet_dir is not None and staging is not None:
        result.parquet_dir = _swap_dir(staging, parquet_dir, run_id=run_id)
    return result


def _write_served(
    store: duckdb.DuckDBPyConnection,
    tmp: Path,
    relations: list[tuple[str, str]],
    result: PublishResult,
) -> None:
    """Write the published schemas into a new DuckDB file and flush it to disk."""
    tmp.unlink(missing_ok=True)
    store.execute("attach ? as served_new", [str(tmp)])
    try:
        for schema in PUBLISHED_SCHEMAS:
            store.execute(f"create schema if not exists served_new.{_quote(schema)}")  # noqa: S608 - a module constant, quoted
        for schema, name in relations:
            target = f"served_new.{_quote(schema)}.{_quote(name)}"
            source = f"{_quote(schema)}.{_quote(name)}"
            store.execute(f"create table {target} as select * from {source}")  # noqa: S608 - catalog identifiers, quoted
            count = f"select count(*) from {target}"  # noqa: S608
            result.tables[f"{schema}.{name}"] = store.execute(count).fetchone()[0]
    finally:
        store.execute("detach served_new")
    _fsync(tmp)


def remove_leftovers(served: Path, parquet_dir: Path | None) -> list[Path]:
    """Delete what earlier runs left half-written next to the served file and Parquet.

    A run killed or failed mid-publish leaves `.skm.duckdb.<run>.tmp` (and its `.wal`)
    or a `.parquet.<run>.tmp` folder; kept, they would fill the disk night after night.
    Returns what was removed.
    """
    found = list(served.parent.glob(f".{served.name}.*.tmp*"))
    if parquet_dir is not None:
        found += [
            p
            for pattern in (f".{parquet_dir.name}.*.tmp", f".{parquet_dir.name}.*.old")
            for p in parquet_dir.parent.glob(pattern)
        ]
    for path in found:
        _remove(path)
    return found


def export_parquet(
    con: duckdb.DuckDBPyConnection,
    parquet_dir: Path,
    *,
    run_id: str,
    relations: list[tuple[str, str]],
) -> Path:
    """Write each mart as Parquet (partitioned by survey_year where it has one) and swap it in."""
    parquet_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = parquet_dir.with_name(f".{parquet_dir.name}.{run_id}.tmp")
    write_parquet(con, staging, run_id=run_id, relations=relations)
    return _swap_dir(staging, parquet_dir, run_id=run_id)


def write_parquet(
    con: duckdb.DuckDBPyConnection,
    staging: Path,
    *,
    run_id: str,
    relations: list[tuple[str, str]],
) -> None:
    """Write each mart as Parquet into `staging`, plus a manifest of tables and columns."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    manifest: dict[str, object] = {
        "run_id": run_id,
        "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tables": {},
    }
    for schema, name in relations:
        if schema != "marts":
            continue
        columns = [
            (r[0], r[1])
            for r in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = ? and table_catalog = current_database() "
                "order by ordinal_position",
                [name],
            ).fetchall()
        ]
        column_names = [c for c, _ in columns]
        target = staging / name
        rows = con.execute(f"select count(*) from marts.{_quote(name)}").fetchone()[0]  # noqa: S608
        if "survey_year" in column_names and rows:
            con.execute(
                f"copy (select * from marts.{_quote(name)}) to '{_sql_string(target)}' "  # noqa: S608
                "(format parquet, partition_by (survey_year), overwrite_or_ignore)"
            )
            layout = "partitioned by survey_year"
        else:
            target = staging / f"{name}.parquet"
            copy = f"copy (select * from marts.{_quote(name)}) to '{_sql_string(target)}' (format parquet)"  # noqa: S608
            con.execute(copy)
            layout = "single file"
        manifest["tables"][name] = {  # type: ignore[index]
            "rows": rows,
            "path": target.name,
            "layout": layout,
            "columns": [{"name": c, "type": t} for c, t in columns],
        }
    (staging / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"
    )


def _swap_dir(staging: Path, parquet_dir: Path, *, run_id: str) -> Path:
    """Put the staged Parquet folder in place of the published one."""
    old = parquet_dir.with_name(f".{parquet_dir.name}.{run_id}.old")
    if parquet_dir.exists():
        os.replace(parquet_dir, old)
    os.replace(staging, parquet_dir)
    shutil.rmtree(old, ignore_errors=True)
    return parquet_dir


def _could_not_write(served: Path, exc: BaseException) -> str:
    """Say what failed, where, how much room is left and that the old files stay."""
    try:
        free = f"{shutil.disk_usage(served.parent).free / MB:.1f} MB"
    except OSError:
        free = "unknown"
    return (
        f"file served baru tidak dapat ditulis di {served.parent} (ruang kosong {free}) / "
        f"the new served file could not be written in {served.parent} ({free} free): "
        f"{type(exc).__name__}: {exc} — file served dan Parquet sebelumnya tetap dipakai; "
        "kosongkan ruang disk lalu jalankan ulang / the previous served file and Parquet "
        "stay published; free disk space and run again"
    )


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _sql_string(path: Path) -> str:
    """Quote a path the job itself chose (no file or unit name enters it) for COPY ... TO."""
    return str(path).replace("'", "''")


def _fsync(path: Path) -> None:
    """Flush a file or a directory entry to disk before and after the swap."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def served_run(served: Path) -> str | None:
    """The last run the served file shows published; None when it cannot be read (none yet,
    or a BI tool holds it open for writing)."""
    if not served.exists():
        return None
    try:
        con = duckdb.connect(str(served), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute(
            "select run_id from ops.runs where status = 'published' "
            "order by started_at desc limit 1"
        ).fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return row[0] if row else None
