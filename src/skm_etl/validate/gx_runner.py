"""Run the response suite with Great Expectations over a Polars frame, chunk by chunk.

GX 1.x validates pandas DataFrames, not Polars, so the frame is converted with
`to_pandas()` one chunk at a time to keep memory bounded on national loads. The GX
context, data source, batch definition and suite are built once per call; each chunk only
becomes a new batch. The context is ephemeral: nothing is written to a `gx/` folder, and
GX 1.24 sends no usage statistics (analytics are also switched off in its config).

Row-level failures come from GX's `unexpected_index_list`. Each chunk's pandas index is
the rows' position in the whole frame, so the list holds frame positions, which are then
looked up in the Polars frame for `source_row` and the reported value. This is used
instead of `unexpected_index_column_names=["source_row"]`, which makes GX build a dict per
failing row with `DataFrame.at` in a Python loop, and it reports values with their Polars
dtype (score `7`, not `7.0`).

A double submission is marked before GX runs: `response_key_occurrence` numbers the rows
sharing a `response_key` in frame order (file order), and the suite expects it to be 1.
So only the later copies fail, and copies in different chunks are still caught, which
GX's per-batch uniqueness check could not do.

When GX itself fails (an exception inside an expectation, or while building a batch),
`ValidationError` is raised: the pipeline rejects the file with that message rather than
guessing which rows are good.
"""

from __future__ import annotations

import dataclasses
import html
import re
import threading
from collections import Counter
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from skm_etl.masking import masked
from skm_etl.validate import native
from skm_etl.validate.outcome import (
    FAILURE_SCHEMA,
    ValidationError,
    ValidationOutcome,
)
from skm_etl.validate.suite import Rule, SuiteFile, load_suite

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_SUITE_PATH = Path(__file__).resolve().parents[3] / "expectations" / "responses.json"
OCCURRENCE_COLUMN = "response_key_occurrence"
RESULTS_STORE_DIR = ".validation_results"  # inside data_docs_dir; the site is built from it
DATA_DOCS_SITE = "skm_etl"
PARTIAL_ROWS = 20  # failing rows shown per expectation in Data Docs
_PART = "__file"  # which file a row of a stacked frame comes from
# Files of up to this many rows are evaluated stacked (`validate_parts`): a file's queries
# cost about 3 ms whatever its size, its rows about 0.5 µs each. A bigger file spreads the
# 3 ms over its rows, and stacking big files held about 250 MB more at the peak of a
# 10M-response load for no measurable saving.
STACKED_FILE_ROWS = 5_000

# pandas' datetime64[ns] ends in April 2262; a later typo (3024) is clipped to stay "future".
_NS_MIN = datetime(1678, 1, 1)
_NS_MAX = datetime(2262, 1, 1)

_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "exclude_unexpected_values": True,  # values are read from the Polars frame instead
    "partial_unexpected_count": 0,  # skips GX's Counter over every unexpected value
    "return_unexpected_index_query": False,
    "include_unexpected_rows": False,
}


def validate_responses(
    frame: pl.DataFrame,
    *,
    scale: int,
    known_layanan_codes: Collection[str],
    survey_year: int,
    chunk_rows: int = 200_000,
    data_docs_dir: Path | None = None,
    batch_name: str = "batch",
    suite_path: Path = DEFAULT_SUITE_PATH,
    engine: str = "auto",
) -> ValidationOutcome:
    """Validate a normalised response frame (plus `response_key`) against the suite.

    Takes the frame of docs/ARCHITECTURE.md with a `response_key` column, the answer
    scale, the layanan catalogue codes and the file's survey year (the suite parameters).
    Returns one failure row per failing row and expectation, with the reason from the
    expectation's `meta`. With `data_docs_dir`, also writes a GX Data Docs site there,
    holding one validation result per `batch_name` (a later run of the same name replaces
    it), and returns its index.html.

    `engine`: "auto" evaluates the suite with `native` (Polars, GX's semantics) when it
    holds only expectation types that module knows, else with GX; "gx" always uses GX,
    chunk by chunk. The Data Docs site is written by GX either way.

    Raises `ValidationError` when the frame lacks required columns or GX cannot run; the
    message is meant for `ops.rejected_files`.
    """
    _check_options(engine, chunk_rows)
    suite = load_suite(suite_path)
    _check_required_columns(frame, suite)
    parameters = _expectation_parameters(scale, known_layanan_codes, survey_year, datetime.now())
    prepared = mark_repeated_keys(frame)

    first_meta: dict[str, Any] | None = None
    if engine == "auto" and native.supports(suite):
        tallies, table_result = _native_tallies(prepared, suite, parameters)
    else:
        with _GX_LOCK:
            tallies, table_result, first_meta = _gx_tallies(
                _session(suite, data_docs_dir), suite, prepared, parameters, chunk_rows
            )

    failures = _failures(prepared, tallies, {"scale": scale, "survey_year": survey_year})
    outcome = _outcome(
        suite,
        batch_name,
        (tallies, table_result),
        failures,
        _shown(failures),
        first_meta,
        parameters,
        survey_year=survey_year,
        rows=prepared.height,
        chunk_rows=chunk_rows,
    )
    if data_docs_dir is None:
        return outcome
    index = write_data_docs(data_docs_dir, batch_name, [outcome.report])
    return dataclasses.replace(outcome, data_docs_index=index)


