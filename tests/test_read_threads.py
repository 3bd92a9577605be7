"""The pipeline's read threads: batches, order, and what a nightly run does not read again.

`pipeline.process_files` hands consecutive files to READ_THREADS threads in batches (hash,
archive, read, key, validate), and the main thread takes them back in inbox order and
loads them in groups. These tests run it on a generated inbox with small batches, so that
many batches are in flight at once and the threads finish out of order.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from skm_etl import pipeline
from skm_etl.bench.generate import generate
from skm_etl.load import warehouse
from skm_etl.settings import load_settings


def _sources(tmp_path: Path, sizes: list[int]) -> list[pipeline.SourceFile]:
    sources = []
    for number, size in enumerate(sizes):
        path = tmp_path / f"f{number:03d}.csv"
        path.write_bytes(b"x" * size)
        sources.append(pipeline.SourceFile(path=path, kind="sapaapip", origin="inbox"))
    return sources


def test_batches_keep_the_inbox_order_and_their_limits(tmp_path: Path) -> None:
    kib = 1024
    sizes = [900 * kib, 10 * kib, 10 * kib, 5_000 * kib, 3 * kib] * 6 + [kib] * 100
    sources = _sources(tmp_path, sizes)
    batches = pipeline._batches(sources)
    assert [s for batch in batches for s in batch] == sources
    target = min(
        pipeline.READ_BATCH_BYTES, max(256 * kib, sum(sizes) // (4 * pipeline.READ_THREADS))
    )
    for batch in batches:
        assert len(batch) <= pipeline.READ_BATCH_FILES
        if len(batch) > 1:  # one big file is a batch of its own, whatever its size
            assert sum(s.path.stat().st_size for s in batch) <= target


def test_a_small_inbox_still_gives_every_thread_work(tmp_path: Path) -> None:
    sources = _sources(tmp_path, [12 * 1024] * 76)  # a nightly increment of 76 small files
    assert len(pipeline._batches(sources)) >= pipeline.READ_THREADS


def test_new_files_behind_many_loaded_ones_are_still_spread_over_the_threads(
    tmp_path: Path,
) -> None:
    # a national inbox keeps every export it ever received: only the new ones are read
    sources = _sources(tmp_path, [3 * 2**20] * 40 + [12 * 1024] * 76)
    loaded = {id(s) for s in sources[:40]}
    batches = pipeline._batches(sources, [0 if id(s) in loaded else 12 * 1024 for s in sources])
    assert [s for batch in batches for s in batch] == sources
    with_new = [batch for batch in batches if any(id(s) not in loaded for s in batch)]
    assert len(with_new) >= pipeline.READ_THREADS


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    generated = generate(tmp_path / "inbox-root", 4_000, units=5, rows_per_file=400)
    return generated.config


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
            "select source_file, rows_accepted, rows_new from ops.load_batches order by started_at"
        ).fetchall()
    finally:
        con.close()
    assert stored == sum(o.rows_accepted for o in outcomes) > 0
    assert {name for name, _, _ in batches} == set(expected)


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
