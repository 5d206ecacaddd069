"""Stand-ins for the images the runbook pulls, made from this host's own files and written into a registry
on loopback under their real names, so that the engine pulls them through its registry mirror.

Used by tests/gpu/kit/up.sh on the GPU host, where no registry can be reached; ``--dry-run`` shows what
each image would hold, anywhere.

- The names are the runbook's own choice for the driver's CUDA (runbook/host/cuda.py): ``cuda_image_for(ceiling,
  flavour)`` for base, runtime and devel, and ``pytorch_image_for(ceiling)``; the ceiling is the driver's
  CUDA version (nvidia-smi), or ``--cuda``.
- The images go straight into the registry through its HTTP API (no Dockerfile, no build kit, no engine):
  each layer is a tar stream written here and uploaded as it is written, uncompressed (OCI media type
  ``application/vnd.oci.image.layer.v1.tar``), then the image's configuration and an OCI manifest. The
  engine never holds them, so a run must pull them. (``docker import`` + ``docker push`` was the first
  way: push gzips each layer on one core, about 20 MB/s on the machine the kit is made on, minutes for
  the PyTorch image; uploading uncompressed layers in parallel is disk speed.)
- Layers are shared as the real images share them: every image starts with the same Ubuntu layer, and
  runtime is base + the CUDA libraries, devel is runtime + nvcc, as NVIDIA's images are built FROM each
  other. A layer is made once, uploaded once, and mounted into the other repository that needs it.
- The Ubuntu layer: this host's Debian packages that are Essential or Priority required, apt and
  ca-certificates, with their dependencies (documentation left out, as in Ubuntu's minimised images),
  base-passwd's users and groups, dpkg's database for those packages.
- ``nvidia/cuda:*-base-*``: + the CUDA runtime library (libcudart) from this host's nvidia-cuda-runtime
  wheel in ``/usr/local/cuda-X.Y/targets/x86_64-linux/lib``, with NVIDIA's links (/usr/local/cuda ->
  /etc/alternatives/cuda -> /usr/local/cuda-X.Y, lib64 -> targets/x86_64-linux/lib); no ``bin/``.
- ``-runtime-``: + the CUDA libraries of this host's wheels (cuBLAS, cuFFT, cuRAND, cuSOLVER, cuSPARSE,
  nvJitLink, NVRTC, NVTX; NCCL in /usr/lib/x86_64-linux-gnu, where libnccl2 puts it); no ``bin/``.
- ``-devel-``: + the real nvcc (bin/ of the nvidia-cuda-nvcc wheel given with ``--nvcc-wheel``) in
  ``/usr/local/cuda-X.Y/bin`` and the runtime's headers; without the wheel there is no devel image (a
  devel image without nvcc would be a lie).
- ``pytorch/pytorch:*-runtime``: this host's Python interpreter and standard library at their own paths,
  a virtual environment at /opt/conda (the real image's prefix: /opt/conda/bin/python) holding torch,
  numpy and what they need (their installed files, from the packages' metadata), and the shared
  libraries all of these load from outside (found with ldd); no /usr/local/cuda, no nvcc.
- No image holds a driver file (libcuda, libnvidia-*, nvidia-smi, anything under /usr/local/nvidia):
  putting those into a container is what the toolkit does, and what the runbook checks.
- The environment is copied from the real images' Dockerfiles (sources next to each value below); what
  differs from the real image is said in the image's label ``org.gpu-runbook.kit.stand-in``.
- An image whose tag the registry already has is left as it is (``--force`` makes it again).
- The same files make the same image on any host: every entry's mtime is 0 (a host's install times are not
  the image's content), and a compiled module (``__pycache__/*.pyc``, which records its source's mtime) is
  written as an unchecked hash-based pyc (PEP 552), which Python loads whatever the source's mtime. The
  layers' listing (``--report`` + ``.files.txt.gz``) and tests/gpu/kit/layer_diff.py name what differs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import gzip
import hashlib
import http.client
import importlib.metadata as md
import importlib.util
import io
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
from runbook.host import cuda  # noqa: E402

REQUIRE_CUDA = REPO / "tests" / "fixtures" / "cuda" / "require_cuda.json"
UBUNTU_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # ubuntu:24.04's PATH
LABEL = "org.gpu-runbook.kit.stand-in"
MULTIARCH = "usr/lib/x86_64-linux-gnu"

# Where a driver's user-space files live, by path or by name: never copied into an image.
DRIVER_DIRS = ("/usr/local/nvidia/",)
DRIVER_NAME = re.compile(
    r"^(libcuda\.so|libcudadebugger\.so|libnvidia-|libnvcuvid\.so|libnvoptix\.so|libGLX_nvidia|libEGL_nvidia|"
    r"libGLESv[12]_CM?_nvidia|libvdpau_nvidia|nvidia-smi$|nvidia-debugdump$|nvidia-persistenced$)"
)

# The wheels whose libraries make the runtime image (CUDA 13 names; -cu12 etc. tried as well).
RUNTIME_DISTS = (
    "nvidia-cublas",
    "nvidia-cufft",
    "nvidia-curand",
    "nvidia-cusolver",
    "nvidia-cusparse",
    "nvidia-nvjitlink",
    "nvidia-cuda-nvrtc",
    "nvidia-nvtx",
)
NCCL_DIST = "nvidia-nccl"
CUDART_DIST = "nvidia-cuda-runtime"
PYTORCH_ROOTS = ("torch", "numpy")
DOC_EXCLUDES = ("/usr/share/man/", "/usr/share/info/", "/usr/share/locale/", "/usr/share/lintian/", "/usr/share/linda/")


def say(*args) -> None:
    print("images:", *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the tree an image is made of


@dataclass
class Entry:
    kind: str  # file, link, dir, data
    src: str | None = None  # host path (file)
    data: bytes = b""  # content (data)
    target: str = ""  # link target
    mode: int = 0o644
    owner: tuple[int, int] | None = None  # None: the host file's


@dataclass
class Tree:
    entries: dict[str, Entry] = field(default_factory=dict)  # path in the image (no leading /) -> entry
    notes: list[str] = field(default_factory=list)
    # what write_tar wrote, a line an entry: type mode owner mtime size sha256 path
    listing: list[str] = field(default_factory=list)

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        path = path.strip("/")
        if path and path not in self.entries:
            self.entries[path] = Entry("dir", mode=mode, owner=(0, 0))

    def add_data(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.entries[path.strip("/")] = Entry("data", data=data, mode=mode, owner=(0, 0))

    def add_link(self, path: str, target: str) -> None:
        self.entries[path.strip("/")] = Entry("link", target=target, mode=0o777, owner=(0, 0))

    def add_host(self, host_path: str, image_path: str | None = None, root_owned: bool = False) -> bool:
        """A host file, link or folder (not its content) at its own path or at ``image_path``; parents of a
        host path are resolved (/lib/x -> usr/lib/x on a merged-/usr host). False when it is not there or is
        not a file, link or folder."""
        try:
            st = os.lstat(host_path)
        except OSError:
            return False
        dest = (image_path or canonical(host_path)).strip("/")
        owner = (0, 0) if root_owned else None
        if stat.S_ISLNK(st.st_mode):
            self.entries[dest] = Entry("link", target=os.readlink(host_path), mode=0o777, owner=owner)
        elif stat.S_ISDIR(st.st_mode):
            self.entries.setdefault(dest, Entry("dir", src=host_path, mode=stat.S_IMODE(st.st_mode), owner=owner))
        elif stat.S_ISREG(st.st_mode):
            self.entries[dest] = Entry("file", src=host_path, mode=stat.S_IMODE(st.st_mode), owner=owner)
        else:
            return False
        return True

    def add_host_tree(self, host_dir: str, image_dir: str, skip=lambda rel: False, root_owned: bool = True) -> None:
        for dirpath, dirnames, filenames in os.walk(host_dir):
            rel_dir = os.path.relpath(dirpath, host_dir)
            dirnames[:] = [d for d in dirnames if not skip(os.path.normpath(os.path.join(rel_dir, d)))]
            for name in [*dirnames, *filenames]:
                rel = os.path.normpath(os.path.join(rel_dir, name))
                if not skip(rel):
                    self.add_host(os.path.join(dirpath, name), f"{image_dir}/{rel}", root_owned=root_owned)

    def size(self) -> int:
        total = 0
        for e in self.entries.values():
            if e.kind == "file":
                try:
                    total += os.stat(e.src).st_size
                except OSError:
                    pass
            elif e.kind == "data":
                total += len(e.data)
        return total

    def finish(self) -> None:
        """Every parent folder present, so that modes are the image's own and not the engine's guess."""
        for path in list(self.entries):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                parent = "/".join(parts[:i])
                if parent not in self.entries:
                    host = "/" + parent
                    if not (os.path.isdir(host) and not os.path.islink(host) and self.add_host(host, parent, True)):
                        self.add_dir(parent)

    def write_tar(self, out) -> None:
        # not tarfile's stream mode ("w|"), whose buffer slices every block out of a growing bytes object
        # (about 100 MB/s); "w" writes each file in copybufsize pieces and only needs tell()
        tar = tarfile.open(fileobj=_Counted(out), mode="w", format=tarfile.PAX_FORMAT)
        tar.copybufsize = 4 << 20
        hardlinks: dict[tuple[int, int], str] = {}
        self.listing = []

        def listed(info: tarfile.TarInfo, digest: str = "-") -> None:
            self.listing.append(
                f"{info.type.decode() or '0'} {info.mode:o} {info.uid}:{info.gid} {info.mtime} {info.size} {digest} "
                f"{info.name}{' -> ' + info.linkname if info.linkname else ''}"
            )

        for path in sorted(self.entries):
            e = self.entries[path]
            info = tarfile.TarInfo(path)
            # no entry carries a time (the host's install times are not content): the same files, the same layer
            info.mode, info.mtime = e.mode, 0
            uid, gid = e.owner or (0, 0)
            if e.kind == "file":
                try:
                    st = os.stat(e.src)
                except OSError:
                    continue
                if e.owner is None:
                    uid, gid = st.st_uid, st.st_gid
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in hardlinks:
                    info.type, info.linkname = tarfile.LNKTYPE, hardlinks[key]
                    info.uid, info.gid = uid, gid
                    tar.addfile(info)
                    listed(info)
                    continue
                hardlinks[key] = path
                info.uid, info.gid = uid, gid
                pyc = hash_based_pyc(e.src) if "__pycache__/" in path and path.endswith(".pyc") else None
                if pyc is not None:
                    info.size = len(pyc)
                    tar.addfile(info, io.BytesIO(pyc))
                    listed(info, hashlib.sha256(pyc).hexdigest()[:16])
                    continue
                info.size = st.st_size
                with open(e.src, "rb") as f:
                    hashed = _Hashed(f)
                    tar.addfile(info, hashed)
                listed(info, hashed.sha.hexdigest()[:16])
                continue
            if e.kind == "dir":
                info.type = tarfile.DIRTYPE
                if e.src and e.owner is None:
                    st = os.stat(e.src)
                    uid, gid = st.st_uid, st.st_gid
            elif e.kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, e.target
            info.uid, info.gid = uid, gid
            if e.kind == "data":
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
                listed(info, hashlib.sha256(e.data).hexdigest()[:16])
            else:
                tar.addfile(info)
                listed(info)
        tar.close()


def hash_based_pyc(path: str) -> bytes | None:
    """``path``, a timestamp pyc of this interpreter, as an unchecked hash-based pyc of its source (PEP 552:
    flags 0b01, the source's hash where the mtime and size were, the code unchanged); None when it is not a
    timestamp pyc of this Python or its source is not there (it goes into the layer as it is)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            if len(head) < 16 or head[:4] != importlib.util.MAGIC_NUMBER or head[4:8] != b"\0\0\0\0":
                return None
            code = f.read()
        with open(importlib.util.source_from_cache(path), "rb") as f:
            source = f.read()
    except (OSError, ValueError):  # ValueError: not a __pycache__ name this Python knows
        return None
    return head[:4] + (1).to_bytes(4, "little") + importlib.util.source_hash(source) + code


class _Hashed:
    """A file read through, its content hashed on the way (each file's digest in the layer's listing)."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.sha.update(data)
        return data


class _Counted:
    """A writable stream with tell(), for tarfile on a pipe."""

    def __init__(self, out):
        self.out, self.n = out, 0

    def write(self, data) -> int:
        self.out.write(data)
        self.n += len(data)
        return len(data)

    def tell(self) -> int:
        return self.n

    def close(self) -> None:
        pass


def canonical(path: str) -> str:
    """The path with its folders resolved and its last part kept (a link stays a link)."""
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(head), tail)


def is_driver_file(path: str) -> bool:
    real = os.path.realpath(path)
    return any(p.startswith(DRIVER_DIRS) for p in (path, real)) or any(
        DRIVER_NAME.match(os.path.basename(p)) for p in (path, real)
    )


# ---------------------------------------------------------------- the Ubuntu userland


def dpkg_status(path: str = "/var/lib/dpkg/status") -> dict[str, dict[str, str]]:
    """Installed packages: name -> fields (the paragraph's text under '_text')."""
    out: dict[str, dict[str, str]] = {}
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return out
    for para in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Package") and fields.get("Status", "").endswith(" installed"):
            fields["_text"] = para.strip("\n")
            out[fields["Package"]] = fields
    return out


def userland_packages(pkgs: dict[str, dict[str, str]]) -> list[str]:
    """Essential and Priority required packages, apt and ca-certificates, with what they depend on."""
    provides: dict[str, list[str]] = {}
    for name, f in pkgs.items():
        for p in f.get("Provides", "").split(","):
            p = p.split("(")[0].strip()
            if p:
                provides.setdefault(p, []).append(name)
    todo = [n for n, f in pkgs.items() if f.get("Essential") == "yes" or f.get("Priority") == "required"]
    todo += [n for n in ("apt", "ca-certificates") if n in pkgs]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in pkgs:
            continue
        seen.add(name)
        for field_name in ("Pre-Depends", "Depends"):
            for group in filter(None, (g.strip() for g in pkgs[name].get(field_name, "").split(","))):
                for alt in group.split("|"):
                    dep = re.split(r"[\s(:]", alt.strip(), maxsplit=1)[0]
                    found = [dep] if dep in pkgs else provides.get(dep, [])
                    if found:
                        todo.append(found[0])
                        break
    return sorted(seen)


def dpkg_info(name: str, arch: str) -> list[str]:
    return sorted(glob.glob(f"/var/lib/dpkg/info/{name}.*") + glob.glob(f"/var/lib/dpkg/info/{name}:{arch}.*"))


def add_userland(tree: Tree) -> None:
    pkgs = dpkg_status()
    if not pkgs:
        tree.notes.append("no dpkg database on this host: a minimal userland of the host's sh and glibc")
        for p in ("/usr/bin/sh", "/usr/bin/bash", "/usr/bin/env", "/usr/bin/ls", "/usr/bin/cat", "/usr/sbin/ldconfig"):
            tree.add_host(p)
        add_libraries(tree, ["/usr/bin/bash", "/usr/bin/ls"])
        return
    names = userland_packages(pkgs)
    status = []
    for name in names:
        f = pkgs[name]
        status.append(f["_text"])
        infos = dpkg_info(name, f.get("Architecture", ""))
        for info in infos:
            tree.add_host(info, root_owned=True)
        listing = next((i for i in infos if i.endswith(".list")), None)
        if listing is None:
            continue
        for line in Path(listing).read_text(errors="replace").splitlines():
            path = line.strip()
            if not path or path == "/." or path.startswith(DOC_EXCLUDES):
                continue
            if path.startswith("/usr/share/doc/") and not path.endswith("/copyright") and not os.path.isdir(path):
                continue  # as in Ubuntu's minimised images: documentation out, copyright files in
            if is_driver_file(path):
                continue
            tree.add_host(path)
    tree.add_data("var/lib/dpkg/status", ("\n\n".join(status) + "\n").encode())
    tree.add_data("var/lib/dpkg/available", b"")
    for extra in ("/var/lib/dpkg/diversions", "/var/lib/dpkg/statoverride"):
        tree.add_host(extra, root_owned=True)
    tree.add_dir("var/lib/dpkg/updates")
    add_alternatives(tree)
    # users and groups as base-passwd's postinst makes them
    master = Path("/usr/share/base-passwd")
    passwd = (master / "passwd.master").read_bytes() if (master / "passwd.master").exists() else b""
    group = (master / "group.master").read_bytes() if (master / "group.master").exists() else b""
    passwd = passwd or b"root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    group = group or b"root:x:0:\nnogroup:x:65534:\n"
    tree.add_data("etc/passwd", passwd)
    tree.add_data("etc/group", group)
    users = [line.split(b":")[0] for line in passwd.splitlines() if line]
    tree.add_data("etc/shadow", b"".join(u + b":*:20000:0:99999:7:::\n" for u in users), 0o640)
    tree.notes.append(f"Ubuntu userland: {len(names)} of this host's packages")


def add_alternatives(tree: Tree) -> None:
    """update-alternatives' links whose chosen file is in the image."""
    for admin in sorted(glob.glob("/var/lib/dpkg/alternatives/*")):
        lines = Path(admin).read_text(errors="replace").splitlines()
        if len(lines) < 2:
            continue
        name = os.path.basename(admin)
        pairs = [(name, lines[1])]
        i = 2
        while i + 1 < len(lines) and lines[i]:
            pairs.append((lines[i], lines[i + 1]))
            i += 2
        for alt, link in pairs:
            chosen = f"/etc/alternatives/{alt}"
            if os.path.islink(chosen) and canonical(os.path.realpath(chosen)).lstrip("/") in tree.entries:
                tree.add_host(chosen, root_owned=True)
                tree.add_host(link, root_owned=True)
        tree.add_host(admin, root_owned=True)


def ldd(path: str) -> list[str]:
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            found.append(m.group(1))
    return found


def add_libraries(tree: Tree, objects: list[str], inside: tuple[str, ...] = (), have: Tree | None = None) -> int:
    """The shared libraries ``objects`` load from outside the folders ``inside`` and not in ``have`` (a
    lower layer), each with the links that lead to it; never a driver file. Returns how many were added."""
    libs: set[str] = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 2) * 2)) as pool:
        for found in pool.map(ldd, objects):
            libs.update(found)
    added = 0
    for lib in sorted(libs):
        real = os.path.realpath(lib)
        if real.startswith(inside) or is_driver_file(lib):
            continue
        chain, path = [], lib
        for _ in range(10):  # the link chain: lib -> ... -> real file
            chain.append(path)
            if not os.path.islink(path):
                break
            path = os.path.join(os.path.dirname(path), os.readlink(path))
        for p in chain:
            dest = canonical(p).lstrip("/")
            if dest not in tree.entries and (have is None or dest not in have.entries):
                added += tree.add_host(p, root_owned=True)
    return added


