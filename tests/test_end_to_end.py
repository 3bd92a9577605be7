"""The whole nightly flow on real exports: published numbers, idempotency, twins, halves.

Each test runs the real Prefect flow (under the session's temporary Prefect API), the
real readers, Great Expectations, DuckDB and dbt, and reads the served file back.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from fixtures.sources.golden import WHOLE_UNIT, expected_section, shown
from flows.nightly import nightly
from skm_etl.pipeline import RunSummary
from tests.conftest import GOOGLE_FORMS_CSV, SAPAAPIP_CSV, SAPAAPIP_XLSX

pytestmark = pytest.mark.usefixtures("prefect_harness")

UNSUR = [f"U{i}" for i in range(1, 10)]
# Columns that say where a row came from rather than what it says.
LINEAGE = {"source_file", "source_row", "batch_id", "loaded_at", "run_id", "published_at"}


def run(config: Path) -> RunSummary:
    state = nightly(config_path=str(config), return_state=True)
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, RunSummary), summary
    return summary


def served(config: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(config.parent / "warehouse" / "skm.duckdb"), read_only=True)


def marts_snapshot(config: Path) -> dict[str, list[tuple]]:
    """Every mart's rows, sorted, without lineage columns: what analysts see."""
    snapshot: dict[str, list[tuple]] = {}
    with served(config) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        for table in tables:
            columns = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'marts' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if r[0] not in LINEAGE
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'select {select} from marts."{table}"').fetchall()
            snapshot[table] = sorted(rows, key=repr)
    return snapshot


def published_rows(config: Path, unit_name: str) -> dict[str, dict[str, str]]:
    """skm_layanan and skm_unit of one unit, shaped like the tables of expected.md."""
    rows: dict[str, dict[str, str]] = {}
    with served(config) as con:
        per_layanan = con.execute(
            "select layanan_name, respondents_counted, ikm, mutu, "
            + ", ".join(u.lower() for u in UNSUR)
            + " from marts.skm_layanan where unit_name = ?",
            [unit_name],
        ).fetchall()
        whole = con.execute(
            "select 'whole unit', respondents_counted, ikm, mutu, "
            + ", ".join(u.lower() for u in UNSUR)
            + " from marts.skm_unit where unit_name = ?",
            [unit_name],
        ).fetchall()
    for scope, respondents, ikm, mutu, *unsur in per_layanan + whole:
        rows[scope] = {
            "respondents": str(respondents),
            "IKM": shown(ikm),
            "mutu": mutu,
            **{u: shown(v) for u, v in zip(UNSUR, unsur, strict=True)},
        }
    return rows


def ipak_of_unit(config: Path, unit_name: str) -> str:
    with served(config) as con:
        value = con.execute(
            "select ikm from marts.ipak where unit_name = ? and layanan_code is null", [unit_name]
        ).fetchone()[0]
    return shown(value)


def expected_rows(heading: str) -> tuple[dict[str, dict[str, str]], str]:
    table, ipak = expected_section(heading)
    keep = ["respondents", *UNSUR, "IKM", "mutu"]
    return {scope: {k: row[k] for k in keep} for scope, row in table.items()}, ipak


def test_the_example_exports_give_the_published_numbers(make_deployment) -> None:
    config = make_deployment(
        inbox=[SAPAAPIP_XLSX], forms=[(GOOGLE_FORMS_CSV, "Balai POM di Kota Contoh", 2025)]
    )
    summary = run(config)
    assert summary.exit_code == 0, summary.render()
    for heading, unit in [
        ("sapaapip_tabulasi_example", "Loka POM di Kota Contoh"),
        ("google_forms_example", "Balai POM di Kota Contoh"),
    ]:
        expected, ipak = expected_rows(heading)
        assert published_rows(config, unit) == expected
        assert ipak_of_unit(config, unit) == ipak
    assert WHOLE_UNIT in expected


def test_the_xlsx_and_csv_twins_give_identical_marts(make_deployment, tmp_path: Path) -> None:
    from_xlsx = make_deployment(inbox=[SAPAAPIP_XLSX], root=tmp_path / "xlsx")
    from_csv = make_deployment(inbox=[SAPAAPIP_CSV], root=tmp_path / "csv")
    assert run(from_xlsx).exit_code == 0
    assert run(from_csv).exit_code == 0
    assert marts_snapshot(from_xlsx) == marts_snapshot(from_csv)


def test_running_twice_on_the_same_inbox_changes_nothing(make_deployment) -> None:
    config = make_deployment(
        inbox=[SAPAAPIP_XLSX, SAPAAPIP_CSV],
        forms=[(GOOGLE_FORMS_CSV, "Balai POM di Kota Contoh", 2025)],
    )
    first = run(config)
    before = marts_snapshot(config)
    second = run(config)
    assert first.exit_code == second.exit_code == 0
    assert {f.status for f in second.files} == {"skipped"}
    assert marts_snapshot(config) == before
    with duckdb.connect(
        str(config.parent / "warehouse" / ".skm-etl" / "store.duckdb"), read_only=True
    ) as con:
        # The csv twin holds the xlsx's responses: loaded, it adds none.
        assert con.execute(
            "select count(*), count(distinct response_key) from raw.responses"
        ).fetchone() == (23, 23)


