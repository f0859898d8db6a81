// The settle logic against a scripted virsh: which records delete their volume, which keep it and
// which stay for later. The whole path (a real engine killed under disk add and clone, a real
// libvirtd) is reliability check 23.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlotillaError } from '../../../../shared/errors';
import type { Virsh } from './virsh';
import { VolumeJournal } from './volume-journal';

const DOM = '0b6d4c8e-1111-4222-8333-944455556666';
const GONE = '0b6d4c8e-1111-4222-8333-000000000000';
const P = '/var/lib/libvirt/flotilla';

function host(o: { down?: boolean; busy?: string } = {}): { virsh: Virsh; deleted: string[] } {
  const deleted: string[] = [];
  const volumes = new Set(['named.qcow2', 'orphan.qcow2', 'other-engine.qcow2', 'mine.qcow2']);
  const run = async (args: readonly string[]) => {
    if (o.down) throw new FlotillaError('DISCONNECTED', 'virsh failed: Cannot recv data');
    const [cmd] = args;
    const out = (stdout: string) => ({ stdout, stderr: '' });
    if (cmd === 'vol-path') {
      const vol = args[4]!;
      if (!volumes.has(vol)) throw new FlotillaError('NOT_FOUND', `virsh vol-path failed: Storage volume not found: no storage vol with matching name '${vol}'`);
      return out(`${P}/${vol}\n`);
    }
    if (cmd === 'domblklist') {
      if (args[2] === GONE) throw new FlotillaError('NOT_FOUND', `virsh domblklist failed: failed to get domain '${GONE}'`);
      return out(` Type   Device   Target   Source\n------------------------------------------\n file   disk     vda      ${P}/named.qcow2\n file   cdrom    sda      -\n`);
    }
    if (cmd === 'vol-delete') {
      if (args[4] === o.busy) throw new FlotillaError('INTERNAL', `virsh vol-delete failed: volume '${o.busy}' is still being allocated.`);
      deleted.push(args[4]!);
      return out('');
    }
    if (cmd === 'dominfo') {
      if (args[2] === GONE) throw new FlotillaError('NOT_FOUND', `virsh dominfo failed: failed to get domain '${GONE}'`);
      return out(`Name: web\nUUID: ${args[2]}\n`);
    }
    if (cmd === 'pool-create-as' || cmd === 'pool-destroy') return out('');
    throw new Error(`unexpected virsh ${args.join(' ')}`);
  };
  return { virsh: { run } as unknown as Virsh, deleted };
}

describe('VolumeJournal.settle', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flo-vj-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("deletes a recorded volume its domain does not name, keeps one it names, and leaves this engine's jobs under way alone", async () => {
    const before = new VolumeJournal(dir); // the killed engine
    await before.track('flotilla', 'named.qcow2', DOM); // the definition got that far
    await before.track('flotilla', 'orphan.qcow2', DOM); // made, never attached
    await before.track('flotilla', 'other-engine.qcow2', GONE); // a clone whose define never ran
    await before.track('flotilla', 'never-made.qcow2', DOM); // killed before vol-create-as
    await writeFile(join(dir, 'damaged.json'), '{"pool":"flotilla","vol":"../x","domain":"nope"}');
    const now = new VolumeJournal(dir); // the next engine, with a job of its own under way
    const forget = await now.track('flotilla', 'mine.qcow2', GONE);
    const h = host();
    expect((await now.settle(h.virsh)).deleted.sort()).toEqual(['flotilla/orphan.qcow2', 'flotilla/other-engine.qcow2']);
    expect(h.deleted.sort()).toEqual(['orphan.qcow2', 'other-engine.qcow2']);
    expect(await readdir(dir)).toHaveLength(1); // only the job under way's record
    await forget();
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps the records while the host cannot be asked, for the next connect', async () => {
    const j = new VolumeJournal(dir);
    await j.track('flotilla', 'orphan.qcow2', DOM);
    await j.track('flotilla', 'named.qcow2', DOM);
    const down = await new VolumeJournal(dir).settle(host({ down: true }).virsh);
    // each record is tried, and each that fails stays
    expect([down.deleted, down.failed.sort()]).toEqual([[], ['flotilla/named.qcow2: virsh failed: Cannot recv data', 'flotilla/orphan.qcow2: virsh failed: Cannot recv data']]);
    expect(await readdir(dir)).toHaveLength(2);
    const h = host();
    await new VolumeJournal(dir).settle(h.virsh);
    expect(h.deleted).toEqual(['orphan.qcow2']);
    expect(await readdir(dir)).toEqual([]);
  });

  it("a UEFI variable store copied for a clone stays while the clone exists, and goes through a transient pool over its directory when it does not", async () => {
    const before = new VolumeJournal(dir);
    await before.track('flotilla-dir-1', 'copy_VARS.fd', GONE, '/var/lib/libvirt/qemu/nvram');
    await before.track('flotilla-dir-2', 'kept_VARS.fd', DOM, '/var/lib/libvirt/qemu/nvram');
    const h = host();
    expect(await new VolumeJournal(dir).settle(h.virsh)).toEqual({ deleted: ['/var/lib/libvirt/qemu/nvram/copy_VARS.fd'], failed: [] });
    expect(h.deleted).toEqual(['copy_VARS.fd']);
    expect(await readdir(dir)).toEqual([]);
  });

  it("one record libvirt cannot settle yet (a clone's copy still being made) keeps only itself back", async () => {
    const j = new VolumeJournal(dir);
    await j.track('flotilla', 'orphan.qcow2', DOM);
    await j.track('flotilla', 'other-engine.qcow2', GONE);
    const h = host({ busy: 'orphan.qcow2' });
    const r = await new VolumeJournal(dir).settle(h.virsh);
    expect(r).toEqual({ deleted: ['flotilla/other-engine.qcow2'], failed: ["flotilla/orphan.qcow2: virsh vol-delete failed: volume 'orphan.qcow2' is still being allocated."] });
    expect(await readdir(dir)).toHaveLength(1);
  });

  it('refuses to record a name that is not a plain volume name', async () => {
    await expect(new VolumeJournal(dir).track('flotilla', '../etc/passwd', DOM)).rejects.toThrow(/plain names/);
    await expect(new VolumeJournal(dir).track('flotilla', 'x_VARS.fd', DOM, 'relative/dir')).rejects.toThrow(/plain names/);
    await expect(new VolumeJournal(dir).track('flotilla', 'x_VARS.fd', DOM, '/var/lib/../../etc')).rejects.toThrow(/plain names/);
    await expect(new VolumeJournal(dir).track('flotilla', 'passwd', DOM, '/etc')).rejects.toThrow(/plain names/);
  });
});
