"""Run the nightly flow in-process and keep everything it printed or logged.

Used under the session's `prefect_harness`. What an operator would see is the printed
summary (what `skm-etl run` prints), everything written to stdout/stderr while the flow
ran (dbt's console output among it), every log record, and the logs Prefect stored for
the flow run.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogWorker

from flows.nightly import nightly
from skm_etl.pipeline import RunSummary


@dataclass
class FlowRun:
    summary: RunSummary
    output: str  # the printed summary, stdout/stderr and every log record
    api_logs: str  # the flow run's logs as Prefect stored them


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, _Records]]:
    out, records = io.StringIO(), _Records()
    loggers = [logging.getLogger(), logging.getLogger("prefect"), logging.getLogger("skm_etl")]
    for logger in loggers:
        logger.addHandler(records)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            yield out, records
    finally:
        for logger in loggers:
            logger.removeHandler(records)


def api_logs(flow_run_id) -> str:
    """The flow run's log messages as the Prefect API stored them."""
    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
    return "\n".join(log.message for log in logs)


def run_flow(config: Path) -> FlowRun:
    """Run the nightly flow on a config; fail the caller when it did not complete."""
    with _captured() as (out, records):
        state = nightly(config_path=str(config), return_state=True)
        summary = state.result(raise_on_failure=False)
    assert isinstance(summary, RunSummary), f"the run did not complete: {summary!r}"
    output = "\n".join([summary.render(), out.getvalue(), *records.lines])
    return FlowRun(summary, output, api_logs(state.state_details.flow_run_id))
