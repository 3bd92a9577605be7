"""`skm-etl bench`: time the nightly job on synthetic national data against a DuckDB baseline.

One bench run does, in this order (generation is not timed):

1. generate N responses as export files (`skm_etl.bench.generate`), a one-file inbox for
   the fixed cost, and a small many-file inbox for Prefect's overhead;
2. run the pipeline's phase functions directly (no Prefect) on the one-file inbox: the
   fixed cost, what a run costs however little data comes in;
3. the same on the full inbox, each phase timed with its peak memory;
4. the baseline: DuckDB computing the same unit × unsur indices straight from the same
   export files (the sapaapip CSVs of the inbox and the Google Forms CSVs config.yaml
   declares) in one SQL statement, leaving out the rows the pipeline rejects; then, for
   comparison, the plain baseline: the same indices from `baseline.csv` (the valid
   responses as plain integers). Both are checked against `marts.skm_unit_unsur`;
5. Prefect's overhead, once: the flow and the direct phases on two copies of the small
   inbox;
6. with `increment`, a nightly run after new files with that share of new responses.

Every run is a fresh Python process (`python -m skm_etl.bench.run child …`), so imports
count where a nightly run pays them and each run's peak RSS is its own. The last printed
line is one JSON object with `responses`, `pipeline_s`, `fixed_s`, `baseline_s` (the
export-file baseline), `ratio` = (pipeline_s − fixed_s) / baseline_s, `baseline_plain_s`
and `ratio_plain` (the same against the plain baseline), and `peak_rss_mb`, the largest
peak RSS of the pipeline runs (the process and its children).

The full data set is generated as CSV only (`generate(..., xlsx=False)`): DuckDB reads
CSV, and the baseline must read the very files the pipeline reads.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from skm_etl.sources.constants import AGE_PATTERN, INTEGER_PATTERN

PREFECT_RESPONSES = 2_000
PREFECT_UNITS = 13  # 39 files: Prefect's cost grows with the number of tasks
FIXED_RESPONSES = 100
# the phases of a direct run, in the order printed
PHASES = (
    "prepare",
    "read_wait",
    "load",
    "file_other",
    "docs",
    "dbt",
    "publish",
)
# time spent in the pipeline's read threads (each file is hashed, archived, read, keyed and
# validated there); keys and validate are part of read_threads
BUSY = (("read_threads", "read_threads"), ("keys", "  keys"), ("validate", "  validate"))
# The plain baseline's CSV (bench.generate.BASELINE_COLUMNS) and one statement over it:
# per unit and year the sum and count of every question, then each question's unsur
# (bound as a list, in question order) pools them, as SPEC §3 does.
BASELINE_QUESTIONS = tuple(f"q{n}" for n in range(1, 12))
BASELINE_CSV_COLUMNS = (
    "{'unit_code': 'VARCHAR', 'survey_year': 'INTEGER', 'layanan_code': 'VARCHAR', "
    + ", ".join(f"'{q}': 'SMALLINT'" for q in BASELINE_QUESTIONS)
    + "}"
)
# the unsur pooling shared by both baselines: `per_unit` holds one row per unit, year and
# file (or group of rows) with the sums and answer counts of questions 1-11 as lists
_POOLED_SELECT = f"""
questions as (
    select
        unnest($unsur::varchar[]) as unsur_code,
        unnest(range(1, {len(BASELINE_QUESTIONS) + 1})) as position
)
select
    unit_code,
    survey_year,
    unsur_code,
    sum(score_sums[position])::double / sum(answer_counts[position]) / $scale * 100 as ikm
