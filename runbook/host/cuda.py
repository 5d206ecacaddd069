"""CUDA compatibility as NVIDIA defines it, and the image tags chosen for a driver.

- The driver's ceiling: the newest CUDA whose minimum driver it meets (``nvidia-smi``'s "CUDA
  Version" on the host). An image of that CUDA or older runs natively.
- Minor-version compatibility (CUDA Compatibility guide): a program built with CUDA X.y runs on any
  driver from the X family's floor (11.x: 450.80.02, 12.x: 525.60.13, 13.x: 580.65.06), with limits
  (no JIT of PTX newer than the driver). PyTorch images bring their own CUDA runtime and rely on this.
- Forward compatibility: an ``nvidia/cuda`` image carries ``cuda-compat`` libraries that let a newer
  CUDA run on an older driver branch, on data-center and professional GPUs only (a GeForce fails at
  run time with CUDA error 804). The image's NVIDIA_REQUIRE_CUDA lists, as alternatives such as
  ``brand=quadro,driver>=470,driver<471``, the branches and brands it allows.
- NVIDIA_REQUIRE_CUDA is evaluated as libnvidia-container does (the ``--gpus`` path): alternatives
  separated by spaces are ORed, conditions separated by commas ANDed, on every GPU given to the
  container, with the GPU's brand as NVML names it; the CDI and jit-cdi paths do not check it.

The facts that change (tags, minimum drivers, last driver branch of each GPU generation) are data,
in ``cuda_images.json`` with its date and sources.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..i18n import N_, _, translate


@lru_cache(maxsize=1)
def table() -> dict:
    return json.loads(resources.files("runbook").joinpath("cuda_images.json").read_text())


def version_tuple(v: str) -> tuple[int, ...]:
    """'580.65.06' -> (580, 65, 6); raises ValueError for anything that is not dotted numbers."""
    if not re.fullmatch(r"\d+(\.\d+)*", v.strip()):
        raise ValueError(f"not a version: {v!r}")
    return tuple(int(p) for p in v.strip().split("."))


def _key(v: str) -> tuple[int, ...]:
    return version_tuple(v)


FLAVOURS = {
    "base": N_("the CUDA runtime (cudart) only: enough for nvidia-smi and programs that bring their own libraries"),
    "runtime": N_("base + the CUDA libraries (cuBLAS, cuFFT, NCCL, ...): for running CUDA programs"),
    "devel": N_("runtime + headers, static libraries and the compiler nvcc: for building CUDA code"),
}


def flavour_text(flavour: str) -> str:
    """What an image of this flavour holds, in the active language."""
    return translate(FLAVOURS[flavour])


def max_cuda_for_driver(driver_version: str) -> str | None:
    """The newest CUDA release whose minimum driver this driver meets (the driver's ceiling), or None."""
    have = version_tuple(driver_version)
    fits = [c for c, minimum in table()["min_driver"].items() if have >= version_tuple(minimum)]
    return max(fits, key=_key) if fits else None


def newest_branch() -> int:
    """The newest driver branch the table knows (the branch of the newest CUDA's minimum driver)."""
    return max(version_tuple(v)[0] for v in table()["min_driver"].values())


def beyond_table(driver_version: str) -> bool:
    """Whether this driver is of a branch newer than any the table knows (a table older than the driver)."""
    return version_tuple(driver_version)[0] > newest_branch()


def beyond_table_note(driver_version: str) -> str:
    """What the runbook says when the driver is newer than its table: the choice may not be the newest."""
    return _(
        "driver {driver} is newer than the CUDA table knows (its newest branch is R{branch}, table of {date}): "
        "the image chosen is the newest the table knows, and newer CUDA images may exist for this driver"
    ).format(driver=driver_version, branch=newest_branch(), date=table()["date"])


def family_floor(cuda: str) -> str | None:
    """The lowest driver that runs CUDA ``cuda`` through minor-version compatibility, or None."""
    return table()["families"].get(cuda.split(".")[0])


def runs_by_minor_version(cuda: str, driver_version: str) -> bool:
    floor = family_floor(cuda)
    return floor is not None and version_tuple(driver_version) >= version_tuple(floor)


def _newest_at_most(ceiling: str, candidates) -> str | None:
    cap = version_tuple(ceiling)[:2]
    fits = [c for c in candidates if version_tuple(c) <= cap]
    return max(fits, key=_key) if fits else None


def cuda_image_for(ceiling: str, flavour: str = "base") -> str | None:
    """The nvidia/cuda image of ``flavour`` for the newest CUDA at or below ``ceiling`` that NVIDIA still
    supports (``choose`` also knows older tags and forward compatibility)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {sorted(FLAVOURS)}, not {flavour!r}")
    supported = [c for c, e in table()["cuda_images"].items() if e["supported"]]
    cuda = _newest_at_most(ceiling, supported)
    return cuda_tag(cuda, flavour) if cuda else None


def cuda_tag(cuda: str, flavour: str) -> str:
    entry = table()["cuda_images"][cuda]
    return f"nvidia/cuda:{entry['version']}-{flavour}-{entry['os']}"


def pytorch_image_for(ceiling: str) -> str | None:
    cuda = _newest_at_most(ceiling, table()["pytorch_images"])
    return table()["pytorch_images"][cuda] if cuda else None


def flavour_of(image: str) -> str | None:
    """base / runtime / devel, read from an nvidia/cuda or pytorch/pytorch style tag; None if unknown."""
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    for f in ("devel", "runtime", "base"):
        if re.search(rf"(^|-){f}(-|$)", tag):
            return f
    return None


def cuda_of_tag(image: str) -> str | None:
    """The CUDA major.minor an image tag names: ``…-cuda12.8-…`` (pytorch/pytorch), or the version a
    CUDA image's tag starts with (nvidia/cuda:12.8.2-base-…); None when it names none."""
    repo, _sep, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    m = re.search(r"cuda(\d+)\.(\d+)", tag)
    if m is None and repo.rsplit("/", 1)[-1] == "cuda":
        m = re.match(r"(\d+)\.(\d+)", tag)
    return f"{m.group(1)}.{m.group(2)}" if m else None


# --- NVIDIA_REQUIRE_CUDA, as libnvidia-container evaluates it --------------------------------------

# NVML's brands as libnvidia-container names them for brand=; every other brand is "unknown"
# (src/driver.c, driver_get_device_brand_1_svc).
TOOLKIT_BRANDS = ("quadro", "tesla", "nvs", "grid", "geforce", "titan")
CONSUMER_BRANDS = ("geforce", "titan")  # forward compatibility is for data-center and professional GPUs


def toolkit_brand(product_brand: str) -> str:
    """The brand= value a GPU matches: nvidia-smi's product_brand as libnvidia-container maps it."""
    b = product_brand.strip().lower()
    return b if b in TOOLKIT_BRANDS else "unknown"


CONDITION = re.compile(r"^(cuda|driver|arch|brand)\s*(>=|<=|!=|=|>|<)\s*(\S+)$")


@dataclass(frozen=True)
class Requirement:
    """An image's NVIDIA_REQUIRE_* values: each is a list of alternatives (space-separated, ORed), each
    alternative a list of conditions (comma-separated, ANDed); all values must hold."""

    raw: str
    alternatives: tuple[tuple[tuple[str, str, str], ...], ...]
    others: tuple[Requirement, ...] = ()

    @property
    def cuda(self) -> str:
        """The CUDA minimum the first alternative names (the native requirement), '' when none."""
        return next((c[2] for a in self.alternatives for c in a if c[0] == "cuda"), "")

    def matching(self, facts: dict[str, str]) -> str | None:
        """The first alternative that holds for ``facts`` (cuda, driver, brand, arch), or None."""
        for alternative, text in zip(self.alternatives, self.raw.split(), strict=True):
            if all(_holds(c, facts) for c in alternative):
                return text
        return None

    def met_by(self, cuda_ceiling: str, driver_version: str, brands: tuple[str, ...] = ("unknown",)) -> bool:
        """Whether the requirement holds for every GPU (given by toolkit brand). A condition on a fact
        not known here (``arch``, an empty value) does not hold: met means shown to be met."""
        return all(
            r.matching({"cuda": cuda_ceiling, "driver": driver_version, "brand": b}) is not None
            for b in brands
            for r in (self, *self.others)
        )


def _holds(condition: tuple[str, str, str], facts: dict[str, str]) -> bool:
    key, op, want = condition
    have = facts.get(key, "")
    if not have:
        return False
    if key == "brand":
        same = have.lower() == want.lower()
        return same if op == "=" else (not same if op == "!=" else False)
    try:
        a, b = version_tuple(have), version_tuple(want)
    except ValueError:
        return False
    width = max(len(a), len(b))  # missing trailing parts are 0, as libnvidia-container compares
    a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
    return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b, "=": a == b, "!=": a != b}[op]


