"""The GPU host kit's Podman, for real: made by tests/gpu/kit/make-podman-kit.sh from the trixie root that
tests/tooling/engines-up.sh makes for CI's Podman 5.4, started by tests/gpu/kit/podman.sh as on the GPU host
(its own binaries, libraries and configuration, nothing installed) and driven through its socket by the
runbook. Podman 5.4 needs a newer glibc than this machine's, so the script runs chrooted in that trixie root
(in a mount namespace of its own, with its /tmp and /run on tmpfs, the socket's folder bound in from here),
where the files it unpacks and writes live only for the test; on the GPU host (Ubuntu 24.04) it runs as is."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest

from runbook import engine
from tests.utils.engine import TEST_IMAGE
from tests.utils.paths import CACHE, REPO
from tests.utils.registry import REGISTRY

pytestmark = pytest.mark.engine
ROOT = CACHE / "trixie-root"

HARNESS = """set -e
root={root}
mount --bind "$root" "$root"  # a mount point of its own, as the image unpacking needs
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
mkdir -p "$root/run/host" "$root/tmp/repo/tests/gpu/kit" "$root/tmp/repo/build/gpu-kit/podman" "$root/tmp/bin"
mount --bind {shared} "$root/run/host"
cp {kit}/podman.tar.xz "$root/tmp/repo/build/gpu-kit/podman/"
cp {repo}/tests/gpu/kit/podman.sh "$root/tmp/repo/tests/gpu/kit/"
cp "$(command -v xz)" "$root/tmp/bin/"  # the trixie root has none; Ubuntu has it
exec chroot "$root" /usr/bin/env PATH=/tmp/bin:/usr/sbin:/usr/bin:/sbin:/bin PODMAN_SOCK=/run/host/podman.sock \
  REGISTRY_PORT={port} /bin/bash -c 'cd /tmp/repo && bash tests/gpu/kit/podman.sh start && touch /run/host/ready
    for _ in $(seq 600); do [ -e /run/host/done ] && break; sleep 0.5; done
    bash tests/gpu/kit/podman.sh stop && echo stopped'
