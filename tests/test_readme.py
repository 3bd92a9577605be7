"""The README is true: its quick start is what CI runs and what the sample prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in README and "make sample" in README
    assert re.search(r"^make test$", ci, re.MULTILINE)


def tree_paths(section: str) -> list[str]:
    """Paths of the tree drawn in the README's Code structure block (two spaces a level)."""
    block = section.split("```", 2)[1]
    stack: list[str] = []
    paths = []
    for line in block.splitlines():
        match = re.match(r"^( *)([\w./-]+)", line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        stack = stack[:depth] + [match.group(2)]
        paths.append("".join(stack))
    return paths


def test_the_code_structure_section_matches_the_tree() -> None:
    section = README.split("## Code structure", 1)[1].split("\n## ", 1)[0]
    paths = tree_paths(section)
    assert len(paths) > 10
    for path in paths:
        target = REPO / path
        assert target.is_dir() if path.endswith("/") else target.is_file(), f"README names {path}"
    for folder in ("flows/", "dbt_project/", "expectations/", "src/skm_etl/", "tests/"):
        assert folder in paths


@pytest.mark.slow
def test_the_quick_start_prints_the_unit_results_shown_in_the_readme(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    shutil.copytree(REPO / "sample", sample, ignore=shutil.ignore_patterns("warehouse"))
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "skm-etl"),
            "run",
            "--config",
            str(sample / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    shown = README.split("unit results (IKM, mutu):", 1)[1].split("```", 1)[0].strip().splitlines()
    printed = done.stdout.split("unit results (IKM, mutu):", 1)[1].strip().splitlines()
    assert [" ".join(line.split()) for line in printed[: len(shown)]] == [
        " ".join(line.split()) for line in shown
    ]
    assert (sample / "warehouse" / "skm.duckdb").is_file()
    assert "Traceback" not in done.stdout + done.stderr
    # dbt's line per node goes to its log file, not between the operator and the summary
    assert "OK created" not in done.stdout + done.stderr
    assert done.stdout.startswith("skm-etl run ")
    dbt_log = sample / "warehouse" / ".skm-etl" / "dbt_target" / "logs" / "dbt.log"
    assert "OK created" in dbt_log.read_text(encoding="utf-8")
