"""The nightly job's phases as plain functions: discover, read, validate, load, build, publish.

`flows/nightly.py` wraps these in Prefect tasks; tests call them directly. No phase
raises for bad input: a bad row or file becomes a record in `ops` and the run goes on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import logging
import os
import shutil
import signal
import tempfile
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from skm_etl import failpoints
from skm_etl.fetch.archive import archive_path, new_temporary_file
from skm_etl.load import warehouse
from skm_etl.load.reference_tables import write_reference_tables
from skm_etl.load.units import Unit, UnitError, UnitResolver, read_registry, unit_key
from skm_etl.masking import masked, masked_columns
from skm_etl.reference.catalog import ReferenceDataError, load_reference
from skm_etl.reference.model import Reference
from skm_etl.rounding import round_half_up
from skm_etl.settings import ConfigError, Settings, SourceConfig
from skm_etl.sources import (
    Located,
    ReadResult,
    SourceFileError,
    finish_many,
    locate_google_forms,
    locate_sapaapip,
)
from skm_etl.sources.plans import read_populations, read_rtl
from skm_etl.sources.result import ISSUE_SCHEMA
from skm_etl.validate import ValidationError, ValidationOutcome, validate_parts, write_data_docs

log = logging.getLogger("skm_etl")

READABLE_SUFFIXES = (".xlsx", ".csv")

# responses keyed, validated and loaded together (one transaction); a few hundred MB
LOAD_GROUP_ROWS = 250_000

# Files are hashed, archived and read by these threads while the main thread keys,
# validates and loads the groups before them (a reader keeps about one core busy, the
# load mostly waits on DuckDB). Each thread reads a batch of consecutive files at a time,
# parsing the fields of a batch's files together (sources.finish_many): up to
# READ_BATCH_BYTES or READ_BATCH_FILES, smaller when the inbox is small so that every
# thread gets work. At most READ_AHEAD_BYTES of files are read ahead of the main thread.
READ_THREADS = 2
READ_BATCH_BYTES = 8 * 2**20
READ_BATCH_FILES = 64
READ_AHEAD_BYTES = 64 * 2**20

# dbt's target/ and logs/ under work_dir (partial parse state, run results, dbt.log)
DBT_TARGET = "dbt_target"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTIONS = 2
# ops.runs' message of a run stopped by a signal (status "stopped")
STOPPED_MESSAGE = (
    "run dihentikan sebelum selesai / the run was stopped before it finished (a signal: "
    "SIGTERM, Ctrl-C); what it loaded stays, the next run goes on from there"
)


@dataclass(frozen=True)
class SourceFile:
    """A file to load, with what the config says of it (inbox files say nothing)."""

    path: Path
    kind: str
    origin: str
    unit: str | None = None
    year: int | None = None
    name: str | None = None  # the original file name, when replayed from the archive
    day_first: bool | None = None  # google_forms: the configured date_order, if any

    @property
    def display_name(self) -> str:
        return self.name or self.path.name

    @classmethod
    def declared(
        cls,
        source: SourceConfig,
        path: Path,
        origin: str,
        name: str | None = None,
        *,
        unit: str | None = None,
        year: int | None = None,
    ) -> SourceFile:
        """The file of a source the config declares, with what the config says of it
        (`unit` and `year` stand in for what it leaves out)."""
        return cls(
            path,
            source.kind,
            origin,
            source.unit or unit,
            source.year or year,
            name=name,
            day_first=source.day_first,
        )


@dataclass
class FileOutcome:
    source_file: str
    origin: str
    status: str  # loaded | skipped (loaded before) | rejected | deferred (to the next run)
    unit_name: str | None = None
    survey_year: int | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_new: int = 0
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    # status "carried": the run, ended before it published (killed, stopped, failed), that loaded the file
    loaded_by: str | None = None
    # why rows were rejected, the commonest first: (column, reason, rejected cells)
    rejection_reasons: list[tuple[str | None, str, int]] = field(default_factory=list)
    # what the run's Data Docs page shows of this file (a skm_etl.validate.BatchReport)
    validation_report: object | None = field(default=None, repr=False, compare=False)


@dataclass
class Prepared:
    """What every file of a run is read against."""

    reference: Reference
    resolver: UnitResolver
    plan_files: list[FileOutcome] = field(default_factory=list)


def check_writable(settings: Settings) -> None:
    """Fail before anything is read when a folder the run writes to cannot be written.

    Found only at publish time, after the whole load and dbt build, a read-only or full
    warehouse folder ended in a traceback naming a temporary file.
    """
    folders = [
        (settings.work_dir, "work_dir (store, archive, lock)"),
        (settings.warehouse.parent, "folder warehouse / the warehouse folder"),
    ]
    if settings.parquet_dir is not None:
        folders.append((settings.parquet_dir, "export.parquet_dir"))
    for folder, what in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".skm-etl-probe-"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"{what} tidak dapat ditulis / cannot be written: {folder} "
                f"({exc.strerror or type(exc).__name__}); periksa izin dan ruang disk, atau "
                f"ubah {settings.config_path.name} / check its permissions and free space, "
                f"or change {settings.config_path.name}"
            ) from exc


def prepare(settings: Settings, run_id: str) -> Prepared:
    """Load the questionnaire, catalogue and registry; rewrite the store's ref tables.

    Raises ConfigError: a wrong questionnaire or registry fails the run before anything
    is read, since every number would be wrong with it.
    """
    try:
        reference = load_reference(settings.questionnaire, settings.layanan)
    except ReferenceDataError as exc:
        raise ConfigError(str(exc)) from exc
    if reference.questionnaire.scale != settings.scale:
        raise ConfigError(
            f"method.scale is {settings.scale} but the questionnaire "
            f"{reference.questionnaire.name!r} has a {reference.questionnaire.scale}-point scale"
        )
    registry: tuple[Unit, ...] | None = None
    aliases: dict[str, str] = {}
    if settings.units is not None:
        try:
            registry, aliases = read_registry(settings.units)
        except UnitError as exc:
            raise ConfigError(str(exc)) from exc
    resolver = UnitResolver(registry, aliases)
    prepared = Prepared(reference=reference, resolver=resolver)
    con = warehouse.open_store(settings.store)
    try:
        tables = {
            name: _read_plan_file(con, prepared, run_id, path, reader)
            for name, path, reader in (
                ("populations", settings.populations, read_populations),
                ("rtl", settings.rtl, read_rtl),
            )
            if path is not None
        }
        if settings.inbox is not None and not settings.inbox.is_dir():
            prepared.plan_files.append(_missing_inbox(con, settings, run_id))
        elif settings.inbox is not None:
            prepared.plan_files.extend(_inbox_folders(settings))
        write_reference_tables(
            con,
            reference=reference,
            windows=settings.surveys,
            units=registry or (),
            populations=tables.get("populations"),
            rtl=tables.get("rtl"),
        )
    finally:
        con.close()
    return prepared


def _missing_inbox(con, settings: Settings, run_id: str) -> FileOutcome:
    """A configured inbox that is not a folder: recorded in ops, the run goes on.

    Read as an empty inbox it would pass for a quiet night while exports pile up elsewhere.
    """
    inbox, config = settings.inbox, settings.config_path.name
    what = (
        "inbox bukan folder / the inbox is not a folder"
        if inbox.exists()
        else "folder inbox tidak ditemukan / inbox folder not found"
    )
    outcome = FileOutcome(source_file=inbox.name, origin="config", status="rejected")
    return _reject(
        con,
        outcome,
        run_id,
        SourceFile(inbox, "sapaapip", "config"),
        None,
        f"{what}: {inbox}; buat folder itu atau perbaiki 'inbox:' di {config} / "
        f"create the folder or fix 'inbox:' in {config}",
    )


def _read_plan_file(
    con, prepared: Prepared, run_id: str, path: Path, reader
) -> pl.DataFrame | None:
    """Read populations or RTL; bad rows and bad files go to ops, the run goes on."""
    outcome = FileOutcome(source_file=path.name, origin="config", status="rejected")
    prepared.plan_files.append(outcome)
    source = SourceFile(path, "config", "config")
    sha = warehouse.file_sha256(path)
    try:
        plan = reader(path, prepared.reference, lambda name: prepared.resolver.resolve(name).code)
    except SourceFileError as exc:
        _reject(con, outcome, run_id, source, sha, str(exc))
        return None
    outcome.status = "loaded"
    outcome.rows_read = plan.rows.height + len(plan.issues)
    outcome.rows_accepted = plan.rows.height
    outcome.rows_rejected = len(plan.issues)
    if plan.issues:
        issues = pl.DataFrame(plan.issues, schema=list(ISSUE_SCHEMA.items()), orient="row")
        outcome.rejection_reasons = rejection_reasons(issues)
        warehouse.record_rejected_rows(
            con,
            run_id=run_id,
            batch_id=f"config:{sha[:16]}",
            source_file=path.name,
            rows=issues,
        )
    return plan.rows


def files_of_the_night(
    settings: Settings, prepared: Prepared, summary: RunSummary, fetched: list[SourceFile]
) -> list[SourceFile]:
    """The files a nightly run loads: the archived files of units the registry now codes
    otherwise (`plan_moved_units`, said in the summary's warnings), then `discover`'s."""
    try:
        moved, notes = plan_moved_units(settings, prepared)
    except ConfigError as exc:  # an archived file gone: the unit stays as stored, said so
        summary.warnings.append(
            "unit dengan kode baru tidak dapat dimuat ulang / units the registry codes anew "
            f"cannot be loaded again: {exc}"
        )
        moved, notes = ReplayPlan([], []), []
    summary.warnings.extend(notes)
    replayed = start_replay(settings, moved) if moved.sources else []
    return [*replayed, *discover(settings, fetched)]


def discover(settings: Settings, fetched: list[SourceFile] | None = None) -> list[SourceFile]:
    """List the files of this run: fetched ones, declared paths, then the inbox by name."""
    files: list[SourceFile] = list(fetched or [])
    for source in settings.sources:
        if source.path is not None:
            files.append(SourceFile.declared(source, source.path, f"source:{source.name}"))
    if settings.inbox is not None and settings.inbox.is_dir():
        for path in sorted(settings.inbox.iterdir()):
            if path.is_file() and not _left_by_the_system(path.name):
                files.append(SourceFile(path, "sapaapip", "inbox"))
    return files


def _left_by_the_system(name: str) -> bool:
    """Hidden files, and those Windows and Office leave next to a user's files: `~$x.xlsx`
    (the owner file of a workbook open in Excel), Thumbs.db, desktop.ini. Never an export."""
    return name.startswith((".", "~$")) or name.lower() in _SYSTEM_FILES


_SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini"})


def _inbox_folders(settings: Settings) -> list[FileOutcome]:
    """A folder inside the inbox, listed so that exports put there are not silently unread."""
    return [
        FileOutcome(
            source_file=f"{path.name}/",
            origin="inbox",
            status="skipped",
            message=(
                "folder di dalam inbox tidak dibaca; letakkan tabulasi langsung di inbox / a "
                "folder inside the inbox is not read: put tabulations in the inbox itself"
            ),
        )
        for path in sorted(settings.inbox.iterdir())
        if path.is_dir() and not _left_by_the_system(path.name)
    ]


def process_files(
    settings: Settings, prepared: Prepared, sources: list[SourceFile], run_id: str
) -> list[FileOutcome]:
    """Read, validate and load files on one store connection; outcomes in `sources` order.

    READ_THREADS threads hash, archive, read, key and validate batches of consecutive
    files (`_read_files`) while this thread loads the files read before them, in groups of
    about LOAD_GROUP_ROWS responses, each group in one transaction: keying and loading
    cost far less per response in big batches than in one per file (a national inbox
    holds hundreds of files). What is stored is what loading file by file would store:
    files are taken back in `sources` order, whatever order the threads finish in.
    """
    con = warehouse.open_store(settings.store)
    hashes = warehouse.FileHashes(settings.work_dir / "file_hashes.json")
    outcomes: list[FileOutcome] = []
    group: list[_Staged] = []
    group_rows = 0
    pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="skm-read")
    try:
        stored_as = warehouse.loaded_file_scopes(con)  # sha256 -> where its rows are stored
        loaded = set(stored_as)
        known = frozenset(loaded)  # the threads skip these without reading them
        scopes = warehouse.StoredScopes(con)

        def read(batch: list[SourceFile]) -> list[_Read]:
            return _read_files(settings, prepared, batch, hashes, known)

        # bytes a thread will read: none for a file known loaded from its cached hash
        sizes = [0 if hashes.cached(s.path) in known else _size(s) for s in sources]
        for source, future, index in _read_ahead(pool, sources, read, sizes):
            done = _await_read(future)[index]
            if group and _asks_the_store(source, done, group):
                # a guard below compares the file with stored responses: an earlier file of
                # the run of the same unit and year must be stored first, not wait in a group
                _load_group(con, settings, group, run_id, scopes)
                group, group_rows = [], 0
            staged = _stage(con, source, done, run_id, loaded)
            if isinstance(staged, FileOutcome):
                if staged.status == "skipped" and (
                    moved := _declared_since(prepared, source, stored_as.get(done.sha))
                ):
                    staged.warnings.append(moved)
                outcomes.append(staged)
                continue
            outcomes.append(staged.outcome)
            group.append(staged)
            group_rows += staged.read.result.responses.height
            if group_rows >= LOAD_GROUP_ROWS:
                _load_group(con, settings, group, run_id, scopes)
                group, group_rows = [], 0
        if group:
            _load_group(con, settings, group, run_id, scopes)
    finally:
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        finally:
            con.close()
            hashes.save()
    return outcomes


def _read_ahead(
    pool: ThreadPoolExecutor,
    sources: list[SourceFile],
    read: Callable[[list[SourceFile]], list[_Read]],
    sizes: list[int],
) -> Iterator[tuple[SourceFile, Future, int]]:
    """Yield each source, in order, with its batch's future and its place in the batch.

    `sizes` are the bytes each source will cost to read. Batches are submitted as long as
    less than READ_AHEAD_BYTES is read ahead.
    """
    pending: deque[tuple[list[SourceFile], Future, int]] = deque()
    ahead_bytes = 0
    batches = iter(_batches(sources, sizes))
    exhausted = False
    while True:
        while not exhausted and (not pending or ahead_bytes < READ_AHEAD_BYTES):
            batch, size = next(batches, ([], 0))
            if not batch:
                exhausted = True
                break
            pending.append((batch, pool.submit(read, batch), size))
            ahead_bytes += size
        if not pending:
            return
        batch, future, size = pending.popleft()
        ahead_bytes -= size
        for index, source in enumerate(batch):
            yield source, future, index


def _batches(sources: list[SourceFile], sizes: list[int]) -> list[tuple[list[SourceFile], int]]:
    """Cut the sources, in order, into read batches; each with the bytes it will read.

    `sizes` are the bytes each file will cost to read (none for a file known loaded): a
    nightly inbox holds every export ever received, and the new ones must still be spread
    over the threads.
    """
    target = batch_bytes_target(sum(sizes))
    batches: list[tuple[list[SourceFile], int]] = []
    batch: list[SourceFile] = []
    batch_bytes = 0
    for source, size in zip(sources, sizes, strict=True):
        if batch and (batch_bytes + size > target or len(batch) >= READ_BATCH_FILES):
            batches.append((batch, batch_bytes))
            batch, batch_bytes = [], 0
        batch.append(source)
        batch_bytes += size
    if batch:
        batches.append((batch, batch_bytes))
    return batches


def batch_bytes_target(total: int) -> int:
    """The bytes a read batch holds at most (one bigger file makes a batch of its own):
    READ_BATCH_BYTES, less when `total` bytes are to be read, so that every thread gets
    a few batches."""
    return min(READ_BATCH_BYTES, max(256 * 2**10, total // (4 * READ_THREADS)))


def _size(source: SourceFile) -> int:
    try:
        return source.path.stat().st_size
    except OSError:
        return 0


def _await_read(future: Future) -> list[_Read]:
    """The reads of one batch (a separate function so the bench can time the wait)."""
    return future.result()


@dataclass
class _Read:
    """What a read thread found for one file; the main thread decides what becomes of it."""

    started: dt.datetime
    sha: str | None = None  # None: the file is not there
    result: ReadResult | None = None  # None: not read (already loaded, or unreadable)
    error: Exception | None = None
    error_trace: str = ""
    unit: Unit | None = None
    checked: _Checked | ValidationError | None = None
    changed: bool = False  # the file changed while it was hashed and read: not used


@dataclass
class _Checked:
    """A file's responses keyed and validated: what loading it stores."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame  # one row per rejected cell (or row), the reader's reason first
    rows_rejected: int
    report: object


def _read_files(
    settings: Settings,
    prepared: Prepared,
    sources: list[SourceFile],
    hashes: warehouse.FileHashes,
    known: frozenset[str],
) -> list[_Read]:
    """Hash, archive, read, key and validate a batch of files (in a read thread).

    Each file is located on its own, then the fields of all of them are parsed together,
    and their responses are keyed in one pass. What is wrong with a file is returned in
    its `_Read`, never raised.
    """
    reads: list[_Read] = []
    located: list[tuple[_Read, SourceFile, Located]] = []
    for source in sources:
        read = _Read(dt.datetime.now())
        reads.append(read)
        if not source.path.is_file():
            continue
        try:
            before = _stamp(source.path)
            read.sha = hashes.sha256(source.path)
        except FileNotFoundError:
            continue  # removed since it was listed: reported as not found
        except OSError as exc:  # unreadable (permissions, I/O error): the file is rejected
            _failed(read, exc)
            continue
        if read.sha in known or source.path.suffix.lower() not in READABLE_SUFFIXES:
            continue
        archived = _archive(settings, source, read.sha)
        try:
            item = _locate(source, prepared.reference)
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the run
            item = exc
        # still being written (a copy into the inbox): what was hashed, archived and read
        # may be three different files; the next run reads it whole
        if (after := _stamp(source.path)) != before:
            if archived is not None:  # its bytes may not be those its name hashes
                archived.unlink(missing_ok=True)
            if after is None:
                read.sha = None  # removed meanwhile: reported as not found
            else:
                read.changed = True
        elif isinstance(item, Exception):
            _failed(read, item)
        else:
            located.append((read, source, item))
    results = finish_many([item for _, _, item in located])
    readable: list[tuple[_Read, SourceFile]] = []
    for (read, source, _), result in zip(located, results, strict=True):
        try:
            if isinstance(result, Exception):
                raise result
            read.unit = _resolve_unit(prepared, source, result)
            read.result = result
            readable.append((read, source))
        except Exception as exc:  # noqa: BLE001 - the main thread reports the file
            _failed(read, exc)
    del located, results  # a batch's cells are not kept while it waits for the main thread
    if readable:
        checked = _check(settings, prepared, [(source, read) for read, source in readable])
        for (read, _), outcome in zip(readable, checked, strict=True):
            read.checked = outcome
    return reads


def _stamp(path: Path) -> tuple[int, int] | None:
    """A file's size and modification time (None once it is gone)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _failed(read: _Read, exc: Exception) -> None:
    """Keep a file's error and its trace as text, without the frames the trace holds."""
    read.error_trace = "".join(traceback.format_exception(exc))
    read.error = _detached(exc)


def _detached(exc: Exception) -> Exception:
    """Drop the tracebacks of an exception and its chain: a stored traceback keeps every
    frame it passed through alive, and with them a whole batch of read files."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__
    return exc


def _resolve_unit(prepared: Prepared, source: SourceFile, result: ReadResult) -> Unit:
    """The file's unit; SourceFileError or UnitError when it cannot be loaded as read."""
    unit = prepared.resolver.resolve(source.unit or result.unit_name)
    if source.unit and result.unit_name and _other_unit(prepared, unit, result.unit_name):
        raise SourceFileError(
            f"{source.display_name}: unit di file ({result.unit_name}) berbeda dengan "
            f"konfigurasi ({source.unit}) / the file says unit {result.unit_name!r} but the "
            f"config declares {source.unit!r}; periksa file atau konfigurasi / check the file "
            "or the config"
        )
    if source.year is not None and source.year != result.survey_year:
        raise SourceFileError(
            f"{source.display_name}: tahun di file ({result.survey_year}) berbeda dengan "
            f"konfigurasi ({source.year}) / the file says year {result.survey_year} but the "
            f"config declares {source.year}; periksa file atau konfigurasi / check the file or "
            "the config"
        )
    return unit


def _other_unit(prepared: Prepared, declared: Unit, written: str) -> bool:
    """Whether the unit a file names is another known unit than the one its source declares.

    Without a registry no unit is known: units are taken as they come, and the declared
    spelling wins. A name the registry does not know (a spelling of the metadata row)
    leaves the declared unit in force too: declaring it is how such a file is loaded.
    """
    if not prepared.resolver.has_registry:
        return False
    try:
        return prepared.resolver.resolve(written).code != declared.code
    except UnitError:
        return False


def _check(
    settings: Settings, prepared: Prepared, files: list[tuple[SourceFile, _Read]]
) -> list[_Checked | ValidationError]:
    """Key the files' responses in one pass, validate them (`validate_parts`: the native
    engine takes the small files together), then split off each file's rejects."""
    keyed = warehouse.add_response_keys(
        pl.concat(
            [
                read.result.responses.with_columns(
                    pl.lit(part, dtype=pl.Int32).alias("load_part"),
                    pl.lit(source.kind, dtype=pl.Utf8).alias("source_kind"),
                    pl.lit(read.unit.code, dtype=pl.Utf8).alias("unit_code"),
                    pl.lit(read.unit.name, dtype=pl.Utf8).alias("unit_name"),
                )
                for part, (source, read) in enumerate(files)
            ]
        )
    )
    parts = keyed.partition_by("load_part", as_dict=True, include_key=False)
    no_responses = keyed.clear().drop("load_part")  # a file whose every row was an issue
    frames = [parts.get((part,), no_responses) for part in range(len(files))]
    outcomes = _validate(settings, prepared, frames, files)
    checked: list[_Checked | ValidationError] = []
    for part, (_, read) in enumerate(files):
        outcome = outcomes[part]
        if isinstance(outcome, ValidationError):
            checked.append(_detached(outcome))
            continue
        responses = frames[part]
        # a cell the reader already rejected (a score out of range, blank) fails the suite
        # too: one reason per cell, the reader's. The reader quotes cells as written, where
        # a respondent may have typed a phone number; the suite's values are typed
        # (scores, times, keys) and are kept as they are
        issues = masked_columns(read.result.issues.cast(ISSUE_SCHEMA), "value", "reason")
        rejected = pl.concat([issues, outcome.failures.cast(ISSUE_SCHEMA)])
        rejected = rejected.filter(
            pl.col("column").is_null() | pl.struct("source_row", "column").is_first_distinct()
        )
        bad_rows = rejected.select("source_row").unique()
        accepted = responses.join(bad_rows, on="source_row", how="anti")
        checked.append(_Checked(accepted, rejected, bad_rows.height, outcome.report))
    return checked


def rejection_reasons(rejected: pl.DataFrame) -> list[tuple[str | None, str, int]]:
    """Each (column, reason) of a file's rejected cells with how many, the commonest first."""
    if rejected.is_empty():
        return []
    counted = (
        rejected.group_by("column", "reason")
        .len()
        .sort(["len", "column", "reason"], descending=[True, False, False], nulls_last=True)
    )
    return [(column, str(reason), int(count)) for column, reason, count in counted.iter_rows()]


def _locate(source: SourceFile, reference: Reference) -> Located:
    if source.kind == "google_forms":
        return locate_google_forms(
            source.path,
            reference,
            unit_name=source.unit,
            survey_year=source.year,
            day_first=source.day_first,
        )
    return locate_sapaapip(source.path, reference)


@dataclass
class _Staged:
    """A file read, keyed and validated, waiting for its group to be loaded."""

    source: SourceFile
    outcome: FileOutcome
    read: _Read  # with its sha, result, unit and checked (a _Checked)


def _stage(
    con,
    source: SourceFile,
    read: _Read,
    run_id: str,
    loaded: set[str],
) -> _Staged | FileOutcome:
    """Decide what becomes of one read file; a FileOutcome when it goes no further.

    A file staged for loading joins `loaded`, so a later copy of it in the run is skipped.
    """
    name = source.display_name
    outcome = FileOutcome(source_file=name, origin=source.origin, status="rejected")
    sha = read.sha
    if read.changed:
        outcome.status = "deferred"
        outcome.message = (
            "file berubah saat dibaca (masih disalin?); dibaca lagi pada run berikutnya / the "
            "file changed while it was read (still being copied?); it is read at the next run"
        )
        return outcome
    if sha is None:  # gone since it was listed, or unreadable (permissions)
        return _reject(
            con,
            outcome,
            run_id,
            source,
            None,
            f"file tidak ditemukan / file not found: {source.path}"
            if read.error is None
            else f"{name}: file tidak dapat dibaca / the file could not be read "
            f"({type(read.error).__name__}: {read.error}); periksa izin file / check the "
            "file's permissions",
        )
    if sha in loaded:
        outcome.status = "skipped"
        outcome.message = "sudah dimuat sebelumnya / already loaded (same content)"
        return outcome
    if source.path.suffix.lower() not in READABLE_SUFFIXES:
        return _reject(
            con,
            outcome,
            run_id,
            source,
            sha,
            f"{name}: jenis file tidak didukung / unsupported file type {source.path.suffix or '(none)'}; "
            "simpan tabulasi sebagai .xlsx atau .csv / save the tabulation as .xlsx or .csv",
        )
    if isinstance(read.error, SourceFileError | UnitError):
        return _reject(con, outcome, run_id, source, sha, str(read.error))
    if read.error is not None or read.result is None or read.unit is None or read.checked is None:
        log.debug("reader failed on %s\n%s", name, masked(read.error_trace))
        return _reject(
            con,
            outcome,
            run_id,
            source,
            sha,
            f"{name}: file tidak dapat dibaca / the file could not be read "
            f"({type(read.error).__name__}); "
            "ekspor ulang dari sapaapip atau Google Sheets / export it again",
        )
    result = read.result
    outcome.unit_name, outcome.survey_year = read.unit.name, result.survey_year
    outcome.rows_read = result.rows_read
    outcome.warnings.extend(result.warnings)
    if isinstance(read.checked, ValidationError):
        return _reject(con, outcome, run_id, source, sha, f"{name}: {read.checked}")
    if result.day_month_unsettled and (swapped := _stored_swapped(con, source, read)):
        return _reject(con, outcome, run_id, source, sha, swapped)
    if _whole_minutes(source, read) and (resaved := _stored_with_seconds(con, source, read)):
        return _reject(con, outcome, run_id, source, sha, resaved)
    loaded.add(sha)
    return _Staged(source, outcome, read)


def _declared_since(
    prepared: Prepared, source: SourceFile, stored: tuple[str | None, str | None, int | None] | None
) -> str | None:
    """What to do when a file loaded before is now declared with another unit or year.

    A source's `unit:` or `year:` corrected in the config does not move the responses its
    unchanged export brought: the file is skipped as loaded. `skm-etl rebuild` of the unit
    and year they are stored under reads the archived export again as the config now says.
    """
    if stored is None or source.kind != "google_forms":
        return None  # a tabulation names its unit and year itself
    code, name, year = stored
    if code is None:
        return None
    try:
        declared = prepared.resolver.resolve(source.unit) if source.unit else None
    except UnitError:
        return None  # an unknown unit: the next export of the source says so
    unit_moved = declared is not None and declared.code != code
    year_moved = source.year is not None and source.year != year
    if not (unit_moved or year_moved):
        return None
    now = f"{declared.name if declared else name} {source.year or year}"
    return (
        f"dimuat sebagai {name} {year}, tetapi konfigurasi kini menyatakan {now} / loaded as "
        f"{name} {year}, but the config now declares {now}: jalankan / run skm-etl rebuild "
        f'--config FILE --unit "{name}" --year {year} to store its responses as the config says'
    )


def _stored_swapped(con, source: SourceFile, read: _Read) -> str | None:
    """Why a Google Forms file must wait: its times read the other way are stored responses.

    A sheet in US locale whose first export held no day above 12 was read day-first (the
    Indonesian order, with a warning); once a later export proves month-first, its rows
    would be stored again under other times and count twice. Only a file whose order the
    file alone decided month-first, or could not decide, is checked.
    """
    stamp = pl.col("submitted_at")
    swappable = read.checked.accepted.filter(
        stamp.dt.day() <= 12, stamp.dt.day() != stamp.dt.month()
    )
    if swappable.is_empty():
        return None
    swapped = swappable.with_columns(
        pl.datetime(
            stamp.dt.year(),
            stamp.dt.day(),
            stamp.dt.month(),
            stamp.dt.hour(),
            stamp.dt.minute(),
            stamp.dt.second(),
            stamp.dt.microsecond(),
        ).alias("submitted_at")
    )
    keyed = warehouse.add_response_keys(swapped)
    stored = warehouse.stored_keys(con, keyed.select("unit_code", "survey_year", "response_key"))
    if stored.is_empty():
        return None
    # the file alone reads n/n/yyyy day-first only for want of a sign, so the stored
    # reading it clashes with is month-first whichever was proven: month_first is the fix
    unit, year, name, count = (
        read.unit.name,
        read.result.survey_year,
        source.display_name,
        stored.height,
    )
    if read.result.day_first is False:  # proven month-first here, guessed day-first before
        problem = (
            f"{name}: waktu pengisian terbukti bulan/hari, tetapi {count} jawabannya sudah "
            "dimuat dari ekspor sebelumnya yang dibaca hari/bulan / "
            f"{name}: its submission times are month/day, but {count} of its responses are "
            "already stored from an earlier export read day/month"
        )
        then = (
            f', then run skm-etl rebuild --config FILE --unit "{unit}" --year {year} (the '
            "archived exports are read again month-first)"
        )
    else:  # guessed day-first here, proven month-first before
        problem = (
            f"{name}: waktu pengisian bisa hari/bulan atau bulan/hari, dan {count} jawabannya "
            "sudah dimuat dari ekspor sebelumnya yang terbukti bulan/hari / "
            f"{name}: its submission times could be day/month or month/day, and {count} of its "
            "responses are already stored from an earlier export that proved month/day"
        )
        then = ""
    return (
        f"{problem}; file ini tidak dimuat agar tidak ada responden yang terhitung dua kali / "
        "the file is not loaded, so no respondent counts twice. Tetapkan / set "
        f"date_order: month_first on the google_forms source of {unit} {year} in the config "
        f"file{then}; this file is then loaded by the next run"
    )


def _asks_the_store(source: SourceFile, read: _Read, group: list[_Staged]) -> bool:
    """Whether a guard of `_stage` compares this read file with stored responses that a file
    of the group (not stored yet) may bring: one of the same kind, unit and year."""
    if read.unit is None or read.result is None or isinstance(read.checked, ValidationError):
        return False
    if not (read.result.day_month_unsettled or _whole_minutes(source, read)):
        return False
    scope = (source.kind, read.unit.code, read.result.survey_year)
    return any(
        (item.source.kind, item.read.unit.code, item.read.result.survey_year) == scope
        for item in group
    )


def _whole_minutes(source: SourceFile, read: _Read) -> bool:
    """A Google Forms file whose accepted responses are all timed on a whole minute."""
    if source.kind != "google_forms" or not isinstance(read.checked, _Checked):
        return False
    stamp = read.checked.accepted["submitted_at"]
    return bool(stamp.len() and not stamp.null_count() and (stamp.dt.truncate("1m") == stamp).all())


def _stored_with_seconds(con, source: SourceFile, read: _Read) -> str | None:
    """Why a Google Forms file must not be loaded: a copy that lost its seconds.

    Google Forms times its responses to the second. A sheet's export opened in Excel and
    saved again as CSV has its times written h:mm: the same responses would be stored again
    under other keys and count twice. Asked of a Forms file whose times all fall on a whole
    minute (`_whole_minutes`), and answered from the stored responses of its unit and year
    that have seconds (an export of minute-precision times finds none).
    """
    accepted = read.checked.accepted
    unit, year = read.unit, read.result.survey_year
    stored = warehouse.keys_to_the_minute(con, source.kind, unit.code, year)
    count = accepted["response_key"].is_in(stored.implode()).sum() if stored.len() else 0
    if not count:
        return None
    name = source.display_name
    return (
        f"{name}: waktu pengisiannya tanpa detik, dan {count} jawabannya sudah dimuat dengan "
        "detik dari ekspor sebelumnya: file ini tampaknya disimpan ulang oleh spreadsheet "
        "(Excel menulis jam sebagai j:mm) / its submission times have no seconds, and "
        f"{count} of its responses are already stored, with seconds, from an earlier export: "
        "the file looks saved again by a spreadsheet (Excel writes times as h:mm). File ini "
        "tidak dimuat agar tidak ada responden yang terhitung dua kali / the file is not "
        "loaded, so no respondent counts twice. Unduh lagi CSV dari Google Sheets (File > "
        "Download > .csv) dan letakkan tanpa membukanya di Excel / download the CSV from "
        f"Google Sheets again (File > Download > .csv) and put it in place for {unit.name} "
        f"{year} without opening it in Excel"
    )


def _load_group(
    con, settings: Settings, group: list[_Staged], run_id: str, scopes: warehouse.StoredScopes
) -> None:
    """Load a group of read, keyed and validated files in one transaction."""
    loads: list[tuple[_Staged, warehouse.LoadItem]] = []
    for item in group:
        read = item.read
        checked = read.checked
        item.outcome.validation_report = checked.report
        record = warehouse.BatchRecord(
            batch_id=warehouse.new_id(),
            run_id=run_id,
            source_file=item.source.display_name,
            source_path=str(item.source.path),
            source_sha256=read.sha,
            source_kind=item.source.kind,
            unit_code=read.unit.code,
            unit_name=read.unit.name,
            survey_year=read.result.survey_year,
            rows_read=read.result.rows_read,
            started_at=read.started,
        )
        item.outcome.rows_accepted = checked.accepted.height
        item.outcome.rows_rejected = checked.rows_rejected
        item.outcome.rejection_reasons = rejection_reasons(checked.rejected)
        loads.append(
            (
                item,
                warehouse.LoadItem(
                    record, checked.accepted, read.result.personal, checked.rejected
                ),
            )
        )
    added = warehouse.load_batches(
        con,
        [load for _, load in loads],
        midway=lambda: failpoints.hit(settings.failpoint, "mid-load"),
        scopes=scopes,
    )
    for (item, _), rows_new in zip(loads, added, strict=True):
        item.outcome.rows_new = rows_new
        item.outcome.status = "loaded"


def _validate(
    settings: Settings,
    prepared: Prepared,
    frames: list[pl.DataFrame],
    files: list[tuple[SourceFile, _Read]],
) -> dict[int, ValidationOutcome | ValidationError]:
    """Validate each file's keyed responses (`frames`, in `files` order); by index."""
    # Data Docs are written once per run (write_validation_docs): a page per file costs a
    # fraction of a second, and GX's index reads every stored result each time.
    return validate_parts(
        dict(enumerate(frames)),
        years={part: read.result.survey_year for part, (_, read) in enumerate(files)},
        names={part: source.display_name for part, (source, _) in enumerate(files)},
        scale=settings.scale,
        known_layanan_codes=[x.code for x in prepared.reference.layanan],
        chunk_rows=settings.validation_chunk_rows,
        engine=settings.validation_engine,
    )


def write_validation_docs(settings: Settings, summary: RunSummary) -> None:
    """Write the run's GX Data Docs page (every file validated in this run) and the index.

    A failure here costs the page, never the run: it becomes a warning.
    """
    reports = [f.validation_report for f in summary.files if f.validation_report is not None]
    if not reports:
        return
    name = f"run {summary.started_at:%Y-%m-%d %H.%M} {summary.run_id[:8]}"
    try:
        write_data_docs(settings.data_docs_dir, name, reports)
    except ValidationError as exc:
        summary.warnings.append(f"Data Docs tidak ditulis / Data Docs not written: {exc}")


def _archive(settings: Settings, source: SourceFile, sha: str) -> Path | None:
    """Keep every input by content hash before parsing it, so any run can be replayed.

    Returns the archived copy when this call wrote it.
    """
    if settings.archive_dir in source.path.parents:
        return None
    extension = source.path.suffix.lower().lstrip(".")
    target = archive_path(settings.archive_dir, source.kind, sha, extension)
    if target.exists():
        return None
    # a temporary name of its own: two read threads may archive the same content at once
    # (one export saved under two names); either copy is the same bytes
    tmp = new_temporary_file(target.parent)
    try:
        shutil.copyfile(source.path, tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _reject(
    con, outcome: FileOutcome, run_id: str, source: SourceFile, sha: str | None, reason: str
) -> FileOutcome:
    warehouse.record_rejected_file(
        con,
        run_id=run_id,
        source_file=source.display_name,
        source_path=str(source.path),
        source_sha256=sha,
        source_kind=source.kind,
        reason=reason,
    )
    outcome.status = "rejected"
    outcome.message = reason  # masked where it leaves: ops (the writer) and the summary
    return outcome


@dataclass
class RunSummary:
    """What one run did, for the console, the Prefect artifact and ops.runs."""

    run_id: str
    started_at: dt.datetime
    files: list[FileOutcome] = field(default_factory=list)
    fetches: list[str] = field(default_factory=list)
    units_built: int = 0
    marts_build: str | None = None
    published: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    unit_results: list[tuple] = field(default_factory=list)
    # files loaded by runs killed, stopped or failed since the last published run (status "carried"): this
    # run is the first to report them, their rejected rows among its own (`read_back`)
    carried: list[FileOutcome] = field(default_factory=list)

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def files_rejected(self) -> int:
        return sum(f.status == "rejected" for f in self.files)

    @property
    def carried_rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.carried)

    @property
    def carried_note(self) -> str | None:
        """ops.runs' message of a run that reports rejections of killed, stopped or failed runs."""
        if not self.carried_rows_rejected:
            return None
        runs = ", ".join(dict.fromkeys(f.loaded_by for f in self.carried if f.loaded_by))
        return (
            f"melaporkan {self.carried_rows_rejected} baris yang ditolak oleh run yang terhenti "
            f"/ reports {self.carried_rows_rejected} row(s) rejected by interrupted run(s) "
            f"{runs}: see ops.rejected_rows"
        )

    @property
    def error_shown(self) -> str | None:
        """The error as it may leave the raw layer: a message may quote a file's cells."""
        return None if self.error is None else masked(self.error)

    @property
    def exit_code(self) -> int:
        """SPEC §8: 0 all accepted, 2 published with rejections, 1 failed and published nothing."""
        if self.error is not None or not self.published:
            return EXIT_FAILED
        if self.files_rejected or self.rows_rejected or self.carried_rows_rejected:
            return EXIT_REJECTIONS
        return EXIT_OK

    @staticmethod
    def _reason_lines(outcome: FileOutcome) -> list[str]:
        """Why a file's rows were rejected: the commonest reasons, the rest counted."""
        reasons = outcome.rejection_reasons
        lines = [
            f"           x {count} × {_shown(column) + ': ' if column else ''}{_quoted(reason)}"
            for column, reason, count in reasons[:REASONS_SHOWN]
        ]
        if len(reasons) > REASONS_SHOWN:
            rest = sum(count for _, _, count in reasons[REASONS_SHOWN:])
            lines.append(
                f"           x {rest} × {len(reasons) - REASONS_SHOWN} other reason(s): "
                "see ops.rejected_rows"
            )
        return lines

    def render(self) -> str:
        """The printed run summary: a reason for every rejection, no personal data."""
        lines = [f"skm-etl run {self.run_id}"]
        lines += [f"  fetch  {line}" for line in self.fetches]
        for f in [*self.carried, *self.files]:
            where = f" [{_shown(f.unit_name)} {f.survey_year}]" if f.unit_name else ""
            counts = (
                f" read {f.rows_read}, accepted {f.rows_accepted}, rejected {f.rows_rejected}, new {f.rows_new}"
                if f.status in ("loaded", "carried")
                else ""
            )
            lines.append(f"  {f.status:<8} {_shown(f.source_file)}{where}{counts}")
            if f.message and f.status != "loaded":
                lines.append(f"           {_quoted(f.message)}")
            lines += [f"           ! {_quoted(w)}" for w in f.warnings]
            lines += self._reason_lines(f)
        waiting = sum(f.status == "deferred" for f in self.files)
        deferred = f", {waiting} deferred to the next run" if waiting else ""
        carried = (
            f"; carried from interrupted runs: {len(self.carried)} file(s), "
            f"{self.carried_rows_rejected} row(s) rejected"
            if self.carried
            else ""
        )
        lines.append(
            f"files: {len(self.files)} ({sum(f.status == 'loaded' for f in self.files)} loaded, "
            f"{sum(f.status == 'skipped' for f in self.files)} unchanged, {self.files_rejected} rejected"
            f"{deferred}); "
            f"rows accepted {self.rows_accepted}, rejected {self.rows_rejected}; units built {self.units_built}"
            f"{carried}"
        )
        if self.marts_build:
            lines.append(f"marts: {self.marts_build}")
        lines += [f"warning: {_quoted(w)}" for w in self.warnings]
        if self.unit_results:
            lines.append("unit results (IKM, mutu):")
            for year, unit, counted, ikm, mutu, kinerja in self.unit_results:
                index = (
                    f"IKM {round_half_up(ikm):6.2f}  {mutu} ({kinerja})"
                    if ikm is not None
                    else "no counted response"
                )
                lines.append(f"  {year}  {_shown(unit):<40} n={counted:<6} {index}")
        if self.error:
            # a message of several lines (YAML's, dbt's) keeps them, indented under the first
            first, *rest = self.error_shown.replace("\t", " ").splitlines() or [""]
            lines.append(f"FAILED: {_shown(first)}")
            lines.extend(f"        {_shown(line.strip())}" for line in rest if line.strip())
            lines.append(
                "nothing was published; the previous served file stays / tidak ada yang diterbitkan"
            )
        elif self.rows_rejected or self.files_rejected or self.carried_rows_rejected:
            lines.append(
                "rejections are listed in ops.rejected_rows and ops.rejected_files of the served file"
            )
        lines.append(f"exit {self.exit_code}")
        return "\n".join(lines)


def _shown(text: str) -> str:
    """Text from a file (its name, a unit's name) as one printable line."""
    return text if text.isprintable() else repr(text)[1:-1]


# the reasons a file's summary line lists (all of them are in ops.rejected_rows)
REASONS_SHOWN = 3


def _quoted(text: str) -> str:
    """A message or warning that may quote a file's cells, as one printable line.

    A phone number or e-mail address it quotes is masked: the summary is printed, logged
    and kept by Prefect, outside the raw layer.
    """
    return _shown(masked(text))


def build_marts(settings: Settings) -> str:
    """Run dbt build on the store; raise BuildError with dbt's failures when any node fails.

    The build recomputes only the scopes (survey year × unit) with responses loaded since
    the last complete build, unless something else changed (transform/increments.py).
    Return what it recomputed and why, for the run summary.
    """
    from skm_etl.transform import increments

    plan, result = increments.build(
        settings.store,
        vars=_dbt_vars(settings),
        target_path=settings.work_dir / DBT_TARGET,
        project_dir=settings.dbt_project_dir,
        # dbt unit tests check the method's SQL, not the night's data: CI runs them
        # (tests/test_dbt_models.py); the nightly build runs models and data tests.
        command="build --exclude-resource-type unit_test",
        on_event=failpoints.dbt_event_hook(settings.failpoint, "mid-dbt"),
    )
    if not result.success:
        raise BuildError(result.summary())
    failpoints.hit(settings.failpoint, "after-dbt")
    return plan.describe()


def dbt_log_path(settings: Settings) -> Path:
    """dbt's log file: its line per model and test (the console gets warnings and errors)."""
    return settings.work_dir / DBT_TARGET / "logs" / "dbt.log"


def _dbt_vars(settings: Settings) -> dict[str, str]:
    return {"counting": settings.counting}


def _dbt(settings: Settings, command: str, target: str, *, on_event=None) -> None:
    """Run a dbt command on the store with the run's vars; BuildError when it fails."""
    from skm_etl.transform.dbt_runner import run_dbt

    result = run_dbt(
        settings.store,
        command=command,
        vars=_dbt_vars(settings),
        target_path=settings.work_dir / target,
        project_dir=settings.dbt_project_dir,
        on_event=on_event,
    )
    if not result.success:
        raise BuildError(result.summary())


class BuildError(Exception):
    """dbt could not build or test the marts: nothing is published."""


class _ExpectedErrorsWithoutTraceback(logging.Filter):
    """Drop the traceback from Prefect's log line of an error that carries its own advice.

    A wrong config, a failed dbt build, a refused publish, a source still failing after its
    retries: each reaches the summary as one sentence saying what to do; thirty lines of
    traceback on stderr after it only hide that sentence.
    """

    def __init__(self, expected: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self._expected = expected

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self._expected):
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_expected_tracebacks() -> None:
    """Install the filter above on Prefect's task and flow run loggers (once)."""
    from skm_etl.fetch.http import TransientFetchError
    from skm_etl.lock import RunLockedError
    from skm_etl.publish.served import PublishError

    expected = (ConfigError, BuildError, PublishError, RunLockedError, TransientFetchError)
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ExpectedErrorsWithoutTraceback) for f in logger.filters):
            logger.addFilter(_ExpectedErrorsWithoutTraceback(expected))


