"""The article's command for real: the runbook's own apply path (`python -m runbook run --only 2 -p
toolkit_apply true -p toolkit_mirror URL`, as root) installs the real NVIDIA Container Toolkit on this
host from a mirror, configures the real dockerd and restarts it.

The mirror is the repository tests/tooling/toolkit-up.sh made, served on loopback: the toolkit built from its
source as NVIDIA's four packages, signed, laid out like NVIDIA's, with NVIDIA's verbatim .list (naming
nvidia.github.io, which cannot be reached from here), so apt finds the packages only through the plan's
rewriting. The two libnvidia-container packages in it are stand-ins that hold no nvidia-container-cli:
the legacy hook path (`--gpus` with runc as the engine's runtime) is not exercised; it is hit, and its
real error is diagnosed. This host has no GPU, so `--runtime=nvidia` fails too, with the toolkit's own
words for a host without a driver (tests/fixtures/toolkit/errors/).

Afterwards everything is put back: the packages purged, the plan's files and apt's copies of the
repository removed, daemon.json restored byte for byte, the engine restarted."""

import fcntl
import json
import os
import subprocess
from pathlib import Path

import docker
import pytest

from runbook import diagnosis, engine
from runbook.engine import gpu_access
from runbook.errors import ContainerFailed
from runbook.toolkit import repos
from tests.utils.apt import TOOLKIT_FIXTURES
from tests.utils.cli import assert_status, checks, run_cli
from tests.utils.engine import TEST_IMAGE
from tests.utils.loopback import served

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
RESTART = ROOT / "tests" / "tooling" / "engine-restart.sh"
DAEMON_JSON = Path("/etc/docker/daemon.json")
LOCK = Path("/run/lock/gpu-runbook-toolkit-on-host.lock")  # one test at a time changes this host's toolkit
# made by the packages' maintainer scripts or by apt, and not removed by a purge
LEFT_BY_PACKAGES = (
    "/etc/nvidia-container-runtime",
    "/etc/nvidia-container-toolkit",
    "/usr/bin/nvidia-container-toolkit",
)
APT_LISTS = Path("/var/lib/apt/lists")
APT_ARCHIVES = Path("/var/cache/apt/archives")


def installed_packages() -> dict[str, str]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n", *repos.PACKAGES],
        capture_output=True,
        text=True,
    ).stdout
    return {p[0]: p[1] for p in (line.split() for line in out.splitlines()) if len(p) >= 3 and p[2].startswith("i")}


def engine_info(client) -> dict:
    try:
        return client.info()
    except docker.errors.DockerException:
        return {}


def engine_words(name: str) -> str:
    """What the engine said in a captured case, without the docker CLI's frame around it."""
    text = (TOOLKIT_FIXTURES / "errors" / f"{name}.docker-cli-28.2.2.txt").read_text()
    return text.split("Error response from daemon: ", 1)[1].split("\n\nRun 'docker run --help'", 1)[0]