from per_unit
cross join questions
group by unit_code, survey_year, unsur_code
order by unit_code, survey_year, unsur_code
"""  # noqa: S608 - the question count is a constant; the unsur list and scale are bound
PLAIN_BASELINE_SQL = f"""
with per_unit as (
    select
        unit_code,
        survey_year,
        [{", ".join(f"sum({q})" for q in BASELINE_QUESTIONS)}] as score_sums,
        [{", ".join(f"count({q})" for q in BASELINE_QUESTIONS)}] as answer_counts
    from read_csv($path, header = true, columns = {BASELINE_CSV_COLUMNS})
    group by unit_code, survey_year
),
{_POOLED_SELECT}"""  # noqa: S608 - question names are constants; path, unsur list and scale are bound

# The export-file baseline reads the export files the pipeline reads, every cell as text,
# columns by position (the layouts bench.constants.SAPAAPIP_HEADER and FORMS_* write):
# the sapaapip tabulations in the inbox (metadata rows, the two-row header and its
# page-break repeats are told apart by their first cell) and the Google Forms CSVs that
# config.yaml's `sources:` declare, with their unit and year. It keeps the rows the
# pipeline accepts by the same plain rules as the validation suite:
# - every score, where given, a whole number ("5", "5.0"; sapaapip) or one of the item's
#   answer labels (forms; case and punctuation ignored) from 1 to the scale, and none of
#   questions 1-11 blank;
# - the age blank or a number ("25", "25 tahun") within the suite's bounds;
# - the layanan's compact key (case and separators dropped) one of the catalogue's
#   names, aliases and codes.
# The suite's other checks (submission time, completion percentage, survey year, repeated
# submissions) are not repeated: no generated row fails them. Cells spelled exactly as the
# catalogue or the questionnaire writes them skip the text-key regex (CASE / COALESCE
# evaluate it only for the rest), as the pipeline's readers key each distinct value once.
# Unit names (a sapaapip file's "Unit Kerja" row, a form's `sources:` entry) map to
# codes through units.csv: names, codes and aliases with case, accents and punctuation
# folded, as the pipeline's registry does. Bound: the file glob and lists, units.csv, the
# label and layanan keys, the age bounds, the scale and the unsur of each question.
EXPORT_ITEMS = (
    *BASELINE_QUESTIONS,
    *(f"q{n}" for n in range(12, 15)),
    *(f"ak{n}" for n in range(1, 6)),
)
SAPAAPIP_COLUMNS = (
    "no",
    "submitted_at",
    "layanan",
    "age",
    "sex",
    "education",
    "occupation",
    "completion",
    *EXPORT_ITEMS,
    "saran",
)
FORMS_COLUMNS = (
    "submitted_at",
    "respondent_name",
    "age",
    "sex",
    "phone",
    "education",
    "occupation",
    "instansi",
    "layanan",
    "completion",
    *EXPORT_ITEMS,
    "saran",
)
# text keys as skm_etl.reference.model computes them (without its NFKC step)
_TEXT_KEY = r"trim(regexp_replace(lower({}), '[^\p{{L}}\p{{N}}]+', ' ', 'g'))"
_COMPACT_KEY = r"regexp_replace(lower({}), '[^\p{{L}}\p{{N}}]+', '', 'g')"
_NAME_KEY = r"trim(regexp_replace(lower(strip_accents({})), '[^a-z0-9]+', ' ', 'g'))"
_READ_OPTIONS = (
    "all_varchar = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
    "filename = true"
)


def _columns_struct(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in names) + "}"


def _sapaapip_score(item: str) -> str:
    return (
        f"case when length({item}) = 1 then try_cast({item} as integer) "
        f"else try_cast(regexp_extract({item}, '{INTEGER_PATTERN}', 1) as integer) end as s_{item}"
    )


def _forms_score(position: int, item: str) -> str:
    # the label's key is its lower-case text for most spellings; COALESCE computes the
    # full key only for the cells that fast path misses (doubled spaces, punctuation)
    labels = f"$labels[{position}]"
    return (
        f"coalesce(list_position({labels}, lower({item})), "
        f"list_position({labels}, {_TEXT_KEY.format(item)})) as s_{item}"
    )


def _valid_row() -> str:
    """The plain rules, on the raw cells and the scores `s_<item>` read from them."""
    checks = [
        # most cells spell a name, alias or code as the catalogue does; only the others
        # need their compact key (a regex on every row costs about as much as the reading)
        "case when list_contains($layanan_spellings, layanan) then true "
        f"else coalesce(list_contains($layanan, {_COMPACT_KEY.format('layanan')}), false) end",
        f"(age is null or coalesce(try_cast(regexp_extract(lower(age), '{AGE_PATTERN}', 1) as integer)"
        " between $age_min and $age_max, false))",
    ]
    for item in EXPORT_ITEMS:
        in_range = f"coalesce(s_{item} between 1 and $scale, false)"
        checks.append(in_range if item in BASELINE_QUESTIONS else f"({item} is null or {in_range})")
    return "\n            and ".join(checks)


def _per_file(scores: str, source: str, response: str, metadata: str = "") -> str:
    """Sums and counts of questions 1-11 per file over its response rows that are valid.

    No WHERE: a filter would be pushed down into the scan with the score expressions
    inlined, which DuckDB then evaluates twice; the aggregates' FILTER reads a column.
    """
    return f"""
    select
        filename,{metadata}
        [{", ".join(f"sum(s_{q}) filter (where counted)" for q in BASELINE_QUESTIONS)}]
            as score_sums,
        [{", ".join(f"count(s_{q}) filter (where counted)" for q in BASELINE_QUESTIONS)}]
            as answer_counts
    from (
        select
            *,
            {response}
            and {_valid_row()} as counted
        from (
            select
            *,
            {scores}
            from {source}
        )
    )
    group by filename
