"""The dbt marts against numbers computed by hand (SPEC §3–§5, formats/expected.md).

Each store is built once per module: a DuckDB file made from load/schema.sql, filled
with hand-made raw/ref rows, then `dbt build` through the runner, which also runs the
project's unit tests and data tests.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from skm_etl.load import warehouse
from skm_etl.transform import run_dbt
from tests.storage import append_partly_filled_row_groups, row_groups

REPO = Path(__file__).resolve().parents[1]
SCHEMA_SQL = REPO / "src" / "skm_etl" / "load" / "schema.sql"
SAPAAPIP_CSV = Path(__file__).parent / "fixtures" / "sapaapip_tabulasi_example.csv"

UNSUR = [
    ("U1", "Persyaratan"),
    ("U2", "Sistem, Mekanisme, dan Prosedur"),
    ("U3", "Waktu Penyelesaian"),
    ("U4", "Biaya/Tarif"),
    ("U5", "Produk Spesifikasi Jenis Pelayanan"),
    ("U6", "Kompetensi Pelaksana"),
    ("U7", "Perilaku Pelaksana"),
    ("U8", "Penanganan Pengaduan, Saran, dan Masukan"),
    ("U9", "Sarana dan Prasarana"),
]
UNSUR_OF_QUESTION = {1: "U1", 2: "U2", 3: "U3", 4: "U3", 5: "U3", 6: "U4", 7: "U5",
                     8: "U6", 9: "U7", 10: "U8", 11: "U9"}  # fmt: skip
LAYANAN = {
    "CPPOB": "Penerbitan izin penerapan Cara Produksi Pangan Olahan yang Baik (CPPOB)",
    "PENGADUAN": "Pengaduan masyarakat dan informasi Obat dan Makanan",
    "CDOB": "Sertifikasi Cara Distribusi Obat yang Baik (CDOB)",
}
LAYANAN_CODE = {name: code for code, name in LAYANAN.items()}

# Units: UJI is unregistered (its type comes from its name), BALAI and CONTOH are in the
# registry. CONTOH 2025 is the sapaapip example export of formats/expected.md.
UJI = ("UJI", "Loka POM di Kota Uji")
BALAI = ("BALAI", "Balai POM di Kota Contoh")
CONTOH = ("CONTOH", "Loka POM di Kota Contoh")

WORKED_1 = [5, 5, 5, 5, 5, 6, 5, 5, 5, 5, 5]  # SPEC §3 worked example
WORKED_2 = [4, 4, 5, 5, 3, 6, 5, 5, 6, 5, 4]
PERSONAL_NAME = "Siti Rahmawati Contoh"
PERSONAL_PHONE = "081234567890"


def display(value: float) -> Decimal:
    """Round for display as the published tables do: 2 decimals, half up."""
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def ikm_by_hand(respondents: Sequence[Sequence[int]], scale: int = 6) -> tuple[float, dict]:
    """SPEC §3 in plain Python: pool each unsur's answers, then the mean of the nine."""
    answers: dict[str, list[int]] = defaultdict(list)
    for scores in respondents:
        for number, score in enumerate(scores, start=1):
            answers[UNSUR_OF_QUESTION[number]].append(score)
    per_unsur = {unsur: sum(s) / len(s) / scale * 100 for unsur, s in answers.items()}
    return sum(per_unsur.values()) / 9, per_unsur


