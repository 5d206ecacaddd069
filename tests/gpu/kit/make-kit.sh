#!/usr/bin/env bash
# make-kit.sh [OUTDIR]: the GPU host kit, made here (a Debian machine with apt, pip, gpg, dpkg-dev)
# for the project's GPU host (Ubuntu 24.04, Python 3.12 with a CUDA PyTorch, NVIDIA driver, root; no
# internet, no Docker engine, no NVIDIA Container Toolkit). OUTDIR defaults to build/gpu-kit (git-ignored).
#
# Two folders, so that each can be sent to the GPU host on its own (a send holds 64 MiB in all,
# the working tree included); tests/gpu/kit/up.sh uses both:
#   OUTDIR/engine/bin.tar.xz   Docker Engine 26.1 from Debian trixie's packages, unpacked, not
#                              installed: dockerd (docker.io), containerd and containerd-shim-runc-v2
#                              (containerd), runc (runc; needs glibc >= 2.38, Ubuntu 24.04 has 2.39),
#                              docker-init (tini's tini-static), and the registry, docker-registry
#                              (docker-registry; a Go program needing glibc >= 2.34). No docker CLI:
#                              the runbook speaks to the engine through the Docker SDK.
#   OUTDIR/engine/apt-repo/    the NVIDIA Container Toolkit 1.20.0 built from its source
#                              (tests/tooling/build-toolkit.sh), as NVIDIA's four .deb packages
#                              (tests/tooling/toolkit-debs.sh: libnvidia-container's two are stand-ins
#                              holding no program), in a signed apt repository laid out like
#                              https://nvidia.github.io/libnvidia-container (tests/tooling/apt-repo.sh),
#                              ready to be served on loopback as toolkit_mirror.
#   OUTDIR/py/wheels/          CPython 3.12 manylinux wheels of the project's [project] dependencies,
#                              nbval, and the project's own wheel, with their dependencies, less what the
#                              GPU host already has (host-has.txt beside this script). Headless: no
#                              JupyterLab.
#   OUTDIR/py/nvcc/            the nvidia-cuda-nvcc wheel (NVCC_VERSION, default 13.0.88: the nvcc of
#                              CUDA 13.0.x, the CUDA of the devel tag runbook/host/cuda.py picks for driver
#                              580): the real nvcc for the devel image. NVCC=0 leaves it out.
#   OUTDIR/MANIFEST.txt        what is in the kit: versions, sizes, sha256 sums.
# Prints the sizes. A part already made is kept (delete it to make it again); the wheels are always
# made again, since they follow pyproject.toml.
#
# Needs: apt-get (Debian, with /usr/share/keyrings/debian-archive-keyring.gpg), python3 -m pip reaching
# PyPI, gpg, dpkg-dev, xz; the toolkit's source as tests/tooling/build-toolkit.sh finds it (its README).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$repo/build/gpu-kit}
mkdir -p "$out/engine" "$out/py"
out=$(cd "$out" && pwd)
nvcc_version=${NVCC_VERSION:-13.0.88}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say() { echo "make-kit: $*" >&2; }

