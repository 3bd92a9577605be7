"""Personal data (UU 27/2022, PDP): erasing one respondent's name and phone number.

Google Forms exports carry each respondent's name and phone number (and sometimes an
e-mail address or street address). The readers put name and phone in a frame of their
own that only `raw.respondent_personal` receives: no dbt model reads that table, so no
mart, served file, Parquet export, log line or report carries them (tests/test_privacy.py
checks every one of those). Two copies of an export remain: the archive kept for
replay (`<work_dir>/archive/google_forms/…`) and a source file the config declares by
path.

`erase_respondent` (the `skm-etl erase` command) removes one respondent's data from all
three places, under the run lock so no nightly run interleaves:

1. raw.respondent_personal: the name and phone of every matching response become null.
   The row stays, holding only the response key, as a tombstone: a later export that
   still contains the respondent adds their responses to nothing (same key) and, since
   the key is present, never re-inserts their name (the load skips known keys).
2. The archive and declared Google Forms source files: the respondent's personal cells
   (name, every phone column, e-mail, address) are blanked. An archived file is stored
   again under the sha256 of its new content, so "every archived file hashes to its
   name" stays true, and `ops.archive_rewrites` maps the old hash to the new one. The
   responses read from the new file are checked to be exactly those of the old one
   (same response keys), so a replay gives the same warehouse.
3. The store file is rewritten (DuckDB `COPY FROM DATABASE` into a new file, swapped in),
   because DuckDB leaves updated values in freed blocks of the old file.

`ops.erasures` records each erasure in one row: an id, the time, how the respondent was
selected (response_key, name or phone), the response keys, how many responses and files
it changed, but never the name or phone. Marts do not change (they never held personal data), so
nothing is republished.

What this cannot reach: the unit's own Google Sheet (the row must be deleted there, or
the next download of the sheet archives it again; run the erasure again afterwards),
backups and copies taken outside the warehouse, and the freed blocks of the file system.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import openpyxl
import polars as pl

from skm_etl.load import warehouse
from skm_etl.load.units import unit_key
from skm_etl.lock import RunLockedError, run_lock
from skm_etl.reference.catalog import ReferenceDataError, load_reference
from skm_etl.reference.model import Reference
from skm_etl.settings import ConfigError, Settings, load_settings
from skm_etl.sources import SourceFileError, read_google_forms
from skm_etl.sources.google_forms.reader import personal_cells
from skm_etl.sources.tabular import ROW, csv_text, read_sheets, sniff_csv

SOURCE_KIND = "google_forms"  # the only layout that carries personal data
SELECTORS = ("response_key", "name", "phone")

# How raw.respondent_personal is searched for each selector; the value is always bound.
_PHONE_DIGITS = "regexp_replace(respondent_phone, '\\D', '', 'g')"
MATCH_CONDITIONS = {
    "response_key": "response_key = ?",
    "name": "lower(trim(regexp_replace(respondent_name, '\\s+', ' ', 'g'))) = ?",
    "phone": (
        f"(case when {_PHONE_DIGITS} like '62%' then '0' || {_PHONE_DIGITS}[3:] "
        f"else {_PHONE_DIGITS} end) = ?"
    ),
}

# One row per erasure: who was erased is known by response key only.
ERASURE_TABLES = """
create table if not exists ops.erasures (
    erasure_id varchar primary key,
    erased_at timestamp not null,
    selected_by varchar not null,
    response_keys varchar[] not null,
    responses integer not null,
    files_rewritten integer not null
);
create table if not exists ops.archive_rewrites (
    erasure_id varchar not null,
    location varchar not null,
    old_sha256 varchar not null,
    new_sha256 varchar not null,
    rewritten_at timestamp not null
);
"""


class ErasureError(Exception):
    """The erasure could not be done; nothing was changed."""


@dataclass
class Rewrite:
    """One file holding the respondent's personal cells, and its content without them."""

    path: Path
    location: str  # archive | source
    old_sha256: str
    content: bytes
    rows: list[int]

    @property
    def new_sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class Erasure:
    """What an erasure matched and did (or, on a dry run, would do)."""

    selected_by: str
    response_keys: list[str] = field(default_factory=list)
    with_personal_data: int = 0  # matched responses whose name or phone was still there
    rewrites: list[Rewrite] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # files that could not be checked


def normalise_name(name: str) -> str:
    """Fold case and spacing, so "  responden  3" finds "Responden 3"."""
    return " ".join(name.split()).lower()


def normalise_phone(phone: str) -> str:
    """Keep the digits and write +62 / 62 as the leading 0 of an Indonesian number."""
    digits = re.sub(r"\D", "", phone)
    return "0" + digits[2:] if digits.startswith("62") else digits