def merged_usr(tree: Tree) -> None:
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = f"/{top}"
        if os.path.islink(host):
            tree.add_link(top, os.readlink(host))
    for d, mode in (("tmp", 0o1777), ("var/tmp", 0o1777), ("root", 0o700), ("home", 0o755), ("proc", 0o555)):
        tree.add_dir(d, mode)
    for d in ("sys", "dev", "run", "mnt", "media", "opt", "srv", "usr/local/bin", "usr/local/sbin", "usr/local/lib"):
        tree.add_dir(d)


# ---------------------------------------------------------------- layers and images


@dataclass
class Layer:
    what: str  # the history line of the image config
    tree: Tree
    digest: str = ""  # sha256:... once uploaded (uncompressed: also the diff_id)
    size: int = 0
    home: str = ""  # the repository it was uploaded to
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Image:
    name: str  # nvidia/cuda:13.0.3-base-ubuntu24.04
    flavour: str  # base runtime devel pytorch
    config: dict  # Env, Cmd, WorkingDir, Labels
    layers: list[Layer]


def find_dist(name: str, cuda_major: str) -> md.Distribution | None:
    for candidate in (name, f"{name}-cu{cuda_major}"):
        try:
            return md.distribution(candidate)
        except md.PackageNotFoundError:
            continue
    return None


