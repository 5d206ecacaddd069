#!/usr/bin/env bash
# e2e.sh KITDIR RUNBOOK_RECORD: NVIDIA's own end-to-end suite (the toolkit source's tests/e2e) on the GPU host,
# as root, from the repository's root, AFTER the runbook configured the host (tests/gpu/kit/device.sh, step
# `e2e`, runs it after the `toolkit` step). The suite runs with its local runner (no E2E_SSH_HOST) and
# E2E_INSTALL_CTK=false: the toolkit is the one the runbook installed and configured.
#
#   1. the docker CLI (Debian trixie's docker-cli, from KITDIR/e2e: tests/gpu/kit/make-e2e-kit.sh) into
#      KIT_ROOT/bin, the suite binary into KIT_ROOT/e2e;
#   2. the kit's registry also served as https://nvcr.io on loopback (a second docker-registry process over
#      the same storage, KITDIR/e2e/nvcr.io.crt; nvcr.io -> 127.0.0.1 in /etc/hosts; the engine trusts the
#      certificate through /etc/docker/certs.d/nvcr.io/ca.crt), since the suite pulls nvcr.io/... by name;
#   3. the images the suite pulls, made from this host (tests/gpu/kit/e2e_images.py says what each holds);
#   4. the suite: `e2e.test -ginkgo.v -ginkgo.junit-report=REC/junit.xml`, its output in REC/e2e.log;
#   5. REC/e2e-vs-runbook.md: each spec beside the runbook's verdict (tests/gpu/kit/e2e_compare.py over
#      REC/junit.xml and RUNBOOK_RECORD/summary.json).
# REC is the runbook's record's name with -e2e for -toolkit (records/<gpus>-DATE-e2e), beside it; it is also
# packed into $OUT/e2e.tar.gz. Exit code: the comparison's (0 no disagreement, 1 a disagreement, 2 no input),
# or 1 when the rig could not be made.
# Settings: KIT_ROOT=/tmp/gpu-kit REGISTRY_PORT=5000 DOCKER_HOST (device.sh exports it) E2E_TIMEOUT=6m
#   E2E_ARGS= (more -ginkgo.* flags, e.g. -ginkgo.label-filter='!container-runtime')
#   E2E_SKIP (default: e2e_compare.py --skip-regex, the containers that cannot run here; empty: run all)
#   E2E_SHARED_ROOT=1 (/ made a shared mount for the suite where it is private, and private again after it)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cd "$repo" || exit 2
[ $# -eq 2 ] || { echo "usage: $0 KITDIR RUNBOOK_RECORD" >&2; exit 2; }
kit=$(cd "$1" && pwd) || exit 2
runbook_rec=$2
KIT_ROOT=${KIT_ROOT:-/tmp/gpu-kit}
REGISTRY_PORT=${REGISTRY_PORT:-5000}
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
die() { echo "e2e: $*" >&2; exit 1; }
say() { echo "e2e: $*"; }
[ -s "$kit/e2e/e2e.test.xz" ] || die "no $kit/e2e/e2e.test.xz: make it with tests/gpu/kit/make-e2e-kit.sh and carry build/gpu-kit/e2e"
[ -s "$runbook_rec/summary.json" ] || say "WARNING: no $runbook_rec/summary.json: the table will say so"

# beside the runbook's record and named as it is (records/<gpus>-DATE-toolkit -> records/<gpus>-DATE-e2e), else
# by the first GPU's model
# (E2E_REC, when set, names it instead)
case ${E2E_REC:+given}$(basename "$runbook_rec") in
  given*) rec=$E2E_REC ;;
  *-toolkit) rec=$(dirname "$runbook_rec")/$(basename "$runbook_rec" -toolkit)-e2e ;;
  *)
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | grep -oiE '\b[a-z][0-9]{2,4}\b' | head -1 | tr 'A-Z' 'a-z')
    rec=records/${gpu:-gpu}-$(date -u +%F)-e2e ;;
esac
[ -n "${E2E_REC:-}" ] || [ ! -e "$rec" ] || rec=$rec-$(date -u +%H%M%S)
mkdir -p "$rec" "$KIT_ROOT/e2e"
rec=$(cd "$rec" && pwd)

