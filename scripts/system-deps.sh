#!/usr/bin/env bash
# The system packages Flotilla needs, in one place for the setup script, .ci/run and the README.
#   runtime: QEMU, qemu-img, OVMF (UEFI), apt-utils to fetch the default guest's Debian packages,
#            the ssh client `flotilla ssh` runs
#   tests:   Debian's Chromium (Playwright drives it), tools that make the test images,
#            libvirt and an sshd for the libvirt-host tests (scripts/libvirt-test-setup.sh)
FLOTILLA_RUNTIME_PKGS="qemu-system-x86 qemu-utils ovmf openssh-client"
FLOTILLA_TEST_PKGS="chromium busybox xorriso grub-pc-bin grub-common mtools grub-efi-amd64-bin debian-installer-12-netboot-amd64 libvirt-daemon-system libvirt-clients openssh-server"
