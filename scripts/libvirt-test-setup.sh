#!/usr/bin/env bash
# Test set-up for libvirt hosts (issue 13): a libvirtd that runs TCG domains, and a "remote"
# host on loopback (an sshd on 127.0.0.1:2222 reached as qemu+ssh://root@127.0.0.1:2222/system).
#
#   scripts/libvirt-test-setup.sh [start]   set up and start what is missing (safe to run twice)
#   scripts/libvirt-test-setup.sh stop      stop only the daemons this script started (and remove env: the tests then skip or say to run this)
#   scripts/libvirt-test-setup.sh env       print the variables the tests read (sourceable)
#
# State (keys, known_hosts, sshd config, pids of what it started) lives in $FLOTILLA_LIBVIRT_TEST_DIR
# (default /tmp/flotilla-libvirt-test, mode 0700). Needs root: it edits /etc/libvirt/qemu.conf and
# starts system daemons. Packages: libvirt-daemon-system libvirt-clients openssh-server
# (scripts/system-deps.sh lists them among the test packages).
set -euo pipefail
mode="${1:-start}"
dir="${FLOTILLA_LIBVIRT_TEST_DIR:-/tmp/flotilla-libvirt-test}"
port="${FLOTILLA_LIBVIRT_TEST_SSH_PORT:-2222}"

say() { echo "libvirt-test-setup: $*"; }

print_env() {
  echo "FLOTILLA_LIBVIRT_TEST_DIR=$dir"
  echo "FLOTILLA_LIBVIRT_TEST_KEY=$dir/client_key"
  echo "FLOTILLA_LIBVIRT_TEST_KNOWN_HOSTS=$dir/known_hosts"
  echo "FLOTILLA_LIBVIRT_TEST_SSH_URI=qemu+ssh://root@127.0.0.1:$port/system"
}

# a pid file names a live process whose command line still starts with the expected program
alive_as() { # pidfile program
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  [ -r "/proc/$pid/cmdline" ] || return 1
  # read whole, then matched: with pipefail, `… | grep -q` fails when grep quits before the writer
  # is done (SIGPIPE), which can make a running program look gone
  local cmd
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  grep -q -- "$2" <<<"$cmd"
}

stop_started() { # name pidfile program
  if [ -e "$dir/started-$1" ] && alive_as "$2" "$3"; then
    local pid
    pid="$(cat "$2")"
    kill "$pid"
    # wait for it to be gone, so a start right after cannot race its shutdown
    for _ in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    say "stopped $1"
  fi
  rm -f "$dir/started-$1"
}

if [ "$mode" = env ]; then print_env; exit 0; fi
if [ "$mode" = stop ]; then
  [ -d "$dir" ] || exit 0
  # the tests read env as "set up and running": without it they skip, saying to run this script,
  # instead of failing on a refused connection
  rm -f "$dir/env"
  stop_started sshd "$dir/sshd.pid" sshd
  if [ -f "$dir/started-network" ]; then
    virsh --connect qemu:///system net-destroy default >/dev/null 2>&1 && say "stopped libvirt's default network"
    rm -f "$dir/started-network"
  fi
  stop_started libvirtd /var/run/libvirtd.pid libvirtd
  stop_started virtlogd /var/run/virtlogd.pid virtlogd
  exit 0
