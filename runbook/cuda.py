"""CUDA compatibility: which CUDA a driver supports, what an image requires, which image tag to pick.

``nvidia-smi``'s "CUDA Version" is the driver's ceiling; an image whose NVIDIA_REQUIRE_CUDA asks for
more is refused by the toolkit (``unsatisfied condition: cuda>=``), so tags are chosen against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Minimum Linux driver for each CUDA release (GA), from NVIDIA's CUDA release notes.
MIN_DRIVER: tuple[tuple[str, str], ...] = (
    ("11.0", "450.51.05"),
    ("11.4", "470.42.01"),
    ("11.7", "515.43.04"),
    ("11.8", "520.61.05"),
    ("12.0", "525.60.13"),
    ("12.2", "535.54.03"),
    ("12.4", "550.54.14"),
    ("12.6", "560.28.03"),
    ("12.8", "570.26"),
    ("12.9", "575.51.03"),
    ("13.0", "580.65.06"),
)

# Full nvidia/cuda tags published for each CUDA minor (the last patch release and its newest Ubuntu).
CUDA_IMAGE_TAGS: dict[str, tuple[str, str]] = {
    "13.0": ("13.0.2", "ubuntu24.04"),
    "12.9": ("12.9.1", "ubuntu24.04"),
    "12.8": ("12.8.1", "ubuntu24.04"),
    "12.6": ("12.6.3", "ubuntu24.04"),
    "12.4": ("12.4.1", "ubuntu22.04"),
    "12.2": ("12.2.2", "ubuntu22.04"),
    "12.0": ("12.0.1", "ubuntu22.04"),
    "11.8": ("11.8.0", "ubuntu22.04"),
}

# pytorch/pytorch runtime images by the CUDA they are built for.
PYTORCH_IMAGE_TAGS: dict[str, str] = {
    "13.0": "pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime",
    "12.8": "pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime",
    "12.6": "pytorch/pytorch:2.9.1-cuda12.6-cudnn9-runtime",
    "11.8": "pytorch/pytorch:2.7.1-cuda11.8-cudnn9-runtime",
}

FLAVOURS = {
    "base": "the CUDA runtime (cudart) only: enough for nvidia-smi and programs that bring their own libraries",
    "runtime": "base + the CUDA libraries (cuBLAS, cuFFT, NCCL, ...): for running CUDA programs",
    "devel": "runtime + headers, static libraries and the compiler nvcc: for building CUDA code",
}


def version_tuple(v: str) -> tuple[int, ...]:
    """'580.65.06' -> (580, 65, 6); raises ValueError for anything that is not dotted numbers."""
    if not re.fullmatch(r"\d+(\.\d+)*", v.strip()):
        raise ValueError(f"not a version: {v!r}")
    return tuple(int(p) for p in v.strip().split("."))


def max_cuda_for_driver(driver_version: str) -> str | None:
    """The newest CUDA release in MIN_DRIVER whose minimum driver this driver meets, or None."""
    have = version_tuple(driver_version)
    best = None
    for cuda, minimum in MIN_DRIVER:
        if have >= version_tuple(minimum):
            best = cuda
    return best


def _newest_at_most(ceiling: str, table) -> str | None:
    cap = version_tuple(ceiling)[:2]
    fits = [c for c in table if version_tuple(c) <= cap]
    return max(fits, key=version_tuple) if fits else None


def cuda_image_for(ceiling: str, flavour: str = "base") -> str | None:
    """The nvidia/cuda image of ``flavour`` for the newest CUDA at or below the driver's ceiling."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {sorted(FLAVOURS)}, not {flavour!r}")
    cuda = _newest_at_most(ceiling, CUDA_IMAGE_TAGS)
    if cuda is None:
        return None
    full, os_tag = CUDA_IMAGE_TAGS[cuda]
    return f"nvidia/cuda:{full}-{flavour}-{os_tag}"


def pytorch_image_for(ceiling: str) -> str | None:
    cuda = _newest_at_most(ceiling, PYTORCH_IMAGE_TAGS)
    return PYTORCH_IMAGE_TAGS[cuda] if cuda else None


def flavour_of(image: str) -> str | None:
    """base / runtime / devel, read from an nvidia/cuda or pytorch/pytorch style tag; None if unknown."""
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    for f in ("devel", "runtime", "base"):
        if re.search(rf"(^|-){f}(-|$)", tag):
            return f
    return None


@dataclass(frozen=True)
class Requirement:
    """An image's NVIDIA_REQUIRE_CUDA, as the toolkit reads it: space-separated alternatives, each a
    comma-separated list of conditions that must all hold (``cuda>=12.8 brand=tesla,driver>=470,driver<471``
    means CUDA 12.8 or newer, or a Tesla GPU on a 470 driver, through the image's forward-compatibility
    libraries)."""

    cuda: str  # the CUDA minimum of the first alternative that names one, for messages
    raw: str
    alternatives: tuple[tuple[tuple[str, str, str], ...], ...]

    def met_by(self, cuda_ceiling: str, driver_version: str = "", brands: tuple[str, ...] = ("",)) -> bool:
        """Whether the driver meets the requirement for every GPU (given by brand). A condition on a fact
        not known here (``arch``, or an empty value) does not hold: met means shown to be met."""
        return all(
            any(
                all(_holds(c, {"cuda": cuda_ceiling, "driver": driver_version, "brand": brand}) for c in conditions)
                for conditions in self.alternatives
            )
            for brand in brands
        )


CONDITION = re.compile(r"^(cuda|driver|arch|brand)\s*(>=|<=|==|=|>|<)\s*(\S+)$")


def _holds(condition: tuple[str, str, str], facts: dict[str, str]) -> bool:
    key, op, want = condition
    have = facts.get(key, "")
    if not have:
        return False
    if key == "brand":
        return op in ("=", "==") and have.lower() == want.lower()
    try:
        a, b = version_tuple(have), version_tuple(want)
    except ValueError:
        return False
    if key == "cuda":
        a, b = a[:2], b[:2]
    return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b, "=": a == b, "==": a == b}[op]


def parse_require_cuda(env: list[str] | None) -> Requirement | None:
    """NVIDIA_REQUIRE_CUDA from an image's Env list (``KEY=value`` strings); None when absent, or when
    NVIDIA_DISABLE_REQUIRE turns the check off. A condition the toolkit would not understand makes its
    alternative unmeetable."""
    values = dict(item.partition("=")[::2] for item in env or [])
    value = values.get("NVIDIA_REQUIRE_CUDA", "").strip()
    if not value or values.get("NVIDIA_DISABLE_REQUIRE", "").lower() in ("1", "true", "yes"):
        return None
    alternatives = []
    for alternative in value.split():
        matches = [CONDITION.match(c.strip()) for c in alternative.split(",") if c.strip()]
        alternatives.append(tuple(m.groups() if m else ("unknown", "=", "") for m in matches))
    minimum = next((c[2] for a in alternatives for c in a if c[0] == "cuda"), "")
    return Requirement(minimum, value, tuple(alternatives))
