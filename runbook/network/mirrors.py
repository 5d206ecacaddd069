"""Mirror presets (``runbook/mirrors.json``) and what they change: which mirrors to probe, how an
image name reads through a prefix mirror, where each image will come from.

- A preset is data: URLs and a prefix, each checked like a parameter (``url``, a host name),
  never a command; a file that is not of that shape is refused with one line saying what is wrong.
- ``RUNBOOK_MIRROR_PRESETS`` names another file of the same shape, which replaces the shipped one
  (the tests map ``cn`` to loopback servers with it).
- ``registry_mirrors`` names a preset or lists URLs; either way the candidates are probed and those
  that answer are kept, in order.
- Docker's ``registry-mirrors`` apply to Docker Hub only: an image of nvcr.io or ghcr.io comes from
  its registry unless ``image_prefix`` rewrites its name to a prefix mirror (``m.daocloud.io/nvcr.io/…``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources

from ..i18n import _

# Host, optional port, then a path of plain URL characters: a URL that is shown inside commands to copy
# must not carry anything a shell would read (spaces, quotes, $, `, ;, &, |, parentheses, *).
URL = re.compile(r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%+=,:@/-]*)?$")


def url(value: str) -> str:
    if not URL.match(value):
        raise ValueError(
            _(
                "{value} is not a plain http(s) URL such as https://mirror.example.com/libnvidia-container "
                "(letters, digits and . _ ~ % + = , : @ / - only)"
            ).format(value=repr(value))
        )
    return value.rstrip("/")


PRESETS_ENV = "RUNBOOK_MIRROR_PRESETS"
HUB = "docker.io"
HUB_ENDPOINT = "https://registry-1.docker.io"  # where the engine pulls Docker Hub images from
HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$")


def _presets_text() -> tuple[str, str]:
    path = os.environ.get(PRESETS_ENV, "")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return f.read(), path
        except OSError as e:
            raise ValueError(
                _("{env}={path} cannot be read: {error}").format(env=PRESETS_ENV, path=path, error=e.strerror)
            ) from None
    return (resources.files("runbook") / "mirrors.json").read_text(encoding="utf-8"), "runbook/mirrors.json"


def presets() -> dict:
    """The presets, each value checked: URLs are plain http(s) URLs, a prefix is a host[:port];
    ValueError (which a parameter's check turns into its one-line error, exit 2) for anything else."""
    text, where = _presets_text()

    def bad(what: str) -> ValueError:
        """The file's fault, said in one line; the parameter that read it adds its own name."""
        return ValueError(_("the presets in {path}: {what}").format(path=where, what=what))

    try:
        data = json.loads(text)
    except ValueError as e:
        raise bad(str(e)) from None
    if not isinstance(data, dict):
        raise bad(_("not a JSON object"))
    out: dict = {"registry_mirrors": {}, "image_prefix": {}, "toolkit_mirror": {}, "pip_index_url": {}}
    try:
        for name, p in (data.get("registry_mirrors") or {}).items():
            out["registry_mirrors"][name] = [url(c["url"]) for c in p["candidates"]]
        for name, p in (data.get("image_prefix") or {}).items():
            if not HOST.match(p["prefix"]) or not all(HOST.match(r) for r in p["registries"]):
                raise ValueError(_("image_prefix {name}: a prefix and registries are host names").format(name=name))
            out["image_prefix"][name] = (p["prefix"], tuple(p["registries"]))
        for key in ("toolkit_mirror", "pip_index_url"):
            for name, p in (data.get(key) or {}).items():
                out[key][name] = url(p["url"])
    except (KeyError, TypeError, AttributeError) as e:
        raise bad(_("not of the presets' shape (missing or wrong {key})").format(key=e)) from None
    except ValueError as e:
        raise bad(str(e)) from None
    return out


def preset_names(kind: str) -> tuple[str, ...]:
    return tuple(presets()[kind])


def registry_candidates(value: str) -> list[str]:
    """The mirrors ``registry_mirrors`` asks for: a preset's candidates, or the URLs given."""
    if not value:
        return []
    named = None if "/" in value else presets()["registry_mirrors"].get(value)
    return list(named) if named is not None else [v for v in value.split(",") if v]


def resolve(kind: str, value: str) -> str:
    """A toolkit_mirror or pip_index_url value: a preset's URL, or the value itself."""
    return presets()[kind].get(value, value)


@dataclass(frozen=True)
class Reference:
    """An image name split as the engine reads it: the registry (docker.io for Docker Hub) and the rest."""

    registry: str
    path: str  # repository[:tag][@digest], with library/ for official Hub images

    @property
    def on_hub(self) -> bool:
        return self.registry == HUB


def split(image: str) -> Reference:
    first, sep, rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return Reference("docker.io" if first in ("index.docker.io", "registry-1.docker.io") else first, rest)
    return Reference(HUB, image if sep else f"library/{image}")


def endpoint(registry: str) -> str:
    """The URL whose /v2/ the engine asks for this registry."""
    if registry == HUB:
        return HUB_ENDPOINT
    scheme = "http" if registry.split(":")[0] in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{registry}"


def prefix_of(value: str) -> tuple[str, tuple[str, ...]] | None:
    """``image_prefix``'s prefix and the registries it serves: a preset's, or a host given (serving
    every registry but Docker Hub); None when off."""
    if not value:
        return None
    named = presets()["image_prefix"].get(value)
    return named if named is not None else (value, ())


def with_prefix(image: str, value: str) -> str:
    """``image`` as pulled through the prefix mirror ``value`` names: non-Hub images only (Hub images
    go through the engine's registry-mirrors), and only registries the preset serves."""
    chosen = prefix_of(value)
    if chosen is None:
        return image
    prefix, registries = chosen
    ref = split(image)
    if ref.on_hub or ref.registry == prefix.split("/")[0] or (registries and ref.registry not in registries):
        return image
    return f"{prefix}/{ref.registry}/{ref.path}"


def probe_deadline(timeout: float) -> float:
    """All probes together end by three stage timeouts, and never after 30 s."""
    return min(3 * timeout, 30.0)


def answering(candidates: list[str], timeout: float = 5.0) -> tuple[list[str], list]:
    """The candidates that answer as registries, in their order, and every probe."""
    from . import probe as registry_probe

    probes = registry_probe.probe_all(candidates, timeout, probe_deadline(timeout))
    return [p.url for p in probes if p.answers], probes
