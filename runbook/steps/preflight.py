"""Step 1, preflight: is this host ready to start? OS, GPUs, driver, engine, access, registries, disk."""

from __future__ import annotations

from .. import engine, host
from ..diagnosis import DRIVER_FIX, NB_PREFLIGHT
from ..host import events, health
from ..i18n import _, ngettext, translate
from ..params import masked
from ..results import CheckResult, Passed, fail, run_check, skip, warn
from . import Context, context, multigpu, registries, skipped


def run(progress=None, **values) -> list[CheckResult]:
    ctx = context(values)
    return [
        run_check("host.os", _("Operating system, kernel and cgroups"), check_os),
        run_check("host.pci_gpus", _("NVIDIA GPUs on the PCI bus"), check_pci),
        run_check("host.driver", _("NVIDIA driver answers (nvidia-smi)"), lambda: check_driver(ctx)),
        run_check(
            "host.gpu_selection",
            _("The gpus parameter names devices this host has"),
            lambda: multigpu.selection(ctx),
        ),
        run_check("host.mig", _("MIG mode of each GPU, and its MIG devices"), lambda: multigpu.mig_modes(ctx)),
        run_check("host.topology", _("How the GPUs are connected (nvidia-smi topo -m)"), lambda: multigpu.links(ctx)),
        *health_checks(ctx),
        run_check("engine.reachable", _("Docker engine reachable"), lambda: check_engine(ctx)),
        run_check("engine.access", _("This user may use the engine"), lambda: check_access(ctx.client)),
        run_check(
            "network.registries",
            _("A registry or mirror answers for each image to pull"),
            lambda: registries.check_registries(ctx),
        ),
        run_check(
            "host.disk",
            _("Free disk where the engine keeps images"),
            lambda: check_disk(ctx.client, ctx.params["min_free_disk_gib"]),
        ),
    ]


def check_os() -> Passed:
    info = host.os_release()
    name = info.get("PRETTY_NAME") or _("unknown OS (no /etc/os-release)")
    cg = host.cgroup_version()
    data = {
        "id": info.get("ID", ""),
        "version_id": info.get("VERSION_ID", ""),
        "kernel": host.kernel_release(),
        "cgroup": cg,
    }
    return Passed(
        _("{os}, kernel {kernel}, cgroup v{cgroup}").format(os=name, kernel=data["kernel"], cgroup=cg), data=data
    )


def check_pci() -> Passed:
    found = host.pci_nvidia_devices()
    if not found:
        raise fail(
            _("no NVIDIA display controller on the PCI bus"),
            cause=_("This machine has no NVIDIA GPU, or it is not passed through to this VM or container."),
            remediation=_("Run the runbook on a host with an NVIDIA GPU (check `lspci | grep -i nvidia`)."),
            notebook=NB_PREFLIGHT,
        )
    return Passed(
        ngettext("{count} NVIDIA GPU: {devices}", "{count} NVIDIA GPUs: {devices}", len(found)).format(
            count=len(found),
            devices=", ".join(
                _("{address} (device {device})").format(address=d["address"], device=d["device"]) for d in found
            ),
        ),
        data={"devices": found},
    )


def check_driver(ctx: Context) -> Passed:
    if ctx.driver_error is not None:
        raise ctx.driver_error
    driver = ctx.driver
    if driver is None:
        raise fail(
            _("no NVIDIA driver/GPU found: nvidia-smi is not installed"),
            cause=_("The NVIDIA driver is not installed on this host (or not on PATH)."),
            remediation=translate(DRIVER_FIX),
            notebook=NB_PREFLIGHT,
        )
    if not driver.gpus:
        raise fail(
            _("driver {version} answers but reports no GPU").format(version=driver.driver_version),
            cause=_("The driver sees no GPU (a GPU fallen off the bus, or a mismatched kernel module)."),
            remediation=_("Check `dmesg | grep -i nvrm`; reboot."),
            notebook=NB_PREFLIGHT,
        )
    gpus = "; ".join(
        _("GPU {index}: {name}, {uuid}, {memory} MiB").format(
            index=g.index, name=g.name, uuid=g.uuid, memory=g.memory_total_mib
        )
        for g in driver.gpus
    )

    def shown(name: str) -> str:
        value = getattr(driver, name)
        if value:
            return value
        said = driver.unknown.get(name)
        return _("unknown (nvidia-smi said {said!r})").format(said=said) if said else _("not reported")

    return Passed(
        _("driver {version}, CUDA up to {cuda}; {gpus}").format(
            version=shown("driver_version"), cuda=shown("cuda_version"), gpus=gpus
        ),
        data={
            "driver_version": driver.driver_version,
            "cuda_version": driver.cuda_version,
            "gpus": [vars(g) for g in driver.gpus],
            "unknown": driver.unknown,
        },
    )


