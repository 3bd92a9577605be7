"""`skm-etl bench`: time the nightly job on synthetic national data against a DuckDB baseline.

One bench run does, in this order (generation is not timed):

1. generate N responses as export files (`skm_etl.bench.generate`), a one-file inbox for
   the fixed cost, and a small many-file inbox for Prefect's overhead;
2. run the pipeline's phase functions directly (no Prefect) on the one-file inbox: the
   fixed cost, what a run costs however little data comes in;
3. the same on the full inbox, each phase timed with its peak memory;
4. the baseline: DuckDB computing the same unit × unsur indices from `baseline.csv` (the
   valid responses as plain integers) in one SQL statement; its numbers are checked
   against `marts.skm_unit_unsur`;
5. Prefect's overhead, once: the flow and the direct phases on two copies of the small
   inbox;
6. with `increment`, a nightly run after new files with that share of new responses.

Every run is a fresh Python process (`python -m skm_etl.bench.run child …`), so imports
count where a nightly run pays them and each run's peak RSS is its own. The last printed
line is one JSON object with `responses`, `pipeline_s`, `fixed_s`, `baseline_s`, `ratio`
= (pipeline_s − fixed_s) / baseline_s, and `peak_rss_mb`, the largest peak RSS of the
pipeline runs (the process and its children).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PREFECT_RESPONSES = 2_000
PREFECT_UNITS = 13  # 39 files: Prefect's cost grows with the number of tasks
FIXED_RESPONSES = 100
# the phases of a direct run, in the order printed
PHASES = (
    "prepare",
    "read",
    "keys",
    "validate",
    "load",
    "file_other",
    "docs",
    "dbt",
    "publish",
)
# The baseline's plain CSV (bench.generate.BASELINE_COLUMNS) and one statement over it:
# per unit and year the sum and count of every question, then each question's unsur
# (bound as a list, in question order) pools them, as SPEC §3 does.
BASELINE_QUESTIONS = tuple(f"q{n}" for n in range(1, 12))
BASELINE_CSV_COLUMNS = (
    "{'unit_code': 'VARCHAR', 'survey_year': 'INTEGER', 'layanan_code': 'VARCHAR', "
    + ", ".join(f"'{q}': 'SMALLINT'" for q in BASELINE_QUESTIONS)
    + "}"
)
BASELINE_SQL = f"""
with per_unit as (
    select
        unit_code,
        survey_year,
        [{", ".join(f"sum({q})" for q in BASELINE_QUESTIONS)}] as score_sums,
        [{", ".join(f"count({q})" for q in BASELINE_QUESTIONS)}] as answer_counts
    from read_csv(?, header = true, columns = {BASELINE_CSV_COLUMNS})
    group by unit_code, survey_year
),
questions as (
    select
        unnest(?::varchar[]) as unsur_code,
        unnest(range(1, {len(BASELINE_QUESTIONS) + 1})) as position
)
select
    unit_code,
    survey_year,
    unsur_code,
    sum(score_sums[position])::double / sum(answer_counts[position]) / ? * 100 as ikm
