// The libvirt hosts the user added, in $FLOTILLA_HOME/hosts.json (written atomically).
// Each entry is validated on load and on add: a hand-edited file cannot smuggle in a URI that
// add would have refused.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FlotillaError } from '../../../../shared/errors';
import { writeFileAtomic } from '../../atomic-file';
import { KeyedMutex } from '../../mutex';
import { parseLibvirtUri } from './uri';

export const HOST_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const RESERVED_HOST_NAMES = new Set(['local', 'all']);

export const hostEntrySchema = z
  .object({
    name: z.string().regex(HOST_NAME_RE, 'host name must be 1–32 characters of a-z, 0-9 and "-"'),
    uri: z.string().min(1).max(2048),
    identity: z.string().startsWith('/', 'identity must be an absolute path').max(4096).optional(),
    addedAt: z.string(),
  })
  .strict();
export type HostEntry = z.infer<typeof hostEntrySchema>;

const fileSchema = z.object({ version: z.literal(1), hosts: z.array(hostEntrySchema) }).strict();

export class HostStore {
  readonly file: string;
  private readonly lock = new KeyedMutex();

  constructor(home: string) {
    this.file = join(home, 'hosts.json');
  }

  async list(): Promise<HostEntry[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    let parsed;
    try {
      parsed = fileSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = null;
    }
    if (!parsed?.success) throw new FlotillaError('BAD_REQUEST', `${this.file} is not a valid hosts file: fix or remove it`, { file: this.file });
    for (const h of parsed.data.hosts) parseLibvirtUri(h.uri);
    return parsed.data.hosts;
  }

  async add(entry: Omit<HostEntry, 'addedAt'>): Promise<HostEntry> {
    const name = entry.name;
    if (!HOST_NAME_RE.test(name)) throw new FlotillaError('BAD_REQUEST', 'host name must be 1–32 characters of a-z, 0-9 and "-"', { field: 'name' });
    if (RESERVED_HOST_NAMES.has(name)) throw new FlotillaError('NAME_TAKEN', `"${name}" is reserved; choose another host name`, { field: 'name' });
    parseLibvirtUri(entry.uri);
    if (entry.identity !== undefined && !entry.identity.startsWith('/')) throw new FlotillaError('BAD_REQUEST', 'identity must be an absolute path', { field: 'identity' });
    return this.lock.run('hosts', async () => {
      const hosts = await this.list();
      if (hosts.some((h) => h.name === name)) throw new FlotillaError('NAME_TAKEN', `a host named ${name} exists already`, { field: 'name' });
      const full = hostEntrySchema.parse({ ...entry, uri: entry.uri.trim(), addedAt: new Date().toISOString() });
      await writeFileAtomic(this.file, JSON.stringify({ version: 1, hosts: [...hosts, full] }, null, 2) + '\n');
      return full;
    });
  }

  async remove(name: string): Promise<void> {
    await this.lock.run('hosts', async () => {
      const hosts = await this.list();
      if (!hosts.some((h) => h.name === name)) throw new FlotillaError('NOT_FOUND', `no host named ${name}`, { host: name });
      await writeFileAtomic(this.file, JSON.stringify({ version: 1, hosts: hosts.filter((h) => h.name !== name) }, null, 2) + '\n');
    });
  }
}