def check_engine(ctx: Context) -> Passed:
    if ctx.engine_error is not None:
        raise ctx.engine_error
    v = engine.engine_version(ctx.client)
    who = engine.identify(v, engine.engine_info(ctx.client))
    facts = [
        _("rootless") if who.rootless else _("rootful"),
        _("cgroup driver {driver}").format(driver=who.cgroup_driver),
    ]
    facts.append(_("image store {store}").format(store=who.image_store))
    if who.cdi_enabled:
        facts.append(_("CDI on ({dirs})").format(dirs=", ".join(who.cdi_spec_dirs)))
    elif who.cdi_enabled is False:
        facts.append(_("CDI off"))
    return Passed(
        _("{engine} (API {api}) on {os}/{arch} at {address}, found by {how}; {facts}").format(
            engine=who.name,
            api=who.api_version,
            os=v.get("Os"),
            arch=v.get("Arch"),
            address=_address(ctx),
            how=getattr(ctx.client, "found_by", "?"),
            facts=", ".join(facts),
        ),
        data=who.data() | {"address": _address(ctx)},
    )


def _address(ctx: Context) -> str:
    """The address the client was made for (docker-py shows every unix socket as http+docker://localhost)."""
    return masked(str(getattr(ctx.client, "address", "") or ctx.client.api.base_url))


def check_access(client) -> Passed:
    access = host.docker_group_access()
    if client is None:
        raise skip(_("the engine did not answer (engine.reachable), so access could not be tried"))
    if access.is_root:
        return Passed(_("{user} is root").format(user=access.user))
    if access.group_active:
        return Passed(
            _("{user} is in the docker group (root-equivalent: anyone in it controls the host)").format(
                user=access.user
            )
        )
    if access.in_docker_group:
        raise warn(
            _(
                "{user} is in the docker group, but this session does not have it yet; "
                "the engine answered through another way (DOCKER_HOST, rootless)"
            ).format(user=access.user),
            remediation=_("Log out and in again (and restart Jupyter) to make the group active."),
        )
    return Passed(
        _("{user} reached the engine without root or the docker group (rootless or remote engine)").format(
            user=access.user
        )
    )


def check_disk(client, minimum_gib: float) -> Passed:
    if client is None:
        raise skip(_("the engine did not answer (engine.reachable), so where it keeps images is unknown"))
    if not client.api.base_url.startswith("http+docker://localhost"):
        raise skip(
            _("the engine is reached over {address}: its disk may not be this host's").format(
                address=client.api.base_url
            )
        )
    root = engine.engine_info(client).get("DockerRootDir") or "/var/lib/docker"
    free = host.free_disk_gib(root)
    detail = _("{free:.1f} GiB free at {path}").format(free=free, path=root)
    if free < minimum_gib:
        raise warn(
            _("{detail}, below {minimum:g} GiB: CUDA and PyTorch images take 5-20 GB").format(
                detail=detail, minimum=minimum_gib
            ),
            remediation=_("Free space (`docker system prune`) or move the engine's data-root."),
            notebook=NB_PREFLIGHT,
        )
    return Passed(detail, data={"free_gib": round(free, 1), "path": root})


def health_checks(ctx: Context) -> list[CheckResult]:
    """Each GPU's health from the driver's one answer (the XML host.driver read), the kernel log, DCGM."""
    xml = host.LAST_ANSWER.get("stdout") if ctx.driver is not None and ctx.driver.gpus else None
    results = []
    for check_id, title, fn in health.CHECKS:
        if xml is None:
            results.append(skipped(check_id, translate(title), ctx.driver_problem or _("no nvidia-smi -q -x answer")))
        else:
            results.append(run_check(check_id, translate(title), lambda fn=fn: fn(xml)))
    results.append(
        run_check(
            "health.xid", _("No XID events in the kernel log since boot"), lambda: events.xid(events.kernel_log())
        )
    )
    results.append(run_check("health.dcgm", _("DCGM quick diagnostic (dcgmi diag -r 1)"), events.dcgm))
    return results