def publish_served(settings: Settings, run_id: str) -> None:
    """Swap in a new served file (and Parquet export) built from the store's marts."""
    from skm_etl.publish.served import publish

    con = warehouse.open_store(settings.store)
    try:
        publish(
            con,
            settings.warehouse,
            run_id=run_id,
            parquet_dir=settings.parquet_dir,
            before_swap=lambda: failpoints.hit(settings.failpoint, "mid-publish"),
        )
    finally:
        con.close()
    failpoints.hit(settings.failpoint, "after-publish")


def read_back(settings: Settings, summary: RunSummary) -> None:
    """Fill the summary with the unit results, what runs killed, stopped or failed since the last
    published one loaded (`summary.carried`), and the out-of-window responses of this run's files and
    of those."""
    con = warehouse.open_store(settings.store)
    try:
        summary.carried = [
            FileOutcome(
                source_file=load.source_file,
                origin="interrupted run",
                status="carried",
                unit_name=load.unit_name,
                survey_year=load.survey_year,
                rows_read=load.rows_read,
                rows_accepted=load.rows_accepted,
                rows_rejected=load.rows_rejected,
                rows_new=load.rows_new,
                message=(
                    f"dimuat oleh run {load.run_id} yang berakhir sebelum menerbitkan / loaded "
                    f"by run {load.run_id}, which ended before it published (killed, stopped "
                    "or failed): reported here"
                ),
                rejection_reasons=load.reasons,
                loaded_by=load.run_id,
            )
            for load in warehouse.interrupted_loads(con)
        ]
        summary.unit_results = con.execute(
            """
            select survey_year, unit_name, respondents_counted, ikm, mutu, kinerja
            from marts.skm_unit order by survey_year, unit_name
            """
        ).fetchall()
        summary.units_built = len({(r[0], r[1]) for r in summary.unit_results})
        outside = con.execute(
            """
            select r.source_file, count(*)
            from ops.responses_outside_window as o
            join raw.responses as r using (response_key)
            join ops.load_batches as b on b.batch_id = r.batch_id
            where b.run_id in (select unnest(?::varchar[]))
            group by r.source_file order by r.source_file
            """,
            [[summary.run_id, *(f.loaded_by for f in summary.carried)]],
        ).fetchall()
        for source_file, count in outside:
            summary.warnings.append(
                f"{source_file}: {count} respons di luar periode survei, tidak dihitung / "
                f"{count} response(s) submitted outside the survey window: kept in raw, counted nowhere "
                "(ops.responses_outside_window)"
            )
    finally:
        con.close()


