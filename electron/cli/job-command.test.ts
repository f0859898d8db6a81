// export / import / clone when the engine goes away mid-job: the interleavings check 22 cannot
// reach on purpose (the engine killed after the job committed but before it answered), with a
// stand-in session. Check 22 kills a real engine under the real CLI.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { jobCommand, snapshotOutlastingEngine } from './job-command';
import type { CliIo, CliSession } from './run-cli';

const lost = () => new FlotillaError('DISCONNECTED', 'the engine went away');

interface Stand {
  session: CliSession;
  calls: string[];
  reconnects: number;
}

/** A session whose calls go to `answer`; reconnect always finds the engine again. */
function standIn(answer: (method: string, req: Record<string, unknown>) => Promise<unknown>): Stand {
  const st: Stand = { session: null as unknown as CliSession, calls: [], reconnects: 0 };
  st.session = {
    call: async (method: string, req: Record<string, unknown>) => {
      st.calls.push(method);
      return answer(method, req);
    },
    // the lookups (CliSession.read) as the calls: these answers lose no engine
    read: async (method: string, req: Record<string, unknown>) => {
      st.calls.push(method);
      return answer(method, req);
    },
    find: async (name: string) => vm(name, 'stopped'),
    on: () => undefined,
    reconnect: async () => {
      st.reconnects++;
    },
  } as unknown as CliSession;
  return st;
}

function vm(name: string, state: VmInfo['state']): VmInfo {
  return { id: `id-${name}`, host: 'local', name, state } as VmInfo;
}

function io(): CliIo & { text: () => string } {
  let all = '';
  return { out: (s) => void (all += s), err: (s) => void (all += s), errIsTty: false, text: () => all };
}

describe('flotilla export, import and clone across a lost engine', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flt-job-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('export: an archive that appeared while the engine went is the job done; the old file of a --force export is not', async () => {
    const dest = join(dir, 'web.flotilla');
    // the engine renamed the archive into place, then died before it answered
    let st = standIn(async (method) => {
      if (method !== 'vm.export') throw new Error(method);
      await writeFile(dest, 'archive');
      throw lost();
    });
    let o = io();
    expect(await jobCommand('export', 'web', dest, {}, false, st.session, o)).toBe(0);
    expect(st.calls).toEqual(['vm.export']);
    expect(o.text()).toContain(`exported web to ${dest} (7 bytes)`);

    // --force over an existing archive, the engine dying before it wrote anything: the old file is no sign of success
    let n = 0;
    st = standIn(async () => {
      if (++n === 1) throw lost();
      return { path: dest, bytes: 9 };
    });
    o = io();
    expect(await jobCommand('export', 'web', dest, { force: true }, false, st.session, o)).toBe(0);
    expect(st.calls).toEqual(['vm.export', 'vm.export']);
    expect(o.text()).toContain('starting it again');
  });

  it('clone --start: a clone made but not started before the engine went is started, not cloned again', async () => {
    let cloned = false;
    const st = standIn(async (method, req) => {
      if (method === 'vm.clone') {
        cloned = true; // committed, then the engine died before it answered
        throw lost();
      }
      if (method === 'vm.find') {
        if (!cloned) throw new FlotillaError('NOT_FOUND', 'no VM copy');
        return vm(String(req.nameOrId), 'stopped');
      }
      if (method === 'vm.start') return { ...vm('copy', 'running'), warnings: [] };
      throw new Error(method);
    });
    const o = io();
    expect(await jobCommand('clone', 'web', 'copy', { start: true }, false, st.session, o)).toBe(0);
    expect(st.calls).toEqual(['vm.find', 'vm.clone', 'vm.find', 'vm.start']);
    expect(o.text()).toContain('cloned copy (id-copy), running');
  });

  it('clone: a VM that had the name before the job is not taken for the clone', async () => {
    let clones = 0;
    const st = standIn(async (method) => {
      // the first try was lost before the engine looked at the name; the second is refused
      if (method === 'vm.clone') throw ++clones === 1 ? lost() : new FlotillaError('NAME_TAKEN', 'a VM named copy already exists', { name: 'copy' });
      if (method === 'vm.find') return vm('copy', 'stopped');
      throw new Error(method);
    });
    await expect(jobCommand('clone', 'web', 'copy', {}, false, st.session, io())).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    expect(clones).toBe(2);
  });

  it('import: no VM of the name after the engine came back means it is imported again', async () => {
    let imports = 0;
    const st = standIn(async (method) => {
      if (method === 'vm.import') {
        if (++imports === 1) throw lost();
        return vm('fresh', 'stopped');
      }
      if (method === 'vm.find') throw new FlotillaError('NOT_FOUND', 'no VM fresh');
      throw new Error(method);
    });
    const o = io();
    expect(await jobCommand('import', join(dir, 'a.flotilla'), undefined, { name: 'fresh' }, false, st.session, o)).toBe(0);
    expect(st.calls).toEqual(['vm.find', 'vm.import', 'vm.find', 'vm.import']);
    expect(o.text()).toContain('imported fresh (id-fresh)');
  });
});