def validate_parts(
    frames: dict[Hashable, pl.DataFrame],
    *,
    years: dict[Hashable, int],
    names: dict[Hashable, str],
    scale: int,
    known_layanan_codes: Collection[str],
    chunk_rows: int = 200_000,
    suite_path: Path = DEFAULT_SUITE_PATH,
    engine: str = "auto",
) -> dict[Hashable, ValidationOutcome | ValidationError]:
    """`validate_responses` for several files' frames (with the same columns) at once.

    `years` gives each file's survey year and `names` its batch name. Each file's outcome
    is what `validate_responses` gives on its frame alone, or the ValidationError it
    raises. The native engine evaluates the suite over the small files of a survey year
    stacked into one frame (up to STACKED_FILE_ROWS rows each): its cost is mostly per
    query, so a batch of small files costs about what one file of all their rows does.
    GX validates file by file.
    """
    _check_options(engine, chunk_rows)
    suite = load_suite(suite_path)
    if not (engine == "auto" and native.supports(suite)):
        return {
            key: _validated_alone(
                frame,
                scale=scale,
                known_layanan_codes=known_layanan_codes,
                survey_year=years[key],
                chunk_rows=chunk_rows,
                batch_name=names[key],
                suite_path=suite_path,
                engine=engine,
            )
            for key, frame in frames.items()
        }
    outcomes: dict[Hashable, ValidationOutcome | ValidationError] = {}
    for key, frame in frames.items():
        try:
            _check_required_columns(frame, suite)
        except ValidationError as error:
            outcomes[key] = error
    now = datetime.now()
    # the small files of each survey year together, each bigger one alone
    stacks: dict[tuple[int, bool, Hashable], list[Hashable]] = {}
    for key, frame in frames.items():
        if key not in outcomes:
            alone = frame.height > STACKED_FILE_ROWS
            stacks.setdefault((years[key], alone, key if alone else None), []).append(key)
    for (year, _, _), keys in stacks.items():
        parameters = _expectation_parameters(scale, known_layanan_codes, year, now)
        try:
            found = _stacked_outcomes([frames[key] for key in keys], suite, parameters, year)
        except native.NativeEvaluationError as error:
            outcomes.update(dict.fromkeys(keys, _could_not_run_natively(error)))
            continue
        for key, (evaluated, failures, shown, rows) in zip(keys, found, strict=True):
            outcomes[key] = _outcome(
                suite,
                names[key],
                evaluated,
                failures,
                shown,
                None,
                parameters,
                survey_year=year,
                rows=rows,
                chunk_rows=chunk_rows,
            )
    return {key: outcomes[key] for key in frames}


