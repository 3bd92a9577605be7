"""Security and privacy: no SQL built from names, no personal data or token outside raw.

1. A lint over src/ (an AST check, not a grep): every SQL text handed to DuckDB is a
   literal, a module constant, a quoted identifier, a packaged .sql file, or built from
   those only; a file, unit or layanan name spliced in by an f-string, `%` or `.format`
   is a finding. The lint is itself tested on code it must flag and code it must pass.
2. One nightly run over the Google Forms example (names "Responden 1"…, phones "0812…")
   declared by path, the same export with other names fetched from a local HTTP server
   that demands a bearer token (and a key in its URL), and the sapaapip example. Then
   every name and phone is searched for in every column of every non-raw relation of the
   store, in the served file, the Parquet export, the GX Data Docs folder, the printed
   output and the logs Prefect stored; the token and the URL key in all of those and in
   every file of the deployment.
3. The right to erasure (`skm-etl erase`, skm_etl.privacy): one respondent's name and
   phone leave raw, the archive, the declared source file and the store file's bytes;
   an audit row without them is written; the marts do not change, not even after the
   next nightly run rebuilds them.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import hashlib
import io
import os
import re
import shutil
import textwrap
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import polars as pl
import pytest

from runs import FlowRun, run_flow
from skm_etl import pipeline
from skm_etl.load import warehouse
from skm_etl.masking import EMAIL_MASK, EMAIL_PATTERN, PHONE_MASK, PHONE_PATTERN, masked
from skm_etl.privacy import erase_command, erase_respondent
from skm_etl.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
FIXTURES = Path(__file__).parent / "fixtures"
GOOGLE_FORMS_CSV = FIXTURES / "google_forms_example.csv"
SAPAAPIP_XLSX = FIXTURES / "sapaapip_tabulasi_example.xlsx"

# --- 1. the SQL lint ----------------------------------------------------------------------

SQL_SINKS = {"execute", "executemany", "sql", "query", "from_query"}
# functions that turn an identifier or a path the job chose into quoted SQL text
QUOTERS = {"_quote", "_sql_string"}
MODULE_CONSTANT = re.compile(r"^_?[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    sql: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: SQL assembled from a non-constant: {self.sql}"


class _Scope:
    """What a name in a function may hold: module constants, its parameters, its bindings."""

    def __init__(self, module: ast.Module, function: ast.AST | None) -> None:
        self.constants = {
            target.id
            for node in module.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name) and MODULE_CONSTANT.match(target.id)
        }
        self.function = function
        self.params: set[str] = set()
        self.bindings: dict[str, list[ast.AST]] = {}
        if function is None:
            return
        arguments = function.args
        self.params = {
            a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        }
        for node in ast.walk(function):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, ast.For | ast.comprehension):
                self._bind(node.target, ast.Starred(value=node.iter))  # an element of it

    def _bind(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.bindings.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._bind(element, ast.Starred(value=value))


def _is_safe_sql(node: ast.AST, scope: _Scope, seen: frozenset[str] = frozenset()) -> bool:
    """Tell whether an expression can only produce text the code itself wrote."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(
            _is_safe_sql(part.value, scope, seen)
            for part in node.values
            if isinstance(part, ast.FormattedValue)
        )
    if isinstance(node, ast.IfExp):  # "a" if flag else "b": the test picks, not the data
        return _is_safe_sql(node.body, scope, seen) and _is_safe_sql(node.orelse, scope, seen)
    if isinstance(node, ast.BinOp):  # "a" + b, "a %s" % b
        return _is_safe_sql(node.left, scope, seen) and _is_safe_sql(node.right, scope, seen)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_is_safe_sql(e, scope, seen) for e in node.elts)
    if isinstance(node, ast.Starred | ast.Subscript):  # *CONSTANT, CONSTANT[key]
        return _is_safe_sql(node.value, scope, seen)
    if isinstance(node, ast.GeneratorExp | ast.ListComp):
        return _is_safe_sql(node.elt, scope, seen)
    if isinstance(node, ast.Name):
        if node.id in scope.constants:
            return True
        if node.id in seen or node.id in scope.params or node.id not in scope.bindings:
            return False
        return all(_is_safe_sql(v, scope, seen | {node.id}) for v in scope.bindings[node.id])
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in QUOTERS:
            return True
        if name == "read_text" and "resources.files(" in ast.unparse(func):
            return True  # a .sql file shipped inside the package
        if isinstance(func, ast.Attribute) and name in ("join", "format"):
            parts = [func.value, *node.args, *(k.value for k in node.keywords)]
            return all(_is_safe_sql(p, scope, seen) for p in parts)
    return False