def split_tabulation(source: Path, target_dir: Path) -> list[Path]:
    """Cut a sapaapip CSV after its 7th response into two exports with the same header."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    first_data = next(i for i, line in enumerate(lines) if line.startswith("1,"))
    head, data = lines[:first_data], lines[first_data:]
    parts = [target_dir / "part1.csv", target_dir / "part2.csv"]
    parts[0].write_text("".join(head + data[:7]), encoding="utf-8")
    parts[1].write_text("".join(head + data[7:]), encoding="utf-8")
    return parts


def test_an_export_loaded_in_two_halves_gives_the_marts_of_the_whole(
    make_deployment, tmp_path: Path
) -> None:
    whole = make_deployment(inbox=[SAPAAPIP_CSV], root=tmp_path / "whole")
    halves_dir = tmp_path / "pieces"
    halves_dir.mkdir()
    first, second = split_tabulation(SAPAAPIP_CSV, halves_dir)
    halves = make_deployment(inbox=[first], root=tmp_path / "halves")
    assert run(whole).exit_code == 0
    assert run(halves).exit_code == 0
    shutil.copy(second, halves.parent / "inbox" / second.name)
    assert run(halves).exit_code == 0
    assert marts_snapshot(halves) == marts_snapshot(whole)


def test_bad_rows_are_rejected_with_a_reason_and_the_rest_is_published(
    make_deployment, tmp_path: Path
) -> None:
    text = SAPAAPIP_CSV.read_text(encoding="utf-8")
    broken = tmp_path / "broken.csv"
    # Row No 3 gets a score of 9 on question 1; row No 5 an unknown layanan.
    broken.write_text(
        text.replace(
            "3,05/04/2025 15:32:00,Pengaduan masyarakat dan informasi Obat dan Makanan,40,Perempuan,S1,Lainnya,50,6,",
            "3,05/04/2025 15:32:00,Pengaduan masyarakat dan informasi Obat dan Makanan,40,Perempuan,S1,Lainnya,50,9,",
        ).replace(
            "5,07/04/2025 00:30:00,Penerbitan izin penerapan Cara Produksi Pangan Olahan yang Baik (CPPOB)",
            "5,07/04/2025 00:30:00,Layanan Antah Berantah",
        ),
        encoding="utf-8",
    )
    (tmp_path / "not_a_tabulation.pdf").write_bytes(b"%PDF-1.4 not a survey")
    config = make_deployment(
        inbox=[broken, tmp_path / "not_a_tabulation.pdf"], root=tmp_path / "run"
    )
    summary = run(config)
    assert summary.exit_code == 2
    shown = summary.render()
    assert "unsupported file type" in shown
    # the printed summary gives each rejected row's reason too, not only ops.rejected_rows
    (loaded,) = [f for f in summary.files if f.source_file == "broken.csv"]
    assert sorted((column, count) for column, _, count in loaded.rejection_reasons) == [
        ("layanan_code", 1),
        ("q1", 1),
    ]
    for column, reason, _ in loaded.rejection_reasons:
        assert f"x 1 × {column}: {reason}" in shown
    with served(config) as con:
        reasons = con.execute(
            "select column_name, value from ops.rejected_rows order by source_row"
        ).fetchall()
        assert ("q1", "9") in reasons
        assert ("layanan_code", "Layanan Antah Berantah") in reasons
        assert con.execute("select count(*) from ops.rejected_files").fetchone()[0] == 1
        assert (
            con.execute("select sum(respondents_counted) from marts.skm_unit").fetchone()[0] == 12
        )


def store_counts(config: Path) -> tuple[int, int]:
    store = config.parent / "warehouse" / ".skm-etl" / "store.duckdb"
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(
            "select count(*), count(distinct response_key) from raw.responses"
        ).fetchone()


def test_a_rebuild_or_a_backfill_from_the_archive_gives_identical_marts(make_deployment) -> None:
    config = make_deployment(
        inbox=[SAPAAPIP_XLSX], forms=[(GOOGLE_FORMS_CSV, "Balai POM di Kota Contoh", 2025)]
    )
    assert run(config).exit_code == 0
    before, counts = marts_snapshot(config), store_counts(config)
    # The inbox is emptied: everything must come back from the archive.
    for path in (config.parent / "inbox").iterdir():
        path.unlink()
    full = nightly(config_path=str(config), replay=True, return_state=True).result(
        raise_on_failure=False
    )
    assert full.exit_code == 0, full.render()
    assert {f.status for f in full.files} == {"loaded"} and len(full.files) == 2
    assert marts_snapshot(config) == before and store_counts(config) == counts
    one_unit = nightly(
        config_path=str(config),
        replay=True,
        replay_year=2025,
        replay_unit="Balai POM di Kota Contoh",
        return_state=True,
    ).result(raise_on_failure=False)
    assert one_unit.exit_code == 0, one_unit.render()
    assert [f.source_file for f in one_unit.files] == ["1_google_forms_example.csv"]
    assert marts_snapshot(config) == before and store_counts(config) == counts