def _stacked_outcomes(
    frames: list[pl.DataFrame], suite: SuiteFile, parameters: dict[str, Any], year: int
) -> list[tuple[tuple[dict[Rule, _Tally], Any], pl.DataFrame, pl.DataFrame, int]]:
    """Evaluate files of one survey year stacked: each one's tallies, failures, the failing
    rows Data Docs show, and its row count. Raises NativeEvaluationError."""
    part = _PART if len(frames) > 1 else None
    stacked = (
        pl.concat(
            [f.with_columns(pl.lit(i, dtype=pl.Int32).alias(_PART)) for i, f in enumerate(frames)],
            rechunk=False,
        )
        if part
        else frames[0]
    )
    prepared = mark_repeated_keys(stacked, part)
    indexes = list(range(len(frames)))
    results = native.evaluate_parts(prepared, suite, parameters, part, indexes)
    evaluated = [_tallies_of(results[i]) for i in indexes]
    # every file's failing rows looked up in one pass, then split by file
    failing = {
        rule: _Tally(config=None, positions=[p for t, _ in evaluated for p in t[rule].positions])
        for rule in evaluated[0][0]
    }
    failures = _failures(
        prepared, failing, {"scale": parameters["scale"], "survey_year": year}, part=part
    )
    if part is None:
        return [(evaluated[0], failures, _shown(failures), prepared.height)]
    by_file = failures.partition_by(part, as_dict=True, include_key=False)
    shown = _shown(failures, part).partition_by(part, as_dict=True, include_key=False)
    none = failures.clear().drop(part)
    none_shown = _shown(none)
    return [
        (evaluated[i], by_file.get((i,), none), shown.get((i,), none_shown), frames[i].height)
        for i in indexes
    ]


def _validated_alone(frame: pl.DataFrame, **options: Any) -> ValidationOutcome | ValidationError:
    try:
        return validate_responses(frame, **options)
    except ValidationError as error:
        return error


def _check_options(engine: str, chunk_rows: int) -> None:
    if engine not in ("auto", "gx"):
        raise ValueError(f"engine must be 'auto' or 'gx', got {engine!r}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")


def _expectation_parameters(
    scale: int, known_layanan_codes: Collection[str], survey_year: int, now: datetime
) -> dict[str, Any]:
    """The suite's parameters; `now` is naive local time like `submitted_at`, and the extra
    day also absorbs time-zone offsets."""
    return {
        "scale": scale,
        "known_layanan_codes": sorted(set(known_layanan_codes)),
        "survey_years": [survey_year],
        "submitted_at_max": now + timedelta(days=1),
    }


def _outcome(
    suite: SuiteFile,
    batch_name: str,
    evaluated: tuple[dict[Rule, _Tally], Any],
    failures: pl.DataFrame,
    shown: pl.DataFrame,
    meta: dict[str, Any] | None,
    parameters: dict[str, Any],
    *,
    survey_year: int,
    rows: int,
    chunk_rows: int,
) -> ValidationOutcome:
    """One batch's outcome and Data Docs report from its tallies and failing rows."""
    tallies, table_result = evaluated
    success = all(t.success for t in tallies.values()) and (
        table_result is None or bool(table_result.success)
    )
    report = BatchReport(
        name=batch_name,
        suite=suite,
        success=success,
        tallies={rule: tally.summary() for rule, tally in tallies.items()},
        table_result=table_result,
        failures_shown=shown,
        meta=meta,
        parameters={
            "scale": parameters["scale"],
            "survey_year": survey_year,
            "known_layanan_codes": len(parameters["known_layanan_codes"]),
            "submitted_at_max": parameters["submitted_at_max"].isoformat(),
            "rows": rows,
            "chunk_rows": chunk_rows,
        },
    )
    return ValidationOutcome(
        failures=failures.drop("rule_position"),
        expectations_evaluated=len(suite.rules),
        success=success,
        report=report,
    )


def _shown(failures: pl.DataFrame, part: str | None = None) -> pl.DataFrame:
    """The failing rows Data Docs show: the first PARTIAL_ROWS of each expectation (of
    each file, with `part`)."""
    by = [part, "rule_position"] if part else ["rule_position"]
    return (
        failures.select(*by, "source_row", "value")
        .group_by(by, maintain_order=True)
        .head(PARTIAL_ROWS)
    )


@dataclass(frozen=True)
class BatchReport:
    """What Data Docs show of one validated batch, kept small so a run can hold hundreds.

    `validate_responses` returns one in `ValidationOutcome.report`; `write_data_docs`
    turns one or many into a page.
    """

    name: str
    suite: SuiteFile
    success: bool
    tallies: dict[Rule, _Tally]  # counts only, without failing positions
    table_result: Any
    failures_shown: pl.DataFrame  # source_row, value, rule_position: the first rows per rule
    meta: dict[str, Any] | None
    parameters: dict[str, Any]


