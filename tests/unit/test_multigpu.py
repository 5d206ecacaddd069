"""Several GPUs and MIG on one host, read from other hosts' real outputs (tests/fixtures/multigpu, SOURCES.json;
tests/fixtures/field): ``nvidia-smi -L`` with MIG devices under two A100s and under one H200, ``topo -m``
of a two-A100 host, a four-V100 NVLink host and a one-GPU host, ``-q -x`` of two RTX A5000s and of an A100 in
MIG mode. No GPU is needed: the hardware is what these captures saw."""

from pathlib import Path

import pytest

from runbook import host, params
from runbook.engine import gpu_access
from runbook.errors import HostError
from runbook.host import mig, topology
from runbook.results import CheckResult, Status, run_check
from runbook.steps import Context, multigpu

FIXTURES = Path(__file__).parent.parent / "fixtures"
MULTI = FIXTURES / "multigpu"
FIELD = FIXTURES / "field"
YANDEX_L = (MULTI / "list-yandex-2xa100-mig.txt").read_text()
DUAL_A5000 = host.parse_nvidia_smi_xml((FIELD / "xml" / "telegraf-dual_a5000-v13.xml").read_text())
H200_MIG_CAPTURE = (FIELD / "captures" / "linux-x86_64__nvidia-h200-mig__590.48.01.txt").read_text()


def section(capture: str, command: str) -> str:
    """One command's output in an nvidia_gpu_exporter capture: the lines after its `# $ command` banner."""
    body = capture.split(f"# $ {command}\n", 1)[1].split("\n", 1)[1]
    return body.split("\n\n\n####")[0]


def two_a100s_in_mig_mode() -> host.DriverInfo:
    """The Yandex host's GPUs as its `nvidia-smi -L` lists them, both in MIG mode (as the page enabled it)."""
    gpus = host.parse_nvidia_smi_list(YANDEX_L)
    for g in gpus:
        g.mig_mode = g.mig_pending = "Enabled"
    return host.DriverInfo("535", "12.2", gpus)


YANDEX_MIGS = mig.parse_list(YANDEX_L)


# --- nvidia-smi -L with MIG devices ------------------------------------------------------------------


def test_mig_devices_are_read_under_their_gpu():
    assert [(d.name, d.profile, d.uuid[:13]) for d in YANDEX_MIGS] == [
        ("0:0", "1g.10gb", "MIG-a686709d-"),
        ("0:1", "1g.10gb", "MIG-53864714-"),
        ("1:0", "1g.10gb", "MIG-d5a46a2e-"),
        ("1:1", "1g.10gb", "MIG-b8479d6e-"),
    ]
    # the GPU lines still read as the two GPUs, MIG lines not mistaken for GPUs
    assert [g.uuid[:12] for g in host.parse_nvidia_smi_list(YANDEX_L)] == ["GPU-9c73eb7b", "GPU-c92e2d5d"]


def test_the_h200s_five_mig_devices_with_compute_instance_profiles():
    devices = mig.parse_list(section(H200_MIG_CAPTURE, "nvidia-smi -L"))
    assert [d.profile for d in devices] == ["1c.3g.71gb", "2c.3g.71gb", "2g.35gb", "1g.18gb", "1g.18gb"]
    assert {d.gpu for d in devices} == {0} and [d.index for d in devices] == [0, 1, 2, 3, 4]


def test_what_a_listing_shows_are_mig_devices_in_place_of_their_gpu():
    assert mig.devices_seen(YANDEX_L) == [d.uuid for d in YANDEX_MIGS]
    plain = (FIXTURES / "h200" / "nvidia-smi-L.txt").read_text()
    assert mig.devices_seen(plain) == [g.uuid for g in host.parse_nvidia_smi_list(plain)]


# --- MIG mode in nvidia-smi -q -x ---------------------------------------------------------------------


