"""The nightly flow as a scheduled Prefect deployment: what `skm-etl serve` keeps running.

`skm-etl run` runs the job once in the foreground. In production the same flow runs as
a deployment served by one long-running process (`serve_nightly`, under systemd): the
Prefect server creates a run at every time of the config's `schedule:` cron, in the
config's timezone, and the serving process executes it; operators also start runs from
the UI. The deployment's only parameter is the absolute path of the config file, so a
run always reads the config as it is on disk when it starts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sys
from pathlib import Path

from prefect import serve
from prefect.client.orchestration import get_client
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron
from prefect.server.schemas.schedules import CronSchedule
from prefect.settings import PREFECT_API_URL
from pydantic import ValidationError

from flows.nightly import FLOW_NAME, nightly
from skm_etl.pipeline import EXIT_FAILED, EXIT_OK
from skm_etl.prefect_api import why_not
from skm_etl.settings import ConfigError, Schedule, Settings, load_settings

NAME_PREFIX = "skm-etl-"
TAGS = ["skm-etl"]


class ServeError(Exception):
    """The deployment cannot be served as asked; the message says what to do."""


SCHEDULED_LOCK_WAIT_S = 3600.0


def deployment_name(config_path: Path) -> str:
    """`skm-etl-<config file stem>`, lowercased, in the characters Prefect allows in names."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", Path(config_path).stem.lower()).strip("-")
    return NAME_PREFIX + (slug or "config")


def check_schedule(schedule: Schedule) -> None:
    """Raise ConfigError when the cron or the timezone would be refused by Prefect."""
    try:
        CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    except ValidationError as exc:
        reasons = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        raise ConfigError(
            f"jadwal tidak sah / invalid schedule (cron {schedule.cron!r}, timezone "
            f"{schedule.timezone!r}): {reasons}. Use five cron fields such as '0 2 * * *' "
            "and an IANA timezone such as Asia/Jakarta."
        ) from exc


def next_runs(
    schedule: Schedule, count: int = 5, after: dt.datetime | None = None
) -> list[dt.datetime]:
    """The next `count` times the Prefect server will schedule, computed as the server does."""
    check_schedule(schedule)
    cron = CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    return list(asyncio.run(cron.get_dates(n=count, start=after)))


def build_deployment(
    config_path: Path, settings: Settings, *, name: str | None = None
) -> RunnerDeployment:
    """The nightly flow as a deployment for one config file, on that config's schedule.

    The entrypoint is the module path `flows.nightly.nightly`, not a file path, so runs
    do not depend on the directory the serving process was started from. The config
    path is made absolute for the same reason. Raises ConfigError for a cron or
    timezone Prefect would refuse, before anything is registered.
    """
    check_schedule(settings.schedule)
    return nightly.to_deployment(
        name=name or deployment_name(config_path),
        schedules=[Cron(settings.schedule.cron, timezone=settings.schedule.timezone)],
        # A scheduled run that meets a manual `skm-etl run` waits for it instead of failing.
        parameters={
            "config_path": str(Path(config_path).expanduser().resolve()),
            "wait_for_lock_s": SCHEDULED_LOCK_WAIT_S,
        },
        description=(
            f"skm-etl nightly job for {Path(config_path).expanduser().resolve()} "
            f"(cron {settings.schedule.cron!r}, {settings.schedule.timezone})"
        ),
        tags=TAGS,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve_nightly(config_path: Path, settings: Settings, *, name: str | None = None) -> None:
    """Register the deployment and run its flow runs until SIGTERM or Ctrl-C (blocking).

    `limit=1`: a second run (a manual one at 02:00, or a backlog after a stop) waits
    for the first instead of meeting the run lock and failing. The schedule stays
    active when this process stops, so a run that fell due while it was down is picked
    up as soon as it is back.
    """
    deployment = build_deployment(config_path, settings, name=name)
    _refuse_to_take_over(deployment)
    print(_describe(deployment, settings), flush=True)
    serve(deployment, limit=1, pause_on_shutdown=False, print_starting_message=False)


def _refuse_to_take_over(deployment: RunnerDeployment) -> None:
    """Raise ServeError if the deployment name already serves another config file.

    Two configs both named `config.yaml` give the same default name; serving the
    second would silently point the first one's nightly run at the wrong config.
    """
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_deployment_by_name(f"{FLOW_NAME}/{deployment.name}")
        except ObjectNotFound:
            return
    theirs = (existing.parameters or {}).get("config_path")
    ours = deployment.parameters["config_path"]
    if theirs not in (None, ours):
        raise ServeError(
            f"deployment {deployment.name!r} already runs {theirs}, not {ours}. "
            "Give this config its own name with --name, or, if the config file has "
            f"moved, delete the old deployment first: "
            f"prefect deployment delete '{FLOW_NAME}/{deployment.name}'"
        )


def _api_problem() -> str | None:
    """Why the Prefect API cannot be used for serving, or None when it can."""
    url = PREFECT_API_URL.value()
    if not url:
        return (
            "PREFECT_API_URL is not set: start the server (prefect server start) and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api for this process"
        )
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is not None:
        return f"the Prefect API at {url} {why_not(error, serving=True)}"
    return None


def serve_command(config: str, name: str | None) -> int:
    """`skm-etl serve --config FILE [--name NAME]`: serve until stopped; the exit status.

    0 after a clean stop (SIGTERM from systemd, Ctrl-C); 1 when the config, the
    schedule or the API is wrong, with a sentence on stderr saying what to fix.
    """
    try:
        settings = load_settings(config)
        problem = _api_problem()
        if problem is not None:
            raise ServeError(problem)
        serve_nightly(settings.config_path, settings, name=name)
    except (ConfigError, ServeError, ValueError) as exc:  # ValueError: a --name Prefect refuses
        print(f"skm-etl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def deployment_info_command(config: str, name: str | None, count: int = 5) -> int:
    """`skm-etl deployment-info --config FILE [--name NAME]`: print what serve would register.

    Needs no server: it shows the deployment name, the config it runs, the cron and
    timezone, and the next run times, so an operator can check a cron edit before
    restarting the serve process.
    """
    try:
        # the sources' tokens live in the job's environment (secrets.env), not the shell's
        settings = load_settings(config, secrets=False)
        deployment = build_deployment(settings.config_path, settings, name=name)
        print(_describe(deployment, settings, count=count))
    except (ConfigError, ValueError) as exc:  # ValueError: a --name Prefect refuses
        print(f"skm-etl: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _describe(deployment: RunnerDeployment, settings: Settings, count: int = 3) -> str:
    lines = [
        f"deployment {FLOW_NAME}/{deployment.name}",
        f"  config   {deployment.parameters['config_path']}",
        f"  cron     {settings.schedule.cron}  ({settings.schedule.timezone})",
        "  next runs:",
    ]
    for when in next_runs(settings.schedule, count):
        utc = when.astimezone(dt.UTC)
        lines.append(f"    {when:%Y-%m-%d %H:%M %Z}  ({utc:%Y-%m-%d %H:%M} UTC)")
    return "\n".join(lines)
