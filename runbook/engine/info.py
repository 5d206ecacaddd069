"""What an engine says it is: Docker or Podman, its version and API, rootless or not, its image store and
CDI; versions compared as numbers."""

from __future__ import annotations

from dataclasses import dataclass

import docker
import requests
from docker.errors import APIError

from ..errors import (
    EngineError,
)
from ..i18n import _
from .connection import _engine_call, _raise_diagnosed, error_text


@_engine_call("version")
def engine_version(client: docker.DockerClient) -> dict:
    return client.version()


def engine_info(client: docker.DockerClient) -> dict:
    try:
        return client.info()
    except (APIError, requests.exceptions.RequestException) as e:
        _raise_diagnosed(EngineError, _("the engine did not answer `info`"), error_text(e), "engine_unreachable")


@dataclass
class Identity:
    """Which engine answers, as it says itself: Docker, Podman (through its Docker-compatible API) or
    another, and what of it decides how a container gets a GPU."""

    engine: str  # "docker", "podman", or the name the engine gives its own component
    version: str
    api_version: str
    rootless: bool
    cgroup_driver: str
    image_store: str  # "containerd" (containerd's snapshotters) or the graph driver's name
    storage_driver: str
    cdi_spec_dirs: list[str]
    cdi_enabled: bool | None  # None: the engine does not say (Docker before 26 has no CDISpecDirs)
    cdi_devices: list[str]  # DiscoveredDevices (Docker 28.2+), by name

    @property
    def name(self) -> str:
        """As a person names it: "Docker 26.1.5", "Podman 4.3.1"."""
        return f"{ENGINE_NAMES.get(self.engine, self.engine)} {self.version}"

    def data(self) -> dict:
        return {
            "engine": self.engine,
            "version": self.version,
            "api_version": self.api_version,
            "rootless": self.rootless,
            "cgroup_driver": self.cgroup_driver,
            "image_store": self.image_store,
            "storage_driver": self.storage_driver,
            "cdi_enabled": self.cdi_enabled,
            "cdi_spec_dirs": self.cdi_spec_dirs,
            "cdi_devices": self.cdi_devices,
        }


ENGINE_NAMES = {"docker": "Docker", "podman": "Podman"}


def identify(version: dict, info: dict, libpod_info: dict | None = None) -> Identity:
    """An engine's identity from its ``/version`` and ``/info`` answers (pure, for captured answers).

    - Podman's Docker-compatible API names its component "Podman Engine"; Docker's is "Engine"
    - rootless: "name=rootless" in Docker's SecurityOptions; Podman's compat ``/info`` does not say (4.3.1,
      seen), its own ``/libpod/info`` does (``host.security.rootless``)
    - containerd's image store: DriverStatus ``driver-type`` ``io.containerd.snapshotter.v1``
    - CDI: ``CDISpecDirs`` (Docker 26+: empty while features.cdi is off); none before Docker 25; Podman
      always has CDI, in /etc/cdi and /var/run/cdi
    """
    components = [c.get("Name", "") for c in version.get("Components") or [] if isinstance(c, dict)]
    if any(n.startswith("Podman") for n in components):
        kind = "podman"
    elif "Engine" in components or not components:
        kind = "docker"
    else:
        kind = components[0].lower()
    security = info.get("SecurityOptions") or []
    status = {str(k): str(v) for k, v in (info.get("DriverStatus") or []) if k}
    containerd = status.get("driver-type") == "io.containerd.snapshotter.v1"
    spec_dirs = info.get("CDISpecDirs")
    if kind == "podman":
        cdi_enabled, spec_dirs = True, spec_dirs or ["/etc/cdi", "/var/run/cdi"]
    elif spec_dirs is None:
        cdi_enabled = False if kind == "docker" and version_tuple(str(version.get("Version") or "")) < (25,) else None
    else:
        cdi_enabled = bool(spec_dirs)
    devices = [d.get("ID", "") for d in info.get("DiscoveredDevices") or [] if isinstance(d, dict)]
    return Identity(
        engine=kind,
        version=str(version.get("Version") or ""),
        api_version=str(version.get("ApiVersion") or ""),
        rootless=any("name=rootless" in str(o).split(",") for o in security)
        or bool((((libpod_info or {}).get("host") or {}).get("security") or {}).get("rootless")),
        cgroup_driver=str(info.get("CgroupDriver") or ""),
        image_store="containerd" if containerd else str(info.get("Driver") or ""),
        storage_driver=str(info.get("Driver") or ""),
        cdi_spec_dirs=list(spec_dirs or []),
        cdi_enabled=cdi_enabled,
        cdi_devices=devices,
    )


def identity(client: docker.DockerClient) -> Identity:
    """The identity of the engine ``client`` talks to, asked of it (``/version`` and ``/info``; Podman's own
    ``/libpod/info`` too, for what its compat API leaves out)."""
    version, info = engine_version(client), engine_info(client)
    podman = next((c for c in version.get("Components") or [] if str(c.get("Name", "")).startswith("Podman")), None)
    return identify(version, info, _libpod_info(client, podman.get("Version", "")) if podman else None)


@_engine_call("Podman's info")
def _libpod_info(client: docker.DockerClient, podman_version: str) -> dict | None:
    response = client.api._get(f"{client.api.base_url}/v{podman_version}/libpod/info")
    try:
        return response.json() if response.status_code == 200 else None
    except ValueError:
        return None


def hub_mirrors(info: dict, libpod_info: dict | None = None) -> list[str]:
    """Docker Hub's mirrors as the engine uses them, as URLs (pure, for captured answers).

    - Docker: ``RegistryConfig.Mirrors`` of ``/info``, URLs already
    - Podman (registries.conf): its compat ``/info`` leaves ``Mirrors`` empty and lists them, without a
      scheme, under ``IndexConfigs["docker.io"]`` (5.4.2, seen); its own ``/libpod/info`` says which are
      ``Insecure`` (plain http), so that is read first
    """
    config = info.get("RegistryConfig") or {}
    found = [str(m).rstrip("/") for m in config.get("Mirrors") or []]
    if found:
        return found
    hub = (((libpod_info or {}).get("registries") or {}).get("docker.io") or {}).get("Mirrors") or []
    pod = [m for m in hub if isinstance(m, dict) and m.get("Location")]
    if pod:
        return [("http://" if m.get("Insecure") else "https://") + str(m["Location"]).rstrip("/") for m in pod]
    index = (((config.get("IndexConfigs") or {}).get("docker.io") or {}).get("Mirrors")) or []
    return [m if "://" in m else "https://" + m for m in (str(x).rstrip("/") for x in index) if m]


def hub_mirrors_of(client: docker.DockerClient) -> list[str]:
    """The Docker Hub mirrors of the engine ``client`` talks to (Podman's own ``/libpod/info`` asked only
    where its compat ``/info`` names mirrors without saying how to reach them)."""
    info = engine_info(client)
    libpod = None
    if not (info.get("RegistryConfig") or {}).get("Mirrors"):
        version = engine_version(client)
        podman = next((c for c in version.get("Components") or [] if str(c.get("Name", "")).startswith("Podman")), None)
        if podman:
            try:
                libpod = _libpod_info(client, podman.get("Version", ""))
            except EngineError:
                libpod = None  # the compat answer is still there
    return hub_mirrors(info, libpod)


def version_tuple(version: str) -> tuple[int, ...]:
    """ "26.1.5+dfsg1" -> (26, 1, 5): the numbers a version comparison needs."""
    parts = []
    for piece in version.split("+")[0].split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)