class Store:
    """A store file being filled with raw and ref rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con = duckdb.connect(str(path))
        self.con.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        self._row = 0

    def response(
        self,
        key: str,
        unit: tuple[str, str],
        year: int,
        layanan_code: str,
        scores: Sequence[int],
        *,
        submitted_at: dt.datetime | None,
        source_row: int | None = None,
        extra: Sequence[int | None] = (None, None, None),
        anti_corruption: Sequence[int | None] = (None,) * 5,
        saran: str | None = None,
        sex: str | None = None,
        age: int | None = None,
        education: str | None = None,
        occupation: str | None = None,
        loaded_at: dt.datetime = dt.datetime(2025, 1, 1),
    ) -> None:
        self._row += 1
        columns = [f"q{i}" for i in range(1, 15)] + [f"ak{i}" for i in range(1, 6)]
        values = [*scores, *extra, *anti_corruption]
        self.con.execute(
            f"""
            insert into raw.responses (
                response_key, batch_id, source_kind, source_file, source_sha256, source_row,
                unit_code, unit_name, survey_year, layanan_code, layanan_name, layanan_raw,
                submitted_at, respondent_age, respondent_sex, respondent_education,
                respondent_occupation, completion_pct, {", ".join(columns)}, saran, loaded_at
            ) values ({", ".join(["?"] * (18 + len(columns) + 2))})
            """,  # noqa: S608 - fixed column names
            [
                key, "batch", "sapaapip", f"{unit[0]}_{year}.xlsx", "sha", source_row or self._row,
                unit[0], unit[1], year, layanan_code, LAYANAN[layanan_code], LAYANAN[layanan_code],
                submitted_at, age, sex, education, occupation, 100.0, *values, saran,
                loaded_at,
            ],
        )  # fmt: skip
        self.con.execute(
            "insert into raw.respondent_personal values (?, ?, ?, ?)",
            [key, PERSONAL_NAME, PERSONAL_PHONE, loaded_at],
        )

    def close(self) -> None:
        self.con.close()


def fill_reference(store: Store) -> None:
    con = store.con
    order = {code: i for i, (code, _) in enumerate(UNSUR, start=1)}
    names = dict(UNSUR)
    for number, unsur in UNSUR_OF_QUESTION.items():
        con.execute(
            "insert into ref.questionnaire_items values (?, 'unsur', ?, ?, ?, ?, 6)",
            [f"q{number}", number, unsur, names[unsur], order[unsur]],
        )
    for number in (12, 13, 14):
        con.execute(
            "insert into ref.questionnaire_items values (?, 'extra', ?, null, null, null, 6)",
            [f"q{number}", number],
        )
    for number in range(1, 6):
        con.execute(
            "insert into ref.questionnaire_items values (?, 'anti_korupsi', ?, null, null, null, 6)",
            [f"ak{number}", number],
        )
    con.executemany("insert into ref.layanan values (?, ?)", list(LAYANAN.items()))
    con.executemany(
        "insert into ref.units values (?, ?, ?, ?)",
        [(*BALAI, "Balai POM", "Kalimantan Timur"), (*CONTOH, "Loka POM", "Jawa Tengah")],
    )
    # 2022 has no window: its calendar year applies
    con.executemany(
        "insert into ref.survey_windows values (?, ?, ?)",
        [(2024, dt.date(2024, 4, 1), dt.date(2024, 6, 30)),
         (2025, dt.date(2025, 1, 1), dt.date(2025, 12, 31))],
    )  # fmt: skip
    # 4 recipients a year, a 3-month window: N = 1, so S = 1
    con.execute("insert into ref.populations values (2024, 'BALAI', 'CDOB', 4)")
    con.executemany(
        "insert into ref.rtl values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (2024, "BALAI", None, "U9", "Ruang tunggu sempit", "Menambah kursi", None, "Kepala", "sudah", dt.date(2025, 2, 1)),
            (2024, "BALAI", "CDOB", "U3", "Antrean", "Jadwal daring", None, "Kepala", "belum", None),
        ],
    )  # fmt: skip


def fill_responses(store: Store) -> None:
    # UJI: 2022, then (gap 2023) the worked example in 2024 plus one late response
    store.response(
        "uji22", UJI, 2022, "PENGADUAN", [5] * 11, submitted_at=dt.datetime(2022, 8, 1, 9)
    )
    store.response(
        "uji24_1",
        UJI,
        2024,
        "PENGADUAN",
        WORKED_1,
        submitted_at=dt.datetime(2024, 4, 2, 9),
        saran="-",
        sex="Laki-laki",
        age=25,
        education="D4/S1",
        occupation="Wiraswasta",
    )
    store.response(
        "uji24_2",
        UJI,
        2024,
        "PENGADUAN",
        WORKED_2,
        submitted_at=dt.datetime(2024, 4, 3, 9),
        sex="Perempuan",
        age=41,
        education="D4/S1",
        occupation="Pegawai Swasta",
    )
    store.response(
        "uji24_late",
        UJI,
        2024,
        "PENGADUAN",
        [1] * 11,
        submitted_at=dt.datetime(2024, 7, 2, 9),
        saran="Antrean terlalu lama",
        sex="Perempuan",
        age=30,
    )
    # BALAI 2024: b3 is the earliest submission though its row comes last
    store.response(
        "b1", BALAI, 2024, "CDOB", [4] * 11, submitted_at=dt.datetime(2024, 4, 5, 9), source_row=1
    )
    store.response(
        "b2", BALAI, 2024, "CDOB", [4] * 11, submitted_at=dt.datetime(2024, 4, 6, 9), source_row=2
    )
    store.response(
        "b3", BALAI, 2024, "CDOB", [6] * 11, submitted_at=dt.datetime(2024, 4, 4, 9), source_row=3
    )
    store.response("b4", BALAI, 2024, "CPPOB", [5] * 11, submitted_at=None, source_row=4)


def sapaapip_rows() -> list[list[str]]:
    """Data rows of the example sapaapip tabulation (the header rows are not data)."""
    with SAPAAPIP_CSV.open(encoding="utf-8-sig", newline="") as handle:
        return [row for row in csv.reader(handle) if row and row[0].strip().isdigit()]


def fill_sapaapip_example(store: Store) -> None:
    education = {"S1": "D4/S1"}
    occupation = {"Pegawai swasta": "Pegawai Swasta", "Pelajar / mahasiswa": "Pelajar/Mahasiswa"}
    for row in sapaapip_rows():
        numbers = [int(value) for value in row[8:27]]
        store.response(
            f"contoh_{row[0]}", CONTOH, 2025, LAYANAN_CODE[row[2]], numbers[:11],
            submitted_at=dt.datetime.strptime(row[1], "%d/%m/%Y %H:%M:%S"),
            source_row=int(row[0]) + 7, extra=numbers[11:14], anti_corruption=numbers[14:19],
            saran=row[27] or None, age=int(row[3]), sex=row[4],
            education=education.get(row[5], row[5]), occupation=occupation.get(row[6], row[6]),
        )  # fmt: skip


def build_store(directory: Path, counting: str) -> tuple[Path, object]:
    store = Store(directory / "store.duckdb")
    try:
        fill_reference(store)
        fill_responses(store)
        fill_sapaapip_example(store)
    finally:
        store.close()
    result = run_dbt(store.path, vars={"counting": counting}, target_path=directory / "dbt")
    return store.path, result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    return build_store(tmp_path_factory.mktemp("dbt_all"), "all")


@pytest.fixture(scope="module")
def built_target_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    return build_store(tmp_path_factory.mktemp("dbt_target_sample"), "target_sample")


@pytest.fixture(scope="module")
def marts(built: tuple[Path, object]) -> Iterator[duckdb.DuckDBPyConnection]:
    path, result = built
    assert result.success, result.summary()
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def marts_target_sample(
    built_target_sample: tuple[Path, object],
) -> Iterator[duckdb.DuckDBPyConnection]:
    path, result = built_target_sample
    assert result.success, result.summary()
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


@pytest.fixture
def store_copy(built: tuple[Path, object], tmp_path: Path) -> Path:
    """A copy of the built store, for a test that changes it."""
    return Path(shutil.copyfile(built[0], tmp_path / "store.duckdb"))


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: object) -> dict:
    cursor = con.execute(sql, list(params))
    rows = cursor.fetchall()
    assert len(rows) == 1, f"expected one row, got {len(rows)}: {sql} {params}"
    return dict(zip([column[0] for column in cursor.description], rows[0], strict=True))


# --- the build itself ---------------------------------------------------------------


def test_build_passes_its_unit_and_data_tests(built: tuple[Path, object]) -> None:
    _, result = built
    assert result.success, result.summary()
    assert result.failures == []
    assert result.nodes_run > 100  # models, seeds, data tests and unit tests


def test_build_writes_dbt_artifacts_under_the_given_target_path(
    built: tuple[Path, object],
) -> None:
    path, _ = built
    assert (path.parent / "dbt" / "target" / "run_results.json").exists()
    assert (path.parent / "dbt" / "logs").is_dir()


def test_an_unknown_counting_rule_fails_with_a_readable_message(
    store_copy: Path, tmp_path: Path
) -> None:
    result = run_dbt(
        store_copy, vars={"counting": "bogus"}, select="int_responses_counted", target_path=tmp_path
    )
    assert not result.success
    assert "var 'counting' must be 'all' or 'target_sample', got 'bogus'" in result.summary()


def test_a_build_closes_the_store_without_rewriting_what_was_appended(
    store_copy: Path, tmp_path: Path
) -> None:
    """dbt's connection does not vacuum either (profiles.yml): closing after a build keeps
    the partly filled row groups that loads leave, instead of rewriting everything after
    the first of them."""
    con = warehouse.open_store(store_copy)
    try:
        written = append_partly_filled_row_groups(con, "raw.appended")
    finally:
        con.close()
    result = run_dbt(store_copy, select="stg_raw__responses", target_path=tmp_path)
    assert result.success, result.summary()
    assert result.nodes_run >= 1
    con = duckdb.connect(str(store_copy), read_only=True)
    try:
        assert row_groups(con, "raw.appended") == written
    finally:
        con.close()


def test_a_repeated_response_key_fails_the_source_test(store_copy: Path, tmp_path: Path) -> None:
    """The source's uniqueness test (unique_hashed) names a repeated key, as unique would."""
    con = duckdb.connect(str(store_copy))
    try:
        (repeated,) = con.execute(
            "select response_key from raw.responses order by response_key limit 1"
        ).fetchone()
        con.execute(
            "insert into raw.responses select * from raw.responses where response_key = ?",
            [repeated],
        )
    finally:
        con.close()
    result = run_dbt(
        store_copy, command="test", select="source:raw.responses", target_path=tmp_path
    )
    assert not result.success
    (failure,) = result.failures
    assert failure.name == "source_unique_hashed_raw_responses_response_key"
    assert failure.message == "Got 1 result, configured to fail if != 0"