SIGTERM_SEEN = threading.Event()


def note_sigterm() -> None:
    """Make SIGTERM leave a mark (`SIGTERM_SEEN`) before the handler in place handles it.

    Prefect's handler raises an exception inside the flow; landing inside a DuckDB query,
    that exception is turned by DuckDB into "RuntimeError: Query interrupted", which would
    pass for a failure. The run checks the mark to record itself stopped all the same. The
    wrapper lasts as long as the handler it wraps: Prefect restores its own when the flow
    run ends. Outside the main thread signals cannot be set, and nothing is noted.
    """
    SIGTERM_SEEN.clear()
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    previous = getattr(previous, "noting", previous)  # a run before in this process: no nesting

    def noted(signum: int, frame: object) -> None:
        SIGTERM_SEEN.set()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # the default: end the process, as it would have
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    noted.noting = previous
    signal.signal(signal.SIGTERM, noted)


@contextlib.contextmanager
def _sigterm_held() -> Iterator[None]:
    """SIGTERM ignored while a run writes its line in ops.runs (`record_run`).

    `systemctl stop` of the serve process sends SIGTERM to every process of the service,
    and the serve process sends its run one more as it shuts down: the second must not cut
    short the recording of the first. Outside the main thread signals cannot be set, and
    nothing is held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def record_run(settings: Settings, summary: RunSummary, *, status: str) -> None:
    """Write the run's line in ops.runs (start or finish), SIGTERM held off meanwhile."""
    with _sigterm_held():
        _record_run(settings, summary, status=status)


