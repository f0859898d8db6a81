#!/usr/bin/env bash
# Per-call time of `virsh list --all` on the test libvirt host (scripts/libvirt-test-setup.sh):
# local qemu:///system; remote over libvirt's ssh transport (a new ssh connection per call);
# remote over libvirt's libssh transport (same, known_hosts checked); remote through one ssh
# ControlMaster with libvirt's socket forwarded (what Flotilla does, ssh-master.ts).
# no_verify=1 appears only here, on the loopback test host, because libvirt 9.0's ssh transport
# cannot be pointed at the test's known_hosts; Flotilla itself refuses that parameter.
set -euo pipefail
. "${FLOTILLA_LIBVIRT_TEST_DIR:-/tmp/flotilla-libvirt-test}/env"
n="${1:-10}"
D="$FLOTILLA_LIBVIRT_TEST_DIR"
median_ms() { # command...: prints the median wall time of n runs in ms
  local times=()
  for _ in $(seq 1 "$n"); do
    local s; s=$(date +%s%N)
    "$@" >/dev/null
    times+=($(( ($(date +%s%N) - s) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
echo "local qemu:///system:                 $(median_ms virsh -c qemu:///system list --all) ms"
echo "qemu+ssh (ssh per call):              $(median_ms virsh -c "qemu+ssh://root@127.0.0.1:2222/system?keyfile=$D/client_key&no_verify=1" list --all) ms"
echo "qemu+libssh (ssh per call):           $(median_ms virsh -c "qemu+libssh://root@127.0.0.1:2222/system?keyfile=$D/client_key&known_hosts=$D/known_hosts&sshauth=privkey" list --all) ms"
M=$(mktemp -d)
trap 'ssh -S "$M/ctl" -O exit x 2>/dev/null || true; rm -rf "$M"' EXIT
ssh -p 2222 -i "$D/client_key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$D/known_hosts" \
  -S "$M/ctl" -o ControlMaster=yes -o ControlPersist=yes -f -N root@127.0.0.1
ssh -S "$M/ctl" -O forward -L "$M/libvirt.sock:/var/run/libvirt/libvirt-sock" x 2>/dev/null
echo "ControlMaster + forwarded socket:     $(median_ms virsh -c "qemu+unix:///system?socket=$M/libvirt.sock" list --all) ms"
echo "bare ssh true (new connection):       $(median_ms ssh -p 2222 -i "$D/client_key" -o BatchMode=yes -o UserKnownHostsFile="$D/known_hosts" root@127.0.0.1 true) ms"
