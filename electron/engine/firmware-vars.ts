// The per-VM UEFI variable store: a qcow2 copy of OVMF's VARS template, made once per VM.
// qcow2 and not raw because QEMU's snapshot-save refuses a writable raw node, and the variable
// flash is writable. VMs made before the store was qcow2 have a raw ovmf-vars.fd: it is converted
// (keeping the boot entries the guest wrote) and removed on their next start.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { produceFileAtomic } from './atomic-file';
import { qemuImgConvert } from './images';
import { OVMF_VARS_FILE, OVMF_VARS_LEGACY_FILE, OVMF_VARS_TEMPLATE } from './qemu-args';

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Returns the VM's qcow2 VARS file, creating it (from the legacy raw file or the template) if missing. */
export async function ensureOvmfVars(vmDir: string, template = OVMF_VARS_TEMPLATE): Promise<string> {
  const vars = join(vmDir, OVMF_VARS_FILE);
  if (await exists(vars)) return vars;
  const legacy = join(vmDir, OVMF_VARS_LEGACY_FILE);
  const hadLegacy = await exists(legacy);
  await produceFileAtomic(vars, (tmp) => qemuImgConvert(hadLegacy ? legacy : template, tmp, { srcFormat: 'raw', outFormat: 'qcow2' }));
  if (hadLegacy) await rm(legacy, { force: true });
  return vars;
}
