// The checks a new VM's settings pass before anything is made for it: every file the user named
// is there and is what it is named as, the memory fits the host, and every host port the user
// asked for is free. Each failure is a typed error naming the field, the file or the port.
import type { Forward, VmConfig, VmSource } from '../../shared/spec';
import { FlotillaError } from '../../shared/errors';
import { assertMemoryFits, readHostMemory } from './host-memory';
import { assertFileIs } from './images';

export async function checkSourceFiles(src: VmSource): Promise<void> {
  if (src.kind === 'iso') await assertFileIs(src.path, 'iso');
  if (src.kind === 'disk') await assertFileIs(src.path, 'disk');
  if (src.kind === 'kernel') {
    await assertFileIs(src.kernel, 'kernel');
    if (src.initrd) await assertFileIs(src.initrd, 'initrd');
    if (src.disk) await assertFileIs(src.disk, 'disk');
  }
}

export interface PortCheckDeps {
  /** the VM (by name) holding this host port, if one of ours does */
  heldBy(proto: 'tcp' | 'udp', hostPort: number): string | null;
  /** probe by binding on 127.0.0.1 */
  probe(proto: 'tcp' | 'udp', hostPort: number): Promise<{ free: boolean }>;
}

export async function checkRequestedPorts(forwards: readonly Forward[], deps: PortCheckDeps): Promise<void> {
  for (const f of forwards) {
    if (f.hostPort === undefined) continue;
    const usedBy = deps.heldBy(f.proto, f.hostPort);
    if (usedBy !== null) {
      throw new FlotillaError('PORT_TAKEN', `host port ${f.hostPort}/${f.proto} is already used by VM ${usedBy}; choose another, or leave it empty to pick a free one`, {
        hostPort: f.hostPort,
        proto: f.proto,
        usedBy,
      });
    }
    if (!(await deps.probe(f.proto, f.hostPort)).free) {
      throw new FlotillaError('PORT_TAKEN', `host port ${f.hostPort}/${f.proto} is in use on 127.0.0.1 by another program; choose another, or leave it empty to pick a free one`, {
        hostPort: f.hostPort,
        proto: f.proto,
      });
    }
  }
}

/** Everything vm.create checks before it makes files; field paths are the request's (`config.…`). */
export async function checkNewVm(config: VmConfig, ports: PortCheckDeps): Promise<void> {
  assertMemoryFits(config.memoryMiB, await readHostMemory(), ['config', 'memoryMiB']);
  await checkSourceFiles(config.source);
  await checkRequestedPorts(config.forwards, ports);
}
