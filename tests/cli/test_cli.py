"""The command line as a user meets it: help, version, parameters, plans, and every way a run can be
refused before anything runs (exit 2, nothing written, no container started)."""

import os
import shutil
import subprocess
import sys

import pytest

from runbook import engine
from runbook.errors import EngineUnreachable
from tests.utils.cli import checks, gpu_runbook, run_cli
from tests.utils.paths import REPO


def test_help_names_every_command_and_the_exit_codes():
    proc = gpu_runbook("--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    for command in ("run", "params", "plan", "clean", "bundle", "fleet-report"):
        assert command in proc.stdout, f"--help does not name {command}"
    assert "exit codes:" in proc.stdout
    for command in ("run", "params", "plan", "clean", "bundle", "fleet-report"):
        sub = gpu_runbook(command, "--help", timeout=60)
        assert sub.returncode == 0, sub.stderr
        assert "exit codes:" in sub.stdout, f"`{command} --help` does not list the exit codes"


def test_version_is_the_package_metadata_version():
    from runbook.version import version

    proc = gpu_runbook("--version", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"gpu-runbook {version()}"


def test_every_command_says_what_it_does_and_its_version():
    from runbook import cli
    from runbook.version import version

    for command, sub in cli.parser()._subparsers._group_actions[0].choices.items():
        proc = gpu_runbook(command, "--help", timeout=60)
        assert proc.returncode == 0 and sub.description.split()[0] in proc.stdout, (command, proc.stderr)
        assert "exit codes:" in proc.stdout, command
        proc = gpu_runbook(command, "--version", timeout=60)  # was "unrecognized arguments", exit 2
        assert proc.returncode == 0 and proc.stdout.strip() == f"gpu-runbook {version()}", (command, proc.stderr)


def test_help_and_params_do_not_import_the_runner():
    """The notebook machinery (papermill, nbclient) loads only for `run`, so help and params start fast."""
    script = (
        "import sys, runbook.cli as c; c.main(['params']); "
        "print(sorted(m for m in sys.modules if m.startswith(('papermill', 'nbclient', 'docker'))))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout.splitlines()[-1]


def test_params_lists_every_parameter():
    from runbook import params

    proc = gpu_runbook("params", timeout=60)
    assert proc.returncode == 0, proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert names == [p.name for p in params.PARAMS]


def test_the_engine_address_follows_the_docker_environment(tmp_path):
    """DOCKER_HOST with the TLS variables, as docker-py's from_env reads them; else the CLI's context."""
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (certs / name).write_text("")
    got = engine.connection_params(
        "", {"DOCKER_HOST": "tcp://10.0.0.9:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
    )
    assert got["base_url"] == "tcp://10.0.0.9:2376"
    assert got["tls"].ca_cert == str(certs / "ca.pem"), "DOCKER_CERT_PATH's CA is used"
    assert got["tls"].verify == str(certs / "ca.pem") or got["tls"].verify is True
    given = engine.connection_params("unix:///run/other.sock", {"DOCKER_HOST": "tcp://10.0.0.9:2376"})
    assert given["base_url"] == "unix:///run/other.sock", "the docker_host parameter wins over DOCKER_HOST"
    home = tmp_path / "home"
    meta = home / ".docker" / "contexts" / "meta"
    import hashlib
    import json

    folder = meta / hashlib.sha256(b"remote").hexdigest()
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(
        json.dumps(
            {
                "Name": "remote",
                "Metadata": {},
                "Endpoints": {"docker": {"Host": "ssh://ops@gpu-7", "SkipTLSVerify": False}},
            }
        )
    )
    (home / ".docker" / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    script = (
        "import json, runbook.engine as e; "
        "print(json.dumps([e.connection_params('', {})['base_url'], "
        "e.connection_params('', {'DOCKER_CONTEXT': 'default'})['base_url']]))"
    )
    env = {**os.environ, "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")}
    env.pop("DOCKER_HOST", None)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    current, default = json.loads(proc.stdout)
    assert current == "ssh://ops@gpu-7", "the CLI's current context (docker context use) is followed"
    assert default == "unix:///var/run/docker.sock", "DOCKER_CONTEXT=default is the local socket"
    with pytest.raises(EngineUnreachable, match="no Docker context 'nosuch'"):
        engine.connection_params("", {"DOCKER_CONTEXT": "nosuch"})


@pytest.mark.parametrize(
    "args, words",
    [
        (["-p", "nosuch", "1"], "parameter 'nosuch': unknown parameter"),
        (["-p", "cuda_image", "not an image!"], "parameter 'cuda_image'"),
        (["-p", "timeout_s", "soon"], "parameter 'timeout_s'"),
        (["-p", "lang", "klingon"], "not a language the runbook speaks"),
        (["--only", "9"], "names no step"),
        (["-p", "timeout_s", "5", "-p", "timeout_s", "10"], "given twice"),  # the last won silently
        (["--out", ""], "--out is empty"),  # ran into runs/<host>-<time>
        (["-p", "interactive", "true"], "gpu-runbook run sets it itself"),  # was overwritten silently
        (["-p", "record_dir", "/tmp"], "gpu-runbook run sets it itself"),  # the report read another folder
        (["-p", "timeout_s", "1e20"], "more than 604800"),  # overflowed the engine client's clock in a step
    ],
)
def test_bad_input_exits_2_before_anything_runs(client, tmp_path, args, words):
    before = {c.id for c in client.containers.list(all=True)}
    out = tmp_path / "record"
    proc = run_cli("--out", str(out), *args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert words in proc.stderr
    assert not out.exists(), "nothing may be written for a run that could not be made"
    assert {c.id for c in client.containers.list(all=True)} == before


@pytest.mark.parametrize(
    "args, words",
    [
        (["clean", "--docker-host", "tcp://"], "argument --docker-host: 'tcp://' is not an engine address"),
        (["bundle", "--docker-host", "bad host"], "argument --docker-host: 'bad host' is not an engine address"),
        (["bundle", "--out", "."], "is a folder or lies in no folder"),  # a traceback
        (["bundle", "--out", "no/such/folder.tgz"], "is a folder or lies in no folder"),  # a traceback
        (["bundle", "--record", "no-record"], "is not a record's folder"),  # taken as absent, exit 0
        (["lab", "--port", "-1", "lab"], "argument --port: '-1' is not a port"),  # a traceback
        (["lab", "--port", "70000", "lab"], "is not a port"),
        (["plan", "-p", "toolkit_channel", "stable", "-p", "toolkit_channel", "experimental"], "given twice"),
        (["verify", "/nonexistent", "-p", "gpus", "0", "-p", "gpus", "1"], "given twice"),
        # the plan is printed to be copied into a shell: an OS version is one plain word
        (["plan", "--os", "ubuntu:24.04\nrm -rf ~"], "is not an OS version"),
        (["plan", "--os", "ubuntu:24.04;rm -rf /"], "is not an OS version"),
        (["plan", "--os", "rhel:$(id)"], "is not an OS version"),
    ],
)
def test_the_other_commands_refuse_bad_options_in_one_line(args, words, tmp_path):
    proc = gpu_runbook(*args, cwd=tmp_path, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not list(tmp_path.iterdir()), "nothing is written for a command that could not be made"


def test_an_out_folder_that_is_not_one_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "afile").write_text("mine")
    notebooks = tmp_path / "notebooks"
    shutil.copytree(REPO / "runbook" / "notebooks", notebooks)
    for args, words in [
        (["--out", str(tmp_path / "afile")], "is not a folder"),  # said "already exists and is not empty"
        (["--out", str(tmp_path / "new\nline")], "holds a control character"),  # a record in a folder so named
        (["--out", str(notebooks / "rec"), "--notebooks", str(notebooks)], "inside the notebooks' folder"),
        (["--out", str(tmp_path / "r"), "--junit-xml", str(tmp_path)], "--junit-xml"),  # a traceback after the run
        (["--out", str(tmp_path / "r"), "--junit-xml", str(tmp_path / "no" / "x.xml")], "lies in no folder"),
    ]:
        proc = run_cli(*args, "--only", "1", cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "notebooks"]
    assert (tmp_path / "afile").read_text() == "mine" and not (notebooks / "rec").exists()


def test_out_expands_the_home_folder_as_a_shell_would(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    proc = run_cli("--out", "~/rec", "--only", "1", "--quiet", cwd=tmp_path, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert (tmp_path / "home" / "rec" / "summary.json").is_file() and not (tmp_path / "~").exists()


def test_a_bundle_never_writes_over_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    proc = gpu_runbook(
        "bundle", "--out", "notes.txt", cwd=tmp_path, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    assert proc.returncode == 2 and "exists and is kept" in proc.stderr, proc.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_parameters_file_and_its_errors(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("docker_host: unix:///nonexistent.sock\nmin_free_disk_gib: 5\n")
    proc = run_cli("--out", str(tmp_path / "r1"), "-f", str(good), "--only", "1")
    assert proc.returncode == 1
    _, by_id = checks(tmp_path / "r1")
    assert "nonexistent.sock" in by_id["engine.reachable"]["detail"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    proc = run_cli("--out", str(tmp_path / "r2"), "-f", str(bad))
    assert proc.returncode == 2 and "must be a mapping" in proc.stderr


def test_an_existing_record_is_never_overwritten(tmp_path):
    out = tmp_path / "record"
    out.mkdir()
    (out / "summary.json").write_text('{"verdict": "pass"}')
    proc = run_cli("--out", str(out), "--only", "1")
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert (out / "summary.json").read_text() == '{"verdict": "pass"}'


def test_a_missing_notebook_exits_2(tmp_path):
    src = tmp_path / "notebooks"
    src.mkdir()
    proc = run_cli("--out", str(tmp_path / "r"), "--notebooks", str(src))
    assert proc.returncode == 2 and "missing" in proc.stderr


@pytest.mark.parametrize(
    "os_name, manager",
    [
        ("ubuntu:22.04", "apt"),
        ("ubuntu:24.04", "apt"),
        ("debian:12", "apt"),
        ("rhel:9", "dnf"),
        ("fedora", "dnf"),
        ("opensuse-leap:15.6", "zypper"),
    ],
)
def test_the_cli_shows_the_plan_for_each_os(os_name, manager):
    proc = gpu_runbook("plan", "--os", os_name, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"# {manager} plan for {os_name}")
    assert "nvidia-ctk runtime configure --runtime=docker" in proc.stdout
    assert "apt-key" not in proc.stdout


def test_the_cli_refuses_an_os_without_a_plan():
    proc = gpu_runbook("plan", "--os", "arch", timeout=60)
    assert proc.returncode == 2 and "no plan for arch" in proc.stderr


def test_a_chinese_locale_gets_chinese_results_and_lang_en_overrides_it(client, tmp_path):
    """LANG=zh_CN.UTF-8: the run's lines, the checks' titles and details, report.html and the CLI's own
    lines are Chinese; ids, statuses, verdicts and JSON keys stay English. ``-p lang en`` wins over it."""
    chinese = {**os.environ, "LANG": "zh_CN.UTF-8"}
    proc = run_cli("--out", str(tmp_path / "zh"), "--only", "1", env=chinese)
    assert proc.returncode in (0, 1), proc.stderr
    assert "正在运行 01-preflight" in proc.stderr
    assert "PASS  host.os" in proc.stdout and "内核" in proc.stdout
    assert "\n结论：" in proc.stdout and "记录：" in proc.stdout
    summary, by_id = checks(tmp_path / "zh")
    assert summary["lang"] == "zh_CN" and summary["verdict"] in ("pass", "fail", "incomplete")
    assert by_id["host.os"]["title"] == "操作系统、内核和 cgroup"
    assert by_id["engine.reachable"]["title"] == "Docker 引擎可连接"
    assert by_id["engine.reachable"]["status"] == "pass"
    assert '<html lang="zh-CN">' in (tmp_path / "zh" / "report.html").read_text()

    proc = run_cli("--out", str(tmp_path / "en"), "--only", "1", "-p", "lang", "en", env=chinese)
    assert proc.returncode in (0, 1), proc.stderr
    assert "running 01-preflight" in proc.stderr and "\nverdict: " in proc.stdout
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in proc.stdout + proc.stderr), proc.stdout
    summary, by_id = checks(tmp_path / "en")
    assert summary["lang"] == "en" and by_id["host.os"]["title"] == "Operating system, kernel and cgroups"


def test_the_help_follows_the_locale():
    proc = gpu_runbook("run", "--help", timeout=60, env={**os.environ, "LANG": "zh_CN.UTF-8"})
    assert proc.returncode == 0, proc.stderr
    assert "退出码" in proc.stdout and "只运行这一步" in proc.stdout
