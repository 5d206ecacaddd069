import json
from pathlib import Path

import pytest

from runbook.host import cuda


@pytest.mark.parametrize(
    "driver, expected",
    [
        ("580.159.04", "13.0"),
        ("580.65.06", "13.0"),
        ("580.65.05", "12.9"),
        ("575.51.03", "12.9"),
        ("570.26", "12.8"),
        ("560.35.03", "12.6"),
        ("550.54.14", "12.4"),
        ("535.54.03", "12.2"),
        ("525.60.13", "12.0"),
        ("520.61.05", "11.8"),
        ("470.42.01", "11.4"),
        ("450.51.05", "11.0"),
        ("440.33.01", None),
    ],
)
def test_max_cuda_for_driver(driver, expected):
    assert cuda.max_cuda_for_driver(driver) == expected


def test_versions_compare_as_numbers_not_text():
    assert cuda.version_tuple("570.124.06") > cuda.version_tuple("570.26")
    assert cuda.version_tuple("12.10") > cuda.version_tuple("12.9")


def test_version_tuple_refuses_text():
    with pytest.raises(ValueError):
        cuda.version_tuple("12.x")


@pytest.mark.parametrize(
    "ceiling, flavour, image",
    [
        ("13.0", "base", "nvidia/cuda:13.0.3-base-ubuntu24.04"),
        ("13.1", "base", "nvidia/cuda:13.0.3-base-ubuntu24.04"),  # a newer driver still gets a published tag
        ("12.9", "runtime", "nvidia/cuda:12.9.1-runtime-ubuntu24.04"),
        ("12.7", "devel", "nvidia/cuda:12.6.3-devel-ubuntu24.04"),
        ("12.2", "base", "nvidia/cuda:12.2.2-base-ubuntu22.04"),
        ("11.8", "base", "nvidia/cuda:11.8.0-base-ubuntu22.04"),
        ("11.4", "base", None),  # no supported tag left (cuda.choose still knows 11.4.3, with a warning)
    ],
)
def test_cuda_image_for_the_driver_ceiling(ceiling, flavour, image):
    assert cuda.cuda_image_for(ceiling, flavour) == image


def test_cuda_image_never_latest():
    for ceiling in ("11.8", "12.0", "12.4", "12.8", "13.0"):
        assert not cuda.cuda_image_for(ceiling).endswith(":latest")


def test_unknown_flavour_is_refused():
    with pytest.raises(ValueError):
        cuda.cuda_image_for("13.0", "slim")


@pytest.mark.parametrize(
    "ceiling, image",
    [
        ("13.0", "pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime"),
        ("12.9", "pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime"),
        ("12.6", "pytorch/pytorch:2.9.1-cuda12.6-cudnn9-runtime"),
        ("12.4", "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"),
        ("12.2", "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"),
        ("11.4", None),
    ],
)
def test_pytorch_image_for_the_driver_ceiling(ceiling, image):
    assert cuda.pytorch_image_for(ceiling) == image


@pytest.mark.parametrize(
    "image, flavour",
    [
        ("nvidia/cuda:13.0.2-base-ubuntu24.04", "base"),
        ("nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04", "devel"),
        ("pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime", "runtime"),
        ("localhost:5000/nvidia/cuda:13.0.2-base-ubuntu24.04", "base"),
        ("rig/base:host", None),
        ("localhost:5000/devel", None),
    ],
)
def test_flavour_of(image, flavour):
    assert cuda.flavour_of(image) == flavour


def test_require_cuda_from_a_cuda_image_env():
    env = [
        "PATH=/usr/bin",
        "NVIDIA_REQUIRE_CUDA=cuda>=13.0 brand=unknown,driver>=535,driver<536",
        "NVIDIA_VISIBLE_DEVICES=all",
    ]
    req = cuda.parse_require_cuda(env)
    assert req.cuda == "13.0"
    assert req.met_by("13.0", "580.159.04", ("unknown",)) and req.met_by("13.1", "590.44.01")
    assert not req.met_by("12.9", "575.51.03", ("unknown",))


# A requirement in the form nvidia/cuda images carry (shortened): CUDA 12.8, or one of the listed
# driver branches on the listed brands, through the image's forward-compatibility libraries.
CUDA_12_8 = (
    "cuda>=12.8 brand=unknown,driver>=470,driver<471 brand=grid,driver>=470,driver<471 "
    "brand=tesla,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 "
    "brand=tesla,driver>=535,driver<536 brand=geforce,driver>=535,driver<536"
)


