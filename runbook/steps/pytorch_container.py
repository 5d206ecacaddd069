"""Step 4, PyTorch in a container: torch.cuda.is_available(), the devices, a product checked on the CPU,
and the throughput the container reaches beside the same probe run directly on the host."""

from __future__ import annotations

import os
import subprocess
import sys

from .. import workloads
from ..diagnosis import NB_PYTORCH
from ..engine import ahead, gpu_access
from ..errors import ContainerFailed, HostError
from ..i18n import _, ngettext
from ..results import CheckResult, Outcome, Passed, chosen, fail, run_check, skip, warn
from ..workloads import datasheet
from . import container_failure, context, from_error, mode_refused, skipped
from .images import choose_and_pull, judge_requirement, planned_image


def check_titles() -> dict[str, str]:
    """The titles of the step's checks, in the active language."""
    return {
        "pytorch.requirement": _("The driver meets the PyTorch image's CUDA"),
        "pytorch.import": _("PyTorch imports in the image"),
        "pytorch.cuda_available": _("torch.cuda.is_available() in the container"),
        "pytorch.matmul": _("A matrix product on the GPU matches the CPU"),
        "pytorch.peer_access": _("Peer access and a copy between each pair of GPUs in the container"),
        "pytorch.throughput": _("bf16 matmul and memory bandwidth: container against host"),
    }


SLOWER = 0.9  # container/host below this is a warning: something throttles the container


def probe_command(ctx) -> list[str]:
    """The probe's command line in the container: with --bench it also measures the throughput."""
    command = ["python3", "-c", workloads.source("gpu_probe"), str(ctx.params["matmul_size"])]
    return [*command, "--bench"] if ctx.params["measure_throughput"] else command


def planned(ctx) -> list[ahead.Planned]:
    """The probe's container as ``run`` will ask for it, for a run to start ahead: none without the image on
    the engine or with a mode the engine refuses. One that measures starts once the others have ended."""
    image = planned_image(ctx, "pytorch_image", "pytorch", _("PyTorch CUDA image"))
    if image is None:
        return []
    try:
        command, opts = probe_container(ctx)
    except (Outcome, HostError):
        return []  # pytorch.import starts no container either
    measures = ctx.params["measure_throughput"]
    return [ahead.Planned(image, command, opts, ctx.params["timeout_s"], measures=measures)]


def probe_container(ctx) -> tuple[list[str], dict]:
    """The probe container's command and options, as pytorch.import and ``planned`` both ask for them.
    Raises the engine's refusal of the mode, or the HostError of options the host cannot give."""
    refused = mode_refused(ctx, ctx.params["gpu_mode"])
    if refused:
        raise refused
    return probe_command(ctx), gpu_access.options(ctx.params["gpu_mode"], ctx.params["gpus"], ctx.driver)


def run(progress=None, **values) -> list[CheckResult]:
    ctx = context(values)
    titles = check_titles()
    results, image = choose_and_pull(ctx, "pytorch", "pytorch_image", "pytorch", _("PyTorch CUDA image"), progress)
    if image is None:
        reason = _("the PyTorch image is not available ({id}: {status})").format(
            id=results[-1].id, status=results[-1].status.value
        )
        return results + [skipped(i, t, reason) for i, t in titles.items()]
    results.append(
        run_check("pytorch.requirement", titles["pytorch.requirement"], lambda: judge_requirement(ctx, image))
    )
    probe: dict = {}

    def run_probe() -> Passed:
        nonlocal probe
        command, opts = probe_container(ctx)
        try:
            out = ahead.run(ctx.client, image, command, timeout_s=ctx.params["timeout_s"], options=opts)
        except ContainerFailed as e:
            raise from_error(e, ctx) from None
        probe = workloads.parse(out.output) or {}
        if not probe:
            raise container_failure(
                _("the probe printed no result (exit {code})").format(code=out.exit_code), out.output, ctx
            )
        if "error" in probe:
            raise fail(
                _("{error} (python {python})").format(error=probe["error"], python=probe.get("python")),
                cause=_("The image has no working PyTorch."),
                remediation=_("Use a PyTorch image (pytorch_image=auto picks one)."),
                notebook=NB_PYTORCH,
                evidence=out.output,
            )
        return Passed(
            _("torch {torch} built for CUDA {cuda}, python {python}").format(
                torch=probe["torch"], cuda=probe["cuda"], python=probe["python"]
            ),
            evidence=out.output,
            data=probe,
        )

    on_host = HostProbe(ctx) if ctx.params["measure_throughput"] else None
    try:
        imported = run_check("pytorch.import", titles["pytorch.import"], run_probe)
        results.append(imported)
        results.append(
            run_check(
                "pytorch.cuda_available",
                titles["pytorch.cuda_available"],
                lambda: check_available(ctx, imported, probe),
                host_gpus(ctx),
            )
        )
        results.append(run_check("pytorch.matmul", titles["pytorch.matmul"], lambda: check_matmul(probe)))
        results.append(
            run_check("pytorch.peer_access", titles["pytorch.peer_access"], lambda: check_peer_access(ctx, probe))
        )
        results.append(
            run_check("pytorch.throughput", titles["pytorch.throughput"], lambda: check_throughput(ctx, probe, on_host))
        )
    finally:
        if on_host is not None:
            on_host.close()
    return results


