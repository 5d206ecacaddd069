"""Engine identity from real /version and /info answers, what each GPU mode means on each engine, and
which engine socket the runbook finds when nothing names one."""

import json
import socket
from pathlib import Path

import pytest

from runbook import engine
from runbook.engine import modes as engine_modes

CAPTURES = Path(__file__).parent.parent / "fixtures" / "engine" / "identity"


def identity_of(name: str) -> engine.Identity:
    answers = json.loads((CAPTURES / f"{name}.json").read_text())
    return engine.identify(answers["version"], answers["info"], answers.get("libpod_info"))


@pytest.mark.parametrize(
    "capture, kind, version, api, store, cdi, rootless",
    [
        ("docker-20.10", "docker", "20.10.24+dfsg1", "1.41", "overlay2", False, False),
        ("docker-26.1", "docker", "26.1.5+dfsg1", "1.45", "overlay2", False, False),
        ("docker-26.1-containerd-cdi", "docker", "26.1.5+dfsg1", "1.45", "containerd", True, False),
        ("docker-28.5", "docker", "28.5.2+dfsg4", "1.51", "overlay2", True, False),
        ("podman-4.3", "podman", "4.3.1", "1.41", "overlay", True, False),
        ("podman-4.3-rootless", "podman", "4.3.1", "1.41", "overlay", True, True),
        ("podman-5.4", "podman", "5.4.2", "1.41", "overlay", True, False),
    ],
)
def test_identity_is_read_from_the_engines_own_answers(capture, kind, version, api, store, cdi, rootless):
    who = identity_of(capture)
    assert (who.engine, who.version, who.api_version) == (kind, version, api)
    assert who.image_store == store, f"image store of {capture}: {who.image_store}"
    assert who.cdi_enabled is cdi, f"CDI of {capture}: {who.cdi_enabled}"
    assert who.rootless is rootless, f"rootless of {capture}: {who.rootless}"
    assert who.cgroup_driver == "cgroupfs"


def test_rootless_docker_is_its_security_option_and_podman_needs_its_own_info():
    """Rootless Docker adds name=rootless to SecurityOptions (no capture of one here: the option is set on a
    real capture). Podman's compat /info does not say it: without /libpod/info a rootless Podman reads as
    rootful."""
    answers = json.loads((CAPTURES / "docker-26.1.json").read_text())
    answers["info"]["SecurityOptions"] = ["name=seccomp,profile=builtin", "name=rootless"]
    assert engine.identify(answers["version"], answers["info"]).rootless is True
    podman = json.loads((CAPTURES / "podman-4.3-rootless.json").read_text())
    assert engine.identify(podman["version"], podman["info"]).rootless is False


def test_an_engine_of_another_name_is_neither_docker_nor_podman():
    who = engine.identify({"Version": "1.0", "Components": [{"Name": "Balena Engine"}]}, {})
    assert who.engine == "balena engine"
    assert engine_modes.support(who, "gpus").works, "an unknown engine is tried; the GPU comparison judges it"


@pytest.mark.parametrize(
    "capture, mode, works, words",
    [
        ("podman-4.3", "gpus", False, "Podman ignores --gpus device requests; use gpu_mode=cdi"),
        ("podman-4.3", "runtime", False, "Podman ignores Runtime=nvidia"),
        ("podman-4.3", "cdi", False, "only from 5.4"),
        ("podman-4.3", "manual", True, "bound in"),
        ("podman-5.4", "cdi", True, "Podman resolves"),
        ("podman-5.4", "gpus", False, "Podman ignores --gpus device requests; use gpu_mode=cdi"),
        ("docker-20.10", "cdi", False, "only from version 25"),
        ("docker-20.10", "gpus", True, "nvidia-container-runtime-hook"),
        ("docker-26.1", "cdi", False, "CDI is off"),
        ("docker-26.1-containerd-cdi", "cdi", True, "features.cdi"),
        ("docker-26.1", "runtime", True, "daemon.json"),
        ("docker-28.5", "cdi", True, "CDI on by default"),
    ],
)
def test_each_mode_means_what_the_table_says_on_each_engine(capture, mode, works, words):
    got = engine_modes.support(identity_of(capture), mode)
    assert got.works is works, f"{mode} on {capture}: {got}"
    assert words in got.means


def test_versions_past_a_rows_bound_take_the_next_row():
    who = identity_of("podman-4.3")
    newer = engine.Identity(**{**who.__dict__, "version": "5.4.2"})
    assert engine_modes.support(newer, "cdi").works, "Podman 5.4 takes CDI device requests"
    assert not engine_modes.support(newer, "gpus").works, "and still ignores --gpus"
    docker29 = engine.Identity(**{**identity_of("docker-26.1").__dict__, "version": "29.2.0", "cdi_enabled": True})
    assert "nvidia-cdi-hook" in engine_modes.support(docker29, "gpus").means
    assert engine_modes.support(docker29, "cdi").works
    assert engine.version_tuple("26.1.5+dfsg1") == (26, 1, 5)


