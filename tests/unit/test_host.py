"""Parsers of host facts, on output captured from real tools (see tests/fixtures/README.md)."""

import errno
import os
import subprocess
from pathlib import Path

import pytest

from runbook import host
from runbook.errors import HostError

H200 = Path(__file__).parent.parent / "fixtures" / "h200"


def test_nvidia_smi_xml_driver_cuda_and_gpu():
    info = host.parse_nvidia_smi_xml((H200 / "nvidia-smi-q-x.xml").read_text())
    assert info.driver_version == "580.159.04"
    assert info.cuda_version == "13.0"
    assert len(info.gpus) == 1, info.gpus
    g = info.gpus[0]
    assert (g.index, g.name, g.uuid) == (0, "NVIDIA H200", "GPU-8c209b99-f92d-aac5-cf67-90054a3b4e22")
    assert g.memory_total_mib == 143771
    assert g.bus_id == "00000000:00:06.0"
    assert g.minor_number == 0


def test_xml_agrees_with_the_csv_query_of_the_same_host():
    """The XML parser must read what nvidia-smi's own CSV query reports on the same machine."""
    info = host.parse_nvidia_smi_xml((H200 / "nvidia-smi-q-x.xml").read_text())
    header, row = (H200 / "nvidia-smi-query-gpu.csv").read_text().strip().splitlines()
    index, name, uuid, driver, memory, bus, _cap = [v.strip() for v in row.split(",")]
    g = info.gpus[0]
    assert (str(g.index), g.name, g.uuid, info.driver_version, f"{g.memory_total_mib} MiB", g.bus_id) == (
        index,
        name,
        uuid,
        driver,
        memory,
        bus,
    )


def test_xml_agrees_with_the_human_table():
    table = (H200 / "nvidia-smi.txt").read_text()
    info = host.parse_nvidia_smi_xml((H200 / "nvidia-smi-q-x.xml").read_text())
    assert f"Driver Version: {info.driver_version}" in table
    assert f"CUDA Version: {info.cuda_version}" in table


def test_nvidia_smi_list():
    gpus = host.parse_nvidia_smi_list((H200 / "nvidia-smi-L.txt").read_text())
    assert [(g.index, g.name, g.uuid) for g in gpus] == [(0, "NVIDIA H200", "GPU-8c209b99-f92d-aac5-cf67-90054a3b4e22")]


def test_nvidia_smi_list_ignores_other_lines():
    text = "Sat Nov 28\n" + (H200 / "nvidia-smi-L.txt").read_text() + "\n  MIG 1g.18gb Device 0: (UUID: MIG-abc)\n"
    assert len(host.parse_nvidia_smi_list(text)) == 1


