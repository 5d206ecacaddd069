#!/usr/bin/env bash
# try-apt-install.sh REPO_DIR [IMAGE]: installs the toolkit from the repository that apt-repo.sh
# made, in a throwaway container, the way NVIDIA's install guide does, and shows the result.
#
# REPO_DIR is served on 127.0.0.1 by python3's http.server; the container (IMAGE, default
# runbook-test/debian:bookworm, a minimal Debian without gpg or curl) shares the host's network.
# In it, apt's own downloader (apt-helper) fetches REPO_DIR/gpgkey and the repository's .list;
# the key is kept armored as a keyring ending in .asc, which apt reads in signed-by without gpg;
# the list's URLs are rewritten to the loopback server and signed-by is added, as the guide's sed
# does; only that list is used for apt-get update, so nothing but the loopback repository is read.
# Then the four packages are installed at the one version the repository has (or $TOOLKIT_VERSION),
# and `nvidia-ctk --version`, the runtime's config.toml written by the base package's postinst and
# `nvidia-ctk runtime configure --runtime=docker --config=/tmp/d.json` are shown.
# The server and the container are removed at the end, whatever happened.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 REPO_DIR [IMAGE]" >&2; exit 2; }
repo=$(cd "$1" && pwd)
image=${2:-runbook-test/debian:bookworm}
docker image inspect "$image" >/dev/null 2>&1 || { echo "try-apt-install: no image $image" >&2; exit 3; }
version=${TOOLKIT_VERSION:-$(sed -n 's/^Version: //p' "$repo"/stable/deb/*/Packages | sort -uV | tail -1)}
[ -n "$version" ] || { echo "try-apt-install: no package in $repo/stable" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
name=rb-toolkit-apt-$$

python3 -m http.server --bind 127.0.0.1 --directory "$repo" "$port" >/dev/null 2>&1 &
server=$!
trap 'docker rm -f "$name" >/dev/null 2>&1 || true; kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  python3 -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=1)' "http://127.0.0.1:$port/gpgkey" 2>/dev/null && break
  sleep 0.1
done

docker run --name "$name" --network host -e PORT="$port" -e V="$version" "$image" bash -euo pipefail -c '
say() { printf "\n\$ %s\n" "$*"; }
base=http://127.0.0.1:$PORT
keyring=/usr/share/keyrings/nvidia-container-toolkit-keyring.asc
list=/etc/apt/sources.list.d/nvidia-container-toolkit.list
say "/usr/lib/apt/apt-helper download-file $base/gpgkey /tmp/gpgkey && install -m 0644 /tmp/gpgkey $keyring"
/usr/lib/apt/apt-helper download-file "$base/gpgkey" /tmp/gpgkey >/dev/null
install -m 0644 /tmp/gpgkey "$keyring"
head -1 "$keyring"
/usr/lib/apt/apt-helper download-file "$base/stable/deb/nvidia-container-toolkit.list" /tmp/nvidia.list >/dev/null
say "cat $list   # from stable/deb/nvidia-container-toolkit.list, URLs rewritten, signed-by added"
sed "s#deb https://nvidia.github.io/libnvidia-container#deb [signed-by=$keyring] $base#" /tmp/nvidia.list >"$list"
cat "$list"
say apt-get update "(only $list)"
apt-get update -o Dir::Etc::SourceList="$list" -o Dir::Etc::SourceParts=- 2>&1
pkgs="nvidia-container-toolkit=$V nvidia-container-toolkit-base=$V libnvidia-container-tools=$V libnvidia-container1=$V"
say apt-get install -y --no-install-recommends $pkgs
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs 2>&1
say "dpkg -l | grep nvidia"
dpkg -l | grep nvidia
say "ls -l /usr/bin/nvidia-*"
ls -l /usr/bin/nvidia-*
say "command -v nvidia-container-cli"
command -v nvidia-container-cli || echo "(not installed: the libnvidia-container packages are stand-ins)"
say nvidia-ctk --version
nvidia-ctk --version
say "head -20 /etc/nvidia-container-runtime/config.toml   # written by the base package postinst"
head -20 /etc/nvidia-container-runtime/config.toml
say nvidia-ctk runtime configure --runtime=docker --config=/tmp/d.json
nvidia-ctk runtime configure --runtime=docker --config=/tmp/d.json 2>&1
say cat /tmp/d.json
cat /tmp/d.json
echo
'