def _is_safe_passthrough(
    query: ast.AST, scope: _Scope, module: ast.Module, owners: dict[int, ast.AST]
) -> bool:
    """A private helper's SQL parameter is safe when every call in its module passes safe SQL."""
    function = scope.function
    if not (
        isinstance(query, ast.Name)
        and isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        and query.id in scope.params
        and function.name.startswith("_")
    ):
        return False
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    calls = [
        n
        for n in ast.walk(module)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function.name
    ]
    for call in calls:
        argument = next((k.value for k in call.keywords if k.arg == query.id), None)
        if argument is None and query.id in positional:
            index = positional.index(query.id)
            argument = call.args[index] if index < len(call.args) else None
        if argument is None or not _is_safe_sql(argument, _Scope(module, owners.get(id(call)))):
            return False
    return bool(calls)


def find_formatted_sql(source: str, path: str = "<source>") -> list[Finding]:
    """Every call handing DuckDB SQL text that may hold a value the code did not write."""
    module = ast.parse(source, filename=path)
    owners: dict[int, ast.AST] = {}
    for function in ast.walk(module):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                owners[id(node)] = function  # walked outer first: the innermost one wins
    findings = []
    for node in ast.walk(module):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_SINKS
        ):
            continue
        query = node.args[0] if node.args else None
        query = query or next((k.value for k in node.keywords if k.arg in ("query", "sql")), None)
        if query is None:
            continue
        scope = _Scope(module, owners.get(id(node)))
        if _is_safe_sql(query, scope) or _is_safe_passthrough(query, scope, module, owners):
            continue
        findings.append(Finding(path, node.lineno, ast.unparse(query)[:160]))
    return findings


FLAGGED = {
    "f-string-with-a-file-name": """
        def load(con, source_file):
            con.execute(f"delete from raw.responses where source_file = '{source_file}'")
    """,
    "percent-format-with-a-unit": """
        def units(con, unit_name):
            con.execute("select * from marts.skm_unit where unit_name = '%s'" % unit_name)
    """,
    "str-format-with-a-layanan": """
        def layanan(con, name):
            sql = "select * from marts.skm_layanan where layanan_name = '{}'".format(name)
            con.sql(sql)
    """,
    "concatenation-through-a-variable": """
        def rows(con, outcome):
            where = "source_file = '" + outcome.source_file + "'"
            query = f"select count(*) from ops.rejected_rows where {where}"
            return con.execute(query).fetchall()
    """,
    "loop-over-names-read-from-a-file": """
        def tables(con, frame):
            for column in frame.columns:
                con.execute(f"alter table ref.units add column {column} varchar")
    """,
    "choice-with-a-name-in-one-branch": """
        def units(con, unit_name, exact):
            where = f"unit_name = '{unit_name}'" if exact else "true"
            con.execute(f"select * from marts.skm_unit where {where}")
    """,
    "public-helper-taking-sql": """
        def run_sql(con, sql):
            return con.execute(sql)
    """,
}
PASSED = {
    "bound-parameters": """
        def load(con, source_file):
            con.execute("delete from raw.responses where source_file = ?", [source_file])
    """,
    "module-constant-columns": """
        COLUMNS = ("a", "b")
        def insert(con):
            cols = ", ".join(COLUMNS)
            con.execute(f"insert into t ({cols}) select {cols} from incoming")
    """,
    "loop-over-a-constant-tuple": """
        SCHEMAS = ("marts", "ops")
        def schemas(con):
            for schema in SCHEMAS:
                con.execute(f"create schema if not exists served_new.{schema}")
    """,
    "quoted-catalog-identifier": """
        def copy(con, name):
            target = f"served_new.marts.{_quote(name)}"
            con.execute(f"create table {target} as select * from marts.{_quote(name)}")
    """,
    "choice-between-two-literals": """
        def insert(con, check):
            absent = "where not exists (select 1 from t)" if check else ""
            con.execute(f"insert into t select * from incoming {absent}")
    """,
    "private-helper-given-literal-sql": """
        def _rows(con, sql, params):
            return con.execute(sql, params).fetchall()
        def units(con, code):
            return _rows(con, "select * from marts.skm_unit where unit_code = ?", [code])
    """,
}


