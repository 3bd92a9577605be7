"""Synthetic national SKM data: a unit registry, real export files and the config to load them.

`generate` writes what a national inbox looks like after a few survey years: a registry
of BPOM units (Balai Besar POM, Balai POM, Loka POM, with provinces), one or more
sapaapip tabulations per unit and year (CSV with the metadata rows and the two-row
header, a few as XLSX when the data set is small), Google Forms response sheets for the
units that survey with a form, and `config.yaml` with `units:` and a `sources:` entry per
form. Answers lean to 4–6 with unit effects; labels come in the spellings the readers
accept; a small share of rows is invalid (score out of range, implausible or unreadable
age, unknown layanan) and must be rejected by the pipeline.

The same arguments give the same bytes: every random draw comes from a generator seeded
by (seed, unit, year, part), and XLSX files are written with fixed timestamps.

Besides the exports it writes `baseline.csv`, the valid responses as plain integers
(unit_code, survey_year, layanan_code, q1..q11), which the benchmark's second, plain
DuckDB baseline reads (its main baseline reads the CSV exports themselves, so the bench
generates them with `xlsx=False`), and `invalid_rows.csv` (file, source_row, kind)
naming every row meant to be rejected.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from skm_etl.bench import constants as c
from skm_etl.reference.catalog import load_reference
from skm_etl.reference.model import BLOCK_ANTI_KORUPSI, BLOCK_EXTRA, BLOCK_UNSUR, Reference

DEFAULT_YEARS = (2023, 2024, 2025)
DEFAULT_ROWS_PER_FILE = 20_000
DEFAULT_FORMS_SHARE = 0.25
DEFAULT_INVALID_SHARE = 0.003
# XLSX is written with openpyxl (slow), so only small data sets get some
XLSX_MAX_RESPONSES = 20_000
XLSX_EVERY = 4  # every fourth sapaapip file of a small data set is an .xlsx
MIN_RESPONSES_PER_UNIT_YEAR = 150
BASELINE_COLUMNS = ("unit_code", "survey_year", "layanan_code", *(f"q{n}" for n in range(1, 12)))
MANIFEST = "manifest.json"
FIXED_TIME = (2025, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class BenchUnit:
    """One unit of the synthetic registry."""

    index: int
    code: str
    name: str
    unit_type: str
    province: str


@dataclass
class Generated:
    """What `generate` wrote, with the counts the benchmark and its tests check."""

    root: Path
    config: Path
    baseline_csv: Path
    invalid_csv: Path
    responses: int
    invalid: int
    files: list[Path] = field(default_factory=list)


def registry() -> tuple[BenchUnit, ...]:
    """Every BPOM unit of the synthetic registry, in registry order."""
    units: list[BenchUnit] = []
    for unit_type, places, prefix in (
        ("Balai Besar POM", c.BALAI_BESAR, "BBPOM"),
        ("Balai POM", c.BALAI, "BPOM"),
        ("Loka POM", c.LOKA, "LOKA"),
    ):
        for place, province in places:
            slug = re.sub(r"[^A-Z0-9]+", "-", place.upper().replace("KABUPATEN ", "KAB "))
            units.append(
                BenchUnit(
                    index=len(units),
                    code=f"{prefix}-{slug.strip('-')}",
                    name=f"{unit_type} di {place}",
                    unit_type=unit_type,
                    province=province,
                )
            )
    return tuple(units)


def pick_units(count: int) -> tuple[BenchUnit, ...]:
    """Choose `count` units mixing the three types, so small data sets still have each."""
    by_type: dict[str, list[BenchUnit]] = {}
    for unit in registry():
        by_type.setdefault(unit.unit_type, []).append(unit)
    # one Balai Besar, one Balai, two Loka per round: roughly BPOM's own proportions
    pattern = ("Balai Besar POM", "Balai POM", "Loka POM", "Loka POM")
    order: list[BenchUnit] = []
    while any(by_type.values()):
        for unit_type in pattern:
            if by_type[unit_type]:
                order.append(by_type[unit_type].pop(0))
    return tuple(order[: max(1, min(count, len(order)))])


def generate(
    root: Path,
    responses: int,
    *,
    seed: int = 0,
    years: Sequence[int] = DEFAULT_YEARS,
    units: int | None = None,
    rows_per_file: int = DEFAULT_ROWS_PER_FILE,
    forms_share: float = DEFAULT_FORMS_SHARE,
    invalid_share: float = DEFAULT_INVALID_SHARE,
    xlsx: bool | None = None,
) -> Generated:
    """Write `responses` responses as export files, a registry and a config under `root`.

    units: how many units answer (default: as many of BPOM's 76 as keep at least
        MIN_RESPONSES_PER_UNIT_YEAR per unit and year); the registry always lists all.
    rows_per_file: a unit's year is split into exports of at most this many rows.
    forms_share: share of unit-years surveyed with a Google Form instead of sapaapip.
    invalid_share: share of rows made invalid (at least one of each kind when N allows).
    xlsx: write every XLSX_EVERY-th sapaapip export as .xlsx; default only when
        `responses` <= XLSX_MAX_RESPONSES. False writes CSV only, which the bench's
        export-file baseline (DuckDB reads CSV, not XLSX) needs.
    """
    if responses < 1:
        raise ValueError(f"responses must be at least 1, got {responses}")
    root = Path(root)
    years = tuple(sorted(years))
    if units is None:
        units = responses // (len(years) * MIN_RESPONSES_PER_UNIT_YEAR)
    chosen = pick_units(units)
    writer = _Writer(root, seed=seed, reference=load_reference(), fresh=True)
    writer.write_registry()
    rng = np.random.default_rng([seed, 0])
    size = np.array([c.TYPE_WEIGHTS[u.unit_type] for u in chosen]) * rng.lognormal(
        0, 0.35, len(chosen)
    )
    growth = np.linspace(1.0, 1.25, len(years))
    weights = np.outer(size, growth).ravel()
    counts = rng.multinomial(responses, weights / weights.sum())
    uses_forms = rng.random(len(chosen) * len(years)) < forms_share
    invalid_total = min(responses, round(responses * invalid_share))
    if invalid_share > 0:
        invalid_total = max(invalid_total, min(responses, len(c.INVALID_KINDS)))
    invalid = rng.multinomial(invalid_total, counts / counts.sum())
    use_xlsx = responses <= XLSX_MAX_RESPONSES if xlsx is None else xlsx

    exports: list[_Export] = []
    for k, (n, bad) in enumerate(zip(counts, invalid, strict=True)):
        unit, year = chosen[k // len(years)], years[k % len(years)]
        if n == 0:
            continue
        if uses_forms[k]:
            exports.append(_Export(unit, year, "google_forms", 0, 1, int(n), int(bad)))
            continue
        parts = max(1, math.ceil(n / rows_per_file))
        sizes = np.full(parts, n // parts) + (np.arange(parts) < n % parts)
        bad_parts = np.full(parts, bad // parts) + (np.arange(parts) < bad % parts)
        for part in range(parts):
            exports.append(
                _Export(unit, year, "sapaapip", part, parts, int(sizes[part]), int(bad_parts[part]))
            )
    sapaapip_seen = 0
    for export in exports:
        as_xlsx = False
        if export.kind == "sapaapip":
            as_xlsx = use_xlsx and sapaapip_seen % XLSX_EVERY == XLSX_EVERY - 1
            sapaapip_seen += 1
        writer.write(export, as_xlsx=as_xlsx)
    writer.write_config(years)
    writer.write_manifest(
        {
            "seed": seed,
            "responses": responses,
            "years": list(years),
            "units": [u.code for u in chosen],
            "increments": 0,
        }
    )
    return writer.result()


def generate_increment(root: Path, responses: int, *, seed: int | None = None) -> Generated:
    """Add `responses` new responses of the latest year as new sapaapip files (a night's inbox).

    The files go into the inbox of a tree made by `generate`; `baseline.csv` and
    `invalid_rows.csv` are extended. Returns what this increment wrote.
    """
    root = Path(root)
    manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    number = int(manifest["increments"]) + 1
    seed = int(manifest["seed"]) if seed is None else seed
    by_code = {u.code: u for u in registry()}
    chosen = [by_code[code] for code in manifest["units"]]
    year = max(manifest["years"])
    writer = _Writer(root, seed=seed, reference=load_reference(), fresh=False)
    rng = np.random.default_rng([seed, 1, number])
    counts = rng.multinomial(responses, np.full(len(chosen), 1 / len(chosen)))
    for unit, n in zip(chosen, counts, strict=True):
        if n:
            writer.write(
                _Export(unit, year, "sapaapip", 0, 1, int(n), 0, increment=number), as_xlsx=False
            )
    manifest["increments"] = number
    writer.write_manifest(manifest)
    return writer.result()


def generate_single_file(root: Path, responses: int = 100, *, seed: int = 0) -> Generated:
    """Write a one-file inbox (one sapaapip CSV of one unit) with the full registry and config."""
    root = Path(root)
    unit = pick_units(1)[0]
    year = DEFAULT_YEARS[-1]
    writer = _Writer(root, seed=seed, reference=load_reference(), fresh=True)
    writer.write_registry()
    writer.write(_Export(unit, year, "sapaapip", 0, 1, responses, 0), as_xlsx=False)
    writer.write_config(DEFAULT_YEARS)
    writer.write_manifest(
        {
            "seed": seed,
            "responses": responses,
            "years": list(DEFAULT_YEARS),
            "units": [unit.code],
            "increments": 0,
        }
    )
    return writer.result()


@dataclass(frozen=True)
class _Export:
    unit: BenchUnit
    year: int
    kind: str  # sapaapip | google_forms
    part: int
    parts: int
    rows: int
    invalid: int
    increment: int = 0

    @property
    def stem(self) -> str:
        if self.kind == "google_forms":
            return f"forms_{self.unit.code}_{self.year}"
        suffix = f"inc{self.increment:03d}" if self.increment else f"{self.part + 1:02d}"
        return f"tabulasi_{self.unit.code}_{self.year}_{suffix}"


class _Writer:
    """Writes the files of one generated tree and keeps count of what it wrote."""

    def __init__(self, root: Path, *, seed: int, reference: Reference, fresh: bool) -> None:
        self.root = root
        self.seed = seed
        self.reference = reference
        self.inbox = root / "inbox"
        self.forms = root / "forms"
        self.baseline = root / "baseline.csv"
        self.invalid_csv = root / "invalid_rows.csv"
        self.files: list[Path] = []
        self.forms_sources: list[tuple[BenchUnit, int, Path]] = []
        self.responses = 0
        self.invalid = 0
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.forms.mkdir(parents=True, exist_ok=True)
        if fresh:
            self.baseline.write_text(",".join(BASELINE_COLUMNS) + "\n", encoding="utf-8")
            self.invalid_csv.write_text("file,source_row,kind\n", encoding="utf-8")
        self._layanan = _layanan_spellings(reference)

    def result(self) -> Generated:
        return Generated(
            root=self.root,
            config=self.root / "config.yaml",
            baseline_csv=self.baseline,
            invalid_csv=self.invalid_csv,
            responses=self.responses,
            invalid=self.invalid,
            files=self.files,
        )

    def write_registry(self) -> None:
        lines = ["unit_code,unit_name,unit_type,province,aliases"]
        for unit in registry():
            short = unit.name.replace("Balai Besar POM", "BBPOM").replace("Balai POM", "BPOM")
            alias = short if short != unit.name else ""
            lines.append(f"{unit.code},{unit.name},{unit.unit_type},{unit.province},{alias}")
        (self.root / "units.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write_config(self, years: Sequence[int]) -> None:
        lines = [
            "# Synthetic national SKM data written by skm_etl.bench.generate",
            "warehouse: warehouse/skm.duckdb",
            "inbox: inbox/",
            "units: units.csv",
            "method: {counting: all, scale: 6}",
            # national volumes: the suite's column checks evaluated natively (GX semantics)
            "validation: {engine: auto}  # national volumes: the suite's checks in one Polars pass",
            "surveys:",
            *(f"  - {{year: {y}, start: {y}-01-01, end: {y}-12-31}}" for y in years),
        ]
        if self.forms_sources:
            lines.append("sources:")
            for unit, year, path in self.forms_sources:
                lines.append(
                    f'  - {{name: {path.stem}, kind: google_forms, unit: "{unit.name}", '
                    f"year: {year}, path: forms/{path.name}}}"
                )
        (self.root / "config.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write_manifest(self, manifest: dict) -> None:
        (self.root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    def write(self, export: _Export, *, as_xlsx: bool) -> None:
        rng = np.random.default_rng(
            [self.seed, 2, export.unit.index, export.year, export.part, export.increment]
        )
        answers = _answers(self.reference, export, self.seed, rng)
        cells, bad, kinds = self._cells(export, answers, rng)
        if export.kind == "google_forms":
            path = self.forms / f"{export.stem}.csv"
            rows = self._write_forms(path, export, cells, rng)
            self.forms_sources.append((export.unit, export.year, path))
        elif as_xlsx:
            path = self.inbox / f"{export.stem}.xlsx"
            rows = self._write_sapaapip_xlsx(path, export, cells)
        else:
            path = self.inbox / f"{export.stem}.csv"
            rows = self._write_sapaapip_csv(path, export, cells, rng)
        self.files.append(path)
        self.responses += export.rows
        self.invalid += int(bad.size)
        valid = np.ones(export.rows, dtype=bool)
        valid[bad] = False
        baseline = pl.DataFrame(
            {
                "unit_code": pl.repeat(export.unit.code, int(valid.sum()), eager=True),
                "survey_year": pl.repeat(export.year, int(valid.sum()), eager=True),
                "layanan_code": answers["layanan_code"].filter(pl.Series(valid)),
                **{f"q{n}": answers[f"q{n}"].filter(pl.Series(valid)) for n in range(1, 12)},
            }
        )
        with self.baseline.open("ab") as handle:
            baseline.write_csv(handle, include_header=False)
        listed = pl.DataFrame(
            {
                "file": pl.repeat(path.name, bad.size, eager=True, dtype=pl.Utf8),
                "source_row": rows.gather(pl.Series(bad, dtype=pl.Int64)),
                "kind": pl.Series(kinds, dtype=pl.Utf8),
            }
        )
        with self.invalid_csv.open("ab") as handle:
            listed.write_csv(handle, include_header=False)

    def _cells(
        self, export: _Export, answers: dict[str, pl.Series], rng: np.random.Generator
    ) -> tuple[dict[str, pl.Series], np.ndarray, list[str]]:
        """Turn answers into the text a unit's export holds, then break the invalid rows."""
        n = export.rows
        forms = export.kind == "google_forms"
        start = dt.datetime(export.year, 1, 1)
        span = (dt.datetime(export.year + 1, 1, 1) - start).total_seconds()
        low = span * export.part / export.parts
        high = span * (export.part + 1) / export.parts
        seconds = np.sort(rng.integers(int(low), int(high), n))
        epoch = int((start - dt.datetime(1970, 1, 1)).total_seconds())
        submitted = pl.Series((seconds + epoch) * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us"))
        age = np.clip(np.rint(rng.normal(38, 11, n)), 17, 75).astype(np.int64)
        age_text = pl.Series(age).cast(pl.Utf8)
        with_tahun = rng.random(n) < 0.03
        age_text = pl.select(
            pl.when(pl.Series(with_tahun)).then(age_text + " tahun").otherwise(age_text)
        ).to_series()
        age_text = _blank(age_text, rng.random(n) < 0.02)
        cells: dict[str, pl.Series] = {
            "submitted_at": submitted.dt.strftime("%d/%m/%Y %H:%M:%S"),
            "layanan": self._layanan.pick(answers["layanan_index"], rng),
            "age": age_text,
            "sex": _pick_variant(c.SEX_VARIANTS, c.SEX_WEIGHTS, n, rng),
            "education": _pick_variant(c.EDUCATION_VARIANTS, c.EDUCATION_WEIGHTS, n, rng),
            "occupation": _pick_variant(c.OCCUPATION_VARIANTS, c.OCCUPATION_WEIGHTS, n, rng),
            "completion": pl.Series(c.COMPLETION_VALUES).gather(
                rng.integers(0, len(c.COMPLETION_VALUES), n)
            ),
            "saran": _saran(n, rng),
        }
        style = int(rng.integers(0, 10))  # one spelling of the labels per form
        for item in self.reference.questionnaire.items:
            scores = answers[item.code]
            if forms:
                labels = pl.Series([None, *(_style(label, style) for label in item.labels)])
                cells[item.code] = labels.gather(scores.fill_null(0).cast(pl.Int64))
            else:
                cells[item.code] = scores.cast(pl.Utf8)

        bad = np.sort(rng.choice(n, size=min(export.invalid, n), replace=False))
        kinds = []
        unsur_items = [i.code for i in self.reference.questionnaire.items if i.block == BLOCK_UNSUR]
        for j, row in enumerate(bad.tolist()):
            # numbered across files, so even a few invalid rows cover every kind
            kind = c.INVALID_KINDS[(self.invalid + j) % len(c.INVALID_KINDS)]
            kinds.append(kind)
            if kind == "score_out_of_range":
                code = unsur_items[row % len(unsur_items)]
                wrong = c.UNKNOWN_LABEL if forms else ("7" if row % 2 else "0")
                cells[code] = cells[code].scatter(row, wrong)
            elif kind == "age_implausible":
                cells["age"] = cells["age"].scatter(row, "7" if row % 2 else "130")
            elif kind == "age_not_a_number":
                cells["age"] = cells["age"].scatter(row, "dua puluh")
            else:
                cells["layanan"] = cells["layanan"].scatter(row, c.UNKNOWN_LAYANAN)
        return cells, bad, kinds

    def _sapaapip_frame(self, cells: dict[str, pl.Series], first_no: int) -> pl.DataFrame:
        n = cells["age"].len()
        items = [i.code for i in self.reference.questionnaire.items]
        return pl.DataFrame(
            [
                pl.int_range(first_no, first_no + n, eager=True).cast(pl.Utf8).alias("no"),
                cells["submitted_at"].alias("submitted_at"),
                cells["layanan"].alias("layanan"),
                cells["age"].alias("age"),
                cells["sex"].alias("sex"),
                cells["education"].alias("education"),
                cells["occupation"].alias("occupation"),
                cells["completion"].alias("completion"),
                *(cells[code].alias(code) for code in items),
                cells["saran"].alias("saran"),
            ]
        )

    def _metadata_lines(self, export: _Export) -> list[list[str]]:
        unit_name = export.unit.name
        if export.part % 3 == 1:  # units type their own name as they like
            unit_name = unit_name.upper()
        return [
            [c.SAPAAPIP_TITLE],
            [],
            ["Tahun", ":", str(export.year)],
            ["Unit Kerja", ":", unit_name],
            [],
        ]

    def _write_sapaapip_csv(
        self, path: Path, export: _Export, cells: dict[str, pl.Series], rng: np.random.Generator
    ) -> pl.Series:
        """Write the tabulation as CSV; return each data row's line number (source_row)."""
        frame = self._sapaapip_frame(cells, 1)
        head = io.StringIO()
        writer = csv.writer(head, lineterminator="\n")
        writer.writerows(self._metadata_lines(export))
        writer.writerows([c.SAPAAPIP_HEADER, c.SAPAAPIP_NUMBERS])
        header_lines = head.getvalue()
        repeat = head.getvalue().split("\n")[-3:-1]  # the two header rows
        page = c.PAGE_ROWS if bool(rng.random() < 0.3) else frame.height
        line = len(self._metadata_lines(export)) + 2
        rows = []
        with path.open("wb") as handle:
            handle.write(header_lines.encode("utf-8"))
            for offset in range(0, frame.height, page):
                if offset:
                    handle.write(("\n".join(repeat) + "\n").encode("utf-8"))
                    line += 2
                chunk = frame.slice(offset, page)
                chunk.write_csv(handle, include_header=False)
                rows.append(pl.int_range(line + 1, line + 1 + chunk.height, eager=True))
                line += chunk.height
        return pl.concat(rows).cast(pl.Int64)

    def _write_sapaapip_xlsx(
        self, path: Path, export: _Export, cells: dict[str, pl.Series]
    ) -> pl.Series:
        """Write the tabulation as XLSX (numbers as numbers); return each data row's row number."""
        from openpyxl import Workbook

        frame = self._sapaapip_frame(cells, 1)
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Tabulasi")
        head = self._metadata_lines(export)
        for row in [*head, list(c.SAPAAPIP_HEADER), list(c.SAPAAPIP_NUMBERS)]:
            sheet.append([value or None for value in row])
        for record in frame.iter_rows():
            sheet.append([_excel_value(value) for value in record])
        workbook.properties.creator = "skm_etl.bench"
        workbook.save(path)
        _freeze_xlsx(path)
        first = len(head) + 3
        return pl.int_range(first, first + frame.height, eager=True, dtype=pl.Int64)

    def _write_forms(
        self, path: Path, export: _Export, cells: dict[str, pl.Series], rng: np.random.Generator
    ) -> pl.Series:
        """Write a Google Forms responses sheet as CSV; return each data row's line number."""
        n = cells["age"].len()
        phones = pl.Series(rng.integers(10**9, 10**10, n)).cast(pl.Utf8)
        items = [i.code for i in self.reference.questionnaire.items]
        frame = pl.DataFrame(
            [
                cells["submitted_at"].alias("timestamp"),
                ("Responden " + pl.int_range(1, n + 1, eager=True).cast(pl.Utf8)).alias("name"),
                cells["age"].alias("age"),
                cells["sex"].alias("sex"),
                ("08" + phones).alias("phone"),
                cells["education"].alias("education"),
                cells["occupation"].alias("occupation"),
                pl.repeat("-", n, eager=True).alias("instansi"),
                cells["layanan"].alias("layanan"),
                cells["completion"].alias("completion"),
                *(cells[code].alias(code) for code in items),
                cells["saran"].alias("saran"),
            ]
        )
        head = io.StringIO()
        csv.writer(head, lineterminator="\n").writerow(
            [*c.FORMS_LEADING, *c.FORMS_QUESTIONS, *c.FORMS_TRAILING]
        )
        with path.open("wb") as handle:
            handle.write(head.getvalue().encode("utf-8"))
            frame.write_csv(handle, include_header=False)
        return pl.int_range(2, 2 + n, eager=True, dtype=pl.Int64)


class _LayananSpellings:
    """Each layanan as written in exports: its name, an alias, or a case/spacing variant."""

    def __init__(self, reference: Reference) -> None:
        texts: list[str] = []
        self.offsets = np.zeros((len(reference.layanan), 3), dtype=np.int64)
        self.counts = np.zeros((len(reference.layanan), 3), dtype=np.int64)
        self.codes = [x.code for x in reference.layanan]
        for j, layanan in enumerate(reference.layanan):
            variants = (
                [layanan.name],
                list(layanan.aliases) or [layanan.name],
                [layanan.name.upper(), layanan.name.lower(), layanan.name.replace(" ", "  ", 2)],
            )
            for kind, spellings in enumerate(variants):
                self.offsets[j, kind] = len(texts)
                self.counts[j, kind] = len(spellings)
                texts.extend(spellings)
        self.texts = pl.Series(texts, dtype=pl.Utf8)

    def pick(self, layanan_index: pl.Series, rng: np.random.Generator) -> pl.Series:
        index = layanan_index.to_numpy()
        kind = rng.choice(3, size=index.size, p=c.LAYANAN_SPELLING_WEIGHTS)
        within = np.floor(rng.random(index.size) * self.counts[index, kind]).astype(np.int64)
        return self.texts.gather(self.offsets[index, kind] + within)


def _layanan_spellings(reference: Reference) -> _LayananSpellings:
    return _LayananSpellings(reference)


def _answers(
    reference: Reference, export: _Export, seed: int, rng: np.random.Generator
) -> dict[str, pl.Series]:
    """Draw each response's layanan and scores from the unit's and the year's effects."""
    n = export.rows
    questionnaire = reference.questionnaire
    scale = questionnaire.scale
    unit_rng = np.random.default_rng([seed, 3, export.unit.index])
    unit_effect = unit_rng.normal(0, c.UNIT_SD)
    unsur_codes = [code for code, _ in questionnaire.unsur]
    unsur_effect = dict(
        zip(unsur_codes, unit_rng.normal(0, c.UNIT_UNSUR_SD, len(unsur_codes)), strict=True)
    )
    offered = unit_rng.permutation(len(reference.layanan))[: int(unit_rng.integers(4, 9))]
    popularity = 1 / np.arange(1, offered.size + 1)
    year_effect = np.random.default_rng([seed, 4, export.unit.index, export.year]).normal(0, 0.08)

    layanan_index = offered[rng.choice(offered.size, size=n, p=popularity / popularity.sum())]
    respondent = rng.normal(0, c.RESPONDENT_SD, n)
    no_extra = rng.random(n) < 0.03
    no_anti_korupsi = rng.random(n) < 0.03
    out: dict[str, pl.Series] = {
        "layanan_index": pl.Series(layanan_index, dtype=pl.Int64),
        "layanan_code": pl.Series([x.code for x in reference.layanan]).gather(layanan_index),
    }
    for item in questionnaire.items:
        if item.block == BLOCK_UNSUR:
            mean = (
                c.SCORE_MEAN
                + unit_effect
                + year_effect
                + unsur_effect[item.unsur_code]
                + c.UNSUR_OFFSETS.get(item.unsur_code or "", 0.0)
            )
            blank = None
        elif item.block == BLOCK_EXTRA:
            mean, blank = c.SCORE_MEAN + 0.1 + unit_effect + year_effect, no_extra
        else:
            assert item.block == BLOCK_ANTI_KORUPSI
            mean, blank = c.ANTI_KORUPSI_MEAN + unit_effect / 2, no_anti_korupsi
        latent = mean + respondent + rng.normal(0, c.ANSWER_SD, n)
        scores = pl.Series(np.clip(np.rint(latent), 1, scale).astype(np.int64))
        if blank is not None:
            scores = _blank(scores, blank)
        out[item.code] = scores
    return out


def _pick_variant(
    variants: tuple[tuple[str, ...], ...],
    weights: tuple[float, ...],
    n: int,
    rng: np.random.Generator,
) -> pl.Series:
    """Draw a category by weight, then its canonical spelling (80%) or another variant."""
    texts = [text for group in variants for text in group]
    offsets = np.cumsum([0, *(len(g) for g in variants[:-1])])
    counts = np.array([len(g) for g in variants])
    category = rng.choice(len(variants), size=n, p=np.array(weights) / sum(weights))
    other = rng.random(n) < 0.2
    within = np.where(
        other & (counts[category] > 1),
        1 + np.floor(rng.random(n) * (counts[category] - 1)).astype(np.int64),
        0,
    )
    return pl.Series(texts, dtype=pl.Utf8).gather(offsets[category] + within)


def _saran(n: int, rng: np.random.Generator) -> pl.Series:
    kind = rng.choice(3, size=n, p=c.SARAN_WEIGHTS)
    texts = pl.Series(["-", None, *c.SARAN_TEXTS], dtype=pl.Utf8)
    which = np.where(kind == 2, 2 + rng.integers(0, len(c.SARAN_TEXTS), n), kind)
    return texts.gather(which)


def _style(label: str, style: int) -> str:
    """Spell an answer label as a form might: as is, lower, upper or with doubled spaces."""
    if style == 7:
        return label.lower()
    if style == 8:
        return label.upper()
    if style == 9:
        return label.replace(" ", "  ")
    return label


def _blank(series: pl.Series, mask: np.ndarray) -> pl.Series:
    return pl.select(
        pl.when(pl.Series(mask)).then(None).otherwise(series).alias(series.name)
    ).to_series()


def _excel_value(value: str | None) -> str | int | dt.datetime | None:
    """Store numbers as numbers and times as dates, as sapaapip's own XLSX does."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    if re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", value):
        return dt.datetime.strptime(value, "%d/%m/%Y %H:%M:%S")
    return value


def _freeze_xlsx(path: Path) -> None:
    """Rewrite an XLSX with fixed zip and document timestamps, so equal input gives equal bytes."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    stamp = dt.datetime(*FIXED_TIME).strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                    rb"\g<1>" + stamp.encode() + rb"\g<2>",
                    data,
                )
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)
