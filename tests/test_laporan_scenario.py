"""A unit reconciles the warehouse with its published report, as a new user would.

One unit, two survey years of sapaapip exports, a population file, an RTL file and
`counting: target_sample`. The expected figures are computed here from the CSV text with
the standard library, independently of the readers and of dbt.
"""

from __future__ import annotations

import csv
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from flows.nightly import nightly
from skm_etl.pipeline import RunSummary
from tests.conftest import SAPAAPIP_CSV

pytestmark = pytest.mark.usefixtures("prefect_harness")

UNIT = "Loka POM di Kota Contoh"
PENGADUAN = "Pengaduan masyarakat dan informasi Obat dan Makanan"
CPPOB = "Penerbitan izin penerapan Cara Produksi Pangan Olahan yang Baik (CPPOB)"
UNSUR_OF_QUESTION = ["U1", "U2", "U3", "U3", "U3", "U4", "U5", "U6", "U7", "U8", "U9"]


def year_2024_export(target: Path) -> Path:
    """The 2025 example moved to 2024 with every U1 answer one point lower (floor 1)."""
    rows = list(csv.reader(SAPAAPIP_CSV.read_text(encoding="utf-8").splitlines()))
    out = []
    for row in rows:
        if row[:1] == ["Tahun"]:
            row = ["Tahun", ":", "2024"]
        elif row and row[0].isdigit():
            row = list(row)
            row[1] = row[1].replace("/2025", "/2024")
            row[8] = str(max(1, int(row[8]) - 1))
        out.append(row)
    with target.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(out)
    return target


def responses_of(path: Path) -> list[dict]:
    """Parse a tabulation's data rows: time, layanan and the eleven scores."""
    rows = []
    for row in csv.reader(path.read_text(encoding="utf-8").splitlines()):
        if row and row[0].isdigit():
            day, month, rest = row[1].split("/", 2)
            year, clock = rest.split(" ")
            rows.append(
                {
                    "at": f"{year}-{month}-{day} {clock}",
                    "layanan": row[2],
                    "scores": [int(v) for v in row[8:19]],
                }
            )
    return rows


def krejcie_morgan(n: int) -> int:
    if n == 0:
        return 0
    return math.ceil(3.841 * n * 0.25 / (0.0025 * (n - 1) + 3.841 * 0.25))


def ikm(responses: list[dict]) -> float:
    sums: dict[str, list[int]] = {}
    for response in responses:
        for unsur, score in zip(UNSUR_OF_QUESTION, response["scores"], strict=True):
            sums.setdefault(unsur, []).append(score)
    return sum(sum(v) / len(v) / 6 * 100 for v in sums.values()) / 9


def shown(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def counted(responses: list[dict], layanan: str, target: int | None) -> list[dict]:
    chosen = sorted((r for r in responses if r["layanan"] == layanan), key=lambda r: r["at"])
    return chosen if target is None else chosen[:target]


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory: pytest.TempPathFactory, prefect_harness) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("laporan")
    (base / "inbox").mkdir()
    exports = {
        2025: base / "inbox" / "tabulasi_2025.csv",
        2024: base / "inbox" / "tabulasi_2024.csv",
    }
    exports[2025].write_text(SAPAAPIP_CSV.read_text(encoding="utf-8"), encoding="utf-8")
    year_2024_export(exports[2024])
    # Populations of the previous year's recipients, for each survey year's window (3 months).
    (base / "populasi.csv").write_text(
        "tahun,unit_kerja,jenis_layanan,populasi\n"
        f"2025,{UNIT},{PENGADUAN},40\n"
        f"2024,{UNIT},Pengaduan masyarakat,20\n"
        f"2024,{UNIT},Layanan yang tidak ada,5\n",
        encoding="utf-8",
    )
    (base / "rtl.csv").write_text(
        "tahun,unit_kerja,jenis_layanan,unsur,penyebab,rencana_tindak_lanjut,batas_waktu,"
        "penanggung_jawab,status,tanggal_realisasi\n"
        f"2024,{UNIT},,U1,Persyaratan kurang jelas,Sosialisasi persyaratan,2025-03-31,Kepala Loka,sudah,2025-02-10\n"
        f"2024,{UNIT},{PENGADUAN},Waktu Penyelesaian,Antrian,Tambah loket,2025-06-30,Koordinator,belum,\n"
        f"2024,{UNIT},,U2,Prosedur panjang,Sederhanakan alur,2025-06-30,Koordinator,Sudah,2025-05-01\n",
        encoding="utf-8",
    )
    config = base / "config.yaml"
    config.write_text(
        "warehouse: warehouse/skm.duckdb\ninbox: inbox/\n"
        "method: {counting: target_sample, scale: 6}\n"
        "surveys:\n"
        "  - {year: 2024, start: 2024-04-01, end: 2024-06-30}\n"
        "  - {year: 2025, start: 2025-04-01, end: 2025-06-30}\n"
        "populations: populasi.csv\nrtl: rtl.csv\n",
        encoding="utf-8",
    )
    state = nightly(config_path=str(config), return_state=True)
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, RunSummary), summary
    return config, {"summary": summary, "exports": exports}