def erase_respondent(
    settings: Settings,
    *,
    response_key: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    dry_run: bool = False,
) -> int:
    """Erase one respondent's personal data; return how many responses it concerned.

    Give exactly one of `response_key`, `name` (case and spaces ignored) or `phone`
    (digits compared, +62 read as 0). A name or phone may match several responses of the
    same person; all are erased. With `dry_run`, nothing changes and the count says
    what would be erased. Raises ErasureError, RunLockedError (a run is in progress) or
    ConfigError.
    """
    return plan_and_erase(
        settings, response_key=response_key, name=name, phone=phone, dry_run=dry_run
    ).with_personal_data


def plan_and_erase(
    settings: Settings,
    *,
    response_key: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    dry_run: bool = False,
) -> Erasure:
    """Do the erasure of `erase_respondent` and return all it found and did."""
    given = {
        k: v for k, v in zip(SELECTORS, (response_key, name, phone), strict=True) if v and v.strip()
    }
    if len(given) != 1:
        raise ErasureError(
            "berikan tepat satu dari --response-key, --name atau --phone / give exactly one "
            "of --response-key, --name or --phone"
        )
    ((selected_by, value),) = given.items()
    with run_lock(settings.lock_path):
        con = warehouse.open_store(settings.store)
        try:
            con.execute(ERASURE_TABLES)
            erasure = _match(con, selected_by, value.strip())
            names, phones = _values(con, erasure.response_keys, selected_by, value)
            if erasure.response_keys or names or phones:
                _plan_rewrites(con, settings, erasure, names, phones)
            if dry_run or not (erasure.with_personal_data or erasure.rewrites):
                return erasure
            erasure_id = warehouse.new_id()
            _write_new_files(erasure.rewrites, settings.archive_dir)
            _record(con, erasure, erasure_id)
        finally:
            con.close()
        _remove_old_files(erasure.rewrites)
        compact_store(settings.store)
    return erasure


def _match(con: duckdb.DuckDBPyConnection, selected_by: str, value: str) -> Erasure:
    """Find the responses of the respondent in raw.respondent_personal."""
    parameter = {
        "response_key": value.lower(),
        "name": normalise_name(value),
        "phone": normalise_phone(value),
    }[selected_by]
    condition = MATCH_CONDITIONS[selected_by]
    sql = f"""
        select response_key, respondent_name is not null or respondent_phone is not null
        from raw.respondent_personal where {condition} order by response_key
    """  # noqa: S608 - a module constant; the value is bound
    rows = con.execute(sql, [parameter]).fetchall()
    return Erasure(
        selected_by=selected_by,
        response_keys=[key for key, _ in rows],
        with_personal_data=sum(1 for _, present in rows if present),
    )


def _values(
    con: duckdb.DuckDBPyConnection, keys: list[str], selected_by: str, value: str
) -> tuple[set[str], set[str]]:
    """The respondent's names and phones, normalised, to find them in files by value."""
    rows = con.execute(
        "select respondent_name, respondent_phone from raw.respondent_personal "
        "where list_contains(?, response_key)",
        [keys],
    ).fetchall()
    names = {normalise_name(n) for n, _ in rows if n}
    phones = {normalise_phone(p) for _, p in rows if p}
    if selected_by == "name":
        names.add(normalise_name(value))
    elif selected_by == "phone":
        phones.add(normalise_phone(value))
    return names, {p for p in phones if len(p) >= 6}


def _plan_rewrites(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    erasure: Erasure,
    names: set[str],
    phones: set[str],
) -> None:
    """Find every archived or declared Google Forms file with the respondent's cells."""
    try:
        reference = load_reference(settings.questionnaire, settings.layanan)
    except ReferenceDataError as exc:
        raise ConfigError(str(exc)) from exc
    candidates: list[tuple[Path, str]] = [
        (path, "archive")
        for path in sorted((settings.archive_dir / SOURCE_KIND).rglob("*"))
        if path.is_file() and path.suffix in (".csv", ".xlsx")
    ]
    candidates += [
        (source.path, "source")
        for source in settings.sources
        if source.kind == SOURCE_KIND and source.path is not None and source.path.is_file()
    ]
    keys = set(erasure.response_keys)
    key = unit_key(settings.units)  # the store names units as the registry does

    def day_first_for(unit_name: str, year: int) -> bool | None:
        return settings.day_first_for(unit_name, year, key)

    for path, location in candidates:
        try:
            rewrite = _rewrite(con, reference, path, location, keys, names, phones, day_first_for)
        except SourceFileError:
            erasure.unreadable.append(str(path))
            continue
        if rewrite is not None:
            erasure.rewrites.append(rewrite)