# --- SPEC §3: the index ----------------------------------------------------------------


def test_worked_example_gives_82_72_with_its_unsur(marts) -> None:
    row = one(
        marts,
        "select * from marts.skm_layanan where unit_code = 'UJI' and survey_year = 2024",
    )
    assert display(row["ikm"]) == Decimal("82.72")
    assert (row["mutu"], row["kinerja"]) == ("B", "Baik")
    assert [display(row[u]) for u in ("u1", "u3", "u4", "u7")] == [
        Decimal("75.00"), Decimal("77.78"), Decimal("100.00"), Decimal("91.67"),
    ]  # fmt: skip
    assert row["ikm"] == pytest.approx(ikm_by_hand([WORKED_1, WORKED_2])[0], abs=1e-9)


def test_u3_pools_its_three_questions(marts) -> None:
    row = one(
        marts,
        """select answers, score_sum, nrr from marts.skm_layanan_unsur
        where unit_code = 'UJI' and survey_year = 2024 and unsur_code = 'U3'""",
    )
    assert (row["answers"], row["score_sum"]) == (6, 28)
    assert row["nrr"] == pytest.approx(28 / 6)


def test_unit_pools_its_respondents_rather_than_averaging_layanan(marts) -> None:
    unit = one(marts, "select * from marts.skm_unit where unit_code = 'BALAI'")
    pooled, _ = ikm_by_hand([[4] * 11, [4] * 11, [6] * 11, [5] * 11])
    layanan_mean = (ikm_by_hand([[4] * 11, [4] * 11, [6] * 11])[0] + 5 / 6 * 100) / 2
    assert unit["ikm"] == pytest.approx(pooled, abs=1e-9)  # 79.17
    assert display(unit["ikm"]) != display(layanan_mean)  # 80.56
    assert (unit["mutu"], unit["unit_type"], unit["province"]) == (
        "B",
        "Balai POM",
        "Kalimantan Timur",
    )