# 1. the docker CLI and the suite
xz -dc "$kit/e2e/docker.xz" >"$KIT_ROOT/bin/docker.part" && chmod 0755 "$KIT_ROOT/bin/docker.part" \
  && mv "$KIT_ROOT/bin/docker.part" "$KIT_ROOT/bin/docker" || die "cannot unpack the docker CLI"
xz -dc "$kit/e2e/e2e.test.xz" >"$KIT_ROOT/e2e/e2e.test" && chmod 0755 "$KIT_ROOT/e2e/e2e.test" || die "cannot unpack the suite"
export PATH=$KIT_ROOT/bin:/usr/local/nvidia/bin:$PATH  # the driver's own nvidia-smi first, as the kit's engine has it
say "$(docker --version) (talking to $DOCKER_HOST); suite: $(head -1 "$kit/e2e/SOURCE")"
cp "$kit/e2e/SOURCE" "$kit/e2e/VERSIONS" "$rec/" 2>/dev/null

# 2. nvcr.io on loopback
mkdir -p /etc/docker/certs.d/nvcr.io
cp "$kit/e2e/nvcr.io.crt" /etc/docker/certs.d/nvcr.io/ca.crt
grep -qE '^127\.0\.0\.1[[:space:]]+nvcr\.io([[:space:]]|$)' /etc/hosts || echo "127.0.0.1 nvcr.io  # gpu-runbook kit (tests/gpu/kit/e2e.sh)" >>/etc/hosts \
  || say "WARNING: /etc/hosts cannot be written: nvcr.io images will not be found"
cat >"$KIT_ROOT/registry-nvcr.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $KIT_ROOT/registry
http:
  addr: 127.0.0.1:443
  tls:
    certificate: $kit/e2e/nvcr.io.crt
    key: $kit/e2e/nvcr.io.key
YML
pid=$(cat "$KIT_ROOT/registry-nvcr.pid" 2>/dev/null || true)
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
  setsid "$KIT_ROOT/bin/docker-registry" serve "$KIT_ROOT/registry-nvcr.yml" >>"$KIT_ROOT/registry-nvcr.log" 2>&1 </dev/null &
  echo $! >"$KIT_ROOT/registry-nvcr.pid"
fi
for _ in $(seq 40); do
  python3 - <<'PY' 2>/dev/null && break
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile="/etc/docker/certs.d/nvcr.io/ca.crt")
sys.exit(0 if urllib.request.urlopen("https://nvcr.io/v2/", timeout=2, context=ctx).status == 200 else 1)
PY
  sleep 0.25
done
say "nvcr.io: $(python3 -c 'import socket; print(socket.gethostbyname("nvcr.io"))' 2>&1) (the kit's registry over TLS: $(tail -1 "$KIT_ROOT/registry-nvcr.log" 2>/dev/null | cut -c1-120))"

# 3. the images
python3 "$here/e2e_images.py" --registry "127.0.0.1:$REGISTRY_PORT" --busybox "$kit/e2e/busybox" 2>&1 | tee "$rec/images.log"

# 4. the suite, from a folder of its own (it writes poc.c, a Dockerfile and temporary folders into the
#    working directory)
work=$(mktemp -d "$KIT_ROOT/e2e/work.XXXXXX")
say "running the suite (E2E_INSTALL_CTK=false, local runner; timeout ${E2E_TIMEOUT:-6m})"
t=$(date +%s)
# shellcheck disable=SC2086
skip=${E2E_SKIP-$(python3 "$here/e2e_compare.py" --skip-regex)}  # containers that cannot run here (e2e_compare.LEFT_OUT)
# the mount propagation specs bind a folder of /tmp with shared propagation: / must be a shared mount, as
# systemd makes it; where it is private (no systemd as PID 1), E2E_SHARED_ROOT=1 (the default) makes it shared
# for the suite and private again after it
made_shared=""
private_again() { [ -z "$made_shared" ] || { mount --make-private / && say "/ is a private mount again"; made_shared=""; }; }
trap private_again EXIT  # also when device.sh's budget stops the suite (timeout signals the whole group)
trap 'exit 143' TERM INT
if [ "${E2E_SHARED_ROOT:-1}" = 1 ] && [ "$(findmnt -no PROPAGATION / 2>/dev/null)" = private ]; then
  mount --make-shared / && made_shared=1 && say "/ made a shared mount for the suite (it was private)"
