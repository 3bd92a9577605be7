"""What a load of a bench inbox costs at the least, done by DuckDB alone (BENCHMARKS.md).

A measurement, not part of the product: it answers whether readers that parse and
normalise inside DuckDB could bring the 10M ratio to 5. It does the part of the nightly
file phases that no design can skip, on a data set that `skm-etl bench --keep` generated
(its `full/` folder): hash and archive every export, read every cell of every export as
text with DuckDB's CSV reader (many files per statement), take unit and year, map
layanan, demographics and answers, parse times, ages, percentages and scores, check each
row, hash its key and insert it into a new store with `raw.responses`' schema.

Two variants:
- `staged`: each batch of files read into a table, labels mapped through their distinct
  values (exact spelling, else the text key), rows checked into a table, rejected rows
  written to ops.rejected_rows, Google Forms' names and phones to raw.respondent_personal;
- `stream`: one INSERT … SELECT per batch straight from read_csv, unit and year read by
  Python from each tabulation's first lines; labels matched only as spelled (lower case);
  no rejected rows, no personal rows. Less than any reader can do: a floor.

Neither gives a reason per cell, reads variant spellings the staged joins miss, tidies
cells, numbers a Google Forms row by its line, finds double submissions, reads XLSX or
writes Data Docs. The third variant, `pipeline`, times the pipeline's own file phases
(`pipeline.process_files`, after `prepare`) on the same files, into a new store beside
the floor's, for comparison in the same conditions.

Run: `.venv/bin/python scripts/bench_floor.py /tmp/b10m/full --variant stream`. Prints one
JSON line: seconds and CPU seconds per step, peak RSS, and the export-file baseline timed
before and after in the same process.
"""

# ruff: noqa: S608 - every statement is built from this script's and the bench's constants
from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import hashlib
import json
import resource
import time
import uuid
from pathlib import Path

from skm_etl import pipeline
from skm_etl.bench import run as bench
from skm_etl.load import warehouse
from skm_etl.reference.catalog import load_reference
from skm_etl.reference.model import text_key
from skm_etl.settings import load_settings

