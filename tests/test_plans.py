"""The small files typed by hand: populations (SPEC §6.3) and the unit registry (§6.5).

They come from spreadsheets: numbers as a spreadsheet writes them, semicolons from an
Indonesian Excel, a row typed twice. A row that cannot be used is reported with its line
and left out; it never stops the night.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from skm_etl.load.units import UnitError, read_registry
from skm_etl.reference import load_reference
from skm_etl.sources.plans import read_populations

LAYANAN = "Pengaduan masyarakat dan informasi Obat dan Makanan"
OTHER_LAYANAN = "Penerbitan izin penerapan Cara Produksi Pangan Olahan yang Baik (CPPOB)"
UNIT = "Loka POM di Kota Contoh"


@pytest.fixture(scope="module")
def ref():
    return load_reference()


def _populations(tmp_path: Path, ref, rows: list[str], delimiter: str = ","):
    path = tmp_path / "populasi.csv"
    header = delimiter.join(("tahun", "unit_kerja", "jenis_layanan", "populasi"))
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return read_populations(path, ref, lambda name: name.strip().lower())


@pytest.mark.parametrize(
    ("typed", "count"),
    [
        ("1234", 1234),
        ("5.0", 5),
        ("5,00", 5),
        ('"1.234"', 1234),
        ('"1,234"', 1234),
        ('"1.234.567"', 1234567),
        ("1 234", 1234),
        ("0", 0),
    ],
)
def test_a_population_is_read_as_a_spreadsheet_writes_it(
    tmp_path: Path, ref, typed: str, count: int
) -> None:
    read = _populations(tmp_path, ref, [f"2025,{UNIT},{LAYANAN},{typed}"])
    assert read.issues == []
    assert read.rows["populasi"].to_list() == [count]


@pytest.mark.parametrize("typed", ['"12,5"', "5.5", "-3", "1.23", "lima", ""])
def test_a_population_that_is_no_whole_number_is_reported_not_misread(
    tmp_path: Path, ref, typed: str
) -> None:
    read = _populations(
        tmp_path, ref, [f"2025,{UNIT},{LAYANAN},{typed}", f"2025,{UNIT},{OTHER_LAYANAN},7"]
    )
    assert read.rows["populasi"].to_list() == [7]
    [(line, column, _, reason)] = read.issues
    assert (line, column) == (2, "populasi")
    assert "whole number" in reason


def test_a_semicolon_file_from_an_indonesian_excel_is_read(tmp_path: Path, ref) -> None:
    read = _populations(tmp_path, ref, [f"2025;{UNIT};{LAYANAN};120"], delimiter=";")
    assert (read.issues, read.rows["populasi"].to_list()) == ([], [120])


def test_a_file_without_the_columns_names_what_it_found(tmp_path: Path, ref) -> None:
    path = tmp_path / "populasi.csv"
    path.write_text("year,unit,service,count\n2025,x,y,1\n", encoding="utf-8")
    with pytest.raises(Exception, match="columns found: year, unit, service, count"):
        read_populations(path, ref, str)


def test_a_row_typed_twice_counts_once_and_the_second_is_reported(tmp_path: Path, ref) -> None:
    rows = [
        f"2025,{UNIT},{LAYANAN},120",
        f"2025,{UNIT},{OTHER_LAYANAN},40",
        f"2025,{UNIT},{LAYANAN},120",
    ]
    read = _populations(tmp_path, ref, rows)
    assert sorted(read.rows["populasi"].to_list()) == [40, 120]
    [(line, column, typed, reason)] = read.issues
    assert (line, column, typed) == (4, "populasi", "120")
    assert "the same row as line 2" in reason


def test_two_different_populations_of_one_layanan_leave_it_without_one(tmp_path: Path, ref) -> None:
    rows = [
        f"2025,{UNIT},{LAYANAN},120",
        f"2025,{UNIT},{OTHER_LAYANAN},40",
        f"2025,{UNIT},{LAYANAN},150",
    ]
    read = _populations(tmp_path, ref, rows)
    assert read.rows["populasi"].to_list() == [40]
    assert [(line, typed) for line, _, typed, _ in read.issues] == [(2, "120"), (4, "150")]
    assert all("on lines 2, 4: keep one row" in reason for *_, reason in read.issues)


def _registry(tmp_path: Path, rows: list[str], delimiter: str = ",") -> Path:
    path = tmp_path / "units.csv"
    header = delimiter.join(("unit_code", "unit_name", "unit_type", "province", "aliases"))
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_registry_saved_with_semicolons_is_read_with_its_aliases(tmp_path: Path) -> None:
    path = _registry(
        tmp_path,
        ['LOKA-CONTOH;Loka POM di Kota Contoh;Loka POM;Jawa Barat;"Loka Contoh;LPOM Contoh"'],
        delimiter=";",
    )
    units, aliases = read_registry(path)
    assert [(u.code, u.province) for u in units] == [("LOKA-CONTOH", "Jawa Barat")]
    assert aliases == {"Loka Contoh": "LOKA-CONTOH", "LPOM Contoh": "LOKA-CONTOH"}


def test_a_unit_name_given_to_two_codes_is_refused(tmp_path: Path) -> None:
    path = _registry(
        tmp_path,
        [
            "BPOM-CONTOH,Balai POM di Kota Contoh,Balai POM,Jawa Barat,",
            "BPOM-CONTOH2,balai pom di  kota contoh,Balai POM,Jawa Tengah,",
        ],
    )
    with pytest.raises(UnitError, match="baris 3: unit_name .* already on line 2"):
        read_registry(path)
