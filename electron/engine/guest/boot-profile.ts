// How to boot the embedded default guest fast: kernel command line and the machine/device
// choices the engine's QEMU argument builder should make for it. Pure data, no I/O.
//
// Device set the guest is built and tested against (the engine supplies exactly this):
//   -nodefaults -no-user-config -machine q35 -bios qboot.rom -cpu qemu64,+rdrand -accel tcg (or kvm)
//   -kernel vmlinuz -initrd initrd.img -append <defaultGuestAppend(name)>
//      vmlinuz is the uncompressed ELF vmlinux (manifest kernelFormat 'pvh-elf'): QEMU enters it
//      through PVH, so no guest-side decompression; qboot (QEMU's minimal firmware, shipped with
//      qemu-system-data) instead of SeaBIOS. Both cut the time before the kernel runs several-fold.
//   -device <virtioSerial>,id=vser0 -chardev socket,id=ser0,path=<sock>,server=on,wait=off
//   -device virtserialport,bus=vser0.0,chardev=ser0,name=org.flotilla.console.0     → the console: flotilla-relay joins it to a pty shell
//   -chardev socket,id=ga0,path=<sock>,server=on,wait=off
//   -device virtserialport,chardev=ga0,name=org.qemu.guest_agent.0                  → qemu-ga
//   -chardev socket,id=uart0,path=<uart.sock>,... -serial chardev:uart0            → ttyS0 (kernel messages, a second shell)
//   the console is a virtio port: an emulated 16550 moves ~0.3 MB/s under TCG, a virtio port ~30×
//   that; a plain port rather than a virtconsole because QEMU throttles it instead of dropping
//   -netdev user,id=n0,hostfwd=tcp:127.0.0.1:H-:G -device <virtioNet>,netdev=n0      → eth0, 10.0.2.15/24
//   -qmp unix:<sock>,server=on,wait=off                                             → system_powerdown = ACPI button
// Disks, if any, use <virtioBlk> (ext4 is built into the kernel).

import type { GuestConsoleKind } from '../qemu-args';

export type VirtioTransport = 'pci' | 'mmio';

export interface GuestBootProfile {
  /** value for -machine */
  machine: string;
  /** value for -bios (a firmware file name QEMU finds in its data dir), or null for the default SeaBIOS */
  bios: string | null;
  /** value for -cpu, or null for QEMU's default model */
  cpu: string | null;
  /** which virtio transport the machine uses; decides the device model names below */
  transport: VirtioTransport;
  virtioSerial: string;
  virtioNet: string;
  virtioBlk: string;
  /** the guest's console (written to the manifest; see GuestConsoleKind in qemu-args.ts) */
  console: GuestConsoleKind;
  /** pass -no-reboot: a guest reboot (or panic) ends QEMU instead of looping */
  noReboot: boolean;
  /** recommended memory in MiB; the guest runs from its initramfs */
  memoryMiB: number;
  /** extra -accel properties for TCG, e.g. 'tb-size=64' */
  tcgAccelProps: string;
}

export const DEFAULT_GUEST_PROFILE: GuestBootProfile = {
  machine: 'q35',
  bios: 'qboot.rom',
  // Under TCG the baseline x86-64 model boots ~0.15–0.2 s faster than `max` (same-run boots:
  // 1798 vs 1998 ms, 1887 vs 2022 ms), mostly in the kernel phase; not from ERMS or XSAVE
  // (max without them was no faster). RDRAND seeds the kernel's RNG at once (without it the
  // crng was not ready when the agent answered). Debian's userland needs only baseline x86-64.
  cpu: 'qemu64,+rdrand',
  transport: 'pci',
  virtioSerial: 'virtio-serial-pci',
  virtioNet: 'virtio-net-pci',
  virtioBlk: 'virtio-blk-pci',
  console: 'vport',
  noReboot: false,
  memoryMiB: 256,
  // TCG's translation buffer (default 1 GiB, resident as it fills) was most of QEMU's own memory.
  // Per QEMU with 8 running (PSS − resident guest RAM, bench/README.md): default 86.6 MiB,
  // tb-size=32 → 62.6, 28 → 59.2 with no boot cost measurable (same-run boots). Smaller buffers
  // fill while qemu-ga starts and the flush costs boot time: 24 → +55 ms, 20 → +170 ms (47.8 MiB),
  // 16 → +28 % CPU. A guest workload with more hot code than this refills it more often.
  tcgAccelProps: 'tb-size=28',
};

