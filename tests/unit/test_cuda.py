from pathlib import Path

import pytest

from runbook import cuda


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
        ("13.0", "base", "nvidia/cuda:13.0.2-base-ubuntu24.04"),
        ("13.1", "base", "nvidia/cuda:13.0.2-base-ubuntu24.04"),  # a newer driver still gets a published tag
        ("12.9", "runtime", "nvidia/cuda:12.9.1-runtime-ubuntu24.04"),
        ("12.7", "devel", "nvidia/cuda:12.6.3-devel-ubuntu24.04"),
        ("12.2", "base", "nvidia/cuda:12.2.2-base-ubuntu22.04"),
        ("11.8", "base", "nvidia/cuda:11.8.0-base-ubuntu22.04"),
        ("11.4", "base", None),  # no supported tag left
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
        ("12.4", "pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime"),
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
    assert req.met_by("13.0", "580.159.04", ("nvidia",)) and req.met_by("13.1")
    assert not req.met_by("12.9", "575.51.03", ("nvidia",))


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
        ("13.0", "580.159.04", ("nvidia",), True),  # the H200 host
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
    assert not req.met_by("13.0", "580.159.04", ("nvidia",))
    assert not cuda.parse_require_cuda(["NVIDIA_REQUIRE_CUDA=cuda~12"]).met_by("13.0", "580.159.04", ("nvidia",))


def test_require_cuda_turned_off_by_nvidia_disable_require():
    assert cuda.parse_require_cuda(["NVIDIA_REQUIRE_CUDA=cuda>=99.0", "NVIDIA_DISABLE_REQUIRE=true"]) is None


def test_gpu_brand_read_from_the_h200s_xml():
    from runbook import host

    xml = (Path(__file__).parent.parent / "fixtures" / "h200" / "nvidia-smi-q-x.xml").read_text()
    assert [g.brand for g in host.parse_nvidia_smi_xml(xml).gpus] == ["nvidia"]


def test_require_cuda_absent():
    assert cuda.parse_require_cuda(["PATH=/usr/bin"]) is None
    assert cuda.parse_require_cuda(None) is None
