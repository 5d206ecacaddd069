"""The engine module against a real dockerd (no NVIDIA toolkit) and a real registry on loopback."""

import contextlib
import json
import os
import pwd
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from runbook import engine
from runbook.engine import gpu_access
from runbook.errors import (
    ContainerFailed,
    ContainerTimeout,
    EnginePermissionDenied,
    EngineUnreachable,
    ImageUnavailable,
)
from runbook.results import Status, run_check
from tests.utils.engine import TEST_IMAGE, labelled_container, runbook_labels
from tests.utils.socket_cutter import SocketCutter

pytestmark = pytest.mark.engine


def test_run_returns_output_and_exit_code(client, no_leftovers):
    out = engine.run(client, TEST_IMAGE, ["sh", "-c", "echo hello; echo oops >&2; exit 3"], timeout_s=60)
    assert out.exit_code == 3
    assert "hello" in out.output and "oops" in out.output


def test_a_hung_container_is_killed_at_the_timeout_and_removed(client, no_leftovers):
    start = time.monotonic()
    with pytest.raises(ContainerTimeout) as e:
        engine.run(client, TEST_IMAGE, ["sh", "-c", "echo started; sleep 600"], timeout_s=3)
    assert time.monotonic() - start < 30
    assert "ran past 3 s" in str(e.value)
    assert "started" in e.value.output


def test_an_interrupted_run_removes_its_container(client, no_leftovers):
    script = textwrap.dedent(f"""
        import docker
        from runbook import engine
        engine.run(docker.from_env(), {TEST_IMAGE!r}, ["sleep", "600"], timeout_s=600)
    """)
    run = uuid.uuid4().hex[:12]
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, engine.RUN_ID_ENV: run})
    for _ in range(100):
        if any(c.labels.get(f"{engine.LABEL}.run") == run for c in engine.labelled(client)):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the container never started")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert not [c for c in engine.labelled(client) if c.labels.get(f"{engine.LABEL}.run") == run]


