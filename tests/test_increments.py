"""Incremental mart builds (skm_etl.transform.increments): when a build recomputes only the
scopes (survey year × unit) with new responses, and that it then gives what a full build
gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from skm_etl.load import warehouse
from skm_etl.transform import increments
from tests.test_dbt_models import BALAI, UJI, Store, fill_reference, fill_responses

LATER = dt.datetime(2025, 6, 1)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with the reference rows and the responses of tests/test_dbt_models.py."""
    filled = Store(tmp_path / "store.duckdb")
    try:
        fill_reference(filled)
        fill_responses(filled)
    finally:
        filled.close()
    return filled.path


def plan(path: Path, project: str = "project") -> increments.BuildPlan:
    with warehouse.open_store(path) as con:
        return increments.plan_build(con, project)


def record(path: Path, built: increments.BuildPlan) -> None:
    with warehouse.open_store(path) as con:
        increments.record_build(con, built)


def query(path: Path, sql: str, *params: object) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def scopes(path: Path) -> list[tuple]:
    return query(path, "select * from ops.mart_build_scopes order by all")


def delta(path: Path) -> list[tuple]:
    """ops.mart_build_delta: the loaded_at after which responses are new to the build."""
    return query(path, "select * from ops.mart_build_delta")


def add(path: Path, key: str, unit: tuple[str, str], year: int, **fields: object) -> None:
    more = Store(path)
    try:
        more.response(
            key, unit, year, "CDOB", [5] * 11, loaded_at=fields.pop("loaded_at", LATER), **fields
        )
    finally:
        more.close()


def execute(path: Path, sql: str) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(sql)


ALL_SCOPES = [(2022, "UJI"), (2024, "BALAI"), (2024, "UJI")]


# --- when a build is full -------------------------------------------------------------


def test_the_first_build_is_full_and_lists_every_scope(store: Path) -> None:
    first = plan(store)
    assert first.full
    assert first.reason.startswith("no complete build is recorded")
    assert (first.scopes, first.scopes_total, first.responses) == (3, 3, 8)
    assert scopes(store) == ALL_SCOPES
    assert delta(store) == []  # nothing is "new" to a full build: it reads everything
    assert first.describe() == f"full build, 8 responses in 3 survey years × units: {first.reason}"


def test_a_build_after_a_recorded_one_recomputes_only_the_scopes_loaded_since(
    store: Path,
) -> None:
    record(store, plan(store))
    # a unit code with spaces around it is the trimmed unit of stg_raw__responses
    add(store, "new_balai", (" BALAI ", BALAI[1]), 2024, submitted_at=None)
    add(store, "new_uji", UJI, 2025, submitted_at=None)
    second = plan(store)
    assert not second.full
    assert (second.scopes, second.scopes_total, second.responses) == (2, 4, 10)
    assert scopes(store) == [(2024, "BALAI"), (2025, "UJI")]
    # the responses new to it: loaded after the last build's last loaded_at
    assert delta(store) == [(dt.datetime(2025, 1, 1),)]
    assert second.describe() == (
        "incremental build, 2 responses new since the last build, in 2 of 4 survey years × units"
    )


def test_a_build_with_nothing_loaded_since_recomputes_no_scope(store: Path) -> None:
    record(store, plan(store))
    again = plan(store)
    assert not again.full
    assert again.scopes == 0
    assert scopes(store) == []
    assert delta(store) == [(dt.datetime(2025, 1, 1),)]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            "update ref.survey_windows set window_end = date '2024-07-31' where survey_year = 2024",
            "the dbt project, its vars, the software's versions, the reference tables",
        ),
        (
            "delete from ref.populations",
            "the dbt project, its vars, the software's versions, the reference tables",
        ),
        (
            "delete from raw.responses where response_key = 'b1'",
            "responses the last build read were removed or reloaded since (a rebuild or backfill): "
            "of the 8 it read, 7 are stored as it read them",
        ),
        (
            # as many responses as before, one of them from another batch (a replay
            # whose clock was behind the last build's)
            "update raw.responses set batch_id = 'replayed' where response_key = 'b1'",
            "responses the last build read were removed or reloaded since (a rebuild or backfill): "
            "of the 8 it read, 8 are stored as it read them",
        ),
    ],
    ids=["survey window", "populations", "a response removed", "a response replaced"],
)
def test_a_change_besides_new_responses_makes_the_build_full(
    store: Path, change: str, reason: str
) -> None:
    record(store, plan(store))
    execute(store, change)
    add(store, "new_balai", BALAI, 2024, submitted_at=None)
    after = plan(store)
    assert after.full
    assert after.reason.startswith(reason)
    assert after.scopes == after.scopes_total
    assert delta(store) == []


def test_another_project_or_vars_make_the_build_full(store: Path, tmp_path: Path) -> None:
    record(store, plan(store, project="counting all"))
    assert plan(store, project="counting target_sample").full
    # the fingerprint of the project files, dbt's version and the vars
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "m.sql").write_text("select 1")
    first = increments.project_fingerprint(project, {"counting": "all"})
    assert increments.project_fingerprint(project, {"counting": "target_sample"}) != first
    (project / "models" / "m.sql").write_text("select 2")
    assert increments.project_fingerprint(project, {"counting": "all"}) != first


