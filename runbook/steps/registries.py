"""The network rung, before any pull: does a registry or mirror answer for each image the run pulls?

The engine pulls a Docker Hub image through its registry-mirrors first, in order, then Docker Hub;
an image of another registry (nvcr.io, ghcr.io, the user's) from that registry only, unless
``image_prefix`` renames it to a prefix mirror. So the check probes Docker Hub and the engine's
effective mirrors (``docker info``, which is what the engine uses, whatever daemon.json says; Podman's
registries.conf as its API reports it), the
mirrors ``registry_mirrors`` asks for, and the registry of each other image; then it says where each
image will come from. An image that nothing serves fails the check with each probe's cause and fix.
"""

from __future__ import annotations

from .. import engine, params
from ..diagnosis import NB_PREFLIGHT
from ..errors import EngineError
from ..i18n import _
from ..network import mirrors
from ..network import probe as registry_probe
from ..results import Passed, chosen, fail, warn
from . import Context

# The repository each "auto" image is chosen from (cuda.choose): all on Docker Hub.
AUTO_REPOSITORY = {"cuda_image": "nvidia/cuda", "pytorch_image": "pytorch/pytorch", "devel_image": "nvidia/cuda"}
ENGINE_MIRROR, CANDIDATE, REGISTRY = "engine mirror", "candidate mirror", "registry"


def needed_images(ctx: Context) -> list[str]:
    """The images (or, for auto, their repositories) the run pulls, as they will be pulled."""
    p = ctx.params
    params = ["cuda_image", "pytorch_image"] + (["devel_image"] if p["pull_devel"] else [])
    out = []
    for name in params:
        image = AUTO_REPOSITORY[name] if p[name] == "auto" else p[name]
        image = mirrors.with_prefix(image, p["image_prefix"])
        if p["pull"] == "missing" and p[name] != "auto" and ctx.client is not None:
            try:
                if engine.image_present(ctx.client, image):
                    continue  # present: the pull takes nothing from a registry
            except EngineError:
                pass
        if image not in out:
            out.append(image)
    return out


def renamed_images(values: dict) -> list[tuple[str, str]]:
    """The images given by name that ``image_prefix`` renames, as (name, pulled as), for the plan."""
    p = params.validate(values)
    names = [p[n] for n in ("cuda_image", "pytorch_image", "devel_image") if p[n] != "auto"]
    return [
        (n, mirrors.with_prefix(n, p["image_prefix"]))
        for n in dict.fromkeys(names)
        if mirrors.with_prefix(n, p["image_prefix"]) != n
    ]


def engine_mirrors(ctx: Context) -> list[str] | None:
    """The engine's effective Docker Hub mirrors (Docker's `docker info`, Podman's registries.conf as its
    API reports it: engine.hub_mirrors); None when the engine does not answer."""
    if ctx.client is None:
        return None
    try:
        return engine.hub_mirrors_of(ctx.client)
    except EngineError:
        return None


def table(rows: list[tuple[str, registry_probe.Probe]]) -> str:
    """One line per probe: the address, its role, the outcome, what was seen, how long it took."""
    width = max((len(p.url) for _r, p in rows), default=0)
    return "\n".join(f"{p.url:{width}}  {role:16}  {p.outcome:12}  {p.seconds:5.2f} s  {p.detail}" for role, p in rows)


