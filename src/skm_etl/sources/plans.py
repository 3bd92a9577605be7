"""Readers of the two small operational files: populations (SPEC §6.3) and RTL (SPEC §6.4).

Both are a few hundred rows typed by hand, so a row that names an unknown unit, layanan
or unsur is reported with its line number and left out; the rest of the file is used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from skm_etl.reference.model import Reference, compact_key
from skm_etl.sources.constants import CSV_DELIMITERS
from skm_etl.sources.result import SourceFileError

POPULATION_COLUMNS = ("tahun", "unit_kerja", "jenis_layanan", "populasi")
RTL_COLUMNS = (
    "tahun", "unit_kerja", "jenis_layanan", "unsur", "penyebab", "rencana_tindak_lanjut",
    "batas_waktu", "penanggung_jawab", "status", "tanggal_realisasi",
)  # fmt: skip
RTL_STATUS = {"sudah": "sudah", "belum": "belum", "done": "sudah", "selesai": "sudah"}

POPULATION_SCHEMA = {
    "survey_year": pl.Int32,
    "unit_code": pl.Utf8,
    "layanan_code": pl.Utf8,
    "populasi": pl.Int64,
}
RTL_SCHEMA = {
    "survey_year": pl.Int32,
    "unit_code": pl.Utf8,
    "layanan_code": pl.Utf8,
    "unsur_code": pl.Utf8,
    "penyebab": pl.Utf8,
    "rencana_tindak_lanjut": pl.Utf8,
    "batas_waktu": pl.Date,
    "penanggung_jawab": pl.Utf8,
    "status": pl.Utf8,
    "realized_at": pl.Date,
}


@dataclass
class PlanFile:
    """Rows ready for a ref table, and the rows left out with their reasons."""

    rows: pl.DataFrame
    issues: list[tuple[int, str, str, str]] = field(default_factory=list)


def read_populations(path: Path, reference: Reference, unit_code: Callable[[str], str]) -> PlanFile:
    """Read `tahun, unit_kerja, jenis_layanan, populasi`; `tahun` is the survey year it serves."""
    table = read_table_csv(path, POPULATION_COLUMNS)
    layanan = reference.layanan_keys()
    lines: dict[tuple, list[tuple[int, dict[str, object], str]]] = {}
    issues: list[tuple[int, str, str, str]] = []
    for line, row in enumerate(table.iter_rows(named=True), start=2):
        try:
            record = {
                "survey_year": _year(row["tahun"]),
                "unit_code": _unit(row["unit_kerja"], unit_code),
                "layanan_code": _layanan(row["jenis_layanan"], layanan),
                "populasi": _count(row["populasi"]),
            }
        except _RowError as exc:
            issues.append((line, exc.column, exc.value, exc.reason))
            continue
        key = (record["survey_year"], record["unit_code"], record["layanan_code"])
        lines.setdefault(key, []).append((line, record, row["populasi"] or ""))
    out: list[dict[str, object]] = []
    for rows in lines.values():
        (first, record, _), *again = rows
        if not again:
            out.append(record)
        elif len({r["populasi"] for _, r, _ in rows}) == 1:
            out.append(record)  # the same row typed twice: the first counts
            issues.extend(
                (
                    line,
                    "populasi",
                    typed,
                    f"baris ganda dari baris {first} / the same row as line {first}, left out",
                )
                for line, _, typed in again
            )
        else:  # which one is right cannot be told: the layanan has no population
            numbers = ", ".join(str(line) for line, _, _ in rows)
            issues.extend(
                (
                    line,
                    "populasi",
                    typed,
                    f"populasi berbeda untuk tahun, unit dan layanan yang sama di baris {numbers} / "
                    f"different populasi for the same year, unit and layanan on lines {numbers}: "
                    "keep one row",
                )
                for line, _, typed in rows
            )
    issues.sort(key=lambda issue: issue[0])
    return PlanFile(pl.DataFrame(out, schema=POPULATION_SCHEMA), issues)


def read_rtl(path: Path, reference: Reference, unit_code: Callable[[str], str]) -> PlanFile:
    """Read the follow-up plans; `jenis_layanan` may be blank for a plan of the whole unit."""
    table = read_table_csv(path, RTL_COLUMNS)
    layanan = reference.layanan_keys()
    unsur = {}
    for code, name in reference.questionnaire.unsur:
        unsur[compact_key(code)] = code
        unsur[compact_key(name)] = code
    out: list[dict[str, object]] = []
    issues: list[tuple[int, str, str, str]] = []
    for line, row in enumerate(table.iter_rows(named=True), start=2):
        try:
            status = RTL_STATUS.get((row["status"] or "").strip().lower())
            if status is None:
                raise _RowError(
                    "status",
                    row["status"],
                    "status harus 'sudah' atau 'belum' / status must be 'sudah' or 'belum'",
                )
            record = {
                "survey_year": _year(row["tahun"]),
                "unit_code": _unit(row["unit_kerja"], unit_code),
                "layanan_code": _layanan(row["jenis_layanan"], layanan)
                if (row["jenis_layanan"] or "").strip()
                else None,
                "unsur_code": _lookup(
                    row["unsur"],
                    unsur,
                    "unsur",
                    "unsur tidak dikenal / unknown unsur (use U1..U9 or its name)",
                ),
                "penyebab": _text(row["penyebab"]),
                "rencana_tindak_lanjut": _text(row["rencana_tindak_lanjut"]),
                "batas_waktu": _date(row["batas_waktu"], "batas_waktu"),
                "penanggung_jawab": _text(row["penanggung_jawab"]),
                "status": status,
                "realized_at": _date(row["tanggal_realisasi"], "tanggal_realisasi"),
            }
        except _RowError as exc:
            issues.append((line, exc.column, exc.value, exc.reason))
            continue
        out.append(record)
    return PlanFile(pl.DataFrame(out, schema=RTL_SCHEMA), issues)


class _RowError(Exception):
    def __init__(self, column: str, value: object, reason: str):
        super().__init__(reason)
        self.column, self.value, self.reason = column, "" if value is None else str(value), reason


def read_table_csv(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    """Read a small CSV typed by hand whose header names `columns` (any case and spacing),
    every cell as text. The delimiter is the first of `CSV_DELIMITERS` whose header holds
    every column: Excel saves CSV with semicolons in an Indonesian locale."""
    missing, found = list(columns), []
    for delimiter in CSV_DELIMITERS:
        try:
            table = pl.read_csv(
                path,
                separator=delimiter,
                infer_schema=False,
                encoding="utf8-lossy",
                truncate_ragged_lines=True,
            )
        except Exception as exc:  # noqa: BLE001 - any unreadable file becomes one clear message
            raise SourceFileError(
                f"{path.name}: file tidak terbaca / unreadable CSV ({exc})"
            ) from exc
        table = table.rename(
            {c: "_".join(c.strip().lower().lstrip("\ufeff").split()) for c in table.columns}
        )
        absent = [c for c in columns if c not in table.columns]
        if not absent:
            return table
        if delimiter == ",":
            missing, found = absent, [c for c in table.columns if c]
    raise SourceFileError(
        f"{path.name}: kolom hilang / missing column(s) {', '.join(missing)}; kolom yang "
        f"diharapkan / expected columns: {', '.join(columns)}; kolom yang ada / columns found: "
        f"{', '.join(found) or '(none)'}"
    )


def _year(value: str | None) -> int:
    try:
        year = int((value or "").strip())
    except ValueError:
        raise _RowError("tahun", value, "tahun bukan angka / year is not a number") from None
    if not 2000 <= year <= 2100:
        raise _RowError("tahun", value, "tahun tidak wajar / implausible year")
    return year


def _count(value: str | None) -> int:
    """A whole number as typed: `1234`, grouped by thousands (`1.234`, `1,234`, `1 234`: the
    Indonesian and the English way), or with a zero fraction (`5.0`, `5,00`, as a spreadsheet
    may write a number). Anything else is no count: `12,5` is refused, not read as 125."""
    text = (value or "").strip()
    if _GROUPED.fullmatch(text):
        return int(re.sub(r"[.,\s]", "", text))
    if whole := _ZERO_FRACTION.fullmatch(text):
        return int(whole.group(1))
    raise _RowError(
        "populasi",
        value,
        "populasi harus bilangan bulat ≥ 0 / populasi must be a whole number ≥ 0",
    )


_GROUPED = re.compile(r"\d{1,3}(?:([.,\s])\d{3})(?:\1\d{3})*|\d+")
_ZERO_FRACTION = re.compile(r"(\d+)[.,]0+")


def _unit(value: str | None, unit_code: Callable[[str], str]) -> str:
    try:
        return unit_code(value or "")
    except Exception as exc:  # noqa: BLE001 - the resolver's message is the reason
        raise _RowError("unit_kerja", value, str(exc)) from None


def _layanan(value: str | None, keys: dict) -> str:
    found = keys.get(compact_key(value or ""))
    if found is None:
        raise _RowError(
            "jenis_layanan",
            value,
            "jenis layanan tidak dikenal / unknown layanan: tambahkan ke katalog layanan atau perbaiki ejaan / "
            "add it to the layanan catalogue or fix the spelling",
        )
    return found.code


def _lookup(value: str | None, keys: dict[str, str], column: str, reason: str) -> str:
    found = keys.get(compact_key(value or ""))
    if found is None:
        raise _RowError(column, value, reason)
    return found


def _text(value: str | None) -> str | None:
    return " ".join(value.split()) if value and value.strip() else None


def _date(value: str | None, column: str) -> dt.date | None:
    text = (value or "").strip()
    if not text or text == "-":
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise _RowError(
        column, value, "tanggal tidak terbaca / unreadable date (use YYYY-MM-DD or DD/MM/YYYY)"
    )
