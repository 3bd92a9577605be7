"""Fault injection: `skm-etl run` killed at every failpoint, and a disk that fills up.

Each run is the real command in a subprocess (`skm-etl run --config …`, against one
`prefect server start` for the module) with SKM_ETL_FAILPOINT set, so the process dies
by SIGKILL at that point: no `finally`, no rollback, no flush. After every run the test
looks at what a BI tool and the next run would find: the served file opens read-only
and is the previous one or the new one, no response is lost or doubled in raw, every
archived export still hashes to its name, the Parquet export comes from the same run
as the served file.

To stay within a few minutes the points are driven in two lanes that run side by side,
each a series of runs on one deployment, each run adding one new export to the inbox:

    lane A (on a small tmpfs):  after-prepare → mid-load → after-load → full disk
                                → mid-dbt → after-dbt → clean run
    lane B:                     mid-publish → after-publish → clean run

Every run after a killed one goes past the point where that one died (the points come
in pipeline order), so it is the rerun that must recover from it; each lane ends with a
run without a failpoint, which must publish everything.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx
import pytest

import hostile as h
from flows.nightly import DBT_FINISHED, DBT_STARTED
from phases import run_in_process
from skm_etl import failpoints, pipeline
from skm_etl.load.warehouse import file_sha256
from skm_etl.publish.served import PublishError, publish

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
# killed once dbt has finished this many of the build's ~200 nodes: past the parse,
# inside the models, however slow the machine
MID_DBT_NODES = 20
LANE_A = ("after-prepare", "mid-load", "after-load", "disk-full", "mid-dbt", "after-dbt", "clean-a")
LANE_B = ("mid-publish", "after-publish", "clean-b")
FAILPOINTS = failpoints.POINTS
KILLED = -signal.SIGKILL
SMALL_DISK_MB = 160
# The full-disk run gets its disk filled the moment dbt starts (the flow's line before it),
# to this much room: far less than dbt's artifacts and the rebuilt marts need.
FREE_DURING_THE_BUILD = 256 * 1024
RUN_TIMEOUT_S = 400


# --- processes and the small disk -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quiet_env(home: Path) -> dict[str, str]:
    """This environment without Prefect settings of the session, plus analytics off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SKM_ETL_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",  # a killed process's last lines still reach the pipe
    )
    return env


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real `prefect server start` on a free localhost port for every run of the module."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        # the API alone: the runs need no scheduler, UI or background service
        [
            str(BIN / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
            "--no-services",
            "--analytics-off",
        ],
        env=_quiet_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so it can be stopped with its children
    )
    try:
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)
        log.close()


