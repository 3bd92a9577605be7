"""The nightly job's phases called in this process, as the flow calls them (no Prefect)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from skm_etl import failpoints, pipeline
from skm_etl.load.warehouse import new_id
from skm_etl.settings import load_settings


def run_in_process(config: Path) -> pipeline.RunSummary:
    """Prepare, load every file, build the marts and publish; the run's summary.

    SKM_ETL_FAILPOINT=after-load kills the process where the flow's run would die there.
    """
    settings = load_settings(config)
    summary = pipeline.RunSummary(run_id=new_id(), started_at=dt.datetime.now())
    pipeline.record_run(settings, summary, status="running")
    prepared = pipeline.prepare(settings, summary.run_id)
    files = pipeline.files_of_the_night(settings, prepared, summary, [])
    summary.files.extend(pipeline.process_files(settings, prepared, files, summary.run_id))
    failpoints.hit(settings.failpoint, "after-load")
    pipeline.build_marts(settings)
    pipeline.read_back(settings, summary)
    summary.published = True
    pipeline.record_run(settings, summary, status="published")
    pipeline.publish_served(settings, summary.run_id)
    return summary