def _rewrite(
    con: duckdb.DuckDBPyConnection,
    reference: Reference,
    path: Path,
    location: str,
    keys: set[str],
    names: set[str],
    phones: set[str],
    day_first_for: Callable[[str, int], bool | None],
) -> Rewrite | None:
    """Blank the respondent's personal cells in one file; None when it has none of them.

    The file is read as its load read it: with the date_order its source is configured
    with (`day_first_for(unit_name, year)`), so the keys are the stored ones.
    """
    sha = warehouse.file_sha256(path)
    cells = personal_cells(path)
    if not cells.columns:
        return None
    sheet = next(s for s in read_sheets(path) if s.name == cells.sheet_name)
    body = sheet.frame.slice(cells.header_index + 1)
    rows: set[int] = set()
    for index in cells.columns:
        cells_of = body[f"c{index}"].to_list()  # in Python: see masking.masked_columns
        as_names = [None if c is None else normalise_name(c) for c in cells_of]
        as_phones = [None if c is None else normalise_phone(c) for c in cells_of]
        found = body.filter(
            pl.Series(as_names, dtype=pl.Utf8).is_in(list(names))
            | pl.Series(as_phones, dtype=pl.Utf8).is_in(list(phones))
        )
        rows.update(found[ROW].to_list())
    loaded = con.execute(
        "select unit_code, unit_name, survey_year from ops.load_batches "
        "where source_sha256 = ? and status = 'loaded' limit 1",
        [sha],
    ).fetchone()
    batch = (*loaded, day_first_for(loaded[1], loaded[2])) if loaded else None
    before = _keyed(path, reference, batch) if batch else None
    if before is not None:
        rows.update(before.filter(pl.col("response_key").is_in(list(keys)))[ROW].to_list())
    if not rows:
        return None
    content = _blanked(path, cells.is_excel, cells.sheet_name, sorted(rows), cells.columns)
    if hashlib.sha256(content).hexdigest() == sha:
        return None  # the cells are blank already (an earlier erasure)
    if before is not None:
        _check_same_responses(path, content, reference, batch, before)
    return Rewrite(path, location, sha, content, sorted(rows))


def _keyed(path: Path, reference: Reference, batch: tuple) -> pl.DataFrame:
    """The file's responses with their response keys, as the load computed them."""
    unit_code, unit_name, survey_year, day_first = batch
    result = read_google_forms(
        path, reference, unit_name=unit_name, survey_year=survey_year, day_first=day_first
    )
    return warehouse.add_response_keys(
        result.responses, source_kind=SOURCE_KIND, unit_code=unit_code
    ).select(ROW, "response_key")


