"""The scale benchmark: a deterministic national generator and a bench run end to end.

No timing is asserted (the machine is shared): the bench must run, print its JSON line,
load what it generated, and reject exactly the rows generated invalid, with a reason.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from skm_etl.bench import constants as c
from skm_etl.bench.generate import generate, registry
from skm_etl.bench.run import (
    FORMS_COLUMNS,
    SAPAAPIP_COLUMNS,
    bench_command,
    run_baseline,
    run_baseline_plain,
)

RESPONSES = 2_000
KEYS = (
    "responses",
    "pipeline_s",
    "fixed_s",
    "baseline_s",
    "ratio",
    "baseline_plain_s",
    "ratio_plain",
    "peak_rss_mb",
)


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_answers(tmp_path: Path):
    first = generate(tmp_path / "a", 900, units=6)
    second = generate(tmp_path / "b", 900, units=6)
    other = generate(tmp_path / "c", 900, units=6, seed=1)

    assert digests(first.root) == digests(second.root)
    assert any(p.suffix == ".xlsx" for p in first.files), "small data sets include XLSX"
    assert any(p.parent.name == "forms" for p in first.files), "and Google Forms exports"
    assert (other.root / "baseline.csv").read_bytes() != (first.root / "baseline.csv").read_bytes()


def test_the_generator_writes_what_it_counts(tmp_path: Path):
    made = generate(tmp_path / "g", 1_200, units=4)
    baseline = list(csv.DictReader((made.root / "baseline.csv").open(encoding="utf-8")))
    invalid = list(csv.DictReader(made.invalid_csv.open(encoding="utf-8")))

    assert made.responses == 1_200
    assert len(baseline) == made.responses - made.invalid
    assert len(invalid) == made.invalid
    assert {row["kind"] for row in invalid} == {
        "score_out_of_range",
        "age_implausible",
        "age_not_a_number",
        "unknown_layanan",
    }
    assert all(1 <= int(row[f"q{n}"]) <= 6 for row in baseline for n in range(1, 12))
    registered = {u.code for u in registry()}
    assert {row["unit_code"] for row in baseline} <= registered
    assert len(registered) == 76
    config = (made.root / "config.yaml").read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("validation:") for line in config) == 1


def test_the_export_baseline_reads_the_exports_and_leaves_out_the_invalid_rows(tmp_path: Path):
    # the baseline reads columns by position: the layouts the generator writes
    assert len(SAPAAPIP_COLUMNS) == len(c.SAPAAPIP_HEADER)
    assert len(FORMS_COLUMNS) == len(c.FORMS_LEADING + c.FORMS_QUESTIONS + c.FORMS_TRAILING)
    made = generate(tmp_path / "g", 3_000, units=5, xlsx=False)
    kinds = {row["kind"] for row in csv.DictReader(made.invalid_csv.open(encoding="utf-8"))}
    assert len(kinds) == 4, "every kind of invalid row is in the exports"
    assert any(p.parent.name == "forms" for p in made.files)

    exports = run_baseline(made.config)
    plain = run_baseline_plain(made.baseline_csv)

    assert exports["rows"], "one IKM per unit, year and unsur"
    assert exports["rows"] == plain["rows"], "the same numbers as from the valid rows alone"


def test_the_export_baseline_refuses_xlsx_exports(tmp_path: Path):
    made = generate(tmp_path / "g", 900, units=6)

    assert any(p.suffix == ".xlsx" for p in made.files)
    with pytest.raises(ValueError, match="CSV only"):
        run_baseline(made.root)


@pytest.mark.slow
def test_a_small_bench_prints_its_json_and_rejects_exactly_the_invalid_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    status = bench_command(RESPONSES, str(tmp_path), True, None, prefect=False, fixed_runs=1)

    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert status == 0, "\n".join(lines[-25:])
    assert set(KEYS) <= set(result)
    assert result["responses"] == RESPONSES
    assert all(math.isfinite(result[key]) for key in KEYS)
    # the ratios' sign is timing: at 2,000 responses the full run costs little more than
    # the 100-response one, and on a shared machine it can come out faster
    assert all(result[key] > 0 for key in KEYS if not key.startswith("ratio"))
    assert result["max_ikm_difference"] == 0.0, "the marts agree with the DuckDB baseline"
    assert result["max_ikm_difference_plain"] == 0.0, "and with the plain baseline"

    full = tmp_path / "full"
    expected = {
        (row["file"], int(row["source_row"]))
        for row in csv.DictReader((full / "invalid_rows.csv").open(encoding="utf-8"))
    }
    con = duckdb.connect(str(full / "warehouse" / ".skm-etl" / "store.duckdb"), read_only=True)
    try:
        rejected = con.execute(
            "select source_file, source_row, min(reason) from ops.rejected_rows group by all"
        ).fetchall()
        loaded = con.execute("select count(*) from raw.responses").fetchone()[0]
    finally:
        con.close()
    assert {(f, r) for f, r, _ in rejected} == expected
    assert all(reason for _, _, reason in rejected)
    assert loaded == RESPONSES - len(expected)


@pytest.mark.parametrize("variant", ["staged", "stream", "pipeline"])
def test_the_duckdb_only_floor_accounts_for_every_response_it_reads(
    tmp_path: Path, variant: str
) -> None:
    """scripts/bench_floor.py (BENCHMARKS.md, "The floor"): it runs on a bench data set and
    stores or rejects each generated response once; the streaming variant only stores; the
    pipeline's file phases, timed by it for comparison, store exactly the valid ones."""
    made = generate(tmp_path / "full", RESPONSES, units=6, xlsx=False)
    script = Path(__file__).parents[1] / "scripts" / "bench_floor.py"
    done = subprocess.run(
        [sys.executable, str(script), str(made.root), "--variant", variant],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    stores = {"pipeline": tmp_path / "floor" / "pipeline" / "work" / "store.duckdb"}
    path = stores.get(variant, tmp_path / "floor" / "store.duckdb")
    store = duckdb.connect(str(path), read_only=True)
    try:
        stored, keys = store.execute(
            "select count(*), count(distinct response_key) from raw.responses"
        ).fetchone()
    finally:
        store.close()
    assert stored == keys == result["stored"] > 0
    if variant == "staged":
        assert result["stored"] + result["rejected"] == made.responses
        # it rejects every generated kind of invalid row but an age that is no number
        # ("25x" reads as 25): less than the readers do, as a floor must
        kinds = [row["kind"] for row in csv.DictReader(made.invalid_csv.open(encoding="utf-8"))]
        assert result["rejected"] == len(kinds) - kinds.count("age_not_a_number") > 0
    elif variant == "stream":
        assert result["rejected"] == 0
        assert result["stored"] <= made.responses
    else:
        assert (result["stored"], result["rejected"]) == (
            made.responses - made.invalid,
            made.invalid,
        )
    assert result["floor_s"] > 0 and len(result["baseline_s"]) == 2
