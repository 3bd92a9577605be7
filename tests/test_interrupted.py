"""A run killed or stopped after loading: the next run to publish reports what it loaded.

The killed run is a real process killed by SIGKILL at the `after-load` failpoint, with the
flow's phases called in it as `tests/phases.py` calls them (the fault lanes of
`test_faults.py` kill `skm-etl run` itself, under Prefect, at every failpoint).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

import hostile as h
from flows.nightly import DBT_FINISHED, DBT_STARTED
from phases import run_in_process
from skm_etl import pipeline
from skm_etl.load import warehouse
from skm_etl.settings import load_settings

TESTS = Path(__file__).parent
WINDOW = "  - {year: 2025, start: 2025-04-01, end: 2025-06-30}"
OUT_OF_SCALE = "9"


def _kill_at(config: Path, point: str) -> subprocess.CompletedProcess:
    """`phases.run_in_process` in a subprocess, SIGKILLed at the failpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKM_ETL_")}
    env.update(SKM_ETL_FAILPOINT=point, PYTHONPATH=os.pathsep.join([str(TESTS), *sys.path]))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, phases; phases.run_in_process(sys.argv[1])",
            str(config),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _bad_rows(rows: list[list[str]]) -> None:
    h.set_cells(rows, {(0, h.Q1): OUT_OF_SCALE, (1, h.TIME): "03/08/2025 11:12:00"})