def host_gpus(ctx) -> dict | None:
    """The names of the host's GPUs the container is given, beside which the checked cell sets torch.cuda's."""
    if ctx.driver is None:
        return None
    return {"host_gpus": [g.name for g in gpu_access.selected_gpus(ctx.driver, ctx.params["gpus"])]}


def check_available(ctx, imported: CheckResult, probe: dict) -> Passed:
    if not imported.ok:
        raise skip(_("the probe did not run ({id}: {status})").format(id=imported.id, status=imported.status.value))
    if not probe.get("cuda_available"):
        if probe.get("cuda") is None:
            raise fail(
                _("False: torch {torch} is a CPU-only build").format(torch=probe.get("torch")),
                cause=_("The image's PyTorch has no CUDA."),
                remediation=_("Use a CUDA build of PyTorch (a pytorch/pytorch:*-cuda* image)."),
                notebook=NB_PYTORCH,
            )
        raise container_failure(
            _("False: {error}").format(error=probe.get("cuda_error") or _("torch sees no GPU")),
            probe.get("cuda_error", "") + f" (gpu_mode={ctx.params['gpu_mode']})",
            ctx,
        )
    names = ", ".join(probe.get("devices", []))
    return Passed(
        ngettext("True: {count} device: {names}", "True: {count} devices: {names}", probe["device_count"]).format(
            count=probe["device_count"], names=names
        ),
        data={"devices": probe.get("devices", [])},
    )


def check_matmul(probe: dict) -> Passed:
    m = probe.get("matmul")
    if probe.get("matmul_error"):
        raise fail(
            _("the product did not run: {error}").format(error=probe["matmul_error"]),
            cause=_("CUDA is available but a computation on the GPU failed (out of memory, or a CUDA error)."),
            remediation=_("Check `nvidia-smi` for other processes using the GPU's memory; lower matmul_size."),
            notebook=NB_PYTORCH,
        )
    if not m:
        raise skip(_("CUDA is not available in the container (pytorch.cuda_available)"))
    detail = _("{n}x{n} float32 product, relative error {error:.2e} against float64 on the CPU").format(
        n=m["n"], error=m["relative_error"]
    )
    if not m["ok"]:
        raise fail(
            _("{detail} (limit 1e-5)").format(detail=detail),
            cause=_("The GPU computed a wrong result: a faulty GPU, driver or library."),
            remediation=_("Run `nvidia-smi -q -d ECC,ROW_REMAPPER`, update the driver, try another GPU."),
            notebook=NB_PYTORCH,
        )
    each = probe.get("matmul_devices")
    if not each:
        return Passed(detail, data=m)
    names = probe.get("devices") or []
    bad = [
        _("GPU {index} ({name}): {why}").format(
            index=d["device"],
            name=names[d["device"]] if d["device"] < len(names) else "?",
            why=d.get("error") or _("relative error {error:.2e}").format(error=d.get("relative_error", float("nan"))),
        )
        for d in each
        if not d.get("ok")
    ]
    if bad:
        raise fail(
            _("{detail}; wrong or failed on: {gpus}").format(detail=detail, gpus="; ".join(bad)),
            cause=_("One GPU computed a wrong result or failed where the others did not: that GPU is at fault."),
            remediation=_("Run `nvidia-smi -q -d ECC,ROW_REMAPPER -i N` for that GPU; drain it and reset it, or RMA."),
            notebook=NB_PYTORCH,
            data={**m, "devices": each},
        )
    worst = max(d["relative_error"] for d in each)
    return Passed(
        ngettext(
            "{detail}; the same on each of {count} GPU (worst {error:.2e})",
            "{detail}; the same on each of {count} GPUs (worst {error:.2e})",
            len(each),
        ).format(detail=detail, count=len(each), error=worst),
        data={**m, "devices": each},
    )