def test_mig_mode_is_read_and_na_is_no_mig():
    a100 = host.parse_nvidia_smi_xml((FIELD / "xml" / "netdata-a100-sxm4-mig.xml").read_text())
    assert (a100.gpus[0].mig_mode, a100.gpus[0].mig_pending) == ("Enabled", "Enabled")
    assert mig.enabled(a100)
    assert [(g.mig_mode, g.mig_pending) for g in DUAL_A5000.gpus] == [("", ""), ("", "")]  # N/A: no MIG
    assert not mig.enabled(DUAL_A5000)
    assert not any(k.endswith("mig_mode") for k in DUAL_A5000.unknown)  # N/A is the answer, not an unknown


def test_mig_devices_are_asked_of_the_host_only_in_mig_mode(monkeypatch):
    asked = []
    monkeypatch.setattr(mig, "nvidia_smi_output", lambda *a, **k: asked.append(a) or YANDEX_L)
    assert mig.host_devices(DUAL_A5000) == [] and asked == []
    assert mig.host_devices(two_a100s_in_mig_mode()) == YANDEX_MIGS and asked == [("-L",)]


# --- nvidia-smi topo -m --------------------------------------------------------------------------------


def test_two_gpus_on_two_numa_nodes():
    t = topology.parse((MULTI / "topo-m-della-2xa100.txt").read_text())
    assert t.gpus == [0, 1] and t.pairs() == [(0, 1, "SYS")]
    assert t.affinity == {
        0: {"CPU Affinity": "0-63", "NUMA Affinity": "0"},
        1: {"CPU Affinity": "64-127", "NUMA Affinity": "1"},
    }


def test_four_gpus_in_nvlink_pairs_nic_rows_left_out():
    t = topology.parse((MULTI / "topo-m-traverse-4xv100.txt").read_text())
    assert t.gpus == [0, 1, 2, 3]
    assert t.data()["links"] == {"0-1": "NV3", "0-2": "SYS", "0-3": "SYS", "1-2": "SYS", "1-3": "SYS", "2-3": "NV3"}
    assert all(t.links[(j, i)] == link for i, j, link in t.pairs())  # the matrix is symmetric
    assert t.affinity[2]["NUMA Affinity"] == "8"
    assert topology.describe("NV3") == "3 bonded NVLinks" and "NUMA nodes" in topology.describe("SYS")


def test_one_gpu_with_terminal_underline_codes_has_no_pair():
    t = topology.parse(section(H200_MIG_CAPTURE, "nvidia-smi topo -m"))
    assert "\x1b[4m" in section(H200_MIG_CAPTURE, "nvidia-smi topo -m")
    assert t.gpus == [0] and t.pairs() == []
    assert t.affinity[0] == {"CPU Affinity": "0-23", "NUMA Affinity": "0", "GPU NUMA ID": "N/A"}


def test_no_matrix_is_an_empty_topology():
    assert topology.parse("Nvlink queries are not supported for Devices in MIG mode\n").gpus == []


# --- the gpus parameter ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "0,1",
        "0:1",
        "0:0,1:1",
        "MIG-a686709d-6dc2-542a-8851-0d2508448c10",
        "MIG-GPU-932bfb2c-849a-2a22-1e84-9eff6bc02b39/1/0",
        "GPU-9c73eb7b-8d6d",
    ],
)
def test_the_parameter_takes_gpus_and_mig_devices(value):
    assert params.gpu_selection(value) == value


@pytest.mark.parametrize("value", ["0:", ":1", "a:b", "0:1:2", "MIG", "gpu0"])
def test_the_parameter_refuses_other_words(value):
    with pytest.raises(ValueError, match="MIG devices such as 0:1"):
        params.gpu_selection(value)


def test_indices_and_uuids_select_gpus_in_the_parameters_order():
    cd = DUAL_A5000.gpus[1].uuid
    assert [c.uuid for c in gpu_access.chosen(DUAL_A5000, "all")] == [g.uuid for g in DUAL_A5000.gpus]
    assert [c.index for c in gpu_access.chosen(DUAL_A5000, f"{cd},0")] == ["1", "0"]
    assert [c.is_mig for c in gpu_access.chosen(DUAL_A5000, "0,1")] == [False, False]


