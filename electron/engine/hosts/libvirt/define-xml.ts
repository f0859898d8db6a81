// `virsh define` of a definition Flotilla wrote or edited, from a private temp file (0600 in a
// directory of its own), removed afterwards.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Virsh } from './virsh';

export async function defineXml(virsh: Virsh, xml: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flt-xml-'));
  try {
    const file = join(dir, 'domain.xml');
    await writeFile(file, xml, { mode: 0o600 });
    await virsh.run(['define', '--file', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
