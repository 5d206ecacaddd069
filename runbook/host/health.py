"""Is each GPU healthy, not only present: read from the run's one ``nvidia-smi -q -x`` answer (never asked
again), the kernel log and, where installed, DCGM.

- a field that reads ``N/A`` or ``[Not Supported]`` (GeForce, vGPU, MIG) or is absent is not observed:
  a check with any GPU not observed and none in trouble is a skip that says which field, never a pass;
- persistence mode off: warn; ECC off: warn; uncorrectable ECC errors: volatile (since the driver
  loaded) fail, aggregate (lifetime) only warn;
- row remapping failed: fail; a remapping or a page retirement pending (takes a reset): warn;
- a reset required (``gpu_reset_status``) or a recovery action other than None: fail; a drain and reset
  recommended: warn;
- clock event (throttle) reasons: HW slowdown, HW thermal slowdown and HW power brake active: fail;
  SW thermal slowdown: warn; idle, applications clocks, SW power cap, sync boost, display clocks are
  benign;
- PCIe link width narrower than the maximum: warn, with the slot-level fix; a generation below the
  maximum is normal at idle (the link trains down to save power) and is not judged;
- XID events since boot from ``journalctl -k -b`` (else ``/dev/kmsg``), each explained from
  ``xid_catalogue.json``; "fallen off the bus" is a failure; an unreadable kernel log is a skip;
- ``dcgmi diag -r 1 -j`` when dcgmi is on PATH; otherwise a skip that says how to install DCGM.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..diagnosis import NB_PREFLIGHT
from ..i18n import N_, _
from ..results import Passed, fail, skip, warn

NOT_OBSERVED = ("n/a", "[not supported]", "[n/a]", "not supported", "[unknown error]", "")
TROUBLE_REASONS = {  # clock event reason -> status when active
    "hw_slowdown": "fail",
    "hw_thermal_slowdown": "fail",
    "hw_power_brake_slowdown": "fail",
    "sw_thermal_slowdown": "warn",
}


def gpus(xml_text: str) -> list[ET.Element]:
    return ET.fromstring(xml_text).findall("gpu")


def value(g: ET.Element, path: str) -> str | None:
    """The field's text, or None when the driver does not report it (N/A, [Not Supported], absent)."""
    text = g.findtext(path)
    if text is None or text.strip().lower() in NOT_OBSERVED:
        return None
    return text.strip()


def label(i: int, g: ET.Element) -> str:
    return f"GPU {i} ({g.get('id') or g.findtext('pci/pci_bus_id') or '?'})"


@dataclass
class Seen:
    """One GPU's state for one check: ok, warn, fail, or None (not observed), and what was seen."""

    state: str | None
    text: str


def judge(seen: list[Seen], what: str, cause: str = "", remediation: str = "") -> Passed:
    """The host's result from each GPU's (``seen`` in the answer's GPU order, one per GPU): a failure, else a
    warning, else a skip for a GPU not observed, else a pass; each GPU's state is in the data, for the
    report's row per GPU."""
    lines = "\n".join(s.text for s in seen)
    data = {"gpus": [{"gpu": i, "state": s.state or "not observed", "seen": s.text} for i, s in enumerate(seen)]}
    if not seen:
        raise skip(_("no GPU in the driver's answer"))
    for state, outcome in (("fail", fail), ("warn", warn)):
        bad = [s.text for s in seen if s.state == state]
        if bad:
            raise outcome(
                "; ".join(bad), cause=cause, remediation=remediation, notebook=NB_PREFLIGHT, evidence=lines, data=data
            )
    unseen = [s.text for s in seen if s.state is None]
    if unseen:
        raise _skip_with("; ".join(unseen), data)
    return Passed(
        _("{what}: {seen}").format(what=what, seen="; ".join(s.text for s in seen)), evidence=lines, data=data
    )


def _skip_with(detail: str, data: dict):
    o = skip(detail)
    o.data = data
    return o


def persistence(xml_text: str) -> Passed:
    seen = []
    for i, g in enumerate(gpus(xml_text)):
        v = value(g, "persistence_mode")
        if v is None:
            seen.append(Seen(None, _("{gpu}: persistence mode not reported").format(gpu=label(i, g))))
        else:
            seen.append(
                Seen(
                    "ok" if v == "Enabled" else "warn",
                    _("{gpu}: persistence mode {mode}").format(gpu=label(i, g), mode=v),
                )
            )
    return judge(
        seen,
        _("persistence mode"),
        cause=_(
            "Without persistence the driver tears the GPU down when the last client "
            "exits: every container start pays the initialisation again, and "
            "settings are lost."
        ),
        remediation=_("Enable it: `sudo systemctl enable --now nvidia-persistenced` (or `sudo nvidia-smi -pm 1`)."),
    )