from per_unit
cross join questions
group by unit_code, survey_year, unsur_code
order by unit_code, survey_year, unsur_code
"""  # noqa: S608 - question names are constants; path, unsur list and scale are bound


def bench_command(
    responses: int,
    workdir: str | None,
    keep: bool,
    increment: float | None,
    *,
    prefect: bool = True,
    fixed_runs: int = 2,
    units: int | None = None,
) -> int:
    """Generate `responses` responses, time the pipeline against the baseline, print the result.

    workdir: where to generate and run (default a new temporary folder); with `keep`
        the folder is left in place, otherwise it is removed at the end.
    increment: with e.g. 0.01, also time a nightly run after 1% new responses.
    prefect: also measure Prefect's overhead (the flow against the direct phases).
    fixed_runs: the fixed cost is the fastest of this many one-file runs, one before and
        the others after the full run, since the machine is shared and noisy; a single
        one runs after the full run, with warm caches.
    units: how many units answer (default: as many as the size allows, up to BPOM's 76);
        fewer units make fewer, larger files.
    Returns the exit status: 0, or 1 when a run failed or the marts disagree with the
    baseline.
    """
    from skm_etl.bench.generate import generate, generate_increment, generate_single_file

    if responses < 1:
        print("skm-etl bench: --responses must be at least 1", file=sys.stderr)
        return 1
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="skm-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    for name in ("full", "fixed", "prefect", "direct"):
        shutil.rmtree(root / name, ignore_errors=True)
    failed = False
    try:
        started = time.perf_counter()
        full = generate(root / "full", responses, units=units)
        fixed = generate_single_file(root / "fixed", FIXED_RESPONSES)
        if prefect:
            flow_inbox = generate(root / "prefect", PREFECT_RESPONSES, units=PREFECT_UNITS)
            direct_inbox = generate(root / "direct", PREFECT_RESPONSES, units=PREFECT_UNITS)
        print(
            f"generated {full.responses} responses ({full.invalid} invalid) in "
            f"{len(full.files)} files under {root} in {time.perf_counter() - started:.1f} s "
            "(not timed)"
        )

        # the first process of a bench pays cold caches: with one fixed run, it comes after
        before = 1 if fixed_runs > 1 else 0
        fixed_runs_done = [_child("pipeline", _fresh(fixed.config)) for _ in range(before)]
        full_run = _child("pipeline", full.config)
        baseline = _child("baseline", full.baseline_csv)
        check = _compare(full_run, baseline)
        for _ in range(max(fixed_runs, 1) - before):
            fixed_runs_done.append(_child("pipeline", _fresh(fixed.config)))
        fixed_run = min(fixed_runs_done, key=lambda run: run["total_s"])
        flow = _child("prefect", flow_inbox.config) if prefect else None
        direct = _child("pipeline", direct_inbox.config) if prefect else None
        increment_run = None
        increment_responses = 0
        if increment:
            increment_responses = max(1, math.ceil(responses * increment))
            generate_increment(root / "full", increment_responses)
            increment_run = _child("pipeline", full.config)

        runs = [*fixed_runs_done, full_run]
        runs += [r for r in (flow, direct, increment_run) if r is not None]
        failed = any(not run.get("ok") for run in runs) or not check["ok"]
        expected = {"rows": full.responses, "rejected": full.invalid}
        got = {"rows": full_run["rows_accepted"] + full_run["rows_rejected"]}
        got["rejected"] = full_run["rows_rejected"]
        if got != expected:
            print(f"row counts differ: expected {expected}, the pipeline gave {got}")
            failed = True

        pipeline_s = full_run["total_s"]
        fixed_s = fixed_run["total_s"]
        baseline_s = baseline["total_s"]
        ratio = (pipeline_s - fixed_s) / baseline_s if baseline_s > 0 else math.inf
        _print_report(
            full=full_run,
            fixed=fixed_run,
            baseline=baseline,
            flow=flow,
            direct=direct,
            increment=increment_run,
            check=check,
            files=len(full.files),
        )
        result: dict[str, Any] = {
            "responses": responses,
            "pipeline_s": round(pipeline_s, 3),
            "fixed_s": round(fixed_s, 3),
            "baseline_s": round(baseline_s, 3),
            "ratio": round(ratio, 3),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs if "peak_rss_mb" in r), 1),
            "files": len(full.files),
            "phases_s": {k: round(v, 3) for k, v in full_run["phases"].items()},
            "fixed_phases_s": {k: round(v, 3) for k, v in fixed_run["phases"].items()},
            "fixed_runs_s": [round(r["total_s"], 3) for r in fixed_runs_done],
            "prefect_overhead_s": (
                round(flow["total_s"] - direct["total_s"], 3) if flow and direct else None
            ),
            "prefect_files": flow.get("files", 0) if flow else None,
            "max_ikm_difference": check["max_difference"],
            "ok": not failed,
        }
        if increment_run is not None:
            result["increment_responses"] = increment_responses
            result["increment_s"] = round(increment_run["total_s"], 3)
        print(json.dumps(result))
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


def _fresh(config: Path) -> Path:
    """Remove what an earlier run left next to a config (store, served file, archive)."""
    shutil.rmtree(config.parent / "warehouse", ignore_errors=True)
    return config


def _child(mode: str, path: Path) -> dict[str, Any]:
    """Run one measured job in a fresh interpreter; return the JSON it prints last."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "skm_etl.bench.run", "child", mode, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    wall = time.perf_counter() - started
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-30:])
        raise RuntimeError(f"bench child {mode} {path} failed ({completed.returncode}):\n{tail}")
    result = json.loads(lines[-1])
    result["process_s"] = wall
    return result