def test_a_name_the_host_lacks_says_what_it_has():
    with pytest.raises(HostError) as e:
        gpu_access.chosen(DUAL_A5000, "0,2")
    assert "names 2, which this host does not have" in str(e.value)
    assert all(f"{g.index} ({g.uuid})" in str(e.value) for g in DUAL_A5000.gpus)
    assert e.value.remediation and e.value.notebook == "01-preflight.ipynb"


def test_mig_devices_by_index_form_and_uuid(monkeypatch):
    driver = two_a100s_in_mig_mode()
    devices = gpu_access.chosen(driver, "0:1,MIG-d5a46a2e-1d77-575d-99e3-1f96c8555a2e", YANDEX_MIGS)
    assert [(c.index, c.uuid[:13], c.gpu.index, c.is_mig) for c in devices] == [
        ("0:1", "MIG-53864714-", 0, True),
        ("1:0", "MIG-d5a46a2e-", 1, True),
    ]
    assert devices[0].name == "NVIDIA A100-SXM4-80GB MIG 1g.10gb"
    monkeypatch.setattr(mig, "nvidia_smi_output", lambda *a, **k: YANDEX_L)  # the host's listing, from the capture
    assert gpu_access.selected_gpus(driver, "0:1,0:0") == [driver.gpus[0]]  # its GPU once, for the names nbval compares


def test_a_mig_device_the_host_lacks_lists_the_mig_devices_it_has(monkeypatch):
    monkeypatch.setattr(mig, "nvidia_smi_output", lambda *a, **k: YANDEX_L)
    with pytest.raises(HostError, match=r"names 1:2, .* 1:1 \(MIG-b8479d6e"):
        gpu_access.chosen(two_a100s_in_mig_mode(), "1:2")
    with pytest.raises(HostError, match="names 0:0, which this host does not have"):  # no GPU in MIG mode
        gpu_access.chosen(DUAL_A5000, "0:0")


def test_each_mode_passes_the_names_on(monkeypatch):
    monkeypatch.setattr(mig, "nvidia_smi_output", lambda *a, **k: YANDEX_L)
    driver, selection = two_a100s_in_mig_mode(), "0:1,MIG-d5a46a2e-1d77-575d-99e3-1f96c8555a2e"
    (req,) = gpu_access.options("gpus", selection, driver)["device_requests"]
    assert req["DeviceIDs"] == ["0:1", "MIG-d5a46a2e-1d77-575d-99e3-1f96c8555a2e"]  # --gpus '"device=0:1,MIG-…"'
    env = gpu_access.options("runtime", selection, driver)["environment"]
    assert env["NVIDIA_VISIBLE_DEVICES"] == selection
    (req,) = gpu_access.options("cdi", selection, driver)["device_requests"]
    assert req["DeviceIDs"] == ["nvidia.com/gpu=0:1", "nvidia.com/gpu=MIG-d5a46a2e-1d77-575d-99e3-1f96c8555a2e"]
    with pytest.raises(HostError, match="gives whole GPUs only.*0:1, MIG-d5a46a2e"):
        gpu_access.options("manual", selection, driver)


@pytest.mark.parametrize("mode", gpu_access.MODES)
def test_a_wrong_index_is_an_error_before_any_container_in_every_mode(mode):
    with pytest.raises(HostError, match="names 7, which this host does not have"):
        gpu_access.options(mode, "0,7", DUAL_A5000)


def test_without_the_drivers_answer_the_names_go_as_written():
    (req,) = gpu_access.options("cdi", "0:1", None)["device_requests"]
    assert req["DeviceIDs"] == ["nvidia.com/gpu=0:1"]


@pytest.mark.skipif(Path("/dev/nvidia0").exists(), reason="this host has the device nodes")
@pytest.mark.parametrize("selection, node", [("0", "/dev/nvidia1"), ("1", "/dev/nvidia0")])
def test_manual_mode_takes_the_minor_number_not_the_index(selection, node):
    """The A5000 host's GPU 0 is /dev/nvidia1 (minor number 1) and its GPU 1 is /dev/nvidia0."""
    with pytest.raises(HostError, match=f"device nodes missing on the host: {node}"):
        gpu_access.manual_mounts(selection, DUAL_A5000)


