#!/usr/bin/env bash
# The system packages Flotilla needs, in one place for the setup script, .ci/run and the README.
#   runtime: QEMU, qemu-img, OVMF (UEFI), apt-utils to fetch the default guest's Debian packages,
#            the ssh client `flotilla ssh` runs, util-linux for setpriv (long qemu-img jobs die with the engine)
#            and unshare/mount (read-only shared folders, and every share of a user other than root),
#            uidmap's newuidmap/newgidmap (that user's virtiofsd namespace); shared folders' virtiofsd comes with
#            qemu-system-x86 (qemu-system-common's /usr/lib/qemu/virtiofsd on Debian 12);
#            gcc and libc6-dev compile the default guest's console relay (assets/guest/relay.c, static)
#   tests:   Debian's Chromium (Playwright drives it), tools that make the test images,
#            libvirt (with dnsmasq for its default network) and an sshd for the libvirt-host tests
#            (scripts/libvirt-test-setup.sh), and
#            libvirt's Python binding, which carries a libvirt domain's console (hosts/libvirt/console-stream.ts),
#            zsh for the completion tests
FLOTILLA_RUNTIME_PKGS="qemu-system-x86 qemu-utils ovmf openssh-client util-linux uidmap gcc libc6-dev"
FLOTILLA_TEST_PKGS="chromium busybox zsh xorriso grub-pc-bin grub-common mtools grub-efi-amd64-bin debian-installer-12-netboot-amd64 libvirt-daemon-system libvirt-clients python3-libvirt dnsmasq-base openssh-server"