def write_data_docs(data_docs_dir: Path, batch_name: str, reports: list[BatchReport]) -> Path:
    """Write one Data Docs result for `batch_name` from batch reports; build its page and the index.

    With one report this is the page `validate_responses(data_docs_dir=...)` writes. With
    many (a run's files), counts are summed per expectation, the batch succeeds when every
    file did, and each shown failing row is named `file:row`. Building a page costs a
    fraction of a second and the index reads every stored result, so a run writes one
    page for all its files rather than one per file.

    Raises `ValidationError` when GX cannot write the site.
    """
    if not reports:
        raise ValueError("write_data_docs needs at least one batch report")
    first = reports[0]
    if len(reports) == 1:
        tallies, table_result = first.tallies, first.table_result
        failures, parameters = first.failures_shown, first.parameters
    else:
        tallies = {}
        for report in reports:
            for rule, tally in report.tallies.items():
                tallies[rule] = tallies[rule].merged(tally) if rule in tallies else tally
        tables = [r.table_result for r in reports if r.table_result is not None]
        table_result = next((t for t in tables if not t.success), tables[0] if tables else None)
        failures = (
            pl.concat(
                [
                    r.failures_shown.select(
                        pl.format("{}:{}", pl.lit(_html_text(r.name)), "source_row").alias(
                            "source_row"
                        ),
                        "value",
                        "rule_position",
                    )
                    for r in reports
                ]
            )
            .group_by("rule_position", maintain_order=True)
            .head(PARTIAL_ROWS)
        )
        parameters = {
            **{k: v for k, v in first.parameters.items() if k not in ("rows", "survey_year")},
            "batches": len(reports),
            "rows": sum(int(r.parameters.get("rows", 0)) for r in reports),
            "survey_years": sorted({r.parameters.get("survey_year") for r in reports} - {None}),
        }
    with _GX_LOCK:
        session = _session(first.suite, data_docs_dir)
        return session.write_data_docs(
            batch_name=batch_name,
            success=all(r.success for r in reports),
            tallies=tallies,
            table_result=table_result,
            failures=failures,
            meta=first.meta or _native_meta(),
            parameters=parameters,
        )


def mark_repeated_keys(frame: pl.DataFrame, part: str | None = None) -> pl.DataFrame:
    """Add `response_key_occurrence`: 1 for a key's first row in frame order, 2, 3 … after
    (within each file, when the `part` column says which file a row comes from)."""
    key = pl.col("response_key")
    # Numbering within each key is a group-by over millions of keys; repeats are rare, so
    # the cheaper is_first_distinct() decides whether it is needed at all.
    has_repeats = not frame.select((key.is_first_distinct() | key.is_null()).all()).item()
    within = [part, "response_key"] if part else ["response_key"]
    occurrence = pl.int_range(pl.len()).over(within) + 1 if has_repeats else pl.lit(1)
    return frame.with_columns(
        pl.when(key.is_not_null()).then(occurrence.cast(pl.Int64)).alias(OCCURRENCE_COLUMN),
    )


def _gx_tallies(
    session: _GxSession,
    suite: SuiteFile,
    prepared: pl.DataFrame,
    expectation_parameters: dict[str, Any],
    chunk_rows: int,
) -> tuple[dict[Rule, _Tally], Any, dict[str, Any] | None]:
    """Run GX chunk by chunk; sum each expectation's counts and failing positions."""
    tallies: dict[Rule, _Tally] = {}
    first_meta: dict[str, Any] | None = None
    table_result: Any = None
    for offset in range(0, max(prepared.height, 1), chunk_rows):
        chunk = _to_pandas(prepared.slice(offset, chunk_rows), offset)
        result = session.validate(chunk, expectation_parameters)
        del chunk
        if first_meta is None:
            first_meta = dict(result.meta)
        for expectation_result in result.results:
            config = expectation_result.expectation_config
            rule = suite.rule_for(config.type, config.kwargs.get("column"))
            _raise_if_gx_failed(rule, expectation_result.exception_info)
            if rule.column is None:
                table_result = expectation_result
                continue
            tally = tallies.setdefault(rule, _Tally(config=config))
            tally.add(expectation_result.success, expectation_result.result)
    return tallies, table_result, first_meta


