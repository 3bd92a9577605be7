"""The pipeline's read threads: batches, order, and what a nightly run does not read again.

`pipeline.process_files` hands consecutive files to READ_THREADS threads in batches (hash,
archive, read, key, validate), and the main thread takes them back in inbox order and
loads them in groups. These tests run it on a generated inbox with small batches, so that
many batches are in flight at once and the threads finish out of order.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import logging
import os
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import polars as pl
import pytest

from skm_etl import pipeline
from skm_etl.bench.generate import generate
from skm_etl.load import warehouse
from skm_etl.settings import load_settings
from tests.conftest import REPO, SAPAAPIP_CSV


def _sources(count: int) -> list[pipeline.SourceFile]:
    return [
        pipeline.SourceFile(path=Path(f"f{number:03d}.csv"), kind="sapaapip", origin="inbox")
        for number in range(count)
    ]


def _assert_batches_as_full_as_their_limits(
    batches: list[tuple[list[pipeline.SourceFile], int]],
    sources: list[pipeline.SourceFile],
    sizes: list[int],
) -> None:
    assert [s for batch, _ in batches for s in batch] == sources
    size_of = dict(zip(map(id, sources), sizes, strict=True))
    target = pipeline.batch_bytes_target(sum(sizes))
    for number, (batch, batch_bytes) in enumerate(batches):
        assert batch_bytes == sum(size_of[id(s)] for s in batch)
        assert len(batch) <= pipeline.READ_BATCH_FILES
        if len(batch) > 1:  # one big file is a batch of its own, whatever its size
            assert batch_bytes <= target
        if number + 1 < len(batches):  # full: the next file did not fit
            following = size_of[id(batches[number + 1][0][0])]
            assert len(batch) == pipeline.READ_BATCH_FILES or batch_bytes + following > target


def test_batches_keep_the_inbox_order_and_their_limits() -> None:
    kib = 1024
    sizes = [900 * kib, 10 * kib, 10 * kib, 5_000 * kib, 3 * kib] * 6 + [kib] * 100
    sources = _sources(len(sizes))
    batches = pipeline._batches(sources, sizes)
    _assert_batches_as_full_as_their_limits(batches, sources, sizes)
    assert any(len(batch) == pipeline.READ_BATCH_FILES for batch, _ in batches)


def test_a_small_inbox_still_gives_every_thread_work() -> None:
    sizes = [12 * 1024] * 76  # a nightly increment of 76 small files
    sources = _sources(len(sizes))
    batches = pipeline._batches(sources, sizes)
    _assert_batches_as_full_as_their_limits(batches, sources, sizes)
    assert len(batches) >= pipeline.READ_THREADS


def test_new_files_behind_many_loaded_ones_are_still_spread_over_the_threads() -> None:
    # a national inbox keeps every export it ever received: only the new ones are read
    # (a file known loaded costs nothing to read)
    sources = _sources(40 + 76)
    sizes = [0] * 40 + [12 * 1024] * 76
    batches = pipeline._batches(sources, sizes)
    _assert_batches_as_full_as_their_limits(batches, sources, sizes)
    with_new = [batch for batch, batch_bytes in batches if batch_bytes]
    assert len(with_new) >= pipeline.READ_THREADS


@pytest.fixture(scope="module")
def generated_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("read-threads") / "inbox-root"
    generate(root, 4_000, units=5, rows_per_file=400)
    return root


@pytest.fixture
def inbox(generated_inbox: Path, tmp_path: Path) -> Path:
    """A fresh copy of the generated deployment (its config), for a test to run and change."""
    root = shutil.copytree(generated_inbox, tmp_path / "inbox-root")
    return root / "config.yaml"


def _run(config: Path) -> list[pipeline.FileOutcome]:
    settings = load_settings(config)
    run_id = warehouse.new_id()
    prepared = pipeline.prepare(settings, run_id)
    return pipeline.process_files(settings, prepared, pipeline.discover(settings), run_id)


def test_outcomes_follow_the_inbox_order_whatever_order_the_threads_finish_in(
    inbox: Path, monkeypatch
) -> None:
    monkeypatch.setattr(pipeline, "READ_BATCH_BYTES", 1)  # one file per batch: many in flight
    monkeypatch.setattr(pipeline, "READ_AHEAD_BYTES", 1)
    monkeypatch.setattr(pipeline, "LOAD_GROUP_ROWS", 700)  # several load groups as well
    settings = load_settings(inbox)
    expected = [s.display_name for s in pipeline.discover(settings)]
    outcomes = _run(inbox)
    assert [o.source_file for o in outcomes] == expected
    assert {o.status for o in outcomes} == {"loaded"}
    con = duckdb.connect(str(settings.store), read_only=True)
    try:
        stored = con.execute("select count(*) from raw.responses").fetchone()[0]
        batches = con.execute(
            "select source_file, rows_accepted, rows_new from ops.load_batches"
        ).fetchall()
    finally:
        con.close()
    assert stored == sum(o.rows_accepted for o in outcomes) > 0
    assert sorted(batches) == sorted((o.source_file, o.rows_accepted, o.rows_new) for o in outcomes)


def test_a_nightly_run_reads_only_the_new_file(inbox: Path, monkeypatch) -> None:
    _run(inbox)
    settings = load_settings(inbox)
    new = settings.inbox / "tabulasi_new.csv"
    first = sorted(settings.inbox.glob("tabulasi_*.csv"))[0]
    new.write_text(
        first.read_text(encoding="utf-8").replace("01/", "02/", 1) + "\n", encoding="utf-8"
    )
    os.utime(new, (dt.datetime.now().timestamp(),) * 2)
    located: list[str] = []
    original = pipeline._locate

    def counting(source, reference):
        located.append(source.path.name)
        return original(source, reference)

    monkeypatch.setattr(pipeline, "_locate", counting)
    outcomes = _run(inbox)
    assert located == [new.name]
    by_status = {o.source_file: o.status for o in outcomes}
    assert by_status.pop(new.name) == "loaded"
    assert set(by_status.values()) == {"skipped"}


def test_the_same_export_twice_in_one_inbox_is_loaded_once(inbox: Path, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "READ_BATCH_BYTES", 1)
    settings = load_settings(inbox)
    first = sorted(settings.inbox.glob("tabulasi_*.csv"))[0]
    twin = settings.inbox / ("zz_" + first.name)
    twin.write_bytes(first.read_bytes())
    outcomes = {o.source_file: o for o in _run(inbox)}
    assert outcomes[first.name].status == "loaded"
    assert outcomes[twin.name].status == "skipped"
    assert "already loaded" in outcomes[twin.name].message


def test_threads_archiving_the_same_content_at_once_all_succeed(inbox: Path) -> None:
    # one export saved under two names can reach both read threads at the same moment
    settings = load_settings(inbox)
    first = sorted(settings.inbox.glob("tabulasi_*.csv"))[0]
    copies = []
    for number in range(8):
        copy = settings.inbox / f"copy_{number}.csv"
        copy.write_bytes(first.read_bytes())
        copies.append(pipeline.SourceFile(path=copy, kind="sapaapip", origin="inbox"))
    sha = warehouse.file_sha256(first)
    barrier = threading.Barrier(len(copies))

    def archive(source: pipeline.SourceFile) -> None:
        barrier.wait()
        pipeline._archive(settings, source, sha)

    with ThreadPoolExecutor(len(copies)) as pool:
        list(pool.map(archive, copies))  # re-raises any thread's error
    stored = list((settings.archive_dir / "sapaapip" / sha[:2]).iterdir())
    assert [p.name for p in stored] == [f"{sha}.csv"]
    assert warehouse.file_sha256(stored[0]) == sha


def test_files_windows_and_office_leave_in_the_inbox_are_not_exports_and_folders_are_named(
    make_deployment,
) -> None:
    config = make_deployment(inbox=[SAPAAPIP_CSV])
    inbox = config.parent / "inbox"
    (inbox / "~$tabulasi.xlsx").write_bytes(b"\x0bowner" + bytes(155))  # Excel's owner file
    (inbox / "Thumbs.db").write_bytes(bytes(64))
    (inbox / "desktop.ini").write_text("[.ShellClassInfo]\n", encoding="utf-8")
    (inbox / "arsip").mkdir()
    shutil.copy(SAPAAPIP_CSV, inbox / "arsip" / "tabulasi_lama.csv")
    settings = load_settings(config)
    assert [s.path.name for s in pipeline.discover(settings)] == [SAPAAPIP_CSV.name]
    summary = pipeline.RunSummary(run_id=warehouse.new_id(), started_at=dt.datetime.now())
    summary.files.extend(pipeline.prepare(settings, summary.run_id).plan_files)
    [folder] = summary.files
    assert (folder.source_file, folder.status) == ("arsip/", "skipped")
    assert "a folder inside the inbox is not read" in folder.message
    summary.published = True
    assert summary.exit_code == pipeline.EXIT_OK
    assert "skipped  arsip/" in summary.render()


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_an_inbox_that_is_not_a_folder_is_a_rejection_the_run_goes_on_without(
    make_deployment, tmp_path: Path, kind: str
) -> None:
    config = make_deployment(inbox=[])
    text = config.read_text(encoding="utf-8").replace("inbox: inbox/", "inbox: kotak_masuk/")
    config.write_text(text, encoding="utf-8")
    if kind == "a file":
        (config.parent / "kotak_masuk").write_text("", encoding="utf-8")
    settings = load_settings(config)
    summary = pipeline.RunSummary(run_id=warehouse.new_id(), started_at=dt.datetime.now())
    prepared = pipeline.prepare(settings, summary.run_id)
    summary.files.extend(prepared.plan_files)
    assert pipeline.discover(settings) == []
    [outcome] = summary.files
    assert (outcome.status, outcome.origin) == ("rejected", "config")
    summary.published = True  # as after the build and publish of what else there was
    assert summary.exit_code == pipeline.EXIT_REJECTIONS  # had it been a quiet night: 0
    what = "inbox folder not found" if kind == "missing" else "the inbox is not a folder"
    assert f"{what}: {settings.inbox}" in outcome.message
    assert "fix 'inbox:' in config.yaml" in outcome.message
    with duckdb.connect(str(settings.store), read_only=True) as con:
        reasons = con.execute("select source_path, reason from ops.rejected_files").fetchall()
    assert reasons == [(str(settings.inbox), outcome.message)]


def test_a_file_still_being_written_is_left_for_the_next_run(inbox: Path, monkeypatch) -> None:
    settings = load_settings(inbox)
    growing = sorted(settings.inbox.glob("tabulasi_*.csv"))[0]
    whole = growing.read_bytes()
    growing.write_bytes(whole[: len(whole) // 2])  # half copied when the run lists it
    original = pipeline._locate

    def copying_on(source, reference):
        if source.path == growing:  # the copy goes on while the run reads
            growing.write_bytes(whole)
        return original(source, reference)

    monkeypatch.setattr(pipeline, "_locate", copying_on)
    outcomes = {o.source_file: o for o in _run(inbox)}
    assert outcomes[growing.name].status == "deferred"
    assert "changed while it was read" in outcomes[growing.name].message
    summary = pipeline.RunSummary(
        run_id="r", started_at=dt.datetime.now(), files=list(outcomes.values())
    )
    assert "0 unchanged, 0 rejected, 1 deferred to the next run)" in summary.render()
    assert {o.status for name, o in outcomes.items() if name != growing.name} == {"loaded"}
    with duckdb.connect(str(settings.store), read_only=True) as con:
        assert not con.execute(
            "select count(*) from raw.responses where source_file = ?", [growing.name]
        ).fetchone()[0]
    half = hashlib.sha256(whole[: len(whole) // 2]).hexdigest()
    assert not list(settings.archive_dir.rglob(f"{half}.*"))  # no copy under a wrong name
    monkeypatch.setattr(pipeline, "_locate", original)
    outcomes = {o.source_file: o for o in _run(inbox)}
    assert outcomes[growing.name].status == "loaded"
    assert outcomes[growing.name].rows_new == outcomes[growing.name].rows_accepted > 0


def test_a_replay_finds_a_unit_by_name_in_any_case_and_spacing_or_by_code(inbox: Path) -> None:
    _run(inbox)
    settings = load_settings(inbox)
    with duckdb.connect(str(settings.store), read_only=True) as con:
        name, code, files = con.execute(
            "select unit_name, unit_code, count(*) from ops.load_batches "
            "group by all order by 3 desc, 1 limit 1"
        ).fetchone()
    for spelling in [name, f"  {name.upper()} ", name.replace(" ", "  "), code.lower()]:
        replayed = pipeline.replay_sources(settings, year=None, unit=spelling)
        assert len(replayed) == files, spelling


def test_a_rebuild_of_no_loaded_unit_is_refused_before_the_run_reads_anything(
    inbox: Path, prefect_harness
) -> None:
    from flows.nightly import nightly

    populations = inbox.parent / "populasi.csv"
    populations.write_text(
        "tahun,unit_kerja,jenis_layanan,populasi\n2025,Balai POM di Atlantis,Pengujian,120\n",
        encoding="utf-8",
    )
    with inbox.open("a", encoding="utf-8") as config:
        config.write("populations: populasi.csv\n")
    _run(inbox)
    settings = load_settings(inbox)

    def store_state() -> tuple[int, list[tuple], list[tuple]]:
        with duckdb.connect(str(settings.store), read_only=True) as con:
            return (
                con.execute("select count(*) from raw.responses").fetchone()[0],
                con.execute(
                    "select source_file, count(*) from ops.rejected_rows group by 1 order by 1"
                ).fetchall(),
                con.execute("select status, count(*) from ops.load_batches group by 1").fetchall(),
            )

    before = store_state()
    # the population row of a unit the registry does not know is rejected, once
    assert ("populasi.csv", 1) in before[1]
    state = nightly(
        config_path=str(inbox), replay=True, replay_unit="Balai POM di Atlantis", return_state=True
    )
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, pipeline.RunSummary)
    assert summary.exit_code == pipeline.EXIT_FAILED
    assert "no loaded file matches" in summary.error
    assert summary.files == []  # the populations file was not read into the refused run
    assert store_state() == before


@pytest.mark.parametrize(
    ("ikm", "shown"),
    [(78.125, "78.13"), (90.625, "90.63"), (53.125, "53.13"), (88.30499999999999, "88.31")],
)
def test_the_summary_rounds_an_index_half_up_as_the_published_tables(
    ikm: float, shown: str
) -> None:
    # float formatting would round 78.125 half to even: 78.12
    summary = pipeline.RunSummary(
        run_id="r",
        started_at=dt.datetime.now(),
        unit_results=[(2025, "Loka POM di Kota Contoh", 8, ikm, "B", "Baik")],
    )
    assert f"IKM  {shown}  B (Baik)" in summary.render()


def test_the_summary_lists_the_commonest_reasons_of_a_file_s_rejected_rows() -> None:
    rejected = pipeline.FileOutcome(
        "loka_2026.csv",
        "inbox",
        "loaded",
        rows_rejected=7,
        rejection_reasons=pipeline.rejection_reasons(
            pl.DataFrame(
                {
                    "source_row": [5, 6, 7, 8, 9, 10, 11],
                    "column": ["q1", "q1", "q1", "submitted_at", "submitted_at", "q2", None],
                    "value": ["9", "9", "0", "x", "y", "8", None],
                    "reason": ["skor di luar 1..6"] * 3
                    + ["waktu tidak terbaca"] * 2
                    + ["skor di luar 1..6", "duplikat"],
                }
            )
        ),
    )
    summary = pipeline.RunSummary(run_id="r", started_at=dt.datetime.now(), files=[rejected])
    shown = summary.render().splitlines()
    at = next(i for i, line in enumerate(shown) if "loka_2026.csv" in line)
    assert [line.strip() for line in shown[at + 1 : at + 5]] == [
        "x 3 × q1: skor di luar 1..6",
        "x 2 × submitted_at: waktu tidak terbaca",
        "x 1 × q2: skor di luar 1..6",
        "x 1 × 1 other reason(s): see ops.rejected_rows",
    ]


def test_prefect_logs_an_error_that_carries_its_advice_without_a_traceback() -> None:
    from skm_etl.settings import ConfigError

    pipeline.quiet_expected_tracebacks()
    pipeline.quiet_expected_tracebacks()  # once is enough: no second filter
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        ours = [f for f in logger.filters if type(f).__name__ == "_ExpectedErrorsWithoutTraceback"]
        assert len(ours) == 1
        for error, keeps_traceback in (
            (ConfigError("method.scale is 5"), False),
            (ZeroDivisionError("a bug"), True),  # an unexpected error keeps its traceback
        ):
            try:
                raise error
            except Exception:
                exc_info = sys.exc_info()
            # the record Prefect's "Task run failed" line makes, through the logger's filters
            record = logger.makeRecord(name, logging.ERROR, __file__, 1, "failed", (), exc_info)
            assert logger.filter(record)
            assert (record.exc_info is not None) == keeps_traceback


@pytest.mark.parametrize(
    ("declared", "status", "message"),
    [
        ("unit: Loka POM di Kota Contoh, year: 2025", "loaded", None),
        ("unit: '  loka pom di kota CONTOH ', year: 2025", "loaded", None),
        ("unit: LOKA-CONTOH, year: 2025", "loaded", None),  # the registry's code
        # a name the registry does not know: declaring the unit is how such a file loads
        ("unit: Loka POM Kota Contoh, year: 2025, units: none", "loaded", None),
        (
            "unit: Balai POM di Kota Contoh, year: 2025",
            "rejected",
            "the file says unit 'Loka POM di Kota Contoh' but the config declares "
            "'Balai POM di Kota Contoh'",
        ),
        (
            "unit: Loka POM di Kota Contoh, year: 2024",
            "rejected",
            "the file says year 2025 but the config declares 2024",
        ),
    ],
    ids=[
        "same-unit",
        "same-unit-other-spelling",
        "same-unit-by-code",
        "no-registry",
        "other-unit",
        "other-year",
    ],
)
def test_a_declared_tabulation_must_agree_with_what_the_file_says(
    tmp_path: Path, declared: str, status: str, message: str | None
) -> None:
    # a unit declared for a sapaapip source used to win silently over the file's own
    export = Path(__file__).parent / "fixtures" / "sapaapip_tabulasi_example.csv"
    registry = "units: units.csv\n"
    if declared.endswith(", units: none"):
        declared, registry = declared.removesuffix(", units: none"), ""
    (tmp_path / "units.csv").write_text(
        "unit_code,unit_name,unit_type,province\n"
        "LOKA-CONTOH,Loka POM di Kota Contoh,Loka POM,Jawa Barat\n"
        "BALAI-CONTOH,Balai POM di Kota Contoh,Balai POM,Jawa Barat\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"warehouse: wh/skm.duckdb\n{registry}sources:\n"
        f"  - {{name: sapa, kind: sapaapip, {declared}, path: '{export}'}}\n",
        encoding="utf-8",
    )
    (outcome,) = _run(config)
    assert outcome.status == status
    if message is None:
        assert outcome.rows_new == 14
    else:
        assert message in outcome.message


def test_a_declared_form_without_answers_loads_nothing_and_is_not_a_rejection(
    tmp_path: Path,
) -> None:
    export = Path(__file__).parent / "fixtures" / "google_forms_example.csv"
    title_row = export.read_text(encoding="utf-8").splitlines(keepends=True)[0]
    (tmp_path / "form.csv").write_text(title_row, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "warehouse: wh/skm.duckdb\nsources:\n  - {name: baru, kind: google_forms, "
        "unit: Balai POM di Kota Contoh, year: 2025, path: form.csv}\n",
        encoding="utf-8",
    )
    (first,) = _run(config)
    assert (first.status, first.rows_read, first.rows_new) == ("loaded", 0, 0)
    assert any("no responses yet" in w for w in first.warnings)
    summary = pipeline.RunSummary(
        run_id="r", started_at=dt.datetime.now(), files=[first], published=True
    )
    assert summary.exit_code == pipeline.EXIT_OK

    (tmp_path / "form.csv").write_text(export.read_text(encoding="utf-8"), encoding="utf-8")
    (answered,) = _run(config)  # the first answers change the export: it is read again
    assert (answered.status, answered.rows_new) == ("loaded", 9)


def test_an_error_of_several_lines_is_printed_as_lines_under_failed() -> None:
    summary = pipeline.RunSummary(run_id="r", started_at=dt.datetime(2025, 7, 1))
    summary.error = (
        "config.yaml is not valid YAML:\n  found character '\\t' that cannot\n\tstart any token\n"
    )
    text = summary.render()
    assert "FAILED: config.yaml is not valid YAML:\n" in text
    assert "\n        found character '\\t' that cannot\n        start any token\n" in text
    assert "\\n" not in text


def test_no_python_function_runs_inside_a_polars_query() -> None:
    """A Python function in a Polars query (map_elements, map_batches…) runs on Polars' thread
    pool and needs the GIL there; a read thread converting a batch for GX (to_pandas)
    holds the GIL waiting on that pool: the read threads deadlocked. Text is mapped in
    Python outside the query instead (`masking.masked_columns`)."""
    calls = {"map_elements", "map_batches", "map_rows", "map_groups", "apply"}
    found = []
    for path in sorted((REPO / "src" / "skm_etl").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            f"{path.relative_to(REPO)}:{node.lineno} {node.func.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in calls
        ]
    assert found == []