def _blanked(
    path: Path, is_excel: bool, sheet_name: str, rows: list[int], columns: tuple[int, ...]
) -> bytes:
    """The file's content with the given cells emptied; everything else as it was read."""
    if is_excel:
        book = openpyxl.load_workbook(path)
        sheet = book[sheet_name] if sheet_name in book.sheetnames else book.worksheets[0]
        for row in rows:
            for column in columns:
                sheet.cell(row=row, column=column + 1).value = None
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = csv_text(path)
    delimiter, _ = sniff_csv(text)
    records = list(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"'))
    for row in rows:
        record = records[row - 1]
        for column in columns:
            if column < len(record):
                record[column] = ""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(records)
    return out.getvalue().encode("utf-8")


def _check_same_responses(
    path: Path, content: bytes, reference: Reference, batch: tuple, before: pl.DataFrame
) -> None:
    """Refuse a rewrite that would change any response (a replay must give the same keys)."""
    probe = path.with_name(f".{path.stem}.erase-check{path.suffix}")
    probe.write_bytes(content)
    try:
        after = _keyed(probe, reference, batch)
    finally:
        probe.unlink(missing_ok=True)
    if not after.equals(before):
        raise ErasureError(
            f"{path.name}: setelah data pribadi dikosongkan, jawaban terbaca berbeda; tidak "
            "ada yang diubah / blanking the personal cells would change the responses read "
            "from it; nothing was changed — laporkan ke tim data / report to the data team"
        )


def _write_new_files(rewrites: list[Rewrite], archive_dir: Path) -> None:
    """Write each scrubbed file beside the old one (archive: under its new hash)."""
    for rewrite in rewrites:
        target = _target(rewrite, archive_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.erase.tmp")
        with tmp.open("wb") as fh:
            fh.write(rewrite.content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        old_sidecar = rewrite.path.with_suffix(".json")
        if rewrite.location == "archive" and old_sidecar.is_file():
            meta = json.loads(old_sidecar.read_text(encoding="utf-8"))
            meta.update(sha256=rewrite.new_sha256, personal_data_erased_from=rewrite.old_sha256)
            target.with_suffix(".json").write_text(
                json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )


def _target(rewrite: Rewrite, archive_dir: Path) -> Path:
    if rewrite.location == "source":
        return rewrite.path
    kind = rewrite.path.relative_to(archive_dir).parts[0]
    new = rewrite.new_sha256
    return archive_dir / kind / new[:2] / f"{new}{rewrite.path.suffix}"


def _record(con: duckdb.DuckDBPyConnection, erasure: Erasure, erasure_id: str) -> None:
    """Null the personal data and write the audit rows, in one transaction."""
    now = dt.datetime.now()
    con.execute("begin transaction")
    try:
        con.execute(
            "update raw.respondent_personal set respondent_name = null, respondent_phone = null "
            "where list_contains(?, response_key)",
            [erasure.response_keys],
        )
        con.execute(
            "insert into ops.erasures values (?, ?, ?, ?, ?, ?)",
            [
                erasure_id,
                now,
                erasure.selected_by,
                erasure.response_keys,
                erasure.with_personal_data,
                len(erasure.rewrites),
            ],
        )
        for rewrite in erasure.rewrites:
            con.execute(
                "insert into ops.archive_rewrites values (?, ?, ?, ?, ?)",
                [erasure_id, rewrite.location, rewrite.old_sha256, rewrite.new_sha256, now],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _remove_old_files(rewrites: list[Rewrite]) -> None:
    for rewrite in rewrites:
        if rewrite.location == "archive" and rewrite.new_sha256 != rewrite.old_sha256:
            rewrite.path.unlink(missing_ok=True)
            rewrite.path.with_suffix(".json").unlink(missing_ok=True)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def compact_store(path: Path) -> None:
    """Rewrite the store into a fresh file so no erased value survives in a freed block."""
    tmp = path.with_name(f".{path.name}.compact.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        (catalog,) = con.execute("select current_database()").fetchone()
        con.execute("attach ? as compacted", [str(tmp)])
        con.execute(f"copy from database {_quote(catalog)} to compacted")
        con.execute("detach compacted")
    finally:
        con.close()
    wal = path.with_name(path.name + ".wal")
    if wal.exists():  # a log left after closing would be replayed onto the new file
        tmp.unlink(missing_ok=True)
        raise ErasureError(f"{wal} remains after closing the store; the store was not rewritten")
    for flushed in (tmp, path.parent):
        fd = os.open(flushed, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, path)


def erase_command(
    config: str,
    response_key: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    dry_run: bool = False,
) -> int:
    """`skm-etl erase`: print what was (or would be) erased; return the exit status.

    0: the respondent's data was erased (or, with --dry-run, was found); 1: nothing
    matched, or the erasure could not run. The name and phone are never printed.
    """
    if response_key is not None and not re.fullmatch(r"[0-9a-f]{64}", response_key.strip().lower()):
        print(
            "skm-etl erase: --response-key harus 64 digit heksadesimal / must be 64 hex digits "
            "(raw.responses.response_key, as ops and the marts show it)"
        )
        return 1
    try:
        settings = load_settings(config)
        erasure = plan_and_erase(
            settings, response_key=response_key, name=name, phone=phone, dry_run=dry_run
        )
    except (ConfigError, ErasureError, RunLockedError) as exc:
        print(f"skm-etl erase: {exc}")
        return 1
    verb = "would erase / akan dihapus" if dry_run else "erased / dihapus"
    keys = ", ".join(key[:12] for key in erasure.response_keys) or "-"
    print(
        f"skm-etl erase ({erasure.selected_by}): {verb}: personal data of "
        f"{erasure.with_personal_data} response(s) [{keys}]; "
        f"{len(erasure.rewrites)} file(s) {'to rewrite' if dry_run else 'rewritten'}"
    )
    for rewrite in erasure.rewrites:
        print(f"  {rewrite.location}: {rewrite.path.name} rows {rewrite.rows}")
    for path in erasure.unreadable:
        print(f"  ! not checked, unreadable: {path}")
    if not erasure.response_keys and not erasure.rewrites:
        print("  no respondent matched / tidak ada responden yang cocok")
        return 1
    if not erasure.with_personal_data and not erasure.rewrites:
        print("  nothing left to erase: erased before / sudah dihapus sebelumnya")
        return 1
    if not dry_run:
        print(
            "  marts unchanged, nothing republished; delete the row in the unit's Google "
            "Sheet too / hapus juga barisnya di Google Sheet unit"
        )
    return 0