@pytest.mark.parametrize("source", FLAGGED.values(), ids=FLAGGED.keys())
def test_the_sql_lint_flags_a_name_spliced_into_sql(source: str) -> None:
    assert len(find_formatted_sql(textwrap.dedent(source))) == 1


@pytest.mark.parametrize("source", PASSED.values(), ids=PASSED.keys())
def test_the_sql_lint_passes_constants_quoted_identifiers_and_bound_values(source: str) -> None:
    assert find_formatted_sql(textwrap.dedent(source)) == []


# Findings in files this work does not own, each with the change proposed to its owner.
def _source_files() -> list:
    return [pytest.param(path, id=str(path.relative_to(SRC))) for path in sorted(SRC.rglob("*.py"))]


@pytest.mark.parametrize("path", _source_files())
def test_no_sql_in_src_is_assembled_from_names_by_string_formatting(path: Path) -> None:
    findings = find_formatted_sql(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert findings == [], "\n".join(map(str, findings))


# --- 2. personal data and a token, through one real run -----------------------------------


def _personal_data(path: Path) -> list[str]:
    """Every name and phone of an export, phones also without the 0 and as +62."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = [row["Nama Lengkap"].strip() for row in rows]
    phones = [row["No. HP"].strip() for row in rows]
    assert names and all(names) and all(p.startswith("08") for p in phones)
    return names + phones + [p[1:] for p in phones] + ["62" + p[1:] for p in phones]


def _renamed_export(path: Path) -> Path:
    """The Google Forms example with other respondents: "Peserta N", phones 0857….

    Every other respondent also typed their phone number into the suggestion, as
    "+62 857-…" or "0857…": free text that the saran mart must not publish.
    """
    text = GOOGLE_FORMS_CSV.read_text(encoding="utf-8")
    text = text.replace("Responden ", "Peserta ").replace(",0812", ",0857")
    rows = list(csv.reader(io.StringIO(text)))
    saran = rows[0].index("Saran & Masukan")
    phone = rows[0].index("No. HP")
    for i, row in enumerate(rows[1:]):
        number = row[phone].strip()
        if i % 2 == 0:
            written = number if i % 4 == 0 else f"+62 {number[1:4]}-{number[4:8]}-{number[8:]}"
            row[saran] = f"mohon hubungi saya di {written} terima kasih"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), "utf-8")
    return path


class _TokenServer:
    """Serves one export to requests that carry the bearer token and the URL key only."""

    def __init__(self, body: bytes, token: str, key: str) -> None:
        self.authorised = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.headers.get("Authorization") == f"Bearer {token}" and (
                    f"key={key}" in self.path
                )
                served.authorised += ok
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", str(len(body) if ok else 0))
                self.end_headers()
                if ok:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@dataclass
class Deployment:
    config: Path
    run: FlowRun
    token: str
    url_key: str
    fetched_personal: list[str]
    server_authorised: int
    runs: list[FlowRun] = field(default_factory=list)

    @property
    def warehouse(self) -> Path:
        return self.config.parent / "warehouse"

    @property
    def store(self) -> Path:
        return self.warehouse / ".skm-etl" / "store.duckdb"

    @property
    def served(self) -> Path:
        return self.warehouse / "skm.duckdb"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, prefect_harness) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("privacy")
    (base / "inbox").mkdir()
    (base / "forms").mkdir()
    (base / "inbox" / SAPAAPIP_XLSX.name).write_bytes(SAPAAPIP_XLSX.read_bytes())
    (base / "forms" / "contoh_2025.csv").write_bytes(GOOGLE_FORMS_CSV.read_bytes())
    fetched = _renamed_export(tmp_path_factory.mktemp("remote") / "sheet.csv")
    token, url_key = f"tok-{uuid.uuid4().hex}", f"key{uuid.uuid4().hex[:20]}"
    server = _TokenServer(fetched.read_bytes(), token, url_key)
    os.environ["SKM_TEST_FORMS_TOKEN"] = token
    try:
        config = base / "config.yaml"
        config.write_text(
            textwrap.dedent(
                f"""\
                warehouse: warehouse/skm.duckdb
                inbox: inbox/
                method: {{counting: all, scale: 6}}
                surveys:
                  - {{year: 2025, start: 2025-01-01, end: 2025-12-31}}
                sources:
                  - {{name: forms-contoh, kind: google_forms, unit: "Balai POM di Kota Contoh",
                      year: 2025, path: forms/contoh_2025.csv}}
                  - {{name: forms-kedua, kind: google_forms, unit: "Balai POM di Kota Kedua",
                      year: 2025, token_env: SKM_TEST_FORMS_TOKEN,
                      url: "http://127.0.0.1:{server.port}/export?format=csv&key={url_key}"}}
                """
            ),
            encoding="utf-8",
        )
        run = run_flow(config)
        yield Deployment(
            config, run, token, url_key, _personal_data(fetched), server.authorised, [run]
        )
    finally:
        server.stop()
        os.environ.pop("SKM_TEST_FORMS_TOKEN", None)


PERSONAL = _personal_data(GOOGLE_FORMS_CSV)


def _relations(path: Path, *, skip_raw: bool) -> dict[str, list[str]]:
    """Every text value of every relation (as text), by relation, optionally without raw."""
    values: dict[str, list[str]] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        relations = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall()
        for schema, name in relations:
            if skip_raw and schema == "raw":
                continue
            relation = f'"{schema}"."{name}"'
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [schema, name],
                ).fetchall()
            ]
            text = ", ".join(f'cast("{c}" as varchar)' for c in columns)
            rows = con.execute(f"select {text} from {relation}").fetchall()
            values[f"{schema}.{name}"] = [str(v) for row in rows for v in row if v is not None]
    return values


def _found(haystack: str, needles: list[str]) -> list[str]:
    return sorted({n for n in needles if n in haystack})


def _files_text(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_bytes().decode("utf-8", "replace")
        for p in folder.rglob("*")
        if p.is_file()
    }


def _places(d: Deployment) -> dict[str, str]:
    """Every place outside raw that personal data must not reach, as one text each."""
    parquet = d.warehouse / "parquet"
    with duckdb.connect() as con:
        parquet_values = [
            str(v)
            for file in sorted(parquet.rglob("*.parquet"))
            for row in con.execute("select * from read_parquet(?)", [str(file)]).fetchall()
            for v in row
        ]
    return {
        "store relations outside raw": "\n".join(
            "\n".join(v) for v in _relations(d.store, skip_raw=True).values()
        ),
        "served file": "\n".join(
            "\n".join(v) for v in _relations(d.served, skip_raw=False).values()
        ),
        "parquet export": "\n".join(parquet_values) + "\n".join(_files_text(parquet).values()),
        "data docs": "\n".join(_files_text(d.warehouse / "data_docs").values()),
        "printed output": "\n".join(r.output for r in d.runs),
        "prefect logs": "\n".join(r.api_logs for r in d.runs),
        "dbt logs and artifacts": "\n".join(
            _files_text(d.warehouse / ".skm-etl" / "dbt_target").values()
        ),
    }


PLACES = [
    "store relations outside raw",
    "served file",
    "parquet export",
    "data docs",
    "printed output",
    "prefect logs",
    "dbt logs and artifacts",
]


def test_the_run_read_both_exports_and_the_fetch_used_the_token(deployment: Deployment) -> None:
    summary = deployment.run.summary
    assert summary.exit_code == 0, summary.render()
    assert deployment.server_authorised == 1
    with duckdb.connect(str(deployment.store), read_only=True) as con:
        assert con.execute(
            "select count(*), count(respondent_name), count(respondent_phone) "
            "from raw.respondent_personal"
        ).fetchone() == (18, 18, 18)
        names = {
            n
            for (n,) in con.execute(
                "select respondent_name from raw.respondent_personal"
            ).fetchall()
        }
    assert {"Responden 3", "Peserta 3"} <= names, "raw holds the names: the search can find them"


def test_the_search_finds_the_names_and_phones_where_they_belong(deployment: Deployment) -> None:
    raw = "\n".join(_relations(deployment.store, skip_raw=False)["raw.respondent_personal"])
    as_written = [v for v in PERSONAL if not v.startswith(("8", "62"))]  # names, 08… phones
    assert len(as_written) == 18
    assert _found(raw, as_written) == sorted(as_written)


@pytest.mark.parametrize("place", PLACES)
def test_no_name_or_phone_appears_outside_raw(deployment: Deployment, place: str) -> None:
    text = _places(deployment)[place]
    assert text, f"{place}: nothing to search"
    assert _found(text, PERSONAL + deployment.fetched_personal) == []


@pytest.mark.parametrize("place", [*PLACES, "every file of the deployment but the config"])
def test_the_token_and_the_url_key_appear_nowhere(deployment: Deployment, place: str) -> None:
    if place.startswith("every file"):
        files = _files_text(deployment.config.parent)
        files.pop("config.yaml")  # the URL key is written there by the operator
        text = "\n".join(f"{name}\n{body}" for name, body in files.items())
        text += "\n".join(
            "\n".join(v) for v in _relations(deployment.store, skip_raw=False).values()
        )
    else:
        text = _places(deployment)[place]
    assert _found(text, [deployment.token, deployment.url_key]) == []


# --- 2b. contact details typed where they do not belong ----------------------------------

TYPED_PHONE, TYPED_EMAIL, SPILLED_PHONE = "081299887766", "budi.s@contoh.co.id", "0813 4455 6677"


def _misplaced_contacts(path: Path) -> Path:
    """The Google Forms example where respondents typed contact details into other cells.

    Respondent 1 gave a phone number as their age, respondent 2 an e-mail address, and
    respondent 3's suggestion, not quoted, spilled a phone number past the last column.
    """
    rows = list(csv.reader(io.StringIO(GOOGLE_FORMS_CSV.read_text(encoding="utf-8"))))
    age = rows[0].index("Umur")
    rows[1][age], rows[2][age] = TYPED_PHONE, TYPED_EMAIL
    rows[3].append(f"hubungi {SPILLED_PHONE}")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), "utf-8")
    return path


def test_contact_details_in_rejected_cells_are_masked_in_ops_and_the_summary(
    make_deployment, tmp_path: Path
) -> None:
    export = _misplaced_contacts(tmp_path / "contacts.csv")
    config = make_deployment(forms=[(export, "Balai POM di Kota Contoh", 2025)])
    settings = load_settings(config)
    summary = pipeline.RunSummary(run_id=warehouse.new_id(), started_at=dt.datetime.now())
    prepared = pipeline.prepare(settings, summary.run_id)
    summary.files.extend(
        pipeline.process_files(settings, prepared, pipeline.discover(settings), summary.run_id)
    )
    summary.files.append(  # a file-level message quoting a cell goes through the same door
        pipeline.FileOutcome(
            "quoted.csv", "inbox", "rejected", message=f"baris 4: '{TYPED_PHONE}' / row 4"
        )
    )
    with duckdb.connect(str(settings.store), read_only=True) as con:
        rejected = con.execute(
            "select source_row, column_name, value, reason from ops.rejected_rows order by 1"
        ).fetchall()
        stored = con.execute("select count(*) from raw.responses").fetchone()[0]
    assert {(row, column) for row, column, _, _ in rejected} >= {
        (2, "respondent_age"),
        (3, "respondent_age"),
        (4, "(baris / row)"),
    }, rejected
    assert stored == 6  # the other responses of the nine are loaded
    masked_values = {value for _, _, value, _ in rejected}
    assert {PHONE_MASK, EMAIL_MASK, f"hubungi {PHONE_MASK}"} <= masked_values
    text = "\n".join(map(str, rejected)) + "\n" + summary.render()
    variants = [TYPED_PHONE, TYPED_PHONE[1:], "299887766", TYPED_EMAIL, "4455", "6677"]
    assert _found(text, variants) == []
    assert PHONE_MASK in summary.render()


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-05 10:30:00.000000",  # a time the suite rejected, as text
        "3201234567890001",  # a 16-digit number: longer than any phone number
        "/srv/skm/inbox/tabulasi_20250301123000.csv",
        "0.3333333333",  # a completion of one third, as Excel writes it
        "0.8123456789",
    ],
)
def test_masking_leaves_digits_that_are_not_a_phone_number(text: str) -> None:
    assert masked(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "WA 0812-3456-7890",
        "+62 812 3456 7890",
        "(021) 4244691",
        "hp:081234567890.",
        "0812.3456.7890",
        "62.812.3456.7890",
        "0 812 3456 7890",
    ],
)
def test_masking_finds_phone_numbers_written_as_people_write_them(text: str) -> None:
    assert PHONE_MASK in masked(text)
    assert not re.search(r"\d{4}", masked(text))


def test_rejected_rows_of_a_plan_file_are_masked_too(tmp_path: Path) -> None:
    con = warehouse.open_store(tmp_path / "store.duckdb")
    try:
        rows = pl.DataFrame(
            [(3, "penanggung_jawab", f"Pak Budi {TYPED_PHONE}", "bukan nama jabatan")],
            schema=["source_row", "column", "value", "reason"],
            orient="row",
        )
        warehouse.record_rejected_rows(
            con, run_id="r", batch_id="b", source_file="rtl.csv", rows=rows
        )
        stored = con.execute("select value from ops.rejected_rows").fetchall()
    finally:
        con.close()
    assert stored == [(f"Pak Budi {PHONE_MASK}",)]


def test_the_masking_patterns_are_the_ones_dbt_masks_suggestions_with() -> None:
    macro = (REPO / "dbt_project" / "macros" / "privacy.sql").read_text(encoding="utf-8")
    literals = [text for text in re.findall(r"'([^']*)'", macro) if text != "g"]  # not flags
    assert literals == [EMAIL_PATTERN, EMAIL_MASK, PHONE_PATTERN, PHONE_MASK]
    assert masked(f"WA {SPILLED_PHONE} / {TYPED_EMAIL}") == f"WA {PHONE_MASK} / {EMAIL_MASK}"


# --- 3. the right to erasure -----------------------------------------------------------


def _marts(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' "
                "and table_catalog = current_database() order by 1"
            ).fetchall()
        ]
        return {
            t: sorted(con.execute(f'select * from marts."{t}"').fetchall(), key=repr)
            for t in tables
        }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _archive(d: Deployment) -> list[Path]:
    root = d.warehouse / ".skm-etl" / "archive"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".json")


@dataclass
class Erased:
    before_marts: dict[str, list[tuple]]
    before_served: str
    dry_run_count: int
    dry_run_personal: tuple
    output: str
    after_marts: dict[str, list[tuple]]
    after_served: str
    rerun: FlowRun


@pytest.fixture(scope="module")
def erased(deployment: Deployment) -> Erased:
    settings = load_settings(deployment.config)
    before_marts, before_served = _marts(deployment.store), _sha256(deployment.served)
    dry = erase_respondent(settings, name="  responden   3 ", dry_run=True)
    with duckdb.connect(str(deployment.store), read_only=True) as con:
        dry_personal = con.execute(
            "select count(respondent_name) from raw.respondent_personal"
        ).fetchone()
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        code = erase_command(str(deployment.config), name="Responden 3")
    assert code == 0, out.getvalue()
    after_marts, after_served = _marts(deployment.store), _sha256(deployment.served)
    rerun = run_flow(deployment.config)
    deployment.runs.append(rerun)
    return Erased(
        before_marts,
        before_served,
        dry,
        dry_personal,
        out.getvalue(),
        after_marts,
        after_served,
        rerun,
    )


def test_a_dry_run_counts_and_changes_nothing(erased: Erased) -> None:
    assert erased.dry_run_count == 1
    assert erased.dry_run_personal == (18,)


def test_the_erased_respondent_leaves_raw_and_a_tombstone_stays(
    deployment: Deployment, erased: Erased
) -> None:
    with duckdb.connect(str(deployment.store), read_only=True) as con:
        rows = con.execute(
            "select respondent_name, respondent_phone from raw.respondent_personal "
            "where respondent_name = 'Responden 3' or respondent_phone = '081231669330'"
        ).fetchall()
        counts = con.execute(
            "select count(*), count(respondent_name) from raw.respondent_personal"
        ).fetchone()
    assert rows == []
    assert counts == (18, 17), "one tombstone, every other respondent kept"


def test_an_audit_row_without_the_personal_data_is_written(
    deployment: Deployment, erased: Erased
) -> None:
    with duckdb.connect(str(deployment.store), read_only=True) as con:
        audit = con.execute(
            "select selected_by, len(response_keys), responses, files_rewritten, "
            "cast(erasures as varchar) from ops.erasures as erasures"
        ).fetchall()
    assert [row[:4] for row in audit] == [("name", 1, 1, 2)], "archive copy and declared file"
    assert _found(audit[0][4], PERSONAL) == []
    assert "Responden 3" not in erased.output and "081231669330" not in erased.output


def test_the_archive_and_the_declared_file_no_longer_hold_the_respondent(
    deployment: Deployment, erased: Erased
) -> None:
    declared = deployment.config.parent / "forms" / "contoh_2025.csv"
    for path in [*_archive(deployment), declared]:
        text = path.read_bytes().decode("utf-8", "replace")
        assert "Responden 3" not in text and "081231669330" not in text, path.name
    assert "Responden 2" in declared.read_text(encoding="utf-8"), "others stay"
    for path in _archive(deployment):
        assert _sha256(path) == path.name.split(".")[0], "every archived file hashes to its name"


def test_the_store_file_keeps_no_trace_of_the_erased_values(
    deployment: Deployment, erased: Erased
) -> None:
    data = deployment.store.read_bytes()
    assert b"Responden 3" not in data and b"081231669330" not in data
    assert b"Responden 2" in data, "the search would find a value that is there"


def test_the_marts_do_not_change_and_nothing_is_republished(
    deployment: Deployment, erased: Erased
) -> None:
    assert erased.after_marts == erased.before_marts
    assert erased.after_served == erased.before_served, "the served file was not touched"
    assert erased.rerun.summary.exit_code == 0, erased.rerun.summary.render()
    assert _marts(deployment.store) == erased.before_marts, "rebuilt without the data: the same"


def test_the_next_run_does_not_bring_the_erased_data_back(
    deployment: Deployment, erased: Erased
) -> None:
    rerun = erased.rerun.summary
    declared = next(f for f in rerun.files if f.source_file == "contoh_2025.csv")
    assert (declared.status, declared.rows_new) == ("loaded", 0), "re-read, nothing new"
    with duckdb.connect(str(deployment.store), read_only=True) as con:
        assert con.execute(
            "select count(*) from raw.respondent_personal where respondent_name = 'Responden 3'"
        ).fetchone() == (0,)


def test_a_rebuild_after_an_erasure_reads_the_blanked_archived_files(
    deployment: Deployment, erased: Erased, tmp_path: Path
) -> None:
    root = shutil.copytree(deployment.config.parent, tmp_path / "copy")  # replay deletes
    settings = load_settings(root / "config.yaml")
    count = "select count(*) from raw.responses"
    with duckdb.connect(str(settings.store), read_only=True) as con:
        stored = con.execute(count).fetchone()[0]
    sources = pipeline.replay_sources(settings, year=None, unit=None)
    run_id = warehouse.new_id()
    prepared = pipeline.prepare(settings, run_id)
    outcomes = pipeline.process_files(settings, prepared, sources, run_id)
    # the blanked export was also loaded again by the next run: one copy is enough
    assert {o.status for o in outcomes} == {"loaded", "skipped"}, [o.message for o in outcomes]
    with duckdb.connect(str(settings.store), read_only=True) as con:
        assert con.execute(count).fetchone()[0] == stored
        assert con.execute(
            "select count(*) from raw.respondent_personal where respondent_name = 'Responden 3'"
        ).fetchone() == (0,)
        rewritten = {
            n for (n,) in con.execute("select new_sha256 from ops.archive_rewrites").fetchall()
        }
        reloaded = {
            sha
            for (sha,) in con.execute(
                "select source_sha256 from ops.load_batches where run_id = ?", [run_id]
            ).fetchall()
        }
    assert rewritten & reloaded, "the blanked copies were read"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"phone": "+62 812-5389-5707"}, 1),  # Responden 2, written another way
        ({"name": "Peserta 5"}, 1),  # a respondent of the fetched export
        ({"name": "Nobody Here"}, 0),
    ],
    ids=["phone-with-country-code", "fetched-respondent-by-name", "nobody"],
)
def test_a_respondent_can_be_erased_by_phone_or_name(
    deployment: Deployment, erased: Erased, selector: dict[str, str], expected: int
) -> None:
    settings = load_settings(deployment.config)
    before = _marts(deployment.store)
    assert erase_respondent(settings, **selector) == expected
    assert _marts(deployment.store) == before


def test_a_respondent_can_be_erased_by_response_key(deployment: Deployment, erased: Erased) -> None:
    with duckdb.connect(str(deployment.store), read_only=True) as con:
        (key,) = con.execute(
            "select response_key from raw.respondent_personal where respondent_name = 'Responden 1'"
        ).fetchone()
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        assert erase_command(str(deployment.config), response_key=key) == 0
        assert erase_command(str(deployment.config), response_key=key) == 1, "already erased"
    assert "Responden 1" not in out.getvalue()


def test_the_erase_command_needs_exactly_one_selector(deployment: Deployment) -> None:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        assert erase_command(str(deployment.config), name="A", phone="0812") == 1
        assert erase_command(str(deployment.config)) == 1
    assert "exactly one of --response-key, --name or --phone" in out.getvalue()


def test_a_response_key_that_is_no_key_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        # no config is read either: the key is refused first
        assert erase_command(str(tmp_path / "absent.yaml"), response_key="abc") == 1
    assert "--response-key harus 64 digit heksadesimal / must be 64 hex digits" in out.getvalue()