def _wait_for(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"the Prefect server at {url} did not answer within {timeout_s} s")


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real, small file system: tmpfs, or a loop-mounted ext4 image where tmpfs is refused."""
    mount_point = tmp_path_factory.mktemp("small-disk")
    image = mount_point.with_suffix(".img")
    attempts = [
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_MB}M", "tmpfs", str(mount_point)],
    ]
    errors = []
    for command in attempts:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0:
            break
        errors.append(f"{' '.join(command)}: {done.stderr.strip()}")
    else:
        with image.open("wb") as fh:
            fh.truncate(SMALL_DISK_MB * 1024 * 1024)
        for command in (
            ["mkfs.ext4", "-q", "-F", str(image)],
            ["mount", "-o", "loop", str(image), str(mount_point)],
        ):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                errors.append(f"{' '.join(command)}: {done.stderr.strip()}")
                pytest.fail(
                    "the full-disk test needs a small file system it can mount (tmpfs or a "
                    "loop-mounted ext4 image, as root or with CAP_SYS_ADMIN): " + "; ".join(errors)
                )
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
        image.unlink(missing_ok=True)


@contextlib.contextmanager
def _full(disk: Path, leave: int) -> Iterator[None]:
    """Fill the file system with a ballast file until `leave` bytes are free."""
    ballast = disk / "ballast"
    stats = os.statvfs(disk)
    size = stats.f_bavail * stats.f_frsize - leave
    with ballast.open("wb") as fh:
        os.posix_fallocate(fh.fileno(), 0, size)
    try:
        yield
    finally:
        ballast.unlink()


# --- a deployment and what can be seen of it ---------------------------------------------------


def _deployment(base: Path) -> Path:
    (base / "inbox").mkdir(parents=True)
    config = base / "config.yaml"
    config.write_text(
        "warehouse: warehouse/skm.duckdb\ninbox: inbox/\n"
        "method: {counting: all, scale: 6}\n"
        "surveys:\n  - {year: 2025, start: 2025-01-01, end: 2025-12-31}\n",
        encoding="utf-8",
    )
    return config


def _add_export(config: Path, unit_number: int) -> Path:
    path = config.parent / "inbox" / f"tabulasi_{unit_number:02d}.csv"
    return h.tabulation(path, h.unit_name(unit_number))


def _run_in_process(config: Path) -> None:
    """The nightly job's phases, called as the flow calls them (the lanes' first run)."""
    summary = run_in_process(config)
    assert summary.exit_code == pipeline.EXIT_OK, summary.render()


@dataclass(frozen=True)
class Seen:
    """What a BI tool and the next run find in a deployment at one moment."""

    served_sha256: str
    served_run: str  # the run that published the served file (its own ops.runs says so)
    served_units: int
    parquet_run: str
    raw_rows: int
    raw_keys: int
    rows_by_file: dict[str, int]
    loaded_files: frozenset[str]  # exports with a loaded batch in ops.load_batches
    batches_by_file: dict[str, int]
    rejected_files: list[tuple[str, str]]
    last_run: tuple[str, str]  # (run_id, status) of the latest run in the store
    archive_mismatches: list[str]
    leftovers: list[str]


def _look(config: Path) -> Seen:
    warehouse = config.parent / "warehouse"
    served = warehouse / "skm.duckdb"
    with duckdb.connect(str(served), read_only=True) as con:
        (served_run,) = con.execute(
            "select run_id from ops.runs where status = 'published' "
            "order by started_at desc limit 1"
        ).fetchone()
        (units,) = con.execute("select count(*) from marts.skm_unit").fetchone()
    with duckdb.connect(str(warehouse / ".skm-etl" / "store.duckdb"), read_only=True) as con:
        raw_rows, raw_keys = con.execute(
            "select count(*), count(distinct response_key) from raw.responses"
        ).fetchone()
        by_file = dict(
            con.execute(
                "select source_file, count(*) from raw.responses group by source_file"
            ).fetchall()
        )
        batches = dict(
            con.execute(
                "select source_file, count(*) from ops.load_batches where status = 'loaded' "
                "group by source_file"
            ).fetchall()
        )
        rejected = con.execute("select source_file, reason from ops.rejected_files").fetchall()
        last_run = con.execute(
            "select run_id, status from ops.runs order by started_at desc limit 1"
        ).fetchone()
    archive = warehouse / ".skm-etl" / "archive"
    mismatches = [
        str(p.relative_to(archive))
        for p in archive.rglob("*")
        if p.is_file() and p.suffix != ".json" and file_sha256(p) != p.name.split(".")[0]
    ]
    manifest = json.loads((warehouse / "parquet" / "manifest.json").read_text(encoding="utf-8"))
    leftovers = sorted(
        p.name for p in warehouse.iterdir() if p.name.endswith((".tmp", ".wal", ".old"))
    )
    return Seen(
        served_sha256=file_sha256(served),
        served_run=served_run,
        served_units=units,
        parquet_run=manifest["run_id"],
        raw_rows=raw_rows,
        raw_keys=raw_keys,
        rows_by_file=by_file,
        loaded_files=frozenset(batches),
        batches_by_file=batches,
        rejected_files=rejected,
        last_run=tuple(last_run),
        archive_mismatches=mismatches,
        leftovers=leftovers,
    )


# --- the two lanes -----------------------------------------------------------------------------


@dataclass
class Step:
    """One `skm-etl run` of a lane: what was there before, the process, what is there after."""

    name: str
    new_file: str
    before: Seen
    after: Seen
    returncode: int
    output: str
    seconds: float
    files_in_inbox: list[str] = field(default_factory=list)


def _run_command(
    config: Path, env: dict[str, str], failpoint: str | None, *, fill: Path | None = None
) -> tuple[int, str]:
    """Run `skm-etl run`; with `fill`, fill that disk as soon as dbt starts building."""
    env = dict(env)
    if failpoint is not None:
        env["SKM_ETL_FAILPOINT"] = failpoint
    process = subprocess.Popen(
        [str(BIN / "skm-etl"), "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=config.parent,
    )
    timer = threading.Timer(RUN_TIMEOUT_S, process.kill)
    timer.start()
    lines: list[str] = []
    with contextlib.ExitStack() as stack:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if fill is not None and DBT_STARTED in line:
                stack.enter_context(_full(fill, FREE_DURING_THE_BUILD))
                fill = None
        process.wait()
    timer.cancel()
    return process.returncode, "".join(lines)


def _drive(
    config: Path,
    steps: tuple[str, ...],
    first_unit: int,
    env: dict[str, str],
    *,
    disk: Path | None = None,
) -> dict[str, Step]:
    seen: dict[str, Step] = {}
    for offset, name in enumerate(steps):
        new_file = _add_export(config, first_unit + offset).name
        before = _look(config)
        started = time.monotonic()
        if name == "disk-full":
            assert disk is not None
            returncode, output = _run_command(config, env, None, fill=disk)
        else:
            failpoint = None if name.startswith("clean") else name
            if failpoint == "mid-dbt":
                failpoint = f"mid-dbt:{MID_DBT_NODES}"
            returncode, output = _run_command(config, env, failpoint)
        seen[name] = Step(
            name=name,
            new_file=new_file,
            before=before,
            after=_look(config),
            returncode=returncode,
            output=output,
            seconds=time.monotonic() - started,
            files_in_inbox=sorted(p.name for p in (config.parent / "inbox").iterdir()),
        )
    return seen


@pytest.fixture(scope="module")
def lanes(
    prefect_api: str, small_disk: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Step]:
    lane_a = _deployment(small_disk / "lane-a")
    _add_export(lane_a, 1)
    _run_in_process(lane_a)  # the first run while the Prefect server starts
    lane_b_dir = tmp_path_factory.mktemp("lane-b") / "deployment"
    shutil.copytree(lane_a.parent, lane_b_dir)
    lane_b = lane_b_dir / "config.yaml"
    _wait_for(prefect_api)
    env = {**_quiet_env(tmp_path_factory.mktemp("prefect-client")), "PREFECT_API_URL": prefect_api}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(_drive, lane_a, LANE_A, 10, env, disk=small_disk)
        b = pool.submit(_drive, lane_b, LANE_B, 30, env)
        return {**a.result(), **b.result()}


# --- every failpoint -----------------------------------------------------------------------------


@pytest.mark.parametrize("point", FAILPOINTS)
def test_a_run_killed_at_the_point_dies_there(lanes: dict[str, Step], point: str) -> None:
    step = lanes[point]
    assert step.returncode == KILLED, f"{point}: exit {step.returncode}\n{step.output[-3000:]}"
    assert step.after.last_run[0] != step.before.last_run[0], "the run had started"
    if point == "mid-dbt":
        assert DBT_STARTED in step.output and DBT_FINISHED not in step.output, (
            "killed inside dbt build"
        )


@pytest.mark.parametrize("point", FAILPOINTS)
def test_the_served_file_is_whole_and_either_the_previous_or_the_new_one(
    lanes: dict[str, Step], point: str
) -> None:
    step = lanes[point]
    if point == "after-publish":
        assert step.after.served_run == step.after.last_run[0], "the killed run published"
        assert step.after.served_sha256 != step.before.served_sha256
    else:
        assert step.after.served_sha256 == step.before.served_sha256, "not one byte changed"
        assert step.after.served_run == step.before.served_run
    assert step.after.served_units >= step.before.served_units


@pytest.mark.parametrize("point", FAILPOINTS)
def test_no_response_is_lost_or_doubled_after_a_kill(lanes: dict[str, Step], point: str) -> None:
    step = lanes[point]
    assert step.after.raw_rows == step.after.raw_keys, "a response key appears twice"
    assert set(step.after.rows_by_file.values()) <= {h.EXAMPLE_ROWS}
    assert set(step.after.rows_by_file) == step.after.loaded_files, "rows without their batch"
    committed = point not in ("after-prepare", "mid-load")
    assert (step.new_file in step.after.loaded_files) is committed, (
        step.after.rejected_files,
        step.output[-4000:],
    )
    expected = h.EXAMPLE_ROWS * len(step.after.loaded_files)
    assert step.after.raw_rows == expected


@pytest.mark.parametrize("point", FAILPOINTS)
def test_every_archived_export_still_hashes_to_its_name(lanes: dict[str, Step], point: str) -> None:
    assert lanes[point].after.archive_mismatches == []


def _rest_of_lane(lanes: dict[str, Step], name: str) -> list[Step]:
    lane = LANE_A if name in LANE_A else LANE_B
    return [lanes[later] for later in lane[lane.index(name) + 1 :]]


@pytest.mark.parametrize("point", FAILPOINTS)
def test_the_next_run_starts_from_what_the_killed_one_left(
    lanes: dict[str, Step], point: str
) -> None:
    step, rerun = lanes[point], _rest_of_lane(lanes, point)[0]
    assert rerun.before == step.after
    assert rerun.after.last_run[0] not in (step.after.last_run[0], rerun.before.last_run[0])
    assert rerun.returncode != KILLED or rerun.name in FAILPOINTS, "killed only where asked"


@pytest.mark.parametrize("point", FAILPOINTS)
def test_an_export_dropped_before_a_kill_is_loaded_exactly_once_by_a_later_run(
    lanes: dict[str, Step], point: str
) -> None:
    file = lanes[point].new_file
    for later in _rest_of_lane(lanes, point):
        assert later.after.raw_rows == later.after.raw_keys, later.name
        assert later.after.rows_by_file.get(file, 0) in (0, h.EXAMPLE_ROWS), later.name
        assert set(later.after.batches_by_file.values()) == {1}, f"{later.name}: loaded twice"
    assert lanes["clean-a" if point in LANE_A else "clean-b"].after.rows_by_file[file] == (
        h.EXAMPLE_ROWS
    )


@pytest.mark.parametrize("clean", ["clean-a", "clean-b"])
def test_each_lane_ends_with_a_clean_run_that_publishes_every_export(
    lanes: dict[str, Step], clean: str
) -> None:
    step = lanes[clean]
    assert step.returncode == pipeline.EXIT_OK, step.output[-3000:]
    assert step.after.loaded_files == set(step.files_in_inbox)
    assert step.after.served_run == step.after.last_run[0]
    assert step.after.last_run[1] == "published"
    assert step.after.served_units == len(step.files_in_inbox)
    assert step.after.leftovers == [], "no half-written file stays behind"


def test_the_served_file_and_parquet_always_come_from_the_same_run(
    lanes: dict[str, Step],
) -> None:
    for step in lanes.values():
        assert step.after.parquet_run == step.after.served_run, step.name


def test_a_publish_killed_before_the_swap_leaves_its_temporary_file_only_until_the_next_run(
    lanes: dict[str, Step],
) -> None:
    killed, rerun = lanes["mid-publish"], lanes["after-publish"]
    assert any(name.endswith(".tmp") for name in killed.after.leftovers)
    assert rerun.after.leftovers == []


# --- a full disk -----------------------------------------------------------------------------------


def test_a_full_disk_during_the_build_fails_and_keeps_the_previous_file_served(
    lanes: dict[str, Step],
) -> None:
    step = lanes["disk-full"]
    assert DBT_STARTED in step.output, "the disk was filled once dbt had started"
    assert step.returncode == pipeline.EXIT_FAILED, step.output[-3000:]
    assert "No space left on device" in step.output
    assert step.after.served_sha256 == step.before.served_sha256
    assert step.after.served_run == step.before.served_run
    assert step.after.parquet_run == step.before.parquet_run
    assert step.new_file in step.after.loaded_files, "what was loaded before the build stays"
    assert step.after.raw_rows == step.after.raw_keys == step.before.raw_rows + h.EXAMPLE_ROWS


def test_a_full_disk_during_the_build_is_reported_as_a_failed_build(
    lanes: dict[str, Step],
) -> None:
    step = lanes["disk-full"]
    assert "FAILED: dbt build" in step.output
    assert "nothing was published; the previous served file stays" in step.output
    assert "before it could report" not in step.output


def test_the_run_after_a_full_disk_publishes_what_the_failed_run_loaded(
    lanes: dict[str, Step],
) -> None:
    failed, clean = lanes["disk-full"], lanes["clean-a"]
    assert clean.after.batches_by_file[failed.new_file] == 1, "not loaded a second time"
    assert clean.after.served_units == len(clean.files_in_inbox)
    assert clean.after.leftovers == []


def test_a_full_disk_during_publish_keeps_the_previous_files_and_leaves_nothing_behind(
    small_disk: Path, tmp_path: Path
) -> None:
    store = duckdb.connect(str(tmp_path / "store.duckdb"))
    store.execute("create schema marts; create schema ops")
    store.execute(
        "create table marts.skm_unit as select 2025 as survey_year, "
        "'unit-' || range as unit_code, random() * 100 as ikm from range(100000)"
    )
    folder = small_disk / "publish"
    served, parquet = folder / "skm.duckdb", folder / "parquet"
    publish(store, served, run_id="first", parquet_dir=parquet)
    previous = file_sha256(served)
    store.execute(
        "create or replace table marts.skm_unit as select 2025 as survey_year, "
        "'unit-' || range as unit_code, random() * 100 as ikm from range(400000)"
    )

    with _full(small_disk, FREE_DURING_THE_BUILD):
        with pytest.raises(PublishError) as raised:
            publish(store, served, run_id="second", parquet_dir=parquet)
        left = sorted(p.name for p in folder.iterdir())
    store.close()

    message = str(raised.value)
    assert "No space left on device" in message or "could not be written" in message
    assert "the previous served file and Parquet stay published" in message
    assert left == ["parquet", "skm.duckdb"], "no half-written file stays behind"
    assert file_sha256(served) == previous
    manifest = json.loads((parquet / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == "first"
    with duckdb.connect(str(served), read_only=True) as con:
        assert con.execute("select count(*) from marts.skm_unit").fetchone() == (100000,)