fi
[ "$mode" = start ] || { echo "usage: $0 [start|stop|env]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "libvirt-test-setup: needs root (it configures and starts libvirtd and sshd)" >&2; exit 1; }
for tool in libvirtd virtlogd virsh sshd ssh-keygen; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null || {
    echo "libvirt-test-setup: $tool is missing: apt-get install libvirt-daemon-system libvirt-clients openssh-server" >&2
    exit 1
  }
done
export PATH="$PATH:/usr/sbin"

install -d -m 0700 "$dir"

# --- libvirtd for TCG domains (no KVM, no AppArmor/SELinux labelling in containers)
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt >/dev/null || groupadd --system libvirt
getent passwd libvirt-qemu >/dev/null || useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin -g kvm libvirt-qemu
conf=/etc/libvirt/qemu.conf
set_conf() { # key value: replace an active or commented line, or append
  if grep -qE "^[#[:space:]]*$1[[:space:]]*=" "$conf"; then
    grep -qE "^$1 = $2\$" "$conf" || sed -i -E "0,/^[#[:space:]]*$1[[:space:]]*=.*/s//$1 = $2/" "$conf"
  else
    echo "$1 = $2" >>"$conf"
  fi
}
set_conf user '"root"'
set_conf group '"root"'
set_conf security_driver '"none"'
install -d /var/log/libvirt/qemu /var/run/libvirt

if ! alive_as /var/run/virtlogd.pid virtlogd; then
  virtlogd -d && touch "$dir/started-virtlogd" && say "started virtlogd"
fi
if ! alive_as /var/run/libvirtd.pid libvirtd; then
  libvirtd -d && touch "$dir/started-libvirtd" && say "started libvirtd"
fi
for _ in $(seq 1 100); do
  virsh --connect qemu:///system version >/dev/null 2>&1 && break
  sleep 0.1
done
virsh --connect qemu:///system version >/dev/null || { echo "libvirt-test-setup: libvirtd does not answer on qemu:///system" >&2; exit 1; }

# --- libvirt's "default" NAT network (virbr0, DHCP from dnsmasq), as a fresh Debian install runs
# it: Flotilla puts new domains on it, as virt-manager does
# (the output is read whole first, as in alive_as: piped into grep -q, virsh could die of SIGPIPE
# and pipefail made an active network look inactive; then net-start said "already active" and set-up failed)
net_active() {
  local info
  info="$(virsh --connect qemu:///system net-info --network default 2>/dev/null)" || return 1
  grep -qE '^Active:[[:space:]]+yes' <<<"$info"
}
if ! net_active; then
  command -v dnsmasq >/dev/null || { echo "libvirt-test-setup: dnsmasq is missing (libvirt's default network needs it): apt-get install dnsmasq-base" >&2; exit 1; }
  virsh --connect qemu:///system net-info --network default >/dev/null 2>&1 || virsh --connect qemu:///system net-define /usr/share/libvirt/networks/default.xml >/dev/null
  # a libvirtd just started may still be bringing its autostarted networks back: "already active"
  # then means it is there
  if out=$(virsh --connect qemu:///system net-start default 2>&1); then
    touch "$dir/started-network" && say "started libvirt's default network"
  elif ! net_active; then
    echo "libvirt-test-setup: libvirt's default network does not start: $out" >&2
    exit 1
  fi
fi

# --- sshd on loopback with keys made for this run
[ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C flotilla-test-host -f "$dir/host_key"
[ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C flotilla-test-client -f "$dir/client_key"
install -m 0600 "$dir/client_key.pub" "$dir/authorized_keys"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
chmod 0600 "$dir/known_hosts"
cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
# the keys live under /tmp, which StrictModes would refuse (world-writable parent)
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
MaxSessions 64
MaxStartups 64
LogLevel ERROR
CONF
install -d -m 0755 /run/sshd
if ! alive_as "$dir/sshd.pid" sshd; then
  "$(command -v sshd)" -f "$dir/sshd_config" && touch "$dir/started-sshd" && say "started sshd on 127.0.0.1:$port"
fi
for _ in $(seq 1 50); do
  ssh -q -p "$port" -i "$dir/client_key" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" root@127.0.0.1 true && break
  sleep 0.2
done
ssh -p "$port" -i "$dir/client_key" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$dir/known_hosts" root@127.0.0.1 true ||
  { echo "libvirt-test-setup: ssh to 127.0.0.1:$port with the test key failed" >&2; exit 1; }
print_env >"$dir/env"
say "ready ($dir/env)"
