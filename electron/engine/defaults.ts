// Defaults the engine's parts share, each written once (they had drifted into copies).
import { STOP_DEADLINE_MS } from '../../shared/contract';

export { STOP_DEADLINE_MS };

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';

/** The QEMU the engine runs: an explicit option, else FLOTILLA_QEMU, else the one on PATH. */
export function qemuBinary(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env.FLOTILLA_QEMU ?? DEFAULT_QEMU_BINARY;
}

export { ENGINE_VERSION } from './version';
