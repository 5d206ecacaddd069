"""Step 1's checks of several GPUs on one host: the devices the ``gpus`` parameter names, each GPU's MIG mode
and MIG devices, and how the GPUs are connected (``nvidia-smi topo -m``). Each reads the host only; none
changes MIG mode (that takes a GPU reset) or anything else."""

from __future__ import annotations

from .. import host
from ..diagnosis import NB_PREFLIGHT
from ..engine import gpu_access
from ..host import mig, topology
from ..i18n import _, ngettext
from ..results import Passed, skip, warn
from . import Context


def _driver(ctx: Context) -> host.DriverInfo:
    if ctx.driver is None or not ctx.driver.gpus:
        raise skip(ctx.driver_problem or _("the NVIDIA driver reports no GPU"))
    return ctx.driver


def selection(ctx: Context) -> Passed:
    """Before any container starts: a name the host lacks fails here (and in each container check) with
    what the host has."""
    devices = gpu_access.chosen(_driver(ctx), ctx.params["gpus"])
    shown = "; ".join(f"{c.index}: {c.name} ({c.uuid})" for c in devices)
    return Passed(
        ngettext(
            "gpus={gpus}: {count} device: {devices}", "gpus={gpus}: {count} devices: {devices}", len(devices)
        ).format(gpus=ctx.params["gpus"], count=len(devices), devices=shown),
        data={"devices": [{"id": c.id, "index": c.index, "uuid": c.uuid, "name": c.name} for c in devices]},
    )


def mig_modes(ctx: Context) -> Passed:
    driver = _driver(ctx)
    capable = [g for g in driver.gpus if g.mig_mode]
    if not capable:
        raise skip(_("no GPU of this host supports MIG (nvidia-smi reports its MIG mode as N/A)"))
    devices = mig.host_devices(driver)
    rows, lines, pending, empty = [], [], [], []
    for g in capable:
        own = [d for d in devices if d.gpu == g.index]
        rows.append(
            {
                "index": g.index,
                "mode": g.mig_mode,
                "pending": g.mig_pending,
                "devices": [{"name": d.name, "profile": d.profile, "uuid": d.uuid} for d in own],
            }
        )
        listed = ", ".join(f"{d.name} {d.profile} ({d.uuid})" for d in own)
        lines.append(
            _("GPU {index}: MIG {mode}").format(index=g.index, mode=g.mig_mode) + (": " + listed if listed else "")
        )
        if g.mig_pending and g.mig_pending != g.mig_mode:
            pending.append(
                _("GPU {index}: MIG {mode} now, {pending} after the next GPU reset").format(
                    index=g.index, mode=g.mig_mode, pending=g.mig_pending
                )
            )
        if g.mig_mode == "Enabled" and not own:
            empty.append(_("GPU {index}: MIG on, but no MIG device is listed").format(index=g.index))
    data = {"gpus": rows}
    detail = "; ".join(lines)
    if pending:
        raise warn(
            "; ".join(pending),
            cause=_("A change of MIG mode waits for a GPU reset; until then the GPU runs in its current mode."),
            remediation=_(
                "Reset the GPU when nothing runs on it (`sudo nvidia-smi -r -i N`) or reboot; the runbook never "
                "changes MIG mode itself."
            ),
            notebook=NB_PREFLIGHT,
            evidence=detail,
            data=data,
        )
    if empty:
        raise warn(
            "; ".join(empty),
            cause=_("A GPU in MIG mode runs CUDA work only in its MIG devices, and it has none."),
            remediation=_(
                "Create GPU and compute instances (`sudo nvidia-smi mig -cgi PROFILES -C`), or turn MIG off "
                "(`sudo nvidia-smi -i N -mig 0`, then a GPU reset)."
            ),
            notebook=NB_PREFLIGHT,
            evidence=detail,
            data=data,
        )
    return Passed(detail, data=data)


def links(ctx: Context, text: str | None = None) -> Passed:
    """The matrix is recorded as data; a single GPU has no pair and is a skip."""
    driver = _driver(ctx)
    if len(driver.gpus) < 2:
        raise skip(_("one GPU on this host: no pair of GPUs to connect"))
    text = host.nvidia_smi_output("topo", "-m") if text is None else text
    if text is None:
        raise skip(_("nvidia-smi topo -m did not answer"))
    topo = topology.parse(text)
    if not topo.pairs():
        raise skip(_("nvidia-smi topo -m printed no link between two GPUs"))
    shown = "; ".join(f"GPU{i}-GPU{j}: {link} ({topology.describe(link)})" for i, j, link in topo.pairs())
    return Passed(shown, evidence=text, data=topo.data())