def test_unregistered_unit_takes_its_type_from_its_name(marts) -> None:
    row = one(
        marts,
        "select unit_type, province from marts.skm_unit where unit_code = 'UJI' and survey_year = 2024",
    )
    assert row == {"unit_type": "Loka POM", "province": None}


@pytest.mark.parametrize(
    ("layanan_code", "respondents", "ikm", "mutu"),
    [
        ("CPPOB", 2, "95.99", "A"),
        ("PENGADUAN", 11, "87.93", "B"),
        ("CDOB", 1, "79.01", "B"),
    ],
    ids=["cppob", "pengaduan", "cdob"],
)
def test_sapaapip_example_layanan_match_expected_md(
    marts, layanan_code: str, respondents: int, ikm: str, mutu: str
) -> None:
    row = one(
        marts,
        "select * from marts.skm_layanan where unit_code = 'CONTOH' and layanan_code = ?",
        layanan_code,
    )
    assert row["respondents_counted"] == respondents
    assert (display(row["ikm"]), row["mutu"]) == (Decimal(ikm), mutu)


def test_sapaapip_example_unit_and_ipak_match_expected_md(marts) -> None:
    unit = one(marts, "select * from marts.skm_unit where unit_code = 'CONTOH'")
    assert (unit["respondents_counted"], display(unit["ikm"]), unit["mutu"]) == (
        14,
        Decimal("88.45"),
        "A",
    )
    expected_unsur = [
        "84.52",
        "86.90",
        "88.89",
        "91.67",
        "88.10",
        "85.71",
        "90.48",
        "90.48",
        "89.29",
    ]
    assert [display(unit[f"u{i}"]) for i in range(1, 10)] == [Decimal(v) for v in expected_unsur]
    ipak = one(
        marts, "select * from marts.ipak where unit_code = 'CONTOH' and layanan_code is null"
    )
    assert (ipak["respondents"], ipak["answers"], display(ipak["ikm"])) == (
        14,
        70,
        Decimal("94.52"),
    )


