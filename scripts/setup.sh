#!/usr/bin/env bash
# Flotilla set-up: from a fresh clone on Debian/Ubuntu with Node >= 20 to a running app
# (`setup.sh run`, the default) or a full test run (`setup.sh test`).
#   1. installs the system packages when missing (apt; sudo when not root)
#   2. installs the npm dependencies (npm ci)
#   3. builds the app and the embedded default guest (offline after the first time)
#   4. starts the app, or runs the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
. scripts/system-deps.sh

pkgs="$FLOTILLA_RUNTIME_PKGS"
[ "$mode" = test ] && pkgs="$pkgs $FLOTILLA_TEST_PKGS"

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "flotilla: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
  missing=""
  for p in $pkgs; do
    # read whole, then matched (pipefail and grep -q: see libvirt-test-setup.sh's alive_as)
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *"install ok installed"* ]] || missing="$missing $p"
  done
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # the default guest is assembled from Debian packages fetched with `apt-get download`: it needs package lists
  if [ -n "$missing" ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial -e auxfiles)" ]; then
    echo "flotilla: installing system packages:${missing:- (none; refreshing package lists)}"
    $SUDO apt-get update -qq
    [ -n "$missing" ] && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  fi
else
  cat >&2 <<MSG
flotilla: this is not a Debian/Ubuntu system, so packages are not installed automatically.
Install these, then run this script again:
  Fedora:  sudo dnf install qemu-system-x86-core qemu-img edk2-ovmf dpkg apt gcc glibc-static chromium
  Arch:    sudo pacman -S qemu-system-x86 qemu-img edk2-ovmf dpkg gcc chromium
The default guest is built from Debian packages with apt-get download + dpkg-deb; without apt,
point a VM at your own kernel and initrd instead (source "kernel" in the New VM dialog).
MSG
  command -v qemu-system-x86_64 >/dev/null || exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
node dist/cli/flotilla.js image build-default

case "$mode" in
  run) exec npm start ;;
  test) exec npm test ;;
  *) echo "usage: scripts/setup.sh [run|test]" >&2; exit 2 ;;
esac