def _compare(full: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Check the marts' unit × unsur IKM against the baseline's, value by value."""
    import duckdb

    con = duckdb.connect(full["store"], read_only=True)
    try:
        rows = con.execute(
            "select unit_code, survey_year, unsur_code, ikm from marts.skm_unit_unsur"
        ).fetchall()
    finally:
        con.close()
    ours = {(u, y, s): v for u, y, s, v in rows}
    theirs = {(u, y, s): v for u, y, s, v in baseline["rows"]}
    if set(ours) != set(theirs):
        missing = sorted(set(theirs) ^ set(ours))[:5]
        return {"ok": False, "max_difference": None, "differing_keys": missing}
    worst = max((abs(ours[k] - theirs[k]) for k in ours), default=0.0)
    return {"ok": worst < 1e-9, "max_difference": worst, "cells": len(ours)}


def _print_report(
    *,
    full: dict[str, Any],
    fixed: dict[str, Any],
    baseline: dict[str, Any],
    flow: dict[str, Any] | None,
    direct: dict[str, Any] | None,
    increment: dict[str, Any] | None,
    check: dict[str, Any],
    files: int,
) -> None:
    print(f"machine: {_machine()}")
    header = f"{'phase':<12}{'full s':>10}{'peak MB':>10}{'fixed s':>10}{'peak MB':>10}"
    if increment:
        header += f"{'+incr s':>10}{'peak MB':>10}"
    print(header)
    for phase in PHASES:
        line = (
            f"{phase:<12}{full['phases'].get(phase, 0.0):>10.2f}"
            f"{full['phase_peak_mb'].get(phase, 0.0):>10.0f}"
            f"{fixed['phases'].get(phase, 0.0):>10.2f}{fixed['phase_peak_mb'].get(phase, 0.0):>10.0f}"
        )
        if increment:
            line += (
                f"{increment['phases'].get(phase, 0.0):>10.2f}"
                f"{increment['phase_peak_mb'].get(phase, 0.0):>10.0f}"
            )
        print(line)
    total = f"{'total':<12}{full['total_s']:>10.2f}{full['peak_rss_mb']:>10.0f}"
    total += f"{fixed['total_s']:>10.2f}{fixed['peak_rss_mb']:>10.0f}"
    if increment:
        total += f"{increment['total_s']:>10.2f}{increment['peak_rss_mb']:>10.0f}"
    print(total)
    print(
        f"process wall incl. interpreter start and imports: full {full['process_s']:.2f} s, "
        f"fixed {fixed['process_s']:.2f} s"
    )
    print(
        f"full run: {files} files, accepted {full['rows_accepted']}, rejected "
        f"{full['rows_rejected']}, exit {full['exit_code']}"
    )
    print(
        f"baseline (DuckDB, one statement over baseline.csv): {baseline['total_s']:.3f} s, "
        f"{len(baseline['rows'])} unit x unsur cells; marts agree: {check['ok']} "
        f"(max |IKM difference| {check['max_difference']})"
    )
    if flow and direct:
        print(
            f"prefect: flow {flow['total_s']:.2f} s vs direct {direct['total_s']:.2f} s on "
            f"{flow.get('files', 0)} files: overhead {flow['total_s'] - direct['total_s']:.2f} s "
            f"(process wall {flow['process_s']:.2f} s vs {direct['process_s']:.2f} s)"
        )
    if increment:
        print(
            f"increment: {increment['rows_accepted']} new responses, run {increment['total_s']:.2f} s"
        )


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.1f} GiB RAM, Python {platform.python_version()}"
    )


# --- the measured jobs, each in its own process -------------------------------------------


class PhaseTimer:
    """Wall time and peak RSS per phase; a nested phase's time is not counted in its parent.

    The RSS high-water mark is reset when a phase starts, so each phase reports its own
    peak; enclosing phases and `overall_peak_mb` still see every peak.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.overall_peak_mb = 0.0
        self._stack: list[list[float]] = []  # [started, time in nested phases, peak MB]

    def _note_peak(self) -> float:
        peak = _current_peak_mb()
        self.overall_peak_mb = max(self.overall_peak_mb, peak)
        for frame in self._stack:
            frame[2] = max(frame[2], peak)
        return peak

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._note_peak()
        _reset_peak()
        self._stack.append([time.perf_counter(), 0.0, 0.0])
        try:
            yield
        finally:
            self._note_peak()
            started, nested, peak = self._stack.pop()
            spent = time.perf_counter() - started
            self.seconds[name] = self.seconds.get(name, 0.0) + spent - nested
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), peak)
            if self._stack:
                self._stack[-1][1] += spent

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return function(*args, **kwargs)

        return timed


@contextmanager
def _patched(timer: PhaseTimer) -> Iterator[None]:
    """Time the steps inside the pipeline's per-file function without changing what runs."""
    from skm_etl import pipeline
    from skm_etl.load import warehouse

    targets = [
        (pipeline, "_read", "read"),
        (pipeline, "_validate", "validate"),
        (warehouse, "add_response_keys", "keys"),
        (warehouse, "load_batch", "load"),
    ]
    saved = [(module, attribute, getattr(module, attribute)) for module, attribute, _ in targets]
    try:
        for module, attribute, phase in targets:
            setattr(module, attribute, timer.wrap(phase, getattr(module, attribute)))
        yield
    finally:
        for module, attribute, original in saved:
            setattr(module, attribute, original)


