"""Prefect wiring of the nightly job: fetch -> discover -> read/validate/load -> dbt -> publish.

Only orchestration lives here; every step is a function of `skm_etl.pipeline` that the
tests call without Prefect. Retries are set on I/O tasks only (fetching).
"""

from __future__ import annotations

import datetime as dt
import logging

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from skm_etl import failpoints, pipeline
from skm_etl.load.warehouse import new_id
from skm_etl.lock import RunLockedError, run_lock
from skm_etl.publish.served import PublishError
from skm_etl.settings import ConfigError, Settings, SourceConfig, load_settings

FLOW_NAME = "skm-etl-nightly"
# the log lines around the marts' build (operators and the fault tests read them)
DBT_STARTED = "dbt build started"
DBT_FINISHED = "dbt build finished"

pipeline.quiet_expected_tracebacks()


FETCH_RETRY_DELAYS_S = [5, 30, 120]


@task(
    name="fetch",
    retries=len(FETCH_RETRY_DELAYS_S),
    retry_delay_seconds=FETCH_RETRY_DELAYS_S,
    cache_policy=NO_CACHE,
)
def fetch_task(settings: Settings, source: SourceConfig) -> pipeline.FetchOutcome:
    return pipeline.fetch_source(settings, source)


@task(name="prepare", cache_policy=NO_CACHE)
def prepare_task(settings: Settings, run_id: str) -> pipeline.Prepared:
    return pipeline.prepare(settings, run_id)


@task(name="load-files", cache_policy=NO_CACHE)
def process_files_task(
    settings: Settings,
    prepared: pipeline.Prepared,
    sources: list[pipeline.SourceFile],
    run_id: str,
) -> list[pipeline.FileOutcome]:
    # One task for the inbox: a Prefect task run costs ~0.1 s and a national inbox holds
    # hundreds of files; each file is still logged and listed in the run summary.
    return pipeline.process_files(settings, prepared, sources, run_id)


@task(name="dbt-build", cache_policy=NO_CACHE)
def build_task(settings: Settings) -> str:
    # dbt's console shows its warnings and errors only; these two lines say where the
    # build is, and its log file keeps dbt's line per model and test
    logger = get_run_logger()
    logger.info("%s; dbt log: %s", DBT_STARTED, pipeline.dbt_log_path(settings))
    built = pipeline.build_marts(settings)
    logger.info("%s: %s", DBT_FINISHED, built)
    return built


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(settings: Settings, run_id: str) -> None:
    pipeline.publish_served(settings, run_id)


@flow(name=FLOW_NAME, log_prints=False, validate_parameters=True)
def nightly(
    config_path: str,
    wait_for_lock_s: float = 0.0,
    replay: bool = False,
    replay_year: int | None = None,
    replay_unit: str | None = None,
):
    """Run the whole nightly job once for one config file (SPEC §8).

    With `replay`, instead of fetching and reading the inbox, reload the archived files
    of every loaded batch (or of one year / unit): a rebuild or backfill from the archive.
    """
    logger = get_run_logger()
    summary = pipeline.RunSummary(run_id=new_id(), started_at=dt.datetime.now())
    try:
        settings = load_settings(config_path)
        pipeline.check_writable(settings)
    except ConfigError as exc:
        summary.error = str(exc)
        return _finish(summary, logger)
    try:
        with run_lock(settings.lock_path, wait_s=wait_for_lock_s):
            _run(settings, summary, logger, replay=(replay, replay_year, replay_unit))
    except RunLockedError as exc:
        summary.error = str(exc)
    return _finish(summary, logger)