def dist_files(dist: md.Distribution | None, pattern: str) -> list[str]:
    out = []
    for f in (dist.files or []) if dist else []:
        if re.search(pattern, str(f)):
            path = str(dist.locate_file(f))
            if os.path.exists(path) and not is_driver_file(path):
                out.append(path)
    return out


SO = r"/lib/[^/]+\.so(\.[0-9]+)*$"


def require_cuda(full_version: str) -> tuple[str, str]:
    """The newest NVIDIA_REQUIRE_CUDA of this CUDA minor (amd64) in the fixture, and where it was read."""
    minor = ".".join(full_version.split(".")[:2])
    entries = [e for e in json.loads(REQUIRE_CUDA.read_text()) if e["cuda_version"].startswith(minor + ".")]
    if not entries:
        raise SystemExit(f"images: no NVIDIA_REQUIRE_CUDA for CUDA {minor} in {REQUIRE_CUDA}")
    best = max(entries, key=lambda e: (cuda.version_tuple(e["cuda_version"]), "ubuntu24.04" in e["image"]))
    return best["NVIDIA_REQUIRE_CUDA"], f"{best['image']} ({best['source']})"


def userland_layer() -> Layer:
    tree = Tree()
    add_userland(tree)
    merged_usr(tree)
    return Layer("Ubuntu userland: this host's Essential and required packages, apt, ca-certificates", tree)


