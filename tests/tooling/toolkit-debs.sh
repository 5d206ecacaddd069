#!/usr/bin/env bash
# toolkit-debs.sh BINDIR OUTDIR: the NVIDIA Container Toolkit as the four .deb packages that NVIDIA's
# apt repository serves, with their real names, versions, architecture and dependencies.
#
# BINDIR is what build-toolkit.sh wrote: the four programs, and dist/ with the source's own
# packaging files. Writes to OUTDIR, and lists on stdout:
#   nvidia-container-toolkit-base_V-1_ARCH.deb  /usr/bin/nvidia-ctk, /usr/bin/nvidia-container-runtime,
#       /usr/bin/nvidia-cdi-hook, the nvidia-cdi-refresh systemd units, their env file (a conffile)
#       and udev rule, as the source's debian/*.install lists them; its postinst is the source's:
#       it writes /etc/nvidia-container-runtime/config.toml with `nvidia-ctk config --in-place`.
#   nvidia-container-toolkit_V-1_ARCH.deb       /usr/bin/nvidia-container-runtime-hook; its postinst
#       links /usr/bin/nvidia-container-toolkit to it. Depends on the base package and on
#       libnvidia-container-tools, both at the same version.
#   libnvidia-container-tools_V-1_ARCH.deb and libnvidia-container1_V-1_ARCH.deb: stand-ins.
#       libnvidia-container (nvidia-container-cli, libnvidia-container.so.1) is a C library from
#       another source that cannot be had here, so these two hold no program and no library, only
#       a note saying so. With them installed, everything that goes through the legacy hook
#       (`--gpus` with runc as the engine's runtime, the runtime's legacy mode) fails with
#       `nvidia-container-cli: executable file not found in $PATH`; CDI and jit-cdi do not need it.
# The control fields are those of NVIDIA's published Packages index for 1.20.0-1 (dependencies as
# dpkg-gencontrol simplified them from the source's debian/control). V is the version nvidia-ctk
# reports, a tag written after a tilde (1.20.0-rc.1 -> 1.20.0~rc.1), revision 1 as NVIDIA's.
# Debhelper's generated maintainer-script snippets (enabling the systemd units, removing conffiles
# left by 1.18) are not included. File times are the source's, so the same input gives the same
# packages byte for byte.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BINDIR OUTDIR" >&2; exit 2; }
bindir=$(cd "$1" && pwd)
mkdir -p "$2"
outdir=$(cd "$2" && pwd)
command -v dpkg-deb >/dev/null || { echo "toolkit-debs: dpkg-deb is missing (Debian: dpkg)" >&2; exit 3; }

for c in nvidia-ctk nvidia-container-runtime nvidia-container-runtime-hook nvidia-cdi-hook; do
  [ -x "$bindir/$c" ] || { echo "toolkit-debs: $bindir/$c is missing" >&2; exit 1; }
done
cli_version=$("$bindir/nvidia-ctk" --version | sed -n 's/.*version \([^ ]*\).*/\1/p' | head -1)
[ -n "$cli_version" ] || { echo "toolkit-debs: nvidia-ctk --version gave no version" >&2; exit 1; }
upstream=$(echo "$cli_version" | sed 's/-/~/')
ver=$upstream-${RUNBOOK_TOOLKIT_DEB_REVISION:-1}
arch=$(dpkg --print-architecture)
dist=$bindir/dist
if [ -f "$dist/debian/control" ]; then epoch=$(stat -c %Y "$dist/debian/control"); else epoch=$(stat -c %Y "$bindir/nvidia-ctk"); fi
export SOURCE_DATE_EPOCH=$epoch

nvidia="NVIDIA CORPORATION <cudatools@nvidia.com>"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# where a file named in a debian/*.install line is found
find_input() {
  local name=$1 d
  for d in "$bindir" "$dist/systemd" "$dist/udev"; do
    [ -f "$d/$name" ] && { echo "$d/$name"; return 0; }
  done
  return 1
}