@pytest.mark.parametrize(
    "ceiling, driver, brands, met",
    [
        ("13.0", "580.159.04", ("unknown",), True),  # the H200 host
        ("12.2", "535.104.05", ("tesla",), True),  # an older driver branch the image lists for its brand
        ("12.2", "535.104.05", ("geforce",), True),
        ("12.2", "535.104.05", ("quadro",), False),  # that branch, but a brand the image does not list
        ("12.4", "550.54.14", ("tesla",), False),  # a branch the image does not list
        ("12.2", "535.104.05", ("tesla", "quadro"), False),  # every GPU must meet it
        ("12.2", "535.104.05", ("",), False),  # brand not known: not shown to be met
    ],
)
def test_require_cuda_alternatives_are_ored_and_conditions_anded(ceiling, driver, brands, met):
    req = cuda.parse_require_cuda([f"NVIDIA_REQUIRE_CUDA={CUDA_12_8}"])
    assert req.cuda == "12.8"
    assert req.met_by(ceiling, driver, brands) is met


def test_require_cuda_conditions_it_cannot_judge_do_not_hold():
    req = cuda.parse_require_cuda(["NVIDIA_REQUIRE_CUDA=arch>=9.0,cuda>=12.0 cuda>=99.0"])
    assert not req.met_by("13.0", "580.159.04", ("unknown",))
    assert not cuda.parse_require_cuda(["NVIDIA_REQUIRE_CUDA=cuda~12"]).met_by("13.0", "580.159.04", ("unknown",))


@pytest.mark.parametrize(
    "value, disabled",
    [("true", True), ("1", True), ("TRUE", True), ("t", True), ("yes", False), ("false", False), ("", False)],
)
def test_nvidia_disable_require_is_read_as_the_toolkit_reads_it(value, disabled):
    """The toolkit parses it with Go's strconv.ParseBool: `yes` does not turn the check off."""
    req = cuda.parse_require_cuda(["NVIDIA_REQUIRE_CUDA=cuda>=99.0", f"NVIDIA_DISABLE_REQUIRE={value}"])
    assert (req is None) is disabled, f"NVIDIA_DISABLE_REQUIRE={value!r}"


def test_every_nvidia_require_variable_must_hold():
    req = cuda.parse_require_cuda(["NVIDIA_REQUIRE_CUDA=cuda>=12.0", "NVIDIA_REQUIRE_DRIVER=driver>=590"])
    assert not req.met_by("13.0", "580.159.04"), "NVIDIA_REQUIRE_DRIVER is ANDed with NVIDIA_REQUIRE_CUDA"
    assert req.met_by("13.1", "590.44.01")


def test_an_image_with_cuda_version_and_no_requirement_requires_its_cuda():
    req = cuda.parse_require_cuda(["CUDA_VERSION=12.8.1"])
    assert req.raw == "cuda>=12.8"
    assert not req.met_by("12.4", "550.54.14")


def test_gpu_brand_read_from_the_h200s_xml():
    from runbook import host

    xml = (Path(__file__).parent.parent / "fixtures" / "h200" / "nvidia-smi-q-x.xml").read_text()
    gpu = host.parse_nvidia_smi_xml(xml).gpus[0]
    assert gpu.product_brand == "NVIDIA"
    assert gpu.brand == "unknown", "libnvidia-container maps NVML's NVIDIA brand to unknown"
    assert gpu.architecture == "hopper"


def test_require_cuda_absent():
    assert cuda.parse_require_cuda(["PATH=/usr/bin"]) is None
    assert cuda.parse_require_cuda(None) is None


@pytest.mark.parametrize(
    "product_brand, brand",
    [
        ("Quadro", "quadro"),
        ("GeForce", "geforce"),
        ("Tesla", "tesla"),
        ("NVIDIA", "unknown"),
        ("NVIDIA RTX", "unknown"),
        ("TITAN", "titan"),
    ],
)
def test_brands_are_mapped_as_libnvidia_container_maps_them(product_brand, brand):
    assert cuda.toolkit_brand(product_brand) == brand


# --- real NVIDIA_REQUIRE_CUDA values from NVIDIA's Dockerfiles (tests/fixtures/cuda, each with its source) ---
FIXTURES = json.loads((Path(__file__).parent.parent / "fixtures" / "cuda" / "require_cuda.json").read_text())