# 1. The engine and the registry: Debian trixie's packages through a private apt list (the machine's
#    own sources stay as they are), unpacked.
if [ ! -s "$out/engine/bin.tar.xz" ]; then
  mkdir -p "$work/lists/partial" "$work/debs" "$work/bin"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$work/sources.list"
  o=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$work/lists")
  apt-get "${o[@]}" update -qq
  (cd "$work/debs" && apt-get "${o[@]}" download -q docker.io/trixie containerd/trixie runc/trixie tini/trixie \
    docker-registry/trixie >/dev/null 2>&1)
  for deb in "$work"/debs/*.deb; do
    dpkg -x "$deb" "$work/x"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >>"$work/bin/VERSIONS"
  done
  x=$work/x
  install -m 0755 "$x/usr/sbin/dockerd" "$x/usr/sbin/runc" "$x/usr/bin/containerd" \
    "$x/usr/bin/containerd-shim-runc-v2" "$x/usr/bin/docker-registry" "$work/bin/"
  install -m 0755 "$x/usr/bin/tini-static" "$work/bin/docker-init"
  say "compressing the engine (a minute or two)"
  tar -C "$work" -cf - bin | xz -9e -T0 >"$out/engine/bin.tar.xz.part"
  mv "$out/engine/bin.tar.xz.part" "$out/engine/bin.tar.xz"
fi

# 2. The toolkit's packages in a signed repository like NVIDIA's.
if [ ! -s "$out/engine/apt-repo/gpgkey" ]; then
  bash "$repo/tests/tooling/build-toolkit.sh" "$work/toolkit" >/dev/null
  bash "$repo/tests/tooling/toolkit-debs.sh" "$work/toolkit" "$work/toolkit-debs" >/dev/null
  rm -rf "$out/engine/apt-repo"
  bash "$repo/tests/tooling/apt-repo.sh" "$work/toolkit-debs" "$out/engine/apt-repo"
fi

# 3. Wheels for the GPU host's Python (3.12), resolved for that platform, less what it has.
rm -rf "$out/py/wheels" && mkdir -p "$out/py/wheels"
mapfile -t reqs < <(python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' "$repo/pyproject.toml")
pip_platform=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
  --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any)
leftovers=()  # what setuptools leaves in build/ when it builds the project's wheel, unless it was there
for d in "$repo/build/lib" "$repo/build/bdist.linux-x86_64"; do [ -e "$d" ] || leftovers+=("$d"); done
python3 -m pip wheel -q --no-deps -w "$work/own" "$repo"
rm -rf "${leftovers[@]}"
python3 -m pip download -q "${pip_platform[@]}" -d "$out/py/wheels" "${reqs[@]}" nbval "$work"/own/*.whl
python3 "$here/drop_host_has.py" "$out/py/wheels"
for w in "$out"/py/wheels/*.whl; do
  case $(basename "$w") in jupyterlab-*|notebook-*|jupyter_server-*) say "a headless kit must not hold $(basename "$w")"; exit 1 ;; esac
done

# 4. nvcc for the devel image.
if [ "${NVCC:-1}" = 0 ]; then
  rm -rf "$out/py/nvcc"
elif ! compgen -G "$out/py/nvcc/nvidia_cuda_nvcc-$nvcc_version-*.whl" >/dev/null; then
  rm -rf "$out/py/nvcc" && mkdir -p "$out/py/nvcc"
  python3 -m pip download -q --no-deps "${pip_platform[@]}" -d "$out/py/nvcc" "nvidia-cuda-nvcc==$nvcc_version"
fi

# 5. What the kit holds.
{
  echo "# the GPU host kit, made $(date -u +%FT%TZ) by tests/gpu/kit/make-kit.sh on $(sed -n "s/^PRETTY_NAME=//p" /etc/os-release | tr -d \")"
  echo "## engine/bin.tar.xz: Debian trixie packages"
  tar -xJf "$out/engine/bin.tar.xz" -O bin/VERSIONS 2>/dev/null || tar -tJf "$out/engine/bin.tar.xz"
  echo "## engine/apt-repo: the NVIDIA Container Toolkit from its source"
  sed -n 's/^\(Package\|Version\): //p' "$out"/engine/apt-repo/stable/deb/*/Packages | paste -d' ' - -
  echo "## files"
  (cd "$out" && find engine py -type f -printf '%s\t%p\n' | sort -k2 \
    | while IFS=$'\t' read -r size path; do printf '%10d  %s  %s\n' "$size" "$(sha256sum <"$path" | cut -c1-16)" "$path"; done)
} >"$out/MANIFEST.txt"
say "sizes (each folder is sent on its own; 64 MiB a send, with the working tree):"
du -sh --apparent-size "$out/engine/bin.tar.xz" "$out/engine/apt-repo" "$out/py/wheels" "$out"/py/nvcc >&2 2>/dev/null || true
du -sh --apparent-size "$out/engine" "$out/py" >&2
ls "$out/py/wheels" >&2