def _native_tallies(
    prepared: pl.DataFrame, suite: SuiteFile, expectation_parameters: dict[str, Any]
) -> tuple[dict[Rule, _Tally], Any]:
    """Evaluate the suite with `native` in one pass; the same tallies GX would give."""
    try:
        results = native.evaluate(prepared, suite, expectation_parameters)
    except native.NativeEvaluationError as error:
        raise _could_not_run_natively(error) from error
    return _tallies_of(results)


def _could_not_run_natively(error: native.NativeEvaluationError) -> ValidationError:
    return ValidationError(
        "validasi gagal dijalankan / validation could not run: "
        f"{error.rule.type} ({error.rule.column}): {error}; "
        "laporkan ke tim data / report this to the data team"
    )


def _tallies_of(results: list[native.RuleResult]) -> tuple[dict[Rule, _Tally], Any]:
    """The tallies (and the table expectation's result) of a native evaluation."""
    tallies: dict[Rule, _Tally] = {}
    table_result = None
    for result in results:
        if result.rule.column is None:
            table_result = result
            continue
        tally = _Tally(
            config=None,
            kwargs=result.kwargs,
            success=result.success,
            element_count=result.element_count,
            missing_count=result.missing_count,
            unexpected_count=result.unexpected_count,
        )
        if result.positions.len():
            tally.positions.append(result.positions)
        tallies[result.rule] = tally
    return tallies, table_result


_SESSIONS: dict[tuple[str, int, str | None], _GxSession] = {}
# GX runs one validation or Data Docs write at a time: the pipeline validates in its read
# threads, and the sessions below are shared
_GX_LOCK = threading.Lock()
_SESSIONS_KEPT = 4


def _session(suite: SuiteFile, data_docs_dir: Path | None) -> _GxSession:
    """Return the GX session of this suite file and Data Docs folder, built once per process.

    Building a GX context costs about half a second; a run validates hundreds of files.
    """
    path = Path(suite.path).resolve()
    site = str(Path(data_docs_dir).resolve()) if data_docs_dir is not None else None
    key = (str(path), path.stat().st_mtime_ns, site)
    session = _SESSIONS.get(key)
    if session is None:
        session = _GxSession(suite, data_docs_dir=data_docs_dir)
        if len(_SESSIONS) >= _SESSIONS_KEPT:
            _SESSIONS.pop(next(iter(_SESSIONS)))
        _SESSIONS[key] = session
    return session


@dataclass
class _Tally:
    """One expectation's counts summed over chunks, for the Data Docs result."""

    config: Any  # GX ExpectationConfiguration with the parameters filled in (GX engine)
    kwargs: dict[str, Any] | None = None  # the filled-in kwargs (native engine)
    success: bool = True
    element_count: int = 0
    missing_count: int = 0
    unexpected_count: int = 0
    positions: list[pl.Series] = field(default_factory=list)  # frame positions per chunk

    def summary(self) -> _Tally:
        """The counts without the failing positions, for a batch report."""
        return dataclasses.replace(self, positions=[])

    def merged(self, other: _Tally) -> _Tally:
        """The counts of two batches together."""
        return _Tally(
            config=self.config or other.config,
            kwargs=self.kwargs or other.kwargs,
            success=self.success and other.success,
            element_count=self.element_count + other.element_count,
            missing_count=self.missing_count + other.missing_count,
            unexpected_count=self.unexpected_count + other.unexpected_count,
        )

    def add(self, success: bool, result: dict[str, Any]) -> None:
        self.success = self.success and bool(success)
        self.element_count += int(result.get("element_count") or 0)
        self.missing_count += int(result.get("missing_count") or 0)
        self.unexpected_count += int(result.get("unexpected_count") or 0)
        positions = result.get("unexpected_index_list") or []
        if positions:
            self.positions.append(pl.Series("position", positions, dtype=pl.Int64))


