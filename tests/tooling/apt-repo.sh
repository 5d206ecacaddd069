#!/usr/bin/env bash
# apt-repo.sh DEBS_DIR REPO_DIR: a signed apt repository laid out as NVIDIA's toolkit repository
# (https://nvidia.github.io/libnvidia-container/), so that its URL can stand in for NVIDIA's:
#
#   REPO_DIR/gpgkey                                         the signing key, ASCII-armored
#   REPO_DIR/stable/deb/nvidia-container-toolkit.list       NVIDIA's text, verbatim
#   REPO_DIR/stable/deb/ARCH/                               flat repository: the .deb files,
#                                                           Packages, Packages.xz, Release,
#                                                           InRelease, Release.gpg
#   REPO_DIR/stable/rpm/nvidia-container-toolkit.repo       NVIDIA's text, verbatim (no rpm packages)
#   REPO_DIR/experimental/deb/..., experimental/rpm/...     the same for the experimental channel
#
# As in NVIDIA's repository, packages whose version has a tilde (release candidates, 1.20.0~rc.1-1)
# go to experimental, the others to stable; an "all" package goes to every architecture. Both
# channels always get signed indexes, so uncommenting the experimental line of the .list works.
#
# The .list and .repo texts are NVIDIA's, byte for byte, from the gh-pages branch of
# github.com/NVIDIA/libnvidia-container (served at https://nvidia.github.io/libnvidia-container/),
# kept in tests/fixtures/toolkit/ (its README says which versions). They name nvidia.github.io,
# not this repository: whoever uses a mirror rewrites the URLs, as NVIDIA's install guide does for
# signed-by. The Release fields are those of NVIDIA's InRelease (Origin, Label, Codename = channel,
# SHA512 only).
#
# The signing key is made for each run in a temporary GNUPGHOME and its secret part is thrown away;
# only its public part is kept, as REPO_DIR/gpgkey. Each run rebuilds both channels, so it can be
# run again after DEBS_DIR changed.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 DEBS_DIR REPO_DIR" >&2; exit 2; }
debs=$(cd "$1" && pwd)
mkdir -p "$2"
repo=$(cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
texts=$here/../fixtures/toolkit
for tool in gpg dpkg-scanpackages dpkg-deb xz; do
  command -v $tool >/dev/null || { echo "apt-repo: $tool is missing (Debian: gnupg, dpkg-dev, xz-utils)" >&2; exit 3; }
done
shopt -s nullglob
all_debs=("$debs"/*.deb)
[ ${#all_debs[@]} -gt 0 ] || { echo "apt-repo: no .deb files in $debs" >&2; exit 1; }

gnupghome=$(mktemp -d)
trap 'gpgconf --homedir "$gnupghome" --kill all >/dev/null 2>&1 || true; rm -rf "$gnupghome"' EXIT
export GNUPGHOME=$gnupghome
gpg --batch --quiet --passphrase '' \
  --quick-generate-key "gpu-runbook test repository (throwaway key, not NVIDIA's) <gpu-runbook-test@localhost>" \
  rsa4096 sign never 2>/dev/null
fpr=$(gpg --batch --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}')

# which channel and architectures each package goes to
declare -A arches=()
for deb in "${all_debs[@]}"; do
  a=$(dpkg-deb -f "$deb" Architecture)
  [ "$a" = all ] || arches[$a]=1
done
[ ${#arches[@]} -gt 0 ] || arches[$(dpkg --print-architecture)]=1

rm -rf "$repo/stable" "$repo/experimental"
for channel in stable experimental; do
  mkdir -p "$repo/$channel/deb" "$repo/$channel/rpm"
  if [ $channel = stable ]; then src=$texts; else src=$texts/experimental; fi
  cp "$src/nvidia-container-toolkit.list" "$repo/$channel/deb/nvidia-container-toolkit.list"
  cp "$src/nvidia-container-toolkit.repo" "$repo/$channel/rpm/nvidia-container-toolkit.repo"
  for arch in "${!arches[@]}"; do mkdir -p "$repo/$channel/deb/$arch"; done
done
newest=0
for deb in "${all_debs[@]}"; do
  v=$(dpkg-deb -f "$deb" Version); a=$(dpkg-deb -f "$deb" Architecture)
  case $v in *~*) channel=experimental ;; *) channel=stable ;; esac
  if [ "$a" = all ]; then targets=("${!arches[@]}"); else targets=("$a"); fi
  for arch in "${targets[@]}"; do
    ln -f "$deb" "$repo/$channel/deb/$arch/" 2>/dev/null || cp -p "$deb" "$repo/$channel/deb/$arch/"
  done
  m=$(stat -c %Y "$deb")
  if [ "$m" -gt "$newest" ]; then newest=$m; fi
done

for channel in stable experimental; do
  for arch in "${!arches[@]}"; do
    dir=$repo/$channel/deb/$arch
    (cd "$dir" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages)
    xz -9 -k -f "$dir/Packages"
    {
      echo "Architectures: $arch"
      echo "Codename: $channel"
      echo "Components: main"
      echo "Date: $(LC_ALL=C date -u -d "@$newest" '+%a, %d %b %Y %H:%M:%S +0000')"
      echo "Description: NVIDIA container runtime library repository"
      echo "Label: NVIDIA CORPORATION <cudatools@nvidia.com>"
      echo "Origin: https://nvidia.github.io/libnvidia-container/$channel"
      echo "Version: 1.0"
      echo "SHA512:"
      for f in Packages Packages.xz; do
        printf ' %s %16d %s\n' "$(sha512sum <"$dir/$f" | cut -d' ' -f1)" "$(stat -c %s "$dir/$f")" "$f"
      done
    } >"$dir/Release"
    gpg --batch --yes --quiet --local-user "$fpr" --digest-algo SHA512 --clearsign -o "$dir/InRelease" "$dir/Release"
    gpg --batch --yes --quiet --local-user "$fpr" --digest-algo SHA512 --armor --detach-sign -o "$dir/Release.gpg" "$dir/Release"
  done
done
gpg --batch --quiet --armor --export "$fpr" >"$repo/gpgkey" 2>/dev/null

echo "apt-repo: $repo signed by $fpr:" >&2
for channel in stable experimental; do
  for arch in "${!arches[@]}"; do
    echo "  $channel/deb/$arch: $(grep -c '^Package:' "$repo/$channel/deb/$arch/Packages" || true) packages" >&2
  done
done
