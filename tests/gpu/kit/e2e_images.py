"""Stand-ins for the images NVIDIA's end-to-end suite pulls, made from the GPU host's files (as
tests/gpu/kit/images.py makes nvidia/cuda and pytorch) and written into the kit's registry under their
real names. Used by tests/gpu/kit/e2e.sh; ``--dry-run`` shows what each would hold, anywhere.

- ``ubuntu:latest`` and ``ubuntu:24.04`` (the registry's ``library/ubuntu``): the kit's Ubuntu userland
  layer (images.py: this host's Essential and required packages, apt, ca-certificates) with ubuntu's own
  environment (PATH without /usr/local/nvidia/bin, Cmd bash).
- ``busybox:latest``: Debian's static busybox (``--busybox``, from the e2e kit) and its applet links.
- ``nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0`` and ``…:devicequery-cuda12.5.0`` (the registry's
  ``nvidia/k8s/cuda-sample``; e2e.sh serves it as nvcr.io too): the userland and the nvidia/cuda base layer
  (libcudart from this host's nvidia-cuda-runtime wheel, NVIDIA's environment), plus the kit's own
  vectorAdd / deviceQuery (tests/gpu/kit/samples/, not NVIDIA's sample code), compiled here by this host's
  real nvcc against the shared CUDA runtime, run as the image's command. They are CUDA 13 builds under a
  12.5.0 tag: the tag is the suite's, the CUDA is what the host has.
- Not made, since no registry here serves what they need: ``nvcr.io/nvidia/cuda:*-base-ubi8`` (NVIDIA's
  cuda-compat package: no wheel carries the compat libcuda), ``redhat/ubi9``, ``alpine``, ``kindest/*``.
- Each image's label ``org.gpu-runbook.kit.stand-in`` says what it is and where it differs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import images  # noqa: E402  (tests/gpu/kit/images.py)

SAMPLES = Path(__file__).resolve().parent / "samples"
SAMPLE_REPO = "nvidia/k8s/cuda-sample"
SAMPLE_TAGS = {"vectorAdd": "vectoradd-cuda12.5.0", "deviceQuery": "devicequery-cuda12.5.0"}
BUSYBOX_APPLETS = ("sh", "ls", "cat", "true", "false", "echo", "env", "grep", "awk", "sleep", "id", "mount")


def find_nvcc() -> str:
    """nvcc on PATH, else CUDA's usual folder, else the one a pip-installed CUDA toolkit (nvidia/cu*/bin) holds."""
    import glob
    import sysconfig

    found = shutil.which("nvcc") or (
        "/usr/local/cuda/bin/nvcc" if os.access("/usr/local/cuda/bin/nvcc", os.X_OK) else ""
    )
    if not found:
        wheels = sorted(glob.glob(os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "cu*", "bin", "nvcc")))
        found = wheels[-1] if wheels else ""
    return found


def say(*args) -> None:
    print("e2e-images:", *args, file=sys.stderr, flush=True)


def compile_samples(nvcc: str, out: Path) -> dict[str, Path]:
    """Each sample built by nvcc for Hopper (sm_90 code) with PTX for the rest, CUDA runtime shared."""
    built = {}
    for name in SAMPLE_TAGS:
        target = out / name
        cmd = [
            nvcc,
            "-O2",
            "-cudart",
            "shared",
            "-gencode",
            "arch=compute_90,code=sm_90",
            "-gencode",
            "arch=compute_75,code=compute_75",
            "-o",
            str(target),
            str(SAMPLES / f"{name}.cu"),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"e2e-images: nvcc failed for {name}: {(r.stderr or r.stdout).strip()[-500:]}")
        built[name] = target
    return built


def nvcc_version(nvcc: str) -> str:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    return next((ln.strip() for ln in out.splitlines() if "release" in ln), out.strip()[-80:])