def _uncorrectable(g: ET.Element, scope: str) -> int | None:
    node = g.find(f"ecc_errors/{scope}")
    if node is None:
        return None
    counts = [c.text.strip() for c in node if "uncorrectable" in c.tag and c.text and c.text.strip().isdigit()]
    return sum(int(c) for c in counts) if counts else None


def ecc(xml_text: str) -> Passed:
    seen = []
    for i, g in enumerate(gpus(xml_text)):
        mode = value(g, "ecc_mode/current_ecc")
        who = label(i, g)
        if mode is None:
            seen.append(Seen(None, _("{gpu}: ECC not reported (not supported on this GPU)").format(gpu=who)))
            continue
        if mode != "Enabled":
            seen.append(Seen("warn", _("{gpu}: ECC {mode}").format(gpu=who, mode=mode)))
            continue
        vol, agg = _uncorrectable(g, "volatile"), _uncorrectable(g, "aggregate")
        if vol is None and agg is None:
            seen.append(Seen(None, _("{gpu}: ECC on, error counts not reported").format(gpu=who)))
        elif vol:
            seen.append(
                Seen(
                    "fail",
                    _("{gpu}: {count} uncorrectable ECC errors since the driver loaded").format(gpu=who, count=vol),
                )
            )
        elif agg:
            seen.append(
                Seen(
                    "warn",
                    _("{gpu}: {count} uncorrectable ECC errors in its lifetime (none since the driver loaded)").format(
                        gpu=who, count=agg
                    ),
                )
            )
        else:
            seen.append(Seen("ok", _("{gpu}: ECC on, 0 uncorrectable errors").format(gpu=who)))
    return judge(
        seen,
        _("ECC"),
        cause=_("Uncorrectable memory errors corrupt or stop the work on that GPU."),
        remediation=_(
            "Drain the GPU, reset it (`sudo nvidia-smi -r -i N`) and watch the "
            "counts; repeated errors: RMA. ECC off: `sudo nvidia-smi -e 1` and "
            "reboot."
        ),
    )


def memory(xml_text: str) -> Passed:
    seen = []
    for i, g in enumerate(gpus(xml_text)):
        who = label(i, g)
        failure, pending = (
            value(g, "remapped_rows/remapped_row_failure"),
            value(g, "remapped_rows/remapped_row_pending"),
        )
        retire = value(g, "retired_pages/pending_retirement")
        if failure is None and pending is None and retire is None:
            seen.append(Seen(None, _("{gpu}: neither row remapping nor page retirement reported").format(gpu=who)))
        elif failure == "Yes":
            seen.append(Seen("fail", _("{gpu}: row remapping failed").format(gpu=who)))
        elif pending == "Yes" or retire == "Yes":
            seen.append(
                Seen(
                    "warn",
                    _("{gpu}: a row remapping or page retirement is pending (takes a GPU reset)").format(gpu=who),
                )
            )
        else:
            what = _("row remapping") if pending is not None else _("page retirement")
            seen.append(Seen("ok", _("{gpu}: {what}: nothing pending, no failure").format(gpu=who, what=what)))
    return judge(
        seen,
        _("memory repair"),
        cause=_(
            "The GPU found failing memory; a pending repair takes effect at the "
            "next reset, a failed one means the memory cannot be repaired."
        ),
        remediation=_(
            "Drain the GPU and reset it (`sudo nvidia-smi -r -i N`, or reboot); a "
            "remapping failure: contact the vendor (RMA)."
        ),
    )


def reset(xml_text: str) -> Passed:
    seen = []
    for i, g in enumerate(gpus(xml_text)):
        who = label(i, g)
        required = value(g, "gpu_reset_status/reset_required")
        drain = value(g, "gpu_reset_status/drain_and_reset_recommended")
        action = value(g, "gpu_recovery_action")
        if required is None and drain is None and action is None:
            seen.append(Seen(None, _("{gpu}: reset status not reported").format(gpu=who)))
        elif required == "Yes" or (action is not None and action != "None" and "drain" not in action.lower()):
            seen.append(
                Seen("fail", _("{gpu}: reset required ({action})").format(gpu=who, action=action or "reset_required"))
            )
        elif drain == "Yes" or (action is not None and action != "None"):
            seen.append(Seen("warn", _("{gpu}: drain and reset recommended").format(gpu=who)))
        else:
            seen.append(Seen("ok", _("{gpu}: no reset required").format(gpu=who)))
    return judge(
        seen,
        _("reset status"),
        cause=_("The driver says this GPU must be reset before it can be trusted again."),
        remediation=_("Stop its work, then `sudo nvidia-smi -r -i N` (or reboot the host)."),
    )


