"""The nightly job as a scheduled deployment, served the way an operator runs it.

The end-to-end test starts a real `prefect server start` on a free localhost port and
the serve process systemd keeps up, checks the deployment's schedule through the API,
triggers a run of the Google Forms example and reads back the run summary artifact and
the run's logs: none may hold a respondent's name or phone number. Nothing Prefect
stores (its database, its home, the serve process's output) may either.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.deploy import build_deployment, deployment_name, next_runs
from flows.nightly import DBT_STARTED, FLOW_NAME
from skm_etl import pipeline
from skm_etl.load import warehouse
from skm_etl.settings import ConfigError, Schedule, load_settings
from tests.conftest import GOOGLE_FORMS_CSV, SAPAAPIP_CSV

pytestmark = pytest.mark.slow

ARTIFACT_KEY = "skm-etl-run-summary"
# February 29th: the server's scheduler never starts a run of its own beside the one
# the test triggers, and the value differs from the default, so it proves the config
# is read.
TEST_CRON = "30 2 29 2 *"
# One budget for starting both processes and finishing the run, so the test stays
# under three minutes on a slow two-core machine (a run there takes 50-100 s); stopping
# the two processes adds at most 4 x STOP_S.
BUDGET_S = 140.0
STOP_S = 8.0


def test_the_default_schedule_is_nightly_at_two_in_jakarta(make_deployment) -> None:
    config = make_deployment()
    deployment = build_deployment(config, load_settings(config))

    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "Asia/Jakarta")
    assert deployment.name == "skm-etl-config"
    assert deployment.parameters == {
        "config_path": str(config.resolve()),
        "wait_for_lock_s": 3600.0,
    }
    assert deployment.entrypoint == "flows.nightly.nightly"


def test_the_config_sets_cron_timezone_and_name(make_deployment) -> None:
    config = make_deployment(extra='schedule: {cron: "15 3 * * 1-5", timezone: Asia/Makassar}\n')
    deployment = build_deployment(config, load_settings(config), name="balai-contoh")

    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("15 3 * * 1-5", "Asia/Makassar")
    assert deployment.name == "balai-contoh"


def test_next_runs_follow_the_timezone() -> None:
    after = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)

    runs = next_runs(Schedule("0 2 * * *", "Asia/Jakarta"), 2, after=after)

    assert [r.astimezone(dt.UTC) for r in runs] == [
        dt.datetime(2025, 6, 30, 19, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 7, 1, 19, 0, tzinfo=dt.UTC),
    ]


@pytest.mark.parametrize(
    ("cron", "timezone"),
    [("0 2 * *", "Asia/Jakarta"), ("0 2 * * *", "Asia/Jakarta-Barat")],
    ids=["cron-with-four-fields", "unknown-timezone"],
)
def test_a_wrong_schedule_is_a_config_error(make_deployment, cron: str, timezone: str) -> None:
    config = make_deployment(extra=f'schedule: {{cron: "{cron}", timezone: {timezone}}}\n')

    with pytest.raises(ConfigError, match="invalid schedule"):
        build_deployment(config, load_settings(config))


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [("config.yaml", "skm-etl-config"), ("Balai POM Contoh.yml", "skm-etl-balai-pom-contoh")],
    ids=["plain", "spaces-and-capitals"],
)
def test_the_deployment_is_named_after_the_config_file(file_name: str, expected: str) -> None:
    assert deployment_name(Path("/srv/skm") / file_name) == expected


def test_a_served_run_completes_and_leaks_no_personal_data(
    make_deployment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Prefect's files live apart from the data, so all of them can be searched for
    # personal data; the data directory holds the raw export by design.
    config = make_deployment(
        forms=[(GOOGLE_FORMS_CSV, "Balai POM di Kota Contoh", 2025)],
        extra=f'schedule: {{cron: "{TEST_CRON}", timezone: Asia/Jakarta}}\n',
    )
    prefect_dir = tmp_path_factory.mktemp("prefect")
    deadline = time.monotonic() + BUDGET_S
    serve_log = prefect_dir / "serve.log"

    with _served(config, prefect_dir, deadline) as (server, serve, name, deployment):
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (TEST_CRON, "Asia/Jakarta")
        assert schedule.active
        assert deployment.parameters == {
            "config_path": str(config.resolve()),
            "wait_for_lock_s": 3600.0,
        }

        flow_run = run_deployment(
            name, timeout=max(deadline - time.monotonic(), 1.0), poll_interval=2
        )
        assert flow_run.state is not None and flow_run.state.is_completed(), (
            f"run ended {flow_run.state!r}\n{_tail(serve_log)}"
        )
        assert flow_run.state.message == "exit 0"

        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[ARTIFACT_KEY]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]),
                )
            )
            logs = _wait_for_final_log(client, flow_run.id, deadline)
        assert len(artifacts) == 1
        summary = str(artifacts[0].data)
        assert "rows accepted 9" in summary and "exit 0" in summary
        assert _personal_data_in(summary) == []
        assert _personal_data_in("\n".join(log.message for log in logs)) == []

    # Both processes are stopped here, so the server's database is whole on disk. SIGTERM
    # to the process group is what `systemctl stop` sends: serve exits 0 on it.
    assert serve.returncode == 0, _tail(serve_log)
    assert server.returncode is not None
    files = {
        str(path.relative_to(prefect_dir)): path.read_bytes().decode("utf-8", "replace")
        for path in prefect_dir.rglob("*")
        if path.is_file()
    }
    assert any("rows accepted 9" in text for text in files.values()), "the run left no trace"
    leaks = {file: found for file, text in files.items() if (found := _personal_data_in(text))}
    assert leaks == {}


def test_systemctl_stop_during_a_served_run_records_it_stopped_and_serve_exits_0(
    make_deployment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`systemctl stop` while a scheduled run builds the marts: SIGTERM reaches every process
    of the service, and Prefect's runner sends its run one more. The run records itself
    `stopped` (the second signal is held off while it writes that line), serve exits 0, and
    what the run loaded is left for the next run that publishes to report."""
    config = make_deployment(
        inbox=[SAPAAPIP_CSV],
        extra=f'schedule: {{cron: "{TEST_CRON}", timezone: Asia/Jakarta}}\n',
    )
    prefect_dir = tmp_path_factory.mktemp("prefect")
    deadline = time.monotonic() + BUDGET_S
    serve_log = prefect_dir / "serve.log"

    with _served(config, prefect_dir, deadline) as (_, serve, name, _):
        flow_run = run_deployment(name, timeout=0)  # triggered, not waited for
        while DBT_STARTED not in serve_log.read_text(encoding="utf-8", errors="replace"):
            if serve.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the served run never reached dbt\n{_tail(serve_log)}")
            time.sleep(0.1)
        os.killpg(serve.pid, signal.SIGTERM)  # what systemctl stop does: the whole group
        serve.wait(timeout=60)
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run.id).state

    assert serve.returncode == 0, _tail(serve_log)
    # Prefect's runner cancels the runs it has in flight when it shuts down
    assert state is not None and state.is_cancelled(), state
    store = load_settings(config).store
    con = duckdb.connect(str(store), read_only=True)
    try:
        runs = con.execute("select status, exit_code, message from ops.runs").fetchall()
    finally:
        con.close()
    [(status, code, message)] = runs
    assert (status, code) == ("stopped", pipeline.EXIT_FAILED), _tail(serve_log)
    assert message.startswith(pipeline.STOPPED_MESSAGE)
    con = warehouse.open_store(store)
    try:
        loads = warehouse.interrupted_loads(con)
    finally:
        con.close()
    assert [(x.source_file, x.rows_accepted) for x in loads] == [(SAPAAPIP_CSV.name, 14)]


