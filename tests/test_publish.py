"""Publishing: a new served file swapped in while BI readers hold the old one; Parquet export."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from skm_etl.load import warehouse
from skm_etl.publish.served import publish


@pytest.fixture
def store(tmp_path: Path):
    con = warehouse.open_store(tmp_path / "store.duckdb")
    con.execute("create schema marts")
    con.execute(
        "create table marts.skm_unit as select 2025 as survey_year, 'u1' as unit_code, 88.5::double as ikm"
    )
    con.execute("insert into raw.respondent_personal values ('k', 'Budi', '0812', now())")
    yield con
    con.close()


def test_the_served_file_holds_marts_and_ops_but_no_raw_data(store, tmp_path: Path) -> None:
    served = tmp_path / "served" / "skm.duckdb"
    result = publish(store, served, run_id="r1")
    assert result.tables["marts.skm_unit"] == 1
    with duckdb.connect(str(served), read_only=True) as con:
        schemas = {
            r[0]
            for r in con.execute(
                "select distinct table_schema from information_schema.tables"
            ).fetchall()
        }
        assert schemas == {"marts", "ops"}
        assert con.execute("select ikm from marts.skm_unit").fetchone() == (88.5,)
    assert not list(served.parent.glob(".*.tmp"))


def test_a_reader_holding_the_old_file_keeps_working_during_a_publish(
    store, tmp_path: Path
) -> None:
    served = tmp_path / "skm.duckdb"
    publish(store, served, run_id="r1")
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({str(served)!r}, read_only=True)
                print(con.execute("select ikm from marts.skm_unit").fetchone()[0], flush=True)
                sys.stdin.readline()
                print(con.execute("select ikm from marts.skm_unit").fetchone()[0], flush=True)
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "88.5"
        store.execute("update marts.skm_unit set ikm = 90.25")
        publish(store, served, run_id="r2")
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "88.5", "the open reader still sees its snapshot"
    finally:
        reader.wait(timeout=30)
    with duckdb.connect(str(served), read_only=True) as con:
        assert con.execute("select ikm from marts.skm_unit").fetchone() == (90.25,)


def test_marts_are_exported_as_parquet_partitioned_by_year_with_a_manifest(
    store, tmp_path: Path
) -> None:
    out = tmp_path / "parquet"
    publish(store, tmp_path / "skm.duckdb", run_id="r1", parquet_dir=out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["skm_unit"]["rows"] == 1
    assert (out / "skm_unit" / "survey_year=2025").is_dir()
    rows = duckdb.sql(
        f"select unit_code, ikm from read_parquet('{out}/skm_unit/**/*.parquet')"
    ).fetchall()
    assert rows == [("u1", 88.5)]


def test_the_run_lock_refuses_a_second_run_with_a_clear_message(tmp_path: Path) -> None:
    from skm_etl.lock import RunLockedError, run_lock

    lock = tmp_path / "run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from skm_etl.lock import run_lock\nimport time\nwith run_lock(__import__('pathlib').Path({str(lock)!r})):\n    print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(RunLockedError, match="another run is in progress"):
            with run_lock(lock, wait_s=0.5, poll_s=0.1):
                pass
        assert time.monotonic() - started >= 0.5
    finally:
        holder.kill()
        holder.wait()
    with run_lock(lock):
        pass


@pytest.mark.parametrize("blocked", ["warehouse", "work"])
def test_a_folder_the_run_cannot_write_fails_it_before_anything_is_read(
    tmp_path: Path, blocked: str
) -> None:
    from skm_etl import pipeline
    from skm_etl.settings import ConfigError, load_settings

    (tmp_path / blocked).write_text("a file where the folder should be", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text("warehouse: warehouse/skm.duckdb\nwork_dir: work/\n", encoding="utf-8")
    settings = load_settings(config)
    with pytest.raises(ConfigError, match="cannot be written: .*check its permissions"):
        pipeline.check_writable(settings)