def _record_run(settings: Settings, summary: RunSummary, *, status: str) -> None:
    con = warehouse.open_store(settings.store)
    try:
        if status == "running":
            from skm_etl.publish.served import served_run

            warehouse.start_run(con, summary.run_id, served_run=served_run(settings.warehouse))
        else:
            warehouse.finish_run(
                con,
                summary.run_id,
                status=status,
                exit_code=summary.exit_code,
                files_seen=len(summary.files),
                files_loaded=sum(f.status == "loaded" for f in summary.files),
                files_rejected=summary.files_rejected,
                rows_accepted=summary.rows_accepted,
                rows_rejected=summary.rows_rejected,
                message=summary.error_shown or summary.carried_note,
            )
    finally:
        con.close()


@dataclass
class FetchOutcome:
    """One remote source's fetch, as the run summary shows it (URL without its token)."""

    line: str
    source_file: SourceFile | None = None
    failed: bool = False


def fetch_source(settings: Settings, source: SourceConfig) -> FetchOutcome:
    """Fetch one URL source into the archive; TransientFetchError propagates for retries."""
    from skm_etl.fetch import FetchSpec, fetch

    spec = FetchSpec(
        name=source.name,
        url=source.url,
        kind=source.kind,
        token=source.token,
        service_account_file=source.service_account_file,
    )
    result = fetch(
        spec, archive_dir=settings.archive_dir, state_path=settings.work_dir / "fetch_state.json"
    )
    if result.status == "failed":
        return FetchOutcome(f"{source.name}: {result.message}", failed=True)
    line = f"{source.name}: {result.status}" + (
        f" ({result.bytes} bytes)" if result.status == "fetched" else ""
    )
    if result.path is None:
        return FetchOutcome(line)
    # named after its source, not its archive name (a hash), so that a rejection or a
    # loaded batch says which of the configured sources it came from
    return FetchOutcome(
        line,
        SourceFile.declared(
            source, result.path, f"fetch:{source.name}", f"{source.name}{result.path.suffix}"
        ),
    )