def _check_required_columns(frame: pl.DataFrame, suite: SuiteFile) -> None:
    missing = [c for c in suite.required_columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            "kolom bentuk normal tidak lengkap / normalised frame is missing columns "
            f"{', '.join(missing)}: laporkan ke tim data, pembaca berkas harus menghasilkan "
            "semua kolom / report to the data team, the file reader must produce every column"
        )
    if OCCURRENCE_COLUMN in frame.columns:
        raise ValidationError(
            f"kolom {OCCURRENCE_COLUMN} dibuat oleh validasi dan tidak boleh sudah ada / "
            f"column {OCCURRENCE_COLUMN} is made by validation and must not be given: "
            "laporkan ke tim data / report to the data team"
        )


def _to_pandas(chunk: pl.DataFrame, offset: int) -> pd.DataFrame:
    """Convert one chunk to pandas, indexed by position in the whole frame."""
    import pandas as pd

    # GX's vectorised between() only takes int64/float64 and datetime64[ns] columns; others
    # (Int16 scores, pandas 3's datetime64[us]) fall back to a Python loop per value.
    casts = []
    for name, dtype in chunk.schema.items():
        if dtype.is_integer():
            casts.append(pl.col(name).cast(pl.Float64))
        elif isinstance(dtype, pl.Datetime):
            clipped = pl.col(name).dt.replace_time_zone(None).clip(_NS_MIN, _NS_MAX)
            casts.append(clipped.cast(pl.Datetime("ns")))
    converted = chunk.with_columns(casts).to_pandas()
    converted.index = pd.RangeIndex(offset, offset + chunk.height)
    return converted


def _raise_if_gx_failed(rule: Rule, exception_info: dict[str, Any] | None) -> None:
    for info in _exception_infos(exception_info):
        if info.get("raised_exception"):
            raise ValidationError(
                "validasi gagal dijalankan / validation could not run: "
                f"{rule.type} ({rule.column}): {info.get('exception_message')}; "
                "laporkan ke tim data / report this to the data team"
            )


def _exception_infos(exception_info: dict[str, Any] | None) -> Iterable[dict[str, Any]]:
    # GX gives either one info dict or a dict of them keyed by metric.
    if not exception_info:
        return ()
    if "raised_exception" in exception_info:
        return (exception_info,)
    return tuple(v for v in exception_info.values() if isinstance(v, dict))


def _failures(
    prepared: pl.DataFrame,
    tallies: dict[Rule, _Tally],
    reason_parameters: dict[str, Any],
    *,
    part: str | None = None,
) -> pl.DataFrame:
    """Look failing positions up in the frame: one row per failing row and expectation
    (with the `part` column of each, when given)."""
    kept = [part] if part else []
    parts = []
    for rule, tally in tallies.items():
        if not tally.positions:
            continue
        positions = pl.concat(tally.positions)
        value_column = rule.value_column or rule.column
        parts.append(
            prepared.select(
                pl.col("source_row").gather(positions).cast(pl.Int64),
                pl.lit(rule.report_column or rule.column, dtype=pl.Utf8).alias("column"),
                pl.col(value_column).gather(positions).cast(pl.Utf8).alias("value"),
                pl.lit(rule.reason_for(reason_parameters), dtype=pl.Utf8).alias("reason"),
                positions.alias("position"),
                pl.lit(rule.position, dtype=pl.Int32).alias("rule_position"),
                *(pl.col(c).gather(positions) for c in kept),
            )
        )
    if not parts:
        empty = {**FAILURE_SCHEMA, "rule_position": pl.Int32}
        return pl.DataFrame(schema=empty | {c: prepared.schema[c] for c in kept})
    return (
        pl.concat(parts)
        .sort("position", "rule_position")
        .select(*FAILURE_SCHEMA, "rule_position", *kept)
    )