def cuda_images(ceiling: str, userland: Layer, nvcc_wheel: str | None, flavours: list[str]) -> list[Image]:
    base_name = cuda.cuda_image_for(ceiling, "base")
    if base_name is None:
        raise SystemExit(f"images: runbook/host/cuda.py knows no nvidia/cuda image for CUDA {ceiling}")
    full = base_name.split(":")[1].split("-")[0]  # 13.0.3
    major, minor = full.split(".")[:2]
    require, require_source = require_cuda(full)
    root = f"usr/local/cuda-{major}.{minor}"
    libdir = f"{root}/targets/x86_64-linux/lib"
    # Environment of nvidia/cuda:<full>-base-ubuntu24.04, after the base Dockerfile of NVIDIA's
    # gitlab.com/nvidia/container-images/cuda, read as dist/13.0.0/ubuntu2404/base/Dockerfile in its copy
    # github.com/pranavmishra90/nvidia-container-images-cuda@7ad4b0af70e5af9fb82ab990df382a0dd7d494dc:
    #   ENV NVARCH=x86_64 / ENV NVIDIA_REQUIRE_CUDA="cuda>=13.0 brand=..." / ENV CUDA_VERSION=13.0.0
    #   ENV PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:${PATH}
    #   ENV LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64:/usr/local/cuda/lib64
    #   ENV NVIDIA_VISIBLE_DEVICES=all / ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility
    #   RUN echo "/usr/local/cuda/lib64" >> /etc/ld.so.conf.d/nvidia.conf
    # ${PATH} is ubuntu:24.04's; NVIDIA_REQUIRE_CUDA is the fixture's newest of this CUDA minor
    # (tests/fixtures/cuda/require_cuda.json); CUDA_VERSION is the tag's, as each release's Dockerfile sets it.
    env = {
        "PATH": f"/usr/local/nvidia/bin:/usr/local/cuda/bin:{UBUNTU_PATH}",
        "NVARCH": "x86_64",
        "NVIDIA_REQUIRE_CUDA": require,
        "CUDA_VERSION": full,
        "LD_LIBRARY_PATH": "/usr/local/nvidia/lib:/usr/local/nvidia/lib64:/usr/local/cuda/lib64",
        "NVIDIA_VISIBLE_DEVICES": "all",
        "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
    }
    differs = (
        "not NVIDIA's image: made by tests/gpu/kit/images.py from the GPU host's files; environment from "
        f"NVIDIA's Dockerfiles (NVIDIA_REQUIRE_CUDA of {require_source}); no cuda-compat libraries"
    )

    # base: libcudart and NVIDIA's links
    tree = Tree()
    tree.add_link(f"{root}/lib64", "targets/x86_64-linux/lib")
    tree.add_link("usr/local/cuda", "/etc/alternatives/cuda")
    tree.add_link(f"usr/local/cuda-{major}", f"/etc/alternatives/cuda-{major}")
    tree.add_link("etc/alternatives/cuda", f"/usr/local/cuda-{major}.{minor}")
    tree.add_link(f"etc/alternatives/cuda-{major}", f"/usr/local/cuda-{major}.{minor}")
    tree.add_data("etc/ld.so.conf.d/nvidia.conf", b"/usr/local/cuda/lib64\n")
    tree.add_dir(libdir)
    cudart = find_dist(CUDART_DIST, major)
    if cudart is None:
        tree.notes.append(f"MISSING: no {CUDART_DIST} wheel on this host: no libcudart in the image")
    for f in dist_files(cudart, SO):
        tree.add_host(f, f"{libdir}/{os.path.basename(f)}", root_owned=True)
    base = Layer(f"CUDA {full} runtime library (libcudart{' ' + cudart.version if cudart else ''}, wheel)", tree)

    # runtime: the CUDA libraries
    tree = Tree()
    have = []
    for name in RUNTIME_DISTS:
        dist = find_dist(name, major)
        if dist is None:
            tree.notes.append(f"MISSING: no {name} wheel on this host")
            continue
        have.append(f"{dist.metadata['Name']} {dist.version}")
        for f in dist_files(dist, SO):
            tree.add_host(f, f"{libdir}/{os.path.basename(f)}", root_owned=True)
    nccl = find_dist(NCCL_DIST, major)
    if nccl is None:
        tree.notes.append(f"MISSING: no {NCCL_DIST} wheel on this host")
    else:
        have.append(f"{nccl.metadata['Name']} {nccl.version}")
    for f in dist_files(nccl, SO):
        tree.add_host(f, f"{MULTIARCH}/{os.path.basename(f)}", root_owned=True)
    tree.notes.append("no NPP (the GPU host has no such wheel)")
    runtime = Layer(f"CUDA libraries: {', '.join(have)}", tree)

    # devel: nvcc and the headers
    devel = None
    if nvcc_wheel:
        tree = Tree()
        add_nvcc(tree, nvcc_wheel, root)
        for f in dist_files(cudart, r"/include/.+\.h(pp)?$"):
            rel = str(f).split("/include/", 1)[1]
            tree.add_host(f, f"{root}/targets/x86_64-linux/include/{rel}", root_owned=True)
        tree.add_link(f"{root}/include", "targets/x86_64-linux/include")
        devel = Layer(f"nvcc from {os.path.basename(nvcc_wheel)}, CUDA runtime headers", tree)

    images = []
    chain = {"base": [userland, base], "runtime": [userland, base, runtime]}
    if devel:
        chain["devel"] = [userland, base, runtime, devel]
    for flavour in flavours:
        if flavour == "pytorch":
            continue
        name = cuda.cuda_image_for(ceiling, flavour)
        if flavour not in chain:
            say(f"{name}: not made: no nvidia-cuda-nvcc wheel (--nvcc-wheel), and a devel image needs nvcc")
            continue
        image_env = dict(env)
        if flavour == "devel":
            # devel Dockerfile (dist/13.0.0/ubuntu2404/devel/Dockerfile, the same copy @a7c9be98):
            #   ENV LIBRARY_PATH /usr/local/cuda/lib64/stubs
            image_env["LIBRARY_PATH"] = "/usr/local/cuda/lib64/stubs"
        config = {
            "Env": [f"{k}={v}" for k, v in image_env.items()],
            "Cmd": ["/bin/bash"],
            "Labels": {LABEL: differs},
        }
        images.append(Image(name, flavour, config, chain[flavour]))
    return images