"""  # noqa: S608 - built from this module's constants only


_SAPAAPIP_FILES = _per_file(
    ",\n            ".join(_sapaapip_score(item) for item in EXPORT_ITEMS),
    "read_csv($sapaapip, header = false, null_padding = true, "
    f"{_READ_OPTIONS}, columns = {_columns_struct(SAPAAPIP_COLUMNS)})",
    # a response row starts with its number; "Tahun : 2025" and "Unit Kerja : …" rows
    # hold the label in the first cell and the value in the third
    "try_cast(no as integer) is not null",
    "\n        max(layanan) filter (where lower(no) = 'unit kerja') as unit_name,"
    "\n        max(try_cast(layanan as integer)) filter (where lower(no) = 'tahun') as survey_year,",
)
_FORMS_FILES = _per_file(
    ",\n            ".join(_forms_score(n, item) for n, item in enumerate(EXPORT_ITEMS, start=1)),
    f"read_csv($forms, header = true, {_READ_OPTIONS}, columns = {_columns_struct(FORMS_COLUMNS)})",
    "true",
)
_EXPORT_CTES = {
    "sapaapip": f"""
sapaapip_files as ({_SAPAAPIP_FILES}),
sapaapip_units as (
    select unit_name, survey_year, score_sums, answer_counts from sapaapip_files
)""",  # noqa: S608 - built from this module's constants only
    "forms": f"""