def fetch_given_up(source: SourceConfig, error: Exception, attempts: int) -> FetchOutcome:
    """The outcome of a source whose every attempt of this run failed (retries spent)."""
    from skm_etl.fetch.http import gave_up

    return FetchOutcome(gave_up(f"{source.name}: {error}", attempts), failed=True)


def url_sources(settings: Settings) -> list[SourceConfig]:
    """The configured sources fetched from a URL, in config order."""
    return [source for source in settings.sources if source.url is not None]


def record_fetch(
    settings: Settings, summary: RunSummary, source: SourceConfig, outcome: FetchOutcome
) -> SourceFile | None:
    """Note one fetch in the run summary; the file to load, if it brought one.

    A source that could not be fetched (retries exhausted) is a rejected file for the
    operator to see, in ops.rejected_files and in the summary; the other sources go on.
    """
    summary.fetches.append(outcome.line)
    if outcome.source_file is not None:
        return outcome.source_file
    if outcome.failed:
        con = warehouse.open_store(settings.store)
        try:
            warehouse.record_rejected_file(
                con,
                run_id=summary.run_id,
                source_file=source.name,
                source_path=None,
                source_sha256=None,
                source_kind=source.kind,
                reason=outcome.line,
            )
        finally:
            con.close()
        summary.files.append(
            FileOutcome(source.name, f"fetch:{source.name}", "rejected", message=outcome.line)
        )
    return None