def add_nvcc(tree: Tree, wheel: str, root: str) -> None:
    """bin/ (nvcc, ptxas, nvlink, fatbinary, cudafe++, crt/, nvcc.profile) and include/ of the wheel."""
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            m = re.match(r"nvidia/cu\d+/(bin|include)/(.+)$", info.filename)
            if not m or info.is_dir():
                continue
            mode = (info.external_attr >> 16) & 0o7777 or 0o644
            if m.group(1) == "bin" and "/" not in m.group(2) and not m.group(2).endswith(".profile"):
                mode |= 0o755
            folder = f"{root}/bin" if m.group(1) == "bin" else f"{root}/targets/x86_64-linux/include"
            tree.add_data(f"{folder}/{m.group(2)}", z.read(info), mode)
    tree.notes.append(
        f"nvcc from {os.path.basename(wheel)} (no cicc/NVVM, no host compiler: `nvcc --version` works, "
        "compiling does not)"
    )


SKIP_STDLIB = {"site-packages", "dist-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip"}


def package_closure(roots: tuple[str, ...]) -> list[md.Distribution]:
    """The installed distributions ``roots`` need, following their requirements (with the extras a
    requirement asks for, as in ``cuda-toolkit[cublas]``) for this interpreter and platform."""
    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    need: dict[str, md.Distribution] = {}
    followed: set[tuple[str, str]] = set()
    todo = [(norm(r), "") for r in roots]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in followed:
            continue
        followed.add((name, extra))
        try:
            dist = need.get(name) or md.distribution(name)
        except md.PackageNotFoundError:
            continue
        need[name] = dist
        for r in map(Requirement, dist.requires or []):
            if r.marker is None or r.marker.evaluate({"extra": extra}):
                if extra and r.marker is None:
                    continue  # already followed with no extra
                todo += [(norm(r.name), e) for e in ("", *sorted(r.extras))]
    missing = [r for r in roots if norm(r) not in need]
    if missing:
        raise SystemExit(f"images: this host's Python has no {', '.join(missing)}: no PyTorch image to make")
    return list(need.values())