def test_an_interrupt_between_create_and_its_answer_removes_the_container(client, no_leftovers, monkeypatch):
    """The engine makes the container, then the interrupt comes before docker-py has read it back (a
    window the test above can hit): the container is found by its own label and removed."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    run = uuid.uuid4().hex[:12]
    monkeypatch.setenv(engine.RUN_ID_ENV, run)
    monkeypatch.setattr(client.api, "inspect_container", interrupted)  # docker-py's read-back after create
    with pytest.raises(KeyboardInterrupt):
        engine.run(client, TEST_IMAGE, ["sleep", "600"], timeout_s=600)
    monkeypatch.undo()
    assert not [c for c in engine.labelled(client) if c.labels.get(f"{engine.LABEL}.run") == run]


def test_leftovers_of_a_killed_run_are_found_by_label(client, no_leftovers):
    """A run killed with SIGKILL cannot clean up: its containers carry a deadline and are removed later,
    while the containers of another run still in progress, started or only created, are left alone."""
    with contextlib.ExitStack() as stack:

        def labelled(run, deadline, start=True):
            return stack.enter_context(labelled_container(client, labels=runbook_labels(run, deadline), start=start))

        stale = labelled("killed-run", time.time() - 5)
        live = labelled("live-run", time.time() + 600)
        created = labelled("live-run", time.time() + 600, start=False)
        unrelated = stack.enter_context(labelled_container(client, labels={}, start=False))
        removed = engine.remove_leftovers(client)
        assert removed == 1, f"expected only the killed run's container removed, removed {removed}"
        ids = {c.id for c in engine.labelled(client)}
        assert stale.id not in ids, "the killed run's container is still there"
        assert live.id in ids, "a live run's running container was removed"
        assert created.id in ids, "a live run's created container was removed"
        removed = engine.remove_leftovers(client, run="live-run")
        assert removed == 2, f"expected the live run's 2 containers removed by its own clean-up, removed {removed}"
        assert not {live.id, created.id} & {c.id for c in engine.labelled(client)}
        client.containers.get(unrelated.id)  # never touched: not the runbook's


def test_gpus_all_without_the_toolkit_gets_the_toolkit_diagnosis(client, no_leftovers):
    with pytest.raises(ContainerFailed) as e:
        engine.run(client, TEST_IMAGE, ["nvidia-smi"], timeout_s=60, options=gpu_access.options("gpus", "all"))
    assert "NVIDIA Container Toolkit not installed or engine not restarted" in e.value.cause
    assert "nvidia-ctk runtime configure" in e.value.remediation
    assert 'could not select device driver ""' in e.value.evidence


def test_runtime_nvidia_without_the_toolkit_gets_the_runtime_diagnosis(client, no_leftovers):
    with pytest.raises(ContainerFailed) as e:
        engine.run(client, TEST_IMAGE, ["nvidia-smi"], timeout_s=60, options=gpu_access.options("runtime", "all"))
    assert "no `nvidia` runtime" in e.value.cause, e.value.evidence


def test_an_unreachable_engine_gets_its_own_diagnosis():
    with pytest.raises(EngineUnreachable) as e:
        engine.connect("unix:///nonexistent.sock")
    assert "not installed, not running" in e.value.cause


def test_a_user_outside_the_docker_group_gets_the_group_diagnosis(client):
    """A forked child drops to `nobody` (not in the docker group) and connects to the real socket."""
    if os.geteuid() != 0:
        pytest.skip("dropping to another user needs root")
    nobody = pwd.getpwnam("nobody")
    assert os.stat("/var/run/docker.sock").st_mode & 0o007 == 0, "the socket must not be open to all"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                engine.connect("unix:///var/run/docker.sock")
                result = {"connected": True}
            except EnginePermissionDenied as e:
                result = {"type": "EnginePermissionDenied", "cause": e.cause, "fix": e.remediation}
            except Exception as e:  # reported to the parent, which fails the test
                result = {"type": type(e).__name__, "error": str(e)}
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        result = json.loads(f.read() or "{}")
    os.waitpid(pid, 0)
    assert result.get("type") == "EnginePermissionDenied", result
    assert "docker` group" in result["cause"] and "usermod -aG docker" in result["fix"]


def test_pull_from_the_loopback_registry_with_progress(client, registry, no_leftovers):
    """An image with a layer of its own (random bytes), pushed, removed, and pulled back."""
    ref = f"{registry}/runbook-test/pullme:{uuid.uuid4().hex[:8]}"
    with labelled_container(client, ["sh", "-c", "head -c 3000000 /dev/urandom > /blob"]) as maker:
        maker.wait(timeout=60)
        repo, tag = ref.rsplit(":", 1)
        maker.commit(repository=repo, tag=tag)
    for line in client.images.push(ref, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(ref)
    assert not engine.image_present(client, ref)
    events = []
    image = engine.pull(client, ref, "missing", 600, events.append)
    assert ref in image.tags
    statuses = {e.get("status", "") for e in events}
    assert "Pull complete" in statuses, statuses
    assert any(e.get("status") == "Downloading" and e["progressDetail"].get("total") for e in events), statuses
    assert any(s.startswith("Digest:") for s in statuses), statuses
    # present now: pull=missing does not pull again, pull=never accepts it
    again = []
    engine.pull(client, ref, "missing", 600, again.append)
    assert again == []
    engine.pull(client, ref, "never")
    client.images.remove(ref)


def test_pull_never_refuses_a_missing_image(client):
    with pytest.raises(ImageUnavailable, match="pull=never"):
        engine.pull(client, "runbook-test/absent:1", "never")


def test_an_image_the_registry_lacks_gets_the_manifest_diagnosis(client, registry):
    with pytest.raises(ImageUnavailable) as e:
        engine.pull(client, f"{registry}/nvidia/cuda:latest", "missing", 120)
    assert "`latest` is not published" in e.value.cause, e.value.evidence
    assert "manifest unknown" in e.value.evidence


def test_an_unreachable_registry_gets_its_diagnosis(client):
    with pytest.raises(ImageUnavailable) as e:
        engine.pull(client, "127.0.0.1:5999/nvidia/cuda:13.0.2-base-ubuntu24.04", "missing", 120)
    assert "could not be reached" in e.value.cause, e.value.evidence


def test_files_in_an_image_without_starting_it(client, no_leftovers):
    found = engine.files_in_image(client, TEST_IMAGE, ["/usr/bin/python3", "/usr/local/cuda/bin/nvcc", "/bin/sh"])
    assert found == ["/usr/bin/python3", "/bin/sh"]


def test_an_engine_that_stops_answering_mid_run_is_not_reported_as_a_timeout(client, tmp_path):
    """The connection to the engine breaks while the container runs: that is an engine error with the
    unreachable-engine diagnosis, not a timeout; the container keeps its labels for a later clean-up."""
    import threading

    from runbook.errors import EngineError

    proxy = SocketCutter(str(tmp_path / "engine.sock"))
    cut_client = engine.connect(f"unix://{tmp_path / 'engine.sock'}")
    run = uuid.uuid4().hex[:12]
    os.environ[engine.RUN_ID_ENV], saved = run, os.environ.get(engine.RUN_ID_ENV)
    try:
        timer = threading.Timer(2, proxy.cut)
        timer.start()
        with pytest.raises(EngineError) as e:
            engine.run(cut_client, TEST_IMAGE, ["sleep", "600"], timeout_s=120)
        assert not isinstance(e.value, ContainerTimeout)
        assert "stopped answering" in str(e.value) and "No Docker engine answers" in e.value.cause
    finally:
        if saved is None:
            os.environ.pop(engine.RUN_ID_ENV)
        else:
            os.environ[engine.RUN_ID_ENV] = saved
        left = [c for c in engine.labelled(client) if c.labels.get(f"{engine.LABEL}.run") == run]
        assert engine.remove_leftovers(client, run=run) == len(left)
    assert len(left) == 1, "the container should survive the lost connection, labelled for clean-up"


def test_an_engine_gone_after_connecting_fails_the_runtime_check_with_a_cause(client, tmp_path):
    """Step 2 asks the engine for its runtimes; no answer is a failed check with the engine's diagnosis,
    not an empty list of runtimes reported as a finding."""
    from runbook.results import Status, run_check
    from runbook.steps import toolkit_state

    proxy = SocketCutter(str(tmp_path / "engine.sock"))
    cut_client = engine.connect(f"unix://{tmp_path / 'engine.sock'}")
    proxy.cut()
    r = run_check("toolkit.engine_runtime", "t", lambda: toolkit_state.check_runtime(cut_client, "gpus"))
    assert r.status is Status.FAIL and "did not answer `info`" in r.detail
    assert "No Docker engine answers" in r.cause and r.remediation


def test_the_cuda_probe_runs_in_a_container_bound_in(client, no_leftovers):
    """The probe binary bound in read-only, as step 3 does, in the test image (no GPU, so no libcuda)."""
    from runbook.steps import cuda_probe
    from runbook.workloads import parse

    probe = cuda_probe.binary()
    if probe is None:
        pytest.skip("no CUDA probe for this architecture")
    opts = {"volumes": {probe: {"bind": cuda_probe.IN_CONTAINER, "mode": "ro"}}}
    out = engine.run(client, TEST_IMAGE, [cuda_probe.IN_CONTAINER], timeout_s=60, options=opts)
    assert out.exit_code == 2, out.output
    assert parse(out.output)["call"] == "dlopen" and "libcuda.so.1" in parse(out.output)["error"]


def test_nvidia_smi_and_the_cuda_probe_share_one_container_and_keep_their_own_evidence(client, no_leftovers):
    """Step 3's one container for gpu.nvidia_smi and gpu.cuda_init, in the test image (no nvidia-smi, no
    libcuda): nvidia-smi's failure is the container's exit code, and the probe still runs after it."""
    from runbook.steps import cuda_probe, gpu_container
    from runbook.workloads import parse

    probe = cuda_probe.binary()
    if probe is None:
        pytest.skip("no CUDA probe for this architecture")
    opts = {"volumes": {probe: {"bind": cuda_probe.IN_CONTAINER, "mode": "ro"}}}
    command = gpu_container.smi_and_probe_command(True)
    out = engine.run(client, TEST_IMAGE, command, timeout_s=60, options=opts)
    assert out.exit_code == 127, out.output  # nvidia-smi: not found
    smi, probed, code = cuda_probe.split(out.output)
    assert "nvidia-smi" in smi and "not found" in smi and cuda_probe.MARK not in smi
    assert code == 2 and parse(probed)["call"] == "dlopen", probed
    shared = {"built": True, "probe": probed, "probe_exit": code}
    r = run_check("gpu.cuda_init", "t", lambda: cuda_probe.check(shared, TEST_IMAGE))
    assert r.status is Status.FAIL and "libcuda.so.1" in r.detail, r.detail


def test_without_the_toolkit_the_cuda_probe_fails_with_the_containers_own_diagnosis(client, no_leftovers):
    """--gpus all on an engine without the toolkit: the one container is refused, and gpu.cuda_init says
    what gpu.nvidia_smi says rather than pass or skip on something that never ran."""
    from runbook.steps import gpu_container

    results = {
        r.id: r for r in gpu_container.run(cuda_image=TEST_IMAGE, pull="never", gpu_mode="gpus", interactive=False)
    }
    smi, init = results["gpu.nvidia_smi"], results["gpu.cuda_init"]
    assert smi.status is Status.FAIL and init.status is Status.FAIL, (smi.detail, init.detail)
    assert init.detail == smi.detail and init.cause == smi.cause and init.cause