# installs the files a debian/*.install file lists (or, without dist/, the given defaults)
install_listed() {
  local pkg=$1 root=$2; shift 2
  local list=$dist/debian/$pkg.install src dest path mode
  if [ -f "$list" ]; then
    while read -r src dest; do
      [ -n "$src" ] || continue
      path=$(find_input "$src") || { echo "toolkit-debs: $src (from $pkg.install) not found" >&2; exit 1; }
      mkdir -p "$root/${dest%/}"
      if [ "$path" = "$bindir/$src" ]; then mode=0755; else mode=0644; fi
      install -m "$mode" "$path" "$root/${dest%/}/$src"
    done <"$list"
  else
    mkdir -p "$root/usr/bin"
    for src in "$@"; do install -m 0755 "$bindir/$src" "$root/usr/bin/$src"; done
  fi
}

# a maintainer script from the source, without debhelper's placeholder
maint_script() {
  local from=$dist/debian/$1 to=$2
  [ -f "$from" ] || return 0
  grep -v '^#DEBHELPER#$' "$from" >"$to"
  chmod 0755 "$to"
}

# writes DEBIAN/control (fields from stdin, Installed-Size added) and builds the package
build() {
  local pkg=$1 root=$2 size
  mkdir -p "$root/DEBIAN"
  size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
  sed "s/@SIZE@/$size/" >"$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0r md5sum >DEBIAN/md5sums)
  [ -s "$root/DEBIAN/md5sums" ] || rm -f "$root/DEBIAN/md5sums"
  find "$root" -exec touch -h -d "@$epoch" {} +
  chmod -R go-w "$root"
  dpkg-deb --root-owner-group --build "$root" "$work/${pkg}_${ver}_$arch.deb" >/dev/null
  mv -f "$work/${pkg}_${ver}_$arch.deb" "$outdir/${pkg}_${ver}_$arch.deb"
  echo "$outdir/${pkg}_${ver}_$arch.deb"
}

doc() {  # copyright file of the toolkit's packages
  local root=$1 pkg=$2
  mkdir -p "$root/usr/share/doc/$pkg"
  if [ -f "$dist/debian/copyright" ]; then install -m 0644 "$dist/debian/copyright" "$root/usr/share/doc/$pkg/copyright"; fi
}

# nvidia-container-toolkit-base
pkg="nvidia-container-toolkit-base"; root=$work/$pkg
install_listed "$pkg" "$root" nvidia-ctk nvidia-container-runtime nvidia-cdi-hook
doc "$root" "$pkg"
mkdir -p "$root/DEBIAN"
maint_script "$pkg.postinst" "$root/DEBIAN/postinst"
(cd "$root" && find etc -type f 2>/dev/null | sed 's|^|/|' | sort) >"$root/DEBIAN/conffiles" || true
[ -s "$root/DEBIAN/conffiles" ] || rm -f "$root/DEBIAN/conffiles"
build "$pkg" "$root" <<EOF
Package: $pkg
Source: nvidia-container-toolkit
Version: $ver
Architecture: $arch
Maintainer: $nvidia
Installed-Size: @SIZE@
Breaks: nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook, nvidia-container-toolkit (<= 1.10.0-1)
Replaces: nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook
Section: utils
Priority: optional
Homepage: https://github.com/NVIDIA/nvidia-container-toolkit
Description: NVIDIA Container Toolkit Base
 Provides tools such as the NVIDIA Container Runtime and NVIDIA Container Toolkit CLI to enable GPU support in containers.
EOF