def check_peer_access(ctx, probe: dict) -> Passed:
    """With two GPUs or more in the container: each pair's peer access (torch.cuda.can_device_access_peer) and
    the bandwidth of a copy from one card to the other. Peer access off is a warning: copies then go through
    host memory, which multi-GPU training (NCCL) feels; a copy that fails is a failure."""
    if not probe.get("cuda_available"):
        raise skip(_("CUDA is not available in the container (pytorch.cuda_available)"))
    count = probe.get("device_count", 0)
    if count < 2:
        raise skip(
            ngettext(
                "{count} GPU in the container (gpus={gpus}): no pair to try",
                "{count} GPUs in the container (gpus={gpus}): no pair to try",
                count,
            ).format(count=count, gpus=ctx.params["gpus"])
        )
    if probe.get("peers_error"):
        raise fail(
            _("the peer test did not run: {error}").format(error=probe["peers_error"]),
            cause=_("CUDA works on each GPU but the test between them failed (see the error)."),
            remediation=_("Run `nvidia-smi topo -m` and `nvidia-smi topo -p2p r` on the host; check the error."),
            notebook=NB_PYTORCH,
        )
    pairs = probe.get("peers") or []
    data = {"pairs": pairs}
    shown = "; ".join(
        _("{src}->{dst}: {how}, {bandwidth:.1f} GB/s").format(
            src=p["from"],
            dst=p["to"],
            how=_("peer access") if p["access"] else _("no peer access"),
            bandwidth=p["copy_gb_per_s"],
        )
        if "copy_gb_per_s" in p
        else _("{src}->{dst}: {error}").format(src=p["from"], dst=p["to"], error=p.get("error", "?"))
        for p in pairs
    )
    if not pairs or any("error" in p for p in pairs):
        raise fail(
            shown or _("the probe reported no pair"),
            cause=_("A copy between two GPUs failed in the container."),
            remediation=_("Check `nvidia-smi` for other processes using the GPUs' memory; see the error per pair."),
            notebook=NB_PYTORCH,
            data=data,
        )
    if not all(p["access"] for p in pairs):
        raise warn(
            shown,
            cause=_(
                "Some pairs of GPUs cannot access each other's memory directly: copies between them go through "
                "host memory (GPUs on different NUMA nodes, a PCIe switch or an IOMMU without peer support, "
                "consumer GPUs)."
            ),
            remediation=_(
                "Compare with `nvidia-smi topo -p2p r` on the host (host.topology records the links); on a "
                "bare-metal host check the BIOS's ACS and IOMMU settings."
            ),
            notebook=NB_PYTORCH,
            data=data,
        )
    return Passed(shown, data=data)


