"""`skm-etl` command line: the operator's contract of SPEC §8."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse exits 2, which SPEC §8 gives to "published with rejections"
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    # no usage data leaves a government server unless the operator turns it on
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    parser = _Parser(prog="skm-etl", description="SKM survey warehouse for BPOM")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="run the nightly job once: fetch, load, build marts, publish"
    )
    run.add_argument("--config", required=True, help="the YAML config file (SPEC §8)")
    run.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for a running job to finish instead of exiting at once",
    )

    serve = commands.add_parser(
        "serve",
        help="keep running: run the nightly job on the config's schedule (Prefect deployment)",
    )
    serve.add_argument("--config", required=True, help="the YAML config file (SPEC §8)")
    serve.add_argument(
        "--name", default=None, help="deployment name (default skm-etl-<config file stem>)"
    )
    info = commands.add_parser(
        "deployment-info", help="print the deployment's name, schedule and next run times"
    )
    info.add_argument("--config", required=True, help="the YAML config file (SPEC §8)")
    info.add_argument(
        "--name", default=None, help="deployment name (default skm-etl-<config file stem>)"
    )

    report = commands.add_parser(
        "report",
        help="write the Laporan SKM (HTML, PDF, card) of a unit and year, or the national summary",
    )
    report.add_argument("--config", required=True, help="the YAML config file (SPEC §8)")
    who = report.add_mutually_exclusive_group(required=True)
    who.add_argument("--unit", metavar="NAME", help="unit name or code, any case")
    who.add_argument(
        "--national", action="store_true", help="national summary for the central office"
    )
    report.add_argument("--year", type=int, required=True)
    report.add_argument("--out", required=True, metavar="DIR")

    erase = commands.add_parser(
        "erase",
        help="erase one respondent's name and phone (PDP right to erasure); marts do not change",
    )
    erase.add_argument("--config", required=True, help="the YAML config file (SPEC §8)")
    whom = erase.add_mutually_exclusive_group(required=True)
    whom.add_argument("--response-key", metavar="KEY", help="the response key (64 hex digits)")
    whom.add_argument("--name", help="the respondent's name; case and spacing are ignored")
    whom.add_argument("--phone", help="the phone number; punctuation ignored, +62 read as 0")
    erase.add_argument(
        "--dry-run", action="store_true", help="say what would be erased and change nothing"
    )

    bench = commands.add_parser(
        "bench",
        help="generate N synthetic responses and time the pipeline against a bare DuckDB pass",
    )
    bench.add_argument("--responses", type=int, required=True, metavar="N")
    bench.add_argument(
        "--workdir", default=None, help="where to generate and run (default: a temporary folder)"
    )
    bench.add_argument("--keep", action="store_true", help="keep the generated data and warehouse")
    bench.add_argument(
        "--increment",
        type=float,
        default=None,
        metavar="FRACTION",
        help="after the full build, time a nightly run adding this share of new responses (e.g. 0.01)",
    )
    bench.add_argument(
        "--no-prefect", action="store_true", help="skip measuring Prefect's overhead"
    )

    rebuild = commands.add_parser(
        "rebuild", help="reload archived files (all, or one year / unit) and rebuild the marts"
    )
    rebuild.add_argument("--config", required=True, help="the YAML config file (SPEC §8)")
    rebuild.add_argument("--year", type=int, default=None, help="only this survey year (backfill)")
    rebuild.add_argument("--unit", default=None, help="only this unit, by name or code (backfill)")
    rebuild.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")

    docs = commands.add_parser("docs", help="build the dbt docs site of the marts for analysts")
    docs.add_argument("--config", required=True)

    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args.config, args.wait)
    if args.command == "rebuild":
        return _run(args.config, args.wait, replay=(True, args.year, args.unit))
    if args.command == "docs":
        return _docs(args.config)
    if args.command == "report":
        from skm_etl.report import report_command

        return report_command(args.config, args.unit, args.year, args.out, args.national)
    if args.command == "erase":
        from skm_etl.privacy import erase_command

        return erase_command(args.config, args.response_key, args.name, args.phone, args.dry_run)
    if args.command == "bench":
        from skm_etl.bench.run import bench_command

        return bench_command(
            args.responses, args.workdir, args.keep, args.increment, prefect=not args.no_prefect
        )
    if args.command == "serve":
        from flows.deploy import serve_command

        return serve_command(args.config, args.name)
    if args.command == "deployment-info":
        from flows.deploy import deployment_info_command

        return deployment_info_command(args.config, args.name)
    parser.error(f"unknown command {args.command}")
    return 2


def _run(
    config: str, wait_s: float, replay: tuple[bool, int | None, str | None] = (False, None, None)
) -> int:
    from flows.nightly import nightly
    from skm_etl.pipeline import EXIT_FAILED, SIGTERM_SEEN, RunSummary

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with prefect_api_or_none():
        state = nightly(
            config_path=config,
            wait_for_lock_s=wait_s,
            replay=replay[0],
            replay_year=replay[1],
            replay_unit=replay[2],
            return_state=True,
        )
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, RunSummary):
        print(f"skm-etl: the run failed before it could report: {summary}", file=sys.stderr)
        return EXIT_FAILED
    print(summary.render())
    if SIGTERM_SEEN.is_set():  # DuckDB took the signal's exception for an error
        _say_stopped()
    return summary.exit_code


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (systemd, cron's timeout, `kill`) ends a run as a failure that cleans up.

    Prefect turns the signal into an exception inside the flow (the run records itself as
    stopped in ops.runs) and then sends it again to the handler it found, this one. Python's
    default would end the process at once, before the exit handlers that stop the temporary
    Prefect API a run without PREFECT_API_URL starts, which would go on running, holding
    its port and the output pipe of whoever started the run.
    """
    from skm_etl.pipeline import EXIT_FAILED

    _say_stopped()
    raise SystemExit(EXIT_FAILED)


def _say_stopped() -> None:
    print(
        "skm-etl: run dihentikan (SIGTERM) sebelum selesai / the run was stopped (SIGTERM) "
        "before it finished; what it loaded stays, and the next run goes on from there "
        "(ops.runs: stopped)",
        file=sys.stderr,
    )


def prefect_api_or_none() -> contextlib.AbstractContextManager:
    """The settings a one-off run uses: the configured Prefect API, or none if it is down.

    `skm-etl run` works with or without a Prefect server (docs/OPERATIONS.md): with
    PREFECT_API_URL set but nothing answering there (the server stopped, a stale export in
    the shell), the run goes on under a temporary API of its own, with a line on stderr,
    instead of dying on a traceback before it starts.
    """
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from skm_etl.prefect_api import why_not

    url = PREFECT_API_URL.value()
    if not url:
        return contextlib.nullcontext()
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is None:
        return contextlib.nullcontext()
    print(
        f"skm-etl: Prefect API di / at {url} {why_not(error)}; this run goes on without it "
        "and Prefect will not list it",
        file=sys.stderr,
    )
    return temporary_settings(restore_defaults={PREFECT_API_URL})


def _docs(config: str) -> int:
    from skm_etl.lock import RunLockedError, run_lock
    from skm_etl.pipeline import BuildError, build_docs
    from skm_etl.settings import ConfigError, load_settings

    try:
        settings = load_settings(config)
        with run_lock(settings.lock_path, wait_s=600):
            site = build_docs(settings)
    except (ConfigError, BuildError, RunLockedError) as exc:
        print(f"skm-etl docs: {exc}", file=sys.stderr)
        return 1
    print(f"dbt docs site: {site}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