"""


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the kit's Podman is made and run as root")
    if not (ROOT / "usr/bin/podman").exists():
        pytest.skip(f"no trixie root with Podman 5.4 at {ROOT} (tests/tooling/engines-up.sh makes it)")
    out = tmp_path_factory.mktemp("podman-kit")
    made = subprocess.run(
        ["bash", str(REPO / "tests/gpu/kit/make-podman-kit.sh"), str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "XZ_LEVEL": "-1"},
        timeout=600,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def service(kit, tmp_path_factory):
    """The kit's Podman API service, started by podman.sh; yields its socket's address and the harness's
    process, and stops it at the end (podman.sh stop)."""
    shared = Path(f"/run/gpu-runbook-podman-kit-{uuid.uuid4().hex[:6]}")
    shared.mkdir()
    log = tmp_path_factory.mktemp("podman-kit-run") / "harness.log"
    script = HARNESS.format(root=ROOT, shared=shared, kit=kit, repo=REPO, port=REGISTRY.rsplit(":", 1)[1])
    with open(log, "w") as sink:
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "bash", "-c", script], stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120
        while not (shared / "ready").exists():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield f"unix://{shared}/podman.sock", proc, log, shared
    finally:
        (shared / "done").touch()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for name in ("ready", "done"):
            (shared / name).unlink(missing_ok=True)
        try:
            shared.rmdir()
        except OSError:
            pass


def test_the_kit_holds_podman_5_4_and_what_it_loads(kit):
    listed = subprocess.run(["tar", "-tJf", str(kit / "podman.tar.xz")], capture_output=True, text=True, check=True)
    names = set(listed.stdout.split())
    for path in ("podman/bin/podman", "podman/bin/conmon", "podman/bin/crun", "podman/libexec/netavark"):
        assert f"./{path}" in names or path in names, sorted(names)[:40]
    assert any("libsubid.so" in n for n in names) and not any("/libc.so" in n for n in names), sorted(names)
    versions = (kit / "VERSIONS").read_text()
    assert versions.startswith("podman 5.4") or "\npodman 5.4" in versions, versions


def test_podman_sh_starts_podman_5_4_whose_pulls_of_docker_io_come_from_the_kits_registry(service, client):
    address, *_ = service
    podman = docker.DockerClient(base_url=address, timeout=120)
    who = engine.identity(podman)
    assert (who.name.split()[0], who.version.split(".")[:2]) == ("Podman", ["5", "4"]), who
    assert not who.rootless and who.cdi_enabled and "/etc/cdi" in who.cdi_spec_dirs, who
    tag = uuid.uuid4().hex[:8]
    pushed = f"{REGISTRY}/runbook-test/podman-kit:{tag}"
    client.images.get(TEST_IMAGE).tag(pushed)
    try:
        for _ in client.api.push(pushed, stream=True, decode=True):
            pass
        ref = f"docker.io/runbook-test/podman-kit:{tag}"  # no registry of that name answers from here: the mirror
        podman.images.pull(ref)
        out = engine.run(podman, ref, ["sh", "-c", "echo from $(cat /etc/debian_version)"], timeout_s=120)
        assert out.exit_code == 0 and out.output.startswith("from 12"), out.output
        podman.images.remove(ref, force=True)
    finally:
        client.images.remove(pushed, force=True)
        podman.close()


def test_the_runbook_over_the_kits_podman_says_that_gpus_requests_are_ignored(service, client, tmp_path):
    address, *_ = service
    ref = f"docker.io/runbook-test/podman-kit-step3:{uuid.uuid4().hex[:8]}"
    pushed = f"{REGISTRY}/{ref.split('/', 1)[1]}"
    client.images.get(TEST_IMAGE).tag(pushed)
    for _ in client.api.push(pushed, stream=True, decode=True):
        pass
    client.images.remove(pushed, force=True)
    out = tmp_path / "record"
    run = subprocess.run(
        [sys.executable, "-m", "runbook", "run", "--quiet", "--only", "3", "--out", str(out)]
        + ["-p", "docker_host", address, "-p", "gpu_mode", "gpus", "-p", "cuda_image", ref],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    podman = docker.DockerClient(base_url=address, timeout=120)
    try:
        assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
        summary = json.loads((out / "summary.json").read_text())
        assert (summary["engine"], summary["engine_version"][:4]) == ("podman", "5.4."), summary["engine_version"]
        checks = {c["id"]: c for c in summary["checks"]}
        assert checks["cuda.pull"]["status"] == "pass", checks["cuda.pull"]  # pulled through the kit's mirror
        smi = checks["gpu.nvidia_smi"]
        assert smi["status"] == "fail" and "Podman 5.4" in smi["detail"] and "gpu_mode=cdi" in smi["detail"], smi
    finally:
        podman.images.remove(ref, force=True)
        podman.close()


def test_the_network_rung_over_the_kits_podman_probes_the_mirror_of_its_registries_conf(service, tmp_path):
    """Podman's compat /info leaves RegistryConfig.Mirrors empty: the rung reads docker.io's mirror from what
    Podman reports of registries.conf, insecure as plain http, and a run that pulls through it passes."""
    address, *_ = service
    out = tmp_path / "record"
    subprocess.run(
        [sys.executable, "-m", "runbook", "run", "--quiet", "--only", "1", "--out", str(out)]
        + ["-p", "docker_host", address],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    checks = {c["id"]: c for c in json.loads((out / "summary.json").read_text())["checks"]}
    rung = checks["network.registries"]
    assert rung["data"]["engine_mirrors"] == [f"http://{REGISTRY}"], rung
    assert rung["status"] == "pass" and f"through the engine's mirror http://{REGISTRY}" in rung["detail"], rung


def test_podman_sh_stop_ends_the_service_and_removes_its_socket(service):
    address, proc, log, shared = service
    (shared / "done").touch()
    proc.wait(timeout=60)
    said = log.read_text()
    assert proc.returncode == 0 and said.rstrip().endswith("stopped"), said[-2000:]
    assert not (shared / "podman.sock").exists(), said[-2000:]