/** The kernel parameter the guest's init reads its hostname from. */
export const GUEST_NAME_PARAM = 'flotilla.name';

/** Kernel parameters that do not depend on the VM. Each one is here because it saves boot time or is needed. */
export const DEFAULT_GUEST_CMDLINE: readonly string[] = [
  // kernel messages (and busybox init's) go to the UART only, ttyS0, from the first instruction:
  // a panic before the modules load is still visible there. The console proper is a virtio-serial
  // port relayed to the shell's pty (console 'vport'), which the kernel cannot write to; its log
  // would not belong in the terminal anyway
  'console=ttyS0',
  'quiet', // fewer boot messages to format and replay
  'cryptomgr.notests', // crypto self-tests: ~0.7 s of emulated CPU at boot
  // initcalls that only self-test or set up tracing interfaces nobody uses in this guest
  'initcall_blacklist=crypto_kdf108_init,init_kprobe_trace,trace_eval_init,tracer_init_tracefs',
  '8250.nr_uarts=1', // only ttyS0 exists; probing the other three legacy ports is wasted
  'i8042.noaux', // no PS/2 mouse to probe
  'no_timer_check', // skip the IO-APIC timer sanity loop
  // TCG's TSC and HPET both follow host time; on a busy host the clocksource watchdog sees
  // skew anyway and falls back to the HPET, whose every read is an emulated MMIO access
  'tsc=reliable',
  // Debian turns on zeroing of every page and slab allocation (hardening against uninitialised
  // reads); under TCG the extra memset is emulated CPU at every allocation of the boot
  'init_on_alloc=0',
  // the guest is IPv4-only (QEMU user networking forwards ports to 10.0.2.15): without IPv6 the
  // kernel skips inet6_init's set-up and the per-interface address configuration when eth0 and
  // lo come up. Listeners on "::" fall back (busybox) or fail (EAFNOSUPPORT).
  'ipv6.disable=1',
  // the LSMs that do nothing here without their userspace (AppArmor profiles, tomoyo-init) or
  // programs (BPF LSM) are not initialised; lockdown, capabilities, Landlock, Yama and IMA stay
  'lsm=lockdown,capability,landlock,yama,integrity',
  // A kernel that finds one CPU rewrites every `lock` prefix in its text to a no-op prefix (the
  // "SMP alternatives"), each with text_poke(): a temporary mapping and a TLB flush, which TCG
  // turns into a flush of its whole soft TLB. With 1 vCPU that was ~0.17 s of the ~0.3 s spent in
  // alternatives patching; alternating boots, 7 each: 1751 → 1544 ms to agent-ready. The prefixes
  // then stay: TCG with one vCPU translates locked instructions as plain ones, and under KVM a
  // locked instruction on one CPU costs a few cycles.
  'noreplace-smp',
];

// Measured with initcall_debug under TCG (printk.time, log read through the agent), what is left:
// patching the kernel's ~48k return-thunk sites at boot (alternatives, ~0.14 s of a quiet boot
// once noreplace-smp keeps the lock prefixes); acpi_init (~0.16 s, needed for the power button and PCI); the
// initramfs unpacking. rodata=off (skips W+X checks) saved nothing measurable and is not used.
// Not here, measured: mitigations=off. It clears the retpoline/return-thunk features, so boot
// then rewrites tens of thousands of call and return sites (alternatives patching took longer).
// Not here either: microvm (no PIT/HPET under TCG, so the kernel cannot calibrate the TSC).


/** Hostnames: letters, digits, '-' and '.', at most 63 characters; anything else becomes '-'. */
export function guestHostname(vmName: string): string {
  const h = vmName
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 63);
  return h || 'flotilla';
}

/** The full -append value for a VM named vmName. */
export function defaultGuestAppend(vmName: string): string {
  return [...DEFAULT_GUEST_CMDLINE, `${GUEST_NAME_PARAM}=${guestHostname(vmName)}`].join(' ');
}

/** The readiness line the guest prints on its serial console once the agent is started. */
export const READY_PREFIX = 'FLOTILLA-READY';
export function readyLine(hostname: string, kernelVersion: string): string {
  return `${READY_PREFIX} ${hostname} ${kernelVersion}`;
}