def _run(
    settings: Settings,
    summary: pipeline.RunSummary,
    logger: logging.Logger,
    *,
    replay: tuple[bool, int | None, str | None] = (False, None, None),
) -> None:
    stopped = False
    pipeline.note_sigterm()
    try:
        pipeline.record_run(settings, summary, status="running")
        # a rebuild asked wrongly (no such unit or year, an archived file gone) is refused
        # before the populations and RTL files are read into this run
        replay_plan = (
            pipeline.plan_replay(settings, year=replay[1], unit=replay[2]) if replay[0] else None
        )
        prepared = prepare_task(settings, summary.run_id)
        summary.files.extend(prepared.plan_files)
        failpoints.hit(settings.failpoint, "after-prepare")
        fetched: list[pipeline.SourceFile] = []
        for source in [] if replay[0] else pipeline.url_sources(settings):
            try:
                outcome = fetch_task(settings, source)
            except Exception as exc:  # noqa: BLE001 - retries exhausted: the other sources go on
                outcome = pipeline.fetch_given_up(source, exc, len(FETCH_RETRY_DELAYS_S) + 1)
            if (
                fetched_file := pipeline.record_fetch(settings, summary, source, outcome)
            ) is not None:
                fetched.append(fetched_file)
        files = (
            pipeline.start_replay(settings, replay_plan)
            if replay_plan is not None
            else pipeline.files_of_the_night(settings, prepared, summary, fetched)
        )
        for outcome in process_files_task(settings, prepared, files, summary.run_id):
            summary.files.append(outcome)
            logger.info(
                "%s %s: accepted %d, rejected %d",
                outcome.status,
                outcome.source_file,
                outcome.rows_accepted,
                outcome.rows_rejected,
            )
        pipeline.write_validation_docs(settings, summary)
        failpoints.hit(settings.failpoint, "after-load")
        summary.marts_build = build_task(settings)
        pipeline.read_back(settings, summary)
        # Recorded before the swap so the served copy of ops.runs shows this run as it ends.
        summary.published = True
        pipeline.record_run(settings, summary, status="published")
        try:
            publish_task(settings, summary.run_id)
        except BaseException:
            summary.published = False
            raise
    except (ConfigError, pipeline.BuildError, PublishError) as exc:
        summary.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - recorded in ops.runs, the run exits 1
        if pipeline.SIGTERM_SEEN.is_set():  # the signal, turned into an error by DuckDB
            summary.error = f"{pipeline.STOPPED_MESSAGE} ({type(exc).__name__}: {exc})"
            stopped = True
        else:
            logger.exception("run failed")
            summary.error = f"{type(exc).__name__}: {exc}"
    except BaseException as exc:
        # SIGTERM (Prefect's TerminationSignal: a serve process stopped, `kill`, a timeout)
        # or Ctrl-C: recorded as stopped, and the signal goes on to end the process
        summary.error = f"{pipeline.STOPPED_MESSAGE} ({type(exc).__name__})"
        stopped = True
        raise
    finally:
        if not summary.published:
            try:
                pipeline.record_run(settings, summary, status="stopped" if stopped else "failed")
            except Exception as exc:  # noqa: BLE001 - a full disk must not hide the run's error
                summary.warnings.append(
                    "run gagal tidak dapat dicatat di ops.runs / the failed run could not be "
                    f"recorded in ops.runs: {type(exc).__name__}: {exc}"
                )


def _finish(summary: pipeline.RunSummary, logger: logging.Logger):
    text = summary.render()
    try:
        create_markdown_artifact(
            key="skm-etl-run-summary",
            markdown="```\n" + text + "\n```",
            description="skm-etl run summary",
        )
    except Exception:  # noqa: BLE001 - the artifact is a convenience, never a reason to fail
        logger.warning("could not write the run summary artifact")
    if summary.exit_code == pipeline.EXIT_FAILED:
        return Failed(message=summary.error_shown or "run failed", data=summary)
    if summary.exit_code == pipeline.EXIT_REJECTIONS:
        # Named apart so the UI can filter "published with rejections" from clean runs.
        return Completed(name="Completed with rejections", message="exit 2", data=summary)
    return Completed(message=f"exit {summary.exit_code}", data=summary)
