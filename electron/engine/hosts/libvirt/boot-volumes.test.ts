// pruneBootVolumes' reading of libvirt's definitions, with scripted virsh answers for what a test
// host cannot easily hold (a snapshot or managed-save image naming an old kernel, a domain
// undefined during the scan). The real deletion is checked against libvirtd in
// tests/integration/libvirt-pool.itest.ts.
import { describe, expect, it } from 'vitest';
import { FlotillaError } from '../../../../shared/errors';
import { parseVolList, pruneBootVolumes, volMtimeMs } from './boot-volumes';
import type { Virsh } from './virsh';

const A = '11111111-1111-1111-1111-111111111111';
const B = '22222222-2222-2222-2222-222222222222';
const dir = '/var/lib/libvirt/flotilla';
const old = (name: string) => `<volume><name>${name}</name><target><path>${dir}/${name}</path><timestamps><mtime>1000.5</mtime></timestamps></target></volume>`;

function scripted(answers: Record<string, string | FlotillaError>): { virsh: Virsh; calls: string[][] } {
  const calls: string[][] = [];
  const run = async (args: readonly string[]) => {
    calls.push([...args]);
    const key = args.join(' ');
    const a = answers[key] ?? (args[0] === 'vol-delete' ? '' : undefined);
    if (a === undefined) throw new Error(`unexpected virsh ${key}`);
    if (a instanceof FlotillaError) throw a;
    return { stdout: a, stderr: '' };
  };
  return { virsh: { run } as unknown as Virsh, calls };
}

const k1 = 'default-vmlinuz-aaaaaaaaaaaaaaaa';
const i1 = 'default-initrd-bbbbbbbbbbbbbbbb';
const i2 = 'default-initrd-cccccccccccccccc';
const cur = 'default-initrd-dddddddddddddddd';
const list = [k1, i1, i2, cur, 'lvt-x-1234.qcow2'].map((n) => ` ${n}   ${dir}/${n}`).join('\n');