describe('flotilla import', () => {
  it("says on stderr what of the archive was left out, also with --json (stdout stays the VM's DTO)", async () => {
    const left = 'the shared folders of the exported VM were not imported: /srv (srv)';
    const st = standIn(async (method) => {
      if (method === 'vm.import') return { ...vm('fresh', 'stopped'), warnings: [left] };
      if (method === 'vm.find') throw new FlotillaError('NOT_FOUND', 'no VM fresh');
      throw new Error(method);
    });
    for (const json of [false, true]) {
      let out = '';
      let err = '';
      const o: CliIo = { out: (x) => void (out += x), err: (x) => void (err += x), errIsTty: false };
      expect(await jobCommand('import', '/nowhere/a.flotilla', undefined, { name: 'fresh' }, json, st.session, o)).toBe(0);
      expect(err).toBe(`flotilla: warning: ${left}\n`);
      if (json) expect(JSON.parse(out)).toMatchObject({ name: 'fresh', warnings: [left] });
      else expect(out).toBe('imported fresh (id-fresh)\n');
    }
  });
});

describe('flotilla snapshot create across a lost engine', () => {
  const snap = (name: string) => ({ name, createdAt: '2026-12-06T04:00:00Z', vmStateBytes: 1, includesRam: true });

  it('a save QEMU finished after the engine went: not listed yet when asked, then refused as taken, is the command\'s', async () => {
    let listed = ['old'];
    let creates = 0;
    const st = standIn(async (method) => {
      if (method === 'snapshot.list') return listed.map(snap);
      if (method === 'snapshot.create') {
        if (++creates === 1) throw lost();
        listed = ['old', 'mine']; // the next engine waited for QEMU's save before looking
        throw new FlotillaError('NAME_TAKEN', 'web already has a snapshot named mine', { field: 'name', name: 'mine' });
      }
      throw new Error(method);
    });
    expect(await snapshotOutlastingEngine(st.session, io(), vm('web', 'running'), 'mine', false, false)).toMatchObject({ name: 'mine' });
    expect(creates).toBe(2);
  });

  it('a name taken before the command began is refused as ever', async () => {
    let creates = 0;
    const st = standIn(async (method) => {
      if (method === 'snapshot.list') return [snap('mine')];
      if (method === 'snapshot.create') {
        if (++creates === 1) throw lost();
        throw new FlotillaError('NAME_TAKEN', 'web already has a snapshot named mine', { field: 'name', name: 'mine' });
      }
      throw new Error(method);
    });
    await expect(snapshotOutlastingEngine(st.session, io(), vm('web', 'running'), 'mine', false, false)).rejects.toMatchObject({ code: 'NAME_TAKEN' });
  });

  it('an unnamed snapshot is named here, as the engine would name it, so a second try asks for the same one', async () => {
    const asked: unknown[] = [];
    let listed: string[] = ['old'];
    const st = standIn(async (method, req) => {
      if (method === 'snapshot.list') return listed.map(snap);
      if (method === 'snapshot.create') {
        asked.push(req.name);
        if (asked.length === 1) throw lost(); // before QEMU had begun: nothing listed after
        listed = ['old', String(req.name)];
        return snap(String(req.name));
      }
      throw new Error(method);
    });
    const made = await snapshotOutlastingEngine(st.session, io(), vm('web', 'running'), undefined, false, false);
    expect(asked).toHaveLength(2);
    expect(asked[0]).toMatch(/^snap-\d{8}-\d{6}$/);
    expect(asked[1]).toBe(asked[0]);
    expect(made.name).toBe(asked[0]);
  });
});