def build_docs(settings: Settings) -> Path:
    """Build dbt's documentation site (one static HTML file) beside the served file.

    Analysts open `<warehouse dir>/dbt_docs/index.html`: every mart and column with its
    description, and the lineage graph. Reads the store, so it takes the run lock.
    """
    if not settings.store.exists():
        raise ConfigError(
            f"no store yet at {settings.store}: run `skm-etl run --config {settings.config_path}` first"
        )
    _dbt(settings, "docs generate --static", "dbt_docs_build")
    site = settings.warehouse.parent / "dbt_docs"
    site.mkdir(parents=True, exist_ok=True)
    target = site / "index.html"
    shutil.copyfile(settings.work_dir / "dbt_docs_build" / "target" / "static_index.html", target)
    return target


def _erasure_rewrites(con) -> dict[str, str]:
    """Archived files an erasure blanked: the sha256 they were loaded under -> the newest."""
    if not con.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'ops' and table_name = 'archive_rewrites'"
    ).fetchone()[0]:
        return {}
    step = dict(
        con.execute(
            "select old_sha256, new_sha256 from ops.archive_rewrites where location = 'archive'"
        ).fetchall()
    )
    newest: dict[str, str] = {}
    for old in step:
        sha, seen = old, {old}
        while sha in step and step[sha] not in seen:  # erased again: follow to the last
            sha = step[sha]
            seen.add(sha)
        newest[old] = sha
    return newest