def pytorch_image(ceiling: str, userland: Layer, roots: tuple[str, ...] = PYTORCH_ROOTS) -> Image:
    name = cuda.pytorch_image_for(ceiling)
    if name is None:
        raise SystemExit(f"images: runbook/host/cuda.py knows no pytorch/pytorch image for CUDA {ceiling}")
    tree = Tree()
    # the interpreter and its standard library, at their own paths
    exe = os.path.realpath(getattr(sys, "_base_executable", "") or sys.executable)
    stdlib = os.path.dirname(os.__file__)
    pyver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    tree.add_host(exe, root_owned=True)
    tree.add_host_tree(stdlib, canonical(stdlib).lstrip("/"), skip=lambda rel: rel.split("/")[0] in SKIP_STDLIB)
    # a virtual environment at /opt/conda, where the real image keeps its Python, holding the packages
    need = package_closure(roots)
    prefix = "opt/conda"
    # a host whose own Python lives in /opt/conda (conda) keeps its layout: no virtual environment over it
    own_layout = exe.startswith(f"/{prefix}/") or canonical(stdlib).startswith(f"/{prefix}/")
    site = f"{prefix}/lib/{pyver}/site-packages"
    objects, versions = [], {}
    for dist in need:
        versions[dist.metadata["Name"]] = dist.version
        base = os.path.realpath(str(dist.locate_file("")))
        if own_layout:
            site = base.lstrip("/")
        for f in dist.files or []:
            rel = str(f)
            if rel.startswith("..") or os.path.isabs(rel):
                continue  # console scripts and data outside site-packages
            path = os.path.join(base, rel)
            if is_driver_file(path):
                tree.notes.append(f"left out, a driver's file: {rel}")
                continue
            if tree.add_host(path, f"{site}/{os.path.normpath(rel)}", root_owned=True) and re.search(
                r"\.so(\.[0-9]+)*$", rel
            ):
                objects.append(path)
    version = ".".join(map(str, sys.version_info[:3]))
    if own_layout:
        for name in ("python", "python3"):
            if os.path.lexists(f"/{prefix}/bin/{name}"):
                tree.add_host(f"/{prefix}/bin/{name}", root_owned=True)
        tree.notes.append(f"this host's Python is in /{prefix} already: its own layout, no virtual environment")
    else:
        tree.add_link(f"{prefix}/bin/python", exe)
        tree.add_link(f"{prefix}/bin/python3", "python")
        tree.add_link(f"{prefix}/bin/{pyver}", "python")
        tree.add_link(f"{prefix}/lib64", "lib")
        cfg = f"home = {os.path.dirname(exe)}\ninclude-system-site-packages = false\nversion = {version}\n"
        tree.add_data(f"{prefix}/pyvenv.cfg", cfg.encode())
    tree.add_dir("workspace")
    sites = tuple({os.path.realpath(str(d.locate_file(""))) + "/" for d in need})
    dynload = glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    added = add_libraries(tree, [exe, *dynload, *objects], inside=sites, have=userland.tree)
    torch_version = versions.get("torch", "")
    listed = ", ".join(f"{k} {v}" for k, v in sorted(versions.items(), key=lambda kv: kv[0] not in roots)[:4])
    tree.notes.append(
        f"Python {version} from {exe}; {len(need)} distributions ({listed}, ...); "
        f"{added} shared libraries from outside them"
    )
    # Environment of pytorch/pytorch:*-runtime, after the `official` stage of github.com/pytorch/pytorch's
    # Dockerfile (@01343dcd3e6c849a177125b5f500ffd222305ec8):
    #   ENV PATH /opt/conda/bin:$PATH / ENV NVIDIA_VISIBLE_DEVICES all / ENV NVIDIA_DRIVER_CAPABILITIES compute,utility
    #   ENV LD_LIBRARY_PATH /usr/local/nvidia/lib:/usr/local/nvidia/lib64
    #   ENV PATH /usr/local/nvidia/bin:/usr/local/cuda/bin:$PATH / ENV PYTORCH_VERSION ${PYTORCH_VERSION}
    #   WORKDIR /workspace; LABEL com.nvidia.volumes.needed="nvidia_driver"
    # PYTORCH_VERSION is that of the torch inside (this host's), not the tag's.
    differs = (
        "not the PyTorch project's image: made by tests/gpu/kit/images.py from the GPU host's Python "
        f"{version} and torch {torch_version or '(none)'}; environment from pytorch/pytorch's Dockerfile"
    )
    config = {
        "Env": [
            f"PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:/opt/conda/bin:{UBUNTU_PATH}",
            "NVIDIA_VISIBLE_DEVICES=all",
            "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
            "LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
            f"PYTORCH_VERSION={torch_version.split('+')[0]}",
        ],
        "Cmd": ["/bin/bash"],
        "WorkingDir": "/workspace",
        "Labels": {"com.nvidia.volumes.needed": "nvidia_driver", LABEL: differs},
    }
    layer = Layer(f"Python {version}, a virtual environment at /opt/conda with {', '.join(roots)}", tree)
    return Image(name, "pytorch", config, [userland, layer])