def parse_requirement(value: str) -> Requirement:
    """One NVIDIA_REQUIRE_* value. A condition the toolkit would not understand makes its alternative
    unmeetable (the toolkit refuses the container when it reaches one)."""
    alternatives = []
    for alternative in value.split():
        matches = [CONDITION.match(c.strip()) for c in alternative.split(",") if c.strip()]
        alternatives.append(tuple(m.groups() if m else ("unknown", "=", "") for m in matches))
    return Requirement(value, tuple(alternatives))


def _parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool, which the toolkit reads NVIDIA_DISABLE_REQUIRE with."""
    return text in ("1", "t", "T", "TRUE", "true", "True")


def parse_require_cuda(env: list[str] | None) -> Requirement | None:
    """The requirements in an image's Env list (``KEY=value``), as the toolkit collects them: every
    NVIDIA_REQUIRE_* (but JETPACK), all of which must hold; an image with CUDA_VERSION and no
    NVIDIA_REQUIRE_CUDA requires cuda>=its major.minor. None when there is none or NVIDIA_DISABLE_REQUIRE
    is true."""
    values = dict(item.partition("=")[::2] for item in env or [])
    if _parse_bool(values.get("NVIDIA_DISABLE_REQUIRE", "").strip()):
        return None
    found = {
        k: v.strip()
        for k, v in values.items()
        if k.startswith("NVIDIA_REQUIRE_") and not k.startswith("NVIDIA_REQUIRE_JETPACK") and v.strip()
    }
    if "NVIDIA_REQUIRE_CUDA" not in found and values.get("CUDA_VERSION"):
        m = re.match(r"(\d+)\.(\d+)", values["CUDA_VERSION"])
        if m:
            found["NVIDIA_REQUIRE_CUDA"] = f"cuda>={m.group(1)}.{m.group(2)}"
    if not found:
        return None
    first = found.pop("NVIDIA_REQUIRE_CUDA", None) or found.pop(sorted(found)[0])
    main = parse_requirement(first)
    return Requirement(main.raw, main.alternatives, tuple(parse_requirement(v) for v in found.values()))


# --- choosing an image for a driver ----------------------------------------------------------------


@dataclass
class Choice:
    """An image chosen for a driver, and why: ``via`` is native, forward compatibility or minor-version
    compatibility; ``notes`` say what else the driver allows, and when the tag may be gone."""

    image: str
    cuda: str
    via: str
    detail: str
    notes: list[str] = field(default_factory=list)
    tag_supported: bool = True


def architecture(gpu_name: str, product_architecture: str = "") -> str:
    """The GPU's generation, lower case: nvidia-smi's product_architecture, else known by its name."""
    if product_architecture and product_architecture.lower() not in ("n/a", "unknown"):
        return product_architecture.lower()
    for pattern, arch in table()["architecture_by_name"]:
        if pattern.lower() in gpu_name.lower():
            return arch
    return ""


def upgrade_note(driver_version: str, archs: list[str]) -> str:
    """What a driver upgrade would open, and the newest branch that still drives these GPUs ('' when this
    driver already runs the newest images the runbook knows)."""
    images = table()["cuda_images"]
    newest = max(images, key=_key)
    ceiling = max_cuda_for_driver(driver_version)
    last = sorted({table()["last_branch"][a] for a in archs if a in table()["last_branch"]}, key=int)
    if last:
        branch = int(last[0])
        reachable = max((c for c in images if version_tuple(table()["min_driver"][c])[0] <= branch), key=_key)
        if version_tuple(driver_version)[0] >= branch:
            return _(
                "this GPU's generation ({archs}) is supported up to the R{branch} driver branch, "
                "which this driver is: CUDA {reachable} is as far as it goes"
            ).format(archs=", ".join(archs), branch=branch, reachable=reachable)
        return _(
            "a driver upgrade to the R{branch} branch (the last that supports this GPU's generation, "
            "{archs}) would open images up to CUDA {reachable}"
        ).format(archs=", ".join(archs), branch=branch, reachable=reachable)
    if ceiling and version_tuple(ceiling) >= version_tuple(newest):
        return ""
    branch = table()["min_driver"][newest].split(".")[0]
    return _("a newer driver would open newer images (up to CUDA {newest} with R{branch} or newer)").format(
        newest=newest, branch=branch
    )


def choose(kind: str, driver_version: str, ceiling: str, brands: tuple[str, ...], archs: list[str]) -> Choice | None:
    """The image of ``kind`` (base, runtime, devel, pytorch) for this driver, or None when none is known.

    CUDA images: the newest tag whose CUDA the driver supports natively, NVIDIA's supported tags first;
    a newer one reachable through forward compatibility is named in the notes. PyTorch images: the newest
    whose CUDA is at or below the ceiling, else the newest of a family the driver runs through
    minor-version compatibility."""
    notes: list[str] = []
    if kind == "pytorch":
        images = table()["pytorch_images"]
        native = _newest_at_most(ceiling, images) if ceiling else None
        if native:
            choice = Choice(
                images[native],
                native,
                "native",
                _("{image}: built for CUDA {cuda}, which driver {driver} supports (up to {ceiling})").format(
                    image=images[native], cuda=native, driver=driver_version, ceiling=ceiling
                ),
            )
        else:
            mvc = [c for c in images if runs_by_minor_version(c, driver_version)]
            if not mvc:
                return None
            cuda = max(mvc, key=_key)
            choice = Choice(
                images[cuda],
                cuda,
                "minor-version compatibility",
                _(
                    "{image}: CUDA {cuda} runs on driver {driver} (ceiling {ceiling}) "
                    "through minor-version compatibility (CUDA {major}.x needs driver >= "
                    "{floor}; PyTorch brings its own CUDA runtime; no JIT of newer PTX)"
                ).format(
                    image=images[cuda],
                    cuda=cuda,
                    driver=driver_version,
                    ceiling=ceiling or "?",
                    major=cuda.split(".")[0],
                    floor=family_floor(cuda),
                ),
            )
    else:
        entries = table()["cuda_images"]
        native_all = [c for c in entries if ceiling and version_tuple(c) <= version_tuple(ceiling)[:2]]
        supported = [c for c in native_all if entries[c]["supported"]]
        pick = max(supported or native_all, key=_key) if native_all else None
        consumer = all(b in CONSUMER_BRANDS for b in brands)  # forward compatibility fails there (error 804)
        beyond = [c for c in entries if not ceiling or version_tuple(c) > version_tuple(ceiling)[:2]]
        admitted = [
            c
            for c in beyond
            if parse_requirement(entries[c]["require"]).met_by(ceiling or "0.0", driver_version, brands)
        ]
        forward = [] if consumer else admitted
        if consumer and admitted:
            notes.append(
                _(
                    "newer images' NVIDIA_REQUIRE_CUDA admit this GeForce on this driver branch, but forward "
                    "compatibility fails on GeForce GPUs at run time (CUDA error 804): they are not chosen"
                )
            )
        if pick is None and not forward:
            return None
        if pick is not None:
            choice = Choice(
                cuda_tag(pick, kind),
                pick,
                "native",
                _("{image}: CUDA {cuda}, which driver {driver} supports natively (up to {ceiling})").format(
                    image=cuda_tag(pick, kind), cuda=pick, driver=driver_version, ceiling=ceiling
                ),
                tag_supported=entries[pick]["supported"],
            )
            if forward:
                notes.append(
                    _(
                        "through forward compatibility (the image's cuda-compat libraries, on this GPU's brand "
                        "and driver branch) images up to CUDA {cuda} also run here"
                    ).format(cuda=max(forward, key=_key))
                )
        else:
            cuda = max(forward, key=_key)
            choice = Choice(
                cuda_tag(cuda, kind),
                cuda,
                "forward compatibility",
                _(
                    "{image}: CUDA {cuda} runs on driver {driver} (ceiling {ceiling}) through forward "
                    "compatibility: its NVIDIA_REQUIRE_CUDA allows this GPU's brand on this driver branch"
                ).format(image=cuda_tag(cuda, kind), cuda=cuda, driver=driver_version, ceiling=ceiling),
                tag_supported=entries[cuda]["supported"],
            )
        if not choice.tag_supported:
            notes.append(
                _(
                    "NVIDIA no longer supports this tag (support policy: end-of-life tags are deleted from "
                    "Docker Hub six months later; table of {date}): the pull may find it gone"
                ).format(date=table()["date"])
            )
    upgrade = upgrade_note(driver_version, archs)
    if upgrade:
        notes.append(upgrade)
    choice.notes = notes
    return choice
