"""Pulling images with progress events, and what an image holds."""

from __future__ import annotations

import time
from collections.abc import Callable

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils import parse_repository_tag

from .. import diagnosis
from ..errors import (
    ImageNotPulled,
    ImageUnavailable,
)
from ..i18n import _
from .connection import _engine_call, _raise_diagnosed, _read_timed_out, error_text


@_engine_call("looking up an image")
def image_present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
        return True
    except ImageNotFound:
        return False


@_engine_call("pulling an image")
def pull(
    client: docker.DockerClient,
    ref: str,
    policy: str = "missing",
    timeout_s: float = 1800,
    progress: Callable[[dict], None] | None = None,
) -> docker.models.images.Image:
    """Make ``ref`` present by the pull policy (missing / always / never), reporting each progress event."""
    if policy not in ("missing", "always", "never"):
        raise ValueError(f"pull policy must be missing, always or never, not {policy!r}")
    if policy != "always" and image_present(client, ref):
        return client.images.get(ref)
    if policy == "never":
        raise ImageNotPulled(
            _("{image} is not on the engine and pull=never").format(image=ref),
            cause=_("The image is not present and the pull policy forbids pulling it."),
            remediation=_("Pull or load the image (docker load), or run with pull=missing."),
        )
    repo, tag = parse_repository_tag(ref)
    if tag is None:
        tag = "latest"
    deadline = time.monotonic() + timeout_s
    stall_s = min(STALL_S, timeout_s)
    try:
        for event in _pull_events(client, repo, tag, stall_s):
            if "error" in event:
                text = event.get("error") or str(event.get("errorDetail"))
                _raise_diagnosed(ImageUnavailable, _("pulling {image} failed").format(image=ref), text)
            if progress:
                progress(event)
            if time.monotonic() > deadline:
                raise ImageUnavailable(
                    _("pulling {image} took longer than {seconds:.0f} s").format(image=ref, seconds=timeout_s),
                    cause=_("The registry or the network is too slow for the pull timeout."),
                    remediation=_("Raise pull_timeout_s, use a registry mirror, or pull beforehand."),
                )
    except APIError as e:
        _raise_diagnosed(
            ImageUnavailable,
            _("pulling {image} failed").format(image=ref),
            error_text(e),
            "manifest_unknown" if isinstance(e, NotFound) else None,
        )
    except requests.exceptions.RequestException as e:
        if _read_timed_out(e):
            raise ImageUnavailable(
                _("pulling {image}: no progress for {stall:.0f} s (pull_timeout_s {seconds:.0f} s)").format(
                    image=ref, stall=stall_s, seconds=timeout_s
                ),
                evidence=str(e),
                **diagnosis.by_key("pull_stalled").fields(),
            ) from None
        _raise_diagnosed(ImageUnavailable, _("pulling {image} failed").format(image=ref), str(e))
    except DockerException as e:
        _raise_diagnosed(ImageUnavailable, _("pulling {image} failed").format(image=ref), str(e))
    try:
        return client.images.get(ref)
    except ImageNotFound:
        raise ImageUnavailable(
            _("the engine reported {image} pulled but does not have it").format(image=ref), evidence=""
        ) from None


STALL_S = 60  # a pull that sends no progress event for this long has stalled


def _pull_events(client: docker.DockerClient, repo: str, tag: str, read_timeout: float):
    """The engine's pull events, as docker-py's ``APIClient.pull`` streams them, but with a read timeout:
    docker-py sends the pull request with none, so a registry that stalls would hang the run forever."""
    api = client.api
    registry, _name = docker.auth.resolve_repository_name(repo)
    headers = {}
    header = docker.auth.get_config_header(api, registry)
    if header:
        headers["X-Registry-Auth"] = header
    response = api._post(
        api._url("/images/create"),
        params={"tag": tag, "fromImage": repo},
        headers=headers,
        stream=True,
        timeout=read_timeout,
    )
    api._raise_for_status(response)
    try:
        yield from api._stream_helper(response, decode=True)
    finally:
        response.close()


@_engine_call("reading an image's configuration")
def image_env(client: docker.DockerClient, ref: str) -> list[str]:
    """The Env list of a present image's configuration."""
    return (client.images.get(ref).attrs.get("Config") or {}).get("Env") or []
