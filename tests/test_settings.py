"""The config file (SPEC §8): paths relative to it, and messages an operator can act on."""

from __future__ import annotations

import datetime as dt
import http.server
import re
import socket
import threading
from pathlib import Path

import pytest

from skm_etl.load.units import unit_key
from skm_etl.settings import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skm.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "pop.csv").write_text("tahun,unit_kerja,jenis_layanan,populasi\n")
    settings = load_settings(
        write(tmp_path, "warehouse: wh/skm.duckdb\ninbox: in/\npopulations: pop.csv\n")
    )
    assert settings.warehouse == tmp_path / "wh" / "skm.duckdb"
    assert settings.inbox == tmp_path / "in"
    assert settings.populations == tmp_path / "pop.csv"
    assert settings.store == tmp_path / "wh" / ".skm-etl" / "store.duckdb"
    assert settings.counting == "all" and settings.scale == 6


def test_a_year_without_a_window_uses_its_calendar_year(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            "warehouse: skm.duckdb\nsurveys:\n  - {year: 2024, start: 2024-04-01, end: 2024-06-30}\n",
        )
    )
    assert settings.window_for(2024).start == dt.date(2024, 4, 1)
    assert settings.window_for(2023).end == dt.date(2023, 12, 31)


def test_a_token_is_read_from_the_named_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAPAAPIP_TOKEN", "s3cret")
    settings = load_settings(
        write(
            tmp_path,
            "warehouse: skm.duckdb\nsources:\n"
            "  - {kind: sapaapip, url: 'http://127.0.0.1/x.xlsx', token_env: SAPAAPIP_TOKEN}\n",
        )
    )
    assert settings.sources[0].token == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("inbox: in/\n", "'warehouse' is required", id="missing-warehouse"),
        pytest.param("warehouse: skm.db\n", "must name a .duckdb file", id="not-duckdb"),
        pytest.param(
            "warehouse: a.duckdb\nmethod: {counting: most}\n", "method.counting", id="counting"
        ),
        pytest.param("warehouse: a.duckdb\nmethod: {scale: 11}\n", "method.scale", id="scale"),
        pytest.param("warehouse: a.duckdb\nwarehuose: b\n", "unknown key", id="typo-key"),
        pytest.param(
            "warehouse: a.duckdb\nsurveys:\n  - {year: 2024, start: 2024-06-30, end: 2024-04-01}\n",
            "is before start",
            id="window-reversed",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsurveys:\n  - {year: 2025, start: 2024-04-01, end: 2025-06-30}\n",
            "spans 15 calendar months, at most 12",
            id="window-over-a-year",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsurveys:\n  - {year: 2025, start: 2024-12-15, end: 2025-12-01}\n",
            "spans 13 calendar months",
            id="window-of-13-calendar-months",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsurveys:\n  - {year: 2024, start: 2024-13-01, end: 2024-12-01}\n",
            "invalid value",
            id="bad-date",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsources:\n  - {kind: google_forms, path: f.csv}\n",
            "needs unit: and year:",
            id="forms-without-unit",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsources:\n  - {kind: google_forms, unit: X, year: 2025, "
            "path: f.csv, date_order: mdy}\n",
            "date_order is for google_forms sources, one of day_first, month_first",
            id="date-order-unknown",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsources:\n  - {kind: sapaapip, path: f.csv, "
            "date_order: month_first}\n",
            "date_order is for google_forms sources",
            id="date-order-on-sapaapip",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsources:\n  - {kind: ftp, path: f.csv}\n",
            "kind must be one of",
            id="unknown-kind",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsources:\n  - {kind: sapaapip, url: 'http://x', token_env: NOPE_UNSET}\n",
            "NOPE_UNSET",
            id="token-env-unset",
        ),
        pytest.param(
            "warehouse: a.duckdb\nunits: missing.csv\n", "does not exist", id="missing-file"
        ),
        pytest.param("- just\n- a list\n", "must be a YAML mapping", id="not-a-mapping"),
        pytest.param(
            "warehouse: a.duckdb\nvalidation: gx\n",
            "'validation' must be a mapping such as {engine: auto}",
            id="validation-not-a-mapping",
        ),
        pytest.param(
            "warehouse: a.duckdb\nschedule: '0 2 * * *'\n",
            "'schedule' must be a mapping",
            id="schedule-not-a-mapping",
        ),
        pytest.param(
            "warehouse: a.duckdb\nexport: false\n",
            "'export' must be a mapping such as {parquet: false}",
            id="export-false",
        ),
        pytest.param(
            "warehouse: a.duckdb\nexport: {parquet: 'no'}\n",
            "export.parquet must be true or false",
            id="export-parquet-not-boolean",
        ),
        pytest.param(
            "warehouse: a.duckdb\nmethod: all\n", "'method' must be a mapping", id="method-text"
        ),
        pytest.param("warehouse: [unclosed\n", "not valid YAML", id="bad-yaml"),
        pytest.param(
            "warehouse: a.duckdb\nsources:\n  - {kind: sapaapip, url: 'https://x/a b.csv'}\n",
            "the url holds a space or line break; salin ulang",
            id="space-in-url",
        ),
        # a misspelt key inside a section must not leave its default silently in force
        pytest.param(
            "warehouse: a.duckdb\nmethod: {countng: target_sample}\n",
            "method: kunci tidak dikenal / unknown key(s): countng; known keys: counting, scale",
            id="typo-in-method",
        ),
        pytest.param(
            "warehouse: a.duckdb\nschedule: {crn: '* * * * *'}\n",
            "schedule: kunci tidak dikenal / unknown key(s): crn",
            id="typo-in-schedule",
        ),
        pytest.param(
            "warehouse: a.duckdb\nexport: {parket: false}\n",
            "export: kunci tidak dikenal / unknown key(s): parket",
            id="typo-in-export",
        ),
        pytest.param(
            "warehouse: a.duckdb\nvalidation: {engin: auto}\n",
            "validation: kunci tidak dikenal / unknown key(s): engin",
            id="typo-in-validation",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsources:\n  - {kind: google_forms, unit: X, year: 2025, "
            "path: f.csv, date_ordr: month_first}\n",
            "sources[1]: kunci tidak dikenal / unknown key(s): date_ordr",
            id="typo-in-a-source",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsurveys:\n  - {year: 2024, start: 2024-01-01, end: 2024-12-31, "
            "tahun: 2024}\n",
            "surveys[1]: kunci tidak dikenal / unknown key(s): tahun",
            id="typo-in-a-survey",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsources:\n  - {kind: sapaapip, url: '   '}\n",
            "url is blank",
            id="blank-url",
        ),
        pytest.param(
            "warehouse: a.duckdb\nschedule: {cron: '0 0 2 * * *'}\n",
            "schedule.cron needs five fields",
            id="six-field-cron",
        ),
        pytest.param(
            "warehouse: a.duckdb\nsurveys:\n  - {year: true, start: 2024-01-01, end: 2024-12-31}\n",
            "year must be a whole number, got True",
            id="year-true",
        ),
        pytest.param(
            "warehouse: a.duckdb\nvalidation: {chunk_rows: true}\n",
            "validation.chunk_rows must be a positive whole number",
            id="chunk-rows-true",
        ),
        pytest.param(
            "warehouse: $SKM_TEST_SURELY_UNSET/skm.duckdb\n",
            "environment variable SKM_TEST_SURELY_UNSET",
            id="unset-variable-in-a-path",
        ),
    ],
)
def test_a_wrong_config_is_refused_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(write(tmp_path, text))


def test_a_missing_config_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_the_dbt_project_comes_from_the_environment_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, "warehouse: skm.duckdb\n")
    monkeypatch.delenv("SKM_DBT_PROJECT_DIR", raising=False)
    assert load_settings(config).dbt_project_dir is None  # dbt_runner's default project
    monkeypatch.setenv("SKM_DBT_PROJECT_DIR", str(tmp_path / "checkout" / "dbt_project"))
    assert load_settings(config).dbt_project_dir == tmp_path / "checkout" / "dbt_project"


def test_a_forms_source_date_order_is_found_by_unit_and_year(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            "warehouse: a.duckdb\nsources:\n"
            '  - {kind: google_forms, unit: "Balai POM di Kota Contoh", year: 2025, '
            "path: f.csv, date_order: month_first}\n"
            '  - {kind: google_forms, unit: "Loka POM di Kota Lain", year: 2025, path: g.csv}\n',
        )
    )
    assert [s.day_first for s in settings.sources] == [False, None]
    assert settings.day_first_for(" balai pom di kota contoh", 2025) is False
    assert settings.day_first_for("Balai POM di Kota Contoh", 2024) is None
    assert settings.day_first_for("Loka POM di Kota Lain", 2025) is None


