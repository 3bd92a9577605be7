"""Run the dbt project (staging → intermediate → marts) against the store.

dbt runs in-process through ``dbtRunner`` so the pipeline gets structured results
(which node failed and why) instead of parsing a subprocess's console output.
"""

from __future__ import annotations

import json
import os
import shlex
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR_ENV = "SKM_DBT_PROJECT_DIR"
STORE_PATH_ENV = "SKM_STORE_PATH"

# Statuses dbt gives a node that did not succeed (RunStatus / TestStatus values).
_FAILED_STATUSES = {"error", "fail", "runtime error"}

# dbt reads the store path from the process environment while it parses profiles.yml;
# one run at a time keeps two in-process runs from seeing each other's store.
_env_lock = threading.Lock()


@dataclass(frozen=True)
class NodeFailure:
    """One dbt node (model, seed, data test, unit test) that failed."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource_type} {self.name} ({self.status}): {self.message}"


@dataclass(frozen=True)
class DbtRunResult:
    """Outcome of one dbt invocation."""

    success: bool
    command: str
    elapsed_seconds: float
    failures: list[NodeFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    nodes_run: int = 0

    def summary(self) -> str:
        """Return a short, readable account of the run for logs and error messages."""
        if self.success:
            return f"dbt {self.command}: {self.nodes_run} nodes OK in {self.elapsed_seconds:.1f}s"
        lines = [
            f"dbt {self.command} failed after {self.elapsed_seconds:.1f}s: "
            f"{len(self.failures)} failed, {len(self.skipped)} skipped"
        ]
        lines.extend(f"- {failure}" for failure in self.failures)
        return "\n".join(lines)


def default_project_dir() -> Path:
    """Return the dbt project directory: $SKM_DBT_PROJECT_DIR or the repository's dbt_project/."""
    override = os.environ.get(PROJECT_DIR_ENV)  # lets an installed package find a checkout
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[3] / "dbt_project"


def run_dbt(
    store_path: Path,
    *,
    command: str = "build",
    vars: dict[str, Any] | None = None,
    select: str | None = None,
    target_path: Path | None = None,
    project_dir: Path | None = None,
) -> DbtRunResult:
    """Run a dbt command on the store DuckDB file and report what failed.

    store_path: the store file (raw, ref, ops and the dbt layers); it must not be open
        for writing elsewhere, since DuckDB allows one writer.
    command: the dbt command, e.g. "build" (models, seeds, data and unit tests),
        "run", "test", "parse" or "docs generate".
    vars: dbt vars; the project reads `counting` ("all" or "target_sample").
    select: a dbt selection, e.g. "marts" or "+skm_unit".
    target_path: directory for dbt's target/ and logs/; given, nothing is written
        inside the repository (use it for CI, tests and read-only installs).
    project_dir: the dbt project; default `default_project_dir()`.

    Never raises for a dbt failure: a parse or compile error comes back as a failure
    named "dbt", so the pipeline can record it and keep the previous served file.
    """
    from dbt.cli.main import dbtRunner  # importing dbt takes seconds; only runs need it

    project_dir = Path(project_dir) if project_dir is not None else default_project_dir()
    args = [
        *shlex.split(command),
        # partial parsing has been seen to keep stale unit tests after a YAML edit; a
        # full parse costs a few seconds a night
        "--no-partial-parse",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
    ]
    if vars:
        args += ["--vars", json.dumps(vars)]
    if select:
        args += ["--select", select]
    if target_path is not None:
        target_path = Path(target_path)
        args += [
            "--target-path",
            str(target_path / "target"),
            "--log-path",
            str(target_path / "logs"),
        ]

    started = time.perf_counter()
    with _env_lock, _environment(**{STORE_PATH_ENV: str(Path(store_path).resolve())}):
        outcome = dbtRunner().invoke(args)
    elapsed = time.perf_counter() - started

    failures: list[NodeFailure] = []
    skipped: list[str] = []
    nodes_run = 0
    for node_result in _node_results(outcome.result):
        nodes_run += 1
        status = str(getattr(node_result.status, "value", node_result.status)).lower()
        node = node_result.node
        if status in _FAILED_STATUSES:
            failures.append(
                NodeFailure(
                    unique_id=node.unique_id,
                    name=node.name,
                    resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
                    status=status,
                    message=_failure_message(node_result),
                )
            )
        elif status == "skipped":
            skipped.append(node.unique_id)

    if outcome.exception is not None:
        failures.append(
            NodeFailure(
                unique_id="dbt",
                name="dbt",
                resource_type="invocation",
                status="error",
                message=str(outcome.exception).strip(),
            )
        )
    elif not outcome.success and not failures:
        failures.append(
            NodeFailure(
                unique_id="dbt",
                name="dbt",
                resource_type="invocation",
                status="error",
                message=f"dbt {command} did not succeed; see dbt's log for details",
            )
        )

    return DbtRunResult(
        success=bool(outcome.success) and not failures,
        command=command,
        elapsed_seconds=elapsed,
        failures=failures,
        skipped=skipped,
        nodes_run=nodes_run,
    )


def _node_results(result: Any) -> list[Any]:
    """Return the per-node results of a dbt command, or none for commands without them."""
    results = getattr(result, "results", None)
    if not results:
        return []
    return [item for item in results if hasattr(item, "node") and hasattr(item, "status")]


def _failure_message(node_result: Any) -> str:
    """Return dbt's message for a failed node as one readable string."""
    message = (node_result.message or "").strip()
    failures = getattr(node_result, "failures", None)
    if failures and not message:
        message = f"{failures} failing rows"
    return message or "failed without a message"


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