# ---------------------------------------------------------------- the registry


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"  # uncompressed


class Registry:
    """The registry's HTTP API (distribution v2), plain HTTP, one connection per call."""

    def __init__(self, hostport: str):
        self.host, _, port = hostport.partition(":")
        self.port = int(port or 80)

    def call(self, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def has_manifest(self, repo: str, tag: str) -> bool:
        accept = f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"
        return self.call("HEAD", f"/v2/{repo}/manifests/{tag}", headers={"Accept": accept})[0] == 200

    def has_blob(self, repo: str, digest: str) -> bool:
        return self.call("HEAD", f"/v2/{repo}/blobs/{digest}")[0] == 200

    def mount(self, repo: str, digest: str, source: str) -> bool:
        status = self.call("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={source}")[0]
        return status == 201

    def upload(self, repo: str, chunks) -> tuple[str, int]:
        """A blob from an iterable of bytes, streamed (chunked PATCH) and hashed as it goes."""
        status, headers, body = self.call("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"registry: starting an upload to {repo}: {status} {body[:300]!r}")
        digest, size = hashlib.sha256(), 0

        def counted():
            nonlocal size
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        location = self._path(headers["location"])
        status, headers, body = self.call(
            "PATCH", location, body=counted(), headers={"Content-Type": "application/octet-stream"}
        )
        if status != 202:
            raise RuntimeError(f"registry: uploading to {repo}: {status} {body[:300]!r}")
        location = self._path(headers["location"])
        sep = "&" if "?" in location else "?"
        done = f"sha256:{digest.hexdigest()}"
        status, _, body = self.call("PUT", f"{location}{sep}digest={done}", body=b"")
        if status != 201:
            raise RuntimeError(f"registry: finishing the upload of {done} to {repo}: {status} {body[:300]!r}")
        return done, size

    def put_manifest(self, repo: str, tag: str, manifest: bytes) -> None:
        status, _, body = self.call(
            "PUT", f"/v2/{repo}/manifests/{tag}", body=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        if status != 201:
            raise RuntimeError(f"registry: the manifest of {repo}:{tag}: {status} {body[:500]!r}")

    @staticmethod
    def _path(location: str) -> str:
        parts = urllib.parse.urlsplit(location)
        return parts.path + (f"?{parts.query}" if parts.query else "")


def tar_chunks(tree: Tree, size: int = 4 << 20):
    """The layer's tar stream in chunks, written by a thread into a pipe."""
    read_fd, write_fd = os.pipe()
    failed: list[BaseException] = []

    def writer() -> None:
        with os.fdopen(write_fd, "wb", buffering=size) as out:
            try:
                tree.write_tar(out)
            except BrokenPipeError:
                pass
            except BaseException as e:  # noqa: BLE001 - raised in the reader below
                failed.append(e)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with os.fdopen(read_fd, "rb", buffering=0) as src:
        while chunk := src.read(size):
            yield chunk
    thread.join()
    if failed:
        raise failed[0]


def ensure_layer(reg: Registry, repo: str, layer: Layer) -> str:
    """The layer in ``repo``: written and uploaded the first time, mounted from where it is afterwards."""
    with layer.lock:
        if not layer.digest:
            started = time.monotonic()
            layer.digest, layer.size = reg.upload(repo, tar_chunks(layer.tree))
            layer.home = repo
            took = time.monotonic() - started
            say(
                f"  layer {layer.digest[7:19]} ({layer.what[:70]}): {layer.size / 1e9:.2f} GB uploaded to {repo} "
                f"in {took:.0f} s ({layer.size / 1e6 / max(took, 0.001):.0f} MB/s)"
            )
            return "uploaded"
    if reg.has_blob(repo, layer.digest):
        return "there"
    if reg.mount(repo, layer.digest, layer.home):
        return "mounted"
    with layer.lock:  # a registry that does not mount: upload it again
        digest, _ = reg.upload(repo, tar_chunks(layer.tree))
    if digest != layer.digest:
        raise RuntimeError(f"layer {layer.what}: made twice, two digests ({layer.digest}, {digest})")
    return "uploaded again"


def publish(reg: Registry, image: Image) -> dict:
    repo, tag = image.name.rsplit(":", 1)
    started = time.monotonic()
    for layer in image.layers:
        ensure_layer(reg, repo, layer)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": image.config,
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in image.layers]},
        "history": [{"created_by": f"tests/gpu/kit/images.py: {layer.what}"} for layer in image.layers],
    }
    raw = json.dumps(config, indent=1).encode()
    config_digest, _ = reg.upload(repo, [raw])
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(raw)},
        "layers": [{"mediaType": OCI_LAYER, "digest": la.digest, "size": la.size} for la in image.layers],
    }
    reg.put_manifest(repo, tag, json.dumps(manifest, indent=1).encode())
    size = sum(la.size for la in image.layers)
    # the digests name what differs when two hosts' kits made one name into two images (verify's image id drift)
    return {
        "image": image.name,
        "size": size,
        "layers": len(image.layers),
        "seconds": time.monotonic() - started,
        "config": config_digest,
        "layer_digests": {layer.what: layer.digest for layer in image.layers},
    }


