// Turns the built default guest (images/default: vmlinuz, initrd.img, manifest.json) into
// the kernel/initrd/append/machine the QEMU argument builder needs for one VM.
import { join } from 'node:path';
import { FlotillaError } from '../../shared/errors';
import { guestHostname } from './guest/boot-profile';
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
  };
}