def check_registries(ctx: Context) -> Passed:
    """Where each image will come from, with one line per probe under it (the table, in the detail too:
    a terminal shows the detail, and every candidate's outcome is what the reader needs)."""
    p = ctx.params
    if p["pull"] == "never":
        raise chosen(_("pull=never: no image is pulled, no registry is needed"))
    images = needed_images(ctx)
    if not images:
        return Passed(_("every image the run uses is present: no registry is needed"), data={"images": {}})
    in_engine = engine_mirrors(ctx)
    candidates = [m for m in mirrors.registry_candidates(p["registry_mirrors"]) if m not in (in_engine or [])]
    refs = {image: mirrors.split(image) for image in images}
    hub = any(r.on_hub for r in refs.values())
    roles: list[tuple[str, str]] = []
    if hub:
        roles += [(ENGINE_MIRROR, m) for m in in_engine or []] + [(CANDIDATE, m) for m in candidates]
    roles += [(REGISTRY, mirrors.endpoint(r.registry)) for r in refs.values()]
    roles = list(dict.fromkeys(roles))
    timeout = p["probe_timeout_s"]
    urls = [u for _r, u in roles]
    probes = dict(zip(urls, registry_probe.probe_all(urls, timeout, mirrors.probe_deadline(timeout)), strict=True))
    rows = [(role, probes[u]) for role, u in roles]
    answering = [(role, u) for role, u in roles if probes[u].answers]

    sources: dict[str, dict] = {}
    for image, ref in refs.items():
        own = mirrors.endpoint(ref.registry)
        order = [(r, u) for r, u in answering if r in (ENGINE_MIRROR, CANDIDATE)] if ref.on_hub else []
        order += [(r, u) for r, u in answering if u == own]
        role, source = order[0] if order else (None, None)
        sources[image] = {"source": source, "via": role, "registry": ref.registry}

    def where(image: str) -> str:
        s = sources[image]
        if s["source"] is None:
            return _("{image}: from nowhere (nothing answers)").format(image=image)
        if s["via"] == CANDIDATE:
            return _("{image}: through {url}, once it is in the engine's registry-mirrors (step 2)").format(
                image=image, url=s["source"]
            )
        if s["via"] == ENGINE_MIRROR:
            return _("{image}: through the engine's mirror {url}").format(image=image, url=s["source"])
        return _("{image}: from its registry {url}").format(image=image, url=s["source"])

    data = {
        "images": sources,
        "probes": [{**pr.to_dict(), "role": role} for role, pr in rows],
        "engine_mirrors": in_engine,
        "kept_mirrors": [u for r, u in answering if r in (ENGINE_MIRROR, CANDIDATE)],
    }
    evidence = table(rows)
    unserved = [i for i in images if sources[i]["source"] is None]
    detail = "; ".join(where(i) for i in images if i not in unserved)
    if in_engine is None:
        detail += " " + _("(the engine did not answer: its own mirrors are unknown)")
    dead = [pr for _role, pr in rows if not pr.answers]
    if unserved:
        outcomes = list(dict.fromkeys(pr.outcome for pr in dead))
        head = _("no registry reachable for {images}").format(images=", ".join(unserved))
        raise fail(
            "; ".join(part for part in (head, detail.strip()) if part) + "\n" + evidence,
            evidence=evidence,
            data=data,
            cause=" ".join(registry_probe.Probe("", o).cause for o in outcomes),
            remediation=" ".join(
                [registry_probe.Probe("", o).remediation for o in outcomes]
                + [
                    _(
                        "Then run again: `gpu-runbook run -p registry_mirrors URL` (or a preset: cn) "
                        "probes them first. Without any network: `docker save` the images on a host "
                        "that has them and `docker load` them here, with pull=never."
                    )
                ]
            ),
            notebook=NB_PREFLIGHT,
        )
    stale = [pr for role, pr in rows if role == ENGINE_MIRROR and not pr.answers]
    if stale:
        raise warn(
            _(
                "{detail}; but the engine's mirror {urls} does not answer ({outcomes}): each pull waits on it first"
            ).format(
                detail=detail,
                urls=", ".join(pr.url for pr in stale),
                outcomes=", ".join(pr.outcome for pr in stale),
            )
            + "\n"
            + evidence,
            evidence=evidence,
            data=data,
            cause=" ".join(dict.fromkeys(pr.cause for pr in stale)),
            remediation=" ".join(dict.fromkeys(pr.remediation for pr in stale)),
            notebook=NB_PREFLIGHT,
        )
    return Passed(detail + "\n" + evidence, evidence=evidence, data=data)
