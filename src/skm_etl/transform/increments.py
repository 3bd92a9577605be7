"""Incremental mart builds: full or incremental, and what an incremental one reads.

Every response-level model (the aggregate the index marts read, the suggestions, the
respondent profile, the responses outside their window, and under `target_sample` the
ranking of responses) can be brought up to date from the responses loaded since the
last complete build: under `all` from those responses alone, under `target_sample` by
recomputing their scopes, (survey_year, unit_code), since a new response can push an
earlier one of its scope out of the sample (`dbt_project/macros/increments.sql`).

That is only right while nothing else changed since the last complete build, so a build
is full (`dbt build --full-refresh`) whenever:

- no complete build is recorded (the first build, or the last one failed or was cut
  off: the record is removed before every build and written back only after success);
- the fingerprint differs: the dbt project's files, the versions of dbt, dbt-duckdb,
  DuckDB and skm-etl, the run's vars (`counting`), the content of every `ref` table (survey windows, populations, the unit
  registry, layanan, questionnaire items, RTL) or the columns of `raw.responses`;
- the responses loaded up to the last build's `loaded_at` are not those it was built
  from (their count or batches differ: a replay deletes and reloads).

Names of units and layanan are not kept in these models: the marts that show them
(`saran`, `respondent_profile`) are views joining the names of each build, since a unit
outside the registry takes the name of its latest response.

The plan goes to two tables the models read: `ops.mart_build_scopes` (the scopes with
new responses; every scope on a full build) and `ops.mart_build_delta` (on an
incremental build, one row: the last build's `loaded_at`, after which responses are new).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from collections.abc import Callable

    from skm_etl.transform.dbt_runner import DbtRunResult

SCOPES_TABLE = "ops.mart_build_scopes"
DELTA_TABLE = "ops.mart_build_delta"
STATE_TABLE = "ops.mart_build_state"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildPlan:
    """What the next dbt build recomputes, and what to record once it succeeds."""

    full: bool
    reason: str
    fingerprint: str
    responses: int
    batches: str  # the batches of those responses: sum of hash(batch_id) over rows
    loaded_through: dt.datetime | None
    scopes: int
    scopes_total: int
    new_responses: int

    def describe(self) -> str:
        """One line for the run summary."""
        if self.full:
            return (
                f"full build, {self.responses:,} responses in {self.scopes_total} "
                f"survey years × units: {self.reason}"
            )
        return (
            f"incremental build, {self.new_responses:,} responses new since the last build, "
            f"in {self.scopes} of {self.scopes_total} survey years × units"
        )


def build(
    store: Path,
    *,
    vars: dict[str, Any],
    target_path: Path,
    project_dir: Path | None = None,
    command: str = "build",
    on_event: Callable[[Any], None] | None = None,
) -> tuple[BuildPlan, DbtRunResult]:
    """Plan the build, run dbt (`--full-refresh` when full), record it if it succeeded."""
    from skm_etl.load.warehouse import open_store
    from skm_etl.transform.dbt_runner import default_project_dir, run_dbt

    project_dir = project_dir or default_project_dir()
    with open_store(store) as con:
        plan = plan_build(con, project_fingerprint(project_dir, vars))
    log.info("dbt: %s", plan.describe())
    result = run_dbt(
        store,
        command=f"{command} --full-refresh" if plan.full else command,
        vars=vars,
        target_path=target_path,
        project_dir=project_dir,
        on_event=on_event,
    )
    if result.success:
        with open_store(store) as con:
            record_build(con, plan)
    return plan, result


def project_fingerprint(project_dir: Path, vars: dict[str, Any] | None) -> str:
    """Hash of the dbt project's files, the run's vars, and the versions of dbt, the
    DuckDB adapter, DuckDB and skm-etl (any of them can change what a model gives)."""
    from importlib.metadata import version

    from skm_etl.transform.dbt_runner import project_digest

    versions = [version(name) for name in ("dbt-duckdb", "duckdb", "skm-etl")]
    return f"{project_digest(project_dir, vars)}:{':'.join(versions)}"


def plan_build(con: duckdb.DuckDBPyConnection, project: str) -> BuildPlan:
    """Decide full or incremental, write what the build reads, forget the last build.

    `project` is `project_fingerprint(...)`. The record of the last build is removed in
    the same transaction, so if the build that follows fails or is cut off, the next
    one is full.
    """
    fingerprint = hashlib.sha256(f"{project}\n{_store_digest(con)}".encode()).hexdigest()
    (loaded_through,) = con.execute("select max(loaded_at) from raw.responses").fetchone()
    responses, batches = _loaded(con, loaded_through)
    state = con.execute(
        f"select fingerprint, responses, batches, loaded_through from {STATE_TABLE}"  # noqa: S608
    ).fetchall()
    reason = _full_reason(con, fingerprint, state)
    since = state[0][3] if reason is None else None

    con.execute("begin transaction")
    try:
        con.execute(f"delete from {STATE_TABLE}")  # noqa: S608 - constant names
        _clear_plan(con)
        if reason is None:
            con.execute(
                f"insert into {DELTA_TABLE} values (?)",  # noqa: S608
                [since or dt.datetime.min],
            )
        con.execute(
            f"""
            insert into {SCOPES_TABLE}
            select distinct survey_year, trim(unit_code)
            from raw.responses
            where ? or loaded_at > ?
            order by all
            """,  # noqa: S608
            [reason is not None, since or dt.datetime.min],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    scopes = con.execute(f"select count(*) from {SCOPES_TABLE}").fetchone()[0]  # noqa: S608
    if reason is not None:  # every scope listed, every response read
        total, new = scopes, responses
    else:
        total = con.execute(
            "select count(distinct (survey_year, trim(unit_code))) from raw.responses"
        ).fetchone()[0]
        new = responses - state[0][1]
    return BuildPlan(
        full=reason is not None,
        reason=reason or "",
        fingerprint=fingerprint,
        responses=responses,
        batches=batches,
        loaded_through=loaded_through,
        scopes=int(scopes),
        scopes_total=int(total),
        new_responses=new,
    )


def record_build(con: duckdb.DuckDBPyConnection, plan: BuildPlan) -> None:
    """Record a build that succeeded, so the next one can be incremental.

    Its plan is cleared: a `dbt build` run by hand afterwards then reads no response as
    new and recomputes no scope (its uniqueness test checks every key).
    """
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {STATE_TABLE}")  # noqa: S608 - constant names
        _clear_plan(con)
        con.execute(
            f"insert into {STATE_TABLE} values (?, ?, ?, ?, ?)",  # noqa: S608
            [
                plan.fingerprint,
                plan.responses,
                plan.batches,
                plan.loaded_through,
                dt.datetime.now(),
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _clear_plan(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"delete from {SCOPES_TABLE}")  # noqa: S608 - constant names
    con.execute(f"delete from {DELTA_TABLE}")  # noqa: S608


def _loaded(con: duckdb.DuckDBPyConnection, through: dt.datetime | None) -> tuple[int, str]:
    """How many responses were loaded up to `through`, and from which batches (a digest)."""
    count, digest = con.execute(
        "select count(*), sum(hash(batch_id)) from raw.responses where loaded_at <= ?",
        [through or dt.datetime.min],
    ).fetchone()
    return int(count), str(digest)


def _full_reason(con: duckdb.DuckDBPyConnection, fingerprint: str, rows: list[tuple]) -> str | None:
    """Why this build must read every response, or None when it need not."""
    if len(rows) != 1:
        return "no complete build is recorded (the first build, or the last one failed)"
    recorded, responses, batches, loaded_through = rows[0]
    if recorded != fingerprint:
        return (
            "the dbt project, its vars, the software's versions, the reference tables "
            "(windows, populations, registry, layanan, items, RTL) or the raw table's "
            "columns changed"
        )
    kept, kept_batches = _loaded(con, loaded_through)
    if (kept, kept_batches) != (responses, batches):
        return (
            "responses the last build read were removed or reloaded since (a rebuild or "
            f"backfill): of the {responses:,} it read, {kept:,} are stored as it read them"
        )
    return None


def _store_digest(con: duckdb.DuckDBPyConnection) -> str:
    """Hash of every ref table's rows and of the ref and raw.responses columns."""
    digest = hashlib.sha256()
    columns = con.execute(
        """
        select table_schema, table_name, column_name, data_type
        from information_schema.columns
        where table_schema = 'ref' or (table_schema = 'raw' and table_name = 'responses')
        order by table_schema, table_name, ordinal_position
        """
    ).fetchall()
    digest.update(repr(columns).encode())
    tables = sorted({name for schema, name, _, _ in columns if schema == "ref"})
    for name in tables:
        # order-free: the rows' hashes summed (a hugeint), with the count
        row = con.execute(
            "select count(*), sum(hash(t)) from query_table(?) as t", [f"ref.{name}"]
        ).fetchone()
        digest.update(f"{name}:{row[0]}:{row[1]}\n".encode())
    return digest.hexdigest()
