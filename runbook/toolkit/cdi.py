"""Is the NVIDIA CDI spec fresh: generated for the running driver, in a version the engine reads, and
kept fresh by the toolkit's refresh units.

- the driver a spec was generated for is read from the spec itself: ``nvidia-ctk cdi generate`` gives
  the ``enable-cuda-compat`` hook ``--host-driver-version=<driver>`` (internal/discover/compat_libs.go)
  and mounts the driver's libraries by their versioned names (``libcuda.so.<driver>``); the hook's
  argument is read first, the libraries' names when the hook is absent (disabled, older toolkits);
- a spec for another driver than the running one is stale: the engine would inject libraries that are
  gone (or the wrong ones) into every container that asks for ``nvidia.com/gpu``;
- ``cdiVersion`` is compared with what the engine can read: the CDI library in Docker before 26.1 reads
  specs up to 0.6.0 (toolkit 1.19.1 writes 0.7.0 by default);
- since toolkit 1.18, ``nvidia-cdi-refresh.path`` (and its service) regenerate ``/var/run/cdi/nvidia.yaml``
  when the driver's modules or nvidia-ctk change (deployments/systemd in the toolkit's source): where
  systemd runs, the path unit should be enabled.
"""

from __future__ import annotations

import os
import re
import subprocess

import yaml

from .versions import deb_compare

HOOK_VERSION = re.compile(r"--host-driver-version=(\S+)")
LIBRARY_VERSION = re.compile(r"/libcuda\.so\.(\d+\.\d+(?:\.\d+)?)$")
# the highest cdiVersion each Docker Engine reads, from the version on (see the module's docstring)
DOCKER_READS = (("26.1", "0.7.0"), ("25.0", "0.6.0"))
REFRESH_UNITS = ("nvidia-cdi-refresh.path", "nvidia-cdi-refresh.service")


def load(text: str) -> dict | None:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) else None


def _edits(doc: dict) -> list[dict]:
    out = [doc.get("containerEdits") or {}]
    out += [(d or {}).get("containerEdits") or {} for d in doc.get("devices") or [] if isinstance(d, dict)]
    return [e for e in out if isinstance(e, dict)]


def driver_version(doc: dict) -> str | None:
    """The driver the spec was generated for, or None when the spec does not say."""
    edits = _edits(doc)
    for e in edits:
        for hook in e.get("hooks") or []:
            for arg in (hook or {}).get("args") or []:
                m = HOOK_VERSION.fullmatch(str(arg))
                if m:
                    return m.group(1)
    for e in edits:
        for mount in e.get("mounts") or []:
            m = LIBRARY_VERSION.search(str((mount or {}).get("hostPath", "")))
            if m:
                return m.group(1)
    return None


def cdi_version(doc: dict) -> str:
    return str(doc.get("cdiVersion", ""))


def engine_reads(engine_version: str) -> str | None:
    """The highest cdiVersion this Docker Engine reads; None before Docker 25 (no CDI) or when unknown."""
    for since, highest in DOCKER_READS:
        if engine_version and deb_compare(engine_version.split("-")[0], since) >= 0:
            return highest
    return None


def readable(spec_version: str, engine_version: str) -> bool | None:
    """Whether the engine reads a spec of ``spec_version``; None when that cannot be told."""
    highest = engine_reads(engine_version)
    if highest is None or not spec_version:
        return None
    return deb_compare(spec_version, highest) <= 0


def systemd_running(root: str = "/run/systemd/system") -> bool:
    return os.path.isdir(root)


def unit_state(unit: str) -> tuple[str, str]:
    """(``systemctl is-enabled``, ``systemctl is-active``) of a unit, as systemctl prints them
    (``not-found`` when the unit file does not exist)."""

    def ask(verb: str) -> str:
        try:
            out = subprocess.run(["systemctl", verb, unit], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        text = (out.stdout.strip() or out.stderr.strip()).splitlines()
        answer = text[0] if text else "unknown"
        return "not-found" if "No such file" in answer or "not-found" in answer or "not be found" in answer else answer

    return ask("is-enabled"), ask("is-active")