@pytest.fixture
def host_without_toolkit(client, toolkit_repo):
    """This host as root, without the toolkit; the repository served on loopback (its URL is yielded).
    Whatever the test did, the host is put back as it was, and the engine must answer again."""
    if os.geteuid() != 0:
        pytest.skip("installing packages and restarting the engine need root")
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        already = installed_packages()
        assert not already, f"the toolkit is already installed on this host ({already}); this test installs it"
        for path in (repos.APT_LIST, repos.KEYRING):
            assert not os.path.exists(path), f"{path} is already there; this test writes it"
        daemon_json = DAEMON_JSON.read_bytes() if DAEMON_JSON.exists() else None
        etc_docker = set(os.listdir(DAEMON_JSON.parent)) if DAEMON_JSON.parent.exists() else None
        there = {p for p in LEFT_BY_PACKAGES if os.path.lexists(p)}
        lists, archives = set(os.listdir(APT_LISTS)), set(os.listdir(APT_ARCHIVES))
        try:
            with served(toolkit_repo) as url:
                yield url
        finally:
            purge = subprocess.run(
                ["apt-get", "-o", "DPkg::Lock::Timeout=300", "purge", "-y", *repos.PACKAGES],
                capture_output=True,
                text=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
            for path in (repos.APT_LIST, repos.KEYRING, *(set(LEFT_BY_PACKAGES) - there)):
                subprocess.run(["rm", "-rf", "--", path], check=True)
            for name in set(os.listdir(APT_LISTS)) - lists:
                if name.startswith("127.0.0.1"):
                    (APT_LISTS / name).unlink()
            for name in set(os.listdir(APT_ARCHIVES)) - archives:
                if name.endswith(".deb") and name.split("_")[0] in repos.PACKAGES:
                    (APT_ARCHIVES / name).unlink()
            if daemon_json is None:
                DAEMON_JSON.unlink(missing_ok=True)
            else:
                DAEMON_JSON.write_bytes(daemon_json)
            for name in set(os.listdir(DAEMON_JSON.parent)) - (etc_docker or set()):
                if name.startswith("daemon.json.bak-"):
                    (DAEMON_JSON.parent / name).unlink()
            restart = subprocess.run(["bash", str(RESTART)], capture_output=True, text=True)
            left = installed_packages()
            assert purge.returncode == 0, f"apt-get purge failed: {purge.stdout}{purge.stderr}"
            assert not left, f"packages left installed: {left}"
            assert restart.returncode == 0, f"the engine did not restart: {restart.stdout}{restart.stderr}"
            runtimes = engine_info(client).get("Runtimes")
            assert runtimes, "the engine does not answer after the restart"
            assert "nvidia" not in runtimes, f"the restored engine still has the nvidia runtime: {sorted(runtimes)}"


def runbook_step_2(out: Path, url: str):
    proc = run_cli(
        "--only", "2", "--out", str(out),
        "-p", "toolkit_apply", "true",
        "-p", "toolkit_mirror", url,
        "-p", "engine_restart", f"bash {RESTART}",
        "-p", "allow_restart_command", "true",
        "-p", "docker_host", "unix:///var/run/docker.sock",
    )  # fmt: skip
    assert (out / "summary.json").exists(), f"no record: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return checks(out)[1]


def test_the_runbook_installs_the_real_toolkit_from_a_mirror_and_configures_the_engine(
    client, host_without_toolkit, toolkit_bin, tmp_path, no_leftovers
):
    url = host_without_toolkit
    version = (toolkit_bin / "VERSION").read_text().strip()
    first = runbook_step_2(tmp_path / "first", url)
    assert_status(first, "toolkit.apply", "pass")
    assert_status(first, "toolkit.installed", "pass")
    assert_status(first, "toolkit.engine_runtime", "pass")
    packages = installed_packages()
    expected = {p: f"{version}-1" for p in repos.PACKAGES}
    assert packages == expected, f"expected {expected} installed by apt, got {packages}"
    detail = first["toolkit.installed"]["detail"]
    assert detail.startswith(f"nvidia-ctk {version}"), f"toolkit.installed: {detail}"
    assert "no nvidia-container-cli" in detail, f"the record must say that the legacy path cannot work: {detail}"
    listed = Path(repos.APT_LIST).read_text()
    assert f"{url}/stable/deb/$(ARCH) /" in listed, f"the list does not name the mirror:\n{listed}"
    assert "nvidia.github.io" not in listed, f"the list still names NVIDIA's host:\n{listed}"
    configured = DAEMON_JSON.read_bytes()

    # the real nvidia-ctk, now installed, finds nothing to change in the daemon.json the runbook wrote
    dry = subprocess.run(
        ["/usr/bin/nvidia-ctk", "runtime", "configure", "--runtime=docker", f"--config={DAEMON_JSON}", "--dry-run"],
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0, f"nvidia-ctk --dry-run failed: {dry.stderr}"
    ctk_would_write = json.loads(dry.stdout)
    assert ctk_would_write == json.loads(configured), f"nvidia-ctk would write {ctk_would_write}"

    second = runbook_step_2(tmp_path / "second", url)
    assert_status(second, "toolkit.apply", "pass")
    again = second["toolkit.apply"]["detail"]
    assert again.startswith("nothing to change: all"), f"the second run changed something: {again}"
    assert DAEMON_JSON.read_bytes() == configured, "the second run rewrote daemon.json"

    # no GPU here: the real toolkit's own words, each diagnosed
    with pytest.raises(ContainerFailed) as runtime:
        engine.run(client, TEST_IMAGE, ["true"], timeout_s=60, options=gpu_access.options("runtime"))
    assert runtime.value.evidence == engine_words("runtime"), f"--runtime=nvidia: {runtime.value.evidence}"
    assert runtime.value.cause == diagnosis.by_key("nvml_not_found").cause, runtime.value.evidence
    # the legacy hook path, hit: nvidia-container-cli is not in the stand-in packages
    with pytest.raises(ContainerFailed) as gpus:
        engine.run(client, TEST_IMAGE, ["true"], timeout_s=60, options=gpu_access.options("gpus"))
    assert gpus.value.evidence == engine_words("gpus"), f"--gpus: {gpus.value.evidence}"
    assert gpus.value.cause == diagnosis.by_key("container_cli_missing").cause, gpus.value.evidence