def served(config: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(config.parent / "warehouse" / "skm.duckdb"), read_only=True)


def test_a_population_row_for_an_unknown_layanan_is_reported_and_the_run_goes_on(
    reconciled,
) -> None:
    config, run = reconciled
    assert run["summary"].exit_code == 2
    with served(config) as con:
        rows = con.execute(
            "select source_file, source_row, column_name from ops.rejected_rows"
        ).fetchall()
    assert rows == [("populasi.csv", 4, "jenis_layanan")]


@pytest.mark.parametrize(("year", "populasi"), [(2025, 40), (2024, 20)])
def test_sample_adequacy_shows_the_krejcie_morgan_target(
    reconciled, year: int, populasi: int
) -> None:
    config, run = reconciled
    window_population = math.ceil(populasi * 3 / 12)
    received = len([r for r in responses_of(run["exports"][year]) if r["layanan"] == PENGADUAN])
    target = krejcie_morgan(window_population)
    with served(config) as con:
        row = con.execute(
            "select populasi, population_window, target_sample, respondents_received, "
            "respondents_counted, is_met from marts.sample_adequacy "
            "where survey_year = ? and layanan_code = 'PENGADUAN'",
            [year],
        ).fetchone()
    assert row == (
        populasi,
        window_population,
        target,
        received,
        min(target, received),
        received >= target,
    )


@pytest.mark.parametrize("year", [2024, 2025])
def test_target_sample_counts_the_first_responses_and_reproduces_the_report(
    reconciled, year: int
) -> None:
    config, run = reconciled
    responses = responses_of(run["exports"][year])
    populasi = {2025: 40, 2024: 20}[year]
    target = krejcie_morgan(math.ceil(populasi * 3 / 12))
    per_layanan = {
        PENGADUAN: counted(responses, PENGADUAN, target),
        CPPOB: counted(responses, CPPOB, None),  # no population: every response counts
    }
    with served(config) as con:
        for layanan, chosen in per_layanan.items():
            value, n_counted, has_population = con.execute(
                "select ikm, respondents_counted, has_population from marts.skm_layanan "
                "where survey_year = ? and layanan_name = ?",
                [year, layanan],
            ).fetchone()
            assert n_counted == len(chosen)
            assert has_population == (layanan == PENGADUAN)
            assert shown(value) == shown(ikm(chosen))
        whole = [r for chosen in per_layanan.values() for r in chosen] + counted(
            responses, "Sertifikasi Cara Distribusi Obat yang Baik (CDOB)", None
        )
        unit_value, unit_counted, unit_received = con.execute(
            "select ikm, respondents_counted, respondents_received from marts.skm_unit where survey_year = ?",
            [year],
        ).fetchone()
    assert (unit_counted, unit_received) == (len(whole), len(responses))
    assert shown(unit_value) == shown(ikm(whole))


def test_the_trend_compares_with_the_previous_survey_year_on_rounded_values(reconciled) -> None:
    config, _ = reconciled
    with served(config) as con:
        ikm_2024, ikm_2025 = (
            con.execute("select ikm from marts.skm_unit where survey_year = ?", [y]).fetchone()[0]
            for y in (2024, 2025)
        )
        previous_year, previous_ikm, delta, direction = con.execute(
            "select previous_year, previous_ikm, delta, direction from marts.skm_trend_unit where survey_year = 2025"
        ).fetchone()
    assert (previous_year, previous_ikm) == (2024, ikm_2024)
    assert Decimal(str(delta)) == shown(ikm_2025) - shown(ikm_2024)
    assert direction == ("naik" if delta > 0 else "turun" if delta < 0 else "tetap")
    assert ikm_2025 > ikm_2024  # 2024 had every U1 answer one point lower


def test_rtl_realisation_is_realised_over_planned(reconciled) -> None:
    config, _ = reconciled
    with served(config) as con:
        row = con.execute(
            "select survey_year, planned, realized, pct from marts.rtl_realization"
        ).fetchone()
        plans = con.execute(
            "select unsur_code, status from marts.rtl_plans order by plan_number"
        ).fetchall()
    assert row[:3] == (2024, 3, 2)
    assert row[3] == pytest.approx(2 / 3 * 100)
    assert sorted(plans) == [("U1", "sudah"), ("U2", "sudah"), ("U3", "belum")]


def test_the_docs_site_describes_every_mart_with_its_grain(reconciled) -> None:
    from skm_etl.pipeline import build_docs
    from skm_etl.settings import load_settings

    config, _ = reconciled
    site = build_docs(load_settings(config))
    html = site.read_text(encoding="utf-8")
    with served(config) as con:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]
    assert len(marts) >= 14
    for mart in marts:
        assert f'"model.skm_etl.{mart}"' in html, mart
    assert html.count("One row per") >= len(marts)
