"""gpu-runbook: check a GPU host from "NVIDIA driver installed" to "PyTorch sees the GPU inside Docker".

Each command is one call: parse the arguments, call the runbook, map the outcome to an exit code.
"""

from __future__ import annotations

import argparse
import sys

EXIT_PASS, EXIT_FAIL, EXIT_SETUP = 0, 1, 2
EXIT_CODES = """exit codes:
  0  every check passed (warnings and reasoned skips allowed)
  1  a check failed
  2  the run could not be made (a bad parameter, a missing notebook, an output folder in use)"""
FLEET_EXIT_CODES = """exit codes:
  0  every host ran and passed
  1  a host failed, broke or was unreachable
  2  the folder holds no host records"""


def parser() -> argparse.ArgumentParser:
    from .version import version

    ap = argparse.ArgumentParser(
        prog="gpu-runbook",
        description=__doc__.splitlines()[0],
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"gpu-runbook {version()}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    r = command("run", "run the notebooks headless and write a record (executed notebooks, summary.json, report.html)")
    r.add_argument("--out", help="folder for the record (new or empty); default runs/<host>-<time>")
    r.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter (repeatable); see `gpu-runbook params`",
    )
    r.add_argument("-f", "--parameters-file", help="YAML file of parameters (-p wins over it)")
    r.add_argument("--only", action="append", help="run only this step (number or name; repeatable)")
    r.add_argument("--notebooks", help="folder of the notebooks (default: the ones shipped with the runbook)")
    command("params", "list the parameters with their types and defaults")
    pl = command("plan", "show the toolkit install plan (for this host, or for --os)")
    pl.add_argument(
        "--os",
        help="show it as on a fresh system of this OS: ID[:VERSION], e.g. ubuntu:24.04, rhel:9, "
        "fedora, opensuse-leap, sles, debian:12",
    )
    pl.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    c = command("clean", "remove containers the runbook left on the engine (a killed run's)")
    c.add_argument("--docker-host", default="", help="engine address (default: as for `run`)")
    fr = sub.add_parser(
        "fleet-report",
        help="one report for a fleet's records: an HTML page, a JSON summary, a JUnit file per host",
        description="Read the hosts' records the playbook fetched (one folder per host) and write "
        "fleet-report.html, fleet-summary.json and junit/<host>.xml.",
        epilog=FLEET_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fr.add_argument("folder", metavar="DIR", help="the fleet's folder: one folder per host")
    fr.add_argument("--out", help="where to write the report (default: DIR)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .errors import RunbookError

    try:
        return COMMANDS[args.command](args)
    except RunbookError as e:
        print(f"gpu-runbook: {e}", file=sys.stderr)
        if e.remediation:
            print(f"gpu-runbook: {e.remediation}", file=sys.stderr)
        return EXIT_SETUP


def cmd_run(args) -> int:
    import signal

    from . import render, runner
    from .results import CheckResult

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    values = runner.load_values(args.parameters_file, args.parameter)
    summary, out = runner.run(
        args.out, values, args.only, args.notebooks, log=lambda m: print(m, file=sys.stderr, flush=True)
    )
    print(render.text([CheckResult.from_dict(c) for c in summary["checks"]]))
    print(f"\nverdict: {summary['verdict']}   record: {out}/summary.json, {out}/report.html")
    return EXIT_PASS if summary["verdict"] == "pass" else EXIT_FAIL


def cmd_params(args) -> int:
    from . import params

    print(params.table())
    return EXIT_PASS


def cmd_plan(args) -> int:
    from .steps import toolkit_state

    plan = toolkit_state.plan_for(dict(args.parameter), args.os)
    print(f"# {plan.manager} plan for {plan.os_name}\n{plan.text()}")
    return EXIT_PASS


def cmd_clean(args) -> int:
    from . import engine

    print(f"removed {engine.clean(args.docker_host)} container(s)")
    return EXIT_PASS


def cmd_fleet_report(args) -> int:
    from . import fleet

    hosts, result, out = fleet.report(args.folder, args.out)
    print(fleet.text(hosts))
    print(f"\nfleet verdict: {result['verdict']}   report: {out}/fleet-report.html, fleet-summary.json, junit/")
    return EXIT_PASS if result["verdict"] == "pass" else EXIT_FAIL


COMMANDS = {
    "run": cmd_run,
    "params": cmd_params,
    "plan": cmd_plan,
    "clean": cmd_clean,
    "fleet-report": cmd_fleet_report,
}