def test_every_mode_has_a_row_for_every_engine():
    for capture in ("docker-20.10", "podman-4.3"):
        for mode in ("gpus", "runtime", "cdi", "manual"):
            assert engine_modes.row_for(identity_of(capture), mode).mode == mode


@pytest.fixture
def listening(tmp_path):
    """A real unix socket that accepts connections, at tmp_path/<name>."""
    made = []

    def make(name: str) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.listen()
        made.append(s)
        return f"unix://{path}"

    yield make
    for s in made:
        s.close()


def test_the_default_engine_is_the_first_local_socket_that_answers(tmp_path, listening, monkeypatch):
    monkeypatch.setattr(engine.connection, "DEFAULT_HOST", f"unix://{tmp_path}/none/docker.sock")
    monkeypatch.setattr(engine.connection, "PODMAN_HOST", f"unix://{tmp_path}/run/podman/podman.sock")
    runtime = tmp_path / "user"
    environ = {"XDG_RUNTIME_DIR": str(runtime), "DOCKER_CONTEXT": "default"}
    tried = engine.local_sockets(environ)
    assert tried == [
        engine.connection.DEFAULT_HOST,
        f"unix://{runtime}/docker.sock",
        engine.connection.PODMAN_HOST,
        f"unix://{runtime}/podman/podman.sock",
    ], "rootful Docker, rootless Docker, rootful Podman, rootless Podman"
    params, how = engine.resolve("", environ)
    assert params["base_url"] == engine.connection.DEFAULT_HOST and "no engine socket answers" in how
    rootless_podman = listening("user/podman/podman.sock")
    assert engine.resolve("", environ)[0]["base_url"] == rootless_podman
    podman = listening("run/podman/podman.sock")
    params, how = engine.resolve("", environ)
    assert params["base_url"] == podman, "rootful Podman comes before rootless Podman"
    assert "first local engine socket that answers" in how
    assert engine.resolve("", {**environ, "DOCKER_HOST": "tcp://10.0.0.9:2375"})[1] == "DOCKER_HOST"
    assert engine.resolve("unix:///x.sock", environ) == ({"base_url": "unix:///x.sock"}, "the docker_host parameter")


def test_the_summary_and_the_headline_name_the_engine():
    from runbook import record
    from runbook.present import report as render
    from runbook.results import CheckResult, Status

    who = identity_of("podman-4.3")
    reached = CheckResult("engine.reachable", "engine", Status.PASS, "Podman 4.3.1", data=who.data())
    facts = record.host_facts([reached])
    assert (facts["engine"], facts["engine_version"], facts["engine_api"], facts["rootless"]) == (
        "podman",
        "4.3.1",
        "1.41",
        False,
    )
    summary = {**facts, "checks": [reached.to_dict()]}
    assert "engine: Podman 4.3.1 (API 1.41, rootful)" in render.headline(summary)
    assert "Podman 4.3.1" in render.report_page(
        {**summary, "host": "h", "runbook_version": "0", "verdict": "pass", "counts": {}}
    )
    assert render.engine_line({"engine_version": None}) == "", "no engine answered: no engine line"


def test_a_run_of_later_steps_only_names_the_engine_its_pulls_saw():
    from runbook import record
    from runbook.results import CheckResult, Status

    who = identity_of("podman-4.3")
    pulled = CheckResult("cuda.pull", "pull", Status.PASS, "present", data={"id": "sha256:1", "engine": who.data()})
    refused = CheckResult("gpu.nvidia_smi", "smi", Status.FAIL, "no", data={"engine": "podman", "engine_version": "x"})
    facts = record.host_facts([refused, pulled])
    assert (facts["engine"], facts["engine_version"], facts["rootless"]) == ("podman", "4.3.1", False), facts
    docker = CheckResult("engine.reachable", "engine", Status.PASS, "Docker", data=identity_of("docker-26.1").data())
    assert record.host_facts([pulled, docker])["engine"] == "docker", "step 1's own observation comes first"
    assert record.host_facts([refused])["engine"] is None, "a check that only names the engine is not its identity"


@pytest.mark.parametrize(
    "capture, libpod, mirrors",
    [
        # registries.conf: docker.io through 127.0.0.1:5000 (insecure) and docker.m.daocloud.io
        ("podman-5.4-hub-mirrors", True, ["http://127.0.0.1:5000", "https://docker.m.daocloud.io"]),
        # without Podman's own /libpod/info, the compat list, whose entries name no scheme
        ("podman-5.4-hub-mirrors", False, ["https://127.0.0.1:5000", "https://docker.m.daocloud.io"]),
        ("podman-5.4", True, []),
        ("docker-26.1", True, []),
    ],
)
def test_hub_mirrors_are_read_as_the_engine_reports_them(capture, libpod, mirrors):
    answers = json.loads((CAPTURES / f"{capture}.json").read_text())
    assert engine.hub_mirrors(answers["info"], answers.get("libpod_info") if libpod else None) == mirrors


def test_dockers_hub_mirrors_are_its_registry_config():
    info = {"RegistryConfig": {"Mirrors": ["https://mirror.example.com/"], "IndexConfigs": {}}}
    assert engine.hub_mirrors(info, None) == ["https://mirror.example.com"]
