from pathlib import Path

import pytest

from runbook import host
from runbook.engine import gpu_access
from runbook.errors import HostError

H200 = Path(__file__).parent.parent / "fixtures" / "h200"
DRIVER = host.parse_nvidia_smi_xml((H200 / "nvidia-smi-q-x.xml").read_text())


def test_gpus_mode_all_is_docker_gpus_all():
    opts = gpu_access.options("gpus", "all")
    (req,) = opts["device_requests"]
    assert req["Count"] == -1 and req["Capabilities"] == [["gpu"]] and not req.get("DeviceIDs")


def test_gpus_mode_selection():
    (req,) = gpu_access.options("gpus", "0,GPU-abc")["device_requests"]
    assert req["DeviceIDs"] == ["0", "GPU-abc"] and req["Count"] == 0


def test_runtime_mode():
    opts = gpu_access.options("runtime", "1")
    assert opts["runtime"] == "nvidia"
    assert opts["environment"]["NVIDIA_VISIBLE_DEVICES"] == "1"


def test_cdi_mode():
    (req,) = gpu_access.options("cdi", "all")["device_requests"]
    assert req["Driver"] == "cdi" and req["DeviceIDs"] == ["nvidia.com/gpu=all"]
    (req,) = gpu_access.options("cdi", "0,1")["device_requests"]
    assert req["DeviceIDs"] == ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]


def test_unknown_mode():
    with pytest.raises(ValueError):
        gpu_access.options("magic")


def test_manual_needs_a_driver():
    with pytest.raises(HostError, match="needs the host's NVIDIA driver"):
        gpu_access.manual_mounts("all", None)


def test_manual_refuses_a_gpu_the_host_lacks():
    with pytest.raises(HostError, match="names 3, which this host does not have; it has 0 .GPU-8c20"):
        gpu_access.manual_mounts("3", DRIVER)


@pytest.mark.skipif(Path("/dev/nvidia0").exists(), reason="this host has the device nodes")
def test_manual_without_device_nodes_says_so():
    with pytest.raises(HostError, match="device nodes missing on the host: /dev/nvidia0"):
        gpu_access.manual_mounts("all", DRIVER)


def test_ldconfig_cache_parse_and_lookup(tmp_path, monkeypatch):
    lib = tmp_path / "libnvidia-ml.so.580.159.04"
    lib.write_text("")
    link = tmp_path / "libnvidia-ml.so.1"
    link.symlink_to(lib.name)
    text = (
        "2 libs found in cache `/etc/ld.so.cache'\n"
        f"\tlibnvidia-ml.so.1 (libc6,x86-64) => {link}\n"
        "\tlibcuda.so.1 (libc6,x86-64) => /nonexistent/libcuda.so.1\n"
    )
    cache = gpu_access.ldconfig_cache(text)
    monkeypatch.setenv("LD_LIBRARY_PATH", "")
    assert gpu_access.find_library("libnvidia-ml.so.1", cache) == str(link)
    assert gpu_access.find_library("libcuda.so.1", cache) is None  # listed, but not on disk


def test_ld_library_path_wins_over_the_cache(tmp_path, monkeypatch):
    first = tmp_path / "first"
    first.mkdir()
    (first / "libcuda.so.1").write_text("")
    monkeypatch.setenv("LD_LIBRARY_PATH", str(first))
    cache = {"libcuda.so.1": ["/usr/lib/x86_64-linux-gnu/libcuda.so.1"]}
    assert gpu_access.find_library("libcuda.so.1", cache) == str(first / "libcuda.so.1")


def test_the_gpu_hosts_loader_cache_finds_the_driver_libraries(monkeypatch):
    """`ldconfig -p` captured on the GPU host lists the driver under /usr/local/nvidia/lib64 first."""
    cache = gpu_access.ldconfig_cache(
        (Path(__file__).parent.parent / "fixtures" / "h200" / "ldconfig-p.txt").read_text()
    )
    assert cache["libnvidia-ml.so.1"][0] == "/usr/local/nvidia/lib64/libnvidia-ml.so.1"
    assert cache["libcuda.so.1"][0] == "/usr/local/nvidia/lib64/libcuda.so.1"
    assert "libnvidia-ptxjitcompiler.so.1" in cache and "libnvidia-nvvm.so.4" in cache