def test_cuda_visible_devices_for_the_host_probe_is_a_uuid_for_a_mig_device(monkeypatch):
    monkeypatch.setattr(mig, "nvidia_smi_output", lambda *a, **k: YANDEX_L)
    driver = two_a100s_in_mig_mode()
    assert gpu_access.cuda_visible(driver, "all") is None
    assert gpu_access.cuda_visible(driver, "1,0") == "1"
    assert gpu_access.cuda_visible(driver, "0:1") == "MIG-53864714-0a66-5df2-9007-9268e30d9a72"


# --- the container's devices against the chosen ones, by UUID --------------------------------------------
# A container's listing is written here as the host's own lines for the devices it was given: what the toolkit's
# container prints (its GPU's line, only the given MIG device under it) is not observed on a MIG host yet.


def listing(*lines: int) -> str:
    return "\n".join(YANDEX_L.splitlines()[i] for i in lines) + "\n"


@pytest.mark.parametrize(
    "selection, lines, same",
    [
        ("0:1", (0, 2), True),
        ("0:1", (0, 1), False),  # another MIG device of the same GPU
        ("0:1,1:0", (0, 2, 3, 4), True),
        ("0:1,1:0", (0, 2), False),  # one missing
        ("0:1", (0, 1, 2), False),  # one more than chosen
        ("0", (0, 1, 2), True),  # a whole GPU in MIG mode shows as its MIG devices
        ("0", (0,), True),  # or as itself
        ("0", (0, 1), False),  # not as a part of them
        ("all", (0, 1, 2, 3, 4, 5), True),
    ],
)
def test_same_devices(selection, lines, same):
    driver = two_a100s_in_mig_mode()
    devices = gpu_access.chosen(driver, selection, YANDEX_MIGS)
    assert gpu_access.same_devices(devices, YANDEX_MIGS, mig.devices_seen(listing(*lines))) is same


# --- step 1's checks -----------------------------------------------------------------------------------------


def ctx(driver, gpus="all"):
    return Context(params={"gpus": gpus}, driver=driver, driver_problem="" if driver else "no NVIDIA driver")


def test_the_selection_check_passes_with_the_devices_and_fails_with_what_the_host_has():
    r = run_check("host.gpu_selection", "t", lambda: multigpu.selection(ctx(DUAL_A5000, "1")))
    assert r.status is Status.PASS and r.data["devices"][0]["uuid"] == DUAL_A5000.gpus[1].uuid
    r = run_check("host.gpu_selection", "t", lambda: multigpu.selection(ctx(DUAL_A5000, "3")))
    assert r.status is Status.FAIL and DUAL_A5000.gpus[0].uuid in r.detail
    r = run_check("host.gpu_selection", "t", lambda: multigpu.selection(ctx(None)))
    assert r.status is Status.SKIP and r.detail == "no NVIDIA driver"


def test_the_topology_check_records_the_links_and_skips_one_gpu():
    text = (MULTI / "topo-m-traverse-4xv100.txt").read_text()
    four = host.DriverInfo("", "", [host.Gpu(i, "Tesla V100-SXM2-32GB", f"GPU-{i}") for i in range(4)])
    r = run_check("host.topology", "t", lambda: multigpu.links(ctx(four), text))
    assert r.status is Status.PASS and r.data["links"]["0-1"] == "NV3" and "GPU0-GPU1: NV3" in r.detail
    one = host.DriverInfo("", "", four.gpus[:1])
    r = run_check(
        "host.topology", "t", lambda: multigpu.links(ctx(one), section(H200_MIG_CAPTURE, "nvidia-smi topo -m"))
    )
    assert r.status is Status.SKIP and "one GPU" in r.detail
    r = run_check("host.topology", "t", lambda: multigpu.links(ctx(four), "Nvlink queries are not supported\n"))
    assert r.status is Status.SKIP