def test_invalid_xml_is_a_host_error_with_evidence():
    with pytest.raises(HostError) as e:
        host.parse_nvidia_smi_xml("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
    assert "couldn't communicate" in e.value.evidence


def test_os_release_of_the_gpu_host():
    info = host.os_release(str(H200 / "os-release"))
    assert info["ID"] == "ubuntu"
    assert info["VERSION_ID"] == "24.04"
    assert info["PRETTY_NAME"].startswith("Ubuntu 24.04")


def test_os_release_missing_is_empty(tmp_path):
    assert host.os_release(str(tmp_path / "nope")) == {}


def test_pci_scan_finds_only_nvidia_display_controllers(tmp_path):
    """A sysfs tree laid out as on the GPU host: its H200 at 0000:00:06.0 beside virtio devices."""
    for addr, vendor, cls, dev in [
        ("0000:00:01.0", "0x1af4", "0x020000", "0x1000"),
        ("0000:00:06.0", "0x10de", "0x030200", "0x2335"),
        ("0000:00:07.0", "0x10de", "0x068000", "0x22a3"),
    ]:  # an NVSwitch: not a GPU
        d = tmp_path / addr
        d.mkdir()
        (d / "vendor").write_text(vendor + "\n")
        (d / "class").write_text(cls + "\n")
        (d / "device").write_text(dev + "\n")
    assert host.pci_nvidia_devices(str(tmp_path)) == [
        {"address": "0000:00:06.0", "device": "0x2335", "class": "0x030200"}
    ]


def test_cgroup_version(tmp_path):
    assert host.cgroup_version(str(tmp_path)) == 1
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    assert host.cgroup_version(str(tmp_path)) == 2


def test_a_failing_nvidia_smi_is_a_host_error_with_its_diagnosis(tmp_path, monkeypatch):
    """nvidia-smi that answers with an error: its words as captured on the H200 with the control device
    hidden. No driver here, so a script on PATH replays them with the same exit code."""
    words = (H200 / "nvidia-smi-q-x-blocked.txt").read_text()
    fake = tmp_path / "nvidia-smi"
    fake.write_text(f"#!/bin/sh\nprintf '%s' '{words}'\nexit 17\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(HostError) as e:
        host.query_driver()
    assert "exited 17" in str(e.value)
    assert "may not open the GPU's device nodes" in e.value.cause and "ls -l /dev/nvidia*" in e.value.remediation
    assert e.value.evidence == words.strip()


def test_an_unknown_nvidia_smi_failure_still_gets_a_cause_and_fix(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'Segmentation fault' >&2\nexit 139\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(HostError) as e:
        host.query_driver()
    assert e.value.cause and "ubuntu-drivers" in e.value.remediation


def exec_failing(times: int, err: int, monkeypatch) -> list:
    """subprocess.run failing ``times`` times to make the process with ``err``, then running it: a fault of
    fork or exec cannot be caused on purpose here, so it is raised where the kernel would report it."""
    real, calls = subprocess.run, []

    def run(args, **kw):
        calls.append(args)
        if len(calls) <= times:
            raise OSError(err, os.strerror(err), args[0])
        return real(args, **kw)

    monkeypatch.setattr(host.subprocess, "run", run)
    return calls


def a_driver_answering(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text(f"#!/bin/sh\ncat '{H200 / 'nvidia-smi-q-x.xml'}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_a_process_not_made_once_is_made_again(tmp_path, monkeypatch):
    a_driver_answering(tmp_path, monkeypatch)
    calls = exec_failing(1, errno.EFAULT, monkeypatch)
    assert host.query_driver().driver_version == "580.159.04" and len(calls) == 2


def test_a_process_never_made_is_a_host_error_after_the_second_try(tmp_path, monkeypatch):
    a_driver_answering(tmp_path, monkeypatch)
    calls = exec_failing(2, errno.ENOMEM, monkeypatch)
    with pytest.raises(HostError, match="could not run"):
        host.query_driver()
    assert len(calls) == 2


def test_a_program_that_cannot_be_executed_is_not_tried_again(tmp_path, monkeypatch):
    a_driver_answering(tmp_path, monkeypatch)
    calls = exec_failing(1, errno.EACCES, monkeypatch)
    with pytest.raises(HostError, match="could not run"):
        host.query_driver()
    assert len(calls) == 1


def test_the_drivers_own_nvidia_smi_is_found_behind_a_wrapper_script(tmp_path, monkeypatch):
    wrapper, real = tmp_path / "usr-bin", tmp_path / "nvidia-bin"
    wrapper.mkdir()
    real.mkdir()
    (wrapper / "nvidia-smi").write_text('#!/bin/sh\nexec /usr/local/nvidia/bin/nvidia-smi "$@"\n')
    (wrapper / "nvidia-smi").chmod(0o755)
    binary = real / "nvidia-smi"
    binary.write_bytes(Path("/bin/true").read_bytes())  # an ELF program
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper}:{real}")
    assert host.find_nvidia_smi() == str(wrapper / "nvidia-smi"), "on PATH, the wrapper comes first"
    assert host.driver_nvidia_smi() == str(binary), "a container is given the driver's binary"


def test_a_hosts_gpus_name_its_records_by_model_and_count():
    """The records of a host are named by what its driver lists: the H200 host's XML, an eight-H100 node's
    nvidia-smi -L (tests/fixtures/h100), and names as drivers report other models."""
    h200 = host.parse_nvidia_smi_xml((H200 / "nvidia-smi-q-x.xml").read_text())
    assert host.gpu_tag(h200.gpus) == "h200x1"
    h100 = host.parse_nvidia_smi_list((H200.parent / "h100" / "nvidia-smi-L-8x.txt").read_text())
    assert host.gpu_tag(h100) == "h100x8"
    assert host.gpu_tag(h100[:1] + h200.gpus) == "h100x1-h200x1"
    models = ["NVIDIA A100-SXM4-80GB", "NVIDIA GeForce RTX 4090", "NVIDIA L40S", "Quadro M6000", "Tesla V100-SXM2-16GB"]
    assert [host.model_tag(m) for m in models] == ["a100", "rtx4090", "l40s", "m6000", "v100"]
    assert host.gpu_tag([]) == "nogpu"
