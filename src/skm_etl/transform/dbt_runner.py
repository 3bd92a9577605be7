"""Run the dbt project (staging → intermediate → marts) against the store.

dbt runs in-process through ``dbtRunner`` so the pipeline gets structured results
(which node failed and why) instead of parsing a subprocess's console output.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """Return the repository's dbt_project/ (settings may name another, `dbt_project_dir`)."""
    return Path(__file__).resolve().parents[3] / "dbt_project"


def run_dbt(
    store_path: Path,
    *,
    command: str = "build",
    vars: dict[str, Any] | None = None,
    select: str | None = None,
    target_path: Path | None = None,
    project_dir: Path | None = None,
    on_event: Callable[[Any], None] | None = None,
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
    on_event: called with every dbt event message (dbtRunner callbacks).

    Never raises for a dbt failure: a parse or compile error comes back as a failure
    named "dbt", so the pipeline can record it and keep the previous served file.
    """
    from dbt.cli.main import dbtRunner  # importing dbt takes seconds; only runs need it

    project_dir = Path(project_dir) if project_dir is not None else default_project_dir()
    args = [
        *shlex.split(command),
        # Partial parsing has been seen to keep stale unit tests after a YAML edit, so it is
        # used only when no project file changed since the last parse in this target path
        # (the nightly case); otherwise dbt parses everything, a few seconds.
        "--partial-parse"
        if _parse_is_current(project_dir, target_path, vars)
        else "--no-partial-parse",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        # the console gets dbt's warnings and errors, not a line per node (~400 a build):
        # the run summary says what was built; the log file under target_path keeps it all
        "--log-level",
        "warn",
        "--log-level-file",
        "info",
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
        outcome = dbtRunner(callbacks=[on_event] if on_event else None).invoke(args)
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

    if target_path is not None and outcome.exception is None:
        _record_parse(project_dir, target_path, vars)
    return DbtRunResult(
        success=bool(outcome.success) and not failures,
        command=command,
        elapsed_seconds=elapsed,
        failures=failures,
        skipped=skipped,
        nodes_run=nodes_run,
    )


PARSE_DIGEST = "skm_etl_parsed_project.sha256"
# what dbt reads to parse the project; its own target/ and logs/ are not part of it
_PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "seeds")


def project_digest(project_dir: Path, vars: dict[str, Any] | None) -> str:
    """Hash every file dbt parses, with dbt's version and the vars of the run."""
    from dbt.version import __version__ as dbt_version

    digest = hashlib.sha256(f"{dbt_version}\n{json.dumps(vars or {}, sort_keys=True)}".encode())
    for part in _PROJECT_PARTS:
        root = project_dir / part
        paths = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in paths:
            if path.is_file():
                digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _parse_is_current(
    project_dir: Path, target_path: Path | None, vars: dict[str, Any] | None
) -> bool:
    """Tell whether dbt's saved parse in target_path is of these very project files.

    When it is not, the saved parse is removed, so dbt cannot reuse any of it.
    """
    if target_path is None:
        return False
    target = Path(target_path) / "target"
    saved = target / PARSE_DIGEST
    current = saved.is_file() and saved.read_text() == project_digest(project_dir, vars)
    if not current:
        (target / "partial_parse.msgpack").unlink(missing_ok=True)
    return current


def _record_parse(project_dir: Path, target_path: Path, vars: dict[str, Any] | None) -> None:
    target = Path(target_path) / "target"
    if (target / "partial_parse.msgpack").is_file():
        (target / PARSE_DIGEST).write_text(project_digest(project_dir, vars))


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