def test_questions_12_to_14_are_scored_but_stay_out_of_the_ikm(marts) -> None:
    rows = marts.execute(
        """select item_code, answers, index_value from marts.skm_additional_questions
        where unit_code = 'CONTOH' and layanan_code is null order by question_number"""
    ).fetchall()
    by_hand = [
        sum(int(row[19 + offset]) for row in sapaapip_rows()) / 14 / 6 * 100 for offset in range(3)
    ]
    assert [(code, answers) for code, answers, _ in rows] == [("q12", 14), ("q13", 14), ("q14", 14)]
    assert [value for _, _, value in rows] == pytest.approx(by_hand)
    unsur_codes = marts.execute(
        "select distinct unsur_code from marts.skm_unit_unsur order by unsur_code"
    ).fetchall()
    assert [code for (code,) in unsur_codes] == [code for code, _ in UNSUR]


# --- SPEC §4: window and counting ------------------------------------------------------


def test_late_response_is_received_but_not_counted(marts) -> None:
    row = one(
        marts,
        "select * from marts.skm_unit where unit_code = 'UJI' and survey_year = 2024",
    )
    assert (row["respondents_received"], row["respondents_counted"]) == (3, 2)
    listed = one(marts, "select * from ops.responses_outside_window")
    assert listed["response_key"] == "uji24_late"
    assert listed["window_start"] == dt.date(2024, 4, 1)
    assert "outside the 2024 survey window" in listed["reason"]


def test_year_without_window_uses_its_calendar_year(marts) -> None:
    row = one(marts, "select * from marts.skm_unit where unit_code = 'UJI' and survey_year = 2022")
    assert row["respondents_counted"] == 1
    assert display(row["ikm"]) == Decimal("83.33")


def test_target_sample_counts_the_earliest_submissions(marts_target_sample) -> None:
    cdob = one(
        marts_target_sample,
        "select * from marts.skm_layanan where unit_code = 'BALAI' and layanan_code = 'CDOB'",
    )
    # S = 1, and b3 (all 6) was submitted first although its row comes last
    assert (cdob["respondents_received"], cdob["respondents_counted"]) == (3, 1)
    assert (cdob["target_sample"], cdob["ikm"], cdob["counting_rule"]) == (
        1,
        100.0,
        "target_sample",
    )


def test_target_sample_without_population_counts_all_and_says_so(marts_target_sample) -> None:
    cppob = one(
        marts_target_sample,
        "select * from marts.skm_layanan where unit_code = 'BALAI' and layanan_code = 'CPPOB'",
    )
    assert (cppob["respondents_counted"], cppob["has_population"], cppob["target_sample"]) == (
        1,
        False,
        None,
    )
    unit = one(marts_target_sample, "select * from marts.skm_unit where unit_code = 'BALAI'")
    assert unit["has_population"] is False
    assert unit["ikm"] == pytest.approx(ikm_by_hand([[6] * 11, [5] * 11])[0])


def test_sample_adequacy_compares_counted_with_krejcie_morgan(marts) -> None:
    row = one(
        marts,
        "select * from marts.sample_adequacy where unit_code = 'BALAI' and layanan_code = 'CDOB'",
    )
    assert (
        row["populasi"],
        row["window_months"],
        row["population_window"],
        row["target_sample"],
    ) == (4, 3, 1, 1)
    assert (row["respondents_counted"], row["is_met"]) == (3, True)
    unknown = one(
        marts,
        "select * from marts.sample_adequacy where unit_code = 'BALAI' and layanan_code = 'CPPOB'",
    )
    assert (unknown["target_sample"], unknown["is_met"]) == (None, None)


# --- SPEC §5: roll-ups and analyses ----------------------------------------------------