def real(image: str, contains: str = "") -> cuda.Requirement:
    value = next(
        e["NVIDIA_REQUIRE_CUDA"] for e in FIXTURES if e["image"] == image and contains in e["NVIDIA_REQUIRE_CUDA"]
    )
    return cuda.parse_requirement(value)


def test_the_articles_puzzle_a_quadro_on_470_meets_cuda_11_7_by_forward_compatibility():
    req = real("nvidia/cuda:11.7.1-base-ubuntu22.04", "quadro")
    facts = {"cuda": "11.4", "driver": "470.199.02", "brand": "quadro"}
    assert req.matching(facts) == "brand=quadro,driver>=470,driver<471"


def test_the_h200_meets_cuda_13_natively():
    req = real("nvidia/cuda:13.0.0-base-ubuntu24.04")
    assert req.matching({"cuda": "13.0", "driver": "580.159.04", "brand": "unknown"}) == "cuda>=13.0"


def test_a_driver_branch_the_image_does_not_list_is_refused():
    req = real("nvidia/cuda:13.0.0-base-ubuntu24.04")
    assert req.matching({"cuda": "12.6", "driver": "560.35.03", "brand": "unknown"}) is None


def test_every_fixture_parses_into_alternatives_with_the_cuda_floor_first():
    for e in FIXTURES:
        req = cuda.parse_requirement(e["NVIDIA_REQUIRE_CUDA"])
        assert req.cuda == ".".join(e["cuda_version"].split(".")[:2]), e["image"]
        assert all(c[0] != "unknown" for a in req.alternatives for c in a), f"{e['image']}: a condition not understood"


# --- choosing images for a driver ---


def test_the_articles_host_gets_cuda_11_4_natively_and_hears_of_forward_compatibility():
    c = cuda.choose("base", "470.199.02", "11.4", ("quadro",), ["maxwell"])
    assert c.image == "nvidia/cuda:11.4.3-base-ubuntu20.04"
    assert c.via == "native"
    assert not c.tag_supported, "11.4.3 is past NVIDIA's support: the choice must say the tag may be gone"
    assert any("forward compatibility" in n and "12.8" in n for n in c.notes), c.notes
    assert any("R580" in n for n in c.notes), "the Maxwell GPU is driven up to R580: the upgrade note says so"


def test_the_articles_host_gets_the_cu118_pytorch_image_by_minor_version_compatibility():
    c = cuda.choose("pytorch", "470.199.02", "11.4", ("quadro",), ["maxwell"])
    assert c.image == "pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime"
    assert c.via == "minor-version compatibility"


def test_a_geforce_is_never_given_forward_compatibility():
    c = cuda.choose("base", "470.199.02", "11.4", ("geforce",), ["pascal"])
    assert c.image == "nvidia/cuda:11.4.3-base-ubuntu20.04"
    assert any("804" in n for n in c.notes), c.notes


def test_a_driver_too_old_for_any_cuda_11_image_gets_none():
    assert cuda.choose("base", "418.226.00", "10.1", ("geforce",), ["pascal"]) is None
    assert cuda.choose("pytorch", "418.226.00", "10.1", ("geforce",), ["pascal"]) is None


def test_a_current_driver_gets_the_newest_supported_images_and_no_upgrade_note():
    base = cuda.choose("base", "580.159.04", "13.0", ("unknown",), ["hopper"])
    torch = cuda.choose("pytorch", "580.159.04", "13.0", ("unknown",), ["hopper"])
    assert (base.image, base.via, base.notes) == ("nvidia/cuda:13.0.3-base-ubuntu24.04", "native", [])
    assert torch.image == "pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime"


def test_the_table_has_a_date_and_a_source_for_each_part():
    t = cuda.table()
    assert t["date"]
    for part in ("min_driver", "families", "cuda_images", "pytorch_images"):
        assert part in t["sources"], f"{part} has no source"


@pytest.mark.parametrize(
    "image, version",
    [
        ("pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime", "11.8"),
        ("nvidia/cuda:12.8.2-base-ubuntu24.04", "12.8"),
        ("127.0.0.1:5000/nvidia/cuda:13.0.3-devel-ubuntu24.04", "13.0"),
        ("anibali/pytorch:1.13.0-cuda11.8-ubuntu22.04", "11.8"),
        ("rig/pytorch:host", None),
        ("python:3.12", None),
    ],
)
def test_the_cuda_a_tag_names(image, version):
    assert cuda.cuda_of_tag(image) == version