def ld_cache_layer(userland: images.Layer) -> images.Layer:
    """/etc/ld.so.cache of the userland, as the real image has one (`ldconfig -p` reads it): ldconfig -r over
    a copy of the userland's libraries and its ld.so.conf files."""
    tree = images.Tree()
    with tempfile.TemporaryDirectory(prefix="e2e-ldcache-") as root:
        for path, e in userland.tree.entries.items():
            is_conf = path == "etc/ld.so.conf" or path.startswith("etc/ld.so.conf.d/")
            if not (is_conf or re.search(r"(^|/)lib[^/]*/([^/]+/)?[^/]+\.so(\.[0-9.]+)?$", path)):
                continue
            dest = Path(root, path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if e.kind == "link":
                os.symlink(e.target, dest)
            elif e.kind == "file" and e.src:
                shutil.copyfile(e.src, dest)
            elif e.kind == "data":
                dest.write_bytes(e.data)
        for top in ("lib", "lib64"):  # merged /usr: ldconfig follows the links
            if userland.tree.entries.get(top, images.Entry("dir")).kind == "link" and not Path(root, top).exists():
                os.symlink(userland.tree.entries[top].target, Path(root, top))
        Path(root, "etc").mkdir(exist_ok=True)
        r = subprocess.run(["ldconfig", "-r", root], capture_output=True, text=True)
        cache = Path(root, "etc/ld.so.cache")
        if r.returncode != 0 or not cache.is_file():
            raise SystemExit(f"e2e-images: ldconfig -r failed: {r.stderr.strip()[-300:]}")
        tree.add_data("etc/ld.so.cache", cache.read_bytes())
    return images.Layer("/etc/ld.so.cache of the userland (ldconfig -r)", tree)


def ubuntu_images(userland: images.Layer) -> list[images.Image]:
    differs = (
        "not Canonical's image: the GPU runbook kit's Ubuntu userland (tests/gpu/kit/images.py) from the GPU "
        "host's own packages; ubuntu:24.04's environment (PATH, Cmd)"
    )
    config = {"Env": [f"PATH={images.UBUNTU_PATH}"], "Cmd": ["/bin/bash"], "Labels": {images.LABEL: differs}}
    layers = [userland, ld_cache_layer(userland)]
    return [images.Image(f"library/ubuntu:{tag}", "ubuntu", config, layers) for tag in ("latest", "24.04")]


def busybox_image(busybox: str) -> images.Image:
    tree = images.Tree()
    tree.add_host(busybox, "bin/busybox", root_owned=True)
    for applet in BUSYBOX_APPLETS:
        tree.add_link(f"bin/{applet}", "busybox")
    for d in ("etc", "tmp", "proc", "sys", "dev", "root"):  # no /usr/lib: the static busybox needs none
        tree.add_dir(d)
    tree.add_data("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    tree.add_data("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    differs = (
        f"not the Docker Official Image: Debian's static busybox ({os.path.basename(busybox)}), "
        f"{len(BUSYBOX_APPLETS)} applets"
    )
    config = {"Env": [f"PATH={images.UBUNTU_PATH}"], "Cmd": ["sh"], "Labels": {images.LABEL: differs}}
    return images.Image("library/busybox:latest", "busybox", config, [images.Layer("busybox (static)", tree)])


def sample_images(ceiling: str, userland: images.Layer, built: dict[str, Path], compiler: str) -> list[images.Image]:
    base = images.cuda_images(ceiling, userland, None, ["base"])[0]
    out = []
    for name, binary in built.items():
        tree = images.Tree()
        tree.add_host(str(binary), f"cuda-samples/{name}", root_owned=True)
        config = {k: v for k, v in base.config.items() if k != "Labels"}
        config["Cmd"] = [f"/cuda-samples/{name}"]
        config["WorkingDir"] = "/cuda-samples"
        config["Labels"] = {
            images.LABEL: (
                f"not NVIDIA's cuda-sample image: the kit's own {name} (tests/gpu/kit/samples/{name}.cu, not NVIDIA's "
                f"sample code) compiled on the GPU host by {compiler}, CUDA runtime shared from the host's "
                f"nvidia-cuda-runtime wheel, on the kit's {base.name} stand-in; the tag says CUDA 12.5.0, the "
                "build is the host's CUDA"
            )
        }
        layer = images.Layer(f"{name} compiled by the host's nvcc", tree)
        out.append(images.Image(f"{SAMPLE_REPO}:{SAMPLE_TAGS[name]}", name, config, [*base.layers, layer]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", default="127.0.0.1:5000")
    ap.add_argument("--cuda", default="", help="the driver's CUDA ceiling (default: nvidia-smi's, else 13.0)")
    ap.add_argument("--nvcc", default=find_nvcc(), help="the nvcc that builds the samples")
    ap.add_argument("--busybox", default="", help="a static busybox binary, for busybox:latest")
    ap.add_argument("--force", action="store_true", help="make again what the registry already has")
    ap.add_argument("--dry-run", action="store_true", help="show what each image would hold; write nothing")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    ceiling = args.cuda or images.driver_ceiling() or "13.0"
    reg = images.Registry(args.registry)

    def wanted(name: str) -> bool:
        if args.dry_run or args.force:
            return True
        if reg.has_manifest(*name.rsplit(":", 1)):
            say(f"{name}: already in {args.registry}")
            return False
        return True

    userland = images.userland_layer()
    todo = [i for i in ubuntu_images(userland) if wanted(i.name)]
    if args.busybox and wanted("library/busybox:latest"):
        todo.append(busybox_image(args.busybox))
    elif not args.busybox:
        say("busybox:latest: not made (no --busybox binary)")
    if not args.nvcc:
        say("cuda-sample images: not made: no nvcc on PATH (--nvcc)")
    elif any(wanted(f"{SAMPLE_REPO}:{t}") for t in SAMPLE_TAGS.values()):
        work = Path(tempfile.mkdtemp(prefix="e2e-samples-"))
        compiler = nvcc_version(args.nvcc)
        built = {} if args.dry_run else compile_samples(args.nvcc, work)
        if args.dry_run:
            built = {name: Path(args.nvcc) for name in SAMPLE_TAGS}  # a placeholder file for the plan
        say(f"samples compiled by {args.nvcc} ({compiler})")
        todo += sample_images(ceiling, userland, built, compiler)
    for layer in {id(la): la for i in todo for la in i.layers}.values():
        layer.tree.finish()
    for image in todo:
        say(f"{image.name}: {len(image.layers)} layers; {image.config['Labels'][images.LABEL][:160]}")
    if args.dry_run:
        return 0
    errors = 0
    for image in todo:
        try:
            r = images.publish(reg, image)
            say(f"{r['image']}: in {args.registry}, {r['size'] / 1e6:.0f} MB")
        except Exception as e:  # noqa: BLE001 - every image is tried; the exit code says it
            errors += 1
            say(f"{image.name}: FAILED: {e}")
    say(f"done in {time.monotonic() - t0:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
