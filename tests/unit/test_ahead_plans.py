"""The plan of steps 3 and 4 (what a headless run starts ahead) is exactly what their checks then ask
the engine for, whatever the engine refuses, whatever the driver answers and whichever mode is chosen: a
plan that drifted from a check's request would start a container no step takes, and the step its own.
No engine is needed: every container request is recorded where ``engine.ahead.run`` would send it."""

from dataclasses import dataclass

import pytest

from runbook import host, params
from runbook.engine import ahead, info
from runbook.results import Passed, run_check
from runbook.steps import Context, gpu_container, pytorch_container

IMAGE = "nvidia/cuda:12.4.1-base-ubuntu22.04"
# two GPUs as `nvidia-smi -L` lists them (tests/fixtures/multigpu/list-yandex-2xa100-mig.txt, without MIG lines)
TWO_GPUS = host.DriverInfo(
    "535",
    "12.2",
    host.parse_nvidia_smi_list(
        "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-9c73eb7b-a2c9-1fa3-a61b-fc3c3b6a2a1c)\n"
        "GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-c92e2d5d-1ab8-d2b9-2a28-2ad0d07c2e8f)\n"
    ),
)


@dataclass
class Client:
    """Stands in for a DockerClient: only its address is read before a request is recorded."""

    address: str = "unix:///var/run/docker.sock"


def identity(engine: str, version: str, cdi_enabled: bool | None) -> info.Identity:
    return info.Identity(engine, version, "1.45", False, "systemd", "overlay2", "overlay2", [], cdi_enabled, [])


ENGINES = {
    "docker-27-cdi-off": identity("docker", "27.5.1", False),
    "docker-26-cdi-on": identity("docker", "26.1.5", True),
    "docker-20": identity("docker", "20.10.24", None),
    "podman-4": identity("podman", "4.3.1", None),
}
DRIVERS = {"two-gpus": (TWO_GPUS, ""), "none": (None, "no NVIDIA driver/GPU found on this host")}


def context(values: dict, engine: str, driver: str) -> Context:
    ctx = Context(params.validate(values))
    ctx.driver, ctx.driver_problem = DRIVERS[driver]
    ctx.client, ctx.identity = Client(), ENGINES[engine]
    return ctx


@pytest.fixture
def requests(monkeypatch) -> list[str]:
    """The key of every container the checks ask for (the request itself, as engine.ahead names it)."""
    asked: list[str] = []

    def record(client, image, command, *, timeout_s, options=None):
        asked.append(ahead.key(client.address, image, command, options, timeout_s))
        return ahead.RunOutput(0, "", 0.1)

    monkeypatch.setattr(ahead, "run", record)
    return asked


def step3_requests(ctx) -> None:
    """Every check of step 3 that starts a container, as ``gpu_container.run`` calls them."""
    run_check("gpu.container_runs", "", lambda: gpu_container.check_runs(ctx, IMAGE))
    for mode in gpu_container.gpu_access.MODES:
        if mode != ctx.params["gpu_mode"]:
            run_check(f"gpu.mode.{mode}", "", lambda mode=mode: gpu_container.check_other_mode(ctx, IMAGE, mode))
    run_check("gpu.nvidia_smi", "", lambda: gpu_container.check_nvidia_smi(ctx, IMAGE, {}))


def keys(plans: list[ahead.Planned]) -> list[str]:
    return [ahead.key(Client.address, p.image, p.command, p.options, p.timeout_s) for p in plans]


CASES = [
    (mode, gpus, engine, driver)
    for mode in ("gpus", "runtime", "cdi", "manual")
    for gpus in ("all", "1", "7")  # "7": a GPU the driver lacks, a HostError for every mode but manual
    for engine in ENGINES
    for driver in DRIVERS
]


@pytest.mark.parametrize(("mode", "gpus", "engine", "driver"), CASES)
def test_step3_plans_the_containers_its_checks_ask_for(mode, gpus, engine, driver, requests, monkeypatch):
    ctx = context({"gpu_mode": mode, "gpus": gpus}, engine, driver)
    monkeypatch.setattr(gpu_container, "planned_image", lambda *a: IMAGE)
    step3_requests(ctx)
    assert sorted(keys(gpu_container.planned(ctx))) == sorted(requests)


@pytest.mark.parametrize(("mode", "gpus", "engine", "driver"), CASES)
@pytest.mark.parametrize("measure", [True, False])
def test_step4_plans_the_probe_pytorch_import_runs(mode, gpus, engine, driver, measure, requests, monkeypatch):
    ctx = context({"gpu_mode": mode, "gpus": gpus, "measure_throughput": measure}, engine, driver)
    monkeypatch.setattr(pytorch_container, "planned_image", lambda *a: IMAGE)
    monkeypatch.setattr(pytorch_container, "choose_and_pull", lambda *a: ([], IMAGE))
    monkeypatch.setattr(pytorch_container, "judge_requirement", lambda *a: Passed("not asked"))
    monkeypatch.setattr(pytorch_container, "context", lambda values: ctx)
    pytorch_container.run(**ctx.params)
    assert keys(pytorch_container.planned(ctx)) == requests