def test_a_build_that_did_not_finish_makes_the_next_one_full(store: Path) -> None:
    record(store, plan(store))
    assert not plan(store).full  # this build is planned, then fails: nothing is recorded
    after = plan(store)
    assert after.full
    assert after.reason.startswith("no complete build is recorded")


# --- what an incremental build gives ----------------------------------------------------


def marts_and_intermediates(path: Path) -> dict[str, list[tuple]]:
    """Every table dbt built and every mart (two are views), sorted rows."""
    tables = query(
        path,
        """
        select table_schema || '.' || table_name from information_schema.tables
        where (table_type = 'BASE TABLE' or table_schema = 'marts')
          and (table_schema in ('intermediate', 'marts') or table_name = 'responses_outside_window')
        order by 1
        """,
    )
    return {name: query(path, f"select * from {name} order by all") for (name,) in tables}  # noqa: S608


def counted(path: Path, key: str) -> bool:
    sql = "select is_counted from intermediate.int_responses_counted where response_key = ?"
    return query(path, sql, key)[0][0]


@pytest.mark.parametrize("counting", ["all", "target_sample"])
def test_an_incremental_build_gives_what_a_full_build_gives(
    store: Path, tmp_path: Path, counting: str
) -> None:
    """Under `all` the new responses alone are read: added to their groups' sums (BALAI
    2024 CDOB's group exists, UJI 2025's does not), appended to the suggestions and to the
    responses outside their window. Under `target_sample` a new response can push an old
    one of its scope out of the sample: the scope is recomputed whole. Either way every
    table equals a full build's."""
    build = {
        "vars": {"counting": counting},
        "target_path": tmp_path / "dbt",
        "command": "build --exclude-resource-type unit_test",
    }
    first, result = increments.build(store, **build)
    assert result.success, result.summary()
    assert first.full
    # BALAI 2024 CDOB samples S = 1 response under target_sample: the earliest, b3 (4 April)
    assert counted(store, "b3")
    tables_before = marts_and_intermediates(store)

    add(store, "b0", BALAI, 2024, submitted_at=dt.datetime(2024, 4, 3, 9), saran="Cepat")
    add(store, "uji25", UJI, 2025, submitted_at=dt.datetime(2025, 3, 1, 9), saran="Ramah")
    add(store, "uji25_out", UJI, 2025, submitted_at=dt.datetime(2026, 3, 1, 9))
    second, result = increments.build(store, **build)
    assert result.success, result.summary()
    assert not second.full
    assert (second.scopes, second.new_responses) == (2, 3)
    # the plan is cleared once recorded: a dbt run by hand reads nothing as new
    assert (scopes(store), delta(store)) == ([], [])
    assert counted(store, "b0")
    assert counted(store, "b3") == (counting == "all")
    incremental = marts_and_intermediates(store)
    assert incremental != tables_before
    assert len(incremental["marts.saran"]) == len(tables_before["marts.saran"]) + 2
    outside = incremental["ops.responses_outside_window"]
    assert len(outside) == len(tables_before["ops.responses_outside_window"]) + 1

    execute(store, "delete from ops.mart_build_state")  # the next build is full
    third, result = increments.build(store, **build)
    assert result.success, result.summary()
    assert third.full
    full = marts_and_intermediates(store)
    assert set(incremental) == set(full)
    assert "intermediate.int_responses_aggregated" in full
    assert ("intermediate.int_responses_counted" in full) == (counting == "target_sample")
    for name, rows in full.items():
        assert incremental[name] == rows, name


def test_a_unit_outside_the_registry_renamed_by_new_responses_is_renamed_everywhere(
    store: Path, tmp_path: Path
) -> None:
    """Its name comes from its latest response and shows on all its rows, every year:
    the marts that show names join them at each build, incremental or not."""
    execute(store, "delete from ref.units")  # no registry: units come as they are
    build = {
        "vars": {"counting": "all"},
        "target_path": tmp_path / "dbt",
        "command": "build --exclude-resource-type unit_test",
    }
    add(store, "said_2024", BALAI, 2024, submitted_at=None, saran="Ruang tunggu nyaman")
    _, result = increments.build(store, **build)
    assert result.success, result.summary()
    new_name = "Balai POM di Kota Contoh (baru)"
    later = LATER + dt.timedelta(days=1)
    add(
        store,
        "renamed",
        ("BALAI", new_name),
        2025,
        submitted_at=None,
        saran="Baik",
        loaded_at=later,
    )
    second, result = increments.build(store, **build)
    assert result.success, result.summary()
    assert not second.full
    names = "select distinct survey_year, unit_name from marts.{} where unit_code = 'BALAI'"
    renamed = [(2024, new_name), (2025, new_name)]
    assert query(store, names.format("saran") + " order by 1") == renamed
    assert query(store, names.format("respondent_profile") + " order by 1") == renamed