forms_files as ({_FORMS_FILES}),
forms_units as (
    select sources.unit_name, sources.survey_year, score_sums, answer_counts
    from forms_files
    join (select unnest($form_sources, recursive := true)) as sources
        on sources.path = forms_files.filename
)""",  # noqa: S608 - built from this module's constants only
}
_EXPORT_TAIL = f"""
unit_keys as (
    select distinct unit_code, {_NAME_KEY.format("name")} as name_key
    from (
        select
            unit_code,
            unnest(list_concat([unit_name, unit_code], string_split(coalesce(aliases, ''), ';')))
                as name
        from read_csv($units, header = true, all_varchar = true, auto_detect = false,
            columns = {_columns_struct(("unit_code", "unit_name", "unit_type", "province", "aliases"))})
    )
    where name <> ''
),
per_unit as (
    select unit_keys.unit_code, files.survey_year, files.score_sums, files.answer_counts
    from files
    join unit_keys on unit_keys.name_key = {_NAME_KEY.format("files.unit_name")}
),
{_POOLED_SELECT}"""  # noqa: S608 - built from this module's constants only


def _export_sql(kinds: tuple[str, ...]) -> str:
    ctes = ",".join(_EXPORT_CTES[kind] for kind in kinds)
    files = " union all ".join(f"select * from {kind}_units" for kind in kinds)  # noqa: S608
    return f"with {ctes},\nfiles as ({files}),{_EXPORT_TAIL}"  # noqa: S608 - constants only


# the statement for each mix of export kinds a tree holds (read_csv needs one file at least)
EXPORT_BASELINE_SQL = {
    kinds: _export_sql(kinds) for kinds in (("sapaapip", "forms"), ("sapaapip",), ("forms",))
}


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
        # CSV only: the baseline reads the same export files, and DuckDB reads no XLSX
        full = generate(root / "full", responses, units=units, xlsx=False)
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
        baseline = _child("baseline", full.config)
        check = _compare(full_run, baseline)
        baseline_plain = _child("baseline_plain", full.baseline_csv)
        check_plain = _compare(full_run, baseline_plain)
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
        failed = any(not run.get("ok") for run in runs) or not (check["ok"] and check_plain["ok"])
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
        baseline_plain_s = baseline_plain["total_s"]
        ratio_plain = (
            (pipeline_s - fixed_s) / baseline_plain_s if baseline_plain_s > 0 else math.inf
        )
        _print_report(
            full=full_run,
            fixed=fixed_run,
            baseline=baseline,
            baseline_plain=baseline_plain,
            flow=flow,
            direct=direct,
            increment=increment_run,
            check=check,
            check_plain=check_plain,
            files=len(full.files),
        )
        result: dict[str, Any] = {
            "responses": responses,
            "pipeline_s": round(pipeline_s, 3),
            "fixed_s": round(fixed_s, 3),
            "baseline_s": round(baseline_s, 3),
            "ratio": round(ratio, 3),
            "baseline_plain_s": round(baseline_plain_s, 3),
            "ratio_plain": round(ratio_plain, 3),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs if "peak_rss_mb" in r), 1),
            "files": len(full.files),
            "phases_s": {k: round(v, 3) for k, v in full_run["phases"].items()},
            "fixed_phases_s": {k: round(v, 3) for k, v in fixed_run["phases"].items()},
            "read_threads_s": {k: round(v, 3) for k, v in full_run["busy_s"].items()},
            "fixed_runs_s": [round(r["total_s"], 3) for r in fixed_runs_done],
            "prefect_overhead_s": (
                round(flow["total_s"] - direct["total_s"], 3) if flow and direct else None
            ),
            "prefect_files": flow.get("files", 0) if flow else None,
            "max_ikm_difference": check["max_difference"],
            "max_ikm_difference_plain": check_plain["max_difference"],
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
    baseline_plain: dict[str, Any],
    flow: dict[str, Any] | None,
    direct: dict[str, Any] | None,
    increment: dict[str, Any] | None,
    check: dict[str, Any],
    check_plain: dict[str, Any],
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
    print("work in the read threads, overlapping the phases above (thread seconds):")
    for name, label in BUSY:
        line = f"{label:<12}{full['busy_s'].get(name, 0.0):>10.2f}{'':>10}"
        line += f"{fixed['busy_s'].get(name, 0.0):>10.2f}{'':>10}"
        if increment:
            line += f"{increment['busy_s'].get(name, 0.0):>10.2f}"
        print(line)
    print(
        f"process wall incl. interpreter start and imports: full {full['process_s']:.2f} s, "
        f"fixed {fixed['process_s']:.2f} s"
    )
    print(
        f"full run: {files} files, accepted {full['rows_accepted']}, rejected "
        f"{full['rows_rejected']}, exit {full['exit_code']}"
    )
    print(
        f"baseline (DuckDB, one statement over the {files} export files): "
        f"{baseline['total_s']:.3f} s, {len(baseline['rows'])} unit x unsur cells; "
        f"marts agree: {check['ok']} (max |IKM difference| {check['max_difference']})"
    )
    print(
        f"plain baseline (DuckDB, one statement over baseline.csv, the valid responses as "
        f"integers): {baseline_plain['total_s']:.3f} s, {len(baseline_plain['rows'])} cells; "
        f"marts agree: {check_plain['ok']} (max |IKM difference| {check_plain['max_difference']})"
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
    peak; enclosing phases and `overall_peak_mb` still see every peak. Phases are the main
    thread's; a wrapped function called by another thread (the pipeline's read threads)
    adds its time to `busy` instead, which overlaps the main thread's phases.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.busy: dict[str, float] = {}
        self.overall_peak_mb = 0.0
        self._stack: list[list[float]] = []  # [started, time in nested phases, peak MB]
        self._busy_lock = threading.Lock()

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
            if threading.current_thread() is not threading.main_thread():
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    with self._busy_lock:
                        spent = time.perf_counter() - started
                        self.busy[name] = self.busy.get(name, 0.0) + spent
            with self.phase(name):
                return function(*args, **kwargs)

        return timed


@contextmanager
def _patched(timer: PhaseTimer) -> Iterator[None]:
    """Time the steps inside the pipeline's per-file function without changing what runs."""
    from skm_etl import pipeline
    from skm_etl.load import warehouse

    targets = [
        (pipeline, "_read_files", "read_threads"),  # in the read threads, as are keys, validate
        (pipeline, "_await_read", "read_wait"),  # the main thread waiting for a read
        (pipeline, "_validate", "validate"),
        (warehouse, "add_response_keys", "keys"),
        (warehouse, "load_batches", "load"),
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
            sources = pipeline.files_of_the_night(settings, prepared, summary, [])
        with timer.phase("file_other"), _patched(timer):
            summary.files.extend(
                pipeline.process_files(settings, prepared, sources, summary.run_id)
            )
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
        "busy_s": timer.busy,
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


def run_baseline(path: Path) -> dict[str, Any]:
    """Compute unit × unsur IKM straight from the export files in one DuckDB statement.

    path: a generated tree's config.yaml, or the folder holding it. The statement reads
    the inbox's sapaapip CSVs and the Google Forms CSVs config.yaml declares (see
    EXPORT_BASELINE_SQL); only the statement is timed.
    """
    from skm_etl.reference.catalog import load_reference
    from skm_etl.reference.model import text_key
    from skm_etl.settings import load_settings
    from skm_etl.validate.gx_runner import DEFAULT_SUITE_PATH
    from skm_etl.validate.suite import load_suite

    config = path / "config.yaml" if path.is_dir() else path
    settings = load_settings(config)
    reference = load_reference()
    questionnaire = reference.questionnaire
    if tuple(item.code for item in questionnaire.items) != EXPORT_ITEMS:
        raise ValueError(f"the export baseline expects the items {EXPORT_ITEMS} in this order")
    if settings.inbox is None or settings.units is None:
        raise ValueError(f"{config}: the export baseline needs `inbox:` and `units:`")
    inbox = settings.inbox.resolve()
    other = sorted(p.name for p in inbox.iterdir() if p.is_file() and p.suffix != ".csv")
    if other:
        raise ValueError(
            f"the export baseline reads CSV only, but {inbox} also holds {other[:3]}: "
            "generate the data set with xlsx=False"
        )
    forms = [s for s in settings.sources if s.kind == "google_forms" and s.path is not None]
    if len(forms) != len(settings.sources):
        raise ValueError("the export baseline reads only Google Forms sources given by path")
    unsur_of = {item.code: item.unsur_code for item in questionnaire.items}
    age = next(
        e["kwargs"]
        for e in load_suite(DEFAULT_SUITE_PATH).document["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
        and e["kwargs"].get("column") == "respondent_age"
    )
    kinds = tuple(
        kind
        for kind, present in (("sapaapip", any(inbox.glob("*.csv"))), ("forms", bool(forms)))
        if present
    )
    parameters: dict[str, Any] = {
        "sapaapip": str(inbox / "*.csv"),
        "forms": [str(source.path.resolve()) for source in forms],
        "form_sources": [
            {"path": str(s.path.resolve()), "unit_name": s.unit, "survey_year": s.year}
            for s in forms
        ],
        "units": str(settings.units),
        "layanan": sorted(reference.layanan_keys()),
        "layanan_spellings": sorted(
            {text for x in reference.layanan for text in (x.code, x.name, *x.aliases)}
        ),
        "labels": [[text_key(label) for label in item.labels] for item in questionnaire.items],
        "age_min": int(age["min_value"]),
        "age_max": int(age["max_value"]),
        "scale": settings.scale,
        "unsur": [unsur_of[question] for question in BASELINE_QUESTIONS],
    }
    sql = EXPORT_BASELINE_SQL[kinds]
    # DuckDB refuses named parameters a statement does not use
    parameters = {k: v for k, v in parameters.items() if re.search(rf"\${k}\b", sql)}
    return _timed_baseline(sql, parameters)


def run_baseline_plain(baseline_csv: Path) -> dict[str, Any]:
    """Compute unit × unsur IKM from the plain CSV of valid responses in one DuckDB statement."""
    from skm_etl.reference.catalog import load_reference

    questionnaire = load_reference().questionnaire
    unsur_of = {item.code: item.unsur_code for item in questionnaire.items}
    parameters = {
        "path": str(baseline_csv),
        "unsur": [unsur_of[question] for question in BASELINE_QUESTIONS],
        "scale": float(questionnaire.scale),
    }
    return _timed_baseline(PLAIN_BASELINE_SQL, parameters)


def _timed_baseline(sql: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Run one baseline statement on a fresh in-memory DuckDB; time only the statement."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")  # no bar on stdout
        started = time.perf_counter()
        rows = con.execute(sql, parameters).fetchall()
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
    runners = {
        "pipeline": run_pipeline,
        "prefect": run_prefect,
        "baseline": run_baseline,
        "baseline_plain": run_baseline_plain,
    }
    result = runners[mode](path)
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "child":
        sys.exit(_child_main(sys.argv[2:]))
    print(
        "usage: python -m skm_etl.bench.run child pipeline|prefect|baseline|baseline_plain PATH",
        file=sys.stderr,
    )
    sys.exit(2)