fi
(cd "$work" && E2E_INSTALL_CTK=false "$KIT_ROOT/e2e/e2e.test" -ginkgo.v -ginkgo.no-color \
  -ginkgo.timeout="${E2E_TIMEOUT:-6m}" -ginkgo.junit-report="$rec/junit.xml" ${skip:+-ginkgo.skip="$skip"} ${E2E_ARGS:-}) \
  >"$rec/e2e.log" 2>&1
suite_rc=$?
private_again
say "suite: exit $suite_rc in $(($(date +%s) - t)) s; $(grep -E '^(Ran|FAIL!|SUCCESS!)' "$rec/e2e.log" | paste -sd' ')"
docker ps -aq --filter name=nvct | xargs -r docker rm -f >/dev/null 2>&1

# the folder of the driver's libcuda.so.1 in the host's ld cache (the CDI spec mounts the libraries there)
lib_dir=$(dirname "$(ldconfig -p | awk '/libcuda\.so\.1 .*x86-64/ {print $NF; exit}')" 2>/dev/null)
# what the host and a plain image look like to the toolkit, for reading the failures: REC/probes.txt
probe() { echo "\$ $*"; timeout 30 bash -c "$*" 2>&1 | head -20; echo "(exit ${PIPESTATUS[0]})"; echo; }
{
  probe 'type -a nvidia-smi; head -c 300 /usr/bin/nvidia-smi | tr -c "[:print:]\n" "?"; echo'
  probe 'ls -d /lib/firmware/nvidia/* /usr/lib/firmware/nvidia/* 2>&1; cat /proc/driver/nvidia/params | grep -i ModifyDeviceFiles'
  probe 'grep -n "nvidia-smi\|libcuda.so" /var/run/cdi/nvidia.yaml | head -8'
  probe 'docker info --format "{{.DefaultRuntime}} {{json .Runtimes}}"'
  probe 'docker run --rm --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all ubuntu bash -c "echo PATH=\$PATH; ls -l /usr/local/nvidia/bin/nvidia-smi /usr/bin/nvidia-smi"'
  probe 'docker run --rm --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all -e PATH=/usr/local/nvidia/bin:/usr/bin:/bin ubuntu nvidia-smi -L'
  probe 'docker run --rm --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=runtime.nvidia.com/gpu=all busybox ls /usr/lib/x86_64-linux-gnu/ /usr/local/nvidia/lib64/ | head -30'
  probe 'docker run --rm --runtime=runc --gpus all ubuntu true'
  probe "findmnt -no TARGET,PROPAGATION /; ldconfig -p | grep 'libcuda.so.1 '"
  # the SONAME spec's own command, at the folder where this host keeps the driver's libraries
  probe "docker run --rm -i --runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=runtime.nvidia.com/gpu=all busybox ls -l $lib_dir/ | awk '{print \$1, \$9, \$11}' | grep -E 'libcuda|libnvidia-ml'"
} >"$rec/probes.txt" 2>&1

# 5. the table
python3 "$here/e2e_compare.py" "$rec/junit.xml" "$runbook_rec" --out "$rec/e2e-vs-runbook.md" --json "$rec/e2e-vs-runbook.json" \
  --driver-lib-dir "$lib_dir"
rc=$?
echo "runbook record: $runbook_rec" >"$rec/RUNBOOK_RECORD"
sed -n '1,8p' "$rec/e2e-vs-runbook.md" 2>/dev/null
if [ -n "${OUT:-}" ]; then
  tar -czf "$OUT/e2e.tar.gz" -C "$(dirname "$rec")" "$(basename "$rec")" && say "packed into \$OUT/e2e.tar.gz"
fi
exit "$rc"
