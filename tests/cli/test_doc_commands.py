"""The docs' commands, verbatim: every command in a ``bash``, ``sh`` or ``console`` block of README.md,
README.zh-CN.md and docs/**/*.md either runs here exactly as written, or is listed below with the reason it
cannot run on a CI machine. A command in neither list fails, so a docs edit that adds or breaks a command
breaks CI. Blocks that are not commands (output, usage lines) are ``text`` blocks and are not read.

The commands run in one copy of the repository's tracked files (``git ls-files``, as they are in the
working tree: uncommitted edits are tried, untracked files are not), from its root, one after another in
the order of the docs (README.md first: its main command makes the ``.venv`` the others use), with
pip's own cache. Each must end with the exit code listed for it and print no traceback or error line.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.utils.paths import REPO

REPORT = "06-report.ipynb"
DOCS = ("README.md", "README.zh-CN.md", "docs")
SHELLS = {"bash", "sh", "shell", "console"}

MAIN = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/python -m runbook run"
A_RUN = ((0, 1), True)  # a run: verdict fail (exit 1) on a machine without a GPU, pass (0) on a GPU host; a record

# Commands that run here: the exit codes they may end with, and whether they write a record into runs/.
RUNS: dict[str, tuple[tuple[int, ...], bool]] = {
    MAIN: A_RUN,
    ".venv/bin/gpu-runbook --version": ((0,), False),
    ".venv/bin/gpu-runbook params": ((0,), False),
    ".venv/bin/gpu-runbook plan --os ubuntu:24.04": ((0,), False),
    ".venv/bin/gpu-runbook plan --os rocky:9 -p toolkit_mirror https://mirror.example.com/libnvidia-container": (
        (0,),
        False,
    ),
    ".venv/bin/gpu-runbook run --only 1 --json --out runs/preflight": A_RUN,
    "LANG=zh_CN.UTF-8 .venv/bin/gpu-runbook run": A_RUN,
    ".venv/bin/gpu-runbook run -p lang en": A_RUN,
    # verify: drifted (exit 1) on a machine that is not the recorded H200; unchanged (0) there
    ".venv/bin/gpu-runbook verify records/h200-2026-11-29-toolkit --out runs/verify-h200": A_RUN,
    # a host of records/ failed (exit 1): the fleet's verdict is fail
    ".venv/bin/gpu-runbook fleet-report records --out build/fleet-report": ((1,), False),
    ".venv/bin/python tools/gen_reference.py": ((0,), False),
    # two H100 machines' stand-in images, entry by entry: the same (exit 0)
    "python3 tests/gpu/kit/layer_diff.py records/h100x1-2026-12-07-kit-logs/images-3.files.txt.gz "
    "records/h100x1-2026-12-07-kit-logs/images-4.files.txt.gz": ((0,), False),
    ".venv/bin/python tests/fixtures/field/coverage.py": ((0,), False),
    ".venv/bin/pip install -q -e '.[docs]' && .venv/bin/mkdocs build --strict -d build/site": ((0,), False),
    ".venv/bin/pip install -q 'babel>=2.12'": ((0,), False),
    ".venv/bin/pybabel extract -F babel.cfg --no-location --project=gpu-runbook -o build/runbook.pot .": ((0,), False),
    ".venv/bin/pybabel update -D runbook -i build/runbook.pot -d runbook/locale --no-wrap --no-fuzzy-matching "
    "--ignore-obsolete": ((0,), False),
    ".venv/bin/pybabel compile -D runbook -d runbook/locale --statistics": ((0,), False),
    ".venv/bin/python -m runbook.i18n.narrative extract": ((0,), False),
    ".venv/bin/python -m runbook.i18n.narrative compile": ((0,), False),
}

GPU_HOST = "needs the project's GPU host (an NVIDIA GPU and driver, the GPU host kit up)"
FLEET = "needs a fleet of SSH hosts and its inventory (tests/fleet brings one up and runs the playbook over it)"
BROWSER = "starts JupyterLab and serves it until stopped: a browser session (tests/browser drives it)"
BENCHMARK = "a benchmark: minutes of alternated measurements, run by hand and reported in the docs"

# Commands that cannot run on a CI machine, and why.
NOT_HERE: dict[str, str] = {
    "bash tests/run.sh": "the test command itself (this test is part of it)",
    ".venv/bin/python -m pytest tests/test_project.py -q": "runs tests: part of the test command itself",
    "python3 -m venv .venv && .venv/bin/pip install -e '.[lab]' && .venv/bin/gpu-runbook lab": BROWSER,
    ".venv/bin/gpu-runbook lab --replay records/h200-2026-11-29-toolkit": BROWSER,
    ".venv/bin/gpu-runbook lab --lang zh_CN": BROWSER,
    ".venv/bin/gpu-runbook lab --lang zh_CN --replay records/h200-2026-11-29-toolkit ~/h200-zh": BROWSER,
    "python3 -m venv .venv && .venv/bin/pip install -e '.[fleet]'": FLEET + "; its first command, whose "
    "environment only the fleet's commands use",
    "PYTHON=.venv/bin/python fleet/wheelhouse.sh build/wheelhouse.tar": FLEET + "; tests/fleet builds it",
    "ANSIBLE_CONFIG=fleet/ansible.cfg .venv/bin/ansible-playbook fleet/site.yml -i INVENTORY -e "
    "gpu_runbook_wheelhouse=build/wheelhouse.tar -e gpu_runbook_fleet_out=runs/fleet": FLEET,
    ".venv/bin/gpu-runbook fleet-report runs/fleet": FLEET + "; it reads the records the playbook fetched",
    'ANSIBLE_CONFIG=fleet/ansible.cfg ansible-playbook fleet/site.yml -i "$(hostname)," -e '
    "ansible_connection=local -e ansible_python_interpreter=$(command -v python3) -e "
    "gpu_runbook_system_site_packages=true -e gpu_runbook_wheelhouse=$PWD/build/wheelhouse-cp312.tar -e "
    "gpu_runbook_fleet_out=$PWD/runs/fleet": GPU_HOST,
    "python3 -m runbook fleet-report runs/fleet": GPU_HOST + "; it reads the records the playbook run there fetched",
    "bash tests/gpu/kit/make-kit.sh": "builds the GPU host kit for the GPU host: Debian's packages, wheels and the "
    "toolkit built from source, hundreds of MB and minutes",
    "bash tests/gpu/kit/up.sh": GPU_HOST + "; as root it starts the kit's engine, repository and registry",
    "python3 -m runbook run --out records/$(python3 -c 'from runbook import host; "
    "print(host.gpu_tag(host.query_driver().gpus))')-$(date -u +%F)-toolkit -p toolkit_apply true -p toolkit_mirror "
    'http://127.0.0.1:8700 -p registry_mirrors http://127.0.0.1:5000 -p engine_restart "bash '
    '$PWD/tests/gpu/kit/dockerd.sh restart" -p allow_restart_command true -p enable_cdi true -p '
    "set_as_default true": GPU_HOST + "; it installs the toolkit and restarts the kit's engine",
    "bash tests/gpu/kit/device.sh": GPU_HOST,
    'STEPS="up toolkit e2e" bash tests/gpu/kit/device.sh build/gpu-kit': GPU_HOST + "; NVIDIA's end-to-end suite there",
    'STEPS="e2e-fixed" bash tests/gpu/kit/device.sh build/gpu-kit': GPU_HOST + "; it changes /usr/bin/nvidia-smi",
    'STEPS="e2e verify stale-cdi e2e-fixed store bench captures" bash tests/gpu/kit/device.sh build/gpu-kit': GPU_HOST,
    "bash tests/gpu/kit/e2e.sh build/gpu-kit records/h200-2026-12-06-toolkit": GPU_HOST
    + "; it runs NVIDIA's end-to-end suite against the host the runbook configured",
    "python3 tests/gpu/kit/e2e_compare.py records/h200-2026-12-06-e2e/junit.xml records/h200-2026-12-06-toolkit --out "
    "records/h200-2026-12-06-e2e/e2e-vs-runbook.md": GPU_HOST + "; it reads the suite's JUnit report made there",
    "bash tests/gpu/kit/make-podman-kit.sh": "builds Podman for the GPU host kit from Debian trixie's packages "
    "(debootstrap, minutes)",
    "bash tests/gpu/kit/podman.sh start": GPU_HOST + "; it starts the kit's Podman as root",
    "bash tests/gpu/kit/make-fleet-kit.sh": "builds the fleet part of the GPU host kit: a host image and "
    "wheelhouses, about 63 MB and minutes",
    "bash tests/gpu/kit/fleet-scale.sh build/gpu-kit prepare": GPU_HOST + "; it installs ansible-core there",
    "bash tests/gpu/kit/fleet-scale.sh build/gpu-kit run": GPU_HOST + "; eight fleet hosts on its cores",
    "python3 -m pytest tests/gpu": GPU_HOST,
    "bash tests/gpu/nbval.sh": GPU_HOST,
    "GPU_MODE=gpus bash tests/gpu/nbval.sh": GPU_HOST,
    "python3 benchmarks/container_vs_host.py": GPU_HOST,
    "python3 benchmarks/step_costs.py": GPU_HOST,
    "python3 benchmarks/bf16_bursts_vs_sustained.py": GPU_HOST,
    "python3 benchmarks/operator_run.py --against dddd074": BENCHMARK,
    "python3 benchmarks/pull_progress.py": BENCHMARK,
    "python3 benchmarks/run_phases.py --only 3 --only 4": BENCHMARK,
}

ERROR_LINE = re.compile(
    r"Traceback \(most recent call last\)|^\S*(?:Error|Exception): |: error: |^error: |^ERROR\b"
    r"| stopped: | 已停止：|中途停止：",  # a notebook that stopped, in either language
    re.MULTILINE,
)
COMMENT = re.compile(r"\s+#\s.*$")


def doc_files(root: Path) -> list[Path]:
    found = [root / n for n in DOCS if (root / n).is_file()]
    return found + sorted((root / "docs").rglob("*.md"))


def commands(text: str) -> list[str]:
    """The commands of a page's shell blocks, in order: a line continued by a backslash is one command; a
    comment (a line of its own, or after the command) is not part of it; in a console block only the
    lines after a ``$`` prompt are commands."""
    found = []
    for block in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        if block[1] not in SHELLS:
            continue
        lines = block[2].replace("\\\n", " ").splitlines()
        if block[1] == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        for line in lines:
            line = " ".join(COMMENT.sub("", line).split())
            if line and not line.startswith("#"):
                found.append(line)
    return found


def doc_commands(root: Path) -> list[tuple[str, str]]:
    """(page, command) for every command of the docs, each command once, in the docs' order."""
    seen, found = set(), []
    for path in doc_files(root):
        for command in commands(path.read_text()):
            if command not in seen:
                seen.add(command)
                found.append((path.relative_to(root).as_posix(), command))
    return found