def test_the_mig_check(monkeypatch):
    r = run_check("host.mig", "t", lambda: multigpu.mig_modes(ctx(DUAL_A5000)))
    assert r.status is Status.SKIP and "supports MIG" in r.detail
    monkeypatch.setattr(mig, "nvidia_smi_output", lambda *a, **k: YANDEX_L)
    r = run_check("host.mig", "t", lambda: multigpu.mig_modes(ctx(two_a100s_in_mig_mode())))
    assert r.status is Status.PASS and "0:1 1g.10gb (MIG-53864714" in r.detail
    assert [len(g["devices"]) for g in r.data["gpus"]] == [2, 2]
    pending = two_a100s_in_mig_mode()
    pending.gpus[1].mig_pending = "Disabled"
    r = run_check("host.mig", "t", lambda: multigpu.mig_modes(ctx(pending)))
    assert r.status is Status.WARN and "GPU 1: MIG Enabled now, Disabled after the next GPU reset" in r.detail
    monkeypatch.setattr(mig, "nvidia_smi_output", lambda *a, **k: listing(0, 1, 2))  # GPU 1 without its devices
    r = run_check("host.mig", "t", lambda: multigpu.mig_modes(ctx(two_a100s_in_mig_mode())))
    assert r.status is Status.WARN and r.detail == "GPU 1: MIG on, but no MIG device is listed"


def test_a_mig_capable_gpu_with_mig_off_passes_with_its_mode():
    """The H200's own capture: MIG Disabled now and after a reset; nvidia-smi -L is not asked."""
    h200 = host.parse_nvidia_smi_xml((FIXTURES / "h200" / "nvidia-smi-q-x.xml").read_text())
    r = run_check("host.mig", "t", lambda: multigpu.mig_modes(ctx(h200)))
    assert r.status is Status.PASS and r.detail == "GPU 0: MIG Disabled"
    assert r.data["gpus"] == [{"index": 0, "mode": "Disabled", "pending": "Disabled", "devices": []}]


EIGHT_L = (FIXTURES / "h100" / "nvidia-smi-L-8x.txt").read_text()  # eight H100s (tests/fixtures/h100/README.md)
EIGHT = host.DriverInfo("", "", host.parse_nvidia_smi_list(EIGHT_L))


@pytest.mark.parametrize(
    "selection, same", [("all", True), ("0,1,2,3,4,5,6,7", True), ("7,0,1,2,3,4,5,6", True), ("0,1", False)]
)
def test_eight_gpus_seen_against_the_chosen_ones(selection, same):
    """A container that sees the eight H100s the host lists: right for all eight (in any order), not for two."""
    devices = gpu_access.chosen(EIGHT, selection)
    assert gpu_access.same_devices(devices, [], mig.devices_seen(EIGHT_L)) is same


def test_two_of_eight_by_index_and_uuid():
    uuid7 = EIGHT.gpus[7].uuid
    devices = gpu_access.chosen(EIGHT, f"0,{uuid7}")
    two = "\n".join(EIGHT_L.splitlines()[i] for i in (0, 7))
    assert gpu_access.same_devices(devices, [], mig.devices_seen(two))
    (req,) = gpu_access.options("gpus", f"0,{uuid7}", EIGHT)["device_requests"]
    assert req["DeviceIDs"] == ["0", uuid7]
    with pytest.raises(HostError, match="names 8, which"):
        gpu_access.options("runtime", "8", EIGHT)


@pytest.mark.parametrize("lines, status", [((0, 2), Status.PASS), ((0, 1), Status.FAIL), ((0,), Status.FAIL)])
def test_step_3_compares_the_containers_mig_device_with_the_chosen_one(lines, status, monkeypatch):
    from runbook.steps import gpu_container

    monkeypatch.setattr(mig, "nvidia_smi_output", lambda *a, **k: YANDEX_L)
    inside = listing(*lines)
    seen = CheckResult(
        "gpu.nvidia_smi",
        "t",
        Status.PASS,
        "",
        evidence=inside,
        data={"uuids": [g.uuid for g in host.parse_nvidia_smi_list(inside)], "devices": mig.devices_seen(inside)},
    )
    r = run_check("gpu.same_gpus", "t", lambda: gpu_container.check_same(ctx(two_a100s_in_mig_mode(), "0:1"), seen))
    assert r.status is status, r.detail
    if status is Status.FAIL:
        assert "expected ['MIG-53864714-0a66-5df2-9007-9268e30d9a72']" in r.detail