class _GxSession:
    """An ephemeral GX context with the suite and a pandas batch definition, built once.

    With a Data Docs folder, the context's validation results store is a folder inside
    it holding one merged result per batch name, so the site lists every batch written
    there, not only this call's.
    """

    def __init__(self, suite: SuiteFile, *, data_docs_dir: Path | None) -> None:
        self.suite_file = suite
        self.site_dir = Path(data_docs_dir).resolve() if data_docs_dir is not None else None
        try:
            self._build()
        except ValidationError:
            raise
        except Exception as error:  # a GX failure must not crash the run: reject the file
            raise _could_not_run(error) from error

    def _build(self) -> None:
        import great_expectations as gx
        from great_expectations.core import ExpectationSuite
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        if self.site_dir is not None:
            config.stores[config.validation_results_store_name] = {
                "class_name": "ValidationResultsStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(self.site_dir / RESULTS_STORE_DIR),
                },
            }
            config.data_docs_sites = {
                DATA_DOCS_SITE: {
                    "class_name": "SiteBuilder",
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(self.site_dir),
                    },
                }
            }
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        asset = self.context.data_sources.add_pandas("skm_etl").add_dataframe_asset("responses")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("chunk")
        document = self.suite_file.document
        suite = ExpectationSuite(
            name=document["name"],
            expectations=document["expectations"],
            meta=document.get("meta"),
            notes=document.get("notes"),
        )
        # GX logs and drops an expectation it cannot build instead of raising.
        if len(suite.expectations) != len(document["expectations"]):
            raise ValidationError(
                f"berkas aturan validasi {self.suite_file.path} memuat aturan yang tidak "
                f"dikenal GX / suite {self.suite_file.path} has expectations GX cannot "
                "build: perbaiki berkas aturan / fix the suite file"
            )
        self.suite = self.context.suites.add(suite)

    def validate(self, chunk: pd.DataFrame, expectation_parameters: dict[str, Any]) -> Any:
        from great_expectations.validator.v1_validator import Validator

        # The validator ValidationDefinition.run uses, without its per-run result storing.
        # Batch.validate() would build the batch a second time, and GX fingerprints every
        # batch by hashing the whole DataFrame (a quarter of a 200k-row chunk's time).
        try:
            validator = Validator(
                batch_definition=self.batch_definition,
                batch_parameters={"dataframe": chunk},
                result_format=_RESULT_FORMAT,
            )
            return validator.validate_expectation_suite(self.suite, expectation_parameters)
        except Exception as error:  # a GX failure must not crash the run: reject the file
            raise _could_not_run(error) from error

    def write_data_docs(
        self,
        *,
        batch_name: str,
        success: bool,
        tallies: dict[Rule, _Tally],
        table_result: Any,
        failures: pl.DataFrame,
        meta: dict[str, Any],
        parameters: dict[str, Any],
    ) -> Path:
        """Store this batch's merged result (replacing any earlier one) and build the site."""
        try:
            return self._write_data_docs(
                batch_name, success, tallies, table_result, failures, meta, parameters
            )
        except Exception as error:  # a GX failure must not crash the run: reject the file
            raise _could_not_run(error) from error

    def _write_data_docs(
        self,
        batch_name: str,
        success: bool,
        tallies: dict[Rule, _Tally],
        table_result: Any,
        failures: pl.DataFrame,
        meta: dict[str, Any],
        parameters: dict[str, Any],
    ) -> Path:
        from great_expectations.core import (
            ExpectationSuiteValidationResult,
            ExpectationValidationResult,
        )
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        assert self.site_dir is not None
        store = self.context.validation_results_store
        batch_identifier = _batch_identifier(batch_name)
        for key in store.list_keys():
            if key.batch_identifier == batch_identifier:
                store.remove_key(key)

        if isinstance(table_result, native.RuleResult):
            table_result = ExpectationValidationResult(
                success=table_result.success,
                expectation_config=_configuration(table_result.rule, table_result.kwargs),
                result={"observed_value": table_result.observed_value},
            )
        results = [table_result] if table_result is not None else []
        for rule, tally in sorted(tallies.items(), key=lambda item: item[0].position):
            shown = failures.filter(pl.col("rule_position") == rule.position).head(PARTIAL_ROWS)
            results.append(
                ExpectationValidationResult(
                    success=tally.success,
                    expectation_config=tally.config or _configuration(rule, tally.kwargs or {}),
                    result=_merged_result(rule, tally, shown),
                    exception_info={
                        "raised_exception": False,
                        "exception_traceback": None,
                        "exception_message": None,
                    },
                )
            )
        run_id = RunIdentifier(run_name=batch_identifier, run_time=datetime.now(UTC))
        evaluated = len(results)
        successful = sum(1 for r in results if r.success)
        merged = ExpectationSuiteValidationResult(
            success=success,
            results=results,
            suite_name=self.suite.name,
            statistics={
                "evaluated_expectations": evaluated,
                "successful_expectations": successful,
                "unsuccessful_expectations": evaluated - successful,
                "success_percent": successful / evaluated * 100 if evaluated else None,
            },
            meta={
                **meta,
                "run_id": run_id,
                "validation_time": run_id.run_time,
                "batch_name": _html_text(batch_name),
                "skm_etl_parameters": parameters,
            },
        )
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=self.suite.name),
            run_id=run_id,
            batch_identifier=batch_identifier,
        )
        store.set(key, merged)
        # Only this batch's page and the index: rebuilding every stored result made each
        # file's validation slower than the last (quadratic over a national run).
        self.context.build_data_docs(
            site_names=[DATA_DOCS_SITE],
            resource_identifiers=[key, key.expectation_suite_identifier],
        )
        return self.site_dir / "index.html"


