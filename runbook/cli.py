"""gpu-runbook: check a GPU host from "NVIDIA driver installed" to "PyTorch sees the GPU inside Docker".

Each command is one call: parse the arguments, call the runbook, map the outcome to an exit code. The
command speaks the locale's language (LANG, LC_ALL); ``run`` speaks ``-p lang`` when it is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from . import i18n
from .i18n import N_, _, ngettext
from .present import checklist

EXIT_PASS, EXIT_FAIL, EXIT_SETUP = 0, 1, 2
EXIT_SIGINT, EXIT_SIGTERM = 130, 143  # as a shell reports a process ended by the signal
EXIT_CODES = N_("""exit codes:
  0  pass: every essential check of the steps that ran was observed passing (warnings allowed)
  1  fail (a check failed) or incomplete (nothing failed, but an essential check could not be observed)
  2  the run could not be made (a bad parameter, a missing notebook, an output folder in use)
  130, 143  interrupted (Ctrl-C, SIGTERM): the record is written, with verdict incomplete""")
FLEET_EXIT_CODES = N_("""exit codes:
  0  every host ran and passed
  1  a host failed, broke or was unreachable
  2  the folder holds no host records""")


def parameters(command: argparse.ArgumentParser, help: str | None = None) -> None:
    """``-p NAME VALUE``, repeatable, as run, verify and plan take it."""
    command.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help=help
    )


def engine_address(value: str) -> str:
    """--docker-host, checked as the docker_host parameter is (argparse then says which option, exit 2)."""
    from . import params

    try:
        return params.docker_host(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def port(value: str) -> int:
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 65535):
        wrong = _("{value} is not a port (a number from 1 to 65535)")
        raise argparse.ArgumentTypeError(wrong.format(value=repr(value)))
    return int(value)


def parser() -> argparse.ArgumentParser:
    from .version import version

    ap = argparse.ArgumentParser(
        prog="gpu-runbook",
        description=_('check a GPU host from "NVIDIA driver installed" to "PyTorch sees the GPU inside Docker".'),
        epilog=i18n.translate(EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    version_line = f"gpu-runbook {version()}"
    ap.add_argument("--version", action="version", version=version_line)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str = "", codes: str = EXIT_CODES) -> argparse.ArgumentParser:
        c = sub.add_parser(
            name,
            help=summary,
            description=description or summary,
            epilog=i18n.translate(codes),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        c.add_argument("--version", action="version", version=version_line)  # as the command's own, too
        return c

    r = command(
        "run", _("run the notebooks headless and write a record (executed notebooks, summary.json, report.html)")
    )
    r.add_argument("--out", help=_("folder for the record (new or empty); default runs/<host>-<time>"))
    parameters(r, _("set a parameter (repeatable); see `gpu-runbook params`"))
    r.add_argument("-f", "--parameters-file", help=_("YAML file of parameters (-p wins over it)"))
    r.add_argument("--only", action="append", help=_("run only this step (number or name; repeatable)"))
    r.add_argument("--notebooks", help=_("folder of the notebooks (default: the ones shipped with the runbook)"))
    shown = r.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help=_("print only the verdict and the record's path"))
    shown.add_argument("--json", action="store_true", help=_("print summary.json to stdout instead of the checks"))
    r.add_argument(
        "--junit-xml", metavar="FILE", help=_("also write the checks as JUnit XML (one test case per check)")
    )
    command("params", _("list the parameters with their types and defaults"))
    pl = command("plan", _("show the toolkit install plan (for this host, or for --os)"))
    pl.add_argument(
        "--os",
        help=_(
            "show it as on a fresh system of this OS: ID[:VERSION], e.g. ubuntu:24.04, rhel:9, "
            "fedora, opensuse-leap, sles, debian:12"
        ),
    )
    parameters(pl)
    v = command(
        "verify",
        _(
            "run a record's steps again on this host with its parameters and report what drifted "
            "(exit 0 unchanged, 1 drifted)"
        ),
    )
    v.add_argument("record", help=_("the record's folder (it holds summary.json)"))
    v.add_argument("--out", help=_("folder for the new record (new or empty); default runs/<host>-<time>"))
    parameters(
        v,
        _(
            "set a parameter for this run (repeatable); the record's parameters that act on the host "
            "(toolkit_apply, engine_restart, …) are never taken from it, only from here"
        ),
    )
    c = command("clean", _("remove containers the runbook left on the engine (a killed run's)"))
    c.add_argument("--docker-host", default="", type=engine_address, help=_("engine address (default: as for `run`)"))
    lab = command("lab", _("copy the notebooks into a folder of your own and open JupyterLab there"))
    lab.add_argument(
        "dir", nargs="?", metavar="DIR", help=_("the workspace (default ~/gpu-runbook-lab); notebooks there are kept")
    )
    lab.add_argument("--replay", metavar="RECORD", help=_("show a record's run as if it ran here, marked as a replay"))
    lab.add_argument(
        "--lang", default="", help=_("the notebooks' and JupyterLab's language: en or zh_CN (default: the locale's)")
    )
    lab.add_argument("--port", type=port, help=_("JupyterLab's port"))
    lab.add_argument("--ip", help=_("the address JupyterLab listens on (default: its own, localhost)"))
    lab.add_argument("--no-browser", action="store_true", help=_("do not open a browser"))
    b = command(
        "bundle",
        _("write a support bundle: versions, docker info, nvidia-smi -q, configs, CDI specs, journals, a record"),
    )
    b.add_argument("--out", metavar="FILE", help=_("the archive (default gpu-runbook-bundle-<host>-<time>.tar.gz)"))
    b.add_argument("--docker-host", default="", type=engine_address, help=_("engine address (default: as for `run`)"))
    b.add_argument("--daemon-json", default="/etc/docker/daemon.json", help=_("the engine's daemon.json"))
    b.add_argument("--record", help=_("the record to include (default: the newest under runs/)"))
    b.add_argument(
        "--nvidia-bug-report",
        action="store_true",
        help=_("also run nvidia-bug-report.sh (when installed; takes minutes, reads much of the host)"),
    )
    fr = command(
        "fleet-report",
        _("one report for a fleet's records: an HTML page, a JSON summary, a JUnit file per host"),
        _(
            "Read the hosts' records the playbook fetched (one folder per host) and write "
            "fleet-report.html, fleet-summary.json and junit/<host>.xml."
        ),
        FLEET_EXIT_CODES,
    )
    fr.add_argument("folder", metavar="DIR", help=_("the fleet's folder: one folder per host"))
    fr.add_argument("--out", help=_("where to write the report (default: DIR)"))
    return ap


def standard_streams() -> None:
    """A closed stdin, stdout or stderr (``>&-``) becomes /dev/null: Python would drop the output, or fail
    on it, and the first file opened would take the closed number, the kernel and tools writing into it."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            new = os.open(os.devnull, os.O_RDWR)
            if new != fd:
                os.dup2(new, fd)
                os.close(new)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115 (the process's own stream)


@contextlib.contextmanager
def output():
    """Printing a command's output: a reader that left (``| head -1``) ends it quietly, the exit code
    staying the outcome's; an output that cannot be written (a full disk) is an error line, exit 2."""
    try:
        yield
        sys.stdout.flush()
    except OSError as e:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        if not isinstance(e, BrokenPipeError):
            from .errors import RunSetupError

            raise RunSetupError(_("cannot write the output: {error}").format(error=e.strerror or e)) from None


def main(argv: list[str] | None = None) -> int:
    standard_streams()
    i18n.activate()  # the locale's language; `run` switches to -p lang once its parameters are read
    args = parser().parse_args(argv)
    from .errors import RunbookError

    try:
        code = COMMANDS[args.command](args)
        with output():
            return code
    except RunbookError as e:
        print(f"gpu-runbook: {e}", file=sys.stderr)
        if e.remediation:
            print(f"gpu-runbook: {e.remediation}", file=sys.stderr)
        return EXIT_SETUP
    except BrokenPipeError:  # the reader went away (gpu-runbook params | head -1): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PASS
    except KeyboardInterrupt as e:
        print("gpu-runbook: " + _("interrupted ({signal})").format(signal=str(e) or "SIGINT"), file=sys.stderr)
        return EXIT_SIGTERM if str(e) == "SIGTERM" else EXIT_SIGINT


def cmd_run(args) -> int:
    import signal

    from . import files, runner
    from .present import report as render
    from .results import CheckResult

    def terminate(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, terminate)
    values = runner.load_values(args.parameters_file, args.parameter)
    junit = files.file_to_write(args.junit_xml, "--junit-xml") if args.junit_xml else None
    view, log = None, (lambda m: print(m, file=sys.stderr, flush=True))
    if args.quiet:  # the verdict only: no step lines, no pull progress (errors that stop the run still show)
        from .present.progress import PlainView

        view = PlainView(lambda m: None)
    elif sys.stderr.isatty():  # a terminal: a status line and pull bars; a CI log gets plain lines
        from .present.progress import TerminalView

        view = TerminalView(sys.stderr)
    try:
        summary, out = runner.run(args.out, values, args.only, args.notebooks, log=log, view=view)
    except runner.Interrupted as e:
        record = _("record: {files}").format(files=f"{e.out}/summary.json")
        print(f"\n{render.verdict_line(e.summary)}\n{record}", file=sys.stderr)
        return EXIT_SIGTERM if e.signal_name == "SIGTERM" else EXIT_SIGINT
    if junit:
        from .errors import RunSetupError
        from .files import write_atomic
        from .present.junit import junit_xml

        try:
            write_atomic(junit, junit_xml(summary))
        except OSError as e:
            raise RunSetupError(
                _("the record is written ({folder}), but --junit-xml {file} could not be: {error}").format(
                    folder=out, file=junit, error=e.strerror or e
                )
            ) from None
    with output():
        if args.json:
            print(json.dumps(summary, indent=2))
        elif not args.quiet:
            print(render.headline(summary))
            print(checklist.text([CheckResult.from_dict(c) for c in summary["checks"]]))
            print()
        if not args.json:
            record = _("record: {files}").format(files=f"{out}/summary.json, {out}/report.html")
            print(f"{render.verdict_line(summary)}\n{record}")
    return EXIT_PASS if summary["verdict"] == "pass" else EXIT_FAIL


def cmd_params(args) -> int:
    from . import params

    with output():
        print(params.table())
    return EXIT_PASS


def cmd_plan(args) -> int:
    from . import params
    from .steps import registries, toolkit_state

    plan = toolkit_state.plan_for(params.from_pairs(args.parameter), args.os)
    renamed = registries.renamed_images(params.from_pairs(args.parameter))
    with output():
        print("# " + _("{manager} plan for {os}").format(manager=plan.manager, os=plan.os_name) + f"\n{plan.text()}")
        if renamed:
            print("# " + _("images pulled under a prefix mirror's name (image_prefix):"))
            print("\n".join(f"# {name} -> {new}" for name, new in renamed))
    return EXIT_PASS


def cmd_verify(args) -> int:
    from . import params, verify

    given = params.from_pairs(args.parameter)
    drift, summary, out, left = verify.verify(
        args.record, args.out, log=lambda m: print(m, file=sys.stderr, flush=True), given=given
    )
    drifted = [d for d in drift if verify.is_drift(d)]
    changed = (
        ngettext("{count} drift", "{count} drifts", len(drifted)).format(count=len(drifted))
        if drifted
        else _("unchanged")
    )
    with output():
        for x in left:
            print(_("left out  {name}={value}: {why}").format(name=x.name, value=repr(x.recorded), why=x.why))
        for d in drift:
            print(verify.line(d))
        print(
            _("{changed} against {record}; now {verdict}; record: {files}").format(
                changed=changed,
                record=args.record,
                verdict=summary["verdict"],
                files=f"{out}/summary.json, {out}/drift.json",
            )
        )
    return EXIT_FAIL if drifted else EXIT_PASS


def cmd_clean(args) -> int:
    from . import engine

    removed = engine.clean(args.docker_host)
    print(ngettext("removed {count} container", "removed {count} containers", removed).format(count=removed))
    return EXIT_PASS


def cmd_lab(args) -> int:
    from .present import lab

    ws = lab.prepare(args.dir, args.replay, args.lang)
    print(
        ngettext(
            "workspace: {folder}: {count} notebook copied from the runbook",
            "workspace: {folder}: {count} notebooks copied from the runbook",
            len(ws.written),
        ).format(folder=ws.folder, count=len(ws.written))
    )
    if ws.kept:
        print(
            _("kept as they are (your work): {names}; for fresh copies, choose another folder").format(
                names=", ".join(ws.kept)
            )
        )
    if ws.replay:
        print(
            _(
                "replay of {record}: the steps show that host's recorded checks, marked as replayed; nothing runs here"
            ).format(record=ws.replay)
        )
    if lab.as_root():
        print(_("running as root: JupyterLab is started with --allow-root, without which it refuses to start"))
    extra = [f"--port={args.port}"] * bool(args.port) + [f"--ip={args.ip}"] * bool(args.ip)
    lab.start(ws, extra + ["--no-browser"] * args.no_browser)
    return EXIT_PASS  # not reached: this process has become JupyterLab


def cmd_bundle(args) -> int:
    from . import files
    from .errors import RunSetupError
    from .record import bundle

    if args.record and not os.path.isfile(os.path.join(args.record, "summary.json")):
        wrong = _("--record {folder} is not a record's folder (no summary.json)")
        raise RunSetupError(wrong.format(folder=args.record))
    path, manifest = bundle.write(
        files.file_to_write(args.out, "--out", keep=True) if args.out else None,
        docker_host=args.docker_host,
        daemon_json=args.daemon_json,
        record=args.record,
        nvidia_bug_report=args.nvidia_bug_report,
    )
    for name, state in manifest:
        print(f"{name:32} {state}")
    print(_("bundle: {path} (credentials masked; read it before you share it)").format(path=path))
    return EXIT_PASS


def cmd_fleet_report(args) -> int:
    from . import fleet

    hosts, result, out = fleet.report(args.folder, args.out)
    with output():
        print(fleet.text(hosts))
        files = f"{out}/fleet-report.html, fleet-summary.json, junit/"
        print("\n" + _("fleet verdict: {verdict}   report: {files}").format(verdict=result["verdict"], files=files))
    return EXIT_PASS if result["verdict"] == "pass" else EXIT_FAIL


COMMANDS = {
    "run": cmd_run,
    "params": cmd_params,
    "plan": cmd_plan,
    "verify": cmd_verify,
    "clean": cmd_clean,
    "lab": cmd_lab,
    "bundle": cmd_bundle,
    "fleet-report": cmd_fleet_report,
}
