// Autostart: a VM marked `autostart` is started by the first engine after this computer starts,
// as libvirtd starts its autostart domains when it comes up. "The first after a start" is told by
// the kernel's boot id, recorded in the data directory once this engine has started (or tried to
// start) every such VM. An engine killed before that leaves it unrecorded, and the next engine
// starts what is still stopped; an engine of a boot already recorded starts nothing, so a VM the
// user stopped stays stopped however often the app or a command is opened.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file';

export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';
export const AUTOSTART_MARK = 'autostart-boot';

export interface AutostartCandidate {
  name: string;
  /** marked autostart and not running now */
  due: boolean;
  start(reason: string): Promise<void>;
  log(text: string): void;
}

export interface AutostartResult {
  /** null: this boot was recorded already (or the boot id cannot be read) */
  bootId: string | null;
  started: string[];
  failed: { name: string; message: string }[];
}

/** Starts the due VMs if this boot has not been recorded yet, then records it. */
export async function autostartOnce(home: string, candidates: () => AutostartCandidate[], bootIdPath = BOOT_ID_PATH): Promise<AutostartResult> {
  const result: AutostartResult = { bootId: null, started: [], failed: [] };
  const bootId = (await readFile(bootIdPath, 'utf8').catch(() => '')).trim();
  if (!bootId) return result;
  const mark = join(home, AUTOSTART_MARK);
  if ((await readFile(mark, 'utf8').catch(() => '')).trim() === bootId) return result;
  result.bootId = bootId;
  await Promise.all(
    candidates()
      .filter((c) => c.due)
      .map(async (c) => {
        try {
          await c.start('started automatically: the first engine since this computer started');
          result.started.push(c.name);
        } catch (err) {
          const message = (err as Error).message;
          c.log(`could not start automatically: ${message}`);
          result.failed.push({ name: c.name, message });
        }
      }),
  );
  await writeFileAtomic(mark, `${bootId}\n`);
  return result;
}