def write_listings(path: Path, images: list[Image]) -> None:
    """Every layer's entries, with each file's digest: two hosts' listings, diffed, name the files that made one
    image name into two images. A layer the registry already had was not written, and says so."""
    seen: set[str] = set()
    with gzip.open(path, "wt") as out:
        for image in images:
            for layer in image.layers:
                if layer.digest in seen:
                    continue
                seen.add(layer.digest)
                if not layer.tree.listing:
                    out.write(f"# not written this run (the registry had it): {layer.digest}: {layer.what}\n")
                    continue
                out.write(f"# layer {layer.digest}: {layer.what}\n")
                out.writelines(line + "\n" for line in layer.tree.listing)


def driver_ceiling() -> str | None:
    try:
        from runbook import host

        driver = host.query_driver()
    except Exception:  # noqa: BLE001 - no driver here: the caller says so
        return None
    if driver is None or not driver.gpus:
        return None
    return driver.cuda_version or cuda.max_cuda_for_driver(driver.driver_version)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", default="127.0.0.1:5000", help="host:port of the registry (plain HTTP)")
    ap.add_argument("--cuda", default="", help="the driver's CUDA ceiling (default: nvidia-smi's, else 13.0)")
    ap.add_argument("--nvcc-wheel", default="", help="the nvidia-cuda-nvcc wheel, for the devel image")
    ap.add_argument("--only", default="base,runtime,devel,pytorch", help="flavours to make (comma-separated)")
    ap.add_argument("--packages", default=",".join(PYTORCH_ROOTS), help="what the PyTorch image holds")
    ap.add_argument("--force", action="store_true", help="make again what the registry already has")
    ap.add_argument("--dry-run", action="store_true", help="show what each image would hold; write nothing")
    ap.add_argument("--tar", default="", help="with --dry-run: write each layer's tar into this folder")
    ap.add_argument("--report", default="", help="write what was made (JSON) to this file")
    ap.add_argument("--names", action="store_true", help="print each flavour and its image name; nothing else")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    ceiling = args.cuda or driver_ceiling()
    if not ceiling:
        ceiling = "13.0"
        if not args.names:
            say("no driver answered: CUDA ceiling 13.0 (that of the GPU host's driver 580)")
    flavours = [f.strip() for f in args.only.split(",") if f.strip()]
    if args.names:
        for flavour in flavours:
            pick = cuda.pytorch_image_for(ceiling) if flavour == "pytorch" else cuda.cuda_image_for(ceiling, flavour)
            print(flavour, pick or "")
        return 0
    reg = Registry(args.registry)
    wanted = []
    for flavour in flavours:
        name = cuda.pytorch_image_for(ceiling) if flavour == "pytorch" else cuda.cuda_image_for(ceiling, flavour)
        if name and not args.dry_run and not args.force and reg.has_manifest(*name.rsplit(":", 1)):
            say(f"{name}: already in {args.registry}")
            continue
        wanted.append(flavour)
    if not wanted:
        return 0
    userland = userland_layer()
    images = cuda_images(ceiling, userland, args.nvcc_wheel or None, wanted)
    if "pytorch" in wanted:
        packages = tuple(p.strip() for p in args.packages.split(",") if p.strip())
        images.append(pytorch_image(ceiling, userland, packages))
    layers = list({id(la): la for image in images for la in image.layers}.values())
    for layer in layers:
        layer.tree.finish()
    say(f"planned in {time.monotonic() - t0:.0f} s:")
    shown: set[int] = set()
    for image in images:
        say(f"{image.name}: {len(image.layers)} layers, {sum(la.tree.size() for la in image.layers) / 1e9:.2f} GB")
        for i, layer in enumerate(image.layers):
            if id(layer) in shown:
                say(f"  layer {i}: as above ({layer.what[:60]}...)")
                continue
            shown.add(id(layer))
            say(f"  layer {i}: {layer.what} ({len(layer.tree.entries)} entries, {layer.tree.size() / 1e9:.2f} GB)")
            for note in layer.tree.notes:
                say(f"    {note}")
        for item in image.config["Env"]:
            say(f"  ENV {item[:150]}{' ...' if len(item) > 150 else ''}")
        for key in ("Cmd", "WorkingDir"):
            if key in image.config:
                say(f"  {key} {image.config[key]}")
    if args.dry_run:
        for i, layer in enumerate(layers):
            if args.tar:
                started = time.monotonic()
                with open(os.path.join(args.tar, f"layer{i}.tar"), "wb") as out:
                    layer.tree.write_tar(out)
                say(f"layer {i} written to {args.tar} in {time.monotonic() - started:.1f} s")
        return 0
    done, errors = [], 0
    # every layer is made and uploaded at once (the big ones take the longest), then each image is finished
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(images)) as pool:
        futures = {pool.submit(publish, reg, image): image for image in images}
        for fut in concurrent.futures.as_completed(futures):
            try:
                r = fut.result()
            except Exception as e:  # noqa: BLE001 - every image is tried; the exit code says it
                errors += 1
                say(f"{futures[fut].name}: FAILED: {e}")
                continue
            done.append(r)
            say(f"{r['image']}: in {args.registry}, {r['size'] / 1e9:.2f} GB in {r['layers']} layers")
    if args.report:
        Path(args.report).write_text(json.dumps({"ceiling": ceiling, "made": done}, indent=1) + "\n")
        write_listings(Path(args.report).with_suffix(".files.txt.gz"), images)
    say(f"done in {time.monotonic() - t0:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