@dataclass(frozen=True)
class ReplayPlan:
    """What a rebuild or backfill will reload: the archived files, and the loads they undo."""

    sources: list[SourceFile]
    loaded_sha256: list[str]


def plan_replay(
    settings: Settings,
    *,
    year: int | None,
    unit: str | None,
    moved_by: UnitResolver | None = None,
) -> ReplayPlan:
    """Find the archived files of the loaded batches a replay reloads, changing nothing.

    With `moved_by`, only the batches whose unit that resolver names with another code than
    the one they were stored under (`plan_moved_units`).

    Raises ConfigError when no loaded file matches, or when an archived file is missing:
    a rebuild asked wrongly is refused before the run reads or writes anything.
    """
    key = unit_key(settings.units)  # the store names units as the registry does
    con = warehouse.open_store(settings.store)
    try:
        batches = con.execute(
            """
            select distinct source_sha256, source_kind, source_file, unit_name, survey_year,
                unit_code
            from ops.load_batches
            -- 'replayed' too: a replay that died half way can be run again
            where status in ('loaded', 'replayed')
              and (cast(? as integer) is null or survey_year = ?)
            order by source_file
            """,
            [year, year],
        ).fetchall()
        if unit is not None:  # by name or code: both key to the unit's code
            wanted = key(unit)
            batches = [b for b in batches if key(b[3]) == wanted]
        if moved_by is not None:
            # a file loaded again under its new code is done; one whose replay died is not
            done = set(
                con.execute(
                    "select source_sha256, unit_code from ops.load_batches where status = 'loaded'"
                ).fetchall()
            )
            batches = [
                b
                for b in batches
                if (now := _code_now(moved_by, b[3])) not in (None, b[5])
                and (b[0], now) not in done
            ]
            if not batches:
                return ReplayPlan([], [])
        if not batches:
            raise ConfigError(
                "tidak ada file yang pernah dimuat untuk pilihan ini / no loaded file matches "
                f"year={year} unit={unit!r}; see ops.load_batches{_loaded_units_hint(con, unit)}"
            )
        erased = _erasure_rewrites(con)
    finally:
        con.close()
    sources: list[SourceFile] = []
    missing: list[str] = []
    for loaded_sha, kind, source_file, unit_name, survey_year, _ in batches:
        sha = erased.get(loaded_sha, loaded_sha)  # blanked by an erasure since its load
        found = sorted((settings.archive_dir / kind / sha[:2]).glob(f"{sha}.*"))
        found = [p for p in found if p.suffix.lower() in READABLE_SUFFIXES]
        if not found:
            missing.append(f"{source_file} ({sha[:12]}…)")
            continue
        declared = kind == "google_forms"
        if declared and (source := _source_of(settings, source_file)) is not None:
            # the export's source as the config now declares it: a corrected unit or year
            sources.append(
                SourceFile.declared(
                    source,
                    found[0],
                    "archive",
                    name=source_file,
                    unit=unit_name,
                    year=survey_year,
                )
            )
            continue
        sources.append(
            SourceFile(
                found[0],
                kind,
                "archive",
                unit_name if declared else None,
                survey_year if declared else None,
                name=source_file,
                day_first=settings.day_first_for(unit_name, survey_year, key) if declared else None,
            )
        )
    if missing:
        raise ConfigError(
            "file arsip hilang / archived file(s) missing, nothing was changed: "
            + ", ".join(missing)
        )
    return ReplayPlan(sources, [b[0] for b in batches])


