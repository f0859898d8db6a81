// Turns the built default guest (images/default: vmlinuz, initrd.img, manifest.json) into
// the kernel/initrd/append/machine the QEMU argument builder needs for one VM.
import { join } from 'node:path';
import type { CallContext, ContractHandler } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { DEFAULT_GUEST_PROFILE, guestHostname } from './guest/boot-profile';
import { readDefaultGuest } from './guest/build-default';
import type { DefaultGuestBoot } from './qemu-args';

export async function defaultGuestBoot(home: string, vmName: string): Promise<DefaultGuestBoot> {
  const g = await readDefaultGuest(home);
  if (!g.ready || !g.manifest) {
    throw new FlotillaError('DEFAULT_IMAGE_MISSING', `the default guest image is not built (${g.dir}): run \`flotilla image build-default\``);
  }
  const m = g.manifest;
  return {
    kernel: join(g.dir, 'vmlinuz'),
    initrd: join(g.dir, 'initrd.img'),
    append: [m.cmdline, `${m.nameParam}=${guestHostname(vmName)}`].filter(Boolean).join(' '),
    machine: m.machine,
    console: m.console,
    ...(m.bios ? { bios: m.bios } : {}),
    // a bzImage (with its EFI stub) for UEFI: the one kept beside a PVH ELF, or the only kernel
    ...(m.files.bzImage ? { uefiKernel: join(g.dir, 'bzImage') } : m.kernelFormat === 'bzimage' ? { uefiKernel: join(g.dir, 'vmlinuz') } : {}),
    ...(DEFAULT_GUEST_PROFILE.cpu ? { tcgCpu: DEFAULT_GUEST_PROFILE.cpu } : {}),
    ...(DEFAULT_GUEST_PROFILE.tcgAccelProps ? { tcgAccelProps: DEFAULT_GUEST_PROFILE.tcgAccelProps } : {}),
    ...(DEFAULT_GUEST_PROFILE.noReboot ? { noReboot: true } : {}),
  };
}

const internalCtx: CallContext = { clientId: 'first-run', emit: () => {}, onClose: () => {} };

/**
 * First start without a default guest: build it in the background (every shell does this).
 * The UI shows engine.progress meanwhile; failures are logged with the command to retry.
 */
export async function ensureDefaultGuest(handler: ContractHandler, log: (line: string) => void): Promise<void> {
  const info = await handler.handle('engine.info', {}, internalCtx);
  if (info.defaultImage.ready) return;
  log(`the default guest image is missing: building it into ${info.defaultImage.path} in the background`);
  handler.handle('image.buildDefault', {}, internalCtx).then(
    (r) => log(`default guest built (kernel ${r.kernelVersion})`),
    (e: unknown) => log(`could not build the default guest: ${e instanceof Error ? e.message : String(e)} (retry with: flotilla image build-default)`),
  );
}