# nvidia-container-toolkit
pkg="nvidia-container-toolkit"; root=$work/$pkg
install_listed "$pkg" "$root" nvidia-container-runtime-hook
doc "$root" "$pkg"
mkdir -p "$root/DEBIAN"
maint_script "$pkg.postinst" "$root/DEBIAN/postinst"
maint_script "$pkg.postrm" "$root/DEBIAN/postrm"
build "$pkg" "$root" <<EOF
Package: $pkg
Version: $ver
Architecture: $arch
Maintainer: $nvidia
Installed-Size: @SIZE@
Depends: nvidia-container-toolkit-base (= $ver), libnvidia-container-tools (= $ver)
Breaks: nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook
Replaces: nvidia-container-runtime (<= 3.5.0-1), nvidia-container-runtime-hook
Section: utils
Priority: optional
Homepage: https://github.com/NVIDIA/nvidia-container-toolkit
Description: NVIDIA Container toolkit
 Provides tools and utilities to enable GPU support in containers.
EOF

# the two stand-ins for libnvidia-container
standin_note() {
  cat <<EOF
This $1 $ver is a stand-in, not NVIDIA's package.

NVIDIA's $1 holds $2, built from the libnvidia-container
source (https://github.com/NVIDIA/libnvidia-container), which could not be had where
this package was made. This one holds no program and no library; it exists so that
nvidia-container-toolkit $ver installs with its real dependencies.

What follows from it: nvidia-container-cli is not installed, so the legacy path fails:
the prestart hook nvidia-container-runtime-hook (added by the engine for --gpus when runc
is its runtime, or by nvidia-container-runtime in legacy mode) stops with
  nvidia-container-cli: executable file not found in \$PATH
The CDI path (nvidia-ctk cdi generate, --device nvidia.com/gpu=all) and the runtime's
jit-cdi mode do not use it.
EOF
}
for pkg in libnvidia-container1 libnvidia-container-tools; do
  root=$work/$pkg
  mkdir -p "$root/usr/share/doc/$pkg"
  if [ $pkg = libnvidia-container1 ]; then holds="libnvidia-container.so.1 (the library)"; else holds="nvidia-container-cli (the command-line tool)"; fi
  standin_note "$pkg" "$holds" >"$root/usr/share/doc/$pkg/README.stand-in"
done
build libnvidia-container1 "$work/libnvidia-container1" <<EOF
Package: libnvidia-container1
Source: libnvidia-container
Version: $ver
Architecture: $arch
Maintainer: gpu-runbook tests <root@localhost>
Installed-Size: @SIZE@
Depends: libc6 (>= 2.27), libcap2 (>= 1:2.10), libseccomp2 (>= 0.0.0~20120605)
Section: libs
Priority: optional
Multi-Arch: same
Homepage: https://github.com/NVIDIA/libnvidia-container
Description: stand-in for the NVIDIA container runtime library (holds no library)
 A stand-in for NVIDIA's libnvidia-container1 $ver, made so that the NVIDIA
 Container Toolkit installs with its real dependencies where libnvidia-container
 cannot be built. It contains no libnvidia-container.so.1 and no
 nvidia-container-cli, so the toolkit's legacy hook path cannot work: it fails
 with "nvidia-container-cli: executable file not found in \$PATH".
EOF
build libnvidia-container-tools "$work/libnvidia-container-tools" <<EOF
Package: libnvidia-container-tools
Source: libnvidia-container
Version: $ver
Architecture: $arch
Maintainer: gpu-runbook tests <root@localhost>
Installed-Size: @SIZE@
Depends: libnvidia-container1 (= $ver), libc6 (>= 2.14), libcap2 (>= 1:2.10)
Section: utils
Priority: optional
Homepage: https://github.com/NVIDIA/libnvidia-container
Description: stand-in for the NVIDIA container runtime library's tools (no nvidia-container-cli)
 A stand-in for NVIDIA's libnvidia-container-tools $ver, made so that the
 NVIDIA Container Toolkit installs with its real dependencies where
 libnvidia-container cannot be built. It contains no nvidia-container-cli, so
 the toolkit's legacy hook path (--gpus with runc, the runtime's legacy mode)
 cannot work: it fails with "nvidia-container-cli: executable file not found
 in \$PATH". CDI does not need it.
EOF