ITEMS = bench.EXPORT_ITEMS
COLUMNS = ", ".join(warehouse.RESPONSE_COLUMNS)
CHECKS = " and ".join(
    [
        "submitted_at is not null",
        "layanan_code is not null",
        "(respondent_age is null or respondent_age between 15 and 100)",
        *(f"coalesce({item} between 1 and 6, false)" for item in ITEMS[:11]),
        *(f"({item} is null or {item} between 1 and 6)" for item in ITEMS[11:]),
    ]
)
KEY_PARTS = ", ".join(
    f"coalesce(cast({column} as varchar), '\u2205')" for column in warehouse.KEY_CONTENT_COLUMNS
)
STORED = f"""
    f.batch_id, n.source_kind, n.filename, f.sha, n.source_row, n.unit_code, n.unit_name,
    n.survey_year, n.layanan_code, n.layanan_name, n.layanan_raw, n.submitted_at,
    n.respondent_age, n.respondent_age_group, n.respondent_sex, n.respondent_education,
    n.respondent_occupation, n.completion_pct, {", ".join(f"n.{item}" for item in ITEMS)},
    n.saran, now()"""


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Floor:
    def __init__(self, root: Path, store: Path) -> None:
        self.settings = load_settings(root / "config.yaml")
        self.reference = load_reference()
        self.steps: dict[str, list[float]] = {}
        store.unlink(missing_ok=True)
        self.con = warehouse.open_store(store)
        self.con.execute("set preserve_insertion_order = false")
        self.archive = store.parent / "archive"
        self.archive.mkdir(exist_ok=True)
        self.inbox = sorted(self.settings.inbox.glob("*.csv"))
        self.forms = [s for s in self.settings.sources if s.kind == "google_forms"]
        self.labels = [
            [text_key(label) for label in item.labels]
            for item in self.reference.questionnaire.items
        ]
        self._reference_tables()

    def sql(self, step: str, statement: str, parameters: list | None = None) -> None:
        wall, cpu = time.perf_counter(), cpu_s()
        self.con.execute(statement, parameters or [])
        spent = self.steps.setdefault(step, [0.0, 0.0])
        spent[0] += time.perf_counter() - wall
        spent[1] += cpu_s() - cpu

    def _reference_tables(self) -> None:
        con = self.con
        spellings = {}
        for layanan in self.reference.layanan:
            for text in (layanan.code, layanan.name, *layanan.aliases):
                spellings[text] = (layanan.code, layanan.name)
                spellings[text_key(text)] = (layanan.code, layanan.name)
        con.execute("create temp table layanan_map (spelling varchar, code varchar, name varchar)")
        con.executemany(
            "insert into layanan_map values (?, ?, ?)", [(k, *v) for k, v in spellings.items()]
        )
        for characteristic, variants in self.reference.demographics.items():
            con.execute(
                f"create temp table map_{characteristic} (spelling varchar, category varchar)"
            )
            rows = {**variants, **{k.lower(): v for k, v in variants.items()}}
            con.executemany(f"insert into map_{characteristic} values (?, ?)", list(rows.items()))
        con.execute(
            f"""
            create temp table unit_map as
            select {bench._NAME_KEY.format("unit_name")} as name_key, unit_code, unit_name
            from read_csv(?, header = true, all_varchar = true)
            """,
            [str(self.settings.units)],
        )
        # each file's unit and year: a tabulation's from its first lines, a form's from config
        metadata = [(self._path(p), *self._tabulation_metadata(p)) for p in self.inbox]
        metadata += [(self._path(s.path), s.unit, s.year) for s in self.forms]
        con.execute(
            "create temp table file_metadata (filename varchar, unit varchar, year integer)"
        )
        con.executemany("insert into file_metadata values (?, ?, ?)", metadata)
        con.execute(
            f"""
            create temp table file_units as
            select m.filename, u.unit_code, u.unit_name, m.year as survey_year
            from file_metadata as m
            left join unit_map as u on u.name_key = {bench._NAME_KEY.format("m.unit")}
            """
        )

    @staticmethod
    def _path(path: Path) -> str:
        return str(path.resolve())

    @staticmethod
    def _tabulation_metadata(path: Path) -> tuple[str | None, int | None]:
        with path.open(encoding="utf-8", newline="") as handle:
            head = [handle.readline() for _ in range(6)]
        unit = year = None
        for record in csv.reader(head):
            if record and record[0].strip().lower() == "unit kerja":
                unit = record[2]
            elif record and record[0].strip().lower() == "tahun":
                year = int(record[2])
        return unit, year

    def hash_and_archive(self) -> None:
        wall, cpu = time.perf_counter(), cpu_s()
        rows = []
        for path in [*self.inbox, *(s.path for s in self.forms)]:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            (self.archive / digest).write_bytes(data)
            rows.append((self._path(path), digest, uuid.uuid4().hex))
        self.con.execute(
            "create temp table files (filename varchar, sha varchar, batch_id varchar)"
        )
        self.con.executemany("insert into files values (?, ?, ?)", rows)
        self.steps["hash_archive"] = [time.perf_counter() - wall, cpu_s() - cpu]

    def _read(self, kind: str, paths: list[str]) -> str:
        """The cells of a batch of files, one row per data row, as text."""
        files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
        if kind == "sapaapip":
            return f"""
            select *, 'sapaapip' as source_kind, try_cast(no as bigint) + 7 as source_row
            from read_csv({files}, header = false, null_padding = true, {bench._READ_OPTIONS},
                columns = {bench._columns_struct(bench.SAPAAPIP_COLUMNS)})
            where try_cast(no as integer) is not null
            """
        return f"""
        select *, 'google_forms' as source_kind,
            row_number() over (partition by filename) + 1 as source_row
        from read_csv({files}, header = true, {bench._READ_OPTIONS},
            columns = {bench._columns_struct(bench.FORMS_COLUMNS)})
        """

    def _score(self, kind: str, position: int, item: str, *, exact: bool) -> str:
        if kind == "sapaapip":
            return f"try_cast({item} as smallint)"
        labels = f"{self.labels[position - 1]!r}::varchar[]"
        if exact:
            return f"list_position({labels}, lower({item}))::smallint"
        return (
            f"coalesce(list_position({labels}, lower({item})), "
            f"list_position({labels}, {bench._TEXT_KEY.format(item)}))::smallint"
        )

    def _normalised(self, kind: str, source: str, *, staged: bool) -> str:
        scores = ",\n".join(
            f"{self._score(kind, n, item, exact=not staged)} as {item}"
            for n, item in enumerate(ITEMS, start=1)
        )
        if staged:
            time_ = (
                "coalesce(try_strptime(c.submitted_at, '%d/%m/%Y %H:%M:%S'), "
                "try_strptime(c.submitted_at, '%d/%m/%Y %H:%M'))"
            )
            age = r"try_cast(regexp_extract(c.age, '^\s*(\d+)', 1) as integer)"
            layanan = """
            left join distinct_layanan as dl on dl.raw = c.layanan
            left join layanan_map as l on l.spelling = coalesce(dl.exact, dl.key)"""
            demographic = "(select raw, category from distinct_{0} join map_{0} on spelling = key)"
        else:
            time_ = "try_strptime(c.submitted_at, '%d/%m/%Y %H:%M:%S')"
            age = "try_cast(c.age as integer)"
            layanan = "left join layanan_map as l on l.spelling = c.layanan"
            demographic = "(select spelling as raw, category from map_{0})"
        joins = "\n".join(
            f"left join {demographic.format(ch)} as {ch} on {ch}.raw = "
            + (f"c.{ch}" if staged else f"lower(c.{ch})")
            for ch in ("sex", "education", "occupation")
        )
        return f"""
        select c.filename, c.source_kind, c.source_row, c.saran, u.unit_code, u.unit_name,
            u.survey_year, {time_} as submitted_at, l.code as layanan_code,
            l.name as layanan_name, c.layanan as layanan_raw, {age} as respondent_age,
            null::varchar as respondent_age_group, sex.category as respondent_sex,
            education.category as respondent_education,
            occupation.category as respondent_occupation,
            try_cast(replace(c.completion, '%', '') as double) as completion_pct,
            {scores}
        from ({source}) as c
        join file_units as u using (filename)
        {layanan}
        {joins}
        """

    def _key(self) -> str:
        return (
            "sha256(concat_ws('|', n.source_kind, n.unit_code, cast(n.survey_year as varchar), "
            f"{KEY_PARTS.replace('coalesce(cast(', 'coalesce(cast(n.')}) || '|0')"
        )

    def load_staged(self, kind: str, paths: list[str]) -> None:
        self.sql("begin", "begin transaction")
        self.sql("read", f"create or replace temp table cells as {self._read(kind, paths)}")
        self.sql(
            "map_distinct",
            "create or replace temp table distinct_layanan as select layanan as raw, "
            "case when layanan in (select spelling from layanan_map) then layanan end as exact, "
            f"{bench._TEXT_KEY.format('layanan')} as key from (select distinct layanan from cells)",
        )
        for ch in ("sex", "education", "occupation"):
            self.sql(
                "map_distinct",
                f"create or replace temp table distinct_{ch} as select {ch} as raw, "
                f"lower(trim({ch})) as key from (select distinct {ch} from cells)",
            )
        if kind == "google_forms":
            self.sql(
                "personal",
                "insert into raw.respondent_personal select filename || ':' || source_row, "
                "respondent_name, phone, now() from cells",
            )
        self.sql(
            "normalise",
            "create or replace temp table checked as select *, "
            f"{CHECKS} as ok from ({self._normalised(kind, 'select * from cells', staged=True)})",
        )
        self.sql(
            "rejected",
            "insert into ops.rejected_rows select f.batch_id, 'floor', n.filename, n.source_row, "
            "null, null, 'rejected', now() from checked as n join files as f using (filename) "
            "where not ok",
        )
        self.sql(
            "key_insert",
            f"insert into raw.responses ({COLUMNS}) select {self._key()}, {STORED} "
            "from checked as n join files as f using (filename) where ok",
        )
        self.sql("commit", "commit")

    def load_stream(self, kind: str, paths: list[str]) -> None:
        normalised = self._normalised(kind, self._read(kind, paths), staged=False)
        self.sql(
            "read_normalise_key_insert",
            f"insert into raw.responses ({COLUMNS}) select {self._key()}, {STORED} "
            f"from ({normalised}) as n join files as f using (filename) "
            f"where {CHECKS.replace('submitted_at', 'n.submitted_at')}",
        )