def _configuration(rule: Rule, kwargs: dict[str, Any]) -> Any:
    """Build the GX configuration of an expectation evaluated natively, for Data Docs."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    return ExpectationConfiguration(type=rule.type, kwargs=kwargs, meta={"reason": rule.reason})


def _native_meta() -> dict[str, Any]:
    """The result metadata GX would record for a batch evaluated natively."""
    import great_expectations as gx

    return {
        "great_expectations_version": gx.__version__,
        "batch_spec": {"batch_data": "PolarsDataFrame", "engine": "skm_etl.validate.native"},
        "active_batch_definition": {
            "datasource_name": "skm_etl",
            "data_connector_name": "fluent",
            "data_asset_name": "responses",
            "batch_identifiers": {},
        },
    }


def _merged_result(rule: Rule, tally: _Tally, shown: pl.DataFrame) -> dict[str, Any]:
    """Build a GX result dict for Data Docs: totals of all chunks, the first failing rows."""
    nonmissing = tally.element_count - tally.missing_count
    # GX's Data Docs templates put these values into the page unescaped, and they are what
    # a unit's admin or a respondent typed (an unknown layanan): escape them here.
    # A phone number or e-mail address typed there is masked first (the page is outside raw).
    values = [
        _html_text(masked(value) if isinstance(value, str) else value)
        for value in shown["value"].to_list()
    ]
    # Data Docs draw the "value, count, source_row" table from these three keys.
    shown_rows = [
        {rule.value_column or rule.column: value, "source_row": source_row}
        for value, source_row in zip(values, shown["source_row"].to_list(), strict=True)
    ]
    counts = Counter(values).most_common()
    return {
        "element_count": tally.element_count,
        "missing_count": tally.missing_count,
        "missing_percent": _percent(tally.missing_count, tally.element_count),
        "unexpected_count": tally.unexpected_count,
        "unexpected_percent": _percent(tally.unexpected_count, nonmissing),
        "unexpected_percent_total": _percent(tally.unexpected_count, tally.element_count),
        "unexpected_percent_nonmissing": _percent(tally.unexpected_count, nonmissing),
        "partial_unexpected_list": values,
        "partial_unexpected_counts": [{"value": v, "count": c} for v, c in counts],
        "partial_unexpected_index_list": shown_rows,
        "unexpected_index_list": shown_rows,
        "unexpected_index_column_names": ["source_row"],
    }


def _html_text(value: Any) -> Any:
    """Escape text for the Data Docs page; numbers and nulls stay as they are."""
    return html.escape(value, quote=True) if isinstance(value, str) else value


def _percent(part: int, whole: int) -> float | None:
    return part / whole * 100 if whole else None


def _batch_identifier(batch_name: str) -> str:
    """Make a batch name safe as a file name in the results store and the site."""
    return re.sub(r"[^0-9A-Za-z._-]+", "_", batch_name).strip("._") or "batch"


def _could_not_run(error: Exception) -> ValidationError:
    return ValidationError(
        f"validasi gagal dijalankan / validation could not run: {type(error).__name__}: "
        f"{error}; laporkan ke tim data / report this to the data team"
    )
