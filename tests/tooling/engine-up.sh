#!/usr/bin/env bash
# Brings up what the engine and notebook tests need, on a Debian machine, as root; idempotent.
#   - a Docker engine (Debian's docker.io), started when none answers on /var/run/docker.sock
#   - a registry on loopback (Debian's docker-registry) at 127.0.0.1:5000, for real pulls
#   - the test image runbook-test/debian:bookworm: a minimal Debian with python3, made by
#     debootstrap and imported, since no public registry is reachable from the test machines
#   - Debian's hello package in $cache/debs, re-hosted by the tests in a signed apt repository
# Prints nothing but progress; exits non-zero when something could not be brought up.
set -euo pipefail
cache=${RUNBOOK_TEST_CACHE:-/var/cache/gpu-runbook-test}
mkdir -p "$cache"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v gpg >/dev/null || need+=(gnupg)
command -v dpkg-scanpackages >/dev/null || need+=(dpkg-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "engine-up: need ${need[*]}; run as root" >&2; exit 1; fi
  echo "engine-up: installing ${need[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi

engine_answers() { docker -H unix:///var/run/docker.sock version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! engine_answers; then
  echo "engine-up: starting dockerd"
  (cd / && exec setsid dockerd) >/var/log/gpu-runbook-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 60); do engine_answers && break; sleep 0.5; done
  engine_answers || { tail -20 /var/log/gpu-runbook-dockerd.log >&2; exit 1; }
fi
getent group docker >/dev/null || groupadd docker
chgrp docker /var/run/docker.sock && chmod 660 /var/run/docker.sock

registry_answers() { python3 -c 'import urllib.request as u; u.urlopen("http://127.0.0.1:5000/v2/", timeout=2)' 2>/dev/null; }
if ! registry_answers; then
  echo "engine-up: starting the loopback registry"
  mkdir -p "$cache/registry"
  cat >"$cache/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $cache/registry
http:
  addr: 127.0.0.1:5000
YML
  (cd / && exec setsid docker-registry serve "$cache/registry.yml") >/var/log/gpu-runbook-registry.log 2>&1 </dev/null &
  for _ in $(seq 40); do registry_answers && break; sleep 0.5; done
  registry_answers || { tail -20 /var/log/gpu-runbook-registry.log >&2; exit 1; }
fi

image=runbook-test/debian:bookworm
if ! docker image inspect "$image" >/dev/null 2>&1; then
  if [ ! -s "$cache/bookworm.tar" ]; then
    echo "engine-up: building $image with debootstrap (about a minute)"
    root=$(mktemp -d)
    debootstrap --variant=minbase --include=python3-minimal bookworm "$root" >"$cache/debootstrap.log" 2>&1 \
      || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$cache/bookworm.tar.tmp" . && mv "$cache/bookworm.tar.tmp" "$cache/bookworm.tar"
    rm -rf "$root"
  fi
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$cache/bookworm.tar" "$image" >/dev/null
fi
# a real Debian package for the apt repository the toolkit install tests build and sign
if ! compgen -G "$cache/debs/hello_*.deb" >/dev/null; then
  mkdir -p "$cache/debs"
  (cd "$cache/debs" && { apt-get download -q hello >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download -q hello >/dev/null; }; })
fi
echo "engine-up: engine, registry at 127.0.0.1:5000, $image and $cache/debs ready"