def _loaded_units_hint(con, unit: str | None) -> str:
    """For a rebuild of a unit nothing was loaded of: the loaded units its name is close to."""
    if unit is None:
        return ""
    names = [
        name
        for (name,) in con.execute(
            "select distinct unit_name from ops.load_batches "
            "where status in ('loaded', 'replayed') and unit_name is not null order by 1"
        ).fetchall()
    ]
    close = difflib.get_close_matches(unit, names, n=3, cutoff=0.6)
    if close:
        return f". Maksud Anda / did you mean: {', '.join(repr(c) for c in close)}?"
    shown = ", ".join(repr(n) for n in names[:10]) + (", …" if len(names) > 10 else "")
    return f". Unit yang dimuat / units loaded: {shown or '(none)'}"


def _code_now(resolver: UnitResolver, unit_name: str | None) -> str | None:
    """The code the resolver gives a stored unit's name; None for a name it does not know."""
    try:
        return resolver.resolve(unit_name or "").code
    except UnitError:
        return None


def plan_moved_units(settings: Settings, prepared: Prepared) -> tuple[ReplayPlan, list[str]]:
    """The loaded files to load again because the registry now names their unit with another
    code (a registry added to a deployment that ran without one, a code corrected), and a
    line for the run summary about each such unit.

    A unit's responses are stored, and keyed, under its code: left there, a unit would
    stand twice in the marts (its old code and the registry's) and a re-export of its
    files would count its respondents again. Read again from the archive, they are stored
    under the code the registry gives their name, exactly as a new load would store them.
    """
    plan = plan_replay(settings, year=None, unit=None, moved_by=prepared.resolver)
    con = warehouse.open_store(settings.store)
    try:
        stored = con.execute(
            "select distinct unit_name, unit_code from ops.load_batches "
            "where status = 'loaded' and unit_name is not null order by unit_name"
        ).fetchall()
        unknown = [
            f"{name} ({code}): unit tersimpan yang tidak ada di registri unit; tambahkan ke "
            f"{settings.units.name} (atau sebagai alias) agar tidak tampil sebagai unit "
            f"tersendiri / a stored unit the unit registry does not know: add it to "
            f"{settings.units.name} (or as an alias of its unit), or it stands apart in "
            "the marts and the national roll-up"
            for name, code in stored
            if prepared.resolver.has_registry and _code_now(prepared.resolver, name) is None
        ]
        if not plan.sources:
            return plan, unknown
        moved = con.execute(
            """
            select unit_name, unit_code, count(distinct source_sha256)
            from ops.load_batches
            where source_sha256 in (select unnest(?::varchar[])) and status in ('loaded', 'replayed')
            group by all
            order by unit_name
            """,
            [plan.loaded_sha256],
        ).fetchall()
    finally:
        con.close()
    notes = [
        f"{name}: registri unit kini memberi kode {_code_now(prepared.resolver, name)} (tersimpan "
        f"sebagai {code}); {files} file arsipnya dimuat ulang / the unit registry now gives it "
        f"the code {_code_now(prepared.resolver, name)} (stored as {code}): its {files} "
        "archived file(s) are loaded again under it"
        for name, code, files in moved
    ]
    return plan, notes + unknown


def _source_of(settings: Settings, source_file: str) -> SourceConfig | None:
    """The configured Google Forms source a loaded export came from, if one alone fits.

    By the name its batches keep through replays: a `path:` source's file name, or the
    name a `url:` source's fetched file is given (the source's name).
    """
    found = [
        source
        for source in settings.sources
        if source.kind == "google_forms"
        and (
            (source.path is not None and source.path.name == source_file)
            or (source.url is not None and Path(source_file).stem == source.name)
        )
    ]
    return found[0] if len(found) == 1 else None


def replay_sources(settings: Settings, *, year: int | None, unit: str | None) -> list[SourceFile]:
    """Take the archived files of loaded batches out of the store, to load them again.

    For a backfill of one year or unit, or (no filter) a full rebuild: the batches'
    responses and personal rows are deleted and their files come back from the archive
    by sha256, with the unit and year they were loaded under. Loading them again gives
    the same response keys, so the marts come out as they were (or as the current
    questionnaire, catalogue and method now make them).
    """
    return start_replay(settings, plan_replay(settings, year=year, unit=unit))


def start_replay(settings: Settings, plan: ReplayPlan) -> list[SourceFile]:
    """Delete the responses and personal rows of the plan's loads; return its files."""
    shas = plan.loaded_sha256
    con = warehouse.open_store(settings.store, vacuum=True)
    try:
        con.execute("begin transaction")
        try:
            con.execute(
                """
                delete from raw.respondent_personal where response_key in (
                    select r.response_key from raw.responses as r
                    join ops.load_batches as b on b.batch_id = r.batch_id
                    where b.source_sha256 in (select unnest(?::varchar[]))
                )
                """,
                [shas],
            )
            con.execute(
                """
                delete from raw.responses where batch_id in (
                    select batch_id from ops.load_batches where source_sha256 in (select unnest(?::varchar[]))
                )
                """,
                [shas],
            )
            con.execute(
                "update ops.load_batches set status = 'replayed' "
                "where source_sha256 in (select unnest(?::varchar[]))",
                [shas],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        return plan.sources
    finally:
        con.close()