def test_a_forms_source_named_by_an_alias_finds_its_date_order_through_the_registry(
    tmp_path: Path,
) -> None:
    (tmp_path / "units.csv").write_text(
        "unit_code,unit_name,unit_type,province,aliases\n"
        "CONTOH,Balai POM di Kota Contoh,Balai POM,Jawa Barat,BPOM Contoh;Balai Contoh\n",
        encoding="utf-8",
    )
    settings = load_settings(
        write(
            tmp_path,
            "warehouse: a.duckdb\nunits: units.csv\nsources:\n"
            '  - {kind: google_forms, unit: "BPOM  Contoh", year: 2025, path: f.csv, '
            "date_order: month_first}\n",
        )
    )
    # the store names the unit as the registry does
    assert settings.day_first_for("Balai POM di Kota Contoh", 2025) is None
    key = unit_key(settings.units)
    assert settings.day_first_for("Balai POM di Kota Contoh", 2025, key) is False
    assert settings.day_first_for("CONTOH", 2025, key) is False


@pytest.mark.parametrize(
    "argv",
    [["run"], ["run", "--config", "x.yaml", "--wait", "abc"], ["run", "--confg", "x.yaml"]],
    ids=["no-config", "bad-wait", "misspelt-option"],
)
def test_a_command_line_mistake_exits_1_not_the_exit_code_of_rejections(
    argv: list[str], capsys
) -> None:
    from skm_etl.cli import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 1  # 2 means "published with rejections" (SPEC §8)
    assert "usage: skm-etl run" in capsys.readouterr().err