@contextlib.contextmanager
def _served(
    config: Path, prefect_dir: Path, deadline: float
) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], str, object]]:
    """A real `prefect server start` on a free port and `skm-etl serve` on the config, as
    systemd keeps them up; yields both processes, the deployment's name and the deployment
    as the API returns it. Prefect's files live under prefect_dir; both processes are
    stopped (SIGTERM to the group, as `systemctl stop`) on the way out."""
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = _prefect_env(prefect_dir, api_url)
    server_log, serve_log = prefect_dir / "server.log", prefect_dir / "serve.log"
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            _process(
                [
                    _bin("prefect"),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-ui",
                ],
                {**env, "PREFECT_HOME": str(prefect_dir / "server-home")},
                server_log,
            )
        )
        _wait_for_health(server, api_url, deadline, server_log)
        serve = stack.enter_context(
            _process(_serve_command(config), env, serve_log, cwd=config.parent)
        )
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
        name = f"{FLOW_NAME}/{deployment_name(config)}"
        deployment = _wait_for_deployment(serve, name, deadline, serve_log)
        yield server, serve, name, deployment


def _personal_data() -> list[str]:
    """Every name and phone number of the example export, phones also as 812… and 62812…."""
    with GOOGLE_FORMS_CSV.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    names = [row["Nama Lengkap"].strip() for row in rows]
    phones = [row["No. HP"].strip() for row in rows]
    assert names and all(names) and all(p.startswith("0") for p in phones)
    return names + phones + [p[1:] for p in phones] + ["62" + p[1:] for p in phones]


def _personal_data_in(text: str) -> list[str]:
    """The values found as whole words ("Responden 1" is not in "Responden 10")."""
    return [
        value
        for value in _personal_data()
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text)
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _serve_command(config: Path) -> list[str]:
    """What the systemd unit runs: the serve command, on the config file."""
    return [str(Path(sys.executable).parent / "skm-etl"), "serve", "--config", str(config)]


def _prefect_env(prefect_dir: Path, api_url: str) -> dict[str, str]:
    """A Prefect environment of its own: no profile, setting or server of the machine leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(prefect_dir / "serve-home"),
        PREFECT_API_URL=api_url,
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{prefect_dir / 'prefect.db'}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        # The pipeline's own log lines reach the API too, as docs/OPERATIONS.md sets up.
        PREFECT_LOGGING_EXTRA_LOGGERS="skm_etl",
    )
    return env


@contextlib.contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a command in its own process group; stop the whole group on the way out."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (what systemd does), SIGKILL if it is not gone in time."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=STOP_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for_health(
    server: subprocess.Popen[bytes], api_url: str, deadline: float, log: Path
) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prefect server exited with {server.returncode}\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"prefect server did not answer within the budget\n{_tail(log)}")


def _wait_for_deployment(serve: subprocess.Popen[bytes], name: str, deadline: float, log: Path):
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if serve.poll() is not None:
                pytest.fail(f"the serve process exited with {serve.returncode}\n{_tail(log)}")
            with contextlib.suppress(ObjectNotFound):
                return client.read_deployment_by_name(name)
            time.sleep(0.5)
    pytest.fail(f"deployment {name} was not registered within the budget\n{_tail(log)}")


def _wait_for_final_log(client, flow_run_id, deadline: float) -> list:
    """The run's logs once its last line ("Finished in state …") has reached the API."""
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    end = max(deadline, time.monotonic() + 15)
    while True:
        logs = client.read_logs(log_filter=log_filter, limit=200)
        finished = any(
            log.task_run_id is None and log.message.startswith("Finished in state") for log in logs
        )
        if finished or time.monotonic() > end:
            assert logs, "the run sent no logs to the API"
            return logs
        time.sleep(1)


def _tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])