def test_every_command_of_the_docs_is_run_or_excused():
    found = doc_commands(REPO)
    assert any(c == MAIN for _page, c in found), "README.md's main command is gone from the docs"
    unknown = [f"{page}: {c}" for page, c in found if c not in RUNS and c not in NOT_HERE]
    assert not unknown, (
        "commands in the docs that this test neither runs nor excuses; add each to RUNS (with its exit codes) "
        "or NOT_HERE (with why it cannot run in CI), or make a block that is not a command a ```text block:\n"
        + "\n".join(unknown)
    )
    stale = sorted((set(RUNS) | set(NOT_HERE)) - {c for _page, c in found})
    assert not stale, "commands listed here that no doc has any more:\n" + "\n".join(stale)
    assert not set(RUNS) & set(NOT_HERE), "a command is both run and excused"


def copy_of_the_repository(dest: Path) -> Path:
    """The repository's tracked files as the working tree has them (links kept as links)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        src = REPO / name
        if not name or not (src.exists() or src.is_symlink()):
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
    return dest


def records(clone: Path) -> set[Path]:
    runs = clone / "runs"
    return {p for p in runs.iterdir() if p.is_dir()} if runs.is_dir() else set()


def assert_whole_record(record: Path) -> None:
    """A record as the docs promise it: summary.json, report.html, and every notebook with outputs."""
    assert (record / "summary.json").is_file(), f"{record.name}: no summary.json"
    assert (record / "report.html").is_file(), f"{record.name}: no report.html"
    notebooks = sorted(record.glob("*.ipynb"))
    summary = json.loads((record / "summary.json").read_text())
    listed = {n["name"] for n in summary["notebooks"]}  # the steps the report summarised (not the report)
    unlisted = {p.name for p in notebooks} - listed
    assert listed <= {p.name for p in notebooks} and unlisted <= {REPORT}, (
        f"{record.name}: summary.json lists {sorted(listed)}, the record holds {[p.name for p in notebooks]}"
    )
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        assert any(c.get("outputs") for c in cells if c["cell_type"] == "code"), (
            f"{record.name}/{path.name}: no outputs"
        )


def test_the_commands_of_the_docs_run_as_written(tmp_path):
    clone = copy_of_the_repository(tmp_path / "gpu-runbook")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO)))
    failures = []
    for page, command in doc_commands(clone):
        if command not in RUNS:
            continue
        codes, makes_record = RUNS[command]
        before = records(clone)
        proc = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=900)
        output = proc.stdout + proc.stderr
        where = f"{page}: `{command}`"
        if proc.returncode not in codes:
            failures.append(f"{where} exited {proc.returncode}, not {codes}:\n{output[-3000:]}")
            continue
        bad = ERROR_LINE.search(output)
        if bad:
            line = output[output.rfind("\n", 0, bad.start()) + 1 : output.find("\n", bad.end())]
            failures.append(f"{where} printed an error line: {line}\n{output[-3000:]}")
            continue
        if makes_record:
            made = records(clone) - before
            if len(made) != 1:
                failures.append(f"{where} made {len(made)} records in runs/, not one")
                continue
            try:
                assert_whole_record(made.pop())
            except AssertionError as e:
                failures.append(f"{where}: {e}")
    assert not failures, "\n\n".join(failures)
