"""A unit registry added to a deployment that ran without one (SPEC §6.5).

Without a registry a unit's code is made from its name; the registry gives it another.
Responses are stored and keyed under the code, so the next run loads the unit's archived
files again under the registry's code: no unit stands twice in the marts, and a re-export
of its files adds nothing.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from phases import run_in_process
from skm_etl import pipeline
from skm_etl.settings import ConfigError, load_settings
from tests.conftest import GOOGLE_FORMS_CSV, SAPAAPIP_CSV

pytestmark = pytest.mark.slow

REGISTRY = (
    "unit_code,unit_name,unit_type,province\n"
    "LOKA-CONTOH,Loka POM di Kota Contoh,Loka POM,Jawa Barat\n"
    "BPOM-CONTOH,Balai POM di Kota Contoh,Balai POM,Jawa Barat\n"
)


def _served(config: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(config.parent / "warehouse" / "skm.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _stored(config: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(load_settings(config).store), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_registry_added_later_moves_the_stored_units_to_its_codes(make_deployment) -> None:
    config = make_deployment(
        inbox=[SAPAAPIP_CSV], forms=[(GOOGLE_FORMS_CSV, "Balai POM di Kota Contoh", 2025)]
    )
    run_in_process(config)
    assert sorted(_stored(config, "select distinct unit_code from raw.responses")) == [
        ("balai-pom-di-kota-contoh",),
        ("loka-pom-di-kota-contoh",),
    ]

    (config.parent / "units.csv").write_text(REGISTRY, encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8") + "units: units.csv\n", encoding="utf-8")
    summary = run_in_process(config)
    moved = [w for w in summary.warnings if "archived file(s) are loaded again" in w]
    assert len(moved) == 2, summary.warnings
    assert "the code LOKA-CONTOH (stored as loka-pom-di-kota-contoh)" in " ".join(moved)
    assert summary.exit_code == 0
    assert _stored(
        config,
        "select unit_code, count(*), count(distinct response_key) from raw.responses "
        "group by 1 order by 1",
    ) == [("BPOM-CONTOH", 9, 9), ("LOKA-CONTOH", 14, 14)]
    assert _served(
        config, "select unit_code, province, respondents_counted from marts.skm_unit order by 1"
    ) == [("BPOM-CONTOH", "Jawa Barat", 9), ("LOKA-CONTOH", "Jawa Barat", 14)]
    assert _served(
        config, "select units, respondents from marts.skm_national where scope = 'BPOM'"
    ) == [(2, 23)]

    # done once: the next night loads nothing again, and a re-export adds no respondent
    (config.parent / "inbox" / "tabulasi_lagi.csv").write_bytes(
        SAPAAPIP_CSV.read_bytes().replace(b"\r\n", b"\n")  # re-exported: LF line ends
    )
    again = run_in_process(config)
    assert not [w for w in again.warnings if "loaded again" in w]
    assert [(f.source_file, f.status, f.rows_new) for f in again.files if f.status == "loaded"] == [
        ("tabulasi_lagi.csv", "loaded", 0)
    ]
    assert _stored(config, "select count(*) from raw.responses") == [(23,)]
    # and a rebuild of a misspelt unit names the one meant
    with pytest.raises(ConfigError, match="did you mean: 'Loka POM di Kota Contoh'"):
        pipeline.plan_replay(load_settings(config), year=None, unit="Loka POM di Kota Contho")


def test_a_stored_unit_the_registry_lacks_is_named_every_night(make_deployment) -> None:
    config = make_deployment(inbox=[SAPAAPIP_CSV])
    run_in_process(config)
    (config.parent / "units.csv").write_text(
        "unit_code,unit_name,unit_type,province\nBPOM-CONTOH,Balai POM di Kota Contoh,Balai POM,Jawa Barat\n",
        encoding="utf-8",
    )
    config.write_text(config.read_text(encoding="utf-8") + "units: units.csv\n", encoding="utf-8")
    summary = run_in_process(config)
    [warning] = [w for w in summary.warnings if "registry does not know" in w]
    assert warning.startswith("Loka POM di Kota Contoh (loka-pom-di-kota-contoh):")
    assert "add it to units.csv (or as an alias of its unit)" in warning