def test_national_gives_pooled_and_unit_mean_side_by_side(marts) -> None:
    row = one(marts, "select * from marts.skm_national where survey_year = 2024 and scope = 'BPOM'")
    counted = [WORKED_1, WORKED_2, [4] * 11, [4] * 11, [6] * 11, [5] * 11]
    unit_iks = [ikm_by_hand([WORKED_1, WORKED_2])[0], ikm_by_hand(counted[2:])[0]]
    assert (row["units"], row["respondents"]) == (2, 6)
    assert row["ikm_pooled"] == pytest.approx(ikm_by_hand(counted)[0], abs=1e-9)
    assert row["ikm_unit_mean"] == pytest.approx(sum(unit_iks) / 2, abs=1e-9)
    scopes = marts.execute(
        "select scope_type, scope from marts.skm_national where survey_year = 2024 order by all"
    ).fetchall()
    assert scopes == [
        ("bpom", "BPOM"), ("province", "Kalimantan Timur"),
        ("unit_type", "Balai POM"), ("unit_type", "Loka POM"),
    ]  # fmt: skip


def test_trend_compares_with_the_last_surveyed_year_across_a_gap(marts) -> None:
    rows = marts.execute(
        """select survey_year, previous_year, delta, direction from marts.skm_trend_unit
        where unit_code = 'UJI' order by survey_year"""
    ).fetchall()
    # 2023 had no survey: a gap, not a zero; 82.72 − 83.33 = −0.61
    assert rows == [(2022, None, None, None), (2024, 2022, Decimal("-0.61"), "turun")]


def test_priority_lists_three_lowest_and_highest_per_unit(marts) -> None:
    rows = marts.execute(
        """select kind, position, unsur_code from marts.skm_priority
        where unit_code = 'UJI' and survey_year = 2024 and layanan_code is null
        order by kind, position"""
    ).fetchall()
    # worked example: U1 = U2 = U9 = 75 (lowest, in unsur order); U4 100, U7 91.67, then
    # U5 = U6 = U8 = 83.33, of which U5 comes first
    assert rows == [
        ("highest", 1, "U4"), ("highest", 2, "U7"), ("highest", 3, "U5"),
        ("lowest", 1, "U1"), ("lowest", 2, "U2"), ("lowest", 3, "U9"),
    ]  # fmt: skip


def test_profile_counts_every_response_received_and_shows_zeros(marts) -> None:
    rows = marts.execute(
        """select characteristic, category, respondents, pct from marts.respondent_profile
        where unit_code = 'UJI' and survey_year = 2024"""
    ).fetchall()
    table = {(c, k): (n, pct) for c, k, n, pct in rows}
    assert table[("age", "≤ 25")] == (1, pytest.approx(100 / 3))
    assert table[("age", "26–30")][0] == 1  # the late response still counts here
    assert table[("age", "≥ 41")][0] == 1
    assert table[("age", "31–35")] == (0, 0.0)
    assert table[("occupation", "Perusahaan Pengurusan Jasa Kepabeanan")] == (0, 0.0)
    assert table[("education", "Tidak diisi")][0] == 1
    totals = defaultdict(int)
    for (characteristic, _), (respondents, _) in table.items():
        totals[characteristic] += respondents
    assert totals == {"sex": 3, "education": 3, "occupation": 3, "age": 3}


def test_saran_lists_uncounted_suggestions_and_drops_dashes(marts) -> None:
    rows = marts.execute(
        "select response_key, saran, is_counted from marts.saran where unit_code = 'UJI'"
    ).fetchall()
    assert rows == [("uji24_late", "Antrean terlalu lama", False)]


def test_rtl_realization_is_realized_over_planned(marts) -> None:
    row = one(marts, "select * from marts.rtl_realization where unit_code = 'BALAI'")
    assert (row["planned"], row["realized"], row["pct"]) == (2, 1, 50.0)
    plans = marts.execute(
        "select plan_number, unsur_code from marts.rtl_plans where unit_code = 'BALAI' order by plan_number"
    ).fetchall()
    assert plans == [(1, "U3"), (2, "U9")]


def test_no_mart_or_ops_table_carries_personal_data(marts) -> None:
    relations = marts.execute(
        """select table_schema, table_name from information_schema.tables
        where table_schema in ('marts', 'ops', 'staging', 'intermediate')"""
    ).fetchall()
    assert len(relations) > 20
    for schema, table in relations:
        columns = [c for (c,) in marts.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()]  # fmt: skip
        assert not {"respondent_name", "respondent_phone"} & set(columns), f"{schema}.{table}"
        text = marts.execute(f'select * from "{schema}"."{table}"').fetchall()  # noqa: S608
        flat = {str(value) for row in text for value in row}
        assert PERSONAL_NAME not in flat and PERSONAL_PHONE not in flat, f"{schema}.{table}"