def _reasons(g: ET.Element) -> dict[str, str] | None:
    for node_name, prefix in (
        ("clocks_event_reasons", "clocks_event_reason_"),
        ("clocks_throttle_reasons", "clocks_throttle_reason_"),
    ):
        node = g.find(node_name)
        if node is not None:
            out = {c.tag.removeprefix(prefix): (c.text or "").strip() for c in node}
            return {k: v for k, v in out.items() if v.lower() not in NOT_OBSERVED} or None
    return None


def clocks(xml_text: str) -> Passed:
    seen = []
    for i, g in enumerate(gpus(xml_text)):
        who = label(i, g)
        reasons = _reasons(g)
        if reasons is None:
            seen.append(Seen(None, _("{gpu}: clock event reasons not reported").format(gpu=who)))
            continue
        active = [k for k, v in reasons.items() if v == "Active"]
        trouble = [k for k in active if k in TROUBLE_REASONS]
        state = "fail" if any(TROUBLE_REASONS[k] == "fail" for k in trouble) else "warn" if trouble else "ok"
        shown = ", ".join(active) or _("none")
        seen.append(Seen(state, _("{gpu}: active clock event reasons: {reasons}").format(gpu=who, reasons=shown)))
    return judge(
        seen,
        _("clocks"),
        cause=_(
            "The hardware slows the GPU down: overheating, a power supply or power brake signal, or a hardware fault."
        ),
        remediation=_(
            "Check cooling and airflow, the power cables and supply (`nvidia-smi -q "
            "-d PERFORMANCE,TEMPERATURE,POWER`); persistent HW slowdown: the "
            "vendor."
        ),
    )


def _width(text: str | None) -> int | None:
    m = re.match(r"(\d+)x", text or "")
    return int(m.group(1)) if m else None


def pcie(xml_text: str) -> Passed:
    seen = []
    for i, g in enumerate(gpus(xml_text)):
        who = label(i, g)
        link = "pci/pci_gpu_link_info" if g.find("pci/pci_gpu_link_info") is not None else "pci"
        cur, top = (
            _width(value(g, f"{link}/link_widths/current_link_width")),
            _width(value(g, f"{link}/link_widths/max_link_width")),
        )
        gen, top_gen = value(g, f"{link}/pcie_gen/current_link_gen"), value(g, f"{link}/pcie_gen/max_link_gen")
        if cur is None or top is None:
            seen.append(Seen(None, _("{gpu}: PCIe link width not reported").format(gpu=who)))
        elif cur < top:
            seen.append(
                Seen(
                    "warn",
                    _("{gpu}: PCIe link x{current} of x{max} (gen {gen} of {max_gen})").format(
                        gpu=who, current=cur, max=top, gen=gen, max_gen=top_gen
                    ),
                )
            )
        else:
            seen.append(
                Seen(
                    "ok",
                    _(
                        "{gpu}: PCIe x{current} of x{max}, gen {gen} of {max_gen} (a lower "
                        "generation at idle is normal)"
                    ).format(gpu=who, current=cur, max=top, gen=gen, max_gen=top_gen),
                )
            )
    return judge(
        seen,
        _("PCIe link"),
        cause=_(
            "The GPU's PCIe link trained narrower than it can: host-to-GPU copies run at a fraction of their speed."
        ),
        remediation=_(
            "Reseat the GPU (and its riser); use a slot wired x16 (the board's "
            "manual: slots that share lanes drop to x8); check the BIOS's slot "
            "bifurcation setting."
        ),
    )


CHECKS = (  # id, title (a message id), function of the XML text
    ("health.persistence", N_("Persistence mode"), persistence),
    ("health.ecc", N_("ECC on and no uncorrectable errors"), ecc),
    ("health.memory", N_("Memory repair: row remapping and page retirement"), memory),
    ("health.reset", N_("No GPU reset required"), reset),
    ("health.clocks", N_("Clocks not slowed by the hardware"), clocks),
    ("health.pcie", N_("PCIe link at its full width"), pcie),
)