def run_pipeline(config: Path) -> dict[str, Any]:
    """Run the nightly job's phases directly, as flows/nightly.py wires them, timing each."""
    from skm_etl import pipeline
    from skm_etl.load import warehouse
    from skm_etl.lock import run_lock
    from skm_etl.settings import load_settings

    timer = PhaseTimer()
    started = time.perf_counter()
    settings = load_settings(config)
    summary = pipeline.RunSummary(run_id=warehouse.new_id(), started_at=dt.datetime.now())
    with run_lock(settings.lock_path):
        with timer.phase("prepare"):
            pipeline.record_run(settings, summary, status="running")
            prepared = pipeline.prepare(settings, summary.run_id)
            summary.files.extend(prepared.plan_files)
            sources = pipeline.discover(settings, [])
        with timer.phase("file_other"), _patched(timer):
            # the batched entry point when the pipeline has it, as flows/nightly.py calls it
            if hasattr(pipeline, "process_files"):
                summary.files.extend(
                    pipeline.process_files(settings, prepared, sources, summary.run_id)
                )
            else:
                for source in sources:
                    summary.files.append(
                        pipeline.process_file(settings, prepared, source, summary.run_id)
                    )
        if hasattr(pipeline, "write_validation_docs"):
            with timer.phase("docs"):
                pipeline.write_validation_docs(settings, summary)
        with timer.phase("dbt"):
            try:
                pipeline.build_marts(settings)
            except pipeline.BuildError as exc:
                summary.error = str(exc)
        if summary.error is None:
            with timer.phase("publish"):
                pipeline.read_back(settings, summary)
                summary.published = True
                pipeline.record_run(settings, summary, status="published")
                pipeline.publish_served(settings, summary.run_id)
        else:
            pipeline.record_run(settings, summary, status="failed")
    total = time.perf_counter() - started
    return {
        "ok": summary.published,
        "total_s": total,
        "phases": timer.seconds,
        "phase_peak_mb": timer.peak_mb,
        "peak_rss_mb": max(timer.overall_peak_mb, _current_peak_mb()),
        "files": len(summary.files),
        "rows_accepted": summary.rows_accepted,
        "rows_rejected": summary.rows_rejected,
        "exit_code": summary.exit_code,
        "error": summary.error,
        "store": str(settings.store),
    }


def run_prefect(config: Path) -> dict[str, Any]:
    """Run the Prefect flow as `skm-etl run` does; only its total is timed."""
    from flows.nightly import nightly
    from skm_etl.pipeline import RunSummary

    started = time.perf_counter()
    state = nightly(config_path=str(config), return_state=True)
    total = time.perf_counter() - started
    summary = state.result(raise_on_failure=False)
    ok = isinstance(summary, RunSummary) and summary.published
    return {
        "ok": ok,
        "total_s": total,
        "peak_rss_mb": _lifetime_peak_mb(),
        "files": len(summary.files) if isinstance(summary, RunSummary) else 0,
    }


def run_baseline(baseline_csv: Path) -> dict[str, Any]:
    """Compute unit × unsur IKM straight from the plain CSV in one DuckDB statement."""
    import duckdb

    from skm_etl.reference.catalog import load_reference

    questionnaire = load_reference().questionnaire
    unsur_of = {item.code: item.unsur_code for item in questionnaire.items}
    parameters = [
        str(baseline_csv),
        [unsur_of[question] for question in BASELINE_QUESTIONS],
        float(questionnaire.scale),
    ]
    con = duckdb.connect()
    try:
        started = time.perf_counter()
        rows = con.execute(BASELINE_SQL, parameters).fetchall()
        total = time.perf_counter() - started
    finally:
        con.close()
    return {"ok": True, "total_s": total, "rows": rows, "peak_rss_mb": _lifetime_peak_mb()}


def _reset_peak() -> None:
    """Start a new RSS high-water mark (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _current_peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _lifetime_peak_mb()


def _lifetime_peak_mb() -> float:
    """Peak RSS of this process and of its waited-for children (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _child_main(argv: list[str]) -> int:
    mode, path = argv[0], Path(argv[1])
    runners = {"pipeline": run_pipeline, "prefect": run_prefect, "baseline": run_baseline}
    result = runners[mode](path)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "child":
        sys.exit(_child_main(sys.argv[2:]))
    print(
        "usage: python -m skm_etl.bench.run child pipeline|prefect|baseline PATH", file=sys.stderr
    )
    sys.exit(2)
