// The files a new local VM gets before its vm.json is committed (VmStore.create's beforeCommit):
// its root disk (made empty, made from the built-in image, or copied from the user's disk) and
// its UEFI variables. A failure here leaves nothing behind: the store removes the directory.
import { join } from 'node:path';
import type { Progress } from '../../../shared/contract';
import type { VmConfig, VmSpec } from '../../../shared/spec';
import { ensureRootDisk } from '../builtin-vm';
import { namingFullDisk } from '../disk-full';
import { ensureOvmfVars } from '../firmware-vars';
import { qemuImgConvert, qemuImgCreate } from '../images';
import { OVMF_VARS_FILE, VM_DISK_FILE } from '../qemu-args';

/** Make VM `s`'s files in `dir` from `config`, and record the disks it owns in `s.disks`. */
export async function makeNewVmFiles(config: VmConfig, s: VmSpec, dir: string, progress: (p: Progress | null) => void): Promise<void> {
  // the bar ends either way: a failed create's too (every window's placeholder goes with it)
  try {
    const src = config.source;
    let disks: string[] = [];
    if (src.kind === 'default') {
      progress({ op: 'disk-create', percent: null, message: `creating a ${src.diskSizeGiB} GiB disk` });
      await ensureRootDisk(dir, s);
      disks = [VM_DISK_FILE];
    } else if (src.kind === 'iso') {
      progress({ op: 'disk-create', percent: null, message: `creating a ${src.diskSizeGiB} GiB disk` });
      await qemuImgCreate(join(dir, VM_DISK_FILE), src.diskSizeGiB, 'qcow2');
      disks = [VM_DISK_FILE];
    } else if (src.kind === 'disk' && src.mode === 'copy') {
      progress({ op: 'disk-import', percent: 0, message: `copying ${src.path}` });
      await qemuImgConvert(src.path, join(dir, VM_DISK_FILE), {
        outFormat: 'qcow2',
        onProgress: (pct: number) => progress({ op: 'disk-import', percent: pct, message: `copying ${src.path}` }),
      });
      disks = [VM_DISK_FILE];
    }
    if (config.firmware === 'uefi') await namingFullDisk(join(dir, OVMF_VARS_FILE), () => ensureOvmfVars(dir));
    s.disks.push(...disks);
  } finally {
    progress(null);
  }
}