def _deployment(root: Path) -> Path:
    (root / "inbox").mkdir(parents=True)
    config = root / "config.yaml"
    config.write_text(
        "warehouse: warehouse/skm.duckdb\ninbox: inbox/\nmethod: {counting: all, scale: 6}\n"
        f"surveys:\n{WINDOW}\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture(scope="module")
def killed_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deployment whose first run loaded two tabulations (one with a rejected row and one
    response outside the window) and was killed before it built or published anything."""
    config = _deployment(tmp_path_factory.mktemp("killed") / "deployment")
    h.tabulation(config.parent / "inbox" / "tabulasi_01.csv", h.unit_name(1), edit=_bad_rows)
    h.tabulation(config.parent / "inbox" / "tabulasi_02.csv", h.unit_name(2))
    done = _kill_at(config, "after-load")
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    return config


@pytest.fixture
def killed(killed_once: Path, tmp_path: Path) -> Path:
    """A copy of that deployment for one test (the config's paths are relative)."""
    shutil.copytree(killed_once.parent, tmp_path / "deployment")
    return tmp_path / "deployment" / killed_once.name


def test_the_next_run_reports_the_rejections_of_a_run_killed_after_loading_once(
    killed: Path,
) -> None:
    h.tabulation(killed.parent / "inbox" / "tabulasi_03.csv", h.unit_name(3))
    summary = run_in_process(killed)
    killed_run = _runs(_store(killed))[0]
    assert killed_run[1] == "abandoned"
    # its two files are skipped as loaded, and reported here as the killed run loaded them
    assert [(f.source_file, f.status) for f in summary.files] == [
        ("tabulasi_01.csv", "skipped"),
        ("tabulasi_02.csv", "skipped"),
        ("tabulasi_03.csv", "loaded"),
    ]
    assert [
        (f.source_file, f.status, f.loaded_by, f.rows_read, f.rows_accepted, f.rows_rejected)
        for f in summary.carried
    ] == [
        ("tabulasi_01.csv", "carried", killed_run[0], 14, 13, 1),
        ("tabulasi_02.csv", "carried", killed_run[0], 14, 14, 0),
    ]
    assert summary.rows_rejected == 0
    assert summary.exit_code == pipeline.EXIT_REJECTIONS
    text = summary.render()
    assert (
        f"  carried  tabulasi_01.csv [{h.unit_name(1)} 2025] read 14, accepted 13, rejected 1"
        in text
    )
    assert f"loaded by run {killed_run[0]}, which ended before it published" in text
    [reason] = summary.carried[0].rejection_reasons
    assert reason[0] == "q1" and reason[2] == 1
    assert f"x 1 × q1: {reason[1]}" in text
    assert "carried from interrupted runs: 2 file(s), 1 row(s) rejected" in text
    # the response outside the window that the killed run loaded is named too
    assert any(
        w.startswith("tabulasi_01.csv: 1 respons di luar periode survei") for w in summary.warnings
    ), summary.warnings
    assert text.endswith("exit 2")
    # ops.runs, in the store and in the served file, says which run reported them
    for path in (killed.parent / "warehouse" / "skm.duckdb", _store(killed)):
        runs = _runs(path)
        assert [(status, code) for _, status, code, _ in runs] == [
            ("abandoned", None),
            ("published", pipeline.EXIT_REJECTIONS),
        ]
        assert runs[1][0] == summary.run_id
        assert f"reports 1 row(s) rejected by interrupted run(s) {runs[0][0]}" in runs[1][3]
    # and the run after it reports nothing more
    again = run_in_process(killed)
    assert again.carried == []
    assert again.exit_code == pipeline.EXIT_OK
    assert "carried" not in again.render()


def test_a_failed_run_in_between_leaves_the_report_to_the_next_published_one(
    killed: Path,
) -> None:
    store = _store(killed)
    con = duckdb.connect(str(store))
    try:
        con.execute(
            "insert into ops.runs (run_id, started_at, status, exit_code) "
            "values ('failed-run', now(), 'failed', 1)"
        )
    finally:
        con.close()
    summary = run_in_process(killed)
    assert [f.source_file for f in summary.carried] == ["tabulasi_01.csv", "tabulasi_02.csv"]
    assert summary.exit_code == pipeline.EXIT_REJECTIONS


def test_a_run_killed_while_publishing_is_abandoned_and_reported_by_the_next_one(
    tmp_path: Path,
) -> None:
    """A run records itself published just before it swaps its file in; killed in between,
    the store said published although the served file stayed the previous run's, and no
    run ever reported what it loaded. The next run finds out from the served file."""
    config = _deployment(tmp_path / "deployment")
    h.tabulation(config.parent / "inbox" / "tabulasi_01.csv", h.unit_name(1))
    first = run_in_process(config)
    h.tabulation(config.parent / "inbox" / "tabulasi_02.csv", h.unit_name(2), edit=_bad_rows)
    done = _kill_at(config, "mid-publish")
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    served = config.parent / "warehouse" / "skm.duckdb"
    runs = _runs(_store(config))
    assert [status for _, status, _, _ in runs] == ["published", "published"]
    killed_run = runs[1][0]
    assert [run for run, *_ in _runs(served)] == [first.run_id]

    summary = run_in_process(config)
    assert [(f.source_file, f.loaded_by, f.rows_rejected) for f in summary.carried] == [
        ("tabulasi_02.csv", killed_run, 1)
    ]
    assert summary.exit_code == pipeline.EXIT_REJECTIONS
    for path in (served, _store(config)):
        runs = _runs(path)
        assert [(run, status) for run, status, _, _ in runs] == [
            (first.run_id, "published"),
            (killed_run, "abandoned"),
            (summary.run_id, "published"),
        ]
        assert runs[1][3] == warehouse.UNPUBLISHED_MESSAGE


def _store(config: Path) -> Path:
    return load_settings(config).store


def _runs(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "select run_id, status, exit_code, message from ops.runs order by started_at"
        ).fetchall()
    finally:
        con.close()


def test_a_run_stopped_by_sigterm_records_it_stops_its_prefect_api_and_is_reported_next(
    make_deployment, tmp_path: Path
) -> None:
    """`skm-etl run` without PREFECT_API_URL, sent SIGTERM while dbt builds: Prefect ends
    the flow, the run records itself as stopped and exits 1, and the temporary Prefect API it
    started stops with it (before, it went on running, holding its port and the output
    pipe). What the run loaded is left for the next run that publishes to report."""
    config = make_deployment(surveys=WINDOW)
    h.tabulation(config.parent / "inbox" / "tabulasi_01.csv", h.unit_name(1), edit=_bad_rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SKM_ETL_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "skm-etl"), "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its group holds whatever it starts, for the check below
    )
    # if something it started kept the pipe open, reading would never end: kill the group
    timer = threading.Timer(120, lambda: os.killpg(process.pid, signal.SIGKILL))
    timer.start()
    lines = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if DBT_STARTED in line:
                process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=60)
    finally:
        timer.cancel()
        # the temporary API's server may take a moment to end after the run: not for ever
        left = _group_alive(process.pid, for_s=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    output = "".join(lines)
    assert not left, f"a process the run started outlived it\n{output[-3000:]}"
    assert returncode == pipeline.EXIT_FAILED, output[-3000:]
    assert DBT_STARTED in output and DBT_FINISHED not in output
    assert "the run was stopped (SIGTERM) before it finished" in output
    assert "Stopping temporary server" in output
    [(run_id, status, code, message)] = _runs(_store(config))
    assert (status, code) == ("stopped", pipeline.EXIT_FAILED)
    assert message.startswith(pipeline.STOPPED_MESSAGE)

    # what it loaded is what the next published run reports (as for a killed run, above)
    store = warehouse.open_store(_store(config))
    try:
        loads = warehouse.interrupted_loads(store)
    finally:
        store.close()
    assert [(x.run_id, x.source_file, x.rows_rejected) for x in loads] == [
        (run_id, "tabulasi_01.csv", 1)
    ]


def _group_alive(pgid: int, for_s: float) -> bool:
    """Whether a process of the group is still there after `for_s` seconds."""
    deadline = time.monotonic() + for_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.2)


def test_a_sigterm_that_duckdb_turns_into_an_error_is_still_noticed() -> None:
    """Prefect's SIGTERM handler raises inside the flow; inside a DuckDB query DuckDB makes
    that "RuntimeError: Query interrupted", with nothing to tell it from a failure. The mark
    `note_sigterm` leaves is what the flow goes by to record the run stopped."""

    class Terminated(BaseException):
        pass

    def prefects_handler(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, prefects_handler)
    try:
        pipeline.note_sigterm()
        pipeline.note_sigterm()  # a second run in the process wraps the handler once only
        assert signal.getsignal(signal.SIGTERM).noting is prefects_handler
        assert not pipeline.SIGTERM_SEEN.is_set()
        con = duckdb.connect()
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
        with pytest.raises(RuntimeError, match="Query interrupted"):
            con.execute("select sum(hash(range)) from range(100000000000)").fetchall()
        con.close()
        assert pipeline.SIGTERM_SEEN.is_set()
    finally:
        signal.signal(signal.SIGTERM, previous)
        pipeline.SIGTERM_SEEN.clear()