def run_pipeline(root: Path, work: Path) -> tuple[int, int, dict[str, list[float]]]:
    """The pipeline's file phases on the same files, into a new store under `work`."""
    settings = dataclasses.replace(
        load_settings(root / "config.yaml"),
        warehouse=work / "pipeline" / "served.duckdb",
        work_dir=work / "pipeline" / "work",
    )
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    settings.store.unlink(missing_ok=True)
    summary = pipeline.RunSummary(run_id=warehouse.new_id(), started_at=dt.datetime.now())
    pipeline.record_run(settings, summary, status="running")
    prepared = pipeline.prepare(settings, summary.run_id)
    wall, cpu = time.perf_counter(), cpu_s()
    outcomes = pipeline.process_files(
        settings, prepared, pipeline.discover(settings), summary.run_id
    )
    steps = {"process_files": [time.perf_counter() - wall, cpu_s() - cpu]}
    stored = sum(o.rows_new for o in outcomes)
    return stored, sum(o.rows_rejected for o in outcomes), steps


def baseline_s(root: Path) -> float:
    return round(bench.run_baseline(root / "config.yaml")["total_s"], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("root", type=Path, help="a bench data set (<workdir>/full)")
    parser.add_argument("--variant", choices=("staged", "stream", "pipeline"), default="staged")
    parser.add_argument("--files-per-statement", type=int, default=48)
    args = parser.parse_args()
    before = baseline_s(args.root)
    work = args.root.parent / "floor"
    work.mkdir(exist_ok=True)
    wall, cpu = time.perf_counter(), cpu_s()
    if args.variant == "pipeline":
        stored, rejected, steps = run_pipeline(args.root, work)
    else:
        floor = Floor(args.root, work / "store.duckdb")
        floor.hash_and_archive()
        load = floor.load_staged if args.variant == "staged" else floor.load_stream
        step = args.files_per_statement
        for kind, paths in (
            ("sapaapip", [floor._path(p) for p in floor.inbox]),
            ("google_forms", [floor._path(s.path) for s in floor.forms]),
        ):
            for i in range(0, len(paths), step):
                load(kind, paths[i : i + step])
        stored, rejected = floor.con.execute(
            "select (select count(*) from raw.responses), (select count(*) from ops.rejected_rows)"
        ).fetchone()
        floor.con.close()
        steps = floor.steps
    total_wall, total_cpu = time.perf_counter() - wall, cpu_s() - cpu
    if args.variant == "pipeline":  # the file phases only, not the prepare step before them
        total_wall, total_cpu = steps["process_files"]
    after = baseline_s(args.root)
    print(
        json.dumps(
            {
                "variant": args.variant,
                "stored": stored,
                "rejected": rejected,
                "floor_s": round(total_wall, 2),
                "floor_cpu_s": round(total_cpu, 2),
                "cpu_us_per_stored_response": round(total_cpu / max(stored, 1) * 1e6, 2),
                "baseline_s": [before, after],
                "floor_over_baseline": round(total_wall / min(before, after), 2),
                "steps": {k: [round(w, 2), round(c, 2)] for k, (w, c) in steps.items()},
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