describe('pruneBootVolumes', () => {
  it('keeps what a snapshot or a managed-save image still names, deletes the rest but the current ones', async () => {
    const { virsh, calls } = scripted({
      'vol-list --pool flotilla': list,
      'list --all --uuid': `${A}\n${B}\n`,
      'list --all --with-managed-save --uuid': `${B}\n`,
      [`dumpxml --domain ${A}`]: `<domain><os><kernel>${dir}/${cur}</kernel></os></domain>`,
      [`dumpxml --inactive --domain ${A}`]: `<domain/>`,
      [`snapshot-list --domain ${A} --name`]: 'before upgrade\n\n',
      [`snapshot-dumpxml --domain ${A} --snapshotname before upgrade`]: `<domainsnapshot><domain><os><kernel>${dir}/${k1}</kernel></os></domain></domainsnapshot>`,
      // undefined while the scan ran: nothing of it to keep
      [`dumpxml --domain ${B}`]: new FlotillaError('NOT_FOUND', 'no domain'),
      [`dumpxml --inactive --domain ${B}`]: new FlotillaError('NOT_FOUND', 'no domain'),
      [`managedsave-dumpxml --domain ${B}`]: `<domain><os><initrd>${dir}/${i1}</initrd></os></domain>`,
      [`snapshot-list --domain ${B} --name`]: new FlotillaError('NOT_FOUND', 'no domain'),
      [`vol-dumpxml --pool flotilla --vol ${k1}`]: old(k1),
      [`vol-dumpxml --pool flotilla --vol ${i1}`]: old(i1),
      [`vol-dumpxml --pool flotilla --vol ${i2}`]: old(i2),
    });
    const r = await pruneBootVolumes(virsh, [cur], { now: 10_000_000 });
    expect(r).toEqual({ deleted: [i2], kept: [k1, i1] });
    expect(calls.filter((c) => c[0] === 'vol-delete')).toEqual([['vol-delete', '--pool', 'flotilla', '--vol', i2]]);
  });

  it('stops, deleting nothing, when a definition cannot be read', async () => {
    const { virsh, calls } = scripted({
      'vol-list --pool flotilla': list,
      'list --all --uuid': `${A}\n`,
      'list --all --with-managed-save --uuid': '',
      [`dumpxml --domain ${A}`]: new FlotillaError('DISCONNECTED', 'host gone'),
    });
    await expect(pruneBootVolumes(virsh, [cur], { now: 10_000_000 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(calls.some((c) => c[0] === 'vol-delete')).toBe(false);
  });

  it("measures a volume's age on the host's clock, read from a marker volume it then deletes", async () => {
    // this computer's clock is two hours ahead of the host's: i1, written 20 minutes ago by the
    // host's clock, is young; k1, written 3 hours ago by it, is old
    const hostNow = 1_800_000_000;
    const at = (name: string, sec: number) => `<volume><name>${name}</name><target><path>${dir}/${name}</path><timestamps><mtime>${sec}.25</mtime></timestamps></target></volume>`;
    const calls: string[][] = [];
    const virsh = {
      run: async (args: readonly string[]) => {
        calls.push([...args]);
        const [cmd, , , , name] = args;
        const out = (stdout: string) => ({ stdout, stderr: '' });
        if (cmd === 'vol-list') return out([k1, i1, cur, 'flotilla-clock-0123456789ab'].map((n) => ` ${n}   ${dir}/${n}`).join('\n'));
        if (cmd === 'vol-create-as' || cmd === 'vol-delete') return out('');
        if (cmd === 'vol-dumpxml' && name?.startsWith('flotilla-clock-')) return out(at(name, hostNow));
        if (cmd === 'vol-dumpxml') return out(at(name!, name === k1 ? hostNow - 3 * 3600 : hostNow - 20 * 60));
        if (cmd === 'list') return out('');
        throw new Error(`unexpected virsh ${args.join(' ')}`);
      },
    } as unknown as Virsh;
    const realNow = Date.now;
    Date.now = () => (hostNow + 2 * 3600) * 1000;
    try {
      expect(await pruneBootVolumes(virsh, [cur])).toEqual({ deleted: [k1], kept: [i1] });
    } finally {
      Date.now = realNow;
    }
    const marker = calls.find((c) => c[0] === 'vol-create-as')!;
    expect(marker).toEqual(['vol-create-as', '--pool', 'flotilla', '--name', expect.stringMatching(/^flotilla-clock-[0-9a-f]{12}$/), '--capacity', '0', '--format', 'raw']);
    // the marker is deleted, and so is one an earlier engine left
    expect(calls.filter((c) => c[0] === 'vol-delete').map((c) => c[4])).toEqual(['flotilla-clock-0123456789ab', marker[4], k1]);
  });

  it("deletes nothing when the host's clock cannot be read", async () => {
    const { virsh, calls } = scripted({ 'vol-list --pool flotilla': list });
    // vol-create-as is not scripted: the marker cannot be written
    expect(await pruneBootVolumes(virsh, [cur])).toEqual({ deleted: [], kept: [k1, i1, i2] });
    expect(calls.some((c) => c[0] === 'vol-delete')).toBe(false);
  });

  it('reads nothing more when no old boot volume is there', async () => {
    const { virsh, calls } = scripted({ 'vol-list --pool flotilla': ` ${cur}   ${dir}/${cur}\n lvt-x-1234.qcow2   ${dir}/lvt-x-1234.qcow2` });
    expect(await pruneBootVolumes(virsh, [cur])).toEqual({ deleted: [], kept: [] });
    expect(calls).toHaveLength(1);
  });

  it('parses vol-list rows and a volume mtime', () => {
    // a name with a space is not one of ours: its row is skipped
    expect([...parseVolList(` a   /p/a\n b c   /p/b c \n\n d   /p/d e\n`)]).toEqual([['a', '/p/a'], ['d', '/p/d e']]);
    expect(volMtimeMs('<mtime>1796569546.041640937</mtime>')).toBe(1796569546000);
    expect(volMtimeMs('<volume/>')).toBeNull();
  });
});
