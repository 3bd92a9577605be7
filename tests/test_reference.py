"""The packaged reference data (SPEC §2, §5) and the loader's checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from skm_etl.reference import ReferenceDataError, load_reference
from skm_etl.reference.catalog import (
    DEFAULT_DEMOGRAPHICS,
    DEFAULT_LAYANAN,
    DEFAULT_QUESTIONNAIRE,
    load_demographics,
    load_layanan,
    load_questionnaire,
)
from skm_etl.reference.model import (
    BLOCK_ANTI_KORUPSI,
    BLOCK_EXTRA,
    BLOCK_UNSUR,
    compact_key,
    text_key,
)

UNSUR_OF_QUESTION = {
    1: "U1",
    2: "U2",
    3: "U3",
    4: "U3",
    5: "U3",
    6: "U4",
    7: "U5",
    8: "U6",
    9: "U7",
    10: "U8",
    11: "U9",
}


@pytest.fixture(scope="module")
def reference():
    return load_reference()


def test_the_default_questionnaire_has_a_six_point_scale(reference) -> None:
    assert reference.questionnaire.scale == 6


@pytest.mark.parametrize(("number", "unsur"), UNSUR_OF_QUESTION.items(), ids=lambda v: str(v))
def test_each_question_belongs_to_its_unsur(reference, number: int, unsur: str) -> None:
    item = reference.questionnaire.item(f"q{number}")
    assert (item.block, item.number, item.unsur_code) == (BLOCK_UNSUR, number, unsur)


def test_u3_pools_questions_three_four_and_five(reference) -> None:
    codes = [i.code for i in reference.questionnaire.items if i.unsur_code == "U3"]
    assert codes == ["q3", "q4", "q5"]


def test_the_nine_unsur_come_in_order_with_their_names(reference) -> None:
    unsur = reference.questionnaire.unsur
    assert [code for code, _ in unsur] == [f"U{n}" for n in range(1, 10)]
    assert unsur[0] == ("U1", "Persyaratan")
    assert unsur[8] == ("U9", "Sarana dan Prasarana")


def test_questions_twelve_to_fourteen_are_scored_outside_the_unsur(reference) -> None:
    extra = reference.questionnaire.items_in(BLOCK_EXTRA)
    assert [(i.code, i.number, i.unsur_code) for i in extra] == [
        ("q12", 12, None),
        ("q13", 13, None),
        ("q14", 14, None),
    ]


def test_the_anti_corruption_block_has_five_setuju_statements(reference) -> None:
    block = reference.questionnaire.items_in(BLOCK_ANTI_KORUPSI)
    assert [i.code for i in block] == ["ak1", "ak2", "ak3", "ak4", "ak5"]
    assert {i.labels[0] for i in block} == {"Sangat Tidak Setuju"}
    assert {i.labels[-1] for i in block} == {"Sangat Setuju"}


@pytest.mark.parametrize(
    ("code", "lowest", "highest"),
    [
        ("q1", "Sangat Tidak Mudah", "Sangat Mudah"),
        ("q3", "Sangat Tidak Sesuai", "Sangat Sesuai"),
        ("q5", "Sangat Lambat", "Sangat Cepat"),
        ("q6", "Sangat Tidak Jelas", "Sangat Jelas"),
        ("q8", "Sangat Tidak Memadai", "Sangat Memadai"),
        ("q9", "Sangat Tidak Setuju", "Sangat Setuju"),
        ("q10", "Sangat Tidak Baik", "Sangat Baik"),
        ("q11", "Sangat Tidak Lengkap", "Sangat Lengkap"),
    ],
)
def test_labels_run_from_score_one_to_six(reference, code: str, lowest: str, highest: str) -> None:
    item = reference.questionnaire.item(code)
    assert len(item.labels) == 6
    assert item.label_scores()[text_key(lowest)] == 1
    assert item.label_scores()[text_key(highest)] == 6


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Laki-Laki", "laki laki"),
        ("  SANGAT   mudah ", "sangat mudah"),
        ("≤ SMA/Sederajat", "sma sederajat"),
        ("Ｓ１", "s1"),
    ],
)
def test_text_keys_ignore_case_spaces_punctuation_and_width(written: str, key: str) -> None:
    assert text_key(written) == key


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Penerbitan izin penerapan Cara Produksi Pangan Olahan yang Baik (CPPOB)", "CPPOB"),
        ("Pengaduan masyarakat dan informasi Obat dan Makanan", "PENGADUAN"),
        ("Sertifikasi Cara Distribusi Obat yang Baik (CDOB)", "CDOB"),
        ("sertifikasi  c.d.o.b", "CDOB"),
        ("Sertifikasi CPOTB", "CPOTB"),
        ("Registrasi pangan olahan", "IZIN_EDAR_PANGAN"),
        ("SKI", "SKI"),
        ("Pengujian laboratorium", "PENGUJIAN"),
        ("Penyuluhan Keamanan Pangan", "PKP"),
        ("Persetujuan iklan", "IKLAN"),
    ],
)
def test_layanan_are_found_by_name_alias_or_code(reference, written: str, code: str) -> None:
    assert reference.layanan_keys()[compact_key(written)].code == code


def test_layanan_names_are_canonical_indonesian(reference) -> None:
    names = {x.code: x.name for x in reference.layanan}
    assert names["CDOB"] == "Sertifikasi Cara Distribusi Obat yang Baik (CDOB)"
    assert len(names) >= 10


@pytest.mark.parametrize(
    ("characteristic", "written", "category"),
    [
        ("sex", "Laki-laki", "Laki-laki"),
        ("sex", "Laki-Laki", "Laki-laki"),
        ("sex", "L", "Laki-laki"),
        ("sex", "Pria", "Laki-laki"),
        ("sex", "perempuan", "Perempuan"),
        ("sex", "Wanita", "Perempuan"),
        ("education", "S1", "D4/S1"),
        ("education", "D4/S1", "D4/S1"),
        ("education", "SMA", "≤ SMA/Sederajat"),
        ("education", "≤ SMA/Sederajat", "≤ SMA/Sederajat"),
        ("education", "D3", "D1/D2/D3"),
        ("education", "S2/Profesi/S3", "S2/Profesi/S3"),
        ("occupation", "Pegawai swasta", "Pegawai Swasta"),
        ("occupation", "Pelajar / mahasiswa", "Pelajar/Mahasiswa"),
        ("occupation", "PNS", "PNS/TNI/Polri"),
        ("occupation", "PPJK", "Perusahaan Pengurusan Jasa Kepabeanan"),
        ("occupation", "Lainnya", "Lainnya"),
    ],
)
def test_demographic_spellings_map_to_the_spec_categories(
    reference, characteristic: str, written: str, category: str
) -> None:
    assert reference.demographics[characteristic][text_key(written)] == category


def test_an_unknown_occupation_falls_back_to_lainnya_but_sex_does_not(reference) -> None:
    assert reference.demographic_fallbacks == {"occupation": "Lainnya"}


def test_paths_given_as_none_load_the_packaged_defaults() -> None:
    assert load_reference(None, None) == load_reference(
        DEFAULT_QUESTIONNAIRE, DEFAULT_LAYANAN, DEFAULT_DEMOGRAPHICS
    )


QUESTIONNAIRE = textwrap.dedent(
    """\
    name: test
    scale: 4
    unsur: {U1: Persyaratan}
    label_sets:
      mudah: [Tidak Mudah, Kurang Mudah, Mudah, Sangat Mudah]
    items:
      - {code: q1, block: unsur, number: 1, unsur: U1, labels: mudah}
    """
)


def _write(tmp_path: Path, text: str, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_four_point_questionnaire_is_configuration_not_code(tmp_path: Path) -> None:
    questionnaire = load_questionnaire(_write(tmp_path, QUESTIONNAIRE))
    assert questionnaire.scale == 4
    assert questionnaire.item("q1").label_scores()["sangat mudah"] == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("scale: 4", "scale: four"), "'scale'"),
        (("labels: mudah", "labels: mudha"), "items[0] (q1).labels: unknown label set 'mudha'"),
        (("block: unsur", "block: unsure"), "items[0] (q1).block"),
        (("unsur: U1, labels", "unsur: U2, labels"), "items[0] (q1).unsur"),
        (("code: q1", "code: x1"), "items[0].code"),
        (("number: 1", "number: 0"), "items[0] (q1).number"),
        (("Tidak Mudah, ", ""), "3 labels for a 4-point scale"),
        (("labels: mudah}", "labels: mudah, colour: red}"), "unknown key(s) ['colour']"),
        (("items:", "itemz:"), "'items'"),
    ],
    ids=[
        "scale-not-a-number",
        "unknown-label-set",
        "unknown-block",
        "unknown-unsur",
        "bad-item-code",
        "number-zero",
        "too-few-labels",
        "unknown-item-key",
        "items-misspelt",
    ],
)
def test_a_malformed_questionnaire_names_the_wrong_key(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = _write(tmp_path, QUESTIONNAIRE.replace(*change))
    with pytest.raises(ReferenceDataError, match="broken.yaml") as raised:
        load_questionnaire(path)
    assert expected in str(raised.value)


def test_a_question_number_used_twice_is_rejected(tmp_path: Path) -> None:
    text = QUESTIONNAIRE + "  - {code: q2, block: unsur, number: 1, unsur: U1, labels: mudah}\n"
    with pytest.raises(ReferenceDataError, match="question number 1 appears twice"):
        load_questionnaire(_write(tmp_path, text))


def test_an_alias_shared_by_two_layanan_is_rejected(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        layanan:
          - {code: A, name: Layanan A, aliases: [Pengujian]}
          - {code: B, name: Layanan B, aliases: [pengujian.]}
        """
    )
    with pytest.raises(ReferenceDataError, match=r"layanan\[1\].*already the name or an alias"):
        load_layanan(_write(tmp_path, text))


def test_a_spelling_given_to_two_categories_is_rejected(tmp_path: Path) -> None:
    text = "sex:\n  categories:\n    Laki-laki: [L]\n    Perempuan: [l]\n"
    with pytest.raises(ReferenceDataError, match=r"sex\.Perempuan: 'l' already means"):
        load_demographics(_write(tmp_path, text))


def test_an_unknown_characteristic_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match="unknown characteristic"):
        load_demographics(_write(tmp_path, "religion:\n  categories: {A: [a]}\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("name: [unclosed\n", "not a readable YAML file"),
    ],
    ids=["not-a-mapping", "invalid-yaml"],
)
def test_a_file_that_is_not_a_yaml_mapping_is_rejected(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ReferenceDataError, match=expected):
        load_questionnaire(_write(tmp_path, text))


def test_a_missing_reference_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError, match="reference file not found"):
        load_reference(tmp_path / "nowhere.yaml")
