"""``python -m runbook run …`` / ``gpu-runbook run …``: parse arguments, call runner.run, map the verdict.

Exit codes: 0 every check passed, 1 a check failed, 2 the run could not be made.
"""
from __future__ import annotations

import argparse
import signal
import sys

import yaml

from . import engine, host, params, runner, toolkit, ui
from .errors import EngineError, ParameterError, RunSetupError
from .results import CheckResult

EXIT_PASS, EXIT_FAIL, EXIT_SETUP = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gpu-runbook", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the notebooks headless and write a record")
    r.add_argument("--out", help="folder for the record (new or empty); default runs/<host>-<time>")
    r.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a parameter (repeatable); see `gpu-runbook params`")
    r.add_argument("-f", "--parameters-file", help="YAML file of parameters (-p wins over it)")
    r.add_argument("--only", action="append", help="run only this step (number or name; repeatable)")
    r.add_argument("--notebooks", help="folder of the notebooks (default: the ones beside the package)")
    sub.add_parser("params", help="list the parameters with their defaults")
    pl = sub.add_parser("plan", help="show the toolkit install plan (for this host, or for --os)")
    pl.add_argument("--os", help="show it as on a fresh system of this OS: ID[:VERSION], e.g. ubuntu:24.04, rhel:9, "
                    "fedora, opensuse-leap, sles, debian:12")
    pl.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    c = sub.add_parser("clean", help="remove containers the runbook left on the engine")
    c.add_argument("--docker-host", default="")
    return ap


def load_values(path: str | None, pairs: list[list[str]]) -> dict:
    values = {}
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                loaded = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            raise RunSetupError(f"cannot read parameters file {path}: {e}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise RunSetupError(f"parameters file {path} must be a mapping of name: value")
        values.update(loaded or {})
    values.update({name: value for name, value in pairs})
    return values


def show_plan(args) -> int:
    from .steps.toolkit_state import engine_settings, source_of
    from .steps import Context
    from .targets import FreshSystem, HostTarget
    try:
        p = params.validate(dict(args.parameter))
    except ParameterError as e:
        print(f"gpu-runbook: {e}", file=sys.stderr)
        return EXIT_SETUP
    if args.os:
        os_id, _, version = args.os.partition(":")
        os_info, target = {"ID": os_id, "VERSION_ID": version, "PRETTY_NAME": args.os}, FreshSystem()
    else:
        os_info, target = host.os_release(), HostTarget()
    plan = toolkit.install_plan(os_info, target, source_of(p), engine_settings(Context(p)))
    if plan is None:
        print(f"gpu-runbook: no plan for {os_info.get('PRETTY_NAME') or os_info.get('ID') or 'this OS'}: "
              "not an apt, dnf or zypper system", file=sys.stderr)
        return EXIT_SETUP
    print(f"# {plan.manager} plan for {plan.os_name}\n{plan.text()}")
    return EXIT_PASS


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "params":
        for p in params.PARAMS:
            print(f"{p.name:18} {p.type.__name__:5} default {p.default!r:10}  {p.help}")
        return EXIT_PASS
    if args.command == "plan":
        return show_plan(args)
    if args.command == "clean":
        try:
            n = engine.remove_leftovers(engine.connect(args.docker_host), run=None)
        except EngineError as e:
            print(f"gpu-runbook: {e}", file=sys.stderr)
            return EXIT_SETUP
        print(f"removed {n} container(s)")
        return EXIT_PASS
    signal.signal(signal.SIGTERM, _terminate)
    try:
        values = load_values(args.parameters_file, args.parameter)
        summary, out = runner.run(args.out, values, args.only, args.notebooks,
                                  log=lambda m: print(m, file=sys.stderr, flush=True))
    except (ParameterError, RunSetupError) as e:
        print(f"gpu-runbook: {e}", file=sys.stderr)
        if e.remediation:
            print(f"gpu-runbook: {e.remediation}", file=sys.stderr)
        return EXIT_SETUP
    print(ui.text([CheckResult.from_dict(c) for c in summary["checks"]]))
    print(f"\nverdict: {summary['verdict']}   record: {out}/summary.json, {out}/report.html")
    return EXIT_PASS if summary["verdict"] == "pass" else EXIT_FAIL