def test_a_run_goes_on_without_a_prefect_api_that_does_not_answer(capsys) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from skm_etl.cli import prefect_api_or_none

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/api"
    with temporary_settings(updates={PREFECT_API_URL: dead}):
        with prefect_api_or_none():
            assert PREFECT_API_URL.value() is None  # the flow starts a temporary API
        assert PREFECT_API_URL.value() == dead
    err = capsys.readouterr().err
    assert f"Prefect API di / at {dead} tidak menjawab / does not answer" in err
    assert "this run goes on without it" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (401, "refuses this client (HTTP 401): set PREFECT_API_AUTH_STRING"),
        (403, "refuses this client (HTTP 403): set PREFECT_API_AUTH_STRING"),
        (500, "answers with an error (HTTP 500): see the Prefect server's log"),
    ],
)
def test_a_prefect_api_that_answers_but_refuses_is_told_from_one_that_is_down(
    capsys, status: int, said: str
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deploy import _api_problem
    from skm_etl.cli import prefect_api_or_none

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = b'{"detail": "Unauthorized"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            with prefect_api_or_none():
                assert PREFECT_API_URL.value() is None
            # serve cannot go on without the API: it refuses to start, saying why
            serving = _api_problem()
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert f"Prefect API di / at {url} " in err and said in err, err
    assert "does not answer" not in err and "Traceback" not in err
    assert serving is not None and serving.startswith(f"the Prefect API at {url} ")
    assert said in serving


def test_deployment_info_shows_the_schedule_without_the_sources_tokens(
    tmp_path: Path, capsys
) -> None:
    from flows.deploy import deployment_info_command

    config = write(
        tmp_path,
        "warehouse: wh/skm.duckdb\nschedule: {cron: '30 1 * * *', timezone: Asia/Makassar}\n"
        "sources:\n  - {name: sapa, kind: sapaapip, url: 'https://sapa.example/x.csv', "
        "token_env: SKM_TEST_TOKEN_SURELY_UNSET}\n",
    )
    with pytest.raises(ConfigError, match="SKM_TEST_TOKEN_SURELY_UNSET"):
        load_settings(config)  # a run needs the token

    assert deployment_info_command(str(config), None) == 0
    shown = capsys.readouterr().out
    assert "30 1 * * *" in shown and "Asia/Makassar" in shown
    assert shown.count(" WITA") >= 5  # the next run times, in the schedule's own zone


def test_spaces_around_a_pasted_url_are_dropped(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            "warehouse: a.duckdb\nsources:\n  - {kind: sapaapip, url: '  https://x/a.csv '}\n",
        )
    )
    assert settings.sources[0].url == "https://x/a.csv"


def test_a_cron_nickname_is_a_whole_schedule(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "warehouse: a.duckdb\nschedule: {cron: '@daily'}\n"))
    assert settings.schedule.cron == "@daily"