class HostProbe:
    """The same probe run directly on the host (this Python), on the first selected GPU.

    It starts while the container's probe runs, so that importing torch and setting up CUDA on the host
    overlap with the container; it measures only when ``result`` gives the word, after the container's
    measurement has ended, so that the two never share the GPU while they measure."""

    def __init__(self, ctx):
        self.timeout_s = ctx.params["timeout_s"]
        env = dict(os.environ)
        first = gpu_access.cuda_visible(ctx.driver, ctx.params["gpus"])
        if first:
            env["CUDA_VISIBLE_DEVICES"] = first
        command = [sys.executable, "-c", workloads.source("gpu_probe"), str(ctx.params["matmul_size"])]
        self.proc = subprocess.Popen(
            [*command, "--bench", "--wait"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def result(self) -> dict:
        """Measure now and return the probe's result; {"error": …} when it printed none."""
        try:
            out, err = self.proc.communicate("go\n", timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self.close()
            return {"error": _("the host probe ran past {seconds:.0f} s").format(seconds=self.timeout_s)}
        return workloads.parse(out) or {"error": (err or out)[-500:]}

    def close(self) -> None:
        """Stop the probe if it still runs (the container's probe failed, or the step was interrupted)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def check_throughput(ctx, probe: dict, host_probe: HostProbe | None) -> Passed:
    if not ctx.params["measure_throughput"]:
        raise chosen(_("measure_throughput is false"))
    bench = probe.get("bench")
    if probe.get("bench_error"):
        raise warn(
            _("the measurement did not run in the container: {error}").format(error=probe["bench_error"]),
            cause=_(
                "The GPU computes (pytorch.matmul) but the larger benchmark failed: usually out of memory "
                "because another process holds the GPU's memory."
            ),
            remediation=_("Check `nvidia-smi` for other processes; run again with the GPU idle."),
            notebook=NB_PYTORCH,
        )
    if not bench:
        raise skip(_("the GPU computation did not run in the container (pytorch.cuda_available, pytorch.matmul)"))
    name = (probe.get("devices") or [""])[0]
    data = {"gpu": name, "container": bench, "datasheet": None, "host": None}
    sheet = datasheet.figures_for(name)
    if sheet:
        data["datasheet"] = {"bf16_matmul_tflops": sheet[0], "copy_gb_per_s": sheet[1]}
    detail = _("container: {tflops:.0f} TFLOP/s bf16, {bandwidth:.0f} GB/s device-to-device").format(
        tflops=bench["bf16_matmul_tflops"], bandwidth=bench["copy_gb_per_s"]
    )
    on_host = host_probe.result()
    host = on_host.get("bench")
    if not host:
        if str(on_host.get("error", "")).startswith("import torch failed"):
            return Passed(
                _("{detail}; no PyTorch on the host, so no container/host ratio").format(detail=detail), data=data
            )
        why = (
            on_host.get("error")
            or on_host.get("bench_error")
            or on_host.get("matmul_error")
            or on_host.get("cuda_error")
            or _("the host's PyTorch sees no GPU")
        )
        raise warn(
            _("{detail}; the same probe on the host failed, so no container/host ratio: {why}").format(
                detail=detail, why=why
            ),
            cause=_("The host's own PyTorch could not measure the GPU (see the error)."),
            remediation=_(
                "Check the host's PyTorch (`python3 -c 'import torch; print(torch.cuda.is_available())'`) "
                "or set measure_throughput=false."
            ),
            notebook=NB_PYTORCH,
        )
    data["host"] = host
    ratios = {k: bench[k] / host[k] for k in ("bf16_matmul_tflops", "copy_gb_per_s")}
    data["ratios"] = ratios
    detail = _(
        "{detail}; host: {tflops:.0f} TFLOP/s, {bandwidth:.0f} GB/s; container/host {tflops_ratio:.3f} and "
        "{bandwidth_ratio:.3f}"
    ).format(
        detail=detail,
        tflops=host["bf16_matmul_tflops"],
        bandwidth=host["copy_gb_per_s"],
        tflops_ratio=ratios["bf16_matmul_tflops"],
        bandwidth_ratio=ratios["copy_gb_per_s"],
    )
    if min(ratios.values()) < SLOWER:
        raise warn(
            detail,
            cause=_(
                "The container is markedly slower than the host on the same GPU: another process "
                "on the GPU, a power or clock cap, or a different library build in the image."
            ),
            remediation=_(
                "Check `nvidia-smi` for other processes and clocks; compare torch and CUDA versions "
                "of the image and the host."
            ),
            notebook=NB_PYTORCH,
        )
    return Passed(detail, data=data)
